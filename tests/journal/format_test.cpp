// The journal's on-disk format (engine/journal_format.hpp): records round-trip, parse_record
// rejects every kind of bad record, scan visits exactly the whole valid prefix, tells a torn
// tail (damage confined to the last write group) from corruption (damage followed by a
// valid record of a later group), and file names round-trip.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/journal_format.hpp"
#include "engine/types.hpp"

namespace remit::journal {
namespace {

using end = scan_result::end;

const char* end_name(end e) {
  switch (e) {
    case end::clean:
      return "clean";
    case end::torn_tail:
      return "torn_tail";
    case end::corrupt:
      return "corrupt";
  }
  return "?";
}

constexpr record_type all_types[] = {
    record_type::accounts_created, record_type::transfers_committed, record_type::failures,
    record_type::pendings_expired, record_type::controls_set,        record_type::term_started};

std::vector<std::byte> random_payload(std::mt19937_64& rng, record_type t, std::size_t entries) {
  std::vector<std::byte> p(entry_size(t) * entries);
  for (auto& b : p) b = static_cast<std::byte>(rng() & 0xff);
  return p;
}

// One record as written: where it is and what it holds.
struct written {
  std::uint64_t offset;
  std::uint64_t size;
  std::uint64_t lsn;
  std::uint64_t group_lsn;
  std::size_t group;  // index of its write group
  record_type type;
  std::vector<std::byte> payload;
};

// A journal file made of write groups: LSNs first_lsn, first_lsn + 1, ... and each record's
// group_lsn the LSN of the first record of its group.
struct journal_buffer {
  std::vector<std::byte> data;
  std::vector<written> records;
  std::size_t groups = 0;

