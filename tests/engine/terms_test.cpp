// The term history (engine/terms.hpp): its helpers; replay of term_started records (a newer
// term starts at the record's LSN, the same term again changes nothing, an older one is an
// assertion); and snapshots that keep it: a round trip, a snapshot written before there was
// a history (its count 0) that reads as before, and a damaged count or history refused.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/crc32c.hpp"
#include "engine/journal_format.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/terms.hpp"
#include "engine/types.hpp"

namespace remit {
namespace {

// One record, written and read back as replay gets it.
class record_source {
 public:
  const journal::record_view& make(journal::record_type type, std::uint64_t lsn,
                                   std::span<const std::byte> payload) {
    buffer_.clear();
    journal::append_record(buffer_, type, lsn, lsn, payload);
    std::string why;
    EXPECT_TRUE(journal::parse_record(buffer_, 0, view_, &why)) << why;
    return view_;
  }
  const journal::record_view& term(std::uint64_t term, std::uint64_t lsn) {
    journal::term_entry e{};
    e.term = term;
    return make(journal::record_type::term_started, lsn,
                std::as_bytes(std::span<const journal::term_entry>(&e, 1)));
  }
  const journal::record_view& account_created(u128 id, std::uint64_t lsn) {
    account a{};
    a.id = id;
    a.ledger = 1;
    a.code = 1;
    a.timestamp = 1000 + lsn;
    return make(journal::record_type::accounts_created, lsn,
                std::as_bytes(std::span<const account>(&a, 1)));
  }

