// The reference ledger beyond single result codes: lookups, account history with its
// filter, ledger stats, daily caps across the UTC day boundary, frozen accounts and pending
// transfers, balancing amounts, timestamps across batches, checked arithmetic near 2^128-1,
// and the id_map under it (compared with std::unordered_map over random operations).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/id_map.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"
#include "tests/support/builders.hpp"

namespace remit {

static void PrintTo(create_transfer_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}
static void PrintTo(set_controls_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}
static void PrintTo(filter_check r, std::ostream* os) {
  switch (r) {
    case filter_check::ok:
      *os << "ok";
      return;
    case filter_check::reserved_field:
      *os << "reserved_field";
      return;
    case filter_check::bad_event_count:
      *os << "bad_event_count";
      return;
  }
  *os << static_cast<int>(r);
}

namespace {

using tr = create_transfer_result;
using test::make_post;
using test::make_void;

constexpr std::uint64_t day = 20'000;
constexpr std::uint64_t t0_ns = day * ns_per_day + ns_per_s * 6 * 3600;

struct balances {
  u128 debits_pending = 0;
  u128 debits_posted = 0;
  u128 credits_pending = 0;
  u128 credits_posted = 0;
  bool operator==(const balances&) const = default;
};

[[maybe_unused]] void PrintTo(const balances& x, std::ostream* os) {
  *os << "{dr_pending " << ::testing::PrintToString(x.debits_pending) << ", dr_posted "
      << ::testing::PrintToString(x.debits_posted) << ", cr_pending "
      << ::testing::PrintToString(x.credits_pending) << ", cr_posted "
      << ::testing::PrintToString(x.credits_posted) << "}";
}

account make_account(u128 id, std::uint32_t ledger = 1, std::uint16_t flags = 0) {
  account a{};
  a.id = id;
  a.ledger = ledger;
  a.code = 1;
  a.flags = flags;
  return a;
}

transfer make_transfer(u128 id, u128 debit, u128 credit, u128 amount, std::uint16_t flags = 0,
                       std::uint32_t ledger = 1) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = ledger;
  t.code = 1;
  t.flags = flags;
  return t;
}

transfer make_pending(u128 id, u128 debit, u128 credit, u128 amount) {
  return make_transfer(id, debit, credit, amount, transfer_flags::pending);
}

// A ledger with a clock that moves on by a second per batch unless told otherwise.
class engine_ledger : public ::testing::Test {
 protected:
  void accounts(const std::vector<account>& events) {
    std::vector<result> out(events.size());
    now_ns_ += ns_per_s;
    ledger_.create_accounts(events, now_ns_, out);
    for (std::size_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i].status, 0u) << "account " << i;
  }

  // One event; returns its result.
  result create_at(const transfer& t, std::uint64_t now_ns) {
    const std::vector<transfer> events = {t};
    std::vector<result> out(1);
    ledger_.create_transfers(events, now_ns, out);
    return out[0];
  }
  result create(const transfer& t) {
    now_ns_ += ns_per_s;
    return create_at(t, now_ns_);
  }
  tr code(const transfer& t) { return static_cast<tr>(create(t).status); }
  tr code_at(const transfer& t, std::uint64_t now_ns) {
    return static_cast<tr>(create_at(t, now_ns).status);
  }

  std::vector<tr> codes_at(const std::vector<transfer>& events, std::uint64_t now_ns) {
    std::vector<result> out(events.size());
    ledger_.create_transfers(events, now_ns, out);
    std::vector<tr> codes;
    codes.reserve(out.size());
    for (const result& r : out) codes.push_back(static_cast<tr>(r.status));
    return codes;
  }

  set_controls_result set_controls(const account_controls& c) {
    const std::vector<account_controls> events = {c};
    std::vector<result> out(1);
    ledger_.set_account_controls(events, out);
    return static_cast<set_controls_result>(out[0].status);
  }

  balances of(u128 id) const {
    const account_state* s = ledger_.find_account(id);
    if (s == nullptr) {
      ADD_FAILURE() << "no account";
      return {};
    }
    return {s->a.debits_pending, s->a.debits_posted, s->a.credits_pending, s->a.credits_posted};
  }

  transfer lookup(u128 id) const {
    const std::vector<u128> ids = {id};
    std::vector<transfer> out(1);
    if (ledger_.lookup_transfers(ids, out) != 1) {
      ADD_FAILURE() << "transfer not found";
      return {};
    }
    return out[0];
  }

  reference_ledger ledger_;
  std::uint64_t now_ns_ = t0_ns;
};

account_controls make_controls(u128 id) {
  account_controls c{};
  c.account_id = id;
  return c;
}

// ---------------------------------------------------------------------------------------
// Lookups

TEST_F(engine_ledger, lookup_accounts_found_in_order_duplicates_each_time_missing_skipped) {
  accounts({make_account(1), make_account(2), make_account(3, 2)});
  const std::vector<u128> ids = {2, 99, 1, 2, 3, 98, 1};
  std::vector<account> out(ids.size());
  ASSERT_EQ(ledger_.lookup_accounts(ids, out), 5u);
  const u128 expected[] = {2, 1, 2, 3, 1};
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(out[i].id, expected[i]) << i;
  EXPECT_EQ(out[3].ledger, 2u);
  EXPECT_EQ(out[0].code, 1u);
  EXPECT_NE(out[0].timestamp, 0u);
  EXPECT_EQ(out[0].timestamp, out[2].timestamp);

  const std::vector<u128> none = {97, 96};
  EXPECT_EQ(ledger_.lookup_accounts(none, out), 0u);
}

