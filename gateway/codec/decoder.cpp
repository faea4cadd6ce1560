#include "gateway/codec/decoder.hpp"

#include <algorithm>
#include <cstring>

namespace remit::codec {

std::span<std::byte> frame_decoder::want() {
  if (state_ != state::need_more) return {};
  const std::size_t total = have_ < header_size ? header_size : header_size + header_.body_size;
  return std::span<std::byte>(buf_).subspan(have_, total - have_);
}

void frame_decoder::commit(std::size_t n) {
  have_ += n;
  if (have_ == header_size) {
    header_ = read_header(buf_.data());
    error_ = check_header(header_, body_size_max_, pre_auth_);
    if (error_ != status::ok) {
      state_ = state::header_error;
      return;
    }
    if (buf_.size() < header_size + header_.body_size) buf_.resize(header_size + header_.body_size);
  }
  if (have_ >= header_size && have_ == header_size + header_.body_size) state_ = state::frame;
}

std::size_t frame_decoder::feed(std::span<const std::byte> bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && state_ == state::need_more) {
    const auto dst = want();
    const std::size_t n = std::min(dst.size(), bytes.size() - used);
    std::memcpy(dst.data(), bytes.data() + used, n);
    used += n;
    commit(n);
  }
  return used;
}

void frame_decoder::next() {
  state_ = state::need_more;
  error_ = status::ok;
  have_ = 0;
}

}  // namespace remit::codec
