#include "actors/storage.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/assert.hpp"

namespace remit::storage {

namespace fs = std::filesystem;

namespace {

// The path of `name` in `dir`, in one allocation.
std::string path_in(const std::string& dir, const std::string& name) {
  std::string p;
  p.reserve(dir.size() + 1 + name.size());
  p.append(dir).append("/").append(name);
  return p;
}

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

using step = durability_step::kind;

// Tells a test about a durability step (storage_faults::on_step), if one listens.
void report(const storage_faults* faults, step what, std::string_view path, std::uint64_t size = 0,
            std::string_view to = {}) {
  if (faults == nullptr || !faults->on_step) return;
  faults->on_step(durability_step{what, path, to, size});
}

void remove_file(const std::string& path, const storage_faults* faults) {
  report(faults, step::removing, path);
  ::unlink(path.c_str());
}

// remove_file for a caller that must know the file is gone (or was gone already).
bool remove_file_checked(const std::string& path, std::string& why, const storage_faults* faults) {
  report(faults, step::removing, path);
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return true;
  why = errno_text("remove", path);
  return false;
}

bool fsync_dir(const std::string& dir, std::string& why, const storage_faults* faults) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    why = errno_text("open directory", dir);
    return false;
  }
  report(faults, step::dir_syncing, dir);
  const bool ok = ::fsync(fd) == 0;
  if (!ok) why = errno_text("fsync directory", dir);
  ::close(fd);
  if (ok) report(faults, step::dir_synced, dir);
  return ok;
}

// Cuts a file and makes the cut durable before anything new is written after it.
bool truncate_durably(const std::string& path, std::uint64_t size, std::string& why,
                      const storage_faults* faults) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    why = errno_text("open", path);
    return false;
  }
  const bool ok = ::ftruncate(fd, static_cast<off_t>(size)) == 0 && ::fsync(fd) == 0;
  if (!ok) why = errno_text("truncate", path);
  ::close(fd);
  if (ok) report(faults, step::truncated, path, size);
  return ok;
}

bool write_all(int fd, const std::byte* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------

journal_files::journal_files(std::string dir, std::shared_ptr<storage_faults> faults)
    : dir_(std::move(dir)), faults_(std::move(faults)) {}

journal_files::~journal_files() {
  if (fd_ >= 0) ::close(fd_);
}

bool journal_files::open_new(std::uint64_t first_lsn, std::string& why) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  path_ = dir_ + "/" + journal::journal_file_name(first_lsn);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    why = errno_text("create", path_);
    return false;
  }
  size_ = 0;
  report(faults_.get(), step::created, path_);
  return fsync_dir(dir_, why, faults_.get());
}

bool journal_files::append(std::span<const std::byte> data, std::string& why) {
  REMIT_ASSERT(fd_ >= 0);
  if (faults_ && faults_->fail_write.load()) {
    why = "write failed (injected)";
    return false;
  }
  if (!write_all(fd_, data.data(), data.size())) {
    why = errno_text("write", dir_);
    return false;
  }
  size_ += data.size();
  return true;
}

bool journal_files::sync(std::string& why) {
  REMIT_ASSERT(fd_ >= 0);
  if (faults_ && faults_->fail_sync.load()) {
    why = "fdatasync failed (injected)";
    return false;
  }
  if (::fdatasync(fd_) != 0) {
    why = errno_text("fdatasync", dir_);
    return false;
  }
  report(faults_.get(), step::synced, path_, size_);
  return true;
}

// ---------------------------------------------------------------------------------------

