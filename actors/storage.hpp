// The data directory: journal files, snapshots, recovery. Blocking file I/O; it runs on the
// journal's writer and snapshot threads and at start-up, never on the scheduler's workers.
//
// Layout of a data directory:
//   journal-<first LSN>.rmj   records (engine/journal_format.hpp), one file per range of LSNs
//   snapshot-<LSN>.rms        the whole state after the decision with that LSN, no holds
//
// Durability of files: a journal write is followed by fdatasync before anything it holds is
// acknowledged; a new file's directory entry is made durable (fsync of the directory) before
// its first acknowledgement; a snapshot is written to a temporary file, fsynced, renamed,
// and the directory fsynced.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/reference_ledger.hpp"

namespace remit {

// One step that changes what of the data directory survives a power loss, as reported to
// storage_faults::on_step: on the thread that took it, right after its system call returned
// (`removing` and `dir_syncing`: right before it, so that a test can keep the file's
// contents, and know which name changes the directory's fsync covers).
struct durability_step {
  enum class kind : std::uint8_t {
    created,      // `path` was created empty (or emptied); its name is not yet durable
    synced,       // an fdatasync or fsync of `path` returned: its first `size` bytes are durable
    truncated,    // `path` was cut to `size` bytes and fsynced
    renamed,      // `path` was renamed to `to`; the new name is not yet durable
    removing,     // `path` is about to be unlinked
    dir_syncing,  // an fsync of the directory `path` is about to start
    dir_synced,   // that fsync returned: every name change before its start is durable
  };
  kind what = kind::created;
  std::string_view path;
  std::string_view to;
  std::uint64_t size = 0;
};

// Failures to inject, for tests: the next write or fdatasync fails with EIO.
struct storage_faults {
  // For tests that simulate a power loss: called at every durability_step of the journal,
  // the snapshots and recovery. It must not call back into storage.
  std::function<void(const durability_step&)> on_step;
  std::atomic<bool> fail_write{false};
  std::atomic<bool> fail_sync{false};
  // While hold_sync is true the journal writer waits before each fdatasync; syncs_held
  // counts the writers waiting there (tests of answers that must wait for a sync).
  std::atomic<bool> hold_sync{false};
  std::atomic<std::uint32_t> syncs_held{0};
};

namespace storage {

// Appends to journal files, rolling to a new file on request.
class journal_files {
 public:
  journal_files(std::string dir, std::shared_ptr<storage_faults> faults);
  ~journal_files();
  journal_files(const journal_files&) = delete;
  journal_files& operator=(const journal_files&) = delete;

  // Starts journal-<first_lsn>.rmj (closing the current file) and makes its name durable.
  [[nodiscard]] bool open_new(std::uint64_t first_lsn, std::string& why);
  [[nodiscard]] bool append(std::span<const std::byte> data, std::string& why);
  [[nodiscard]] bool sync(std::string& why);
  std::uint64_t current_size() const { return size_; }

