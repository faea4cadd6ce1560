// A fake remit server on loopback for the client's unit tests, written on the codec alone.
//
// It speaks the handshake of docs/PROTOCOL.md section 3 (HELLO, AUTH with the proof checked,
// AuthReply with the server proof, session keys) and then reads requests, checking what a
// server checks (sequence, MAC, check_request): a client that breaks one of them is counted
// in violations(). Each request is recorded and handed to the test's hook on the session's
// thread; the default hook answers at once with answer(). A hook may also keep the request
// and answer it later from any thread, out of order, with a wrong sequence, MAC or checksum,
// or close the connection. One thread per connection, blocking sockets: simple, not fast.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <vector>

#include <boost/asio.hpp>

#include "engine/types.hpp"
#include "gateway/codec/crypto.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::client_test {

struct fake_options {
  std::uint32_t event_count_max = batch_events_max;
  std::uint32_t inflight_max = 64;
  std::uint32_t body_size_max = remit::body_size_max;
  bool mac_required = false;
  bool bad_server_proof = false;  // AuthReply carries a server_proof that does not verify
  std::string server_version = "fake-1";
  std::uint32_t role = 0;  // HelloReply's role (codec::node_role)
};

// A request as the fake received it.
struct received {
  int connection = 0;  // 0 for the first connection, 1 for the next, ...
  codec::frame_header header{};
  std::vector<std::byte> body;

  codec::opcode op() const { return static_cast<codec::opcode>(header.opcode); }
  template <wire_struct T>
  std::vector<T> events() const {
    std::vector<T> out(body.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), body.data(), out.size() * sizeof(T));
    return out;
  }
  // The ids of a create_* or lookup request (the first 16 bytes of each event).
  std::vector<u128> ids() const;
};

// How to spoil one response.
struct tamper {
  std::int64_t sequence_offset = 0;
  bool bad_mac = false;       // header CRC still right
  bool bad_body_crc = false;  // a body byte flipped after sealing
  bool no_response_flag = false;
};

class fake_session {
 public:
  int index() const { return index_; }
  bool mac() const { return mac_; }

  // Sends a response to `req` (its opcode and request_id) with the next server sequence.
  void respond(const received& req, codec::status st, std::span<const std::byte> body,
               std::uint32_t event_count, const tamper& t = {});
  // The ordinary answer: one result per create event (status 0, timestamp = the id's low 64
  // bits), an account or transfer per looked-up id, two transfers for a filter, stats with
  // accounts = 42, the ping bytes echoed.
  void answer(const received& req, const tamper& t = {});
  // An error response with a reason.
  void error(const received& req, codec::status st, std::string_view reason);
  // Closes the connection (the session's thread then ends).
  void close();

 private:
  friend class fake_server;
  int index_ = 0;
  bool mac_ = false;
  codec::session_keys keys_;
  std::mutex write_mu_;
  std::uint64_t seq_out_ = 1;
  boost::asio::ip::tcp::socket socket_;
  std::thread thread_;

 public:
  explicit fake_session(boost::asio::ip::tcp::socket s) : socket_(std::move(s)) {}
};

class fake_server {
 public:
  using hook = std::function<void(fake_session&, const received&)>;

  fake_server(std::vector<std::uint8_t> secret, fake_options opt = {}, std::string key_id = "k1");
  ~fake_server();
  fake_server(const fake_server&) = delete;
  fake_server& operator=(const fake_server&) = delete;

  std::uint16_t port() const { return port_; }
  void set_hook(hook h);

  // Closes the listening socket (connections are refused from then on) and every session.
  void stop();

  std::vector<received> requests() const;
  std::size_t request_count() const;
  int connections() const { return connections_.load(); }
  int violations() const { return violations_.load(); }
  std::string last_violation() const;
  std::uint32_t last_mac_mode() const { return last_mac_mode_.load(); }

  // Waits until `pred()` (called under the fake's lock) holds; false after `timeout`.
  bool wait(const std::function<bool()>& pred,
            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  bool wait_requests(std::size_t n,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return wait([&] { return requests_.size() >= n; }, timeout);
  }

 private:
  void accept_loop();
  void run_session(fake_session& s);
  bool handshake(fake_session& s);
  void violation(std::string what);

  std::vector<std::uint8_t> secret_;
  fake_options opt_;
  std::string key_id_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::uint16_t port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::atomic<int> violations_{0};
  std::atomic<std::uint32_t> last_mac_mode_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  hook hook_;
  std::vector<received> requests_;
  std::vector<std::unique_ptr<fake_session>> sessions_;
  std::string last_violation_;
};

}  // namespace remit::client_test
