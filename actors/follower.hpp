// A standby's copy of the primary's journal (docs/CLUSTER.md, "Journal shipping").
//
// The primary ships each group it writes. The follower checks that the group's bytes are
// whole journal records with exactly the LSNs it announces, the first one right after what
// the follower holds; writes them to its own data directory with the same format and the same
// rule (fdatasync before the group is acknowledged); and applies them to its state through the
// recovery apply path (reference_ledger::replay): what was decided is what replays, nothing
// is checked again. So a promoted standby starts from its data directory like any restart,
// and holds every acknowledged result the primary held.
//
// A node that comes back as a standby may hold a tail that the new primary never had (its
// last groups were written but not acknowledged before it lost its role): `cut_after` cuts
// it, at the LSN where the two journals part. One whose journal the primary no longer has
// gets the primary's snapshot instead: `install_snapshot` replaces its journal with it.
//
// Its term history (engine/terms.hpp) comes from the term_started records it holds: what it
// reports in FOLLOW (`last_term`, `last_term_start`) so that the primary finds where the two
// journals part.
//
// Writing and applying are apart, as in PostgreSQL's standby (flush lag and replay lag):
// the caller's thread checks, writes and syncs groups, and may gather several under one
// fdatasync (write_group, then sync); a thread of the follower's own applies what is durable,
// in LSN order, behind it. At most `apply_backlog_max` bytes wait to be applied: past that,
// writing waits for the apply. Everything that reads the state (state(), release_state(),
// cut_after, install_snapshot) first waits until every durable group is applied.
//
// Blocking file I/O: call it from a thread of its own, not from the scheduler's workers. One
// caller thread at a time; failed() may be read from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "actors/storage.hpp"
#include "engine/reference_ledger.hpp"

namespace remit::actors {

struct follower_config {
  std::string dir;
  std::uint64_t file_size_max = 256u << 20;  // roll to a new file past this
  std::shared_ptr<storage_faults> faults;
  // Bytes of durable groups not applied yet; writing waits past it. It bounds how long a
  // promotion waits for the apply: 64 MiB is about 420,000 transfers (160 bytes each), under
  // a second at recovery's replay rate (BM_recovery: 550k transfers/s).
  std::uint64_t apply_backlog_max = 64u << 20;
};

class journal_follower {
 public:
  enum class outcome : std::uint8_t {
    ok,              // written (and by append_group and sync, synced): acknowledge last_lsn
    gap,             // the group does not start right after written_lsn(): ask from there
    malformed,       // the bytes are not whole records with the announced LSNs
    storage_failed,  // a write or fdatasync failed: fail-stop, nothing more is taken
  };

  explicit journal_follower(follower_config cfg);
  // Applies what is durable, then closes every file of the data directory: a standby that is
  // promoted opens it as an engine right after.
  ~journal_follower();
  journal_follower(const journal_follower&) = delete;
  journal_follower& operator=(const journal_follower&) = delete;

  // Recovers the data directory (a torn tail is cut, as at any start) and opens a new
  // journal file after it. False with `why` when the directory is damaged.
  [[nodiscard]] bool open(std::string& why);

  // One group of the primary's journal: records first_lsn..last_lsn, exactly as written.
  // `durable`, when given, is called once the group is written and synced, before it is
  // applied: a standby acknowledges it there (the ack says durable; the apply is this
  // process's business, done before it answers anything else or is promoted). The apply
  // happens behind, on the follower's thread. write_group then sync, for one group.
  [[nodiscard]] outcome append_group(std::span<const std::byte> group, std::uint64_t first_lsn,
                                     std::uint64_t last_lsn, std::string& why,
                                     const std::function<void(std::uint64_t)>& durable = {});

  // Checks one group and writes it, without the fdatasync: it is not durable (and nothing
  // may acknowledge it) until sync(). The group must start at written_lsn() + 1 (else gap).
  // Groups written together then share one fdatasync. A roll to a new file syncs what was
  // written before it first.
  [[nodiscard]] outcome write_group(std::span<const std::byte> group, std::uint64_t first_lsn,
                                    std::uint64_t last_lsn, std::string& why);
  // Makes every group written so far durable (one fdatasync): durable_lsn() becomes
  // written_lsn(), and the groups go to the apply. storage_failed on an error (fail-stop).
  [[nodiscard]] outcome sync(std::string& why);

