#include "actors/journal.hpp"

#include <chrono>
#include <cstdio>
#include <deque>
#include <thread>

#include "engine/assert.hpp"

namespace remit::actors {

namespace {

// Test hook: waits while storage_faults::hold_sync is set.
void wait_at_sync_gate(storage_faults& f) {
  if (!f.hold_sync.load()) return;
  f.syncs_held.fetch_add(1);
  while (f.hold_sync.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  f.syncs_held.fetch_sub(1);
}

}  // namespace

journal_writer::journal_writer(journal_config cfg)
    : cfg_(std::move(cfg)), files_(cfg_.dir, cfg_.faults) {}

journal_writer::~journal_writer() {
  stop();
}

bool journal_writer::start(std::string& why) {
  file_first_lsn_ = cfg_.next_lsn;
  if (!files_.open_new(cfg_.next_lsn, why)) return false;
  thread_ = std::thread([this] { run(); });
  if (cfg_.pipeline) confirm_thread_ = std::thread([this] { confirm_run(); });
  return true;
}

void journal_writer::submit(std::vector<std::byte>&& group, std::uint64_t first_lsn,
                            std::uint64_t last_lsn, std::uint64_t records) {
  std::lock_guard<std::mutex> lock(mutex_);
  REMIT_ASSERT(!has_job_);
  job_ = std::move(group);
  job_first_ = first_lsn;
  job_last_ = last_lsn;
  job_records_ = records;
  has_job_ = true;
  cv_.notify_one();
}

void journal_writer::run() {
  std::vector<std::byte> group;
  // Broken on purpose when unsafe (journal_config): groups are answered once written, and
  // fdatasynced at most every unsafe_sync_interval, and before a roll.
  const bool unsafe = cfg_.unsafe_answer_before_fdatasync;
  constexpr auto unsafe_sync_interval = std::chrono::milliseconds(100);
  auto last_sync = std::chrono::steady_clock::now();
  for (;;) {
    std::uint64_t first = 0, last = 0, records = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return has_job_ || stopping_; });
      if (!has_job_) return;
      group.swap(job_);
      first = job_first_;
      last = job_last_;
      records = job_records_;
    }
    std::string why;
    bool ok = files_.append(group, why);
    if (cfg_.faults) wait_at_sync_gate(*cfg_.faults);
    const auto t0 = std::chrono::steady_clock::now();
    if (!unsafe || t0 - last_sync >= unsafe_sync_interval) {
      ok = ok && files_.sync(why);
      last_sync = t0;
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (ok) {
      counters_.groups.fetch_add(1);
      counters_.records.fetch_add(records);
      counters_.bytes.fetch_add(group.size());
      counters_.sync_ns_total.fetch_add(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
      records_in_file_ += records;
      if (files_.current_size() >= cfg_.file_size_max ||
          records_in_file_ >= cfg_.snapshot_every_records) {
        // Roll: later groups go to a new file; everything before it can be snapshotted.
        ok = (!unsafe || files_.sync(why)) && files_.open_new(last + 1, why);
        if (ok) {
          records_in_file_ = 0;
          file_first_lsn_ = last + 1;
          maybe_snapshot(last + 1);
        }
      }
    }
    if (!ok)
      std::fprintf(stderr, "remit: journal: %s; the engine stops taking writes\n", why.c_str());
    // A cluster's primary: the answers wait for the synchronous standbys too. Pipelined, the
    // group is shipped and its confirmation comes later (replicated_atom), in order.
    bool replicated = true;
    if (ok && cfg_.pipeline) {
      std::unique_lock<std::mutex> lock(confirm_mutex_);
      confirm_cv_.wait(lock, [&] { return unconfirmed_.size() < cfg_.pipeline.window; });
      cfg_.pipeline.ship(group, first, last);
      unconfirmed_.push_back(last);
      confirm_cv_.notify_all();
    } else if (ok && cfg_.replicate) {
      replicated = cfg_.replicate(group, first, last);
    }
    group.clear();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      has_job_ = false;
      job_.swap(group);  // give the buffer back for reuse
      job_.clear();
    }
    anon_send_to(actor_, durable_atom::value, last, ok, replicated);
  }
}

