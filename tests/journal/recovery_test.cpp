// Recovery of a whole engine from its data directory: every kind of decision replays to the
// same state (byte for byte), idempotency survives the restart, timestamps keep increasing,
// a torn tail is cut, damage before the tail refuses to start and says where, and snapshots
// (rolled during a run and written at shutdown) give the same state with old files removed.
#include "journal_test_support.hpp"

#include <random>
#include <set>
#include <stdexcept>
#include <thread>

namespace remit::journal_test {
namespace {

// ---------------------------------------------------------------------------------------
// A scenario with every kind of decision, and the expected answers to resending it.

struct sent_batch {
  std::vector<transfer> events;
  std::vector<result> results;
};

// What resending an acknowledged batch must answer, event by event (docs/PROTOCOL.md 7): an ok
// event alone gives `exists` with its original timestamp; an ok chain gives `exists` on its
// first event and `linked_event_failed` on the rest (`exists` fails a chain like any other
// code); a failure on state gives `id_already_failed`; a failed chain is not remembered, so
// it fails the same way again.
std::vector<result> expected_resend(const sent_batch& b) {
  std::vector<result> out(b.events.size());
  std::size_t i = 0;
  while (i < b.events.size()) {
    std::size_t j = i;
    while (j + 1 < b.events.size() && (b.events[j].flags & transfer_flags::linked) != 0) ++j;
    const bool chain = j > i;
    bool all_ok = true;
    for (std::size_t k = i; k <= j; ++k) all_ok = all_ok && b.results[k].status == code(tr::ok);
    if (chain) {
      for (std::size_t k = i; k <= j; ++k) {
        if (!all_ok) {
          out[k] = b.results[k];
        } else if (k == i) {
          out[k] = result{code(tr::exists), 0, b.results[k].timestamp};
        } else {
          out[k] = result{code(tr::linked_event_failed), 0, 0};
        }
      }
    } else if (b.results[i].status == code(tr::ok)) {
      out[i] = result{code(tr::exists), 0, b.results[i].timestamp};
    } else {
      out[i] = result{code(tr::id_already_failed), 0, 0};
    }
    i = j + 1;
  }
  return out;
}

::testing::AssertionResult same_results(const std::vector<result>& expected,
                                        const std::vector<result>& actual) {
  if (expected.size() != actual.size())
    return ::testing::AssertionFailure()
           << "expected " << expected.size() << " results, got " << actual.size();
  std::ostringstream os;
  int diffs = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (same_bytes(expected[i], actual[i])) continue;
    ++diffs;
    os << "\n  [" << i << "] expected " << describe(expected[i]) << ", got " << describe(actual[i]);
  }
  if (diffs == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << diffs << " results differ" << os.str();
}

struct scenario {
  std::vector<u128> account_ids;
  std::vector<u128> transfer_ids;  // every id sent, found or not
  std::vector<std::uint32_t> ledgers{1, 2};
  std::vector<sent_batch> batches;
  std::vector<std::pair<std::vector<account>, std::vector<result>>> account_batches;
  std::uint64_t max_timestamp = 0;