TEST_F(engine_ledger, lookup_transfers_found_in_order_duplicates_each_time_missing_skipped) {
  accounts({make_account(1), make_account(2)});
  const result r10 = create(make_transfer(10, 1, 2, 5));
  const result r11 = create(make_transfer(11, 2, 1, 7));
  ASSERT_EQ(code(make_transfer(12, 1, 99, 1)), tr::credit_account_not_found);  // not stored
  const std::vector<u128> ids = {11, 12, 10, 11, 13, 10};
  std::vector<transfer> out(ids.size());
  ASSERT_EQ(ledger_.lookup_transfers(ids, out), 4u);
  EXPECT_EQ(out[0].id, 11u);
  EXPECT_EQ(out[0].amount, 7u);
  EXPECT_EQ(out[0].timestamp, r11.timestamp);
  EXPECT_EQ(out[1].id, 10u);
  EXPECT_EQ(out[1].timestamp, r10.timestamp);
  EXPECT_EQ(out[2].id, 11u);
  EXPECT_EQ(out[3].id, 10u);
  EXPECT_EQ(out[3].debit_account_id, 1u);
  EXPECT_EQ(out[3].credit_account_id, 2u);
}

// Ids 0 and 2^128-1 are never valid; asking for them is a client's business, not a broken
// invariant: they are simply not found (and the process must not stop).
// Runs in a child process: exits 0 when every answer is as expected.
[[noreturn]] void probe_zero_and_max_ids() {
  reference_ledger ledger;
  const std::vector<account> a = {make_account(1)};
  std::vector<result> out(1);
  ledger.create_accounts(a, t0_ns, out);
  const std::vector<u128> ids = {0, u128_max, 1};
  std::vector<account> accts(ids.size());
  std::vector<transfer> transfers(ids.size());
  const bool lookups_ok =
      ledger.lookup_accounts(ids, accts) == 1 && ledger.lookup_transfers(ids, transfers) == 0;
  account_filter f{};
  f.account_id = 0;
  f.limit = 1;
  f.flags = account_filter_flags::debits;
  const bool filter_ok = ledger.get_account_transfers(f, transfers) == 0;
  const std::vector<account_controls> c = {make_controls(0)};
  ledger.set_account_controls(c, out);
  const bool controls_ok =
      out[0].status == static_cast<std::uint32_t>(set_controls_result::account_not_found);
  std::exit(lookups_ok && filter_ok && controls_ok ? 0 : 1);
}

TEST(engine_ledger_death, zero_and_max_ids_from_clients_are_not_found_and_do_not_assert) {
  EXPECT_EXIT(probe_zero_and_max_ids(), ::testing::ExitedWithCode(0), "");
}

// ---------------------------------------------------------------------------------------
// get_account_transfers and validate_filter

TEST_F(engine_ledger, get_account_transfers_filters) {
  accounts({make_account(1), make_account(2), make_account(3), make_account(4)});
  // Account 1: debits 101, 104, 106; credits 102, 105; 103 is not its; 107 failed.
  const std::vector<transfer> events = {
      make_transfer(101, 1, 2, 1),  make_transfer(102, 2, 1, 2), make_transfer(103, 2, 3, 3),
      make_transfer(104, 1, 3, 4),  make_transfer(105, 3, 1, 5), make_transfer(106, 1, 2, 6),
      make_transfer(107, 1, 99, 7),
  };
  std::vector<std::uint64_t> ts;
  ts.reserve(events.size());
  for (const transfer& t : events) ts.push_back(create(t).timestamp);
  ASSERT_EQ(ts[6], 0u);
  const std::uint64_t ts102 = ts[1], ts104 = ts[3], ts105 = ts[4];

  constexpr std::uint32_t dr = account_filter_flags::debits;
  constexpr std::uint32_t cr = account_filter_flags::credits;
  constexpr std::uint32_t rev = account_filter_flags::reversed;
  struct row {
    std::string name;
    u128 account_id;
    std::uint64_t timestamp_min;
    std::uint64_t timestamp_max;
    std::uint32_t limit;
    std::uint32_t flags;
    std::vector<u128> expected;
    std::size_t out_size = 100;
  };
  const std::vector<row> rows = {
      {"debits", 1, 0, 0, 100, dr, {101, 104, 106}},
      {"credits", 1, 0, 0, 100, cr, {102, 105}},
      {"both", 1, 0, 0, 100, dr | cr, {101, 102, 104, 105, 106}},
      {"both_reversed", 1, 0, 0, 100, dr | cr | rev, {106, 105, 104, 102, 101}},
      {"debits_reversed", 1, 0, 0, 100, dr | rev, {106, 104, 101}},
      {"credits_reversed", 1, 0, 0, 100, cr | rev, {105, 102}},
      {"bounds_inclusive", 1, ts102, ts105, 100, dr | cr, {102, 104, 105}},
      {"bounds_inclusive_reversed", 1, ts102, ts105, 100, dr | cr | rev, {105, 104, 102}},
      {"min_only", 1, ts102, 0, 100, dr | cr, {102, 104, 105, 106}},
      {"max_only", 1, 0, ts104, 100, dr | cr, {101, 102, 104}},
      {"min_equals_max", 1, ts104, ts104, 100, dr | cr, {104}},
      {"min_equals_max_not_matching_side", 1, ts104, ts104, 100, cr, {}},
      {"min_after_max", 1, ts105, ts102, 100, dr | cr, {}},
      {"min_one_past", 1, ts102 + 1, ts105 - 1, 100, dr | cr, {104}},
      {"limit", 1, 0, 0, 2, dr | cr, {101, 102}},
      {"limit_reversed", 1, 0, 0, 2, dr | cr | rev, {106, 105}},
      {"limit_with_min", 1, ts102, 0, 2, dr | cr, {102, 104}},
      {"limit_reversed_with_max", 1, 0, ts104, 2, dr | cr | rev, {104, 102}},
      {"limit_one", 1, 0, 0, 1, cr, {102}},
      {"limit_max", 1, 0, 0, batch_events_max, dr, {101, 104, 106}},
      {"out_smaller_than_limit", 1, 0, 0, 100, dr | cr, {101, 102}, 2},
      {"other_account", 3, 0, 0, 100, dr | cr, {103, 104, 105}},
      {"account_without_transfers", 4, 0, 0, 100, dr | cr, {}},
      {"missing_account", 99, 0, 0, 100, dr | cr, {}},
  };
  for (const row& x : rows) {
    SCOPED_TRACE(x.name);
    account_filter f{};
    f.account_id = x.account_id;
    f.timestamp_min = x.timestamp_min;
    f.timestamp_max = x.timestamp_max;
    f.limit = x.limit;
    f.flags = x.flags;
    ASSERT_EQ(validate_filter(f), filter_check::ok);
    std::vector<transfer> out(x.out_size);
    const std::size_t n = ledger_.get_account_transfers(f, out);
    std::vector<u128> got;
    for (std::size_t i = 0; i < n; ++i) got.push_back(out[i].id);
    EXPECT_EQ(got, x.expected);
  }
}

