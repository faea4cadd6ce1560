// remit-load: drives a ledger target with a generated workload (tools/workload.hpp, or a
// payment workload, tools/load/payments.hpp) and reports throughput, latency, result codes,
// and whether money was conserved. docs/LOAD.md is the guide.
//
//   remit-load --target reference --accounts 100000 --mix mixed --seconds 5 [--json]
//   remit-load --target embedded --batch 1 --inflight 64 --seconds 5
//   remit-load --target embedded --batch 1 --rate 20000 --seconds 5
//   remit-load --target 127.0.0.1:7400 --key-file remit-data/keys --connections 4 --seconds 10
//   remit-load --target 127.0.0.1:7400 --key-file K --workload card --ramp 1000:20000:30
//   remit-load --target 127.0.0.1:7400 --key-file K --find-max --slo p99=300us --report out
//   remit-load merge out-0 out-1 --report out
//
// Phases: create the accounts, fund them and set the workload's account controls (before
// the clock starts, not measured), run the load (timed), look up every account and check
// per ledger that debits equal credits (posted, and pending). With --json the last line
// printed is one JSON object with the figures (with --report, the line after it names the
// report). Exit status: 0, 1 when money was not conserved or the target failed, 2 for bad
// flags.
//
// The load is asynchronous. The caller thread generates batches and sends them; answers
// come back through a callback (on the engine's worker threads for `embedded`, inline for
// the synchronous `reference`, on the client's I/O threads for HOST:PORT), which records the
// batch's latency once per transfer in it and counts the result codes. Two ways to pace it:
//   closed loop (--inflight K): K batches outstanding at once; a batch is generated, then
//     sent, and its latency runs from that send to its answer.
//   open loop (--rate R, --ramp, --steps, --find-max): a schedule (tools/load/schedule.hpp)
//     says when each transfer is due. The next batch is generated before it is due; the
//     sender sleeps until --spin-us before the due time (timer slack 1 ns) and spins the
//     rest, and sends. Its latency runs from when it was DUE, so a stalled target shows as
//     latency, not as missing samples (no coordinated omission). How late every send went
//     out is recorded too, and a send more than --late-after-us past its due time counts as
//     "late": both are reported. At most open_outstanding_max batches are outstanding.
//     --find-max runs open-loop steps and searches for the highest rate within --slo.
// A batch answered `overloaded` is kept and sent again (after the next answer or
// retry_backoff, whichever comes first), keeping its due time; every such answer is
// counted, none is dropped.
//
// Targets sit behind `load_target`: `reference` (the serial reference ledger in this
// process), `embedded` (the actor engine, remit::engine, in this process; --shards,
// --threads, --durability and --data-dir go to its engine_config) and `sim` (no ledger: it
// answers ok at once, or at a fixed capacity, or after a stall; for testing remit-load
// itself). With --durability on the engine journals to --data-dir; a directory that
// already holds a ledger is recovered and the run's transfers get fresh ids (accounts and
// funding answer `exists`); without --data-dir a fresh temporary directory is used and
// removed afterwards. A `HOST:PORT` target drives remitd through the client library
// (gateway/client): --connections sessions, --key-file and --key-id to authenticate, --mac
// for a MAC on every frame; `A:P,B:P,C:P` lists a cluster's nodes, and each session follows
// the primary (counted in the report's `client` line). Setup (accounts and funding) always goes in
// full batches of 8190, whatever --batch says: it is not measured.
//
// Several processes: --id K --of N moves every account id and transfer id of process K to
// K x 2^56 and up, so N processes drive one target without colliding, each checking its own
// accounts; `merge` adds their --report directories into one (the histograms exactly).
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/resource.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "actors/engine.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "gateway/client/client.hpp"
#include "gateway/codec/address.hpp"
#include "tools/alloc/cost.hpp"
#include "tools/histogram.hpp"
#include "tools/load/payments.hpp"
#include "tools/load/report.hpp"
#include "tools/load/resend.hpp"
#include "tools/load/schedule.hpp"
#include "tools/workload.hpp"

namespace remit::load {

using steady = std::chrono::steady_clock;
using time_point = steady::time_point;

// Open loop: at most this many batches outstanding (sent and not answered, or refused and
// waiting to go again); past it the sender waits and its sends come late.
inline constexpr std::size_t open_outstanding_max = 1024;
// A batch refused as `overloaded` goes again after the next answer, or after this.
inline constexpr auto retry_backoff = std::chrono::milliseconds(1);
// A batch refused as `overloaded` for this long fails the run (the target is stuck).
inline constexpr auto refused_for_max = std::chrono::seconds(10);
// The caller thread wakes at least this often (progress line, deadlines).
inline constexpr auto tick = std::chrono::milliseconds(100);

// What a synchronous target call returns: done, or why the target could not answer (then
// the results are unspecified and the run stops).
class [[nodiscard]] call_status {
 public:
  static call_status done() { return call_status{}; }
  static call_status failed(std::string why) {
    call_status s;
    s.error_ = std::move(why);
    if (s.error_.empty()) s.error_ = "unknown error";
    return s;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// How the target answered one batch.
struct batch_answer {
  enum class kind : std::uint8_t {
    ok,          // `results` has one result per event
    overloaded,  // not taken: too much in flight; the batch may be sent again
    failed,      // the target cannot answer (`error` says why); the run stops
  };
  kind outcome = kind::ok;
  std::string error;
  std::vector<result> results;
};
using answer_callback = std::function<void(batch_answer&&)>;

// A ledger remit-load can drive. The create calls are asynchronous: each calls `done`
// exactly once, on any thread, possibly before it returns (the reference target answers
// inline); the events are copied before it returns. Only one thread makes calls.
class load_target {
 public:
  virtual ~load_target() = default;
  virtual std::string_view name() const = 0;
  virtual void create_accounts(std::span<const account> events, answer_callback done) = 0;
  virtual void create_transfers(std::span<const transfer> events, answer_callback done) = 0;
  // Synchronous. Found accounts in request order; `found` is how many were written.
  virtual call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                                      std::size_t& found) = 0;
  // Synchronous; for the setup of a workload (frozen and capped accounts). `out` gets one
  // result per event.
  virtual call_status set_account_controls(std::span<const account_controls> events,
                                           std::vector<result>& out) = 0;
  // Most events the target holds in flight at once, 0 for no bound.
  virtual std::uint64_t inflight_events_max() const { return 0; }
  // Most requests the target holds in flight at once, 0 for no bound.
  virtual std::uint64_t inflight_requests_max() const { return 0; }
  // The journal's figures for the report and the JSON ("journal"), read after the load;
  // empty when the target keeps no journal.
  virtual nlohmann::ordered_json journal_figures() const {
    return nlohmann::ordered_json::object();
  }
  // The engine's work counters so far, for a target that runs the engine in this process.
  virtual std::optional<work_counters> work() const { return std::nullopt; }
  // What the client library did on its own (reconnects, not_primary followed, resends), for
  // the report and the JSON ("client"); empty for a target in this process.
  virtual nlohmann::ordered_json client_figures() const { return nlohmann::ordered_json::object(); }
};

std::uint64_t wall_clock_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The serial reference ledger in this process, on the wall clock, expiring pending
// transfers about once a second like a server. Answers inline.
class reference_target final : public load_target {
 public:
  std::string_view name() const override { return "reference"; }

  void create_accounts(std::span<const account> events, answer_callback done) override {
    batch_answer a;
    a.results.resize(events.size());
    ledger_.create_accounts(events, wall_clock_ns(), a.results);
    done(std::move(a));
  }

  void create_transfers(std::span<const transfer> events, answer_callback done) override {
    const std::uint64_t now = wall_clock_ns();
    if (now >= next_expire_ns_) {
      ledger_.expire(now);
      next_expire_ns_ = now + ns_per_s;
    }
    batch_answer a;
    a.results.resize(events.size());
    ledger_.create_transfers(events, now, a.results);
    done(std::move(a));
  }

  call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                              std::size_t& found) override {
    found = ledger_.lookup_accounts(ids, out);
    return call_status::done();
  }

  call_status set_account_controls(std::span<const account_controls> events,
                                   std::vector<result>& out) override {
    out.resize(events.size());
    ledger_.set_account_controls(events, out);
    return call_status::done();
  }

 private:
  reference_ledger ledger_;
  std::uint64_t next_expire_ns_ = 0;
};

// The actor engine in this process (actors/engine.hpp).
class embedded_target final : public load_target {
 public:
  explicit embedded_target(engine_config cfg) : engine_(std::move(cfg)) {}

  std::string_view name() const override { return "embedded"; }
  const engine::recovery_summary& recovery() const { return engine_.recovery(); }

  void create_accounts(std::span<const account> events, answer_callback done) override {
    engine_.create_accounts(events, adapt(events.size(), std::move(done)));
  }

  void create_transfers(std::span<const transfer> events, answer_callback done) override {
    engine_.create_transfers(events, adapt(events.size(), std::move(done)));
  }

  call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                              std::size_t& found) override {
    found = 0;
    const time_point t0 = steady::now();
    for (;;) {
      engine_reply r = engine_.lookup_accounts(ids).get();
      if (r.status == engine_status::overloaded) {
        if (steady::now() - t0 > refused_for_max) {
          return call_status::failed("lookup_accounts refused as overloaded for 10 s");
        }
        std::this_thread::sleep_for(retry_backoff);
        continue;
      }
      if (r.status != engine_status::ok) {
        return call_status::failed("the engine answered " + std::string(remit::name(r.status)));
      }
      if (r.accounts.size() > out.size()) {
        return call_status::failed("the engine answered more accounts than ids asked for");
      }
      std::copy(r.accounts.begin(), r.accounts.end(), out.begin());
      found = r.accounts.size();
      return call_status::done();
    }
  }

  call_status set_account_controls(std::span<const account_controls> events,
                                   std::vector<result>& out) override {
    engine_reply r = engine_.set_account_controls(events).get();
    if (r.status != engine_status::ok || r.results.size() != events.size()) {
      return call_status::failed("set_account_controls: the engine answered " +
                                 std::string(remit::name(r.status)));
    }
    out = std::move(r.results);
    return call_status::done();
  }

  std::uint64_t inflight_events_max() const override {
    return engine_.config().inflight_events_max;
  }
  std::uint64_t inflight_requests_max() const override {
    return engine_.config().inflight_requests_max;
  }
  std::optional<work_counters> work() const override { return engine_work_counters(); }
  nlohmann::ordered_json journal_figures() const override {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!engine_.config().durability) return j;
    const engine::journal_figures f = engine_.journal_stats();
    j["groups"] = f.groups;
    j["records"] = f.records;
    j["bytes"] = f.bytes;
    const double sync_us_mean =
        f.groups == 0 ? 0.0 : static_cast<double>(f.sync_ns_total) / 1e3 / f.groups;
    j["fdatasync_us_mean"] = std::round(sync_us_mean * 10) / 10;
    j["snapshots"] = f.snapshots;
    return j;
  }

 private:
  // The engine's answer as a batch_answer. Runs on an engine worker thread (or inline for a
  // refusal): no more than a move.
  static reply_callback adapt(std::size_t events, answer_callback done) {
    return [events, done = std::move(done)](engine_reply&& r) {
      batch_answer a;
      switch (r.status) {
        case engine_status::ok:
          if (r.results.size() == events) {
            a.results = std::move(r.results);
          } else {
            a.outcome = batch_answer::kind::failed;
            a.error = "the engine answered " + std::to_string(r.results.size()) + " results for " +
                      std::to_string(events) + " events";
          }
          break;
        case engine_status::overloaded:
          a.outcome = batch_answer::kind::overloaded;
          break;
        default:
          a.outcome = batch_answer::kind::failed;
          a.error = "the engine answered " + std::string(remit::name(r.status));
          break;
      }
      done(std::move(a));
    };
  }

  engine engine_;
};

