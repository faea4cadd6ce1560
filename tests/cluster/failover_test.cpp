// Failover of a real cluster: one etcd and three remitd nodes as child processes
// (tests/support/cluster_process.hpp), load from a driver that follows the primary
// (tests/support/cluster_load.hpp), and after each scenario the check: every acknowledged
// transfer is on the final primary, money is conserved, every node stops cleanly on SIGTERM
// and every data dir passes remit-journal verify.
//
// Lease TTL 2 s, --sync-standbys 1, strict (no --allow-async) unless a test says otherwise.
// Timeouts here are generous: they fail a hang, they do not measure. What is measured (the
// failover time: from SIGKILL of the primary to the first acknowledgement by another node)
// is printed.
//
// REMIT_FAILOVER_KILLS sets how many primaries kill_primary_repeatedly kills (default 20;
// the long run sets 200).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/cluster_load.hpp"
#include "tests/support/cluster_process.hpp"

namespace remit::test {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

long long ms_between(cluster_clock::time_point a, cluster_clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

template <class F>
bool wait_until(F&& done, milliseconds timeout) {
  const auto deadline = cluster_clock::now() + timeout;
  while (!done()) {
    if (cluster_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

int kills_wanted() {
  const char* v = std::getenv("REMIT_FAILOVER_KILLS");
  if (v && *v) {
    const int n = std::atoi(v);
    if (n > 0) return n;
  }
  return 20;
}

// Whether the remitd under test has the cluster mode at all (its --help names --etcd).
bool remitd_has_cluster_mode() {
  const char* env = std::getenv("REMIT_REMITD");
#ifdef REMIT_TEST_REMITD
  const std::string remitd = env && *env ? env : REMIT_TEST_REMITD;
#else
  const std::string remitd = env && *env ? env : "remitd";
#endif
  const command_result r = run_command({remitd, "--help"});
  return r.output.find("--etcd") != std::string::npos;
}

// A data dir's journal records, LSN -> a digest of the record's type and entries (the file
// and offset left out: two nodes' copies of one record are equal).
std::map<std::uint64_t, std::size_t> journal_records(const cluster_process& c, int i) {
  const command_result r = run_command({c.journal_tool(), "dump", "--json", c.data_dir(i)});
  std::map<std::uint64_t, std::size_t> out;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line.front() != '{') continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("lsn")) continue;
    const std::string body = j.value("type", std::string()) + j["entries"].dump();
    out[j["lsn"].get<std::uint64_t>()] = std::hash<std::string>{}(body);
  }
  return out;
}

std::uint64_t last_lsn(const std::map<std::uint64_t, std::size_t>& records) {
  return records.empty() ? 0 : records.rbegin()->first;
}

class failover : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!find_etcd())
      GTEST_SKIP() << "no etcd binary: install etcd-server (tools/deps) or set REMIT_ETCD";
    if (!remitd_has_cluster_mode()) GTEST_SKIP() << "this remitd has no cluster mode (--etcd)";
  }

  void TearDown() override {
    if (driver_) {
      driver_->stop();
      if (HasFailure()) std::fprintf(stderr, "%s\n", driver_->summary().c_str());
    }
    driver_.reset();
    cluster_.reset();
  }

  // Starts the cluster, waits for a primary, creates the accounts and starts the load.
  void start(cluster_options o = {}, driver_options d = {}) {
    cluster_ = std::make_unique<cluster_process>(std::move(o));
    const auto p = cluster_->wait_for_primary(30s);
    ASSERT_TRUE(p) << "no primary 30 s after the start";
    std::printf("cluster up: node%d primary after %lld ms\n", p->index,
                static_cast<long long>(p->took.count()));
    driver_ = std::make_unique<load_driver>(cluster_->view(), d);
    std::string why;
    ASSERT_TRUE(driver_->create_accounts(30s, why)) << why;
    driver_->start();
    ASSERT_TRUE(driver_->wait_for_acks_after(cluster_clock::now() - 1h, 5, 30s))
        << "the load got no acknowledgement in 30 s; " << driver_->summary();
  }

  cluster_process& c() { return *cluster_; }
  load_driver& d() { return *driver_; }

  // Waits until the synchronous set names a running standby other than `primary`; that
  // node, or -1.
  int wait_for_sync_standby(int primary, milliseconds timeout) {
    int found = -1;
    wait_until(
        [&] {
          const auto s = c().sync_set();
          if (!s) return false;
          for (const int i : *s)
            if (i >= 0 && i != primary && c().running(i) && !c().stopped(i)) {
              found = i;
              return true;
            }
          return false;
        },
        timeout);
    return found;
  }

  void expect_clean_check() {
    driver_->stop();
    std::printf("%s\n", driver_->summary().c_str());
    const check_report r = check_cluster(*cluster_, *driver_);
    std::printf("%s\n", r.summary.c_str());
    EXPECT_TRUE(r.ok()) << r.text();
  }

  std::unique_ptr<cluster_process> cluster_;
  std::unique_ptr<load_driver> driver_;
};

