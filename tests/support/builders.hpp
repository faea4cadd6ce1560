// Event builders that every suite writes the same way: plain accounts and transfers, posts,
// voids, linked flags and controls. Suites that fill in user data keep their own
// make_account / make_transfer; the others bring these in with using-declarations.
#pragma once

#include <cstdint>

#include "engine/types.hpp"

namespace remit::test {

inline account make_account(u128 id, std::uint32_t ledger = 1, std::uint16_t flags = 0,
                            std::uint16_t code = 1) {
  account a{};
  a.id = id;
  a.ledger = ledger;
  a.code = code;
  a.flags = flags;
  return a;
}

inline transfer make_transfer(u128 id, u128 debit, u128 credit, u128 amount,
                              std::uint16_t flags = 0, std::uint32_t ledger = 1) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = ledger;
  t.code = 1;
  t.flags = flags;
  return t;
}

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
