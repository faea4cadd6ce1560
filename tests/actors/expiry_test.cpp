// Expiry of pending transfers with an injected clock: the engine's sweep (every
// expiry_interval_ms of real time, reading the injected clock) releases a pending transfer
// once the clock reaches its timestamp + timeout; until then it stays. Compared at each
// point with the reference ledger, whose expire(now) is called at the same clock value.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "test_support.hpp"

namespace remit::actor_test {
namespace {

constexpr u128 payer = 1;  // debits_must_not_exceed_credits
constexpr u128 payee = 2;
constexpr u128 bank = 3;

class expiry_test : public ::testing::Test {
 protected:
  expiry_test() : expiry_test(5) {}
  explicit expiry_test(std::uint32_t interval_ms) : clock_(epoch_2023_ns) {
    engine_config cfg = test_config(3, 2);
    cfg.expiry_interval_ms = interval_ms;
    cfg.clock = clock_.fn();
    eng_ = std::make_unique<engine>(cfg);
  }

  void SetUp() override {
    ASSERT_EQ(
        codes_of(accounts({make_account(payer, 1, account_flags::debits_must_not_exceed_credits),
                           make_account(payee), make_account(bank)})),
        codes({ar::ok, ar::ok, ar::ok}));
    ASSERT_EQ(codes_of(transfers({make_transfer(1, bank, payer, 100)})), codes({tr::ok}));
  }

  // At the current clock, on both sides; the results must agree.
  std::vector<result> accounts(const std::vector<account>& events) {
    std::vector<result> expected(events.size());
    ref_.create_accounts(events, clock_.get(), expected);
    auto actual = create_accounts(*eng_, events);
    EXPECT_TRUE(same_results(expected, actual));
    return actual;
  }
  std::vector<result> transfers(const std::vector<transfer>& events) {
    std::vector<result> expected(events.size());
    ref_.create_transfers(events, clock_.get(), expected);
    auto actual = create_transfers(*eng_, events);
    EXPECT_TRUE(same_results(expected, actual));
    return actual;
  }

  // Moves the clock, lets the reference expire what it must, and waits (real time) until the
  // engine's sweep has released as much; false if it does not within 3 s.
  bool move_clock_and_settle(std::uint64_t now) {
    clock_.set(now);
    ref_.expire(now);
    const std::vector<u128> ids = {payer, payee, bank};
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < until) {
      if (same_list(ref_lookup_accounts(ref_, ids), lookup_accounts(*eng_, ids), "accounts") &&
          same_bytes(ref_.get_ledger_stats(1), stats(*eng_, 1)))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_TRUE(same_list(ref_lookup_accounts(ref_, ids), lookup_accounts(*eng_, ids), "accounts"));
    EXPECT_TRUE(same_stats(ref_.get_ledger_stats(1), stats(*eng_, 1)));
    return false;
  }

  account payer_now() { return lookup_account(*eng_, payer); }

  manual_clock clock_;
  std::unique_ptr<engine> eng_;
  reference_ledger ref_;
};

TEST_F(expiry_test, expiry_releases_the_hold_and_a_late_post_is_refused) {
  clock_.advance(ns_per_s);
  const auto made = transfers({make_pending(10, payer, payee, 60, 1),    // expires first
                               make_pending(11, payer, payee, 30, 2),    // a second later
                               make_pending(12, payer, payee, 10, 0)});  // never
  ASSERT_EQ(codes_of(made), codes({tr::ok, tr::ok, tr::ok}));
  const std::uint64_t expires10 = made[0].timestamp + ns_per_s;
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 3u);

  // One nanosecond before: nothing happens, however long the sweep runs.
  ASSERT_TRUE(move_clock_and_settle(expires10 - 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(payer_now().debits_pending, 100u);
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 3u);

  // At the expiry: 10 is released, stats count it out.
  ASSERT_TRUE(move_clock_and_settle(expires10));
  EXPECT_EQ(payer_now().debits_pending, 40u);
  EXPECT_EQ(payer_now().debits_posted, 0u);
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 2u);