// SIGKILL of the primary under load, again and again: each time another node acknowledges
// within a bound, the killed node comes back as a standby, and in the end nothing
// acknowledged is lost.
TEST_F(failover, kill_primary_repeatedly) {
  ASSERT_NO_FATAL_FAILURE(start());
  const int kills = kills_wanted();
  std::vector<long long> times;
  for (int k = 0; k < kills; ++k) {
    const auto p = c().wait_for_primary(15s);
    ASSERT_TRUE(p) << "kill " << k << ": no primary";
    const int sync = wait_for_sync_standby(p->index, 30s);
    ASSERT_GE(sync, 0) << "kill " << k << ": the synchronous set names no running standby of node"
                       << p->index << " (sync key: " << c().etcd_value("sync").value_or("<none>")
                       << ")";
    // Writes flow through the synchronous standby before the kill.
    ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 3, 15s))
        << "kill " << k << ": no acknowledgements before the kill; " << d().summary();
    const auto t_kill = cluster_clock::now();
    c().kill(p->index);
    const bool acked =
        wait_until([&] { return d().first_ack_after(t_kill, p->index).has_value(); }, 15s);
    ASSERT_TRUE(acked) << "kill " << k << " of node" << p->index
                       << ": no other node acknowledged within 15 s; " << d().summary();
    const auto first = *d().first_ack_after(t_kill, p->index);
    times.push_back(ms_between(t_kill, first.at));
    std::printf("kill %d: node%d killed, node%d acknowledged after %lld ms\n", k + 1, p->index,
                first.node, times.back());
    std::fflush(stdout);
    c().start(p->index);
    ASSERT_TRUE(c().wait_for_role(p->index, role_standby, 30s))
        << "kill " << k << ": node" << p->index << " is not a standby 30 s after its restart";
  }
  std::vector<long long> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  const long long p50 = sorted[sorted.size() / 2];
  std::printf("failover over %d kills: p50 %lld ms, max %lld ms (lease TTL 2 s)\n", kills, p50,
              sorted.back());
  RecordProperty("failover_p50_ms", std::to_string(p50));
  RecordProperty("failover_max_ms", std::to_string(sorted.back()));
  expect_clean_check();
}

