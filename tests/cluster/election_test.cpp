// remit::cluster::node_role against a real etcd (tests/support/etcd_process.hpp), one etcd
// per test, lease TTLs of 1-2 s: bootstrap, failover after a crash (only to a member of the
// synchronous set), resign, etcd paused under a primary, a deposed primary's writes to
// etcd, two candidates racing, and the hot-path check with the election thread stalled.
#include "gateway/cluster/election.hpp"

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/etcd_process.hpp"

namespace remit::cluster {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Polls `done` every 10 ms until it holds or `timeout` passes; answers whether it held.
template <class F>
bool wait_until(F&& done, milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (!done()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A step hook the test can close: the election thread then waits in it (a stalled thread,
// as under SIGSTOP) until the test opens it again, at most 20 s.
class gate {
 public:
  void close() {
    std::lock_guard lock(m_);
    closed_ = true;
  }
  void open() {
    {
      std::lock_guard lock(m_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  // The election thread is waiting in the hook.
  bool wait_blocked(milliseconds timeout) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, timeout, [this] { return blocked_; });
  }
  void hook() {
    std::unique_lock lock(m_);
    if (!closed_) return;
    blocked_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, 20s, [this] { return !closed_; });
    blocked_ = false;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool closed_ = false;
  bool blocked_ = false;
};

// steady_clock moved on by what the test adds.
class test_clock {
 public:
  clock_type::time_point now() const {
    return clock_type::now() + std::chrono::nanoseconds(offset_ns_.load());
  }
  void advance(std::chrono::nanoseconds by) { offset_ns_ += by.count(); }

 private:
  std::atomic<std::int64_t> offset_ns_{0};
};

// Every role a node announced, in order.
class recorder {
 public:
  node_role::on_change callback() {
    return [this](const role_state& s) {
      std::lock_guard lock(m_);
      seen_.push_back(s);
    };
  }
  std::vector<role_state> seen() const {
    std::lock_guard lock(m_);
    return seen_;
  }
  int count(role r) const {
    std::lock_guard lock(m_);
    return static_cast<int>(
        std::count_if(seen_.begin(), seen_.end(), [r](const auto& s) { return s.role == r; }));
  }

 private:
  mutable std::mutex m_;
  std::vector<role_state> seen_;
};

class election_test : public test::etcd_test {
 protected:
  election_config config(const std::string& node, std::chrono::seconds ttl = 1s) {
    election_config cfg;
    cfg.cluster = "t";
    cfg.node = node;
    cfg.address = node + ":7400";
    cfg.etcd = etcd::config{{etcd().client_url()}, 2000ms};
    cfg.lease_ttl = ttl;
    return cfg;
  }
  std::unique_ptr<node_role> make(election_config cfg, recorder* r = nullptr) {
    return std::make_unique<node_role>(std::move(cfg), r ? r->callback() : node_role::on_change{});
  }
  etcd::client raw() { return etcd::client(etcd::config{{etcd().client_url()}, 2000ms}); }
  std::string value(const std::string& key) {
    const auto r = raw().get("/remit/t/" + key);
    if (!r.ok() || !r.value()) return "<none>";
    return r.value()->value;
  }
};

bool is(const node_role& n, role r) {
  return n.state().role == r;
}

TEST(election_config_checks, bad_configurations_are_refused_and_the_margin_has_a_default) {
  const auto base = [] {
    election_config cfg;
    cfg.cluster = "c";
    cfg.node = "n1";
    cfg.address = "127.0.0.1:7400";
    cfg.etcd = etcd::config{{"http://127.0.0.1:2379"}, 2000ms};
    return cfg;
  };
  struct row {
    const char* what;
    void (*change)(election_config&);
  };
  const row bad[] = {
      {"empty node", [](election_config& c) { c.node = ""; }},
      {"comma in node", [](election_config& c) { c.node = "a,b"; }},
      {"slash in cluster", [](election_config& c) { c.cluster = "a/b"; }},
      {"long node", [](election_config& c) { c.node = std::string(name_bytes_max + 1, 'n'); }},
      {"empty address", [](election_config& c) { c.address = ""; }},
      {"zero TTL", [](election_config& c) { c.lease_ttl = 0s; }},
      {"margin of TTL/2", [](election_config& c) { c.margin = 1000ms; }},
  };
  for (const auto& r : bad) {
    auto cfg = base();
    r.change(cfg);
    EXPECT_THROW(node_role(std::move(cfg)), std::invalid_argument) << r.what;
  }
  node_role two(base());  // TTL 2 s: margin max(200 ms, 500 ms), etcd calls capped at TTL/3
  EXPECT_EQ(two.margin(), 500ms);
  EXPECT_EQ(two.keepalive_interval(), 666ms);
  EXPECT_EQ(two.config().etcd.timeout, 666ms);
  auto short_ttl = base();
  short_ttl.lease_ttl = 1s;
  node_role one(std::move(short_ttl));
  EXPECT_EQ(one.margin(), 250ms);
  EXPECT_FALSE(one.writes_allowed(one.now()));  // not started: not primary
  EXPECT_EQ(one.state().role, role::unknown);
}

TEST_F(election_test, first_node_bootstraps_as_primary_with_term_1_and_a_second_is_standby) {
  recorder ra;
  auto a = make(config("a"), &ra);
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  auto sa = a->state();
  EXPECT_EQ(sa.term, 1u);
  EXPECT_EQ(sa.leader, "a");
  EXPECT_EQ(sa.primary_address, "a:7400");
  EXPECT_TRUE(a->writes_allowed(a->now()));
  EXPECT_EQ(value("leader"), "a");
  EXPECT_EQ(value("term"), "1");
  EXPECT_EQ(value("primary"), "a:7400");
  EXPECT_EQ(value("sync"), "");  // a new cluster: nobody may follow until the primary says

  auto b = make(config("b"));
  b->start();
  ASSERT_TRUE(wait_until([&] { return is(*b, role::standby); }, 3000ms));
  const auto sb = b->state();
  EXPECT_EQ(sb.leader, "a");
  EXPECT_EQ(sb.primary_address, "a:7400");
  EXPECT_EQ(sb.term, 1u);
  EXPECT_TRUE(sb.sync_exists);
  EXPECT_FALSE(b->writes_allowed(b->now()));

  // Three TTLs later a is still primary in term 1 (its keepalives work) and b is standby.
  std::this_thread::sleep_for(3s);
  sa = a->state();
  EXPECT_EQ(sa.role, role::primary);
  EXPECT_EQ(sa.term, 1u);
  EXPECT_EQ(sa.role_changes, 1u);
  EXPECT_EQ(ra.count(role::primary), 1);
  EXPECT_TRUE(a->writes_allowed(a->now()));
  EXPECT_EQ(b->state().role, role::standby);
  EXPECT_EQ(value("term"), "1");
}

TEST_F(election_test, a_crashed_primary_is_replaced_by_its_sync_standby_with_term_2) {
  auto a = make(config("a"));
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  auto b = make(config("b"));
  b->start();
  ASSERT_TRUE(wait_until([&] { return is(*b, role::standby); }, 3000ms));
  const std::vector<std::string> sync = {"b"};
  ASSERT_TRUE(a->set_sync_set(sync));
  EXPECT_EQ(value("sync"), "b");
  EXPECT_EQ(a->state().sync_set, sync);

  const auto crashed = clock_type::now();
  a->stop();  // no resign: the lease runs out in etcd
  EXPECT_FALSE(a->writes_allowed(a->now()));
  // etcd ends the lease TTL after the last keepalive and revokes expired leases every
  // 500 ms; b sees the free key within its poll interval.
  ASSERT_TRUE(wait_until([&] { return is(*b, role::primary); }, 1000ms + 1500ms));
  const auto took = clock_type::now() - crashed;
  EXPECT_GE(took, 1000ms - 1000ms / 3) << "before a's lease could have ended";
  const auto sb = b->state();
  EXPECT_EQ(sb.term, 2u);
  EXPECT_EQ(sb.leader, "b");
  EXPECT_TRUE(b->writes_allowed(b->now()));
  EXPECT_EQ(value("term"), "2");
  EXPECT_EQ(value("leader"), "b");
  EXPECT_EQ(value("primary"), "b:7400");
}

TEST_F(election_test, a_standby_outside_the_sync_set_never_takes_over) {
  auto a = make(config("a"));
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  const std::vector<std::string> sync = {"b"};
  ASSERT_TRUE(a->set_sync_set(sync));
  recorder rc;
  auto c = make(config("c"), &rc);
  c->start();
  ASSERT_TRUE(wait_until([&] { return is(*c, role::standby); }, 3000ms));

  a->stop();
  ASSERT_TRUE(wait_until([&] { return value("leader") == "<none>"; }, 3000ms));
  std::this_thread::sleep_for(2s);  // eight of c's polls with the key free
  EXPECT_EQ(c->state().role, role::standby);
  EXPECT_EQ(rc.count(role::primary), 0);
  EXPECT_EQ(value("leader"), "<none>");
  EXPECT_EQ(value("term"), "1");

  auto b = make(config("b"));  // the one the set names comes back: it takes over
  b->start();
  ASSERT_TRUE(wait_until([&] { return is(*b, role::primary); }, 3000ms));
  EXPECT_EQ(b->state().term, 2u);
  ASSERT_TRUE(wait_until([&] { return c->state().leader == "b"; }, 3000ms));
  EXPECT_EQ(c->state().primary_address, "b:7400");
  EXPECT_EQ(rc.count(role::primary), 0);
}

TEST_F(election_test, resign_hands_over_promptly) {
  auto a = make(config("a", 2s));
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  auto b = make(config("b", 2s));
  b->start();
  ASSERT_TRUE(wait_until([&] { return is(*b, role::standby); }, 3000ms));
  ASSERT_TRUE(a->set_sync_set(std::vector<std::string>{"b"}));

  const auto resigned = clock_type::now();
  EXPECT_TRUE(a->resign());
  EXPECT_FALSE(a->writes_allowed(a->now()));
  EXPECT_EQ(a->state().role, role::unknown);
  // Within b's poll interval (500 ms) and a few calls; an expiring lease would take longer
  // than TTL - TTL/3 = 1.33 s.
  ASSERT_TRUE(wait_until([&] { return is(*b, role::primary); }, 3000ms));
  EXPECT_LT(clock_type::now() - resigned, 1200ms);
  EXPECT_EQ(b->state().term, 2u);
  EXPECT_FALSE(a->resign());  // nothing left to give up
}

// The leader key replaced by hand (an operator, a restore) while the lease lives: the
// primary sees at its next keepalive that etcd no longer names it, and steps down. When the
// key is free again it takes it back: the term is still its own, so nobody acknowledged
// anything it has not.
TEST_F(election_test, a_primary_whose_key_was_replaced_steps_down) {
  recorder ra;
  auto a = make(config("a"), &ra);
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  ASSERT_TRUE(raw().put("/remit/t/leader", "z").ok());
  ASSERT_TRUE(wait_until([&] { return is(*a, role::standby); }, 2000ms));
  EXPECT_FALSE(a->writes_allowed(a->now()));
  ASSERT_TRUE(wait_until([&] { return a->state().leader == "z"; }, 2000ms));
  EXPECT_EQ(ra.count(role::primary), 1);

  ASSERT_TRUE(raw().del("/remit/t/leader").ok());
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 2000ms));
  EXPECT_EQ(a->state().term, 2u);
  EXPECT_EQ(value("term"), "2");
}

// SIGSTOP of etcd under a primary: it cannot renew, so it must stop taking writes at its
// own deadline, counted from the send time of its last answered keepalive.
TEST_F(election_test, paused_etcd_stops_writes_at_the_lease_deadline_and_the_primary_returns) {
  recorder ra;
  auto a = make(config("a"), &ra);
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  const milliseconds ttl = a->config().lease_ttl;
  std::this_thread::sleep_for(500ms);  // past the first keepalive or two

  etcd().pause();
  clock_type::time_point counted_from{};  // the newest the node reported while allowed
  clock_type::time_point turned_false{};
  const auto give_up = clock_type::now() + 5s;
  while (clock_type::now() < give_up) {
    const auto before = a->state();
    const auto now = a->now();
    const bool allowed = a->writes_allowed(now);
    const auto after = a->state();
    if (!allowed) {
      turned_false = now;
      break;
    }
    for (const auto& s : {before, after})
      if (s.role == role::primary) counted_from = std::max(counted_from, s.lease_counted_from);
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_NE(turned_false, clock_type::time_point{}) << "writes still allowed 5 s into the pause";
  ASSERT_NE(counted_from, clock_type::time_point{});
  // The check turns false exactly at the deadline; the slack is this loop's own sampling
  // (2 ms sleeps on a loaded machine), kept well below the margin so that a deadline
  // without it would fail.
  const auto held = turned_false - counted_from;
  constexpr auto sampling = 100ms;
  static_assert(sampling < 250ms);
  EXPECT_LE(held, ttl - a->margin() + sampling);
  EXPECT_GE(held, ttl - a->margin()) << "no answer can have come: not before the deadline";
  // The role goes too, once the election thread is back from its call (capped at TTL/3).
  ASSERT_TRUE(wait_until([&] { return !is(*a, role::primary); }, ttl));
  EXPECT_EQ(a->state().role, role::unknown);
  EXPECT_FALSE(a->writes_allowed(a->now()));

  std::this_thread::sleep_for(ttl);
  etcd().resume();
  // Alone, and the term still its own: primary again, in the same term (its lease outlived
  // the pause) or the next (it did not).
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 5000ms));
  const auto s = a->state();
  EXPECT_TRUE(s.term == 1 || s.term == 2) << s.term;
  EXPECT_TRUE(a->writes_allowed(a->now()));
  EXPECT_EQ(value("leader"), "a");
  EXPECT_EQ(value("term"), std::to_string(s.term));
  EXPECT_EQ(ra.count(role::primary), 2);
}

// A primary whose thread stalls while its successor takes over still believes it is
// primary; etcd's compare on the leader key keeps it from changing the synchronous set.
TEST_F(election_test, a_deposed_primary_cannot_change_the_sync_set) {
  gate ga;
  auto cfg = config("a");
  cfg.step_hook = [&ga] { ga.hook(); };
  auto a = make(std::move(cfg));
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));
  auto b = make(config("b"));
  b->start();
  ASSERT_TRUE(wait_until([&] { return is(*b, role::standby); }, 3000ms));
  ASSERT_TRUE(a->set_sync_set(std::vector<std::string>{"b"}));

