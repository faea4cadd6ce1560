// What a cluster's primary adds to the journal's rule (engine_config::replicate): each group
// goes to the hook, in order, exactly as written, after it is durable here; answers wait for
// the hook too; a group the hook could not confirm is answered `unavailable` (and so is a read
// that depends on it) while the engine goes on; and the groups shipped, fed to a standby's
// journal_follower, rebuild the primary's state.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "actors/follower.hpp"
#include "tests/journal/journal_test_support.hpp"

namespace remit::journal_test {
namespace {

struct shipped {
  std::vector<std::byte> bytes;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

// A hook that records every group and answers what `confirm` says; while `hold` is set it
// waits (a standby that has not acknowledged yet).
class recording_cluster {
 public:
  replicate_hook hook() {
    return [this](std::span<const std::byte> g, std::uint64_t first, std::uint64_t last) {
      std::unique_lock<std::mutex> lock(mutex_);
      groups_.push_back({std::vector<std::byte>(g.begin(), g.end()), first, last});
      ++waiting_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
      --waiting_;
      return confirm_;
    };
  }
  void set_confirm(bool c) {
    std::lock_guard<std::mutex> lock(mutex_);
    confirm_ = c;
  }
  void hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = false;
    cv_.notify_all();
  }
  // Waits until the hook is called and held.
  bool wait_held(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return waiting_ > 0; });
  }
  std::vector<shipped> groups() {
    std::lock_guard<std::mutex> lock(mutex_);
    return groups_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<shipped> groups_;
  bool confirm_ = true;
  bool hold_ = false;
  int waiting_ = 0;
};

engine_config clustered(const std::string& dir, const manual_clock& clock, recording_cluster& c) {
  engine_config cfg = durable_config(dir, clock);
  cfg.replicate = c.hook();
  cfg.snapshot_at_shutdown = false;
  return cfg;
}

TEST(ReplicateHook, GroupsGoOutInOrderAsWrittenAndRebuildTheStateOnAStandby) {
  temp_dir primary;
  temp_dir standby;
  manual_clock clock(epoch_2023_ns);
  recording_cluster cluster;
  {
    engine e(clustered(primary.path(), clock, cluster));
    std::vector<account> accounts;
    for (u128 id = 1; id <= 4; ++id) accounts.push_back(make_account(id));
    create_accounts(e, accounts);
    for (u128 id = 100; id < 120; ++id) {
      const std::vector<transfer> t{make_transfer(id, 1 + id % 4, 1 + (id + 1) % 4, 5)};
      const std::vector<result> r = create_transfers(e, t);
      ASSERT_EQ(r[0].status, 0u) << describe(r[0]);
    }
  }
  const std::vector<shipped> groups = cluster.groups();
  ASSERT_FALSE(groups.empty());
  // In order, without a gap, and byte for byte the journal's contents.
  std::vector<std::byte> joined;
  std::uint64_t next = 1;
  for (const shipped& g : groups) {
    EXPECT_EQ(g.first, next);
    next = g.last + 1;
    joined.insert(joined.end(), g.bytes.begin(), g.bytes.end());
  }
  std::vector<std::byte> journal_bytes;
  for (const auto& [first, name] : list_files(primary.path()).journals) {
    const std::vector<std::byte> b = read_bytes(primary.file(name));
    journal_bytes.insert(journal_bytes.end(), b.begin(), b.end());
  }
  EXPECT_TRUE(joined == journal_bytes);
  // A standby fed with them holds what the primary holds.
  actors::journal_follower f(actors::follower_config{standby.path(), 256u << 20, nullptr});
  std::string why;
  ASSERT_TRUE(f.open(why)) << why;
  for (const shipped& g : groups)
    ASSERT_EQ(f.append_group(g.bytes, g.first, g.last, why), actors::journal_follower::outcome::ok)
        << why;
  reference_ledger recovered;
  storage::recovery_report report;
  ASSERT_TRUE(storage::recover(primary.path(), recovered, report, why)) << why;
  EXPECT_EQ(f.state().transfer_count(), recovered.transfer_count());
  for (u128 id = 1; id <= 4; ++id) {
    ASSERT_NE(f.state().find_account(id), nullptr);
    EXPECT_TRUE(same_bytes(f.state().find_account(id)->a, recovered.find_account(id)->a));
  }
}

TEST(ReplicateHook, AnswersWaitForTheCluster) {
  temp_dir primary;
  manual_clock clock(epoch_2023_ns);
  recording_cluster cluster;
  engine e(clustered(primary.path(), clock, cluster));
  const std::vector<account> accounts{make_account(1), make_account(2)};
  create_accounts(e, accounts);
  cluster.hold();
  const std::vector<transfer> t{make_transfer(10, 1, 2, 5)};
  auto pending = e.create_transfers(t);
  ASSERT_TRUE(cluster.wait_held(reply_deadline));
  // Durable here, but the standby has not answered: no answer yet.
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  cluster.release();
  const engine_reply r = get_reply(std::move(pending), "create_transfers reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
}

TEST(ReplicateHook, UnconfirmedGroupIsUnavailableAndTheEngineGoesOn) {
  temp_dir primary;
  manual_clock clock(epoch_2023_ns);
  recording_cluster cluster;
  engine e(clustered(primary.path(), clock, cluster));
  const std::vector<account> accounts{make_account(1), make_account(2)};
  create_accounts(e, accounts);
  cluster.set_confirm(false);
  const std::vector<transfer> t1{make_transfer(10, 1, 2, 5)};
  const engine_reply r1 = get_reply(e.create_transfers(t1), "create_transfers reply");
  EXPECT_EQ(r1.status, engine_status::unavailable) << name(r1.status);
  EXPECT_TRUE(r1.results.empty());
  // A read that depends on it writes nothing new: it must not wait for a group that never
  // comes, nor report what the cluster may not have.
  const std::vector<u128> ids{10};
  const engine_reply read = get_reply(e.lookup_transfers(ids), "lookup_transfers reply");
  EXPECT_EQ(read.status, engine_status::unavailable) << name(read.status);
  // The cluster is back: the next write confirms everything before it too.
  cluster.set_confirm(true);
  const std::vector<transfer> t2{make_transfer(11, 1, 2, 5)};
  const engine_reply r2 = get_reply(e.create_transfers(t2), "create_transfers reply");
  EXPECT_EQ(r2.status, engine_status::ok) << name(r2.status);
  const std::vector<u128> both{10, 11};
  const engine_reply after = get_reply(e.lookup_transfers(both), "lookup_transfers reply");
  EXPECT_EQ(after.status, engine_status::ok) << name(after.status);
  EXPECT_EQ(after.transfers.size(), 2u);
  // A resend of the first by id answers from what was decided.
  const engine_reply again = get_reply(e.create_transfers(t1), "create_transfers reply");
  ASSERT_EQ(again.status, engine_status::ok);
  EXPECT_EQ(static_cast<tr>(again.results[0].status), tr::exists);
  EXPECT_FALSE(e.storage_failed());
}

// The pipelined form (engine_config::pipeline): ship() records each group at once, confirm()
// answers what `confirm_` says, or waits while `hold_` is set.
class recording_pipeline {
 public:
  replicate_pipeline pipeline() {
    replicate_pipeline p;
    p.ship = [this](std::span<const std::byte> g, std::uint64_t first, std::uint64_t last) {
      std::lock_guard<std::mutex> lock(mutex_);
      groups_.push_back({std::vector<std::byte>(g.begin(), g.end()), first, last});
      cv_.notify_all();
    };
    p.confirm = [this](std::uint64_t last) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++confirming_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !hold_; });
      --confirming_;
      confirmed_.push_back(last);
      return confirm_;
    };
    return p;
  }
  void set_confirm(bool c) {
    std::lock_guard<std::mutex> lock(mutex_);
    confirm_ = c;
  }
  void hold() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = false;
    cv_.notify_all();
  }
  bool wait_shipped(std::size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return groups_.size() >= n; });
  }
  std::size_t shipped_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return groups_.size();
  }
  std::vector<std::uint64_t> confirmed() {
    std::lock_guard<std::mutex> lock(mutex_);
    return confirmed_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<shipped> groups_;
  std::vector<std::uint64_t> confirmed_;
  bool confirm_ = true;
  bool hold_ = false;
  int confirming_ = 0;
};

