// remit's scheduler (actors/scheduler.hpp) on its own: every message is handled, in FIFO
// order per sender, with workers that spin or sleep; a worker asleep wakes for a message
// from outside; the system shuts down with work still queued; and the engine runs on it
// with the same results as the reference ledger.
#include <atomic>
#include <chrono>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/scheduler.hpp"
#include "tests/actors/test_support.hpp"
#include "tools/workload.hpp"

namespace remit::actors {
namespace {

using namespace std::chrono_literals;
using actor_test::both_sides;
using actor_test::same_results;
using actor_test::test_config;

struct spin_param {
  std::chrono::nanoseconds spin;
  std::size_t threads;
};

std::string spin_name(const ::testing::TestParamInfo<spin_param>& p) {
  return "spin" + std::to_string(p.param.spin.count() / 1000) + "us_threads" +
         std::to_string(p.param.threads);
}

class remit_scheduler_test : public ::testing::TestWithParam<spin_param> {
 protected:
  void SetUp() override {
#if defined(__SANITIZE_THREAD__)
    // These actors are plain CAF actors, without remit's hand-off annotations
    // (actors/messages.hpp), and their control blocks are released from the worker loop in
    // remit's binary rather than inside the uninstrumented libcaf_core: ThreadSanitizer
    // reports CAF's own reference counts and mailbox hand-offs here. The engine on this
    // scheduler does run under ThreadSanitizer (engine_on_scheduler_test).
    GTEST_SKIP() << "plain CAF actors: not checkable under ThreadSanitizer";
#endif
  }
  void configure(caf::actor_system_config& cfg) {
    cfg.set("scheduler.max-threads", GetParam().threads);
    load_remit_scheduler(cfg, GetParam().spin);
  }
};

// Counts the numbers it gets and checks that each sender's come in order; forwards each to
// the next actor in the ring until it has gone `hops` times round.
struct ring_state {
  caf::actor next;
  std::uint64_t seen = 0;
  std::vector<std::int64_t> last_by_sender;
  bool in_order = true;
};

caf::behavior ring_member(caf::stateful_actor<ring_state>* self, std::atomic<std::uint64_t>* total,
                          std::size_t senders) {
  self->state.last_by_sender.assign(senders, -1);
  return {
      [=](caf::actor next) { self->state.next = std::move(next); },
      [=](std::uint32_t sender, std::int64_t seq, std::int32_t hops_left) {
        auto& st = self->state;
        if (hops_left == 0) {
          // The last hop: FIFO per sender holds from the one actor that sends them here.
          if (seq <= st.last_by_sender[sender]) st.in_order = false;
          st.last_by_sender[sender] = seq;
        }
        ++st.seen;
        total->fetch_add(1);
        if (hops_left > 0) self->send(st.next, sender, seq, hops_left - 1);
      },
      [=](caf::get_atom) { return self->state.in_order; },
  };
}

TEST_P(remit_scheduler_test, handles_every_message_in_order) {
  caf::actor_system_config cfg;
  configure(cfg);
  caf::actor_system sys{cfg};
  constexpr std::size_t actors_n = 16, senders = 4;
  constexpr std::int64_t per_sender = 2000;
  constexpr std::int32_t hops = 3;
  std::atomic<std::uint64_t> total{0};
  std::vector<caf::actor> ring;
  for (std::size_t i = 0; i < actors_n; ++i)
    ring.push_back(sys.spawn(ring_member, &total, senders));
  for (std::size_t i = 0; i < actors_n; ++i) caf::anon_send(ring[i], ring[(i + 1) % actors_n]);
  std::vector<std::thread> threads;
  for (std::uint32_t s = 0; s < senders; ++s) {
    threads.emplace_back([&, s] {
      for (std::int64_t k = 0; k < per_sender; ++k) caf::anon_send(ring[s], s, k, hops);
    });
  }
  for (auto& t : threads) t.join();
  const std::uint64_t want = senders * per_sender * (hops + 1);
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (total.load() < want && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(total.load(), want);
  caf::scoped_actor me{sys};
  for (const caf::actor& a : ring) {
    me->request(a, caf::infinite, caf::get_atom::value)
        .receive([](bool in_order) { EXPECT_TRUE(in_order); },
                 [](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  for (const caf::actor& a : ring) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

// A message sent after the workers have gone to sleep (past any spin) is handled.
TEST_P(remit_scheduler_test, sleeping_workers_wake_for_a_message) {
  caf::actor_system_config cfg;
  configure(cfg);
  caf::actor_system sys{cfg};
  // (Every actor here takes an argument: CAF 0.17 spawns one without arguments through a
  // null tuple pointer, which UndefinedBehaviorSanitizer reports.)
  auto echo = sys.spawn(
      [](caf::event_based_actor*, std::int32_t add) -> caf::behavior {
        return {[add](std::int32_t x) { return x + add; }};
      },
      std::int32_t{1});
  caf::scoped_actor me{sys};
  for (std::int32_t i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(20ms);  // well past the longest spin of these tests
    std::int32_t got = -1;
    me->request(echo, caf::infinite, i)
        .receive([&](std::int32_t y) { got = y; },
                 [](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    EXPECT_EQ(got, i + 1);
  }
  caf::anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

// The system shuts down (the destructor returns) with messages still queued behind busy
// actors.
TEST_P(remit_scheduler_test, shuts_down_with_work_queued) {
  std::atomic<std::uint64_t> handled{0};
  {
    caf::actor_system_config cfg;
    configure(cfg);
    caf::actor_system sys{cfg};
    std::vector<caf::actor> busy;
    for (int i = 0; i < 8; ++i) {
      busy.push_back(sys.spawn(
          [](caf::event_based_actor*, std::atomic<std::uint64_t>* n) -> caf::behavior {
            return {[n](std::int32_t) {
              std::this_thread::sleep_for(50us);
              n->fetch_add(1);
            }};
          },
          &handled));
    }
    for (int k = 0; k < 200; ++k)
      for (const caf::actor& a : busy) caf::anon_send(a, std::int32_t{k});
    for (const caf::actor& a : busy) caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  EXPECT_LE(handled.load(), 8u * 200u);
  // The workers are gone with the system: nothing queued runs after its destructor.
  const std::uint64_t at_end = handled.load();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(handled.load(), at_end);
}

INSTANTIATE_TEST_SUITE_P(spins, remit_scheduler_test,
                         ::testing::Values(spin_param{0ns, 2}, spin_param{50us, 2},
                                           spin_param{50us, 1}, spin_param{1ms, 3}),
                         spin_name);

// The engine on each scheduler gives the reference ledger's results (a short mixed load).
class engine_on_scheduler_test : public ::testing::TestWithParam<const char*> {};

TEST_P(engine_on_scheduler_test, same_results_as_the_reference) {
#if defined(__SANITIZE_THREAD__)
  // CAF's work-stealing deques live in the uninstrumented libcaf_core.
  if (std::string_view(GetParam()) == "stealing") GTEST_SKIP() << "CAF's own deques";
#endif
  engine_config cfg = test_config(2, 2);
  cfg.scheduler_policy = GetParam();
  cfg.spin_us = 20;
  both_sides sides(cfg);
  workload::config wc;
  wc.accounts = 200;
  wc.kind = workload::mix::mixed;
  wc.batch_events = 64;
  wc.seed = 11;
  wc.timeout_max_s = 0;
  workload::generator gen(wc);
  std::vector<account> a;
  while (gen.next_account_batch(a)) {
    const auto p = sides.accounts(a);
    ASSERT_TRUE(same_results(p.expected, p.actual));
  }
  std::vector<transfer> f;
  while (gen.next_funding_batch(f)) {
    const auto p = sides.transfers(f);
    ASSERT_TRUE(same_results(p.expected, p.actual));
  }
  std::vector<transfer> t;
  for (int i = 0; i < 200; ++i) {
    gen.next_transfer_batch(t, 64);
    const auto p = sides.transfers(t);
    ASSERT_TRUE(same_results(p.expected, p.actual)) << "batch " << i;
  }
  std::vector<u128> ids;
  for (u128 id = 1; id <= wc.accounts; ++id) ids.push_back(id);
  EXPECT_TRUE(sides.same_accounts(ids));
}

INSTANTIATE_TEST_SUITE_P(policies, engine_on_scheduler_test,
                         ::testing::Values("remit", "sharing", "stealing"));

}  // namespace
}  // namespace remit::actors
