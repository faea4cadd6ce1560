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
// Blocking file I/O: run it on a thread of its own, not on the scheduler's workers. Not
// thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "actors/storage.hpp"
#include "engine/reference_ledger.hpp"

namespace remit::actors {

struct follower_config {
  std::string dir;
  std::uint64_t file_size_max = 256u << 20;  // roll to a new file past this
  std::shared_ptr<storage_faults> faults;
};

class journal_follower {
 public:
  enum class outcome : std::uint8_t {
    ok,              // written, synced and applied: acknowledge last_lsn
    gap,             // the group does not start right after durable_lsn(): ask from there
    malformed,       // the bytes are not whole records with the announced LSNs
    storage_failed,  // a write or fdatasync failed: fail-stop, nothing more is taken
  };

  explicit journal_follower(follower_config cfg);
  // Closes every file of the data directory: a standby that is promoted opens it as an
  // engine right after.
  ~journal_follower() = default;
  journal_follower(const journal_follower&) = delete;
  journal_follower& operator=(const journal_follower&) = delete;

  // Recovers the data directory (a torn tail is cut, as at any start) and opens a new
  // journal file after it. False with `why` when the directory is damaged.
  [[nodiscard]] bool open(std::string& why);

  // One group of the primary's journal: records first_lsn..last_lsn, exactly as written.
  // `durable`, when given, is called once the group is written and synced, before it is
  // applied: a standby acknowledges it there (the ack says durable; the apply is this
  // process's business, done before it answers anything else or is promoted).
  [[nodiscard]] outcome append_group(std::span<const std::byte> group, std::uint64_t first_lsn,
                                     std::uint64_t last_lsn, std::string& why,
                                     const std::function<void(std::uint64_t)>& durable = {});

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

  // Closes the journal file being written; groups are refused after it (storage_failed).
  // The destructor does it too.
  void close() { files_.reset(); }

  // What FOLLOW carries: the term the last durable record was written in, and the first LSN
  // of that term in this journal. Both 0 for an empty journal; records before the first
  // term_started record are of term 0, from LSN 1.
  [[nodiscard]] std::uint64_t last_term() const;
  [[nodiscard]] std::uint64_t last_term_start() const;

  // The last LSN written, synced and applied.
  [[nodiscard]] std::uint64_t durable_lsn() const { return durable_lsn_; }
  [[nodiscard]] const reference_ledger& state() const { return state_; }
  // Closes the files and hands the state over (a standby promoted to primary gives it to the
  // engine, which then need not replay the journal it already applied). The follower is
  // left closed and empty.
  [[nodiscard]] reference_ledger release_state() {
    close();
    durable_lsn_ = 0;
    return std::move(state_);
  }
  [[nodiscard]] bool failed() const { return failed_; }

 private:
  [[nodiscard]] bool recover_and_open(std::string& why);

  follower_config cfg_;
  reference_ledger state_;
  std::unique_ptr<storage::journal_files> files_;
  std::uint64_t durable_lsn_ = 0;
  bool failed_ = false;
};

}  // namespace remit::actors
