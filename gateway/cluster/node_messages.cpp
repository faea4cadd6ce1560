#include "gateway/cluster/node_messages.hpp"

#include <algorithm>
#include <cstring>

#include "engine/crc32c.hpp"

namespace remit::cluster {

std::string_view name(node_opcode op) {
  switch (op) {
    case node_opcode::follow:
      return "follow";
    case node_opcode::group:
      return "group";
    case node_opcode::snapshot_begin:
      return "snapshot_begin";
    case node_opcode::snapshot_chunk:
      return "snapshot_chunk";
    case node_opcode::snapshot_end:
      return "snapshot_end";
    case node_opcode::heartbeat:
      return "heartbeat";
  }
  return "unknown";
}

std::string_view name(node_reason r) {
  switch (r) {
    case node_reason::ok:
      return "ok";
    case node_reason::not_primary:
      return "not_primary";
    case node_reason::stale_term:
      return "stale_term";
    case node_reason::needs_snapshot:
      return "needs_snapshot";
    case node_reason::diverged:
      return "diverged";
    case node_reason::gap:
      return "gap";
    case node_reason::unsupported_version:
      return "unsupported_version";
    case node_reason::bad_snapshot:
      return "bad_snapshot";
  }
  return "unknown";
}

std::string_view name(group_fault f) {
  switch (f) {
    case group_fault::none:
      return "none";
    case group_fault::body_size:
      return "body_size";
    case group_fault::too_large:
      return "too_large";
    case group_fault::reserved:
      return "reserved";
    case group_fault::header:
      return "header";
    case group_fault::record:
      return "record";
    case group_fault::record_lsn:
      return "record_lsn";
    case group_fault::record_group:
      return "record_group";
    case group_fault::record_count:
      return "record_count";
  }
  return "unknown";
}

namespace {

template <wire_struct T>
bool zero(const T& field) {
  return all_zero(field);
}

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Appends header_size zero bytes, the fixed part and `tail`, then seals the frame.
template <wire_struct T>
void append_frame(std::vector<std::byte>& out, const frame_ids& ids, node_opcode op, bool answer,
                  const T& fixed, std::span<const std::byte> tail = {}) {
  const std::size_t at = out.size();
  const std::size_t body = sizeof(T) + tail.size();
  REMIT_ASSERT(body <= node_body_size_max);
  out.resize(at + codec::header_size + body);
  std::memcpy(out.data() + at + codec::header_size, &fixed, sizeof(T));
  if (!tail.empty())
    std::memcpy(out.data() + at + codec::header_size + sizeof(T), tail.data(), tail.size());
  const codec::frame_fields f{static_cast<std::uint16_t>(op),
                              1,
                              ids.request_id,
                              ids.sequence,
                              0,
                              answer ? codec::flag_response : std::uint16_t{0}};
  codec::seal_frame(std::span<std::byte>(out).subspan(at), f, ids.key);
}

template <wire_struct T>
std::span<const std::byte> bytes_of(const T& t) {
  return {reinterpret_cast<const std::byte*>(&t), sizeof(T)};
}

// Checks a body of exactly sizeof(T) and copies it out.
template <wire_struct T>
bool load_exact(std::span<const std::byte> body, T& out) {
  if (body.size() != sizeof(T)) return false;
  out = load_event<T>(body.data());
  return true;
}

// The next record of a group at `offset`: valid, with LSN `lsn` and group_lsn `group_lsn`.
group_fault check_record(std::span<const std::byte> bytes, std::uint64_t offset, std::uint64_t lsn,
                         std::uint64_t group_lsn, journal::record_view& v) {
  if (!journal::parse_record(bytes, offset, v)) return group_fault::record;
  if (v.header.lsn != lsn) return group_fault::record_lsn;
  if (v.header.group_lsn != group_lsn) return group_fault::record_group;
  return group_fault::none;
}

group_fault check_records(const group_header& h, std::span<const std::byte> bytes) {
  std::uint64_t offset = 0;
  std::uint64_t count = 0;
  while (offset < bytes.size()) {
    if (count == h.record_count) return group_fault::record_count;
    journal::record_view v{};
    const group_fault f = check_record(bytes, offset, h.first_lsn + count, h.group_lsn, v);
    if (f != group_fault::none) return f;
    offset += journal::header_size + v.header.length;
    ++count;
  }
  REMIT_ASSERT(offset == bytes.size());
  return count == h.record_count ? group_fault::none : group_fault::record_count;
}

status fail(group_fault* out, group_fault f, status s) {
  if (out) *out = f;
  return s;
}

}  // namespace

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > node_name_max) return false;
  return std::all_of(name.begin(), name.end(), name_char);
}

