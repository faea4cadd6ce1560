// A waiting claim on many ids is granted within a bounded time while single requests keep
// claiming those ids (docs/ARCHITECTURE.md, ownership and claims): every transfer id is claimed at
// its owner shard before the transfer runs, and a claim that waits for an id must not be overtaken
// forever by later claims of the same id. Otherwise a batch that needs many ids can starve behind a
// stream of small requests, each of which finds its one id free.
//
// Several threads keep resending single transfers K1..Kn that exist (each answered
// `exists`, each claiming its id for a moment), with many requests outstanding for each of
// a few ids, so that some Ki is claimed at almost every moment, while one batch carrying all of
// K1..Kn and a few new ids is submitted. The batch must be answered while the stream goes on; only
// then does the stream stop. The bound (10 s) is the failure condition "starved", not a
// measure of speed: a fair owner (first come, first served per id) answers well within it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

constexpr u128 source = 1;
constexpr u128 target = 2;
constexpr std::uint64_t keys = 8;     // K1..Kn: few, so that each is nearly always claimed
constexpr std::uint64_t new_ids = 4;  // in the batch beside them
constexpr std::uint32_t stream_threads = 3;
constexpr std::uint32_t outstanding_per_key_max = 64;
constexpr auto starved_after = std::chrono::seconds(10);

u128 key(std::uint64_t i) {
  return 100 + i;
}

class claim_fairness_test : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(claim_fairness_test, a_batch_of_many_ids_is_not_starved_by_single_claims) {
  engine eng(test_config(GetParam(), 2));
  ASSERT_EQ(codes_of(create_accounts(
                eng, std::vector<account>{make_account(source), make_account(target)})),
            codes({ar::ok, ar::ok}));
  std::vector<transfer> originals;
  for (std::uint64_t i = 0; i < keys; ++i)
    originals.push_back(make_transfer(key(i), source, target, 1 + i % 5));
  const std::vector<result> made = create_transfers(eng, originals);
  ASSERT_EQ(made.size(), keys);
  for (const result& r : made) ASSERT_EQ(r.status, 0u);

  // The stream: single resends, answered `exists`, a few outstanding per id (per id, so
  // that requests held up on some ids do not take the budget of the others).
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> wrong{0};
  std::atomic<std::uint32_t> outstanding[keys] = {};
  std::vector<std::thread> stream;
  for (std::uint32_t t = 0; t < stream_threads; ++t) {
    stream.emplace_back([&, t] {
      for (std::uint64_t i = t; !stop.load(); ++i) {
        const std::uint64_t k = i % keys;
        if (outstanding[k].fetch_add(1) >= outstanding_per_key_max) {
          outstanding[k].fetch_sub(1);
          std::this_thread::yield();
          continue;
        }
        eng.create_transfers(std::span<const transfer>(&originals[k], 1), [&, k](engine_reply&& r) {
          if (r.status != engine_status::ok || r.results.size() != 1 ||
              r.results[0].status != static_cast<std::uint32_t>(tr::exists))
            wrong.fetch_add(1);
          answered.fetch_add(1);
          outstanding[k].fetch_sub(1);
        });
      }
    });
  }
  // Stops the stream and waits for its last answers, also when an assertion returns early.
  struct stream_guard {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    engine& eng;
    ~stream_guard() {
      stop.store(true);
      for (auto& th : threads) th.join();
      (void)wait_idle(eng);
    }
  } guard{stop, stream, eng};

  // Let the stream run first.
  const auto warm_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (answered.load() < 500 && std::chrono::steady_clock::now() < warm_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GE(answered.load(), 500u) << "the stream did not run";

  std::vector<transfer> batch = originals;
  for (std::uint64_t j = 0; j < new_ids; ++j)
    batch.push_back(make_transfer(10'000 + j, source, target, 1));
  const std::uint64_t answered_before = answered.load();
  const auto sent = std::chrono::steady_clock::now();
  auto reply = eng.create_transfers(batch);
  const bool in_time = reply.wait_for(starved_after) == std::future_status::ready;
  const auto waited_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent)
          .count();
  const std::uint64_t answered_meanwhile = answered.load() - answered_before;
  EXPECT_TRUE(in_time) << "starved: the batch was not answered within " << starved_after.count()
                       << " s while " << answered_meanwhile << " single requests for its ids were";
  // The stream still runs after the batch answered (else the test showed nothing): only now
  // does it stop.
  const std::uint64_t answered_after = answered.load();
  const auto alive_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (answered.load() < answered_after + 100 && std::chrono::steady_clock::now() < alive_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_GE(answered.load(), answered_after + 100) << "the stream stopped";
  stop.store(true);
  const engine_reply r = get_reply(std::move(reply), "batch reply");
  std::printf("  batch answered after %lld ms; %llu single requests answered meanwhile\n",
              static_cast<long long>(waited_ms),
              static_cast<unsigned long long>(answered_meanwhile));

  ASSERT_EQ(r.status, engine_status::ok);
  ASSERT_EQ(r.results.size(), batch.size());
  for (std::uint64_t i = 0; i < keys; ++i) {
    EXPECT_EQ(r.results[i].status, static_cast<std::uint32_t>(tr::exists)) << "K" << i;
    EXPECT_EQ(r.results[i].timestamp, made[i].timestamp) << "K" << i;
  }
  for (std::uint64_t j = 0; j < new_ids; ++j)
    EXPECT_EQ(r.results[keys + j].status, 0u) << "new id " << j;
  EXPECT_EQ(wrong.load(), 0u) << "a resend was not answered `exists`";
}

INSTANTIATE_TEST_SUITE_P(shards, claim_fairness_test, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& param_info) {
                           return "shards" + std::to_string(param_info.param);
                         });

}  // namespace
}  // namespace remit::actor_test
