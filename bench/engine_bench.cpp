// Embedded throughput of the actor engine (remit::engine) against the serial reference
// ledger on the same pre-generated transfers, in one run, so that the ratio holds on a
// noisy machine. Plain transfers on 100k accounts, uniform or Zipf, batch 1, 64 or 8190,
// 1 or 2 scheduler threads. Closed loop: `inflight` batches outstanding (enough to keep
// both cores busy at every batch size); items/s is transfers per second.
//
// A separate benchmark spawns 1M accounts and reports the resident memory per account.
#include <benchmark/benchmark.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/storage.hpp"
#include "engine/assert.hpp"
#include "engine/reference_ledger.hpp"
#include "tools/alloc/cost.hpp"
#include "tools/workload.hpp"

namespace remit {
namespace {

constexpr std::uint64_t accounts_n = 100'000;
constexpr std::uint64_t transfers_per_run = 1'000'000;
constexpr std::uint64_t start_ns = 1'700'000'000ull * ns_per_s;

workload::config config_for(workload::distribution d, std::uint32_t batch) {
  workload::config c;
  c.accounts = accounts_n;
  c.kind = workload::mix::plain;
  c.dist = d;
  c.batch_events = batch;
  c.seed = 7;
  c.timeout_max_s = 0;
  return c;
}

struct prepared {
  std::vector<std::vector<account>> accounts;
  std::vector<std::vector<transfer>> funding;
  std::vector<std::vector<transfer>> load;
};

prepared prepare(workload::distribution d, std::uint32_t batch) {
  prepared p;
  workload::generator gen(config_for(d, batch));
  std::vector<account> a;
  while (gen.next_account_batch(a)) p.accounts.push_back(a);
  std::vector<transfer> f;
  while (gen.next_funding_batch(f)) p.funding.push_back(f);
  const std::uint64_t batches = (transfers_per_run + batch - 1) / batch;
  p.load.resize(batches);
  for (auto& b : p.load) gen.next_transfer_batch(b, batch);
  return p;
}

// Waits until at most `limit` calls are outstanding.
class window {
 public:
  void acquire(std::uint32_t limit) {
    std::unique_lock<std::mutex> lock(m_);
    cv_.wait(lock, [&] { return outstanding_ < limit; });
    ++outstanding_;
  }
  void release() {
    std::lock_guard<std::mutex> lock(m_);
    --outstanding_;
    cv_.notify_all();
  }
  void drain() { acquire(1), release(); }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::uint32_t outstanding_ = 0;
};

std::uint32_t inflight_for(std::uint32_t batch) {
  if (batch >= 4096) return 4;
  if (batch >= 64) return 64;
  return 512;
}

std::string fresh_dir() {
  char dir[] = "/tmp/remit-bench-XXXXXX";
  REMIT_ASSERT(mkdtemp(dir) != nullptr);
  return dir;
}

// The per-transfer counters of a measured phase (tools/alloc/cost.hpp), from its start.
class cost_counters {
 public:
  void report(benchmark::State& state, std::uint64_t transfers) const {
    if (transfers == 0) return;
    const cost_per_transfer c =
        per_transfer(start_, cost_mark::now(engine_work_counters()), transfers);
    state.counters["cpu_us"] = c.cpu_us;
    if (c.allocations) state.counters["allocs"] = *c.allocations;
    state.counters["msgs"] = *c.messages;
    state.counters["acct_act"] = *c.account_activations;
    if (c.rounds_per_batch) state.counters["rounds"] = *c.rounds_per_batch;
  }

