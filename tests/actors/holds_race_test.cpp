// Holds across concurrent requests (docs/PROTOCOL.md section 8; docs/ARCHITECTURE.md, order within
// a linked chain and escrow): a transfer in flight counts as a hold, its debits like pending
// debits, its credits not at all until it commits.
//
// Each trial races a linked chain against a second request on fresh accounts. The chain
// reserves its first legs, then holds them while many filler legs reserve one round after
// another, then fails on its last leg and aborts. The second request is sent a little after
// the chain, so that it reserves before, during or after the chain's holds; the trial
// checks the promise whatever the interleaving, and the suite requires that the interleaving
// the promise is about (the second request reserving under the chain's holds) happened.
//
//   - an_in_flight_debit_blocks_a_second_request_whose_failure_stands: the chain debits
//     every unit of an account; a second debit of it reserved meanwhile fails
//     exceeds_credits. The chain then aborts, the money is back, and still the failure
//     stands: a resend of the second's id is id_already_failed.
//   - in_flight_credits_are_never_spendable: the chain's first leg moves money from a payer
//     to a payee with no posted credits; a debit of the payee by another request must fail
//     whenever it runs (the credit in flight is never spendable, and the chain aborts). A
//     debit of the payer in the same request shows when it ran under the chain's holds.
#include <gtest/gtest.h>

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

constexpr u128 bank = 1;       // unbounded
constexpr u128 filler_dr = 2;  // unbounded: the filler legs
constexpr u128 filler_cr = 3;
constexpr u128 broke = 4;  // debits_must_not_exceed_credits, never funded
constexpr u128 sink = 5;   // credited by the second requests
constexpr u128 other_sink = 6;

constexpr std::uint32_t filler_legs = 40;
constexpr std::uint64_t trials_max = 200;
constexpr auto trials_time_max = std::chrono::seconds(8);

std::uint32_t code_of(tr c) {
  return static_cast<std::uint32_t>(c);
}

// A linked chain of `head`, filler_legs legs between two unbounded accounts, and a last leg
// from `broke` that always fails: the chain holds its head's reservations for about
// filler_legs rounds, then aborts. Ids are make_u128(tag, 0..).
std::vector<transfer> aborting_chain(const std::vector<transfer>& head, std::uint64_t tag) {
  std::vector<transfer> out;
  std::uint64_t seq = head.size();
  for (const transfer& t : head) out.push_back(linked(t));
  for (std::uint32_t i = 0; i < filler_legs; ++i)
    out.push_back(linked(make_transfer(make_u128(tag, seq++), filler_dr, filler_cr, 1)));
  out.push_back(make_transfer(make_u128(tag, seq), broke, filler_cr, 1));
  return out;
}

// The one result of a failed chain that is not linked_event_failed: its index, or -1 if the
// results are not those of a failed chain.
int failed_leg(const std::vector<result>& r, std::uint32_t& code) {
  int at = -1;
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (r[i].status == code_of(tr::linked_event_failed)) continue;
    if (at != -1) return -1;
    at = static_cast<int>(i);
    code = r[i].status;
  }
  return at;
}

// Busy-waits about `us` microseconds: the second request goes out at varied moments of the
// chain's life (a sleep would be far coarser).
void spin_us(std::uint64_t us) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(us);
  while (std::chrono::steady_clock::now() < until) {
  }
}

// Sends the aborting `chain` and, after a varied moment (trial `k`), `second`; both are
// answered ok with one result per event, and the chain fails as a chain on exceeds_credits.
// `at` is its failing event.
void race(engine& eng, const std::vector<transfer>& chain, const std::vector<transfer>& second,
          std::uint64_t k, engine_reply& c, engine_reply& s, int& at) {
  auto chain_reply = eng.create_transfers(chain);
  spin_us(k % 16 * 60);
  auto second_reply = eng.create_transfers(second);
  c = get_reply(std::move(chain_reply), "chain reply");
  s = get_reply(std::move(second_reply), "second reply");
  ASSERT_EQ(c.status, engine_status::ok);
  ASSERT_EQ(s.status, engine_status::ok);
  ASSERT_EQ(c.results.size(), chain.size());
  ASSERT_EQ(s.results.size(), second.size());
  std::uint32_t chain_code = 0;
  at = failed_leg(c.results, chain_code);
  ASSERT_NE(at, -1) << "the chain did not fail as a chain";
  EXPECT_EQ(chain_code, code_of(tr::exceeds_credits));
}

