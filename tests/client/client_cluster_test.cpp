// remit::client following the primary of a cluster (docs/PROTOCOL.md section 9), against
// real gateway::server nodes in this process. Each node is a server built with cluster hooks
// (gateway::cluster_hooks) that a `fake_cluster` drives: which node is primary, and when the
// primary's answers turn into `unavailable`. Every node has the same engine attached, so a
// request answered by one is found by the next, as after a real failover: whatever the
// client does, each transfer must be answered once and applied once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "gateway/client/client.hpp"
#include "gateway/codec/address.hpp"
#include "gateway/codec/keys.hpp"
#include "gateway/server/server.hpp"

namespace remit::client_test {
namespace {

using namespace std::chrono_literals;
using remit::client::client;
using remit::client::client_error;
using remit::client::config;
using remit::client::reply;

const codec::key_entry& test_key() {
  static const codec::key_entry k = codec::make_key("cluster-client", codec::permission::all);
  return k;
}

// Which node serves, shared by the nodes' hooks. Node i serves while primary == i; the
// others answer as standbys naming it.
struct fake_cluster {
  std::atomic<int> primary{0};  // -1: none (a failover under way)
  // Answers of the primary turned into `unavailable` (its engine executed the request).
  std::atomic<int> unavailable_left{0};
  // The next answer of the primary: it loses its role to `fail_over_to` before answering,
  // so the answer is `unavailable` and the request was executed.
  std::atomic<int> fail_over_to{-1};

  std::mutex mu;
  std::vector<std::string> addresses;  // guarded by mu

  std::string address_of(int i) {
    std::lock_guard lk(mu);
    return i >= 0 && static_cast<std::size_t>(i) < addresses.size() ? addresses[i] : "";
  }
};

class node_hooks final : public gateway::cluster_hooks {
 public:
  node_hooks(fake_cluster& c, int index) : cluster_(c), index_(index) {}

  std::uint32_t hello_role() const override {
    return static_cast<std::uint32_t>(
        cluster_.primary.load() == index_ ? codec::node_role::primary : codec::node_role::standby);
  }
  bool serving(std::string& primary) const override {
    const int p = cluster_.primary.load();
    if (p == index_) return true;
    primary = cluster_.address_of(p);
    return false;
  }
  bool may_answer() const override {
    if (cluster_.primary.load() != index_) return false;
    if (const int to = cluster_.fail_over_to.exchange(-1); to >= 0) {
      cluster_.primary = to;
      return false;
    }
    int left = cluster_.unavailable_left.load();
    while (left > 0 && !cluster_.unavailable_left.compare_exchange_weak(left, left - 1)) {
    }
    return left <= 0;
  }
  void on_node_frame(const std::shared_ptr<gateway::node_link>&, const codec::frame_header&,
                     std::span<const std::byte>) override {}
  void on_node_closed(const gateway::node_link&) override {}
  std::string metrics_text() const override { return {}; }

 private:
  fake_cluster& cluster_;
  int index_;
};

engine_config engine_nodurable() {
  engine_config c;
  c.shards = 2;
  c.threads = 2;
  c.durability = false;
  c.snapshot_at_shutdown = false;
  return c;
}

// `n` nodes on loopback with one engine attached to all of them.
class cluster_fixture : public ::testing::Test {
 protected:
  void start(int n, int primary) {
    cluster_.primary = primary;
    eng_ = std::make_unique<engine>(engine_nodurable());
    for (int i = 0; i < n; ++i) {
      hooks_.push_back(std::make_unique<node_hooks>(cluster_, i));
      gateway::server_config sc;
      sc.port = 0;
      sc.keys = {test_key()};
      sc.io_threads = 1;
      sc.inflight_events_max = 1u << 16;
      sc.drain_timeout = 5000ms;
      servers_.push_back(std::make_unique<gateway::server>(*hooks_.back(), sc));
      servers_.back()->attach_engine(*eng_);
      std::lock_guard lk(cluster_.mu);
      cluster_.addresses.push_back("127.0.0.1:" + std::to_string(servers_.back()->port()));
    }
  }

  void TearDown() override {
    for (auto& s : servers_) s->stop();
    if (eng_) eng_->shutdown();
  }

  codec::server_address address(int i) const { return {"127.0.0.1", servers_.at(i)->port()}; }

