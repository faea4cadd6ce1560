// A standby's copy of the journal (actors/follower.hpp), fed with the groups of a real
// engine's journal: the copy recovers to the same state as the original; a group that does
// not follow, or whose bytes are not the records it announces, is refused and nothing is
// written; a diverged tail is cut at the LSN given and following goes on from there; a failed
// write stops the follower; groups written together share one fdatasync and are durable
// only after it, a roll syncs the file it leaves, and the apply behind the writes (bounded by
// its backlog) gives the same state.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "actors/follower.hpp"
#include "tests/journal/journal_test_support.hpp"

namespace remit::journal_test {
namespace {

using actors::follower_config;
using actors::journal_follower;
using outcome = journal_follower::outcome;

struct group {
  std::vector<std::byte> bytes;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// Runs an engine with durability on, then cuts its journal into the groups it wrote (the
// records that share a group LSN), in order.
std::vector<group> groups_of_an_engine(const std::string& dir) {
  manual_clock clock(epoch_2023_ns);
  {
    engine_config cfg = durable_config(dir, clock);
    cfg.snapshot_at_shutdown = false;
    cfg.snapshot_every_records = UINT64_MAX;
    cfg.journal_file_size_max = UINT64_MAX;
    engine e(cfg);
    std::vector<account> accounts;
    for (u128 id = 1; id <= 6; ++id) accounts.push_back(make_account(id));
    create_accounts(e, accounts);
    u128 next = 100;
    for (int batch = 0; batch < 12; ++batch) {
      std::vector<transfer> ts;
      for (int i = 0; i < 5; ++i, ++next)
        ts.push_back(make_transfer(next, 1 + next % 6, 1 + (next + 1) % 6, 10));
      ts.push_back(make_transfer(next, 1 + next % 6, 1 + next % 6, 1));  // fails alone
      ++next;
      create_transfers(e, ts);
    }
  }
  std::vector<group> out;
  for (const auto& [first, name] : list_files(dir).journals) {
    const std::vector<std::byte> data = read_bytes(dir + "/" + name);
    journal::scan(data, 0, [&](const journal::record_view& v) {
      if (out.empty() || v.header.group_lsn != out.back().first)
        out.push_back({{}, v.header.lsn, 0});
      const auto* p = data.data() + v.offset;
      out.back().bytes.insert(out.back().bytes.end(), p,
                              p + journal::header_size + v.header.length);
      out.back().last = v.header.lsn;
    });
  }
  return out;
}

// The state recovered from a data directory, as a comparable summary.
std::map<u128, account_state> recovered(const std::string& dir) {
  reference_ledger state;
  storage::recovery_report report;
  std::string why;
  EXPECT_TRUE(storage::recover(dir, state, report, why)) << why;
  std::map<u128, account_state> out;
  state.for_each_account([&](const account_state& s) { out[s.a.id] = s; });
  return out;
}

std::map<u128, account_state> accounts_of(const reference_ledger& state) {
  std::map<u128, account_state> out;
  state.for_each_account([&](const account_state& s) { out[s.a.id] = s; });
  return out;
}

bool same(const std::map<u128, account_state>& a, const std::map<u128, account_state>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [id, s] : a) {
    const auto it = b.find(id);
    if (it == b.end() || !same_bytes(s.a, it->second.a)) return false;
  }
  return true;
}

TEST(JournalFollower, CopyRecoversToThePrimarysState) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  ASSERT_GT(groups.size(), 3u);
  {
    journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
    std::string why;
    ASSERT_TRUE(f.open(why)) << why;
    for (const group& g : groups) {
      ASSERT_EQ(f.append_group(g.bytes, g.first, g.last, why), outcome::ok) << why;
      EXPECT_EQ(f.durable_lsn(), g.last);
    }
    EXPECT_TRUE(same(accounts_of(f.state()), recovered(primary.path())));
    EXPECT_EQ(f.state().transfer_count(), 60u);  // 12 batches of 5; the sixth fails alone
  }
  // What the follower wrote is a journal like any other: it recovers to the same state, and
  // a follower reopened on it goes on from its last LSN.
  EXPECT_TRUE(same(recovered(standby.path()), recovered(primary.path())));
  journal_follower again(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(again.open(why)) << why;
  EXPECT_EQ(again.durable_lsn(), groups.back().last);
}

TEST(JournalFollower, GroupThatDoesNotFollowIsRefusedAndNothingIsWritten) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  EXPECT_EQ(f.append_group(groups[1].bytes, groups[1].first, groups[1].last, why), outcome::gap);
  EXPECT_EQ(f.durable_lsn(), 0u);
  ASSERT_EQ(f.append_group(groups[0].bytes, groups[0].first, groups[0].last, why), outcome::ok);
  // The same group again (a resend after a lost ack) does not follow either.
  EXPECT_EQ(f.append_group(groups[0].bytes, groups[0].first, groups[0].last, why), outcome::gap);
  EXPECT_EQ(f.durable_lsn(), groups[0].last);
  EXPECT_EQ(recovered(standby.path()).size(), accounts_of(f.state()).size());
}

TEST(JournalFollower, BytesThatAreNotTheAnnouncedRecordsAreRefused) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  const group& g = groups[0];
  std::vector<std::byte> flipped = g.bytes;
  flipped[flipped.size() / 2] ^= std::byte{0x01};
  EXPECT_EQ(f.append_group(flipped, g.first, g.last, why), outcome::malformed);
  std::vector<std::byte> cut(g.bytes.begin(), g.bytes.end() - 1);  // a torn last record
  EXPECT_EQ(f.append_group(cut, g.first, g.last, why), outcome::malformed);
  EXPECT_EQ(f.append_group(g.bytes, g.first, g.last + 1, why), outcome::malformed);
  EXPECT_EQ(f.append_group({}, g.first, g.last, why), outcome::malformed);
  EXPECT_EQ(f.durable_lsn(), 0u);
  // Nothing of it reached the disk: the real group still follows.
  EXPECT_EQ(f.append_group(g.bytes, g.first, g.last, why), outcome::ok) << why;
}

