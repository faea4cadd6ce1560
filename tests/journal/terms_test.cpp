// The terms an engine journals (engine_config::term, engine::begin_term): a term_started
// record, first of the LSNs a new term writes, only when the term is not the journal's last;
// none outside a cluster; the history kept across restarts and snapshots; an older term
// refused. And a cluster's primary answers nothing, reads of what it recovered included,
// before its first group is confirmed.
#include <gtest/gtest.h>

#include <vector>

#include "tests/journal/journal_test_support.hpp"

namespace remit::journal_test {
namespace {

struct term_record {
  std::uint64_t lsn;
  std::uint64_t term;
};

// Every term_started record of the journal files in `dir`, in order, and the last LSN.
std::vector<term_record> term_records(const std::string& dir, std::uint64_t* last_lsn = nullptr) {
  std::vector<term_record> out;
  for (const auto& [first, name] : list_files(dir).journals) {
    const scanned_file f = scan_file(dir + "/" + name);
    EXPECT_EQ(f.result.how, journal::scan_result::end::clean) << name;
    for (std::size_t i = 0; i < f.headers.size(); ++i) {
      if (last_lsn != nullptr) *last_lsn = f.headers[i].lsn;
      if (f.headers[i].type != static_cast<std::uint16_t>(journal::record_type::term_started))
        continue;
      EXPECT_EQ(f.payloads[i].size(), sizeof(journal::term_entry));
      journal::term_entry e{};
      std::memcpy(&e, f.payloads[i].data(), sizeof e);
      EXPECT_EQ(e.reserved[0] | e.reserved[1] | e.reserved[2], 0u);
      out.push_back({f.headers[i].lsn, e.term});
    }
  }
  return out;
}

engine_config config_of(const std::string& dir, const manual_clock& clock, std::uint64_t term) {
  engine_config cfg = durable_config(dir, clock);
  cfg.snapshot_at_shutdown = false;  // the records stay in the files, to be counted
  cfg.term = term;
  return cfg;
}

void add_accounts(engine& e, u128 from, u128 to) {
  std::vector<account> accounts;
  for (u128 id = from; id <= to; ++id) accounts.push_back(make_account(id));
  for (const result& r : create_accounts(e, accounts)) ASSERT_EQ(r.status, 0u) << describe(r);
}

using history = std::vector<term_start>;

TEST(JournalTerms, ANewTermIsJournaledFirstAndOnlyOnce) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  {
    engine e(config_of(dir.path(), clock, 3));
    add_accounts(e, 1, 2);
    EXPECT_EQ(e.term_history(), (history{{3, 1}}));
  }
  std::uint64_t last = 0;
  std::vector<term_record> terms = term_records(dir.path(), &last);
  ASSERT_EQ(terms.size(), 1u);
  EXPECT_EQ(terms[0].lsn, 1u);
  EXPECT_EQ(terms[0].term, 3u);
  const std::uint64_t after_first = last;
  // The same term again: a primary that restarted in its own term writes nothing.
  {
    engine e(config_of(dir.path(), clock, 3));
    EXPECT_EQ(e.term_history(), (history{{3, 1}}));
    add_accounts(e, 3, 3);
  }
  terms = term_records(dir.path(), &last);
  ASSERT_EQ(terms.size(), 1u);
  const std::uint64_t before_4 = last;
  EXPECT_GT(before_4, after_first);
  // A newer one: its record is the first of the new LSNs.
  {
    engine e(config_of(dir.path(), clock, 4));
    add_accounts(e, 4, 4);
    EXPECT_EQ(e.term_history(), (history{{3, 1}, {4, before_4 + 1}}));
    const std::vector<u128> ids{1, 2, 3, 4};
    EXPECT_EQ(lookup_accounts(e, ids).size(), 4u);
  }
  terms = term_records(dir.path());
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[1].lsn, before_4 + 1);
  EXPECT_EQ(terms[1].term, 4u);
  // Outside a cluster, nothing; the history is still the journal's.
  {
    engine e(config_of(dir.path(), clock, 0));
    EXPECT_EQ(e.term_history(), (history{{3, 1}, {4, before_4 + 1}}));
    add_accounts(e, 5, 5);
  }
  EXPECT_EQ(term_records(dir.path()).size(), 2u);
}

TEST(JournalTerms, NoTermOutsideACluster) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  {
    engine e(config_of(dir.path(), clock, 0));
    add_accounts(e, 1, 2);
    EXPECT_TRUE(e.term_history().empty());
  }
  EXPECT_TRUE(term_records(dir.path()).empty());
}

TEST(JournalTerms, HistorySurvivesSnapshotsAndAnOlderTermIsRefused) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  {
    engine_config cfg = config_of(dir.path(), clock, 2);
    cfg.snapshot_at_shutdown = true;
    engine e(cfg);
    add_accounts(e, 1, 3);
  }
  ASSERT_EQ(list_files(dir.path()).snapshots.size(), 1u);
  EXPECT_TRUE(term_records(dir.path()).empty());  // every record is in the snapshot now
  {
    engine e(config_of(dir.path(), clock, 2));
    EXPECT_EQ(e.term_history(), (history{{2, 1}}));
  }
  EXPECT_TRUE(term_records(dir.path()).empty());
  EXPECT_THROW(engine(config_of(dir.path(), clock, 1)), std::runtime_error);
  EXPECT_TRUE(term_records(dir.path()).empty());
}

