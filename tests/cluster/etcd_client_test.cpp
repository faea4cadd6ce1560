// remit::cluster::etcd::client against a real etcd (tests/support/etcd_process.hpp), one
// etcd per test: keys, prefixes, leases with and without keepalive, the compare-and-swaps
// the election needs (two clients racing: exactly one wins), and what a caller sees when
// etcd is stopped, paused, and back.
#include "gateway/cluster/etcd.hpp"

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/etcd_process.hpp"

namespace remit::cluster::etcd {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using test::etcd_process;

class etcd_client_test : public test::etcd_test {
 protected:
  client make_client(std::chrono::milliseconds timeout = 2000ms) {
    return client(config{{etcd().client_url()}, timeout});
  }
};

// No etcd needed: the helpers under the JSON.
TEST(etcd_helpers, base64_round_trips_and_rejects_what_is_not_base64) {
  const std::vector<std::pair<std::string, std::string>> table = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"/remit/a", "L3JlbWl0L2E="},
      {std::string("\0\xff\x10", 3), "AP8Q"},
  };
  for (const auto& [bytes, text] : table) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text), bytes) << text;
  }
  for (const char* bad : {"Zg=", "Zg", "Z===", "Zm9v\n", "Zm 9", "=Zg=", "Zg==Zg==", "Zm-v"})
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
}

TEST(etcd_helpers, prefix_range_end_and_endpoint_lists) {
  EXPECT_EQ(prefix_range_end("/remit/a/"), "/remit/a0");
  EXPECT_EQ(prefix_range_end("a\xff"), "b");
  EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(split_endpoints("http://127.0.0.1:2379, http://10.0.0.2:2379,,"),
            (std::vector<std::string>{"http://127.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_THROW(client(config{{}, 1000ms}), std::invalid_argument);
  EXPECT_THROW(client(config{{"https://127.0.0.1:2379"}, 1000ms}), std::invalid_argument);
  EXPECT_THROW(client(config{{"http://127.0.0.1"}, 1000ms}), std::invalid_argument);
  EXPECT_THROW(client(config{{"http://127.0.0.1:2379"}, 1000ms, response_bytes_max + 1}),
               std::invalid_argument);
}

TEST_F(etcd_client_test, put_get_and_delete) {
  auto c = make_client();
  EXPECT_EQ(c.get("/remit/t/k").value(), std::nullopt);

  const auto rev1 = c.put("/remit/t/k", "one").value();
  const auto first = c.get("/remit/t/k").value();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->key, "/remit/t/k");
  EXPECT_EQ(first->value, "one");
  EXPECT_EQ(first->create_revision, rev1);
  EXPECT_EQ(first->mod_revision, rev1);
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(first->lease, 0);

  const std::string binary("\0\xff\n\"{}", 6);  // bytes JSON would not carry as text
  const auto rev2 = c.put("/remit/t/k", binary).value();
  EXPECT_GT(rev2, rev1);
  const auto second = c.get("/remit/t/k").value();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->value, binary);
  EXPECT_EQ(second->create_revision, rev1);
  EXPECT_EQ(second->mod_revision, rev2);
  EXPECT_EQ(second->version, 2);

  EXPECT_TRUE(c.put("/remit/t/empty", "").ok());
  EXPECT_EQ(c.get("/remit/t/empty").value()->value, "");

  EXPECT_TRUE(c.del("/remit/t/k").value());
  EXPECT_EQ(c.get("/remit/t/k").value(), std::nullopt);
  EXPECT_FALSE(c.del("/remit/t/k").value());
}

TEST_F(etcd_client_test, get_prefix_selects_the_keys_under_the_prefix_in_order) {
  auto c = make_client();
  for (const char* k : {"/remit/a/2", "/remit/a/1", "/remit/a0", "/remit/ab", "/remit/a/3"})
    ASSERT_TRUE(c.put(k, k).ok());
  const auto all = c.get_prefix("/remit/a/").value();
  ASSERT_EQ(all.kvs.size(), 3u);
  EXPECT_EQ(all.kvs[0].key, "/remit/a/1");
  EXPECT_EQ(all.kvs[1].key, "/remit/a/2");
  EXPECT_EQ(all.kvs[2].key, "/remit/a/3");
  EXPECT_EQ(all.kvs[2].value, "/remit/a/3");
  EXPECT_FALSE(all.more);
  EXPECT_GE(all.revision, all.kvs[2].mod_revision);

  const auto first = c.get_prefix("/remit/a/", 2).value();
  ASSERT_EQ(first.kvs.size(), 2u);
  EXPECT_TRUE(first.more);
  EXPECT_TRUE(c.get_prefix("/remit/none/").value().kvs.empty());
}

TEST_F(etcd_client_test, errors_etcd_gives_are_rejected_not_unreachable) {
  auto c = make_client();
  const auto gone_lease = c.put("/remit/t/k", "v", 12345);
  ASSERT_FALSE(gone_lease.ok());
  EXPECT_EQ(gone_lease.error().kind, errc::rejected);
  EXPECT_TRUE(gone_lease.error().not_found()) << gone_lease.error().message;

  const auto empty_key = c.put("", "v");  // refused by the client, before sending
  ASSERT_FALSE(empty_key.ok());
  EXPECT_EQ(empty_key.error().kind, errc::rejected);
  EXPECT_EQ(empty_key.error().code, 3);
  EXPECT_FALSE(c.put("/remit/t/big", std::string(value_bytes_max + 1, 'x')).ok());

  EXPECT_TRUE(c.put("/remit/t/k", "v").ok());  // the connection is still good
}

// Every answer is read with a bound (config::response_bytes_max, here 64 KiB): a larger one
// is not read. etcd did answer, but nothing usable: the caller knows no more than with no
// answer at all.
TEST_F(etcd_client_test, an_answer_past_the_response_bound_is_not_read) {
  client c(config{{etcd().client_url()}, 2000ms, 64u << 10});
  const std::string value(20u << 10, 'v');
  for (int i = 0; i < 4; ++i)  // 4 x 20 KiB, 107 KiB as base64
    ASSERT_TRUE(c.put("/remit/big/" + std::to_string(i), value).ok());
  EXPECT_EQ(c.get("/remit/big/0").value()->value, value);
  const auto r = c.get_prefix("/remit/big/");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().unreachable()) << r.error().message;
  EXPECT_EQ(c.get_prefix("/remit/big/", 2).value().kvs.size(), 2u);  // a smaller page is read
}

