// remit::cluster::node in one process: three nodes (each a node, a server on a free loopback
// port and a data directory) against a real etcd. The failover tests with real processes are
// failover_test.cpp; these check the node's own steps where a debugger can reach them: a
// primary is elected and its standbys follow, answers wait for the synchronous standby,
// a standby that was away catches up from the journal files, and a standby takes over when
// the primary goes (its lease runs out) with every acknowledged transfer.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "actors/follower.hpp"
#include "actors/storage.hpp"
#include "engine/reference_ledger.hpp"
#include "gateway/client/client.hpp"
#include "gateway/cluster/node.hpp"
#include "gateway/codec/keys.hpp"
#include "gateway/server/server.hpp"
#include "tests/support/builders.hpp"
#include "tests/support/etcd_process.hpp"

namespace remit::cluster {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

template <class F>
bool wait_until(F&& done, std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  while (!done()) {
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

struct keys {
  codec::key_entry admin = codec::make_key("admin", codec::permission::all);
  codec::key_entry peer = codec::make_key("node", codec::permission::replicate);
};
const keys& test_keys() {
  static const keys k;
  return k;
}

// One node: its server and node, restartable on the same port and data directory.
class test_node {
 public:
  test_node(std::string name, std::string dir, std::uint16_t port, std::string etcd_url,
            std::string cluster)
      : name_(std::move(name)),
        dir_(std::move(dir)),
        port_(port),
        etcd_(std::move(etcd_url)),
        cluster_(std::move(cluster)) {}
  ~test_node() { crash(); }

  void start() {
    node_config c;
    c.election.cluster = cluster_;
    c.election.node = name_;
    c.election.address = "127.0.0.1:" + std::to_string(port_);
    c.election.etcd.endpoints = {etcd_};
    c.election.lease_ttl = 1s;
    c.engine.data_dir = dir_;
    c.engine.threads = 1;
    c.engine.shards = 1;
    c.engine.account_hosts = 2;
    c.engine.snapshot_at_shutdown = false;
    c.peer_key_id = test_keys().peer.id;
    c.peer_secret = test_keys().peer.secret;
    c.replication_timeout = 3s;
    c.standby_stall = 500ms;
    c.heartbeat_interval = 200ms;
    if (tweak_) tweak_(c);
    c.log = [n = name_](std::string_view line) {
      std::fprintf(stderr, "[%s] %.*s\n", n.c_str(), static_cast<int>(line.size()), line.data());
    };
    node_ = std::make_unique<node>(c);
    gateway::server_config s;
    s.host = "127.0.0.1";
    s.port = port_;
    s.keys = {test_keys().admin, test_keys().peer};
    s.io_threads = 1;
    s.inflight_events_max = 1u << 16;
    s.drain_timeout = 2s;
    server_ = std::make_unique<gateway::server>(*node_, s);
    std::string why;
    ASSERT_TRUE(node_->start(*server_, why)) << why;
  }
  // As a crash leaves etcd: the lease runs out by itself; the data directory stays.
  void crash() {
    if (!node_) return;
    node_->request_stop();
    node_->shutdown(*server_, false);
    server_.reset();
    node_.reset();
  }
  bool running() const { return node_ != nullptr; }
  void set_tweak(std::function<void(node_config&)> f) { tweak_ = std::move(f); }
  // The last LSN durable on the node, from its metrics.
  std::uint64_t durable_lsn() const {
    const std::string m = node_->metrics_text();
    const std::string key = "\nremit_cluster_durable_lsn ";
    const auto at = m.find(key);
    return at == std::string::npos ? 0 : std::stoull(m.substr(at + key.size()));
  }
  std::uint32_t role() const { return node_ ? node_->hello_role() : 0; }
  bool is_primary() const {
    return role() == static_cast<std::uint32_t>(codec::node_role::primary);
  }
  std::uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string name_, dir_;
  std::uint16_t port_;
  std::string etcd_, cluster_;
  std::unique_ptr<node> node_;
  std::unique_ptr<gateway::server> server_;
  std::function<void(node_config&)> tweak_;
};

class node_test : public test::etcd_test {
 protected:
  void SetUp() override {
    test::etcd_test::SetUp();
    if (IsSkipped()) return;
    std::random_device rd;
    root_ = std::filesystem::temp_directory_path() /
            ("remit-node-test-" + std::to_string(rd()) + std::to_string(rd()));
    for (int i = 0; i < 3; ++i) {
      const std::string name = "n" + std::to_string(i);
      std::filesystem::create_directories(root_ / name);
      nodes_.push_back(std::make_unique<test_node>(name, (root_ / name).string(), test::free_port(),
                                                   etcd().client_url(), "t"));
    }
  }
  void TearDown() override {
    nodes_.clear();
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
    test::etcd_test::TearDown();
  }

  std::optional<std::size_t> primary() const {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i]->is_primary()) return i;
    return std::nullopt;
  }

  // follow: find the primary; else stay on node i whatever its role.
  std::unique_ptr<client::client> connect(std::size_t i, bool follow = true) {
    client::config c;
    c.follow_primary = follow;
    c.host = "127.0.0.1";
    c.port = nodes_[i]->port();
    c.key_id = test_keys().admin.id;
    c.secret = test_keys().admin.secret;
    c.request_timeout = 20s;
    return std::make_unique<client::client>(c);
  }

  std::filesystem::path root_;
  std::vector<std::unique_ptr<test_node>> nodes_;
};

std::vector<transfer> transfers(u128 first_id, int n) {
  std::vector<transfer> out;
  for (int i = 0; i < n; ++i) out.push_back(test::make_transfer(first_id + i, 1, 2, 10));
  return out;
}

TEST_F(node_test, a_primary_is_elected_its_standbys_follow_and_a_standby_takes_over) {
  for (auto& n : nodes_) n->start();
  ASSERT_TRUE(wait_until([&] { return primary().has_value(); }, 20s));
  const std::size_t p = *primary();
  auto c = connect(p);
  EXPECT_EQ(c->session().role, static_cast<std::uint32_t>(codec::node_role::primary));
  std::vector<account> accounts = {test::make_account(1), test::make_account(2)};
  auto r = c->create_accounts(accounts);
  ASSERT_TRUE(r.ok()) << r.error;
  for (const auto& x : r.results) EXPECT_EQ(x.status, 0u);
  for (int round = 0; round < 5; ++round) {
    auto t = c->create_transfers(transfers(100 + 10 * round, 10));
    ASSERT_TRUE(t.ok()) << t.error;
    for (const auto& x : t.results) EXPECT_EQ(x.status, 0u);
  }
  // A standby answers not_primary with the primary's address.
  const std::size_t s = (p + 1) % 3;
  {
    auto sc = connect(s, false);
    EXPECT_EQ(sc->session().role, static_cast<std::uint32_t>(codec::node_role::standby));
    const std::array<u128, 1> ids = {1};
    auto l = sc->lookup_accounts(ids);
    EXPECT_EQ(l.status, codec::status::not_primary);
    EXPECT_EQ(l.primary, "127.0.0.1:" + std::to_string(nodes_[p]->port()));
  }
  c.reset();
  // The primary goes; its synchronous standby takes over with every transfer.
  nodes_[p]->crash();
  ASSERT_TRUE(wait_until([&] { return primary().has_value(); }, 20s));
  const std::size_t q = *primary();
  EXPECT_NE(q, p);
  auto c2 = connect(q);
  std::vector<u128> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(100 + i);
  // Writes go on once the other standby follows the new primary.
  auto t = c2->create_transfers(transfers(1000, 5));
  ASSERT_TRUE(t.ok()) << t.error << " " << codec::name(t.status);
  auto found = c2->lookup_transfers(ids);
  ASSERT_TRUE(found.ok()) << found.error;
  EXPECT_EQ(found.transfers.size(), ids.size());
  const std::array<u128, 2> acc = {1, 2};
  auto a = c2->lookup_accounts(acc);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.accounts.size(), 2u);
  EXPECT_EQ(a.accounts[0].debits_posted, u128{550});
  EXPECT_EQ(a.accounts[1].credits_posted, u128{550});
  // The old primary comes back as a standby and catches up.
  nodes_[p]->start();
  ASSERT_TRUE(wait_until(
      [&] { return nodes_[p]->role() == static_cast<std::uint32_t>(codec::node_role::standby); },
      10s));
}

