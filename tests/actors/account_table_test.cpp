// The accounts of one host, driven directly (no actors): creation out of order, the
// lifecycle of an activation (the first reservation activates an account, the decision that
// leaves it holding nothing passivates it, and an account is never passivated while it
// holds a reservation), holds across that lifecycle, and per-account order when the
// entries of several accounts interleave in one wave.
#include <gtest/gtest.h>

#include "actors/account_table.hpp"

namespace remit::actors {
namespace {

using ctr = create_transfer_result;

account_state state_of(u128 id, u128 credits_posted = 0, std::uint16_t flags = 0) {
  account_state s;
  s.a.id = id;
  s.a.ledger = 1;
  s.a.code = 1;
  s.a.flags = flags;
  s.a.credits_posted = credits_posted;
  return s;
}

// Builds a wave of entries by hand, as a driver would, and applies it to a table.
class wave_runner {
 public:
  explicit wave_runner(account_table& t) : t_(t) { w_ = caf::make_counted<wave>(); }

  // A reservation of one leg; its key is returned to decide it later.
  std::uint64_t reserve(std::uint32_t local, bool debit, u128 amount, std::uint64_t chain = 0) {
    wave_entry e;
    e.op = entry_op::reserve;
    e.kind = transfer_kind::plain;
    e.debit = debit;
    e.slot = static_cast<std::uint32_t>(w_->replies.size());
    e.local = local;
    e.key = ++key_;
    e.chain = chain;
    e.timestamp = 1;
    e.amount = amount;
    w_->replies.emplace_back();
    w_->entries.push_back(e);
    return e.key;
  }
  void decide(std::uint32_t local, std::uint64_t key, decision d, u128 amount) {
    wave_entry e;
    e.op = entry_op::decide;
    e.local = local;
    e.key = key;
    e.verdict = d;
    e.amount = amount;
    w_->entries.push_back(e);
  }
  void lookup(std::uint32_t local) {
    wave_entry e;
    e.op = entry_op::lookup;
    e.slot = static_cast<std::uint32_t>(w_->accounts_out.size());
    e.local = local;
    w_->accounts_out.emplace_back();
    w_->entries.push_back(e);
  }
  void create(std::uint32_t local, const account_state& s) {
    wave_entry e;
    e.op = entry_op::create;
    e.slot = static_cast<std::uint32_t>(w_->creates_in.size());
    e.local = local;
    w_->creates_in.push_back(s);
    w_->entries.push_back(e);
  }
  // Applies every entry added so far, in order, and starts a new wave.
  wave_ptr run() {
    for (const wave_entry& e : w_->entries) t_.handle(e, *w_);
    wave_ptr done = std::move(w_);
    w_ = caf::make_counted<wave>();
    return done;
  }

