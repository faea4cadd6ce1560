// Support for the gateway tests: an engine and a server on a free loopback port, the test
// keys, and a raw blocking test client that speaks docs/PROTOCOL.md through the codec alone, so a
// test can craft any frame (a wrong field, a bad checksum, a frame cut in two).
//
// The raw client checks every frame the server sends against sections 2 and 3: magic,
// version, both checksums, the response flag, the reserved field; before AUTH sequence 0 and
// no MAC; after AUTH the next server sequence (1, 2, 3, ...) and, on a MAC session, a MAC
// that verifies under the server-to-client key; an error response has event_count 0 and a
// reason of at most 256 bytes. A frame that breaks one of these is a test failure.
//
// Reads have a deadline (poll before each read), so a lost answer fails the test instead
// of hanging it.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp uses std::exchange without it
#include <vector>

#include <boost/asio.hpp>

#include "actors/engine.hpp"
#include "actors/storage.hpp"
#include "engine/crc32c.hpp"
#include "engine/types.hpp"
#include "gateway/codec/crypto.hpp"
#include "gateway/codec/frame.hpp"
#include "gateway/codec/keys.hpp"
#include "gateway/server/server.hpp"
#include "tests/support/builders.hpp"

namespace remit::gateway_test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using codec::opcode;
using codec::status;
using ms = std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

inline constexpr ms read_timeout_default{10000};

// Names the instances of a test parameterized on MAC or not.
inline std::string mac_name(const ::testing::TestParamInfo<bool>& p) {
  return p.param ? "mac" : "no_mac";
}

inline std::uint16_t op_of(opcode op) {
  return static_cast<std::uint16_t>(op);
}
inline std::uint16_t st_of(status s) {
  return static_cast<std::uint16_t>(s);
}

// ---------------------------------------------------------------------------------------
// Keys

struct test_keys {
  codec::key_entry all = codec::make_key("all", codec::permission::all);
  codec::key_entry read = codec::make_key("read-only", codec::permission::read);
  codec::key_entry transfer = codec::make_key("transfer-only", codec::permission::transfer);
  codec::key_entry admin = codec::make_key("admin-only", codec::permission::admin);
  codec::key_entry none = codec::make_key("no-permissions", 0);
  // Node-to-node keys (section 9): replicate alone, and every bit.
  codec::key_entry replicate = codec::make_key("replicate-only", codec::permission::replicate);
  codec::key_entry node = codec::make_key("node", codec::permission::defined);
  // A key the server does not know.
  codec::key_entry stranger = codec::make_key("stranger", codec::permission::all);

  std::vector<codec::key_entry> server_list() const {
    return {all, read, transfer, admin, none, replicate, node};
  }
};

inline const test_keys& keys() {
  static const test_keys k;
  return k;
}

// ---------------------------------------------------------------------------------------
// Configurations

inline engine_config engine_nodurable() {
  engine_config c;
  c.shards = 2;
  c.threads = 2;
  c.durability = false;
  c.snapshot_at_shutdown = false;
  return c;
}

// The protocol's limits, with the server's timers short enough for tests that are not about
// them to end quickly when something goes wrong.
inline gateway::server_config server_defaults() {
  gateway::server_config c;
  c.port = 0;
  c.keys = keys().server_list();
  c.io_threads = 2;
  c.hello_timeout = ms(5000);
  c.auth_timeout = ms(5000);
  c.idle_timeout = ms(60000);
  c.drain_timeout = ms(5000);
  return c;
}

// A directory under the system's temporary directory, removed with the object.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("remit-gateway-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// ---------------------------------------------------------------------------------------
// Frames

struct frame {
  codec::frame_header h{};
  std::vector<std::byte> body;

  status st() const { return static_cast<status>(h.status); }
  template <wire_struct T>
  std::vector<T> events() const {
    std::vector<T> out(body.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), body.data(), out.size() * sizeof(T));
    return out;
  }
  std::string reason() const {
    return std::string(reinterpret_cast<const char*>(body.data()), body.size());
  }
};

template <class T>
std::vector<std::byte> bytes_of(std::span<const T> items) {
  const auto b = std::as_bytes(items);
  return {b.begin(), b.end()};
}
template <class T>
std::vector<std::byte> bytes_of(const std::vector<T>& items) {
  return bytes_of(std::span<const T>(items));
}
template <wire_struct T>
std::vector<std::byte> bytes_of_one(const T& item) {
  return bytes_of(std::span<const T>(&item, 1));
}