  // A post or void of it now: pending_transfer_expired (and remembered by id).
  EXPECT_EQ(
      codes_of(transfers({make_post(20, 10), make_void(21, 10), make_post(20, 10)})),
      codes({tr::pending_transfer_expired, tr::pending_transfer_expired, tr::id_already_failed}));
  // Sent again, the pending transfer itself is `exists`: it is stored, expired.
  EXPECT_EQ(codes_of(transfers({make_pending(10, payer, payee, 60, 1)})), codes({tr::exists}));
  // The released 60 can be spent again (100 credits, 40 still held).
  EXPECT_EQ(codes_of(transfers(
                {make_transfer(22, payer, payee, 60), make_transfer(23, payer, payee, 1)})),
            codes({tr::ok, tr::exceeds_credits}));

  // A day later: 11 has expired too; 12 never does.
  ASSERT_TRUE(move_clock_and_settle(clock_.get() + ns_per_day));
  EXPECT_EQ(payer_now().debits_pending, 10u);
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 1u);
  EXPECT_EQ(codes_of(transfers({make_post(24, 11), make_post(25, 12, 4)})),
            codes({tr::pending_transfer_expired, tr::ok}));
  ASSERT_TRUE(move_clock_and_settle(clock_.get() + 1));
  EXPECT_EQ(payer_now().debits_pending, 0u);
  EXPECT_EQ(payer_now().debits_posted, 64u);
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 0u);
  const u128 ids[] = {10, 11, 12, 20, 21, 22, 24, 25};
  EXPECT_TRUE(
      same_list(ref_lookup_transfers(ref_, ids), lookup_transfers(*eng_, ids), "transfers"));
}

TEST_F(expiry_test, a_post_just_before_the_expiry_wins) {
  clock_.advance(ns_per_s);
  const auto made = transfers({make_pending(10, payer, payee, 50, 1)});
  ASSERT_EQ(codes_of(made), codes({tr::ok}));
  clock_.set(made[0].timestamp + ns_per_s - 1);
  const auto posted = transfers({make_post(11, 10, 20)});
  ASSERT_EQ(codes_of(posted), codes({tr::ok}));
  ASSERT_TRUE(move_clock_and_settle(made[0].timestamp + 5 * ns_per_s));
  const account a = payer_now();
  EXPECT_EQ(a.debits_posted, 20u);
  EXPECT_EQ(a.debits_pending, 0u);
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 0u);
}

TEST_F(expiry_test, many_pending_transfers_expire_in_one_sweep) {
  std::vector<transfer> events;
  for (std::uint64_t i = 0; i < 300; ++i) {
    events.push_back(make_pending(1'000 + i, i % 10 == 0 ? payer : bank, payee, 1 + i % 3,
                                  static_cast<std::uint32_t>(1 + i % 5)));
  }
  clock_.advance(ns_per_s);
  for (const result& r : transfers(events)) ASSERT_EQ(r.status, 0u);
  for (std::uint64_t s = 1; s <= 6; ++s) {
    SCOPED_TRACE("after " + std::to_string(s) + " s");
    ASSERT_TRUE(move_clock_and_settle(clock_.get() + ns_per_s));
  }
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 0u);
  EXPECT_EQ(payer_now().debits_pending, 0u);
}

// With a sweep that never runs within the test, a post after the expiry time is refused all
// the same (by its timestamp), and the amounts stay held until a sweep releases them.
class expiry_without_sweep_test : public expiry_test {
 protected:
  expiry_without_sweep_test() : expiry_test(3'600'000) {}
};

TEST_F(expiry_without_sweep_test, a_post_after_the_expiry_time_is_refused_before_the_sweep) {
  clock_.advance(ns_per_s);
  const auto made = transfers({make_pending(10, payer, payee, 50, 1)});
  ASSERT_EQ(codes_of(made), codes({tr::ok}));
  clock_.set(made[0].timestamp + ns_per_s);
  EXPECT_EQ(codes_of(transfers({make_post(11, 10), make_void(12, 10)})),
            codes({tr::pending_transfer_expired, tr::pending_transfer_expired}));
  EXPECT_EQ(payer_now().debits_pending, 50u);  // the sweep has not run
  EXPECT_EQ(stats(*eng_, 1).transfers_pending, 1u);
}

}  // namespace
}  // namespace remit::actor_test