// remitd over the binary protocol (gateway/client): `connections` sessions, batches spread
// round robin over them. The client library's own batching is off, so a request carries
// exactly --batch transfers, and an `overloaded` answer is retried by the client itself.
// With a list of servers (a cluster) each session finds the primary and follows it when it
// moves, resending by id what was in flight (gateway/client/client.hpp). A transfer created
// by an earlier send of the same request answers `exists` to the resend: that is counted as
// `ok` (with its original timestamp), since it is this run's transfer, done once.
class network_target final : public load_target {
 public:
  network_target(const client::config& cfg, std::uint32_t connections) {
    for (std::uint32_t i = 0; i < connections; ++i)
      clients_.push_back(std::make_unique<client::client>(cfg));
  }

  std::string_view name() const override { return "gateway"; }
  client::session_info session() const { return clients_.front()->session(); }

  void create_accounts(std::span<const account> events, answer_callback done) override {
    next().create_accounts(events, adapt(events.size(), std::move(done)));
  }

  void create_transfers(std::span<const transfer> events, answer_callback done) override {
    // The batch's chains matter to the answer of a resend: kept only when it has one.
    std::vector<transfer> chains;
    if (std::any_of(events.begin(), events.end(),
                    [](const transfer& t) { return (t.flags & transfer_flags::linked) != 0; }))
      chains.assign(events.begin(), events.end());
    next().create_transfers(
        events, [this, chains = std::move(chains),
                 cb = adapt(events.size(), std::move(done))](client::reply&& r) {
          if (r.ok() && r.resends != 0) {
            exists_after_resend_.fetch_add(count_resent_as_done(chains, r.results),
                                           std::memory_order_relaxed);
          }
          cb(std::move(r));
        });
  }

  nlohmann::ordered_json client_figures() const override {
    client::counters sum;
    for (const auto& c : clients_) {
      const client::counters n = c->stats();
      sum.reconnects += n.reconnects;
      sum.not_primary_followed += n.not_primary_followed;
      sum.unavailable_resent += n.unavailable_resent;
      sum.resent += n.resent;
    }
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    j["reconnects"] = sum.reconnects;
    j["not_primary_followed"] = sum.not_primary_followed;
    j["unavailable_resent"] = sum.unavailable_resent;
    j["resent"] = sum.resent;
    j["exists_after_resend"] = exists_after_resend_.load(std::memory_order_relaxed);
    return j;
  }

  call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                              std::size_t& found) override {
    found = 0;
    client::reply r = next().lookup_accounts(ids);
    if (!r.ok()) return call_status::failed(failure(r));
    if (r.accounts.size() > out.size()) {
      return call_status::failed("the server answered more accounts than ids asked for");
    }
    std::copy(r.accounts.begin(), r.accounts.end(), out.begin());
    found = r.accounts.size();
    return call_status::done();
  }

  call_status set_account_controls(std::span<const account_controls> events,
                                   std::vector<result>& out) override {
    client::reply r = next().set_account_controls(events);
    if (!r.ok()) return call_status::failed(failure(r));
    if (r.results.size() != events.size()) {
      return call_status::failed("set_account_controls: the server answered " +
                                 std::to_string(r.results.size()) + " results");
    }
    out = std::move(r.results);
    return call_status::done();
  }

  std::uint64_t inflight_requests_max() const override {
    return std::uint64_t{session().inflight_max} * clients_.size();
  }

 private:
  client::client& next() { return *clients_[round_robin_++ % clients_.size()]; }

  static std::string failure(const client::reply& r) {
    if (!r.answered) return "no answer from the server: " + r.error;
    return "the server answered " + std::string(codec::name(r.status)) +
           (r.error.empty() ? "" : " (" + r.error + ")");
  }

  static client::callback adapt(std::size_t events, answer_callback done) {
    return [events, done = std::move(done)](client::reply&& r) {
      batch_answer a;
      if (r.ok() && r.results.size() == events) {
        a.results = std::move(r.results);
      } else if (r.answered && r.status == codec::status::overloaded) {
        a.outcome = batch_answer::kind::overloaded;
      } else {
        a.outcome = batch_answer::kind::failed;
        a.error = r.ok() ? "the server answered " + std::to_string(r.results.size()) +
                               " results for " + std::to_string(events) + " events"
                         : failure(r);
      }
      done(std::move(a));
    };
  }

  // Before clients_: the clients answer what is left when they go, through done_before.
  std::atomic<std::uint64_t> exists_after_resend_{0};
  std::vector<std::unique_ptr<client::client>> clients_;
  std::size_t round_robin_ = 0;
};

// A simulated target for testing remit-load itself (`--target sim`): no ledger, every
// event answered `ok`. With --sim-capacity C it is one server that serves C transfers/s in
// arrival order (a batch of n is done n / C after the one before it, or after it arrived):
// below C a transfer waits only its own service time, above C the queue and the latency
// grow without bound, a knee at exactly C. Without it, it answers at once, inline. With
// --sim-stall MS@S the first call after S seconds (from the first transfer) blocks the
// caller for MS milliseconds, as a target that stops answering would. Look-ups find every
// account with zero balances, on ledger 1.
class sim_target final : public load_target {
 public:
  sim_target(double capacity, std::chrono::nanoseconds stall, std::chrono::nanoseconds stall_at,
             bool realtime)
      : capacity_(capacity), stall_(stall), stall_at_(stall_at), realtime_(realtime) {
    if (capacity_ > 0) answerer_ = std::thread([this] { answer_loop(); });
  }
  ~sim_target() override {
    if (!answerer_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    cv_.notify_all();
    answerer_.join();
  }

  std::string_view name() const override { return "sim"; }

  void create_accounts(std::span<const account> events, answer_callback done) override {
    batch_answer a;
    a.results.resize(events.size());
    done(std::move(a));
  }

  void create_transfers(std::span<const transfer> events, answer_callback done) override {
    const time_point now = steady::now();
    if (first_ == time_point{}) first_ = now;
    if (stall_.count() > 0 && !stalled_ && now - first_ >= stall_at_) {
      stalled_ = true;
      std::this_thread::sleep_for(stall_);
    }
    batch_answer a;
    a.results.resize(events.size());
    if (capacity_ <= 0) {
      done(std::move(a));
      return;
    }
    const auto service = std::chrono::nanoseconds(
        static_cast<std::int64_t>(static_cast<double>(events.size()) * 1e9 / capacity_));
    {
      std::lock_guard<std::mutex> lock(m_);
      busy_until_ = std::max(busy_until_, steady::now()) + service;
      queue_.push_back({busy_until_, std::move(a), std::move(done)});
    }
    cv_.notify_all();
  }

  call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                              std::size_t& found) override {
    found = std::min(ids.size(), out.size());
    for (std::size_t i = 0; i < found; ++i) {
      out[i] = account{};
      out[i].id = ids[i];
      out[i].ledger = 1;
      out[i].code = 1;
    }
    return call_status::done();
  }

  call_status set_account_controls(std::span<const account_controls> events,
                                   std::vector<result>& out) override {
    out.assign(events.size(), result{});
    return call_status::done();
  }

 private:
  struct queued {
    time_point done_at;
    batch_answer answer;
    answer_callback done;
  };

  // Answers on time like the sender sends on time: 1 ns timer slack, and with --realtime
  // SCHED_FIFO, so that the knee the tests look for is the simulated one, not the machine's.
  void answer_loop() {
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
    if (realtime_) {
      sched_param p{};
      p.sched_priority = 10;
      pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);  // a refusal: just less exact
    }
    std::unique_lock<std::mutex> lock(m_);
    for (;;) {
      if (stop_ && queue_.empty()) return;
      if (queue_.empty()) {
        cv_.wait(lock);
        continue;
      }
      const time_point at = queue_.front().done_at;
      if (steady::now() < at) {
        cv_.wait_until(lock, at);
        continue;
      }
      queued q = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      q.done(std::move(q.answer));
      lock.lock();
    }
  }

  double capacity_;
  std::chrono::nanoseconds stall_, stall_at_;
  bool realtime_;
  time_point first_{};
  bool stalled_ = false;
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<queued> queue_;  // bounded by the caller's outstanding batches
  time_point busy_until_{};
  bool stop_ = false;
  std::thread answerer_;
};

// What remit-load sends: the generator's mixes (workload::generator, --mix) or a payment
// workload (tools/load/payments.hpp, --workload or --workload-file). Ids as generated;
// remit-load shifts them for --id and for a resumed data directory.
class load_source {
 public:
  virtual ~load_source() = default;
  virtual std::string describe() const = 0;
  virtual std::uint64_t account_count() const = 0;
  virtual bool next_account_batch(std::vector<account>& out) = 0;
  virtual bool next_funding_batch(std::vector<transfer>& out) = 0;
  virtual std::vector<account_controls> setup_controls() const { return {}; }
  // At least `events` (payments: an operation is never split, so maybe one more); `now_ns`
  // is when the batch is due, on the steady clock.
  virtual void next_transfer_batch(std::vector<transfer>& out, std::size_t events,
                                   std::uint64_t now_ns) = 0;
  // The kind of an event (user_data_32 - 1 in a payment workload), or "" when it has none.
  virtual std::string_view kind_of(const transfer&) const { return {}; }
  // The longest timeout of a pending transfer it sends, in seconds (0: none expire). After
  // the run, the target may expire pending transfers for this long.
  virtual std::uint32_t timeout_max_s() const = 0;
};

class mix_source final : public load_source {
 public:
  explicit mix_source(const workload::config& c) : gen_(c) {}
  std::string describe() const override {
    return "mix " + std::string(workload::name(gen_.cfg().kind)) + ", dist " +
           std::string(workload::name(gen_.cfg().dist));
  }
  std::uint64_t account_count() const override { return gen_.account_count(); }
  bool next_account_batch(std::vector<account>& out) override {
    return gen_.next_account_batch(out);
  }
  bool next_funding_batch(std::vector<transfer>& out) override {
    return gen_.next_funding_batch(out);
  }
  void next_transfer_batch(std::vector<transfer>& out, std::size_t events, std::uint64_t) override {
    gen_.next_transfer_batch(out, events);
  }
  std::uint32_t timeout_max_s() const override { return gen_.cfg().timeout_max_s; }

 private:
  workload::generator gen_;
};

class payments_source final : public load_source {
 public:
  explicit payments_source(const workload::payments_config& c) : gen_(c) {}
  std::string describe() const override { return "workload " + gen_.cfg().name; }
  std::uint64_t account_count() const override { return gen_.account_count(); }
  bool next_account_batch(std::vector<account>& out) override {
    return gen_.next_account_batch(out, batch_events_max);
  }
  bool next_funding_batch(std::vector<transfer>& out) override {
    return gen_.next_funding_batch(out, batch_events_max);
  }
  std::vector<account_controls> setup_controls() const override { return gen_.setup_controls(); }
  void next_transfer_batch(std::vector<transfer>& out, std::size_t events,
                           std::uint64_t now_ns) override {
    gen_.next_transfer_batch(out, events, now_ns);
  }
  std::string_view kind_of(const transfer& t) const override {
    if (t.user_data_32 == 0 || t.user_data_32 > workload::payment_kind_count) return "setup";
    return workload::name(static_cast<workload::payment_kind>(t.user_data_32 - 1));
  }
  std::uint32_t timeout_max_s() const override { return gen_.cfg().auth_timeout_s; }

 private:
  workload::payments gen_;
};