TEST_F(engine_ledger, get_account_transfers_includes_pending_posts_and_voids) {
  accounts({make_account(1), make_account(2)});
  ASSERT_EQ(code(make_pending(10, 1, 2, 50)), tr::ok);
  ASSERT_EQ(code(make_pending(11, 2, 1, 20)), tr::ok);
  ASSERT_EQ(code(make_post(12, 10, 30)), tr::ok);
  ASSERT_EQ(code(make_void(13, 11)), tr::ok);
  account_filter f{};
  f.account_id = 1;
  f.limit = 10;
  f.flags = account_filter_flags::debits;
  std::vector<transfer> out(10);
  ASSERT_EQ(ledger_.get_account_transfers(f, out), 2u);
  EXPECT_EQ(out[0].id, 10u);
  EXPECT_EQ(out[1].id, 12u);
  EXPECT_EQ(out[1].amount, 30u);
  f.flags = account_filter_flags::credits;
  ASSERT_EQ(ledger_.get_account_transfers(f, out), 2u);
  EXPECT_EQ(out[0].id, 11u);
  EXPECT_EQ(out[1].id, 13u);
  EXPECT_EQ(out[1].amount, 20u);  // a void shows the pending amount
}

TEST(engine_validate_filter, table) {
  struct row {
    std::string name;
    std::uint32_t limit;
    std::uint32_t flags;
    int reserved_index;  // -1: none set
    filter_check expected;
  };
  constexpr std::uint32_t dr = account_filter_flags::debits;
  constexpr std::uint32_t cr = account_filter_flags::credits;
  constexpr std::uint32_t rev = account_filter_flags::reversed;
  const std::vector<row> rows = {
      {"ok_debits", 1, dr, -1, filter_check::ok},
      {"ok_credits", 10, cr, -1, filter_check::ok},
      {"ok_both_reversed", batch_events_max, dr | cr | rev, -1, filter_check::ok},
      {"limit_zero", 0, dr, -1, filter_check::bad_event_count},
      {"limit_above_max", batch_events_max + 1, dr, -1, filter_check::bad_event_count},
      {"limit_u32_max", std::numeric_limits<std::uint32_t>::max(), cr, -1,
       filter_check::bad_event_count},
      {"no_side", 10, 0, -1, filter_check::bad_event_count},
      {"reversed_only", 10, rev, -1, filter_check::bad_event_count},
      {"reserved_first_byte", 10, dr, 0, filter_check::reserved_field},
      {"reserved_last_byte", 10, dr, 23, filter_check::reserved_field},
      {"unknown_flag_bit_3", 10, dr | (1u << 3), -1, filter_check::reserved_field},
      {"unknown_flag_bit_31", 10, cr | (1u << 31), -1, filter_check::reserved_field},
  };
  for (const row& x : rows) {
    SCOPED_TRACE(x.name);
    account_filter f{};
    f.account_id = 1;
    f.limit = x.limit;
    f.flags = x.flags;
    if (x.reserved_index >= 0) f.reserved[x.reserved_index] = 1;
    EXPECT_EQ(validate_filter(f), x.expected);
  }
  // Timestamps are bounds, never an error.
  account_filter f{};
  f.account_id = 1;
  f.limit = 1;
  f.flags = account_filter_flags::debits;
  f.timestamp_min = std::numeric_limits<std::uint64_t>::max();
  f.timestamp_max = 1;
  EXPECT_EQ(validate_filter(f), filter_check::ok);
}

// ---------------------------------------------------------------------------------------
// Ledger stats

