// Many callers at once: 8 threads send batches of 100 to 1000 transfers (plain, pending,
// posts and voids of their own pending transfers, linked chains, chains that create a
// pending transfer, post it and spend the credit, balancing, resends) on 10,000 accounts
// with a few hot ones, some through callbacks and some through futures, with at most 4
// batches outstanding per thread, while a ninth thread keeps changing controls (freezes,
// caps). Then, with nothing in flight:
//   - every call was answered exactly once (callbacks counted; a second call of a future's
//     promise would throw inside the engine);
//   - money is conserved per ledger: the sum of debits_posted equals the sum of
//     credits_posted, and the same for pending amounts;
//   - no account breaks its bound flag (no overdrafts here);
//   - the ledger stats agree with the results the callers saw: transfers_posted is the
//     number of ok plain transfers and posts, transfers_pending the ok pending transfers
//     not posted or voided, volume_posted the sum of debits_posted.
//
// Count: 1,000,000 transfers in an optimized build (NDEBUG, no sanitizer: about 20 s on 2
// busy cores); 200,000 otherwise (about 13 s under ASan, where 1M would take over a
// minute). REMIT_ACTOR_TEST_TRANSFERS overrides it.
//
// parallel_differential_test below adds an exact oracle to concurrency: independent
// streams side by side, each checked against its own reference ledger.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "actors/engine.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "scenario.hpp"
#include "test_support.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define REMIT_TEST_SANITIZED 1
#else
#define REMIT_TEST_SANITIZED 0
#endif