bool read_file(const std::string& path, std::vector<std::byte>& out, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    why = errno_text("open", path);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    why = errno_text("stat", path);
    ::close(fd);
    return false;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t r = ::read(fd, out.data() + done, out.size() - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      why = errno_text("read", path);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return true;
}

namespace {

// The temporary file that write_file_atomically writes `name` to first: ".<name>.tmp", which
// list_dir reports as a leftover when it is a snapshot's.
std::string temporary_path(const std::string& dir, const std::string& name) {
  return dir + "/." + name + ".tmp";
}

// Writes `data` to temporary_path(dir, name) and fsyncs it.
bool write_synced_temporary(const std::string& dir, const std::string& name,
                            std::span<const std::byte> data, std::string& why,
                            const storage_faults* faults) {
  const std::string tmp = temporary_path(dir, name);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    why = errno_text("create", tmp);
    return false;
  }
  report(faults, step::created, tmp);
  const bool ok = write_all(fd, data.data(), data.size()) && ::fsync(fd) == 0;
  if (!ok) why = errno_text("write", tmp);
  ::close(fd);
  if (ok) report(faults, step::synced, tmp, data.size());
  return ok;
}

// Renames the temporary file of `name` to `name`, durably.
bool publish_temporary(const std::string& dir, const std::string& name, std::string& why,
                       const storage_faults* faults) {
  const std::string tmp = temporary_path(dir, name);
  const std::string path = path_in(dir, name);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    why = errno_text("rename", tmp);
    return false;
  }
  report(faults, step::renamed, tmp, 0, path);
  return fsync_dir(dir, why, faults);
}

}  // namespace

bool write_file_atomically(const std::string& dir, const std::string& name,
                           std::span<const std::byte> data, std::string& why,
                           const storage_faults* faults) {
  return write_synced_temporary(dir, name, data, why, faults) &&
         publish_temporary(dir, name, why, faults);
}

bool list_dir(const std::string& dir, listing& out, std::string& why) {
  out = listing{};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::uint64_t n = 0;
    if (journal::parse_journal_file_name(name, n)) out.journals.emplace_back(n, name);
    if (journal::parse_snapshot_file_name(name, n)) out.snapshots.emplace_back(n, name);
    // ".<snapshot name>.tmp", as write_file_atomically names it.
    if (name.size() > 5 && name.front() == '.' && name.ends_with(".tmp") &&
        journal::parse_snapshot_file_name(name.substr(1, name.size() - 5), n))
      out.leftovers.push_back(name);
  }
  if (ec) {
    why = "list " + dir + ": " + ec.message();
    return false;
  }
  std::sort(out.journals.begin(), out.journals.end());
  std::sort(out.snapshots.begin(), out.snapshots.end());
  return true;
}

namespace {

// A snapshot write that a crash interrupted leaves its temporary file; nothing reads it.
void remove_leftovers(const std::string& dir, const listing& l, const storage_faults* faults) {
  for (const std::string& name : l.leftovers) remove_file(path_in(dir, name), faults);
}

// Loads the newest snapshot (if any) into `out`.
bool load_snapshot(const std::string& dir, const listing& l, reference_ledger& out,
                   recovery_report& report, std::string& why) {
  out = reference_ledger{};
  if (l.snapshots.empty()) return true;
  const auto& [lsn, name] = l.snapshots.back();
  std::vector<std::byte> data;
  if (!read_file(path_in(dir, name), data, why)) return false;
  std::uint64_t snap_lsn = 0;
  if (!out.read_snapshot(data, snap_lsn, why)) {
    why = path_in(dir, name) + ": " + why;
    return false;
  }
  if (snap_lsn != lsn) {
    why = path_in(dir, name) + ": holds LSN " + std::to_string(snap_lsn);
    return false;
  }
  report.snapshot = name;
  report.snapshot_lsn = lsn;
  report.last_lsn = lsn;
  return true;
}

// Replays the journal files after the snapshot. `last_file` limits which files are read
// (those starting before it); `cut_torn_tail` truncates a torn last file.
bool replay_files(const std::string& dir, const listing& l, std::uint64_t first_lsn_not_covered,
                  bool cut_torn_tail, reference_ledger& out, recovery_report& report,
                  std::string& why, const storage_faults* faults) {
  std::vector<std::byte> data;
  std::vector<std::pair<std::uint64_t, std::string>> files;
  for (const auto& f : l.journals)
    if (f.first < first_lsn_not_covered) files.push_back(f);
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [first, name] = files[i];
    const std::string path = path_in(dir, name);
    // A file wholly before the snapshot: the next file starts at or before the snapshot.
    if (i + 1 < files.size() && files[i + 1].first <= report.snapshot_lsn + 1) continue;
    // With no snapshot the journal must start at LSN 1 (a file left empty counts as not
    // having its records: an empty file is only ever the last one written).
    if (first > report.last_lsn + 1) {
      why = path + ": LSNs " + std::to_string(report.last_lsn + 1) + " to " +
            std::to_string(first - 1) + " are missing";
      return false;
    }
    if (!read_file(path, data, why)) return false;
    ++report.files;
    // The file's name gives the LSN its first record must have, so damage to that record
    // is judged against the right group (a torn first group of a new file is a torn tail).
    const journal::scan_result r = journal::scan(data, first, [&](const journal::record_view& v) {
      if (v.header.lsn <= report.last_lsn) return;  // covered by the snapshot
      out.replay(v);
      ++report.records;
    });
    if (r.records > 0) report.last_lsn = std::max(report.last_lsn, r.last_lsn);
    // A torn tail can only be in the last file written to; files after it may exist only
    // empty (a restart opened one and crashed before writing).
    bool rest_empty = true;
    for (std::size_t k = i + 1; k < files.size(); ++k) {
      std::error_code size_ec;
      rest_empty =
          rest_empty && fs::file_size(path_in(dir, files[k].second), size_ec) == 0 && !size_ec;
    }
    if (r.how == journal::scan_result::end::corrupt ||
        (r.how == journal::scan_result::end::torn_tail && !rest_empty)) {
      why =
          path + ": damaged record at offset " + std::to_string(r.bad_offset) + " (" + r.why + ")";
      return false;
    }
    if (r.how == journal::scan_result::end::torn_tail) {
      report.torn_bytes = data.size() - r.valid_bytes;
      report.torn_file = name;
      if (cut_torn_tail && !truncate_durably(path, r.valid_bytes, why, faults)) return false;
      break;  // what follows is empty
    }
  }
  return true;
}

}  // namespace

