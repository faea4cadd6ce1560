// remit::cluster::etcd: a small synchronous client of etcd v3 over its JSON gateway (HTTP),
// for the cluster's election and its few keys (docs/CLUSTER.md, "etcd keys").
//
// The gateway (etcd 3.4 serves it on the client URLs at /v3/...; /v3beta and /v3alpha are
// older aliases) maps each gRPC call to `POST /v3/<service>/<method>` with the request
// message as JSON. What a reader of this file has to know about that JSON:
//
// - Field names are the proto names (`create_revision`, `range_end`, `ID`, `TTL`).
// - Keys and values are bytes, so they travel base64-encoded ("/remit/a" is "L3JlbWl0L2E=").
// - int64 fields (revisions, versions, lease IDs, TTLs, counts) come back as JSON strings
//   ("revision":"7"); the gateway takes strings or numbers in requests. We send strings.
// - A field at its default (0, false, "", empty list) is left out of a response: a range
//   that finds nothing has no "kvs" and no "count", a txn whose compares failed has no
//   "succeeded", a keepalive of a lease that is gone has no "TTL".
// - An error is a non-200 HTTP status (400 invalid argument, 404 not found, 503 unavailable,
//   ...) with {"error":"..","message":"..","code":<gRPC code>}; for the streaming calls
//   (keepalive) an error after the stream started comes with 200 as {"error":{...}}.
//
// txn, request (a compare-and-swap of the term from "5" to "6"):
//   POST /v3/kv/txn
//   {"compare":[{"key":"L3IvdGVybQ==","target":"VALUE","result":"EQUAL","value":"NQ=="}],
//    "success":[{"request_put":{"key":"L3IvdGVybQ==","value":"Ng==","lease":"0"}}],
//    "failure":[{"request_range":{"key":"L3IvdGVybQ=="}}]}
// response when the compare held (when it failed: no "succeeded", and the failure branch's
// responses, here {"response_range":{"header":{..},"kvs":[{"key":..,"value":..,...}],
// "count":"1"}}):
//   {"header":{"cluster_id":"3249..","member_id":"3319..","revision":"8","raft_term":"2"},
//    "succeeded":true,"responses":[{"response_put":{"header":{"revision":"8"}}}]}
// Compare targets are VERSION, CREATE, MOD, VALUE, LEASE with the number in "version",
// "create_revision", "mod_revision", "lease" or the bytes in "value"; "result" is EQUAL
// (the default, so it may be absent), GREATER, LESS, NOT_EQUAL. A compare on a key that does
// not exist sees revision/version 0, so CREATE == 0 is "absent"; a VALUE compare on it fails.
//
// keepalive (a bidirectional stream in gRPC; over HTTP one request message, and the answer
// is one message wrapped in "result", sent chunked):
//   POST /v3/lease/keepalive   {"ID":"2324035791769383952"}
//   {"result":{"header":{..,"revision":"4",..},"ID":"2324035791769383952","TTL":"5"}}
// A lease that expired or was revoked is not an error: the answer has no "TTL" (0).
//
// Also used: /v3/lease/grant {"TTL":"2"} -> {"ID":"..","TTL":"2"} (etcd raises a TTL below
// its minimum, 1.5 x election timeout rounded up to seconds: 2 s with the default 1 s
// election timeout); /v3/lease/revoke {"ID":".."}; /v3/kv/range {"key","range_end","limit"}
// -> {"kvs":[{"key","value","create_revision","mod_revision","version","lease"}],"more",
// "count"}; /v3/kv/put {"key","value","lease"}; /v3/kv/deleterange {"key"} -> {"deleted"}.
//
// The client: one HTTP/1.1 keep-alive connection at a time, to the first endpoint of the
// list that accepts it; on a connection failure it moves on to the next. Every call has one
// deadline (config::timeout) that covers connecting, writing and reading, across endpoints,
// so a dead or stopped etcd never holds a caller past it. A request that was sent is never
// sent again by the client: whether a txn that got no answer was applied is unknown, and
// only the caller can find out (read the key). Every response is read with a size bound
// (config::response_bytes_max), keys and values sent are bounded too.
//
// Not thread-safe: one caller at a time (the node's failover loop owns its client). No TLS,
// no auth, no watch (yet).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace remit::cluster::etcd {

inline constexpr std::size_t key_bytes_max = 4096;
// etcd refuses requests over 1.5 MiB (--max-request-bytes); base64 makes 1 MiB 1.33 MiB.
inline constexpr std::size_t value_bytes_max = 1u << 20;
inline constexpr std::size_t response_bytes_max = 4u << 20;
inline constexpr std::size_t txn_ops_max = 64;  // compares, and ops per branch (etcd: 128)
inline constexpr std::int64_t range_limit_max = 10000;

struct config {
  // "http://host:port", tried in this order; hosts are resolved once, by the constructor.
  std::vector<std::string> endpoints;
  // Per call: connect + write + read, all endpoints tried included.
  std::chrono::milliseconds timeout{2000};
  // The largest answer read (HTTP body); a larger one is not read and the call fails
  // `unreachable`. 1..response_bytes_max.
  std::size_t response_bytes_max = etcd::response_bytes_max;
};

// "http://127.0.0.1:2379,http://10.0.0.2:2379" -> its endpoints (empty items dropped).
std::vector<std::string> split_endpoints(std::string_view list);

enum class errc : std::uint8_t {
  // No usable answer: no endpoint accepted a connection, the deadline passed, the
  // connection broke, the answer could not be read (malformed, too large), or etcd said it
  // could not decide (gRPC UNAVAILABLE: no leader, request timed out; DEADLINE_EXCEEDED).
  // Whether a write was applied is unknown. The failover logic keeps going on its own
  // clock until its lease would have expired.
  unreachable,
  // etcd answered and refused the request: `code` is the gRPC status code (3 invalid
  // argument, 5 not found: a lease that is gone, ...). The client refuses a key or value
  // past its bounds the same way (code 3) without sending it.
  rejected,
};

