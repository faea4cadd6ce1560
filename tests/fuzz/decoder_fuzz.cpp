// libFuzzer target for the wire codec: frame_decoder and the checks of docs/PROTOCOL.md
// section 2 (check_header, check_request, check_hello, check_auth).
//
// Input: one control byte, then a byte stream as a peer would send it.
//   control bits 0-2  permissions of the session key for check_request
//   control bit  3    the session starts before AUTH: the first two frames are decoded with
//                     set_pre_auth(true), as a server does until AUTH succeeds
//   control bits 4-5  event_count_max: 1, 4, 64 or batch_events_max
//   control bit  6    seed of the chunk sizes; also gives the key the replicate permission
//   control bit  7    reseal: before decoding, set each frame's body_crc32c and
//                     header_crc32c to what a sender would (a mutation rarely hits both
//                     CRCs, so without this the checks after them are seldom reached)
//
// The stream is decoded four ways: fed whole, byte by byte, in chunks whose sizes come from
// the control byte and the input size, and through want()/commit() in those chunks. All four
// must give the same frames and end the same way. Every frame then goes through the checks,
// and what they accept must satisfy section 3 (a batch request's body is event_count events,
// and so on). Any broken invariant aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "engine/crc32c.hpp"
#include "engine/types.hpp"
#include "gateway/codec/crypto.hpp"
#include "gateway/codec/decoder.hpp"
#include "gateway/codec/frame.hpp"