follow make_follow(std::string_view name, std::uint64_t term, std::uint64_t last_lsn,
                   std::uint64_t last_term, std::uint64_t last_term_start) {
  REMIT_ASSERT(name.size() <= node_name_max);
  follow f{};
  f.version = replication_version;
  f.name_length = static_cast<std::uint32_t>(name.size());
  if (!name.empty()) std::memcpy(f.name.data(), name.data(), name.size());
  f.term = term;
  f.last_lsn = last_lsn;
  f.last_term = last_term;
  f.last_term_start = last_term_start;
  return f;
}

std::string_view name_of(const follow& m) {
  return {m.name.data(), std::min<std::size_t>(m.name_length, node_name_max)};
}

// ---------------------------------------------------------------------------------------
// Decoding

status decode(std::span<const std::byte> body, follow& out) {
  // The version comes first in every version: a standby that speaks another one gets
  // unsupported_version in a FollowReply, whatever the rest of its body holds.
  if (body.size() < sizeof(std::uint32_t)) return status::bad_event_count;
  std::uint32_t version;
  std::memcpy(&version, body.data(), sizeof version);
  if (version != replication_version) {
    out = follow{};
    out.version = version;
    return status::ok;
  }
  follow m;
  if (!load_exact(body, m)) return status::bad_event_count;
  if (!zero(m.reserved)) return status::reserved_field;
  // valid_node_name refuses a length of 0 or past the field before it reads the name.
  if (m.name_length > node_name_max || !valid_node_name({m.name.data(), m.name_length}))
    return status::bad_event_count;
  for (std::size_t i = m.name_length; i < node_name_max; ++i)
    if (m.name[i] != 0) return status::reserved_field;
  if (m.last_term > m.term) return status::bad_event_count;
  if (m.last_lsn == 0 ? m.last_term != 0 || m.last_term_start != 0
                      : m.last_term_start == 0 || m.last_term_start > m.last_lsn)
    return status::bad_event_count;
  out = m;
  return status::ok;
}

status decode(std::span<const std::byte> body, follow_reply& out) {
  follow_reply m;
  if (!load_exact(body, m)) return status::bad_event_count;
  if (!zero(m.reserved)) return status::reserved_field;
  if (m.reason > node_reason_max) return status::reserved_field;
  const auto r = static_cast<node_reason>(m.reason);
  bool fits = false;
  switch (r) {
    case node_reason::ok:
      fits = m.start_lsn >= 1 && m.cut_after_lsn == 0 && m.snapshot_lsn == 0 && m.term >= 1;
      break;
    case node_reason::needs_snapshot:
      fits = m.snapshot_lsn >= 1 && m.start_lsn == m.snapshot_lsn + 1 && m.cut_after_lsn == 0 &&
             m.term >= 1;
      break;
    case node_reason::diverged:
      fits = m.start_lsn == 0 && m.snapshot_lsn == 0 && m.term >= 1;
      break;
    case node_reason::not_primary:
    case node_reason::stale_term:
    case node_reason::unsupported_version:
      fits = m.start_lsn == 0 && m.cut_after_lsn == 0 && m.snapshot_lsn == 0;
      break;
    case node_reason::gap:
    case node_reason::bad_snapshot:
      fits = false;  // answers of GROUP and SNAPSHOT_*, never of FOLLOW
      break;
  }
  if (!fits) return status::bad_event_count;
  out = m;
  return status::ok;
}

