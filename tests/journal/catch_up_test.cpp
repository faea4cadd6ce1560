// What a primary ships to a standby that catches up, and what the standby does with it:
// storage::read_groups reads the journal files back in runs of one group each, from any LSN
// to any durable LSN (rolled_away once a snapshot removed them, also while it reads);
// storage::journal_extent says what the files hold; storage::install_snapshot replaces a
// data directory with a snapshot, in an order that a crash cannot turn into a mix; and a
// journal_follower installs one and follows on after it, reports its last term for FOLLOW,
// and closes its files when it goes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "actors/follower.hpp"
#include "tests/journal/journal_test_support.hpp"

namespace remit::journal_test {
namespace {

using actors::follower_config;
using actors::journal_follower;
using outcome = journal_follower::outcome;
using storage::read_result;

// A journal written by hand: files of groups of records, each record an accounts_created
// of its own accounts (so that it replays), or a term_started.
class journal_builder {
 public:
  explicit journal_builder(std::string dir) : dir_(std::move(dir)) {}

  // Starts a new file at the next LSN.
  void new_file() { files_.push_back({next_lsn_, {}}); }
  // A group of `records` records, each of `accounts` accounts.
  void group(std::size_t records, std::size_t accounts = 1) {
    const std::uint64_t group_lsn = next_lsn_;
    for (std::size_t r = 0; r < records; ++r) {
      std::vector<account> as;
      for (std::size_t k = 0; k < accounts; ++k) {
        account a = make_account(++next_id_);
        a.timestamp = epoch_2023_ns + next_id_;
        as.push_back(a);
      }
      journal::append_record(files_.back().second, journal::record_type::accounts_created,
                             next_lsn_++, group_lsn, std::as_bytes(std::span<const account>(as)));
    }
  }
  // A group of one term_started record.
  void term(std::uint64_t term) {
    journal::term_entry e{};
    e.term = term;
    journal::append_record(files_.back().second, journal::record_type::term_started, next_lsn_,
                           next_lsn_, std::as_bytes(std::span<const journal::term_entry>(&e, 1)));
    ++next_lsn_;
  }
  void write() const {
    for (const auto& [first, bytes] : files_)
      write_bytes(dir_ + "/" + journal::journal_file_name(first), bytes);
  }
  std::uint64_t last_lsn() const { return next_lsn_ - 1; }
  // Every record's bytes, in order.
  std::vector<std::byte> all_bytes() const {
    std::vector<std::byte> out;
    for (const auto& f : files_) out.insert(out.end(), f.second.begin(), f.second.end());
    return out;
  }

