// Linked chains (docs/PROTOCOL.md section 7): events chained with the linked flag succeed or fail
// together. The first failing event keeps its code and the others get linked_event_failed;
// a chain still open at the end of the batch fails with linked_event_chain_open on its last
// event; nothing of a failed chain takes effect and nothing of it is remembered by id.
//
// Each test is a table of batches: the events of each batch with the code expected for each,
// then checks of the state that the batches leave.
#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "tests/support/builders.hpp"

namespace remit {

static void PrintTo(create_transfer_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}
static void PrintTo(create_account_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}

namespace {

using ar = create_account_result;
using tr = create_transfer_result;
using test::linked;
using test::make_post;
using test::make_void;

constexpr std::uint64_t t0_ns = 20'000 * ns_per_day + ns_per_s * 9 * 3600;

constexpr u128 a = 1;       // no flags
constexpr u128 b = 2;       // debits_must_not_exceed_credits, starts empty
constexpr u128 c = 3;       // no flags
constexpr u128 d = 4;       // credits_must_not_exceed_debits, starts empty
constexpr u128 capped = 5;  // no flags; daily_debit_max 100
constexpr u128 missing = 99;

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

account make_account(u128 id, std::uint16_t flags = 0) {
  account x{};
  x.id = id;
  x.ledger = 1;
  x.code = 1;
  x.flags = flags;
  return x;
}

transfer make_transfer(u128 id, u128 debit, u128 credit, u128 amount, std::uint16_t flags = 0) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  return t;
}

transfer make_pending(u128 id, u128 debit, u128 credit, u128 amount) {
  return make_transfer(id, debit, credit, amount, transfer_flags::pending);
}

struct transfer_batch {
  std::vector<transfer> events;
  std::vector<tr> expected;
};

struct account_batch {
  std::vector<account> events;
  std::vector<ar> expected;
};

class engine_linked_chain : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<account> accounts = {
        make_account(a),      make_account(b, account_flags::debits_must_not_exceed_credits),
        make_account(c),      make_account(d, account_flags::credits_must_not_exceed_debits),
        make_account(capped),
    };
    std::vector<result> out(accounts.size());
    ledger_.create_accounts(accounts, t0_ns, out);
    for (const result& r : out) ASSERT_EQ(r.status, 0u);
    account_controls ctl{};
    ctl.account_id = capped;
    ctl.daily_debit_max = 100;
    const std::vector<account_controls> controls = {ctl};
    out.resize(1);
    ledger_.set_account_controls(controls, out);
    ASSERT_EQ(out[0].status, 0u);
  }

  // Runs the batches in order and checks every code; failed events must have timestamp 0.
  void run(const std::vector<transfer_batch>& batches) {
    for (std::size_t i = 0; i < batches.size(); ++i) {
      SCOPED_TRACE("batch " + std::to_string(i));
      const transfer_batch& batch = batches[i];
      ASSERT_EQ(batch.events.size(), batch.expected.size());
      std::vector<result> out(batch.events.size());
      now_ns_ += ns_per_s;
      ledger_.create_transfers(batch.events, now_ns_, out);
      for (std::size_t j = 0; j < out.size(); ++j) {
        EXPECT_EQ(static_cast<tr>(out[j].status), batch.expected[j]) << "event " << j;
        if (batch.expected[j] != tr::ok && batch.expected[j] != tr::exists) {
          EXPECT_EQ(out[j].timestamp, 0u) << "event " << j;
        }
        if (batch.expected[j] == tr::ok) {
          EXPECT_NE(out[j].timestamp, 0u) << "event " << j;
        }
      }
      expect_balanced();
    }
  }

  void run(const std::vector<account_batch>& batches) {
    for (std::size_t i = 0; i < batches.size(); ++i) {
      SCOPED_TRACE("batch " + std::to_string(i));
      const account_batch& batch = batches[i];
      ASSERT_EQ(batch.events.size(), batch.expected.size());
      std::vector<result> out(batch.events.size());
      now_ns_ += ns_per_s;
      ledger_.create_accounts(batch.events, now_ns_, out);
      for (std::size_t j = 0; j < out.size(); ++j) {
        EXPECT_EQ(static_cast<ar>(out[j].status), batch.expected[j]) << "event " << j;
        if (batch.expected[j] != ar::ok && batch.expected[j] != ar::exists) {
          EXPECT_EQ(out[j].timestamp, 0u) << "event " << j;
        }
      }
    }
  }

  balances of(u128 id) const {
    const account_state* s = ledger_.find_account(id);
    if (s == nullptr) {
      ADD_FAILURE() << "no account";
      return {};
    }
    return {s->a.debits_pending, s->a.debits_posted, s->a.credits_pending, s->a.credits_posted};
  }

  bool transfer_found(u128 id) const {
    const std::vector<u128> ids = {id};
    std::vector<transfer> out(1);
    return ledger_.lookup_transfers(ids, out) == 1;
  }

  bool account_found(u128 id) const {
    const std::vector<u128> ids = {id};
    std::vector<account> out(1);
    return ledger_.lookup_accounts(ids, out) == 1;
  }

  void expect_balanced() const {
    u128 dp = 0, dq = 0, cp = 0, cq = 0;
    ledger_.for_each_account([&](const account_state& s) {
      dp += s.a.debits_posted;
      dq += s.a.debits_pending;
      cp += s.a.credits_posted;
      cq += s.a.credits_pending;
    });
    EXPECT_EQ(dp, cp);
    EXPECT_EQ(dq, cq);
  }

  void expect_untouched() const {
    for (u128 id : {a, b, c, d, capped}) EXPECT_EQ(of(id), balances{}) << "account " << u128_lo(id);
    const ledger_stats s = ledger_.get_ledger_stats(1);
    EXPECT_EQ(s.transfers_posted, 0u);
    EXPECT_EQ(s.transfers_pending, 0u);
    EXPECT_EQ(s.volume_posted, 0u);
    EXPECT_EQ(ledger_.transfer_count(), 0u);
  }

  reference_ledger ledger_;
  std::uint64_t now_ns_ = t0_ns;
};