// SIGSTOP of the primary for three lease TTLs (a partition), then SIGCONT: another node
// takes over while it is stopped, the old primary acknowledges nothing after its
// successor's first acknowledgement, and it ends as a standby.
TEST_F(failover, stop_primary_past_its_lease) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto p = c().wait_for_primary(15s);
  ASSERT_TRUE(p);
  ASSERT_GE(wait_for_sync_standby(p->index, 30s), 0);
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 3, 15s));
  const int old = p->index;
  const auto t_stop = cluster_clock::now();
  c().stop(old);
  std::this_thread::sleep_for(6s);  // 3 x TTL
  const auto t_cont = cluster_clock::now();
  c().cont(old);
  const auto first_new = d().first_ack_after(t_stop, old);
  ASSERT_TRUE(first_new) << "no other node acknowledged while node" << old
                         << " was stopped for 6 s; " << d().summary();
  std::printf("node%d stopped; node%d acknowledged %lld ms later\n", old, first_new->node,
              ms_between(t_stop, first_new->at));
  EXPECT_LT(first_new->at, t_cont) << "the successor acknowledged only after SIGCONT";
  // Load goes on after the old primary runs again: it must not answer any of it ok.
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 10, 20s, old)) << d().summary();
  EXPECT_TRUE(c().wait_for_role(old, role_standby, 30s))
      << "node" << old << " is not a standby 30 s after SIGCONT";
  for (const ack_record& a : d().acks())
    if (a.node == old && a.at > first_new->at)
      ADD_FAILURE() << "node" << old << " acknowledged batch " << a.batch << " "
                    << ms_between(first_new->at, a.at)
                    << " ms after its successor's first acknowledgement";
  expect_clean_check();
}

// SIGKILL of the synchronous standby under load: the primary moves the synchronous set to
// the other standby and writes go on. (Its connection closes at once, so the primary knows
// without waiting for the replication timeout: standby_stopped covers that path.)
TEST_F(failover, standby_killed) {
  cluster_options o;
  ASSERT_NO_FATAL_FAILURE(start(o));
  const auto p = c().wait_for_primary(15s);
  ASSERT_TRUE(p);
  const int sync = wait_for_sync_standby(p->index, 30s);
  ASSERT_GE(sync, 0) << "sync key: " << c().etcd_value("sync").value_or("<none>");
  const int other = 3 - p->index - sync;
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 3, 15s));
  const auto t_kill = cluster_clock::now();
  c().kill(sync);
  const auto bound = milliseconds(o.replication_timeout_s * 1000 + 4000);
  // Acknowledgements continue: ten of them after the kill (more than were in flight).
  ASSERT_TRUE(d().wait_for_acks_after(t_kill, 10, bound))
      << "writes stopped for more than " << bound.count() << " ms after the synchronous standby"
      << " died; sync key: " << c().etcd_value("sync").value_or("<none>") << "; " << d().summary();
  const auto acks = d().acks();
  std::vector<cluster_clock::time_point> after;
  for (const auto& a : acks)
    if (a.at > t_kill) after.push_back(a.at);
  std::sort(after.begin(), after.end());
  std::printf(
      "synchronous standby node%d killed: acknowledgements went on after %lld ms "
      "(the 10th after %lld ms)\n",
      sync, ms_between(t_kill, after.front()), ms_between(t_kill, after.at(9)));
  EXPECT_TRUE(wait_until(
      [&] {
        const auto s = c().sync_set();
        return s && std::find(s->begin(), s->end(), other) != s->end();
      },
      10s))
      << "the synchronous set does not name node" << other << ": "
      << c().etcd_value("sync").value_or("<none>");
  EXPECT_EQ(c().find_primary().value_or(-1), p->index) << "the primary changed";
  c().start(sync);
  EXPECT_TRUE(c().wait_for_role(sync, role_standby, 30s));
  EXPECT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 10, 20s)) << d().summary();
  expect_clean_check();
}

