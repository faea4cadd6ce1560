// Where an account lives (its host and its index there) is not part of the journal: recovery
// places every account again. A durable engine restarted with another number of account
// hosts must show the same state, and go on from it.
#include "journal_test_support.hpp"

namespace remit::journal_test {
namespace {

TEST(HostsRecovery, ARestartWithAnotherHostCountShowsTheSameState) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  constexpr std::uint32_t n = 300;
  std::vector<u128> account_ids, transfer_ids;
  for (std::uint32_t i = 1; i <= n; ++i) account_ids.push_back(i);
  visible_state before;
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.account_hosts = 3;
    engine e(cfg);
    std::vector<account> accounts;
    for (const u128 id : account_ids) accounts.push_back(make_account(id));
    for (const result& r : create_accounts(e, accounts)) ASSERT_EQ(r.status, code(ar::ok));
    // Plain transfers, and pending ones: some posted, some left open (held on both sides).
    std::vector<transfer> batch;
    for (std::uint32_t i = 0; i < 2'000; ++i) {
      const u128 id = 10'000 + i;
      const u128 debit = 1 + i % n, credit = 1 + (i + 1 + i / n) % n;  // never the same
      batch.push_back(i % 5 == 0 ? make_pending(id, debit, credit, 1 + i % 9)
                                 : make_transfer(id, debit, credit, 1 + i % 11));
      transfer_ids.push_back(id);
    }
    for (const result& r : create_transfers(e, batch)) ASSERT_EQ(r.status, code(tr::ok));
    std::vector<transfer> posts;
    for (std::uint32_t i = 0; i < 2'000; i += 10) {
      posts.push_back(make_post(50'000 + i, 10'000 + i, 0));
      transfer_ids.push_back(50'000 + i);
    }
    for (const result& r : create_transfers(e, posts)) ASSERT_EQ(r.status, code(tr::ok));
    before = capture(e, account_ids, transfer_ids, {1});
    ASSERT_TRUE(money_conserved(before.accounts));
  }
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.account_hosts = 7;
  engine e(cfg);
  expect_same_state(before, capture(e, account_ids, transfer_ids, {1}));
  // The open pending transfers are still held where they were, and can be posted.
  std::vector<transfer> posts;
  for (std::uint32_t i = 5; i < 2'000; i += 10)
    posts.push_back(make_post(60'000 + i, 10'000 + i, 0));
  for (const result& r : create_transfers(e, posts)) EXPECT_EQ(r.status, code(tr::ok));
  const std::vector<account> after = lookup_accounts(e, account_ids);
  EXPECT_TRUE(money_conserved(after));
  u128 pending = 0;
  for (const account& a : after) pending += a.debits_pending;
  EXPECT_EQ(pending, 0u) << "every pending transfer was posted";
}

}  // namespace
}  // namespace remit::journal_test
