#include "actors/shard/owner_store.hpp"

#include "engine/assert.hpp"

namespace remit::actors {

std::uint32_t& owner_store::older(std::uint32_t record, u128 account_id) {
  history_link& l = history_links_[record];
  return records_[record].t.debit_account_id == account_id ? l.older_debit : l.older_credit;
}

std::uint32_t owner_store::older(std::uint32_t record, u128 account_id) const {
  const history_link& l = history_links_[record];
  return records_[record].t.debit_account_id == account_id ? l.older_debit : l.older_credit;
}

ledger_stats& owner_store::stats_of(std::uint32_t ledger) {
  auto [it, inserted] = stats_.try_emplace(ledger);
  if (inserted) it->second.ledger = ledger;
  return it->second;
}

void owner_store::add_history(u128 account_id, std::uint32_t record) {
  std::uint32_t* newest = history_index_.find(account_id);
  if (newest == nullptr) {
    history_index_.insert(account_id, record);
    return;  // its links are no_record already
  }
  // Batches in flight together may release out of timestamp order: insert in place. A
  // record no older than every record so far goes first without reading the others (a
  // cache miss each).
  const std::uint64_t ts = records_[record].t.timestamp;
  if (ts >= history_ts_max_) {
    history_ts_max_ = ts;
    older(record, account_id) = *newest;
    *newest = record;
    return;
  }
  std::uint32_t* link = newest;  // the link that will point at the record
  while (*link != no_record && records_[*link].t.timestamp > ts) link = &older(*link, account_id);
  older(record, account_id) = *link;
  *link = record;
}

void owner_store::add_transfer(const transfer_record& rec) {
  const auto idx = static_cast<std::uint32_t>(records_.size());
  records_.push_back(rec);
  history_links_.emplace_back();
  const bool inserted = record_index_.insert(rec.t.id, idx);
  REMIT_ASSERT(inserted);
  add_history(rec.t.debit_account_id, idx);
  add_history(rec.t.credit_account_id, idx);
  ledger_stats& s = stats_of(rec.t.ledger);
  switch (kind_of(rec.t)) {
    case transfer_kind::plain:
    case transfer_kind::post:
      s.transfers_posted += 1;
      s.volume_posted = add_saturating(s.volume_posted, rec.t.amount);
      break;
    case transfer_kind::pending:
      if (rec.state == pending_state::pending) {
        s.transfers_pending += 1;
        if (rec.expires_at_ns != 0) expiries_.emplace(rec.expires_at_ns, idx);
      }
      break;
    case transfer_kind::void_:
      break;
  }
}

void owner_store::resolve(u128 pending_id, pending_state state) {
  transfer_record& rec = records_[record_index_.at(pending_id)];
  REMIT_ASSERT(rec.state == pending_state::pending);
  rec.state = state;
  ledger_stats& s = stats_of(rec.t.ledger);
  REMIT_ASSERT(s.transfers_pending > 0);
  s.transfers_pending -= 1;
}

void owner_store::add_account(const account& a) {
  const bool inserted = account_index_.insert(a.id, static_cast<std::uint32_t>(accounts_.size()));
  REMIT_ASSERT(inserted);
  accounts_.push_back(a);
  stats_of(a.ledger).accounts += 1;
}

const transfer_record* owner_store::find_transfer(u128 id) const {
  const std::uint32_t* idx = record_index_.find(id);
  return idx == nullptr ? nullptr : &records_[*idx];
}

const account* owner_store::find_account(u128 id) const {
  const std::uint32_t* idx = account_index_.find(id);
  return idx == nullptr ? nullptr : &accounts_[*idx];
}

create_transfer_result owner_store::failure(u128 id) const {
  const create_transfer_result* f = failed_.find(id);
  return f == nullptr ? create_transfer_result::ok : *f;
}

void owner_store::lookup_transfers(std::span<const u128> ids, std::vector<std::int32_t>& found,
                                   std::vector<transfer>& out) const {
  found.assign(ids.size(), -1);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (const transfer_record* rec = find_transfer(ids[i])) {
      found[i] = static_cast<std::int32_t>(out.size());
      out.push_back(rec->t);
    }
  }
}

void owner_store::account_transfers(const account_filter& f, std::vector<transfer>& out) const {
  const std::uint32_t* newest = f.account_id == 0 ? nullptr : history_index_.find(f.account_id);
  if (newest == nullptr) return;
  const bool reversed = (f.flags & account_filter_flags::reversed) != 0;
  const auto take = [&](std::uint32_t idx) {
    const transfer& t = records_[idx].t;
    if (filter_matches(f, t)) out.push_back(t);
    return out.size() < f.limit;
  };
  if (reversed) {  // newest first: the list's own order
    for (std::uint32_t r = *newest; r != no_record && take(r);) r = older(r, f.account_id);
    return;
  }
  // Oldest first: the list is walked once, then read backwards.
  std::vector<std::uint32_t> list;
  for (std::uint32_t r = *newest; r != no_record; r = older(r, f.account_id)) list.push_back(r);
  for (auto it = list.rbegin(); it != list.rend() && take(*it);) ++it;
}

ledger_stats owner_store::stats(std::uint32_t ledger) const {
  if (auto it = stats_.find(ledger); it != stats_.end()) return it->second;
  return ledger_stats{};
}

}  // namespace remit::actors
