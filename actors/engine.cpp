#include "actors/engine.hpp"
#include "actors/scheduler.hpp"

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <caf/all.hpp>

#include "actors/account_host.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "actors/shard.hpp"
#include "actors/system_config.hpp"
#include "engine/assert.hpp"
#include "engine/rules.hpp"

namespace remit {

std::string_view name(engine_status s) {
  switch (s) {
    case engine_status::ok:
      return "ok";
    case engine_status::overloaded:
      return "overloaded";
    case engine_status::shutting_down:
      return "shutting_down";
    case engine_status::storage_failed:
      return "storage_failed";
    case engine_status::too_many_events:
      return "too_many_events";
    case engine_status::unavailable:
      return "unavailable";
  }
  return "unknown";
}

namespace {
std::uint64_t system_clock_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}
}  // namespace

namespace actors {
caf::actor_system_config& configure_system(caf::actor_system_config& cfg, const engine_config& ec) {
  // Two traps of CAF 0.17: the default worker count is at least 4, and the
  // work-stealing policy runs actor-to-actor messages LIFO, which starves some for seconds
  // under load. FIFO sharing bounds the tail.
  cfg.set("scheduler.max-threads", static_cast<std::size_t>(ec.threads));
  REMIT_ASSERT(ec.scheduler_policy == "remit" || ec.scheduler_policy == "sharing" ||
               ec.scheduler_policy == "stealing");
  if (ec.scheduler_policy == "remit") {
    load_remit_scheduler(cfg, std::chrono::microseconds(ec.spin_us));
    return cfg;
  }
  cfg.set("scheduler.policy",
          ec.scheduler_policy == "sharing" ? caf::atom("sharing") : caf::atom("stealing"));
  return cfg;
}
}  // namespace actors

struct engine::impl {
  explicit impl(const engine_config& ec) : system(actors::configure_system(sys_cfg, ec)) {}
  // The writer outlives the actor system: its thread reports to the journal actor.
  std::unique_ptr<actors::journal_writer> writer;
  caf::actor_system_config sys_cfg;
  caf::actor_system system;
  actors::journal_actor journal;
  std::vector<actors::shard_actor> shards;
  std::shared_ptr<actors::account_hosts> hosts;
  std::atomic<std::uint32_t> round_robin{0};
};