TEST_F(engine_ledger, ledger_stats_per_ledger) {
  accounts({make_account(1), make_account(2), make_account(3), make_account(21, 2),
            make_account(22, 2)});
  ASSERT_EQ(code(make_transfer(10, 1, 2, 100)), tr::ok);
  ASSERT_EQ(code(make_transfer(11, 2, 3, 50)), tr::ok);
  ASSERT_EQ(code(make_pending(12, 1, 3, 7)), tr::ok);
  ASSERT_EQ(code(make_pending(13, 1, 3, 8)), tr::ok);
  ASSERT_EQ(code(make_transfer(14, 21, 22, 9, 0, 2)), tr::ok);
  ASSERT_EQ(code(make_transfer(15, 1, 99, 9)), tr::credit_account_not_found);

  ledger_stats s = ledger_.get_ledger_stats(1);
  EXPECT_EQ(s.ledger, 1u);
  EXPECT_EQ(s.accounts, 3u);
  EXPECT_EQ(s.transfers_posted, 2u);
  EXPECT_EQ(s.transfers_pending, 2u);
  EXPECT_EQ(s.volume_posted, 150u);
  EXPECT_EQ(s.reserved, 0u);

  ASSERT_EQ(code(make_post(16, 12)), tr::ok);
  ASSERT_EQ(code(make_void(17, 13)), tr::ok);
  s = ledger_.get_ledger_stats(1);
  EXPECT_EQ(s.transfers_posted, 3u);  // the post counts, the void does not
  EXPECT_EQ(s.transfers_pending, 0u);
  EXPECT_EQ(s.volume_posted, 157u);

  s = ledger_.get_ledger_stats(2);
  EXPECT_EQ(s.ledger, 2u);
  EXPECT_EQ(s.accounts, 2u);
  EXPECT_EQ(s.transfers_posted, 1u);
  EXPECT_EQ(s.transfers_pending, 0u);
  EXPECT_EQ(s.volume_posted, 9u);

  s = ledger_.get_ledger_stats(7);
  EXPECT_EQ(s.accounts, 0u);
  EXPECT_EQ(s.transfers_posted, 0u);
  EXPECT_EQ(s.transfers_pending, 0u);
  EXPECT_EQ(s.volume_posted, 0u);
}

TEST_F(engine_ledger, volume_posted_saturates) {
  accounts({make_account(1, 3), make_account(2, 3), make_account(3, 3)});
  ASSERT_EQ(code(make_transfer(10, 1, 2, u128_max - 10, 0, 3)), tr::ok);
  ASSERT_EQ(code(make_transfer(11, 1, 3, 10, 0, 3)), tr::ok);
  EXPECT_EQ(ledger_.get_ledger_stats(3).volume_posted, u128_max);
  ASSERT_EQ(code(make_transfer(12, 3, 1, 10, 0, 3)), tr::ok);
  ledger_stats s = ledger_.get_ledger_stats(3);
  EXPECT_EQ(s.volume_posted, u128_max);
  EXPECT_EQ(s.transfers_posted, 3u);
  ASSERT_EQ(code(make_transfer(13, 2, 3, 100, 0, 3)), tr::ok);
  EXPECT_EQ(ledger_.get_ledger_stats(3).volume_posted, u128_max);
}

// ---------------------------------------------------------------------------------------
// Controls: daily_debit_max by UTC day, frozen, caps on the amount moved

TEST_F(engine_ledger, daily_debit_max_resets_at_the_utc_day_boundary) {
  accounts({make_account(1), make_account(2)});
  account_controls c = make_controls(1);
  c.daily_debit_max = 100;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);
  const std::uint64_t boundary_ns = (day + 1) * ns_per_day;

  // Timestamps boundary-10, -9; then -5; then -2, -1, +0, +1.
  EXPECT_EQ(codes_at({make_transfer(10, 1, 2, 60), make_transfer(11, 1, 2, 40)}, boundary_ns - 10),
            (std::vector<tr>{tr::ok, tr::ok}));
  EXPECT_EQ(code_at(make_transfer(12, 1, 2, 1), boundary_ns - 5), tr::exceeds_daily_debit_max);
  EXPECT_EQ(codes_at({make_transfer(13, 1, 2, 1), make_transfer(14, 1, 2, 100),
                      make_transfer(15, 1, 2, 100), make_transfer(16, 1, 2, 1)},
                     boundary_ns - 2),
            (std::vector<tr>{tr::exceeds_daily_debit_max, tr::exceeds_daily_debit_max, tr::ok,
                             tr::exceeds_daily_debit_max}));
  EXPECT_EQ(lookup(15).timestamp, boundary_ns);
  EXPECT_EQ(of(1), (balances{0, 200, 0, 0}));
  // The next day again.
  EXPECT_EQ(code_at(make_transfer(17, 1, 2, 100), boundary_ns + ns_per_day), tr::ok);
}

TEST_F(engine_ledger, daily_debit_sum_counts_pending_at_creation_and_gives_nothing_back) {
  accounts({make_account(1), make_account(2)});
  account_controls c = make_controls(1);
  c.daily_debit_max = 100;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);
  ASSERT_EQ(code(make_pending(10, 1, 2, 60)), tr::ok);
  ASSERT_EQ(code(make_void(11, 10)), tr::ok);
  ASSERT_EQ(code(make_pending(12, 1, 2, 30)), tr::ok);
  ASSERT_EQ(code(make_post(13, 12, 5)), tr::ok);  // partial: the 25 released stay counted
  EXPECT_EQ(code(make_transfer(14, 1, 2, 11)), tr::exceeds_daily_debit_max);
  EXPECT_EQ(code(make_transfer(15, 1, 2, 10)), tr::ok);
  EXPECT_EQ(of(1), (balances{0, 15, 0, 0}));
}

TEST_F(engine_ledger, daily_sum_is_tracked_before_a_cap_is_set) {
  accounts({make_account(1), make_account(2)});
  ASSERT_EQ(code(make_transfer(10, 1, 2, 80)), tr::ok);
  account_controls c = make_controls(1);
  c.daily_debit_max = 100;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);
  EXPECT_EQ(code(make_transfer(11, 1, 2, 21)), tr::exceeds_daily_debit_max);
  EXPECT_EQ(code(make_transfer(12, 1, 2, 20)), tr::ok);
  // Credits are not debits: the credit side's own sum is untouched.
  account_controls c2 = make_controls(2);
  c2.daily_debit_max = 5;
  ASSERT_EQ(set_controls(c2), set_controls_result::ok);
  EXPECT_EQ(code(make_transfer(13, 2, 1, 5)), tr::ok);
}