TEST_F(etcd_client_test, a_leased_key_goes_without_keep_alive_and_stays_with_it) {
  auto c = make_client();
  const auto dropped = c.grant_lease(1).value();
  const auto kept = c.grant_lease(1).value();
  EXPECT_EQ(dropped.ttl_seconds, 1);  // etcd_process's raft timers allow 1 s
  ASSERT_TRUE(c.put("/remit/t/dropped", "a", dropped.id).ok());
  ASSERT_TRUE(c.put("/remit/t/kept", "b", kept.id).ok());
  EXPECT_EQ(c.get("/remit/t/kept").value()->lease, kept.id);

  // Keep one lease alive every 250 ms until the other's key is gone (etcd revokes expired
  // leases within about a second of their TTL), then 1.5 s longer.
  const auto deadline = clock_type::now() + 10s;
  std::optional<clock_type::time_point> gone_at;
  while (clock_type::now() < deadline) {
    const auto ttl = c.keep_alive(kept.id);
    ASSERT_TRUE(ttl.ok()) << ttl.error().message;
    EXPECT_GT(ttl.value(), 0);
    if (!gone_at && !c.get("/remit/t/dropped").value().has_value()) gone_at = clock_type::now();
    if (gone_at && clock_type::now() - *gone_at > 1500ms) break;
    std::this_thread::sleep_for(250ms);
  }
  ASSERT_TRUE(gone_at.has_value()) << "the key of a lease without keepalive is still there";
  EXPECT_TRUE(c.get("/remit/t/kept").value().has_value());
  EXPECT_EQ(c.keep_alive(dropped.id).value(), 0);  // gone: 0, not an error
  EXPECT_TRUE(c.put("/remit/t/dropped", "a", dropped.id).error().not_found());
}

