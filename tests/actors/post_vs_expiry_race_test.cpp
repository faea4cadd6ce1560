// A post (or void) racing the expiry of its pending transfer. The clock is injected and the
// expiry sweep runs every 5 ms; one thread moves the clock past the expiry while another
// posts, over many trials. Whatever wins, the hold is released exactly once:
//   - the post is ok (and then its timestamp is before the expiry), the amount is posted;
//   - or it is pending_transfer_expired, and the sweep gives the amount back;
// never both, and the pending balances end at 0. Both outcomes must happen over the trials.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "engine/types.hpp"
#include "test_support.hpp"

namespace remit::actor_test {
namespace {

constexpr u128 payer = 1;  // debits_must_not_exceed_credits, funded
constexpr u128 payee = 2;
constexpr u128 bank = 3;
constexpr u128 amount = 10;

// Waits (real time) until the payer has nothing pending; false after 3 s.
bool settles(engine& eng) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    if (lookup_account(eng, payer).debits_pending == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

TEST(post_vs_expiry_race_test, the_hold_is_released_exactly_once) {
  manual_clock clock(epoch_2023_ns);
  engine_config cfg = test_config(2, 2);
  cfg.expiry_interval_ms = 5;
  cfg.clock = clock.fn();
  engine eng(cfg);
  const std::vector<account> accounts = {
      make_account(payer, 1, account_flags::debits_must_not_exceed_credits), make_account(payee),
      make_account(bank)};
  ASSERT_EQ(codes_of(create_accounts(eng, accounts)), codes({ar::ok, ar::ok, ar::ok}));
  const std::vector<transfer> fund = {make_transfer(1, bank, payer, 1'000'000)};
  ASSERT_EQ(codes_of(create_transfers(eng, fund)), codes({tr::ok}));

  constexpr std::uint64_t trials = 200;
  std::barrier sync(2);
  std::atomic<std::uint64_t> expiry_ns{0};
  std::atomic<std::uint64_t> spin{0};
  std::thread mover([&] {
    for (std::uint64_t k = 0; k < trials; ++k) {
      sync.arrive_and_wait();  // the post is about to be sent
      for (std::uint64_t i = 0, n = (k * 7919) % 3'000; i < n; ++i) spin.fetch_add(1);
      clock.set(expiry_ns.load() + k % 2);
      sync.arrive_and_wait();  // the clock moved
    }
  });

  // An ASSERT that returns early must not leave the mover waiting at the barrier.
  struct join_mover {
    std::barrier<>& sync;
    std::thread& mover;
    bool done = false;
    ~join_mover() {
      if (!done) sync.arrive_and_drop();
      mover.join();
    }
  } guard{sync, mover};

  u128 posted = 0;
  int ok = 0;
  int expired = 0;
  for (std::uint64_t k = 0; k < trials; ++k) {
    SCOPED_TRACE("trial " + std::to_string(k));
    const u128 pid = 100 + k;
    const u128 post_id = 10'000 + k;
    clock.set(epoch_2023_ns + (k + 1) * 10 * ns_per_s);
    const std::vector<transfer> pend = {make_pending(pid, payer, payee, amount, 1)};
    const auto created = create_transfers(eng, pend);
    ASSERT_EQ(codes_of(created), codes({tr::ok}));
    const std::uint64_t expires = created[0].timestamp + ns_per_s;
    expiry_ns.store(expires);
    clock.set(expires - 1 - k % 3);  // just before the expiry

    const bool is_void = k % 4 == 3;
    const std::vector<transfer> resolve = {is_void ? make_void(post_id, pid)
                                                   : make_post(post_id, pid, k % 2 ? 0 : amount)};
    sync.arrive_and_wait();
    // The mover needs a moment to wake up: wait a varied while before posting too, so that
    // either side moves first often enough.
    const auto post_at = std::chrono::steady_clock::now() + std::chrono::microseconds(k % 8 * 60);
    while (std::chrono::steady_clock::now() < post_at) {
    }
    auto future = eng.create_transfers(resolve);
    sync.arrive_and_wait();
    const engine_reply reply = get_reply(std::move(future));
    ASSERT_EQ(reply.results.size(), 1u);
    const result r = reply.results[0];
    if (r.status == static_cast<std::uint32_t>(tr::ok)) {
      ++ok;
      EXPECT_LT(r.timestamp, expires) << "a post at or after the expiry succeeded";
      if (!is_void) posted += amount;
    } else {
      EXPECT_EQ(static_cast<tr>(r.status), tr::pending_transfer_expired)
          << describe_transfer_result(r);
      ++expired;
    }
    ASSERT_TRUE(settles(eng)) << "the hold was not released";
    const account a = lookup_account(eng, payer);
    EXPECT_EQ(a.debits_pending, 0u);
    EXPECT_EQ(a.debits_posted, posted) << "posted and expired, or neither";
    const account b = lookup_account(eng, payee);
    EXPECT_EQ(b.credits_pending, 0u);
    EXPECT_EQ(b.credits_posted, posted);
    const u128 ids[1] = {post_id};
    EXPECT_EQ(lookup_transfers(eng, ids).size(), r.status == 0 ? 1u : 0u);
  }
  guard.done = true;
  std::printf("  %d resolved before the expiry, %d expired\n", ok, expired);
  // The race went both ways.
  EXPECT_GT(ok, 0) << "no post or void ever beat the expiry";
  EXPECT_GT(expired, 0) << "the expiry never beat the post or void";
  const ledger_stats s = stats(eng, 1);
  EXPECT_EQ(s.transfers_pending, 0u);
  // The funding, and the posts that won (voids are not counted).
  std::uint64_t posts_won = static_cast<std::uint64_t>(posted / amount);
  EXPECT_EQ(s.transfers_posted, 1u + posts_won);
  EXPECT_EQ(s.volume_posted, 1'000'000u + posted);
}

}  // namespace
}  // namespace remit::actor_test