TEST_F(engine_ledger, frozen_account_still_allows_post_and_void_of_existing_pending) {
  accounts({make_account(1), make_account(2)});
  ASSERT_EQ(code(make_pending(10, 1, 2, 100)), tr::ok);
  ASSERT_EQ(code(make_pending(11, 1, 2, 50)), tr::ok);
  ASSERT_EQ(code(make_pending(12, 2, 1, 30)), tr::ok);
  account_controls c = make_controls(1);
  c.status_flags = account_status_flags::frozen;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);

  EXPECT_EQ(code(make_transfer(20, 1, 2, 1)), tr::debit_account_frozen);
  EXPECT_EQ(code(make_transfer(21, 2, 1, 1)), tr::credit_account_frozen);
  EXPECT_EQ(code(make_pending(22, 1, 2, 1)), tr::debit_account_frozen);
  EXPECT_EQ(code(make_pending(23, 2, 1, 1)), tr::credit_account_frozen);
  EXPECT_EQ(code(make_post(24, 10)), tr::ok);
  EXPECT_EQ(code(make_void(25, 11)), tr::ok);
  EXPECT_EQ(code(make_post(26, 12, 10)), tr::ok);  // frozen on its credit side
  EXPECT_EQ(of(1), (balances{0, 100, 0, 10}));
  EXPECT_EQ(of(2), (balances{0, 10, 0, 100}));

  // Unfrozen: a later transfer goes through (controls apply to later transfers).
  ASSERT_EQ(set_controls(make_controls(1)), set_controls_result::ok);
  EXPECT_EQ(code(make_transfer(27, 1, 2, 1)), tr::ok);
}

TEST_F(engine_ledger, controls_not_checked_on_post) {
  accounts({make_account(1), make_account(2)});
  ASSERT_EQ(code(make_pending(10, 1, 2, 100)), tr::ok);
  account_controls c = make_controls(1);
  c.transfer_amount_max = 10;
  c.daily_debit_max = 10;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);
  EXPECT_EQ(code(make_transfer(11, 1, 2, 11)), tr::exceeds_transfer_amount_max);
  EXPECT_EQ(code(make_post(12, 10)), tr::ok);
  EXPECT_EQ(of(1), (balances{0, 100, 0, 0}));
}

TEST_F(engine_ledger, overdraft_max_on_both_bounded_sides) {
  accounts({make_account(1, 1, account_flags::debits_must_not_exceed_credits),
            make_account(2, 1, account_flags::credits_must_not_exceed_debits), make_account(3)});
  account_controls c1 = make_controls(1);
  c1.overdraft_max = 50;
  account_controls c2 = make_controls(2);
  c2.overdraft_max = 70;
  ASSERT_EQ(set_controls(c1), set_controls_result::ok);
  ASSERT_EQ(set_controls(c2), set_controls_result::ok);
  EXPECT_EQ(code(make_transfer(10, 1, 3, 51)), tr::exceeds_credits);
  EXPECT_EQ(code(make_transfer(11, 1, 3, 50)), tr::ok);
  EXPECT_EQ(code(make_transfer(12, 1, 3, 1)), tr::exceeds_credits);
  EXPECT_EQ(code(make_transfer(13, 3, 2, 71)), tr::exceeds_debits);
  EXPECT_EQ(code(make_transfer(14, 3, 2, 70)), tr::ok);
  EXPECT_EQ(code(make_transfer(15, 3, 2, 1)), tr::exceeds_debits);
  EXPECT_EQ(of(1), (balances{0, 50, 0, 0}));
  EXPECT_EQ(of(2), (balances{0, 0, 0, 70}));
}

// ---------------------------------------------------------------------------------------
// Balancing transfers: the amount moved

TEST_F(engine_ledger, balancing_amounts) {
  accounts({make_account(1), make_account(2), make_account(3),
            make_account(4, 1, account_flags::credits_must_not_exceed_debits), make_account(5)});
  ASSERT_EQ(code(make_transfer(10, 3, 1, 40)), tr::ok);   // 1: credits 40
  ASSERT_EQ(code(make_transfer(11, 2, 3, 25)), tr::ok);   // 2: debits 25
  ASSERT_EQ(code(make_transfer(12, 4, 3, 15)), tr::ok);   // 4: debits 15
  ASSERT_EQ(code(make_transfer(13, 5, 3, 100)), tr::ok);  // 3: 100 more credits

  struct row {
    std::string name;
    transfer t;
    tr expected;
    u128 moved;
  };
  constexpr std::uint16_t bd = transfer_flags::balancing_debit;
  constexpr std::uint16_t bc = transfer_flags::balancing_credit;
  const std::vector<row> rows = {
      // 1 has room 40 (credits_posted 40, no bound flag: the room counts anyway).
      {"debit_clamped_to_room", make_transfer(20, 1, 3, 100, bd), tr::ok, 40},
      {"debit_room_now_zero", make_transfer(21, 1, 3, 1, bd), tr::exceeds_credits, 0},
      // 2 has room 25 on its credit side (debits_posted 25).
      {"credit_below_room", make_transfer(22, 3, 2, 10, bc), tr::ok, 10},
      {"credit_clamped_to_room", make_transfer(23, 3, 2, 100, bc), tr::ok, 15},
      {"credit_room_now_zero", make_transfer(24, 3, 2, 100, bc), tr::exceeds_debits, 0},
      // Both flags: the smaller room (3 has debit room 115, 4 credit room 15).
      {"both_flags_smaller_room", make_transfer(25, 3, 4, 1000, bd | bc), tr::ok, 15},
  };
  for (const row& x : rows) {
    SCOPED_TRACE(x.name);
    const result r = create(x.t);
    EXPECT_EQ(static_cast<tr>(r.status), x.expected);
    if (x.expected == tr::ok) {
      EXPECT_EQ(lookup(x.t.id).amount, x.moved);
    }
  }
  EXPECT_EQ(of(1), (balances{0, 40, 0, 40}));
  EXPECT_EQ(of(2), (balances{0, 25, 0, 25}));
  EXPECT_EQ(of(4), (balances{0, 15, 0, 15}));
}