  std::vector<result> send(engine& e, std::vector<transfer> events) {
    for (const transfer& t : events) transfer_ids.push_back(t.id);
    sent_batch b{std::move(events), {}};
    b.results = create_transfers(e, b.events);
    for (const result& r : b.results) max_timestamp = std::max(max_timestamp, r.timestamp);
    batches.push_back(b);
    return b.results;
  }
};

std::vector<std::uint32_t> codes_of(const std::vector<result>& r) {
  std::vector<std::uint32_t> out;
  for (const result& x : r) out.push_back(x.status);
  return out;
}

// Accounts 1-6 (ledger 1), 7 (debits_must_not_exceed_credits), 8-9 (a linked pair),
// 20-21 (ledger 2); transfers of every kind.
void run_scenario(engine& e, const manual_clock& clock, scenario& s) {
  std::vector<account> accounts;
  for (u128 id = 1; id <= 6; ++id) accounts.push_back(make_account(id));
  accounts.push_back(make_account(7, 1, account_flags::debits_must_not_exceed_credits));
  const std::vector<account> pair = {linked(make_account(8)), make_account(9)};
  const std::vector<account> other = {make_account(20, 2, 0, 9), make_account(21, 2, 0, 9)};
  const std::vector<const std::vector<account>*> lists = {&accounts, &pair, &other};
  for (const std::vector<account>* list : lists) {
    clock.advance(ns_per_s);
    const auto r = create_accounts(e, *list);
    s.account_batches.emplace_back(*list, r);
    for (std::size_t i = 0; i < list->size(); ++i) {
      EXPECT_EQ(r[i].status, code(ar::ok)) << "account #" << i;
      s.account_ids.push_back((*list)[i].id);
      s.max_timestamp = std::max(s.max_timestamp, r[i].timestamp);
    }
  }
  const auto step = [&] { clock.advance(ns_per_s); };
  using v = std::vector<std::uint32_t>;

  step();  // plain
  EXPECT_EQ(codes_of(s.send(e, {make_transfer(100, 1, 2, 1000)})), v{code(tr::ok)});
  step();  // pending with a long timeout: stays open
  EXPECT_EQ(codes_of(s.send(e, {make_pending(101, 1, 3, 500, 3600)})), v{code(tr::ok)});
  step();  // pending without timeout, then a partial post
  EXPECT_EQ(codes_of(s.send(e, {make_pending(102, 2, 3, 300)})), v{code(tr::ok)});
  step();
  EXPECT_EQ(codes_of(s.send(e, {make_post(103, 102, 200)})), v{code(tr::ok)});
  step();  // pending and its void in one batch
  EXPECT_EQ(codes_of(s.send(e, {make_pending(104, 1, 4, 400), make_void(105, 104)})),
            (v{code(tr::ok), code(tr::ok)}));
  step();  // a linked chain that commits
  EXPECT_EQ(codes_of(s.send(e, {linked(make_transfer(106, 2, 4, 10)),
                                linked(make_transfer(107, 4, 5, 5)), make_transfer(108, 5, 1, 1)})),
            (v{code(tr::ok), code(tr::ok), code(tr::ok)}));
  step();  // failures on state between successes
  EXPECT_EQ(codes_of(s.send(e, {make_transfer(109, 7, 1, 10), make_transfer(110, 999, 1, 10),
                                make_transfer(111, 3, 6, 7), make_transfer(112, 1, 998, 3)})),
            (v{code(tr::exceeds_credits), code(tr::debit_account_not_found), code(tr::ok),
               code(tr::credit_account_not_found)}));
  step();  // balancing debit: sent 1000, moves what account 6 has (7)
  EXPECT_EQ(codes_of(s.send(e, {make_transfer(113, 6, 1, 1000, transfer_flags::balancing_debit)})),
            v{code(tr::ok)});
  step();  // post with amount 0 (the full amount)
  EXPECT_EQ(codes_of(s.send(e, {make_pending(114, 3, 5, 50)})), v{code(tr::ok)});
  step();
  EXPECT_EQ(codes_of(s.send(e, {make_post(115, 114, 0)})), v{code(tr::ok)});
  step();  // a pending transfer that expires, then a post of it that fails on state
  EXPECT_EQ(codes_of(s.send(e, {make_pending(116, 2, 6, 25, 2)})), v{code(tr::ok)});
  clock.advance(10 * ns_per_s);
  {
    // Wait for the expiry sweep to release it (account 2's debits_pending goes to 0).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const u128 id2[1] = {2};
    while (std::chrono::steady_clock::now() < until) {
      const auto a = lookup_accounts(e, id2);
      if (a.size() == 1 && a[0].debits_pending == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const auto a = lookup_accounts(e, id2);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(a[0].debits_pending, 0u) << "the pending transfer 116 did not expire";
  }
  EXPECT_EQ(codes_of(s.send(e, {make_post(117, 116)})), v{code(tr::pending_transfer_expired)});
  step();  // ledger 2
  {
    transfer t = make_transfer(118, 20, 21, 99, 0, 2);
    t.code = 9;
    EXPECT_EQ(codes_of(s.send(e, {t})), v{code(tr::ok)});
  }
  step();  // a linked chain that fails (not remembered)
  EXPECT_EQ(
      codes_of(s.send(e, {linked(make_transfer(119, 1, 2, 5)), make_transfer(120, 997, 2, 5)})),
      (v{code(tr::linked_event_failed), code(tr::debit_account_not_found)}));
  step();  // controls: account 5 frozen from now on
  {
    const std::vector<account_controls> c = {
        make_controls(5, 0, 0, 0, account_status_flags::frozen), make_controls(4, 0, 100, 1000)};
    const auto r = set_controls(e, c);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].status, 0u);
    EXPECT_EQ(r[1].status, 0u);
  }
  step();
  EXPECT_EQ(codes_of(s.send(e, {make_transfer(121, 5, 1, 1)})), v{code(tr::debit_account_frozen)});
  step();  // within account 4's daily cap: counted in its daily sum
  EXPECT_EQ(codes_of(s.send(e, {make_transfer(122, 4, 1, 100)})), v{code(tr::ok)});
  // Pairs of accounts created linked: transfers between them too.
  step();
  EXPECT_EQ(codes_of(s.send(e, {make_transfer(123, 8, 9, 77)})), v{code(tr::ok)});
  step();  // a chain that creates a pending transfer and posts part of it
  EXPECT_EQ(codes_of(s.send(e, {linked(make_pending(124, 9, 8, 60, 0)), make_post(125, 124, 15)})),
            (v{code(tr::ok), code(tr::ok)}));
  step();  // pending transfers left open for after the restart
  EXPECT_EQ(codes_of(s.send(e, {make_pending(126, 3, 2, 11), make_pending(127, 2, 3, 12)})),
            (v{code(tr::ok), code(tr::ok)}));
}

// Transfers and accounts made after a restart have later timestamps than anything before,
// even when the clock went back; the controls came back too.
void check_after_restart(engine& e, scenario& s) {
  const account fresh = make_account(30);
  const auto ra = create_accounts(e, std::vector<account>{fresh});
  ASSERT_EQ(ra.size(), 1u);
  EXPECT_EQ(ra[0].status, code(ar::ok));
  EXPECT_GT(ra[0].timestamp, s.max_timestamp);
  s.account_ids.push_back(30);
  const auto rt = s.send(e, {make_transfer(200, 1, 30, 1)});
  EXPECT_EQ(rt[0].status, code(tr::ok));
  EXPECT_GT(rt[0].timestamp, ra[0].timestamp);
  // Recovered pending transfers in every state.
  using v = std::vector<std::uint32_t>;
  EXPECT_EQ(codes_of(s.send(e, {make_post(203, 116)})), v{code(tr::pending_transfer_expired)});
  EXPECT_EQ(codes_of(s.send(e, {make_void(204, 102)})),
            v{code(tr::pending_transfer_already_posted)});
  EXPECT_EQ(codes_of(s.send(e, {make_post(205, 104)})),
            v{code(tr::pending_transfer_already_voided)});
  EXPECT_EQ(codes_of(s.send(e, {make_post(206, 124)})),
            v{code(tr::pending_transfer_already_posted)});
  EXPECT_EQ(codes_of(s.send(e, {make_post(207, 126), make_void(208, 127)})),
            (v{code(tr::ok), code(tr::ok)}));
  EXPECT_EQ(codes_of(s.send(e, {make_post(209, 101, 501)})),
            v{code(tr::exceeds_pending_transfer_amount)});
  // Account 5 is still frozen, and account 4's cap of 100 per transfer still holds.
  EXPECT_EQ(s.send(e, {make_transfer(201, 5, 1, 1)})[0].status, code(tr::debit_account_frozen));
  EXPECT_EQ(s.send(e, {make_transfer(202, 4, 1, 101)})[0].status,
            code(tr::exceeds_transfer_amount_max));
}

class JournalRecoveryEveryKind : public ::testing::TestWithParam<bool> {};
// (the parameter: snapshot_at_shutdown)

// The scenario, a restart (from the journal alone, or from the snapshot written at
// shutdown), and then: the same state byte for byte, resends answered from the recovered
// id tables, later timestamps for new objects, and a second restart that keeps all of it.
TEST_P(JournalRecoveryEveryKind, StateAndIdempotencySurviveARestart) {
  const bool snapshot_at_shutdown = GetParam();
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  scenario s;
  visible_state before;
  std::uint64_t acked_records = 0;
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = snapshot_at_shutdown;
    engine e(cfg);
    EXPECT_EQ(e.recovery().last_lsn, 0u);
    run_scenario(e, clock, s);
    if (HasFatalFailure()) return;
    before = capture(e, s.account_ids, s.transfer_ids, s.ledgers);
    EXPECT_TRUE(money_conserved(before.accounts));
    acked_records = e.journal_stats().records;
    EXPECT_GT(acked_records, 0u);
  }
  const dir_files files = list_files(dir.path());
  if (snapshot_at_shutdown) {
    EXPECT_EQ(files.snapshots.size(), 1u);
    EXPECT_TRUE(files.journals.empty()) << "the snapshot at shutdown covers every file";
  } else {
    EXPECT_TRUE(files.snapshots.empty());
    EXPECT_FALSE(files.journals.empty());
  }

