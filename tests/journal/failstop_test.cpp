// Fail-stop (docs/ARCHITECTURE.md, Durability and failure): a failed journal write or fdatasync
// stops the engine from taking writes. The request whose group failed gets storage_failed, every
// later write is refused with storage_failed at once, nothing more is acknowledged; after a
// restart everything acknowledged before the failure is there, and resending the failed
// batch by id is safe (ok or exists, money conserved).
#include "journal_test_support.hpp"

#include <atomic>
#include <mutex>
#include <thread>

namespace remit::journal_test {
namespace {

enum class fault { write, sync };

std::string fault_name(fault f) {
  return f == fault::write ? "FailWrite" : "FailSync";
}

void PrintTo(fault f, std::ostream* os) {
  *os << fault_name(f);
}

void inject(storage_faults& faults, fault f, bool on) {
  (f == fault::write ? faults.fail_write : faults.fail_sync).store(on);
}

class JournalFailStop : public ::testing::TestWithParam<fault> {};

TEST_P(JournalFailStop, FailedGroupStopsWritesAndRestartKeepsWhatWasAcknowledged) {
  const fault which = GetParam();
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  auto faults = std::make_shared<storage_faults>();
  std::vector<u128> account_ids = {1, 2, 3, 4};
  std::vector<u128> acked_ids;
  std::vector<std::vector<transfer>> acked_batches;
  std::vector<transfer> acked_lookup;
  std::vector<transfer> failed_batch;
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.faults = faults;
    engine e(cfg);
    {
      std::vector<account> a;
      for (const u128 id : account_ids) a.push_back(make_account(id));
      clock.advance(ns_per_s);
      for (const result& r : create_accounts(e, a)) ASSERT_EQ(r.status, code(ar::ok));
    }
    // Acknowledged writes: plain transfers, a pending one, a post.
    for (int i = 0; i < 10; ++i) {
      clock.advance(ns_per_s);
      const u128 id = 100 + 2 * static_cast<u128>(i);
      std::vector<transfer> b = {make_transfer(id, 1 + i % 4, 1 + (i + 1) % 4, 10 + i),
                                 make_pending(id + 1, 1 + (i + 2) % 4, 1 + (i + 3) % 4, 5)};
      const auto r = create_transfers(e, b);
      for (const result& x : r) ASSERT_EQ(x.status, code(tr::ok));
      acked_batches.push_back(b);
      acked_ids.push_back(id);
      acked_ids.push_back(id + 1);
    }
    {
      clock.advance(ns_per_s);
      std::vector<transfer> b = {make_post(200, 101)};
      ASSERT_EQ(create_transfers(e, b)[0].status, code(tr::ok));
      acked_batches.push_back(b);
      acked_ids.push_back(200);
    }
    acked_lookup = lookup_transfers(e, acked_ids);
    ASSERT_EQ(acked_lookup.size(), acked_ids.size());
    const auto groups_before = e.journal_stats().groups;
    EXPECT_FALSE(e.storage_failed());

    // The fault: the next group fails.
    inject(*faults, which, true);
    clock.advance(ns_per_s);
    failed_batch = {make_transfer(300, 1, 2, 7), make_pending(301, 3, 4, 9),
                    linked(make_transfer(302, 2, 3, 1)), make_transfer(303, 3, 1, 1),
                    make_post(304, 103)};
    {
      const engine_reply r = get_reply(e.create_transfers(failed_batch));
      EXPECT_EQ(r.status, engine_status::storage_failed) << name(r.status);
    }
    EXPECT_TRUE(e.storage_failed());
    EXPECT_EQ(e.journal_stats().groups, groups_before) << "a failed group was counted as written";

    // Every later write is refused at once, whatever the fault does now.
    inject(*faults, which, false);
    {
      const std::vector<transfer> t = {make_transfer(400, 1, 2, 1)};
      auto f = e.create_transfers(t);
      ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready)
          << "a write after the failure was not refused at once";
      EXPECT_EQ(f.get().status, engine_status::storage_failed);
      const std::vector<account> a = {make_account(50)};
      EXPECT_EQ(get_reply(e.create_accounts(a)).status, engine_status::storage_failed);
      const std::vector<account_controls> c = {
          make_controls(1, 0, 0, 0, account_status_flags::frozen)};
      EXPECT_EQ(get_reply(e.set_account_controls(c)).status, engine_status::storage_failed);
      // Resending an acknowledged batch is a write too.
      EXPECT_EQ(get_reply(e.create_transfers(acked_batches[0])).status,
                engine_status::storage_failed);
    }
    // Reads are refused too: memory holds the failed batch's decisions, which recovery will
    // not have (or may not: a failed sync says nothing of what reached the disk), so no
    // answer may report them, nor anything that depended on them.
    {
      const std::vector<u128> failed_ids = {300, 301, 302, 303, 304};
      const engine_reply t =
          get_reply(e.lookup_transfers(failed_ids), "lookup_transfers after failure");
      EXPECT_EQ(t.status, engine_status::storage_failed) << name(t.status);
      EXPECT_TRUE(t.transfers.empty()) << "a lookup reported a decision that is not durable";
      const engine_reply r = get_reply(e.lookup_accounts(account_ids), "lookup after failure");
      EXPECT_EQ(r.status, engine_status::storage_failed) << name(r.status);
      EXPECT_TRUE(r.accounts.empty());
      const engine_reply h =
          get_reply(e.get_account_transfers(make_filter(1)), "history after failure");
      EXPECT_EQ(h.status, engine_status::storage_failed) << name(h.status);
      EXPECT_TRUE(h.transfers.empty());
      const engine_reply s = get_reply(e.get_ledger_stats(1), "stats after failure");
      EXPECT_EQ(s.status, engine_status::storage_failed) << name(s.status);
    }
    EXPECT_TRUE(e.storage_failed());
  }