TEST_F(engine_linked_chain, chain_succeeds_together) {
  run({{{linked(make_transfer(10, a, b, 100)), linked(make_transfer(11, b, c, 60)),
         make_transfer(12, c, a, 10)},
        {tr::ok, tr::ok, tr::ok}}});
  EXPECT_EQ(of(a), (balances{0, 100, 0, 10}));
  EXPECT_EQ(of(b), (balances{0, 60, 0, 100}));
  EXPECT_EQ(of(c), (balances{0, 10, 0, 60}));
  EXPECT_EQ(ledger_.get_ledger_stats(1).transfers_posted, 3u);
  EXPECT_EQ(ledger_.get_ledger_stats(1).volume_posted, 170u);
}

TEST_F(engine_linked_chain, chain_fails_together_and_its_ids_can_be_resent) {
  run({
      // b cannot pay 60 without the 100 that the failed chain never gave it.
      {{linked(make_transfer(10, a, c, 100)), linked(make_transfer(11, c, a, 5)),
        make_transfer(12, b, c, 60)},
       {tr::linked_event_failed, tr::linked_event_failed, tr::exceeds_credits}},
  });
  expect_untouched();
  for (u128 id : {10, 11, 12}) EXPECT_FALSE(transfer_found(id));

  // The same ids, sent again whole with the failure fixed, succeed: not id_already_failed.
  run({{{linked(make_transfer(10, a, c, 100)), linked(make_transfer(11, c, a, 5)),
         make_transfer(12, a, b, 60)},
        {tr::ok, tr::ok, tr::ok}}});
  EXPECT_EQ(of(a), (balances{0, 160, 0, 5}));
  EXPECT_EQ(of(b), (balances{0, 0, 0, 60}));
  EXPECT_EQ(of(c), (balances{0, 5, 0, 100}));
}

TEST_F(engine_linked_chain, failure_in_the_middle_of_a_chain) {
  run({{{linked(make_transfer(10, a, c, 1)), linked(make_transfer(11, a, missing, 1)),
         linked(make_transfer(12, a, c, 1)), make_transfer(13, a, c, 1)},
        {tr::linked_event_failed, tr::credit_account_not_found, tr::linked_event_failed,
         tr::linked_event_failed}}});
  expect_untouched();
}