engine::engine(engine_config cfg) : cfg_(std::move(cfg)) {
  REMIT_ASSERT(cfg_.shards >= 1 && cfg_.shards <= 256);
  REMIT_ASSERT(cfg_.threads >= 1);
  REMIT_ASSERT(cfg_.account_hosts <= 4096);
  if (!cfg_.clock) cfg_.clock = system_clock_ns;

  // Shared: the shards take their transfers from it side by side (restore_state). A promoted
  // standby's state comes already applied (cfg_.recovered).
  const bool applied = cfg_.durability && cfg_.recovered;
  std::shared_ptr<reference_ledger> recovered =
      applied ? std::move(cfg_.recovered) : std::make_shared<reference_ledger>();
  cfg_.recovered.reset();
  reference_ledger& state = *recovered;
  std::uint64_t next_lsn = 1;
  if (cfg_.durability) {
    storage::recovery_report report;
    std::string why;
    if (applied) {
      report.last_lsn = cfg_.recovered_lsn;
    } else if (!storage::recover(cfg_.data_dir, state, report, why, cfg_.faults.get())) {
      throw std::runtime_error("remit: recovery of " + cfg_.data_dir + " failed: " + why);
    }
    next_lsn = report.last_lsn + 1;
    // A long replayed tail means that no snapshot completed for a while (each is built in
    // the background and dies with the process): take one now, before anything is written,
    // so that a crash loop does not replay an ever longer journal.
    bool snapshot_taken = false;
    if (report.records >= cfg_.snapshot_every_records) {
      snapshot_taken = storage::snapshot_recovered(cfg_.data_dir, state, report.last_lsn, why,
                                                   cfg_.faults.get());
      if (!snapshot_taken) {
        std::fprintf(stderr, "remit: snapshot at start failed: %s (the journal keeps every file)\n",
                     why.c_str());
      }
    }
    recovery_ = recovery_summary{report.snapshot,        report.snapshot_lsn, report.records,
                                 report.last_lsn,        report.torn_bytes,   state.account_count(),
                                 state.transfer_count(), report.seconds,      snapshot_taken};
    last_timestamp_ = state.last_timestamp();
    terms_ = state.term_history();
    requested_term_ = state.last_term();
    if (cfg_.term != 0 && cfg_.term < requested_term_) {
      throw std::runtime_error("remit: term " + std::to_string(cfg_.term) + " is older than " +
                               std::to_string(requested_term_) +
                               ", the last term of the journal in " + cfg_.data_dir);
    }
  }

  impl_ = std::make_unique<impl>(cfg_);
  if (cfg_.durability) {
    actors::journal_config jc;
    jc.dir = cfg_.data_dir;
    jc.next_lsn = next_lsn;
    jc.file_size_max = cfg_.journal_file_size_max;
    jc.snapshot_every_records = cfg_.snapshot_every_records;
    jc.faults = cfg_.faults;
    jc.unsafe_answer_before_fdatasync = cfg_.unsafe_answer_before_fdatasync;
    jc.waiters_max = cfg_.inflight_requests_max;
    jc.replicate = cfg_.replicate;
    jc.pipeline = cfg_.pipeline;
    jc.term = requested_term_;
    impl_->writer = std::make_unique<actors::journal_writer>(jc);
    std::string why;
    if (!impl_->writer->start(why)) throw std::runtime_error("remit: journal: " + why);
    impl_->journal = actors::spawn_journal(impl_->system, *impl_->writer, next_lsn);
    impl_->writer->attach(impl_->journal);
    // The new term's record, first in the journal's mailbox (no shard exists yet), so it is
    // the first of the new LSNs and every answer waits for it. Counted in flight, so that
    // shutdown waits for it too.
    if (cfg_.term != 0 && cfg_.term != requested_term_) {
      inflight_requests_.fetch_add(1);
      std::lock_guard<std::mutex> lock(terms_mutex_);
      requested_term_ = cfg_.term;
      send_term(cfg_.term, [](engine_status s) {
        if (s != engine_status::ok)
          std::fprintf(stderr, "remit: the record of the new term: %s\n",
                       std::string(name(s)).c_str());
      });
    }
  }
  std::vector<caf::actor> all;
  impl_->hosts = std::make_shared<actors::account_hosts>(impl_->system, cfg_.account_host_count());
  for (std::uint32_t i = 0; i < cfg_.shards; ++i) {
    actors::shard_config sc;
    sc.index = i;
    sc.count = cfg_.shards;
    sc.clock = cfg_.clock;
    sc.expiry_interval_ms = cfg_.expiry_interval_ms;
    sc.journal = impl_->journal;
    sc.hosts = impl_->hosts;
    sc.jobs_max = cfg_.inflight_requests_max;
    impl_->shards.push_back(actors::spawn_shard(impl_->system, sc));
    all.push_back(caf::actor_cast<caf::actor>(impl_->shards.back()));
  }
  for (const auto& s : impl_->shards) actors::anon_send_to(s, actors::peers_atom::value, all);
  if (cfg_.durability)
    restore_state(std::move(recovered));  // failures may exist before any account
  // CAF 0.17 keeps a reference to the system's logger in a thread-local of the thread that
  // built the system (and spawned from it), and ~actor_system waits for the logger to go:
  // destroyed from any other thread while this one lives, it would wait forever. Drop that
  // reference, so that shutdown works from any thread (a server stops from a signal thread).
  caf::logger::set_current_actor_system(nullptr);
}