// A request as a test wants it. Every header field is the test's; by default body_size,
// body_crc32c, the MAC (with the session's client-to-server key) and header_crc32c are
// computed as a correct sender would, in the order of section 2. A test turns one off to send
// its own value.
struct frame_builder {
  codec::frame_header h{};
  std::vector<std::byte> body;
  bool auto_body_size = true;
  bool auto_body_crc = true;
  bool auto_mac = true;
  bool auto_header_crc = true;

  frame_builder() {
    h.magic = codec::magic;
    h.version = codec::protocol_version;
  }

  std::vector<std::byte> bytes(const codec::mac_key* key) const {
    codec::frame_header x = h;
    if (auto_body_size) x.body_size = static_cast<std::uint32_t>(body.size());
    if (auto_body_crc) x.body_crc32c = body.empty() ? 0 : crc32c(body.data(), body.size());
    std::vector<std::byte> out(codec::header_size + body.size());
    if (!body.empty()) std::memcpy(out.data() + codec::header_size, body.data(), body.size());
    if (key && auto_mac) {
      x.mac = {};
      x.header_crc32c = 0;
      std::memcpy(out.data(), &x, codec::header_size);
      x.mac = key->compute(std::span(out).first(codec::header_size),
                           std::span(out).subspan(codec::header_size));
    }
    if (auto_header_crc) x.header_crc32c = codec::header_crc(x);
    std::memcpy(out.data(), &x, codec::header_size);
    return out;
  }
};

// ---------------------------------------------------------------------------------------
// The raw test client

struct handshake_result {
  frame hello_reply_frame;
  codec::hello_reply hello_reply{};
  std::array<std::byte, codec::hello_size> hello_bytes{};
  frame auth_reply_frame;
  codec::auth_reply auth_reply{};
};

class raw_client {
 public:
  // Connects to 127.0.0.1:port. `rcvbuf` > 0 sets SO_RCVBUF before the connect.
  explicit raw_client(std::uint16_t port, int rcvbuf = 0) : sock_(io_) {
    sock_.open(tcp::v4());
    if (rcvbuf > 0) sock_.set_option(asio::socket_base::receive_buffer_size(rcvbuf));
    sock_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    sock_.set_option(tcp::no_delay(true));
  }

  tcp::socket& socket() { return sock_; }
  bool authenticated() const { return authenticated_; }
  bool mac() const { return mac_; }
  std::uint64_t next_sequence() const { return send_seq_; }
  const codec::session_keys& session_keys() const { return keys_; }
  const codec::mac_key* c2s() const { return authenticated_ && mac_ ? &keys_.c2s : nullptr; }