void journal_writer::maybe_snapshot(std::uint64_t boundary) {
  if (snapshot_running_.exchange(true)) return;  // one at a time; the next roll catches up
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  snapshot_thread_ = std::thread([this, boundary] {
    std::string why;
    std::uint64_t lsn = 0;
    if (storage::build_snapshot(cfg_.dir, boundary, lsn, why, cfg_.faults.get())) {
      counters_.snapshots.fetch_add(1);
    } else {
      std::fprintf(stderr, "remit: snapshot failed: %s (the journal keeps every file)\n",
                   why.c_str());
    }
    snapshot_running_.store(false);
  });
}

void journal_writer::stop() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(confirm_mutex_);
    confirm_stopping_ = true;
    confirm_cv_.notify_all();
  }
  if (confirm_thread_.joinable()) confirm_thread_.join();
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
}

void journal_writer::confirm_run() {
  for (;;) {
    std::uint64_t last = 0;
    {
      std::unique_lock<std::mutex> lock(confirm_mutex_);
      confirm_cv_.wait(lock, [&] { return !unconfirmed_.empty() || confirm_stopping_; });
      if (unconfirmed_.empty()) return;  // stopping, and every group was answered
      last = unconfirmed_.front();
    }
    const bool ok = cfg_.pipeline.confirm(last);
    anon_send_to(actor_, replicated_atom::value, last, ok);
    std::lock_guard<std::mutex> lock(confirm_mutex_);
    unconfirmed_.pop_front();
    confirm_cv_.notify_all();
  }
}

bool journal_writer::final_snapshot(std::string& why) {
  std::uint64_t lsn = 0;
  // Everything written so far: no file is being written any more.
  return storage::build_snapshot(cfg_.dir, UINT64_MAX, lsn, why, cfg_.faults.get());
}

// ---------------------------------------------------------------------------------------