 private:
  cost_mark start_ = cost_mark::now(engine_work_counters());
};

void run_engine(benchmark::State& state, workload::distribution d, std::uint32_t batch,
                std::uint32_t threads, bool durable) {
  const prepared p = prepare(d, batch);
  std::atomic<std::uint64_t> now{start_ns};
  engine_config cfg;
  cfg.threads = threads;
  cfg.shards = 2;
  cfg.durability = durable;
  cfg.snapshot_at_shutdown = false;
  const std::string dir = durable ? fresh_dir() : std::string();
  cfg.data_dir = dir;
  cfg.clock = [&now] { return now.load(std::memory_order_relaxed); };
  engine e(cfg);
  for (const auto& a : p.accounts)
    REMIT_ASSERT(e.create_accounts(a).get().status == engine_status::ok);
  for (const auto& f : p.funding)
    REMIT_ASSERT(e.create_transfers(f).get().status == engine_status::ok);

  window w;
  const std::uint32_t inflight = inflight_for(batch);
  std::uint64_t ok = 0, events = 0;
  std::mutex ok_mutex;
  const cost_counters cost;
  for (auto _ : state) {
    for (const auto& b : p.load) {
      w.acquire(inflight);
      now += 1000;
      e.create_transfers(b, [&](engine_reply&& r) {
        std::uint64_t n = 0;
        for (const result& x : r.results) n += x.status == 0;
        {
          std::lock_guard<std::mutex> lock(ok_mutex);
          ok += n;
        }
        w.release();
      });
      events += b.size();
    }
    w.drain();
  }
  cost.report(state, events);
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
  state.counters["ok_fraction"] =
      events ? static_cast<double>(ok) / static_cast<double>(events) : 0;
  if (durable) {
    const auto j = e.journal_stats();
    state.counters["groups_per_s"] =
        benchmark::Counter(static_cast<double>(j.groups), benchmark::Counter::kIsRate);
    state.counters["records_per_group"] =
        j.groups ? static_cast<double>(j.records) / static_cast<double>(j.groups) : 0;
    state.counters["fdatasync_us"] =
        j.groups ? static_cast<double>(j.sync_ns_total) / 1e3 / static_cast<double>(j.groups) : 0;
  }
  e.shutdown();
  if (durable) std::filesystem::remove_all(dir);
}

void BM_engine(benchmark::State& state) {
  run_engine(state, static_cast<workload::distribution>(state.range(0)),
             static_cast<std::uint32_t>(state.range(1)), static_cast<std::uint32_t>(state.range(2)),
             false);
}

// The same load with the journal on, for the durable/non-durable ratio.
void BM_engine_durable(benchmark::State& state) {
  run_engine(state, static_cast<workload::distribution>(state.range(0)),
             static_cast<std::uint32_t>(state.range(1)), static_cast<std::uint32_t>(state.range(2)),
             true);
}

// Recovery time: a data directory with `n` journaled transfers, recovered into memory.
// A data directory whose journal holds the uniform load at batch 8190 (4 batches in flight,
// so that the journal is not in timestamp order), and the load's ids.
std::vector<u128> write_loaded_dir(const std::string& dir) {
  const prepared p = prepare(workload::distribution::uniform, batch_events_max);
  engine_config cfg;
  cfg.data_dir = dir;
  cfg.snapshot_at_shutdown = false;
  cfg.snapshot_every_records = UINT64_MAX;
  cfg.journal_file_size_max = UINT64_MAX;
  engine e(cfg);
  for (const auto& a : p.accounts)
    REMIT_ASSERT(e.create_accounts(a).get().status == engine_status::ok);
  for (const auto& f : p.funding)
    REMIT_ASSERT(e.create_transfers(f).get().status == engine_status::ok);
  std::vector<std::future<engine_reply>> inflight;
  for (const auto& b : p.load) {
    inflight.push_back(e.create_transfers(b));
    if (inflight.size() == 4) {
      for (auto& f : inflight) REMIT_ASSERT(f.get().status == engine_status::ok);
      inflight.clear();
    }
  }
  for (auto& f : inflight) REMIT_ASSERT(f.get().status == engine_status::ok);
  std::vector<u128> ids;
  for (const auto& b : p.load)
    for (const transfer& t : b) ids.push_back(t.id);
  return ids;
}

void BM_recovery(benchmark::State& state) {
  const std::string dir = fresh_dir();
  (void)write_loaded_dir(dir);
  std::uint64_t records = 0;
  std::uint64_t transfers = 0;
  for (auto _ : state) {
    reference_ledger ledger;
    storage::recovery_report report;
    std::string why;
    REMIT_ASSERT(storage::recover(dir, ledger, report, why));
    records = report.records;
    transfers = ledger.transfer_count();
  }
  state.counters["transfers"] = static_cast<double>(transfers);
  state.counters["records"] = static_cast<double>(records);
  state.SetItemsProcessed(static_cast<std::int64_t>(transfers));
  std::filesystem::remove_all(dir);
}

// What a promoted standby pays besides the lease: the engine started from the state the
// standby applied (engine_config::recovered, no replay), up to its first answers, which
// wait for every shard to hold its accounts and transfers. Recovery (the replay) is outside
// the timing; the engine's shutdown too.
void BM_start_from_state(benchmark::State& state) {
  const std::string dir = fresh_dir();
  const std::vector<u128> ids = write_loaded_dir(dir);
  std::uint64_t transfers = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto ledger = std::make_shared<reference_ledger>();
    storage::recovery_report report;
    std::string why;
    REMIT_ASSERT(storage::recover(dir, *ledger, report, why));
    transfers = ledger->transfer_count();
    engine_config cfg;
    cfg.data_dir = dir;
    cfg.snapshot_at_shutdown = false;
    cfg.snapshot_every_records = UINT64_MAX;
    cfg.recovered = std::move(ledger);
    cfg.recovered_lsn = report.last_lsn;
    state.ResumeTiming();
    auto e = std::make_unique<engine>(cfg);
    // One id of every 1,000 (those that failed are not found): every shard answers some.
    std::vector<u128> sample;
    for (std::size_t i = 0; i < ids.size(); i += 1000) sample.push_back(ids[i]);
    const engine_reply r = e->lookup_transfers(sample).get();
    REMIT_ASSERT(r.status == engine_status::ok && !r.transfers.empty());
    state.PauseTiming();
    e.reset();
    state.ResumeTiming();
  }
  state.counters["transfers"] = static_cast<double>(transfers);
  state.SetItemsProcessed(static_cast<std::int64_t>(transfers * state.iterations()));
  std::filesystem::remove_all(dir);
}

void BM_reference(benchmark::State& state) {
  const auto d = static_cast<workload::distribution>(state.range(0));
  const auto batch = static_cast<std::uint32_t>(state.range(1));
  const prepared p = prepare(d, batch);
  reference_ledger ledger;
  std::uint64_t now = start_ns;
  std::vector<result> out(batch_events_max);
  for (const auto& a : p.accounts) ledger.create_accounts(a, now += 1000, out);
  for (const auto& f : p.funding) ledger.create_transfers(f, now += 1000, out);
  std::uint64_t events = 0;
  const cost_counters cost;
  for (auto _ : state) {
    for (const auto& b : p.load) {
      ledger.create_transfers(b, now += 1000, std::span(out).first(b.size()));
      events += b.size();
    }
  }
  cost.report(state, events);
  benchmark::DoNotOptimize(out.data());
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}

std::uint64_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// Resident memory per account once every account has handled a message.
void BM_rss_per_account(benchmark::State& state) {
  const auto n = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) {
    engine_config cfg;
    cfg.durability = false;
    cfg.clock = [] { return start_ns; };
    engine e(cfg);
    const std::uint64_t before = rss_bytes();
    std::vector<account> batch;
    std::vector<u128> ids;
    for (std::uint64_t id = 1; id <= n; ++id) {
      account a{};
      a.id = id;
      a.ledger = 1;
      a.code = 1;
      batch.push_back(a);
      ids.push_back(id);
      if (batch.size() == batch_events_max || id == n) {
        REMIT_ASSERT(e.create_accounts(batch).get().status == engine_status::ok);
        // A lookup makes every new account handle a message (CAF spawns them lazily).
        REMIT_ASSERT(e.lookup_accounts(ids).get().accounts.size() == ids.size());
        batch.clear();
        ids.clear();
      }
    }
    const std::uint64_t after = rss_bytes();
    state.counters["rss_bytes_per_account"] =
        static_cast<double>(after - before) / static_cast<double>(n);
  }
}

constexpr auto uniform = static_cast<std::int64_t>(workload::distribution::uniform);
constexpr auto zipf = static_cast<std::int64_t>(workload::distribution::zipf);

BENCHMARK(BM_reference)
    ->ArgNames({"zipf", "batch"})
    ->ArgsProduct({{uniform, zipf}, {1, 64, 8190}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_engine)
    ->ArgNames({"zipf", "batch", "threads"})
    ->ArgsProduct({{uniform, zipf}, {1, 64, 8190}, {1, 2}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_engine_durable)
    ->ArgNames({"zipf", "batch", "threads"})
    ->ArgsProduct({{uniform}, {1, 8190}, {2}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_recovery)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_start_from_state)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_rss_per_account)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace remit

BENCHMARK_MAIN();
