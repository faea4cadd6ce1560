// `remit cluster-status` (tools/cluster_status): the HEARTBEAT exchange against a
// gateway::server whose fake cluster hooks answer with a Heartbeat the test chooses, a
// server without a cluster (unknown_opcode: standalone), a key without permission 8 and a
// port where nothing listens; then the lag, the table, the JSON and the exit status from
// probes made up here.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "gateway/cluster/node_messages.hpp"
#include "gateway/codec/keys.hpp"
#include "gateway/server/server.hpp"
#include "tools/cli_format.hpp"
#include "tools/cluster_status.hpp"

namespace remit::cli {
namespace {

using namespace std::chrono_literals;

const codec::key_entry& node_key() {
  static const codec::key_entry k = codec::make_key("node", codec::permission::replicate);
  return k;
}
const codec::key_entry& client_key() {
  static const codec::key_entry k = codec::make_key("admin", codec::permission::all);
  return k;
}

// Answers every HEARTBEAT with `answer` (echo_ns set from the request), through the link.
class heartbeat_hooks final : public gateway::cluster_hooks {
 public:
  explicit heartbeat_hooks(cluster::heartbeat a) : answer_(a) {}

  std::uint32_t hello_role() const override { return answer_.role; }
  bool serving(std::string&) const override { return false; }
  bool may_answer() const override { return false; }
  void on_node_frame(const std::shared_ptr<gateway::node_link>& link, const codec::frame_header& h,
                     std::span<const std::byte> body) override {
    cluster::heartbeat asked{};
    const codec::status st = cluster::decode(body, asked);
    {
      std::lock_guard lk(mu_);
      opcodes_.push_back(h.opcode);
      if (st == codec::status::ok) asked_ = asked;
    }
    cluster::heartbeat a = answer_;
    a.echo_ns = asked.sent_at_ns;
    std::vector<std::byte> out;
    cluster::encode(out, cluster::frame_ids{h.request_id, 0, nullptr}, a, true);
    link->send(std::move(out));
  }
  void on_node_closed(const gateway::node_link&) override {}
  std::string metrics_text() const override { return {}; }

  std::optional<cluster::heartbeat> asked() const {
    std::lock_guard lk(mu_);
    return asked_;
  }
  std::vector<std::uint16_t> opcodes() const {
    std::lock_guard lk(mu_);
    return opcodes_;
  }

