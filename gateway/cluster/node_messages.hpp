// The node-to-node messages of docs/CLUSTER.md ("Node-to-node messages"): what a primary and
// its standbys say to each other over the client framing (docs/PROTOCOL.md sections 2 and 9,
// opcodes 64 to 127). Pure: no I/O, no clock, no allocation beyond the caller's vector.
//
// A standby connects to the primary like a client (HELLO, AUTH with a key that has
// permission::replicate) and sends FOLLOW. From then on the primary pushes requests on that
// session: GROUP (journal bytes, exactly as its journal holds them), SNAPSHOT_BEGIN/CHUNK/END
// when the journal the standby needs was rolled away, and HEARTBEAT; the standby answers each
// with an Ack (HEARTBEAT with a Heartbeat). HEARTBEAT goes both ways.
//
// Every body is a fixed-layout little-endian struct (byte-identical to the wire, checked
// with static_assert), GROUP and SNAPSHOT_CHUNK followed by their bytes. Decoders check every
// length before use and return a protocol status (frame.hpp): bad_event_count for a body or
// an inner length that does not fit, reserved_field for a non-zero reserved byte or an
// undefined flag or enum value, body_too_large for a body over node_body_size_max. What a
// well-formed message asks that the receiver's state refuses (an older term, a gap) is a
// node_reason, answered in the body of the response.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "engine/assert.hpp"
#include "engine/journal_format.hpp"
#include "engine/types.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::cluster {

using codec::status;

// The replication protocol this code speaks, carried in FOLLOW and its answer.
inline constexpr std::uint32_t replication_version = 1;

enum class node_opcode : std::uint16_t {
  follow = 64,          // standby -> primary; answered with FollowReply
  group = 65,           // primary -> standby; answered with Ack
  snapshot_begin = 66,  // primary -> standby; answered with Ack
  snapshot_chunk = 67,  // primary -> standby; answered with Ack
  snapshot_end = 68,    // primary -> standby; answered with Ack
  heartbeat = 69,       // either way; answered with Heartbeat
};
inline constexpr std::uint16_t node_opcode_first = 64;
inline constexpr std::uint16_t node_opcode_last = 69;
static_assert(codec::is_node_opcode(node_opcode_first) && codec::is_node_opcode(node_opcode_last));
std::string_view name(node_opcode op);  // "unknown" for a value not listed above

// What a FollowReply or an Ack answers (u32 on the wire). 0 is the only success, except that
// needs_snapshot also starts the follow session (the primary sends a snapshot first).
enum class node_reason : std::uint32_t {
  ok = 0,
  not_primary = 1,          // FOLLOW: the node is not primary (now)
  stale_term = 2,           // the sender's term is older than the receiver's
  needs_snapshot = 3,       // FOLLOW: the journal the standby needs was rolled away
  diverged = 4,             // FOLLOW: cut the journal after cut_after_lsn, then FOLLOW again
  gap = 5,                  // GROUP/SNAPSHOT_*: not the continuation of what the standby has
  unsupported_version = 6,  // FOLLOW: replication_version is not one the primary speaks
  bad_snapshot = 7,         // SNAPSHOT_END: the bytes received do not match size or CRC
};
inline constexpr std::uint32_t node_reason_max = 7;
std::string_view name(node_reason r);

// Limits. Standby -> primary frames (FOLLOW, Ack, Heartbeat) are at most 128 bytes of body,
// which every body_size_max a HelloReply may announce allows (at least 128 x 1). Primary ->
// standby frames (GROUP, SNAPSHOT_CHUNK) may be larger than the client limit: a single
// journal record may hold record_payload_max (8 MiB) of payload, so a standby reads its
// follow session with a body limit of node_body_size_max, which fits the largest record.
inline constexpr std::size_t node_name_max = 64;  // as cluster::name_bytes_max (election.hpp)
inline constexpr std::size_t follow_size = 128;
inline constexpr std::size_t follow_reply_size = 64;
inline constexpr std::size_t group_header_size = 64;
inline constexpr std::size_t ack_size = 32;
inline constexpr std::size_t snapshot_begin_size = 64;
inline constexpr std::size_t snapshot_chunk_header_size = 32;
inline constexpr std::size_t snapshot_end_size = 32;
inline constexpr std::size_t heartbeat_size = 40;
inline constexpr std::size_t group_bytes_max = journal::header_size + journal::record_payload_max;
inline constexpr std::size_t node_body_size_max = group_header_size + group_bytes_max;
inline constexpr std::size_t snapshot_chunk_max = 1u << 20;  // data bytes of one chunk
static_assert(snapshot_chunk_header_size + snapshot_chunk_max <= node_body_size_max);
static_assert(node_body_size_max == 8u * 1024 * 1024 + 96);
static_assert(follow_size <= 128 && ack_size <= 128 && heartbeat_size <= 128);