  // Blocks until every durable group is applied to state().
  void wait_applied();

  // Cuts everything after `lsn` (durably) and rebuilds the state from what is left. False
  // with `why` when a snapshot covers LSNs past the cut (the node needs the primary's
  // snapshot) or on a storage error.
  [[nodiscard]] bool cut_after(std::uint64_t lsn, std::string& why);

  // A snapshot the primary sent, of LSN `lsn` (docs/CLUSTER.md, "Snapshots"): it replaces
  // the whole data directory (storage::install_snapshot); then the state is the snapshot's,
  // durable_lsn() is `lsn` and following goes on with the group of lsn + 1. False with `why`
  // when the bytes are not a snapshot of `lsn` or a file operation failed: the journal and
  // the state are as they were when nothing had been removed yet, else the follower stops
  // (failed()).
  [[nodiscard]] bool install_snapshot(std::span<const std::byte> bytes, std::uint64_t lsn,
                                      std::string& why);

  // Syncs what was written, applies what is durable and closes the journal file being
  // written; groups are refused after it (storage_failed). The destructor does it too.
  void close();

  // What FOLLOW carries: the term the last durable record was written in, and the first LSN
  // of that term in this journal. Both 0 for an empty journal; records before the first
  // term_started record are of term 0, from LSN 1.
  [[nodiscard]] std::uint64_t last_term() const;
  [[nodiscard]] std::uint64_t last_term_start() const;
  // The whole term history of what is written, without waiting for the apply.
  [[nodiscard]] const std::vector<term_start>& term_history() const { return terms_; }

  // The last LSN written and synced (durable), and the last one written.
  [[nodiscard]] std::uint64_t durable_lsn() const { return durable_lsn_; }
  [[nodiscard]] std::uint64_t written_lsn() const { return written_lsn_; }
  // The state up to durable_lsn(), once every durable group is applied (it waits for that).
  [[nodiscard]] const reference_ledger& state() {
    wait_applied();
    return state_;
  }
  // Closes the files and hands the state over (a standby promoted to primary gives it to the
  // engine, which then need not replay the journal it already applied). The follower is
  // left closed and empty.
  [[nodiscard]] reference_ledger release_state() {
    close();
    durable_lsn_ = 0;
    written_lsn_ = 0;
    terms_.clear();
    return std::move(state_);
  }
  [[nodiscard]] bool failed() const { return failed_.load(std::memory_order_acquire); }

 private:
  struct durable_group {
    std::vector<std::byte> bytes;
    std::uint64_t first_lsn = 0;
  };

  [[nodiscard]] bool recover_and_open(std::string& why);
  void fail() { failed_.store(true, std::memory_order_release); }
  void apply_loop();

  follower_config cfg_;
  reference_ledger state_;  // the applier's while groups wait; the caller's after wait_applied
  std::unique_ptr<storage::journal_files> files_;
  std::uint64_t durable_lsn_ = 0;
  std::uint64_t written_lsn_ = 0;
  // The term history of what is written: the state's, plus the term_started records written
  // since it was last applied (FOLLOW reports it without waiting for the apply).
  std::vector<term_start> terms_;
  std::vector<durable_group> unsynced_;  // written, waiting for sync()
  std::atomic<bool> failed_{false};

  // Between this thread and the applier.
  std::mutex mu_;
  std::condition_variable work_cv_;  // the applier waits for groups
  std::condition_variable done_cv_;  // writers wait for the backlog to shrink or to empty
  std::deque<durable_group> to_apply_;
  std::uint64_t backlog_bytes_ = 0;  // of to_apply_ and the group being applied
  bool applying_ = false;
  bool stop_ = false;
  std::thread applier_;
};

}  // namespace remit::actors