status decode(std::span<const std::byte> body, group_view& out, group_fault* fault) {
  if (body.size() > node_body_size_max)
    return fail(fault, group_fault::too_large, status::body_too_large);
  if (body.size() < group_header_size)
    return fail(fault, group_fault::body_size, status::bad_event_count);
  const auto h = load_event<group_header>(body.data());
  const auto bytes = body.subspan(group_header_size);
  if (h.bytes_size != bytes.size() || bytes.empty())
    return fail(fault, group_fault::body_size, status::bad_event_count);
  if (!zero(h.reserved) || (h.flags & ~group_flags::known) != 0)
    return fail(fault, group_fault::reserved, status::reserved_field);
  if (h.term == 0 || h.first_lsn == 0 || h.record_count == 0 || h.last_lsn < h.first_lsn ||
      h.last_lsn - h.first_lsn != h.record_count - 1 || h.group_lsn == 0 ||
      h.group_lsn > h.first_lsn)
    return fail(fault, group_fault::header, status::bad_event_count);
  if (const group_fault f = check_records(h, bytes); f != group_fault::none)
    return fail(fault, f, status::bad_event_count);
  out = group_view{h, bytes};
  return fail(fault, group_fault::none, status::ok);
}

status decode(std::span<const std::byte> body, ack& out) {
  ack m;
  if (!load_exact(body, m)) return status::bad_event_count;
  if (m.reserved != 0 || m.reserved2 != 0) return status::reserved_field;
  switch (static_cast<node_reason>(m.reason)) {
    case node_reason::ok:
    case node_reason::stale_term:
    case node_reason::gap:
    case node_reason::bad_snapshot:
      break;
    default:
      return status::reserved_field;
  }
  out = m;
  return status::ok;
}

status decode(std::span<const std::byte> body, snapshot_begin& out) {
  snapshot_begin m;
  if (!load_exact(body, m)) return status::bad_event_count;
  if (m.reserved != 0 || !zero(m.reserved2)) return status::reserved_field;
  if (m.term == 0 || m.snapshot_lsn == 0 || m.total_size == 0) return status::bad_event_count;
  out = m;
  return status::ok;
}

status decode(std::span<const std::byte> body, chunk_view& out) {
  if (body.size() > node_body_size_max) return status::body_too_large;
  if (body.size() < snapshot_chunk_header_size) return status::bad_event_count;
  const auto h = load_event<snapshot_chunk>(body.data());
  const auto data = body.subspan(snapshot_chunk_header_size);
  if (h.data_size != data.size() || data.empty() || data.size() > snapshot_chunk_max)
    return status::bad_event_count;
  if (h.reserved != 0) return status::reserved_field;
  if (h.term == 0 || h.snapshot_lsn == 0) return status::bad_event_count;
  out = chunk_view{h, data};
  return status::ok;
}

status decode(std::span<const std::byte> body, snapshot_end& out) {
  snapshot_end m;
  if (!load_exact(body, m)) return status::bad_event_count;
  if (m.reserved != 0) return status::reserved_field;
  if (m.term == 0 || m.snapshot_lsn == 0 || m.total_size == 0) return status::bad_event_count;
  out = m;
  return status::ok;
}

status decode(std::span<const std::byte> body, heartbeat& out) {
  heartbeat m;
  if (!load_exact(body, m)) return status::bad_event_count;
  if (m.reserved != 0) return status::reserved_field;
  if (m.role != static_cast<std::uint32_t>(codec::node_role::primary) &&
      m.role != static_cast<std::uint32_t>(codec::node_role::standby))
    return status::reserved_field;
  out = m;
  return status::ok;
}

namespace {

template <class T>
status decode_as(std::span<const std::byte> body) {
  T m;
  return decode(body, m);
}

}  // namespace

status check_node_frame(const codec::frame_header& h, std::span<const std::byte> body) {
  if (crc32c(body.data(), body.size()) != h.body_crc32c) return status::body_checksum;
  if ((h.flags & ~codec::flag_response) != 0 || h.reserved != 0) return status::reserved_field;
  if (h.opcode < node_opcode_first || h.opcode > node_opcode_last) return status::unknown_opcode;
  const bool answer = (h.flags & codec::flag_response) != 0;
  if (h.status != 0) {
    // An error response: a protocol status and an empty body or a reason.
    if (!answer) return status::reserved_field;
    if (h.event_count != 0 || body.size() > codec::reason_max) return status::bad_event_count;
    return status::ok;
  }
  if (h.event_count != 1) return status::bad_event_count;
  switch (static_cast<node_opcode>(h.opcode)) {
    case node_opcode::follow:
      return answer ? decode_as<follow_reply>(body) : decode_as<follow>(body);
    case node_opcode::group:
      if (answer) return decode_as<ack>(body);
      {
        group_view g;
        return decode(body, g);
      }
    case node_opcode::snapshot_begin:
      return answer ? decode_as<ack>(body) : decode_as<snapshot_begin>(body);
    case node_opcode::snapshot_chunk:
      return answer ? decode_as<ack>(body) : decode_as<chunk_view>(body);
    case node_opcode::snapshot_end:
      return answer ? decode_as<ack>(body) : decode_as<snapshot_end>(body);
    case node_opcode::heartbeat:
      return decode_as<heartbeat>(body);
  }
  return status::unknown_opcode;
}

