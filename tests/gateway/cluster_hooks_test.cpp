// The server as a cluster node (gateway::cluster_hooks, docs/PROTOCOL.md section 9): the
// role in HelloReply, not_primary with the primary's address while the node does not serve,
// client requests to the engine once one is attached and the node serves, `unavailable` for
// an answer that comes after the node stopped serving, and node frames (opcodes 64 to 127)
// of a replicate session handed to the cluster, which can answer through the link.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

class fake_hooks final : public gateway::cluster_hooks {
 public:
  std::atomic<std::uint32_t> role{static_cast<std::uint32_t>(codec::node_role::standby)};
  std::atomic<bool> serve{false};
  std::atomic<bool> answer{true};
  std::string primary = "10.0.0.7:7400";

  std::uint32_t hello_role() const override { return role.load(); }
  bool serving(std::string& p) const override {
    if (serve.load()) return true;
    p = primary;
    return false;
  }
  bool may_answer() const override { return answer.load(); }
  void on_node_frame(const std::shared_ptr<gateway::node_link>& link, const codec::frame_header& h,
                     std::span<const std::byte> body) override {
    std::lock_guard<std::mutex> lock(mutex);
    frames.push_back({h, std::vector<std::byte>(body.begin(), body.end())});
    last_link = link;
    // Echo the body back as an answer, through the link.
    std::vector<std::byte> out(codec::header_size + body.size());
    std::copy(body.begin(), body.end(), out.begin() + codec::header_size);
    codec::seal_frame(out, {h.opcode, 1, h.request_id, 0, 0, codec::flag_response}, nullptr);
    EXPECT_TRUE(link->send(std::move(out)));
  }
  void on_node_closed(const gateway::node_link&) override { closed.fetch_add(1); }
  std::string metrics_text() const override { return "remit_cluster_test_marker 1\n"; }

  std::mutex mutex;
  std::vector<frame> frames;
  std::shared_ptr<gateway::node_link> last_link;
  std::atomic<int> closed{0};
};

gateway::server_config cluster_server_config() {
  auto c = server_defaults();
  c.inflight_events_max = 1u << 16;
  return c;
}

std::vector<std::byte> one_account_body(u128 id) {
  return bytes_of_one(test::make_account(id));
}

class cluster_hooks_test : public ::testing::TestWithParam<bool> {};

TEST_P(cluster_hooks_test, hello_reply_carries_the_role_of_the_moment) {
  fake_hooks hooks;
  gateway::server srv(hooks, cluster_server_config());
  for (auto r : {codec::node_role::standby, codec::node_role::primary}) {
    hooks.role = static_cast<std::uint32_t>(r);
    raw_client c(srv.port());
    auto hr = c.send_hello(raw_client::make_hello(keys().all.id, GetParam() ? 1 : 0));
    ASSERT_TRUE(hr);
    ASSERT_EQ(hr->st(), status::ok);
    EXPECT_EQ(hr->events<codec::hello_reply>().at(0).role, static_cast<std::uint32_t>(r));
  }
}

TEST_P(cluster_hooks_test, a_node_that_does_not_serve_answers_not_primary_with_the_address) {
  fake_hooks hooks;
  gateway::server srv(hooks, cluster_server_config());
  raw_client c(srv.port());
  ASSERT_TRUE(c.handshake(keys().all, GetParam()));
  for (opcode op : {opcode::create_accounts, opcode::lookup_accounts, opcode::get_ledger_stats}) {
    auto body = op == opcode::create_accounts   ? one_account_body(1)
                : op == opcode::lookup_accounts ? bytes_of_one(u128{1})
                                                : std::vector<std::byte>(16);
    auto f = c.call(op, body, 1);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::not_primary) << codec::name(op);
    EXPECT_EQ(f->h.event_count, 0u);
    EXPECT_EQ(f->reason(), hooks.primary);
  }
  EXPECT_TRUE(c.ping_ok());  // PING is answered as usual
  // Serving but with no engine attached yet: still not_primary.
  hooks.serve = true;
  auto f = c.call(opcode::lookup_accounts, bytes_of_one(u128{1}), 1);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::not_primary);
}

TEST_P(cluster_hooks_test, an_attached_engine_serves_and_late_answers_are_unavailable) {
  fake_hooks hooks;
  gateway::server srv(hooks, cluster_server_config());
  engine eng(engine_nodurable());
  srv.attach_engine(eng);
  hooks.serve = true;
  raw_client c(srv.port());
  ASSERT_TRUE(c.handshake(keys().all, GetParam()));
  auto f = c.call(opcode::create_accounts, one_account_body(5), 1);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->st(), status::ok);
  EXPECT_EQ(f->h.event_count, 1u);
  // The lease ran out while the request was in flight: the answer is unavailable.
  hooks.answer = false;
  f = c.call(opcode::create_accounts, one_account_body(6), 1);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::unavailable);
  EXPECT_EQ(f->h.event_count, 0u);
  EXPECT_NE(srv.metrics_text().find("remit_cluster_test_marker 1"), std::string::npos);
  srv.stop();
  eng.shutdown();
}

TEST_P(cluster_hooks_test, node_frames_of_a_replicate_session_go_to_the_cluster) {
  fake_hooks hooks;
  gateway::server srv(hooks, cluster_server_config());
  {
    raw_client c(srv.port());
    ASSERT_TRUE(c.handshake(keys().replicate, GetParam()));
    std::vector<std::byte> body(40);
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = std::byte(i);
    auto f = c.call(c.request(std::uint16_t{69}, body, 1));
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::ok);
    EXPECT_EQ(f->body, body);  // sent back through the link, sealed by the session
    {
      std::lock_guard<std::mutex> lock(hooks.mutex);
      ASSERT_EQ(hooks.frames.size(), 1u);
      EXPECT_EQ(hooks.frames[0].h.opcode, 69);
      EXPECT_EQ(hooks.frames[0].body, body);
    }
    // The replicate key alone may not send client requests.
    hooks.serve = true;
    f = c.call(opcode::lookup_accounts, bytes_of_one(u128{1}), 1);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::permission_denied);
  }
  // The peer went away: the cluster hears of it, and the link refuses more frames.
  ASSERT_TRUE(eventually([&] { return hooks.closed.load() == 1; }));
  std::lock_guard<std::mutex> lock(hooks.mutex);
  EXPECT_FALSE(hooks.last_link->send(std::vector<std::byte>(codec::header_size)));
}

TEST_P(cluster_hooks_test, node_opcodes_without_replicate_are_permission_denied) {
  fake_hooks hooks;
  gateway::server srv(hooks, cluster_server_config());
  raw_client c(srv.port());
  ASSERT_TRUE(c.handshake(keys().all, GetParam()));
  auto f = c.call(c.request(std::uint16_t{64}, std::vector<std::byte>(128), 1));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::permission_denied);
  std::lock_guard<std::mutex> lock(hooks.mutex);
  EXPECT_TRUE(hooks.frames.empty());
}

INSTANTIATE_TEST_SUITE_P(mac, cluster_hooks_test, ::testing::Bool(), mac_name);

}  // namespace
}  // namespace remit::gateway_test
