// Event builders that every suite writes the same way: posts, voids, linked flags and
// controls. Suites keep their own make_account / make_transfer (they differ in the user
// data they fill in) and bring these in with using-declarations.
#pragma once

#include <cstdint>

#include "engine/types.hpp"

namespace remit::test {

inline transfer make_post(u128 id, u128 pending_id, u128 amount = 0) {
  transfer t{};
  t.id = id;
  t.pending_id = pending_id;
  t.amount = amount;
  t.flags = transfer_flags::post_pending_transfer;
  return t;
}

inline transfer make_void(u128 id, u128 pending_id) {
  transfer t = make_post(id, pending_id);
  t.flags = transfer_flags::void_pending_transfer;
  return t;
}

inline transfer linked(transfer t) {
  t.flags |= transfer_flags::linked;
  return t;
}

inline account linked(account a) {
  a.flags |= account_flags::linked;
  return a;
}

inline account_controls make_controls(u128 id, u128 overdraft = 0, u128 amount_max = 0,
                                      u128 daily_max = 0, std::uint32_t status = 0) {
  account_controls c{};
  c.account_id = id;
  c.overdraft_max = overdraft;
  c.transfer_amount_max = amount_max;
  c.daily_debit_max = daily_max;
  c.status_flags = status;
  return c;
}

}  // namespace remit::test