engine_config pipelined(const std::string& dir, const manual_clock& clock, recording_pipeline& c,
                        std::uint64_t term) {
  engine_config cfg = durable_config(dir, clock);
  cfg.pipeline = c.pipeline();
  cfg.term = term;
  cfg.snapshot_at_shutdown = false;
  return cfg;
}

// While the cluster has not confirmed a group, the journal writes and ships the next ones:
// answers wait, the disk and the standbys do not.
TEST(ReplicatePipeline, LaterGroupsShipWhileAnEarlierOneWaitsForItsConfirmation) {
  temp_dir primary;
  manual_clock clock(epoch_2023_ns);
  recording_pipeline cluster;
  engine e(pipelined(primary.path(), clock, cluster, 1));
  const std::vector<account> accounts{make_account(1), make_account(2), make_account(3),
                                      make_account(4)};
  create_accounts(e, accounts);
  const std::size_t before = cluster.shipped_count();
  cluster.hold();
  auto first = e.create_transfers(std::vector<transfer>{make_transfer(10, 1, 2, 5)});
  ASSERT_TRUE(cluster.wait_shipped(before + 1, reply_deadline));
  auto second = e.create_transfers(std::vector<transfer>{make_transfer(11, 3, 4, 5)});
  // The second group is written and shipped though the first is not confirmed.
  ASSERT_TRUE(cluster.wait_shipped(before + 2, reply_deadline));
  EXPECT_EQ(first.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  cluster.release();
  EXPECT_EQ(get_reply(std::move(first), "first").status, engine_status::ok);
  EXPECT_EQ(get_reply(std::move(second), "second").status, engine_status::ok);
  // Confirmed one at a time, in order.
  const std::vector<std::uint64_t> c = cluster.confirmed();
  EXPECT_TRUE(std::is_sorted(c.begin(), c.end()));
}

// A primary whose lease ran out while a group waited gets its role back in the same term:
// the resends of what that group held all answer `exists`, so nothing new would confirm it.
// The journal writes a term_started record of its own term, whose group confirms it.
TEST(ReplicatePipeline, AGroupThatWasNotConfirmedIsConfirmedByAResendAfterwards) {
  temp_dir primary;
  manual_clock clock(epoch_2023_ns);
  recording_pipeline cluster;
  engine e(pipelined(primary.path(), clock, cluster, 1));
  const std::vector<account> accounts{make_account(1), make_account(2)};
  create_accounts(e, accounts);
  cluster.set_confirm(false);
  const std::vector<transfer> t{make_transfer(10, 1, 2, 5)};
  EXPECT_EQ(get_reply(e.create_transfers(t), "write").status, engine_status::unavailable);
  cluster.set_confirm(true);
  const engine_reply again = get_reply(e.create_transfers(t), "resend");
  ASSERT_EQ(again.status, engine_status::ok) << name(again.status);
  EXPECT_EQ(static_cast<tr>(again.results[0].status), tr::exists);
  // The record that confirmed it is a term_started of term 1 again, which replay ignores.
  e.shutdown();
  reference_ledger recovered;
  storage::recovery_report report;
  std::string why;
  ASSERT_TRUE(storage::recover(primary.path(), recovered, report, why)) << why;
  ASSERT_EQ(recovered.term_history().size(), 1u);
  EXPECT_EQ(recovered.term_history()[0].term, 1u);
  EXPECT_EQ(recovered.transfer_count(), 1u);
}

}  // namespace
}  // namespace remit::journal_test