 private:
  cluster::heartbeat answer_;
  mutable std::mutex mu_;
  std::optional<cluster::heartbeat> asked_;
  std::vector<std::uint16_t> opcodes_;
};

cluster::heartbeat heartbeat_of(codec::node_role role, std::uint64_t term, std::uint64_t lsn) {
  cluster::heartbeat h{};
  h.role = static_cast<std::uint32_t>(role);
  h.term = term;
  h.durable_lsn = lsn;
  h.sent_at_ns = 1;
  return h;
}

gateway::server_config server_config() {
  gateway::server_config c;
  c.port = 0;
  c.keys = {node_key(), client_key()};
  c.io_threads = 1;
  c.inflight_events_max = 1u << 16;
  return c;
}

client::config probe_config(const codec::key_entry& key = node_key()) {
  client::config c;
  c.key_id = key.id;
  c.secret = key.secret;
  c.connect_timeout = 2000ms;
  c.request_timeout = 2000ms;
  return c;
}

codec::server_address at(const gateway::server& s) {
  return {"127.0.0.1", s.port()};
}

TEST(cluster_status_probe, a_node_answers_with_its_heartbeat) {
  heartbeat_hooks primary(heartbeat_of(codec::node_role::primary, 7, 120));
  heartbeat_hooks standby(heartbeat_of(codec::node_role::standby, 7, 95));
  gateway::server p(primary, server_config());
  gateway::server s(standby, server_config());
  const std::vector<node_status> nodes{probe_node(probe_config(), at(s)),
                                       probe_node(probe_config(), at(p))};
  const node_status& sn = nodes[0];
  const node_status& pn = nodes[1];
  ASSERT_TRUE(pn.reachable) << pn.error;
  ASSERT_TRUE(sn.reachable) << sn.error;
  EXPECT_TRUE(pn.cluster);
  EXPECT_EQ(pn.server, "127.0.0.1:" + std::to_string(p.port()));
  EXPECT_EQ(pn.role, 1u);
  EXPECT_EQ(pn.term, 7u);
  EXPECT_EQ(pn.durable_lsn, 120u);
  EXPECT_EQ(sn.role, 2u);
  EXPECT_EQ(sn.durable_lsn, 95u);
  EXPECT_LT(pn.round_trip_us, 2'000'000u);
  // What was asked: one HEARTBEAT from a standby that knows nothing, stamped now.
  EXPECT_EQ(primary.opcodes(), std::vector<std::uint16_t>{69});
  const std::optional<cluster::heartbeat> asked = primary.asked();
  ASSERT_TRUE(asked);
  EXPECT_EQ(asked->role, 2u);
  EXPECT_EQ(asked->term, 0u);
  EXPECT_EQ(asked->durable_lsn, 0u);
  EXPECT_EQ(asked->echo_ns, 0u);
  EXPECT_GT(asked->sent_at_ns, 1'600'000'000'000'000'000u);
  // The standby, listed first, lags the primary by 25.
  ASSERT_EQ(primary_of(nodes), std::optional<std::size_t>(1));
  EXPECT_EQ(lag_of(nodes, 0), std::optional<std::int64_t>(25));
  EXPECT_EQ(lag_of(nodes, 1), std::optional<std::int64_t>(0));
  EXPECT_EQ(cluster_exit_status(nodes), exit_ok);
  const std::string table = cluster_table(nodes);
  EXPECT_NE(table.find("standby"), std::string::npos) << table;
  EXPECT_NE(table.find("primary"), std::string::npos) << table;
  EXPECT_NE(table.find("25"), std::string::npos) << table;
  const auto j = cluster_json(nodes);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["primary"], pn.server);
  EXPECT_EQ(j["nodes"][0]["lag"], 25);
  EXPECT_EQ(j["nodes"][0]["role"], "standby");
  EXPECT_EQ(j["nodes"][1]["durable_lsn"], 120);
  p.stop();
  s.stop();
}

TEST(cluster_status_probe, a_server_without_a_cluster_is_standalone) {
  engine_config ec;
  ec.shards = 1;
  ec.threads = 1;
  ec.durability = false;
  ec.snapshot_at_shutdown = false;
  engine e(ec);
  gateway::server srv(e, server_config());
  const node_status n = probe_node(probe_config(), at(srv));
  EXPECT_TRUE(n.reachable) << n.error;
  EXPECT_FALSE(n.cluster);
  EXPECT_EQ(state_name(n), "standalone");
  // Reached, but no primary: exit status 1.
  EXPECT_EQ(cluster_exit_status({n}), exit_failed);
  EXPECT_NE(cluster_table({n}).find("no node says it is the primary"), std::string::npos);
  srv.stop();
  e.shutdown();
}

TEST(cluster_status_probe, a_key_without_replicate_and_a_closed_port_are_unreachable) {
  heartbeat_hooks primary(heartbeat_of(codec::node_role::primary, 1, 1));
  gateway::server p(primary, server_config());
  const node_status denied = probe_node(probe_config(client_key()), at(p));
  EXPECT_FALSE(denied.reachable);
  EXPECT_NE(denied.error.find("permission_denied"), std::string::npos) << denied.error;
  EXPECT_NE(denied.error.find("permission 8"), std::string::npos) << denied.error;

  std::uint16_t closed_port = 0;
  {
    heartbeat_hooks gone(heartbeat_of(codec::node_role::standby, 1, 1));
    gateway::server g(gone, server_config());
    closed_port = g.port();
    g.stop();
  }
  const node_status closed = probe_node(probe_config(), {"127.0.0.1", closed_port});
  EXPECT_FALSE(closed.reachable);
  EXPECT_FALSE(closed.error.empty());

  const node_status up = probe_node(probe_config(), at(p));
  const std::vector<node_status> nodes{up, closed};
  EXPECT_EQ(state_name(nodes[1]), "unreachable");
  EXPECT_EQ(lag_of(nodes, 1), std::nullopt);
  EXPECT_EQ(cluster_exit_status(nodes), exit_failed);  // a node is unreachable
  const std::string table = cluster_table(nodes);
  EXPECT_NE(table.find("unreachable"), std::string::npos) << table;
  EXPECT_NE(table.find(closed.server + ": "), std::string::npos) << table;
  const auto j = cluster_json(nodes);
  EXPECT_EQ(j["ok"], false);
  EXPECT_TRUE(j["nodes"][1]["term"].is_null());
  EXPECT_EQ(j["nodes"][1]["error"], closed.error);
  p.stop();
}

TEST(cluster_status_view, the_primary_is_the_one_with_the_highest_term) {
  const auto node = [](std::uint32_t role, std::uint64_t term, std::uint64_t lsn) {
    node_status n;
    n.server = "n" + std::to_string(term) + ":1";
    n.reachable = n.cluster = true;
    n.role = role;
    n.term = term;
    n.durable_lsn = lsn;
    return n;
  };
  // A former primary (term 4) that has not heard of term 5 yet, a standby ahead of the new
  // primary (it holds records the new primary will make it cut).
  const std::vector<node_status> nodes{node(1, 4, 50), node(1, 5, 40), node(2, 5, 45)};
  EXPECT_EQ(primary_of(nodes), std::optional<std::size_t>(1));
  EXPECT_EQ(lag_of(nodes, 0), std::optional<std::int64_t>(-10));
  EXPECT_EQ(lag_of(nodes, 2), std::optional<std::int64_t>(-5));
  EXPECT_EQ(cluster_exit_status({node(2, 5, 45)}), exit_failed);  // no primary
  EXPECT_EQ(primary_of({}), std::nullopt);
}

}  // namespace
}  // namespace remit::cli