TEST_F(etcd_client_test, revoke_deletes_the_keys_of_the_lease) {
  auto c = make_client();
  const auto l = c.grant_lease(30).value();
  EXPECT_EQ(l.ttl_seconds, 30);
  ASSERT_TRUE(c.put("/remit/t/leader", "node-a", l.id).ok());
  EXPECT_GT(c.keep_alive(l.id).value(), 0);
  ASSERT_TRUE(c.revoke(l.id).ok());
  EXPECT_EQ(c.get("/remit/t/leader").value(), std::nullopt);
  EXPECT_EQ(c.keep_alive(l.id).value(), 0);
  EXPECT_TRUE(c.revoke(l.id).ok());  // already gone: still ok
}

TEST_F(etcd_client_test, create_if_absent_succeeds_once) {
  auto a = make_client();
  auto b = make_client();
  const auto la = a.grant_lease(30).value();
  const auto lb = b.grant_lease(30).value();
  EXPECT_TRUE(a.create_if_absent("/remit/t/leader", "node-a", la.id).value());
  EXPECT_FALSE(b.create_if_absent("/remit/t/leader", "node-b", lb.id).value());
  const auto held = b.get("/remit/t/leader").value();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->value, "node-a");
  EXPECT_EQ(held->lease, la.id);

  ASSERT_TRUE(a.revoke(la.id).ok());  // the leader's lease ends: the key is free again
  EXPECT_TRUE(b.create_if_absent("/remit/t/leader", "node-b", lb.id).value());
  EXPECT_EQ(a.get("/remit/t/leader").value()->value, "node-b");
}

// The election's term bump: both candidates read the term, both try to move it on by one
// with a compare on its value; in every round exactly one wins.
TEST_F(etcd_client_test, put_if_value_lets_exactly_one_of_two_racing_clients_win) {
  constexpr int rounds = 20;
  {
    auto c = make_client();
    ASSERT_TRUE(c.put("/remit/t/term", "5").ok());
  }
  std::array<std::atomic<int>, rounds> winners{};
  std::barrier sync(2);
  auto candidate = [&] {
    auto c = make_client();
    for (int round = 0; round < rounds; ++round) {
      sync.arrive_and_wait();  // both have finished the round before
      const auto term = c.get("/remit/t/term").value();
      sync.arrive_and_wait();  // both have read the term: now race
      const auto next = std::to_string(std::stoll(term->value) + 1);
      const auto won = c.put_if_value("/remit/t/term", term->value, next);
      if (won.ok() && won.value()) winners[static_cast<std::size_t>(round)].fetch_add(1);
      EXPECT_TRUE(won.ok());
    }
  };
  std::thread first(candidate);
  std::thread second(candidate);
  first.join();
  second.join();
  for (int round = 0; round < rounds; ++round)
    EXPECT_EQ(winners[static_cast<std::size_t>(round)].load(), 1) << "round " << round;
  auto c = make_client();
  EXPECT_EQ(c.get("/remit/t/term").value()->value, std::to_string(5 + rounds));
}

TEST_F(etcd_client_test, compare_and_swap_helpers_and_txn) {
  auto c = make_client();
  EXPECT_FALSE(c.put_if_value("/remit/t/k", "", "x").value());  // absent: a VALUE compare fails
  EXPECT_EQ(c.get("/remit/t/k").value(), std::nullopt);

  EXPECT_TRUE(c.put_if_mod_revision("/remit/t/k", 0, "v1").value());  // 0: absent
  EXPECT_FALSE(c.put_if_mod_revision("/remit/t/k", 0, "v2").value());
  const auto rev = c.get("/remit/t/k").value()->mod_revision;
  EXPECT_FALSE(c.put_if_mod_revision("/remit/t/k", rev - 1, "v2").value());
  EXPECT_TRUE(c.put_if_mod_revision("/remit/t/k", rev, "v2").value());
  EXPECT_TRUE(c.put_if_value("/remit/t/k", "v2", "v3").value());
  EXPECT_FALSE(c.delete_if_value("/remit/t/k", "v2").value());
  EXPECT_EQ(c.get("/remit/t/k").value()->value, "v3");
  EXPECT_TRUE(c.delete_if_value("/remit/t/k", "v3").value());
  EXPECT_EQ(c.get("/remit/t/k").value(), std::nullopt);

  // The general form: a failed compare runs the failure branch, whose get says who holds it.
  ASSERT_TRUE(c.put("/remit/t/leader", "node-a").ok());
  const std::vector<compare> held_by_b = {
      {"/remit/t/leader", compare::target::value, compare::relation::equal, 0, "node-b"}};
  const std::vector<op> success = {op::put("/remit/t/primary", "b:7400")};
  const std::vector<op> failure = {op::get("/remit/t/leader"), op::get("/remit/t/none")};
  const auto r = c.txn(held_by_b, success, failure).value();
  EXPECT_FALSE(r.succeeded);
  ASSERT_EQ(r.gets.size(), 2u);
  ASSERT_TRUE(r.gets[0].has_value());
  EXPECT_EQ(r.gets[0]->value, "node-a");
  EXPECT_FALSE(r.gets[1].has_value());
  EXPECT_EQ(c.get("/remit/t/primary").value(), std::nullopt);

  const std::vector<compare> held_by_a = {
      {"/remit/t/leader", compare::target::value, compare::relation::equal, 0, "node-a"},
      {"/remit/t/leader", compare::target::version, compare::relation::greater, 0, {}}};
  const auto s = c.txn(held_by_a, success, failure).value();
  EXPECT_TRUE(s.succeeded);
  EXPECT_TRUE(s.gets.empty());
  EXPECT_EQ(c.get("/remit/t/primary").value()->value, "b:7400");
  EXPECT_EQ(c.get("/remit/t/primary").value()->mod_revision, s.revision);
}

