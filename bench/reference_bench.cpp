// Benchmarks of the serial reference ledger: the baseline the actor engine is measured
// against. One iteration is one batch of batch_events_max transfers from the workload
// generator (generated with the timer paused); items/s is transfers per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/assert.hpp"
#include "engine/reference_ledger.hpp"
#include "tools/workload.hpp"

namespace remit {
namespace {

// A funded ledger and its generator. Building one with 10^6 accounts takes a while, so
// each is built once and kept for every run Google Benchmark makes of its benchmark.
struct world {
  explicit world(const workload::config& c) : gen(c) {
    std::vector<account> accounts;
    std::vector<result> out(batch_events_max);
    while (gen.next_account_batch(accounts)) {
      ledger.create_accounts(accounts, tick(), std::span(out).first(accounts.size()));
      for (std::size_t i = 0; i < accounts.size(); ++i) REMIT_ASSERT(out[i].status == 0);
    }
    std::vector<transfer> funding;
    while (gen.next_funding_batch(funding)) {
      ledger.create_transfers(funding, tick(), std::span(out).first(funding.size()));
      for (std::size_t i = 0; i < funding.size(); ++i) REMIT_ASSERT(out[i].status == 0);
    }
    batch.reserve(batch_events_max);
    results.resize(batch_events_max);
  }
  std::uint64_t tick() { return now_ns += 1'000'000; }  // 1 ms per batch

  reference_ledger ledger;
  workload::generator gen;
  std::vector<transfer> batch;
  std::vector<result> results;
  std::uint64_t now_ns = 1'700'000'000ull * ns_per_s;
};

world& world_for(const std::string& key, const workload::config& c) {
  static std::map<std::string, std::unique_ptr<world>> worlds;
  auto& w = worlds[key];
  if (!w) w = std::make_unique<world>(c);
  return *w;
}

workload::config bench_config(std::uint64_t accounts, workload::mix m) {
  workload::config c;
  c.accounts = accounts;
  c.ledgers = 1;
  c.kind = m;
  c.dist = workload::distribution::uniform;
  c.batch_events = batch_events_max;
  c.seed = 1;
  c.timeout_max_s = 0;  // nothing expires: every run sees the same work
  return c;
}

void run(benchmark::State& state, world& w) {
  std::uint64_t ok = 0, events = 0;
  for (auto _ : state) {
    (void)_;
    state.PauseTiming();
    w.gen.next_transfer_batch(w.batch);
    const std::uint64_t now = w.tick();
    state.ResumeTiming();
    w.ledger.create_transfers(w.batch, now, w.results);
    benchmark::DoNotOptimize(w.results.data());
    state.PauseTiming();
    for (std::size_t i = 0; i < w.batch.size(); ++i) ok += w.results[i].status == 0;
    events += w.batch.size();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["ok_fraction"] =
      events == 0 ? 0.0 : static_cast<double>(ok) / static_cast<double>(events);
}

void BM_plain_uniform(benchmark::State& state) {
  const auto accounts = static_cast<std::uint64_t>(state.range(0));
  world& w =
      world_for("plain/" + std::to_string(accounts), bench_config(accounts, workload::mix::plain));
  run(state, w);
}
BENCHMARK(BM_plain_uniform)->Arg(10'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

// Half the events create pending transfers, half post or void earlier ones.
void BM_pending_then_post(benchmark::State& state) {
  const auto accounts = static_cast<std::uint64_t>(state.range(0));
  world& w = world_for("pending/" + std::to_string(accounts),
                       bench_config(accounts, workload::mix::pending));
  run(state, w);
}
BENCHMARK(BM_pending_then_post)->Arg(10'000)->Unit(benchmark::kMillisecond);

// Linked chains of two legs (a quarter of them a pending transfer and its post or void).
void BM_linked_pairs(benchmark::State& state) {
  const auto accounts = static_cast<std::uint64_t>(state.range(0));
  workload::config c = bench_config(accounts, workload::mix::linked);
  c.chain_legs_max = 2;
  world& w = world_for("linked/" + std::to_string(accounts), c);
  run(state, w);
}
BENCHMARK(BM_linked_pairs)->Arg(10'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace remit

BENCHMARK_MAIN();