  config config_for(std::vector<int> nodes) const {
    config c;
    for (int i : nodes) c.servers.push_back(address(i));
    c.key_id = test_key().id;
    c.secret = test_key().secret;
    c.connect_timeout = 3000ms;
    c.request_timeout = 10000ms;
    return c;
  }

  // Creates accounts 1 and 2 on ledger 1.
  void create_two_accounts(client& c) {
    std::vector<account> a{make_account(1), make_account(2)};
    const reply r = c.create_accounts(a);
    ASSERT_TRUE(r.ok()) << r.error;
    for (const result& x : r.results) ASSERT_EQ(x.status, 0u);
  }

  static account make_account(u128 id) {
    account a{};
    a.id = id;
    a.ledger = 1;
    a.code = 10;
    return a;
  }

  static transfer make_transfer(u128 id, u128 amount = 1) {
    transfer t{};
    t.id = id;
    t.debit_account_id = 1;
    t.credit_account_id = 2;
    t.amount = amount;
    t.ledger = 1;
    t.code = 1;
    return t;
  }

  // Account `id` as the engine holds it now.
  account lookup(u128 id) {
    engine_reply r = eng_->lookup_accounts(std::vector<u128>{id}).get();
    EXPECT_EQ(r.status, engine_status::ok);
    EXPECT_EQ(r.accounts.size(), 1u);
    return r.accounts.empty() ? account{} : r.accounts.front();
  }

  fake_cluster cluster_;
  std::unique_ptr<engine> eng_;
  std::vector<std::unique_ptr<node_hooks>> hooks_;
  std::vector<std::unique_ptr<gateway::server>> servers_;
};

bool done(const result& r) {
  return r.status == static_cast<std::uint32_t>(create_transfer_result::ok) ||
         r.status == static_cast<std::uint32_t>(create_transfer_result::exists);
}

TEST_F(cluster_fixture, a_list_lands_on_the_primary_past_a_standby) {
  start(3, 1);
  client c(config_for({0, 1, 2}));
  const remit::client::session_info s = c.session();
  EXPECT_EQ(s.role, static_cast<std::uint32_t>(codec::node_role::primary));
  EXPECT_EQ(s.server, codec::format_server(address(1)));
  create_two_accounts(c);
  EXPECT_EQ(c.stats().reconnects, 0u);
}

TEST_F(cluster_fixture, the_search_waits_for_a_primary_while_standbys_answer) {
  start(2, -1);  // no primary yet
  std::thread promote([&] {
    std::this_thread::sleep_for(300ms);
    cluster_.primary = 1;
  });
  const auto t0 = std::chrono::steady_clock::now();
  client c(config_for({0, 1}));
  promote.join();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_EQ(c.session().server, codec::format_server(address(1)));
  EXPECT_TRUE(c.ping({}).ok());
}

TEST_F(cluster_fixture, with_no_primary_the_constructor_gives_up_naming_what_it_saw) {
  start(2, -1);
  config cfg = config_for({0, 1});
  cfg.connect_timeout = 300ms;
  const auto t0 = std::chrono::steady_clock::now();
  try {
    client c(cfg);
    FAIL() << "connected with no primary";
  } catch (const client_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("no primary"), std::string::npos) << what;
    EXPECT_NE(what.find(codec::format_server(address(0)) + ": a standby"), std::string::npos)
        << what;
    EXPECT_NE(what.find(codec::format_server(address(1)) + ": a standby"), std::string::npos)
        << what;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3000ms);
}

TEST_F(cluster_fixture, a_primary_that_turns_standby_is_followed_to_the_new_one) {
  start(2, 0);
  client c(config_for({0, 1}));
  ASSERT_EQ(c.session().server, codec::format_server(address(0)));
  create_two_accounts(c);
  const std::vector<transfer> first{make_transfer(100, 5)};
  ASSERT_TRUE(c.create_transfers(first).ok());

  cluster_.primary = 1;  // node 0 now answers not_primary naming node 1
  const std::vector<transfer> second{make_transfer(101, 7)};
  const reply r = c.create_transfers(second);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].status, 0u);
  EXPECT_EQ(r.resends, 1u);
  EXPECT_EQ(c.session().server, codec::format_server(address(1)));
  EXPECT_EQ(c.session().role, static_cast<std::uint32_t>(codec::node_role::primary));
  EXPECT_EQ(c.stats().not_primary_followed, 1u);
  EXPECT_EQ(c.stats().reconnects, 1u);
  // Found through the new primary, applied once.
  const std::vector<u128> ids{101};
  const reply found = c.lookup_transfers(ids);
  ASSERT_TRUE(found.ok()) << found.error;
  ASSERT_EQ(found.transfers.size(), 1u);
  EXPECT_TRUE(found.transfers[0].amount == 7);
  EXPECT_TRUE(lookup(1).debits_posted == 12);
}

