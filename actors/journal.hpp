// The journal actor and its writer thread (group commit).
//
// The actor assigns LSNs in the order decisions reach its mailbox, which is the order the
// commit rule needs: a driver sends a decision to the journal before it sends the commit to
// the accounts, so any decision that used money another one made visible reaches the
// journal later and gets the larger LSN. It gathers records into a group while the writer
// thread writes and fdatasyncs the previous one: one write and one fdatasync per group.
// A sync request is answered once an fdatasync covers every record appended before it.
//
// A failed write or fdatasync is fail-stop: every waiting and later sync is answered
// `false` (the request gets storage_failed) and nothing more is written.
//
// The facade's term requests (term_request) append a term_started record the same way and
// wait as a sync does. With a replicate hook nothing counts as confirmed before the first
// group the hook confirms, not even what recovery found: the standbys may lack it.
//
// Journal files roll past `file_size_max` or `snapshot_every_records`; each roll starts a
// snapshot of everything before the new file on a background thread, which then removes
// the files it covers (storage.hpp).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/messages.hpp"
#include "actors/storage.hpp"

namespace remit::actors {

struct journal_config {
  std::string dir;
  std::uint64_t next_lsn = 1;
  std::uint64_t file_size_max = 256u << 20;
  std::uint64_t snapshot_every_records = 1u << 20;
  std::shared_ptr<storage_faults> faults;
  // UNSAFE, for tests only (engine_config::unsafe_answer_before_fdatasync): each group is
  // answered once written; the fdatasync runs at most every 100 ms, and before a roll.
  bool unsafe_answer_before_fdatasync = false;
  // Each request in flight waits for at most one sync: the bound of the journal's waiting
  // list (engine_config::inflight_requests_max).
  std::uint32_t waiters_max = 4096;
  replicate_hook replicate;     // a cluster's primary: engine_config::replicate
  replicate_pipeline pipeline;  // or its pipelined form: engine_config::pipeline
  std::uint64_t term = 0;       // the last term of the recovered journal
};

struct journal_counters {
  std::atomic<std::uint64_t> groups{0};
  std::atomic<std::uint64_t> records{0};
  std::atomic<std::uint64_t> bytes{0};
  std::atomic<std::uint64_t> sync_ns_total{0};
  std::atomic<std::uint64_t> snapshots{0};
};

class journal_writer {
 public:
  explicit journal_writer(journal_config cfg);
  ~journal_writer();
  journal_writer(const journal_writer&) = delete;
  journal_writer& operator=(const journal_writer&) = delete;

  // Opens the first file; false with `why` if it cannot.
  [[nodiscard]] bool start(std::string& why);
  void attach(journal_actor actor) { actor_ = std::move(actor); }
  [[nodiscard]] const journal_config& config() const { return cfg_; }
  // Hands over one group (records first_lsn..last_lsn). The actor submits one at a time.
  void submit(std::vector<std::byte>&& group, std::uint64_t first_lsn, std::uint64_t last_lsn,
              std::uint64_t records);
  // Waits for the group in hand and the snapshot in progress, then stops the threads.
  void stop();
  // After stop: a last snapshot of everything written, so the next start replays nothing.
  [[nodiscard]] bool final_snapshot(std::string& why);

  const journal_counters& counters() const { return counters_; }

 private:
  void run();
  void maybe_snapshot(std::uint64_t boundary);

  journal_config cfg_;
  storage::journal_files files_;
  journal_actor actor_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool has_job_ = false;
  std::vector<std::byte> job_;
  std::uint64_t job_first_ = 0, job_last_ = 0, job_records_ = 0;
  std::uint64_t records_in_file_ = 0;
  std::uint64_t file_first_lsn_ = 0;
  std::thread thread_;
  std::thread snapshot_thread_;
  std::atomic<bool> snapshot_running_{false};
  // Pipelined replication: the groups shipped and not yet confirmed (their last LSNs, in
  // order), and the thread that waits for each confirmation.
  void confirm_run();
  std::mutex confirm_mutex_;
  std::condition_variable confirm_cv_;
  std::deque<std::uint64_t> unconfirmed_;
  bool confirm_stopping_ = false;
  std::thread confirm_thread_;
  journal_counters counters_;
};

journal_actor spawn_journal(caf::actor_system& sys, journal_writer& writer, std::uint64_t next_lsn);

}  // namespace remit::actors
