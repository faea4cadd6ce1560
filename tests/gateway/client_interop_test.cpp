// The server with the project's own client library (remit::client) on the other end: the
// session it reports, the operations end to end, and many threads sharing one client.
#include "gateway/client/client.hpp"
#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

client::config client_config(const harness& h, const codec::key_entry& key, bool mac) {
  client::config c;
  c.host = "127.0.0.1";
  c.port = h.port();
  c.key_id = key.id;
  c.secret = key.secret;
  c.mac = mac;
  c.request_timeout = ms(20000);
  return c;
}

class client_interop : public ::testing::TestWithParam<bool> {};

TEST_P(client_interop, the_session_and_every_operation) {
  const bool mac = GetParam();
  auto cfg = server_defaults();
  cfg.inflight_max = 9;
  harness h(cfg);
  client::client c(client_config(h, keys().all, mac));
  EXPECT_EQ(c.session().inflight_max, 9u);
  EXPECT_EQ(c.session().event_count_max, batch_events_max);
  EXPECT_EQ(c.session().permissions, codec::permission::all);
  EXPECT_EQ(c.session().server_version, "0.1.0-nodurable");
  EXPECT_EQ(c.session().mac, mac);

  const std::vector<account> accounts = {make_account(1), make_account(2)};
  auto r = c.create_accounts(accounts);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.results.size(), 2u);
  const std::vector<transfer> transfers = {make_transfer(1, 1, 2, 40),
                                           make_transfer(2, 1, 2, 9, transfer_flags::pending)};
  r = c.create_transfers(transfers);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].status, 0u);
  EXPECT_EQ(r.results[1].status, 0u);
  const u128 ids[] = {1, 2};
  r = c.lookup_accounts(ids);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.accounts.size(), 2u);
  EXPECT_EQ(r.accounts[0].debits_posted, 40u);
  EXPECT_EQ(r.accounts[0].debits_pending, 9u);
  EXPECT_EQ(r.accounts[1].credits_posted, 40u);
  r = c.lookup_transfers(ids);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.transfers.size(), 2u);
  r = c.get_account_transfers(make_filter(1, account_filter_flags::debits, 10));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.transfers.size(), 2u);
  r = c.get_ledger_stats(1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.stats.transfers_posted, 1u);
  EXPECT_EQ(r.stats.transfers_pending, 1u);
  EXPECT_EQ(r.stats.volume_posted, 40u);
  account_controls ctl{};
  ctl.account_id = 1;
  const account_controls controls[] = {ctl};
  r = c.set_account_controls(controls);
  ASSERT_TRUE(r.ok());
  const std::byte payload[] = {std::byte{1}, std::byte{2}, std::byte{3}};
  r = c.ping(payload);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.ping.size(), 3u);
}

TEST_P(client_interop, many_threads_share_one_client_and_money_is_conserved) {
  const bool mac = GetParam();
  harness h;
  client::client c(client_config(h, keys().all, mac));
  constexpr int accounts = 8;
  std::vector<account> a;
  for (int i = 1; i <= accounts; ++i) a.push_back(make_account(static_cast<u128>(i)));
  ASSERT_TRUE(c.create_accounts(a).ok());

  constexpr int threads = 4;
  constexpr int per_thread = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const auto id = static_cast<u128>(t * per_thread + i + 1);
        const auto d = static_cast<u128>(1 + (i + t) % accounts);
        const auto cr = static_cast<u128>(1 + (i + t + 1) % accounts);
        const transfer tr[] = {make_transfer(id, d, cr, 1)};
        const auto r = c.create_transfers(tr);
        if (!r.ok() || r.results.size() != 1 || r.results[0].status != 0) ++failures;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<u128> ids;
  for (int i = 1; i <= accounts; ++i) ids.push_back(static_cast<u128>(i));
  const auto r = c.lookup_accounts(ids);
  ASSERT_TRUE(r.ok());
  u128 debits = 0;
  u128 credits = 0;
  for (const auto& x : r.accounts) {
    debits += x.debits_posted;
    credits += x.credits_posted;
  }
  EXPECT_EQ(debits, credits);
  EXPECT_EQ(debits, u128{threads * per_thread});
  EXPECT_GT(h.srv().stats().requests[op_of(opcode::create_transfers)][0].load(), 0u);
}

INSTANTIATE_TEST_SUITE_P(mac, client_interop, ::testing::Bool(), mac_name);

TEST(client_interop_failure, a_wrong_secret_is_refused) {
  harness h;
  auto cfg = client_config(h, keys().all, true);
  cfg.secret = keys().read.secret;
  cfg.reconnects_max = 0;
  EXPECT_THROW(client::client{cfg}, client::client_error);
  EXPECT_GE(h.srv().stats().auth_failures.load(), 1u);
}

}  // namespace
}  // namespace remit::gateway_test
