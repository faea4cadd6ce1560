// libFuzzer target for the node-to-node messages (gateway/cluster/node_messages.hpp): the
// body decoders, check_node_frame, the standby's and the primary's rules, and split_group.
//
// Input: one control byte, then a message body.
//   control bits 0-2  the opcode: 64 + (bits % 6)
//   control bit  3    the frame is an answer (flag_response)
//   control bit  4    reseal: before decoding a GROUP body, set each record's CRC to what
//                     journal::append_record would (a mutation rarely keeps a record's CRC
//                     right, so without this the checks after it are seldom reached)
//   control bits 5-7  a piece size for split_group and a position for the rules
//
// The body is sealed into a frame and must get the same answer from check_node_frame as
// from its decoder; every body is also given to every decoder. What a decoder accepts must
// satisfy docs/CLUSTER.md: it encodes back to the same bytes, a GROUP's records have the
// header's LSNs and split and re-join to the same bytes, FOLLOW's answer is a well-formed
// FollowReply. Any broken invariant aborts, which libFuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "engine/crc32c.hpp"
#include "engine/journal_format.hpp"
#include "gateway/cluster/node_messages.hpp"
#include "gateway/codec/frame.hpp"

// Not assert(): it must hold in every build type.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace remit::cluster {
namespace {

using bytes = std::vector<std::byte>;
constexpr std::size_t fuzz_body_max = 1u << 16;

bool allowed(status s) {
  return s == status::ok || s == status::bad_event_count || s == status::reserved_field ||
         s == status::body_too_large;
}

std::span<const std::byte> body_of(const bytes& frame) {
  return std::span<const std::byte>(frame).subspan(codec::header_size);
}

template <wire_struct T>
bool same_bytes(std::span<const std::byte> body, const T& t) {
  return body.size() == sizeof(T) && std::memcmp(body.data(), &t, sizeof(T)) == 0;
}

// Sets each record's CRC inside a GROUP body, walking the records as their headers say.
void reseal_records(bytes& body) {
  std::size_t at = group_header_size;
  while (at + journal::header_size <= body.size()) {
    journal::record_header h;
    std::memcpy(&h, body.data() + at, sizeof h);
    if (h.length > body.size() - at - journal::header_size) break;
    h.crc32c = 0;
    h.crc32c = crc32c(crc32c(&h, sizeof h), body.data() + at + journal::header_size, h.length);
    std::memcpy(body.data() + at, &h, sizeof h);
    at += journal::header_size + h.length;
  }
}

template <class T>
status decode_fixed(std::span<const std::byte> body, const frame_ids& ids, bool answer) {
  T m{};
  const status s = decode(body, m);
  FUZZ_CHECK(allowed(s));
  if (s != status::ok) return s;
  bytes again;
  if constexpr (std::is_same_v<T, heartbeat>) {
    encode(again, ids, m, answer);
  } else if constexpr (std::is_same_v<T, ack>) {
    encode(again, ids, m, node_opcode::group);
  } else {
    encode(again, ids, m);
  }
  FUZZ_CHECK(same_bytes(body_of(again), m));
  FUZZ_CHECK(same_bytes(body, m));
  return s;
}

status check_follow(std::span<const std::byte> body, std::uint8_t control) {
  follow f{};
  const status s = decode(body, f);
  FUZZ_CHECK(allowed(s));
  if (s != status::ok) return s;
  if (f.version == replication_version) {
    FUZZ_CHECK(same_bytes(body, f));
    FUZZ_CHECK(valid_node_name(name_of(f)));
    FUZZ_CHECK(f.last_term <= f.term);
    FUZZ_CHECK(f.last_lsn == 0 || (f.last_term_start >= 1 && f.last_term_start <= f.last_lsn));
  }
  // A primary in term 4 (terms 1, 3, 4 from LSNs 1, 51, 81) whose journal starts at a LSN
  // the control byte picks.
  static const term_start terms[] = {{1, 1}, {3, 51}, {4, 81}};
  primary_position p;
  p.is_primary = (control & 0x80u) == 0;
  p.term = 4;
  p.last_lsn = 100;
  p.first_lsn = 1 + ((control >> 5) & 3u) * 30;
  p.snapshot_lsn = p.first_lsn == 1 ? 0 : p.first_lsn - 1;
  p.terms = terms;
  const follow_reply r = answer_follow(f, p);
  bytes frame;
  encode(frame, {1, 1, nullptr}, r);  // asserts that the answer is well-formed
  const auto reason = static_cast<node_reason>(r.reason);
  if (reason == node_reason::ok) {
    FUZZ_CHECK(r.start_lsn == f.last_lsn + 1);
    FUZZ_CHECK(r.start_lsn >= p.first_lsn && f.last_lsn <= p.last_lsn);
  }
  if (reason == node_reason::diverged) {
    FUZZ_CHECK(r.cut_after_lsn < f.last_lsn);
    FUZZ_CHECK(r.cut_after_lsn + 1 >= p.first_lsn);
  }
  if (reason == node_reason::needs_snapshot) FUZZ_CHECK(r.start_lsn == p.snapshot_lsn + 1);
  if (reason == node_reason::stale_term) FUZZ_CHECK(f.term > p.term);
  return s;
}

status check_group_body(std::span<const std::byte> body, std::uint8_t control) {
  group_view g;
  group_fault fault = group_fault::none;
  const status s = decode(body, g, &fault);
  FUZZ_CHECK(allowed(s));
  FUZZ_CHECK((s == status::ok) == (fault == group_fault::none));
  if (s != status::ok) return s;
  const group_header& h = g.header;
  FUZZ_CHECK(h.record_count >= 1 && h.last_lsn - h.first_lsn + 1 == h.record_count);
  FUZZ_CHECK(g.bytes.size() == h.bytes_size && g.bytes.data() == body.data() + group_header_size);
  std::uint64_t next = h.first_lsn;
  for_each_record(g, [&](const journal::record_view& v) {
    FUZZ_CHECK(v.header.lsn == next);
    FUZZ_CHECK(v.header.group_lsn == h.group_lsn);
    ++next;
  });
  FUZZ_CHECK(next == h.last_lsn + 1);
  bytes again;
  encode(again, {1, 1, nullptr}, h, g.bytes);
  FUZZ_CHECK(body_of(again).size() == body.size() &&
             std::memcmp(body_of(again).data(), body.data(), body.size()) == 0);

  // Split into pieces of a size the control byte picks; the standby takes them in order
  // and the bytes join up again.
  const std::size_t bytes_max = std::size_t{64} << ((control >> 5) & 7u);
  standby_position at{h.term, h.first_lsn - 1, 0};
  bytes joined;
  std::uint32_t pieces = 0;
  const bool split = split_group(g.bytes, bytes_max,
                                 [&](std::span<const std::byte> piece, std::uint64_t first,
                                     std::uint64_t last, std::uint32_t count, bool continued) {
                                   FUZZ_CHECK(piece.size() <= bytes_max);
                                   group_header ph = h;
                                   ph.first_lsn = first;
                                   ph.last_lsn = last;
                                   ph.record_count = count;
                                   ph.flags = continued ? group_flags::continued : 0;
                                   bytes frame;
                                   encode(frame, {1, 1, nullptr}, ph, piece);
                                   group_view pv;
                                   FUZZ_CHECK(decode(body_of(frame), pv) == status::ok);
                                   FUZZ_CHECK(check_group(pv.header, at, &at) == node_reason::ok);
                                   joined.insert(joined.end(), piece.begin(), piece.end());
                                   ++pieces;
                                 });
  if (split) {
    FUZZ_CHECK(joined.size() == g.bytes.size() &&
               std::memcmp(joined.data(), g.bytes.data(), joined.size()) == 0);
    FUZZ_CHECK(at.last_lsn == h.last_lsn && at.open_group_lsn == 0);
    FUZZ_CHECK(pieces >= 1 && pieces <= h.record_count);
  } else {
    FUZZ_CHECK(pieces == 0);
    FUZZ_CHECK(g.bytes.size() > bytes_max);
  }
  // The standby's checks: a group from an older term, or one that does not continue it,
  // is refused whatever else holds.
  const standby_position newer{h.term + 1, h.first_lsn - 1, 0};
  if (h.term < UINT64_MAX) FUZZ_CHECK(check_group(h, newer, nullptr) == node_reason::stale_term);
  const standby_position behind{h.term, h.first_lsn, 0};
  FUZZ_CHECK(check_group(h, behind, nullptr) == node_reason::gap);
  return s;
}

status check_chunk(std::span<const std::byte> body) {
  chunk_view c;
  const status s = decode(body, c);
  FUZZ_CHECK(allowed(s));
  if (s != status::ok) return s;
  FUZZ_CHECK(c.data.size() == c.header.data_size && c.data.size() <= snapshot_chunk_max);
  // As the first chunk of a snapshot of its size it is taken, and ends the transfer.
  snapshot_begin b{};
  b.term = c.header.term;
  b.snapshot_lsn = c.header.snapshot_lsn;
  b.total_size = c.data.size();
  b.crc32c = crc32c(c.data.data(), c.data.size());
  snapshot_receiver r;
  FUZZ_CHECK(r.begin(b, b.term) == node_reason::ok);
  snapshot_chunk first = c.header;
  first.offset = 0;
  FUZZ_CHECK(r.chunk({first, c.data}) == node_reason::ok);
  snapshot_end e{b.term, b.snapshot_lsn, b.total_size, b.crc32c, 0};
  FUZZ_CHECK(r.end(e) == node_reason::ok);
  return s;
}

// The decoder's answer for the body of a frame with this opcode and direction.
status expected_status(node_opcode op, bool answer, std::span<const std::byte> body,
                       std::uint8_t control) {
  const frame_ids ids{1, 1, nullptr};
  switch (op) {
    case node_opcode::follow:
      return answer ? decode_fixed<follow_reply>(body, ids, true) : check_follow(body, control);
    case node_opcode::group:
      return answer ? decode_fixed<ack>(body, ids, true) : check_group_body(body, control);
    case node_opcode::snapshot_begin:
      return answer ? decode_fixed<ack>(body, ids, true)
                    : decode_fixed<snapshot_begin>(body, ids, false);
    case node_opcode::snapshot_chunk:
      return answer ? decode_fixed<ack>(body, ids, true) : check_chunk(body);
    case node_opcode::snapshot_end:
      return answer ? decode_fixed<ack>(body, ids, true)
                    : decode_fixed<snapshot_end>(body, ids, false);
    case node_opcode::heartbeat:
      return decode_fixed<heartbeat>(body, ids, answer);
  }
  std::abort();
}

}  // namespace
}  // namespace remit::cluster

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace remit::cluster;
  namespace codec = remit::codec;
  if (size == 0 || size - 1 > fuzz_body_max) return 0;
  const std::uint8_t control = data[0];
  const auto op = static_cast<node_opcode>(node_opcode_first + (control & 7u) % 6);
  const bool answer = (control & 8u) != 0;
  bytes body(reinterpret_cast<const std::byte*>(data + 1),
             reinterpret_cast<const std::byte*>(data + size));
  if ((control & 0x10u) != 0 && op == node_opcode::group && !answer) reseal_records(body);

  // Every decoder takes every body without reading past it.
  const frame_ids ids{1, 1, nullptr};
  (void)decode_fixed<follow_reply>(body, ids, true);
  (void)decode_fixed<ack>(body, ids, true);
  (void)decode_fixed<snapshot_begin>(body, ids, false);
  (void)decode_fixed<snapshot_end>(body, ids, false);
  (void)decode_fixed<heartbeat>(body, ids, false);
  (void)check_chunk(body);
  (void)check_follow(body, control);

  const status expected = expected_status(op, answer, body, control);
  bytes frame(codec::header_size + body.size());
  if (!body.empty()) std::memcpy(frame.data() + codec::header_size, body.data(), body.size());
  codec::seal_frame(frame,
                    {static_cast<std::uint16_t>(op), 1, 9, 9, 0,
                     answer ? codec::flag_response : std::uint16_t{0}},
                    nullptr);
  const codec::frame_header h = codec::read_header(frame.data());
  FUZZ_CHECK(check_node_frame(h, body) == expected);
  return 0;
}