TEST(JournalFollower, DivergedTailIsCutAndFollowingGoesOnFromThere) {
  temp_dir primary;
  temp_dir standby;
  temp_dir reference;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  const std::size_t keep = groups.size() / 2;
  // The reference copy: only the groups up to the cut.
  {
    journal_follower r(follower_config{reference.path(), 256u << 20, nullptr});
    std::string why;
    ASSERT_TRUE(r.open(why)) << why;
    for (std::size_t i = 0; i < keep; ++i)
      ASSERT_EQ(r.append_group(groups[i].bytes, groups[i].first, groups[i].last, why), outcome::ok);
  }
  journal_follower f(follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  for (const group& g : groups)
    ASSERT_EQ(f.append_group(g.bytes, g.first, g.last, why), outcome::ok);
  const std::uint64_t cut_at = groups[keep - 1].last;
  ASSERT_TRUE(f.cut_after(cut_at, why)) << why;
  EXPECT_EQ(f.durable_lsn(), cut_at);
  EXPECT_TRUE(same(accounts_of(f.state()), recovered(reference.path())));
  EXPECT_TRUE(same(recovered(standby.path()), recovered(reference.path())));
  // The new primary's next group follows the cut.
  EXPECT_EQ(f.append_group(groups[keep].bytes, groups[keep].first, groups[keep].last, why),
            outcome::ok)
      << why;
}

TEST(JournalFollower, SmallFilesRollAtGroupBoundaries) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  {
    journal_follower f(follower_config{standby.path(), 1024, nullptr});
    std::string why;
    ASSERT_TRUE(f.open(why)) << why;
    for (const group& g : groups)
      ASSERT_EQ(f.append_group(g.bytes, g.first, g.last, why), outcome::ok);
  }
  EXPECT_GT(list_files(standby.path()).journals.size(), 2u);
  EXPECT_TRUE(same(recovered(standby.path()), recovered(primary.path())));
}

TEST(JournalFollower, FailedWriteStopsTheFollower) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  auto faults = std::make_shared<storage_faults>();
  journal_follower f(follower_config{standby.path(), 256u << 20, faults});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  faults->fail_write = true;
  EXPECT_EQ(f.append_group(groups[0].bytes, groups[0].first, groups[0].last, why),
            outcome::storage_failed);
  faults->fail_write = false;
  EXPECT_TRUE(f.failed());
  EXPECT_EQ(f.append_group(groups[0].bytes, groups[0].first, groups[0].last, why),
            outcome::storage_failed);
  EXPECT_EQ(f.durable_lsn(), 0u);
}