bool recover(const std::string& dir, reference_ledger& out, recovery_report& report,
             std::string& why, const storage_faults* faults) {
  const auto start = std::chrono::steady_clock::now();
  report = recovery_report{};
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    why = "create " + dir + ": " + ec.message();
    return false;
  }
  listing l;
  if (!list_dir(dir, l, why)) return false;
  remove_leftovers(dir, l, faults);
  if (!load_snapshot(dir, l, out, report, why)) return false;
  if (!replay_files(dir, l, UINT64_MAX, true, out, report, why, faults)) return false;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

bool cut_journal_after(const std::string& dir, std::uint64_t lsn, std::uint64_t& last_lsn,
                       std::string& why, const storage_faults* faults) {
  listing l;
  if (!list_dir(dir, l, why)) return false;
  for (const auto& [snap, name] : l.snapshots) {
    if (snap > lsn) {
      why = path_in(dir, name) + " covers LSNs after " + std::to_string(lsn);
      return false;
    }
  }
  last_lsn = l.snapshots.empty() ? 0 : l.snapshots.back().first;
  std::vector<std::byte> data;
  bool changed = false;
  for (auto it = l.journals.rbegin(); it != l.journals.rend(); ++it) {
    const auto& [first, name] = *it;
    const std::string path = path_in(dir, name);
    if (first > lsn) {  // wholly after the cut
      remove_file(path, faults);
      changed = true;
      continue;
    }
    // The file that holds the cut: keep its records up to `lsn`.
    if (!read_file(path, data, why)) return false;
    std::uint64_t keep = 0;
    std::uint64_t kept_last = 0;
    const journal::scan_result r = journal::scan(data, first, [&](const journal::record_view& v) {
      if (v.header.lsn > lsn) return;
      keep = v.offset + journal::header_size + v.header.length;
      kept_last = v.header.lsn;
    });
    if (r.how == journal::scan_result::end::corrupt) {
      why =
          path + ": damaged record at offset " + std::to_string(r.bad_offset) + " (" + r.why + ")";
      return false;
    }
    if (keep < data.size()) {
      if (!truncate_durably(path, keep, why, faults)) return false;
      changed = true;
    }
    if (kept_last != 0) last_lsn = std::max(last_lsn, kept_last);
    break;
  }
  return !changed || fsync_dir(dir, why, faults);
}