// FOLLOW's body (standby -> primary).
struct follow {
  std::uint32_t version;                 // replication_version the standby speaks
  std::uint32_t name_length;             // 1..node_name_max
  std::array<char, node_name_max> name;  // [A-Za-z0-9._-], then zero bytes
  std::uint64_t term;                    // the highest term the standby knows
  std::uint64_t last_lsn;                // its last durable LSN; 0: empty journal
  std::uint64_t last_term;               // the term record last_lsn was written in (0 with LSN 0)
  std::uint64_t last_term_start;  // the first LSN written in last_term (1..last_lsn; 0 with LSN 0)
  std::array<std::uint8_t, 24> reserved;
};
static_assert(sizeof(follow) == follow_size);
static_assert(offsetof(follow, name) == 8 && offsetof(follow, term) == 72);
static_assert(offsetof(follow, last_lsn) == 80 && offsetof(follow, last_term) == 88);
static_assert(offsetof(follow, last_term_start) == 96 && offsetof(follow, reserved) == 104);

// FOLLOW's answer (primary -> standby).
struct follow_reply {
  std::uint32_t reason;         // node_reason
  std::uint32_t version;        // the replication_version the primary speaks
  std::uint64_t term;           // the primary's term (the answering node's, for not_primary)
  std::uint64_t start_lsn;      // ok, needs_snapshot: the first LSN of the first GROUP; else 0
  std::uint64_t cut_after_lsn;  // diverged: the standby keeps its records up to this; else 0
  std::uint64_t snapshot_lsn;   // needs_snapshot: the LSN of the snapshot it sends; else 0
  std::uint64_t last_lsn;       // the primary's last LSN when it answered
  std::array<std::uint8_t, 16> reserved;
};
static_assert(sizeof(follow_reply) == follow_reply_size);
static_assert(offsetof(follow_reply, term) == 8 && offsetof(follow_reply, start_lsn) == 16);
static_assert(offsetof(follow_reply, cut_after_lsn) == 24);
static_assert(offsetof(follow_reply, snapshot_lsn) == 32);
static_assert(offsetof(follow_reply, last_lsn) == 40 && offsetof(follow_reply, reserved) == 48);

// GROUP's fixed part (primary -> standby), followed by `bytes_size` bytes of journal records.
namespace group_flags {
inline constexpr std::uint32_t continued = 1u << 0;  // the journal group goes on in the next GROUP
inline constexpr std::uint32_t known = continued;
}  // namespace group_flags

struct group_header {
  std::uint64_t term;          // the primary's term
  std::uint64_t first_lsn;     // LSN of the first record
  std::uint64_t last_lsn;      // LSN of the last record
  std::uint64_t group_lsn;     // the group_lsn every record carries (its journal group's first LSN)
  std::uint32_t record_count;  // last_lsn - first_lsn + 1
  std::uint32_t flags;         // group_flags
  std::uint32_t bytes_size;    // bytes after this header: 1..group_bytes_max
  std::array<std::uint8_t, 20> reserved;
};
static_assert(sizeof(group_header) == group_header_size);
static_assert(offsetof(group_header, first_lsn) == 8 && offsetof(group_header, last_lsn) == 16);
static_assert(offsetof(group_header, group_lsn) == 24);
static_assert(offsetof(group_header, record_count) == 32 && offsetof(group_header, flags) == 36);
static_assert(offsetof(group_header, bytes_size) == 40 && offsetof(group_header, reserved) == 44);

