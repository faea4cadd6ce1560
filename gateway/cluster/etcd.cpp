// The etcd v3 JSON-gateway client: the HTTP exchange, the mapping of answers to results,
// and the JSON of each call (the format is described in etcd.hpp).
#include "gateway/cluster/etcd.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <utility>  // before Boost 1.74 Asio (awaitable.hpp uses std::exchange)

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

// Guards an invariant of the client itself (never a condition of the network or of etcd):
// a broken one stops the program.
#define REMIT_CLUSTER_CHECK(expr)                                                                \
  do {                                                                                           \
    if (!(expr)) [[unlikely]] {                                                                  \
      std::fprintf(stderr, "remit etcd client: invariant broken: %s (%s:%d)\n", #expr, __FILE__, \
                   __LINE__);                                                                    \
      std::abort();                                                                              \
    }                                                                                            \
  } while (false)

namespace remit::cluster::etcd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace detail {
void bad_result_access(bool wanted_value) noexcept {
  std::fprintf(stderr, "remit etcd client: %s of a result that holds %s\n",
               wanted_value ? "value()" : "error()", wanted_value ? "an error" : "a value");
  std::abort();
}
}  // namespace detail

namespace {

constexpr std::size_t header_bytes_max = 16u << 10;
constexpr std::size_t read_buffer_bytes_max = 64u << 10;
constexpr std::size_t message_bytes_max = 512;  // of etcd's error text kept in an error
// etcd's own bound (--max-request-bytes, 1.5 MiB) with room for the JSON around the data.
constexpr std::size_t request_bytes_max = (3u << 20) / 2;
static_assert(value_bytes_max / 3 * 4 + key_bytes_max / 3 * 4 + 1024 < request_bytes_max);
static_assert(response_bytes_max > request_bytes_max);

// gRPC status codes that mean "etcd did not decide" rather than "etcd said no".
constexpr int grpc_canceled = 1;
constexpr int grpc_invalid_argument = 3;
constexpr int grpc_deadline_exceeded = 4;
constexpr int grpc_unavailable = 14;

[[noreturn]] void invalid_enum() {
  std::fprintf(stderr, "remit etcd client: invariant broken: enum value out of range\n");
  std::abort();
}

error unreachable(std::string message) {
  return {errc::unreachable, 0, std::move(message)};
}
error rejected(int code, std::string message) {
  return {errc::rejected, code, std::move(message)};
}
error malformed(std::string_view what) {
  return unreachable("etcd's answer is malformed: " + std::string(what));
}
// An error that etcd reported with a gRPC code; its message cut to message_bytes_max.
error from_grpc(int code, const std::string& message) {
  std::string text = "etcd: " + message.substr(0, message_bytes_max);
  if (code == grpc_canceled || code == grpc_deadline_exceeded || code == grpc_unavailable)
    return unreachable(std::move(text));
  return rejected(code, std::move(text));
}

std::optional<error> check_key(std::string_view key) {
  if (key.empty()) return rejected(grpc_invalid_argument, "client: empty key");
  if (key.size() > key_bytes_max)
    return rejected(grpc_invalid_argument, "client: key longer than key_bytes_max");
  return std::nullopt;
}
std::optional<error> check_value(std::string_view value) {
  if (value.size() > value_bytes_max)
    return rejected(grpc_invalid_argument, "client: value longer than value_bytes_max");
  return std::nullopt;
}

// An int64 field: absent (the default, 0), a decimal string or a JSON integer.
std::optional<std::int64_t> int_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (!it->is_string()) return std::nullopt;
  const auto& text = it->get_ref<const std::string&>();
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::optional<bool> bool_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return false;
  if (!it->is_boolean()) return std::nullopt;
  return it->get<bool>();
}

// A bytes field: base64 in a string; absent is empty.
std::optional<std::string> bytes_field(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return std::string();
  if (!it->is_string()) return std::nullopt;
  return base64_decode(it->get_ref<const std::string&>());
}

