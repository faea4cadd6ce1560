#include "gateway/cluster/peer_connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/crc32c.hpp"
#include "engine/types.hpp"

namespace remit::cluster {

namespace {

int ms_until(peer_connection::clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - peer_connection::clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}

// Waits until `fd` is ready for `events`; false on the deadline or an error.
bool wait_ready(int fd, short events, peer_connection::clock::time_point deadline,
                bool& timed_out) {
  timed_out = false;
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, ms_until(deadline));
    if (n > 0) return true;
    if (n == 0) {
      timed_out = true;
      return false;
    }
    if (errno != EINTR) return false;
  }
}

}  // namespace

peer_connection::peer_connection(std::uint32_t body_size_max) : decoder_(body_size_max) {}

peer_connection::~peer_connection() {
  close();
}

void peer_connection::shutdown() {
  shut_.store(true);
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

void peer_connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool peer_connection::open(const std::string& host, std::uint16_t port, const std::string& key_id,
                           std::span<const std::uint8_t> secret, bool mac,
                           std::chrono::milliseconds timeout, std::string& why) {
  close();
  const auto deadline = clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    why = host + ": " + ::gai_strerror(rc);
    return false;
  }
  why = host + ":" + service + ": no address";
  for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      bool timed_out = false;
      if (wait_ready(fd, POLLOUT, deadline, timed_out)) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        errno = timed_out ? ETIMEDOUT : errno;
      }
    }
    if (rc != 0) {
      why = host;
      why.append(":").append(service).append(": ").append(std::strerror(errno));
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
  }
  ::freeaddrinfo(res);
  if (fd_ < 0) return false;
  if (shut_.load()) {
    why = "shut down";
    close();
    return false;
  }

  // HELLO.
  codec::hello h{};
  std::memcpy(h.key_id.data(), key_id.data(), std::min(key_id.size(), h.key_id.size()));
  codec::random_bytes(h.client_nonce);
  h.mac_mode =
      static_cast<std::uint32_t>(mac ? codec::mac_mode::hmac_sha256 : codec::mac_mode::none);
  std::vector<std::byte> frame(codec::header_size + sizeof h);
  std::memcpy(frame.data() + codec::header_size, &h, sizeof h);
  codec::seal_frame(frame, {static_cast<std::uint16_t>(codec::opcode::hello), 1, 1, 0, 0, 0},
                    nullptr);
  if (!write_all(frame, deadline, why)) return false;
  if (read_raw_frame(deadline, why) != read_result::frame) return false;
  if (decoder_.header().status != 0 || decoder_.body().size() != sizeof(codec::hello_reply)) {
    why = "HELLO refused: " +
          std::string(codec::name(static_cast<codec::status>(decoder_.header().status)));
    return false;
  }
  std::array<std::byte, codec::hello_reply_size> reply_bytes{};
  std::memcpy(reply_bytes.data(), decoder_.body().data(), reply_bytes.size());
  std::memcpy(&hello_reply_, reply_bytes.data(), sizeof hello_reply_);
  decoder_.next();

  // AUTH.
  const auto hello_bytes = std::as_bytes(std::span(&h, 1));
  const codec::digest proof = codec::auth_proof(secret, hello_bytes, reply_bytes);
  frame.assign(codec::header_size + proof.size(), std::byte{0});
  std::memcpy(frame.data() + codec::header_size, proof.data(), proof.size());
  codec::seal_frame(frame, {static_cast<std::uint16_t>(codec::opcode::auth), 1, 2, 0, 0, 0},
                    nullptr);
  if (!write_all(frame, deadline, why)) return false;
  if (read_raw_frame(deadline, why) != read_result::frame) return false;
  if (decoder_.header().status != 0 || decoder_.body().size() != sizeof(codec::auth_reply)) {
    why = "AUTH refused: " +
          std::string(codec::name(static_cast<codec::status>(decoder_.header().status)));
    return false;
  }
  const auto a = load_event<codec::auth_reply>(decoder_.body().data());
  decoder_.next();
  const codec::digest expected = codec::server_proof(secret, hello_bytes, reply_bytes, proof);
  if (!codec::equal_ct(expected, a.server_proof)) {
    why = "the server could not prove the key";
    close();
    return false;
  }
  permissions_ = a.permissions;
  mac_ = mac;
  keys_ = codec::derive_session_keys(secret, h.client_nonce, hello_reply_.server_nonce);
  send_sequence_ = 1;
  recv_sequence_ = 1;
  return true;
}

bool peer_connection::send(std::vector<std::byte>& frame, clock::time_point deadline,
                           std::string& why) {
  const codec::frame_header h = codec::read_header(frame.data());
  codec::seal_frame(frame,
                    {h.opcode, h.event_count, h.request_id, send_sequence_++, h.status, h.flags},
                    mac_ ? &keys_.c2s : nullptr);
  return write_all(frame, deadline, why);
}

bool peer_connection::write_all(std::span<const std::byte> bytes, clock::time_point deadline,
                                std::string& why) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    if (fd_ < 0 || shut_.load()) {
      why = "connection closed";
      return false;
    }
    const ssize_t n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      bool timed_out = false;
      if (wait_ready(fd_, POLLOUT, deadline, timed_out)) continue;
      why = timed_out ? "write timed out" : std::strerror(errno);
      return false;
    }
    why = std::string("write: ") + std::strerror(errno);
    return false;
  }
  return true;
}

peer_connection::read_result peer_connection::read_raw_frame(clock::time_point deadline,
                                                             std::string& why) {
  if (frame_held_) {
    decoder_.next();
    frame_held_ = false;
  }
  for (;;) {
    if (decoder_.current() == codec::frame_decoder::state::frame) return read_result::frame;
    if (decoder_.current() == codec::frame_decoder::state::header_error) {
      why = "bad frame from the peer: " + std::string(codec::name(decoder_.error()));
      close();
      return read_result::failed;
    }
    if (fd_ < 0 || shut_.load()) {
      why = "connection closed";
      return read_result::failed;
    }
    const auto dst = decoder_.want();
    const ssize_t n = ::recv(fd_, dst.data(), dst.size(), 0);
    if (n > 0) {
      decoder_.commit(static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      why = "the peer closed the connection";
      close();
      return read_result::failed;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      bool timed_out = false;
      if (wait_ready(fd_, POLLIN, deadline, timed_out)) continue;
      if (timed_out) return read_result::timeout;
    }
    why = std::string("read: ") + std::strerror(errno);
    close();
    return read_result::failed;
  }
}

peer_connection::read_result peer_connection::read(clock::time_point deadline, std::string& why) {
  const read_result r = read_raw_frame(deadline, why);
  if (r != read_result::frame) return r;
  frame_held_ = true;
  const codec::frame_header& h = decoder_.header();
  const auto body = decoder_.body();
  if (h.sequence != recv_sequence_) {
    why = "the peer's sequence is not the next one";
    close();
    return read_result::failed;
  }
  ++recv_sequence_;
  if (mac_ ? !keys_.s2c.verify(decoder_.frame()) : false) {
    why = "the peer's MAC does not verify";
    close();
    return read_result::failed;
  }
  if ((body.empty() ? 0u : crc32c(body.data(), body.size())) != h.body_crc32c) {
    why = "the peer's body checksum does not match";
    close();
    return read_result::failed;
  }
  return read_result::frame;
}

}  // namespace remit::cluster
