#include "actors/follower.hpp"

#include <cstring>
#include <utility>

#include "engine/journal_format.hpp"

namespace remit::actors {

journal_follower::journal_follower(follower_config cfg)
    : cfg_(std::move(cfg)), applier_([this] { apply_loop(); }) {}

journal_follower::~journal_follower() {
  close();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  applier_.join();
}

void journal_follower::apply_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stop_ || !to_apply_.empty(); });
    if (to_apply_.empty()) return;  // stopping, and nothing left
    durable_group g = std::move(to_apply_.front());
    to_apply_.pop_front();
    applying_ = true;
    lock.unlock();
    // The bytes were checked whole (CRCs, LSNs) before they were written.
    (void)journal::scan(g.bytes, g.first_lsn,
                        [&](const journal::record_view& v) { state_.replay(v); });
    lock.lock();
    applying_ = false;
    backlog_bytes_ -= g.bytes.size();
    done_cv_.notify_all();
  }
}

void journal_follower::wait_applied() {
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return to_apply_.empty() && !applying_; });
}

bool journal_follower::open(std::string& why) {
  return recover_and_open(why);
}

bool journal_follower::recover_and_open(std::string& why) {
  wait_applied();
  files_.reset();  // closes the file being written, if any
  unsynced_.clear();
  storage::recovery_report report;
  state_ = reference_ledger{};
  terms_.clear();
  if (!storage::recover(cfg_.dir, state_, report, why, cfg_.faults.get())) return false;
  durable_lsn_ = report.last_lsn;
  written_lsn_ = durable_lsn_;
  terms_ = state_.term_history();
  files_ = std::make_unique<storage::journal_files>(cfg_.dir, cfg_.faults);
  return files_->open_new(durable_lsn_ + 1, why);
}

void journal_follower::close() {
  if (files_ && !unsynced_.empty()) {
    std::string why;
    (void)sync(why);  // on failure the follower is failed(), and nothing was acknowledged
  }
  wait_applied();
  files_.reset();
}

journal_follower::outcome journal_follower::append_group(
    std::span<const std::byte> group, std::uint64_t first_lsn, std::uint64_t last_lsn,
    std::string& why, const std::function<void(std::uint64_t)>& durable) {
  outcome res = write_group(group, first_lsn, last_lsn, why);
  if (res == outcome::ok) res = sync(why);
  if (res == outcome::ok && durable) durable(last_lsn);
  return res;
}

journal_follower::outcome journal_follower::write_group(std::span<const std::byte> group,
                                                        std::uint64_t first_lsn,
                                                        std::uint64_t last_lsn, std::string& why) {
  if (failed()) {
    why = "storage failed earlier";
    return outcome::storage_failed;
  }
  if (!files_) {
    why = "the journal is closed";
    return outcome::storage_failed;
  }
  if (first_lsn != written_lsn_ + 1) {
    why = "group starts at LSN " + std::to_string(first_lsn) + ", expected " +
          std::to_string(written_lsn_ + 1);
    return outcome::gap;
  }
  if (last_lsn < first_lsn || group.empty()) {
    why = "empty group or LSNs out of order";
    return outcome::malformed;
  }
  // Every byte must be a whole, valid record, with the LSNs the header announced: nothing
  // that would read back as a torn tail or a gap is written. Its term_started records join
  // the term history once the group is written.
  std::vector<term_start> terms = terms_;
  bool terms_valid = true;
  const journal::scan_result r =
      journal::scan(group, first_lsn, [&](const journal::record_view& v) {
        if (v.header.type != static_cast<std::uint16_t>(journal::record_type::term_started)) return;
        journal::term_entry t{};
        if (v.payload.size() != sizeof t) {
          terms_valid = false;
          return;
        }
        std::memcpy(&t, v.payload.data(), sizeof t);
        if (t.term < remit::last_term(terms)) {
          terms_valid = false;
          return;
        }
        (void)add_term_start(terms, t.term, v.header.lsn);
      });
  if (r.how != journal::scan_result::end::clean || r.valid_bytes != group.size() ||
      r.first_lsn != first_lsn || r.last_lsn != last_lsn || !terms_valid) {
    why = r.how != journal::scan_result::end::clean
              ? "damaged record at offset " + std::to_string(r.bad_offset) + " (" + r.why + ")"
          : !terms_valid
              ? std::string("a term_started record of an older term, or of the wrong size")
              : "records " + std::to_string(r.first_lsn) + ".." + std::to_string(r.last_lsn) +
                    " where " + std::to_string(first_lsn) + ".." + std::to_string(last_lsn) +
                    " were announced";
    return outcome::malformed;
  }
  // Roll first, so that a group never spans two files (recovery judges a file's damage by
  // the groups in it); what the old file holds unsynced is synced before it is left.
  if (files_->current_size() > 0 && files_->current_size() + group.size() > cfg_.file_size_max) {
    if (!unsynced_.empty() && sync(why) != outcome::ok) return outcome::storage_failed;
    if (!files_->open_new(first_lsn, why)) {
      fail();
      return outcome::storage_failed;
    }
  }
  if (!files_->append(group, why)) {
    fail();  // fail-stop, as the primary's journal (docs/ARCHITECTURE.md)
    return outcome::storage_failed;
  }
  written_lsn_ = last_lsn;
  terms_ = std::move(terms);
  unsynced_.push_back(durable_group{std::vector<std::byte>(group.begin(), group.end()), first_lsn});
  return outcome::ok;
}