TEST(JournalTerms, BeginTermWhileRunning) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  std::uint64_t first_of_5 = 0;
  {
    engine e(config_of(dir.path(), clock, 3));
    add_accounts(e, 1, 2);
    EXPECT_EQ(e.begin_term(5).get(), engine_status::ok);
    const history h = e.term_history();
    ASSERT_EQ(h.size(), 2u);
    EXPECT_EQ(h[0], (term_start{3, 1}));
    EXPECT_EQ(h[1].term, 5u);
    first_of_5 = h[1].first_lsn;
    // Not newer: answered, nothing written.
    EXPECT_EQ(e.begin_term(5).get(), engine_status::ok);
    EXPECT_EQ(e.begin_term(4).get(), engine_status::ok);
    EXPECT_EQ(e.begin_term(0).get(), engine_status::ok);
    EXPECT_EQ(e.term_history(), h);
    add_accounts(e, 3, 3);
  }
  std::uint64_t last = 0;
  const std::vector<term_record> terms = term_records(dir.path(), &last);
  ASSERT_EQ(terms.size(), 2u);
  EXPECT_EQ(terms[1].term, 5u);
  EXPECT_EQ(terms[1].lsn, first_of_5);
  EXPECT_GT(last, first_of_5);  // account 3 came after it
  // Restarted in the term it moved to: nothing new.
  {
    engine e(config_of(dir.path(), clock, 5));
    EXPECT_EQ(e.term_history(), (history{{3, 1}, {5, first_of_5}}));
  }
  EXPECT_EQ(term_records(dir.path()).size(), 2u);
}

TEST(JournalTerms, BeginTermAfterAFailedWriteIsStorageFailed) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  engine_config cfg = config_of(dir.path(), clock, 1);
  cfg.faults = std::make_shared<storage_faults>();
  engine e(cfg);
  add_accounts(e, 1, 1);
  cfg.faults->fail_write = true;
  EXPECT_EQ(e.begin_term(2).get(), engine_status::storage_failed);
  EXPECT_TRUE(e.storage_failed());
  EXPECT_EQ(e.term_history(), (history{{1, 1}}));
  EXPECT_EQ(e.begin_term(3).get(), engine_status::storage_failed);
}

// A replicate hook that records the groups and holds them while `hold` is set.
class held_cluster {
 public:
  replicate_hook hook() {
    return [this](std::span<const std::byte> g, std::uint64_t first, std::uint64_t last) {
      std::unique_lock<std::mutex> lock(mutex_);
      groups_.push_back({std::vector<std::byte>(g.begin(), g.end()), first, last});
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
      return true;
    };
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = false;
    cv_.notify_all();
  }
  bool wait_group(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return !groups_.empty(); });
  }
  struct shipped {
    std::vector<std::byte> bytes;
    std::uint64_t first, last;
  };
  std::vector<shipped> groups() {
    std::lock_guard<std::mutex> lock(mutex_);
    return groups_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<shipped> groups_;
  bool hold_ = true;
};

TEST(JournalTerms, APrimaryAnswersNothingBeforeItsFirstGroupIsConfirmed) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  std::uint64_t last = 0;
  {
    engine e(config_of(dir.path(), clock, 1));  // a standby's journal, say
    add_accounts(e, 1, 2);
  }
  term_records(dir.path(), &last);
  held_cluster cluster;
  engine_config cfg = config_of(dir.path(), clock, 2);
  cfg.replicate = cluster.hook();
  engine e(cfg);
  ASSERT_TRUE(cluster.wait_group(reply_deadline));
  // The recovered accounts are there, but the new standbys may not hold them yet.
  const std::vector<u128> ids{1, 2};
  auto pending = e.lookup_accounts(ids);
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  // The first group is the term's record alone, right after what was recovered.
  const auto groups = cluster.groups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].first, last + 1);
  EXPECT_EQ(groups[0].last, last + 1);
  journal::record_view v{};
  ASSERT_TRUE(journal::parse_record(groups[0].bytes, 0, v));
  EXPECT_EQ(v.header.type, static_cast<std::uint16_t>(journal::record_type::term_started));
  cluster.release();
  const engine_reply r = get_reply(std::move(pending), "lookup_accounts reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  EXPECT_EQ(r.accounts.size(), 2u);
}

// Without a record of its own to confirm first (it restarted in its own term), a primary's
// read of what it recovered waits for the first group the cluster confirms, whatever it is.
TEST(JournalTerms, ARecoveredReadWaitsForTheFirstConfirmedGroup) {
  temp_dir dir;
  manual_clock clock(epoch_2023_ns);
  {
    engine e(config_of(dir.path(), clock, 1));
    add_accounts(e, 1, 2);
  }
  held_cluster cluster;
  engine_config cfg = config_of(dir.path(), clock, 1);
  cfg.replicate = cluster.hook();
  engine e(cfg);
  const std::vector<u128> ids{1, 2};
  auto read = e.lookup_accounts(ids);
  EXPECT_EQ(read.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  EXPECT_TRUE(cluster.groups().empty());
  const std::vector<account> more{make_account(3)};
  auto write = e.create_accounts(more);
  ASSERT_TRUE(cluster.wait_group(reply_deadline));
  EXPECT_EQ(read.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  cluster.release();
  const engine_reply r = get_reply(std::move(read), "lookup_accounts reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  EXPECT_EQ(r.accounts.size(), 2u);
  EXPECT_EQ(get_reply(std::move(write), "create_accounts reply").status, engine_status::ok);
}

}  // namespace
}  // namespace remit::journal_test