struct options {
  std::string target = "reference";
  std::uint64_t accounts = 100'000;
  std::uint32_t ledgers = 1;
  std::string mix = "plain";
  std::string dist = "uniform";
  std::uint32_t batch = batch_events_max;
  std::uint32_t inflight = 0;   // closed loop: batches outstanding; 0 when open loop
  double rate = 0;              // open loop: transfers/s; 0 when closed loop
  std::uint64_t transfers = 0;  // 0: not given
  double seconds = 0;           // 0: not given
  std::uint64_t seed = 1;
  double bounded = 0.25;
  // embedded only
  std::uint32_t shards = engine_config{}.shards;
  std::uint32_t threads = engine_config{}.threads;
  std::string scheduler = engine_config{}.scheduler_policy;
  std::uint32_t spin_engine_us = engine_config{}.spin_us;
  std::uint32_t account_hosts = engine_config{}.account_hosts;
  std::string durability = "off";
  u128 id_offset = 0;    // set when --data-dir already holds a ledger (a resumed run)
  std::string data_dir;  // empty: a fresh temporary directory when durability is on
  // HOST:PORT only
  std::string key_file;
  std::string key_id = "admin";
  std::uint32_t connections = 1;
  bool mac = false;
  bool json = false;
  bool progress = false;  // the progress line even when stdout is not a terminal
  // payment workloads (tools/load/payments.hpp)
  std::string workload;       // a named one
  std::string workload_file;  // or one from a JSON file
  // rate schedules and --find-max
  std::string ramp;               // FROM:TO:SECONDS
  std::string steps;              // RATE:SECONDS,...
  std::optional<schedule> sched;  // open loop: --rate, --ramp or --steps
  bool find_max = false;
  bool realtime = false;        // the sending thread SCHED_FIFO
  double spin_us = -1;          // spin this long before a due time; -1: the default
  std::string slo = "p99=1ms";  // PERCENTILE=BOUND
  double step_seconds = 5;      // --find-max: each step
  double find_max_precision = 0.05;
  double late_after_us = 1000;  // a send this late counts as late
  std::string report;           // --report DIR
  // several processes
  std::uint32_t id = 0;
  std::uint32_t of = 1;
  u128 account_offset = 0;   // added to every account id (--id)
  u128 transfer_offset = 0;  // added to every transfer id (--id)
  // sim only
  double sim_capacity = 0;
  std::string sim_stall;  // MS@S
  std::string command;    // the command line, for the report
};

inline constexpr std::uint64_t transfers_default = 1'000'000;
inline constexpr double seconds_max = 3600;
inline constexpr double rate_max = 1e9;

// Closed-loop batches in flight when neither --inflight nor --rate is given (and during
// setup): a few big batches keep a target busy; small ones need many.
std::uint32_t inflight_default(std::uint32_t batch) {
  return batch >= 1024 ? 4 : 64;
}

// The target named by --target, or nullptr and why not. `scratch`: the data directory is
// thrown away after the run (no snapshot at shutdown).
std::unique_ptr<load_target> make_target(const options& o, bool scratch, std::string& why) {
  if (o.target == "reference") return std::make_unique<reference_target>();
  if (o.target == "sim") {
    std::chrono::nanoseconds stall{0}, at{0};
    if (!o.sim_stall.empty()) {
      double ms = 0, s = 0;
      char tail = 0;
      if (std::sscanf(o.sim_stall.c_str(), "%lf@%lf%c", &ms, &s, &tail) != 2 || !(ms > 0) ||
          !(ms <= 60'000) || !(s >= 0) || !(s <= seconds_max)) {
        why = "--sim-stall takes MS@SECONDS, e.g. 200@1 (at most 60000 ms)";
        return nullptr;
      }
      stall = std::chrono::nanoseconds(static_cast<std::int64_t>(ms * 1e6));
      at = std::chrono::nanoseconds(static_cast<std::int64_t>(s * 1e9));
    }
    return std::make_unique<sim_target>(o.sim_capacity, stall, at, o.realtime);
  }
  if (o.target == "embedded") {
    engine_config c;
    c.shards = o.shards;
    c.threads = o.threads;
    c.scheduler_policy = o.scheduler;
    c.spin_us = o.spin_engine_us;
    c.account_hosts = o.account_hosts;
    c.durability = o.durability == "on";
    if (!o.data_dir.empty()) c.data_dir = o.data_dir;  // set by `run` when durability is on
    c.snapshot_at_shutdown = !scratch;
    return std::make_unique<embedded_target>(std::move(c));
  }
  if (o.target.find_first_of(":,") != std::string::npos) {
    auto servers = codec::split_server_list(o.target, why);
    if (!servers) {
      why = "--target " + why;
      return nullptr;
    }
    client::config c;
    c.servers = std::move(*servers);
    c.batching = false;
    c.mac = o.mac;
    // A failover takes seconds (a lease runs out, a standby is promoted): the sessions wait
    // it out, resending by id, rather than fail the run. About 15 s of passes at 1 s apart.
    c.reconnects_max = 20;
    try {
      if (o.key_file.empty())
        throw client::client_error("--key-file is needed for a HOST:PORT target");
      client::load_key(c, o.key_file, o.key_id);
      return std::make_unique<network_target>(c, o.connections);
    } catch (const std::exception& e) {
      why = e.what();
      return nullptr;
    }
  } else {
    why = "unknown target '" + o.target + "': expected reference, embedded, sim or HOST:PORT";
  }
  return nullptr;
}

// A fresh temporary directory (under $TMPDIR, else /tmp), removed with everything in it
// when this goes away.
class scratch_dir {
 public:
  scratch_dir() = default;
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  ~scratch_dir() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  bool make(std::string& why) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != 0 ? tmp : "/tmp") + "/remit-load-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr) {
      why = "cannot make a directory like " + pattern + ": " + std::strerror(errno);
      return false;
    }
    path_ = buf.data();
    return true;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The batches of one phase in flight on a target: a fixed set of slots, each holding its
// batch until it is answered, so that a batch refused as `overloaded` can go again. The
// caller thread acquires a slot, fills it and sends it; answers arrive on any thread (or
// inline, inside `send`). `on_ok` runs on the answering thread for each batch answered
// with results, before its slot is free again: keep it short.
template <class Event>
class flight {
 public:
  struct slot {
    std::vector<Event> events;
    time_point due{};            // when the batch was meant to go out: latency runs from here
    time_point refused_since{};  // the first of its current run of `overloaded` answers
    bool refused = false;
  };
  using submit_fn = std::function<void(std::span<const Event>, answer_callback)>;
  using ok_fn = std::function<void(const slot&, std::span<const result>, time_point answered)>;

  flight(std::size_t slots, submit_fn submit, ok_fn on_ok)
      : slots_(std::max<std::size_t>(slots, 1)),
        submit_(std::move(submit)),
        on_ok_(std::move(on_ok)) {
    free_.reserve(slots_.size());
    for (std::size_t i = slots_.size(); i-- > 0;) free_.push_back(i);
  }
  flight(const flight&) = delete;
  flight& operator=(const flight&) = delete;
  // Answers may still be on their way (after a failure): wait for them, they use `this`.
  ~flight() {
    std::unique_lock<std::mutex> lock(m_);
    busy_ -= retry_.size();
    retry_.clear();
    cv_.wait(lock, [&] { return busy_ == 0; });
  }

  slot& at(std::size_t i) { return slots_[i]; }

  // A free slot, or nullopt when none came free by `until` or the run failed. Sends refused
  // batches again meanwhile.
  std::optional<std::size_t> acquire(time_point until) {
    std::unique_lock<std::mutex> lock(m_);
    if (serve(lock, until, [&] { return !free_.empty(); }) != served::ready) return std::nullopt;
    const std::size_t i = free_.back();
    free_.pop_back();
    ++busy_;
    return i;
  }
  // Gives back a slot acquired and not sent.
  void release(std::size_t i) {
    std::lock_guard<std::mutex> lock(m_);
    free_.push_back(i);
    --busy_;
    cv_.notify_all();
  }
  void send(std::size_t i) {
    submit_(slots_[i].events, [this, i](batch_answer&& a) { answered(i, std::move(a)); });
  }
  // Waits until `until`, sending refused batches again meanwhile. False when the run failed.
  bool wait_until(time_point until) {
    std::unique_lock<std::mutex> lock(m_);
    return serve(lock, until, [] { return false; }) != served::failed;
  }
  // Waits until every batch is answered (true), or until `until` or a failure (false).
  bool drain(time_point until) {
    std::unique_lock<std::mutex> lock(m_);
    return serve(lock, until, [&] { return busy_ == 0; }) == served::ready;
  }

  std::uint64_t overloaded() const {
    std::lock_guard<std::mutex> lock(m_);
    return overloaded_;
  }
  std::string failure() const {
    std::lock_guard<std::mutex> lock(m_);
    return failure_;
  }

 private:
  struct retry {
    std::size_t slot;
    time_point due;
  };
  enum class served : std::uint8_t { ready, timed_out, failed };

  // With the lock held: waits for `ready()`, `until` or a failure, sending refused batches
  // again when their backoff is over.
  template <class Ready>
  served serve(std::unique_lock<std::mutex>& lock, time_point until, Ready ready) {
    for (;;) {
      if (!failure_.empty()) return served::failed;
      if (ready()) return served::ready;
      const time_point now = steady::now();
      if (!retry_.empty() && retry_.front().due <= now) {
        const std::size_t i = retry_.front().slot;
        retry_.pop_front();
        if (now - slots_[i].refused_since > refused_for_max) {
          failure_ = "a batch of " + std::to_string(slots_[i].events.size()) +
                     " events was refused as overloaded for 10 s";
          --busy_;
          return served::failed;
        }
        lock.unlock();
        send(i);  // may answer inline: not under the lock
        lock.lock();
        continue;
      }
      if (now >= until) return served::timed_out;
      time_point wake = std::min(until, now + tick);
      if (!retry_.empty()) wake = std::min(wake, retry_.front().due);
      cv_.wait_until(lock, wake);
    }
  }

  // An answer, on any thread. Notifies under the lock: once busy_ drops to 0 the owner may
  // destroy `this`.
  void answered(std::size_t i, batch_answer&& a) {
    const time_point now = steady::now();
    if (a.outcome == batch_answer::kind::ok) on_ok_(slots_[i], a.results, now);
    std::lock_guard<std::mutex> lock(m_);
    switch (a.outcome) {
      case batch_answer::kind::ok:
        slots_[i].refused = false;
        free_.push_back(i);
        --busy_;
        // Room in the target again: the oldest refused batch need not wait out its backoff.
        if (!retry_.empty()) retry_.front().due = std::min(retry_.front().due, now);
        break;
      case batch_answer::kind::overloaded:
        ++overloaded_;
        if (!slots_[i].refused) {
          slots_[i].refused = true;
          slots_[i].refused_since = now;
        }
        retry_.push_back({i, now + retry_backoff});
        break;
      case batch_answer::kind::failed:
        if (failure_.empty()) failure_ = a.error.empty() ? "unknown error" : a.error;
        --busy_;
        break;
    }
    cv_.notify_all();
  }

  std::vector<slot> slots_;
  submit_fn submit_;
  ok_fn on_ok_;
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::vector<std::size_t> free_;
  std::deque<retry> retry_;
  std::size_t busy_ = 0;  // slots acquired and not free again
  std::uint64_t overloaded_ = 0;
  std::string failure_;
};

