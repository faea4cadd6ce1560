#include "actors/follower.hpp"

#include <utility>

#include "engine/journal_format.hpp"

namespace remit::actors {

journal_follower::journal_follower(follower_config cfg) : cfg_(std::move(cfg)) {}

bool journal_follower::open(std::string& why) {
  return recover_and_open(why);
}

bool journal_follower::recover_and_open(std::string& why) {
  files_.reset();  // closes the file being written, if any
  storage::recovery_report report;
  state_ = reference_ledger{};
  if (!storage::recover(cfg_.dir, state_, report, why, cfg_.faults.get())) return false;
  durable_lsn_ = report.last_lsn;
  files_ = std::make_unique<storage::journal_files>(cfg_.dir, cfg_.faults);
  return files_->open_new(durable_lsn_ + 1, why);
}

journal_follower::outcome journal_follower::append_group(
    std::span<const std::byte> group, std::uint64_t first_lsn, std::uint64_t last_lsn,
    std::string& why, const std::function<void(std::uint64_t)>& durable) {
  if (failed_) {
    why = "storage failed earlier";
    return outcome::storage_failed;
  }
  if (!files_) {
    why = "the journal is closed";
    return outcome::storage_failed;
  }
  if (first_lsn != durable_lsn_ + 1) {
    why = "group starts at LSN " + std::to_string(first_lsn) + ", expected " +
          std::to_string(durable_lsn_ + 1);
    return outcome::gap;
  }
  if (last_lsn < first_lsn || group.empty()) {
    why = "empty group or LSNs out of order";
    return outcome::malformed;
  }
  // Every byte must be a whole, valid record, with the LSNs the header announced: nothing
  // that would read back as a torn tail or a gap is written.
  const journal::scan_result r =
      journal::scan(group, first_lsn, [](const journal::record_view&) {});
  if (r.how != journal::scan_result::end::clean || r.valid_bytes != group.size() ||
      r.first_lsn != first_lsn || r.last_lsn != last_lsn) {
    why = r.how != journal::scan_result::end::clean
              ? "damaged record at offset " + std::to_string(r.bad_offset) + " (" + r.why + ")"
              : "records " + std::to_string(r.first_lsn) + ".." + std::to_string(r.last_lsn) +
                    " where " + std::to_string(first_lsn) + ".." + std::to_string(last_lsn) +
                    " were announced";
    return outcome::malformed;
  }
  // Roll first, so that a group never spans two files (recovery judges a file's damage by
  // the groups in it).
  if (files_->current_size() > 0 && files_->current_size() + group.size() > cfg_.file_size_max &&
      !files_->open_new(first_lsn, why)) {
    failed_ = true;
    return outcome::storage_failed;
  }
  if (!files_->append(group, why) || !files_->sync(why)) {
    failed_ = true;  // fail-stop, as the primary's journal (docs/ARCHITECTURE.md)
    return outcome::storage_failed;
  }
  if (durable) durable(last_lsn);
  journal::scan(group, first_lsn, [&](const journal::record_view& v) { state_.replay(v); });
  durable_lsn_ = last_lsn;
  return outcome::ok;
}

bool journal_follower::cut_after(std::uint64_t lsn, std::string& why) {
  if (lsn >= durable_lsn_) return true;  // nothing after it
  files_.reset();
  std::uint64_t last = 0;
  if (!storage::cut_journal_after(cfg_.dir, lsn, last, why, cfg_.faults.get())) {
    // Nothing was changed: keep following from where the journal was.
    std::string reopen_why;
    if (!recover_and_open(reopen_why)) failed_ = true;
    return false;
  }
  return recover_and_open(why);
}

bool journal_follower::install_snapshot(std::span<const std::byte> bytes, std::uint64_t lsn,
                                        std::string& why) {
  if (failed_) {
    why = "storage failed earlier";
    return false;
  }
  // The file being written stays open until the directory changes: a snapshot that is
  // refused leaves the follower as it was.
  switch (storage::install_snapshot(cfg_.dir, bytes, lsn, why, cfg_.faults.get())) {
    case storage::install_result::ok:
      break;
    case storage::install_result::unchanged:
      return false;
    case storage::install_result::damaged:
      files_.reset();
      failed_ = true;  // part of the old journal is gone: neither state can be trusted
      return false;
  }
  // Recovery of the directory, which is the snapshot alone now: the state is the snapshot's,
  // durable_lsn_ its LSN, and the new file starts at lsn + 1.
  if (!recover_and_open(why)) {
    files_.reset();
    failed_ = true;
    return false;
  }
  return true;
}

std::uint64_t journal_follower::last_term() const {
  if (durable_lsn_ == 0) return 0;
  return state_.last_term();
}

std::uint64_t journal_follower::last_term_start() const {
  if (durable_lsn_ == 0) return 0;
  const std::vector<term_start>& terms = state_.term_history();
  return terms.empty() ? 1 : terms.back().first_lsn;
}

}  // namespace remit::actors