// SIGSTOP of the synchronous standby under load: its connection stays open and answers
// nothing, so only the replication timeout tells the primary; then the synchronous set moves
// to the other standby and writes go on. After SIGCONT the node follows again.
TEST_F(failover, standby_stopped) {
  cluster_options o;
  ASSERT_NO_FATAL_FAILURE(start(o));
  const auto p = c().wait_for_primary(15s);
  ASSERT_TRUE(p);
  const int sync = wait_for_sync_standby(p->index, 30s);
  ASSERT_GE(sync, 0) << "sync key: " << c().etcd_value("sync").value_or("<none>");
  const int other = 3 - p->index - sync;
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 3, 15s));
  const auto t_stop = cluster_clock::now();
  c().stop(sync);
  const auto bound = milliseconds(o.replication_timeout_s * 1000 + 4000);
  ASSERT_TRUE(d().wait_for_acks_after(t_stop, 10, bound))
      << "writes stopped for more than " << bound.count() << " ms after the synchronous standby"
      << " was stopped; sync key: " << c().etcd_value("sync").value_or("<none>") << "; "
      << d().summary();
  std::vector<cluster_clock::time_point> after;
  for (const auto& a : d().acks())
    if (a.at > t_stop) after.push_back(a.at);
  std::sort(after.begin(), after.end());
  std::printf("synchronous standby node%d stopped: the 10th acknowledgement after %lld ms\n", sync,
              ms_between(t_stop, after.at(9)));
  EXPECT_TRUE(wait_until(
      [&] {
        const auto s = c().sync_set();
        return s && std::find(s->begin(), s->end(), other) != s->end();
      },
      10s))
      << "the synchronous set does not name node" << other << ": "
      << c().etcd_value("sync").value_or("<none>");
  c().cont(sync);
  EXPECT_TRUE(c().wait_for_role(sync, role_standby, 30s));
  EXPECT_EQ(c().find_primary().value_or(-1), p->index) << "the primary changed";
  EXPECT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 10, 20s)) << d().summary();
  expect_clean_check();
}

// etcd stopped under load: within the lease the primary stops acknowledging; etcd back,
// writes resume.
TEST_F(failover, etcd_stopped) {
  cluster_options o;
  ASSERT_NO_FATAL_FAILURE(start(o));
  const auto p = c().wait_for_primary(15s);
  ASSERT_TRUE(p);
  ASSERT_GE(wait_for_sync_standby(p->index, 30s), 0);
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 3, 15s));
  const auto t_stop = cluster_clock::now();
  c().etcd().stop();
  std::this_thread::sleep_for(milliseconds(o.lease_ttl_s * 1000 + 3000));
  const auto last = d().last_ack_by(-1);
  ASSERT_TRUE(last);
  const long long after_ms = ms_between(t_stop, last->at);
  std::printf("etcd stopped: the last acknowledgement %lld ms later (node%d)\n", after_ms,
              last->node);
  EXPECT_LE(after_ms, o.lease_ttl_s * 1000 + 1000)
      << "a node acknowledged writes past its lease with etcd gone";
  const auto t_start = cluster_clock::now();
  c().etcd().start();
  ASSERT_TRUE(d().wait_for_acks_after(t_start, 5, 30s))
      << "writes did not resume within 30 s of etcd's restart; " << d().summary();
  const auto resumed = d().first_ack_after(t_start);
  std::printf("etcd started again: node%d acknowledged after %lld ms\n", resumed->node,
              ms_between(t_start, resumed->at));
  expect_clean_check();
}

