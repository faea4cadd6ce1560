// transfer_store: records by id and by index; the histories of both accounts of a record in
// both orders; a record older than some already there lands in place in both lists; pop_back
// undoes the newest record whole; account_transfers applies each AccountFilter field.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/transfer_store.hpp"
#include "engine/types.hpp"
#include "tests/support/builders.hpp"

namespace remit {
namespace {

constexpr u128 a = 1;
constexpr u128 b = 2;
constexpr u128 c = 3;
constexpr u128 d = 4;

stored_transfer record(u128 id, u128 debit, u128 credit, std::uint64_t ts) {
  stored_transfer s;
  s.t = test::make_transfer(id, debit, credit, 10);
  s.t.timestamp = ts;
  return s;
}

// The ids of an account's history, in the order asked.
std::vector<std::uint64_t> history(const transfer_store& s, u128 account, bool newest_first) {
  std::vector<std::uint64_t> ids;
  s.for_each_of_account(account, newest_first, [&](const stored_transfer& r) {
    ids.push_back(static_cast<std::uint64_t>(r.t.id));
    return true;
  });
  return ids;
}

using ids = std::vector<std::uint64_t>;

TEST(engine_transfer_store, add_find_and_index_of) {
  transfer_store s;
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.add(record(11, a, b, 100)), 0u);
  EXPECT_EQ(s.add(record(12, b, c, 200)), 1u);
  EXPECT_EQ(s.add(record(13, c, a, 300)), 2u);
  ASSERT_EQ(s.size(), 3u);

  EXPECT_EQ(s.index_of(12), 1u);
  EXPECT_EQ(s.index_of(99), transfer_store::no_record);
  const transfer_store& cs = s;
  ASSERT_NE(cs.find(13), nullptr);
  EXPECT_EQ(cs.find(13)->t.timestamp, 300u);
  EXPECT_EQ(cs.find(99), nullptr);
  EXPECT_EQ(s.at(0).t.id, u128{11});
  EXPECT_EQ(cs.at(2).t.debit_account_id, c);

  // Found records are the stored ones: a change through find is seen by at.
  s.find(11)->state = pending_state::posted;
  EXPECT_EQ(s.at(0).state, pending_state::posted);

  ids order;
  s.for_each(
      [&](const stored_transfer& r) { order.push_back(static_cast<std::uint64_t>(r.t.id)); });
  EXPECT_EQ(order, (ids{11, 12, 13}));
}

TEST(engine_transfer_store, histories_of_both_accounts_in_both_orders) {
  transfer_store s;
  s.add(record(1, a, b, 10));
  s.add(record(2, b, c, 20));
  s.add(record(3, c, a, 30));
  s.add(record(4, a, b, 40));
  EXPECT_EQ(history(s, a, true), (ids{4, 3, 1}));
  EXPECT_EQ(history(s, a, false), (ids{1, 3, 4}));
  EXPECT_EQ(history(s, b, true), (ids{4, 2, 1}));
  EXPECT_EQ(history(s, b, false), (ids{1, 2, 4}));
  EXPECT_EQ(history(s, c, true), (ids{3, 2}));
  EXPECT_EQ(history(s, c, false), (ids{2, 3}));
  EXPECT_EQ(history(s, d, true), ids{});
  EXPECT_EQ(history(s, 0, false), ids{});
}

TEST(engine_transfer_store, walk_stops_when_visit_returns_false) {
  transfer_store s;
  for (std::uint64_t i = 1; i <= 5; ++i) s.add(record(i, a, b, i * 10));
  for (const bool newest_first : {true, false}) {
    ids seen;
    s.for_each_of_account(a, newest_first, [&](const stored_transfer& r) {
      seen.push_back(static_cast<std::uint64_t>(r.t.id));
      return seen.size() < 2;
    });
    EXPECT_EQ(seen, newest_first ? (ids{5, 4}) : (ids{1, 2}));
  }
}

TEST(engine_transfer_store, older_record_lands_in_place_in_both_lists) {
  transfer_store s;
  s.add(record(1, a, b, 10));
  s.add(record(2, a, b, 30));
  s.add(record(3, c, d, 50));  // the newest so far, in no list of a or b
  s.add(record(4, b, a, 20));  // between 1 and 2 in both lists
  s.add(record(5, a, b, 5));   // older than every one
  s.add(record(6, d, a, 40));  // newer than every one of a, older than 3
  EXPECT_EQ(history(s, a, true), (ids{6, 2, 4, 1, 5}));
  EXPECT_EQ(history(s, a, false), (ids{5, 1, 4, 2, 6}));
  EXPECT_EQ(history(s, b, true), (ids{2, 4, 1, 5}));
  EXPECT_EQ(history(s, d, true), (ids{3, 6}));
  EXPECT_EQ(history(s, c, true), (ids{3}));
}

// The first record of both its accounts still bounds the timestamps that come after it: a
// later, older record of one of them must go behind it, not in front.
TEST(engine_transfer_store, older_record_after_one_that_opened_both_histories) {
  transfer_store s;
  s.add(record(1, a, b, 100));
  s.add(record(2, a, c, 70));
  s.add(record(3, c, b, 80));
  EXPECT_EQ(history(s, a, true), (ids{1, 2}));
  EXPECT_EQ(history(s, b, true), (ids{1, 3}));
  EXPECT_EQ(history(s, c, true), (ids{3, 2}));
}

TEST(engine_transfer_store, pop_back_restores_heads_and_index) {
  transfer_store s;
  s.add(record(1, a, b, 10));
  s.add(record(2, b, c, 20));
  s.add(record(3, c, a, 30));
  s.pop_back();  // 3
  s.pop_back();  // 2: c is left with no history
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s.find(2), nullptr);
  EXPECT_EQ(s.find(3), nullptr);
  EXPECT_EQ(s.index_of(3), transfer_store::no_record);
  EXPECT_EQ(history(s, a, true), (ids{1}));
  EXPECT_EQ(history(s, b, true), (ids{1}));
  EXPECT_EQ(history(s, c, true), ids{});

