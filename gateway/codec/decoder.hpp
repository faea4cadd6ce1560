// Incremental frame decoding: bytes arrive in any split, frames come out the same.
//
//   frame_decoder d(body_size_max);
//   while (bytes) {
//     bytes += d.feed(bytes);              // or: read into d.want(), then d.commit(n)
//     if (d.state() == frame_decoder::state::frame) { use d.header(), d.body(); d.next(); }
//     if (d.state() == frame_decoder::state::header_error) { answer d.error(); close; }
//   }
//
// The header is checked (step 1 of docs/PROTOCOL.md section 2) as soon as its 64 bytes are in,
// before any of the body is read. The body buffer grows to the largest frame seen, at most
// header_size + body_size_max, and is reused: nothing is allocated per frame or per event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gateway/codec/frame.hpp"

namespace remit::codec {

class frame_decoder {
 public:
  enum class state : std::uint8_t { need_more, frame, header_error };

  explicit frame_decoder(std::uint32_t body_size_max) : body_size_max_(body_size_max) {}

  // Before AUTH a body must be exactly HELLO's or AUTH's size (section 1).
  void set_pre_auth(bool pre_auth) { pre_auth_ = pre_auth; }

  // Where the next bytes go: the rest of the header or of the body. Empty unless need_more.
  std::span<std::byte> want();
  // `n` bytes were written at the front of want().
  void commit(std::size_t n);
  // Copies bytes in until a frame is whole or the header fails; returns how many it took.
  [[nodiscard]] std::size_t feed(std::span<const std::byte> bytes);

  state current() const { return state_; }
  // With state::header_error: why (bad_magic, unsupported_version, header_checksum,
  // body_too_large, or bad_event_count before AUTH).
  status error() const { return error_; }
  // With state::frame (and the header with header_error).
  const frame_header& header() const { return header_; }
  std::span<const std::byte> body() const {
    return std::span<const std::byte>(buf_).subspan(header_size, header_.body_size);
  }
  // The whole frame, header then body, as received (what a MAC covers).
  std::span<const std::byte> frame() const {
    return std::span<const std::byte>(buf_).first(header_size + header_.body_size);
  }
  // Drops the current frame and starts on the next one.
  void next();

 private:
  std::uint32_t body_size_max_;
  bool pre_auth_ = false;
  state state_ = state::need_more;
  status error_ = status::ok;
  frame_header header_{};
  std::vector<std::byte> buf_ = std::vector<std::byte>(header_size);
  std::size_t have_ = 0;  // bytes of the current frame in buf_
};

}  // namespace remit::codec