journal_follower::outcome journal_follower::sync(std::string& why) {
  if (failed()) {
    why = "storage failed earlier";
    return outcome::storage_failed;
  }
  if (unsynced_.empty()) return outcome::ok;
  if (!files_ || !files_->sync(why)) {
    if (!files_) why = "the journal is closed";
    fail();
    return outcome::storage_failed;
  }
  durable_lsn_ = written_lsn_;
  std::uint64_t bytes = 0;
  for (const durable_group& g : unsynced_) bytes += g.bytes.size();
  {
    // The backlog bound: wait for the apply before adding more (one batch may pass it alone).
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] {
      return backlog_bytes_ == 0 || backlog_bytes_ + bytes <= cfg_.apply_backlog_max;
    });
    for (durable_group& g : unsynced_) to_apply_.push_back(std::move(g));
    backlog_bytes_ += bytes;
  }
  unsynced_.clear();
  work_cv_.notify_one();
  return outcome::ok;
}

bool journal_follower::cut_after(std::uint64_t lsn, std::string& why) {
  if (!unsynced_.empty() && sync(why) != outcome::ok) return false;
  if (lsn >= durable_lsn_) return true;  // nothing after it
  close();
  std::uint64_t last = 0;
  if (!storage::cut_journal_after(cfg_.dir, lsn, last, why, cfg_.faults.get())) {
    // Nothing was changed: keep following from where the journal was.
    std::string reopen_why;
    if (!recover_and_open(reopen_why)) fail();
    return false;
  }
  return recover_and_open(why);
}

bool journal_follower::install_snapshot(std::span<const std::byte> bytes, std::uint64_t lsn,
                                        std::string& why) {
  if (failed()) {
    why = "storage failed earlier";
    return false;
  }
  // What was written is made durable and applied first: a snapshot that is refused leaves
  // the follower as it was, and the file being written stays open until the directory
  // changes.
  if (!unsynced_.empty() && sync(why) != outcome::ok) return false;
  wait_applied();
  switch (storage::install_snapshot(cfg_.dir, bytes, lsn, why, cfg_.faults.get())) {
    case storage::install_result::ok:
      break;
    case storage::install_result::unchanged:
      return false;
    case storage::install_result::damaged:
      files_.reset();
      fail();  // part of the old journal is gone: neither state can be trusted
      return false;
  }
  // Recovery of the directory, which is the snapshot alone now: the state is the snapshot's,
  // durable_lsn_ its LSN, and the new file starts at lsn + 1.
  if (!recover_and_open(why)) {
    files_.reset();
    fail();
    return false;
  }
  return true;
}

std::uint64_t journal_follower::last_term() const {
  if (durable_lsn_ == 0) return 0;
  return remit::last_term(terms_);
}

std::uint64_t journal_follower::last_term_start() const {
  if (durable_lsn_ == 0) return 0;
  return terms_.empty() ? 1 : terms_.back().first_lsn;
}

}  // namespace remit::actors
