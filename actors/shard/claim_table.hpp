// The owner side of claims (docs/ARCHITECTURE.md, "Ownership and claims"): which batch holds
// each transfer id and account id that this shard owns, and the claims that wait.
//
// Claims are granted first come, first served per key: a claim never overtakes an earlier
// waiting claim on one of its keys. Otherwise a batch that needs many keys could wait forever
// behind a stream of single-key claims that each find their key free. A claim is granted
// whole (all its keys at once) or waits whole, and a batch claims shard by shard in shard
// order, so two batches never wait for each other.
//
// No actors here: the shard sends what this grants.
#pragma once

#include <cstdint>
#include <deque>
#include <span>

#include "actors/messages.hpp"
#include "actors/shard/owner_store.hpp"
#include "engine/id_map.hpp"

namespace remit::actors {

class claim_table {
 public:
  // Grants the claim now (true: its keys are held and its states filled in from `store`), or
  // queues it behind the claims that want the same keys (false).
  [[nodiscard]] bool claim(const claim_ptr& c, const owner_store& store);

  // The batch gives its keys back; then every waiting claim that can go now is granted, in
  // arrival order, and handed to granted(const claim_ptr&).
  template <class Granted>
  void release(bool accounts, std::span<const u128> keys, const owner_store& store,
               Granted&& granted);

  [[nodiscard]] bool transfer_claimed(u128 id) const { return claimed_transfers_.contains(id); }
  [[nodiscard]] std::size_t waiting() const { return waiting_.size(); }

 private:
  bool try_grant(claim_set& c, const owner_store& store);
  bool wanted_by_waiting(const claim_set& c) const;
  void count_wanted(const claim_set& c, bool add);
  id_map<std::uint64_t>& claimed(bool accounts) {
    return accounts ? claimed_accounts_ : claimed_transfers_;
  }

  id_map<std::uint64_t> claimed_transfers_;  // key -> the batch holding it
  id_map<std::uint64_t> claimed_accounts_;
  std::deque<claim_ptr> waiting_;           // in arrival order
  id_map<std::uint32_t> wanted_transfers_;  // key -> waiting claims that name it
  id_map<std::uint32_t> wanted_accounts_;
};

template <class Granted>
void claim_table::release(bool accounts, std::span<const u128> keys, const owner_store& store,
                          Granted&& granted) {
  auto& held = claimed(accounts);
  for (const u128 k : keys) held.erase(k);
  if (waiting_.empty()) return;  // the common case: no tables to build
  // Keys of the claims that stay waiting, ahead of the one looked at.
  id_map<bool> blocked_transfers;
  id_map<bool> blocked_accounts;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    claim_set& c = **it;
    auto& blocked = c.accounts ? blocked_accounts : blocked_transfers;
    bool behind = false;
    for (const u128 k : c.keys) behind = behind || blocked.contains(k);
    if (!behind && try_grant(c, store)) {
      count_wanted(c, false);
      granted(static_cast<const claim_ptr&>(*it));
      it = waiting_.erase(it);
      continue;
    }
    for (const u128 k : c.keys) blocked.insert(k, true);
    ++it;
  }
}

}  // namespace remit::actors
