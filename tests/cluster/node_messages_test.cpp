// The node-to-node messages (gateway/cluster/node_messages.hpp, docs/CLUSTER.md "Node-to-node
// messages"): each one round-trips through a sealed frame; every malformed body is refused
// with its status, one table row per fault; a GROUP's bytes are checked record by record
// against its header; a standby's checks (term, LSN continuity), the primary's answer to
// FOLLOW (divergence, snapshot), the splitting of a large group and the snapshot transfer.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/crc32c.hpp"
#include "gateway/codec/crypto.hpp"
#include "tests/cluster/node_frames.hpp"

namespace remit::codec {
static void PrintTo(status s, std::ostream* os) {
  *os << static_cast<unsigned>(s) << " (" << name(s) << ")";
}
}  // namespace remit::codec

namespace remit::cluster {

static void PrintTo(node_reason r, std::ostream* os) {
  *os << static_cast<unsigned>(r) << " (" << name(r) << ")";
}
static void PrintTo(group_fault f, std::ostream* os) {
  *os << name(f);
}

namespace {

using test::bytes;

template <wire_struct T>
bytes raw(const T& t) {
  const auto* p = reinterpret_cast<const std::byte*>(&t);
  return bytes(p, p + sizeof(T));
}

template <wire_struct T>
bool same(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
status decode_bytes(const bytes& body) {
  T out{};
  return decode(body, out);
}

// A frame as encode appended it: the header is sealed as section 2 says and passes step 1
// with the node body limit, and step 3's node checks.
void expect_frame(const bytes& f, node_opcode op, bool answer, std::size_t body_size) {
  ASSERT_EQ(f.size(), codec::header_size + body_size);
  const codec::frame_header h = codec::read_header(f.data());
  EXPECT_EQ(codec::check_header(h, node_body_size_max, false), status::ok);
  EXPECT_EQ(h.opcode, static_cast<std::uint16_t>(op));
  EXPECT_EQ(h.flags, answer ? codec::flag_response : 0);
  EXPECT_EQ(h.event_count, 1u);
  EXPECT_EQ(h.status, 0);
  EXPECT_EQ(h.request_id, 77u);
  EXPECT_EQ(h.sequence, 5u);
  EXPECT_EQ(h.body_size, body_size);
  EXPECT_EQ(check_node_frame(h, test::body_at(f)), status::ok);
}

constexpr frame_ids ids{77, 5, nullptr};

// ---------------------------------------------------------------------------------------
// Round trips

TEST(node_messages, follow_round_trips) {
  const follow m = make_follow("node-b.2", 7, 1234, 6, 1000);
  bytes f;
  encode(f, ids, m);
  expect_frame(f, node_opcode::follow, false, follow_size);
  follow back{};
  ASSERT_EQ(decode(test::body_at(f), back), status::ok);
  EXPECT_TRUE(same(m, back));
  EXPECT_EQ(name_of(back), "node-b.2");
  // The table of docs/CLUSTER.md, byte by byte.
  const auto body = test::body_at(f);
  EXPECT_EQ(body[0], std::byte{1});
  EXPECT_EQ(body[4], std::byte{8});
  EXPECT_EQ(body[8], std::byte{'n'});
  EXPECT_EQ(body[72], std::byte{7});
  EXPECT_EQ(body[80], std::byte{1234 & 0xff});
  EXPECT_EQ(body[81], std::byte{1234 >> 8});
  EXPECT_EQ(body[88], std::byte{6});
  EXPECT_EQ(body[96], std::byte{1000 & 0xff});
  EXPECT_EQ(body[97], std::byte{1000 >> 8});
}

TEST(node_messages, follow_reply_round_trips) {
  follow_reply m = test::accepted(9, 101, 500);
  bytes f;
  encode(f, ids, m);
  expect_frame(f, node_opcode::follow, true, follow_reply_size);
  follow_reply back{};
  ASSERT_EQ(decode(test::body_at(f), back), status::ok);
  EXPECT_TRUE(same(m, back));

  m = {};
  m.reason = static_cast<std::uint32_t>(node_reason::diverged);
  m.version = 1;
  m.term = 9;
  m.cut_after_lsn = 40;
  m.last_lsn = 500;
  f.clear();
  encode(f, ids, m);
  ASSERT_EQ(decode(test::body_at(f), back), status::ok);
  EXPECT_TRUE(same(m, back));
  EXPECT_EQ(test::body_at(f)[24], std::byte{40});
}

TEST(node_messages, group_round_trips_with_its_journal_bytes) {
  const bytes records = test::journal_group(11, 5, 11);
  bytes f;
  encode(f, ids, test::group_for(3, 11, 5, 11), records);
  expect_frame(f, node_opcode::group, false, group_header_size + records.size());
  group_view g;
  group_fault fault = group_fault::record;
  ASSERT_EQ(decode(test::body_at(f), g, &fault), status::ok);
  EXPECT_EQ(fault, group_fault::none);
  EXPECT_EQ(g.header.term, 3u);
  EXPECT_EQ(g.header.first_lsn, 11u);
  EXPECT_EQ(g.header.last_lsn, 15u);
  EXPECT_EQ(g.header.record_count, 5u);
  EXPECT_EQ(g.header.bytes_size, records.size());
  ASSERT_EQ(g.bytes.size(), records.size());
  EXPECT_EQ(std::memcmp(g.bytes.data(), records.data(), records.size()), 0);
  std::vector<std::uint64_t> lsns;
  for_each_record(g, [&](const journal::record_view& v) { lsns.push_back(v.header.lsn); });
  EXPECT_EQ(lsns, (std::vector<std::uint64_t>{11, 12, 13, 14, 15}));
}

TEST(node_messages, acks_answer_group_and_snapshot_opcodes) {
  for (const node_opcode op : {node_opcode::group, node_opcode::snapshot_begin,
                               node_opcode::snapshot_chunk, node_opcode::snapshot_end}) {
    SCOPED_TRACE(std::string(name(op)));
    const ack m = test::make_ack(node_reason::gap, 4, 99);
    bytes f;
    encode(f, ids, m, op);
    expect_frame(f, op, true, ack_size);
    ack back{};
    ASSERT_EQ(decode(test::body_at(f), back), status::ok);
    EXPECT_TRUE(same(m, back));
  }
}

TEST(node_messages, snapshot_messages_round_trip) {
  const bytes file(3000, std::byte{0x5a});
  const snapshot_begin b = test::make_begin(2, 800, file);
  bytes f;
  encode(f, ids, b);
  expect_frame(f, node_opcode::snapshot_begin, false, snapshot_begin_size);
  snapshot_begin b2{};
  ASSERT_EQ(decode(test::body_at(f), b2), status::ok);
  EXPECT_TRUE(same(b, b2));

  f.clear();
  encode(f, ids, test::make_chunk(2, 800, 1000), std::span(file).subspan(1000, 700));
  expect_frame(f, node_opcode::snapshot_chunk, false, snapshot_chunk_header_size + 700);
  chunk_view c;
  ASSERT_EQ(decode(test::body_at(f), c), status::ok);
  EXPECT_EQ(c.header.offset, 1000u);
  EXPECT_EQ(c.header.data_size, 700u);
  EXPECT_EQ(c.data.size(), 700u);

  f.clear();
  encode(f, ids, test::end_of(b));
  expect_frame(f, node_opcode::snapshot_end, false, snapshot_end_size);
  snapshot_end e{};
  ASSERT_EQ(decode(test::body_at(f), e), status::ok);
  EXPECT_TRUE(same(test::end_of(b), e));
}

TEST(node_messages, heartbeat_round_trips_both_ways) {
  const heartbeat m = test::make_heartbeat(5, 4242, codec::node_role::primary, 1'700'000'000'000);
  for (const bool answer : {false, true}) {
    bytes f;
    encode(f, ids, m, answer);
    expect_frame(f, node_opcode::heartbeat, answer, heartbeat_size);
    heartbeat back{};
    ASSERT_EQ(decode(test::body_at(f), back), status::ok);
    EXPECT_TRUE(same(m, back));
  }
}

TEST(node_messages, frames_carry_a_mac_when_the_session_has_one) {
  const codec::mac_key c2s(codec::digest{0x11});
  const codec::mac_key s2c(codec::digest{0x22});
  bytes f;
  encode(f, {1, 1, &c2s}, make_follow("b", 1, 0, 0, 0));
  EXPECT_TRUE(c2s.verify(f));
  EXPECT_FALSE(s2c.verify(f));
}

TEST(node_messages, encode_appends_after_what_the_buffer_holds) {
  bytes f;
  encode(f, ids, test::make_heartbeat(1, 1, codec::node_role::standby, 1), false);
  const std::size_t first = f.size();
  encode(f, ids, make_follow("b", 1, 0, 0, 0));
  EXPECT_EQ(first, codec::header_size + heartbeat_size);
  ASSERT_EQ(f.size(), first + codec::header_size + follow_size);
  follow back{};
  ASSERT_EQ(decode(test::body_at(f, first), back), status::ok);
  EXPECT_EQ(name_of(back), "b");
}

// ---------------------------------------------------------------------------------------
// Malformed bodies: one row per fault.

struct body_case {
  std::string what;
  bytes body;
  status expected;
};

bytes with(bytes b, std::size_t offset, std::uint8_t value) {
  b.at(offset) = std::byte{value};
  return b;
}
bytes grown(bytes b) {
  b.push_back(std::byte{0});
  return b;
}
bytes shrunk(bytes b) {
  b.pop_back();
  return b;
}

template <class T>
void expect_refusals(const std::vector<body_case>& rows) {
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    EXPECT_EQ(decode_bytes<T>(row.body), row.expected);
  }
}

TEST(node_messages, follow_refusals) {
  const bytes ok = raw(make_follow("node-1", 3, 10, 2, 5));
  ASSERT_EQ(decode_bytes<follow>(ok), status::ok);
  follow long_name = make_follow(std::string(64, 'a'), 3, 10, 2, 5);
  ASSERT_EQ(decode_bytes<follow>(raw(long_name)), status::ok);  // 64 is allowed
  std::vector<body_case> rows = {
      {"short body", shrunk(ok), status::bad_event_count},
      {"long body", grown(ok), status::bad_event_count},
      {"3 bytes", bytes(3, std::byte{1}), status::bad_event_count},
      {"name length 0", with(ok, 4, 0), status::bad_event_count},
      {"name length 65", with(ok, 4, 65), status::bad_event_count},
      {"name length past the name", with(ok, 4, 7), status::bad_event_count},
      {"a space in the name", with(ok, 9, ' '), status::bad_event_count},
      {"a comma in the name", with(ok, 9, ','), status::bad_event_count},
      {"a byte after the name", with(ok, 8 + 6, 'x'), status::reserved_field},
      {"last byte of the name field", with(ok, 71, 1), status::reserved_field},
      {"last_term above term", with(ok, 88, 4), status::bad_event_count},
  };
  rows.push_back({"term start 0", with(with(ok, 96, 0), 97, 0), status::bad_event_count});
  rows.push_back({"term start after the last LSN", with(ok, 96, 11), status::bad_event_count});
  for (std::size_t at = 104; at < follow_size; ++at)
    rows.push_back(
        {"reserved byte " + std::to_string(at), with(ok, at, 1), status::reserved_field});
  // A length one past the field, where the byte after it (term's low byte) is a name
  // character too.
  long_name.term = 'a';
  long_name.name_length = 65;
  rows.push_back({"name length 65 over a valid byte", raw(long_name), status::bad_event_count});
  bytes empty_journal = raw(make_follow("n", 3, 0, 0, 0));
  ASSERT_EQ(decode_bytes<follow>(empty_journal), status::ok);
  rows.push_back({"LSN 0 with a term", with(empty_journal, 88, 1), status::bad_event_count});
  rows.push_back({"LSN 0 with a term start", with(empty_journal, 96, 1), status::bad_event_count});
  expect_refusals<follow>(rows);
}

TEST(node_messages, follow_of_another_version_decodes_to_its_version_only) {
  // Whatever the rest holds, the primary answers unsupported_version from the first 4 bytes.
  bytes b(200, std::byte{0xee});
  b[0] = std::byte{2};
  b[1] = b[2] = b[3] = std::byte{0};
  follow f{};
  ASSERT_EQ(decode(b, f), status::ok);
  EXPECT_EQ(f.version, 2u);
  EXPECT_EQ(f.name_length, 0u);
  primary_position p;
  p.is_primary = true;
  p.term = 1;
  EXPECT_EQ(answer_follow(f, p).reason,
            static_cast<std::uint32_t>(node_reason::unsupported_version));
}

TEST(node_messages, follow_reply_refusals) {
  const bytes ok = raw(test::accepted(4, 20, 30));
  ASSERT_EQ(decode_bytes<follow_reply>(ok), status::ok);
  std::vector<body_case> rows = {
      {"short body", shrunk(ok), status::bad_event_count},
      {"long body", grown(ok), status::bad_event_count},
      {"reason 8", with(ok, 0, 8), status::reserved_field},
      {"reason gap (an Ack's)", with(ok, 0, 5), status::bad_event_count},
      {"ok with start 0", with(with(ok, 16, 0), 17, 0), status::bad_event_count},
      {"ok with a cut", with(ok, 24, 3), status::bad_event_count},
      {"ok with a snapshot", with(ok, 32, 3), status::bad_event_count},
      {"needs_snapshot with start not snapshot + 1", with(with(ok, 0, 3), 32, 30),
       status::bad_event_count},
      {"diverged with a start", with(ok, 0, 4), status::bad_event_count},
      {"not_primary with a start", with(ok, 0, 1), status::bad_event_count},
  };
  for (std::size_t at = 48; at < follow_reply_size; ++at)
    rows.push_back(
        {"reserved byte " + std::to_string(at), with(ok, at, 1), status::reserved_field});
  expect_refusals<follow_reply>(rows);
  // The consistent needs_snapshot form decodes.
  EXPECT_EQ(decode_bytes<follow_reply>(with(with(ok, 0, 3), 32, 19)), status::ok);
}

TEST(node_messages, ack_refusals) {
  const bytes ok = raw(test::make_ack(node_reason::ok, 2, 9));
  ASSERT_EQ(decode_bytes<ack>(ok), status::ok);
  std::vector<body_case> rows = {
      {"short body", shrunk(ok), status::bad_event_count},
      {"long body", grown(ok), status::bad_event_count},
      {"reason diverged (FOLLOW's)", with(ok, 0, 4), status::reserved_field},
      {"reason 8", with(ok, 0, 8), status::reserved_field},
  };
  for (std::size_t at : {4, 5, 6, 7, 24, 25, 31})
    rows.push_back(
        {"reserved byte " + std::to_string(at), with(ok, at, 1), status::reserved_field});
  expect_refusals<ack>(rows);
  for (const node_reason r : {node_reason::stale_term, node_reason::gap, node_reason::bad_snapshot})
    EXPECT_EQ(decode_bytes<ack>(with(ok, 0, static_cast<std::uint8_t>(r))), status::ok);
}

TEST(node_messages, snapshot_refusals) {
  const bytes file(100, std::byte{1});
  const bytes begin = raw(test::make_begin(2, 50, file));
  ASSERT_EQ(decode_bytes<snapshot_begin>(begin), status::ok);
  std::vector<body_case> rows = {
      {"short body", shrunk(begin), status::bad_event_count},
      {"long body", grown(begin), status::bad_event_count},
      {"term 0", with(begin, 0, 0), status::bad_event_count},
      {"LSN 0", with(begin, 8, 0), status::bad_event_count},
      {"size 0", with(begin, 16, 0), status::bad_event_count},
  };
  for (std::size_t at = 28; at < snapshot_begin_size; ++at)
    rows.push_back(
        {"reserved byte " + std::to_string(at), with(begin, at, 1), status::reserved_field});
  expect_refusals<snapshot_begin>(rows);

  const bytes end = raw(test::end_of(test::make_begin(2, 50, file)));
  ASSERT_EQ(decode_bytes<snapshot_end>(end), status::ok);
  expect_refusals<snapshot_end>({
      {"short body", shrunk(end), status::bad_event_count},
      {"long body", grown(end), status::bad_event_count},
      {"size 0", with(end, 16, 0), status::bad_event_count},
      {"reserved byte 28", with(end, 28, 1), status::reserved_field},
      {"reserved byte 31", with(end, 31, 1), status::reserved_field},
  });

  bytes chunk = raw(test::make_chunk(2, 50, 0));
  chunk[24] = std::byte{10};  // data_size
  chunk.insert(chunk.end(), 10, std::byte{7});
  ASSERT_EQ(decode_bytes<chunk_view>(chunk), status::ok);
  bytes empty_chunk = raw(test::make_chunk(2, 50, 0));
  bytes big_chunk = raw(test::make_chunk(2, 50, 0));
  const std::uint32_t big = snapshot_chunk_max + 1;
  std::memcpy(big_chunk.data() + 24, &big, sizeof big);
  big_chunk.resize(snapshot_chunk_header_size + big);
  expect_refusals<chunk_view>({
      {"short header", bytes(chunk.begin(), chunk.begin() + 31), status::bad_event_count},
      {"a byte more than data_size", grown(chunk), status::bad_event_count},
      {"a byte less than data_size", shrunk(chunk), status::bad_event_count},
      {"no data", empty_chunk, status::bad_event_count},
      {"more than snapshot_chunk_max", big_chunk, status::bad_event_count},
      {"reserved byte 28", with(chunk, 28, 1), status::reserved_field},
      {"term 0", with(chunk, 0, 0), status::bad_event_count},
  });
}

TEST(node_messages, heartbeat_refusals) {
  const bytes ok = raw(test::make_heartbeat(1, 2, codec::node_role::standby, 3));
  ASSERT_EQ(decode_bytes<heartbeat>(ok), status::ok);
  expect_refusals<heartbeat>({
      {"short body", shrunk(ok), status::bad_event_count},
      {"long body", grown(ok), status::bad_event_count},
      {"role standalone", with(ok, 32, 0), status::reserved_field},
      {"role 3", with(ok, 32, 3), status::reserved_field},
      {"reserved byte 36", with(ok, 36, 1), status::reserved_field},
      {"reserved byte 39", with(ok, 39, 1), status::reserved_field},
  });
}

// ---------------------------------------------------------------------------------------
// GROUP: its header and its bytes.

struct group_case {
  std::string what;
  std::function<void(group_header&, bytes&)> edit;
  status expected;
  group_fault fault;
};

bytes group_body(const group_header& h, const bytes& records) {
  bytes b = raw(h);
  b.insert(b.end(), records.begin(), records.end());
  return b;
}

TEST(node_messages, group_refusals) {
  const bytes records = test::journal_group(21, 4, 20);
  group_header good = test::group_for(6, 21, 4, 20);
  good.bytes_size = static_cast<std::uint32_t>(records.size());
  {
    group_view g;
    ASSERT_EQ(decode(group_body(good, records), g), status::ok);
  }
  const std::size_t second = journal::header_size + 32;  // record 0 holds one entry
  const std::vector<group_case> rows = {
      {"no bytes", [](group_header& h, bytes& r) { r.clear(), h.bytes_size = 0; },
       status::bad_event_count, group_fault::body_size},
      {"bytes_size one more", [](group_header& h, bytes&) { ++h.bytes_size; },
       status::bad_event_count, group_fault::body_size},
      {"bytes_size one less", [](group_header& h, bytes&) { --h.bytes_size; },
       status::bad_event_count, group_fault::body_size},
      {"flag bit 1", [](group_header& h, bytes&) { h.flags = 2; }, status::reserved_field,
       group_fault::reserved},
      {"reserved byte", [](group_header& h, bytes&) { h.reserved[19] = 1; }, status::reserved_field,
       group_fault::reserved},
      {"term 0", [](group_header& h, bytes&) { h.term = 0; }, status::bad_event_count,
       group_fault::header},
      {"first LSN 0", [](group_header& h, bytes&) { h.first_lsn = 0; }, status::bad_event_count,
       group_fault::header},
      {"count 0", [](group_header& h, bytes&) { h.record_count = 0; }, status::bad_event_count,
       group_fault::header},
      {"last LSN not first + count - 1", [](group_header& h, bytes&) { ++h.last_lsn; },
       status::bad_event_count, group_fault::header},
      {"group_lsn after first LSN", [](group_header& h, bytes&) { h.group_lsn = 22; },
       status::bad_event_count, group_fault::header},
      {"group_lsn 0", [](group_header& h, bytes&) { h.group_lsn = 0; }, status::bad_event_count,
       group_fault::header},
      {"a payload byte changed (CRC)",
       [&](group_header&, bytes& r) { r[second + journal::header_size + 3] ^= std::byte{1}; },
       status::bad_event_count, group_fault::record},
      {"a record cut short",
       [](group_header& h, bytes& r) {
         r.pop_back();
         --h.bytes_size;
       },
       status::bad_event_count, group_fault::record},
      {"garbage after the records",
       [](group_header& h, bytes& r) {
         r.insert(r.end(), 8, std::byte{0});
         h.bytes_size += 8;
       },
       status::bad_event_count, group_fault::record_count},
      {"header LSNs one later than the records",
       [](group_header& h, bytes&) { ++h.first_lsn, ++h.last_lsn; }, status::bad_event_count,
       group_fault::record_lsn},
      {"header LSNs one earlier than the records",
       [](group_header& h, bytes&) { --h.first_lsn, --h.last_lsn, --h.group_lsn; },
       status::bad_event_count, group_fault::record_lsn},
      {"records of another group", [](group_header& h, bytes&) { h.group_lsn = 19; },
       status::bad_event_count, group_fault::record_group},
      {"one record more in the header",
       [](group_header& h, bytes&) { ++h.record_count, ++h.last_lsn; }, status::bad_event_count,
       group_fault::record_count},
      {"one record less in the header",
       [](group_header& h, bytes&) { --h.record_count, --h.last_lsn; }, status::bad_event_count,
       group_fault::record_count},
      {"records out of order",
       [&](group_header&, bytes& r) {
         // Swap the first two records (sizes 64 and 96): the LSNs then run 22, 21, ...
         bytes swapped(r.begin() + second, r.begin() + second + journal::header_size + 64);
         swapped.insert(swapped.end(), r.begin(), r.begin() + second);
         std::copy(swapped.begin(), swapped.end(), r.begin());
       },
       status::bad_event_count, group_fault::record_lsn},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.what);
    group_header h = good;
    bytes r = records;
    row.edit(h, r);
    group_view g;
    group_fault fault = group_fault::none;
    EXPECT_EQ(decode(group_body(h, r), g, &fault), row.expected);
    EXPECT_EQ(fault, row.fault);
  }
  // A body shorter than the header, and one past the node body limit.
  group_view g;
  group_fault fault = group_fault::none;
  EXPECT_EQ(decode(bytes(group_header_size - 1), g, &fault), status::bad_event_count);
  EXPECT_EQ(fault, group_fault::body_size);
  EXPECT_EQ(decode(bytes(node_body_size_max + 1), g, &fault), status::body_too_large);
  EXPECT_EQ(fault, group_fault::too_large);
}

TEST(node_messages, the_largest_record_fits_one_group) {
  bytes records;
  journal::append_record(records, journal::record_type::failures, 1, 1,
                         bytes(journal::record_payload_max, std::byte{0}));
  ASSERT_EQ(records.size(), group_bytes_max);
  bytes f;
  encode(f, ids, test::group_for(1, 1, 1, 1), records);
  ASSERT_EQ(f.size(), codec::header_size + node_body_size_max);
  expect_frame(f, node_opcode::group, false, node_body_size_max);
}

// ---------------------------------------------------------------------------------------
// What the standby checks against its own state.

TEST(node_messages, standby_checks_term_and_continuity) {
  const standby_position at{5, 100, 0};
  struct row {
    std::string what;
    group_header g;
    node_reason expected;
  };
  const std::vector<row> rows = {
      {"the next group", test::group_for(5, 101, 3, 101), node_reason::ok},
      {"a newer term", test::group_for(6, 101, 3, 101), node_reason::ok},
      {"an older term", test::group_for(4, 101, 3, 101), node_reason::stale_term},
      {"an older term and a gap", test::group_for(4, 103, 3, 103), node_reason::stale_term},
      {"first LSN one too far", test::group_for(5, 102, 3, 102), node_reason::gap},
      {"first LSN already held", test::group_for(5, 100, 3, 100), node_reason::gap},
      {"first LSN far behind", test::group_for(5, 1, 3, 1), node_reason::gap},
      {"a piece of a group that started earlier", test::group_for(5, 101, 3, 99), node_reason::ok},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    standby_position next{};
    EXPECT_EQ(check_group(r.g, at, &next), r.expected);
    if (r.expected == node_reason::ok) {
      EXPECT_EQ(next.term, r.g.term);
      EXPECT_EQ(next.last_lsn, r.g.last_lsn);
      EXPECT_EQ(next.open_group_lsn, 0u);
    }
  }
  // A continued group must be continued by a piece of the same group.
  standby_position open{};
  ASSERT_EQ(check_group(test::group_for(5, 101, 2, 101, group_flags::continued), at, &open),
            node_reason::ok);
  EXPECT_EQ(open.open_group_lsn, 101u);
  EXPECT_EQ(check_group(test::group_for(5, 103, 2, 103), open, nullptr), node_reason::gap);
  EXPECT_EQ(check_group(test::group_for(5, 103, 2, 101), open, nullptr), node_reason::ok);
}

TEST(node_messages, a_split_group_reassembles_to_the_same_bytes) {
  const bytes records = test::journal_group(40, 9, 40);  // records of 64, 96, 128 bytes
  for (const std::size_t bytes_max :
       {std::size_t{128}, std::size_t{200}, std::size_t{300}, records.size() - 1, records.size()}) {
    SCOPED_TRACE(bytes_max);
    bytes stream;
    std::uint64_t request_id = 1;
    std::size_t pieces = 0;
    bool last_continued = true;
    ASSERT_TRUE(split_group(records, bytes_max,
                            [&](std::span<const std::byte> piece, std::uint64_t first,
                                std::uint64_t last, std::uint32_t count, bool continued) {
                              EXPECT_LE(piece.size(), bytes_max);
                              EXPECT_EQ(last - first + 1, count);
                              encode(stream, {request_id++, request_id, nullptr},
                                     test::group_for(2, first, count, 40,
                                                     continued ? group_flags::continued : 0),
                                     piece);
                              last_continued = continued;
                              ++pieces;
                            }));
    EXPECT_FALSE(last_continued);
    EXPECT_EQ(pieces > 1, bytes_max < records.size());
    // The standby's side: each piece decodes and continues the last; the bytes add up.
    standby_position at{2, 39, 0};
    bytes joined;
    for (std::size_t pos = 0; pos < stream.size();) {
      const codec::frame_header h = codec::read_header(stream.data() + pos);
      ASSERT_EQ(check_node_frame(h, test::body_at(stream, pos)), status::ok);
      group_view g;
      ASSERT_EQ(decode(test::body_at(stream, pos), g), status::ok);
      ASSERT_EQ(check_group(g.header, at, &at), node_reason::ok);
      joined.insert(joined.end(), g.bytes.begin(), g.bytes.end());
      pos += codec::header_size + h.body_size;
    }
    EXPECT_EQ(joined, records);
    EXPECT_EQ(at.last_lsn, 48u);
    EXPECT_EQ(at.open_group_lsn, 0u);
  }
  // A record larger than a piece may be, or bytes that are not records: nothing is sent.
  int calls = 0;
  const auto count_calls = [&](auto...) { ++calls; };
  EXPECT_FALSE(split_group(records, 127, count_calls));
  bytes broken = records;
  broken[10] ^= std::byte{1};
  EXPECT_FALSE(split_group(broken, 4096, count_calls));
  EXPECT_EQ(calls, 0);
}

// ---------------------------------------------------------------------------------------
// The primary's answer to FOLLOW.

struct follow_case {
  std::string what;
  follow f;
  node_reason reason;
  std::uint64_t start = 0;
  std::uint64_t cut = 0;
};

TEST(node_messages, primary_answers_follow) {
  // Term 1 wrote 1..50, term 3 wrote 51..80, term 4 (now) 81..100; the journal still holds
  // 31..100, the latest snapshot is at 40.
  const std::vector<term_start> terms = {{1, 1}, {3, 51}, {4, 81}};
  primary_position p;
  p.is_primary = true;
  p.term = 4;
  p.first_lsn = 31;
  p.last_lsn = 100;
  p.snapshot_lsn = 40;
  p.terms = terms;
  const std::vector<follow_case> rows = {
      {"caught up", make_follow("b", 4, 100, 4, 81), node_reason::ok, 101},
      {"behind, in the current term", make_follow("b", 4, 90, 4, 81), node_reason::ok, 91},
      {"behind, in an older term", make_follow("b", 3, 60, 3, 51), node_reason::ok, 61},
      {"at the end of an older term", make_follow("b", 3, 80, 3, 51), node_reason::ok, 81},
      {"just inside the journal", make_follow("b", 1, 30, 1, 1), node_reason::ok, 31},
      {"before the journal", make_follow("b", 1, 29, 1, 1), node_reason::needs_snapshot, 41},
      {"empty", make_follow("b", 0, 0, 0, 0), node_reason::needs_snapshot, 41},
      {"more of term 3 than the primary", make_follow("b", 3, 85, 3, 51), node_reason::diverged, 0,
       80},
      {"records of a term the primary never saw", make_follow("b", 2, 60, 2, 51),
       node_reason::diverged, 0, 50},
      {"a term the primary never saw, before the journal", make_follow("b", 2, 25, 2, 21),
       node_reason::needs_snapshot, 41},
      {"ahead in the current term", make_follow("b", 4, 105, 4, 81), node_reason::diverged, 0, 100},
      {"claims term 3 before term 3 began", make_follow("b", 3, 45, 3, 41), node_reason::diverged,
       0, 40},
      {"a newer term than the primary's", make_follow("b", 5, 100, 4, 81), node_reason::stale_term},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    const follow_reply a = answer_follow(r.f, p);
    EXPECT_EQ(static_cast<node_reason>(a.reason), r.reason);
    EXPECT_EQ(a.start_lsn, r.start);
    EXPECT_EQ(a.cut_after_lsn, r.cut);
    EXPECT_EQ(a.term, 4u);
    EXPECT_EQ(a.last_lsn, 100u);
    EXPECT_EQ(a.snapshot_lsn, r.reason == node_reason::needs_snapshot ? 40u : 0u);
    bytes f;
    encode(f, ids, a);  // every answer is a well-formed FollowReply
    EXPECT_EQ(check_node_frame(codec::read_header(f.data()), test::body_at(f)), status::ok);
  }
  p.is_primary = false;
  EXPECT_EQ(answer_follow(make_follow("b", 4, 100, 4, 81), p).reason,
            static_cast<std::uint32_t>(node_reason::not_primary));
}

TEST(node_messages, a_diverged_standby_converges_by_cutting_and_following_again) {
  // The primary: term 1 wrote 1..10, term 2 11..20, term 5 21..30. The standby has 1..10 of
  // term 1, then 11..14 of term 2, then 15..26 of term 3 (a primary that was deposed before
  // anyone followed it), recorded as its own term history.
  const std::vector<term_start> primary_terms = {{1, 1}, {2, 11}, {5, 21}};
  primary_position p;
  p.is_primary = true;
  p.term = 5;
  p.first_lsn = 1;
  p.last_lsn = 30;
  p.terms = primary_terms;
  const auto standby_term_of = [](std::uint64_t lsn) -> std::uint64_t {
    return lsn == 0 ? 0 : lsn <= 10 ? 1 : lsn <= 14 ? 2 : 3;
  };
  const auto standby_term_start_of = [](std::uint64_t lsn) -> std::uint64_t {
    return lsn == 0 ? 0 : lsn <= 10 ? 1 : lsn <= 14 ? 11 : 15;
  };
  std::uint64_t last = 26;
  int rounds = 0;
  for (;;) {
    ASSERT_LT(++rounds, 10);
    const follow_reply a = answer_follow(
        make_follow("b", 3, last, standby_term_of(last), standby_term_start_of(last)), p);
    if (a.reason == static_cast<std::uint32_t>(node_reason::ok)) {
      EXPECT_EQ(a.start_lsn, last + 1);
      break;
    }
    ASSERT_EQ(a.reason, static_cast<std::uint32_t>(node_reason::diverged));
    ASSERT_LT(a.cut_after_lsn, last);
    last = a.cut_after_lsn;
  }
  // It keeps exactly what it shares with the primary: 1..14 (term 2 ran 11..20 there).
  EXPECT_EQ(last, 14u);
  EXPECT_EQ(rounds, 2);
}

// ---------------------------------------------------------------------------------------
// The snapshot transfer on a standby.

TEST(node_messages, snapshot_receiver_follows_the_transfer) {
  bytes file(2500);
  for (std::size_t i = 0; i < file.size(); ++i) file[i] = static_cast<std::byte>(i * 7);
  const snapshot_begin b = test::make_begin(3, 700, file);
  const auto chunk = [&](std::uint64_t offset, std::size_t size, std::uint64_t term = 3) {
    return chunk_view{test::make_chunk(term, 700, offset),
                      std::span<const std::byte>(file).subspan(offset, size)};
  };
  {
    snapshot_receiver r;
    ASSERT_EQ(r.begin(b, 3), node_reason::ok);
    EXPECT_EQ(r.chunk(chunk(0, 1000)), node_reason::ok);
    EXPECT_EQ(r.chunk(chunk(1000, 1000)), node_reason::ok);
    EXPECT_EQ(r.chunk(chunk(2000, 500)), node_reason::ok);
    EXPECT_EQ(r.received(), 2500u);
    EXPECT_EQ(r.end(test::end_of(b)), node_reason::ok);
    EXPECT_FALSE(r.open());
  }
  struct row {
    std::string what;
    std::function<node_reason(snapshot_receiver&)> run;
    node_reason expected;
  };
  const std::vector<row> rows = {
      {"begin of an older term", [&](snapshot_receiver& r) { return r.begin(b, 4); },
       node_reason::stale_term},
      {"chunk without begin", [&](snapshot_receiver& r) { return r.chunk(chunk(0, 10)); },
       node_reason::gap},
      {"a chunk skipped",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         r.chunk(chunk(0, 1000));
         return r.chunk(chunk(2000, 500));
       },
       node_reason::gap},
      {"a chunk sent twice",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         r.chunk(chunk(0, 1000));
         return r.chunk(chunk(0, 1000));
       },
       node_reason::gap},
      {"a chunk past the size",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         r.chunk(chunk(0, 2000));
         bytes more(501);
         return r.chunk(chunk_view{test::make_chunk(3, 700, 2000), more});
       },
       node_reason::gap},
      {"a chunk of another term",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         return r.chunk(chunk(0, 10, 4));
       },
       node_reason::gap},
      {"end before the last chunk",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         r.chunk(chunk(0, 2000));
         return r.end(test::end_of(b));
       },
       node_reason::bad_snapshot},
      {"a byte changed on the way",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         r.chunk(chunk(0, 2000));
         bytes tail(file.begin() + 2000, file.end());
         tail[0] ^= std::byte{1};
         r.chunk(chunk_view{test::make_chunk(3, 700, 2000), tail});
         return r.end(test::end_of(b));
       },
       node_reason::bad_snapshot},
      {"end of another snapshot",
       [&](snapshot_receiver& r) {
         r.begin(b, 3);
         r.chunk(chunk(0, 2500));
         snapshot_end e = test::end_of(b);
         e.snapshot_lsn = 701;
         return r.end(e);
       },
       node_reason::gap},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    snapshot_receiver rx;
    EXPECT_EQ(r.run(rx), r.expected);
  }
}