TEST_F(engine_ledger, balancing_pending_reserves_the_moved_amount_and_counts_pending) {
  accounts({make_account(1), make_account(2)});
  ASSERT_EQ(code(make_transfer(10, 2, 1, 40)), tr::ok);
  ASSERT_EQ(
      code(make_transfer(11, 1, 2, 100, transfer_flags::pending | transfer_flags::balancing_debit)),
      tr::ok);
  EXPECT_EQ(lookup(11).amount, 40u);
  EXPECT_EQ(of(1), (balances{40, 0, 0, 40}));
  // debits_pending counts: no room left.
  EXPECT_EQ(code(make_transfer(12, 1, 2, 5, transfer_flags::balancing_debit)), tr::exceeds_credits);
  EXPECT_EQ(code(make_post(13, 11)), tr::ok);
  EXPECT_EQ(lookup(13).amount, 40u);
}

TEST_F(engine_ledger, caps_apply_to_the_amount_moved) {
  accounts({make_account(1), make_account(2)});
  ASSERT_EQ(code(make_transfer(10, 2, 1, 30)), tr::ok);
  account_controls c = make_controls(1);
  c.transfer_amount_max = 50;
  c.daily_debit_max = 60;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);
  ASSERT_EQ(code(make_transfer(11, 1, 2, 1000, transfer_flags::balancing_debit)), tr::ok);
  EXPECT_EQ(lookup(11).amount, 30u);
  EXPECT_EQ(ledger_.get_ledger_stats(1).volume_posted, 60u);
  // The daily sum has 30 from the moved amount, not 1000.
  EXPECT_EQ(code(make_transfer(12, 1, 2, 30)), tr::ok);
  EXPECT_EQ(code(make_transfer(13, 1, 2, 1)), tr::exceeds_daily_debit_max);
}

TEST_F(engine_ledger, balancing_room_does_not_wrap_with_huge_overdraft) {
  accounts({make_account(1, 1, account_flags::debits_must_not_exceed_credits), make_account(2)});
  ASSERT_EQ(code(make_transfer(10, 2, 1, 10)), tr::ok);
  account_controls c = make_controls(1);
  c.overdraft_max = u128_max;
  ASSERT_EQ(set_controls(c), set_controls_result::ok);
  // credits_posted + overdraft_max is past 2^128-1: the room is at least the amount.
  ASSERT_EQ(code(make_transfer(11, 1, 2, 1000, transfer_flags::balancing_debit)), tr::ok);
  EXPECT_EQ(lookup(11).amount, 1000u);
  EXPECT_EQ(code(make_transfer(12, 1, 2, 5000)), tr::ok);
  EXPECT_EQ(of(1), (balances{0, 6000, 0, 10}));
}

// ---------------------------------------------------------------------------------------
// Timestamps

TEST_F(engine_ledger, timestamps_strictly_increase_even_when_now_goes_backwards) {
  const std::vector<account> a = {make_account(1), make_account(2), make_account(3)};
  std::vector<result> out(3);
  ledger_.create_accounts(a, 1'000'000, out);
  EXPECT_EQ(out[0].timestamp, 1'000'000u);
  EXPECT_EQ(out[1].timestamp, 1'000'001u);
  EXPECT_EQ(out[2].timestamp, 1'000'002u);
  EXPECT_EQ(ledger_.last_timestamp(), 1'000'002u);

  // now_ns goes back: the batch starts after the last timestamp; a failed event spends one.
  EXPECT_EQ(codes_at({make_transfer(10, 1, 99, 1), make_transfer(11, 1, 2, 1)}, 500),
            (std::vector<tr>{tr::credit_account_not_found, tr::ok}));
  EXPECT_EQ(lookup(11).timestamp, 1'000'004u);
  EXPECT_EQ(ledger_.last_timestamp(), 1'000'004u);

  // now_ns equal to the last timestamp.
  EXPECT_EQ(create_at(make_transfer(12, 1, 2, 1), 1'000'004).timestamp, 1'000'005u);
  // now_ns ahead: taken as is.
  EXPECT_EQ(create_at(make_transfer(13, 1, 2, 1), 5'000'000).timestamp, 5'000'000u);
  // Accounts and transfers share one clock.
  const std::vector<account> b = {make_account(4)};
  ledger_.create_accounts(b, 7, out);
  EXPECT_EQ(out[0].timestamp, 5'000'001u);
  // An exists answer spends a timestamp too.
  EXPECT_EQ(static_cast<tr>(create_at(make_transfer(13, 1, 2, 1), 9).status), tr::exists);
  EXPECT_EQ(ledger_.last_timestamp(), 5'000'002u);
  // Controls spend none.
  ASSERT_EQ(set_controls(make_controls(1)), set_controls_result::ok);
  EXPECT_EQ(ledger_.last_timestamp(), 5'000'002u);
  // expire() with a later now does not make later timestamps go back below it... and a
  // batch after it is still strictly after the last.
  ledger_.expire(6'000'000);
  const result r = create_at(make_transfer(14, 1, 2, 1), 10);
  EXPECT_GT(r.timestamp, 5'000'002u);

  const std::vector<account> c = {make_account(5)};
  ledger_.create_accounts(c, 0, out);
  EXPECT_GT(out[0].timestamp, r.timestamp);
  const std::vector<u128> ids = {5};
  std::vector<account> found(1);
  ASSERT_EQ(ledger_.lookup_accounts(ids, found), 1u);
  EXPECT_EQ(found[0].timestamp, out[0].timestamp);
}