TEST_F(engine_linked_chain, first_failure_keeps_its_code_later_failures_do_not) {
  run({{{linked(make_transfer(10, a, c, 0)), linked(make_transfer(11, a, missing, 1)),
         make_transfer(12, b, c, 1)},
        {tr::amount_must_not_be_zero, tr::linked_event_failed, tr::linked_event_failed}}});
  expect_untouched();
}

TEST_F(engine_linked_chain, chain_open_at_end_of_batch) {
  run({
      {{linked(make_transfer(10, a, c, 1))}, {tr::linked_event_chain_open}},
      {{linked(make_transfer(10, a, c, 1)), linked(make_transfer(11, a, c, 1))},
       {tr::linked_event_failed, tr::linked_event_chain_open}},
      // An independent event before the open chain is not affected by it.
      {{make_transfer(20, a, c, 1), linked(make_transfer(21, a, c, 1)),
        linked(make_transfer(22, a, c, 1))},
       {tr::ok, tr::linked_event_failed, tr::linked_event_chain_open}},
  });
  EXPECT_EQ(of(a), (balances{0, 1, 0, 0}));
  EXPECT_EQ(of(c), (balances{0, 0, 0, 1}));
  EXPECT_TRUE(transfer_found(20));
  EXPECT_FALSE(transfer_found(10));
  EXPECT_FALSE(transfer_found(21));
  EXPECT_FALSE(transfer_found(22));
  // Ids of an open chain are not remembered either.
  run({{{make_transfer(10, a, c, 1), make_transfer(22, a, c, 1)}, {tr::ok, tr::ok}}});
}

// docs/PROTOCOL.md 7: "A chain still open at the end of the batch fails: its last event gets
// linked_event_chain_open, the others linked_event_failed" -- the others' own failures
// included.
TEST_F(engine_linked_chain, chain_open_overrides_an_earlier_failure) {
  run({{{linked(make_transfer(10, a, c, 1)), linked(make_transfer(11, missing, c, 1)),
         linked(make_transfer(12, a, c, 1))},
        {tr::linked_event_failed, tr::linked_event_failed, tr::linked_event_chain_open}}});
  expect_untouched();
}

TEST_F(engine_linked_chain, two_chains_in_one_batch_are_independent) {
  run({{{linked(make_transfer(10, a, c, 5)), make_transfer(11, a, d, 5),
         linked(make_transfer(12, a, c, 7)), make_transfer(13, c, a, 2),
         make_transfer(14, a, c, 1)},
        {tr::linked_event_failed, tr::exceeds_debits, tr::ok, tr::ok, tr::ok}}});
  EXPECT_EQ(of(a), (balances{0, 8, 0, 2}));
  EXPECT_EQ(of(c), (balances{0, 2, 0, 8}));
  EXPECT_EQ(of(d), balances{});
}

TEST_F(engine_linked_chain, chain_of_account_creations) {
  run(std::vector<account_batch>{
      {{linked(make_account(20)), linked(make_account(21)), make_account(22)},
       {ar::ok, ar::ok, ar::ok}},
      {{linked(make_account(30)), make_account(31, 0xff00)},
       {ar::linked_event_failed, ar::reserved_flag}},
      {{linked(make_account(32)), linked(make_account(33))},
       {ar::linked_event_failed, ar::linked_event_chain_open}},
      // The second sees the first: exists (same fields, linked flag included), and the chain
      // fails.
      {{linked(make_account(34)), linked(make_account(34)), make_account(36)},
       {ar::linked_event_failed, ar::exists, ar::linked_event_failed}},
      // An account that exists fails a chain like any other code.
      {{linked(make_account(35)), make_account(22)}, {ar::linked_event_failed, ar::exists}},
  });
  for (u128 id : {20, 21, 22}) EXPECT_TRUE(account_found(id)) << u128_lo(id);
  for (u128 id : {30, 31, 32, 33, 34, 35, 36}) EXPECT_FALSE(account_found(id)) << u128_lo(id);
  EXPECT_EQ(ledger_.get_ledger_stats(1).accounts, 5u + 3u);

  // A failed chain's accounts can be created afterwards, chained or not.
  run(std::vector<account_batch>{
      {{linked(make_account(30)), make_account(31)}, {ar::ok, ar::ok}},
      {{make_account(34), make_account(35)}, {ar::ok, ar::ok}},
  });
  EXPECT_EQ(ledger_.get_ledger_stats(1).accounts, 5u + 7u);
}

