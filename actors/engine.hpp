// remit::engine: the embedding API. It starts the actor system, spawns the coordinator
// shards, and runs every operation of docs/PROTOCOL.md section 3 on them.
//
// Thread-safe: any number of threads may call it at once. Each call answers exactly once,
// through its callback (run on one of the engine's worker threads: keep it short and never
// block in it) or through the returned future. In-flight work is bounded: past
// `inflight_requests_max` requests or `inflight_events_max` events the call is answered
// `overloaded` at once instead of queueing. Shutdown (or the destructor) stops taking new
// calls (`shutting_down`), waits until every call in flight is answered, then stops.
//
// Construction recovers from `data_dir` when durability is on, and throws
// std::runtime_error (naming the file and offset) if the journal is damaged before its tail.
//
// Semantics are those of docs/PROTOCOL.md section 8 and of the serial reference ledger: events
// of one call take effect as if applied in order; calls in flight at the same time are
// decided concurrently, where undecided transfers count as holds.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <string_view>
#include "engine/terms.hpp"
#include "engine/types.hpp"

namespace remit {

namespace actors {
enum class request_op : std::uint8_t;
}  // namespace actors
class reference_ledger;
struct storage_faults;

// How a call was answered, apart from its per-event results.
// `too_many_events`: the call carried more than batch_events_max events (nothing was done).
enum class engine_status : std::uint8_t {
  ok,
  overloaded,
  shutting_down,
  storage_failed,
  too_many_events,
  // A cluster's primary could not make the answer durable on its synchronous standbys
  // (engine_config::replicate said no): the outcome is unknown, resend by id later
  // (docs/PROTOCOL.md section 9, `unavailable`). The engine goes on.
  unavailable,
};
std::string_view name(engine_status s);

// A cluster's primary (docs/CLUSTER.md): called on the journal's writer thread with each
// group right after it is durable on this node, exactly as written (records first_lsn to
// last_lsn). It returns once the group is durable wherever the cluster requires (true), or
// once it cannot be (false: timeout, role lost). True means every group up to last_lsn is:
// standbys take groups in order. The answers that wait for a group wait for this too; after
// false they are answered `unavailable`.
using replicate_hook = std::function<bool(std::span<const std::byte> group, std::uint64_t first_lsn,
                                          std::uint64_t last_lsn)>;

// A cluster's primary, pipelined: the journal writes its next groups while the standbys make
// the earlier ones durable, instead of waiting for each (replicate_hook). `ship` is called on
// the writer thread with each group right after it is durable on this node, exactly as
// written; it sends and returns, it does not wait. `confirm` is called on a thread of the
// journal's own, once per shipped group in LSN order, and returns once that group is
// durable wherever the cluster requires (true: it and every group before it) or cannot be
// (false). At most `window` shipped groups wait for their confirmation; the writer waits
// for room past that. The answers that wait for a group wait for its confirmation; after
// false they are answered `unavailable`.
struct replicate_pipeline {
  std::function<void(std::span<const std::byte> group, std::uint64_t first_lsn,
                     std::uint64_t last_lsn)>
      ship;
  std::function<bool(std::uint64_t last_lsn)> confirm;
  std::uint32_t window = 8;
  explicit operator bool() const { return static_cast<bool>(ship); }
};

struct engine_config {
  std::uint32_t shards = 2;   // coordinator shards
  std::uint32_t threads = 2;  // scheduler worker threads
  // The actors that host the accounts (actors/account_host.hpp): each applies the entries of
  // the accounts placed on it, one at a time. More hosts run more accounts in parallel and
  // cost more messages per round of a large batch. 0: 8 per worker thread.
  std::uint32_t account_hosts = 0;
  // The number of hosts the engine spawns (account_hosts, or its default).
  std::uint32_t account_host_count() const {
    return account_hosts != 0 ? account_hosts : 8 * threads;
  }
  // The scheduler: "remit" (actors/scheduler.hpp: one FIFO queue, idle workers spin for
  // `spin_us` before they sleep, no allocation per scheduled actor), or CAF's own "sharing"
  // (one FIFO queue: bounded tail latency) or "stealing" (per-worker LIFO deques: more
  // throughput, but messages can starve under load).
  std::string scheduler_policy = "sharing";
  // "remit" only: how long an idle worker spins on the queue before it sleeps (0: never).
  // Spinning spends CPU while the engine is busy, none while it is idle.
  std::uint32_t spin_us = 50;
  std::uint32_t inflight_requests_max = 4096;
  std::uint32_t inflight_events_max = 1u << 20;
  std::uint32_t expiry_interval_ms = 250;
  // Durability: with it on, every answer waits until the journal in `data_dir` holds the
  // decisions it reports or depended on (fdatasync), and the engine recovers from that
  // directory when it starts. With it off nothing is written.
  std::string data_dir = "remit-data";
  bool durability = true;
  std::uint64_t journal_file_size_max = 256u << 20;
  std::uint64_t snapshot_every_records = 1u << 20;
  bool snapshot_at_shutdown = true;
  // For tests: makes the journal's writes or fdatasyncs fail on command.
  std::shared_ptr<storage_faults> faults;
  // UNSAFE, for tests only: breaks the commit rule on purpose, to show that the crash
  // harness's power-loss mode catches it. Answers wait for the journal's write() but not for
  // its fdatasync, which runs at most every 100 ms (as with PostgreSQL's synchronous_commit =
  // off), so an answer survives a killed process but not a power loss. Never set it
  // anywhere else.
  bool unsafe_answer_before_fdatasync = false;
  // Durability only: what a cluster's primary adds to the journal's rule (replicate_hook).
  // With it, the engine answers nothing, reads of the recovered state included, before a
  // first group is confirmed: set `term` too, whose record is that group.
  replicate_hook replicate;
  // Durability only: the pipelined form of `replicate` (set one or the other).
  replicate_pipeline pipeline;
  // Durability only: the term of a cluster's primary (docs/CLUSTER.md), 0 outside a cluster.
  // When it is not the last term of the recovered journal, the engine journals a
  // term_started record before anything else, so the records it writes are known to be this
  // term's; every answer waits for that record as for any earlier one. A term older than the
  // journal's last is refused (the constructor throws): the journal's terms only grow.
  std::uint64_t term = 0;
  // Durability only: the state of data_dir as recovery would find it, up to recovered_lsn
  // (a promoted standby's copy, already applied: journal_follower::release_state). The
  // engine takes it instead of replaying the journal. Nothing may have changed the
  // directory since.
  std::shared_ptr<reference_ledger> recovered;
  std::uint64_t recovered_lsn = 0;
  // Nanoseconds since the epoch; the system clock when empty. Tests inject their own.
  std::function<std::uint64_t()> clock;
};

struct engine_reply {
  engine_status status = engine_status::ok;
  std::vector<result> results;      // create_*, set_account_controls
  std::vector<account> accounts;    // lookup_accounts
  std::vector<transfer> transfers;  // lookup_transfers, get_account_transfers
  ledger_stats stats{};             // get_ledger_stats
};

using reply_callback = std::function<void(engine_reply&&)>;

// What the actor engine did, counted since the process started, summed over every engine in
// the process (actors/work_counters.hpp). Divide a phase's difference by its transfers.
struct work_counters {
  std::uint64_t messages = 0;          // messages handled by the engine's actors
  std::uint64_t account_messages = 0;  // of those, by account hosts (host activations)
  std::uint64_t rounds = 0;            // waves of transfer batches sent to the accounts
  std::uint64_t batches = 0;           // transfer batches run by coordinators
};
work_counters engine_work_counters();

class engine {
 public:
  explicit engine(engine_config cfg = {});
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  void create_accounts(std::span<const account> events, reply_callback cb);
  void create_transfers(std::span<const transfer> events, reply_callback cb);
  void lookup_accounts(std::span<const u128> ids, reply_callback cb);
  void lookup_transfers(std::span<const u128> ids, reply_callback cb);
  // The filter must pass validate_filter (engine/rules.hpp); otherwise the reply is empty.
  void get_account_transfers(const account_filter& filter, reply_callback cb);
  void set_account_controls(std::span<const account_controls> events, reply_callback cb);
  void get_ledger_stats(std::uint32_t ledger, reply_callback cb);

