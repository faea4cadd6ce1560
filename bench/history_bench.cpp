// Replay of a journal whose requests interleave, as a standby or a recovery reads it.
//
// Several requests are in flight at once, each with its own run of timestamps (a base per
// request, one timestamp per event), and their records reach the journal interleaved: a
// record of an older request often comes after many records of newer ones that share an
// account. The journal built here is that pattern at its plainest: `requests` requests of
// `batch` transfers each, `in_flight` of them at a time, their transfers taken round-robin
// in chunks of `chunk` (one journal record each), every transfer from one funding account to
// an account of its own (as remit-load funds its accounts). A request's timestamps follow
// the previous request's, so every transfer of an older request is older than every one of
// a newer request.
//
// One iteration replays the transfer records into a ledger that already holds the accounts
// (made with the timer paused); items/s is transfers per second.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "engine/journal_format.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/transfer_store.hpp"
#include "engine/types.hpp"

namespace remit {
namespace {

constexpr u128 funding_account = 1;
constexpr std::uint32_t ledger_id = 1;
constexpr std::uint64_t first_timestamp = 1'000'000;

// The transfers in journal order: request r (0-based) has timestamps from
// first_timestamp + r * batch on; transfer e of it credits account 2 + r * batch + e.
std::vector<transfer> interleaved(std::uint64_t requests, std::uint64_t batch,
                                  std::uint64_t in_flight, std::uint64_t chunk) {
  struct open_request {
    std::uint64_t r;
    std::uint64_t next = 0;  // its next event
  };
  std::vector<transfer> out;
  out.reserve(requests * batch);
  std::deque<open_request> open;
  std::uint64_t started = 0;
  while (started < requests || !open.empty()) {
    while (open.size() < in_flight && started < requests) open.push_back({started++});
    // One chunk of each request in flight, oldest first; a finished one makes room.
    for (std::size_t i = 0; i < open.size();) {
      open_request& o = open[i];
      const std::uint64_t end = std::min(batch, o.next + chunk);
      for (; o.next < end; ++o.next) {
        const std::uint64_t seq = o.r * batch + o.next;
        transfer t{};
        t.id = seq + 1;
        t.debit_account_id = funding_account;
        t.credit_account_id = 2 + seq;
        t.amount = 1;
        t.ledger = ledger_id;
        t.code = 1;
        t.timestamp = first_timestamp + seq;
        out.push_back(t);
      }
      if (o.next == batch) {
        open.erase(open.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }
  return out;
}

// Journal records of `per_record` entries each, laid out as the writer lays them out.
template <class T>
std::vector<std::vector<std::byte>> payloads(std::span<const T> entries, std::size_t per_record) {
  std::vector<std::vector<std::byte>> out;
  for (std::size_t i = 0; i < entries.size(); i += per_record) {
    const std::size_t n = std::min(per_record, entries.size() - i);
    std::vector<std::byte> p(n * sizeof(T));
    std::memcpy(p.data(), entries.data() + i, p.size());
    out.push_back(std::move(p));
  }
  return out;
}

journal::record_view view_of(journal::record_type type, const std::vector<std::byte>& payload) {
  journal::record_view v{};
  v.header.type = static_cast<std::uint16_t>(type);
  v.header.length = static_cast<std::uint32_t>(payload.size());
  v.payload = payload;
  return v;
}

struct journal_of {
  std::vector<std::vector<std::byte>> accounts;   // accounts_created payloads
  std::vector<std::vector<std::byte>> transfers;  // transfers_committed payloads
  std::vector<transfer> order;                    // the transfers, in journal order
};

journal_of build(std::uint64_t total, std::uint64_t batch, std::uint64_t in_flight,
                 std::uint64_t chunk) {
  journal_of j;
  const std::uint64_t requests = total / batch;
  j.order = interleaved(requests, batch, in_flight, chunk);
  std::vector<account> accounts(requests * batch + 1);
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    accounts[i].id = funding_account + i;
    accounts[i].ledger = ledger_id;
    accounts[i].code = 1;
    accounts[i].timestamp = i + 1;
  }
  j.accounts = payloads<account>(accounts, journal::record_payload_max / sizeof(account));
  std::vector<journal::committed_transfer> committed(j.order.size());
  for (std::size_t i = 0; i < j.order.size(); ++i) {
    committed[i].stored = j.order[i];
    committed[i].amount_sent = j.order[i].amount;
  }
  j.transfers = payloads<journal::committed_transfer>(committed, chunk);
  return j;
}

// Args: total transfers, batch (transfers per request), requests in flight, chunk.
void BM_replay_interleaved(benchmark::State& state) {
  const auto total = static_cast<std::uint64_t>(state.range(0));
  const auto batch = static_cast<std::uint64_t>(state.range(1));
  const auto in_flight = static_cast<std::uint64_t>(state.range(2));
  const auto chunk = static_cast<std::uint64_t>(state.range(3));
  const journal_of j = build(total, batch, in_flight, chunk);
  std::uint64_t transfers = 0;
  for (auto _ : state) {
    (void)_;
    state.PauseTiming();
    auto ledger = std::make_unique<reference_ledger>();
    for (const auto& p : j.accounts)
      ledger->replay(view_of(journal::record_type::accounts_created, p));
    state.ResumeTiming();
    for (const auto& p : j.transfers)
      ledger->replay(view_of(journal::record_type::transfers_committed, p));
    benchmark::DoNotOptimize(ledger->transfer_count());
    state.PauseTiming();
    transfers += ledger->transfer_count();
    ledger.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transfers));
}

// The same journal order, into a transfer_store alone: the history lists and the id index.
void BM_store_add_interleaved(benchmark::State& state) {
  const auto total = static_cast<std::uint64_t>(state.range(0));
  const auto batch = static_cast<std::uint64_t>(state.range(1));
  const auto in_flight = static_cast<std::uint64_t>(state.range(2));
  const auto chunk = static_cast<std::uint64_t>(state.range(3));
  const std::vector<transfer> order = interleaved(total / batch, batch, in_flight, chunk);
  std::uint64_t transfers = 0, steps = 0;
  for (auto _ : state) {
    (void)_;
    state.PauseTiming();
    auto store = std::make_unique<transfer_store>();
    state.ResumeTiming();
    for (const transfer& t : order) store->add(stored_transfer{t, {}, 0, pending_state::none});
    benchmark::DoNotOptimize(store->size());
    state.PauseTiming();
    transfers += store->size();
    steps += store->link_steps();
    store.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(transfers));
  // Records passed over per transfer stored (each links into two lists).
  state.counters["steps_per_transfer"] =
      transfers == 0 ? 0.0 : static_cast<double>(steps) / static_cast<double>(transfers);
}

void interleavings(benchmark::internal::Benchmark* b) {
  b->ArgNames({"total", "batch", "in_flight", "chunk"});
  for (const std::int64_t total : {200'000, 1'000'000}) {
    b->Args({total, 8190, 1, 64});   // one request at a time: the journal in timestamp order
    b->Args({total, 8190, 4, 64});   // four in flight, a record of 64 from each in turn
    b->Args({total, 8190, 16, 64});  // more in flight than an account has fingers
  }
  b->Unit(benchmark::kMillisecond);
}

BENCHMARK(BM_replay_interleaved)->Apply(interleavings);
BENCHMARK(BM_store_add_interleaved)->Apply(interleavings);

}  // namespace
}  // namespace remit

BENCHMARK_MAIN();