// A live progress line: on a terminal redrawn in place at most 4 times a second; with
// --progress and no terminal, one line a second (logs, CI).
class progress {
 public:
  explicit progress(bool force)
      : terminal_(isatty(STDOUT_FILENO) == 1), enabled_(force || terminal_) {}
  bool due(double seconds) const {
    return enabled_ && seconds - last_s_ >= (terminal_ ? 0.25 : 1.0);
  }
  void show(double seconds, std::uint64_t transfers, std::uint64_t p99_ns,
            std::uint64_t overloaded) {
    last_s_ = seconds;
    std::printf("%s%7.1f s  %12llu transfers  %10.0f transfers/s  p99 %9.1f us  overloaded %llu %s",
                terminal_ ? "\r" : "", seconds, static_cast<unsigned long long>(transfers),
                seconds > 0 ? static_cast<double>(transfers) / seconds : 0.0,
                static_cast<double>(p99_ns) / 1000.0, static_cast<unsigned long long>(overloaded),
                terminal_ ? "" : "\n");
    std::fflush(stdout);
    shown_ = terminal_;
  }
  void clear() {
    if (!shown_) return;
    std::printf("\r%100s\r", "");
    std::fflush(stdout);
    shown_ = false;
  }

 private:
  bool terminal_;
  bool enabled_;
  bool shown_ = false;
  double last_s_ = -1;
};

// Seconds from `a` to `b` (negative when b is earlier).
double seconds_between(time_point a, time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// A number as short as it prints: 4750, 99.9, 0.5.
std::string num_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct run_report {
  std::uint64_t transfers = 0;  // answered
  double seconds = 0;           // from the start to the last answer
  std::array<std::uint64_t, create_transfer_result_count> codes{};
  std::unique_ptr<histogram> latency = std::make_unique<histogram>();   // 37 KB: on the heap
  std::unique_ptr<histogram> lateness = std::make_unique<histogram>();  // send - due, ns
  std::uint64_t overloaded = 0;  // `overloaded` answers during the load (each batch retried)
  std::uint64_t late = 0;        // open loop: batches sent more than late_after after due
  std::uint64_t batches = 0;
  // payment workloads: result codes by kind (kind -> code -> events)
  std::map<std::string, std::map<std::string, std::uint64_t>> by_kind;
  bool conserved = false;
  std::uint64_t accounts_found = 0;
  int check_passes = 0;  // look-ups of every account until one balanced or two agreed
  // The load's cost per answered transfer (setup and the check excluded): "cpu_us" (the
  // whole process, remit-load's own work included), "allocations" (where counted), and for
  // an embedded target the engine's "messages", "account_activations", "rounds_per_batch".
  nlohmann::ordered_json per_transfer = nlohmann::ordered_json::object();
};

double round_to(double x, int digits);

// The load's cost per transfer, for the report and the JSON.
nlohmann::ordered_json cost_json(const cost_mark& a, const cost_mark& b, std::uint64_t transfers) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (transfers == 0) return j;
  const cost_per_transfer c = per_transfer(a, b, transfers);
  j["cpu_us"] = round_to(c.cpu_us, 2);
  if (c.allocations) j["allocations"] = round_to(*c.allocations, 2);
  if (c.messages) j["messages"] = round_to(*c.messages, 3);
  if (c.account_activations) j["account_activations"] = round_to(*c.account_activations, 3);
  if (c.rounds_per_batch) j["rounds_per_batch"] = round_to(*c.rounds_per_batch, 2);
  return j;
}

// The process's peak resident memory so far, in bytes (getrusage: the kernel's high-water
// mark, so a short peak between two samples is not missed).
std::uint64_t peak_rss_bytes() {
  rusage u{};
  if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return static_cast<std::uint64_t>(u.ru_maxrss) * 1024;  // KiB on Linux
}

// The account hosts the embedded engine of these options spawns.
std::uint32_t engine_host_count(const options& o) {
  engine_config c;
  c.threads = o.threads;
  c.account_hosts = o.account_hosts;
  return c.account_host_count();
}

double seconds_since(time_point t0) {
  return std::chrono::duration<double>(steady::now() - t0).count();
}

// x rounded to `digits` decimals, as the double nearest to that decimal (so that it prints
// short: 8716.3, not 8716.300000000001).
double round_to(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

// Sends every batch `next` fills, at most `window` outstanding, and waits for all the
// answers. False (with `failure` set) when the target failed.
template <class Event, class Next>
[[nodiscard]] bool pump(std::size_t window, Next next, typename flight<Event>::submit_fn submit,
                        typename flight<Event>::ok_fn on_ok, std::uint64_t& overloaded,
                        std::string& failure) {
  flight<Event> f(window, std::move(submit), std::move(on_ok));
  for (;;) {
    const std::optional<std::size_t> i = f.acquire(time_point::max());
    if (!i) break;  // failed
    if (!next(f.at(*i).events)) {
      f.release(*i);
      break;
    }
    f.send(*i);
  }
  f.drain(time_point::max());
  overloaded += f.overloaded();
  failure = f.failure();
  return failure.empty();
}

// --id K: every account id and transfer id of this process moved into its own range, so
// that N processes never collide. A resumed data directory adds its own transfer offset.
void shift_accounts(std::vector<account>& v, u128 offset) {
  if (offset == 0) return;
  for (account& a : v) a.id += offset;
}
void shift_transfers(std::vector<transfer>& v, u128 account_offset, u128 transfer_offset) {
  for (transfer& t : v) {
    t.id += transfer_offset;
    if (t.pending_id != 0) t.pending_id += transfer_offset;
    if (t.debit_account_id != 0) t.debit_account_id += account_offset;
    if (t.credit_account_id != 0) t.credit_account_id += account_offset;
  }
}

// Creates and funds the accounts, in the generator's batches, `window` at a time, then sets
// the workload's account controls. Prints what it did; false when the target failed or
// refused an account.
[[nodiscard]] bool setup(load_target& target, load_source& gen, const options& o,
                         std::size_t window) {
  const time_point t0 = steady::now();
  std::mutex m;
  std::uint64_t created = 0, refused = 0, funded = 0, unfunded = 0, overloaded = 0;
  std::string first_refusal, failure;

  const bool accounts_ok = pump<account>(
      window,
      [&](std::vector<account>& out) {
        const bool more = gen.next_account_batch(out);
        shift_accounts(out, o.account_offset);
        return more;
      },
      [&](std::span<const account> e, answer_callback cb) {
        target.create_accounts(e, std::move(cb));
      },
      [&](const flight<account>::slot&, std::span<const result> results, time_point) {
        std::lock_guard<std::mutex> lock(m);
        for (const result& r : results) {
          const auto code = static_cast<create_account_result>(r.status);
          // `exists` is fine: a server that already has them from an earlier run.
          if (code == create_account_result::ok || code == create_account_result::exists) {
            ++created;
          } else if (refused++ == 0) {
            first_refusal = std::string(name(code));
          }
        }
      },
      overloaded, failure);
  if (!accounts_ok) {
    std::fprintf(stderr, "remit-load: create_accounts failed: %s\n", failure.c_str());
    return false;
  }
  if (refused != 0) {
    std::fprintf(stderr, "remit-load: account refused: %s\n", first_refusal.c_str());
  }
  const bool funding_ok = pump<transfer>(
      window,
      [&](std::vector<transfer>& out) {
        const bool more = gen.next_funding_batch(out);
        // Funding keeps its ids on a resumed directory (it answers `exists`).
        shift_transfers(out, o.account_offset, o.account_offset);
        return more;
      },
      [&](std::span<const transfer> e, answer_callback cb) {
        target.create_transfers(e, std::move(cb));
      },
      [&](const flight<transfer>::slot&, std::span<const result> results, time_point) {
        std::lock_guard<std::mutex> lock(m);
        for (const result& r : results) {
          const auto code = static_cast<create_transfer_result>(r.status);
          ++(code == create_transfer_result::ok || code == create_transfer_result::exists
                 ? funded
                 : unfunded);
        }
      },
      overloaded, failure);
  if (!funding_ok) {
    std::fprintf(stderr, "remit-load: funding failed: %s\n", failure.c_str());
    return false;
  }
  std::vector<account_controls> controls = gen.setup_controls();
  if (!controls.empty()) {
    for (account_controls& c : controls) c.account_id += o.account_offset;
    std::vector<result> results;
    const call_status s = target.set_account_controls(controls, results);
    if (!s.ok()) {
      std::fprintf(stderr, "remit-load: %s\n", s.error().c_str());
      return false;
    }
    for (const result& r : results) {
      if (r.status != 0) {
        std::fprintf(stderr, "remit-load: account controls refused: %s\n",
                     std::string(name(static_cast<set_controls_result>(r.status))).c_str());
        return false;
      }
    }
  }
  std::printf(
      "setup: %llu accounts (%llu refused), %llu funding transfers (%llu refused), %zu account "
      "controls in %.2f s%s\n",
      static_cast<unsigned long long>(created), static_cast<unsigned long long>(refused),
      static_cast<unsigned long long>(funded), static_cast<unsigned long long>(unfunded),
      controls.size(), seconds_since(t0),
      overloaded == 0
          ? ""
          : (", " + std::to_string(overloaded) + " overloaded answers retried").c_str());
  std::fflush(stdout);  // seen even if the run dies
  return refused == 0;
}

// Waits until `due` and returns as close after it as the machine allows: the thread sleeps
// (serving retries) until `spin_margin` before, then spins on the clock. With timer slack at
// 1 ns a sleep still ends tens of microseconds late, more on a loaded machine; the spin
// takes that up. A SCHED_FIFO sender (--realtime) wakes sooner and needs less, and must
// spin less: the kernel throttles a real-time thread that runs more than 95% of a second.
// False when the run failed meanwhile.
inline constexpr double spin_us_default = 200;
inline constexpr double spin_us_realtime = 60;

template <class Show>
[[nodiscard]] bool wait_for_due(flight<transfer>& f, time_point due, steady::duration spin_margin,
                                Show show) {
  for (time_point now = steady::now(); now + spin_margin < due; now = steady::now()) {
    if (!f.wait_until(std::min(due - spin_margin, now + tick))) return false;
    show();
  }
  while (steady::now() < due) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  return true;
}

// --realtime: the sending thread runs SCHED_FIFO, so that on a machine busier than its cores
// it is not queued behind other processes at a due time (that shows as late sends). Needs
// CAP_SYS_NICE; the kernel's real-time throttling (sched_rt_runtime_us) bounds its spin.
// Once per process; a refusal is a note, not an error.
void realtime_sender() {
  static bool tried = false;
  if (tried) return;
  tried = true;
  sched_param p{};
  p.sched_priority = 10;
  if (const int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &p); e != 0) {
    std::fprintf(stderr, "remit-load: note: --realtime: SCHED_FIFO refused (%s); going on\n",
                 std::strerror(e));
  }
}