  // The clock goes back a whole day.
  clock.set(epoch_2023_ns - 86'400 * ns_per_s);
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = snapshot_at_shutdown;
    engine e(cfg);
    const auto& rec = e.recovery();
    EXPECT_EQ(rec.torn_bytes, 0u);
    EXPECT_EQ(rec.accounts, s.account_ids.size());
    EXPECT_EQ(rec.last_lsn, acked_records);
    if (snapshot_at_shutdown) {
      EXPECT_FALSE(rec.snapshot.empty());
      EXPECT_EQ(rec.snapshot_lsn, acked_records);
      EXPECT_EQ(rec.records, 0u) << "a snapshot at shutdown leaves nothing to replay";
    } else {
      EXPECT_TRUE(rec.snapshot.empty());
      EXPECT_EQ(rec.records, acked_records);
    }
    const visible_state after = capture(e, s.account_ids, s.transfer_ids, s.ledgers);
    expect_same_state(before, after);

    // Resend every acknowledged batch.
    const std::vector<sent_batch> batches = s.batches;
    for (std::size_t i = 0; i < batches.size(); ++i) {
      const auto again = create_transfers(e, batches[i].events);
      EXPECT_TRUE(same_results(expected_resend(batches[i]), again))
          << "resending batch #" << i << " (first id " << u128_str(batches[i].events[0].id) << ")";
    }
    // And every account batch: exists (with the original timestamp) for accounts alone; a
    // chain fails on its first event with exists.
    for (const auto& [list, results] : s.account_batches) {
      const auto again = create_accounts(e, list);
      ASSERT_EQ(again.size(), list.size());
      const bool chain = list.size() > 1 && (list[0].flags & account_flags::linked) != 0;
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (chain && i > 0) {
          EXPECT_EQ(again[i].status, code(ar::linked_event_failed)) << "account #" << i;
        } else {
          EXPECT_EQ(again[i].status, code(ar::exists)) << "account " << u128_str(list[i].id);
          if (!chain) {
            EXPECT_EQ(again[i].timestamp, results[i].timestamp);
          }
        }
      }
    }
    // Resending changed nothing.
    expect_same_state(before, capture(e, s.account_ids, s.transfer_ids, s.ledgers));

    check_after_restart(e, s);
    before = capture(e, s.account_ids, s.transfer_ids, s.ledgers);
    EXPECT_TRUE(money_conserved(before.accounts));
  }
  // A second restart keeps what the first restarted engine acknowledged too.
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = snapshot_at_shutdown;
    engine e(cfg);
    expect_same_state(before, capture(e, s.account_ids, s.transfer_ids, s.ledgers));
    for (const sent_batch& b : s.batches) {
      if (b.events[0].id < 200) continue;
      EXPECT_TRUE(same_results(expected_resend(b), create_transfers(e, b.events)));
    }
  }
}

// Open pending transfers, their expiry, and daily debit sums carry over a restart: the
// sweep of the restarted engine expires what the old one created, posts and voids of
// recovered pending transfers work, and the daily cap counts what was debited before.
TEST_P(JournalRecoveryEveryKind, PendingTransfersExpiryAndDailySumsContinueAfterARestart) {
  const bool snapshot_at_shutdown = GetParam();
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const std::vector<u128> ids = {1, 2, 3};
  std::vector<u128> tids;
  using v = std::vector<std::uint32_t>;
  const auto send = [&](engine& e, std::vector<transfer> b) {
    clock.advance(ns_per_s);
    for (const transfer& t : b) tids.push_back(t.id);
    return codes_of(create_transfers(e, b));
  };
  const auto config = [&] {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = snapshot_at_shutdown;
    return cfg;
  };
  {
    engine e(config());
    create_accounts(e, std::vector<account>{make_account(1), make_account(2), make_account(3)});
    ASSERT_EQ(set_controls(e, std::vector<account_controls>{make_controls(1, 0, 0, 100)})[0].status,
              0u);
    EXPECT_EQ(send(e, {make_transfer(10, 1, 2, 80)}), v{code(tr::ok)});
    EXPECT_EQ(send(e, {make_pending(11, 2, 3, 50, 30)}), v{code(tr::ok)});
    EXPECT_EQ(send(e, {make_pending(12, 3, 2, 40, 0)}), v{code(tr::ok)});
    EXPECT_EQ(send(e, {make_pending(13, 2, 1, 20, 60)}), v{code(tr::ok)});
  }
  visible_state before;
  {
    engine e(config());
    EXPECT_EQ(send(e, {make_transfer(14, 1, 2, 30)}), v{code(tr::exceeds_daily_debit_max)})
        << "the daily sum of account 1 was lost";
    EXPECT_EQ(send(e, {make_transfer(15, 1, 2, 20)}), v{code(tr::ok)});
    EXPECT_EQ(send(e, {make_post(16, 12)}), v{code(tr::ok)});
    EXPECT_EQ(send(e, {make_void(17, 13)}), v{code(tr::ok)});
    // Transfer 11 expires 30 s after it was made: the restarted engine's sweep releases it.
    clock.advance(40 * ns_per_s);
    const u128 id2[1] = {2};
    EXPECT_TRUE([&] {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < until) {
        const auto a = lookup_accounts(e, id2);
        if (a.size() == 1 && a[0].debits_pending == 0) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      return false;
    }()) << "a pending transfer recovered from before the restart did not expire";
    EXPECT_EQ(send(e, {make_post(18, 11)}), v{code(tr::pending_transfer_expired)});
    before = capture(e, ids, tids, {1});
    EXPECT_EQ(before.stats[0].transfers_pending, 0u);
    EXPECT_TRUE(money_conserved(before.accounts));
  }
  {
    engine e(config());
    expect_same_state(before, capture(e, ids, tids, {1}));
    EXPECT_EQ(send(e, {make_post(18, 11)}), v{code(tr::id_already_failed)});
    EXPECT_EQ(send(e, {make_void(19, 11)}), v{code(tr::pending_transfer_expired)});
    EXPECT_EQ(send(e, {make_transfer(20, 1, 2, 1)}), v{code(tr::exceeds_daily_debit_max)});
  }
}

