// Lookups, account history and ledger stats through remit::engine on a small scenario, each
// checked by hand and against the reference ledger; filters the engine must refuse; and
// "real time" (docs/PROTOCOL.md section 8): a call made after another call's reply sees all of
// its effects, on every shard.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "actors/engine.hpp"
#include "engine/types.hpp"
#include "test_support.hpp"

namespace remit::actor_test {
namespace {

class lookup_test : public ::testing::Test {
 protected:
  static engine_config config() {
    engine_config c = test_config(3, 2);
    return c;
  }

  lookup_test() : sides_(config()) {}

  void SetUp() override {
    std::vector<account> accounts;
    for (u128 id = 1; id <= 6; ++id) {
      account a = make_account(id, 1, id == 6 ? account_flags::debits_must_not_exceed_credits : 0);
      a.user_data_128 = make_u128(id, id * 3);
      a.user_data_64 = 64 + static_cast<std::uint64_t>(id);
      a.user_data_32 = 32 + static_cast<std::uint32_t>(id);
      accounts.push_back(a);
    }
    accounts.push_back(make_account(7, 2, 0, 5));
    accounts.push_back(make_account(8, 2, 0, 5));
    const auto a = sides_.accounts(accounts);
    ASSERT_TRUE(same_results(a.expected, a.actual));
    for (const result& r : a.actual) ASSERT_EQ(r.status, 0u);

    transfer with_data = make_transfer(10, 1, 2, 100);
    with_data.user_data_128 = make_u128(7, 7);
    with_data.user_data_64 = 99;
    with_data.user_data_32 = 9;
    transfer l2 = make_transfer(18, 7, 8, 1'000, 0, 2);
    l2.code = 5;
    const auto t = sides_.transfers({
        with_data,                         // 10: plain 1 -> 2, 100
        make_transfer(11, 2, 3, 40),       // 11: plain 2 -> 3, 40
        make_pending(12, 1, 3, 50),        // 12: pending 1 -> 3, 50
        make_post(13, 12, 20),             // 13: posts 20 of 12
        make_pending(14, 3, 4, 30),        // 14: pending 3 -> 4, 30
        make_void(15, 14),                 // 15: voids 14
        make_pending(16, 4, 1, 5, 3'600),  // 16: pending 4 -> 1, 5, open
        make_transfer(17, 2, 6, 500, transfer_flags::balancing_debit),  // 17: 2 -> 6, 60 of 500
        l2,                                                             // 18: ledger 2
    });
    ASSERT_TRUE(same_results(t.expected, t.actual));
    for (std::size_t i = 0; i < t.actual.size(); ++i) {
      ASSERT_EQ(t.actual[i].status, 0u) << "event " << i;
      ts_.push_back(t.actual[i].timestamp);
    }
    const auto more = sides_.transfers({make_transfer(19, 6, 2, 3), make_transfer(20, 2, 1, 1)});
    ASSERT_TRUE(same_results(more.expected, more.actual));
    for (const result& r : more.actual) ts_.push_back(r.timestamp);
  }

  engine& eng() { return sides_.eng(); }

  both_sides sides_;
  std::vector<std::uint64_t> ts_;  // timestamps of transfers 10..20
};

TEST_F(lookup_test, accounts_in_request_order_each_as_often_as_asked) {
  const std::vector<u128> ids = {3, 0, 99, 1, 3, 8, u128_max};
  const auto got = lookup_accounts(eng(), ids);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].id, 3u);
  EXPECT_EQ(got[1].id, 1u);
  EXPECT_EQ(got[2].id, 3u);
  EXPECT_EQ(got[3].id, 8u);
  EXPECT_TRUE(same_list(ref_lookup_accounts(sides_.ref(), ids), got, "accounts"));
  // Balances by hand. 1: 100 and 20 of 12 posted (30 released); credited 5 pending by 16.
  const account a1 = lookup_account(eng(), 1);
  EXPECT_EQ(a1.debits_posted, 120u);
  EXPECT_EQ(a1.debits_pending, 0u);
  EXPECT_EQ(a1.credits_pending, 5u);
  EXPECT_EQ(a1.credits_posted, 1u);
  EXPECT_EQ(a1.user_data_128, make_u128(1, 3));
  EXPECT_EQ(a1.user_data_64, 65u);
  EXPECT_EQ(a1.user_data_32, 33u);
  EXPECT_NE(a1.timestamp, 0u);
  const account a3 = lookup_account(eng(), 3);
  EXPECT_EQ(a3.credits_posted, 40u + 20u);
  EXPECT_EQ(a3.debits_pending, 0u);
  const account a2 = lookup_account(eng(), 2);
  EXPECT_EQ(a2.credits_posted, 103u);
  EXPECT_EQ(a2.debits_posted, 40u + 60u + 1u);
  const account a6 = lookup_account(eng(), 6);
  EXPECT_EQ(a6.credits_posted, 60u);  // balancing: 2 had 60 to give
  EXPECT_EQ(a6.debits_posted, 3u);
}

TEST_F(lookup_test, transfers_as_stored) {
  const std::vector<u128> ids = {13, 15, 10, 0, 12345, 13, 17, 16};
  const auto got = lookup_transfers(eng(), ids);
  ASSERT_EQ(got.size(), 6u);
  EXPECT_TRUE(same_list(ref_lookup_transfers(sides_.ref(), ids), got, "transfers"));
  // A post shows the pending transfer's accounts, ledger and code and the amount posted.
  const transfer& post = got[0];
  EXPECT_EQ(post.id, 13u);
  EXPECT_EQ(post.debit_account_id, 1u);
  EXPECT_EQ(post.credit_account_id, 3u);
  EXPECT_EQ(post.amount, 20u);
  EXPECT_EQ(post.ledger, 1u);
  EXPECT_EQ(post.code, 1u);
  EXPECT_EQ(post.pending_id, 12u);
  EXPECT_EQ(post.timestamp, ts_[3]);
  // A void shows the pending amount.
  EXPECT_EQ(got[1].id, 15u);
  EXPECT_EQ(got[1].amount, 30u);
  EXPECT_EQ(got[2].user_data_128, make_u128(7, 7));
  EXPECT_EQ(got[2].user_data_64, 99u);
  EXPECT_EQ(got[2].user_data_32, 9u);
  EXPECT_EQ(got[3].id, 13u);
  EXPECT_EQ(got[4].id, 17u);
  EXPECT_EQ(got[4].amount, 60u);  // the amount moved, not the 500 sent
  EXPECT_EQ(got[5].timeout, 3'600u);
}

TEST_F(lookup_test, account_history_with_filters) {
  using namespace account_filter_flags;
  struct row {
    account_filter f;
    std::vector<u128> ids;
  };
  const std::vector<row> rows = {
      {make_filter(1, debits | credits, 100), {10, 12, 13, 16, 20}},
      {make_filter(1, debits, 100), {10, 12, 13}},
      {make_filter(1, credits, 100), {16, 20}},
      {make_filter(1, debits | credits | reversed, 100), {20, 16, 13, 12, 10}},
      {make_filter(1, debits | credits, 2), {10, 12}},
      {make_filter(1, debits | credits | reversed, 2), {20, 16}},
      {make_filter(1, debits | credits, 100, ts_[2], ts_[6]), {12, 13, 16}},
      {make_filter(1, debits | credits, 100, ts_[3]), {13, 16, 20}},
      {make_filter(2, credits, 100), {10, 19}},
      {make_filter(6, debits | credits, 100), {17, 19}},
      {make_filter(1, debits | credits, 100, 0, ts_[2]), {10, 12}},
      {make_filter(3, debits | credits, 100), {11, 12, 13, 14, 15}},
      {make_filter(7, debits, 100), {18}},
      {make_filter(8, debits, 100), {}},
      {make_filter(99, debits | credits, 100), {}},
      {make_filter(0, debits | credits, 100), {}},
  };
  for (const row& r : rows) {
    SCOPED_TRACE("account " + u128_str(r.f.account_id) + " flags " + std::to_string(r.f.flags));
    const auto got = account_transfers(eng(), r.f);
    std::vector<u128> ids;
    for (const transfer& t : got) ids.push_back(t.id);
    EXPECT_EQ(ids, r.ids);
    EXPECT_TRUE(same_list(ref_account_transfers(sides_.ref(), r.f), got, "history"));
  }
}

TEST_F(lookup_test, bad_filters_answer_empty) {
  using namespace account_filter_flags;
  std::vector<account_filter> bad = {
      make_filter(1, debits, 0),                     // limit 0
      make_filter(1, debits, batch_events_max + 1),  // limit too big
      make_filter(1, reversed, 10),                  // neither debits nor credits
      make_filter(1, debits | (1u << 5), 10),        // unknown flag
  };
  account_filter reserved = make_filter(1, debits, 10);
  reserved.reserved[3] = 1;
  bad.push_back(reserved);
  for (const account_filter& f : bad) {
    const engine_reply r = get_reply(eng().get_account_transfers(f));
    EXPECT_EQ(r.status, engine_status::ok);
    EXPECT_TRUE(r.transfers.empty());
  }
  int called = 0;
  eng().get_account_transfers(bad[0], [&](engine_reply&& r) {
    ++called;
    EXPECT_TRUE(r.transfers.empty());
  });
  EXPECT_EQ(called, 1);
}

TEST_F(lookup_test, ledger_stats) {
  const ledger_stats s1 = stats(eng(), 1);
  EXPECT_EQ(s1.ledger, 1u);
  EXPECT_EQ(s1.accounts, 6u);
  // Posted: 10, 11, 13 (a post), 17, 19, 20; not the pending transfers, not the void.
  EXPECT_EQ(s1.transfers_posted, 6u);
  EXPECT_EQ(s1.transfers_pending, 1u);  // 16
  EXPECT_EQ(s1.volume_posted, u128{100 + 40 + 20 + 60 + 3 + 1});
  EXPECT_TRUE(same_stats(sides_.ref().get_ledger_stats(1), s1));
  const ledger_stats s2 = stats(eng(), 2);
  EXPECT_EQ(s2.accounts, 2u);
  EXPECT_EQ(s2.transfers_posted, 1u);
  EXPECT_EQ(s2.volume_posted, 1'000u);
  EXPECT_TRUE(same_stats(sides_.ref().get_ledger_stats(2), s2));
  const ledger_stats s9 = stats(eng(), 9);
  EXPECT_EQ(s9.ledger, 9u);
  EXPECT_EQ(s9.accounts, 0u);
  EXPECT_EQ(s9.transfers_posted, 0u);
  EXPECT_TRUE(same_stats(sides_.ref().get_ledger_stats(9), s9));
  EXPECT_TRUE(same_stats(sides_.ref().get_ledger_stats(0), stats(eng(), 0)));
}

TEST_F(lookup_test, timestamps_increase_across_calls) {
  for (std::size_t i = 1; i < ts_.size(); ++i) EXPECT_LT(ts_[i - 1], ts_[i]);
  const auto a = lookup_account(eng(), 8);
  EXPECT_LT(a.timestamp, ts_[0]);
}

// Real time: whatever shard a call lands on, it sees every effect of a call answered
// before it was made. Accounts and transfers created one call at a time are looked up,
// listed and counted at once.
TEST(real_time_test, a_call_after_a_reply_sees_its_effects) {
  engine_config cfg = test_config(4, 2);
  engine eng(cfg);
  const std::vector<account> base = {make_account(1), make_account(2)};
  ASSERT_EQ(codes_of(create_accounts(eng, base)), codes({ar::ok, ar::ok}));
  std::uint64_t posted = 0;
  for (std::uint64_t i = 0; i < 400; ++i) {
    // A new account, then a transfer to it, then reads.
    const u128 acct = 1'000 + i;
    const std::vector<account> one = {make_account(acct)};
    ASSERT_EQ(codes_of(create_accounts(eng, one)), codes({ar::ok})) << i;
    const u128 id = 1'000'000 + i;
    std::vector<transfer> batch = {make_transfer(id, 1, acct, i + 1)};
    if (i % 2 == 1) batch.push_back(make_transfer(id + 500'000, 2, acct, 1));
    const auto res = create_transfers(eng, batch);
    ASSERT_EQ(res.size(), batch.size());
    for (const result& r : res) ASSERT_EQ(r.status, 0u) << i;
    posted += batch.size();

    const u128 ids[1] = {id};
    const auto found = lookup_transfers(eng, ids);
    ASSERT_EQ(found.size(), 1u) << "transfer " << i << " not visible after its reply";
    EXPECT_EQ(found[0].timestamp, res[0].timestamp);
    const account a = lookup_account(eng, acct);
    EXPECT_EQ(a.credits_posted, u128{i + 1 + (i % 2)}) << i;
    const auto newest = account_transfers(
        eng, make_filter(acct, account_filter_flags::credits | account_filter_flags::reversed, 1));
    ASSERT_EQ(newest.size(), 1u) << i;
    EXPECT_EQ(newest[0].id, batch.back().id);
    if (i % 50 == 0) {
      const ledger_stats s = stats(eng, 1);
      EXPECT_EQ(s.transfers_posted, posted) << i;
      EXPECT_EQ(s.accounts, i + 3) << i;
    }
  }
}

}  // namespace
}  // namespace remit::actor_test