  // Ids and indexes are free again; the lists grow from the heads that were restored.
  EXPECT_EQ(s.add(record(3, a, c, 40)), 1u);
  EXPECT_EQ(s.index_of(3), 1u);
  EXPECT_EQ(s.find(3)->t.credit_account_id, c);
  EXPECT_EQ(s.at(1).state, pending_state::none);
  EXPECT_EQ(history(s, a, true), (ids{3, 1}));
  EXPECT_EQ(history(s, c, false), (ids{3}));
  EXPECT_EQ(history(s, b, true), (ids{1}));
}

// After a pop the bound on timestamps may be higher than any left; a record older than the
// popped one still lands in order.
TEST(engine_transfer_store, add_after_pop_of_the_newest_keeps_order) {
  transfer_store s;
  s.add(record(1, a, b, 10));
  s.add(record(2, a, b, 30));
  s.add(record(3, a, b, 50));
  s.pop_back();
  s.add(record(4, b, a, 20));
  s.add(record(5, a, b, 40));
  EXPECT_EQ(history(s, a, true), (ids{5, 2, 4, 1}));
  EXPECT_EQ(history(s, b, false), (ids{1, 4, 2, 5}));
}

TEST(engine_transfer_store, pop_back_to_empty) {
  transfer_store s;
  s.add(record(1, a, b, 10));
  s.add(record(2, b, a, 20));
  s.pop_back();
  s.pop_back();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(history(s, a, true), ids{});
  EXPECT_EQ(history(s, b, false), ids{});
  EXPECT_EQ(s.add(record(2, b, a, 30)), 0u);
  EXPECT_EQ(history(s, a, true), (ids{2}));
}

// ---------------------------------------------------------------------------------------
// account_transfers

account_filter filter(u128 account, std::uint64_t ts_min, std::uint64_t ts_max, std::uint32_t limit,
                      std::uint32_t flags) {
  account_filter f{};
  f.account_id = account;
  f.timestamp_min = ts_min;
  f.timestamp_max = ts_max;
  f.limit = limit;
  f.flags = flags;
  return f;
}

struct filter_row {
  std::string name;
  account_filter f;
  ids want;
};

TEST(engine_transfer_store, account_transfers_applies_each_filter_field) {
  // Account a: debited by 1, 3, 5, 7 and credited by 2, 4, 6, 8, at ts = 10 x id; transfers
  // of other accounts in between. Added out of order, to check the order given.
  transfer_store s;
  for (const std::uint64_t i : {2, 1, 3, 5, 4, 6, 8, 7}) {
    s.add(i % 2 == 1 ? record(i, a, b, i * 10) : record(i, c, a, i * 10));
    s.add(record(100 + i, b, c, i * 10 + 5));
  }
  constexpr std::uint32_t dr = account_filter_flags::debits;
  constexpr std::uint32_t cr = account_filter_flags::credits;
  constexpr std::uint32_t rev = account_filter_flags::reversed;
  const std::vector<filter_row> rows = {
      {"both sides, oldest first", filter(a, 0, 0, 100, dr | cr), {1, 2, 3, 4, 5, 6, 7, 8}},
      {"reversed: newest first", filter(a, 0, 0, 100, dr | cr | rev), {8, 7, 6, 5, 4, 3, 2, 1}},
      {"debits only", filter(a, 0, 0, 100, dr), {1, 3, 5, 7}},
      {"credits only", filter(a, 0, 0, 100, cr), {2, 4, 6, 8}},
      {"credits only, reversed", filter(a, 0, 0, 100, cr | rev), {8, 6, 4, 2}},
      {"limit: the oldest", filter(a, 0, 0, 3, dr | cr), {1, 2, 3}},
      {"limit reversed: the newest", filter(a, 0, 0, 3, dr | cr | rev), {8, 7, 6}},
      {"limit counts matches only", filter(a, 0, 0, 2, cr), {2, 4}},
      {"timestamp_min inclusive", filter(a, 30, 0, 100, dr | cr), {3, 4, 5, 6, 7, 8}},
      {"timestamp_min between", filter(a, 31, 0, 100, dr | cr | rev), {8, 7, 6, 5, 4}},
      {"timestamp_max inclusive", filter(a, 0, 60, 100, dr | cr), {1, 2, 3, 4, 5, 6}},
      {"timestamp_max reversed", filter(a, 0, 59, 100, dr | cr | rev), {5, 4, 3, 2, 1}},
      {"both bounds", filter(a, 30, 60, 100, dr | cr), {3, 4, 5, 6}},
      {"both bounds, debits, limit", filter(a, 20, 80, 2, dr | rev), {7, 5}},
      {"one timestamp", filter(a, 40, 40, 100, dr | cr), {4}},
      {"bounds between transfers", filter(a, 41, 49, 100, dr | cr), {}},
      {"after the newest", filter(a, 81, 0, 100, dr | cr), {}},
      {"unknown account", filter(d + 10, 0, 0, 100, dr | cr), {}},
      {"account 0", filter(0, 0, 0, 100, dr | cr), {}},
  };
  for (const filter_row& row : rows) {
    ids got;
    account_transfers(s, row.f,
                      [&](const transfer& t) { got.push_back(static_cast<std::uint64_t>(t.id)); });
    EXPECT_EQ(got, row.want) << row.name;
  }
}

}  // namespace
}  // namespace remit