// The answer to GROUP and to SNAPSHOT_BEGIN, _CHUNK and _END (standby -> primary).
struct ack {
  std::uint32_t reason;  // node_reason: ok, stale_term, gap, bad_snapshot
  std::uint32_t reserved;
  std::uint64_t term;         // the standby's term (newer than the primary's with stale_term)
  std::uint64_t durable_lsn;  // the last LSN the standby holds on stable storage
  std::uint64_t reserved2;
};
static_assert(sizeof(ack) == ack_size);
static_assert(offsetof(ack, term) == 8 && offsetof(ack, durable_lsn) == 16);

struct snapshot_begin {
  std::uint64_t term;
  std::uint64_t snapshot_lsn;  // the snapshot holds the effects of every record up to this LSN
  std::uint64_t total_size;    // bytes of the snapshot file: 1..2^63
  std::uint32_t crc32c;        // CRC-32C of those bytes
  std::uint32_t reserved;
  std::array<std::uint8_t, 32> reserved2;
};
static_assert(sizeof(snapshot_begin) == snapshot_begin_size);
static_assert(offsetof(snapshot_begin, total_size) == 16 && offsetof(snapshot_begin, crc32c) == 24);

// SNAPSHOT_CHUNK's fixed part, followed by `data_size` bytes of the snapshot file.
struct snapshot_chunk {
  std::uint64_t term;
  std::uint64_t snapshot_lsn;
  std::uint64_t offset;     // of the first byte in the snapshot file
  std::uint32_t data_size;  // 1..snapshot_chunk_max
  std::uint32_t reserved;
};
static_assert(sizeof(snapshot_chunk) == snapshot_chunk_header_size);
static_assert(offsetof(snapshot_chunk, offset) == 16 && offsetof(snapshot_chunk, data_size) == 24);

struct snapshot_end {
  std::uint64_t term;
  std::uint64_t snapshot_lsn;
  std::uint64_t total_size;
  std::uint32_t crc32c;
  std::uint32_t reserved;
};
static_assert(sizeof(snapshot_end) == snapshot_end_size);

struct heartbeat {
  std::uint64_t term;         // the sender's term
  std::uint64_t durable_lsn;  // the sender's last durable LSN
  std::uint64_t sent_at_ns;   // the sender's wall clock when it sent this (ns since the epoch)
  std::uint64_t echo_ns;      // in an answer: the request's sent_at_ns; in a request: 0
  std::uint32_t role;         // codec::node_role: 1 primary or 2 standby
  std::uint32_t reserved;
};
static_assert(sizeof(heartbeat) == heartbeat_size);
static_assert(offsetof(heartbeat, echo_ns) == 24 && offsetof(heartbeat, role) == 32);

static_assert(wire_struct<follow> && wire_struct<follow_reply> && wire_struct<group_header> &&
              wire_struct<ack> && wire_struct<snapshot_begin> && wire_struct<snapshot_chunk> &&
              wire_struct<snapshot_end> && wire_struct<heartbeat>);

// ---------------------------------------------------------------------------------------
// Encoding. Each encode appends one whole sealed frame (header, body, CRCs, MAC when `key`
// is not null) to `out`: event_count 1, status 0, flags 0 for a request and flag_response
// for an answer. Does not allocate beyond growing `out`. Asserts that the message it is
// given passes its own decoder's checks (a sender's bug, not a peer's).
struct frame_ids {
  std::uint64_t request_id = 0;
  std::uint64_t sequence = 0;
  const codec::mac_key* key = nullptr;
};

void encode(std::vector<std::byte>& out, const frame_ids& ids, const follow& m);
void encode(std::vector<std::byte>& out, const frame_ids& ids, const follow_reply& m);
// `h.bytes_size` is set from `records`.
void encode(std::vector<std::byte>& out, const frame_ids& ids, group_header h,
            std::span<const std::byte> records);
// `answered`: the opcode of the request it answers (GROUP or SNAPSHOT_*).
void encode(std::vector<std::byte>& out, const frame_ids& ids, const ack& m, node_opcode answered);
void encode(std::vector<std::byte>& out, const frame_ids& ids, const snapshot_begin& m);
// `m.data_size` is set from `data`.
void encode(std::vector<std::byte>& out, const frame_ids& ids, snapshot_chunk m,
            std::span<const std::byte> data);