// The timed load, closed or open loop (see the top of the file). False when the target
// failed. `rec`, when given, gets the per-second figures, starting at second
// `second_offset` (--find-max runs several loads into one record).
[[nodiscard]] bool run_load(load_target& target, load_source& gen, const options& o,
                            const schedule* sched, std::size_t outstanding_max, run_report& rep,
                            run_record* rec, double second_offset) {
  const bool open = sched != nullptr;
  const bool endless = !open || std::isinf(sched->seconds());
  const std::uint64_t limit = o.transfers != 0            ? o.transfers
                              : o.seconds > 0 || !endless ? ~std::uint64_t{0}
                                                          : transfers_default;
  const auto late_after =
      std::chrono::nanoseconds(static_cast<std::int64_t>(o.late_after_us * 1e3));
  const double spin_us = o.spin_us >= 0 ? o.spin_us
                         : o.realtime   ? spin_us_realtime
                                        : spin_us_default;
  const auto spin_margin = std::chrono::duration_cast<steady::duration>(
      std::chrono::duration<double, std::micro>(spin_us));

  // What the answers say; written by the answering threads.
  std::mutex m;
  std::uint64_t answered = 0;
  time_point last_answer{};
  time_point t0{};

  flight<transfer> f(
      outstanding_max,
      [&](std::span<const transfer> e, answer_callback cb) {
        target.create_transfers(e, std::move(cb));
      },
      [&](const flight<transfer>::slot& s, std::span<const result> results, time_point now) {
        std::array<std::uint32_t, create_transfer_result_count> codes{};
        for (const result& r : results) {
          ++codes[std::min<std::uint32_t>(r.status, create_transfer_result_count - 1)];
        }
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - s.due).count();
        const auto latency_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0));
        std::lock_guard<std::mutex> lock(m);
        rep.latency->record(latency_ns, results.size());
        for (std::size_t c = 0; c < codes.size(); ++c) rep.codes[c] += codes[c];
        if (!gen.kind_of(s.events.front()).empty()) {
          for (std::size_t i = 0; i < results.size() && i < s.events.size(); ++i) {
            const auto code = static_cast<create_transfer_result>(
                std::min<std::uint32_t>(results[i].status, create_transfer_result_count - 1));
            ++rep.by_kind[std::string(gen.kind_of(s.events[i]))][std::string(name(code))];
          }
        }
        answered += results.size();
        last_answer = std::max(last_answer, now);
        if (rec != nullptr) {
          second_stats& sec = rec->second(second_offset + seconds_between(t0, now));
          sec.answered += results.size();
          sec.latency->record(latency_ns, results.size());
          for (std::size_t c = 0; c < codes.size(); ++c) {
            if (codes[c] == 0) continue;
            sec.codes[std::string(name(static_cast<create_transfer_result>(c)))] += codes[c];
            if (c != 0) sec.refused += codes[c];
          }
        }
      });

#ifdef __linux__
  // Sleeps end within microseconds of their time rather than the default 50 us slack:
  // the open loop sends on time (wait_for_due spins the rest).
  if (open) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
  if (open && o.realtime) realtime_sender();

  progress line(o.progress);
  const auto show = [&]() {
    const double s = seconds_since(t0);
    if (!line.due(s)) return;
    std::uint64_t n, p99;
    {
      std::lock_guard<std::mutex> lock(m);
      n = answered;
      p99 = rep.latency->percentile(99);
    }
    line.show(s, n, p99, f.overloaded());
  };

  {
    std::lock_guard<std::mutex> lock(m);
    t0 = steady::now();
  }
  const double run_seconds =
      open && o.seconds == 0 && o.transfers == 0 ? sched->seconds() : o.seconds;
  const time_point end = run_seconds > 0 && std::isfinite(run_seconds)
                             ? t0 + std::chrono::duration_cast<steady::duration>(
                                        std::chrono::duration<double>(run_seconds))
                             : time_point::max();
  std::uint64_t sent = 0;
  std::uint64_t overloaded_before = 0;
  bool failed = false;
  while (sent < limit) {
    show();
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(o.batch, limit - sent));
    time_point due{};
    if (open) {
      const std::optional<double> at = sched->due_s(static_cast<double>(sent));
      if (!at) break;
      // (Capped at about 30 years, which no run reaches, so that it cannot overflow.)
      due = t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(std::min(*at * 1e9, 1e18)));
      if (due >= end) break;
    } else if (steady::now() >= end) {
      break;
    }
    // A slot: at once unless outstanding_max batches are outstanding (then an open loop
    // falls behind: its sends come late, and their latency shows it).
    const std::optional<std::size_t> i =
        f.acquire(std::min(open ? time_point::max() : end, steady::now() + tick));
    if (!i) {
      if (!f.failure().empty()) {
        failed = true;
        break;
      }
      continue;  // nothing answered within a tick: show progress, look at the clock again
    }
    flight<transfer>::slot& s = f.at(*i);
    // Generated before the batch is due: not in its latency.
    const time_point gen_at = open ? due : steady::now();
    gen.next_transfer_batch(
        s.events, n,
        static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(gen_at.time_since_epoch())
                .count()));
    shift_transfers(s.events, o.account_offset, o.transfer_offset + o.id_offset);
    bool late = false;
    std::uint64_t lateness_ns = 0;
    if (open) {
      if (!wait_for_due(f, due, spin_margin, show) || !f.failure().empty()) {
        f.release(*i);
        failed = true;
        break;
      }
      const time_point now = steady::now();
      lateness_ns = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - due).count());
      late = now - due > late_after;
    } else {
      due = steady::now();
    }
    s.due = due;
    const std::size_t events = s.events.size();
    f.send(*i);
    sent += events;
    ++rep.batches;
    if (open) {
      std::lock_guard<std::mutex> lock(m);
      rep.lateness->record(lateness_ns);
      rep.late += late ? 1 : 0;
      if (rec != nullptr) {
        second_stats& sec = rec->second(second_offset + seconds_between(t0, due));
        sec.offered += events;
        sec.late += late ? 1 : 0;
        const std::uint64_t ov = f.overloaded();
        sec.overloaded += ov - overloaded_before;
        overloaded_before = ov;
      }
    } else if (rec != nullptr) {
      std::lock_guard<std::mutex> lock(m);
      rec->second(second_offset + seconds_between(t0, due)).offered += events;
    }
  }
  while (!failed && !f.drain(steady::now() + tick)) {
    if (!f.failure().empty()) failed = true;
    show();
  }
  line.clear();
  rep.overloaded = f.overloaded();
  if (failed) {
    std::fprintf(stderr, "remit-load: create_transfers failed: %s\n", f.failure().c_str());
    return false;
  }
  std::lock_guard<std::mutex> lock(m);
  rep.transfers = answered;
  rep.seconds = answered == 0 ? 0.0 : std::chrono::duration<double>(last_answer - t0).count();
  return true;
}

// One look-up of every account: per ledger sums, and a fingerprint of every balance.
struct ledger_view {
  struct sums {
    u128 debits_pending = 0, debits_posted = 0, credits_pending = 0, credits_posted = 0;
    bool operator==(const sums&) const = default;
  };
  std::map<std::uint32_t, sums> ledgers;
  std::uint64_t found = 0;
  std::uint64_t fingerprint = 0;
  bool operator==(const ledger_view&) const = default;
};

[[nodiscard]] bool look_up_all(load_target& target, const load_source& gen, u128 offset,
                               ledger_view& v) {
  v = ledger_view{};
  std::vector<u128> ids;
  std::vector<account> found(batch_events_max);
  ids.reserve(batch_events_max);
  const u128 count = gen.account_count();
  for (u128 id = 1; id <= count;) {
    ids.clear();
    while (id <= count && ids.size() < batch_events_max) ids.push_back(offset + id++);
    std::size_t n = 0;
    const call_status s = target.lookup_accounts(ids, found, n);
    if (!s.ok()) {
      std::fprintf(stderr, "remit-load: lookup_accounts failed: %s\n", s.error().c_str());
      return false;
    }
    v.found += n;
    for (std::size_t i = 0; i < n; ++i) {
      const account& a = found[i];
      ledger_view::sums& l = v.ledgers[a.ledger];
      l.debits_pending += a.debits_pending;
      l.debits_posted += a.debits_posted;
      l.credits_pending += a.credits_pending;
      l.credits_posted += a.credits_posted;
      std::uint64_t h = static_cast<std::uint64_t>(a.id);
      for (const u128 x :
           {a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted}) {
        std::uint64_t lo = static_cast<std::uint64_t>(x) ^ h;
        h = workload::splitmix64(lo) ^ static_cast<std::uint64_t>(x >> 64);
      }
      v.fingerprint += h;  // order-free
    }
  }
  return true;
}

// Whether per ledger the debits equal the credits, posted and pending.
bool balances(const ledger_view& v) {
  for (const auto& [ledger, l] : v.ledgers) {
    if (l.debits_posted != l.credits_posted || l.debits_pending != l.credits_pending) return false;
  }
  return true;
}

// Checks that per ledger the debits equal the credits, posted and pending. A target that
// works concurrently (the engine expires pending transfers in the background) gives no
// snapshot: a look-up of every account takes many calls, and an expiry between the call that
// reads a transfer's debit account and the one that reads its credit account shows as a
// difference in the pending sums. Expiry moves pending amounts only, equally on both sides,
// so a look-up that balances is judged at once; one that does not is repeated, 100 ms apart,
// until it balances, or two in a row agree exactly (nothing moved in between), or every
// pending transfer of the run may have expired and check_passes_max look-ups have been made:
// then the last one is judged, with a note.
inline constexpr int check_passes_max = 10;

[[nodiscard]] bool check_conserved(load_target& target, const load_source& gen, u128 offset,
                                   run_report& rep) {
  using clock = std::chrono::steady_clock;
  // Timeouts count from the transfer's commit, which is before now; a sweep is at most a
  // second behind.
  const clock::time_point settled = clock::now() + std::chrono::seconds(gen.timeout_max_s() + 1);
  ledger_view last, v;
  bool judged = false, noted = false;
  for (int pass = 1; !judged; ++pass) {
    if (pass > 2) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!look_up_all(target, gen, offset, v)) return false;
    rep.check_passes = pass;
    judged = balances(v) || (pass > 1 && v == last);
    last = v;
    if (judged) break;
    if (pass >= check_passes_max && clock::now() >= settled) {
      std::fprintf(stderr,
                   "remit-load: note: the accounts kept changing over %d look-ups; judging the "
                   "last\n",
                   pass);
      break;
    }
    if (pass >= 3 && !noted) {
      noted = true;
      std::fprintf(stderr,
                   "remit-load: pending transfers are expiring during the look-ups; checking "
                   "again for up to %u s\n",
                   gen.timeout_max_s() + 1);
    }
  }
  rep.accounts_found = v.found;
  rep.conserved = v.found == gen.account_count();
  if (!rep.conserved) {
    std::fprintf(stderr, "remit-load: %llu of %llu accounts found\n",
                 static_cast<unsigned long long>(v.found),
                 static_cast<unsigned long long>(gen.account_count()));
  }
  for (const auto& [ledger, l] : v.ledgers) {
    if (l.debits_posted != l.credits_posted || l.debits_pending != l.credits_pending) {
      std::fprintf(stderr,
                   "remit-load: ledger %u does not balance: posted debits %s credits %s, "
                   "pending debits %s credits %s\n",
                   ledger, to_decimal(l.debits_posted).c_str(),
                   to_decimal(l.credits_posted).c_str(), to_decimal(l.debits_pending).c_str(),
                   to_decimal(l.credits_pending).c_str());
      rep.conserved = false;
    }
  }
  return true;
}

std::string load_description(const options& o, std::size_t outstanding_max) {
  char buf[300];
  if (o.sched) {
    std::snprintf(buf, sizeof buf, "open loop, %s, batch %u, at most %zu batches outstanding",
                  o.sched->describe().c_str(), o.batch, outstanding_max);
  } else {
    std::snprintf(buf, sizeof buf, "closed loop, %u batches in flight", o.inflight);
  }
  return buf;
}

std::string result_name(std::uint32_t c) {
  return std::string(name(static_cast<create_transfer_result>(c)));
}

