// Answers wait for the journal: with durability on, by the time a write is acknowledged its
// decisions are in a journal group that was written and synced (the writer counts a group
// only after its fdatasync returned), and the records are in the file. LSNs run on without
// a gap across files and restarts. With durability off nothing is written at all.
#include "journal_test_support.hpp"

#include <set>
#include <thread>

namespace remit::journal_test {
namespace {

// Every record of every journal file in `dir`, in file order.
struct journal_content {
  std::vector<journal::record_header> headers;
  std::vector<std::vector<std::byte>> payloads;
  std::vector<std::string> files;  // of each record
};

// `quiet`: no write is in progress (else the last group may be half written as we read).
journal_content read_journal(const std::string& dir, bool quiet = true) {
  journal_content c;
  for (const auto& [first, name] : list_files(dir).journals) {
    const scanned_file f = scan_file(dir + "/" + name);
    if (quiet) {
      EXPECT_EQ(f.result.how, journal::scan_result::end::clean) << name << ": " << f.result.why;
    } else {
      EXPECT_NE(f.result.how, journal::scan_result::end::corrupt) << name << ": " << f.result.why;
    }
    if (!f.headers.empty()) {
      EXPECT_EQ(f.headers.front().lsn, first) << name;
    }
    for (std::size_t i = 0; i < f.headers.size(); ++i) {
      c.headers.push_back(f.headers[i]);
      c.payloads.push_back(f.payloads[i]);
      c.files.push_back(name);
    }
  }
  return c;
}

template <class T>
std::vector<T> entries_of(const journal_content& c, journal::record_type type) {
  std::vector<T> out;
  for (std::size_t i = 0; i < c.headers.size(); ++i) {
    if (c.headers[i].type != static_cast<std::uint16_t>(type)) continue;
    for (std::size_t at = 0; at + sizeof(T) <= c.payloads[i].size(); at += sizeof(T))
      out.push_back(load_event<T>(c.payloads[i].data() + at));
  }
  return out;
}

// LSNs 1, 2, 3, ... over all files; each group's records are contiguous and the first of
// a group has lsn == group_lsn.
::testing::AssertionResult well_formed(const journal_content& c, std::uint64_t first_lsn = 1) {
  std::uint64_t expect = first_lsn;
  std::uint64_t group = 0;
  for (std::size_t i = 0; i < c.headers.size(); ++i) {
    const auto& h = c.headers[i];
    if (h.lsn != expect)
      return ::testing::AssertionFailure()
             << "record " << i << " has LSN " << h.lsn << ", expected " << expect;
    if (h.group_lsn != group) {
      if (h.group_lsn != h.lsn)
        return ::testing::AssertionFailure()
               << "LSN " << h.lsn << " starts a group but has group_lsn " << h.group_lsn;
      group = h.group_lsn;
    }
    ++expect;
  }
  return ::testing::AssertionSuccess();
}

TEST(JournalDurability, EachAnswerComesAfterItsRecordsAreWrittenAndSynced) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.snapshot_at_shutdown = false;
  engine e(cfg);
  EXPECT_EQ(e.journal_stats().groups, 0u);
  EXPECT_EQ(e.journal_stats().records, 0u);