 private:
  std::string dir_;
  std::vector<std::pair<std::uint64_t, std::vector<std::byte>>> files_;
  std::uint64_t next_lsn_ = 1;
  u128 next_id_ = 0;
};

// journal-1: groups {1,2,3} {4,5}; journal-6: {6,7,8,9} {10}; journal-11: {11,12}.
journal_builder three_files(const std::string& dir) {
  journal_builder b(dir);
  b.new_file();
  b.group(3);
  b.group(2);
  b.new_file();
  b.group(4);
  b.group(1);
  b.new_file();
  b.group(2);
  b.write();
  return b;
}

struct run {
  std::uint64_t first = 0, last = 0, group = 0;
  std::vector<std::byte> bytes;
};

read_result read_runs(const std::string& dir, std::uint64_t from, std::uint64_t to,
                      std::vector<run>& runs, std::string& why) {
  runs.clear();
  return storage::read_groups(
      dir, from, to,
      [&](std::span<const std::byte> b, std::uint64_t first, std::uint64_t last,
          std::uint64_t group) {
        runs.push_back({first, last, group, std::vector<std::byte>(b.begin(), b.end())});
      },
      why);
}

// Checks that `runs` are whole records from..to in order, each run of its group only.
void expect_records(const std::vector<run>& runs, std::uint64_t from, std::uint64_t to) {
  std::uint64_t next = from;
  for (const run& r : runs) {
    EXPECT_EQ(r.first, next);
    EXPECT_LE(r.bytes.size(), storage::read_run_bytes_max);
    const journal::scan_result s =
        journal::scan(r.bytes, r.first, [&](const journal::record_view& v) {
          EXPECT_EQ(v.header.group_lsn, r.group) << "LSN " << v.header.lsn;
        });
    EXPECT_EQ(s.how, journal::scan_result::end::clean) << s.why;
    EXPECT_EQ(s.valid_bytes, r.bytes.size());
    EXPECT_EQ(s.first_lsn, r.first);
    EXPECT_EQ(s.last_lsn, r.last);
    next = r.last + 1;
  }
  EXPECT_EQ(next, to + 1);
}

TEST(StorageReadGroups, RunsFollowTheGroupsAcrossFiles) {
  temp_dir dir;
  const journal_builder b = three_files(dir.path());
  std::vector<run> runs;
  std::string why;
  ASSERT_EQ(read_runs(dir.path(), 1, 12, runs, why), read_result::ok) << why;
  expect_records(runs, 1, 12);
  ASSERT_EQ(runs.size(), 5u);
  const std::uint64_t groups[] = {1, 4, 6, 10, 11};
  const std::uint64_t lasts[] = {3, 5, 9, 10, 12};
  std::vector<std::byte> joined;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].group, groups[i]);
    EXPECT_EQ(runs[i].last, lasts[i]);
    joined.insert(joined.end(), runs[i].bytes.begin(), runs[i].bytes.end());
  }
  EXPECT_TRUE(joined == b.all_bytes());
}

TEST(StorageReadGroups, StartsInTheMiddleOfAGroupAndStopsAtToLsn) {
  temp_dir dir;
  three_files(dir.path());
  std::vector<run> runs;
  std::string why;
  ASSERT_EQ(read_runs(dir.path(), 5, 10, runs, why), read_result::ok) << why;
  expect_records(runs, 5, 10);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].group, 4u);  // LSN 5 alone, of the group that starts at 4
  EXPECT_EQ(runs[0].last, 5u);
  EXPECT_EQ(runs[1].group, 6u);
  EXPECT_EQ(runs[2].group, 10u);
  // Inside one group, and stopping there though the file holds more.
  ASSERT_EQ(read_runs(dir.path(), 7, 8, runs, why), read_result::ok) << why;
  expect_records(runs, 7, 8);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].group, 6u);
  // One record; nothing asked.
  ASSERT_EQ(read_runs(dir.path(), 12, 12, runs, why), read_result::ok) << why;
  expect_records(runs, 12, 12);
  ASSERT_EQ(read_runs(dir.path(), 9, 8, runs, why), read_result::ok) << why;
  EXPECT_TRUE(runs.empty());
}

TEST(StorageReadGroups, BytesBeingWrittenAfterToLsnAreNotRead) {
  temp_dir dir;
  const journal_builder b = three_files(dir.path());
  // Half a record after LSN 12, as the writer leaves it mid-write.
  std::vector<std::byte> next;
  const account a = make_account(999);
  journal::append_record(next, journal::record_type::accounts_created, 13, 13,
                         std::as_bytes(std::span<const account>(&a, 1)));
  next.resize(next.size() / 2);
  append_bytes(dir.file(journal::journal_file_name(11)), next);
  std::vector<run> runs;
  std::string why;
  ASSERT_EQ(read_runs(dir.path(), 10, 12, runs, why), read_result::ok) << why;
  expect_records(runs, 10, 12);
  // Asked past what the files hold: an error, not a wait nor a torn record.
  EXPECT_EQ(read_runs(dir.path(), 10, 13, runs, why), read_result::failed);
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(read_runs(dir.path(), 0, 3, runs, why), read_result::failed);
}