void encode(std::vector<std::byte>& out, const frame_ids& ids, const snapshot_end& m);
// `answer`: a response to a HEARTBEAT rather than a request.
void encode(std::vector<std::byte>& out, const frame_ids& ids, const heartbeat& m, bool answer);

// Builds a follow with `name` copied in (the caller checks it with valid_node_name).
follow make_follow(std::string_view name, std::uint64_t term, std::uint64_t last_lsn,
                   std::uint64_t last_term, std::uint64_t last_term_start);
std::string_view name_of(const follow& m);
// 1..node_name_max of [A-Za-z0-9._-]: the node names of docs/CLUSTER.md's etcd keys.
bool valid_node_name(std::string_view name);

// ---------------------------------------------------------------------------------------
// Decoding: the body of a frame that passed docs/PROTOCOL.md section 2's checks up to the
// opcode. Each returns status::ok and fills `out`, or the first check that fails.
status decode(std::span<const std::byte> body, follow& out);
status decode(std::span<const std::byte> body, follow_reply& out);
status decode(std::span<const std::byte> body, ack& out);
status decode(std::span<const std::byte> body, snapshot_begin& out);
status decode(std::span<const std::byte> body, snapshot_end& out);
status decode(std::span<const std::byte> body, heartbeat& out);

// SNAPSHOT_CHUNK: the header and a view of its data inside `body`.
struct chunk_view {
  snapshot_chunk header{};
  std::span<const std::byte> data;
};
status decode(std::span<const std::byte> body, chunk_view& out);

// GROUP: the header and a view of its journal bytes inside `body`, checked whole: the bytes
// are exactly record_count records that journal::parse_record accepts, with LSNs first_lsn,
// first_lsn + 1, ..., last_lsn, each carrying group_lsn. Nothing is allocated per record.
struct group_view {
  group_header header{};
  std::span<const std::byte> bytes;
};
// Why a GROUP was refused, in more detail than its status (for logs and tests).
enum class group_fault : std::uint8_t {
  none,
  body_size,     // bad_event_count: shorter than the header, or bytes_size disagrees
  too_large,     // body_too_large: more than node_body_size_max
  reserved,      // reserved_field: reserved bytes or an undefined flag
  header,        // bad_event_count: LSNs, count and group_lsn of the header disagree
  record,        // bad_event_count: the bytes are not whole valid journal records
  record_lsn,    // bad_event_count: a record's LSN is not the next one
  record_group,  // bad_event_count: a record's group_lsn is not the header's
  record_count,  // bad_event_count: more or fewer records than record_count
};
std::string_view name(group_fault f);
status decode(std::span<const std::byte> body, group_view& out, group_fault* fault = nullptr);

// Calls visit(const journal::record_view&) for each record of a decoded group, in order.
// Does not allocate.
template <class Visit>
void for_each_record(const group_view& g, Visit&& visit) {
  std::uint64_t offset = 0;
  while (offset < g.bytes.size()) {
    journal::record_view v{};
    const bool ok = journal::parse_record(g.bytes, offset, v);
    REMIT_ASSERT(ok);  // decode checked every record
    visit(v);
    offset += journal::header_size + v.header.length;
  }
}

// The checks of docs/PROTOCOL.md section 2 step 3 for a node frame, after the sequence and
// MAC: body CRC, flags and reserved header field, event_count, that the opcode is one of
// node_opcode and the frame goes the way it may (`response` is its flag bit 0), and the body
// by the decoder above. An error response (status not 0) must have event_count 0 and a body
// of at most codec::reason_max bytes. Permission is the session's business.
status check_node_frame(const codec::frame_header& h, std::span<const std::byte> body);

// ---------------------------------------------------------------------------------------
// The rules, as pure functions of the receiver's state.