  ga.close();
  ASSERT_TRUE(ga.wait_blocked(3000ms));
  ASSERT_TRUE(wait_until([&] { return is(*b, role::primary); }, 3000ms));
  EXPECT_EQ(a->state().role, role::primary) << "a's thread is stalled: its view is stale";
  EXPECT_FALSE(a->writes_allowed(a->now())) << "but its deadline has passed";
  EXPECT_FALSE(a->set_sync_set(std::vector<std::string>{"c"}));
  EXPECT_EQ(value("sync"), "b");

  ga.open();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::standby); }, 3000ms));
  EXPECT_EQ(a->state().leader, "b");
  EXPECT_FALSE(a->set_sync_set(std::vector<std::string>{"c"}));  // its own view agrees now
  // The new primary can; retried, since on a loaded machine one txn may pass its 333 ms
  // call deadline (false: not known to be applied).
  EXPECT_TRUE(wait_until([&] { return b->set_sync_set(std::vector<std::string>{"a"}); }, 3000ms));
  EXPECT_EQ(value("sync"), "a");
  // Names that are not a set of other nodes are refused without asking etcd.
  EXPECT_FALSE(b->set_sync_set(std::vector<std::string>{"b"}));
  EXPECT_FALSE(b->set_sync_set(std::vector<std::string>{"a", "a"}));
  EXPECT_FALSE(b->set_sync_set(std::vector<std::string>{"a,c"}));
  EXPECT_EQ(value("sync"), "a");
}