  // The index of the record that holds byte `at`.
  std::size_t record_at(std::uint64_t at) const {
    for (std::size_t i = 0; i < records.size(); ++i)
      if (at < records[i].offset + records[i].size) return i;
    return records.size();
  }
  bool in_last_group(std::size_t record) const { return records[record].group + 1 == groups; }
};

journal_buffer make_buffer(std::uint64_t seed, std::uint64_t first_lsn, std::size_t groups,
                           std::size_t max_per_group, std::size_t max_entries = 3) {
  std::mt19937_64 rng(seed);
  journal_buffer b;
  std::uint64_t lsn = first_lsn;
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t n = 1 + rng() % max_per_group;
    const std::uint64_t group_lsn = lsn;
    for (std::size_t i = 0; i < n; ++i, ++lsn) {
      const record_type t = all_types[rng() % std::size(all_types)];
      written w{b.data.size(),
                0,
                lsn,
                group_lsn,
                g,
                t,
                random_payload(rng, t, rng() % (max_entries + 1))};
      append_record(b.data, t, lsn, group_lsn, w.payload);
      w.size = b.data.size() - w.offset;
      b.records.push_back(std::move(w));
    }
  }
  b.groups = groups;
  return b;
}

// What a scan visited.
struct visited {
  record_header header;
  std::uint64_t offset;
  std::vector<std::byte> payload;
};

template <class Data>
scan_result run_scan(const Data& data, std::uint64_t expected_lsn, std::vector<visited>& out) {
  out.clear();
  return scan(std::span<const std::byte>(data.data(), data.size()), expected_lsn,
              [&](const record_view& v) {
                out.push_back(visited{v.header, v.offset, {v.payload.begin(), v.payload.end()}});
              });
}

// The visited records are exactly the first `n` records written, byte for byte.
::testing::AssertionResult visited_prefix(const journal_buffer& b, const std::vector<visited>& v,
                                          std::size_t n) {
  if (v.size() != n)
    return ::testing::AssertionFailure() << "visited " << v.size() << " records, expected " << n;
  for (std::size_t i = 0; i < n; ++i) {
    const written& w = b.records[i];
    if (v[i].offset != w.offset || v[i].header.lsn != w.lsn ||
        v[i].header.group_lsn != w.group_lsn ||
        v[i].header.type != static_cast<std::uint16_t>(w.type) || v[i].payload != w.payload)
      return ::testing::AssertionFailure()
             << "visited record " << i << " differs from record " << i << " as written";
    // The record's bytes in the original buffer are the bytes visited.
    if (std::memcmp(b.data.data() + w.offset, &v[i].header, header_size) != 0)
      return ::testing::AssertionFailure() << "visited header " << i << " differs in its bytes";
  }
  return ::testing::AssertionSuccess();
}

// Whether the visited records are some prefix of the written ones, byte for byte.
::testing::AssertionResult visited_some_prefix(const journal_buffer& b,
                                               const std::vector<visited>& v) {
  if (v.size() > b.records.size())
    return ::testing::AssertionFailure() << "visited more records than were written";
  return visited_prefix(b, v, v.size());
}

// ---------------------------------------------------------------------------------------
// Records

TEST(JournalFormat, RoundTripEveryRecordType) {
  std::mt19937_64 rng(1);
  for (const record_type t : all_types) {
    for (const std::size_t entries : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
      SCOPED_TRACE(std::string(name(t)) + " x " + std::to_string(entries));
      std::vector<std::byte> data;
      // A record in front, so the one under test is at a non-zero offset.
      const auto first = random_payload(rng, record_type::failures, 2);
      append_record(data, record_type::failures, 41, 41, first);
      const std::uint64_t at = data.size();
      ASSERT_EQ(at, header_size + first.size());
      const auto payload = random_payload(rng, t, entries);
      append_record(data, t, 42, 41, payload);
      ASSERT_EQ(data.size(), at + header_size + payload.size());

      record_view v{};
      std::string why;
      ASSERT_TRUE(parse_record(data, at, v, &why)) << why;
      EXPECT_EQ(v.header.magic, record_magic);
      EXPECT_EQ(v.header.type, static_cast<std::uint16_t>(t));
      EXPECT_EQ(v.header.reserved, 0);
      EXPECT_EQ(v.header.length, payload.size());
      EXPECT_EQ(v.header.lsn, 42u);
      EXPECT_EQ(v.header.group_lsn, 41u);
      EXPECT_EQ(v.offset, at);
      ASSERT_EQ(v.payload.size(), payload.size());
      EXPECT_TRUE(std::equal(v.payload.begin(), v.payload.end(), payload.begin()));
      // The view points into the buffer, right after the header.
      if (!payload.empty()) {
        EXPECT_EQ(v.payload.data(), data.data() + at + header_size);
      }
      // The magic is "RMJ1" on disk.
      EXPECT_EQ(std::memcmp(data.data() + at, "RMJ1", 4), 0);

      // The first record too.
      record_view v0{};
      ASSERT_TRUE(parse_record(data, 0, v0, &why)) << why;
      EXPECT_EQ(v0.header.lsn, 41u);
      EXPECT_EQ(v0.header.type, static_cast<std::uint16_t>(record_type::failures));
    }
  }
}

TEST(JournalFormat, EntrySizesMatchTheStructs) {
  EXPECT_EQ(entry_size(record_type::accounts_created), 128u);
  EXPECT_EQ(entry_size(record_type::transfers_committed), 160u);
  EXPECT_EQ(entry_size(record_type::failures), 32u);
  EXPECT_EQ(entry_size(record_type::pendings_expired), 16u);
  EXPECT_EQ(entry_size(record_type::controls_set), 96u);
  EXPECT_EQ(entry_size(record_type::term_started), 32u);
}

// Every check of parse_record, one damaged field at a time.
TEST(JournalFormat, ParseRejectsEachKindOfBadRecord) {
  std::mt19937_64 rng(2);
  std::vector<std::byte> good;
  const auto payload = random_payload(rng, record_type::accounts_created, 2);
  append_record(good, record_type::accounts_created, 7, 5, payload);

  const auto header_of = [](const std::vector<std::byte>& d) {
    record_header h;
    std::memcpy(&h, d.data(), header_size);
    return h;
  };
  const auto with_header = [&](const record_header& h) {
    std::vector<std::byte> d = good;
    std::memcpy(d.data(), &h, header_size);
    return d;
  };
  struct bad_case {
    const char* what;
    std::vector<std::byte> data;
  };
  std::vector<bad_case> cases;
  {
    auto h = header_of(good);
    h.magic ^= 1;
    cases.push_back({"bad magic", with_header(h)});
  }
  for (const std::uint16_t type :
       {std::uint16_t{0}, std::uint16_t{record_type_max + 1}, std::uint16_t{0xffff}}) {
    auto h = header_of(good);
    h.type = type;
    cases.push_back({"unknown type", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.reserved = 1;
    cases.push_back({"reserved not zero", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.length = record_payload_max + 128;
    cases.push_back({"length over the maximum", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.length = 100;  // not a multiple of 128
    cases.push_back({"length not whole entries", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.lsn = 0;
    cases.push_back({"lsn 0", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.group_lsn = 0;
    cases.push_back({"group_lsn 0", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.group_lsn = h.lsn + 1;
    cases.push_back({"group_lsn after lsn", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.lsn += 1;  // a valid-looking LSN, but the CRC covers the header
    cases.push_back({"header changed after the CRC", with_header(h)});
  }
  {
    auto h = header_of(good);
    h.crc32c ^= 0x80000000u;
    cases.push_back({"CRC field changed", with_header(h)});
  }
  {
    auto d = good;
    d.back() ^= std::byte{1};
    cases.push_back({"payload changed", d});
  }
  {
    auto d = good;
    d.pop_back();
    cases.push_back({"payload cut short", d});
  }
  {
    auto d = good;
    d.resize(header_size - 1);
    cases.push_back({"header cut short", d});
  }
  cases.push_back({"empty", {}});

  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    record_view v{};
    std::string why;
    EXPECT_FALSE(parse_record(c.data, 0, v, &why));
    EXPECT_FALSE(why.empty());
    EXPECT_FALSE(parse_record(c.data, 0, v));  // `why` is optional
  }
  // And the good one passes, at offset 0 and after a prefix of junk.
  record_view v{};
  EXPECT_TRUE(parse_record(good, 0, v));
  // Sized once and copied into (not insert): GCC 12 at -O2 reports insert's growth path as
  // out of bounds (-Warray-bounds, a false positive).
  std::vector<std::byte> shifted(13 + good.size(), std::byte{0x55});
  std::copy(good.begin(), good.end(), shifted.begin() + 13);
  EXPECT_TRUE(parse_record(shifted, 13, v));
  EXPECT_EQ(v.offset, 13u);
  // An offset past the end is not a record.
  EXPECT_FALSE(parse_record(good, good.size(), v));
  EXPECT_FALSE(parse_record(good, good.size() + 1000, v));
}

// ---------------------------------------------------------------------------------------
// Scans of whole buffers

TEST(JournalScan, ManyRecordsScanClean) {
  const journal_buffer b = make_buffer(3, 1, 200, 6);
  std::vector<visited> v;
  const scan_result r = run_scan(b.data, 1, v);
  EXPECT_EQ(r.how, end::clean) << r.why;
  EXPECT_EQ(r.records, b.records.size());
  EXPECT_EQ(r.first_lsn, 1u);
  EXPECT_EQ(r.last_lsn, b.records.size());
  EXPECT_EQ(r.valid_bytes, b.data.size());
  EXPECT_TRUE(visited_prefix(b, v, b.records.size()));

  // expected_lsn 0 takes whatever the first record has.
  const journal_buffer later = make_buffer(4, 1001, 50, 4);
  const scan_result r2 = run_scan(later.data, 0, v);
  EXPECT_EQ(r2.how, end::clean) << r2.why;
  EXPECT_EQ(r2.first_lsn, 1001u);
  EXPECT_EQ(r2.last_lsn, 1000u + later.records.size());
  EXPECT_TRUE(visited_prefix(later, v, later.records.size()));
  const scan_result r3 = run_scan(later.data, 1001, v);
  EXPECT_EQ(r3.how, end::clean) << r3.why;
  EXPECT_EQ(r3.records, later.records.size());

  // An empty file is clean and holds nothing.
  const std::vector<std::byte> none;
  const scan_result r4 = run_scan(none, 1, v);
  EXPECT_EQ(r4.how, end::clean);
  EXPECT_EQ(r4.records, 0u);
  EXPECT_EQ(r4.valid_bytes, 0u);
  EXPECT_TRUE(v.empty());
}

// A crash mid-write leaves any prefix of the file: cut at every byte offset of the whole
// buffer (which includes every offset within the last three records).
TEST(JournalScan, CutAtEveryByteIsATornTailOrCleanAtABoundary) {
  const journal_buffer b = make_buffer(5, 1, 12, 4);
  ASSERT_GE(b.records.size(), 3u);
  std::vector<visited> v;
  std::size_t torn = 0, clean = 0;
  for (std::uint64_t cut = 0; cut <= b.data.size(); ++cut) {
    const std::vector<std::byte> data(b.data.begin(), b.data.begin() + static_cast<long>(cut));
    // Whole records before the cut.
    std::size_t whole = 0;
    while (whole < b.records.size() && b.records[whole].offset + b.records[whole].size <= cut)
      ++whole;
    const std::uint64_t boundary =
        whole == 0 ? 0 : b.records[whole - 1].offset + b.records[whole - 1].size;
    for (const std::uint64_t expected : {std::uint64_t{1}, std::uint64_t{0}}) {
      const scan_result r = run_scan(data, expected, v);
      ASSERT_TRUE(visited_prefix(b, v, whole)) << "cut at " << cut;
      ASSERT_EQ(r.records, whole) << "cut at " << cut;
      ASSERT_EQ(r.valid_bytes, boundary) << "cut at " << cut;
      if (cut == boundary) {
        ASSERT_EQ(r.how, end::clean) << "cut at " << cut << ": " << r.why;
      } else {
        ASSERT_EQ(r.how, end::torn_tail)
            << "cut at " << cut << " (" << end_name(r.how) << "): " << r.why;
        ASSERT_EQ(r.bad_offset, boundary) << "cut at " << cut;
      }
    }
    (cut == boundary ? clean : torn) += 1;
  }
  EXPECT_EQ(clean, b.records.size() + 1);
  EXPECT_GT(torn, 0u);
}

// A file padded with zeros after its last record (preallocation, or a tail of pages that
// were allocated but never written) ends in a torn tail at the last record.
TEST(JournalScan, ZeroPaddingAfterTheLastRecordIsATornTail) {
  journal_buffer b = make_buffer(6, 1, 10, 3);
  const std::uint64_t size = b.data.size();
  b.data.resize(size + 4096, std::byte{0});
  std::vector<visited> v;
  const scan_result r = run_scan(b.data, 1, v);
  EXPECT_EQ(r.how, end::torn_tail);
  EXPECT_EQ(r.valid_bytes, size);
  EXPECT_EQ(r.bad_offset, size);
  EXPECT_TRUE(visited_prefix(b, v, b.records.size()));
}

// One bit flipped anywhere: the scan visits exactly the records before the damaged one
// (never the damaged one or anything after it), and calls the damage a torn tail when it
// is in the last group and corruption when a later group follows it intact.
void flip_bits(const journal_buffer& b, std::uint64_t expected_lsn, std::uint64_t seed, int flips) {
  std::mt19937_64 rng(seed);
  std::vector<visited> v;
  std::vector<std::byte> data = b.data;
  std::size_t corrupt = 0, torn = 0;
  for (int i = 0; i < flips; ++i) {
    const std::uint64_t at = rng() % data.size();
    const auto bit = static_cast<std::byte>(1u << (rng() % 8));
    data[at] ^= bit;
    const scan_result r = run_scan(data, expected_lsn, v);
    data[at] ^= bit;  // undo for the next round

    const std::size_t k = b.record_at(at);
    const std::string where = "flip #" + std::to_string(i) + " at byte " + std::to_string(at) +
                              " (record " + std::to_string(k) + ", group " +
                              std::to_string(b.records[k].group) + " of " +
                              std::to_string(b.groups) + ")";
    // The property asked for: whatever is visited is an intact prefix.
    ASSERT_TRUE(visited_some_prefix(b, v)) << where;
    // And exactly: the records before the damaged one.
    ASSERT_TRUE(visited_prefix(b, v, k)) << where;
    ASSERT_EQ(r.records, k) << where;
    ASSERT_EQ(r.valid_bytes, b.records[k].offset) << where;
    ASSERT_EQ(r.bad_offset, b.records[k].offset) << where;
    const end want = b.in_last_group(k) ? end::torn_tail : end::corrupt;
    ASSERT_EQ(r.how, want) << where << ": got " << end_name(r.how) << " (" << r.why << ")";
    (want == end::corrupt ? corrupt : torn) += 1;
  }
  // The buffer makes both outcomes likely; make sure both were exercised.
  EXPECT_GT(corrupt, 0u);
  EXPECT_GT(torn, 0u);
}

TEST(JournalScan, TenThousandBitFlipsNeverApplyABadRecord) {
  // 16 groups of 1 to 4 records; the last group is made large so that flips land in it
  // often enough (about a third of the time).
  journal_buffer b = make_buffer(7, 1, 16, 4);
  {
    // Rebuild with a big last group: 8 records.
    std::mt19937_64 rng(70);
    const std::uint64_t group_lsn = b.records.back().lsn + 1;
    for (std::uint64_t lsn = group_lsn; lsn < group_lsn + 8; ++lsn) {
      const record_type t = record_type::transfers_committed;
      written w{b.data.size(), 0, lsn, group_lsn, b.groups, t, random_payload(rng, t, 2)};
      append_record(b.data, t, lsn, group_lsn, w.payload);
      w.size = b.data.size() - w.offset;
      b.records.push_back(std::move(w));
    }
    b.groups += 1;
  }
  flip_bits(b, 1, 700, 10'000);
}

// The same on a file that starts later in the journal, scanned with its first LSN known.
TEST(JournalScan, BitFlipsInALaterFileWithItsFirstLsnKnown) {
  const journal_buffer b = make_buffer(8, 5001, 10, 5);
  flip_bits(b, 5001, 800, 2'000);
}

// A crash can tear the last group "in any pattern of its pages": lose (zero) any set of
// 512-byte pages that overlap the last group. Always a torn tail, cut at the first
// damaged record.
TEST(JournalScan, LostPagesInTheLastGroupAreATornTail) {
  // Records of 3 entries of 160 bytes: each about 512 bytes, so pages cut records anywhere.
  journal_buffer b = make_buffer(9, 1, 6, 3, 3);
  {
    std::mt19937_64 rng(90);
    const std::uint64_t group_lsn = b.records.back().lsn + 1;
    for (std::uint64_t lsn = group_lsn; lsn < group_lsn + 10; ++lsn) {
      const record_type t = record_type::transfers_committed;
      written w{b.data.size(), 0, lsn, group_lsn, b.groups, t, random_payload(rng, t, 3)};
      append_record(b.data, t, lsn, group_lsn, w.payload);
      w.size = b.data.size() - w.offset;
      b.records.push_back(std::move(w));
    }
    b.groups += 1;
  }
  std::size_t first_of_last = 0;
  while (!b.in_last_group(first_of_last)) ++first_of_last;
  const std::uint64_t last_group_at = b.records[first_of_last].offset;
  constexpr std::uint64_t page = 512;
  const std::uint64_t first_page = (last_group_at + page - 1) / page;  // wholly in the group
  const std::uint64_t pages = (b.data.size() + page - 1) / page;
  ASSERT_GT(pages, first_page + 4);

  std::mt19937_64 rng(91);
  std::vector<visited> v;
  for (int round = 0; round < 500; ++round) {
    std::vector<std::byte> data = b.data;
    // Lose each page of the last group with probability 1/3 (at least one).
    bool any = false;
    for (std::uint64_t p = first_page; p < pages; ++p) {
      if (rng() % 3 != 0 && !(p + 1 == pages && !any)) continue;
      any = true;
      const std::uint64_t from = p * page, to = std::min<std::uint64_t>(from + page, data.size());
      for (std::uint64_t i = from; i < to; ++i) data[i] = std::byte{0};
    }
    // Sometimes the file also ends early (the size was not updated either).
    if (rng() % 4 == 0) data.resize(last_group_at + rng() % (data.size() - last_group_at));
    // The first record whose bytes differ or are missing.
    std::uint64_t first_diff = data.size();
    for (std::uint64_t i = 0; i < data.size(); ++i) {
      if (data[i] != b.data[i]) {
        first_diff = i;
        break;
      }
    }
    std::size_t k = b.record_at(first_diff);
    if (first_diff == data.size() && data.size() < b.data.size()) {
      // Nothing differs but the file is short: the first record that does not fit.
      k = 0;
      while (k < b.records.size() && b.records[k].offset + b.records[k].size <= data.size()) ++k;
    }
    if (k == b.records.size()) continue;  // no damage after all
    const scan_result r = run_scan(data, 1, v);
    ASSERT_EQ(r.how, end::torn_tail)
        << "round " << round << ": " << end_name(r.how) << " (" << r.why << ")";
    ASSERT_TRUE(visited_prefix(b, v, k)) << "round " << round;
    ASSERT_EQ(r.valid_bytes, b.records[k].offset) << "round " << round;
  }
}

// Damage to a record of an earlier group, with later groups intact after it, is corruption:
// that group had been made durable and acknowledged.
TEST(JournalScan, DamageBeforeALaterGroupIsCorruption) {
  const journal_buffer b = make_buffer(10, 1, 8, 3);
  std::vector<visited> v;
  for (std::size_t k = 0; k < b.records.size(); ++k) {
    if (b.in_last_group(k)) break;
    SCOPED_TRACE("record " + std::to_string(k));
    // Lose the whole record (zeros), as a lost page would.
    std::vector<std::byte> data = b.data;
    std::fill(data.begin() + static_cast<long>(b.records[k].offset),
              data.begin() + static_cast<long>(b.records[k].offset + b.records[k].size),
              std::byte{0});
    const scan_result r = run_scan(data, 1, v);
    EXPECT_EQ(r.how, end::corrupt) << r.why;
    EXPECT_EQ(r.bad_offset, b.records[k].offset);
    EXPECT_TRUE(visited_prefix(b, v, k));
  }
}

// The first group of a file torn at its first record while later records of the same
// group reached the disk: still a torn tail when the scan knows the file's first LSN.
TEST(JournalScan, TornFirstRecordOfAFileWithItsFirstLsnKnownIsATornTail) {
  std::mt19937_64 rng(11);
  journal_buffer b;
  for (std::uint64_t lsn = 301; lsn <= 305; ++lsn) {
    const record_type t = record_type::transfers_committed;
    written w{b.data.size(), 0, lsn, 301, 0, t, random_payload(rng, t, 1)};
    append_record(b.data, t, lsn, 301, w.payload);
    w.size = b.data.size() - w.offset;
    b.records.push_back(std::move(w));
  }
  b.groups = 1;
  std::vector<std::byte> data = b.data;
  data[40] ^= std::byte{0x10};  // inside the first record's payload
  std::vector<visited> v;
  const scan_result r = run_scan(data, 301, v);
  EXPECT_EQ(r.how, end::torn_tail) << r.why;
  EXPECT_EQ(r.valid_bytes, 0u);
  EXPECT_TRUE(v.empty());
}

// ---------------------------------------------------------------------------------------
// LSNs

TEST(JournalScan, LsnGapIsCorruption) {
  std::mt19937_64 rng(12);
  std::vector<std::byte> data;
  const auto p = random_payload(rng, record_type::failures, 1);
  append_record(data, record_type::failures, 1, 1, p);
  append_record(data, record_type::failures, 2, 2, p);
  const std::uint64_t third = data.size();
  append_record(data, record_type::failures, 4, 4, p);  // 3 is missing
  append_record(data, record_type::failures, 5, 4, p);
  std::size_t n = 0;
  const scan_result r = scan(data, 1, [&](const record_view&) { ++n; });
  EXPECT_EQ(r.how, end::corrupt);
  EXPECT_EQ(r.bad_offset, third);
  EXPECT_EQ(r.valid_bytes, third);
  EXPECT_EQ(r.records, 2u);
  EXPECT_EQ(n, 2u);
  EXPECT_NE(r.why.find("LSN"), std::string::npos) << r.why;

  // Also when the gap is in the very last record (it is whole and valid: not a torn tail).
  std::vector<std::byte> tail;
  append_record(tail, record_type::failures, 1, 1, p);
  append_record(tail, record_type::failures, 3, 3, p);
  n = 0;
  const scan_result r2 = scan(tail, 0, [&](const record_view&) { ++n; });
  EXPECT_EQ(r2.how, end::corrupt);
  EXPECT_EQ(n, 1u);

  // A repeated LSN, and an LSN going back.
  std::vector<std::byte> dup;
  append_record(dup, record_type::failures, 7, 7, p);
  append_record(dup, record_type::failures, 8, 8, p);
  append_record(dup, record_type::failures, 8, 8, p);
  n = 0;
  EXPECT_EQ(scan(dup, 7, [&](const record_view&) { ++n; }).how, end::corrupt);
  EXPECT_EQ(n, 2u);
  std::vector<std::byte> back;
  append_record(back, record_type::failures, 7, 7, p);
  append_record(back, record_type::failures, 6, 6, p);
  n = 0;
  EXPECT_EQ(scan(back, 0, [&](const record_view&) { ++n; }).how, end::corrupt);
  EXPECT_EQ(n, 1u);
}

TEST(JournalScan, FirstRecordMustHaveTheExpectedLsn) {
  std::mt19937_64 rng(13);
  std::vector<std::byte> data;
  const auto p = random_payload(rng, record_type::pendings_expired, 3);
  append_record(data, record_type::pendings_expired, 10, 10, p);
  append_record(data, record_type::pendings_expired, 11, 10, p);
  std::size_t n = 0;
  const scan_result r = scan(data, 9, [&](const record_view&) { ++n; });
  EXPECT_EQ(r.how, end::corrupt);
  EXPECT_EQ(r.bad_offset, 0u);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(scan(data, 10, [](const record_view&) {}).how, end::clean);
  EXPECT_EQ(scan(data, 0, [](const record_view&) {}).how, end::clean);
}

// ---------------------------------------------------------------------------------------
// File names

TEST(JournalFileNames, RoundTrip) {
  EXPECT_EQ(journal_file_name(1), "journal-00000000000000000001.rmj");
  EXPECT_EQ(snapshot_file_name(42), "snapshot-00000000000000000042.rms");
  for (const std::uint64_t n :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{42}, std::uint64_t{1234567890123},
        std::uint64_t{10'000'000'000'000'000'000ull}, UINT64_MAX - 1, UINT64_MAX}) {
    std::uint64_t back = 12345;
    EXPECT_TRUE(parse_journal_file_name(journal_file_name(n), back)) << n;
    EXPECT_EQ(back, n);
    back = 12345;
    EXPECT_TRUE(parse_snapshot_file_name(snapshot_file_name(n), back)) << n;
    EXPECT_EQ(back, n);
    // Neither kind parses as the other.
    EXPECT_FALSE(parse_snapshot_file_name(journal_file_name(n), back));
    EXPECT_FALSE(parse_journal_file_name(snapshot_file_name(n), back));
  }
  // Names sort like their numbers (a directory listing in name order is in LSN order).
  EXPECT_LT(journal_file_name(9), journal_file_name(10));
  EXPECT_LT(journal_file_name(99999), journal_file_name(100000));
}

TEST(JournalFileNames, RejectsBadNames) {
  const std::string good = journal_file_name(77);
  const std::vector<std::string> bad_journals = {
      "",
      "journal-.rmj",
      "journal-1.rmj",
      "journal-0000000000000000077.rmj",    // 19 digits
      "journal-000000000000000000077.rmj",  // 21 digits
      "journal-0000000000000000007x.rmj",
      "journal-000000000000000000-7.rmj",
      "journal-+0000000000000000077.rmj",
      "journal- 0000000000000000077.rmj",
      "Journal-00000000000000000077.rmj",
      "journal_00000000000000000077.rmj",
      "journal-00000000000000000077.rmj.tmp",
      "." + good + ".tmp",
      good + " ",
      " " + good,
      "journal-00000000000000000077.rms",
      "journal-00000000000000000077.RMJ",
      "journal-00000000000000000077",
      "journal-00000000000000000077.rm",
  };
  for (const auto& n : bad_journals) {
    std::uint64_t v = 999;
    EXPECT_FALSE(parse_journal_file_name(n, v)) << "'" << n << "'";
    EXPECT_EQ(v, 999u) << "'" << n << "' changed the output";
  }
  const std::string snap = snapshot_file_name(77);
  const std::vector<std::string> bad_snapshots = {
      "",
      "snapshot-77.rms",
      "snapshot-0000000000000000077.rms",
      "snapshot-0000000000000000007x.rms",
      "." + snap + ".tmp",  // what write_file_atomically leaves if it crashes mid-way
      snap + ".tmp",
      "snapshot-00000000000000000077.rmj",
  };
  for (const auto& n : bad_snapshots) {
    std::uint64_t v = 999;
    EXPECT_FALSE(parse_snapshot_file_name(n, v)) << "'" << n << "'";
  }
}

// Regression (found by this suite, fixed in 2931532): a 20-digit number above 2^64-1 was
// accepted and wrapped around (18446744073709551617 -> 1), so a stray file with such a name
// would have been taken for the journal file that starts at LSN 1. No LSN gives these names:
// "false for anything else".
TEST(JournalFileNames, NumbersAboveUint64MaxAreRejectedNotWrapped) {
  for (const char* n : {"journal-18446744073709551616.rmj", "journal-18446744073709551617.rmj",
                        "journal-99999999999999999999.rmj"}) {
    std::uint64_t v = 999;
    EXPECT_FALSE(parse_journal_file_name(n, v)) << n << " parsed as " << v;
  }
  std::uint64_t v = 999;
  EXPECT_FALSE(parse_snapshot_file_name("snapshot-99999999999999999999.rms", v))
      << "parsed as " << v;
}

}  // namespace
}  // namespace remit::journal