  // Accounts.
  clock.advance(ns_per_s);
  const std::vector<account> a = {make_account(1), make_account(2), make_account(3)};
  const auto ra = create_accounts(e, a);
  {
    const auto js = e.journal_stats();
    EXPECT_GE(js.groups, 1u);
    EXPECT_GE(js.records, 1u);
    EXPECT_GT(js.bytes, 0u);
    const journal_content c = read_journal(dir.path());
    EXPECT_EQ(c.headers.size(), js.records);
    const auto created = entries_of<account>(c, journal::record_type::accounts_created);
    ASSERT_EQ(created.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(created[i].id, a[i].id);
      EXPECT_EQ(created[i].timestamp, ra[i].timestamp);
    }
  }
  // Transfers, one request at a time: each answered only with its record on disk, and the
  // writer's counters (bumped after fdatasync) cover it.
  std::uint64_t groups = e.journal_stats().groups;
  for (int i = 0; i < 20; ++i) {
    clock.advance(ns_per_s);
    const u128 id = 100 + static_cast<u128>(i);
    const std::vector<transfer> t = {make_transfer(id, 1 + i % 3, 1 + (i + 1) % 3, 1 + i)};
    const auto r = create_transfers(e, t);
    ASSERT_EQ(r[0].status, code(tr::ok));
    const auto js = e.journal_stats();
    EXPECT_GT(js.groups, groups) << "request " << i << " was answered before a group was synced";
    groups = js.groups;
    const journal_content c = read_journal(dir.path());
    EXPECT_EQ(c.headers.size(), js.records);
    const auto committed =
        entries_of<journal::committed_transfer>(c, journal::record_type::transfers_committed);
    ASSERT_FALSE(committed.empty());
    EXPECT_EQ(committed.back().stored.id, id);
    EXPECT_EQ(committed.back().stored.timestamp, r[0].timestamp);
    EXPECT_EQ(committed.back().stored.amount, t[0].amount);
  }
  // A failure on state is journaled before it is answered (so it survives as
  // id_already_failed).
  clock.advance(ns_per_s);
  ASSERT_EQ(create_transfers(e, std::vector<transfer>{make_transfer(300, 1, 99, 1)})[0].status,
            code(tr::credit_account_not_found));
  {
    const auto failures = entries_of<journal::failure_entry>(read_journal(dir.path()),
                                                             journal::record_type::failures);
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0].id, 300u);
    EXPECT_EQ(failures[0].code, code(tr::credit_account_not_found));
  }
  // A failure found from the event alone is not journaled.
  const auto records = e.journal_stats().records;
  ASSERT_EQ(create_transfers(e, std::vector<transfer>{make_transfer(301, 1, 1, 1)})[0].status,
            code(tr::accounts_must_be_different));
  EXPECT_EQ(e.journal_stats().records, records);
  // Controls.
  const std::vector<account_controls> c = {make_controls(2, 5, 0, 0)};
  ASSERT_EQ(set_controls(e, c)[0].status, 0u);
  {
    const auto set =
        entries_of<account_controls>(read_journal(dir.path()), journal::record_type::controls_set);
    ASSERT_EQ(set.size(), 1u);
    EXPECT_TRUE(same_bytes(set[0], c[0]));
  }
  // Nothing left behind: the journal is well formed.
  EXPECT_TRUE(well_formed(read_journal(dir.path())));
  EXPECT_GT(e.journal_stats().sync_ns_total, 0u);
}

// The answer depends on the sync: when the fdatasync fails, the request is not
// acknowledged, even though its bytes were written.
TEST(JournalDurability, AnAnswerWaitsForTheSyncNotJustTheWrite) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  auto faults = std::make_shared<storage_faults>();
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.faults = faults;
  cfg.snapshot_at_shutdown = false;
  engine e(cfg);
  create_accounts(e, std::vector<account>{make_account(1), make_account(2)});
  faults->fail_sync.store(true);
  const engine_reply r =
      get_reply(e.create_transfers(std::vector<transfer>{make_transfer(10, 1, 2, 5)}));
  EXPECT_EQ(r.status, engine_status::storage_failed);
  // The bytes reached the file; the answer still was not ok.
  const auto committed = entries_of<journal::committed_transfer>(
      read_journal(dir.path()), journal::record_type::transfers_committed);
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed[0].stored.id, 10u);
}

// Lookups and `exists` answers are answered (after a sync that covers what they read).
TEST(JournalDurability, ReadsAndExistsAreAnswered) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  engine e(durable_config(dir.path(), clock));
  create_accounts(e, std::vector<account>{make_account(1), make_account(2)});
  const std::vector<transfer> t = {make_transfer(10, 1, 2, 5)};
  const auto r = create_transfers(e, t);
  ASSERT_EQ(r[0].status, code(tr::ok));
  const auto again = create_transfers(e, t);
  EXPECT_EQ(again[0].status, code(tr::exists));
  EXPECT_EQ(again[0].timestamp, r[0].timestamp);
  const u128 ids[2] = {1, 2};
  const auto accounts = lookup_accounts(e, ids);
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(accounts[0].debits_posted, 5u);
  EXPECT_EQ(accounts[1].credits_posted, 5u);
}