void engine::restore_state(std::shared_ptr<const reference_ledger> source) {
  const reference_ledger& state = *source;
  const std::uint32_t n = cfg_.shards;
  std::vector<actors::restore_ptr> sets(n);
  for (auto& s : sets) s = caf::make_counted<actors::restore_set>();
  std::vector<std::pair<u128, actors::account_address>> addresses;
  std::vector<std::uint32_t> ledgers;
  addresses.reserve(state.account_count());
  // Every host gets its accounts (one wave each) before any shard can name them.
  actors::account_hosts& hosts = *impl_->hosts;
  std::vector<actors::wave_ptr> creates(hosts.count());
  state.for_each_account([&](const account_state& a) {
    const actors::account_address where = hosts.place(a.a.id);
    actors::wave_ptr& w = creates[where.host];
    if (!w) w = caf::make_counted<actors::wave>();
    actors::wave_entry e;
    e.op = actors::entry_op::create;
    e.local = where.local;
    e.slot = static_cast<std::uint32_t>(w->creates_in.size());
    w->creates_in.push_back(a);
    w->entries.push_back(e);
    addresses.emplace_back(a.a.id, where);
    ledgers.push_back(a.a.ledger);
    sets[actors::owner_of(a.a.id, n)]->owned_accounts.push_back(a.a);
  });
  for (std::uint32_t h = 0; h < hosts.count(); ++h) {
    const actors::wave_ptr& w = creates[h];
    if (!w) continue;
    w->groups.push_back(
        actors::wave_group{hosts.host(h), 0, static_cast<std::uint32_t>(w->entries.size())});
    w->outstanding.store(1, std::memory_order_relaxed);
    actors::anon_send_to(hosts.host(h), actors::step_atom::value, w, std::uint32_t{0});
  }
  for (std::uint32_t i = 0; i < n; ++i) {
    sets[i]->addresses = addresses;
    sets[i]->ledgers = ledgers;
    sets[i]->source = source;
    sets[i]->shard = i;
    sets[i]->shards = n;
    // A little over an even share, so that the shard's id table does not grow while it adds.
    const std::uint64_t share = state.transfer_count() / n;
    sets[i]->transfers_expected = share + share / 8;
    actors::anon_send_to(impl_->shards[i], actors::restore_atom::value, sets[i]);
  }
}

engine::journal_figures engine::journal_stats() const {
  journal_figures f;
  if (!impl_ || !impl_->writer) return f;
  const auto& c = impl_->writer->counters();
  f.groups = c.groups.load();
  f.records = c.records.load();
  f.bytes = c.bytes.load();
  f.sync_ns_total = c.sync_ns_total.load();
  f.snapshots = c.snapshots.load();
  return f;
}

engine::~engine() {
  shutdown();
}

void engine::shutdown() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_.store(true);
    if (shutdown_started_) {
      // Another thread is shutting down: return once it is done.
      idle_.wait(lock, [&] { return shutdown_done_; });
      return;
    }
    shutdown_started_ = true;
    idle_.wait(lock, [&] { return entering_.load() == 0 && inflight_requests_.load() == 0; });
  }
  finish_shutdown();
  std::lock_guard<std::mutex> lock(mutex_);
  shutdown_done_ = true;
  idle_.notify_all();
}

void engine::finish_shutdown() {
  // Every answer waited for its sync, so the journal holds all that was acknowledged. Stop
  // the writer first (it reports to an actor), then the actors, then snapshot from files.
  const bool durable = impl_->writer != nullptr;
  if (durable) impl_->writer->stop();
  for (const auto& s : impl_->shards) caf::anon_send_exit(s, caf::exit_reason::user_shutdown);
  if (impl_->journal) caf::anon_send_exit(impl_->journal, caf::exit_reason::user_shutdown);
  for (std::uint32_t h = 0; h < impl_->hosts->count(); ++h)
    caf::anon_send_exit(impl_->hosts->host(h), caf::exit_reason::user_shutdown);
  impl_->shards.clear();
  impl_->hosts.reset();
  impl_->journal = actors::journal_actor{};
  std::unique_ptr<actors::journal_writer> writer = std::move(impl_->writer);
  impl_.reset();  // the actor system waits for every actor
  if (durable && cfg_.snapshot_at_shutdown && !storage_failed_.load()) {
    std::string why;
    if (!writer->final_snapshot(why))
      std::fprintf(stderr, "remit: snapshot at shutdown failed: %s\n", why.c_str());
  }
}

