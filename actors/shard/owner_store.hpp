// What a coordinator shard owns (actors/shard.hpp, "Owner"): the stored transfers with each
// account's history, the accounts' records, the failures remembered for
// `id_already_failed`, the open pending transfers' expiries and the per-ledger statistics of
// all of it. A plain class: no actors, no messages, no clock; the shard calls it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <span>
#include <utility>
#include <vector>

#include "actors/messages.hpp"
#include "engine/id_map.hpp"
#include "engine/rules.hpp"
#include "engine/transfer_store.hpp"
#include "engine/types.hpp"

namespace remit::actors {

class owner_store {
 public:
  // Stores a transfer whose id is new here, with its history, stats and expiry.
  void add_transfer(const transfer_record& rec);
  // A pending transfer was posted or voided.
  void resolve(u128 pending_id, pending_state state);
  void add_failure(u128 id, create_transfer_result code) { failed_.insert(id, code); }
  void add_account(const account& a);
  // Sizes the transfer table for about `n` transfers (a restore, before it adds them).
  void reserve_transfers(std::size_t n) { transfers_.reserve(n); }

  [[nodiscard]] const transfer_record* find_transfer(u128 id) const;
  [[nodiscard]] const account* find_account(u128 id) const;
  // The failure remembered for an id, or ok.
  [[nodiscard]] create_transfer_result failure(u128 id) const;

  // For each id: the index into `out` of its transfer, or -1 when it is not stored here.
  void lookup_transfers(std::span<const u128> ids, std::vector<std::int32_t>& found,
                        std::vector<transfer>& out) const;
  // The transfers of the filter's account stored here that match it, in the filter's order,
  // at most filter.limit. The filter must have passed validate_filter.
  void account_transfers(const account_filter& filter, std::vector<transfer>& out) const;
  // This shard's part of a ledger's statistics.
  [[nodiscard]] ledger_stats stats(std::uint32_t ledger) const;

  // Expires the open pending transfers whose expiry is at or before now and that
  // `held(id)` does not hold (those are looked at again next time): each is marked expired
  // and counted, then given to `expired(const transfer_record&)`.
  template <class Held, class Expired>
  void expire(std::uint64_t now, Held&& held, Expired&& expired);

 private:
  using expiry_entry = std::pair<std::uint64_t, std::uint32_t>;  // expires at, record

  ledger_stats& stats_of(std::uint32_t ledger);

  transfer_store transfers_;  // with each account's history
  id_map<create_transfer_result> failed_;
  std::vector<account> accounts_;
  id_map<std::uint32_t> account_index_;
  std::map<std::uint32_t, ledger_stats> stats_;
  std::priority_queue<expiry_entry, std::vector<expiry_entry>, std::greater<>> expiries_;
};

template <class Held, class Expired>
void owner_store::expire(std::uint64_t now, Held&& held, Expired&& expired) {
  std::vector<expiry_entry> later;
  while (!expiries_.empty() && expiries_.top().first <= now) {
    const expiry_entry entry = expiries_.top();
    expiries_.pop();
    transfer_record& rec = transfers_.at(entry.second);
    if (rec.state != pending_state::pending) continue;  // posted or voided since
    if (held(rec.t.id)) {
      later.push_back(entry);  // a post or void holds it
      continue;
    }
    rec.state = pending_state::expired;
    ledger_stats& s = stats_of(rec.t.ledger);
    REMIT_ASSERT(s.transfers_pending > 0);
    s.transfers_pending -= 1;
    expired(static_cast<const transfer_record&>(rec));
  }
  for (const expiry_entry& e : later) expiries_.push(e);
}

}  // namespace remit::actors