// Writes `state` as the snapshot of `lsn`, then removes what it covers (of listing `l`).
static bool write_snapshot_and_prune(const std::string& dir, const listing& l,
                                     const reference_ledger& state, std::uint64_t lsn,
                                     std::uint64_t first_lsn_not_covered, std::string& why,
                                     const storage_faults* faults) {
  std::vector<std::byte> data;
  state.write_snapshot(data, lsn);
  if (!write_file_atomically(dir, journal::snapshot_file_name(lsn), data, why, faults))
    return false;
  // The new snapshot covers every file read and every older snapshot.
  for (const auto& [first, name] : l.journals)
    if (first < first_lsn_not_covered) remove_file(path_in(dir, name), faults);
  for (const auto& [snap, name] : l.snapshots)
    if (snap < lsn) remove_file(path_in(dir, name), faults);
  return fsync_dir(dir, why, faults);
}

bool build_snapshot(const std::string& dir, std::uint64_t first_lsn_not_covered, std::uint64_t& lsn,
                    std::string& why, const storage_faults* faults) {
  listing l;
  if (!list_dir(dir, l, why)) return false;
  remove_leftovers(dir, l, faults);  // one snapshot is built at a time: these were interrupted
  reference_ledger state;
  recovery_report report;
  if (!load_snapshot(dir, l, state, report, why)) return false;
  if (!replay_files(dir, l, first_lsn_not_covered, false, state, report, why, faults)) return false;
  if (report.torn_bytes != 0) {
    why = "a closed journal file has a torn tail";
    return false;
  }
  lsn = report.last_lsn;
  if (lsn == report.snapshot_lsn && !l.snapshots.empty()) return true;  // nothing new
  return write_snapshot_and_prune(dir, l, state, lsn, first_lsn_not_covered, why, faults);
}

bool snapshot_recovered(const std::string& dir, const reference_ledger& state,
                        std::uint64_t last_lsn, std::string& why, const storage_faults* faults) {
  listing l;  // recovery has just removed the leftovers of interrupted snapshots
  if (!list_dir(dir, l, why)) return false;
  return write_snapshot_and_prune(dir, l, state, last_lsn, last_lsn + 1, why, faults);
}

// ---------------------------------------------------------------------------------------
// What a primary ships to a standby that catches up

bool journal_extent(const std::string& dir, extent& out, std::string& why) {
  out = extent{};
  listing l;
  if (!list_dir(dir, l, why)) return false;
  if (!l.journals.empty()) out.oldest_lsn = l.journals.front().first;
  if (!l.snapshots.empty()) {
    out.snapshot_lsn = l.snapshots.back().first;
    out.snapshot = l.snapshots.back().second;
  }
  return true;
}