// ---------------------------------------------------------------------------------------
// Encoding

void encode(std::vector<std::byte>& out, const frame_ids& ids, const follow& m) {
  follow check;
  REMIT_ASSERT(decode(bytes_of(m), check) == status::ok);
  append_frame(out, ids, node_opcode::follow, false, m);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, const follow_reply& m) {
  follow_reply check;
  REMIT_ASSERT(decode(bytes_of(m), check) == status::ok);
  append_frame(out, ids, node_opcode::follow, true, m);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, group_header h,
            std::span<const std::byte> records) {
  REMIT_ASSERT(!records.empty() && records.size() <= group_bytes_max);
  h.bytes_size = static_cast<std::uint32_t>(records.size());
  REMIT_ASSERT(check_records(h, records) == group_fault::none);
  append_frame(out, ids, node_opcode::group, false, h, records);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, const ack& m, node_opcode answered) {
  REMIT_ASSERT(answered == node_opcode::group || answered == node_opcode::snapshot_begin ||
               answered == node_opcode::snapshot_chunk || answered == node_opcode::snapshot_end);
  ack check;
  REMIT_ASSERT(decode(bytes_of(m), check) == status::ok);
  append_frame(out, ids, answered, true, m);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, const snapshot_begin& m) {
  snapshot_begin check;
  REMIT_ASSERT(decode(bytes_of(m), check) == status::ok);
  append_frame(out, ids, node_opcode::snapshot_begin, false, m);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, snapshot_chunk m,
            std::span<const std::byte> data) {
  REMIT_ASSERT(!data.empty() && data.size() <= snapshot_chunk_max);
  m.data_size = static_cast<std::uint32_t>(data.size());
  REMIT_ASSERT(m.reserved == 0 && m.term != 0 && m.snapshot_lsn != 0);
  append_frame(out, ids, node_opcode::snapshot_chunk, false, m, data);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, const snapshot_end& m) {
  snapshot_end check;
  REMIT_ASSERT(decode(bytes_of(m), check) == status::ok);
  append_frame(out, ids, node_opcode::snapshot_end, false, m);
}

void encode(std::vector<std::byte>& out, const frame_ids& ids, const heartbeat& m, bool answer) {
  heartbeat check;
  REMIT_ASSERT(decode(bytes_of(m), check) == status::ok);
  append_frame(out, ids, node_opcode::heartbeat, answer, m);
}

// ---------------------------------------------------------------------------------------
// The rules

node_reason check_group(const group_header& g, const standby_position& at, standby_position* next) {
  if (g.term < at.term) return node_reason::stale_term;
  if (g.first_lsn != at.last_lsn + 1) return node_reason::gap;
  if (at.open_group_lsn != 0 && g.group_lsn != at.open_group_lsn) return node_reason::gap;
  if (next) {
    next->term = g.term;
    next->last_lsn = g.last_lsn;
    next->open_group_lsn = (g.flags & group_flags::continued) != 0 ? g.group_lsn : 0;
  }
  return node_reason::ok;
}