TEST_F(engine_linked_chain, accounts_created_in_a_chain_can_be_used_in_a_later_batch) {
  run(std::vector<account_batch>{
      {{linked(make_account(20)), make_account(21)}, {ar::ok, ar::ok}},
  });
  run({{{make_transfer(10, 20, 21, 5)}, {tr::ok}}});
  EXPECT_EQ(of(20), (balances{0, 5, 0, 0}));
}

TEST_F(engine_linked_chain, chain_creating_a_pending_transfer_and_posting_it) {
  run({{{linked(make_pending(10, a, c, 50)), make_post(11, 10, 20)}, {tr::ok, tr::ok}}});
  EXPECT_EQ(of(a), (balances{0, 20, 0, 0}));
  EXPECT_EQ(of(c), (balances{0, 0, 0, 20}));
  const ledger_stats s = ledger_.get_ledger_stats(1);
  EXPECT_EQ(s.transfers_posted, 1u);
  EXPECT_EQ(s.transfers_pending, 0u);
  EXPECT_EQ(s.volume_posted, 20u);
}

TEST_F(engine_linked_chain, failed_chain_with_pending_and_post_leaves_nothing) {
  run({{{linked(make_pending(10, a, c, 50)), linked(make_post(11, 10)), make_transfer(12, b, c, 1)},
        {tr::linked_event_failed, tr::linked_event_failed, tr::exceeds_credits}}});
  expect_untouched();
  EXPECT_FALSE(transfer_found(10));
  // The pending id is free again: a post of it finds nothing, a new pending with it works.
  run({
      {{make_post(13, 10)}, {tr::pending_transfer_not_found}},
      {{make_pending(10, a, c, 50)}, {tr::ok}},
      {{make_post(11, 10)}, {tr::ok}},
  });
  EXPECT_EQ(of(a), (balances{0, 50, 0, 0}));
}

TEST_F(engine_linked_chain, failed_chain_undoes_a_post_and_a_void) {
  run({
      {{make_pending(10, a, c, 50), make_pending(11, a, c, 30)}, {tr::ok, tr::ok}},
      {{linked(make_post(12, 10)), linked(make_void(13, 11)), make_transfer(14, b, c, 1)},
       {tr::linked_event_failed, tr::linked_event_failed, tr::exceeds_credits}},
  });
  EXPECT_EQ(of(a), (balances{80, 0, 0, 0}));
  EXPECT_EQ(of(c), (balances{0, 0, 80, 0}));
  EXPECT_EQ(ledger_.get_ledger_stats(1).transfers_pending, 2u);
  EXPECT_EQ(ledger_.get_ledger_stats(1).transfers_posted, 0u);
  // Both pending transfers are still pending: they can be posted and voided now.
  run({{{make_post(12, 10), make_void(13, 11)}, {tr::ok, tr::ok}}});
  EXPECT_EQ(of(a), (balances{0, 50, 0, 0}));
  EXPECT_EQ(ledger_.get_ledger_stats(1).transfers_pending, 0u);
}

TEST_F(engine_linked_chain, later_leg_relies_on_a_credit_made_earlier_in_the_chain) {
  run({
      // Without the credit first, b cannot pay.
      {{make_transfer(10, b, c, 100)}, {tr::exceeds_credits}},
      {{linked(make_transfer(11, a, b, 100)), make_transfer(12, b, c, 100)}, {tr::ok, tr::ok}},
  });
  EXPECT_EQ(of(b), (balances{0, 100, 0, 100}));
  // And d (credits bounded) can take a credit once the chain debited it first.
  run({{{linked(make_transfer(13, d, a, 40)), make_transfer(14, c, d, 40)}, {tr::ok, tr::ok}}});
  EXPECT_EQ(of(d), (balances{0, 40, 0, 40}));
}