std::optional<std::int64_t> header_revision(const json& answer) {
  const auto it = answer.find("header");
  if (it == answer.end()) return 0;
  if (!it->is_object()) return std::nullopt;
  return int_field(*it, "revision");
}

std::optional<kv> parse_kv(const json& j) {
  if (!j.is_object()) return std::nullopt;
  auto key = bytes_field(j, "key");
  auto value = bytes_field(j, "value");
  const auto create = int_field(j, "create_revision");
  const auto mod = int_field(j, "mod_revision");
  const auto version = int_field(j, "version");
  const auto lease_id = int_field(j, "lease");
  if (!key || !value || !create || !mod || !version || !lease_id) return std::nullopt;
  return kv{std::move(*key), std::move(*value), *create, *mod, *version, *lease_id};
}

// The "kvs" of a range answer (absent when nothing matched).
std::optional<std::vector<kv>> parse_kvs(const json& answer) {
  std::vector<kv> out;
  const auto it = answer.find("kvs");
  if (it == answer.end()) return out;
  if (!it->is_array()) return std::nullopt;
  out.reserve(it->size());
  for (const auto& item : *it) {
    auto one = parse_kv(item);
    if (!one) return std::nullopt;
    out.push_back(std::move(*one));
  }
  return out;
}

json int_json(std::int64_t v) {
  return std::to_string(v);
}

const char* target_name(compare::target t) {
  switch (t) {
    case compare::target::version:
      return "VERSION";
    case compare::target::create:
      return "CREATE";
    case compare::target::mod:
      return "MOD";
    case compare::target::value:
      return "VALUE";
    case compare::target::lease:
      return "LEASE";
  }
  invalid_enum();
}

const char* relation_name(compare::relation r) {
  switch (r) {
    case compare::relation::equal:
      return "EQUAL";
    case compare::relation::greater:
      return "GREATER";
    case compare::relation::less:
      return "LESS";
    case compare::relation::not_equal:
      return "NOT_EQUAL";
  }
  invalid_enum();
}

json compare_json(const compare& c) {
  json out = {{"key", base64_encode(c.key)},
              {"target", target_name(c.what)},
              {"result", relation_name(c.is)}};
  switch (c.what) {
    case compare::target::version:
      out["version"] = int_json(c.number);
      break;
    case compare::target::create:
      out["create_revision"] = int_json(c.number);
      break;
    case compare::target::mod:
      out["mod_revision"] = int_json(c.number);
      break;
    case compare::target::lease:
      out["lease"] = int_json(c.number);
      break;
    case compare::target::value:
      out["value"] = base64_encode(c.value);
      break;
  }
  return out;
}

json op_json(const op& o) {
  const std::string key = base64_encode(o.key);
  switch (o.what) {
    case op::kind::get:
      return {{"request_range", {{"key", key}}}};
    case op::kind::put:
      return {{"request_put",
               {{"key", key}, {"value", base64_encode(o.value)}, {"lease", int_json(o.lease)}}}};
    case op::kind::del:
      return {{"request_delete_range", {{"key", key}}}};
  }
  invalid_enum();
}

std::optional<error> check_ops(std::span<const op> ops) {
  if (ops.size() > txn_ops_max)
    return rejected(grpc_invalid_argument, "client: more than txn_ops_max ops");
  for (const auto& o : ops) {
    if (auto e = check_key(o.key)) return e;
    if (auto e = check_value(o.value)) return e;
  }
  return std::nullopt;
}

struct endpoint_info {
  std::string url;
  std::string host_port;  // the Host header
  std::vector<tcp::endpoint> addresses;
};