  // Writes all of `bytes`; false when the connection is gone.
  bool write(std::span<const std::byte> bytes) {
    boost::system::error_code ec;
    asio::write(sock_, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

  // Sends FIN and stops reading, at the OS level: safe while another thread is blocked in
  // write() on the same socket (which then fails).
  void shutdown_both() { ::shutdown(sock_.native_handle(), SHUT_RDWR); }

  // What a read found.
  enum class outcome : std::uint8_t { frame, closed, timeout, bad_frame };

  // Reads exactly `out.size()` bytes before the deadline.
  outcome read_exact(std::span<std::byte> out, steady::time_point deadline) {
    std::size_t have = 0;
    while (have < out.size()) {
      const auto left = std::chrono::duration_cast<ms>(deadline - steady::now()).count();
      if (left <= 0) return outcome::timeout;
      pollfd p{sock_.native_handle(), POLLIN, 0};
      const int r = ::poll(&p, 1, static_cast<int>(left));
      if (r == 0) return outcome::timeout;
      if (r < 0) continue;
      boost::system::error_code ec;
      const std::size_t n = sock_.read_some(asio::buffer(out.data() + have, out.size() - have), ec);
      if (ec) return outcome::closed;  // EOF or reset
      have += n;
    }
    return outcome::frame;
  }

  // Reads one server frame and checks it (see the top of the file). Sets last_outcome().
  std::optional<frame> read_frame(ms timeout = read_timeout_default) {
    const auto deadline = steady::now() + timeout;
    frame f;
    std::array<std::byte, codec::header_size> hb{};
    last_ = read_exact(hb, deadline);
    if (last_ != outcome::frame) return std::nullopt;
    f.h = codec::read_header(hb.data());
    if (f.h.magic != codec::magic || f.h.version != codec::protocol_version ||
        codec::header_crc(f.h) != f.h.header_crc32c || f.h.body_size > (8u << 20)) {
      ADD_FAILURE() << "the server sent a frame with a bad header";
      last_ = outcome::bad_frame;
      return std::nullopt;
    }
    f.body.resize(f.h.body_size);
    last_ = read_exact(f.body, deadline);
    if (last_ != outcome::frame) {
      ADD_FAILURE() << "the server's frame was cut short";
      return std::nullopt;
    }
    check_server_frame(hb, f);
    return f;
  }

  outcome last_outcome() const { return last_; }

  // The connection ends before anything more arrives: EOF (or a reset) within `timeout`.
  ::testing::AssertionResult closed(ms timeout = ms(5000)) {
    std::array<std::byte, 1> b{};
    const auto o = read_exact(b, steady::now() + timeout);
    if (o == outcome::closed) return ::testing::AssertionSuccess();
    if (o == outcome::timeout)
      return ::testing::AssertionFailure()
             << "the connection is still open after " << timeout.count() << " ms";
    return ::testing::AssertionFailure() << "the server sent more bytes instead of closing";
  }

  // ---- handshake ------------------------------------------------------------------

  static codec::hello make_hello(std::string_view key_id, std::uint32_t mac_mode) {
    codec::hello h{};
    std::memcpy(h.key_id.data(), key_id.data(), std::min(key_id.size(), h.key_id.size()));
    codec::random_bytes(h.client_nonce);
    h.mac_mode = mac_mode;
    return h;
  }

  static frame_builder handshake_frame(opcode op, std::vector<std::byte> body) {
    frame_builder b;
    b.h.opcode = op_of(op);
    b.h.event_count = 1;
    b.h.request_id = 0;
    b.body = std::move(body);
    return b;
  }

  // Sends HELLO and reads its reply (whatever its status).
  std::optional<frame> send_hello(const codec::hello& h, std::uint64_t request_id = 7) {
    hello_ = h;
    auto b = handshake_frame(opcode::hello, bytes_of_one(h));
    b.h.request_id = request_id;
    if (!write(b.bytes(nullptr))) return std::nullopt;
    auto f = read_frame();
    if (f && f->st() == status::ok && f->body.size() == codec::hello_reply_size)
      std::memcpy(reply_.data(), f->body.data(), reply_.size());
    return f;
  }

  // The AUTH proof for `secret` over the transcript so far.
  codec::digest proof_for(std::span<const std::uint8_t> secret) const {
    return codec::auth_proof(secret, std::as_bytes(std::span(&hello_, 1)), reply_);
  }

  // Sends AUTH with `proof` and reads its reply (whatever its status). On success the
  // session is authenticated and its keys derived from `secret`.
  std::optional<frame> send_auth(const codec::digest& proof, std::span<const std::uint8_t> secret,
                                 std::uint64_t request_id = 8) {
    auto b = handshake_frame(opcode::auth, bytes_of(std::span<const std::uint8_t>(proof)));
    b.h.request_id = request_id;
    if (!write(b.bytes(nullptr))) return std::nullopt;
    auto f = read_frame();
    if (f && f->st() == status::ok) {
      codec::hello_reply r{};
      std::memcpy(&r, reply_.data(), sizeof r);
      authenticated_ = true;
      mac_ = hello_.mac_mode == static_cast<std::uint32_t>(codec::mac_mode::hmac_sha256);
      keys_ = codec::derive_session_keys(secret, hello_.client_nonce, r.server_nonce);
    }
    return f;
  }

  // The whole handshake with `key`; every step must succeed and the server's proof verify.
  std::optional<handshake_result> handshake(const codec::key_entry& key, bool mac) {
    handshake_result out;
    const auto h = make_hello(key.id, mac ? 1 : 0);
    std::memcpy(out.hello_bytes.data(), &h, sizeof h);
    auto hr = send_hello(h);
    if (!hr || hr->st() != status::ok || hr->body.size() != codec::hello_reply_size) {
      ADD_FAILURE() << "HELLO was not answered ok";
      return std::nullopt;
    }
    out.hello_reply_frame = *hr;
    std::memcpy(&out.hello_reply, hr->body.data(), sizeof out.hello_reply);
    const auto proof = proof_for(key.secret);
    auto ar = send_auth(proof, key.secret);
    if (!ar || ar->st() != status::ok || ar->body.size() != codec::auth_reply_size) {
      ADD_FAILURE() << "AUTH was not answered ok"
                    << (ar ? std::string(": ") + std::string(codec::name(ar->st())) : "");
      return std::nullopt;
    }
    out.auth_reply_frame = *ar;
    std::memcpy(&out.auth_reply, ar->body.data(), sizeof out.auth_reply);
    const auto expected = codec::server_proof(key.secret, out.hello_bytes, reply_, proof);
    EXPECT_EQ(out.auth_reply.server_proof, expected) << "server_proof does not verify";
    return out;
  }

  // ---- requests after AUTH --------------------------------------------------------

  // A valid request with the next sequence number; a test may change it before send().
  frame_builder request(std::uint16_t op, std::vector<std::byte> body, std::uint32_t event_count,
                        std::uint64_t request_id = 0) {
    frame_builder b;
    b.h.opcode = op;
    b.h.event_count = event_count;
    b.h.request_id = request_id ? request_id : next_request_id_++;
    b.h.sequence = send_seq_;
    b.body = std::move(body);
    return b;
  }
  frame_builder request(opcode op, std::vector<std::byte> body, std::uint32_t event_count,
                        std::uint64_t request_id = 0) {
    return request(op_of(op), std::move(body), event_count, request_id);
  }

  // The bytes of `b`, with the session's MAC key; the next sequence moves on when `b` uses it.
  std::vector<std::byte> seal(const frame_builder& b) {
    if (b.h.sequence == send_seq_) ++send_seq_;
    return b.bytes(c2s());
  }

  bool send(const frame_builder& b) { return write(seal(b)); }

  // For frames a test sealed itself: the server took the next sequence number.
  void advance_sequence() { ++send_seq_; }

  // Sends and reads the answer, which must carry the request's opcode and request_id.
  std::optional<frame> call(const frame_builder& b) {
    if (!send(b)) {
      ADD_FAILURE() << "the connection is gone";
      return std::nullopt;
    }
    auto f = read_frame();
    if (f) {
      EXPECT_EQ(f->h.opcode, b.h.opcode);
      EXPECT_EQ(f->h.request_id, b.h.request_id);
    } else {
      ADD_FAILURE() << "no answer to opcode " << b.h.opcode;
    }
    return f;
  }

  std::optional<frame> call(opcode op, std::vector<std::byte> body, std::uint32_t event_count) {
    return call(request(op, std::move(body), event_count));
  }

  // A PING with a payload is answered ok with the same payload: the session goes on.
  ::testing::AssertionResult ping_ok() {
    std::vector<std::byte> payload(1 + (next_request_id_ % 64));
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<std::byte>(i * 7 + next_request_id_);
    auto b = request(opcode::ping, payload, 0);
    if (!send(b)) return ::testing::AssertionFailure() << "PING: the connection is gone";
    auto f = read_frame();
    if (!f) return ::testing::AssertionFailure() << "PING not answered (connection closed?)";
    if (f->st() != status::ok)
      return ::testing::AssertionFailure() << "PING answered " << codec::name(f->st());
    if (f->h.request_id != b.h.request_id || f->h.opcode != op_of(opcode::ping) ||
        f->h.event_count != 0 || f->body != payload)
      return ::testing::AssertionFailure() << "PING answered with the wrong id, opcode or bytes";
    return ::testing::AssertionSuccess();
  }

  template <wire_struct T>
  std::vector<T> call_ok(opcode op, const std::vector<std::byte>& body, std::uint32_t count) {
    auto f = call(op, body, count);
    if (!f) return {};
    EXPECT_EQ(f->st(), status::ok) << codec::name(f->st()) << " " << f->reason();
    if (f->body.size() % sizeof(T) != 0) ADD_FAILURE() << "body is not a whole number of events";
    EXPECT_EQ(f->h.event_count, f->body.size() / sizeof(T));
    return f->events<T>();
  }

 private:
  void check_server_frame(const std::array<std::byte, codec::header_size>& hb, const frame& f) {
    const auto& h = f.h;
    const std::uint32_t body_crc = f.body.empty() ? 0 : crc32c(f.body.data(), f.body.size());
    EXPECT_EQ(h.body_crc32c, body_crc) << "server frame: body_crc32c";
    EXPECT_EQ(h.flags, codec::flag_response) << "server frame: flags";
    EXPECT_EQ(h.reserved, 0u) << "server frame: reserved";
    if (!authenticated_) {
      EXPECT_EQ(h.sequence, 0u) << "server frame before AUTH: sequence";
      EXPECT_TRUE(bytes_zero(h.mac.data(), h.mac.size())) << "server frame before AUTH: mac";
    } else {
      EXPECT_EQ(h.sequence, recv_seq_) << "server frame: sequence";
      recv_seq_ = h.sequence + 1;
      if (mac_) {
        std::vector<std::byte> whole(hb.begin(), hb.end());
        whole.insert(whole.end(), f.body.begin(), f.body.end());
        EXPECT_TRUE(keys_.s2c.verify(whole)) << "server frame: MAC does not verify";
      } else {
        EXPECT_TRUE(bytes_zero(h.mac.data(), h.mac.size())) << "server frame: mac not zero";
      }
    }
    if (f.st() != status::ok) {
      EXPECT_EQ(h.event_count, 0u) << "error response: event_count";
      EXPECT_LE(f.body.size(), codec::reason_max) << "error response: reason too long";
    }
  }

  asio::io_context io_;
  tcp::socket sock_;
  outcome last_ = outcome::frame;
  bool authenticated_ = false;
  bool mac_ = false;
  codec::hello hello_{};
  std::array<std::byte, codec::hello_reply_size> reply_{};
  codec::session_keys keys_;
  std::uint64_t send_seq_ = 1;
  std::uint64_t recv_seq_ = 1;
  std::uint64_t next_request_id_ = 1000;
};

// ---------------------------------------------------------------------------------------
// An engine and a server on a free port

class harness {
 public:
  explicit harness(gateway::server_config cfg = server_defaults(),
                   engine_config ecfg = engine_nodurable())
      : eng_(std::make_unique<engine>(std::move(ecfg))),
        srv_(std::make_unique<gateway::server>(*eng_, std::move(cfg))) {}
  ~harness() {
    srv_.reset();
    eng_.reset();
  }
  harness(const harness&) = delete;
  harness& operator=(const harness&) = delete;

  engine& eng() { return *eng_; }
  gateway::server& srv() { return *srv_; }
  std::uint16_t port() const { return srv_->port(); }

  std::unique_ptr<raw_client> connect(int rcvbuf = 0) {
    return std::make_unique<raw_client>(port(), rcvbuf);
  }
  // A connected, authenticated session.
  std::unique_ptr<raw_client> session(const codec::key_entry& key, bool mac, int rcvbuf = 0) {
    auto c = connect(rcvbuf);
    if (!c->handshake(key, mac)) return nullptr;
    return c;
  }
  std::unique_ptr<raw_client> session(bool mac = false) { return session(keys().all, mac); }

  // Stops the server (graceful) ahead of the destructor.
  void stop_server() { srv_->stop(); }

 private:
  std::unique_ptr<engine> eng_;
  std::unique_ptr<gateway::server> srv_;
};

// Waits until `pred` holds (true) or `timeout` passes (false).
template <class Pred>
bool eventually(Pred pred, ms timeout = ms(5000)) {
  const auto until = steady::now() + timeout;
  while (!pred()) {
    if (steady::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Events

using test::make_account;
using test::make_transfer;

inline account_filter make_filter(u128 account_id, std::uint32_t flags, std::uint32_t limit) {
  account_filter f{};
  f.account_id = account_id;
  f.flags = flags;
  f.limit = limit;
  return f;
}

inline std::vector<std::byte> stats_request(std::uint32_t ledger) {
  ledger_stats_request r{};
  r.ledger = ledger;
  return bytes_of_one(r);
}

// Creates `accounts` through the session; every result must be ok.
inline void create_accounts_ok(raw_client& c, const std::vector<account>& accounts) {
  const auto results = c.call_ok<result>(opcode::create_accounts, bytes_of(accounts),
                                         static_cast<std::uint32_t>(accounts.size()));
  ASSERT_EQ(results.size(), accounts.size());
  for (const auto& r : results)
    EXPECT_EQ(r.status, 0u) << name(static_cast<create_account_result>(r.status));
}

}  // namespace remit::gateway_test
