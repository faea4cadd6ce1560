// SET_ACCOUNT_CONTROLS on one account from two requests at once: the change that the live
// account keeps must be the one that recovery replays last. The engine used to journal a
// change and then send it to the account without owning the account id, so with two shards
// one change could be journaled first and applied last: memory held one, replay the other.
//
// Each round sends two requests at once that set one account's transfer_amount_max to 10
// and to 20. The first request touches 2000 other accounts before the contested one (a wide
// window between its journal record and its message to that account), the second only the
// contested one; which of them goes first alternates, and the other follows 20 us to 1 ms
// later. A probe transfer of 15 then shows
// which value the live account kept (ok: 20, exceeds_transfer_amount_max: 10). After
// shutdown, recovery of the same directory must show the same value for every account.
#include <thread>

#include "journal_test_support.hpp"

namespace remit::journal_test {
namespace {

TEST(ControlsOrder, LiveAccountKeepsWhatRecoveryReplaysLast) {
  constexpr int rounds = 120;
  constexpr u128 others_first = 100'000;
  constexpr std::uint32_t others = 2000;
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  std::vector<std::pair<u128, u128>> live;  // contested account, the cap it kept
  int kept_first = 0, kept_second = 0;
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.shards = 2;
    engine e(cfg);
    std::vector<account> a = {make_account(1)};
    for (std::uint32_t i = 0; i < others; ++i) a.push_back(make_account(others_first + i));
    for (int r = 0; r < rounds; ++r) a.push_back(make_account(10 + static_cast<u128>(r)));
    for (const result& x : create_accounts(e, a)) ASSERT_EQ(x.status, code(ar::ok));

    // How long a wide request takes alone: the shortest of three.
    std::vector<account_controls> others_only;
    for (std::uint32_t i = 0; i < others; ++i)
      others_only.push_back(make_controls(others_first + i));
    auto wide_alone = std::chrono::steady_clock::duration::max();
    for (int i = 0; i < 3; ++i) {
      const auto start = std::chrono::steady_clock::now();
      for (const result& x : set_controls(e, others_only)) ASSERT_EQ(x.status, 0u);
      wide_alone = std::min(wide_alone, std::chrono::steady_clock::now() - start);
    }
    std::printf("[ info ] a wide request alone takes %lld us\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::microseconds>(wide_alone).count()));

    for (int r = 0; r < rounds; ++r) {
      const u128 contested = 10 + static_cast<u128>(r);
      std::vector<account_controls> wide;
      for (std::uint32_t i = 0; i < others; ++i) wide.push_back(make_controls(others_first + i));
      wide.push_back(make_controls(contested, 0, 10));
      const std::vector<account_controls> narrow = {make_controls(contested, 0, 20)};
      const bool wide_leads = r % 2 == 0;
      const auto lag = wide_alone * ((r / 2) % 9) / 6;  // 0 to 4/3 of the window
      std::atomic<bool> go{false};
      const auto send = [&](const std::vector<account_controls>& c, bool lead) {
        while (!go.load()) {
        }
        if (!lead) {  // a little behind: inside the other's window, or just past it
          const auto until = std::chrono::steady_clock::now() + lag;
          while (std::chrono::steady_clock::now() < until) {
          }
        }
        for (const result& x : set_controls(e, c)) EXPECT_EQ(x.status, 0u);
      };
      std::thread t1(send, std::cref(wide), wide_leads);
      std::thread t2(send, std::cref(narrow), !wide_leads);
      go.store(true);
      t1.join();
      t2.join();
      clock.advance(ns_per_s);
      const std::vector<transfer> probe = {make_transfer(1'000'000 + contested, contested, 1, 15)};
      const std::uint32_t status = create_transfers(e, probe)[0].status;
      ASSERT_TRUE(status == code(tr::ok) || status == code(tr::exceeds_transfer_amount_max))
          << status;
      const u128 cap = status == code(tr::ok) ? 20 : 10;
      live.emplace_back(contested, cap);
      (cap == 20 ? kept_second : kept_first) += 1;
    }
  }
  reference_ledger recovered;
  storage::recovery_report report;
  std::string why;
  ASSERT_TRUE(storage::recover(dir.path(), recovered, report, why)) << why;
  int differ = 0;
  for (const auto& [id, cap] : live) {
    const controls_state* c = recovered.find_controls(id);
    ASSERT_NE(c, nullptr);
    if (c->transfer_amount_max != cap) {
      if (++differ <= 5)
        ADD_FAILURE() << "account " << u128_str(id) << ": live kept transfer_amount_max "
                      << u128_str(cap) << ", recovery replays " << u128_str(c->transfer_amount_max);
    }
  }
  EXPECT_EQ(differ, 0) << differ << " of " << rounds << " accounts differ after recovery";
  std::printf("[ info ] the narrow change was kept %d times, the wide one %d times\n", kept_second,
              kept_first);
  // Both orders happened, so the comparison above covered both: a narrow request sent after
  // the wide one's whole window is applied last.
  EXPECT_GT(kept_first, 0);
  EXPECT_GT(kept_second, 0);
}

}  // namespace
}  // namespace remit::journal_test
