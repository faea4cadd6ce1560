// The journal's on-disk format: records with a fixed header, and the recovery reader.
//
// A journal is a sequence of files `journal-<first LSN, 20 digits>.rmj`, each a sequence of
// records. A record is a 32-byte header and `length` bytes of payload:
//
//   0  u32 magic      "RMJ1"
//   4  u16 type       record_type
//   6  u16 reserved   0
//   8  u32 length     payload bytes, at most record_payload_max
//   12 u32 crc32c     CRC-32C of the header (with this field 0) followed by the payload
//   16 u64 lsn        1, 2, 3, ... with no gap over the journal's whole life
//   24 u64 group_lsn  the LSN of the first record of the write group it was written in
//
// The writer writes one group at a time and starts the next only after the previous one's
// fdatasync returned. So a crash can tear only the last group, in any pattern of its pages.
// The reader tells the two kinds of damage apart with group_lsn: a bad record after which
// no valid record of a *later* group exists is a torn tail (cut there: it was never
// acknowledged); a bad record followed by a valid record of a later group is corruption
// (a group that had been made durable went bad), and recovery refuses to go on, naming the
// file and offset.
//
// Payloads are arrays of fixed-size entries (below). Replay applies them in LSN order
// without checking anything again: what was decided is what replays.
//
// A cluster's primary starts its term with a `term_started` record (one term_entry), the first
// record it writes in that term. So a journal says which primary wrote which records: the
// records from one term_started up to the next were written in its term, and the records
// before the first one in term 0 (a node outside a cluster writes none). A node that comes
// back finds there where its journal parts from the new primary's (docs/CLUSTER.md, FOLLOW).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/types.hpp"

namespace remit::journal {

inline constexpr std::uint32_t record_magic = 0x314a4d52;  // "RMJ1" little-endian
inline constexpr std::uint32_t record_payload_max = 8u << 20;
inline constexpr std::size_t header_size = 32;

enum class record_type : std::uint16_t {
  accounts_created = 1,     // account[]: as created, timestamp set
  transfers_committed = 2,  // committed_transfer[]: decisions, in the order they apply
  failures = 3,             // failure_entry[]: ids that failed on state (id_already_failed)
  pendings_expired = 4,     // u128[]: pending transfers released by expiry
  controls_set = 5,         // account_controls[]: risk controls replaced
  term_started = 6,         // term_entry (one): the records from here on are of this term
};
inline constexpr std::uint16_t record_type_max = 6;
std::string_view name(record_type t);

struct record_header {
  std::uint32_t magic;
  std::uint16_t type;
  std::uint16_t reserved;
  std::uint32_t length;
  std::uint32_t crc32c;
  std::uint64_t lsn;
  std::uint64_t group_lsn;
};
static_assert(sizeof(record_header) == header_size);

// One decided transfer: the stored transfer (for a post or void: the pending transfer's
// accounts, the amount posted), what the client sent that the stored form does not show
// (for `exists`), and when a pending transfer expires.
struct committed_transfer {
  transfer stored;
  u128 amount_sent;
  std::uint64_t expires_at_ns;
  std::uint8_t zero_mask;  // sent_fields::zero_mask
  std::uint8_t reserved[7];
};
static_assert(sizeof(committed_transfer) == 160);

struct failure_entry {
  u128 id;
  std::uint32_t code;  // create_transfer_result
  std::uint8_t reserved[12];
};
static_assert(sizeof(failure_entry) == 32);

struct term_entry {
  std::uint64_t term;  // the primary's term, as etcd numbers them (at least 1)
  std::uint64_t reserved[3];
};
static_assert(sizeof(term_entry) == 32);

inline std::size_t entry_size(record_type t) {
  switch (t) {
    case record_type::accounts_created:
      return sizeof(account);
    case record_type::transfers_committed:
      return sizeof(committed_transfer);
    case record_type::failures:
      return sizeof(failure_entry);
    case record_type::pendings_expired:
      return sizeof(u128);
    case record_type::controls_set:
      return sizeof(account_controls);
    case record_type::term_started:
      return sizeof(term_entry);
  }
  return 0;
}

// Appends one whole record to `out`. Does not allocate beyond growing `out`.
void append_record(std::vector<std::byte>& out, record_type type, std::uint64_t lsn,
                   std::uint64_t group_lsn, std::span<const std::byte> payload);

// A record as read: its header and a view of its payload inside the buffer it came from.
struct record_view {
  record_header header;
  std::span<const std::byte> payload;
  std::uint64_t offset;  // of the header, in its file
};

// Checks one record at `offset` of `data`: whole, magic, type, length, CRC. Returns false
// (and says why in `why`) when it is not a valid record.
[[nodiscard]] bool parse_record(std::span<const std::byte> data, std::uint64_t offset,
                                record_view& out, std::string* why = nullptr);

// The outcome of scanning one file.
struct scan_result {
  enum class end { clean, torn_tail, corrupt } how = end::clean;
  std::uint64_t valid_bytes = 0;  // the prefix that holds whole, valid records
  std::uint64_t records = 0;
  std::uint64_t first_lsn = 0;
  std::uint64_t last_lsn = 0;
  std::uint64_t bad_offset = 0;  // where the damage starts (torn_tail, corrupt)
  std::string why;
};

// Scans a file's bytes from the start. `expected_lsn` is the LSN its first record must have
// (0: whatever it has). `visit(record_view)` is called for each valid record in order,
// before the damage if any. LSNs must follow each other without a gap; a gap is corruption.
template <class Visit>
scan_result scan(std::span<const std::byte> data, std::uint64_t expected_lsn, Visit&& visit);

// Whether a valid record of a group later than `lsn` starts anywhere at or after `from`.
[[nodiscard]] bool later_group_follows(std::span<const std::byte> data, std::uint64_t from,
                                       std::uint64_t lsn);

template <class Visit>
scan_result scan(std::span<const std::byte> data, std::uint64_t expected_lsn, Visit&& visit) {
  scan_result r;
  std::uint64_t offset = 0;
  std::uint64_t next_lsn = expected_lsn;
  while (offset < data.size()) {
    record_view v{};
    std::string why;
    const bool ok = parse_record(data, offset, v, &why);
    if (ok && next_lsn != 0 && v.header.lsn != next_lsn) {
      r.how = scan_result::end::corrupt;
      r.bad_offset = offset;
      r.why = "LSN " + std::to_string(v.header.lsn) + " where " + std::to_string(next_lsn) +
              " was expected";
      return r;
    }
    if (!ok) {
      const std::uint64_t lsn = next_lsn != 0 ? next_lsn : r.last_lsn + 1;
      r.bad_offset = offset;
      r.why = why;
      r.how = later_group_follows(data, offset + 1, lsn) ? scan_result::end::corrupt
                                                         : scan_result::end::torn_tail;
      return r;
    }
    visit(v);
    if (r.records == 0) r.first_lsn = v.header.lsn;
    r.last_lsn = v.header.lsn;
    ++r.records;
    next_lsn = v.header.lsn + 1;
    offset += header_size + v.header.length;
    r.valid_bytes = offset;
  }
  return r;
}

// File names.
std::string journal_file_name(std::uint64_t first_lsn);
std::string snapshot_file_name(std::uint64_t lsn);
// Parses a name made by the functions above; false for anything else.
[[nodiscard]] bool parse_journal_file_name(const std::string& name, std::uint64_t& first_lsn);
[[nodiscard]] bool parse_snapshot_file_name(const std::string& name, std::uint64_t& lsn);

}  // namespace remit::journal