  // Restart with the fault cleared.
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.faults = faults;
  engine e(cfg);
  EXPECT_FALSE(e.storage_failed());
  // Everything acknowledged is there, byte for byte.
  EXPECT_TRUE(same_list(acked_lookup, lookup_transfers(e, acked_ids), "acknowledged transfers"));
  EXPECT_TRUE(money_conserved(lookup_accounts(e, account_ids)));
  for (const auto& b : acked_batches) {
    for (const result& r : create_transfers(e, b)) EXPECT_EQ(r.status, code(tr::exists));
  }
  // The failed batch: its outcome was unknown; resending it by id is safe.
  std::vector<u128> failed_ids;
  for (const transfer& t : failed_batch) failed_ids.push_back(t.id);
  const auto present = lookup_transfers(e, failed_ids);
  std::printf("[ info ] %s: %zu of %zu transfers of the failed batch were recovered\n",
              fault_name(which).c_str(), present.size(), failed_ids.size());
  if (which == fault::write) {
    EXPECT_TRUE(present.empty()) << "nothing of a failed write was written";
  }
  clock.advance(ns_per_s);
  const auto again = create_transfers(e, failed_batch);
  ASSERT_EQ(again.size(), failed_batch.size());
  if (present.empty()) {
    for (const result& r : again) EXPECT_EQ(r.status, code(tr::ok)) << describe(r);
  } else {
    // Each event on its own is ok or exists; the chain 302-303 gives exists and
    // linked_event_failed when it had been recovered.
    EXPECT_TRUE(again[0].status == code(tr::ok) || again[0].status == code(tr::exists));
    EXPECT_TRUE(again[1].status == code(tr::ok) || again[1].status == code(tr::exists));
    EXPECT_TRUE(again[2].status == code(tr::ok) || again[2].status == code(tr::exists));
    EXPECT_TRUE(again[3].status == code(tr::ok) ||
                again[3].status == code(tr::linked_event_failed));
    EXPECT_TRUE(again[4].status == code(tr::ok) || again[4].status == code(tr::exists));
  }
  // Now all of it is there exactly once.
  const auto third = create_transfers(e, failed_batch);
  EXPECT_EQ(third[0].status, code(tr::exists));
  EXPECT_EQ(third[1].status, code(tr::exists));
  EXPECT_EQ(third[2].status, code(tr::exists));
  EXPECT_EQ(third[3].status, code(tr::linked_event_failed));
  EXPECT_EQ(third[4].status, code(tr::exists));
  EXPECT_EQ(lookup_transfers(e, failed_ids).size(), failed_ids.size());
  EXPECT_TRUE(money_conserved(lookup_accounts(e, account_ids)));
  // And writes work again.
  clock.advance(ns_per_s);
  EXPECT_EQ(create_transfers(e, std::vector<transfer>{make_transfer(500, 4, 1, 3)})[0].status,
            code(tr::ok));
}

