#include "engine/rules.hpp"

#include "engine/assert.hpp"

namespace remit {

using ctr = create_transfer_result;
using car = create_account_result;

// ---------------------------------------------------------------------------------------
// Checks on the event alone

create_account_result validate_account(const account& a) {
  if (a.id == 0) return car::id_must_not_be_zero;
  if (a.id == u128_max) return car::id_must_not_be_int_max;
  if ((a.flags & account_flags::debits_must_not_exceed_credits) &&
      (a.flags & account_flags::credits_must_not_exceed_debits))
    return car::flags_are_mutually_exclusive;
  if (a.reserved != 0) return car::reserved_field;
  if (a.flags & ~account_flags::known) return car::reserved_flag;
  if (a.debits_pending != 0 || a.debits_posted != 0 || a.credits_pending != 0 ||
      a.credits_posted != 0)
    return car::balances_must_be_zero;
  if (a.timestamp != 0) return car::timestamp_must_be_zero;
  if (a.ledger == 0) return car::ledger_must_not_be_zero;
  if (a.code == 0) return car::code_must_not_be_zero;
  return car::ok;
}

static bool flags_mutually_exclusive(std::uint16_t f) {
  using namespace transfer_flags;
  const int kinds = ((f & pending) != 0) + ((f & post_pending_transfer) != 0) +
                    ((f & void_pending_transfer) != 0);
  if (kinds > 1) return true;
  const bool balancing = (f & (balancing_debit | balancing_credit)) != 0;
  const bool resolving = (f & (post_pending_transfer | void_pending_transfer)) != 0;
  return balancing && resolving;
}

create_transfer_result validate_transfer(const transfer& t) {
  if (t.id == 0) return ctr::id_must_not_be_zero;
  if (t.id == u128_max) return ctr::id_must_not_be_int_max;
  if (flags_mutually_exclusive(t.flags)) return ctr::flags_are_mutually_exclusive;
  if (t.flags & ~transfer_flags::known) return ctr::reserved_flag;
  if (t.timestamp != 0) return ctr::timestamp_must_be_zero;

  const transfer_kind kind = kind_of(t);
  if (kind == transfer_kind::post || kind == transfer_kind::void_) {
    // Checks 21 to 26 and 31 to 33 do not apply to a post or void (docs/PROTOCOL.md 4).
    if (t.pending_id == 0) return ctr::pending_id_must_not_be_zero;
    if (t.pending_id == u128_max) return ctr::pending_id_must_not_be_int_max;
    if (t.pending_id == t.id) return ctr::pending_id_must_be_different;
    if (t.timeout != 0) return ctr::timeout_reserved_for_pending_transfer;
    return ctr::ok;
  }
  if (t.debit_account_id == 0) return ctr::debit_account_id_must_not_be_zero;
  if (t.debit_account_id == u128_max) return ctr::debit_account_id_must_not_be_int_max;
  if (t.credit_account_id == 0) return ctr::credit_account_id_must_not_be_zero;
  if (t.credit_account_id == u128_max) return ctr::credit_account_id_must_not_be_int_max;
  if (t.debit_account_id == t.credit_account_id) return ctr::accounts_must_be_different;
  if (t.pending_id != 0) return ctr::pending_id_must_be_zero;
  if (t.timeout != 0 && kind != transfer_kind::pending)
    return ctr::timeout_reserved_for_pending_transfer;
  if (t.amount == 0) return ctr::amount_must_not_be_zero;
  if (t.ledger == 0) return ctr::ledger_must_not_be_zero;
  if (t.code == 0) return ctr::code_must_not_be_zero;
  return ctr::ok;
}

create_account_result compare_existing(const account& existing, const account& sent) {
  if (existing.flags != sent.flags) return car::exists_with_different_flags;
  if (existing.user_data_128 != sent.user_data_128) return car::exists_with_different_user_data_128;
  if (existing.user_data_64 != sent.user_data_64) return car::exists_with_different_user_data_64;
  if (existing.user_data_32 != sent.user_data_32) return car::exists_with_different_user_data_32;
  if (existing.ledger != sent.ledger) return car::exists_with_different_ledger;
  if (existing.code != sent.code) return car::exists_with_different_code;
  return car::exists;
}

namespace {
constexpr std::uint8_t sent_zero_debit = 1u << 0;
constexpr std::uint8_t sent_zero_credit = 1u << 1;
constexpr std::uint8_t sent_zero_ledger = 1u << 2;
constexpr std::uint8_t sent_zero_code = 1u << 3;
}  // namespace

sent_fields sent_fields_of(const transfer& sent) {
  sent_fields s;
  s.amount = sent.amount;
  if (sent.debit_account_id == 0) s.zero_mask |= sent_zero_debit;
  if (sent.credit_account_id == 0) s.zero_mask |= sent_zero_credit;
  if (sent.ledger == 0) s.zero_mask |= sent_zero_ledger;
  if (sent.code == 0) s.zero_mask |= sent_zero_code;
  return s;
}

create_transfer_result compare_existing(const transfer& stored, const sent_fields& stored_sent,
                                        const transfer& sent) {
  const auto as_sent = [&](auto value, std::uint8_t bit) {
    return (stored_sent.zero_mask & bit) ? decltype(value){0} : value;
  };
  if (stored.flags != sent.flags) return ctr::exists_with_different_flags;
  if (stored.pending_id != sent.pending_id) return ctr::exists_with_different_pending_id;
  if (stored.timeout != sent.timeout) return ctr::exists_with_different_timeout;
  if (as_sent(stored.debit_account_id, sent_zero_debit) != sent.debit_account_id)
    return ctr::exists_with_different_debit_account_id;
  if (as_sent(stored.credit_account_id, sent_zero_credit) != sent.credit_account_id)
    return ctr::exists_with_different_credit_account_id;
  if (stored_sent.amount != sent.amount) return ctr::exists_with_different_amount;
  if (stored.user_data_128 != sent.user_data_128) return ctr::exists_with_different_user_data_128;
  if (stored.user_data_64 != sent.user_data_64) return ctr::exists_with_different_user_data_64;
  if (stored.user_data_32 != sent.user_data_32) return ctr::exists_with_different_user_data_32;
  if (as_sent(stored.ledger, sent_zero_ledger) != sent.ledger)
    return ctr::exists_with_different_ledger;
  if (as_sent(stored.code, sent_zero_code) != sent.code) return ctr::exists_with_different_code;
  return ctr::exists;
}

// ---------------------------------------------------------------------------------------
// Plain and pending transfers against state

create_transfer_result check_accounts(const transfer& t, const std::uint32_t* dr_ledger,
                                      const std::uint32_t* cr_ledger) {
  if (dr_ledger == nullptr) return ctr::debit_account_not_found;
  if (cr_ledger == nullptr) return ctr::credit_account_not_found;
  if (*dr_ledger != *cr_ledger) return ctr::accounts_must_have_the_same_ledger;
  if (t.ledger != *dr_ledger) return ctr::transfer_must_have_the_same_ledger_as_accounts;
  return ctr::ok;
}

namespace {
// max(0, limit_base + overdraft - used), as section 4 writes it: in whole integers, not
// saturated (an overdraft_max of 2^128-1 is a natural "no limit", and the sum then passes
// 2^128). A room of 2^128 or more is returned as 2^128-1: it only ever caps an amount.
u128 room(u128 limit_base, u128 overdraft, u128 used_a, u128 used_b, u128 used_c) {
  const bool carry = add_overflows(limit_base, overdraft);
  const u128 limit = limit_base + overdraft;  // the true limit less 2^128 when carry
  const u128 used = add_saturating(add_saturating(used_a, used_b), used_c);
  if (!carry) return limit > used ? limit - used : 0;
  return limit >= used ? u128_max : limit - used;  // wraps to 2^128 + limit - used
}
}  // namespace

u128 balancing_debit_room(const account_state& dr, const holds& h) {
  return room(dr.a.credits_posted, dr.controls.overdraft_max, dr.a.debits_posted,
              dr.a.debits_pending, h.debits);
}

u128 balancing_credit_room(const account_state& cr, const holds& h) {
  return room(cr.a.debits_posted, cr.controls.overdraft_max, cr.a.credits_posted,
              cr.a.credits_pending, h.credits);
}

resolved_amount resolve_amount(const transfer& t, u128 debit_room, u128 credit_room) {
  u128 amount = t.amount;
  if (t.flags & transfer_flags::balancing_debit) {
    if (debit_room == 0) return {0, ctr::exceeds_credits};
    amount = std::min(amount, debit_room);
  }
  if (t.flags & transfer_flags::balancing_credit) {
    if (credit_room == 0) return {0, ctr::exceeds_debits};
    amount = std::min(amount, credit_room);
  }
  return {amount, ctr::ok};
}

create_transfer_result check_debit(const account_state& dr, transfer_kind kind, u128 amount,
                                   std::uint64_t timestamp_ns, const holds& h) {
  REMIT_ASSERT(kind == transfer_kind::plain || kind == transfer_kind::pending);
  const account& a = dr.a;
  if (kind == transfer_kind::pending && add_overflows(a.debits_pending, h.debits, amount))
    return ctr::overflows_debits_pending;
  if (kind == transfer_kind::plain && add_overflows(a.debits_posted, amount))
    return ctr::overflows_debits_posted;
  if (add_overflows(a.debits_pending, h.debits, amount) ||
      add_overflows(a.debits_pending + h.debits + amount, a.debits_posted))
    return ctr::overflows_debits;
  if (a.flags & account_flags::debits_must_not_exceed_credits) {
    const u128 debits = a.debits_pending + h.debits + amount + a.debits_posted;
    if (debits > add_saturating(a.credits_posted, dr.controls.overdraft_max))
      return ctr::exceeds_credits;
  }
  if (dr.controls.frozen()) return ctr::debit_account_frozen;
  if (dr.controls.transfer_amount_max != 0 && amount > dr.controls.transfer_amount_max)
    return ctr::exceeds_transfer_amount_max;
  if (dr.controls.daily_debit_max != 0) {
    // In whole integers: a sum past 2^128 exceeds any cap, 2^128-1 included.
    const u128 today = daily_debited_on(dr, timestamp_ns);
    if (add_overflows(today, h.daily_debits, amount) ||
        today + h.daily_debits + amount > dr.controls.daily_debit_max)
      return ctr::exceeds_daily_debit_max;
  }
  return ctr::ok;
}

create_transfer_result check_credit(const account_state& cr, transfer_kind kind, u128 amount,
                                    const holds& h) {
  REMIT_ASSERT(kind == transfer_kind::plain || kind == transfer_kind::pending);
  const account& a = cr.a;
  if (kind == transfer_kind::pending && add_overflows(a.credits_pending, h.credits, amount))
    return ctr::overflows_credits_pending;
  if (kind == transfer_kind::plain && add_overflows(a.credits_posted, amount))
    return ctr::overflows_credits_posted;
  if (add_overflows(a.credits_pending, h.credits, amount) ||
      add_overflows(a.credits_pending + h.credits + amount, a.credits_posted))
    return ctr::overflows_credits;
  if (a.flags & account_flags::credits_must_not_exceed_debits) {
    const u128 credits = a.credits_pending + h.credits + amount + a.credits_posted;
    if (credits > add_saturating(a.debits_posted, cr.controls.overdraft_max))
      return ctr::exceeds_debits;
  }
  if (cr.controls.frozen()) return ctr::credit_account_frozen;
  return ctr::ok;
}

create_transfer_result check_timeout(const transfer& t, std::uint64_t timestamp_ns) {
  if (kind_of(t) != transfer_kind::pending || t.timeout == 0) return ctr::ok;
  const std::uint64_t timeout_ns = std::uint64_t{t.timeout} * ns_per_s;  // < 2^63
  if (timestamp_ns > UINT64_MAX - timeout_ns) return ctr::overflows_timeout;
  return ctr::ok;
}

std::uint64_t expires_at(const transfer& t, std::uint64_t timestamp_ns) {
  if (kind_of(t) != transfer_kind::pending || t.timeout == 0) return 0;
  return timestamp_ns + std::uint64_t{t.timeout} * ns_per_s;
}

// ---------------------------------------------------------------------------------------
// Posts and voids against state

create_transfer_result check_post_or_void(const transfer& t, const pending_view& p,
                                          std::uint64_t timestamp_ns, u128& amount_out) {
  const transfer_kind kind = kind_of(t);
  REMIT_ASSERT(kind == transfer_kind::post || kind == transfer_kind::void_);
  amount_out = 0;
  if (p.pending == nullptr) return ctr::pending_transfer_not_found;
  const transfer& pt = *p.pending;
  if (!(pt.flags & transfer_flags::pending)) return ctr::pending_transfer_not_pending;
  if (t.debit_account_id != 0 && t.debit_account_id != pt.debit_account_id)
    return ctr::pending_transfer_has_different_debit_account_id;
  if (t.credit_account_id != 0 && t.credit_account_id != pt.credit_account_id)
    return ctr::pending_transfer_has_different_credit_account_id;
  if (t.ledger != 0 && t.ledger != pt.ledger) return ctr::pending_transfer_has_different_ledger;
  if (t.code != 0 && t.code != pt.code) return ctr::pending_transfer_has_different_code;
  if (kind == transfer_kind::post && t.amount > pt.amount)
    return ctr::exceeds_pending_transfer_amount;
  if (kind == transfer_kind::void_ && t.amount != 0 && t.amount != pt.amount)
    return ctr::pending_transfer_has_different_amount;
  REMIT_ASSERT(p.state != pending_state::none);
  if (p.state == pending_state::posted) return ctr::pending_transfer_already_posted;
  if (p.state == pending_state::voided) return ctr::pending_transfer_already_voided;
  if (p.state == pending_state::expired) return ctr::pending_transfer_expired;
  if (p.expires_at_ns != 0 && timestamp_ns >= p.expires_at_ns) return ctr::pending_transfer_expired;
  if (kind == transfer_kind::post) amount_out = t.amount == 0 ? pt.amount : t.amount;
  return ctr::ok;
}

create_transfer_result check_post_debit(const account_state& dr, u128 amount) {
  if (add_overflows(dr.a.debits_posted, amount)) return ctr::overflows_debits_posted;
  return ctr::ok;
}

create_transfer_result check_post_credit(const account_state& cr, u128 amount) {
  if (add_overflows(cr.a.credits_posted, amount)) return ctr::overflows_credits_posted;
  return ctr::ok;
}

transfer stored_post_or_void(const transfer& sent, const transfer& pending, u128 amount,
                             std::uint64_t timestamp_ns) {
  transfer s = sent;
  s.debit_account_id = pending.debit_account_id;
  s.credit_account_id = pending.credit_account_id;
  s.ledger = pending.ledger;
  s.code = pending.code;
  s.amount = amount;
  s.timestamp = timestamp_ns;
  return s;
}

// ---------------------------------------------------------------------------------------
// Effects

void apply_debit(account_state& dr, transfer_kind kind, u128 amount, std::uint64_t timestamp_ns) {
  REMIT_ASSERT(kind == transfer_kind::plain || kind == transfer_kind::pending);
  account& a = dr.a;
  if (kind == transfer_kind::plain) {
    REMIT_ASSERT(!add_overflows(a.debits_posted, amount));
    a.debits_posted += amount;
  } else {
    REMIT_ASSERT(!add_overflows(a.debits_pending, amount));
    a.debits_pending += amount;
  }
  // Transfers in flight at the same time may commit out of timestamp order: a debit counts
  // for the day of its own timestamp (account_state). The result does not depend on the
  // order in which debits are applied, so replay in journal order gives the live sums.
  const std::uint64_t day = utc_day(timestamp_ns);
  if (day > dr.daily_day) {
    dr.daily_debited_before = day == dr.daily_day + 1 ? dr.daily_debited : 0;
    dr.daily_debited = 0;
    dr.daily_day = day;
  }
  if (day == dr.daily_day) {
    dr.daily_debited = add_saturating(dr.daily_debited, amount);
  } else if (day + 1 == dr.daily_day) {
    dr.daily_debited_before = add_saturating(dr.daily_debited_before, amount);
  }
  // An older day is no longer tracked; with a daily cap such a debit was refused.
}

void apply_credit(account_state& cr, transfer_kind kind, u128 amount) {
  REMIT_ASSERT(kind == transfer_kind::plain || kind == transfer_kind::pending);
  account& a = cr.a;
  if (kind == transfer_kind::plain) {
    REMIT_ASSERT(!add_overflows(a.credits_posted, amount));
    a.credits_posted += amount;
  } else {
    REMIT_ASSERT(!add_overflows(a.credits_pending, amount));
    a.credits_pending += amount;
  }
}

void apply_resolve_debit(account_state& dr, u128 pending_amount, u128 posted) {
  REMIT_ASSERT(posted <= pending_amount);
  REMIT_ASSERT(dr.a.debits_pending >= pending_amount);
  REMIT_ASSERT(!add_overflows(dr.a.debits_posted, posted));
  dr.a.debits_pending -= pending_amount;
  dr.a.debits_posted += posted;
}

void apply_resolve_credit(account_state& cr, u128 pending_amount, u128 posted) {
  REMIT_ASSERT(posted <= pending_amount);
  REMIT_ASSERT(cr.a.credits_pending >= pending_amount);
  REMIT_ASSERT(!add_overflows(cr.a.credits_posted, posted));
  cr.a.credits_pending -= pending_amount;
  cr.a.credits_posted += posted;
}

// ---------------------------------------------------------------------------------------
// Controls, filters

set_controls_result validate_controls(const account_controls& c) {
  if (!bytes_zero(c.reserved, sizeof c.reserved)) return set_controls_result::reserved_field;
  if (c.status_flags & ~account_status_flags::known) return set_controls_result::reserved_flag;
  return set_controls_result::ok;
}

controls_state controls_of(const account_controls& c) {
  return controls_state{c.overdraft_max, c.transfer_amount_max, c.daily_debit_max, c.status_flags};
}

bool filter_matches(const account_filter& f, const transfer& t) {
  const bool side =
      ((f.flags & account_filter_flags::debits) && t.debit_account_id == f.account_id) ||
      ((f.flags & account_filter_flags::credits) && t.credit_account_id == f.account_id);
  if (!side) return false;
  if (t.timestamp < f.timestamp_min) return false;
  if (f.timestamp_max != 0 && t.timestamp > f.timestamp_max) return false;
  return true;
}

}  // namespace remit