// LSNs go on without a gap over files and restarts, each file's name is its first LSN, and
// recovery reports the last LSN.
TEST(JournalDurability, LsnsContinueAcrossRestartsAndFiles) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  std::uint64_t last = 0;
  std::set<std::string> seen;  // journal files seen during the runs
  for (int run = 0; run < 4; ++run) {
    engine_config cfg = durable_config(dir.path(), clock);
    cfg.snapshot_at_shutdown = false;
    cfg.journal_file_size_max = 2048;  // a few rolls per run
    cfg.snapshot_every_records = 1u << 30;
    engine e(cfg);
    EXPECT_EQ(e.recovery().last_lsn, last) << "run " << run;
    const u128 base = 1000 * static_cast<u128>(run + 1);
    clock.advance(ns_per_s);
    create_accounts(e, std::vector<account>{make_account(base), make_account(base + 1)});
    for (int i = 0; i < 15; ++i) {
      clock.advance(ns_per_s);
      const std::vector<transfer> t = {make_transfer(base + 10 + i, base, base + 1, 1)};
      ASSERT_EQ(create_transfers(e, t)[0].status, code(tr::ok));
      for (const auto& [first, name] : list_files(dir.path()).journals) seen.insert(name);
    }
    last = e.recovery().last_lsn + e.journal_stats().records;
  }
  const journal_content c = read_journal(dir.path());
  ASSERT_FALSE(c.headers.empty());
  // Each roll snapshots the files before it and removes them; what is left is gap-free from
  // wherever it starts, and starts right after the snapshot.
  EXPECT_TRUE(well_formed(c, c.headers.front().lsn));
  EXPECT_EQ(c.headers.back().lsn, last);
  EXPECT_GE(seen.size(), 8u) << "the files did not roll";
  const dir_files f = list_files(dir.path());
  ASSERT_EQ(f.snapshots.size(), 1u);
  EXPECT_LE(c.headers.front().lsn, f.snapshots.back().first + 1) << "a gap after the snapshot";
}

// Durability off: no directory, no files, nothing recovered.
TEST(JournalDurability, OffWritesNothing) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  const std::string data = dir.path() + "/data";
  for (int run = 0; run < 2; ++run) {
    engine_config cfg = durable_config(data, clock);
    cfg.durability = false;
    engine e(cfg);
    EXPECT_EQ(e.recovery().last_lsn, 0u);
    EXPECT_EQ(e.recovery().accounts, 0u);
    const auto r = create_accounts(e, std::vector<account>{make_account(1), make_account(2)});
    EXPECT_EQ(r[0].status, code(ar::ok)) << "run " << run << ": the account came back";
    EXPECT_EQ(create_transfers(e, std::vector<transfer>{make_transfer(5, 1, 2, 1)})[0].status,
              code(tr::ok));
    const auto js = e.journal_stats();
    EXPECT_EQ(js.groups, 0u);
    EXPECT_EQ(js.records, 0u);
  }
  EXPECT_FALSE(fs::exists(data));
}

// Concurrent requests share groups (group commit): never more groups than records, and
// every acknowledged request's records are on disk.
TEST(JournalDurability, ConcurrentRequestsAreAllJournaledBeforeTheirAnswers) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  engine_config cfg = durable_config(dir.path(), clock);
  cfg.snapshot_at_shutdown = false;
  engine e(cfg);
  std::vector<account> a;
  for (u128 id = 1; id <= 8; ++id) a.push_back(make_account(id));
  create_accounts(e, a);
  constexpr int threads = 6, per_thread = 40;
  std::vector<std::thread> pool;
  std::atomic<int> missing{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const u128 id = 10'000 * static_cast<u128>(t + 1) + static_cast<u128>(i);
        const std::vector<transfer> b = {
            make_transfer(id, 1 + (t + i) % 8, 1 + (t + i + 1) % 8, 1)};
        const engine_reply r = get_reply(e.create_transfers(b));
        if (r.status != engine_status::ok || r.results.at(0).status != code(tr::ok)) {
          missing.fetch_add(1);
          continue;
        }
        // Its record is in the file already (the file is read after the answer).
        bool found = false;
        const journal_content c = read_journal(dir.path(), false);
        for (const auto& ct :
             entries_of<journal::committed_transfer>(c, journal::record_type::transfers_committed))
          found = found || ct.stored.id == id;
        if (!found) missing.fetch_add(1);
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(missing.load(), 0);
  const auto js = e.journal_stats();
  EXPECT_LE(js.groups, js.records);
  std::printf("[ info ] %d requests: %llu records in %llu groups\n", threads * per_thread,
              static_cast<unsigned long long>(js.records),
              static_cast<unsigned long long>(js.groups));
}

}  // namespace
}  // namespace remit::journal_test