void make_common_accounts(engine& eng) {
  const std::vector<account> a = {
      make_account(bank),
      make_account(filler_dr),
      make_account(filler_cr),
      make_account(broke, 1, account_flags::debits_must_not_exceed_credits),
      make_account(sink),
      make_account(other_sink)};
  for (const result& r : create_accounts(eng, a)) ASSERT_EQ(r.status, 0u);
}

class holds_race_test : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(holds_race_test, an_in_flight_debit_blocks_a_second_request_whose_failure_stands) {
  engine eng(test_config(GetParam(), 2));
  ASSERT_NO_FATAL_FAILURE(make_common_accounts(eng));
  constexpr u128 funds = 100;
  constexpr u128 second_amount = 60;  // fits alone, not beside the chain's hold

  int blocked = 0;       // the second reserved under the chain's hold and failed
  int second_first = 0;  // the second reserved first; the chain failed on its first leg
  int second_after = 0;  // the second reserved after the chain aborted
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t k = 0;
  for (; k < trials_max && std::chrono::steady_clock::now() - t0 < trials_time_max; ++k) {
    SCOPED_TRACE("trial " + std::to_string(k));
    const u128 payer = make_u128(10, k);  // debits_must_not_exceed_credits, holds `funds`
    ASSERT_EQ(create_accounts(eng, std::vector<account>{make_account(
                                       payer, 1, account_flags::debits_must_not_exceed_credits)})
                  .at(0)
                  .status,
              0u);
    ASSERT_EQ(create_transfers(
                  eng, std::vector<transfer>{make_transfer(make_u128(11, k), bank, payer, funds)})
                  .at(0)
                  .status,
              0u);

    const std::vector<transfer> chain =
        aborting_chain({make_transfer(make_u128(12, k), payer, sink, funds)}, 1'000 + k);
    const std::vector<transfer> second = {
        make_transfer(make_u128(13, k), payer, other_sink, second_amount)};
    engine_reply c, s;
    int at = -1;
    ASSERT_NO_FATAL_FAILURE(race(eng, chain, second, k, c, s, at));
    const int last = static_cast<int>(chain.size()) - 1;

    const std::uint32_t second_code = s.results[0].status;
    if (second_code == code_of(tr::exceeds_credits)) {
      ++blocked;
      // Only the chain's hold could have refused it: the chain had reserved the payer.
      EXPECT_EQ(at, last) << "the second failed, yet the chain failed on its first leg";
      // The chain aborted, the money is back...
      const account p = lookup_account(eng, payer);
      EXPECT_EQ(p.credits_posted, funds);
      EXPECT_EQ(p.debits_posted, 0u);
      EXPECT_EQ(p.debits_pending, 0u);
      // ...and the failure stands, by id.
      const std::vector<result> again = create_transfers(eng, second);
      ASSERT_EQ(again.size(), 1u);
      ASSERT_EQ(again[0].status, code_of(tr::id_already_failed))
          << "a failure caused by a hold was forgotten: " << describe_transfer_result(again[0]);
      // The same debit under a new id finds the money.
      const std::vector<transfer> fresh = {
          make_transfer(make_u128(14, k), payer, other_sink, second_amount)};
      EXPECT_EQ(create_transfers(eng, fresh).at(0).status, code_of(tr::ok));
    } else {
      ASSERT_EQ(second_code, code_of(tr::ok)) << describe_transfer_result(s.results[0]);
      if (at == 0) {
        ++second_first;
      } else {
        EXPECT_EQ(at, last);
        ++second_after;
      }
      const std::vector<result> again = create_transfers(eng, second);
      ASSERT_EQ(again.size(), 1u);
      EXPECT_EQ(again[0].status, code_of(tr::exists)) << describe_transfer_result(again[0]);
    }
    const account p = lookup_account(eng, payer);
    EXPECT_EQ(p.debits_posted, second_amount) << describe(p);
    EXPECT_EQ(p.debits_pending, 0u);
  }
  std::printf("  %llu trials: blocked %d, second first %d, second after the abort %d\n",
              static_cast<unsigned long long>(k), blocked, second_first, second_after);
  EXPECT_GT(blocked, 0) << "no second request ever reserved under the chain's hold";
  EXPECT_GE(k, 20u) << "too few trials within the time bound";
}

TEST_P(holds_race_test, in_flight_credits_are_never_spendable) {
  engine eng(test_config(GetParam(), 2));
  ASSERT_NO_FATAL_FAILURE(make_common_accounts(eng));
  constexpr u128 funds = 100;  // what the payer holds
  constexpr u128 moved = 60;   // what the chain moves from the payer to the payee
  constexpr u128 debit = 50;   // what the second request debits from each

  int under_holds = 0;   // the second ran under the chain's holds
  int second_first = 0;  // it ran first; the chain failed on its first leg
  int second_after = 0;  // it ran after the chain aborted
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t k = 0;
  for (; k < trials_max && std::chrono::steady_clock::now() - t0 < trials_time_max; ++k) {
    SCOPED_TRACE("trial " + std::to_string(k));
    // The chain's first leg debits the payer and credits the payee, who never has posted
    // credits. The second request debits both at once (two independent events reserve in
    // the same round): the payer's debit shows whether the chain's legs were held then (it
    // fits beside nothing but the chain's debit), the payee's must fail whenever it runs.
    const u128 payer = make_u128(20, k);
    const u128 payee = make_u128(21, k);
    const std::vector<account> a = {
        make_account(payer, 1, account_flags::debits_must_not_exceed_credits),
        make_account(payee, 1, account_flags::debits_must_not_exceed_credits)};
    for (const result& r : create_accounts(eng, a)) ASSERT_EQ(r.status, 0u);
    ASSERT_EQ(create_transfers(
                  eng, std::vector<transfer>{make_transfer(make_u128(22, k), bank, payer, funds)})
                  .at(0)
                  .status,
              0u);

    const std::vector<transfer> chain =
        aborting_chain({make_transfer(make_u128(23, k), payer, payee, moved)}, 2'000 + k);
    const std::vector<transfer> second = {
        make_transfer(make_u128(24, k), payee, sink, debit),
        make_transfer(make_u128(25, k), payer, other_sink, debit)};
    engine_reply c, s;
    int at = -1;
    ASSERT_NO_FATAL_FAILURE(race(eng, chain, second, k, c, s, at));
    const int last = static_cast<int>(chain.size()) - 1;

    // The promise: the payee's credit in flight paid for nothing.
    ASSERT_EQ(s.results[0].status, code_of(tr::exceeds_credits))
        << "a debit was paid with a credit still in flight: "
        << describe_transfer_result(s.results[0]);
    if (s.results[1].status == code_of(tr::exceeds_credits)) {
      ++under_holds;
      EXPECT_EQ(at, last) << "the payer's debit failed, yet the chain never held the payer";
    } else {
      ASSERT_EQ(s.results[1].status, code_of(tr::ok)) << describe_transfer_result(s.results[1]);
      if (at == 0) {
        ++second_first;
      } else {
        EXPECT_EQ(at, last);
        ++second_after;
      }
    }
    const account e = lookup_account(eng, payee);
    EXPECT_EQ(e.credits_posted, 0u) << describe(e);
    EXPECT_EQ(e.debits_posted, 0u) << describe(e);
    EXPECT_EQ(e.debits_pending, 0u) << describe(e);
    const account p = lookup_account(eng, payer);
    EXPECT_EQ(p.credits_posted, funds) << describe(p);
    EXPECT_EQ(p.debits_posted, s.results[1].status == 0 ? debit : 0) << describe(p);
    EXPECT_EQ(p.debits_pending, 0u) << describe(p);
  }
  std::printf(
      "  %llu trials: under the chain's holds %d, second first %d, second after the "
      "abort %d\n",
      static_cast<unsigned long long>(k), under_holds, second_first, second_after);
  EXPECT_GT(under_holds, 0) << "no second request ever reserved under the chain's holds";
  EXPECT_GE(k, 20u) << "too few trials within the time bound";
}

INSTANTIATE_TEST_SUITE_P(shards, holds_race_test, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& param_info) {
                           return "shards" + std::to_string(param_info.param);
                         });

}  // namespace
}  // namespace remit::actor_test