TEST(StorageReadGroups, DamagedRecordFails) {
  temp_dir dir;
  three_files(dir.path());
  const std::string path = dir.file(journal::journal_file_name(6));
  std::vector<std::byte> data = read_bytes(path);
  data[data.size() / 2] ^= std::byte{0x40};
  write_bytes(path, data);
  std::vector<run> runs;
  std::string why;
  EXPECT_EQ(read_runs(dir.path(), 2, 12, runs, why), read_result::failed);
  EXPECT_NE(why.find(journal::journal_file_name(6)), std::string::npos) << why;
  // What comes before the damage still reads.
  EXPECT_EQ(read_runs(dir.path(), 2, 5, runs, why), read_result::ok) << why;
}

TEST(StorageReadGroups, RolledAwayOnceASnapshotRemovedTheFiles) {
  temp_dir dir;
  three_files(dir.path());
  storage::extent e;
  std::string why;
  ASSERT_TRUE(storage::journal_extent(dir.path(), e, why)) << why;
  EXPECT_EQ(e.oldest_lsn, 1u);
  EXPECT_EQ(e.snapshot_lsn, 0u);
  EXPECT_EQ(e.snapshot, "");
  std::uint64_t lsn = 0;
  ASSERT_TRUE(storage::build_snapshot(dir.path(), 11, lsn, why)) << why;
  ASSERT_EQ(lsn, 10u);
  ASSERT_TRUE(storage::journal_extent(dir.path(), e, why)) << why;
  EXPECT_EQ(e.oldest_lsn, 11u);
  EXPECT_EQ(e.snapshot_lsn, 10u);
  EXPECT_EQ(e.snapshot, journal::snapshot_file_name(10));
  std::vector<run> runs;
  EXPECT_EQ(read_runs(dir.path(), 5, 12, runs, why), read_result::rolled_away);
  EXPECT_TRUE(runs.empty());
  EXPECT_EQ(read_runs(dir.path(), 10, 12, runs, why), read_result::rolled_away);
  ASSERT_EQ(read_runs(dir.path(), 11, 12, runs, why), read_result::ok) << why;
  expect_records(runs, 11, 12);
  // An empty directory has nothing.
  temp_dir empty;
  ASSERT_TRUE(storage::journal_extent(empty.path(), e, why)) << why;
  EXPECT_EQ(e.oldest_lsn, 0u);
  EXPECT_EQ(read_runs(empty.path(), 1, 1, runs, why), read_result::failed);
}

TEST(StorageReadGroups, FilesRemovedWhileReadingAreRolledAway) {
  temp_dir dir;
  three_files(dir.path());
  // The snapshot thread's work, done while the first file is being read: the file open
  // stays readable, the next one is gone.
  bool snapshotted = false;
  std::string why;
  const read_result r = storage::read_groups(
      dir.path(), 2, 12,
      [&](std::span<const std::byte>, std::uint64_t, std::uint64_t, std::uint64_t) {
        if (snapshotted) return;
        snapshotted = true;
        std::uint64_t lsn = 0;
        std::string snap_why;
        ASSERT_TRUE(storage::build_snapshot(dir.path(), 11, lsn, snap_why)) << snap_why;
      },
      why);
  EXPECT_TRUE(snapshotted);
  EXPECT_EQ(r, read_result::rolled_away) << why;
}

TEST(StorageReadGroups, LargeGroupsComeInRunsThatFitAGroupMessage) {
  temp_dir dir;
  journal_builder b(dir.path());
  b.new_file();
  b.group(1);
  // 3 records of 3 MiB in one group (9 MiB), then a small group.
  b.group(3, (3u << 20) / sizeof(account));
  b.group(2);
  b.write();
  std::vector<run> runs;
  std::string why;
  ASSERT_EQ(read_runs(dir.path(), 1, 6, runs, why), read_result::ok) << why;
  expect_records(runs, 1, 6);
  std::size_t of_big_group = 0;
  for (const run& r : runs) of_big_group += r.group == 2 ? 1 : 0;
  EXPECT_GE(of_big_group, 2u);
  EXPECT_EQ(runs.back().group, 5u);
  std::vector<std::byte> joined;
  for (const run& r : runs) joined.insert(joined.end(), r.bytes.begin(), r.bytes.end());
  EXPECT_TRUE(joined == b.all_bytes());
}