INSTANTIATE_TEST_SUITE_P(Journal, JournalRecoveryEveryKind, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("FromSnapshotAtShutdown")
                                          : std::string("FromJournalOnly");
                         });

// Regression (found by this suite, fixed in 2931532): a transfer that failed on state before
// any account existed (debit_account_not_found on a fresh ledger) is journaled as a failure,
// but the engine restored recovered state only when at least one account existed, so the
// failure was forgotten: after a restart and the creation of the accounts, a resend of the
// same id succeeded and moved money, breaking "a retry with the same id never succeeds later"
// (docs/PROTOCOL.md 7).
// A snapshot write that a crash interrupted leaves ".snapshot-<LSN>.rms.tmp"; the next
// start (and the next snapshot build) removes it, so a crash loop does not fill the disk.
TEST(JournalRecovery, LeftoverSnapshotTemporaryFilesAreRemoved) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const std::string leftover = dir.file("." + journal::snapshot_file_name(7) + ".tmp");
  const std::vector<std::byte> junk(4096, std::byte{0x5a});
  write_bytes(leftover, junk);
  // A file that merely looks similar is not ours and stays.
  const std::string other = dir.file(".snapshot-notes.tmp");
  write_bytes(other, junk);
  {
    engine e(durable_config(dir.path(), clock));
    EXPECT_FALSE(std::filesystem::exists(leftover)) << "recovery left " << leftover;
    EXPECT_TRUE(std::filesystem::exists(other));
  }
}

// A process that dies before any background snapshot completes leaves a long journal tail;
// the next start replays it and then snapshots the recovered state before writing anything,
// so that a crash loop does not replay an ever longer journal. A short tail is left alone.
TEST(JournalRecovery, LongReplayedTailIsSnapshottedAtStart) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  std::vector<u128> account_ids;
  std::vector<u128> transfer_ids;
  visible_state before;
  {
    // No snapshot at all in the first life: no rolls, none at shutdown.
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    cfg.snapshot_every_records = UINT64_MAX;
    cfg.journal_file_size_max = UINT64_MAX;
    engine e(cfg);
    std::vector<account> accounts;
    for (u128 id = 1; id <= 4; ++id) {
      accounts.push_back(make_account(id));
      account_ids.push_back(id);
    }
    ASSERT_EQ(e.create_accounts(accounts).get().status, engine_status::ok);
    for (u128 id = 1; id <= 60; ++id) {  // one call (at least one record) each
      clock.advance(ns_per_s);
      const transfer t = make_transfer(1000 + id, 1 + id % 4, 1 + (id + 1) % 4, id);
      ASSERT_EQ(e.create_transfers(std::vector<transfer>{t}).get().status, engine_status::ok);
      transfer_ids.push_back(1000 + id);
    }
    before = capture(e, account_ids, transfer_ids, {1});
  }
  ASSERT_TRUE(list_files(dir.path()).snapshots.empty());
  std::uint64_t last_lsn = 0;
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    cfg.snapshot_every_records = 1000;  // more than the tail: nothing is taken
    engine e(cfg);
    EXPECT_FALSE(e.recovery().snapshot_taken);
    EXPECT_GE(e.recovery().records, 61u);
    last_lsn = e.recovery().last_lsn;
  }
  ASSERT_TRUE(list_files(dir.path()).snapshots.empty());
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    cfg.snapshot_every_records = 50;  // less than the tail
    engine e(cfg);
    EXPECT_TRUE(e.recovery().snapshot_taken);
    EXPECT_EQ(e.recovery().last_lsn, last_lsn);
    const dir_files files = list_files(dir.path());
    ASSERT_EQ(files.snapshots.size(), 1u);
    EXPECT_EQ(files.snapshots[0].first, last_lsn);
    for (const auto& [first, name] : files.journals)
      EXPECT_GT(first, last_lsn) << name << " is covered by the snapshot and was kept";
    expect_same_state(before, capture(e, account_ids, transfer_ids, {1}));
  }
  {
    // The next start loads that snapshot and replays nothing before it.
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_every_records = 50;
    engine e(cfg);
    EXPECT_EQ(e.recovery().snapshot_lsn, last_lsn);
    EXPECT_EQ(e.recovery().records, 0u);
    EXPECT_FALSE(e.recovery().snapshot_taken);
    expect_same_state(before, capture(e, account_ids, transfer_ids, {1}));
  }
}

TEST(JournalRecovery, FailureRecordedBeforeAnyAccountExistsIsRemembered) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const std::vector<transfer> t = {make_transfer(500, 1, 2, 10)};
  {
    engine e(durable_config(dir.path(), clock));
    const auto r = create_transfers(e, t);
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r[0].status, code(tr::debit_account_not_found));
    // Before the restart the id is remembered.
    EXPECT_EQ(create_transfers(e, t)[0].status, code(tr::id_already_failed));
  }
  {
    engine e(durable_config(dir.path(), clock));
    EXPECT_EQ(e.recovery().last_lsn, 1u) << "the failure was journaled";
    clock.advance(ns_per_s);
    const std::vector<account> a = {make_account(1), make_account(2)};
    const auto ra = create_accounts(e, a);
    ASSERT_EQ(ra[0].status, code(ar::ok));
    ASSERT_EQ(ra[1].status, code(ar::ok));
    const auto r = create_transfers(e, t);
    EXPECT_EQ(r[0].status, code(tr::id_already_failed))
        << "got " << describe(r[0]) << ": the failed id was forgotten by the restart";
  }
}

// ---------------------------------------------------------------------------------------
// Torn tails and damage

// A small durable run without a snapshot at shutdown, one request per write group: returns
// the visible state and leaves a journal in `dir`.
struct small_run {
  std::vector<u128> account_ids;
  std::vector<u128> transfer_ids;
  std::vector<std::uint32_t> ledgers{1};
  visible_state state;
  std::uint64_t last_lsn = 0;
};