struct error {
  errc kind = errc::unreachable;
  int code = 0;  // rejected: the gRPC status code (0: an HTTP error without one); else 0
  std::string message;

  bool unreachable() const { return kind == errc::unreachable; }
  bool not_found() const { return kind == errc::rejected && code == 5; }
};

namespace detail {
[[noreturn]] void bad_result_access(bool wanted_value) noexcept;
}  // namespace detail

// A value or an error. Deliberately no operator bool: result<bool> is common (did the
// compare-and-swap win?) and `if (r)` would read as the answer.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}    // NOLINT: implicit
  result(etcd::error e) : v_(std::in_place_index<1>, std::move(e)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  const T& value() const& {
    if (!ok()) detail::bad_result_access(true);
    return std::get<0>(v_);
  }
  T value() && {  // by value: `for (auto& x : c.get_prefix(p).value().kvs)` must not dangle
    if (!ok()) detail::bad_result_access(true);
    return std::get<0>(std::move(v_));
  }
  const T* operator->() const { return &value(); }
  const etcd::error& error() const {
    if (ok()) detail::bad_result_access(false);
    return std::get<1>(v_);
  }

 private:
  std::variant<T, etcd::error> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(etcd::error e) : e_(std::move(e)) {}  // NOLINT: implicit

  bool ok() const { return !e_.has_value(); }
  const etcd::error& error() const {
    if (ok()) detail::bad_result_access(false);
    return *e_;
  }

 private:
  std::optional<etcd::error> e_;
};

struct kv {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;  // puts since the key was created; 1 after the first
  std::int64_t lease = 0;    // 0: no lease
};

struct range {
  std::vector<kv> kvs;  // in key order
  bool more = false;    // past the limit there were more keys
  std::int64_t revision = 0;
};

struct lease {
  std::int64_t id = 0;
  std::int64_t ttl_seconds = 0;  // as granted: etcd raises a TTL below its minimum
};

struct compare {
  enum class target : std::uint8_t { version, create, mod, value, lease };
  enum class relation : std::uint8_t { equal, greater, less, not_equal };

  std::string key;
  target what = target::value;
  relation is = relation::equal;
  std::int64_t number = 0;  // version, create, mod: a revision; lease: a lease id
  std::string value;        // value
};

struct op {
  enum class kind : std::uint8_t { get, put, del };

  kind what = kind::get;
  std::string key;
  std::string value;       // put
  std::int64_t lease = 0;  // put

  static op get(std::string k) { return {kind::get, std::move(k), {}, 0}; }
  static op put(std::string k, std::string v, std::int64_t l = 0) {
    return {kind::put, std::move(k), std::move(v), l};
  }
  static op del(std::string k) { return {kind::del, std::move(k), {}, 0}; }
};

struct txn_result {
  bool succeeded = false;  // the compares all held: the success branch ran
  // One entry per get op of the branch that ran, in order; nullopt: no such key.
  std::vector<std::optional<kv>> gets;
  std::int64_t revision = 0;  // the store's revision after the txn
};

class client {
 public:
  // Does not connect. Throws std::invalid_argument for an empty list or an endpoint that is
  // not http://host:port or whose host does not resolve.
  explicit client(config cfg);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Leases. keep_alive answers the remaining TTL in seconds, 0 when the lease is gone
  // (expired or revoked). revoke is ok when the lease is already gone.
  result<lease> grant_lease(std::int64_t ttl_seconds);
  result<std::int64_t> keep_alive(std::int64_t lease_id);
  result<void> revoke(std::int64_t lease_id);

  result<std::optional<kv>> get(std::string_view key);
  // Keys that start with `prefix` (non-empty), at most `limit` (1..range_limit_max).
  result<range> get_prefix(std::string_view prefix, std::int64_t limit = 1000);
  // Answers the store's revision after the put (the key's mod_revision). A lease that is
  // gone is rejected (not_found).
  result<std::int64_t> put(std::string_view key, std::string_view value, std::int64_t lease_id = 0);
  // Answers whether there was a key to delete.
  result<bool> del(std::string_view key);

  // Compare-and-swap helpers: true when the compare held and the write was made.
  // Puts `value` only when `key` does not exist (its create revision is 0).
  result<bool> create_if_absent(std::string_view key, std::string_view value,
                                std::int64_t lease_id = 0);
  // Puts `value` only when `key` holds `expected` (false when the key does not exist).
  result<bool> put_if_value(std::string_view key, std::string_view expected, std::string_view value,
                            std::int64_t lease_id = 0);
  // Puts `value` only when `key`'s mod revision is `mod_revision` (0: absent).
  result<bool> put_if_mod_revision(std::string_view key, std::int64_t mod_revision,
                                   std::string_view value, std::int64_t lease_id = 0);
  // Deletes `key` only when it holds `expected`.
  result<bool> delete_if_value(std::string_view key, std::string_view expected);

  // All compares hold -> the success ops run, else the failure ops; atomically.
  result<txn_result> txn(std::span<const compare> compares, std::span<const op> success,
                         std::span<const op> failure);

  // The endpoint of the open connection, or of the next attempt when there is none.
  const std::string& endpoint() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// Exposed for tests: the range end that selects every key starting with `prefix` (the
// prefix with its last byte below 0xff incremented and what follows it dropped; "\0", every
// key, when there is no such byte).
std::string prefix_range_end(std::string_view prefix);
std::string base64_encode(std::string_view bytes);
// Strict: padding required, no whitespace; nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace remit::cluster::etcd