  std::future<engine_reply> create_accounts(std::span<const account> events);
  std::future<engine_reply> create_transfers(std::span<const transfer> events);
  std::future<engine_reply> lookup_accounts(std::span<const u128> ids);
  std::future<engine_reply> lookup_transfers(std::span<const u128> ids);
  std::future<engine_reply> get_account_transfers(const account_filter& filter);
  std::future<engine_reply> set_account_controls(std::span<const account_controls> events);
  std::future<engine_reply> get_ledger_stats(std::uint32_t ledger);

  // A primary that moves to a newer term while it runs: journals a term_started record of
  // `term` and answers once it is durable (and confirmed by the cluster, as any answer:
  // `unavailable` when it could not be). A term not newer than the last one journaled is
  // answered as a read is, once everything before it is durable, and writes nothing. Without
  // durability it answers ok and journals nothing.
  std::future<engine_status> begin_term(std::uint64_t term);
  // The terms of the journal: those recovered, then those this engine journaled, each once
  // its record is durable here. Thread-safe.
  std::vector<term_start> term_history() const;

  // Stops taking calls, answers every call in flight, stops the actors. Idempotent.
  void shutdown();

  std::uint32_t inflight_requests() const { return inflight_requests_.load(); }
  // True once a journal write failed: the engine takes no more writes (fail-stop).
  bool storage_failed() const { return storage_failed_.load(); }