 private:
  std::string dir_;
  std::shared_ptr<storage_faults> faults_;
  std::string path_;  // of the file being written
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

struct recovery_report {
  std::string snapshot;  // file loaded, or empty
  std::uint64_t snapshot_lsn = 0;
  std::uint64_t records = 0;   // replayed after the snapshot
  std::uint64_t last_lsn = 0;  // of the last decision in the state
  std::uint64_t files = 0;
  std::uint64_t torn_bytes = 0;  // cut from the tail
  std::string torn_file;
  double seconds = 0;
};

// Loads the newest snapshot and replays every later record into `out`. A torn tail of the
// last file is cut off (the file is truncated to its valid prefix). Returns false with `why`
// naming the file and offset on damage before the tail, or on a gap in the LSNs.
// `faults`, if given, receives the durability steps (the cut, removed leftovers).
[[nodiscard]] bool recover(const std::string& dir, reference_ledger& out, recovery_report& report,
                           std::string& why, const storage_faults* faults = nullptr);

// Builds snapshot-<L>.rms from the newest snapshot and every journal file that starts at or
// before `first_lsn_not_covered` - 1 (the files before the one being written), then removes
// the files and the older snapshots it covers. L is the last LSN of those files. Returns
// false with `why` on any failure (nothing is removed then).
[[nodiscard]] bool build_snapshot(const std::string& dir, std::uint64_t first_lsn_not_covered,
                                  std::uint64_t& lsn, std::string& why,
                                  const storage_faults* faults = nullptr);

// Writes `state`, just recovered from `dir` up to `last_lsn` and before any new record, as
// snapshot-<last_lsn>.rms, then removes the journal files and older snapshots it covers.
// The engine calls it at start-up when recovery replayed a long tail: snapshots are built
// in the background at file rolls, and a process that keeps crashing sooner than one
// completes would otherwise replay an ever longer journal at every start.
[[nodiscard]] bool snapshot_recovered(const std::string& dir, const reference_ledger& state,
                                      std::uint64_t last_lsn, std::string& why,
                                      const storage_faults* faults = nullptr);

// Cuts the journal of `dir` after the record with LSN `lsn`: the file holding it is
// truncated right after it (durably), and every later file is removed. A node that comes
// back as a standby cuts the tail that the new primary never had (docs/CLUSTER.md). Refuses
// (false with `why`, nothing changed) when a snapshot covers LSNs past the cut: then the
// node needs the primary's snapshot instead. `last_lsn` is the journal's last LSN after it.
[[nodiscard]] bool cut_journal_after(const std::string& dir, std::uint64_t lsn,
                                     std::uint64_t& last_lsn, std::string& why,
                                     const storage_faults* faults = nullptr);

// What a data directory holds, for a primary that decides how a standby catches up.
struct extent {
  std::uint64_t oldest_lsn = 0;    // the first LSN of the oldest journal file; 0: no file
  std::uint64_t snapshot_lsn = 0;  // the newest snapshot's LSN; 0: none
  std::string snapshot;            // its file name; empty: none
};
[[nodiscard]] bool journal_extent(const std::string& dir, extent& out, std::string& why);

// How read_groups ended.
enum class read_result : std::uint8_t {
  ok,           // every record from from_lsn to to_lsn was visited
  rolled_away,  // from_lsn is older than the journal's files: a snapshot covered it
  failed,       // a file could not be read, or it is not what the journal wrote (`why`)
};

// The most bytes one run of read_groups holds: one record of the largest size, which is
// also what one GROUP message carries (gateway/cluster/node_messages.hpp).
inline constexpr std::size_t read_run_bytes_max =
    journal::header_size + journal::record_payload_max;

// visit(records, first_lsn, last_lsn, group_lsn): a run of whole records, byte for byte as
// the journal holds them, all written in the group that starts at group_lsn.
using group_visitor =
    std::function<void(std::span<const std::byte> records, std::uint64_t first_lsn,
                       std::uint64_t last_lsn, std::uint64_t group_lsn)>;

// Reads the journal files of `dir` and visits the records from_lsn..to_lsn in order, in
// consecutive runs: each run holds records of one group only, at most read_run_bytes_max
// bytes (a group larger than that, or one that a read of the file cut, comes in several runs
// in a row), and the first run starts at from_lsn even in the middle of a group. `to_lsn` must
// be durable (fdatasync returned): the journal's writer may be appending after it, and the
// snapshot thread may remove old files meanwhile; neither makes this read torn records. It
// reads in chunks: at most about 16 MiB of buffer whatever the files' sizes. The span passed
// to visit is valid during the call only.
[[nodiscard]] read_result read_groups(const std::string& dir, std::uint64_t from_lsn,
                                      std::uint64_t to_lsn, const group_visitor& visit,
                                      std::string& why);

// How install_snapshot ended.
enum class install_result : std::uint8_t {
  ok,         // the snapshot is the directory's only file
  unchanged,  // refused or failed before anything was removed: the directory is as it was
  damaged,    // failed after it started removing: the directory holds part of the old state
};

// Replaces everything in `dir` with a snapshot a primary sent (docs/CLUSTER.md, "Snapshots"):
// `data` must read as a snapshot (reference_ledger::read_snapshot) of LSN `lsn`. It is
// written and synced to a temporary file first; then every journal file and every snapshot
// is removed and the removal made durable; then the temporary file becomes snapshot-<lsn>.rms,
// durably. A crash in between leaves an empty directory (the node holds nothing and follows
// from the start), never the new snapshot beside the old journal, which recovery would
// replay on top of it.
[[nodiscard]] install_result install_snapshot(const std::string& dir,
                                              std::span<const std::byte> data, std::uint64_t lsn,
                                              std::string& why,
                                              const storage_faults* faults = nullptr);

// Writes `data` as `name` in `dir` atomically: temporary file, fsync, rename, fsync of dir.
[[nodiscard]] bool write_file_atomically(const std::string& dir, const std::string& name,
                                         std::span<const std::byte> data, std::string& why,
                                         const storage_faults* faults = nullptr);

// The whole contents of a file.
[[nodiscard]] bool read_file(const std::string& path, std::vector<std::byte>& out,
                             std::string& why);

// Journal and snapshot files of a directory, sorted by LSN.
struct listing {
  std::vector<std::pair<std::uint64_t, std::string>> journals;   // first LSN, name
  std::vector<std::pair<std::uint64_t, std::string>> snapshots;  // LSN, name
  std::vector<std::string> leftovers;  // temporary files of interrupted snapshot writes
};
[[nodiscard]] bool list_dir(const std::string& dir, listing& out, std::string& why);

}  // namespace storage
}  // namespace remit