// ---------------------------------------------------------------------------------------
// install_snapshot

// A snapshot of accounts 1..n at LSN `lsn`, with a term history.
std::vector<std::byte> snapshot_of(std::size_t n, std::uint64_t lsn) {
  reference_ledger l;
  std::vector<account> as;
  for (u128 id = 1; id <= n; ++id) as.push_back(make_account(id));
  std::vector<result> out(as.size());
  l.create_accounts(as, epoch_2023_ns, out);
  EXPECT_TRUE(l.add_term(7, lsn));
  std::vector<std::byte> bytes;
  l.write_snapshot(bytes, lsn);
  return bytes;
}

TEST(StorageInstallSnapshot, ReplacesEverythingDurably) {
  temp_dir dir;
  three_files(dir.path());
  std::uint64_t lsn = 0;
  std::string why;
  ASSERT_TRUE(storage::build_snapshot(dir.path(), 6, lsn, why)) << why;  // snapshot-5
  ASSERT_EQ(list_files(dir.path()).snapshots.size(), 1u);
  std::vector<durability_step> steps;
  std::vector<std::string> paths;
  storage_faults faults;
  faults.on_step = [&](const durability_step& s) {
    steps.push_back(s);
    paths.emplace_back(s.path);
  };
  const std::vector<std::byte> snap = snapshot_of(4, 3);
  ASSERT_EQ(storage::install_snapshot(dir.path(), snap, 3, why, &faults),
            storage::install_result::ok)
      << why;
  const dir_files files = list_files(dir.path());
  EXPECT_TRUE(files.journals.empty());
  ASSERT_EQ(files.snapshots.size(), 1u);
  EXPECT_EQ(files.snapshots[0].second, journal::snapshot_file_name(3));
  EXPECT_TRUE(files.others.empty());
  EXPECT_TRUE(read_bytes(dir.file(files.snapshots[0].second)) == snap);
  reference_ledger state;
  storage::recovery_report report;
  ASSERT_TRUE(storage::recover(dir.path(), state, report, why)) << why;
  EXPECT_EQ(report.last_lsn, 3u);
  EXPECT_EQ(state.account_count(), 4u);
  EXPECT_EQ(state.term_history(), (std::vector<term_start>{{7, 3}}));
  // The order: the temporary file synced; every old file removed and the removal synced;
  // only then the new name, synced.
  using k = durability_step::kind;
  std::size_t removed = 0, renamed_at = 0, synced_before_rename = 0, synced_after_rename = 0;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].what == k::removing) {
      ++removed;
      EXPECT_EQ(renamed_at, 0u) << "removed " << paths[i] << " after the rename";
    }
    if (steps[i].what == k::renamed) renamed_at = i;
    if (steps[i].what == k::dir_synced) {
      if (renamed_at == 0 && removed > 0) ++synced_before_rename;
      if (renamed_at != 0) ++synced_after_rename;
    }
  }
  EXPECT_EQ(removed, 3u);  // the two journal files left and snapshot-5
  EXPECT_NE(renamed_at, 0u);
  EXPECT_GE(synced_before_rename, 1u);
  EXPECT_GE(synced_after_rename, 1u);
}

TEST(StorageInstallSnapshot, BadBytesChangeNothing) {
  temp_dir dir;
  three_files(dir.path());
  const dir_files before = list_files(dir.path());
  std::string why;
  std::vector<std::byte> snap = snapshot_of(4, 3);
  EXPECT_EQ(storage::install_snapshot(dir.path(), snap, 4, why),
            storage::install_result::unchanged);
  snap[snap.size() / 2] ^= std::byte{1};
  EXPECT_EQ(storage::install_snapshot(dir.path(), snap, 3, why),
            storage::install_result::unchanged);
  const dir_files after = list_files(dir.path());
  EXPECT_EQ(after.journals, before.journals);
  EXPECT_EQ(after.snapshots, before.snapshots);
  EXPECT_TRUE(after.others.empty());
}