 private:
  std::vector<std::byte> buffer_;
  journal::record_view view_{};
};

// A ledger replayed from: account 1 (LSN 1), term 3 (2), account 2 (3), term 3 again (4),
// term 5 (5), account 3 (6).
reference_ledger ledger_with_terms() {
  reference_ledger l;
  record_source r;
  l.replay(r.account_created(1, 1));
  l.replay(r.term(3, 2));
  l.replay(r.account_created(2, 3));
  l.replay(r.term(3, 4));
  l.replay(r.term(5, 5));
  l.replay(r.account_created(3, 6));
  return l;
}

using history = std::vector<term_start>;

TEST(engine_terms, helpers) {
  history h;
  EXPECT_EQ(last_term(h), 0u);
  EXPECT_TRUE(add_term_start(h, 2, 1));
  EXPECT_FALSE(add_term_start(h, 2, 7));  // a restart in its own term
  EXPECT_TRUE(add_term_start(h, 4, 9));
  EXPECT_EQ(h, (history{{2, 1}, {4, 9}}));
  EXPECT_EQ(last_term(h), 4u);
  std::string why;
  EXPECT_TRUE(valid_term_history(h, 9, why)) << why;
  EXPECT_TRUE(valid_term_history({}, 0, why)) << why;
  EXPECT_FALSE(valid_term_history(h, 8, why));  // a start past the last LSN
  EXPECT_FALSE(valid_term_history(history{{4, 1}, {4, 9}}, 9, why));
  EXPECT_FALSE(valid_term_history(history{{4, 1}, {3, 9}}, 9, why));
  EXPECT_FALSE(valid_term_history(history{{1, 5}, {3, 5}}, 9, why));
  EXPECT_FALSE(valid_term_history(history{{0, 1}}, 9, why));
  EXPECT_FALSE(valid_term_history(history{{1, 0}}, 9, why));
}

TEST(engine_terms, replay_starts_a_newer_term_at_the_records_lsn) {
  const reference_ledger l = ledger_with_terms();
  EXPECT_EQ(l.term_history(), (history{{3, 2}, {5, 5}}));
  EXPECT_EQ(l.last_term(), 5u);
  EXPECT_EQ(l.account_count(), 3u);
  // A live engine's record: the same rule.
  reference_ledger live = ledger_with_terms();
  EXPECT_FALSE(live.add_term(5, 7));
  EXPECT_TRUE(live.add_term(6, 7));
  EXPECT_EQ(live.term_history(), (history{{3, 2}, {5, 5}, {6, 7}}));
}

TEST(engine_terms, a_ledger_without_term_records_has_no_history) {
  reference_ledger l;
  record_source r;
  l.replay(r.account_created(1, 1));
  EXPECT_TRUE(l.term_history().empty());
  EXPECT_EQ(l.last_term(), 0u);
}

TEST(engine_terms_death, an_older_term_is_an_assertion) {
  EXPECT_DEATH(
      {
        reference_ledger l = ledger_with_terms();
        record_source r;
        l.replay(r.term(4, 7));
      },
      "assertion failed");
}

TEST(engine_terms, snapshot_keeps_the_history) {
  const reference_ledger l = ledger_with_terms();
  std::vector<std::byte> snap;
  l.write_snapshot(snap, 6);
  reference_ledger back;
  std::uint64_t lsn = 0;
  std::string why;
  ASSERT_TRUE(back.read_snapshot(snap, lsn, why)) << why;
  EXPECT_EQ(lsn, 6u);
  EXPECT_EQ(back.term_history(), l.term_history());
  EXPECT_EQ(back.account_count(), 3u);
  // And what replays after it goes on from there.
  record_source r;
  back.replay(r.term(9, 7));
  EXPECT_EQ(back.term_history(), (history{{3, 2}, {5, 5}, {9, 7}}));
  // Written again, the same bytes: nothing was lost on the way.
  std::vector<std::byte> again;
  ledger_with_terms().write_snapshot(again, 6);
  EXPECT_TRUE(again == snap);
}

// The header's fields this test changes (reference_ledger.cpp's snapshot_header).
constexpr std::size_t crc_offset = 48;
constexpr std::size_t terms_offset = 56;

void set_u64(std::vector<std::byte>& b, std::size_t at, std::uint64_t v) {
  std::memcpy(b.data() + at, &v, sizeof v);
}
void reseal(std::vector<std::byte>& b) {
  std::memset(b.data() + crc_offset, 0, 4);
  const std::uint32_t crc = crc32c(b.data(), b.size());
  std::memcpy(b.data() + crc_offset, &crc, sizeof crc);
}

TEST(engine_terms, snapshot_without_terms_reads_as_before) {
  // A snapshot written before there was a history: no entries, the count (then reserved) 0.
  std::vector<std::byte> snap;
  ledger_with_terms().write_snapshot(snap, 6);
  snap.resize(snap.size() - 2 * 16);
  set_u64(snap, terms_offset, 0);
  reseal(snap);
  reference_ledger back;
  std::uint64_t lsn = 0;
  std::string why;
  ASSERT_TRUE(back.read_snapshot(snap, lsn, why)) << why;
  EXPECT_EQ(lsn, 6u);
  EXPECT_TRUE(back.term_history().empty());
  EXPECT_EQ(back.account_count(), 3u);
  // It is exactly what a ledger without terms writes.
  reference_ledger plain;
  record_source r;
  plain.replay(r.account_created(1, 1));
  std::vector<std::byte> plain_snap;
  plain.write_snapshot(plain_snap, 1);
  std::uint64_t count = 1;
  std::memcpy(&count, plain_snap.data() + terms_offset, sizeof count);
  EXPECT_EQ(count, 0u);
}

TEST(engine_terms, snapshot_with_a_damaged_count_or_history_is_refused) {
  std::vector<std::byte> good;
  ledger_with_terms().write_snapshot(good, 6);
  const auto refused = [](const std::vector<std::byte>& b, const std::string& expected) {
    reference_ledger l;
    std::uint64_t lsn = 0;
    std::string why;
    EXPECT_FALSE(l.read_snapshot(b, lsn, why));
    EXPECT_NE(why.find(expected), std::string::npos) << why;
  };
  for (const std::uint64_t count :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{3}, std::uint64_t{1} << 60, UINT64_MAX}) {
    std::vector<std::byte> b = good;
    set_u64(b, terms_offset, count);
    reseal(b);
    refused(b, "size");
  }
  {
    std::vector<std::byte> b = good;
    set_u64(b, terms_offset, 1);  // not resealed: the count is covered by the CRC
    b.resize(b.size() - 16);
    refused(b, "CRC");
  }
  {
    std::vector<std::byte> b = good;
    b[b.size() - 16] ^= std::byte{1};  // an entry's term: covered by the CRC
    refused(b, "CRC");
  }
  {
    // Sealed, but the terms go backwards: never written by the rule.
    std::vector<std::byte> b = good;
    set_u64(b, b.size() - 16, 2);
    reseal(b);
    refused(b, "term history");
  }
  {
    // Sealed, but a term starts after the snapshot's LSN.
    std::vector<std::byte> b = good;
    set_u64(b, b.size() - 8, 7);
    reseal(b);
    refused(b, "term history");
  }
}

}  // namespace
}  // namespace remit
