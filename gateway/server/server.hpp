// remit::gateway: the binary protocol server (docs/PROTOCOL.md) on Boost.Asio, over the
// embedding API (remit::engine). It never reaches the actors directly.
//
// Design
// - A few I/O threads run one io_context. Each connection is a session whose handlers run
//   on its own strand, so a session's state needs no lock. Engine replies arrive on engine
//   threads; they encode the response body there and post it to the session's strand, which
//   gives it the next server sequence number and MAC in send order and queues it for one
//   gathered write.
// - Limits (section 1): HELLO within hello_timeout of connect, AUTH within auth_timeout of
//   the HELLO reply; after AUTH a session with no complete frame for idle_timeout is closed
//   (a peer stalled mid-frame included). The window counts from the last complete frame
//   received: answers written do not restart it, and requests outstanding do not hold it
//   (an engine that takes that long has failed anyway). At most
//   unauthenticated_per_address_max sessions per address before AUTH; an address with
//   auth_failures_max failed AUTHs within auth_failure_window is refused at accept until the
//   window passes.
// - Backpressure, and nothing grows without bound: a session stops reading when it has
//   inflight_max requests outstanding (responses written count as answered), and every
//   session stops reading while the server's in-flight events would pass
//   inflight_events_max, resuming as answers free room. A session's memory is its read
//   buffer, one frame's body and at most inflight_max responses.
// - stop() is graceful: it stops accepting, stops reading, lets every request in flight be
//   answered and written, then closes the sessions. The caller then shuts the engine down.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/types.hpp"
#include "gateway/codec/frame.hpp"
#include "gateway/codec/keys.hpp"

namespace remit {
class engine;
}

namespace remit::gateway {

// A node-to-node session (docs/CLUSTER.md, "Node-to-node messages") as the cluster sees it:
// the server hands it every frame with opcode 64 to 127 of a session whose key has
// permission 8, and the cluster sends frames back through it.
class node_link {
 public:
  virtual ~node_link() = default;
  // Queues a whole frame (header and body, as the node codec encodes it). The session
  // seals it again with its own next sequence number and MAC; opcode, request_id, status,
  // flags and event_count stay. Any thread. False once the session is closed.
  virtual bool send(std::vector<std::byte>&& frame) = 0;
  // Bytes queued on this link and not yet written: a sender bounds its queue with it.
  virtual std::size_t queued_bytes() const = 0;
  // Closes the session once what is queued is written. Any thread.
  virtual void close() = 0;
  // The peer's IP address, for logs.
  virtual const std::string& peer() const = 0;
};

// A cluster node's part in the server. The server asks it; it never calls the engine.
class cluster_hooks {
 public:
  virtual ~cluster_hooks() = default;
  // HelloReply's role now (codec::node_role).
  virtual std::uint32_t hello_role() const = 0;
  // Whether client requests (opcodes 16 to 22) go to the engine now. When not, `primary`
  // receives the body of not_primary: the primary's client address, or empty.
  virtual bool serving(std::string& primary) const = 0;
  // Right before an answer of the engine is sent: false turns it into `unavailable` (a
  // primary whose lease ran out while the request was in flight).
  virtual bool may_answer() const = 0;
  // A node frame of a replicate session, after the sequence and MAC checks, on the
  // session's strand: it must not block. `link` stays valid while anyone holds it.
  virtual void on_node_frame(const std::shared_ptr<node_link>& link, const codec::frame_header& h,
                             std::span<const std::byte> body) = 0;
  // The session of a link that had node frames closed.
  virtual void on_node_closed(const node_link& link) = 0;
  // Lines added to GET /metrics (Prometheus text).
  virtual std::string metrics_text() const = 0;
};

struct server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;  // 0: any free port (see server::port())
  std::vector<codec::key_entry> keys;
  std::uint32_t io_threads = 1;
  std::uint32_t inflight_max = 128;  // per session, announced in HELLO's reply
  std::uint32_t event_count_max = batch_events_max;
  std::uint32_t body_size_max = remit::body_size_max;
  bool mac_required = false;
  // TLS: both PEM files, or neither for plain TCP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::chrono::milliseconds hello_timeout{5000};
  std::chrono::milliseconds auth_timeout{5000};
  std::chrono::milliseconds idle_timeout{60000};
  std::uint32_t unauthenticated_per_address_max = 8;
  std::uint32_t auth_failures_max = 16;
  std::chrono::milliseconds auth_failure_window{60000};
  std::uint32_t sessions_max = 4096;
  // Events the server holds in flight in the engine at once, over all sessions; 0 takes
  // the engine's own limit.
  std::uint32_t inflight_events_max = 0;
  std::chrono::milliseconds drain_timeout{30000};  // stop(): longest wait for answers
};