// ---------------------------------------------------------------------------------------
// The follower: snapshots, terms, files

struct group {
  std::vector<std::byte> bytes;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// The groups of a durable engine of term `term` in `dir`: accounts, then transfers.
std::vector<group> groups_of_an_engine(const std::string& dir, std::uint64_t term) {
  manual_clock clock(epoch_2023_ns);
  {
    engine_config cfg = durable_config(dir, clock);
    cfg.snapshot_at_shutdown = false;
    cfg.term = term;
    engine e(cfg);
    std::vector<account> accounts;
    for (u128 id = 1; id <= 4; ++id) accounts.push_back(make_account(id));
    create_accounts(e, accounts);
    for (u128 id = 100; id < 110; ++id) {
      const std::vector<transfer> t{make_transfer(id, 1 + id % 4, 1 + (id + 1) % 4, 3)};
      create_transfers(e, t);
    }
  }
  std::vector<group> out;
  std::string why;
  reference_ledger state;
  storage::recovery_report report;
  EXPECT_TRUE(storage::recover(dir, state, report, why)) << why;
  EXPECT_EQ(storage::read_groups(
                dir, 1, report.last_lsn,
                [&](std::span<const std::byte> b, std::uint64_t first, std::uint64_t last,
                    std::uint64_t group_lsn) {
                  if (out.empty() || group_lsn != out.back().first) out.push_back({{}, first, 0});
                  out.back().bytes.insert(out.back().bytes.end(), b.begin(), b.end());
                  out.back().last = last;
                },
                why),
            read_result::ok)
      << why;
  return out;
}

std::size_t open_files_in(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(e.path(), ec);
    if (!ec && target.string().starts_with(dir + "/")) ++n;
  }
  return n;
}

TEST(JournalFollowerCatchUp, SnapshotThenTheGroupsAfterIt) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path(), 3);
  ASSERT_GT(groups.size(), 5u);
  // The primary's state after its first 3 groups, as its snapshot would hold it.
  reference_ledger at;
  for (std::size_t i = 0; i < 3; ++i)
    journal::scan(groups[i].bytes, groups[i].first,
                  [&](const journal::record_view& v) { at.replay(v); });
  const std::uint64_t snap_lsn = groups[2].last;
  std::vector<std::byte> snap;
  at.write_snapshot(snap, snap_lsn);

  journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  // It held a diverged journal of its own: records of another history.
  journal_builder other(standby.path());  // bytes only, not written as files
  other.new_file();
  other.group(5);
  const std::vector<std::byte> own = other.all_bytes();
  ASSERT_EQ(f.append_group(own, 1, other.last_lsn(), why), outcome::ok) << why;

  // A refused snapshot changes nothing.
  EXPECT_FALSE(f.install_snapshot(snap, snap_lsn + 1, why));
  EXPECT_FALSE(f.failed());
  EXPECT_EQ(f.durable_lsn(), other.last_lsn());

  ASSERT_TRUE(f.install_snapshot(snap, snap_lsn, why)) << why;
  EXPECT_EQ(f.durable_lsn(), snap_lsn);
  EXPECT_EQ(f.state().account_count(), at.account_count());
  EXPECT_EQ(f.last_term(), 3u);
  EXPECT_EQ(f.last_term_start(), 1u);
  for (std::size_t i = 3; i < groups.size(); ++i)
    ASSERT_EQ(f.append_group(groups[i].bytes, groups[i].first, groups[i].last, why), outcome::ok)
        << why;
  EXPECT_EQ(f.durable_lsn(), groups.back().last);
  EXPECT_EQ(f.state().transfer_count(), 10u);
  // On disk: the snapshot and the groups after it, which recover to the primary's state.
  f.close();
  reference_ledger mine, theirs;
  storage::recovery_report r1, r2;
  ASSERT_TRUE(storage::recover(standby.path(), mine, r1, why)) << why;
  ASSERT_TRUE(storage::recover(primary.path(), theirs, r2, why)) << why;
  EXPECT_EQ(r1.snapshot_lsn, snap_lsn);
  EXPECT_EQ(r1.last_lsn, r2.last_lsn);
  std::vector<std::byte> a, b;
  mine.write_snapshot(a, r1.last_lsn);
  theirs.write_snapshot(b, r2.last_lsn);
  EXPECT_TRUE(a == b);
}