TEST_F(cluster_fixture, unavailable_is_resent_until_the_primary_may_answer) {
  start(2, 0);
  client c(config_for({0, 1}));
  create_two_accounts(c);
  cluster_.unavailable_left = 2;  // executed, but answered unavailable twice
  const std::vector<transfer> t{make_transfer(200, 3)};
  const reply r = c.create_transfers(t);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.results.size(), 1u);
  // The first send created it; the resend that is answered finds it.
  EXPECT_EQ(r.results[0].status, static_cast<std::uint32_t>(create_transfer_result::exists));
  EXPECT_NE(r.results[0].timestamp, 0u);
  EXPECT_EQ(r.resends, 2u);
  EXPECT_EQ(c.stats().unavailable_resent, 2u);
  EXPECT_EQ(c.stats().reconnects, 0u);  // the same session
  EXPECT_TRUE(lookup(1).debits_posted == 3);
}

TEST_F(cluster_fixture, unavailable_then_not_primary_goes_to_the_new_primary) {
  start(2, 0);
  client c(config_for({0, 1}));
  create_two_accounts(c);
  cluster_.fail_over_to = 1;  // node 0 loses its role while the transfer is in flight
  const std::vector<transfer> t{make_transfer(300, 4)};
  const reply r = c.create_transfers(t);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].status, static_cast<std::uint32_t>(create_transfer_result::exists));
  EXPECT_EQ(c.session().server, codec::format_server(address(1)));
  const remit::client::counters n = c.stats();
  EXPECT_EQ(n.unavailable_resent, 1u);
  EXPECT_EQ(n.not_primary_followed, 1u);
  EXPECT_TRUE(lookup(1).debits_posted == 4);
}

// The primary stops under load (its sessions close; connections to it are refused) and the
// standby takes over a little later: every call is answered, ok or exists, once, and every
// transfer is applied once.
TEST_F(cluster_fixture, a_primary_stopped_under_load_every_call_answered_none_applied_twice) {
  start(2, 0);
  config cfg = config_for({0, 1});
  cfg.batching = true;
  client c(cfg);
  create_two_accounts(c);

  constexpr int calls = 400;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> answers(calls, 0);
  std::vector<reply> replies(calls);
  int answered = 0;
  std::thread sender([&] {
    for (int i = 0; i < calls; ++i) {
      const std::vector<transfer> t{make_transfer(1000 + i, 1)};
      c.create_transfers(t, [&, i](reply&& r) {
        std::lock_guard lk(mu);
        ++answers[i];
        replies[i] = std::move(r);
        ++answered;
        cv.notify_all();
      });
      if (i % 20 == 0) std::this_thread::sleep_for(2ms);
    }
  });
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 5s, [&] { return answered >= calls / 4; }));
  }
  cluster_.primary = -1;  // the old primary is going; no one serves for a moment
  servers_[0]->stop();
  std::this_thread::sleep_for(100ms);
  cluster_.primary = 1;
  sender.join();
  {
    std::unique_lock lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, 10s, [&] { return answered == calls; })) << answered;
  }
  for (int i = 0; i < calls; ++i) {
    EXPECT_EQ(answers[i], 1) << "call " << i;
    const reply& r = replies[i];
    ASSERT_TRUE(r.ok()) << "call " << i << ": " << r.error;
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_TRUE(done(r.results[0])) << "call " << i << ": " << r.results[0].status;
  }
  EXPECT_EQ(c.session().server, codec::format_server(address(1)));
  EXPECT_GE(c.stats().reconnects, 1u);
  // Each transfer moved 1 once.
  const account debit = lookup(1);
  EXPECT_TRUE(debit.debits_posted == calls) << static_cast<std::uint64_t>(debit.debits_posted);
  EXPECT_TRUE(lookup(2).credits_posted == calls);
}

}  // namespace
}  // namespace remit::client_test
