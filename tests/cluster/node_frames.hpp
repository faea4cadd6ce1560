// Builders shared by the node message tests and the node fuzzer's seed corpus: journal bytes
// written with journal::append_record (what a primary's journal holds), and one valid
// message of each kind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/crc32c.hpp"
#include "engine/journal_format.hpp"
#include "engine/types.hpp"
#include "gateway/cluster/node_messages.hpp"

namespace remit::cluster::test {

using bytes = std::vector<std::byte>;

// `count` records with LSNs first, first + 1, ..., all carrying `group_lsn`; record i holds
// (i % 3) + 1 failure entries, so the records differ in size.
inline bytes journal_group(std::uint64_t first, std::uint32_t count, std::uint64_t group_lsn) {
  bytes out;
  for (std::uint32_t i = 0; i < count; ++i) {
    bytes payload;
    for (std::uint32_t k = 0; k <= i % 3; ++k) {
      journal::failure_entry e{};
      e.id = first + i;
      e.code = 34 + k;
      const auto* p = reinterpret_cast<const std::byte*>(&e);
      payload.insert(payload.end(), p, p + sizeof e);
    }
    journal::append_record(out, journal::record_type::failures, first + i, group_lsn, payload);
  }
  return out;
}

inline group_header group_for(std::uint64_t term, std::uint64_t first, std::uint32_t count,
                              std::uint64_t group_lsn, std::uint32_t flags = 0) {
  group_header h{};
  h.term = term;
  h.first_lsn = first;
  h.last_lsn = first + count - 1;
  h.group_lsn = group_lsn;
  h.record_count = count;
  h.flags = flags;
  return h;
}

inline follow_reply accepted(std::uint64_t term, std::uint64_t start, std::uint64_t last) {
  follow_reply r{};
  r.reason = static_cast<std::uint32_t>(node_reason::ok);
  r.version = replication_version;
  r.term = term;
  r.start_lsn = start;
  r.last_lsn = last;
  return r;
}

inline ack make_ack(node_reason reason, std::uint64_t term, std::uint64_t durable) {
  ack a{};
  a.reason = static_cast<std::uint32_t>(reason);
  a.term = term;
  a.durable_lsn = durable;
  return a;
}

inline snapshot_begin make_begin(std::uint64_t term, std::uint64_t lsn,
                                 std::span<const std::byte> file) {
  snapshot_begin b{};
  b.term = term;
  b.snapshot_lsn = lsn;
  b.total_size = file.size();
  b.crc32c = crc32c(file.data(), file.size());
  return b;
}

inline snapshot_chunk make_chunk(std::uint64_t term, std::uint64_t lsn, std::uint64_t offset) {
  snapshot_chunk c{};
  c.term = term;
  c.snapshot_lsn = lsn;
  c.offset = offset;
  return c;
}

inline snapshot_end end_of(const snapshot_begin& b) {
  snapshot_end e{};
  e.term = b.term;
  e.snapshot_lsn = b.snapshot_lsn;
  e.total_size = b.total_size;
  e.crc32c = b.crc32c;
  return e;
}

inline heartbeat make_heartbeat(std::uint64_t term, std::uint64_t durable, codec::node_role role,
                                std::uint64_t sent_at_ns, std::uint64_t echo_ns = 0) {
  heartbeat h{};
  h.term = term;
  h.durable_lsn = durable;
  h.sent_at_ns = sent_at_ns;
  h.echo_ns = echo_ns;
  h.role = static_cast<std::uint32_t>(role);
  return h;
}

// The body of a frame that encode appended at `at` of `out`.
inline std::span<const std::byte> body_at(const bytes& out, std::size_t at = 0) {
  const codec::frame_header h = codec::read_header(out.data() + at);
  return std::span<const std::byte>(out).subspan(at + codec::header_size, h.body_size);
}

}  // namespace remit::cluster::test
