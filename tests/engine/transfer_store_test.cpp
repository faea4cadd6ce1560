// transfer_store: records by id and by index; the histories of both accounts of a record in
// both orders; a record older than some already there lands in place in both lists, in the
// same order as a walk from the newest would put it, for any interleaving of requests, and a
// request's records after its first take no step past its finger; pop_back undoes the newest
// record whole; account_transfers applies each AccountFilter field.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
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
// Inserting in place, against the plain walk from the newest

// The lists as the walk from the newest builds them: each account's ids newest first, a
// record going behind every one with a later timestamp (ties: the later added is the newer).
class walk_model {
 public:
  void add(std::uint64_t id, u128 debit, u128 credit, std::uint64_t ts) {
    ts_[id] = ts;
    added_.push_back({id, debit, credit});
    insert(lists_[debit], id, ts);
    insert(lists_[credit], id, ts);
  }
  // Whether the last record added is the newest of both its accounts (what pop_back needs).
  bool last_is_newest() const {
    if (added_.empty()) return false;
    const entry& e = added_.back();
    return lists_.at(e.debit).front() == e.id && lists_.at(e.credit).front() == e.id;
  }
  void pop_back() {
    const entry e = added_.back();
    added_.pop_back();
    for (const u128 acc : {e.debit, e.credit}) {
      ids& l = lists_[acc];
      ASSERT_EQ(l.front(), e.id);
      l.erase(l.begin());
      if (l.empty()) lists_.erase(acc);
    }
  }
  const std::map<u128, ids>& lists() const { return lists_; }

 private:
  struct entry {
    std::uint64_t id;
    u128 debit;
    u128 credit;
  };
  void insert(ids& l, std::uint64_t id, std::uint64_t ts) {
    auto at = l.begin();
    while (at != l.end() && ts_[*at] > ts) ++at;
    l.insert(at, id);
  }
  std::map<std::uint64_t, std::uint64_t> ts_;
  std::vector<entry> added_;
  std::map<u128, ids> lists_;
};

void expect_same_lists(const transfer_store& s, const walk_model& m, u128 accounts_max,
                       const std::string& where) {
  for (u128 acc = 1; acc <= accounts_max; ++acc) {
    const auto it = m.lists().find(acc);
    const ids want = it == m.lists().end() ? ids{} : it->second;
    ASSERT_EQ(history(s, acc, true), want)
        << where << ", account " << static_cast<std::uint64_t>(acc);
    ids oldest_first = want;
    std::reverse(oldest_first.begin(), oldest_first.end());
    ASSERT_EQ(history(s, acc, false), oldest_first)
        << where << ", account " << static_cast<std::uint64_t>(acc);
  }
}

// Requests in flight together, each a run of timestamps of its own, their records
// interleaved in chunks of random sizes; a few accounts (one of them in most records), so
// that lists share records; timestamps that collide now and then; chains rolled back at the
// newest records. Every list must come out as the walk from the newest makes it.
TEST(engine_transfer_store, insert_in_place_matches_the_walk_for_random_interleavings) {
  std::mt19937_64 rng(20250214);
  for (int round = 0; round < 60; ++round) {
    const std::string where = "round " + std::to_string(round);
    transfer_store s;
    walk_model m;
    const std::uint64_t accounts = 2 + rng() % 12;
    const std::size_t in_flight = 1 + rng() % 7;
    const std::uint64_t requests = 1 + rng() % 24;
    const bool ties = rng() % 3 == 0;  // timestamps in steps of 4, several per step
    std::uint64_t next_id = 1;
    std::uint64_t next_base = 1000;
    struct open_request {
      std::uint64_t next_ts;
      std::uint64_t left;
    };
    std::deque<open_request> open;
    std::uint64_t started = 0;
    const auto pick_accounts = [&](u128& debit, u128& credit) {
      debit = rng() % 4 != 0 ? 1 : 1 + rng() % accounts;  // mostly the hot account
      do {
        credit = 1 + rng() % accounts;
      } while (credit == debit);
      if (rng() % 2 == 0) std::swap(debit, credit);
    };
    while (started < requests || !open.empty()) {
      while (open.size() < in_flight && started < requests) {
        const std::uint64_t n = 1 + rng() % 40;
        open.push_back({next_base, n});
        next_base += n + rng() % 3;
        ++started;
      }
      // A chunk of a random request in flight: its records in ascending timestamp order.
      const std::size_t r = rng() % open.size();
      const std::uint64_t chunk = std::min<std::uint64_t>(open[r].left, 1 + rng() % 8);
      for (std::uint64_t k = 0; k < chunk; ++k) {
        u128 debit = 0, credit = 0;
        pick_accounts(debit, credit);
        const std::uint64_t ts = ties ? open[r].next_ts / 4 * 4 : open[r].next_ts;
        s.add(record(next_id, debit, credit, ts));
        m.add(next_id, debit, credit, ts);
        ++next_id;
        ++open[r].next_ts;
      }
      open[r].left -= chunk;
      if (open[r].left == 0) open.erase(open.begin() + static_cast<std::ptrdiff_t>(r));
      // Now and then a linked chain that fails: records newer than every one, rolled back
      // newest first; and sometimes the newest records of a request, if newest in both lists.
      if (rng() % 5 == 0) {
        const std::uint64_t legs = 1 + rng() % 4;
        for (std::uint64_t k = 0; k < legs; ++k) {
          u128 debit = 0, credit = 0;
          pick_accounts(debit, credit);
          s.add(record(next_id, debit, credit, next_base + k));
          m.add(next_id, debit, credit, next_base + k);
          ++next_id;
        }
        for (std::uint64_t k = 0; k < legs; ++k) {
          s.pop_back();
          m.pop_back();
          --next_id;
        }
      }
      while (rng() % 4 == 0 && m.last_is_newest()) {
        s.pop_back();
        m.pop_back();
        --next_id;
      }
      ASSERT_EQ(s.size(), next_id - 1) << where;
    }
    expect_same_lists(s, m, accounts, where);
    if (HasFatalFailure()) return;
  }
}