// ---------------------------------------------------------------------------------------
// The frame around a node message.

TEST(node_messages, frame_checks) {
  bytes good;
  encode(good, ids, make_follow("b", 1, 0, 0, 0));
  struct row {
    std::string what;
    std::function<void(codec::frame_header&, bytes&)> edit;
    status expected;
  };
  const std::vector<row> rows = {
      {"as sent", [](codec::frame_header&, bytes&) {}, status::ok},
      {"a body byte changed", [](codec::frame_header&, bytes& b) { b[9] ^= std::byte{1}; },
       status::body_checksum},
      {"flag bit 1", [](codec::frame_header& h, bytes&) { h.flags = 2; }, status::reserved_field},
      {"reserved header field", [](codec::frame_header& h, bytes&) { h.reserved = 1; },
       status::reserved_field},
      {"a status in a request", [](codec::frame_header& h, bytes&) { h.status = 7; },
       status::reserved_field},
      {"opcode 63", [](codec::frame_header& h, bytes&) { h.opcode = 63; }, status::unknown_opcode},
      {"opcode 70", [](codec::frame_header& h, bytes&) { h.opcode = 70; }, status::unknown_opcode},
      {"event_count 0", [](codec::frame_header& h, bytes&) { h.event_count = 0; },
       status::bad_event_count},
      {"event_count 2", [](codec::frame_header& h, bytes&) { h.event_count = 2; },
       status::bad_event_count},
      {"a FOLLOW body as a FollowReply",
       [](codec::frame_header& h, bytes&) { h.flags = codec::flag_response; },
       status::bad_event_count},
      {"a FOLLOW body as a GROUP", [](codec::frame_header& h, bytes&) { h.opcode = 65; },
       status::bad_event_count},
      {"an error response",
       [](codec::frame_header& h, bytes& b) {
         h.flags = codec::flag_response, h.status = 17, h.event_count = 0;
         b.assign(10, std::byte{'x'});
       },
       status::ok},
      {"an error response with a long reason",
       [](codec::frame_header& h, bytes& b) {
         h.flags = codec::flag_response, h.status = 17, h.event_count = 0;
         b.assign(codec::reason_max + 1, std::byte{'x'});
       },
       status::bad_event_count},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.what);
    codec::frame_header h = codec::read_header(good.data());
    bytes body(test::body_at(good).begin(), test::body_at(good).end());
    const bytes sent = body;
    r.edit(h, body);
    if (body.size() != sent.size()) h.body_crc32c = crc32c(body.data(), body.size());
    EXPECT_EQ(check_node_frame(h, body), r.expected);
  }
}

}  // namespace
}  // namespace remit::cluster
