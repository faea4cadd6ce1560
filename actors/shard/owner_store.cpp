#include "actors/shard/owner_store.hpp"

#include "engine/assert.hpp"

namespace remit::actors {

ledger_stats& owner_store::stats_of(std::uint32_t ledger) {
  auto [it, inserted] = stats_.try_emplace(ledger);
  if (inserted) it->second.ledger = ledger;
  return it->second;
}

void owner_store::add_transfer(const transfer_record& rec) {
  const std::uint32_t idx = transfers_.add(rec);
  if (count_in_stats(stats_of(rec.t.ledger), rec)) expiries_.emplace(rec.expires_at_ns, idx);
}

void owner_store::resolve(u128 pending_id, pending_state state) {
  transfer_record* found = transfers_.find(pending_id);
  REMIT_ASSERT(found != nullptr);
  transfer_record& rec = *found;
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
  return transfers_.find(id);
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
  remit::account_transfers(transfers_, f, [&](const transfer& t) { out.push_back(t); });
}

ledger_stats owner_store::stats(std::uint32_t ledger) const {
  if (auto it = stats_.find(ledger); it != stats_.end()) return it->second;
  return ledger_stats{};
}

}  // namespace remit::actors