namespace remit::actor_test {
namespace {

std::size_t transfer_count() {
  if (const char* env = std::getenv("REMIT_ACTOR_TEST_TRANSFERS")) {
    return static_cast<std::size_t>(std::strtoull(env, nullptr, 10));
  }
#if defined(NDEBUG) && !REMIT_TEST_SANITIZED
  return 1'000'000;
#else
  return 200'000;
#endif
}

constexpr std::uint64_t user_accounts = 10'000;
constexpr std::uint32_t ledger_count = 2;
constexpr std::uint32_t caller_threads = 8;
constexpr std::size_t outstanding_max = 4;
constexpr u128 funding = 10'000;

std::uint32_t ledger_of(u128 id) {
  if (id > user_accounts) return static_cast<std::uint32_t>(id - user_accounts);  // banks
  return 1 + static_cast<std::uint32_t>(id % ledger_count);
}
u128 bank_of(std::uint32_t ledger) {
  return user_accounts + ledger;
}
std::uint16_t flags_of(u128 id) {
  if (id > user_accounts) return 0;
  if (id % 4 == 0) return account_flags::debits_must_not_exceed_credits;
  if (id % 20 == 1) return account_flags::credits_must_not_exceed_debits;
  return 0;
}

// What the callers saw, per ledger.
struct tally {
  std::uint64_t posted = 0;         // ok plain transfers and posts
  std::uint64_t pending_made = 0;   // ok pending transfers
  std::uint64_t pending_ended = 0;  // ok posts and voids
};

// One caller thread: its own ids (high half = thread + 1), its own pending transfers.
class caller {
 public:
  caller(engine& e, std::uint32_t index, std::size_t quota)
      : eng_(e), index_(index), quota_(quota), rng_(1'000 + index) {}

  void run() {
    std::deque<std::unique_ptr<call>> outstanding;
    std::size_t batches = 0;
    while (sent_ < quota_ || !outstanding.empty()) {
      if (sent_ < quota_ && outstanding.size() < outstanding_max) {
        auto c = std::make_unique<call>();
        build(c->events, std::min<std::size_t>(rng_.between(100, 1'000), quota_ - sent_));
        sent_ += c->events.size();
        if (batches++ % 2 == 0) {
          call* raw = c.get();
          c->by_callback = true;
          eng_.create_transfers(c->events, [this, raw](engine_reply&& r) {
            if (raw->calls.fetch_add(1) != 0) {
              double_answers.fetch_add(1);
              return;
            }
            std::lock_guard<std::mutex> lock(mutex_);
            raw->reply = std::move(r);
            raw->ready = true;
            ready_.notify_all();
          });
        } else {
          c->future = eng_.create_transfers(c->events);
        }
        outstanding.push_back(std::move(c));
        continue;
      }
      std::unique_ptr<call> c = std::move(outstanding.front());
      outstanding.pop_front();
      if (c->by_callback) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!ready_.wait_for(lock, reply_deadline, [&] { return c->ready; })) {
          std::fprintf(stderr, "concurrency_test: lost callback\n");
          std::abort();
        }
      } else {
        c->reply = get_reply(std::move(c->future), "create_transfers future");
      }
      handle(*c);
      // A callback may still be running (it counts before it stores): wait until it is
      // done with `c` before dropping it.
      finished_.push_back(std::move(c));
    }
  }

  static inline std::atomic<std::uint64_t> double_answers{0};

  tally tallies[ledger_count + 1] = {};
  std::uint64_t answered = 0;
  std::uint64_t overloaded = 0;
  std::uint64_t callbacks_checked = 0;
  std::uint64_t callbacks_bad = 0;

  // Once nothing is in flight: every callback ran exactly once.
  void check_callbacks() {
    for (const auto& c : finished_) {
      if (!c->by_callback) continue;
      ++callbacks_checked;
      if (c->calls.load() != 1) ++callbacks_bad;
    }
  }

 private:
  struct pending_ref {
    u128 id;
    u128 amount;
    std::uint32_t ledger;
  };
  struct call {
    std::vector<transfer> events;
    bool by_callback = false;
    std::atomic<int> calls{0};
    bool ready = false;
    engine_reply reply;
    std::future<engine_reply> future;
  };

  u128 next_id() { return make_u128(index_ + 1, ++seq_); }

  u128 pick_account(std::uint32_t ledger) {
    if (rng_.chance(100)) {
      // Hot: the bank, or one of four user accounts (4 is bounded, 5 bounds credits).
      const u128 hot[] = {bank_of(ledger), 2, 3, 4, 5, 6, 7, 8, 9};
      for (;;) {
        const u128 h = hot[rng_.below(9)];
        if (ledger_of(h) == ledger) return h;
      }
    }
    for (;;) {
      const u128 id = 1 + rng_.below(user_accounts);
      if (ledger_of(id) == ledger) return id;
    }
  }

  transfer plain() {
    transfer t{};
    t.id = next_id();
    t.ledger = static_cast<std::uint32_t>(1 + rng_.below(ledger_count));
    t.code = 1;
    t.debit_account_id = pick_account(t.ledger);
    do {
      t.credit_account_id = pick_account(t.ledger);
    } while (t.credit_account_id == t.debit_account_id);
    t.amount = rng_.chance(20) ? rng_.between(1, 20'000) : rng_.between(1, 500);
    return t;
  }

  void build(std::vector<transfer>& out, std::size_t n) {
    out.clear();
    while (out.size() < n) {
      const std::uint64_t r = rng_.below(100);
      const std::size_t room = n - out.size();
      if (r < 68) {
        out.push_back(plain());
      } else if (r < 78) {
        transfer t = plain();
        t.flags = transfer_flags::pending;
        out.push_back(t);
      } else if (r < 86 && !pool_.empty()) {
        const std::size_t i = rng_.below(pool_.size());
        const pending_ref p = pool_[i];
        pool_[i] = pool_.back();
        pool_.pop_back();
        transfer t{};
        t.id = next_id();
        t.pending_id = p.id;
        if (rng_.chance(700)) {
          t.flags = transfer_flags::post_pending_transfer;
          t.amount =
              rng_.chance(500) ? u128{0} : rng_.between(1, static_cast<std::uint64_t>(p.amount));
        } else {
          t.flags = transfer_flags::void_pending_transfer;
        }
        out.push_back(t);
      } else if (r < 89 && room >= 2) {
        const std::size_t legs = std::min<std::size_t>(room, rng_.between(2, 3));
        for (std::size_t i = 0; i < legs; ++i) {
          transfer t = plain();
          if (i + 1 < legs) t.flags = transfer_flags::linked;
          out.push_back(t);
        }
      } else if (r < 91 && room >= 3) {
        // A chain that creates a pending transfer, posts part of it, and spends the credit.
        transfer p = plain();
        p.flags = transfer_flags::pending | transfer_flags::linked;
        out.push_back(p);
        transfer post{};
        post.id = next_id();
        post.pending_id = p.id;
        post.amount = 1 + p.amount / 2;
        post.flags = transfer_flags::post_pending_transfer | transfer_flags::linked;
        out.push_back(post);
        transfer spend = plain();
        spend.ledger = p.ledger;
        spend.debit_account_id = p.credit_account_id;
        spend.credit_account_id = p.debit_account_id;
        spend.amount = post.amount;
        out.push_back(spend);
        chain_pendings_.emplace(p.id, p.ledger);
      } else if (r < 95) {
        transfer t = plain();
        t.flags =
            rng_.chance(500) ? transfer_flags::balancing_debit : transfer_flags::balancing_credit;
        if (rng_.chance(200)) t.flags |= transfer_flags::pending;
        out.push_back(t);
      } else if (r < 98 && !sent_before_.empty()) {
        out.push_back(
            sent_before_[rng_.below(sent_before_.size())]);  // exists, or the same failure
      } else {
        out.push_back(plain());
      }
    }
  }

  void handle(call& c) {
    ++answered;
    if (c.reply.status == engine_status::overloaded) {
      ++overloaded;
      return;
    }
    EXPECT_EQ(c.reply.status, engine_status::ok);
    if (c.reply.results.size() != c.events.size()) {
      ADD_FAILURE() << "thread " << index_ << ": " << c.reply.results.size() << " results for "
                    << c.events.size() << " events";
      return;
    }
    for (std::size_t i = 0; i < c.events.size(); ++i) {
      const transfer& t = c.events[i];
      const result& r = c.reply.results[i];
      if (!(t.flags & transfer_flags::linked) && sent_before_.size() < 2'000 && rng_.chance(20))
        sent_before_.push_back(t);
      if (r.status != 0) continue;
      const transfer_kind k = kind_of(t);
      if (k == transfer_kind::plain) {
        tallies[t.ledger].posted += 1;
      } else if (k == transfer_kind::pending) {
        tallies[t.ledger].pending_made += 1;
        if (chain_pendings_.contains(t.id)) continue;  // posted in its chain
        pool_.push_back(pending_ref{t.id, t.amount, t.ledger});
        ledgers_of_pending_.emplace(t.id, t.ledger);
        if (t.flags & (transfer_flags::balancing_debit | transfer_flags::balancing_credit)) {
          // The amount held may be less than asked: post it in full or void it.
          pool_.back().amount = 1;
        }
      } else if (const auto it = chain_pendings_.find(t.pending_id); it != chain_pendings_.end()) {
        // The post of a pending transfer made in the same chain (counted there as made).
        tallies[it->second].posted += 1;
        tallies[it->second].pending_ended += 1;
      } else {
        const std::uint32_t ledger = ledgers_of_pending_.at(t.pending_id);
        if (k == transfer_kind::post) tallies[ledger].posted += 1;
        tallies[ledger].pending_ended += 1;
      }
    }
  }

  struct u128_hash {
    std::size_t operator()(u128 x) const {
      return std::hash<std::uint64_t>()(u128_lo(x) ^ u128_hi(x));
    }
  };

  engine& eng_;
  std::uint32_t index_;
  std::size_t quota_;
  rng rng_;
  std::uint64_t seq_ = 0;
  std::size_t sent_ = 0;
  std::vector<pending_ref> pool_;
  std::unordered_map<u128, std::uint32_t, u128_hash> ledgers_of_pending_;
  std::unordered_map<u128, std::uint32_t, u128_hash> chain_pendings_;  // never in pool_
  std::vector<transfer> sent_before_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<std::unique_ptr<call>> finished_;
};

TEST(concurrency_test, many_callers_conserve_money_and_answer_once) {
  const std::size_t total = transfer_count();
  engine_config cfg = test_config(4, 2);
  engine eng(cfg);

  // Accounts and funding, one batch at a time.
  std::vector<u128> all_ids;
  {
    std::vector<account> batch;
    for (u128 id = 1; id <= user_accounts + ledger_count; ++id) {
      batch.push_back(make_account(id, ledger_of(id), flags_of(id)));
      all_ids.push_back(id);
      if (batch.size() == batch_events_max || id == user_accounts + ledger_count) {
        for (const result& r : create_accounts(eng, batch)) ASSERT_EQ(r.status, 0u);
        batch.clear();
      }
    }
  }
  std::uint64_t funded[ledger_count + 1] = {};
  {
    std::vector<transfer> batch;
    for (u128 id = 1; id <= user_accounts; ++id) {
      if (flags_of(id) & account_flags::credits_must_not_exceed_debits) continue;
      batch.push_back(make_transfer(make_u128(100, static_cast<std::uint64_t>(id)),
                                    bank_of(ledger_of(id)), id, funding, 0, ledger_of(id)));
      funded[ledger_of(id)] += 1;
      if (batch.size() == batch_events_max) {
        for (const result& r : create_transfers(eng, batch)) ASSERT_EQ(r.status, 0u);
        batch.clear();
      }
    }
    for (const result& r : create_transfers(eng, batch)) ASSERT_EQ(r.status, 0u);
  }

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<caller>> callers;
  for (std::uint32_t i = 0; i < caller_threads; ++i) {
    callers.push_back(std::make_unique<caller>(eng, i, total / caller_threads));
  }
  std::vector<std::thread> threads;
  for (auto& c : callers) threads.emplace_back([&c] { c->run(); });
  // Meanwhile, controls change under the transfers: freezes, caps, resets (never an
  // overdraft, so that the bound check below stays exact).
  std::atomic<bool> callers_done{false};
  std::uint64_t controls_calls = 0;
  std::thread controls([&] {
    rng r(77);
    while (!callers_done.load()) {
      std::vector<account_controls> batch;
      for (int i = 0; i < 10; ++i) {
        account_controls c = make_controls(1 + r.below(user_accounts));
        const std::uint64_t k = r.below(4);
        if (k == 1) c.status_flags = account_status_flags::frozen;
        if (k == 2) c.transfer_amount_max = r.between(100, 1'000);
        if (k == 3) c.daily_debit_max = r.between(1'000, 100'000);
        batch.push_back(c);
      }
      const engine_reply rep = get_reply(eng.set_account_controls(batch), "controls reply");
      EXPECT_EQ(rep.status, engine_status::ok);
      for (const result& x : rep.results) EXPECT_EQ(x.status, 0u);
      ++controls_calls;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (auto& t : threads) t.join();
  callers_done.store(true);
  controls.join();
  EXPECT_GT(controls_calls, 10u);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();

  // Nothing in flight any more (the engine counts a call out after its callback returns).
  ASSERT_TRUE(wait_idle(eng));

  tally sum[ledger_count + 1] = {};
  std::uint64_t overloaded = 0;
  for (auto& c : callers) {
    c->check_callbacks();
    EXPECT_EQ(c->callbacks_bad, 0u) << "callbacks not called exactly once";
    EXPECT_GT(c->callbacks_checked, 0u);
    overloaded += c->overloaded;
    for (std::uint32_t l = 1; l <= ledger_count; ++l) {
      sum[l].posted += c->tallies[l].posted;
      sum[l].pending_made += c->tallies[l].pending_made;
      sum[l].pending_ended += c->tallies[l].pending_ended;
    }
  }
  EXPECT_EQ(caller::double_answers.load(), 0u);
  EXPECT_EQ(overloaded, 0u) << "bounded outstanding work should never overload";
  std::printf("  %zu transfers from %u threads in %lld ms (%.0f/s); posted %llu + %llu\n", total,
              caller_threads, static_cast<long long>(ms),
              static_cast<double>(total) * 1000.0 / static_cast<double>(std::max<long long>(ms, 1)),
              static_cast<unsigned long long>(sum[1].posted),
              static_cast<unsigned long long>(sum[2].posted));

  const std::vector<account> accounts = lookup_accounts(eng, all_ids);
  ASSERT_EQ(accounts.size(), all_ids.size());
  struct sums {
    u128 dp = 0, dP = 0, cp = 0, cP = 0;
  } per[ledger_count + 1];
  std::size_t overdrawn = 0;
  for (const account& a : accounts) {
    sums& s = per[a.ledger];
    s.dp += a.debits_pending;
    s.dP += a.debits_posted;
    s.cp += a.credits_pending;
    s.cP += a.credits_posted;
    if ((a.flags & account_flags::debits_must_not_exceed_credits) &&
        a.debits_pending + a.debits_posted > a.credits_posted) {
      if (++overdrawn <= 5) ADD_FAILURE() << "overdrawn: " << describe(a);
    }
    if ((a.flags & account_flags::credits_must_not_exceed_debits) &&
        a.credits_pending + a.credits_posted > a.debits_posted) {
      if (++overdrawn <= 5) ADD_FAILURE() << "over-credited: " << describe(a);
    }
  }
  EXPECT_EQ(overdrawn, 0u);
  for (std::uint32_t l = 1; l <= ledger_count; ++l) {
    SCOPED_TRACE("ledger " + std::to_string(l));
    EXPECT_EQ(per[l].dP, per[l].cP) << "posted money not conserved";
    EXPECT_EQ(per[l].dp, per[l].cp) << "pending money not conserved";
    const ledger_stats s = stats(eng, l);
    EXPECT_EQ(s.accounts, user_accounts / ledger_count + 1);
    EXPECT_EQ(s.transfers_posted, sum[l].posted + funded[l]);
    EXPECT_EQ(s.transfers_pending, sum[l].pending_made - sum[l].pending_ended);
    EXPECT_EQ(s.volume_posted, per[l].dP);
    EXPECT_GT(sum[l].posted, total / 4);
  }
}

// Concurrency with an exact oracle: four threads each run their own seeded scenario (every
// kind of transfer, conflict batches, controls changes, account batches) on their own
// accounts and ids, one call at a time, beside each other on one engine. Streams that share
// no account and no id cannot see each other, so each must match its own reference ledger
// event by event (codes; timestamps are the engine's, shared by all streams), and in the end
// account by account and transfer by transfer (all fields but the timestamp), history by
// history; the stats of the engine are the sums of the references'. Everything stays
// within one UTC day on both sides, so daily sums agree.
TEST(parallel_differential_test, independent_streams_each_match_their_reference) {
  constexpr std::uint32_t streams = 4;
#if defined(NDEBUG) && !REMIT_TEST_SANITIZED
  constexpr std::size_t events = 40'000;
#else
  constexpr std::size_t events = 12'000;
#endif
  std::vector<scenario> scenarios;
  for (std::uint32_t t = 0; t < streams; ++t) {
    scenario_config c{9'000 + t, events, false};
    c.id_base = (t + 1) * 1'000'000'000ull;
    c.single_day = true;
    scenarios.push_back(scenario_builder(c).build());
  }
  // The engine's clock stays at noon of the scenarios' day: its timestamps then only count
  // up from there, within the same day.
  manual_clock clock(scenarios[0].steps[0].now_ns);
  engine_config cfg = test_config(4, 2);
  cfg.clock = clock.fn();
  engine eng(cfg);
  std::vector<reference_ledger> refs(streams);
  std::vector<std::string> first_mismatch(streams);
  const auto run = [&](std::uint32_t t) {
    const scenario& sc = scenarios[t];
    reference_ledger& ref = refs[t];
    for (std::size_t i = 0; i < sc.steps.size(); ++i) {
      const step& s = sc.steps[i];
      std::vector<result> expected;
      engine_reply reply;
      switch (s.kind) {
        case step_kind::accounts:
          expected.resize(s.accounts.size());
          ref.create_accounts(s.accounts, s.now_ns, expected);
          reply = get_reply(eng.create_accounts(s.accounts));
          break;
        case step_kind::transfers:
          expected.resize(s.transfers.size());
          ref.create_transfers(s.transfers, s.now_ns, expected);
          reply = get_reply(eng.create_transfers(s.transfers));
          break;
        case step_kind::controls:
          expected.resize(s.controls.size());
          ref.set_account_controls(s.controls, expected);
          reply = get_reply(eng.set_account_controls(s.controls));
          break;
      }
      std::string diff;
      if (reply.status != engine_status::ok || reply.results.size() != expected.size()) {
        diff = "status " + std::string(name(reply.status)) + ", " +
               std::to_string(reply.results.size()) + " results";
      } else {
        for (std::size_t j = 0; j < expected.size() && diff.empty(); ++j) {
          if (expected[j].status == reply.results[j].status) continue;
          diff = "event " + std::to_string(j) + ": expected " + std::to_string(expected[j].status) +
                 ", got " + std::to_string(reply.results[j].status);
          if (s.kind == step_kind::transfers) diff += " " + describe(s.transfers[j]);
        }
      }
      if (!diff.empty()) {
        first_mismatch[t] =
            "stream " + std::to_string(t) + ", step " + std::to_string(i) + ": " + diff;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::uint32_t t = 0; t < streams; ++t) threads.emplace_back(run, t);
  for (auto& th : threads) th.join();
  ASSERT_TRUE(wait_idle(eng));
  bool all_ran = true;
  for (const std::string& m : first_mismatch) {
    if (m.empty()) continue;
    ADD_FAILURE() << m;
    all_ran = false;
  }
  if (!all_ran) return;

  const auto without_ts = [](auto x) {
    x.timestamp = 0;
    return x;
  };
  for (std::uint32_t t = 0; t < streams; ++t) {
    SCOPED_TRACE("stream " + std::to_string(t));
    const scenario& sc = scenarios[t];
    std::vector<account> want_a = ref_lookup_accounts(refs[t], sc.account_ids);
    std::vector<account> got_a = lookup_accounts(eng, sc.account_ids);
    for (auto& a : want_a) a = without_ts(a);
    for (auto& a : got_a) a = without_ts(a);
    EXPECT_TRUE(same_list(want_a, got_a, "accounts"));
    std::vector<transfer> want_t = ref_lookup_transfers(refs[t], sc.transfer_ids);
    std::vector<transfer> got_t = lookup_transfers(eng, sc.transfer_ids);
    for (auto& x : want_t) x = without_ts(x);
    for (auto& x : got_t) x = without_ts(x);
    EXPECT_TRUE(same_list(want_t, got_t, "transfers"));
    for (std::size_t k = 0; k < sc.account_ids.size(); k += 7) {
      const account_filter f = make_filter(
          sc.account_ids[k], account_filter_flags::debits | account_filter_flags::credits, 200);
      std::vector<transfer> want_h = ref_account_transfers(refs[t], f);
      std::vector<transfer> got_h = account_transfers(eng, f);
      for (auto& x : want_h) x = without_ts(x);
      for (auto& x : got_h) x = without_ts(x);
      EXPECT_TRUE(same_list(want_h, got_h, "history of " + u128_str(sc.account_ids[k])));
    }
  }
  for (std::uint32_t l = 1; l <= 3; ++l) {
    SCOPED_TRACE("ledger " + std::to_string(l));
    ledger_stats sum{};
    for (const reference_ledger& r : refs) {
      const ledger_stats s = r.get_ledger_stats(l);
      sum.accounts += s.accounts;
      sum.transfers_posted += s.transfers_posted;
      sum.transfers_pending += s.transfers_pending;
      sum.volume_posted = add_saturating(sum.volume_posted, s.volume_posted);
    }
    const ledger_stats got = stats(eng, l);
    EXPECT_EQ(got.accounts, sum.accounts);
    EXPECT_EQ(got.transfers_posted, sum.transfers_posted);
    EXPECT_EQ(got.transfers_pending, sum.transfers_pending);
    EXPECT_EQ(got.volume_posted, sum.volume_posted);
  }
}

}  // namespace
}  // namespace remit::actor_test