// A node holds records the cluster never acknowledged, then rejoins: it cuts them and
// follows the new primary.
//
// How the tail is made, with the rules of docs/CLUSTER.md (only a member of the synchronous
// set may become primary; strict mode waits rather than empty the set): primary A, sync
// standby B, async C. Kill C, then B: the set still names B. A takes writes into its own
// journal but cannot acknowledge them (unavailable after --replication-timeout 1). Kill A:
// its journal ends past B's. Restart B and C: B, named in the set, becomes primary and
// writes the same batches again (the driver resends them) at the LSNs A used for its tail,
// in a new term. Restart A: its FOLLOW is answered `diverged`; it cuts after the last record
// it shares with B and catches up. At the end A's journal equals B's.
TEST_F(failover, diverged_tail) {
  cluster_options o;
  o.replication_timeout_s = 1;
  driver_options dopt;
  dopt.pause = 20ms;  // a small journal: the records are compared one by one at the end
  ASSERT_NO_FATAL_FAILURE(start(o, dopt));
  const auto p = c().wait_for_primary(15s);
  ASSERT_TRUE(p);
  const int a = p->index;
  const int b = wait_for_sync_standby(a, 30s);
  ASSERT_GE(b, 0);
  const int cc = 3 - a - b;
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 5, 15s));

  c().kill(cc);
  c().kill(b);
  const auto t_alone = cluster_clock::now();
  const auto b_records = journal_records(c(), b);
  const std::uint64_t lsn_b = last_lsn(b_records);
  const auto unavailable = [&] {
    const auto o2 = d().outcomes();
    const auto it = o2.find("unavailable");
    return it == o2.end() ? std::uint64_t{0} : it->second;
  };
  const std::uint64_t before = unavailable();
  ASSERT_TRUE(wait_until([&] { return unavailable() >= before + 2; }, 20s))
      << "node" << a << " alone did not answer unavailable; " << d().summary();
  c().kill(a);
  for (const ack_record& r : d().acks())
    EXPECT_FALSE(r.node == a && r.at > t_alone + 500ms)
        << "node" << a << " acknowledged batch " << r.batch << " without a standby, "
        << ms_between(t_alone, r.at) << " ms after they died";
  const auto a_old = journal_records(c(), a);
  const std::uint64_t lsn_a = last_lsn(a_old);
  std::printf("standbys killed at LSN %llu; node%d alone wrote up to LSN %llu\n",
              static_cast<unsigned long long>(lsn_b), a, static_cast<unsigned long long>(lsn_a));
  ASSERT_GT(lsn_a, lsn_b) << "node" << a << " holds no record that node" << b << " lacks";

  c().start(b);
  c().start(cc);
  const auto np = c().wait_for_primary(30s, a);
  ASSERT_TRUE(np) << "no primary after the synchronous standby's restart";
  EXPECT_EQ(np->index, b) << "a node outside the synchronous set became primary";
  const auto t_new = cluster_clock::now();
  ASSERT_TRUE(d().wait_for_acks_after(t_new - 5s, 10, 30s, a)) << d().summary();
  c().start(a);
  ASSERT_TRUE(c().wait_for_role(a, role_standby, 30s))
      << "node" << a << " is not a standby 30 s after its restart";
  ASSERT_TRUE(d().wait_for_acks_after(cluster_clock::now(), 20, 30s)) << d().summary();
  d().stop();
  std::this_thread::sleep_for(1s);  // the standbys take the last groups

  const int primary = c().find_primary().value_or(-1);
  ASSERT_GE(primary, 0);
  const auto on_primary = journal_records(c(), primary);
  bool tail_differed = false;
  for (const auto& [lsn, digest] : a_old)
    if (lsn > lsn_b) {
      const auto it = on_primary.find(lsn);
      if (it != on_primary.end() && it->second != digest) tail_differed = true;
    }
  std::printf("node%d's old tail %s the primary's records at the same LSNs\n", a,
              tail_differed ? "differs from" : "does not differ from");
  EXPECT_TRUE(tail_differed) << "the primary did not write other records at the LSNs of node" << a
                             << "'s tail";
  for (int i = 0; i < c().size(); ++i) {
    if (i == primary) continue;
    const auto mine = journal_records(c(), i);
    EXPECT_EQ(last_lsn(mine), last_lsn(on_primary))
        << "node" << i << " ends at another LSN than the primary node" << primary;
    std::size_t differ = 0;
    for (const auto& [lsn, digest] : mine) {
      const auto it = on_primary.find(lsn);
      if (it != on_primary.end() && it->second != digest) ++differ;
    }
    EXPECT_EQ(differ, 0u) << "node" << i << " holds " << differ
                          << " records that differ from the primary's";
  }
  expect_clean_check();
}

}  // namespace
}  // namespace remit::test
