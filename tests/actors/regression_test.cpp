// Regression tests of the actor engine, one per bug, each on the smallest input that showed
// it. Every case ran against the engine before its fix and failed there.
//
// - A linked chain with a transfer that has both balancing flags: the credit side reserves
//   what it can take first, the debit side may allow less, and the later legs of the chain
//   (and concurrent requests) must see the amount that moves, not the first side's hold.
// - The daily debit cap across UTC midnight: a debit stamped just before midnight that is
//   still deciding when a debit of the next day commits is checked against, and counted in,
//   its own day's sum.
// - Batches larger than batch_events_max are refused whole (too_many_events), so that a
//   request's decisions always fit one journal record and a chain is never split.
#include <atomic>
#include <thread>

#include "test_support.hpp"

namespace remit::actor_test {
namespace {

constexpr std::uint16_t both_balancing =
    transfer_flags::balancing_debit | transfer_flags::balancing_credit;

class ActorRegression : public ::testing::TestWithParam<std::uint32_t> {};  // shards

template <class T>
T get_reply_pair(std::future<T> f) {
  if (f.wait_for(reply_deadline) != std::future_status::ready) {
    ADD_FAILURE() << "no reply within the deadline";
    std::abort();
  }
  return f.get();
}

// The engine and the reference ledger on the same calls: results, then accounts and the
// stored transfers, byte for byte.
void expect_same(both_sides& s, const std::vector<transfer>& batch,
                 const std::vector<std::uint32_t>& codes_expected,
                 const std::vector<u128>& accounts, const std::vector<u128>& transfers) {
  const auto p = s.transfers(batch);
  EXPECT_EQ(codes_of(p.expected), codes_expected) << "the reference ledger changed its answer";
  EXPECT_TRUE(same_results(p.expected, p.actual));
  EXPECT_TRUE(s.same_accounts(accounts));
  EXPECT_TRUE(same_list(ref_lookup_transfers(s.ref(), transfers),
                        lookup_transfers(s.eng(), transfers), "transfers"));
}

// Accounts F, E and D without flags, and C with debits_must_not_exceed_credits and the
// given controls; F -> D 10, so D holds 10.
constexpr u128 F = 1, E = 2, D = 3, C = 4;
void bounded_c_and_ten_at_d(both_sides& s, const account_controls& controls) {
  const std::vector<account> a = {
      make_account(F), make_account(E), make_account(D),
      make_account(C, 1, account_flags::debits_must_not_exceed_credits)};
  const auto made = s.accounts(a);
  ASSERT_TRUE(same_results(made.expected, made.actual));
  const auto set = s.controls({controls});
  ASSERT_TRUE(same_results(set.expected, set.actual));
  expect_same(s, {make_transfer(10, F, D, 10)}, codes({tr::ok}), {F, D}, {10});
}

// C is bounded (debits_must_not_exceed_credits, overdraft 100); D holds 10. T1 moves 10 into
// C (D's room), so C -> E 150 exceeds 10 + 100. The engine used to let T1's credit leg show
// 100 to the chain's later leg, answer ok, ok and leave C past its bound.
TEST_P(ActorRegression, ChainSeesTheDecidedAmountOfADoublyBalancingTransfer) {
  both_sides s(test_config(GetParam()));
  bounded_c_and_ten_at_d(s, make_controls(C, 100));
  expect_same(s,
              {make_transfer(11, D, C, 100, transfer_flags::linked | both_balancing),
               make_transfer(12, C, E, 150)},
              codes({tr::linked_event_failed, tr::exceeds_credits}), {F, E, D, C}, {11, 12});
  // The same chain within the bound: T1 moves 10, C -> E 110 = 10 + 100 passes.
  expect_same(s,
              {make_transfer(13, D, C, 100, transfer_flags::linked | both_balancing),
               make_transfer(14, C, E, 110)},
              codes({tr::ok, tr::ok}), {F, E, D, C}, {13, 14});
}

// The mirror: account 1 bounds its credits by its debits (1000). T1 moves 100 (account 2's
// room), so 100 + 900 <= 1000. The engine used to count T1's credit hold of 500 and refuse.
TEST_P(ActorRegression, ChainIsNotRefusedForTheFirstSidesHold) {
  both_sides s(test_config(GetParam()));
  const std::vector<account> a = {make_account(1, 1, account_flags::credits_must_not_exceed_debits),
                                  make_account(2), make_account(3), make_account(4)};
  const auto made = s.accounts(a);
  ASSERT_TRUE(same_results(made.expected, made.actual));
  expect_same(s, {make_transfer(10, 1, 4, 1000), make_transfer(11, 3, 2, 100)},
              codes({tr::ok, tr::ok}), {1, 2, 3, 4}, {10, 11});
  expect_same(s,
              {make_transfer(12, 2, 1, 500, transfer_flags::linked | both_balancing),
               make_transfer(13, 3, 1, 900)},
              codes({tr::ok, tr::ok}), {1, 2, 3, 4}, {12, 13});
}

// A later balancing leg of the chain moves what the first leg really moved, no more.
TEST_P(ActorRegression, LaterBalancingLegMovesOnlyWhatTheChainMoved) {
  both_sides s(test_config(GetParam()));
  bounded_c_and_ten_at_d(s, make_controls(C, 100));
  // T1 moves 10, so C may then give 10 + 100, not 100 + 100.
  expect_same(s,
              {make_transfer(11, D, C, 100, transfer_flags::linked | both_balancing),
               make_transfer(12, C, E, 1000, transfer_flags::balancing_debit)},
              codes({tr::ok, tr::ok}), {F, E, D, C}, {11, 12});
}

// A later debit in the chain fails on the bound (56: 150 > 10 + 100), not on the daily cap
// (61: 150 > 120) that it reaches only when the first side's hold counts as funds.
TEST_P(ActorRegression, LaterDebitFailsOnTheBoundNotTheDailyCap) {
  both_sides s(test_config(GetParam()));
  bounded_c_and_ten_at_d(s, make_controls(C, 100, 0, 120));
  expect_same(s,
              {make_transfer(11, D, C, 100, transfer_flags::linked | both_balancing),
               make_transfer(12, C, E, 150)},
              codes({tr::linked_event_failed, tr::exceeds_credits}), {F, E, D, C}, {11, 12});
}

// A chain whose next step fails at the coordinator right after the doubly balancing step
// (an unknown account): the adjustment of the first side's hold reaches an account whose
// reservation was already aborted, and the chain leaves nothing behind.
TEST_P(ActorRegression, ChainFailingAfterTheBalancingStepLeavesNothing) {
  both_sides s(test_config(GetParam()));
  const std::vector<account> a = {make_account(1), make_account(2), make_account(3)};
  const auto made = s.accounts(a);
  ASSERT_TRUE(same_results(made.expected, made.actual));
  // Room: 2 may take 50 (its debits), 1 may give 10 (its credits).
  expect_same(s, {make_transfer(9, 2, 3, 50), make_transfer(10, 3, 1, 10)}, codes({tr::ok, tr::ok}),
              {1, 2, 3}, {9, 10});
  expect_same(s,
              {make_transfer(11, 1, 2, 100, transfer_flags::linked | both_balancing),
               make_transfer(12, 2, 99, 5)},
              codes({tr::linked_event_failed, tr::credit_account_not_found}), {1, 2, 3}, {11, 12});
  expect_same(s, {make_transfer(13, 1, 2, 100, both_balancing)}, codes({tr::ok}), {1, 2, 3}, {13});
}

// Both balancing flags where the credit side could take more than fits in its balances (an
// overdraft_max of 2^128-1) and the debit side then allows less: the checks apply to the
// amount moved, so the credit side must not fail an overflow that only its own, larger
// amount would cause. The engine used to report overflows_credits_posted here.
TEST_P(ActorRegression, DoublyBalancingOverflowIsCheckedWithTheAmountMoved) {
  both_sides s(test_config(GetParam()));
  constexpr u128 bank = 1, debtor = 2, creditor = 3;
  const std::vector<account> a = {make_account(bank), make_account(debtor), make_account(creditor)};
  const auto made = s.accounts(a);
  ASSERT_TRUE(same_results(made.expected, made.actual));
  const std::vector<account_controls> c = {make_controls(creditor, u128_max)};
  const auto set = s.controls(c);
  ASSERT_TRUE(same_results(set.expected, set.actual));
  // creditor: debits 1000, credits 100; its balancing credit room passes 2^128.
  expect_same(s, {make_transfer(10, creditor, bank, 1000), make_transfer(11, bank, creditor, 100)},
              codes({tr::ok, tr::ok}), {bank, creditor}, {10, 11});
  // debtor has no credits: nothing moves, and the code is debtor's (56), not creditor's overflow
  // (52).
  expect_same(s, {make_transfer(12, debtor, creditor, u128_max, both_balancing)},
              codes({tr::exceeds_credits}), {bank, debtor, creditor}, {12});
  // debtor gets 50: 50 moves, and creditor takes it without overflow.
  expect_same(s,
              {make_transfer(13, bank, debtor, 50),
               make_transfer(14, debtor, creditor, u128_max, both_balancing)},
              codes({tr::ok, tr::ok}), {bank, debtor, creditor}, {13, 14});
  // And inside a chain, the same.
  expect_same(
      s,
      {make_transfer(15, bank, debtor, 30),
       make_transfer(16, debtor, creditor, u128_max, transfer_flags::linked | both_balancing),
       make_transfer(17, creditor, bank, 5)},
      codes({tr::ok, tr::ok, tr::ok}), {bank, debtor, creditor}, {15, 16, 17});
}

// The daily cap across UTC midnight. A long request of 1-unit debits from A, all stamped
// just before midnight, decides one debit per round (they share A); while it runs, a debit
// stamped 00:00 the next day commits. The engine used to check the rest of the first day's
// debits against a sum of 0 (the account had moved on to the new day) and not count them:
// the first day ended far past its cap. On no day may the committed debits exceed the cap.
TEST_P(ActorRegression, DailyCapHoldsAcrossMidnight) {
  constexpr std::uint64_t day_ns = 86'400ull * ns_per_s;
  constexpr u128 cap = 100;
  constexpr int debits = 600;
  const std::uint64_t day0 = (epoch_2023_ns / day_ns + 1) * day_ns;  // a midnight
  manual_clock clock(day0 + 12 * 3600 * ns_per_s);
  engine_config cfg = test_config(GetParam());
  cfg.clock = clock.fn();
  engine e(cfg);
  int interleaved = 0;
  for (int round = 0; round < 4; ++round) {
    const std::uint64_t midnight = day0 + (2 * static_cast<std::uint64_t>(round) + 1) * day_ns;
    const u128 A = 1000 + 10 * static_cast<u128>(round), B = A + 1, funds = A + 2;
    clock.set(midnight - 3600 * ns_per_s);
    const std::vector<account> a = {make_account(A), make_account(B), make_account(funds)};
    for (const result& r : create_accounts(e, a)) ASSERT_EQ(r.status, 0u);
    const std::vector<account_controls> c = {make_controls(A, 0, 0, cap)};
    ASSERT_EQ(set_controls(e, c)[0].status, 0u);
    ASSERT_EQ(
        create_transfers(e, std::vector<transfer>{make_transfer(A * 1000, funds, A, 100000)})[0]
            .status,
        0u);

    std::vector<transfer> late;
    for (int i = 0; i < debits; ++i)
      late.push_back(make_transfer(A * 1000 + 1 + static_cast<u128>(i), A, B, 1));
    // Which answer comes first: the next-day debit must commit while the long request is
    // still deciding for this to test anything.
    std::atomic<int> answers{0};
    std::promise<std::pair<engine_reply, int>> long_done, next_done;
    clock.set(midnight - 1'000'000);  // 23:59:59.999, every event of the batch before 00:00
    e.create_transfers(late, [&](engine_reply&& r) {
      long_done.set_value({std::move(r), answers.fetch_add(1)});
    });
    clock.set(midnight);
    const std::vector<transfer> next_day = {make_transfer(A * 1000 + 999'999, A, B, 1)};
    e.create_transfers(next_day, [&](engine_reply&& r) {
      next_done.set_value({std::move(r), answers.fetch_add(1)});
    });
    auto [r, long_order] = get_reply_pair(long_done.get_future());
    auto [early, next_order] = get_reply_pair(next_done.get_future());
    ASSERT_EQ(r.status, engine_status::ok);
    ASSERT_EQ(early.status, engine_status::ok);
    ASSERT_EQ(early.results[0].status, 0u);
    int ok = 0, capped = 0;
    for (const result& x : r.results) {
      if (x.status == 0) {
        EXPECT_LT(x.timestamp, midnight);
      }
      ok += x.status == 0;
      capped += x.status == static_cast<std::uint32_t>(tr::exceeds_daily_debit_max);
    }
    EXPECT_EQ(ok + capped, debits);
    EXPECT_LE(static_cast<u128>(ok), cap) << "the day before midnight went past its daily cap";
    interleaved += next_order < long_order;
    const account acct = lookup_account(e, A);
    EXPECT_EQ(acct.debits_posted, static_cast<u128>(ok) + 1);
  }
  EXPECT_GT(interleaved, 0);
}

// A batch over batch_events_max is refused whole, and one of exactly that size is served.
TEST_P(ActorRegression, BatchesOverTheLimitAreRefused) {
  engine e(test_config(GetParam()));
  std::vector<account> a;
  for (std::uint32_t i = 0; i <= batch_events_max; ++i) a.push_back(make_account(1 + u128{i}));
  const engine_reply over = get_reply(e.create_accounts(a), "too many accounts");
  EXPECT_EQ(over.status, engine_status::too_many_events) << name(over.status);
  EXPECT_TRUE(over.results.empty());
  std::vector<transfer> t;
  for (std::uint32_t i = 0; i <= batch_events_max; ++i)
    t.push_back(linked(make_transfer(1 + u128{i}, 1, 2, 1)));
  EXPECT_EQ(get_reply(e.create_transfers(t), "too many transfers").status,
            engine_status::too_many_events);
  std::vector<u128> ids(batch_events_max + 1, 1);
  EXPECT_EQ(get_reply(e.lookup_accounts(ids), "too many ids").status,
            engine_status::too_many_events);
  EXPECT_EQ(get_reply(e.lookup_transfers(ids), "too many ids").status,
            engine_status::too_many_events);
  // Nothing of the refused batch was created; a batch of exactly the limit is served.
  EXPECT_TRUE(lookup_accounts(e, std::vector<u128>{1, 2}).empty());
  a.pop_back();
  const engine_reply full = get_reply(e.create_accounts(a), "a full batch");
  ASSERT_EQ(full.status, engine_status::ok);
  ASSERT_EQ(full.results.size(), batch_events_max);
  for (const result& r : full.results) EXPECT_EQ(r.status, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shards, ActorRegression, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& p) {
                           return std::to_string(p.param) + "shards";
                         });

}  // namespace
}  // namespace remit::actor_test