template <class Fill>
void engine::submit(actors::request_op op, std::size_t events, bool stamps, Fill&& fill,
                    reply_callback cb) {
  auto refuse = [&](engine_status s) {
    engine_reply r;
    r.status = s;
    cb(std::move(r));
  };
  // After a failed write or sync nothing is answered from memory any more: it may hold
  // decisions that never became durable (fail-stop).
  if (storage_failed_.load()) return refuse(engine_status::storage_failed);
  // A batch is bounded so that a request's decisions fit in one journal record each kind,
  // and so a linked chain is never split across records (a torn tail could cut it).
  if (events > batch_events_max) return refuse(engine_status::too_many_events);
  const auto n_events = static_cast<std::uint32_t>(events);
  if (const engine_status s = admit(n_events); s != engine_status::ok) return refuse(s);
  auto req = caf::make_counted<actors::request>();
  req->op = op;
  fill(*req);
  if (stamps) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::uint64_t base = std::max(cfg_.clock(), last_timestamp_ + 1);
    if (events > 0) last_timestamp_ = base + events - 1;
    req->timestamp_base = base;
  }
  req->done = [this, cb = std::move(cb), n_events](actors::request& r) {
    engine_reply reply;
    reply.status = r.status;
    reply.results = std::move(r.results);
    reply.accounts = std::move(r.accounts_out);
    reply.transfers = std::move(r.transfers_out);
    reply.stats = r.stats_out;
    if (reply.status == engine_status::storage_failed) storage_failed_.store(true);
    // The slot is free before the caller hears back, so a caller that sends again at once
    // is not refused. Shutdown may go on meanwhile: the actor system waits for this handler.
    finish_call(n_events);
    cb(std::move(reply));
  };
  // A single transfer goes to the owner of its id, which then claims it without a message
  // to another shard; anything else is spread round robin.
  std::uint32_t shard;
  if (op == actors::request_op::create_transfers && req->transfers.size() == 1 &&
      req->transfers[0].id != 0) {
    shard = actors::owner_of(req->transfers[0].id, cfg_.shards);
  } else {
    shard = impl_->round_robin.fetch_add(1, std::memory_order_relaxed) % cfg_.shards;
  }
  actors::anon_send_to(impl_->shards[shard], actors::request_atom::value, std::move(req));
  leave();
}

engine_status engine::admit(std::uint32_t n_events) {
  // Announce the call before looking at `stopping_`, and shutdown sets `stopping_` before
  // it looks at the announcements (both seq_cst): either this call sees the shutdown and
  // backs out, or the shutdown sees this call and waits until it is counted in flight
  // (and then for its answer). Never neither.
  entering_.fetch_add(1);
  if (stopping_.load()) {
    leave();
    return engine_status::shutting_down;
  }
  if (inflight_requests_.fetch_add(1) >= cfg_.inflight_requests_max) {
    inflight_requests_.fetch_sub(1);
    leave();
    return engine_status::overloaded;
  }
  if (inflight_events_.fetch_add(n_events) + n_events > cfg_.inflight_events_max) {
    inflight_events_.fetch_sub(n_events);
    inflight_requests_.fetch_sub(1);
    leave();
    return engine_status::overloaded;
  }
  return engine_status::ok;
}

void engine::leave() {
  if (entering_.fetch_sub(1) == 1 && stopping_.load()) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.notify_all();
  }
}

void engine::finish_call(std::uint32_t n_events) {
  inflight_events_.fetch_sub(n_events);
  if (inflight_requests_.fetch_sub(1) == 1 && stopping_.load()) {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.notify_all();
  }
}

void engine::send_term(std::uint64_t term, std::function<void(engine_status)> answer) {
  auto r = caf::make_counted<actors::term_request>();
  r->term = term;
  r->done = [this, answer = std::move(answer)](const actors::term_request& req,
                                               actors::sync_status s) {
    engine_status status = engine_status::ok;
    if (s == actors::sync_status::storage_failed) status = engine_status::storage_failed;
    if (s == actors::sync_status::unavailable) status = engine_status::unavailable;
    if (status == engine_status::storage_failed) {
      storage_failed_.store(true);
    } else if (req.lsn != 0) {
      // In the journal here (confirmed by the cluster or not): the history says so. The
      // journal answers in LSN order, so the entries come in order.
      std::lock_guard<std::mutex> lock(terms_mutex_);
      add_term_start(terms_, req.term, req.lsn);
    }
    finish_call(0);
    answer(status);
  };
  actors::anon_send_to(impl_->journal, actors::term_atom::value, std::move(r));
}