// Two members of the synchronous set find the key free at the same moment: in every round
// exactly one becomes primary, with the term plus one.
TEST_F(election_test, of_two_racing_standbys_exactly_one_wins) {
  constexpr int rounds = 5;
  auto c = raw();
  for (int round = 0; round < rounds; ++round) {
    const std::uint64_t term = 10 + static_cast<std::uint64_t>(round);
    ASSERT_TRUE(c.put("/remit/t/term", std::to_string(term)).ok());
    ASSERT_TRUE(c.put("/remit/t/sync", "x,y").ok());
    ASSERT_EQ(value("leader"), "<none>");

    recorder rx, ry;
    auto x = make(config("x", 2s), &rx);  // 2 s: etcd calls get TTL/3 = 666 ms under load
    auto y = make(config("y", 2s), &ry);
    std::barrier both(2);
    std::thread tx([&] {
      both.arrive_and_wait();
      x->start();
    });
    std::thread ty([&] {
      both.arrive_and_wait();
      y->start();
    });
    tx.join();
    ty.join();
    ASSERT_TRUE(wait_until([&] { return is(*x, role::primary) || is(*y, role::primary); }, 3000ms));
    node_role& winner = is(*x, role::primary) ? *x : *y;
    node_role& loser = &winner == x.get() ? *y : *x;
    ASSERT_TRUE(wait_until([&] { return is(loser, role::standby); }, 3000ms));
    ASSERT_TRUE(wait_until([&] { return loser.state().leader == winner.config().node; }, 3000ms));
    EXPECT_EQ(winner.state().term, term + 1);
    EXPECT_EQ(value("term"), std::to_string(term + 1));
    EXPECT_EQ(rx.count(role::primary) + ry.count(role::primary), 1) << "round " << round;
    EXPECT_FALSE(loser.writes_allowed(loser.now()));

    loser.stop();  // first, or it would take over from the resigning winner
    // resign() may answer false on a loaded machine (an etcd call past its deadline): the
    // lease then ends by itself. The next round needs the key free either way.
    (void)winner.resign();
    ASSERT_TRUE(wait_until([&] { return value("leader") == "<none>"; }, 5000ms));
    EXPECT_EQ(rx.count(role::primary) + ry.count(role::primary), 1) << "round " << round;
  }
}