namespace {

// How much read_groups asks of read() at a time. The buffer holds one chunk, or one record
// when a record is larger; a record that a chunk cut is moved to the buffer's front first.
constexpr std::size_t read_chunk = 4u << 20;

// An open file that closes itself.
struct file_descriptor {
  int fd = -1;
  explicit file_descriptor(int f) : fd(f) {}
  ~file_descriptor() {
    if (fd >= 0) ::close(fd);
  }
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
};

// A journal file that vanished while it was to be read: the snapshot thread removed it (and
// those before it) once a snapshot covered it, or it is missing.
read_result vanished(const std::string& dir, const std::string& path, std::uint64_t next_lsn,
                     std::string& why) {
  listing now;
  if (!list_dir(dir, now, why)) return read_result::failed;
  if ((now.journals.empty() || now.journals.front().first > next_lsn) && !now.snapshots.empty() &&
      now.snapshots.back().first >= next_lsn) {
    why = "LSN " + std::to_string(next_lsn) + " was covered by " + now.snapshots.back().second +
          " and removed while it was read";
    return read_result::rolled_away;
  }
  why = path + " is missing";
  return read_result::failed;
}

// Why a journal file cannot be read on: the damaged record's place and what is wrong.
std::string damaged_at(const std::string& path, std::uint64_t offset, std::string_view reason) {
  std::string why = path;
  why.append(": damaged record at offset ").append(std::to_string(offset));
  why.append(" (").append(reason).append(")");
  return why;
}

// Reads one journal file from its start, in chunks, and visits the runs of its records from
// `from_lsn` to `to_lsn`. `next_lsn` is the LSN its first record must have; on return it is
// the LSN after the last record read. `done` is set once to_lsn was visited.
read_result read_one_file(const std::string& dir, const std::string& name, std::uint64_t from_lsn,
                          std::uint64_t to_lsn, std::uint64_t& next_lsn, bool& done,
                          std::vector<std::byte>& buf, const group_visitor& visit,
                          std::string& why) {
  const std::string path = path_in(dir, name);
  file_descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.fd < 0) {
    if (errno == ENOENT) return vanished(dir, path, next_lsn, why);
    why = errno_text("open", path);
    return read_result::failed;
  }
  std::size_t begin = 0;      // the first byte not parsed yet, in buf
  std::size_t end = 0;        // after the last byte read, in buf
  std::uint64_t buf_at = 0;   // the file offset of buf[0]
  std::size_t run_begin = 0;  // the run being gathered: buf[run_begin, run_end)
  std::size_t run_end = 0;
  std::uint64_t run_first = 0;  // 0: no run
  std::uint64_t run_last = 0;
  std::uint64_t run_group = 0;
  const auto flush = [&] {
    if (run_first == 0) return;
    visit(std::span<const std::byte>(buf.data() + run_begin, run_end - run_begin), run_first,
          run_last, run_group);
    run_first = 0;
  };
  for (;;) {
    const std::size_t have = end - begin;
    std::size_t need = journal::header_size;
    if (have >= journal::header_size) {
      std::uint32_t length = 0;
      std::memcpy(&length, buf.data() + begin + offsetof(journal::record_header, length),
                  sizeof length);
      if (length > journal::record_payload_max) {
        why = damaged_at(path, buf_at + begin, "length over the maximum");
        return read_result::failed;
      }
      need += length;
    }
    if (have < need) {
      // The next record is not whole in the buffer: hand over the run (it points into the
      // buffer), keep the part read, and read more after it.
      flush();
      if (begin > 0) {
        std::memmove(buf.data(), buf.data() + begin, have);
        buf_at += begin;
        begin = 0;
        end = have;
      }
      buf.resize(std::max(read_chunk, need));
      const ssize_t r = ::read(file.fd, buf.data() + end, buf.size() - end);
      if (r < 0) {
        if (errno == EINTR) continue;
        why = errno_text("read", path);
        return read_result::failed;
      }
      if (r == 0) {
        if (have == 0) return read_result::ok;  // the file ends after a whole record
        why = path + ": " + std::to_string(have) + " bytes after LSN " +
              std::to_string(next_lsn - 1) + " at offset " + std::to_string(buf_at) +
              " are not a whole record";
        return read_result::failed;
      }
      end += static_cast<std::size_t>(r);
      continue;
    }
    journal::record_view v{};
    std::string bad;
    if (!journal::parse_record(std::span<const std::byte>(buf.data(), end), begin, v, &bad)) {
      why = damaged_at(path, buf_at + begin, bad);
      return read_result::failed;
    }
    const std::uint64_t lsn = v.header.lsn;
    if (lsn != next_lsn) {
      why = path + ": LSN " + std::to_string(lsn) + " at offset " + std::to_string(buf_at + begin) +
            " where " + std::to_string(next_lsn) + " was expected";
      return read_result::failed;
    }
    if (lsn >= from_lsn) {
      if (run_first != 0 &&
          (v.header.group_lsn != run_group || run_end - run_begin + need > read_run_bytes_max))
        flush();
      if (run_first == 0) {
        run_begin = begin;
        run_first = lsn;
        run_group = v.header.group_lsn;
      }
      run_end = begin + need;
      run_last = lsn;
    }
    begin += need;
    next_lsn = lsn + 1;
    if (lsn == to_lsn) {
      flush();
      done = true;
      return read_result::ok;
    }
  }
}

}  // namespace