  struct recovery_summary {
    std::string snapshot;
    std::uint64_t snapshot_lsn = 0;
    std::uint64_t records = 0;
    std::uint64_t last_lsn = 0;
    std::uint64_t torn_bytes = 0;
    std::uint64_t accounts = 0;
    std::uint64_t transfers = 0;
    double seconds = 0;
    // A snapshot of the recovered state was written before the engine started, because the
    // replayed tail reached snapshot_every_records (storage::snapshot_recovered).
    bool snapshot_taken = false;
  };
  const recovery_summary& recovery() const { return recovery_; }
  // Journal figures since start: groups written, records, fdatasync time.
  struct journal_figures {
    std::uint64_t groups = 0;
    std::uint64_t records = 0;
    std::uint64_t bytes = 0;
    std::uint64_t sync_ns_total = 0;
    std::uint64_t snapshots = 0;
  };
  journal_figures journal_stats() const;
  const engine_config& config() const { return cfg_; }

 private:
  struct impl;
  void restore_state(std::shared_ptr<const reference_ledger> source);
  void finish_shutdown();
  template <class Fill>
  void submit(actors::request_op op, std::size_t events, bool stamps, Fill&& fill,
              reply_callback cb);
  // Counts a call of `events` in flight, or says why it is refused. After ok the caller
  // sends it, then calls leave(); its answer calls finish_call.
  engine_status admit(std::uint32_t events);
  void leave();
  void finish_call(std::uint32_t events);
  // Sends a term request to the journal (term 0: a sync only). Under terms_mutex_, so that
  // records of growing terms reach the journal in that order.
  void send_term(std::uint64_t term, std::function<void(engine_status)> answer);

  engine_config cfg_;
  std::unique_ptr<impl> impl_;
  std::atomic<std::uint32_t> inflight_requests_{0};
  std::atomic<std::uint32_t> inflight_events_{0};
  std::atomic<std::uint32_t> entering_{0};  // calls between their stopping_ check and send
  std::atomic<bool> stopping_{false};
  std::atomic<bool> storage_failed_{false};
  recovery_summary recovery_;
  std::mutex mutex_;  // timestamps, shutdown
  std::condition_variable idle_;
  std::uint64_t last_timestamp_ = 0;
  bool shutdown_started_ = false;  // under mutex_
  bool shutdown_done_ = false;     // under mutex_
  mutable std::mutex terms_mutex_;
  std::vector<term_start> terms_;     // under terms_mutex_
  std::uint64_t requested_term_ = 0;  // the last term sent to the journal, under terms_mutex_
};

}  // namespace remit