// The hot-path check does not wait for the election thread: with the thread stalled, it
// turns false exactly at the published deadline of the injected clock.
TEST_F(election_test, writes_stop_at_the_deadline_even_with_the_election_thread_stalled) {
  gate ga;
  test_clock tc;
  recorder ra;
  auto cfg = config("a");
  cfg.step_hook = [&ga] { ga.hook(); };
  cfg.now = [&tc] { return tc.now(); };
  auto a = make(std::move(cfg), &ra);
  a->start();
  ASSERT_TRUE(wait_until([&] { return is(*a, role::primary); }, 3000ms));

  ga.close();
  ASSERT_TRUE(ga.wait_blocked(3000ms));
  const auto s = a->state();
  ASSERT_EQ(s.role, role::primary);
  EXPECT_EQ(s.lease_deadline - s.lease_counted_from, a->config().lease_ttl - a->margin());
  EXPECT_TRUE(a->writes_allowed(s.lease_deadline - 1ns));
  EXPECT_FALSE(a->writes_allowed(s.lease_deadline));
  EXPECT_TRUE(a->writes_allowed(a->now()));

  tc.advance(a->config().lease_ttl);  // the clock jumps past the deadline; the thread sleeps
  EXPECT_FALSE(a->writes_allowed(a->now()));
  EXPECT_EQ(a->state().role, role::primary) << "the thread did not run: the check alone said no";
  EXPECT_EQ(ra.count(role::unknown), 0);

  // Back, the thread drops the role (its deadline passed), then finds its lease, key and term
  // unchanged in etcd (real time hardly moved) and is primary again in the same term.
  ga.open();
  ASSERT_TRUE(wait_until([&] { return ra.count(role::primary) == 2; }, 3000ms));
  const auto seen = ra.seen();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen[1].role, role::unknown);
  EXPECT_EQ(seen.back().role, role::primary);
  EXPECT_EQ(seen.back().term, 1u);
  EXPECT_TRUE(a->writes_allowed(a->now()));
  EXPECT_GT(a->state().lease_deadline, tc.now());
}

}  // namespace
}  // namespace remit::cluster