small_run make_small_run(const std::string& dir, const manual_clock& clock, u128 first_id = 1,
                         int transfers = 12) {
  small_run run;
  engine_config cfg = durable_config(dir, clock);
  cfg.snapshot_at_shutdown = false;
  engine e(cfg);
  std::vector<account> accounts;
  for (u128 id = first_id; id < first_id + 4; ++id) {
    accounts.push_back(make_account(id));
    run.account_ids.push_back(id);
  }
  clock.advance(ns_per_s);
  create_accounts(e, accounts);
  for (int i = 0; i < transfers; ++i) {
    clock.advance(ns_per_s);
    const u128 id = first_id * 1000 + static_cast<u128>(i);
    const u128 dr = first_id + static_cast<u128>(i % 4),
               cr = first_id + static_cast<u128>((i + 1) % 4);
    run.transfer_ids.push_back(id);
    const auto r = create_transfers(e, std::vector<transfer>{make_transfer(id, dr, cr, 10 + i)});
    EXPECT_EQ(r[0].status, code(tr::ok));
  }
  run.state = capture(e, run.account_ids, run.transfer_ids, run.ledgers);
  run.last_lsn = e.recovery().last_lsn + e.journal_stats().records;
  return run;
}

std::string last_journal(const std::string& dir) {
  const dir_files f = list_files(dir);
  if (f.journals.empty()) {
    ADD_FAILURE() << "no journal file in " << dir;
    return {};
  }
  return dir + "/" + f.journals.back().second;
}

// The last journal file that holds records.
std::string last_nonempty_journal(const std::string& dir) {
  const dir_files f = list_files(dir);
  for (auto it = f.journals.rbegin(); it != f.journals.rend(); ++it)
    if (fs::file_size(dir + "/" + it->second) > 0) return dir + "/" + it->second;
  ADD_FAILURE() << "no journal file with records in " << dir;
  return {};
}

// Removes the journal files after `keep` (an engine started one), so that `keep` is the last
// file again. They must be empty unless `any` says otherwise.
void remove_files_after(const std::string& dir, const std::string& keep, bool any = false) {
  const dir_files f = list_files(dir);
  for (const auto& [first, name] : f.journals) {
    const std::string path = dir + "/" + name;
    if (path <= keep) continue;
    if (!any) {
      ASSERT_EQ(fs::file_size(path), 0u) << path << " is not empty";
    }
    fs::remove(path);
  }
}

visible_state capture_run(engine& e, const small_run& run) {
  return capture(e, run.account_ids, run.transfer_ids, run.ledgers);
}

TEST(JournalRecovery, GarbageAfterTheLastRecordIsCutAsATornTail) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const small_run run = make_small_run(dir.path(), clock);
  const std::string last = last_nonempty_journal(dir.path());
  const auto original_size = fs::file_size(last);

  std::mt19937_64 rng(21);
  std::vector<std::byte> garbage(100);
  for (auto& b : garbage) b = static_cast<std::byte>(rng() & 0xff);
  append_bytes(last, garbage);
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    EXPECT_EQ(e.recovery().torn_bytes, 100u);
    EXPECT_EQ(e.recovery().last_lsn, run.last_lsn);
    expect_same_state(run.state, capture_run(e, run));
    EXPECT_EQ(fs::file_size(last), original_size) << "the torn tail was not cut off";
    // It takes writes again, after the cut.
    clock.advance(ns_per_s);
    EXPECT_EQ(create_transfers(e, std::vector<transfer>{make_transfer(77, 1, 2, 1)})[0].status,
              code(tr::ok));
  }
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    EXPECT_EQ(e.recovery().torn_bytes, 0u);
    EXPECT_EQ(e.recovery().last_lsn, run.last_lsn + 1);
    const u128 id[1] = {77};
    EXPECT_EQ(lookup_transfers(e, id).size(), 1u);
  }
}

// A write group that reached the disk only in part: a valid next record cut at several
// points, and a truncated copy of the last record. Through the engine.
TEST(JournalRecovery, PartialNextRecordIsCutAsATornTail) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const small_run run = make_small_run(dir.path(), clock);
  const std::string last = last_nonempty_journal(dir.path());
  const std::vector<std::byte> original = read_bytes(last);
  const scanned_file sf = scan_file(last);
  ASSERT_EQ(sf.result.how, journal::scan_result::end::clean);
  ASSERT_GE(sf.headers.size(), 2u);

  // The next record as the writer would have written it: a failure of a new id.
  std::vector<std::byte> next;
  {
    journal::failure_entry f{};
    f.id = 424242;
    f.code = code(tr::debit_account_not_found);
    const auto* p = reinterpret_cast<const std::byte*>(&f);
    journal::append_record(next, journal::record_type::failures, run.last_lsn + 1, run.last_lsn + 1,
                           std::span<const std::byte>(p, sizeof f));
  }
  // A copy of the file's last record (same LSN), for "a truncated copy of a record".
  const std::uint64_t last_at = sf.offsets.back();
  const std::vector<std::byte> copy(original.begin() + static_cast<long>(last_at), original.end());

  struct tail_case {
    std::string what;
    std::vector<std::byte> bytes;
  };
  std::vector<tail_case> cases;
  for (const std::size_t cut : {std::size_t{1}, std::size_t{20}, journal::header_size,
                                journal::header_size + 1, next.size() - 1})
    cases.push_back({"next record cut at " + std::to_string(cut),
                     std::vector<std::byte>(next.begin(), next.begin() + static_cast<long>(cut))});
  cases.push_back({"copy of the last record minus one byte",
                   std::vector<std::byte>(copy.begin(), copy.end() - 1)});
  {
    auto whole = next;
    whole[whole.size() - 3] ^= std::byte{0x40};  // whole length, bad CRC
    cases.push_back({"whole next record with a bad payload byte", whole});
  }

  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    remove_files_after(dir.path(), last, true);  // what the previous case wrote
    write_bytes(last, original);
    append_bytes(last, c.bytes);
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    EXPECT_EQ(e.recovery().torn_bytes, c.bytes.size());
    EXPECT_EQ(e.recovery().last_lsn, run.last_lsn);
    EXPECT_EQ(fs::file_size(last), original.size());
    expect_same_state(run.state, capture_run(e, run));
    // The id of the partial record was never acknowledged: it is free.
    clock.advance(ns_per_s);
    const std::vector<transfer> t = {make_transfer(424242, 1, 2, 1)};
    const auto r = create_transfers(e, t);
    EXPECT_EQ(r[0].status, code(tr::ok));
  }
}