// A standby that starts after the primary's journal files were rolled away (snapshots cover
// them) gets the primary's snapshot, then the journal after it, and holds the same state.
TEST_F(node_test, a_late_standby_catches_up_from_the_snapshot) {
  for (auto& n : nodes_)
    n->set_tweak([](node_config& c) {
      c.engine.journal_file_size_max = 4096;  // roll often: every roll snapshots and prunes
      c.engine.snapshot_every_records = 20;
    });
  nodes_[0]->start();
  nodes_[1]->start();
  ASSERT_TRUE(wait_until([&] { return primary().has_value(); }, 20s));
  const std::size_t p = *primary();
  auto c = connect(p);
  std::vector<account> accounts;
  for (u128 id = 1; id <= 8; ++id) accounts.push_back(test::make_account(id));
  ASSERT_TRUE(c->create_accounts(accounts).ok());
  for (int round = 0; round < 60; ++round) {
    const u128 dr = 1 + round % 8, cr = 1 + (round + 3) % 8;
    auto t =
        c->create_transfers(std::vector<transfer>{test::make_transfer(500 + round, dr, cr, 7)});
    ASSERT_TRUE(t.ok()) << t.error;
  }
  // The primary's oldest journal file no longer starts at LSN 1.
  storage::extent ext;
  std::string why;
  ASSERT_TRUE(storage::journal_extent(nodes_[p]->dir(), ext, why)) << why;
  ASSERT_GT(ext.oldest_lsn, 1u);
  ASSERT_GT(ext.snapshot_lsn, 0u);
  nodes_[2]->start();
  const std::uint64_t target = nodes_[p]->durable_lsn();
  ASSERT_TRUE(wait_until([&] { return nodes_[2]->durable_lsn() >= target; }, 20s))
      << nodes_[2]->durable_lsn() << " of " << target;
  // One more write reaches it as a GROUP after the snapshot.
  ASSERT_TRUE(c->create_transfers(std::vector<transfer>{test::make_transfer(900, 1, 2, 5)}).ok());
  const std::uint64_t last = nodes_[p]->durable_lsn();
  ASSERT_TRUE(wait_until([&] { return nodes_[2]->durable_lsn() >= last; }, 10s));
  nodes_[2]->crash();
  reference_ledger copy;
  storage::recovery_report report;
  ASSERT_TRUE(storage::recover(nodes_[2]->dir(), copy, report, why)) << why;
  EXPECT_EQ(report.last_lsn, last);
  EXPECT_FALSE(report.snapshot.empty());
  std::vector<u128> ids;
  for (u128 id = 1; id <= 8; ++id) ids.push_back(id);
  auto a = c->lookup_accounts(ids);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a.accounts.size(), ids.size());
  for (const account& x : a.accounts) {
    const account_state* y = copy.find_account(x.id);
    ASSERT_NE(y, nullptr);
    EXPECT_EQ(y->a.debits_posted, x.debits_posted);
    EXPECT_EQ(y->a.credits_posted, x.credits_posted);
  }
  EXPECT_EQ(copy.transfer_count(), 61u);
}

}  // namespace
}  // namespace remit::cluster
