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
// - Reconnect and resend: when the connection drops, the client finds a server again (below)
//   and resends every unanswered request. That is safe because creation is idempotent by id:
//   a transfer that was committed before the drop answers `exists` the second time.
//   `overloaded` answers are retried after a backoff; `storage_failed` and `shutting_down`
//   are returned to the caller.
// - Servers and the primary (docs/PROTOCOL.md section 9). `config::servers` lists the nodes
//   of a cluster (or one server). Finding a server is a search made of passes: a pass tries
//   the servers in list order, one after the other without a pause, and settles on the
//   first that authenticates and whose HelloReply role is primary (1) or standalone (0); a
//   standby (2) is closed right after its HelloReply and the next one tried. Between passes
//   the client waits a backoff (10 ms, doubling, at most 1 s). The search gives up after
//   `reconnects_max` passes in which no server was found (the constructor: after one), except
//   that while a pass still met a standby (the nodes are up but none is primary yet: a
//   failover under way) it goes on until `connect_timeout` has passed since the search
//   began. Then the constructor throws client_error, or the calls waiting are answered with
//   answered = false; either way the message names what each server said.
// - `not_primary`: the request was not executed. The client closes that connection, looks
//   for the primary again, trying first the address the body names (whatever it is: the
//   server proved it holds the key, and a cluster's client address may differ from the one
//   in the list) and then the list, and resends every unanswered request, by id. A request
//   follows not_primary at most `reconnects_max` times (so a cluster whose nodes point at
//   each other cannot loop); after that its caller gets not_primary, with the primary's
//   address from the body in reply::primary.
// - `unavailable` (the outcome is unknown) is resent by id after a backoff on the same
//   session, at most `reconnects_max` times; then the caller gets `unavailable`. When the
//   session answers the resend with not_primary, or drops, the primary is looked for as
//   above and the request goes there.
// - With `follow_primary` off, the client settles on the first server that authenticates,
//   whatever its role, and returns not_primary to the caller: for tools that talk to one
//   given node (remit cluster-status).
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
#include "gateway/codec/address.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::client {

struct config {
  // The server, when `servers` is empty.
  std::string host = "127.0.0.1";
  std::uint16_t port = 7400;
  // The servers to try, in order (codec::split_server_list parses `--server A,B,C`); when
  // not empty, host and port are not used. At most codec::server_list_max.
  std::vector<codec::server_address> servers;
  bool follow_primary = true;  // see the top of the file
  std::string key_id;
  std::vector<std::uint8_t> secret;
  bool mac = false;         // ask for HMAC-SHA256 on every frame
  bool tls = false;         // TLS 1.2+ on the same framing
  std::string tls_ca_file;  // CA (or the server's own certificate) to verify against
  bool tls_verify = true;
  // One connection attempt (connect, TLS, HELLO, AUTH); and how long a search for the
  // primary goes on while it meets standbys only.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // per request; 0: none
  // Passes over the servers in a row before giving up; also the most resends of one request
  // after `unavailable`, and the most times one request follows not_primary.
  std::uint32_t reconnects_max = 5;
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
  std::string server;      // the server of this session, as `host:port`
};

// What the client did on its own so far (all since construction).
struct counters {
  std::uint64_t reconnects = 0;            // sessions made after the first
  std::uint64_t not_primary_followed = 0;  // not_primary answers followed to a new search
  std::uint64_t unavailable_resent = 0;    // unavailable answers resent by id
  std::uint64_t resent = 0;  // requests sent again on a new session (after a drop or a follow)
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
  std::vector<std::byte> body;               // node_request: the answer's body
  std::string primary;  // not_primary: the primary's `host:port`, empty when the server
                        // does not know it
  // How many times the request that carried this call was sent again (after a drop,
  // `unavailable` or not_primary). A create answered `exists` with resends > 0 was most
  // likely created by an earlier send of this very request.
  std::uint32_t resends = 0;
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

  // The latest session: the constructor's until a reconnect, then the new one's (another
  // node's after a failover, with its own limits, which the client applies itself). A copy:
  // the I/O thread may replace it at any time.
  session_info session() const;

  void create_accounts(std::span<const account> events, callback cb);
  void create_transfers(std::span<const transfer> events, callback cb);
  void lookup_accounts(std::span<const u128> ids, callback cb);
  void lookup_transfers(std::span<const u128> ids, callback cb);
  void get_account_transfers(const account_filter& filter, callback cb);
  void set_account_controls(std::span<const account_controls> events, callback cb);
  void get_ledger_stats(std::uint32_t ledger, callback cb);
  void ping(std::span<const std::byte> payload, callback cb);
  // A node-to-node request (docs/CLUSTER.md, opcodes 64 to 127) with event_count 1; the
  // answer's body comes back raw in reply::body. For tools that ask one node about itself
  // (remit cluster-status, with a key that has permission 8). Never packed; resent after a
  // drop like any request.
  void node_request(std::uint16_t opcode, std::span<const std::byte> body, callback cb);

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
  [[nodiscard]] reply node_request(std::uint16_t opcode, std::span<const std::byte> body);

  // Requests sent and not yet answered, and calls queued behind them.
  std::uint32_t inflight() const;
  // Reconnections made since construction.
  std::uint64_t reconnects() const;
  counters stats() const;

  void close();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Reads the key `key_id` from a keys file (docs/PROTOCOL.md section 3) into cfg.key_id and
// cfg.secret; throws client_error naming the file and what is wrong.
void load_key(config& cfg, const std::string& keys_file, const std::string& key_id);

}  // namespace remit::client
