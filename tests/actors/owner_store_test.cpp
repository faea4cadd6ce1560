// What a shard owns, driven directly (no actors): stored transfers and their histories,
// statistics, pending transfers resolved and expired (and not while a batch holds them),
// failures, accounts; and the claims on its keys: granted whole or waiting whole, first
// come first served per key.
#include <gtest/gtest.h>

#include <vector>

#include "actors/shard/claim_table.hpp"
#include "actors/shard/owner_store.hpp"

namespace remit::actors {
namespace {

using ctr = create_transfer_result;

transfer_record record(u128 id, u128 debit, u128 credit, std::uint64_t ts, u128 amount = 5,
                       std::uint16_t flags = 0, std::uint64_t expires = 0) {
  transfer_record r;
  r.t.id = id;
  r.t.debit_account_id = debit;
  r.t.credit_account_id = credit;
  r.t.amount = amount;
  r.t.ledger = 7;
  r.t.code = 1;
  r.t.flags = flags;
  r.t.timestamp = ts;
  r.expires_at_ns = expires;
  r.state = (flags & transfer_flags::pending) ? pending_state::pending : pending_state::none;
  return r;
}

std::vector<u128> history(const owner_store& s, u128 account, bool reversed,
                          std::uint32_t limit = 100) {
  account_filter f{};
  f.account_id = account;
  f.limit = limit;
  f.flags = account_filter_flags::debits | account_filter_flags::credits |
            (reversed ? account_filter_flags::reversed : 0);
  std::vector<transfer> out;
  s.account_transfers(f, out);
  std::vector<u128> ids;
  for (const transfer& t : out) ids.push_back(t.id);
  return ids;
}

TEST(OwnerStore, StoresAndFindsTransfers) {
  owner_store s;
  s.add_transfer(record(1, 10, 11, 100));
  ASSERT_NE(s.find_transfer(1), nullptr);
  EXPECT_EQ(s.find_transfer(1)->t.timestamp, 100u);
  EXPECT_EQ(s.find_transfer(2), nullptr);
  std::vector<std::int32_t> found;
  std::vector<transfer> out;
  const std::vector<u128> ids{2, 1, 1};
  s.lookup_transfers(ids, found, out);
  EXPECT_EQ(found, (std::vector<std::int32_t>{-1, 0, 1}));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, 1u);
}

TEST(OwnerStore, HistoriesOfBothAccountsInBothOrders) {
  owner_store s;
  s.add_transfer(record(1, 10, 11, 100));
  s.add_transfer(record(2, 11, 12, 200));
  s.add_transfer(record(3, 12, 10, 300));
  EXPECT_EQ(history(s, 10, false), (std::vector<u128>{1, 3}));
  EXPECT_EQ(history(s, 10, true), (std::vector<u128>{3, 1}));
  EXPECT_EQ(history(s, 11, false), (std::vector<u128>{1, 2}));
  EXPECT_EQ(history(s, 12, true), (std::vector<u128>{3, 2}));
  EXPECT_EQ(history(s, 12, true, 1), (std::vector<u128>{3}));
  EXPECT_EQ(history(s, 99, true), (std::vector<u128>{}));
}

TEST(OwnerStore, OlderRecordReleasedLateGoesInPlace) {
  // Batches in flight together release out of timestamp order.
  owner_store s;
  s.add_transfer(record(1, 10, 11, 100));
  s.add_transfer(record(3, 10, 12, 300));
  s.add_transfer(record(2, 12, 10, 200));  // older than the newest of both its accounts
  EXPECT_EQ(history(s, 10, false), (std::vector<u128>{1, 2, 3}));
  EXPECT_EQ(history(s, 10, true), (std::vector<u128>{3, 2, 1}));
  EXPECT_EQ(history(s, 12, false), (std::vector<u128>{2, 3}));
}

TEST(OwnerStore, StatsCountPostedPendingAndResolved) {
  owner_store s;
  s.add_transfer(record(1, 10, 11, 100, 5));
  s.add_transfer(record(2, 10, 11, 101, 7, transfer_flags::pending));
  EXPECT_EQ(s.stats(7).transfers_posted, 1u);
  EXPECT_EQ(s.stats(7).volume_posted, 5u);
  EXPECT_EQ(s.stats(7).transfers_pending, 1u);
  s.resolve(2, pending_state::voided);
  EXPECT_EQ(s.find_transfer(2)->state, pending_state::voided);
  EXPECT_EQ(s.stats(7).transfers_pending, 0u);
  EXPECT_EQ(s.stats(8).transfers_posted, 0u);  // a ledger it never saw
}

TEST(OwnerStore, ExpiresDuePendingsInOrderAndSkipsHeldOnes) {
  owner_store s;
  s.add_transfer(record(1, 10, 11, 100, 5, transfer_flags::pending, 1'000));
  s.add_transfer(record(2, 10, 11, 101, 5, transfer_flags::pending, 500));
  s.add_transfer(record(3, 10, 11, 102, 5, transfer_flags::pending, 5'000));
  s.add_transfer(record(4, 10, 11, 103, 5, transfer_flags::pending, 800));
  s.resolve(4, pending_state::posted);  // posted before it was due: never expires
  std::vector<u128> expired;
  const auto collect = [&](const transfer_record& r) { expired.push_back(r.t.id); };
  s.expire(
      2'000, [](u128 id) { return id == 1; }, collect);  // 1 is held by a batch
  EXPECT_EQ(expired, (std::vector<u128>{2}));
  EXPECT_EQ(s.find_transfer(2)->state, pending_state::expired);
  EXPECT_EQ(s.find_transfer(1)->state, pending_state::pending);
  expired.clear();
  s.expire(
      2'000, [](u128) { return false; }, collect);  // no longer held: looked at again
  EXPECT_EQ(expired, (std::vector<u128>{1}));
  EXPECT_EQ(s.stats(7).transfers_pending, 1u);  // 3 only
  expired.clear();
  s.expire(
      2'000, [](u128) { return false; }, collect);
  EXPECT_TRUE(expired.empty());
}

TEST(OwnerStore, FailuresAndAccounts) {
  owner_store s;
  EXPECT_EQ(s.failure(5), ctr::ok);
  s.add_failure(5, ctr::exceeds_credits);
  EXPECT_EQ(s.failure(5), ctr::exceeds_credits);
  account a{};
  a.id = 9;
  a.ledger = 7;
  s.add_account(a);
  ASSERT_NE(s.find_account(9), nullptr);
  EXPECT_EQ(s.find_account(8), nullptr);
  EXPECT_EQ(s.stats(7).accounts, 1u);
}

claim_ptr claim_of(std::uint64_t batch, std::vector<u128> keys) {
  auto c = caf::make_counted<claim_set>();
  c->batch = batch;
  c->keys = std::move(keys);
  return c;
}

TEST(ClaimTable, GrantsFreeKeysWithTheirState) {
  owner_store s;
  s.add_transfer(record(1, 10, 11, 100));
  s.add_failure(2, ctr::exceeds_credits);
  claim_table t;
  const claim_ptr c = claim_of(1, {1, 2, 3});
  ASSERT_TRUE(t.claim(c, s));
  ASSERT_EQ(c->states.size(), 3u);
  EXPECT_TRUE(c->states[0].found);
  EXPECT_EQ(c->states[0].record.t.id, 1u);
  EXPECT_FALSE(c->states[1].found);
  EXPECT_EQ(c->states[1].failed, ctr::exceeds_credits);
  EXPECT_FALSE(c->states[2].found);
  EXPECT_TRUE(t.transfer_claimed(3));
}

TEST(ClaimTable, WaitsWholeAndIsGrantedOnRelease) {
  owner_store s;
  claim_table t;
  ASSERT_TRUE(t.claim(claim_of(1, {1}), s));
  const claim_ptr second = claim_of(2, {2, 1});
  EXPECT_FALSE(t.claim(second, s));
  EXPECT_FALSE(t.transfer_claimed(2));  // waiting whole: none of its keys is held
  // The first batch stored transfer 1 before it released it: the waiting claim sees it.
  s.add_transfer(record(1, 10, 11, 100));
  std::vector<std::uint64_t> granted;
  const std::vector<u128> keys{1};
  t.release(false, keys, s, [&](const claim_ptr& c) { granted.push_back(c->batch); });
  EXPECT_EQ(granted, (std::vector<std::uint64_t>{2}));
  EXPECT_TRUE(second->states[1].found);
  EXPECT_EQ(t.waiting(), 0u);
}

TEST(ClaimTable, ALaterClaimNeverOvertakesAWaitingOneOnTheSameKey) {
  owner_store s;
  claim_table t;
  ASSERT_TRUE(t.claim(claim_of(1, {1}), s));
  EXPECT_FALSE(t.claim(claim_of(2, {1, 2}), s));  // waits for 1
  // Key 2 is free, but batch 2 waits for it: batch 3 queues behind.
  EXPECT_FALSE(t.claim(claim_of(3, {2}), s));
  // A claim on other keys goes at once.
  EXPECT_TRUE(t.claim(claim_of(4, {5}), s));
  std::vector<std::uint64_t> granted;
  const auto note = [&](const claim_ptr& c) { granted.push_back(c->batch); };
  const std::vector<u128> one{1};
  t.release(false, one, s, note);
  EXPECT_EQ(granted, (std::vector<std::uint64_t>{2}));  // 3 still waits for batch 2's key 2
  const std::vector<u128> two{1, 2};
  t.release(false, two, s, note);
  EXPECT_EQ(granted, (std::vector<std::uint64_t>{2, 3}));
}

TEST(ClaimTable, AccountAndTransferKeysAreSeparate) {
  owner_store s;
  claim_table t;
  ASSERT_TRUE(t.claim(claim_of(1, {1}), s));
  const claim_ptr acc = claim_of(2, {1});
  acc->accounts = true;
  EXPECT_TRUE(t.claim(acc, s));
}

}  // namespace
}  // namespace remit::actors