void print_report(const options& o, const load_source& gen, std::size_t outstanding_max,
                  bool scratch, const nlohmann::ordered_json& figures,
                  const nlohmann::ordered_json& client_figures, const run_report& rep,
                  const std::optional<find_max_result>& fm) {
  const histogram& h = *rep.latency;
  const auto us = [&](double p) { return round_to(static_cast<double>(h.percentile(p)) / 1e3, 1); };
  const auto late_us = [&](double p) {
    return round_to(static_cast<double>(rep.lateness->percentile(p)) / 1e3, 1);
  };
  const double max_us = round_to(static_cast<double>(h.max()) / 1e3, 1);
  const double tps = rep.seconds > 0 ? static_cast<double>(rep.transfers) / rep.seconds : 0.0;
  const bool open = o.sched.has_value();

  std::printf("target       %s, %llu accounts on %s, %s, batch %u, seed %llu%s\n", o.target.c_str(),
              static_cast<unsigned long long>(gen.account_count()),
              o.workload.empty() && o.workload_file.empty()
                  ? (std::to_string(o.ledgers) + " ledger(s)").c_str()
                  : "2 ledgers",
              gen.describe().c_str(), o.batch, static_cast<unsigned long long>(o.seed),
              o.of > 1
                  ? (", process " + std::to_string(o.id) + " of " + std::to_string(o.of)).c_str()
                  : "");
  if (o.target == "embedded") {
    std::printf(
        "engine       %u shards, %u threads, %u account hosts, scheduler %s%s, "
        "durability %s%s%s%s\n",
        o.shards, o.threads, engine_host_count(o), o.scheduler.c_str(),
        o.scheduler == "remit" ? (" (spin " + std::to_string(o.spin_engine_us) + " us)").c_str()
                               : "",
        o.durability.c_str(), o.durability == "on" ? ", journal in " : "",
        o.durability == "on" ? o.data_dir.c_str() : "",
        o.durability == "on" && scratch ? " (temporary)" : "");
  }
  std::printf("load         %s\n", load_description(o, outstanding_max).c_str());
  std::printf("transfers    %llu in %llu batches\n", static_cast<unsigned long long>(rep.transfers),
              static_cast<unsigned long long>(rep.batches));
  std::printf("seconds      %.3f\n", rep.seconds);
  std::printf("transfers/s  %.0f\n", tps);
  std::printf(
      "latency us   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (per transfer, of its "
      "batch, from %s)\n",
      us(50), us(90), us(99), us(99.9), max_us, open ? "its due time" : "its send");
  std::printf("results     ");
  for (std::uint32_t c = 0; c < create_transfer_result_count; ++c) {
    if (rep.codes[c] == 0 && c != 0) continue;
    std::printf(" %s %llu", result_name(c).c_str(), static_cast<unsigned long long>(rep.codes[c]));
  }
  std::printf("\n");
  for (const auto& [kind, codes] : rep.by_kind) {
    std::printf("  %-11s", kind.c_str());
    for (const auto& [code, n] : codes)
      std::printf(" %s %llu", code.c_str(), static_cast<unsigned long long>(n));
    std::printf("\n");
  }
  std::printf("overloaded   %llu (answers, each batch sent again)\n",
              static_cast<unsigned long long>(rep.overloaded));
  if (open) {
    std::printf(
        "late         %llu of %llu batches sent more than %.0f us after due; send lateness us "
        "p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
        static_cast<unsigned long long>(rep.late), static_cast<unsigned long long>(rep.batches),
        o.late_after_us, late_us(50), late_us(99), late_us(99.9),
        round_to(static_cast<double>(rep.lateness->max()) / 1e3, 1));
  }
  std::printf("conserved    %s (%llu accounts, looked up %d time(s))\n",
              rep.conserved ? "yes" : "no", static_cast<unsigned long long>(rep.accounts_found),
              rep.check_passes);
  const std::uint64_t peak_rss = peak_rss_bytes();
  const double per_account = rep.accounts_found != 0 ? static_cast<double>(peak_rss) /
                                                           static_cast<double>(rep.accounts_found)
                                                     : 0;
  const bool in_process = o.target == "embedded" || o.target == "reference";
  std::printf("memory       peak resident %.1f MB, %.0f bytes per account (this process: %s)\n",
              static_cast<double>(peak_rss) / 1e6, per_account,
              in_process ? "the target and remit-load's own tables" : "remit-load alone");
  if (!rep.per_transfer.empty()) {
    std::printf("per transfer");
    for (const auto& [k, v] : rep.per_transfer.items()) {
      std::printf("  %s %s", k.c_str(), v.dump().c_str());
    }
    std::printf("\n");
  }
  if (!figures.empty()) {
    std::printf("journal     ");
    for (const auto& [k, v] : figures.items()) std::printf(" %s %s", k.c_str(), v.dump().c_str());
    std::printf("  (whole run, setup included)\n");
  }
  if (!client_figures.empty()) {
    std::printf("client      ");
    for (const auto& [k, v] : client_figures.items())
      std::printf(" %s %s", k.c_str(), v.dump().c_str());
    std::printf("  (whole run; exists_after_resend are counted as ok)\n");
  }

  if (o.json) {
    nlohmann::ordered_json j;
    j["target"] = o.target;
    j["transfers"] = rep.transfers;
    j["seconds"] = round_to(rep.seconds, 3);
    j["tps"] = std::llround(tps);
    j["latency_us"] = nlohmann::ordered_json::object();
    j["latency_us"]["p50"] = us(50);
    j["latency_us"]["p90"] = us(90);
    j["latency_us"]["p99"] = us(99);
    j["latency_us"]["p999"] = us(99.9);
    j["latency_us"]["max"] = max_us;
    j["results"] = nlohmann::ordered_json::object();
    for (std::uint32_t c = 0; c < create_transfer_result_count; ++c) {
      if (rep.codes[c] == 0 && c != 0) continue;
      j["results"][result_name(c)] = rep.codes[c];
    }
    if (!rep.by_kind.empty()) j["results_by_kind"] = rep.by_kind;
    j["overloaded"] = rep.overloaded;
    j["late"] = rep.late;
    j["batches"] = rep.batches;
    if (open) {
      j["lateness_us"] = nlohmann::ordered_json::object();
      j["lateness_us"]["p50"] = late_us(50);
      j["lateness_us"]["p99"] = late_us(99);
      j["lateness_us"]["max"] = round_to(static_cast<double>(rep.lateness->max()) / 1e3, 1);
    }
    j["batch"] = o.batch;
    if (open) {
      j["rate"] = fm ? fm->rate : o.rate;  // 0 for --ramp and --steps: see "schedule"
      j["schedule"] = o.sched->describe();
    } else {
      j["inflight"] = o.inflight;
    }
    if (!o.workload.empty() || !o.workload_file.empty()) j["workload"] = gen.describe();
    if (!figures.empty()) j["journal"] = figures;
    if (!client_figures.empty()) j["client"] = client_figures;
    if (!rep.per_transfer.empty()) j["per_transfer"] = rep.per_transfer;
    j["memory"] = nlohmann::ordered_json::object();
    j["memory"]["peak_rss_bytes"] = peak_rss;
    j["memory"]["bytes_per_account"] = std::llround(per_account);
    if (fm) {
      j["find_max"] = nlohmann::ordered_json::object();
      j["find_max"]["slo"] = fm->slo;
      j["find_max"]["rate"] = fm->rate;
      j["find_max"]["steps"] = fm->steps.size();
      j["find_max"]["verdict"] = fm->verdict;
    }
    j["conserved"] = rep.conserved;
    std::cout << j.dump() << std::endl;
  }
  std::fflush(stdout);
}

// --slo: "p99=300us", "p99.9=2ms", "p50=40000ns". The percentile and the bound in ns.
struct slo_bound {
  double percentile = 99;
  std::uint64_t bound_ns = 1'000'000;
  std::string text;
};

[[nodiscard]] std::optional<slo_bound> parse_slo(const std::string& s, std::string& why) {
  slo_bound b;
  double p = 0, v = 0;
  char unit[8] = {};
  if (std::sscanf(s.c_str(), "p%lf=%lf%7s", &p, &v, unit) != 3 || !(p > 0 && p <= 100) ||
      !(v > 0)) {
    why = "--slo takes PERCENTILE=BOUND with a unit, e.g. p99=300us, p99.9=2ms";
    return std::nullopt;
  }
  const std::string u = unit;
  const double scale = u == "ns" ? 1 : u == "us" ? 1e3 : u == "ms" ? 1e6 : u == "s" ? 1e9 : 0;
  if (scale == 0 || v * scale > 3.6e12) {
    why = "--slo: the bound's unit is ns, us, ms or s, and it is at most an hour";
    return std::nullopt;
  }
  b.percentile = p;
  b.bound_ns = static_cast<std::uint64_t>(v * scale);
  char buf[64];
  std::snprintf(buf, sizeof buf, "p%g <= %g %s", p, v, u.c_str());
  b.text = buf;
  return b;
}

// --find-max: open-loop steps of step_seconds each, doubling the rate from --rate until a
// step fails, then bisecting between the best pass and the lowest fail until they are within
// find_max_precision of each other. A step passes when its percentile is within the bound
// and nothing was refused as overloaded. At most find_max_steps_max steps.
inline constexpr int find_max_steps_max = 24;

[[nodiscard]] bool find_max(load_target& target, load_source& gen, options& o,
                            std::size_t outstanding_max, const slo_bound& slo, run_record& rec,
                            run_report& best_rep) {
  find_max_result fm;
  fm.slo = slo.text;
  fm.bound_us = static_cast<double>(slo.bound_ns) / 1e3;
  double lo = 0, hi = std::numeric_limits<double>::infinity();
  double rate = o.rate > 0 ? o.rate : 1000;
  double second_offset = 0;
  std::printf("find-max     %s, steps of %g s from %.0f/s\n", slo.text.c_str(), o.step_seconds,
              rate);
  std::printf(
      "  step   offered/s  achieved/s  %9s  p99 us      max us  overloaded  late  "
      "verdict\n",
      ("p" + num_text(slo.percentile) + " us").c_str());
  bool confirming = false;  // this step runs a failed rate again
  for (int step = 1; step <= find_max_steps_max; ++step) {
    const schedule sched = schedule::constant(rate, o.step_seconds);
    run_report rep;
    if (!run_load(target, gen, o, &sched, outstanding_max, rep, &rec, second_offset)) return false;
    second_offset += std::ceil(o.step_seconds + 0.5);
    step_result s;
    s.rate = rate;
    s.achieved = rep.seconds > 0 ? static_cast<double>(rep.transfers) / rep.seconds : 0;
    s.value_us = static_cast<double>(rep.latency->percentile(slo.percentile)) / 1e3;
    s.p99_us = static_cast<double>(rep.latency->percentile(99)) / 1e3;
    s.max_us = static_cast<double>(rep.latency->max()) / 1e3;
    s.overloaded = rep.overloaded;
    s.late = rep.late;
    s.pass = rep.latency->percentile(slo.percentile) <= slo.bound_ns && rep.overloaded == 0 &&
             rep.transfers > 0;
    fm.steps.push_back(s);
    // A near miss (within 4x the bound, nothing overloaded) is run once more before it
    // counts: one scheduler hiccup on a shared machine should not end the search far below
    // the knee. A clear failure counts at once.
    const bool confirm = !s.pass && !confirming && s.overloaded == 0 &&
                         s.value_us * 1e3 <= 4.0 * static_cast<double>(slo.bound_ns);
    std::printf("  %4d  %10.0f  %10.0f  %9.1f  %9.1f  %10.1f  %10llu  %4llu  %s\n", step, s.rate,
                s.achieved, s.value_us, s.p99_us, s.max_us,
                static_cast<unsigned long long>(s.overloaded),
                static_cast<unsigned long long>(s.late),
                s.pass    ? "within"
                : confirm ? "over (running it again)"
                          : "over");
    std::fflush(stdout);
    confirming = confirm;
    if (confirm) continue;
    if (s.pass) {
      lo = rate;
      best_rep.latency = std::make_unique<histogram>(*rep.latency);
      best_rep.lateness = std::make_unique<histogram>(*rep.lateness);
      best_rep.codes = rep.codes;
      best_rep.by_kind = rep.by_kind;
      best_rep.transfers = rep.transfers;
      best_rep.seconds = rep.seconds;
      best_rep.late = rep.late;
      best_rep.batches = rep.batches;
      best_rep.overloaded = rep.overloaded;
    } else {
      hi = rate;
    }
    if (std::isinf(hi)) {
      rate = lo * 2;
      if (rate > rate_max) break;
    } else if (lo == 0) {
      rate = hi / 4;
      if (rate < 1) break;
    } else {
      if ((hi - lo) / hi <= o.find_max_precision) break;
      rate = std::round((lo + hi) / 2);
    }
  }
  fm.rate = lo;
  char buf[400];
  if (lo == 0) {
    std::snprintf(buf, sizeof buf, "no rate tried met %s", slo.text.c_str());
  } else {
    const auto above = std::find_if(fm.steps.begin(), fm.steps.end(),
                                    [&](const step_result& x) { return x.rate == hi; });
    std::snprintf(buf, sizeof buf,
                  "the highest rate within %s with nothing refused as overloaded: %.0f "
                  "transfers/s%s",
                  slo.text.c_str(), lo,
                  above == fm.steps.end()
                      ? " (the search reached its last step before a rate failed)"
                      : (" (" + num_text(hi) + "/s failed: p" + num_text(slo.percentile) + " " +
                         num_text(std::round(above->value_us * 10) / 10) + " us, " +
                         std::to_string(above->overloaded) + " overloaded)")
                            .c_str());
  }
  fm.verdict = buf;
  std::printf("find-max     %s\n", fm.verdict.c_str());
  rec.find_max = std::move(fm);
  return true;
}

