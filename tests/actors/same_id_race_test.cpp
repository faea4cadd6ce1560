// The same transfer id sent by several threads at the same moment (a client retry on a
// second connection), many trials with a new id each: exactly one of them creates it and
// the others answer from its outcome (`exists` with the original's timestamp, or
// `id_already_failed` when it failed on state); the money moves once.
//
// Trials vary the batches the id travels in: alone (routed to the id's owner shard), and
// beside other events (routed round robin, so the claim crosses shards). Each test counts
// who won and requires that every racer, and every shape of batch, won some trials: a loop
// in which one side always won would not have raced at all.
//
// claim_collision_test: the reproduction of a bug this suite found (see there).
#include <gtest/gtest.h>

#include <barrier>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "engine/types.hpp"
#include "test_support.hpp"

namespace remit::actor_test {
namespace {

constexpr u128 source = 1;  // unbounded
constexpr u128 target = 2;
constexpr u128 bounded = 3;  // debits_must_not_exceed_credits, never funded
constexpr std::uint32_t racers = 3;
constexpr std::uint64_t trials = 300;
constexpr std::uint64_t collision_trials = 300;
constexpr std::uint64_t collision_trials_max = 10000;

// Regression (found by this suite): a claim's holder was the batch's job id, a counter of
// the DRIVER shard (`id = st.next_job++`), so two batches driven by different shards at the
// same time could carry the same number; try_grant then took the second for the holder of
// the first and granted the same id to both. Both created it: the money moved twice and the
// owner shard aborted in apply_release (REMIT_ASSERT(inserted)); an account sent twice was
// created twice (two oks, counted twice in the stats). Fixed in a291b56: job ids are unique
// per engine (shard index in the high bits).
//
// Reproduction: 2 shards; one call to each shard so that their job counters are equal;
// then, without waiting, [T, A] and [T, B] (two events, so they are spread round robin:
// one per shard, same job number). Expected: one ok, one exists.
TEST(claim_collision_test, an_account_sent_twice_at_once_is_created_once) {
  engine_config cfg = test_config(2, 2);
  engine eng(cfg);
  int created_twice = 0;
  int a_won = 0;
  int b_won = 0;
  // At least 300 trials, and more (up to 10,000) until each call has won once: the second
  // call wins only when its shard gets ahead, which a busy machine may not allow for long.
  std::uint64_t k = 0;
  for (; k < collision_trials_max && (k < collision_trials || a_won == 0 || b_won == 0); ++k) {
    // Even calls go to shard 0, odd calls to shard 1: both shards are at the same job number.
    const u128 id = 1'000 + k;
    const std::vector<account> a = {make_account(id), make_account(make_u128(1, id))};
    const std::vector<account> b = {make_account(id), make_account(make_u128(2, id))};
    auto fa = eng.create_accounts(a);
    auto fb = eng.create_accounts(b);
    const engine_reply ra = get_reply(std::move(fa));
    const engine_reply rb = get_reply(std::move(fb));
    ASSERT_EQ(ra.results.size(), 2u);
    ASSERT_EQ(rb.results.size(), 2u);
    const std::uint32_t sa = ra.results[0].status;
    const std::uint32_t sb = rb.results[0].status;
    if (sa == 0 && sb == 0) ++created_twice;
    a_won += sa == 0 && sb == 3;
    b_won += sa == 3 && sb == 0;
    EXPECT_TRUE((sa == 0 && sb == 3) || (sa == 3 && sb == 0))
        << "trial " << k << ": " << describe_account_result(ra.results[0]) << " and "
        << describe_account_result(rb.results[0]);
  }
  EXPECT_EQ(created_twice, 0);
  EXPECT_EQ(stats(eng, 1).accounts, 3u * k);
  // Both claims were in flight at once, whichever reached the owner first.
  std::printf("  first call won %d, second call won %d\n", a_won, b_won);
  EXPECT_GT(a_won, 0);
  EXPECT_GT(b_won, 0);
}

TEST(claim_collision_test, a_transfer_sent_twice_at_once_moves_money_once) {
  engine_config cfg = test_config(2, 2);
  engine eng(cfg);
  // One call per shard: the job counters of both shards are equal from here on.
  const std::vector<account> a1 = {make_account(source)};
  const std::vector<account> a2 = {make_account(target)};
  ASSERT_EQ(codes_of(create_accounts(eng, a1)), codes({ar::ok}));
  ASSERT_EQ(codes_of(create_accounts(eng, a2)), codes({ar::ok}));
  int a_won = 0;
  int b_won = 0;
  std::uint64_t k = 0;
  for (; k < collision_trials_max && (k < collision_trials || a_won == 0 || b_won == 0); ++k) {
    const transfer t = make_transfer(1'000 + k, source, target, 100);
    const std::vector<transfer> a = {t, make_transfer(make_u128(1, k), source, target, 1)};
    const std::vector<transfer> b = {t, make_transfer(make_u128(2, k), source, target, 1)};
    auto fa = eng.create_transfers(a);
    auto fb = eng.create_transfers(b);
    const engine_reply ra = get_reply(std::move(fa));
    const engine_reply rb = get_reply(std::move(fb));
    ASSERT_EQ(ra.results.size(), 2u);
    ASSERT_EQ(rb.results.size(), 2u);
    const std::uint32_t sa = ra.results[0].status;
    const std::uint32_t sb = rb.results[0].status;
    EXPECT_TRUE((sa == 0 && sb == 3) || (sa == 3 && sb == 0))
        << "trial " << k << ": " << describe_transfer_result(ra.results[0]) << " and "
        << describe_transfer_result(rb.results[0]);
    a_won += sa == 0 && sb == 3;
    b_won += sa == 3 && sb == 0;
  }
  EXPECT_EQ(lookup_account(eng, target).credits_posted, u128{k * (100 + 2)});
  std::printf("  first call won %d, second call won %d\n", a_won, b_won);
  EXPECT_GT(a_won, 0);
  EXPECT_GT(b_won, 0);
}

// With one shard every claim meets its rival at the same driver; with four, the claims
// cross shards.
class same_id_race_test : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(same_id_race_test, one_wins_the_others_see_its_outcome) {
  engine_config cfg = test_config(GetParam(), 2);
  engine eng(cfg);
  const std::vector<account> accounts = {
      make_account(source), make_account(target),
      make_account(bounded, 1, account_flags::debits_must_not_exceed_credits)};
  ASSERT_EQ(codes_of(create_accounts(eng, accounts)), codes({ar::ok, ar::ok, ar::ok}));

  // results[trial][racer]: the result of the raced id.
  std::vector<std::vector<result>> results(trials, std::vector<result>(racers));
  std::barrier sync(racers);
  const auto racer = [&](std::uint32_t r) {
    for (std::uint64_t k = 0; k < trials; ++k) {
      const u128 id = 1'000 + k;
      const bool fails = k % 5 == 4;
      const transfer t = make_transfer(id, fails ? bounded : source, target, 1 + k % 7);
      std::vector<transfer> batch;
      const std::uint64_t shape = (k + r) % 3;
      if (shape == 1) batch.push_back(make_transfer(make_u128(r + 1, k), source, target, 1));
      batch.push_back(t);
      if (shape == 2) batch.push_back(make_transfer(make_u128(r + 10, k), source, target, 1));
      sync.arrive_and_wait();
      engine_reply reply = get_reply(eng.create_transfers(batch));
      EXPECT_EQ(reply.status, engine_status::ok);
      if (reply.results.size() != batch.size()) {
        ADD_FAILURE() << "trial " << k << ": " << reply.results.size() << " results";
        continue;
      }
      results[k][r] = reply.results[shape == 1 ? 1 : 0];
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t r = 0; r < racers; ++r) threads.emplace_back(racer, r);
  for (auto& t : threads) t.join();

  u128 moved = 0;
  u128 extra = 0;
  // Who decided each trial (created the id, or failed on state first): by racer, and by the
  // shape of its batch (alone at the owner, or beside other events, claiming across shards).
  int decided_by_racer[racers] = {};
  int decided_by_shape[3] = {};
  for (std::uint64_t k = 0; k < trials; ++k) {
    for (std::uint32_t r = 0; r < racers; ++r) {
      if ((k + r) % 3 != 0) extra += 1;  // the unique neighbour of the raced id
    }
    SCOPED_TRACE("trial " + std::to_string(k));
    const bool fails = k % 5 == 4;
    int won = 0;
    int exists = 0;
    int failed = 0;
    int already_failed = 0;
    std::uint64_t ts = 0;
    for (std::uint32_t r = 0; r < racers; ++r) {
      const result& x = results[k][r];
      switch (static_cast<tr>(x.status)) {
        case tr::ok:
          ++won;
          ts = x.timestamp;
          ++decided_by_racer[r];
          ++decided_by_shape[(k + r) % 3];
          break;
        case tr::exists:
          ++exists;
          break;
        case tr::exceeds_credits:
          ++failed;
          EXPECT_EQ(x.timestamp, 0u);
          ++decided_by_racer[r];
          ++decided_by_shape[(k + r) % 3];
          break;
        case tr::id_already_failed:
          ++already_failed;
          EXPECT_EQ(x.timestamp, 0u);
          break;
        default:
          ADD_FAILURE() << "unexpected " << describe_transfer_result(x);
          break;
      }
    }
    if (fails) {
      EXPECT_EQ(failed, 1);
      EXPECT_EQ(already_failed, static_cast<int>(racers) - 1);
    } else {
      EXPECT_EQ(won, 1);
      EXPECT_EQ(exists, static_cast<int>(racers) - 1);
      for (const result& x : results[k])
        EXPECT_EQ(x.timestamp, ts) << "exists carries the original's";
      moved += 1 + k % 7;
    }
    const u128 ids[1] = {1'000 + k};
    const auto found = lookup_transfers(eng, ids);
    EXPECT_EQ(found.size(), fails ? 0u : 1u);
    if (!fails && found.size() == 1) {
      EXPECT_EQ(found[0].timestamp, ts);
    }
  }
  // Every racer and every shape of batch decided some trial: the race went each way.
  std::printf("  decided by racer %d/%d/%d, by shape alone %d, first %d, last %d\n",
              decided_by_racer[0], decided_by_racer[1], decided_by_racer[2], decided_by_shape[0],
              decided_by_shape[1], decided_by_shape[2]);
  for (std::uint32_t r = 0; r < racers; ++r) EXPECT_GT(decided_by_racer[r], 0) << "racer " << r;
  for (int shape = 0; shape < 3; ++shape)
    EXPECT_GT(decided_by_shape[shape], 0) << "shape " << shape;
  const account t = lookup_account(eng, target);
  EXPECT_EQ(t.credits_posted, moved + extra) << "moved once per trial";
  EXPECT_EQ(lookup_account(eng, bounded).debits_posted, 0u);
  EXPECT_EQ(stats(eng, 1).transfers_posted,
            static_cast<std::uint64_t>(trials - trials / 5) + static_cast<std::uint64_t>(extra));
}

// The same for a post: several threads post the same pending transfer under one post id at
// once, and under different post ids at once. One post wins; the hold is released once.
TEST_P(same_id_race_test, one_post_of_a_pending_transfer_wins) {
  engine_config cfg = test_config(GetParam(), 2);
  engine eng(cfg);
  const std::vector<account> accounts = {make_account(source), make_account(target)};
  ASSERT_EQ(codes_of(create_accounts(eng, accounts)), codes({ar::ok, ar::ok}));
  constexpr std::uint64_t rounds = 150;
  std::vector<transfer> pendings;
  for (std::uint64_t k = 0; k < rounds; ++k)
    pendings.push_back(make_pending(10'000 + k, source, target, 10));
  for (const result& r : create_transfers(eng, pendings)) ASSERT_EQ(r.status, 0u);

  std::vector<std::vector<result>> results(rounds, std::vector<result>(racers));
  std::barrier sync(racers);
  const auto racer = [&](std::uint32_t r) {
    for (std::uint64_t k = 0; k < rounds; ++k) {
      const bool same_post_id = k % 2 == 0;
      const u128 post_id = same_post_id ? make_u128(7, k) : make_u128(8 + r, k);
      const std::vector<transfer> batch = {k % 3 == 0 ? make_void(post_id, 10'000 + k)
                                                      : make_post(post_id, 10'000 + k, 4)};
      sync.arrive_and_wait();
      engine_reply reply = get_reply(eng.create_transfers(batch));
      if (reply.results.size() != 1) {
        ADD_FAILURE() << "round " << k << ": " << reply.results.size() << " results";
        continue;
      }
      results[k][r] = reply.results[0];
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t r = 0; r < racers; ++r) threads.emplace_back(racer, r);
  for (auto& t : threads) t.join();

  u128 posted = 0;
  int won_by_racer[racers] = {};
  for (std::uint64_t k = 0; k < rounds; ++k) {
    SCOPED_TRACE("round " + std::to_string(k));
    const bool is_void = k % 3 == 0;
    int won = 0;
    int others = 0;
    for (std::uint32_t r = 0; r < racers; ++r) {
      const result& x = results[k][r];
      const auto code = static_cast<tr>(x.status);
      if (code == tr::ok) {
        ++won;
        ++won_by_racer[r];
      } else if (k % 2 == 0) {
        EXPECT_EQ(code, tr::exists);
        ++others;
      } else {
        EXPECT_EQ(code, is_void ? tr::pending_transfer_already_voided
                                : tr::pending_transfer_already_posted);
        ++others;
      }
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(others, static_cast<int>(racers) - 1);
    if (!is_void) posted += 4;
  }
  std::printf("  won by racer %d/%d/%d\n", won_by_racer[0], won_by_racer[1], won_by_racer[2]);
  for (std::uint32_t r = 0; r < racers; ++r) EXPECT_GT(won_by_racer[r], 0) << "racer " << r;
  const account s = lookup_account(eng, source);
  EXPECT_EQ(s.debits_pending, 0u);
  EXPECT_EQ(s.debits_posted, posted);
  const account t = lookup_account(eng, target);
  EXPECT_EQ(t.credits_pending, 0u);
  EXPECT_EQ(t.credits_posted, posted);
  EXPECT_EQ(stats(eng, 1).transfers_pending, 0u);
}

INSTANTIATE_TEST_SUITE_P(shards, same_id_race_test, ::testing::Values(1u, 4u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& param_info) {
                           return "shards" + std::to_string(param_info.param);
                         });

}  // namespace
}  // namespace remit::actor_test