// ---------------------------------------------------------------------------------------
// Checked arithmetic: no wrap near 2^128-1

TEST_F(engine_ledger, balances_near_u128_max_overflow_as_codes_never_wrap) {
  accounts({make_account(1), make_account(2), make_account(3), make_account(4), make_account(5),
            make_account(6), make_account(7), make_account(8)});
  // Posted: 1 -> 2 up to exactly 2^128-1.
  ASSERT_EQ(code(make_transfer(10, 1, 2, u128_max - 10)), tr::ok);
  ASSERT_EQ(code(make_transfer(11, 1, 3, 10)), tr::ok);
  EXPECT_EQ(of(1), (balances{0, u128_max, 0, 0}));
  ASSERT_EQ(code(make_transfer(12, 3, 2, 10)), tr::ok);
  EXPECT_EQ(of(2), (balances{0, 0, 0, u128_max}));
  // Pending: 4 -> 5 all of it.
  ASSERT_EQ(code(make_pending(13, 4, 5, u128_max)), tr::ok);
  EXPECT_EQ(of(4), (balances{u128_max, 0, 0, 0}));

  struct row {
    std::string name;
    transfer t;
    tr expected;
  };
  const std::vector<row> rows = {
      {"debits_posted", make_transfer(20, 1, 6, 1), tr::overflows_debits_posted},
      {"credits_posted", make_transfer(21, 6, 2, 1), tr::overflows_credits_posted},
      {"debits_posted_huge", make_transfer(22, 1, 6, u128_max), tr::overflows_debits_posted},
      {"debits_pending", make_pending(23, 4, 6, 1), tr::overflows_debits_pending},
      {"credits_pending", make_pending(24, 6, 5, 1), tr::overflows_credits_pending},
      {"debits", make_transfer(25, 4, 6, 1), tr::overflows_debits},
      {"credits", make_transfer(26, 6, 5, 1), tr::overflows_credits},
      {"both_sides_debit_first", make_transfer(27, 1, 2, 1), tr::overflows_debits_posted},
  };
  for (const row& x : rows) {
    SCOPED_TRACE(x.name);
    EXPECT_EQ(code(x.t), x.expected);
    EXPECT_EQ(of(1), (balances{0, u128_max, 0, 0}));
    EXPECT_EQ(of(2), (balances{0, 0, 0, u128_max}));
    EXPECT_EQ(of(4), (balances{u128_max, 0, 0, 0}));
    EXPECT_EQ(of(5), (balances{0, 0, u128_max, 0}));
    EXPECT_EQ(of(6), balances{});
  }

  // Voiding the huge pending makes room again.
  ASSERT_EQ(code(make_void(30, 13)), tr::ok);
  EXPECT_EQ(code(make_transfer(31, 4, 6, 1)), tr::ok);

  // A post that lands exactly on 2^128-1.
  ASSERT_EQ(code(make_pending(32, 7, 8, 100)), tr::ok);
  ASSERT_EQ(code(make_transfer(33, 7, 8, u128_max - 100)), tr::ok);
  EXPECT_EQ(code(make_transfer(34, 7, 6, 1)), tr::overflows_debits);
  ASSERT_EQ(code(make_post(35, 32)), tr::ok);
  EXPECT_EQ(of(7), (balances{0, u128_max, 0, 0}));
  EXPECT_EQ(of(8), (balances{0, 0, 0, u128_max}));
}

// ---------------------------------------------------------------------------------------
// id_map

TEST(engine_id_map, insert_find_erase) {
  id_map<std::uint32_t> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(1), nullptr);
  EXPECT_FALSE(m.erase(1));
  EXPECT_TRUE(m.insert(1, 10));
  EXPECT_TRUE(m.insert(u128_max, 20));
  EXPECT_TRUE(m.insert(make_u128(1, 0), 30));
  EXPECT_FALSE(m.insert(1, 99));  // present: unchanged
  EXPECT_EQ(m.size(), 3u);
  ASSERT_NE(m.find(1), nullptr);
  EXPECT_EQ(*m.find(1), 10u);
  EXPECT_EQ(*m.find(u128_max), 20u);
  EXPECT_EQ(*m.find(make_u128(1, 0)), 30u);
  EXPECT_TRUE(m.contains(make_u128(1, 0)));
  EXPECT_FALSE(m.contains(make_u128(0, 2)));
  EXPECT_TRUE(m.erase(1));
  EXPECT_FALSE(m.erase(1));
  EXPECT_EQ(m.find(1), nullptr);
  EXPECT_EQ(m.size(), 2u);
  m[7] = 70;
  m[7] += 1;
  EXPECT_EQ(*m.find(7), 71u);
  EXPECT_EQ(m[8], 0u);
  EXPECT_EQ(m.size(), 4u);
  std::size_t n = 0;
  m.for_each([&](u128, std::uint32_t) { ++n; });
  EXPECT_EQ(n, 4u);
  m.clear();
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(7), nullptr);
  m.reserve(1000);
  EXPECT_TRUE(m.insert(7, 1));
  EXPECT_EQ(*m.find(7), 1u);
}