TEST_F(engine_linked_chain, failure_inside_a_chain_is_not_remembered) {
  run({
      {{linked(make_transfer(10, a, c, 1)), make_transfer(11, missing, c, 1)},
       {tr::linked_event_failed, tr::debit_account_not_found}},
      // 11 alone, fixed: it succeeds, no id_already_failed.
      {{make_transfer(11, a, c, 1)}, {tr::ok}},
      {{linked(make_transfer(20, a, c, 1)), make_transfer(21, b, c, 1)},
       {tr::linked_event_failed, tr::exceeds_credits}},
      // 21 alone, as it was: it fails on state again, and now outside a chain...
      {{make_transfer(21, b, c, 1)}, {tr::exceeds_credits}},
      // ...so now it is remembered.
      {{make_transfer(21, a, c, 1)}, {tr::id_already_failed}},
      // 20 was only linked_event_failed: free.
      {{make_transfer(20, a, c, 1)}, {tr::ok}},
  });
  EXPECT_EQ(of(a), (balances{0, 2, 0, 0}));
}

TEST_F(engine_linked_chain, id_already_failed_fails_a_chain) {
  run({
      {{make_transfer(10, missing, c, 1)}, {tr::debit_account_not_found}},
      {{linked(make_transfer(11, a, c, 1)), make_transfer(10, a, c, 1)},
       {tr::linked_event_failed, tr::id_already_failed}},
  });
  expect_untouched();
}

TEST_F(engine_linked_chain, exists_inside_a_chain_fails_it) {
  // 10 and 15 are resent exactly as first sent (10 with its linked flag, 15 without).
  run({
      {{linked(make_transfer(10, a, c, 7)), make_transfer(15, a, c, 1)}, {tr::ok, tr::ok}},
      {{linked(make_transfer(11, a, c, 1)), linked(make_transfer(10, a, c, 7)),
        make_transfer(16, a, c, 1)},
       {tr::linked_event_failed, tr::exists, tr::linked_event_failed}},
      {{linked(make_transfer(11, a, c, 1)), make_transfer(15, a, c, 1)},
       {tr::linked_event_failed, tr::exists}},
      {{linked(make_transfer(10, a, c, 7)), make_transfer(12, a, c, 1)},
       {tr::exists, tr::linked_event_failed}},
      {{linked(make_transfer(13, a, c, 1)), linked(make_transfer(10, a, c, 8)),
        make_transfer(17, a, c, 1)},
       {tr::linked_event_failed, tr::exists_with_different_amount, tr::linked_event_failed}},
      // The same id twice in one chain: the second sees the first.
      {{linked(make_transfer(14, a, c, 1)), linked(make_transfer(14, a, c, 1)),
        make_transfer(18, a, c, 1)},
       {tr::linked_event_failed, tr::exists, tr::linked_event_failed}},
  });
  EXPECT_EQ(of(a), (balances{0, 8, 0, 0}));
  for (u128 id : {11, 12, 13, 14, 16, 17, 18}) EXPECT_FALSE(transfer_found(id)) << u128_lo(id);
  // None of them is remembered.
  run({{{make_transfer(11, a, c, 1), make_transfer(12, a, c, 1), make_transfer(13, a, c, 1),
         make_transfer(14, a, c, 1)},
        {tr::ok, tr::ok, tr::ok, tr::ok}}});
}

TEST_F(engine_linked_chain, failed_chain_gives_back_the_daily_debit_sum) {
  run({
      {{linked(make_transfer(10, capped, c, 80)), make_transfer(11, a, missing, 1)},
       {tr::linked_event_failed, tr::credit_account_not_found}},
      {{make_transfer(12, capped, c, 100)}, {tr::ok}},
      {{make_transfer(13, capped, c, 1)}, {tr::exceeds_daily_debit_max}},
  });
  EXPECT_EQ(of(capped), (balances{0, 100, 0, 0}));
}

TEST_F(engine_linked_chain, daily_debit_max_counts_earlier_legs_of_the_chain) {
  run({{{linked(make_transfer(10, capped, c, 60)), make_transfer(11, capped, c, 41)},
        {tr::linked_event_failed, tr::exceeds_daily_debit_max}}});
  expect_untouched();
}