namespace {

// The LSNs [first, last] the primary wrote in one term (last < first: none).
struct term_range {
  std::uint64_t term = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// Calls visit(term_range) for each term of the primary's history, oldest first, with term
// 0 for the records before the first entry.
template <class Visit>
void for_each_term(const primary_position& p, Visit&& visit) {
  const std::uint64_t first_entry = p.terms.empty() ? p.last_lsn + 1 : p.terms[0].first_lsn;
  if (first_entry > 1) visit(term_range{0, 1, first_entry - 1});
  for (std::size_t i = 0; i < p.terms.size(); ++i) {
    const std::uint64_t end = i + 1 < p.terms.size() ? p.terms[i + 1].first_lsn - 1 : p.last_lsn;
    visit(term_range{p.terms[i].term, p.terms[i].first_lsn, end});
  }
}

// How much of the standby's journal (last record `lsn`, written in `term` from LSN `start`
// on) may be kept: all of it when the primary wrote `lsn` in that term too; up to the end
// of that term on the primary when the standby has more of it; else none of its records of
// that term and nothing past the primary's last older term, which the next FOLLOW checks
// again.
std::uint64_t kept_prefix(std::uint64_t lsn, std::uint64_t term, std::uint64_t start,
                          const primary_position& p) {
  if (lsn == 0) return 0;
  REMIT_ASSERT(start >= 1 && start <= lsn);
  bool same_term = false;
  std::uint64_t same_end = 0;
  std::uint64_t older_end = 0;
  for_each_term(p, [&](const term_range& r) {
    if (r.term == term && r.first <= lsn && r.first <= r.last) {
      same_term = true;
      same_end = r.last;
    }
    if (r.term < term && r.first <= r.last) older_end = r.last;
  });
  if (same_term) return std::min(lsn, same_end);
  return std::min(start - 1, older_end);
}

}  // namespace

follow_reply answer_follow(const follow& f, const primary_position& p) {
  follow_reply r{};
  r.version = replication_version;
  r.term = p.term;
  r.last_lsn = p.last_lsn;
  if (!p.is_primary) {
    r.reason = static_cast<std::uint32_t>(node_reason::not_primary);
    return r;
  }
  REMIT_ASSERT(p.term >= 1 && p.first_lsn >= 1 && p.first_lsn <= p.last_lsn + 1);
  REMIT_ASSERT(p.snapshot_lsn + 1 >= p.first_lsn && p.snapshot_lsn <= p.last_lsn);
  if (f.version != replication_version) {
    r.reason = static_cast<std::uint32_t>(node_reason::unsupported_version);
    return r;
  }
  if (f.term > p.term) {
    r.reason = static_cast<std::uint32_t>(node_reason::stale_term);
    return r;
  }
  const std::uint64_t kept = kept_prefix(f.last_lsn, f.last_term, f.last_term_start, p);
  REMIT_ASSERT(kept <= f.last_lsn && kept <= p.last_lsn);
  if (kept + 1 < p.first_lsn) {
    r.reason = static_cast<std::uint32_t>(node_reason::needs_snapshot);
    REMIT_ASSERT(p.snapshot_lsn >= 1);
    r.snapshot_lsn = p.snapshot_lsn;
    r.start_lsn = p.snapshot_lsn + 1;
  } else if (kept < f.last_lsn) {
    r.reason = static_cast<std::uint32_t>(node_reason::diverged);
    r.cut_after_lsn = kept;
  } else {
    r.reason = static_cast<std::uint32_t>(node_reason::ok);
    r.start_lsn = f.last_lsn + 1;
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// snapshot_receiver

node_reason snapshot_receiver::begin(const snapshot_begin& b, std::uint64_t standby_term) {
  open_ = false;
  if (b.term < standby_term) return node_reason::stale_term;
  open_ = true;
  begin_ = b;
  received_ = 0;
  crc_ = 0;
  return node_reason::ok;
}

node_reason snapshot_receiver::chunk(const chunk_view& c) {
  if (!open_ || c.header.term != begin_.term || c.header.snapshot_lsn != begin_.snapshot_lsn ||
      c.header.offset != received_ || c.data.size() > begin_.total_size - received_) {
    open_ = false;
    return node_reason::gap;
  }
  crc_ = crc32c(crc_, c.data.data(), c.data.size());
  received_ += c.data.size();
  REMIT_ASSERT(received_ <= begin_.total_size);
  return node_reason::ok;
}

node_reason snapshot_receiver::end(const snapshot_end& e) {
  const bool was_open = open_;
  open_ = false;
  if (!was_open || e.term != begin_.term || e.snapshot_lsn != begin_.snapshot_lsn ||
      e.total_size != begin_.total_size || e.crc32c != begin_.crc32c)
    return node_reason::gap;
  if (received_ != begin_.total_size || crc_ != begin_.crc32c) return node_reason::bad_snapshot;
  return node_reason::ok;
}

}  // namespace remit::cluster