TEST(engine_id_map, many_erases_keep_every_other_key_findable) {
  id_map<std::uint32_t> m;
  constexpr std::uint32_t n = 20'000;
  for (std::uint32_t i = 1; i <= n; ++i) ASSERT_TRUE(m.insert(i, i));
  for (std::uint32_t i = 1; i <= n; i += 2) ASSERT_TRUE(m.erase(i));
  EXPECT_EQ(m.size(), n / 2);
  for (std::uint32_t i = 1; i <= n; ++i) {
    const std::uint32_t* v = m.find(i);
    if (i % 2 == 1) {
      ASSERT_EQ(v, nullptr) << i;
    } else {
      ASSERT_NE(v, nullptr) << i;
      ASSERT_EQ(*v, i);
    }
  }
  // Erase and insert again many times: no tombstones, lookups stay right.
  for (int round = 0; round < 5; ++round) {
    for (std::uint32_t i = 2; i <= n; i += 2) ASSERT_TRUE(m.erase(i));
    EXPECT_TRUE(m.empty());
    for (std::uint32_t i = 2; i <= n; i += 2) ASSERT_TRUE(m.insert(i, i + 1));
  }
  for (std::uint32_t i = 2; i <= n; i += 2) ASSERT_EQ(*m.find(i), i + 1);
}

// Keys that share a home slot, including the table's last slot, so that clusters wrap
// around to slot 0 and erase has to shift across the wrap.
TEST(engine_id_map, erase_within_wrapping_clusters) {
  // A new map has 16 slots until it holds more than 14 keys.
  constexpr std::size_t mask = 15;
  std::vector<u128> at_15, at_14, at_0;
  for (std::uint64_t k = 1; at_15.size() < 4 || at_14.size() < 3 || at_0.size() < 3; ++k) {
    const std::size_t home = hash_id(k) & mask;
    if (home == 15 && at_15.size() < 4) at_15.push_back(k);
    if (home == 14 && at_14.size() < 3) at_14.push_back(k);
    if (home == 0 && at_0.size() < 3) at_0.push_back(k);
  }
  std::vector<u128> keys;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i < at_14.size()) keys.push_back(at_14[i]);
    keys.push_back(at_15[i]);
    if (i < at_0.size()) keys.push_back(at_0[i]);
  }
  ASSERT_LE(keys.size(), 14u);
  // Erase each key in turn from a fresh map holding all of them; the rest stay findable.
  for (std::size_t e = 0; e < keys.size(); ++e) {
    id_map<std::uint32_t> fresh;
    for (std::size_t i = 0; i < keys.size(); ++i) ASSERT_TRUE(fresh.insert(keys[i], i));
    ASSERT_TRUE(fresh.erase(keys[e]));
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const std::uint32_t* v = fresh.find(keys[i]);
      if (i == e) {
        EXPECT_EQ(v, nullptr);
      } else {
        ASSERT_NE(v, nullptr) << "erased " << e << ", lost " << i;
        EXPECT_EQ(*v, i);
      }
    }
  }
}

struct u128_hash {
  std::size_t operator()(u128 k) const {
    return std::hash<std::uint64_t>{}(u128_lo(k) ^ (u128_hi(k) * 0x100000001b3ull));
  }
};

TEST(engine_id_map, random_operations_match_unordered_map) {
  std::mt19937_64 rng(20240611);
  // A pool small enough that keys are inserted, erased and inserted again often; half the
  // keys differ only in their high half.
  std::vector<u128> pool;
  for (std::uint64_t i = 1; i <= 1500; ++i) pool.push_back(i);
  for (std::uint64_t i = 1; i <= 1500; ++i) pool.push_back(make_u128(i, 1));
  for (int i = 0; i < 1000; ++i) pool.push_back(make_u128(rng(), rng() | 1));

  id_map<std::uint32_t> m;
  std::unordered_map<u128, std::uint32_t, u128_hash> ref;
  constexpr int ops = 100'000;
  for (int op = 0; op < ops; ++op) {
    const u128 k = pool[rng() % pool.size()];
    const std::uint32_t v = static_cast<std::uint32_t>(rng());
    switch (rng() % 8) {
      case 0:
      case 1:
      case 2: {
        const bool inserted = ref.emplace(k, v).second;
        ASSERT_EQ(m.insert(k, v), inserted) << "op " << op;
        break;
      }
      case 3:
      case 4:
      case 5: {
        ASSERT_EQ(m.erase(k), ref.erase(k) == 1) << "op " << op;
        break;
      }
      case 6: {
        m[k] = v;
        ref[k] = v;
        break;
      }
      default: {
        const std::uint32_t* got = m.find(k);
        const auto it = ref.find(k);
        ASSERT_EQ(got != nullptr, it != ref.end()) << "op " << op;
        if (got != nullptr) {
          ASSERT_EQ(*got, it->second) << "op " << op;
        }
        break;
      }
    }
    ASSERT_EQ(m.size(), ref.size()) << "op " << op;
    if (op % 10'000 == 9'999) {
      for (const auto& [key, value] : ref) {
        const std::uint32_t* got = m.find(key);
        ASSERT_NE(got, nullptr);
        ASSERT_EQ(*got, value);
      }
      std::size_t n = 0;
      m.for_each([&](u128 key, std::uint32_t value) {
        ++n;
        const auto it = ref.find(key);
        ASSERT_NE(it, ref.end());
        ASSERT_EQ(value, it->second);
      });
      ASSERT_EQ(n, ref.size());
    }
  }
}

TEST(engine_id_map_death, id_zero_is_a_programmer_error) {
  EXPECT_DEATH(
      {
        id_map<std::uint32_t> m;
        m.insert(0, 1);
      },
      "assertion failed");
}

}  // namespace
}  // namespace remit