endpoint_info parse_endpoint(const std::string& url, asio::io_context& ioc) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme))
    throw std::invalid_argument("etcd endpoint '" + url + "': not http://host:port (no TLS)");
  std::string host_port = url.substr(scheme.size());
  while (!host_port.empty() && host_port.back() == '/') host_port.pop_back();
  const auto colon = host_port.rfind(':');
  const auto bracket = host_port.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket) ||
      colon + 1 == host_port.size() || host_port.find('/') != std::string::npos)
    throw std::invalid_argument("etcd endpoint '" + url + "': not http://host:port");
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  error_code ec;
  tcp::resolver resolver(ioc);
  const auto found = resolver.resolve(host, port, tcp::resolver::numeric_service, ec);
  if (ec || found.empty())
    throw std::invalid_argument("etcd endpoint '" + url +
                                "': " + (ec ? ec.message() : std::string("no address")));
  endpoint_info out{url, host_port, {}};
  for (const auto& entry : found) out.addresses.push_back(entry.endpoint());
  return out;
}

}  // namespace

std::vector<std::string> split_endpoints(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    const auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace {
constexpr std::string_view base64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4, '=');
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  std::size_t o = 0;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out[o++] = base64_alphabet[n >> 18 & 63];
    out[o++] = base64_alphabet[n >> 12 & 63];
    out[o++] = base64_alphabet[n >> 6 & 63];
    out[o++] = base64_alphabet[n & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {  // the '=' are there already
    const std::uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out[o++] = base64_alphabet[n >> 18 & 63];
    out[o++] = base64_alphabet[n >> 12 & 63];
    if (rest == 2) out[o] = base64_alphabet[n >> 6 & 63];
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  static constexpr auto table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < base64_alphabet.size(); ++i)
      t[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
  }();
  if (text.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
  std::string out(text.size() / 4 * 3 - pad, '\0');
  std::size_t o = 0;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const std::size_t digits = i + 4 == text.size() ? 4 - pad : 4;
    std::uint32_t n = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      std::int8_t v = 0;
      if (j < digits) {
        v = table[static_cast<unsigned char>(text[i + j])];
        if (v < 0) return std::nullopt;  // '=' included: only at the end
      }
      n = n << 6 | static_cast<std::uint32_t>(v);
    }
    out[o++] = static_cast<char>(n >> 16 & 0xff);
    if (digits > 2) out[o++] = static_cast<char>(n >> 8 & 0xff);
    if (digits > 3) out[o++] = static_cast<char>(n & 0xff);
  }
  REMIT_CLUSTER_CHECK(o == out.size());
  return out;
}

struct client::impl {
  config cfg;
  asio::io_context ioc;
  std::vector<endpoint_info> endpoints;
  std::size_t current = 0;  // the endpoint connected to, or to try first
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer{read_buffer_bytes_max};

  explicit impl(config c) : cfg(std::move(c)) {
    if (cfg.endpoints.empty()) throw std::invalid_argument("etcd: no endpoint");
    if (cfg.timeout <= std::chrono::milliseconds::zero())
      throw std::invalid_argument("etcd: timeout must be positive");
    if (cfg.response_bytes_max == 0 || cfg.response_bytes_max > response_bytes_max)
      throw std::invalid_argument("etcd: response_bytes_max out of 1..4 MiB");
    for (const auto& url : cfg.endpoints) endpoints.push_back(parse_endpoint(url, ioc));
  }

  // Runs the one asynchronous operation started before it; its stream's expiry bounds it.
  void run() {
    ioc.restart();
    ioc.run();
  }

  void close() {
    stream.reset();
    buffer.clear();
  }

  void next_endpoint() {
    close();
    current = (current + 1) % endpoints.size();
  }