std::future<engine_status> engine::begin_term(std::uint64_t term) {
  auto p = std::make_shared<std::promise<engine_status>>();
  std::future<engine_status> f = p->get_future();
  if (!cfg_.durability) {
    p->set_value(engine_status::ok);
    return f;
  }
  if (storage_failed_.load()) {
    p->set_value(engine_status::storage_failed);
    return f;
  }
  if (const engine_status s = admit(0); s != engine_status::ok) {
    p->set_value(s);
    return f;
  }
  {
    std::lock_guard<std::mutex> lock(terms_mutex_);
    const bool newer = term > requested_term_;
    if (newer) requested_term_ = term;
    send_term(newer ? term : 0, [p](engine_status s) { p->set_value(s); });
  }
  leave();
  return f;
}

std::vector<term_start> engine::term_history() const {
  std::lock_guard<std::mutex> lock(terms_mutex_);
  return terms_;
}

#define REMIT_OP(x) actors::request_op::x

void engine::create_accounts(std::span<const account> events, reply_callback cb) {
  submit(
      REMIT_OP(create_accounts), events.size(), true,
      [&](actors::request& r) { r.accounts.assign(events.begin(), events.end()); }, std::move(cb));
}

void engine::create_transfers(std::span<const transfer> events, reply_callback cb) {
  submit(
      REMIT_OP(create_transfers), events.size(), true,
      [&](actors::request& r) { r.transfers.assign(events.begin(), events.end()); }, std::move(cb));
}

void engine::lookup_accounts(std::span<const u128> ids, reply_callback cb) {
  submit(
      REMIT_OP(lookup_accounts), ids.size(), false,
      [&](actors::request& r) { r.ids.assign(ids.begin(), ids.end()); }, std::move(cb));
}

void engine::lookup_transfers(std::span<const u128> ids, reply_callback cb) {
  submit(
      REMIT_OP(lookup_transfers), ids.size(), false,
      [&](actors::request& r) { r.ids.assign(ids.begin(), ids.end()); }, std::move(cb));
}

void engine::get_account_transfers(const account_filter& filter, reply_callback cb) {
  if (validate_filter(filter) != filter_check::ok) {
    cb(engine_reply{});
    return;
  }
  submit(
      REMIT_OP(get_account_transfers), 1, false, [&](actors::request& r) { r.filter = filter; },
      std::move(cb));
}

void engine::set_account_controls(std::span<const account_controls> events, reply_callback cb) {
  submit(
      REMIT_OP(set_account_controls), events.size(), false,
      [&](actors::request& r) { r.controls.assign(events.begin(), events.end()); }, std::move(cb));
}

void engine::get_ledger_stats(std::uint32_t ledger, reply_callback cb) {
  submit(
      REMIT_OP(get_ledger_stats), 1, false, [&](actors::request& r) { r.ledger = ledger; },
      std::move(cb));
}

#undef REMIT_OP

namespace {
template <class Call>
std::future<engine_reply> as_future(Call&& call) {
  auto p = std::make_shared<std::promise<engine_reply>>();
  auto f = p->get_future();
  call([p](engine_reply&& r) { p->set_value(std::move(r)); });
  return f;
}
}  // namespace

std::future<engine_reply> engine::create_accounts(std::span<const account> events) {
  return as_future([&](reply_callback cb) { create_accounts(events, std::move(cb)); });
}
std::future<engine_reply> engine::create_transfers(std::span<const transfer> events) {
  return as_future([&](reply_callback cb) { create_transfers(events, std::move(cb)); });
}
std::future<engine_reply> engine::lookup_accounts(std::span<const u128> ids) {
  return as_future([&](reply_callback cb) { lookup_accounts(ids, std::move(cb)); });
}
std::future<engine_reply> engine::lookup_transfers(std::span<const u128> ids) {
  return as_future([&](reply_callback cb) { lookup_transfers(ids, std::move(cb)); });
}
std::future<engine_reply> engine::get_account_transfers(const account_filter& filter) {
  return as_future([&](reply_callback cb) { get_account_transfers(filter, std::move(cb)); });
}
std::future<engine_reply> engine::set_account_controls(std::span<const account_controls> events) {
  return as_future([&](reply_callback cb) { set_account_controls(events, std::move(cb)); });
}
std::future<engine_reply> engine::get_ledger_stats(std::uint32_t ledger) {
  return as_future([&](reply_callback cb) { get_ledger_stats(ledger, std::move(cb)); });
}

}  // namespace remit
