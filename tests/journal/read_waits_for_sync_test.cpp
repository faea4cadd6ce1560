// Reads and `exists` answers wait for the sync that covers what they read (docs/PROTOCOL.md
// section 8, durability; docs/ARCHITECTURE.md, the commit rule 4): no lookup, history, stats or
// `exists` may report a decision that is not yet on stable storage, since a crash could
// still take it back.
//
// The journal's fdatasync is held at a gate (storage_faults::hold_sync). A transfer is then
// decided and its effect is in memory, but not on stable storage, and it is not answered.
// Meanwhile other threads look up the transfer, its accounts, an account's history, the
// ledger stats, and resend its id. None of them may be answered with the transfer's effect
// while the gate is closed (today none is answered at all: every answer waits for the
// group commit that follows it). Once the gate opens, all answer, with the effect.
#include "journal_test_support.hpp"

#include <thread>

namespace remit::journal_test {
namespace {

// Opens the gate when it goes out of scope, so that a failed assertion cannot leave the
// journal writer (and with it the engine's shutdown) waiting forever.
struct gate_guard {
  storage_faults& faults;
  ~gate_guard() { faults.hold_sync.store(false); }
};

// Waits until a journal sync waits at the gate; false after 10 s.
bool sync_reaches_gate(const storage_faults& faults) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (faults.syncs_held.load() == 0) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// One call made from a thread of its own; remembers whether it was answered before the
// gate opened.
struct observed_call {
  std::promise<engine_reply> reply;
  std::future<engine_reply> future = reply.get_future();
  std::atomic<bool> before_gate{false};
};

class JournalReadsWaitForSync : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(JournalReadsWaitForSync, ReadsAndExistsAreNotAnsweredBeforeTheSync) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  auto faults = std::make_shared<storage_faults>();
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.shards = GetParam();
  cfg.faults = faults;
  cfg.expiry_interval_ms = 60'000;  // no sweep in between
  cfg.snapshot_at_shutdown = false;
  // The calls outlive the engine: an early return still leaves their answers somewhere.
  enum read { transfer_lookup, account_lookup, resend, history, ledger, reads };
  observed_call created;
  observed_call calls[reads];
  std::atomic<bool> gate_open{false};
  engine e(cfg);

  constexpr u128 payer = 1, payee = 2;
  constexpr u128 amount = 5;
  clock.advance(ns_per_s);
  for (const result& r :
       create_accounts(e, std::vector<account>{make_account(payer), make_account(payee)}))
    ASSERT_EQ(r.status, code(ar::ok));
  clock.advance(ns_per_s);
  const transfer earlier = make_transfer(10, payee, payer, 3);
  ASSERT_EQ(create_transfers(e, std::vector<transfer>{earlier})[0].status, code(tr::ok));
  const account payer_before = lookup_accounts(e, std::vector<u128>{payer}).at(0);
  const account payee_before = lookup_accounts(e, std::vector<u128>{payee}).at(0);
  const ledger_stats stats_before = stats(e, 1);
  ASSERT_EQ(account_transfers(e, payer).size(), 1u);

  // The gate closes: the transfer is decided and applied, but not synced.
  faults->hold_sync.store(true);
  gate_guard guard{*faults};
  clock.advance(ns_per_s);
  const transfer t = make_transfer(100, payer, payee, amount);
  e.create_transfers(std::vector<transfer>{t}, [&](engine_reply&& r) {
    created.before_gate.store(!gate_open.load());
    created.reply.set_value(std::move(r));
  });
  ASSERT_TRUE(sync_reaches_gate(*faults)) << "the transfer's group never reached fdatasync";
  // The decision is published to the accounts right after it went to the journal (in the
  // same step of the driver); give that step time to end, so that the reads below find the
  // effect in memory.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  // The reads, each from a thread of its own.
  const char* const names[reads] = {"lookup_transfers", "lookup_accounts", "resend (exists)",
                                    "get_account_transfers", "get_ledger_stats"};
  const auto callback = [&](observed_call& c) {
    return [&c, &gate_open](engine_reply&& r) {
      c.before_gate.store(!gate_open.load());
      c.reply.set_value(std::move(r));
    };
  };
  const std::vector<u128> transfer_ids = {t.id};
  const std::vector<u128> account_ids = {payer, payee};
  const std::vector<transfer> again = {t};
  std::vector<std::thread> threads;
  threads.emplace_back([&] { e.lookup_transfers(transfer_ids, callback(calls[transfer_lookup])); });
  threads.emplace_back([&] { e.lookup_accounts(account_ids, callback(calls[account_lookup])); });
  threads.emplace_back([&] { e.create_transfers(again, callback(calls[resend])); });
  threads.emplace_back(
      [&] { e.get_account_transfers(make_filter(payer), callback(calls[history])); });
  threads.emplace_back([&] { e.get_ledger_stats(1, callback(calls[ledger])); });
  for (auto& th : threads) th.join();

