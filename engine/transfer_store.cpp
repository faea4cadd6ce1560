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
  std::uint32_t* newest = heads_.find(account_id);
  if (newest == nullptr) {
    heads_.insert(account_id, record);
    ts_max_ = std::max(ts_max_, records_[record].t.timestamp);
    return;  // its links are no_record already
  }
  // Batches in flight together may release out of timestamp order (and a journal written by
  // them replays in that order): insert in place. A record no older than every record so far
  // goes first without reading the others (a cache miss each).
  const std::uint64_t ts = records_[record].t.timestamp;
  if (ts >= ts_max_) {
    ts_max_ = ts;
    older_link(record, account_id) = *newest;
    *newest = record;
    return;
  }
  std::uint32_t* at = newest;  // the link that will point at the record
  while (*at != no_record && records_[*at].t.timestamp > ts) at = &older_link(*at, account_id);
  older_link(record, account_id) = *at;
  *at = record;
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
  std::uint32_t* newest = heads_.find(account_id);
  REMIT_ASSERT(newest != nullptr);
  REMIT_ASSERT(*newest == record);
  const std::uint32_t next = older_link(record, account_id);
  if (next == no_record) {
    heads_.erase(account_id);  // no record left: the account has no history, as before
  } else {
    *newest = next;
  }
}

}  // namespace remit