// Every cut of a two-record next group, through storage::recover (no actors: fast). A cut at
// the boundary between the two records leaves the first one whole: it is replayed.
TEST(JournalRecovery, EveryCutOfATornNextGroupRecovers) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const small_run run = make_small_run(dir.path(), clock, 1, 6);
  remove_files_after(dir.path(), last_nonempty_journal(dir.path()));
  const std::string last = last_nonempty_journal(dir.path());
  const std::vector<std::byte> original = read_bytes(last);

  std::vector<std::byte> group;
  std::vector<journal::failure_entry> entries(3);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    entries[i].id = 900 + i;
    entries[i].code = code(tr::exceeds_credits);
  }
  const auto bytes_of = [&](std::size_t from, std::size_t n) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(&entries[from]),
                                      n * sizeof(journal::failure_entry));
  };
  journal::append_record(group, journal::record_type::failures, run.last_lsn + 1, run.last_lsn + 1,
                         bytes_of(0, 2));
  const std::size_t first_size = group.size();
  journal::append_record(group, journal::record_type::failures, run.last_lsn + 2, run.last_lsn + 1,
                         bytes_of(2, 1));

  for (std::size_t cut = 0; cut <= group.size(); ++cut) {
    write_bytes(last, original);
    append_bytes(last, std::span<const std::byte>(group.data(), cut));
    reference_ledger ledger;
    storage::recovery_report report;
    std::string why;
    ASSERT_TRUE(storage::recover(dir.path(), ledger, report, why)) << "cut " << cut << ": " << why;
    const std::size_t whole = cut == group.size() ? 2 : cut >= first_size ? 1 : 0;
    const std::size_t whole_bytes = whole == 2 ? group.size() : whole == 1 ? first_size : 0;
    ASSERT_EQ(report.last_lsn, run.last_lsn + whole) << "cut " << cut;
    ASSERT_EQ(report.torn_bytes, cut - whole_bytes) << "cut " << cut;
    ASSERT_EQ(fs::file_size(last), original.size() + whole_bytes) << "cut " << cut;
    ASSERT_EQ(ledger.account_count(), run.account_ids.size());
    ASSERT_EQ(ledger.transfer_count(), run.transfer_ids.size());
  }
}

// Damage before the tail: the engine refuses to start and names the file and the offset;
// the file is left as it was (recovery must not "repair" a durable group away).
TEST(JournalRecovery, DamageBeforeTheTailRefusesToStartNamingFileAndOffset) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const small_run run = make_small_run(dir.path(), clock);
  remove_files_after(dir.path(), last_nonempty_journal(dir.path()));
  const std::string last = last_nonempty_journal(dir.path());
  const std::string last_name = fs::path(last).filename().string();
  const std::vector<std::byte> original = read_bytes(last);
  const scanned_file sf = scan_file(last);
  ASSERT_EQ(sf.result.how, journal::scan_result::end::clean);
  // One request per group: many groups.
  std::set<std::uint64_t> groups;
  for (const auto& h : sf.headers) groups.insert(h.group_lsn);
  ASSERT_GE(groups.size(), 3u);

  // Records to damage: the first of the file, and one in the middle; each is followed by a
  // valid record of a later group.
  std::vector<std::size_t> targets = {0, sf.headers.size() / 2};
  for (const std::size_t k : targets) {
    ASSERT_LT(sf.headers[k].group_lsn, sf.headers.back().group_lsn);
    for (const std::uint64_t byte_in_record :
         {std::uint64_t{0}, std::uint64_t{16}, std::uint64_t{journal::header_size + 5}}) {
      const std::uint64_t at = sf.offsets[k] + byte_in_record;
      SCOPED_TRACE("record " + std::to_string(k) + " byte " + std::to_string(at));
      std::vector<std::byte> damaged = original;
      damaged[at] ^= std::byte{0x01};
      write_bytes(last, damaged);
      std::string message;
      try {
        engine_config cfg = durable_config(dir.path(), clock);
        cfg.snapshot_at_shutdown = false;
        engine e(cfg);
        ADD_FAILURE() << "the engine started on a damaged journal";
      } catch (const std::runtime_error& err) {
        message = err.what();
      }
      EXPECT_NE(message.find(last_name), std::string::npos) << message;
      EXPECT_NE(message.find("offset " + std::to_string(sf.offsets[k])), std::string::npos)
          << message;
      EXPECT_EQ(read_bytes(last), damaged) << "recovery changed a damaged file";
      // No new journal file was started either.
      EXPECT_EQ(last_journal(dir.path()), last);
    }
  }
  // Repaired, it starts with everything.
  write_bytes(last, original);
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.snapshot_at_shutdown = false;
  engine e(cfg);
  EXPECT_EQ(e.recovery().torn_bytes, 0u);
  expect_same_state(run.state, capture_run(e, run));
}

// A torn tail is possible only in the last file: a cut in an earlier file (followed by a
// later file) is damage, and recovery refuses.
TEST(JournalRecovery, TornTailOfAnEarlierFileRefusesToStart) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  make_small_run(dir.path(), clock, 1, 4);
  const std::string first = last_nonempty_journal(dir.path());
  make_small_run(dir.path(), clock, 11, 4);  // a second run: a second file with records
  const std::string second = last_nonempty_journal(dir.path());
  ASSERT_NE(first, second);
  const auto size = fs::file_size(first);
  fs::resize_file(first, size - 7);
  try {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    ADD_FAILURE() << "the engine started with a hole in its journal";
  } catch (const std::runtime_error& err) {
    const std::string m = err.what();
    EXPECT_NE(m.find(fs::path(first).filename().string()), std::string::npos) << m;
  }
  EXPECT_EQ(fs::file_size(first), size - 7) << "recovery cut an earlier file";
}

// A file missing in the middle (a gap in the LSNs between files) refuses too.
TEST(JournalRecovery, MissingFileRefusesToStart) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  make_small_run(dir.path(), clock, 1, 4);
  const std::string first = last_nonempty_journal(dir.path());
  make_small_run(dir.path(), clock, 11, 4);
  make_small_run(dir.path(), clock, 21, 4);
  const dir_files f = list_files(dir.path());
  std::vector<std::string> nonempty;
  for (const auto& [n, name] : f.journals)
    if (fs::file_size(dir.file(name)) > 0) nonempty.push_back(name);
  ASSERT_GE(nonempty.size(), 3u);
  fs::remove(dir.file(nonempty[1]));
  EXPECT_THROW(
      {
        engine_config cfg = durable_config(dir.path(), clock);
        cfg.snapshot_at_shutdown = false;
        engine e(cfg);
      },
      std::runtime_error);
}