  // Each shows the transfer's effect, or not.
  const auto shows_effect = [&](read which, const engine_reply& r) -> bool {
    switch (which) {
      case transfer_lookup:
        return !r.transfers.empty();
      case account_lookup:
        return r.accounts.size() == 2 &&
               (r.accounts[0].debits_posted != payer_before.debits_posted ||
                r.accounts[1].credits_posted != payee_before.credits_posted);
      case resend:
        return !r.results.empty() && r.results[0].status == code(tr::exists);
      case history:
        return r.transfers.size() > 1;
      default:
        return r.stats.transfers_posted != stats_before.transfers_posted;
    }
  };

  // Time for a read that does not wait for the sync to be answered.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(created.future.wait_for(std::chrono::seconds(0)), std::future_status::timeout)
      << "the transfer was answered before its decision was synced";
  bool answered_early[reads] = {};
  int early = 0;
  for (int i = 0; i < reads; ++i) {
    if (calls[i].future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
    answered_early[i] = true;
    ++early;
    // An answer without the transfer's effect depended on nothing unsynced.
    EXPECT_FALSE(shows_effect(static_cast<read>(i), calls[i].future.get()))
        << names[i] << " reported a decision that was not yet synced";
  }
  std::printf("[ info ] %d of %d reads answered before the sync\n", early, static_cast<int>(reads));

  // The gate opens: everything answers, the reads with the effect.
  gate_open.store(true);
  faults->hold_sync.store(false);
  const engine_reply made = get_reply(std::move(created.future), "create_transfers reply");
  EXPECT_FALSE(created.before_gate.load());
  ASSERT_EQ(made.status, engine_status::ok);
  ASSERT_EQ(made.results.size(), 1u);
  ASSERT_EQ(made.results[0].status, code(tr::ok));
  const std::uint64_t ts = made.results[0].timestamp;
  for (int i = 0; i < reads; ++i) {
    if (answered_early[i]) continue;
    SCOPED_TRACE(names[i]);
    const engine_reply r = get_reply(std::move(calls[i].future), names[i]);
    EXPECT_FALSE(calls[i].before_gate.load()) << "answered before the sync";
    EXPECT_EQ(r.status, engine_status::ok);
    EXPECT_TRUE(shows_effect(static_cast<read>(i), r));
    switch (static_cast<read>(i)) {
      case transfer_lookup:
        ASSERT_EQ(r.transfers.size(), 1u);
        EXPECT_EQ(r.transfers[0].timestamp, ts);
        break;
      case account_lookup:
        ASSERT_EQ(r.accounts.size(), 2u);
        EXPECT_EQ(r.accounts[0].debits_posted, payer_before.debits_posted + amount);
        EXPECT_EQ(r.accounts[1].credits_posted, payee_before.credits_posted + amount);
        break;
      case resend:
        ASSERT_EQ(r.results.size(), 1u);
        EXPECT_EQ(r.results[0].timestamp, ts);
        break;
      case history:
        ASSERT_EQ(r.transfers.size(), 2u);
        EXPECT_EQ(r.transfers[1].id, t.id);
        break;
      default:
        EXPECT_EQ(r.stats.transfers_posted, stats_before.transfers_posted + 1);
        EXPECT_EQ(r.stats.volume_posted, stats_before.volume_posted + amount);
        break;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Journal, JournalReadsWaitForSync, ::testing::Values(1u, 2u),
                         [](const ::testing::TestParamInfo<std::uint32_t>& p) {
                           return "shards" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace remit::journal_test
