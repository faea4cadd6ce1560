// A blocking connection from one node to another over the client protocol's framing
// (docs/PROTOCOL.md sections 1 to 3): connect, HELLO and AUTH with a replicate key, then
// node frames (docs/CLUSTER.md, "Node-to-node messages"). The standby's follow session and
// `remit cluster-status` use it. It runs on a thread of its own: every call blocks, with a
// deadline, and shutdown() from another thread ends a call in progress.
//
// Every frame received is checked as a client checks one: header and body CRCs (the
// decoder), the server's sequence (1, 2, 3, ...) and, with a MAC, the MAC under the
// server-to-client key. A frame that fails them ends the connection.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "gateway/codec/crypto.hpp"
#include "gateway/codec/decoder.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::cluster {

class peer_connection {
 public:
  using clock = std::chrono::steady_clock;

  // `body_size_max`: the largest body it accepts (a standby reads GROUPs: node_body_size_max).
  explicit peer_connection(std::uint32_t body_size_max);
  ~peer_connection();
  peer_connection(const peer_connection&) = delete;
  peer_connection& operator=(const peer_connection&) = delete;

  // Connects to host:port (an IP address or a name) and authenticates with the key; false
  // with `why` when any of it fails. `hello_reply()` is the server's answer afterwards.
  [[nodiscard]] bool open(const std::string& host, std::uint16_t port, const std::string& key_id,
                          std::span<const std::uint8_t> secret, bool mac,
                          std::chrono::milliseconds timeout, std::string& why);
  const codec::hello_reply& hello_reply() const { return hello_reply_; }
  std::uint32_t permissions() const { return permissions_; }

  // Seals a whole frame (as the node codec encodes it: any sequence and MAC) with this
  // session's next sequence number and MAC, and writes it. False with `why` on failure.
  [[nodiscard]] bool send(std::vector<std::byte>& frame, clock::time_point deadline,
                          std::string& why);

  enum class read_result : std::uint8_t { frame, timeout, failed };
  // Reads the next frame; with `frame` it is in header() and body() until the next read.
  [[nodiscard]] read_result read(clock::time_point deadline, std::string& why);
  const codec::frame_header& header() const { return decoder_.header(); }
  std::span<const std::byte> body() const { return decoder_.body(); }

  // Ends the connection; a call blocked in another thread returns failed. Any thread.
  void shutdown();
  void close();
  bool is_open() const { return fd_ >= 0; }

 private:
  [[nodiscard]] bool write_all(std::span<const std::byte> bytes, clock::time_point deadline,
                               std::string& why);
  [[nodiscard]] read_result read_raw_frame(clock::time_point deadline, std::string& why);

  int fd_ = -1;
  std::atomic<bool> shut_{false};
  codec::frame_decoder decoder_;
  bool frame_held_ = false;
  codec::hello_reply hello_reply_{};
  std::uint32_t permissions_ = 0;
  bool mac_ = false;
  codec::session_keys keys_;
  std::uint64_t send_sequence_ = 1;
  std::uint64_t recv_sequence_ = 1;
};

}  // namespace remit::cluster
