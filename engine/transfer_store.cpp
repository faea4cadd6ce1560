#include "engine/transfer_store.hpp"

#include <algorithm>

namespace remit {

std::uint32_t transfer_store::add(const stored_transfer& rec) {
  // Validation refuses a transfer between an account and itself; one here would sit twice
  // in one list, and the side of a link could not be told from the account id.
  REMIT_ASSERT(rec.t.debit_account_id != rec.t.credit_account_id);
  REMIT_ASSERT(records_.size() < no_record);
  const auto idx = static_cast<std::uint32_t>(records_.size());
  const bool inserted = index_.insert(rec.t.id, idx);
  REMIT_ASSERT(inserted);
  records_.push_back(rec);
  links_.push_back(history_link{});
  link(rec.t.debit_account_id, idx);
  link(rec.t.credit_account_id, idx);
  return idx;
}

void transfer_store::link(u128 account_id, std::uint32_t record) {
  history_head* head = heads_.find(account_id);
  if (head == nullptr) {
    history_head h;
    h.newest = record;
    heads_.insert(account_id, h);
    ts_max_ = std::max(ts_max_, records_[record].t.timestamp);
    return;  // its links are no_record already
  }
  // Batches in flight together may release out of timestamp order (and a journal written by
  // them replays in that order): insert in place. A record no older than every record so far
  // goes first without reading the others (a cache miss each).
  const std::uint64_t ts = records_[record].t.timestamp;
  if (ts >= ts_max_) {
    ts_max_ = ts;
    older_link(record, account_id) = head->newest;
    head->newest = record;
    return;
  }
  // The record goes behind every record newer than it and before the others (ties: the
  // later added is the newer). No older than the newest: it goes first.
  if (records_[head->newest].t.timestamp <= ts) {
    older_link(record, account_id) = head->newest;
    head->newest = record;
    return;
  }
  // In between: from the closest finger newer than the record (every record up to it is
  // newer too, so the walk from the newest would pass it), else from the newest.
  std::size_t used = fingers_per_account;  // the finger started from; none yet
  std::uint32_t behind = head->newest;     // the record it will go behind, at least
  std::uint64_t behind_ts = records_[behind].t.timestamp;
  for (std::size_t i = 0; i < fingers_per_account; ++i) {
    const std::uint32_t f = head->fingers[i];
    if (f == no_record) continue;
    const std::uint64_t f_ts = records_[f].t.timestamp;
    if (f_ts > ts && f_ts < behind_ts) {
      used = i;
      behind = f;
      behind_ts = f_ts;
    }
  }
  for (std::uint32_t next = older(behind, account_id);
       next != no_record && records_[next].t.timestamp > ts; next = older(next, account_id)) {
    behind = next;
    ++link_steps_;
  }
  std::uint32_t& at = older_link(behind, account_id);
  older_link(record, account_id) = at;
  at = record;
  // The finger started from (or one already there, or the least recently used one) moves to
  // where this record went, and first: the next record of the same request will go there too.
  if (used == fingers_per_account) used = fingers_per_account - 1;
  for (std::size_t i = 0; i < fingers_per_account; ++i)
    if (head->fingers[i] == behind) used = i;
  for (std::size_t i = used; i > 0; --i) head->fingers[i] = head->fingers[i - 1];
  head->fingers[0] = behind;
}

void transfer_store::pop_back() {
  REMIT_ASSERT(!records_.empty());
  const auto idx = static_cast<std::uint32_t>(records_.size() - 1);
  const transfer& t = records_[idx].t;
  unlink_newest(t.debit_account_id, idx);
  unlink_newest(t.credit_account_id, idx);
  const bool erased = index_.erase(t.id);
  REMIT_ASSERT(erased);
  // ts_max_ stays: it only has to be at least every timestamp left in a list, and one that
  // is too high sends a later append the long way (in place), which gives the same list. A
  // rolled-back chain is followed by later timestamps anyway, which take the short way.
  records_.pop_back();
  links_.pop_back();
}

void transfer_store::unlink_newest(u128 account_id, std::uint32_t record) {
  history_head* head = heads_.find(account_id);
  REMIT_ASSERT(head != nullptr);
  REMIT_ASSERT(head->newest == record);
  const std::uint32_t next = older_link(record, account_id);
  if (next == no_record) {
    heads_.erase(account_id);  // no record left: the account has no history, as before
    return;
  }
  head->newest = next;
  // No finger is on it: a finger is a record that a later one went behind, in the same list,
  // and that one is newer than the record popped, and so gone already.
  for (const std::uint32_t f : head->fingers) REMIT_ASSERT(f != record);
}

}  // namespace remit
