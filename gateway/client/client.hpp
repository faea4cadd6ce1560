// remit::client: the C++ client library of the binary protocol (docs/PROTOCOL.md).
//
// One `client` is one session (one TCP connection, optionally TLS) with its own I/O thread.
// It is thread-safe: any number of threads may call it at once. Every call answers exactly
// once, through its callback (run on the client's I/O thread: keep it short, never block in
// it) or, for the synchronous overloads, as the return value.
//
// - Handshake: HELLO, AUTH with the proof over the transcript; the server's proof is checked
//   and a session whose server cannot prove the key is closed (client_error).
// - Every frame received is checked: header and body CRC, the sequence (1, 2, 3, ...) and,
//   with `mac`, the MAC under the server-to-client key. A frame that fails closes the
//   connection; what was in flight is resent on a new one.
// - Pipelining: up to the server's inflight_max requests outstanding; further calls queue
//   (at most `queued_events_max` events; past that a call is answered `overloaded` at once).
// - Batching: concurrent create_transfers (and create_accounts) calls queued at the same time
//   are packed into one frame of up to event_count_max events, and the results are split
//   back per call. A call whose last event is `linked` is never packed with the next one,
//   so chains keep their meaning.
// - Reconnect and resend: when the connection drops, the client reconnects (up to
//   `reconnects_max` times in a row, with backoff) and resends every unanswered request.
//   That is safe because creation is idempotent by id: a transfer that was committed before
//   the drop answers `exists` the second time. `overloaded` answers are retried after a
//   backoff; `storage_failed` and `shutting_down` are returned to the caller.
// - Cluster statuses (docs/PROTOCOL.md section 9); the session goes on after both. `unavailable`
//   (the outcome is unknown) is resent by id after a backoff, like a request in flight when
//   a connection drops, at most `reconnects_max` times; then the caller gets `unavailable`.
//   `not_primary` is returned to the caller, with the primary's address from the body in
//   reply::primary; the client does not follow it to the primary (yet).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/types.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::client {

struct config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  std::string key_id;
  std::vector<std::uint8_t> secret;
  bool mac = false;         // ask for HMAC-SHA256 on every frame
  bool tls = false;         // TLS 1.2+ on the same framing
  std::string tls_ca_file;  // CA (or the server's own certificate) to verify against
  bool tls_verify = true;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // per request; 0: none
  std::uint32_t reconnects_max = 5;                  // attempts in a row before giving up
  bool batching = true;
  std::uint32_t queued_events_max = 1u << 20;
};

// The connection could not be made or authenticated (refused, auth_failed, a server proof
// that does not verify, TLS failure). what() says which.
class client_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct session_info {
  std::uint64_t session_id = 0;
  std::uint32_t permissions = 0;
  std::uint32_t body_size_max = 0;
  std::uint32_t event_count_max = 0;
  std::uint32_t inflight_max = 0;
  bool mac = false;
  std::string server_version;
  std::uint32_t role = 0;  // HelloReply's role: codec::node_role (0 standalone)
};

struct reply {
  // False: no response came (the connection failed past reconnects_max, the request timed
  // out, or the client was closed); `error` says why. A create may or may not have taken
  // effect: resend it by id.
  bool answered = false;
  codec::status status = codec::status::ok;  // the protocol status of the response
  std::string error;                         // the server's reason, or the client's
  std::vector<result> results;               // create_*, set_account_controls
  std::vector<account> accounts;             // lookup_accounts
  std::vector<transfer> transfers;           // lookup_transfers, get_account_transfers
  ledger_stats stats{};                      // get_ledger_stats
  std::vector<std::byte> ping;               // ping: the bytes echoed
  std::string primary;  // not_primary: the primary's `host:port`, empty when the server
                        // does not know it
  bool ok() const { return answered && status == codec::status::ok; }
};
using callback = std::function<void(reply&&)>;

class client {
 public:
  // Connects and authenticates; throws client_error when that fails.
  explicit client(config cfg);
  // Closes: calls still unanswered are answered with answered = false.
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // The session the constructor made. It does not change afterwards: a reconnect (to a
  // restarted server, say) may get other limits, which the client then applies itself.
  const session_info& session() const;

  void create_accounts(std::span<const account> events, callback cb);
  void create_transfers(std::span<const transfer> events, callback cb);
  void lookup_accounts(std::span<const u128> ids, callback cb);
  void lookup_transfers(std::span<const u128> ids, callback cb);
  void get_account_transfers(const account_filter& filter, callback cb);
  void set_account_controls(std::span<const account_controls> events, callback cb);
  void get_ledger_stats(std::uint32_t ledger, callback cb);
  void ping(std::span<const std::byte> payload, callback cb);

  // Synchronous forms: they wait for the answer. The reply says whether the call failed,
  // so it must be looked at.
  [[nodiscard]] reply create_accounts(std::span<const account> events);
  [[nodiscard]] reply create_transfers(std::span<const transfer> events);
  [[nodiscard]] reply lookup_accounts(std::span<const u128> ids);
  [[nodiscard]] reply lookup_transfers(std::span<const u128> ids);
  [[nodiscard]] reply get_account_transfers(const account_filter& filter);
  [[nodiscard]] reply set_account_controls(std::span<const account_controls> events);
  [[nodiscard]] reply get_ledger_stats(std::uint32_t ledger);
  [[nodiscard]] reply ping(std::span<const std::byte> payload);

  // Requests sent and not yet answered, and calls queued behind them.
  std::uint32_t inflight() const;
  // Reconnections made since construction.
  std::uint64_t reconnects() const;

  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Reads the key `key_id` from a keys file (docs/PROTOCOL.md section 3) into cfg.key_id and
// cfg.secret; throws client_error naming the file and what is wrong.
void load_key(config& cfg, const std::string& keys_file, const std::string& key_id);

}  // namespace remit::client