// `remit-load merge DIR... --report OUT`: several processes' reports as one.
int merge_reports(const std::vector<std::string>& dirs, const std::string& out) {
  run_record merged;
  merged.processes = 0;
  merged.conserved = true;
  for (const std::string& d : dirs) {
    run_record r;
    std::string why;
    if (!read_report(d, r, why)) {
      std::fprintf(stderr, "remit-load: merge: %s\n", why.c_str());
      return 1;
    }
    merged.merge(r);
  }
  std::string why;
  if (!write_report(out, merged, why)) {
    std::fprintf(stderr, "remit-load: merge: %s\n", why.c_str());
    return 1;
  }
  const histogram& h = *merged.latency;
  std::printf(
      "merged %zu reports (%d processes) into %s: %llu transfers, p50 %.1f us, p99 %.1f us, "
      "max %.1f us, %llu late sends, conserved %s\n",
      dirs.size(), merged.processes, out.c_str(), static_cast<unsigned long long>(merged.transfers),
      static_cast<double>(h.percentile(50)) / 1e3, static_cast<double>(h.percentile(99)) / 1e3,
      static_cast<double>(h.max()) / 1e3, static_cast<unsigned long long>(merged.late),
      merged.conserved ? "yes" : "no");
  return merged.conserved ? 0 : 1;
}

// The run's figures for --report.
void fill_record(const options& o, const load_source& gen, std::size_t outstanding_max,
                 const run_report& rep, run_record& rec) {
  rec.commands = {o.command};
  rec.machine = machine_description();
  rec.date = utc_now();
  rec.target = o.target;
  rec.workload = gen.describe();
  rec.load = load_description(o, outstanding_max);
  rec.late_after_us = o.late_after_us;
  *rec.latency = *rep.latency;
  *rec.lateness = *rep.lateness;
  rec.codes.clear();
  for (std::uint32_t c = 0; c < create_transfer_result_count; ++c) {
    if (rep.codes[c] != 0) rec.codes[result_name(c)] = rep.codes[c];
  }
  rec.transfers = rep.transfers;
  rec.sends = rep.batches;
  rec.late = rep.late;
  rec.overloaded = rep.overloaded;
  rec.elapsed_s = rep.seconds;
  rec.conserved = rep.conserved;
}

std::string quoted_command(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i == 0) a = std::filesystem::path(a).filename().string();
    if (!out.empty()) out += ' ';
    if (a.find_first_of(" \t\"'$") != std::string::npos) {
      out += "'" + a + "'";
    } else {
      out += a;
    }
  }
  return out;
}