 private:
  account_table& t_;
  wave_ptr w_;
  std::uint64_t key_ = 0;
};

TEST(account_table, creations_out_of_order_each_keep_their_own_state) {
  account_table t;
  wave_runner r(t);
  r.create(2'000, state_of(30, 300));  // a second chunk before the first exists
  r.create(7, state_of(20, 200));
  r.create(0, state_of(10, 100));
  r.run();
  EXPECT_EQ(t.state(0).a.id, 10u);
  EXPECT_EQ(t.state(7).a.id, 20u);
  EXPECT_EQ(t.state(2'000).a.id, 30u);
  EXPECT_EQ(t.state(2'000).a.credits_posted, 300u);
  EXPECT_FALSE(t.is_active(0));
  EXPECT_EQ(t.active_count(), 0u);
}

TEST(account_table, a_reservation_activates_and_its_decision_passivates) {
  account_table t;
  wave_runner r(t);
  r.create(0, state_of(1, 100));
  r.run();
  const std::uint64_t k = r.reserve(0, true, 40);
  const wave_ptr w = r.run();
  EXPECT_EQ(w->replies[0].code, ctr::ok);
  EXPECT_TRUE(t.is_active(0));
  EXPECT_EQ(t.active_count(), 1u);
  EXPECT_EQ(t.held(0).debits, 40u);
  EXPECT_EQ(t.state(0).a.debits_posted, 0u) << "not applied before its decision";

  r.decide(0, k, decision::commit, 40);
  r.lookup(0);
  const wave_ptr after = r.run();
  EXPECT_FALSE(t.is_active(0));
  EXPECT_EQ(t.active_count(), 0u);
  EXPECT_EQ(t.held(0).debits, 0u);
  EXPECT_EQ(after->accounts_out[0].debits_posted, 40u);
}

TEST(account_table, an_account_holding_a_reservation_stays_active_and_its_hold_counts) {
  account_table t;
  wave_runner r(t);
  r.create(0, state_of(1, 100, account_flags::debits_must_not_exceed_credits));
  r.run();
  const std::uint64_t first = r.reserve(0, true, 60);
  const std::uint64_t second = r.reserve(0, true, 30);
  ASSERT_EQ(r.run()->replies[1].code, ctr::ok);

  // The first is decided (aborted); the second still holds 30, so the account stays active
  // and a debit of 80 fails on the 30 held by the other transfer (escrow).
  r.decide(0, first, decision::abort, 0);
  r.reserve(0, true, 80);
  const wave_ptr w = r.run();
  EXPECT_EQ(w->replies[0].code, ctr::exceeds_credits);
  EXPECT_TRUE(t.is_active(0));
  EXPECT_EQ(t.held(0).debits, 30u);

  // Once the second is decided too, the account passivates with the committed 30.
  r.decide(0, second, decision::commit, 30);
  r.lookup(0);
  const wave_ptr after = r.run();
  EXPECT_FALSE(t.is_active(0));
  EXPECT_EQ(after->accounts_out[0].debits_posted, 30u);
}

TEST(account_table, activation_records_are_reused_after_passivation) {
  account_table t;
  wave_runner r(t);
  constexpr std::uint32_t accounts = 100;
  for (std::uint32_t i = 0; i < accounts; ++i) r.create(i, state_of(i + 1, 1'000));
  r.run();
  // Rounds of reservations on every account, each decided before the next round: no more
  // than one round's worth of activation records is ever allocated.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::uint64_t> keys;
    for (std::uint32_t i = 0; i < accounts; ++i) keys.push_back(r.reserve(i, false, 1));
    r.run();
    EXPECT_EQ(t.active_count(), accounts);
    for (std::uint32_t i = 0; i < accounts; ++i) r.decide(i, keys[i], decision::commit, 1);
    r.run();
    EXPECT_EQ(t.active_count(), 0u);
  }
  EXPECT_EQ(t.activation_records(), accounts);
  for (std::uint32_t i = 0; i < accounts; ++i) EXPECT_EQ(t.state(i).a.credits_posted, 1'020u);
}

TEST(account_table, interleaved_accounts_each_see_their_own_entries_in_order) {
  // A and B share a host; a wave carries A, B, A, B. Each account's second debit sees its
  // own first as held: A (100) takes 70 then fails 40; B (50) takes 20 then 30.
  account_table t;
  wave_runner r(t);
  const std::uint16_t flags = account_flags::debits_must_not_exceed_credits;
  r.create(0, state_of(1, 100, flags));
  r.create(1, state_of(2, 50, flags));
  r.run();
  r.reserve(0, true, 70);
  r.reserve(1, true, 20);
  r.reserve(0, true, 40);
  r.reserve(1, true, 30);
  const wave_ptr w = r.run();
  EXPECT_EQ(w->replies[0].code, ctr::ok);
  EXPECT_EQ(w->replies[1].code, ctr::ok);
  EXPECT_EQ(w->replies[2].code, ctr::exceeds_credits);
  EXPECT_EQ(w->replies[3].code, ctr::ok);
  EXPECT_EQ(t.held(0).debits, 70u);
  EXPECT_EQ(t.held(1).debits, 50u);
}

TEST(account_table, a_chain_sees_its_own_earlier_credit_across_the_activation) {
  // A chain credits 50 to an empty account, then debits 50 from it: the overlay of the
  // chain's own reservations funds the debit; another chain's debit does not see it.
  account_table t;
  wave_runner r(t);
  r.create(0, state_of(1, 0, account_flags::debits_must_not_exceed_credits));
  r.run();
  r.reserve(0, false, 50, /*chain=*/7);
  r.reserve(0, true, 50, /*chain=*/8);
  r.reserve(0, true, 50, /*chain=*/7);
  const wave_ptr w = r.run();
  EXPECT_EQ(w->replies[0].code, ctr::ok);
  EXPECT_EQ(w->replies[1].code, ctr::exceeds_credits);
  EXPECT_EQ(w->replies[2].code, ctr::ok);
}

}  // namespace
}  // namespace remit::actors