TEST_F(engine_linked_chain, failed_chain_spends_its_timestamps) {
  now_ns_ = t0_ns + 1000 * ns_per_s;
  const std::vector<transfer> events = {make_transfer(12, a, c, 1),
                                        linked(make_transfer(10, a, c, 1)),
                                        make_transfer(11, a, missing, 1)};
  std::vector<result> out(events.size());
  ledger_.create_transfers(events, now_ns_, out);
  EXPECT_EQ(static_cast<tr>(out[0].status), tr::ok);
  EXPECT_EQ(out[0].timestamp, now_ns_);
  EXPECT_EQ(out[1].timestamp, 0u);
  EXPECT_EQ(out[2].timestamp, 0u);
  EXPECT_EQ(ledger_.last_timestamp(), now_ns_ + 2);
  // The next batch starts after the failed chain's timestamps.
  const std::vector<transfer> next = {make_transfer(13, a, c, 1)};
  ledger_.create_transfers(next, now_ns_, out);
  EXPECT_EQ(out[0].timestamp, now_ns_ + 3);
  const std::vector<u128> ids = {12, 13};
  std::vector<transfer> found(2);
  ASSERT_EQ(ledger_.lookup_transfers(ids, found), 2u);
  EXPECT_EQ(found[0].timestamp, now_ns_);
  EXPECT_EQ(found[1].timestamp, now_ns_ + 3);
}

// A chain ends at its first event without the linked flag; the events after it are
// independent of the chain's outcome.
TEST_F(engine_linked_chain, events_after_a_failed_chain_are_not_part_of_it) {
  run({
      // The chain fails on state at its last event.
      {{linked(make_transfer(10, a, c, 1)), make_transfer(11, a, missing, 1),
        make_transfer(12, a, c, 2), make_transfer(13, a, c, 3)},
       {tr::linked_event_failed, tr::credit_account_not_found, tr::ok, tr::ok}},
      // The chain fails on the event alone at its first event.
      {{linked(make_transfer(20, a, c, 0)), make_transfer(21, a, c, 1), make_transfer(22, a, c, 4)},
       {tr::amount_must_not_be_zero, tr::linked_event_failed, tr::ok}},
      // Two failed chains in a row, then an independent event.
      {{linked(make_transfer(30, a, c, 1)), make_transfer(31, b, c, 1),
        linked(make_transfer(32, a, c, 1)), make_transfer(33, a, c, 0), make_transfer(34, a, c, 8)},
       {tr::linked_event_failed, tr::exceeds_credits, tr::linked_event_failed,
        tr::amount_must_not_be_zero, tr::ok}},
  });
  EXPECT_EQ(of(a), (balances{0, 2 + 3 + 4 + 8, 0, 0}));
  for (u128 id : {12, 13, 22, 34}) EXPECT_TRUE(transfer_found(id)) << u128_lo(id);

  run(std::vector<account_batch>{
      {{linked(make_account(40)), make_account(41, 1u << 5), make_account(42)},
       {ar::linked_event_failed, ar::reserved_flag, ar::ok}},
  });
  EXPECT_TRUE(account_found(42));
  EXPECT_FALSE(account_found(40));
}

TEST_F(engine_linked_chain, failed_chain_leaves_no_history_and_no_stats) {
  run(std::vector<account_batch>{
      {{make_account(60), make_account(61)}, {ar::ok, ar::ok}},
  });
  run({{{make_transfer(10, a, c, 1)}, {tr::ok}},
       {{linked(make_transfer(11, a, c, 2)), linked(make_pending(12, c, a, 3)),
         make_transfer(13, b, c, 1)},
        {tr::linked_event_failed, tr::linked_event_failed, tr::exceeds_credits}}});
  account_filter f{};
  f.account_id = a;
  f.limit = 10;
  f.flags = account_filter_flags::debits | account_filter_flags::credits;
  std::vector<transfer> out(10);
  ASSERT_EQ(ledger_.get_account_transfers(f, out), 1u);
  EXPECT_EQ(out[0].id, 10u);
  f.account_id = c;
  ASSERT_EQ(ledger_.get_account_transfers(f, out), 1u);

  // Resent whole, the chain shows up once.
  run({{{linked(make_transfer(11, a, c, 2)), make_pending(12, c, a, 3)}, {tr::ok, tr::ok}}});
  f.account_id = a;
  ASSERT_EQ(ledger_.get_account_transfers(f, out), 3u);
  EXPECT_EQ(out[1].id, 11u);
  EXPECT_EQ(out[2].id, 12u);

  // A ledger touched only by a failed chain of accounts reads as unused.
  account on_9 = make_account(70);
  on_9.ledger = 9;
  run(std::vector<account_batch>{
      {{linked(on_9), make_account(0)}, {ar::linked_event_failed, ar::id_must_not_be_zero}},
  });
  const ledger_stats s9 = ledger_.get_ledger_stats(9);
  EXPECT_EQ(s9.accounts, 0u);
  EXPECT_EQ(s9.transfers_posted, 0u);
  EXPECT_EQ(ledger_.get_ledger_stats(1).accounts, 7u);
}