// Many callers at once while the fault hits: whatever was acknowledged ok survives the
// restart; once any caller has seen storage_failed, no later request is acknowledged.
TEST_P(JournalFailStop, ConcurrentWritersLoseNothingAcknowledged) {
  const fault which = GetParam();
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  auto faults = std::make_shared<storage_faults>();
  constexpr int threads = 4;
  constexpr u128 accounts = 8;
  std::vector<u128> account_ids;
  for (u128 id = 1; id <= accounts; ++id) account_ids.push_back(id);

  std::mutex mu;
  std::vector<std::vector<transfer>> acked, unknown;
  std::atomic<int> acked_count{0};
  std::atomic<bool> failure_seen{false};
  std::atomic<int> acked_after_failure_seen{0};
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.faults = faults;
    cfg.threads = 2;
    cfg.shards = 3;
    engine e(cfg);
    {
      std::vector<account> a;
      for (const u128 id : account_ids) a.push_back(make_account(id));
      for (const result& r : create_accounts(e, a)) ASSERT_EQ(r.status, code(ar::ok));
    }
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 0; i < 10'000; ++i) {
          const u128 id = 1'000'000 * static_cast<u128>(t + 1) + static_cast<u128>(i) * 2;
          const u128 dr = 1 + static_cast<u128>((t + i) % accounts);
          const u128 cr = 1 + static_cast<u128>((t + i + 3) % accounts);
          std::vector<transfer> b = {make_transfer(id, dr, cr, 1 + i % 7),
                                     make_pending(id + 1, cr, dr, 2)};
          const bool seen_before = failure_seen.load();
          const engine_reply r = get_reply(e.create_transfers(b));
          std::lock_guard<std::mutex> lock(mu);
          if (r.status == engine_status::ok) {
            acked.push_back(b);
            acked_count.fetch_add(1);
            if (seen_before) acked_after_failure_seen.fetch_add(1);
          } else {
            EXPECT_EQ(r.status, engine_status::storage_failed) << name(r.status);
            unknown.push_back(b);
            failure_seen.store(true);
            if (seen_before) break;  // one more after the first failure, then stop
          }
        }
      });
    }
    // Let some work be acknowledged, then fail.
    EXPECT_TRUE([&] {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (acked_count.load() < 100) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return true;
    }());
    inject(*faults, which, true);
    for (auto& th : pool) th.join();
    EXPECT_TRUE(e.storage_failed());
  }
  EXPECT_EQ(acked_after_failure_seen.load(), 0) << "a request sent after a storage_failed answer "
                                                   "was acknowledged";
  // Requests landed on both sides of the fault.
  EXPECT_FALSE(acked.empty());
  EXPECT_FALSE(unknown.empty());
  inject(*faults, which, false);

  engine_config cfg = durable_config(dir.path(), clock);
  cfg.faults = faults;
  engine e(cfg);
  std::vector<u128> ids;
  for (const auto& b : acked)
    for (const transfer& t : b) ids.push_back(t.id);
  EXPECT_EQ(lookup_transfers(e, ids).size(), ids.size()) << "acknowledged transfers were lost";
  EXPECT_TRUE(money_conserved(lookup_accounts(e, account_ids)));
  for (const auto& b : unknown) {
    for (const result& r : create_transfers(e, b))
      EXPECT_TRUE(r.status == code(tr::ok) || r.status == code(tr::exists)) << describe(r);
  }
  std::size_t exists = 0;
  for (const auto& b : acked) {
    for (const result& r : create_transfers(e, b)) exists += r.status == code(tr::exists);
  }
  EXPECT_EQ(exists, ids.size());
  EXPECT_TRUE(money_conserved(lookup_accounts(e, account_ids)));
  std::printf("[ info ] %s: %zu batches acknowledged, %zu unknown\n", fault_name(which).c_str(),
              acked.size(), unknown.size());
}