TEST(JournalFollowerCatchUp, LastTermAndItsStart) {
  temp_dir standby;
  journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  EXPECT_EQ(f.last_term(), 0u);
  EXPECT_EQ(f.last_term_start(), 0u);
  // Records before any term: term 0 from LSN 1.
  temp_dir scratch;
  journal_builder b(scratch.path());
  b.new_file();
  b.group(2);
  const std::uint64_t before_terms = b.last_lsn();
  b.term(2);
  b.group(3);
  b.term(2);  // a primary that restarted in its own term
  b.group(1);
  b.term(5);
  b.group(1);
  const std::vector<std::byte> all = b.all_bytes();
  std::uint64_t lsn = 0;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;  // after each LSN: term, start
  journal::scan(all, 1, [&](const journal::record_view& v) {
    // Each record as its own group.
    std::vector<std::byte> one;
    journal::append_record(one, static_cast<journal::record_type>(v.header.type), v.header.lsn,
                           v.header.lsn, v.payload);
    ASSERT_EQ(f.append_group(one, v.header.lsn, v.header.lsn, why), outcome::ok) << why;
    lsn = v.header.lsn;
    seen.emplace_back(f.last_term(), f.last_term_start());
  });
  ASSERT_EQ(lsn, b.last_lsn());
  EXPECT_EQ(seen[before_terms - 1], std::make_pair(std::uint64_t{0}, std::uint64_t{1}));
  EXPECT_EQ(seen[before_terms], std::make_pair(std::uint64_t{2}, before_terms + 1));
  EXPECT_EQ(seen[before_terms + 4], std::make_pair(std::uint64_t{2}, before_terms + 1));
  EXPECT_EQ(seen.back(), std::make_pair(std::uint64_t{5}, b.last_lsn() - 1));
  // Rebuilt from disk after a cut, the history loses the terms cut away.
  ASSERT_TRUE(f.cut_after(before_terms + 5, why)) << why;
  EXPECT_EQ(f.last_term(), 2u);
  EXPECT_EQ(f.last_term_start(), before_terms + 1);
  ASSERT_TRUE(f.cut_after(before_terms, why)) << why;
  EXPECT_EQ(f.last_term(), 0u);
  EXPECT_EQ(f.last_term_start(), 1u);
}

TEST(JournalFollowerCatchUp, ClosesItsFilesWhenItGoes) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path(), 1);
  {
    journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
    std::string why;
    ASSERT_TRUE(f.open(why)) << why;
    ASSERT_EQ(f.append_group(groups[0].bytes, groups[0].first, groups[0].last, why), outcome::ok);
    EXPECT_GT(open_files_in(standby.path()), 0u);
  }
  EXPECT_EQ(open_files_in(standby.path()), 0u);
  journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  f.close();
  EXPECT_EQ(open_files_in(standby.path()), 0u);
  EXPECT_EQ(f.append_group(groups[1].bytes, groups[1].first, groups[1].last, why),
            outcome::storage_failed);
  // The promoted standby opens the directory as an engine, in the same process.
  manual_clock clock(epoch_2023_ns);
  engine_config cfg = durable_config(standby.path(), clock);
  cfg.term = 2;
  engine e(cfg);
  EXPECT_EQ(e.recovery().last_lsn, groups[0].last);
}

}  // namespace
}  // namespace remit::journal_test