// A pending transfer with a timeout that a failed chain undid must never expire anything;
// its expiry entry must not release the transfer that takes its place later.
TEST_F(engine_linked_chain, expiry_of_an_undone_pending_transfer_releases_nothing) {
  transfer timed = make_pending(10, a, c, 50);
  timed.timeout = 2;
  const std::uint64_t chain_ns = t0_ns + 100 * ns_per_s;
  std::vector<result> out(2);
  const std::vector<transfer> chain = {linked(timed), make_transfer(11, a, missing, 1)};
  ledger_.create_transfers(chain, chain_ns, out);
  ASSERT_EQ(static_cast<tr>(out[1].status), tr::credit_account_not_found);
  ASSERT_EQ(ledger_.last_timestamp(), chain_ns + 1);

  // Takes the undone transfer's place and expires at the very same instant as it would
  // have: released once.
  transfer same = make_pending(21, a, c, 5);
  same.timeout = 1;
  const std::vector<transfer> same_expiry = {same};
  ledger_.create_transfers(same_expiry, chain_ns + ns_per_s, out);
  ASSERT_EQ(static_cast<tr>(out[0].status), tr::ok);
  ASSERT_EQ(out[0].timestamp, chain_ns + ns_per_s);
  // Never expires.
  const std::vector<transfer> untimed = {make_pending(20, a, c, 70)};
  ledger_.create_transfers(untimed, chain_ns, out);
  ASSERT_EQ(static_cast<tr>(out[0].status), tr::ok);

  EXPECT_EQ(ledger_.expire(chain_ns + 2 * ns_per_s - 1), 0u);
  EXPECT_EQ(ledger_.expire(chain_ns + 2 * ns_per_s), 1u);
  EXPECT_EQ(ledger_.expire(chain_ns + 1000 * ns_per_day), 0u);
  EXPECT_EQ(of(a), (balances{70, 0, 0, 0}));
  EXPECT_EQ(ledger_.get_ledger_stats(1).transfers_pending, 1u);
  run({{{make_post(22, 20)}, {tr::ok}}, {{make_post(23, 21)}, {tr::pending_transfer_expired}}});
  EXPECT_EQ(of(a), (balances{0, 70, 0, 0}));
}

TEST_F(engine_linked_chain, balancing_leg_in_a_failed_chain_is_undone) {
  run({
      {{make_transfer(10, a, b, 30)}, {tr::ok}},
      {{linked(make_transfer(11, b, c, 100, transfer_flags::balancing_debit)),
        make_transfer(12, a, missing, 1)},
       {tr::linked_event_failed, tr::credit_account_not_found}},
  });
  EXPECT_EQ(of(b), (balances{0, 0, 0, 30}));
  run({{{linked(make_transfer(11, b, c, 100, transfer_flags::balancing_debit)),
         make_transfer(12, b, c, 1)},
        {tr::linked_event_failed, tr::exceeds_credits}}});
  EXPECT_EQ(of(b), (balances{0, 0, 0, 30}));
  run({{{make_transfer(11, b, c, 100, transfer_flags::balancing_debit)}, {tr::ok}}});
  EXPECT_EQ(of(b), (balances{0, 30, 0, 30}));
}

}  // namespace
}  // namespace remit