// Regression (found by the standby's power-loss crash mode): with no snapshot, a journal
// whose first file is missing (or empty) and whose next file starts past LSN 1 was replayed
// onto an empty state, and the first record that named an account died on an assertion.
// Recovery says which LSNs are missing instead.
TEST(JournalRecovery, MissingFirstFileWithoutASnapshotRefusesToStart) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  make_small_run(dir.path(), clock, 1, 4);
  make_small_run(dir.path(), clock, 11, 4);
  const dir_files f = list_files(dir.path());
  ASSERT_TRUE(f.snapshots.empty());
  std::vector<std::string> nonempty;
  for (const auto& [n, name] : f.journals)
    if (fs::file_size(dir.file(name)) > 0) nonempty.push_back(name);
  ASSERT_GE(nonempty.size(), 2u);
  // The first file is left empty: its records are gone, its name is still there.
  fs::resize_file(dir.file(nonempty[0]), 0);
  reference_ledger state;
  storage::recovery_report report;
  std::string why;
  EXPECT_FALSE(storage::recover(dir.path(), state, report, why));
  EXPECT_NE(why.find("are missing"), std::string::npos) << why;
}

// Regression (found by this suite, fixed in 2931532): the first write group of a journal file
// other than the first (or of any file after a snapshot), torn at its first record while
// later records of the same group reached the disk ("a crash can tear only the last group, in
// any pattern of its pages"), was taken for corruption and the engine refused to start:
// replay_files scanned such files with expected_lsn 0, so scan() guessed the bad record's LSN
// as 1 and later_group_follows() counted the same group's intact records (group_lsn > 1) as a
// later group. It is a torn tail: the whole group is cut (it was never acknowledged).
TEST(JournalRecovery, TornFirstRecordOfALaterFileIsATornTailNotCorruption) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const small_run run = make_small_run(dir.path(), clock, 1, 4);
  remove_files_after(dir.path(), last_nonempty_journal(dir.path()));
  // The writer rolled to a new file and crashed while writing its first group of three
  // records: the first record's page is lost, the other two made it.
  const std::uint64_t first = run.last_lsn + 1;
  std::vector<std::byte> group;
  for (std::uint64_t lsn = first; lsn < first + 3; ++lsn) {
    journal::failure_entry f{};
    f.id = 7000 + lsn;
    f.code = code(tr::exceeds_credits);
    journal::append_record(
        group, journal::record_type::failures, lsn, first,
        std::span<const std::byte>(reinterpret_cast<const std::byte*>(&f), sizeof f));
  }
  for (std::size_t i = 0; i < journal::header_size + sizeof(journal::failure_entry); ++i)
    group[i] = std::byte{0};
  const std::string path = dir.file(journal::journal_file_name(first));
  write_bytes(path, group);

  // The reader alone, told the file's first LSN, gets it right.
  {
    const journal::scan_result r = journal::scan(group, first, [](const journal::record_view&) {});
    EXPECT_EQ(r.how, journal::scan_result::end::torn_tail) << r.why;
  }
  // Recovery of the directory.
  {
    reference_ledger ledger;
    storage::recovery_report report;
    std::string why;
    const bool ok = storage::recover(dir.path(), ledger, report, why);
    EXPECT_TRUE(ok) << why;
    if (ok) {
      EXPECT_EQ(report.torn_bytes, group.size());
      EXPECT_EQ(report.last_lsn, run.last_lsn);
    }
  }
  // And the engine.
  write_bytes(path, group);
  try {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    EXPECT_EQ(e.recovery().torn_bytes, group.size());
    expect_same_state(run.state, capture_run(e, run));
  } catch (const std::runtime_error& err) {
    ADD_FAILURE() << "the engine refused to start after a torn tail: " << err.what();
  }
}

// ---------------------------------------------------------------------------------------
// Snapshots

struct bulk_run {
  std::vector<u128> account_ids;
  std::vector<u128> transfer_ids;
  std::vector<std::uint32_t> ledgers{1, 2};
};

// Sends `requests` requests of `per_request` transfers between random accounts of two
// ledgers (some pending, some posted later, some failing on state).
void send_bulk(engine& e, const manual_clock& clock, bulk_run& run, std::uint64_t seed,
               int requests, int per_request, u128 first_transfer_id,
               const std::function<void()>& after_each = {}) {
  std::mt19937_64 rng(seed);
  u128 next_id = first_transfer_id;
  std::vector<u128> open_pendings;
  for (int q = 0; q < requests; ++q) {
    clock.advance(ns_per_s / 10);
    std::vector<transfer> batch;
    for (int i = 0; i < per_request; ++i) {
      const u128 id = next_id++;
      run.transfer_ids.push_back(id);
      const int kind = static_cast<int>(rng() % 10);
      if (kind == 0 && !open_pendings.empty()) {
        batch.push_back(make_post(id, open_pendings.back()));
        open_pendings.pop_back();
        continue;
      }
      const std::uint32_t ledger = 1 + static_cast<std::uint32_t>(rng() % 2);
      const u128 base = ledger == 1 ? 1 : 101;
      const u128 dr = base + rng() % 20;
      u128 cr = base + rng() % 20;
      if (cr == dr) cr = base + (cr - base + 1) % 20;
      transfer t = make_transfer(id, dr, cr, 1 + rng() % 100, 0, ledger);
      if (kind == 1) {
        t.flags = transfer_flags::pending;
        open_pendings.push_back(id);
      }
      if (kind == 2) t.debit_account_id = 5000 + rng() % 10;  // debit_account_not_found
      batch.push_back(t);
    }
    const auto r = create_transfers(e, batch);
    ASSERT_EQ(r.size(), batch.size());
    if (after_each) after_each();
  }
}

void create_bulk_accounts(engine& e, const manual_clock& clock, bulk_run& run) {
  std::vector<account> a;
  for (u128 id = 1; id <= 20; ++id) a.push_back(make_account(id, 1));
  for (u128 id = 101; id <= 120; ++id) a.push_back(make_account(id, 2));
  for (const account& x : a) run.account_ids.push_back(x.id);
  clock.advance(ns_per_s);
  const auto r = create_accounts(e, a);
  for (const result& x : r) ASSERT_EQ(x.status, code(ar::ok));
}