// Ties: a record with the timestamp of records already there goes before them (the later
// added is the newer), whether it lands at the head, behind a finger or after a walk.
TEST(engine_transfer_store, ties_go_before_records_of_the_same_timestamp) {
  transfer_store s;
  walk_model m;
  const auto add = [&](std::uint64_t id, u128 debit, u128 credit, std::uint64_t ts) {
    s.add(record(id, debit, credit, ts));
    m.add(id, debit, credit, ts);
  };
  add(1, a, b, 10);
  add(2, a, c, 30);
  add(3, a, b, 20);  // in place: the finger is 2
  add(4, a, c, 20);  // a tie with 3, behind the finger
  add(5, a, b, 30);  // a tie with the newest
  add(6, a, d, 20);  // behind 2 and 5, before 4 and 3
  add(7, c, d, 10);  // a tie with 1 in no list of a
  add(8, a, d, 10);  // before 1
  EXPECT_EQ(history(s, a, true), (ids{5, 2, 6, 4, 3, 8, 1}));
  expect_same_lists(s, m, 4, "ties");
}

// The pattern a journal replays: requests in flight together, each a run of timestamps of
// its own, from one hot account to an account each, taken in turn a chunk at a time. A
// request's first record of a chunk may walk past records of newer requests; the others go
// where their finger says, with no step. Counted, not timed.
TEST(engine_transfer_store, records_of_requests_in_flight_take_no_step_past_their_finger) {
  constexpr std::uint64_t batch = 600;
  constexpr std::uint64_t chunk = 20;
  constexpr std::uint64_t requests = 12;
  constexpr std::uint64_t in_flight = transfer_store::fingers_per_account + 1;
  transfer_store s;
  std::deque<std::uint64_t> open;  // requests in flight, by their next event
  std::vector<std::uint64_t> next(requests, 0);
  std::uint64_t started = 0, added = 0, chunks = 0;
  std::uint64_t worst_chunk = 0;  // steps
  std::uint64_t walked = 0;       // chunks that took a step
  while (started < requests || !open.empty()) {
    while (open.size() < in_flight && started < requests) open.push_back(started++);
    for (std::size_t i = 0; i < open.size();) {
      const std::uint64_t r = open[i];
      const std::uint64_t steps_before = s.link_steps();
      for (std::uint64_t k = 0; k < chunk; ++k, ++next[r]) {
        const std::uint64_t seq = r * batch + next[r];
        const std::uint64_t steps = s.link_steps();
        s.add(record(seq + 1, a, 1000 + seq, 1'000'000 + seq));
        ++added;
        if (k > 0) {
          ASSERT_EQ(s.link_steps(), steps) << "request " << r << ", event " << next[r];
        }
      }
      worst_chunk = std::max(worst_chunk, s.link_steps() - steps_before);
      walked += s.link_steps() != steps_before;
      ++chunks;
      if (next[r] == batch) {
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  ASSERT_EQ(added, requests * batch);
  // The first record of a chunk starts from its request's finger too, which its gap is
  // still behind. A request walks once: when a newer one first puts records above it (it
  // passes them, at most a chunk of each other request in flight), and takes the finger of
  // one that is done.
  EXPECT_LE(walked, requests);
  EXPECT_LE(worst_chunk, (in_flight - 1) * chunk);
  // Walking from the newest would pass every record of a newer request in flight: about
  // in_flight / 2 * batch per record, millions here.
  EXPECT_LE(s.link_steps(), chunks * in_flight * chunk);
  EXPECT_LE(s.link_steps(), added * in_flight);
  // The history is the hot account's every record, newest first.
  std::uint64_t expect = requests * batch;
  bool in_order = true;
  s.for_each_of_account(a, true, [&](const stored_transfer& r) {
    in_order = in_order && r.t.id == expect--;
    return in_order;
  });
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expect, 0u);
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