// The failure of the group that holds only an expiry (no request waits on it) still stops
// the engine: the next write is refused.
TEST_P(JournalFailStop, FailureWithoutAWaitingRequestStillStopsWrites) {
  const fault which = GetParam();
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  auto faults = std::make_shared<storage_faults>();
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.faults = faults;
  engine e(cfg);
  const std::vector<account> a = {make_account(1), make_account(2)};
  create_accounts(e, a);
  clock.advance(ns_per_s);
  ASSERT_EQ(create_transfers(e, std::vector<transfer>{make_pending(10, 1, 2, 5, 1)})[0].status,
            code(tr::ok));
  const auto groups = e.journal_stats().groups;
  inject(*faults, which, true);
  clock.advance(5 * ns_per_s);  // the pending transfer expires: its record is journaled
  // Give the sweep (every 20 ms) time to try to write it. No lookup here: a read answered
  // storage_failed would itself mark the engine failed.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(e.journal_stats().groups, groups);
  inject(*faults, which, false);
  const engine_reply r =
      get_reply(e.create_transfers(std::vector<transfer>{make_transfer(11, 1, 2, 1)}));
  EXPECT_EQ(r.status, engine_status::storage_failed)
      << "a write was acknowledged after the journal failed";
}

// No read reports a decision of the failed group, however it races with the failure: a
// lookup that runs after the batch's commit reached the accounts, but whose own sync comes
// after the failure, is refused instead of showing what recovery may not have.
TEST_P(JournalFailStop, NoReadReportsADecisionOfTheFailedGroup) {
  const fault which = GetParam();
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  auto faults = std::make_shared<storage_faults>();
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.faults = faults;
  engine e(cfg);
  const std::vector<account> a = {make_account(1), make_account(2)};
  for (const result& r : create_accounts(e, a)) ASSERT_EQ(r.status, code(ar::ok));

  std::atomic<bool> stop{false};
  std::atomic<int> violations{0};
  std::atomic<int> refused{0};
  const auto reader = [&] {
    const std::vector<u128> tid = {300};
    const std::vector<u128> aid = {1, 2};
    while (!stop.load()) {
      const engine_reply t = get_reply(e.lookup_transfers(tid), "lookup_transfers");
      if (t.status == engine_status::ok && !t.transfers.empty()) violations.fetch_add(1);
      if (t.status == engine_status::storage_failed) refused.fetch_add(1);
      const engine_reply r = get_reply(e.lookup_accounts(aid), "lookup_accounts");
      if (r.status == engine_status::ok) {
        for (const account& x : r.accounts)
          if (x.debits_posted != 0 || x.credits_posted != 0) violations.fetch_add(1);
      }
    }
  };
  std::thread r1(reader), r2(reader);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  inject(*faults, which, true);
  clock.advance(ns_per_s);
  const engine_reply w =
      get_reply(e.create_transfers(std::vector<transfer>{make_transfer(300, 1, 2, 7)}));
  EXPECT_EQ(w.status, engine_status::storage_failed) << name(w.status);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop.store(true);
  r1.join();
  r2.join();
  EXPECT_EQ(violations.load(), 0) << "a read reported the transfer whose group failed";
  EXPECT_GT(refused.load(), 0) << "no read ran after the failure";
}

INSTANTIATE_TEST_SUITE_P(Journal, JournalFailStop, ::testing::Values(fault::write, fault::sync),
                         [](const ::testing::TestParamInfo<fault>& p) {
                           return fault_name(p.param);
                         });

}  // namespace
}  // namespace remit::journal_test