TEST_F(etcd_client_test, stopped_etcd_is_unreachable_and_the_same_client_works_once_it_is_back) {
  auto c = make_client(1000ms);
  ASSERT_TRUE(c.put("/remit/t/k", "before").ok());
  const auto l = c.grant_lease(30).value();

  etcd().stop();
  const auto got = c.get("/remit/t/k");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().kind, errc::unreachable) << got.error().message;
  const auto kept = c.keep_alive(l.id);
  ASSERT_FALSE(kept.ok());
  EXPECT_TRUE(kept.error().unreachable()) << kept.error().message;
  EXPECT_TRUE(c.put_if_value("/remit/t/k", "before", "after").error().unreachable());

  etcd().start();                         // same data dir and ports
  const auto back = c.get("/remit/t/k");  // the first call after the restart, no retry
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_TRUE(back.value().has_value());
  EXPECT_EQ(back.value()->value, "before");
  EXPECT_GT(c.keep_alive(l.id).value(), 0);  // the lease survived the restart
  EXPECT_TRUE(c.put_if_value("/remit/t/k", "before", "after").value());
}

// A restart while the client holds an idle kept-alive connection: the client notices that
// etcd closed it and does not write a request into it.
TEST_F(etcd_client_test, restart_between_calls_is_invisible_to_the_caller) {
  auto c = make_client();
  ASSERT_TRUE(c.put("/remit/t/k", "v").ok());
  etcd().stop();
  etcd().start();
  const auto r = c.put_if_value("/remit/t/k", "v", "w");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r.value());
}

// SIGSTOP: the kernel still accepts connections, etcd answers nothing. The deadline ends
// the call.
TEST_F(etcd_client_test, paused_etcd_times_out_as_unreachable_and_recovers_on_resume) {
  auto c = make_client(500ms);
  ASSERT_TRUE(c.put("/remit/t/k", "v").ok());
  etcd().pause();
  const auto r = c.get("/remit/t/k");  // on the kept-alive connection
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().unreachable()) << r.error().message;
  const auto fresh = make_client(500ms).get("/remit/t/k");  // on a new connection
  ASSERT_FALSE(fresh.ok());
  EXPECT_TRUE(fresh.error().unreachable()) << fresh.error().message;
  etcd().resume();
  const auto back = c.get("/remit/t/k");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back.value()->value, "v");
}

TEST_F(etcd_client_test, an_endpoint_that_refuses_connections_is_skipped) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(test::free_port());
  client c(config{{dead, etcd().client_url()}, 2000ms});
  ASSERT_TRUE(c.put("/remit/t/k", "v").ok());
  EXPECT_EQ(c.endpoint(), etcd().client_url());
  EXPECT_EQ(c.get("/remit/t/k").value()->value, "v");

  client none(config{{dead}, 500ms});
  const auto r = none.get("/remit/t/k");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().unreachable());
  EXPECT_NE(r.error().message.find(dead), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace remit::cluster::etcd