// Not assert(): it must hold in every build type.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace remit::codec {
namespace {

constexpr std::uint32_t fuzz_body_size_max = 8192;
constexpr std::uint32_t event_count_maxes[] = {1, 4, 64, batch_events_max};
constexpr std::size_t pre_auth_frames = 2;  // HELLO and AUTH

struct decoded {
  std::vector<std::vector<std::byte>> frames;  // each whole: header then body
  frame_decoder::state end = frame_decoder::state::need_more;
  status error = status::ok;
  std::size_t consumed = 0;  // bytes of the stream the decoder took
};

enum class way { whole, byte_by_byte, chunks, want_commit };

// The chunk sizes: a small xorshift, seeded from the input.
struct chunker {
  std::uint32_t x;
  std::size_t next() {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    // Mostly small chunks (splits inside a header), now and then a large one.
    return (x & 7) == 0 ? 1 + x % 1024 : 1 + x % 80;
  }
};

decoded decode(std::span<const std::byte> stream, bool pre_auth, way w, std::uint32_t seed) {
  frame_decoder d(fuzz_body_size_max);
  d.set_pre_auth(pre_auth);
  chunker c{seed | 1};
  decoded out;
  std::size_t pos = 0;
  while (pos < stream.size()) {
    std::size_t n = stream.size() - pos;
    if (w == way::byte_by_byte) n = 1;
    if (w == way::chunks || w == way::want_commit) n = std::min(n, c.next());
    std::size_t taken = 0;
    if (w == way::want_commit) {
      // What feed() does, by hand: fill want() until the chunk is used up or a frame or an
      // error stops the decoder.
      while (taken < n && d.current() == frame_decoder::state::need_more) {
        const auto dst = d.want();
        FUZZ_CHECK(!dst.empty());
        const std::size_t k = std::min(n - taken, dst.size());
        std::memcpy(dst.data(), stream.data() + pos + taken, k);
        d.commit(k);
        taken += k;
      }
    } else {
      taken = d.feed(stream.subspan(pos, n));
    }
    FUZZ_CHECK(taken <= n);
    pos += taken;
    if (d.current() == frame_decoder::state::header_error) break;
    if (d.current() == frame_decoder::state::frame) {
      const auto f = d.frame();
      FUZZ_CHECK(f.size() == header_size + d.header().body_size);
      FUZZ_CHECK(d.body().size() == d.header().body_size);
      FUZZ_CHECK(d.want().empty());
      out.frames.emplace_back(f.begin(), f.end());
      d.next();
      if (out.frames.size() == pre_auth_frames) d.set_pre_auth(false);
    } else {
      // Without a frame or an error the decoder took everything it was given.
      FUZZ_CHECK(taken == n);
    }
  }
  out.end = d.current();
  out.error = d.error();
  out.consumed = pos;
  if (out.end == frame_decoder::state::header_error) {
    FUZZ_CHECK(out.error != status::ok);
    FUZZ_CHECK(d.want().empty());
    FUZZ_CHECK(d.feed(stream.subspan(pos)) == 0);
  }
  return out;
}

bool same(const decoded& a, const decoded& b) {
  return a.frames == b.frames && a.end == b.end && a.error == b.error && a.consumed == b.consumed;
}

bool is_zero(const void* p, std::size_t n) {
  return bytes_zero(static_cast<const std::uint8_t*>(p), n);
}

// What check_request may answer, and what its `ok` promises (section 2 step 3, section 3).
void check_request_invariants(const frame_header& h, std::span<const std::byte> body,
                              std::uint32_t permissions, std::uint32_t event_count_max) {
  const status s = check_request(h, body, permissions, event_count_max);
  const status s_all = check_request(h, body, permission::defined, event_count_max);
  FUZZ_CHECK(s == status::ok || s == status::body_checksum || s == status::reserved_field ||
             s == status::unknown_opcode || s == status::permission_denied ||
             s == status::bad_event_count);
  FUZZ_CHECK(!closes_session(s));
  // Permissions only ever add: all bits never give permission_denied, and whatever a key
  // may do a key with every bit may do too.
  FUZZ_CHECK(s_all != status::permission_denied);
  if (s != status::permission_denied) FUZZ_CHECK(s == s_all);

  const bool crc_ok = crc32c(body.data(), body.size()) == h.body_crc32c;
  if (!crc_ok) FUZZ_CHECK(s == status::body_checksum);
  if (crc_ok && (h.flags != 0 || h.reserved != 0)) FUZZ_CHECK(s == status::reserved_field);

  const opcode_shape shape = shape_of(h.opcode);
  if (s == status::unknown_opcode) FUZZ_CHECK(!shape.known);
  if (s == status::permission_denied) {
    if (is_node_opcode(h.opcode)) {
      FUZZ_CHECK((permissions & permission::replicate) == 0);  // section 9
    } else {
      FUZZ_CHECK((permissions & shape.permission) != shape.permission);
    }
  }
  if (s != status::ok) return;

  FUZZ_CHECK(crc_ok);
  FUZZ_CHECK(h.flags == 0 && h.reserved == 0 && h.status == 0);
  FUZZ_CHECK(shape.known);
  FUZZ_CHECK(h.opcode != static_cast<std::uint16_t>(opcode::hello));
  FUZZ_CHECK(h.opcode != static_cast<std::uint16_t>(opcode::auth));
  FUZZ_CHECK((permissions & shape.permission) == shape.permission);
  FUZZ_CHECK(body.size() == h.body_size);
  const auto op = static_cast<opcode>(h.opcode);
  if (op == opcode::ping) {
    FUZZ_CHECK(h.event_count == 0);
    FUZZ_CHECK(body.size() <= ping_body_max);
  } else if (shape.batch) {
    FUZZ_CHECK(h.event_count >= 1 && h.event_count <= event_count_max);
    FUZZ_CHECK(body.size() == std::size_t{h.event_count} * shape.event_size);
    FUZZ_CHECK(shape.event_size == 16 || shape.event_size == 96 || shape.event_size == 128);
  } else {
    FUZZ_CHECK(h.event_count == 1);
    FUZZ_CHECK(body.size() == shape.event_size);
  }
  if (op == opcode::get_account_transfers) {
    const auto f = load_event<account_filter>(body.data());
    FUZZ_CHECK(f.limit >= 1 && f.limit <= event_count_max);
    FUZZ_CHECK((f.flags & (account_filter_flags::debits | account_filter_flags::credits)) != 0);
    FUZZ_CHECK((f.flags & ~account_filter_flags::known) == 0);
    FUZZ_CHECK(is_zero(f.reserved, sizeof f.reserved));
    FUZZ_CHECK(validate_filter(f) == filter_check::ok);
  }
  if (op == opcode::get_ledger_stats) {
    const auto r = load_event<ledger_stats_request>(body.data());
    FUZZ_CHECK(is_zero(r.reserved, sizeof r.reserved));
  }
}

void check_pre_auth_invariants(const frame_header& h, std::span<const std::byte> body) {
  for (const opcode expected : {opcode::hello, opcode::auth}) {
    const status s = expected == opcode::hello ? check_hello(h, body) : check_auth(h, body);
    FUZZ_CHECK(s == status::ok || s == status::not_authenticated || s == status::bad_sequence ||
               s == status::bad_mac || s == status::body_checksum || s == status::reserved_field ||
               s == status::bad_event_count);
    if (h.opcode != static_cast<std::uint16_t>(expected))
      FUZZ_CHECK(s == status::not_authenticated);
    if (s != status::ok) continue;
    FUZZ_CHECK(h.opcode == static_cast<std::uint16_t>(expected));
    FUZZ_CHECK(h.sequence == 0);
    FUZZ_CHECK(is_zero(h.mac.data(), h.mac.size()));
    FUZZ_CHECK(crc32c(body.data(), body.size()) == h.body_crc32c);
    FUZZ_CHECK(h.flags == 0 && h.reserved == 0 && h.status == 0);
    FUZZ_CHECK(h.event_count == 1);
    if (expected == opcode::hello) {
      FUZZ_CHECK(body.size() == hello_size);
      const auto m = load_event<hello>(body.data());
      FUZZ_CHECK(m.mac_mode <= static_cast<std::uint32_t>(mac_mode::hmac_sha256));
      FUZZ_CHECK(is_zero(m.reserved.data(), m.reserved.size()));
      FUZZ_CHECK(key_id_of(m).size() <= key_id_max);
    } else {
      FUZZ_CHECK(body.size() == proof_size);
    }
  }
}

// Sealing the frame's fields again gives a frame that passes step 1, verifies with its key
// only, decodes to itself, and gets the same answer from check_request unless the only
// fault was its body CRC.
void check_reseal(const std::vector<std::byte>& frame, std::uint32_t permissions,
                  std::uint32_t event_count_max) {
  static const mac_key c2s(digest{0x11, 0x22});
  static const mac_key s2c(digest{0x33, 0x44});
  const frame_header h = read_header(frame.data());
  std::vector<std::byte> sealed = frame;
  seal_frame(sealed, {h.opcode, h.event_count, h.request_id, h.sequence, h.status, h.flags}, &c2s);
  const frame_header hs = read_header(sealed.data());
  FUZZ_CHECK(check_header(hs, fuzz_body_size_max, false) == status::ok);
  FUZZ_CHECK(c2s.verify(sealed));
  FUZZ_CHECK(!s2c.verify(sealed));
  FUZZ_CHECK(hs.body_crc32c == crc32c(sealed.data() + header_size, hs.body_size));
  frame_decoder d(fuzz_body_size_max);
  FUZZ_CHECK(d.feed(sealed) == sealed.size());
  FUZZ_CHECK(d.current() == frame_decoder::state::frame);
  FUZZ_CHECK(std::memcmp(&d.header(), &hs, header_size) == 0);

  const auto body = std::span<const std::byte>(frame).subspan(header_size);
  const status before = check_request(h, body, permissions, event_count_max);
  const status after = check_request(hs, body, permissions, event_count_max);
  FUZZ_CHECK(after != status::body_checksum);
  if (before != status::body_checksum && h.reserved == 0) FUZZ_CHECK(after == before);
}

// Walks the stream frame by frame as its headers say and fixes both checksums of each.
void reseal_checksums(std::vector<std::byte>& stream) {
  std::size_t pos = 0;
  while (stream.size() - pos >= header_size) {
    frame_header h = read_header(stream.data() + pos);
    const std::size_t body = std::min<std::size_t>(h.body_size, stream.size() - pos - header_size);
    h.body_crc32c = crc32c(stream.data() + pos + header_size, body);
    h.header_crc32c = header_crc(h);
    std::memcpy(stream.data() + pos, &h, header_size);
    pos += header_size + body;
  }
}

}  // namespace
}  // namespace remit::codec

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace remit::codec;
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const std::uint32_t permissions =
      (control & 7u) | ((control & 0x40u) != 0 ? permission::replicate : 0u);
  const bool pre_auth = (control & 8u) != 0;
  const std::uint32_t event_count_max = event_count_maxes[(control >> 4) & 3u];
  const std::uint32_t seed = (std::uint32_t{control} << 24) ^ static_cast<std::uint32_t>(size);
  const auto input = std::as_bytes(std::span(data + 1, size - 1));
  std::vector<std::byte> resealed;
  if ((control & 0x80u) != 0) {
    resealed.assign(input.begin(), input.end());
    reseal_checksums(resealed);
  }
  const std::span<const std::byte> stream = resealed.empty() ? input : resealed;

  const decoded whole = decode(stream, pre_auth, way::whole, seed);
  FUZZ_CHECK(same(whole, decode(stream, pre_auth, way::byte_by_byte, seed)));
  FUZZ_CHECK(same(whole, decode(stream, pre_auth, way::chunks, seed)));
  FUZZ_CHECK(same(whole, decode(stream, pre_auth, way::want_commit, seed)));
  FUZZ_CHECK(whole.consumed <= stream.size());
  if (whole.end == frame_decoder::state::need_more) FUZZ_CHECK(whole.consumed == stream.size());

  std::size_t consumed = 0;
  for (std::size_t i = 0; i < whole.frames.size(); ++i) {
    const auto& frame = whole.frames[i];
    FUZZ_CHECK(std::memcmp(frame.data(), stream.data() + consumed, frame.size()) == 0);
    consumed += frame.size();
    const frame_header h = read_header(frame.data());
    const auto body = std::span<const std::byte>(frame).subspan(header_size);
    const bool frame_pre_auth = pre_auth && i < pre_auth_frames;
    FUZZ_CHECK(check_header(h, fuzz_body_size_max, frame_pre_auth) == status::ok);
    FUZZ_CHECK(body.size() == h.body_size && h.body_size <= fuzz_body_size_max);
    if (frame_pre_auth) FUZZ_CHECK(h.body_size == hello_size || h.body_size == proof_size);
    check_pre_auth_invariants(h, body);
    check_request_invariants(h, body, permissions, event_count_max);
    check_reseal(frame, permissions, event_count_max);
  }
  if (whole.end == frame_decoder::state::header_error) {
    // The bad header is the 64 bytes after the last frame, and step 1 refuses it again.
    FUZZ_CHECK(whole.consumed == consumed + header_size);
    const frame_header h = read_header(stream.data() + consumed);
    const bool frame_pre_auth = pre_auth && whole.frames.size() < pre_auth_frames;
    FUZZ_CHECK(check_header(h, fuzz_body_size_max, frame_pre_auth) == whole.error);
    FUZZ_CHECK(closes_session(whole.error) || whole.error == status::bad_event_count);
  } else {
    FUZZ_CHECK(whole.consumed == stream.size());
  }
  return 0;
}