  // A kept-alive connection that etcd closed while it sat idle (etcd restarted) reads as
  // EOF: drop it before sending, so that a request is never written into a dead connection.
  void drop_if_closed() {
    if (!stream) return;
    char byte = 0;
    const auto n = ::recv(stream->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close();  // EOF, an error, or bytes nobody asked for
  }

  error_code connect(clock_type::time_point deadline) {
    REMIT_CLUSTER_CHECK(!stream);
    stream.emplace(ioc);
    stream->expires_at(deadline);
    error_code result = asio::error::would_block;
    stream->async_connect(endpoints[current].addresses,
                          [&](const error_code& ec, const tcp::endpoint&) { result = ec; });
    run();
    REMIT_CLUSTER_CHECK(result != asio::error::would_block);
    if (result) {
      close();
      return result;
    }
    error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    return result;
  }

  // Connects when there is no connection: each endpoint in turn from `current`, each with
  // an equal share of what is left of the deadline, so one that hangs cannot eat it all.
  std::optional<error> ensure_connected(clock_type::time_point deadline) {
    drop_if_closed();
    if (stream) return std::nullopt;
    std::string failures;
    const std::size_t n = endpoints.size();
    for (std::size_t tried = 0; tried < n; ++tried) {
      const auto now = clock_type::now();
      if (now >= deadline) break;
      const auto share = (deadline - now) / static_cast<int>(n - tried);
      const auto ec = connect(now + share);
      if (!ec) return std::nullopt;
      failures += (failures.empty() ? "" : "; ") + endpoints[current].url + ": " + ec.message();
      current = (current + 1) % n;
    }
    if (failures.empty()) failures = "deadline passed";
    return unreachable("no etcd endpoint accepted a connection (" + failures + ")");
  }

  // POSTs `request` to `target` and answers the JSON object etcd sent back, or the error.
  result<json> call(std::string_view target, const json& request) {
    const auto deadline = clock_type::now() + cfg.timeout;
    std::string body = request.dump();
    if (body.size() > request_bytes_max)
      return rejected(grpc_invalid_argument, "client: request larger than etcd takes");
    if (auto e = ensure_connected(deadline)) return std::move(*e);

    http::request<http::string_body> req{http::verb::post,
                                         beast::string_view(target.data(), target.size()), 11};
    req.set(http::field::host, endpoints[current].host_port);
    req.set(http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();

    error_code result = asio::error::would_block;
    stream->expires_at(deadline);
    http::async_write(*stream, req, [&](const error_code& ec, std::size_t) { result = ec; });
    run();
    REMIT_CLUSTER_CHECK(result != asio::error::would_block);
    if (result) return lost(target, "sending", result);

    http::response_parser<http::string_body> parser;
    parser.header_limit(header_bytes_max);
    parser.body_limit(cfg.response_bytes_max);
    result = asio::error::would_block;
    stream->expires_at(deadline);
    http::async_read(*stream, buffer, parser,
                     [&](const error_code& ec, std::size_t) { result = ec; });
    run();
    REMIT_CLUSTER_CHECK(result != asio::error::would_block);
    if (result) return lost(target, "reading the answer", result);

    const auto& res = parser.get();
    if (!res.keep_alive() || buffer.size() != 0) close();
    return answer(res.result_int(), res.body());
  }

  error lost(std::string_view target, std::string_view doing, const error_code& ec) {
    std::string message = "etcd " + endpoints[current].url + std::string(target) + ": " +
                          std::string(doing) + ": " + ec.message();
    next_endpoint();
    return unreachable(std::move(message));
  }

  // The JSON of an answer, or the error it carries.
  static result<json> answer(unsigned status, const std::string& body) {
    json j = json::parse(body, nullptr, false);
    if (status != 200) {
      if (j.is_object()) {
        const auto code = int_field(j, "code");
        const auto message = j.find("message");
        if (code && *code != 0 && message != j.end() && message->is_string())
          return from_grpc(static_cast<int>(*code), message->get<std::string>());
      }
      std::string text =
          "HTTP " + std::to_string(status) + ": " + body.substr(0, message_bytes_max);
      if (status >= 500) return unreachable("etcd: " + text);
      return rejected(0, "etcd: " + text);
    }
    if (j.is_discarded() || !j.is_object()) return malformed("not a JSON object");
    if (const auto e = j.find("error"); e != j.end()) {  // a stream's error, with 200
      const auto code = e->is_object() ? int_field(*e, "grpc_code") : std::nullopt;
      const auto message = e->is_object() ? e->find("message") : e->end();
      if (!code || message == e->end() || !message->is_string())
        return malformed("an error without a code and a message");
      return from_grpc(static_cast<int>(*code), message->get<std::string>());
    }
    return j;
  }
};

client::client(config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {}
client::~client() = default;

const std::string& client::endpoint() const {
  return impl_->endpoints[impl_->current].url;
}

result<lease> client::grant_lease(std::int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return rejected(grpc_invalid_argument, "client: TTL must be positive");
  auto r = impl_->call("/v3/lease/grant", {{"TTL", int_json(ttl_seconds)}});
  if (!r.ok()) return r.error();
  const auto id = int_field(r.value(), "ID");
  const auto ttl = int_field(r.value(), "TTL");
  if (!id || !ttl || *id == 0 || *ttl <= 0) return malformed("lease grant without ID or TTL");
  return lease{*id, *ttl};
}

result<std::int64_t> client::keep_alive(std::int64_t lease_id) {
  auto r = impl_->call("/v3/lease/keepalive", {{"ID", int_json(lease_id)}});
  if (!r.ok()) return r.error();
  const auto it = r.value().find("result");
  if (it == r.value().end() || !it->is_object()) return malformed("keepalive without result");
  const auto ttl = int_field(*it, "TTL");
  if (!ttl || *ttl < 0) return malformed("keepalive TTL");
  return *ttl;
}

result<void> client::revoke(std::int64_t lease_id) {
  auto r = impl_->call("/v3/lease/revoke", {{"ID", int_json(lease_id)}});
  if (!r.ok() && !r.error().not_found()) return r.error();
  return {};
}

result<std::optional<kv>> client::get(std::string_view key) {
  if (auto e = check_key(key)) return std::move(*e);
  auto r = impl_->call("/v3/kv/range", {{"key", base64_encode(key)}});
  if (!r.ok()) return r.error();
  auto kvs = parse_kvs(r.value());
  if (!kvs || kvs->size() > 1) return malformed("range kvs");
  if (kvs->empty()) return std::optional<kv>();
  return std::optional<kv>(std::move(kvs->front()));
}

result<range> client::get_prefix(std::string_view prefix, std::int64_t limit) {
  if (auto e = check_key(prefix)) return std::move(*e);
  if (limit < 1 || limit > range_limit_max)
    return rejected(grpc_invalid_argument, "client: range limit out of 1..range_limit_max");
  auto r = impl_->call("/v3/kv/range", {{"key", base64_encode(prefix)},
                                        {"range_end", base64_encode(prefix_range_end(prefix))},
                                        {"limit", int_json(limit)}});
  if (!r.ok()) return r.error();
  auto kvs = parse_kvs(r.value());
  const auto more = bool_field(r.value(), "more");
  const auto revision = header_revision(r.value());
  if (!kvs || !more || !revision || kvs->size() > static_cast<std::size_t>(limit))
    return malformed("range");
  return range{std::move(*kvs), *more, *revision};
}

result<std::int64_t> client::put(std::string_view key, std::string_view value,
                                 std::int64_t lease_id) {
  if (auto e = check_key(key)) return std::move(*e);
  if (auto e = check_value(value)) return std::move(*e);
  auto r = impl_->call("/v3/kv/put", {{"key", base64_encode(key)},
                                      {"value", base64_encode(value)},
                                      {"lease", int_json(lease_id)}});
  if (!r.ok()) return r.error();
  const auto revision = header_revision(r.value());
  if (!revision) return malformed("put header");
  return *revision;
}

result<bool> client::del(std::string_view key) {
  if (auto e = check_key(key)) return std::move(*e);
  auto r = impl_->call("/v3/kv/deleterange", {{"key", base64_encode(key)}});
  if (!r.ok()) return r.error();
  const auto deleted = int_field(r.value(), "deleted");
  if (!deleted || *deleted < 0 || *deleted > 1) return malformed("deleted count");
  return *deleted == 1;
}

result<txn_result> client::txn(std::span<const compare> compares, std::span<const op> success,
                               std::span<const op> failure) {
  if (compares.size() > txn_ops_max)
    return rejected(grpc_invalid_argument, "client: more than txn_ops_max compares");
  for (const auto& c : compares) {
    if (auto e = check_key(c.key)) return std::move(*e);
    if (auto e = check_value(c.value)) return std::move(*e);
  }
  if (auto e = check_ops(success)) return std::move(*e);
  if (auto e = check_ops(failure)) return std::move(*e);

  json request = {
      {"compare", json::array()}, {"success", json::array()}, {"failure", json::array()}};
  for (const auto& c : compares) request["compare"].push_back(compare_json(c));
  for (const auto& o : success) request["success"].push_back(op_json(o));
  for (const auto& o : failure) request["failure"].push_back(op_json(o));
  auto r = impl_->call("/v3/kv/txn", request);
  if (!r.ok()) return r.error();

  const json& answer = r.value();
  const auto succeeded = bool_field(answer, "succeeded");
  const auto revision = header_revision(answer);
  if (!succeeded || !revision) return malformed("txn");
  const auto ran = *succeeded ? success : failure;
  txn_result out{*succeeded, {}, *revision};
  const auto responses = answer.find("responses");
  if (responses != answer.end() && !responses->is_array()) return malformed("txn responses");
  const std::size_t count = responses == answer.end() ? 0 : responses->size();
  if (count != ran.size()) return malformed("txn responses do not match the branch's ops");
  for (std::size_t i = 0; i < count; ++i) {
    if (ran[i].what != op::kind::get) continue;
    const json& one = (*responses)[i];
    const auto range_it = one.is_object() ? one.find("response_range") : one.end();
    if (range_it == one.end()) return malformed("txn response is not a range");
    auto kvs = parse_kvs(*range_it);
    if (!kvs || kvs->size() > 1) return malformed("txn range kvs");
    out.gets.push_back(kvs->empty() ? std::nullopt : std::optional<kv>(std::move(kvs->front())));
  }
  return out;
}

result<bool> client::create_if_absent(std::string_view key, std::string_view value,
                                      std::int64_t lease_id) {
  return put_if_mod_revision(key, 0, value, lease_id);
}

namespace {
result<bool> succeeded(result<txn_result>&& r) {
  if (!r.ok()) return r.error();
  return r.value().succeeded;
}
}  // namespace

result<bool> client::put_if_mod_revision(std::string_view key, std::int64_t mod_revision,
                                         std::string_view value, std::int64_t lease_id) {
  // Absence is create revision 0; a mod revision compare of 0 would say the same, but the
  // create revision is what etcd's own election recipes compare.
  const compare c{std::string(key),
                  mod_revision == 0 ? compare::target::create : compare::target::mod,
                  compare::relation::equal,
                  mod_revision,
                  {}};
  const op put_op = op::put(std::string(key), std::string(value), lease_id);
  return succeeded(txn({&c, 1}, {&put_op, 1}, {}));
}

result<bool> client::put_if_value(std::string_view key, std::string_view expected,
                                  std::string_view value, std::int64_t lease_id) {
  const compare c{std::string(key), compare::target::value, compare::relation::equal, 0,
                  std::string(expected)};
  const op put_op = op::put(std::string(key), std::string(value), lease_id);
  return succeeded(txn({&c, 1}, {&put_op, 1}, {}));
}

result<bool> client::delete_if_value(std::string_view key, std::string_view expected) {
  const compare c{std::string(key), compare::target::value, compare::relation::equal, 0,
                  std::string(expected)};
  const op del_op = op::del(std::string(key));
  return succeeded(txn({&c, 1}, {&del_op, 1}, {}));
}

}  // namespace remit::cluster::etcd