// Counters for the metrics endpoint. All relaxed atomics: a scrape is not a snapshot.
struct metrics {
  static constexpr std::size_t opcodes = 23;
  static constexpr std::size_t statuses = codec::status_count;
  static constexpr std::size_t result_codes = 62;
  // Upper bounds of the latency buckets, microseconds; the last bucket is +Inf.
  static constexpr std::array<double, 20> latency_bounds_us = {
      5,     10,    25,    50,     100,    250,    500, 1000,  2500, 5000,
      10000, 25000, 50000, 100000, 250000, 500000, 1e6, 2.5e6, 5e6,  1e7};

  std::array<std::array<std::atomic<std::uint64_t>, statuses>, opcodes> requests{};
  std::array<std::atomic<std::uint64_t>, opcodes> events{};
  std::array<std::atomic<std::uint64_t>, result_codes> account_results{};
  std::array<std::atomic<std::uint64_t>, result_codes> transfer_results{};
  std::array<std::atomic<std::uint64_t>, 4> controls_results{};
  // Per-transfer latency: from a CREATE_TRANSFERS frame decoded to its response queued,
  // counted once per transfer of the batch.
  std::array<std::atomic<std::uint64_t>, latency_bounds_us.size() + 1> latency_buckets{};
  std::atomic<std::uint64_t> latency_count{0};
  std::atomic<std::uint64_t> latency_sum_ns{0};
  std::atomic<std::int64_t> sessions{0};
  std::atomic<std::int64_t> sessions_unauthenticated{0};
  std::atomic<std::int64_t> inflight_requests{0};
  std::atomic<std::int64_t> inflight_events{0};
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};

  void record_latency(std::uint64_t ns, std::uint64_t count);
};

class server {
 public:
  // Binds the listening socket (throws std::runtime_error naming the address on failure)
  // and starts the I/O threads. `e` must outlive the server.
  server(engine& e, server_config cfg);
  // A cluster node: client requests go to the engine only while `hooks` says so, and only
  // once an engine is attached (attach_engine). `hooks` must outlive the server.
  // `inflight_events_max` of the config must then be set (the engine's is not known yet).
  server(cluster_hooks& hooks, server_config cfg);
  // Stops (as stop()) if still running; aborts, with a message, if stopping throws.
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  std::uint16_t port() const;
  const server_config& config() const;
  const metrics& stats() const;
  // Prometheus text exposition of the server's and the engine's figures.
  std::string metrics_text() const;
  // A cluster node promoted to primary: from now on client requests may go to `e`, which
  // must outlive the server. Once.
  void attach_engine(engine& e);

  // Replaces the keys (sessions already authenticated keep theirs).
  void set_keys(std::vector<codec::key_entry> keys);

  // Graceful stop: see the top of the file. Idempotent; returns once every session is
  // closed (or drain_timeout passed) and the I/O threads have ended.
  void stop();

  // Called, one line at a time (on an I/O or engine thread), for lines worth logging: auth
  // failures, and fail-stop once. May be set at any time. Never given a secret.
  void set_logger(std::function<void(std::string_view)> log);

  struct impl;

 private:
  void start();
  std::shared_ptr<impl> impl_;
};

// Serves GET /metrics (Prometheus text) with Boost.Beast on its own thread.
class metrics_endpoint {
 public:
  metrics_endpoint(const server& s, const std::string& host, std::uint16_t port);
  ~metrics_endpoint();
  metrics_endpoint(const metrics_endpoint&) = delete;
  metrics_endpoint& operator=(const metrics_endpoint&) = delete;
  std::uint16_t port() const;
  void stop();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace remit::gateway