// A standby's position in the stream: its term, its last durable LSN, and the group_lsn of
// a journal group whose last GROUP it has not seen yet (0 when none is open).
struct standby_position {
  std::uint64_t term = 0;
  std::uint64_t last_lsn = 0;
  std::uint64_t open_group_lsn = 0;
};
// What a standby answers a decoded GROUP: stale_term when its term is older than the
// standby's, gap when it does not continue the standby's journal (first_lsn is not
// last_lsn + 1, or it starts a new journal group while one is open, or continues one that is
// not), else ok. `next` is the position after the group is written (only with ok).
node_reason check_group(const group_header& g, const standby_position& at, standby_position* next);

// A primary's view of its own journal, for answering FOLLOW.
struct term_start {
  std::uint64_t term;
  std::uint64_t first_lsn;  // the LSN of the first record written in this term
};
struct primary_position {
  bool is_primary = false;
  std::uint64_t term = 0;
  std::uint64_t first_lsn = 1;     // the oldest LSN still in its journal files
  std::uint64_t last_lsn = 0;      // its last written LSN
  std::uint64_t snapshot_lsn = 0;  // its latest snapshot (at least first_lsn - 1)
  // Every term that wrote records, in increasing order of term and of first_lsn; terms that
  // wrote nothing may be left out. Records before the first entry were written in term 0.
  std::span<const term_start> terms;
};
// FOLLOW's answer by docs/CLUSTER.md's rules. `f` passed decode.
follow_reply answer_follow(const follow& f, const primary_position& p);

// Splits journal bytes (whole valid records: one journal group) into GROUP pieces of at most
// `bytes_max` bytes each, at record boundaries. Calls piece(std::span<const std::byte>
// bytes, std::uint64_t first_lsn, std::uint64_t last_lsn, std::uint32_t record_count,
// bool continued) in order. Returns false, before calling `piece`, when a record alone is
// larger than bytes_max or the bytes are not whole valid records.
template <class Piece>
bool split_group(std::span<const std::byte> records, std::size_t bytes_max, Piece&& piece);

// Follows SNAPSHOT_BEGIN, _CHUNK, _END on a standby: whether each continues the transfer,
// and at the end whether the bytes match the announced size and CRC. Keeps only counters.
class snapshot_receiver {
 public:
  // The answer to SNAPSHOT_BEGIN: stale_term when older than `standby_term`, else ok (a new
  // BEGIN abandons a transfer under way).
  node_reason begin(const snapshot_begin& b, std::uint64_t standby_term);
  // gap unless a transfer is open, the chunk has its term and LSN and starts where the last
  // one ended, and stays within total_size.
  node_reason chunk(const chunk_view& c);
  // gap unless it matches the open transfer; bad_snapshot unless every byte came and the
  // CRC matches. Either way the transfer is closed.
  node_reason end(const snapshot_end& e);
  bool open() const { return open_; }
  std::uint64_t received() const { return received_; }

 private:
  bool open_ = false;
  snapshot_begin begin_{};
  std::uint64_t received_ = 0;
  std::uint32_t crc_ = 0;
};

// ---------------------------------------------------------------------------------------

template <class Piece>
bool split_group(std::span<const std::byte> records, std::size_t bytes_max, Piece&& piece) {
  // First pass: every record is valid and fits a piece.
  std::uint64_t offset = 0;
  while (offset < records.size()) {
    journal::record_view v{};
    if (!journal::parse_record(records, offset, v)) return false;
    if (journal::header_size + v.header.length > bytes_max) return false;
    offset += journal::header_size + v.header.length;
  }
  offset = 0;
  while (offset < records.size()) {
    const std::uint64_t start = offset;
    std::uint64_t first = 0, last = 0;
    std::uint32_t count = 0;
    while (offset < records.size()) {
      journal::record_view v{};
      const bool ok = journal::parse_record(records, offset, v);
      REMIT_ASSERT(ok);
      const std::uint64_t size = journal::header_size + v.header.length;
      if (offset + size - start > bytes_max) break;
      if (count == 0) first = v.header.lsn;
      last = v.header.lsn;
      ++count;
      offset += size;
    }
    REMIT_ASSERT(count > 0);
    piece(records.subspan(start, offset - start), first, last, count, offset < records.size());
  }
  return true;
}

}  // namespace remit::cluster
