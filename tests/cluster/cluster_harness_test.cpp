// The failover tests' harness checked on its own, against standalone remitd nodes (no etcd,
// no cluster flags): the process controls (SIGSTOP must not hang a role query, a restarted
// node comes back at its address), the load driver across a crash of its node, and the
// checker, including that it catches a lost acknowledged transfer.
#include <chrono>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "tests/support/cluster_load.hpp"
#include "tests/support/cluster_process.hpp"

namespace remit::test {
namespace {

using namespace std::chrono_literals;

cluster_options standalone(int nodes) {
  cluster_options o;
  o.cluster = false;
  o.nodes = nodes;
  return o;
}

TEST(cluster_harness, process_controls) {
  cluster_process c(standalone(2));
  EXPECT_EQ(c.role(0), role_standalone);
  EXPECT_EQ(c.role(1), role_standalone);
  EXPECT_NE(c.port(0), c.port(1));

  c.stop(0);
  const auto t0 = cluster_clock::now();
  EXPECT_FALSE(c.role(0, 300ms).has_value()) << "a stopped node answered HELLO";
  const auto roles = c.view().roles(300ms);
  EXPECT_LT(cluster_clock::now() - t0, 3s) << "a stopped node held the role queries up";
  EXPECT_FALSE(roles[0].has_value());
  EXPECT_EQ(roles[1], role_standalone);
  const auto found = c.find_primary(1);
  EXPECT_FALSE(found.has_value());
  c.cont(0);
  EXPECT_TRUE(c.wait_for_role(0, role_standalone, 10s));

  const std::uint16_t port = c.port(0);
  c.kill(0);
  EXPECT_FALSE(c.running(0));
  EXPECT_FALSE(c.role(0, 300ms).has_value());
  c.restart(0);
  EXPECT_EQ(c.port(0), port);
  EXPECT_TRUE(c.wait_for_role(0, role_standalone, 10s));
  const auto p = c.wait_for_primary(5s, 1);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->index, 0);

  EXPECT_EQ(c.terminate(0), 0);
  EXPECT_EQ(c.terminate(1), 0);
  EXPECT_TRUE(c.unexpected_exits().empty());
  for (int i = 0; i < 2; ++i) {
    const command_result r = c.verify(i);
    EXPECT_EQ(r.status, 0) << r.output;
  }
  EXPECT_NE(c.log(0).find("SIGKILL node0"), std::string::npos);
}

// The driver goes on across a SIGKILL and restart of its node (a lost connection, then
// the same node back), and the checker finds every acknowledged transfer.
TEST(cluster_harness, driver_and_checker) {
  cluster_process c(standalone(1));
  driver_options d;
  load_driver driver(c.view(), d);
  std::string why;
  ASSERT_TRUE(driver.create_accounts(20s, why)) << why;
  driver.start();
  ASSERT_TRUE(driver.wait_for_acks_after(cluster_clock::now() - 1h, 20, 20s)) << driver.summary();
  const auto t_kill = cluster_clock::now();
  c.kill(0);
  c.start(0);
  ASSERT_TRUE(driver.wait_for_acks_after(t_kill, 20, 20s)) << driver.summary();
  driver.stop();
  EXPECT_TRUE(driver.problems().empty());
  EXPECT_GT(driver.acknowledged().size(), 0u);
  const check_report r = check_cluster(c, driver);
  std::printf("%s\n%s\n", driver.summary().c_str(), r.summary.c_str());
  EXPECT_TRUE(r.ok()) << r.text();
}

// The checker has teeth: a node that lost its data dir has lost acknowledged transfers.
TEST(cluster_harness, checker_catches_lost_transfers) {
  cluster_process c(standalone(1));
  load_driver driver(c.view(), driver_options{});
  std::string why;
  ASSERT_TRUE(driver.create_accounts(20s, why)) << why;
  driver.start();
  ASSERT_TRUE(driver.wait_for_acks_after(cluster_clock::now() - 1h, 10, 20s)) << driver.summary();
  driver.stop();
  c.kill(0);
  std::filesystem::remove_all(c.data_dir(0));
  c.start(0);
  const check_report r = check_transfers(c, driver, 10s);
  EXPECT_FALSE(r.ok());
  bool lost = false;
  for (const auto& p : r.problems)
    if (p.find("is not on node0") != std::string::npos) lost = true;
  EXPECT_TRUE(lost) << r.text();
}

}  // namespace
}  // namespace remit::test