namespace {

struct journal_state {
  journal_writer* writer = nullptr;
  std::uint64_t next_lsn = 1;
  std::uint64_t durable_lsn = 0;
  std::vector<std::byte> buffer;
  std::uint64_t group_first = 0;
  std::uint64_t group_records = 0;
  bool busy = false;
  bool failed = false;
  // With a replicate hook: the last LSN the cluster confirmed (durable_lsn without one), and
  // the last LSN of a group it could not confirm (0: none since).
  std::uint64_t replicated_lsn = 0;
  std::uint64_t unconfirmed_lsn = 0;
  std::uint64_t term = 0;  // the last term_started written or recovered (a cluster's term)
  struct waiter {
    std::uint64_t lsn;
    shard_actor driver;
    std::uint64_t job;
    term_request_ptr term;  // instead of driver and job: the facade's
  };
  std::deque<waiter> waiting;
};

using journal_pointer = journal_actor::stateful_pointer<journal_state>;

void notify(journal_pointer self, const journal_state::waiter& w, sync_status s) {
  if (w.term) {
    w.term->done(*w.term, s);
  } else {
    send_to(self, w.driver, synced_atom::value, w.job, static_cast<std::uint8_t>(s));
  }
}

void hand_off(journal_pointer self);

// Appends a term_started record of `term` to the group gathering (or starts one) and hands
// it to the writer when it is idle.
void append_term(journal_pointer self, std::uint64_t term) {
  auto& st = self->state;
  journal::term_entry e{};
  e.term = term;
  if (st.buffer.empty()) st.group_first = st.next_lsn;
  journal::append_record(st.buffer, journal::record_type::term_started, st.next_lsn, st.group_first,
                         std::as_bytes(std::span<const journal::term_entry>(&e, 1)));
  ++st.next_lsn;
  ++st.group_records;
  hand_off(self);
}

// The cluster confirmed the groups up to `lsn` (ok), or could not confirm the group that ends
// there: answers the waiters up to it.
void confirmed(journal_pointer self, std::uint64_t lsn, bool ok) {
  auto& st = self->state;
  if (ok) {
    st.replicated_lsn = std::max(st.replicated_lsn, lsn);  // and every LSN before it
  } else {
    st.unconfirmed_lsn = std::max(st.unconfirmed_lsn, lsn);
  }
  const sync_status s = ok ? sync_status::durable : sync_status::unavailable;
  while (!st.waiting.empty() && st.waiting.front().lsn <= lsn) {
    notify(self, st.waiting.front(), s);
    st.waiting.pop_front();
  }
}

// Waits until everything appended so far is durable (and replicated), then notifies `w`.
void wait_for_sync(journal_pointer self, journal_state::waiter w) {
  auto& st = self->state;
  w.lsn = st.next_lsn - 1;
  if (st.failed) return notify(self, w, sync_status::storage_failed);
  if (w.lsn <= st.replicated_lsn) return notify(self, w, sync_status::durable);
  // It depends on a group the cluster could not confirm, and nothing later confirmed it
  // since. No later write may come (a client that resends by id finds every transfer
  // `exists`), so waiting could be forever: a group written now confirms every LSN before it
  // (standbys take groups in order). Its record is a term_started of the term the journal is
  // in already, which replay ignores. Once the node lost its role, that group fails at once
  // and the answer is `unavailable`.
  if (w.lsn <= st.unconfirmed_lsn) {
    if (st.term == 0) return notify(self, w, sync_status::unavailable);
    if (st.next_lsn - 1 <= st.unconfirmed_lsn) {
      append_term(self, st.term);
    }
    w.lsn = st.next_lsn - 1;
  }
  REMIT_ASSERT(st.waiting.size() < st.writer->config().waiters_max);
  st.waiting.push_back(std::move(w));
}

void hand_off(journal_pointer self) {
  auto& st = self->state;
  if (st.busy || st.buffer.empty() || st.failed) return;
  st.busy = true;
  st.writer->submit(std::move(st.buffer), st.group_first, st.next_lsn - 1, st.group_records);
  st.buffer = {};
  st.group_first = 0;
  st.group_records = 0;
}

journal_actor::behavior_type journal_behavior(journal_pointer self, journal_writer* writer,
                                              std::uint64_t next_lsn) {
  self->state.writer = writer;
  self->state.next_lsn = next_lsn;
  self->state.durable_lsn = next_lsn - 1;
  // Without a cluster, what was recovered is durable: nothing before next_lsn is waited for.
  // A cluster's primary answers nothing from records its standbys may lack (a promoted
  // standby's new standbys may hold less than it does) until a first group is confirmed,
  // which confirms every LSN before it too (standbys take groups in order). The term_started
  // record that the engine writes when a term starts is that first group.
  self->state.replicated_lsn =
      (writer->config().replicate || writer->config().pipeline) ? 0 : next_lsn - 1;
  self->state.term = writer->config().term;
  open_exit_activation(self);
  return {
      [self](append_atom, const journal_batch_ptr& b) {
        const auto handoff = received(self);
        auto& st = self->state;
        if (st.failed) return;
        for (const auto& part : b->parts) {
          if (st.buffer.empty()) st.group_first = st.next_lsn;
          journal::append_record(st.buffer, part.type, st.next_lsn, st.group_first, part.payload);
          ++st.next_lsn;
          ++st.group_records;
        }
        hand_off(self);
      },
      [self](sync_atom, const shard_actor& driver, const std::uint64_t& job) {
        const auto handoff = received(self);
        wait_for_sync(self, {0, driver, job, nullptr});
      },
      [self](term_atom, const term_request_ptr& r) {
        const auto handoff = received(self);
        auto& st = self->state;
        if (r->term != 0 && !st.failed) {
          st.term = std::max(st.term, r->term);
          // A group of its own, or the first record of the one gathering: either way no
          // record of the new term comes before it.
          r->lsn = st.next_lsn;
          append_term(self, r->term);
        }
        wait_for_sync(self, {0, shard_actor{}, 0, r});
      },
      [self](durable_atom, const std::uint64_t& lsn, const bool& ok, const bool& replicated) {
        const auto handoff = received(self);
        auto& st = self->state;
        st.busy = false;
        if (!ok) {
          st.failed = true;
          st.buffer.clear();
          for (const auto& w : st.waiting) notify(self, w, sync_status::storage_failed);
          st.waiting.clear();
          return;
        }
        st.durable_lsn = lsn;
        // Pipelined, the answers wait for replicated_atom; the next group goes now.
        if (!st.writer->config().pipeline) confirmed(self, lsn, replicated);
        hand_off(self);
      },
      [self](replicated_atom, const std::uint64_t& lsn, const bool& ok) {
        const auto handoff = received(self);
        if (self->state.failed) return;
        confirmed(self, lsn, ok);
        hand_off(self);
      },
  };
}

}  // namespace

journal_actor spawn_journal(caf::actor_system& sys, journal_writer& writer,
                            std::uint64_t next_lsn) {
  return sys.spawn(journal_behavior, &writer, next_lsn);
}

}  // namespace remit::actors
