#include "actors/shard/claim_table.hpp"

#include "engine/assert.hpp"

namespace remit::actors {

bool claim_table::claim(const claim_ptr& c, const owner_store& store) {
  if (!wanted_by_waiting(*c) && try_grant(*c, store)) return true;
  count_wanted(*c, true);
  waiting_.push_back(c);
  return false;
}

bool claim_table::try_grant(claim_set& c, const owner_store& store) {
  auto& held = claimed(c.accounts);
  for (const u128 k : c.keys) {
    const std::uint64_t* holder = held.find(k);
    if (holder != nullptr && *holder != c.batch) return false;
  }
  c.states.assign(c.keys.size(), key_state{});
  for (std::size_t i = 0; i < c.keys.size(); ++i) {
    const u128 k = c.keys[i];
    held.insert(k, c.batch);
    key_state& s = c.states[i];
    if (c.accounts) {
      if (const account* a = store.find_account(k)) {
        s.found = true;
        s.account_record = *a;
      }
    } else {
      if (const transfer_record* rec = store.find_transfer(k)) {
        s.found = true;
        s.record = *rec;
      }
      s.failed = store.failure(k);
    }
  }
  return true;
}

bool claim_table::wanted_by_waiting(const claim_set& c) const {
  const auto& wanted = c.accounts ? wanted_accounts_ : wanted_transfers_;
  if (wanted.empty()) return false;
  for (const u128 k : c.keys)
    if (wanted.contains(k)) return true;
  return false;
}

void claim_table::count_wanted(const claim_set& c, bool add) {
  auto& wanted = c.accounts ? wanted_accounts_ : wanted_transfers_;
  for (const u128 k : c.keys) {
    std::uint32_t* n = wanted.find(k);
    if (add) {
      if (n == nullptr) {
        wanted.insert(k, 1);
      } else {
        *n += 1;
      }
      continue;
    }
    REMIT_ASSERT(n != nullptr && *n > 0);
    if (--*n == 0) wanted.erase(k);
  }
}

}  // namespace remit::actors