read_result read_groups(const std::string& dir, std::uint64_t from_lsn, std::uint64_t to_lsn,
                        const group_visitor& visit, std::string& why) {
  if (from_lsn == 0) {
    why = "LSNs start at 1";
    return read_result::failed;
  }
  if (from_lsn > to_lsn) return read_result::ok;  // nothing asked
  listing l;
  if (!list_dir(dir, l, why)) return read_result::failed;
  if (l.journals.empty() || from_lsn < l.journals.front().first) {
    if (!l.snapshots.empty() && l.snapshots.back().first >= from_lsn) {
      why = "LSN " + std::to_string(from_lsn) + " is covered by " + l.snapshots.back().second +
            ", its journal files are gone";
      return read_result::rolled_away;
    }
    why = "no journal file of " + dir + " holds LSN " + std::to_string(from_lsn);
    return read_result::failed;
  }
  // The file that holds from_lsn: the last one that starts at or before it.
  std::size_t i = 0;
  while (i + 1 < l.journals.size() && l.journals[i + 1].first <= from_lsn) ++i;
  std::vector<std::byte> buf;
  std::uint64_t next_lsn = l.journals[i].first;
  bool done = false;
  bool listed_again = false;
  for (;;) {
    const read_result r =
        read_one_file(dir, l.journals[i].second, from_lsn, to_lsn, next_lsn, done, buf, visit, why);
    if (r != read_result::ok || done) return r;
    if (i + 1 == l.journals.size() && !listed_again) {
      // The writer may have rolled to a new file since the listing.
      listed_again = true;
      const std::string current = l.journals[i].second;
      if (!list_dir(dir, l, why)) return read_result::failed;
      const auto it = std::find_if(l.journals.begin(), l.journals.end(),
                                   [&](const auto& f) { return f.second == current; });
      if (it == l.journals.end()) return vanished(dir, path_in(dir, current), next_lsn, why);
      i = static_cast<std::size_t>(it - l.journals.begin());
    }
    if (i + 1 == l.journals.size()) {
      why = "the journal of " + dir + " ends at LSN " + std::to_string(next_lsn - 1) + ", before " +
            std::to_string(to_lsn);
      return read_result::failed;
    }
    ++i;
    if (l.journals[i].first != next_lsn) {
      why = path_in(dir, l.journals[i].second) + " starts at LSN " +
            std::to_string(l.journals[i].first) + " where " + std::to_string(next_lsn) +
            " was expected";
      return read_result::failed;
    }
  }
}

install_result install_snapshot(const std::string& dir, std::span<const std::byte> data,
                                std::uint64_t lsn, std::string& why, const storage_faults* faults) {
  {
    reference_ledger check;
    std::uint64_t holds = 0;
    if (!check.read_snapshot(data, holds, why)) {
      why = "the snapshot is damaged: " + why;
      return install_result::unchanged;
    }
    if (holds != lsn || lsn == 0) {
      why = "the snapshot holds LSN " + std::to_string(holds) + ", not " + std::to_string(lsn);
      return install_result::unchanged;
    }
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    why = "create " + dir + ": " + ec.message();
    return install_result::unchanged;
  }
  const std::string name = journal::snapshot_file_name(lsn);
  const std::string tmp_name = "." + name + ".tmp";
  listing l;
  if (!write_synced_temporary(dir, name, data, why, faults) || !list_dir(dir, l, why)) {
    remove_file(temporary_path(dir, name), faults);
    return install_result::unchanged;
  }
  // Everything of the old history goes before the new snapshot appears: recovery would load
  // a newer old snapshot, or replay old records after the new one's LSN on top of it.
  bool ok = true;
  for (const auto& [first, file] : l.journals)
    ok = ok && remove_file_checked(path_in(dir, file), why, faults);
  for (const auto& [snap, file] : l.snapshots)
    ok = ok && remove_file_checked(path_in(dir, file), why, faults);
  for (const std::string& file : l.leftovers)
    if (file != tmp_name) ok = ok && remove_file_checked(path_in(dir, file), why, faults);
  ok = ok && fsync_dir(dir, why, faults) && publish_temporary(dir, name, why, faults);
  return ok ? install_result::ok : install_result::damaged;
}

}  // namespace remit::storage