int run(int argc, char** argv) {
  CLI::App app{
      "remit-load: drive a remit ledger with a generated workload and report throughput, "
      "latency, result codes and whether money was conserved"};
  options o;
  o.command = quoted_command(argc, argv);
  app.require_subcommand(0, 1);
  std::vector<std::string> merge_dirs;
  std::string merge_out;
  CLI::App* merge_cmd = app.add_subcommand(
      "merge", "merge the --report directories of several remit-load processes into one");
  merge_cmd->add_option("dirs", merge_dirs, "the report directories")->required();
  merge_cmd->add_option("--report", merge_out, "where the merged report goes")->required();
  app.add_option("--target", o.target,
                 "what to drive: reference (the serial ledger in this process), embedded (the "
                 "actor engine in this process), HOST:PORT (remitd, over the binary protocol; "
                 "a comma-separated list for a cluster, whose primary is followed), "
                 "or sim (no ledger: answers ok, for testing remit-load itself)")
      ->capture_default_str();
  app.add_option("--accounts", o.accounts, "user accounts (ids 1..N; one bank per ledger more)")
      ->check(CLI::Range(std::uint64_t{2}, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--ledgers", o.ledgers, "ledgers; accounts are spread round-robin")
      ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1} << 20))
      ->capture_default_str();
  app.add_option("--mix", o.mix, "plain, pending (pending then post or void), linked, mixed")
      ->check(CLI::IsMember({"plain", "pending", "linked", "mixed"}))
      ->capture_default_str();
  app.add_option("--dist", o.dist, "how accounts are picked: uniform or zipf (exponent 1)")
      ->check(CLI::IsMember({"uniform", "zipf"}))
      ->capture_default_str();
  app.add_option("--batch", o.batch, "transfers per request, 1 to 8190")
      ->check(CLI::Range(std::uint32_t{1}, batch_events_max))
      ->capture_default_str();
  auto* inflight_opt = app.add_option(
      "--inflight", o.inflight,
      "closed loop: batches outstanding at once, 1 to 4096 (default 4 for --batch >= 1024, "
      "else 64)");
  inflight_opt->check(CLI::Range(std::uint32_t{1}, std::uint32_t{4096}));
  auto* rate_opt = app.add_option(
      "--rate", o.rate,
      "open loop: transfers per second, sent in batches at their due times; latency runs "
      "from the due time");
  auto* transfers_opt =
      app.add_option("--transfers", o.transfers,
                     "stop after this many transfers (default 1000000 unless --seconds)")
          ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  auto* seconds_opt = app.add_option("--seconds", o.seconds, "stop after this long, at most 3600")
                          ->check(CLI::Range(0.001, seconds_max));
  transfers_opt->excludes(seconds_opt);
  auto* seed_opt = app.add_option("--seed", o.seed, "the workload's seed; one seed, one workload")
                       ->capture_default_str();
  app.add_option("--bounded", o.bounded,
                 "fraction of accounts with a balance bound (debits_must_not_exceed_credits)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  auto* shards_opt =
      app.add_option("--shards", o.shards, "embedded: the engine's coordinator shards, 1 to 256")
          ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{256}))
          ->capture_default_str();
  auto* threads_opt =
      app.add_option("--threads", o.threads, "embedded: the engine's worker threads, 1 to 256")
          ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{256}))
          ->capture_default_str();
  auto* scheduler_opt =
      app.add_option("--scheduler", o.scheduler,
                     "embedded: the engine's scheduler, remit, sharing or stealing "
                     "(engine_config::scheduler_policy)")
          ->check(CLI::IsMember({"remit", "sharing", "stealing"}))
          ->capture_default_str();
  auto* engine_spin_opt =
      app.add_option("--engine-spin-us", o.spin_engine_us,
                     "embedded, --scheduler remit: how long an idle worker spins before it "
                     "sleeps, in microseconds")
          ->check(CLI::Range(std::uint32_t{0}, std::uint32_t{100000}))
          ->capture_default_str();
  auto* hosts_opt =
      app.add_option("--account-hosts", o.account_hosts,
                     "embedded: the actors that host the accounts, 1 to 4096 (0: 8 per thread)")
          ->check(CLI::Range(std::uint32_t{0}, std::uint32_t{4096}))
          ->capture_default_str();
  auto* durability_opt =
      app.add_option("--durability", o.durability,
                     "embedded: on makes the engine journal every answer (fdatasync) to "
                     "--data-dir before giving it")
          ->check(CLI::IsMember({"on", "off"}))
          ->capture_default_str();
  auto* data_dir_opt = app.add_option(
      "--data-dir", o.data_dir,
      "embedded, with --durability on: the journal's directory, missing or empty (default: a "
      "fresh temporary one, removed afterwards)");
  auto* key_file_opt = app.add_option("--key-file", o.key_file,
                                      "HOST:PORT: the keys file holding --key-id's secret");
  auto* key_id_opt = app.add_option("--key-id", o.key_id, "HOST:PORT: the key to authenticate with")
                         ->capture_default_str();
  auto* connections_opt = app.add_option("--connections", o.connections,
                                         "HOST:PORT: sessions, batches spread over them")
                              ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{256}))
                              ->capture_default_str();
  auto* mac_opt = app.add_flag("--mac", o.mac, "HOST:PORT: ask for a MAC on every frame");
  std::string workload_names;
  for (std::string_view n : workload::payment_workload_names()) {
    workload_names += (workload_names.empty() ? "" : ", ") + std::string(n);
  }
  auto* workload_opt =
      app.add_option("--workload", o.workload,
                     "a payment workload (docs/LOAD.md): " + workload_names + "; instead of --mix")
          ->check(CLI::IsMember(workload::payment_workload_names()));
  app.add_option("--workload-file", o.workload_file,
                 "a payment workload from a JSON file (kinds, weights, account counts, "
                 "distributions)")
      ->excludes(workload_opt);
  auto* ramp_opt = app.add_option("--ramp", o.ramp,
                                  "open loop: the rate goes linearly FROM:TO transfers/s over "
                                  "SECONDS, e.g. 1000:50000:30");
  auto* steps_opt = app.add_option("--steps", o.steps,
                                   "open loop: a stepped schedule RATE:SECONDS,RATE:SECONDS,...")
                        ->excludes(ramp_opt);
  app.add_flag(
      "--find-max", o.find_max,
      "search, in open-loop steps, for the highest rate that meets --slo with nothing refused "
      "as overloaded (starts at --rate, default 1000)");
  auto* slo_opt =
      app.add_option("--slo", o.slo, "--find-max: PERCENTILE=BOUND, e.g. p99=300us, p99.9=2ms")
          ->capture_default_str();
  auto* step_seconds_opt =
      app.add_option("--step-seconds", o.step_seconds, "--find-max: seconds per step")
          ->check(CLI::Range(0.1, 600.0))
          ->capture_default_str();
  app.add_option("--precision", o.find_max_precision,
                 "--find-max: stop when the lowest failing rate is within this fraction of "
                 "the highest passing one")
      ->check(CLI::Range(0.001, 0.5))
      ->capture_default_str();
  app.add_option("--late-after-us", o.late_after_us,
                 "open loop: a batch sent more than this after its due time counts as late")
      ->check(CLI::Range(1.0, 1e9))
      ->capture_default_str();
  app.add_flag("--realtime", o.realtime,
               "open loop: run the sending thread SCHED_FIFO (needs CAP_SYS_NICE), so a busy "
               "machine does not make its sends late");
  app.add_option("--spin-us", o.spin_us,
                 "open loop: sleep until this long before a due time, then spin (default 200, "
                 "60 with --realtime)")
      ->check(CLI::Range(0.0, 10'000.0));
  app.add_option("--report", o.report,
                 "write the report files (run.json, latency.hgrm, latency.hlog, seconds.csv, "
                 "report.html) into this directory");
  auto* id_opt = app.add_option("--id", o.id,
                                "this process's number, 0 to --of - 1: its accounts and ids "
                                "are its own, so several processes drive one target");
  auto* of_opt = app.add_option("--of", o.of, "how many processes run together (with --id)")
                     ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{256}));
  auto* sim_capacity_opt =
      app.add_option("--sim-capacity", o.sim_capacity,
                     "sim: transfers/s it serves, one at a time in order (0: answers at once)")
          ->check(CLI::Range(0.0, 1e9));
  auto* sim_stall_opt = app.add_option("--sim-stall", o.sim_stall,
                                       "sim: stall for MS milliseconds at S seconds, as MS@S");
  app.add_flag("--json", o.json, "print the figures as one JSON object on the last line");
  app.add_flag("--progress", o.progress,
               "show the progress line even when stdout is not a terminal");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // prints the help or the error
    return status == 0 ? 0 : 2;
  }
  if (*merge_cmd) return merge_reports(merge_dirs, merge_out);

  const auto bad = [](const std::string& why) {
    std::fprintf(stderr, "remit-load: %s\n", why.c_str());
    return 2;
  };
  if (inflight_opt->count() != 0 && rate_opt->count() != 0) {
    return bad("--inflight (closed loop) and --rate (open loop) exclude each other: give one");
  }
  if (rate_opt->count() != 0 && !(o.rate > 0 && o.rate <= rate_max)) {
    return bad("--rate must be more than 0 and at most 1e9 transfers per second");
  }
  const bool scheduled = ramp_opt->count() != 0 || steps_opt->count() != 0;
  if (inflight_opt->count() != 0 && (scheduled || o.find_max)) {
    return bad("--inflight (closed loop) excludes --ramp, --steps and --find-max (open loop)");
  }
  if (scheduled && (rate_opt->count() != 0 || o.find_max)) {
    return bad("give one of --rate, --ramp, --steps and --find-max");
  }
  if (scheduled && (transfers_opt->count() != 0 || seconds_opt->count() != 0)) {
    return bad("--ramp and --steps set the run's length: drop --transfers and --seconds");
  }
  if (o.find_max && (transfers_opt->count() != 0 || seconds_opt->count() != 0)) {
    return bad("--find-max runs steps of --step-seconds: drop --transfers and --seconds");
  }
  if (!o.find_max && (slo_opt->count() != 0 || step_seconds_opt->count() != 0)) {
    return bad("--slo and --step-seconds go with --find-max");
  }
  if (o.target != "sim" && (sim_capacity_opt->count() != 0 || sim_stall_opt->count() != 0)) {
    return bad("--sim-capacity and --sim-stall apply to --target sim only");
  }
  if ((id_opt->count() != 0) != (of_opt->count() != 0) || o.id >= o.of) {
    return bad("--id K and --of N go together, with 0 <= K < N");
  }
  std::optional<slo_bound> slo;
  {
    std::string why;
    if (o.find_max && !(slo = parse_slo(o.slo, why))) return bad(why);
    if (ramp_opt->count() != 0 && !(o.sched = schedule::parse_ramp(o.ramp, why))) return bad(why);
    if (steps_opt->count() != 0 && !(o.sched = schedule::parse_steps(o.steps, why))) {
      return bad(why);
    }
  }
  if (rate_opt->count() != 0) {
    o.sched = schedule::constant(
        o.rate, o.seconds > 0 ? o.seconds : std::numeric_limits<double>::infinity());
  }
  if (o.find_max) o.sched = schedule::constant(o.rate > 0 ? o.rate : 1000, o.step_seconds);
  // --id K of N: accounts and transfer ids of process K live at K x 2^56 and up (the
  // generators use far fewer than 2^56 of either).
  o.account_offset = static_cast<u128>(o.id) << 56;
  o.transfer_offset = static_cast<u128>(o.id) << 56;
  if (o.target != "embedded") {
    for (const CLI::Option* opt : {shards_opt, threads_opt, scheduler_opt, engine_spin_opt,
                                   hosts_opt, durability_opt, data_dir_opt}) {
      if (opt->count() != 0) {
        return bad(opt->get_name() + " applies to --target embedded only" +
                   (o.target == "reference" ? "" : " (remitd has its own)"));
      }
    }
  }
  if (o.target == "reference" || o.target == "embedded") {
    for (const CLI::Option* opt : {key_file_opt, key_id_opt, connections_opt, mac_opt}) {
      if (opt->count() != 0) return bad(opt->get_name() + " applies to a HOST:PORT target only");
    }
  }
  const bool seed_given = seed_opt->count() != 0;
  if (!o.sched && o.inflight == 0) o.inflight = inflight_default(o.batch);

  workload::config c;
  c.accounts = o.accounts;
  c.ledgers = o.ledgers;
  c.kind = *workload::parse_mix(o.mix);
  c.dist = *workload::parse_distribution(o.dist);
  c.batch_events = o.batch;
  c.seed = o.seed;
  c.bounded_fraction = o.bounded;
  if (const std::string_view why = workload::validate(c); !why.empty()) {
    return bad(std::string(why));
  }
  std::unique_ptr<load_source> source;
  if (!o.workload.empty() || !o.workload_file.empty()) {
    for (const CLI::Option* opt : {app.get_option("--mix"), app.get_option("--dist"),
                                   app.get_option("--ledgers"), app.get_option("--bounded")}) {
      if (opt->count() != 0) {
        return bad(opt->get_name() +
                   " applies to --mix workloads; a payment workload sets its "
                   "own ledgers and accounts (in its file)");
      }
    }
    std::optional<workload::payments_config> pc;
    if (!o.workload.empty()) {
      pc = workload::named_payments(o.workload);
    } else {
      std::ifstream f(o.workload_file);
      std::stringstream text;
      text << f.rdbuf();
      if (!f) return bad("cannot read " + o.workload_file);
      std::string why;
      pc = workload::parse_payments(text.str(), why);
      if (!pc) return bad(o.workload_file + ": " + why);
    }
    if (seed_given) pc->seed = o.seed;
    if (app.get_option("--accounts")->count() != 0) pc->customers = o.accounts;  // customers
    if (const std::string_view why = workload::validate(*pc); !why.empty()) {
      return bad(std::string(why));
    }
    source = std::make_unique<payments_source>(*pc);
  } else {
    source = std::make_unique<mix_source>(c);
  }
  // The journal's directory, with durability on: --data-dir, missing or empty, or a fresh
  // temporary one removed at the end (declared before the target: it outlives the engine).
  std::string why;
  scratch_dir scratch;
  if (o.target == "embedded" && o.durability == "on") {
    if (o.data_dir.empty()) {
      if (!scratch.make(why)) {
        std::fprintf(stderr, "remit-load: %s\n", why.c_str());
        return 1;
      }
      o.data_dir = scratch.path();
    } else {
      std::error_code ec;
      if (std::filesystem::exists(o.data_dir, ec) && !std::filesystem::is_empty(o.data_dir, ec)) {
        // A second run on the same directory: the engine recovers it; accounts and funding
        // answer `exists`, and this run's transfers get ids of their own (the generator's
        // ids plus the start time in the high 64 bits), so nothing collides.
        o.id_offset = static_cast<u128>(wall_clock_ns()) << 64;
      }
    }
  }
  const std::unique_ptr<load_target> target = make_target(o, !scratch.path().empty(), why);
  if (!target) return bad(why);
  if (const auto* e = dynamic_cast<const embedded_target*>(target.get()); e && o.id_offset != 0) {
    const auto& r = e->recovery();
    std::printf(
        "recovered %s: %llu accounts, %llu transfers, LSN %llu (snapshot %s, %llu "
        "records replayed) in %.3f s\n",
        o.data_dir.c_str(), static_cast<unsigned long long>(r.accounts),
        static_cast<unsigned long long>(r.transfers), static_cast<unsigned long long>(r.last_lsn),
        r.snapshot.empty() ? "none" : r.snapshot.c_str(),
        static_cast<unsigned long long>(r.records), r.seconds);
  }

  // How many batches may be outstanding: --inflight, or in the open loop
  // open_outstanding_max, but never more than the target holds (the rest would only be
  // refused as overloaded and wait in memory).
  std::size_t outstanding_max = o.sched ? open_outstanding_max : o.inflight;
  if (const std::uint64_t events_max = target->inflight_events_max(); events_max != 0) {
    const std::uint64_t fits = std::max<std::uint64_t>(events_max / o.batch, 1);
    if (!o.sched && o.inflight > fits) {
      return bad("--inflight " + std::to_string(o.inflight) + " x --batch " +
                 std::to_string(o.batch) + " = " +
                 std::to_string(std::uint64_t{o.inflight} * o.batch) +
                 " events in flight, more than the engine holds (" + std::to_string(events_max) +
                 "); lower --inflight or --batch");
    }
    outstanding_max = static_cast<std::size_t>(std::min<std::uint64_t>(outstanding_max, fits));
  }
  if (const std::uint64_t requests_max = target->inflight_requests_max(); requests_max != 0) {
    outstanding_max =
        static_cast<std::size_t>(std::min<std::uint64_t>(outstanding_max, requests_max));
  }
  load_source& gen = *source;
  if (!setup(*target, gen, o, inflight_default(batch_events_max))) return 1;
  run_report rep;
  run_record rec;
  rec.start_epoch_s = static_cast<double>(wall_clock_ns()) / 1e9;
  const cost_mark before = cost_mark::now(target->work());
  if (o.find_max) {
    if (!find_max(*target, gen, o, outstanding_max, *slo, rec, rep)) return 1;
    if (rec.find_max->rate > 0) o.sched = schedule::constant(rec.find_max->rate, o.step_seconds);
  } else if (!run_load(*target, gen, o, o.sched ? &*o.sched : nullptr, outstanding_max, rep,
                       o.report.empty() ? nullptr : &rec, 0)) {
    return 1;
  }
  // find_max: every step's transfers, not only the best step's in rep.
  if (!o.find_max)
    rep.per_transfer = cost_json(before, cost_mark::now(target->work()), rep.transfers);
  if (!check_conserved(*target, gen, o.account_offset, rep)) return 1;
  if (rec.find_max && rec.find_max->rate == 0) {
    std::printf("(no step met the SLO: the figures below are empty; the steps above say why)\n");
  } else if (rec.find_max) {
    std::printf("(the figures below are those of the best step, %.0f/s)\n", rec.find_max->rate);
  }
  print_report(o, gen, outstanding_max, !scratch.path().empty(), target->journal_figures(),
               target->client_figures(), rep, rec.find_max);
  if (!o.report.empty()) {
    fill_record(o, gen, outstanding_max, rep, rec);
    std::string report_why;
    if (!write_report(o.report, rec, report_why)) {
      std::fprintf(stderr, "remit-load: %s\n", report_why.c_str());
      return 1;
    }
    std::printf(
        "report       %s/report.html (and run.json, latency.hgrm, latency.hlog, "
        "seconds.csv)\n",
        o.report.c_str());
  }
  return rep.conserved ? 0 : 1;
}

}  // namespace remit::load

int main(int argc, char** argv) {
  try {
    return remit::load::run(argc, argv);
  } catch (const std::exception& e) {  // out of memory, mostly
    std::fprintf(stderr, "remit-load: %s\n", e.what());
    return 1;
  }
}