bool wait_for(const std::function<bool()>& cond, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Files roll several times during a run and each roll snapshots what is before it; after
// a restart the state is the same, the files the snapshots cover are gone, and recovery
// loads the snapshot and replays the journal after it.
TEST(JournalSnapshots, RollingSnapshotsDuringARunAndJournalAfterTheSnapshot) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  bulk_run run;
  visible_state before;
  std::uint64_t records = 0;
  std::set<std::string> journals_seen;
  const auto look = [&] {
    for (const auto& [first, name] : list_files(dir.path()).journals) journals_seen.insert(name);
  };
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_every_records = 50;
    cfg.journal_file_size_max = 16 << 10;
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    create_bulk_accounts(e, clock, run);
    send_bulk(e, clock, run, 31, 150, 6, 10'000, look);
    if (HasFatalFailure()) return;
    // Wait until the snapshot thread has run a few times.
    EXPECT_TRUE(
        wait_for([&] { return e.journal_stats().snapshots >= 2; }, std::chrono::seconds(30)))
        << "snapshots: " << e.journal_stats().snapshots;
    records = e.journal_stats().records;
    before = capture(e, run.account_ids, run.transfer_ids, run.ledgers);
    EXPECT_TRUE(money_conserved(before.accounts));
  }
  EXPECT_GE(records, 150u);
  {
    const dir_files f = list_files(dir.path());
    ASSERT_EQ(f.snapshots.size(), 1u) << "older snapshots are removed";
    const std::uint64_t snap = f.snapshots.back().first;
    EXPECT_GT(snap, 0u);
    // Every file the snapshot covers is gone: what is left starts after it.
    for (const auto& [first, name] : f.journals) EXPECT_GT(first, snap) << name;
    // Files rolled several times, and those the snapshots covered were removed.
    EXPECT_GE(journals_seen.size(), 5u);
    EXPECT_LE(f.journals.size(), 3u) << "old journal files were not removed";
    EXPECT_TRUE(f.others.empty()) << f.others.front();
  }
  // Second run: recover (snapshot plus journal), check, write a little more with rolls far
  // away, no snapshot at shutdown.
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    EXPECT_FALSE(e.recovery().snapshot.empty());
    EXPECT_EQ(e.recovery().last_lsn, records);
    EXPECT_EQ(e.recovery().snapshot_lsn + e.recovery().records, records);
    expect_same_state(before, capture(e, run.account_ids, run.transfer_ids, run.ledgers));
    send_bulk(e, clock, run, 32, 10, 3, 50'000);
    before = capture(e, run.account_ids, run.transfer_ids, run.ledgers);
    records = e.recovery().last_lsn + e.journal_stats().records;
  }
  // Third run: the snapshot exists AND journal records follow it.
  std::uint64_t snap_lsn = 0;
  {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = true;
    engine e(cfg);
    const auto& rec = e.recovery();
    EXPECT_FALSE(rec.snapshot.empty());
    snap_lsn = rec.snapshot_lsn;
    EXPECT_GE(rec.records, 10u) << "the second run's records are replayed after the snapshot";
    EXPECT_EQ(rec.last_lsn, records);
    EXPECT_EQ(rec.snapshot_lsn + rec.records, records);
    expect_same_state(before, capture(e, run.account_ids, run.transfer_ids, run.ledgers));
  }
  // The snapshot at shutdown covered everything: no journal file left, one snapshot, and
  // the fourth start replays nothing.
  {
    const dir_files f = list_files(dir.path());
    EXPECT_EQ(f.snapshots.size(), 1u);
    EXPECT_EQ(f.snapshots.back().first, records);
    EXPECT_TRUE(f.journals.empty());
  }
  {
    engine_config cfg = durable_config(dir.path(), clock);
    engine e(cfg);
    EXPECT_EQ(e.recovery().records, 0u);
    EXPECT_EQ(e.recovery().snapshot_lsn, records);
    EXPECT_GT(records, snap_lsn);
    expect_same_state(before, capture(e, run.account_ids, run.transfer_ids, run.ledgers));
  }
}

// A crash after the snapshot was renamed into place but before the files it covers were
// removed (and with the temporary file of a later snapshot left behind): recovery loads the
// snapshot, skips what it covers, and the state is the same.
TEST(JournalSnapshots, LeftoversOfAnInterruptedSnapshotAreHarmless) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const small_run run = make_small_run(dir.path(), clock);
  std::vector<std::pair<std::string, std::vector<std::byte>>> saved;
  for (const auto& [first, name] : list_files(dir.path()).journals)
    saved.emplace_back(name, read_bytes(dir.file(name)));
  ASSERT_FALSE(saved.empty());
  {
    engine e(durable_config(dir.path(), clock));  // snapshot at shutdown
  }
  dir_files f = list_files(dir.path());
  ASSERT_EQ(f.snapshots.size(), 1u);
  EXPECT_EQ(f.snapshots.back().first, run.last_lsn);
  EXPECT_TRUE(f.journals.empty());
  for (const auto& [name, bytes] : saved) write_bytes(dir.file(name), bytes);
  {
    std::vector<std::byte> junk(100, std::byte{0x5a});
    write_bytes(dir.file("." + journal::snapshot_file_name(run.last_lsn + 50) + ".tmp"), junk);
  }
  for (int round = 0; round < 2; ++round) {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    engine e(cfg);
    EXPECT_EQ(e.recovery().snapshot_lsn, run.last_lsn);
    EXPECT_EQ(e.recovery().records, 0u);
    EXPECT_EQ(e.recovery().last_lsn, run.last_lsn);
    expect_same_state(run.state, capture_run(e, run));
  }
}

// A damaged snapshot refuses to start, naming it.
TEST(JournalSnapshots, DamagedSnapshotRefusesToStart) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  {
    engine e(durable_config(dir.path(), clock));  // snapshot at shutdown
    bulk_run run;
    create_bulk_accounts(e, clock, run);
  }
  const dir_files f = list_files(dir.path());
  ASSERT_EQ(f.snapshots.size(), 1u);
  const std::string path = dir.file(f.snapshots.back().second);
  std::vector<std::byte> data = read_bytes(path);
  data[data.size() / 2] ^= std::byte{0x04};
  write_bytes(path, data);
  try {
    engine e(durable_config(dir.path(), clock));
    ADD_FAILURE() << "the engine started on a damaged snapshot";
  } catch (const std::runtime_error& err) {
    EXPECT_NE(std::string(err.what()).find(f.snapshots.back().second), std::string::npos)
        << err.what();
  }
}

}  // namespace
}  // namespace remit::journal_test