TEST(JournalFollower, GroupsWrittenTogetherAreDurableAfterOneSync) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  ASSERT_GT(groups.size(), 4u);
  auto faults = std::make_shared<storage_faults>();
  std::vector<std::uint64_t> synced_sizes;
  faults->on_step = [&](const durability_step& st) {
    if (st.what == durability_step::kind::synced) synced_sizes.push_back(st.size);
  };
  journal_follower f(follower_config{standby.path(), 256u << 20, faults});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  synced_sizes.clear();
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(f.write_group(groups[i].bytes, groups[i].first, groups[i].last, why), outcome::ok)
        << why;
    bytes += groups[i].bytes.size();
    EXPECT_EQ(f.written_lsn(), groups[i].last);
    EXPECT_EQ(f.durable_lsn(), 0u);  // not durable before the sync
  }
  EXPECT_TRUE(synced_sizes.empty());
  // A group must follow what was written, not what is durable.
  EXPECT_EQ(f.write_group(groups[0].bytes, groups[0].first, groups[0].last, why), outcome::gap);
  ASSERT_EQ(f.sync(why), outcome::ok) << why;
  ASSERT_EQ(synced_sizes.size(), 1u);  // one fdatasync for the three
  EXPECT_EQ(synced_sizes[0], bytes);
  EXPECT_EQ(f.durable_lsn(), groups[2].last);
  EXPECT_EQ(f.sync(why), outcome::ok);  // nothing written since: no fdatasync
  EXPECT_EQ(synced_sizes.size(), 1u);
  for (std::size_t i = 3; i < groups.size(); ++i)
    ASSERT_EQ(f.write_group(groups[i].bytes, groups[i].first, groups[i].last, why), outcome::ok);
  ASSERT_EQ(f.sync(why), outcome::ok) << why;
  EXPECT_EQ(synced_sizes.size(), 2u);
  EXPECT_TRUE(same(accounts_of(f.state()), recovered(primary.path())));
  EXPECT_EQ(f.state().transfer_count(), 60u);
}

TEST(JournalFollower, ARollSyncsWhatTheFileItLeavesHolds) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  auto faults = std::make_shared<storage_faults>();
  // Per file, the size its last fdatasync covered, and its size when it was left.
  std::map<std::string, std::uint64_t> synced;
  std::vector<std::string> created;
  faults->on_step = [&](const durability_step& st) {
    if (st.what == durability_step::kind::synced) synced[std::string(st.path)] = st.size;
    if (st.what == durability_step::kind::created) created.emplace_back(st.path);
  };
  {
    journal_follower f(follower_config{standby.path(), 1024, faults});
    std::string why;
    ASSERT_TRUE(f.open(why)) << why;
    // Every group written, and one sync at the end: each roll must sync the old file first.
    for (const group& g : groups)
      ASSERT_EQ(f.write_group(g.bytes, g.first, g.last, why), outcome::ok) << why;
    ASSERT_EQ(f.sync(why), outcome::ok) << why;
  }
  ASSERT_GT(created.size(), 3u);
  for (const std::string& path : created) {
    const std::uint64_t size = read_bytes(path).size();
    if (size == 0) continue;
    EXPECT_EQ(synced[path], size) << path << " was left with bytes no fdatasync covered";
  }
  EXPECT_TRUE(same(recovered(standby.path()), recovered(primary.path())));
}

TEST(JournalFollower, ApplyBehindTheWritesWithATinyBacklogGivesTheSameState) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  follower_config cfg{standby.path(), 256u << 20, nullptr};
  cfg.apply_backlog_max = 1;  // every sync waits for the apply of the one before
  journal_follower f(cfg);
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  for (const group& g : groups)
    ASSERT_EQ(f.append_group(g.bytes, g.first, g.last, why), outcome::ok) << why;
  EXPECT_TRUE(same(accounts_of(f.state()), recovered(primary.path())));
  // Released state is the applied one, and the follower is closed after it.
  const reference_ledger state = f.release_state();
  EXPECT_TRUE(same(accounts_of(state), recovered(primary.path())));
  EXPECT_EQ(f.append_group(groups[0].bytes, groups[0].first, groups[0].last, why),
            outcome::storage_failed);
}

TEST(JournalFollower, CloseSyncsWhatWasWritten) {
  temp_dir primary;
  temp_dir standby;
  const std::vector<group> groups = groups_of_an_engine(primary.path());
  auto faults = std::make_shared<storage_faults>();
  std::uint64_t synced = 0;
  faults->on_step = [&](const durability_step& st) {
    if (st.what == durability_step::kind::synced) synced = st.size;
  };
  std::uint64_t bytes = 0;
  {
    journal_follower f(follower_config{standby.path(), 256u << 20, faults});
    std::string why;
    ASSERT_TRUE(f.open(why)) << why;
    for (const group& g : groups) {
      ASSERT_EQ(f.write_group(g.bytes, g.first, g.last, why), outcome::ok) << why;
      bytes += g.bytes.size();
    }
    f.close();
    EXPECT_EQ(f.durable_lsn(), groups.back().last);
  }
  EXPECT_EQ(synced, bytes);
  EXPECT_TRUE(same(recovered(standby.path()), recovered(primary.path())));
}

}  // namespace
}  // namespace remit::journal_test
