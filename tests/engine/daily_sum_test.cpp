// The daily debit sums of an account (engine/rules.hpp, account_state): debits count for
// the UTC day of their own timestamp, whatever the order in which they are applied, for the
// day of the latest debit and the day before it; a day older than that is unknown and as
// good as over any cap.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "engine/rules.hpp"

namespace remit {
namespace {

constexpr std::uint64_t day_ns = 86'400ull * ns_per_s;
constexpr std::uint64_t day0 = 19'000 * day_ns;  // a midnight

struct debit {
  std::uint64_t ts;
  u128 amount;
};

TEST(engine_daily_sum, counts_each_debit_on_its_own_day) {
  account_state s;
  apply_debit(s, transfer_kind::plain, 5, day0 + day_ns + 1);  // day 1 first
  apply_debit(s, transfer_kind::plain, 7, day0 + day_ns - 1);  // then day 0, 23:59:59.999...
  apply_debit(s, transfer_kind::pending, 3, day0 + 10);        // day 0 again
  EXPECT_EQ(daily_debited_on(s, day0 + 5), 10u);
  EXPECT_EQ(daily_debited_on(s, day0 + day_ns + 9), 5u);
  EXPECT_EQ(daily_debited_on(s, day0 + 2 * day_ns), 0u);  // a new day
  EXPECT_EQ(daily_debited_on(s, day0 - 1), u128_max);     // older: unknown
  EXPECT_EQ(s.a.debits_posted, 12u);
  EXPECT_EQ(s.a.debits_pending, 3u);
}

TEST(engine_daily_sum, a_debit_of_an_unknown_day_fails_a_capped_account) {
  account_state s;
  s.a.credits_posted = 1000;
  s.controls.daily_debit_max = 100;
  apply_debit(s, transfer_kind::plain, 1, day0 + 2 * day_ns);
  EXPECT_EQ(check_debit(s, transfer_kind::plain, 1, day0 + 5),
            create_transfer_result::exceeds_daily_debit_max);
  EXPECT_EQ(check_debit(s, transfer_kind::plain, 99, day0 + day_ns + 5),
            create_transfer_result::ok);
  EXPECT_EQ(check_debit(s, transfer_kind::plain, 100, day0 + 2 * day_ns),
            create_transfer_result::exceeds_daily_debit_max);
  s.controls.daily_debit_max = 0;  // no cap: nothing to know
  EXPECT_EQ(check_debit(s, transfer_kind::plain, 1, day0 + 5), create_transfer_result::ok);
}

// Applying the same debits in any order gives the same sums (so replay in journal order
// gives what the account actor had, whatever order its decisions settled in).
TEST(engine_daily_sum, order_of_application_does_not_matter) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<debit> debits;
    const std::uint64_t base = day0 + (rng() % 4) * day_ns;
    for (int i = 0; i < 12; ++i) debits.push_back({base + rng() % (3 * day_ns), 1 + rng() % 50});
    account_state first;
    for (const debit& d : debits) apply_debit(first, transfer_kind::plain, d.amount, d.ts);
    for (int shuffle = 0; shuffle < 5; ++shuffle) {
      std::shuffle(debits.begin(), debits.end(), rng);
      account_state again;
      for (const debit& d : debits) apply_debit(again, transfer_kind::plain, d.amount, d.ts);
      ASSERT_EQ(again.daily_day, first.daily_day);
      ASSERT_EQ(again.daily_debited, first.daily_debited);
      ASSERT_EQ(again.daily_debited_before, first.daily_debited_before);
    }
    // And the sums are the plain sums per day, for the two days kept.
    for (const std::uint64_t day : {first.daily_day, first.daily_day - 1}) {
      u128 sum = 0;
      for (const debit& d : debits) sum += utc_day(d.ts) == day ? d.amount : 0;
      EXPECT_EQ(daily_debited_on(first, day * day_ns), sum);
    }
  }
}

}  // namespace
}  // namespace remit
