#include "tests/model/ledger_model.hpp"

#include <algorithm>
#include <cassert>

namespace remit::model {
namespace {

using ar = create_account_result;
using tr = create_transfer_result;

bool add_overflows(u128 a, u128 b) {
  return a > u128_max - b;
}
u128 add_saturated(u128 a, u128 b) {
  return add_overflows(a, b) ? u128_max : a + b;
}

// (a + b) - c, clamped to [0, u128_max], with a + b computed without wrapping: section 4's
// room is a formula over the integers, so credits_posted + overdraft_max past 2^128-1 is not
// cut to 2^128-1 first (that would make the room smaller than the text says).
u128 room_of(u128 a, u128 b, u128 c) {
  const u128 sum = a + b;
  const bool carry = sum < a;
  if (carry)
    return sum >= c ? u128_max : sum - c;  // 2^128 + sum - c: past u128_max, or its low bits
  return sum > c ? sum - c : 0;
}

// x > a + b, with a + b computed without wrapping.
bool exceeds_sum(u128 x, u128 a, u128 b) {
  if (add_overflows(a, b)) return false;
  return x > a + b;
}

bool is_post_or_void(const transfer& t) {
  return (t.flags &
          (transfer_flags::post_pending_transfer | transfer_flags::void_pending_transfer)) != 0;
}

std::uint64_t day_of(std::uint64_t ts) {
  return ts / ns_per_day;
}

u128 debited_on(const model_account& a, std::uint64_t day) {
  return a.daily_day == day ? a.daily_sum : 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Batches and linked chains (section 7, "Linked chains")

template <class Event, class Apply>
std::vector<result> ledger_model::run_batch(const std::vector<Event>& events, std::uint64_t now_ns,
                                            std::uint16_t linked_flag, std::uint32_t failed_code,
                                            std::uint32_t open_code, Apply&& apply) {
  const std::size_t n = events.size();
  std::vector<result> out(n, result{});
  const std::uint64_t base = std::max(now_ns, last_timestamp_ + 1);
  if (n > 0) last_timestamp_ = base + n - 1;
  auto linked = [&](std::size_t i) { return (events[i].flags & linked_flag) != 0; };

  std::size_t i = 0;
  while (i < n) {
    if (!linked(i)) {
      const auto [code, ts] = apply(events[i], base + i, false);
      out[i] = result{code, 0, ts};
      ++i;
      continue;
    }
    // A chain: i .. last, where last is the first event without the linked flag.
    std::size_t last = i;
    while (last < n && linked(last)) ++last;
    if (last == n) {
      // Still open at the end of the batch: it fails whole, nothing of it is looked at.
      for (std::size_t k = i; k < n; ++k) out[k] = result{failed_code, 0, 0};
      out[n - 1] = result{open_code, 0, 0};
      break;
    }
    begin_chain();
    std::size_t failed_at = n;
    result failure{};
    for (std::size_t k = i; k <= last; ++k) {
      const auto [code, ts] = apply(events[k], base + k, true);
      if (code != 0) {
        failed_at = k;
        failure = result{code, 0, ts};
        break;
      }
      out[k] = result{0, 0, ts};
    }
    if (failed_at != n) {
      rollback_chain();
      for (std::size_t k = i; k <= last; ++k) out[k] = result{failed_code, 0, 0};
      out[failed_at] = failure;
    }
    in_chain_ = false;
    i = last + 1;
  }
  return out;
}

void ledger_model::begin_chain() {
  in_chain_ = true;
  backup_.accounts = accounts_;
  backup_.open_pending = open_pending_;
  backup_.statuses.clear();
  backup_.created_transfers.clear();
}

void ledger_model::rollback_chain() {
  accounts_ = backup_.accounts;
  open_pending_ = backup_.open_pending;
  // Undo in reverse order: a chain may create a pending transfer and then post it.
  for (auto it = backup_.statuses.rbegin(); it != backup_.statuses.rend(); ++it)
    transfers_.at(it->first).status = it->second;
  for (const u128 id : backup_.created_transfers) transfers_.erase(id);
}

void ledger_model::set_status(model_transfer& p, pending_status s) {
  if (in_chain_) backup_.statuses.emplace_back(p.stored.id, p.status);
  p.status = s;
  if (s == pending_status::pending) {
    open_pending_.insert(p.stored.id);
  } else {
    open_pending_.erase(p.stored.id);
  }
}

void ledger_model::add_transfer(const model_transfer& t) {
  assert(transfers_.count(t.stored.id) == 0);
  transfers_.emplace(t.stored.id, t);
  if (in_chain_) backup_.created_transfers.push_back(t.stored.id);
  if (t.status == pending_status::pending) open_pending_.insert(t.stored.id);
}

// ---------------------------------------------------------------------------------------
// CREATE_ACCOUNTS (sections 4 and 6)

std::vector<result> ledger_model::create_accounts(const std::vector<account>& events,
                                                  std::uint64_t now_ns) {
  return run_batch(
      events, now_ns, account_flags::linked, static_cast<std::uint32_t>(ar::linked_event_failed),
      static_cast<std::uint32_t>(ar::linked_event_chain_open),
      [&](const account& a, std::uint64_t ts, bool) {
        const auto [code, stamp] = create_account(a, ts);
        return std::pair<std::uint32_t, std::uint64_t>(static_cast<std::uint32_t>(code), stamp);
      });
}

std::pair<create_account_result, std::uint64_t> ledger_model::create_account(const account& a,
                                                                             std::uint64_t ts) {
  // The checks on the event alone, 10 to 18.
  if (a.id == 0) return {ar::id_must_not_be_zero, 0};
  if (a.id == u128_max) return {ar::id_must_not_be_int_max, 0};
  if ((a.flags & account_flags::debits_must_not_exceed_credits) != 0 &&
      (a.flags & account_flags::credits_must_not_exceed_debits) != 0)
    return {ar::flags_are_mutually_exclusive, 0};
  if (a.reserved != 0) return {ar::reserved_field, 0};
  if ((a.flags & ~account_flags::known) != 0) return {ar::reserved_flag, 0};
  if (a.debits_pending != 0 || a.debits_posted != 0 || a.credits_pending != 0 ||
      a.credits_posted != 0)
    return {ar::balances_must_be_zero, 0};
  if (a.timestamp != 0) return {ar::timestamp_must_be_zero, 0};
  if (a.ledger == 0) return {ar::ledger_must_not_be_zero, 0};
  if (a.code == 0) return {ar::code_must_not_be_zero, 0};

  // An id that exists: `exists` or the first difference, 4 to 9.
  if (const auto it = accounts_.find(a.id); it != accounts_.end()) {
    const account& e = it->second.stored;
    if (e.flags != a.flags) return {ar::exists_with_different_flags, 0};
    if (e.user_data_128 != a.user_data_128) return {ar::exists_with_different_user_data_128, 0};
    if (e.user_data_64 != a.user_data_64) return {ar::exists_with_different_user_data_64, 0};
    if (e.user_data_32 != a.user_data_32) return {ar::exists_with_different_user_data_32, 0};
    if (e.ledger != a.ledger) return {ar::exists_with_different_ledger, 0};
    if (e.code != a.code) return {ar::exists_with_different_code, 0};
    return {ar::exists, e.timestamp};
  }

  model_account m;
  m.stored = a;
  m.stored.timestamp = ts;
  m.controls.account_id = a.id;
  accounts_.emplace(a.id, m);
  return {ar::ok, ts};
}

// ---------------------------------------------------------------------------------------
// CREATE_TRANSFERS (sections 4 and 7)

std::vector<result> ledger_model::create_transfers(const std::vector<transfer>& events,
                                                   std::uint64_t now_ns) {
  return run_batch(
      events, now_ns, transfer_flags::linked, static_cast<std::uint32_t>(tr::linked_event_failed),
      static_cast<std::uint32_t>(tr::linked_event_chain_open),
      [&](const transfer& t, std::uint64_t ts, bool chained) {
        const auto [code, stamp] = create_transfer(t, ts, chained);
        return std::pair<std::uint32_t, std::uint64_t>(static_cast<std::uint32_t>(code), stamp);
      });
}

std::pair<create_transfer_result, std::uint64_t> ledger_model::create_transfer(const transfer& t,
                                                                               std::uint64_t ts,
                                                                               bool chained) {
  using namespace transfer_flags;
  const bool pv = is_post_or_void(t);
  const bool is_pending = (t.flags & pending) != 0;

  // The checks on the event alone, 16 to 33. Checks 21 to 26 and 31 to 33 do not apply to
  // a post or a void (section 4).
  if (t.id == 0) return {tr::id_must_not_be_zero, 0};
  if (t.id == u128_max) return {tr::id_must_not_be_int_max, 0};
  {
    const int kinds = ((t.flags & pending) != 0) + ((t.flags & post_pending_transfer) != 0) +
                      ((t.flags & void_pending_transfer) != 0);
    const bool balancing = (t.flags & (balancing_debit | balancing_credit)) != 0;
    if (kinds > 1 || (balancing && pv)) return {tr::flags_are_mutually_exclusive, 0};
  }
  if ((t.flags & ~known) != 0) return {tr::reserved_flag, 0};
  if (t.timestamp != 0) return {tr::timestamp_must_be_zero, 0};
  if (!pv) {
    if (t.debit_account_id == 0) return {tr::debit_account_id_must_not_be_zero, 0};
    if (t.debit_account_id == u128_max) return {tr::debit_account_id_must_not_be_int_max, 0};
    if (t.credit_account_id == 0) return {tr::credit_account_id_must_not_be_zero, 0};
    if (t.credit_account_id == u128_max) return {tr::credit_account_id_must_not_be_int_max, 0};
    if (t.debit_account_id == t.credit_account_id) return {tr::accounts_must_be_different, 0};
    if (t.pending_id != 0) return {tr::pending_id_must_be_zero, 0};
  } else {
    if (t.pending_id == 0) return {tr::pending_id_must_not_be_zero, 0};
    if (t.pending_id == u128_max) return {tr::pending_id_must_not_be_int_max, 0};
    if (t.pending_id == t.id) return {tr::pending_id_must_be_different, 0};
  }
  if (t.timeout != 0 && !is_pending) return {tr::timeout_reserved_for_pending_transfer, 0};
  if (!pv) {
    if (t.amount == 0) return {tr::amount_must_not_be_zero, 0};
    if (t.ledger == 0) return {tr::ledger_must_not_be_zero, 0};
    if (t.code == 0) return {tr::code_must_not_be_zero, 0};
  }

  // An id that exists: `exists` or the first difference, 4 to 14, on the fields as sent.
  if (const auto it = transfers_.find(t.id); it != transfers_.end()) {
    const transfer& e = it->second.sent;
    if (e.flags != t.flags) return {tr::exists_with_different_flags, 0};
    if (e.pending_id != t.pending_id) return {tr::exists_with_different_pending_id, 0};
    if (e.timeout != t.timeout) return {tr::exists_with_different_timeout, 0};
    if (e.debit_account_id != t.debit_account_id)
      return {tr::exists_with_different_debit_account_id, 0};
    if (e.credit_account_id != t.credit_account_id)
      return {tr::exists_with_different_credit_account_id, 0};
    if (e.amount != t.amount) return {tr::exists_with_different_amount, 0};
    if (e.user_data_128 != t.user_data_128) return {tr::exists_with_different_user_data_128, 0};
    if (e.user_data_64 != t.user_data_64) return {tr::exists_with_different_user_data_64, 0};
    if (e.user_data_32 != t.user_data_32) return {tr::exists_with_different_user_data_32, 0};
    if (e.ledger != t.ledger) return {tr::exists_with_different_ledger, 0};
    if (e.code != t.code) return {tr::exists_with_different_code, 0};
    return {tr::exists, it->second.stored.timestamp};
  }
  if (failed_.count(t.id) != 0) return {tr::id_already_failed, 0};

  // The checks against state, 34 to 61.
  const tr code = pv ? post_or_void(t, ts) : plain_or_pending(t, ts);
  if (code == tr::ok) return {tr::ok, ts};
  // Remembered by id: a failure on state outside a linked chain.
  if (!chained) failed_.emplace(t.id, code);
  return {code, 0};
}

create_transfer_result ledger_model::plain_or_pending(const transfer& t, std::uint64_t ts) {
  using namespace transfer_flags;
  const bool is_pending = (t.flags & pending) != 0;
  const auto dr_it = accounts_.find(t.debit_account_id);
  if (dr_it == accounts_.end()) return tr::debit_account_not_found;
  const auto cr_it = accounts_.find(t.credit_account_id);
  if (cr_it == accounts_.end()) return tr::credit_account_not_found;
  model_account& dr = dr_it->second;
  model_account& cr = cr_it->second;
  if (dr.stored.ledger != cr.stored.ledger) return tr::accounts_must_have_the_same_ledger;
  if (t.ledger != dr.stored.ledger) return tr::transfer_must_have_the_same_ledger_as_accounts;
  // 38 to 48 are about pending_id: posts and voids only.

  // The amount moved: a balancing transfer moves at most the room of its side(s), whether
  // or not the account has a bound flag (section 4). Every check below, the caps included,
  // is on the amount moved.
  u128 amount = t.amount;
  bool debit_room_zero = false;
  bool credit_room_zero = false;
  if ((t.flags & balancing_debit) != 0) {
    const u128 room = room_of(dr.stored.credits_posted, dr.controls.overdraft_max,
                              dr.stored.debits_posted + dr.stored.debits_pending);
    debit_room_zero = room == 0;
    amount = std::min(amount, room);
  }
  if ((t.flags & balancing_credit) != 0) {
    const u128 room = room_of(cr.stored.debits_posted, cr.controls.overdraft_max,
                              cr.stored.credits_posted + cr.stored.credits_pending);
    credit_room_zero = room == 0;
    amount = std::min(amount, room);
  }

  // AMBIGUITY: section 7 names overflows_debits_posted and overflows_credits_posted without
  // saying whether a pending transfer (which adds to the pending balances only) is checked
  // against them. The model reads the names: pending transfers are checked on the pending
  // balances (49, 50), plain ones on the posted balances (51, 52), both on the sum (53, 54).
  if (is_pending && add_overflows(dr.stored.debits_pending, amount))
    return tr::overflows_debits_pending;
  if (is_pending && add_overflows(cr.stored.credits_pending, amount))
    return tr::overflows_credits_pending;
  if (!is_pending && add_overflows(dr.stored.debits_posted, amount))
    return tr::overflows_debits_posted;
  if (!is_pending && add_overflows(cr.stored.credits_posted, amount))
    return tr::overflows_credits_posted;
  if (add_overflows(dr.stored.debits_pending + dr.stored.debits_posted, amount))
    return tr::overflows_debits;
  if (add_overflows(cr.stored.credits_pending + cr.stored.credits_posted, amount))
    return tr::overflows_credits;
  if (is_pending && t.timeout != 0 &&
      static_cast<u128>(ts) + static_cast<u128>(t.timeout) * ns_per_s > ~std::uint64_t{0})
    return tr::overflows_timeout;
  if (debit_room_zero) return tr::exceeds_credits;
  if ((dr.stored.flags & account_flags::debits_must_not_exceed_credits) != 0 &&
      exceeds_sum(dr.stored.debits_pending + dr.stored.debits_posted + amount,
                  dr.stored.credits_posted, dr.controls.overdraft_max))
    return tr::exceeds_credits;
  if (credit_room_zero) return tr::exceeds_debits;
  if ((cr.stored.flags & account_flags::credits_must_not_exceed_debits) != 0 &&
      exceeds_sum(cr.stored.credits_pending + cr.stored.credits_posted + amount,
                  cr.stored.debits_posted, cr.controls.overdraft_max))
    return tr::exceeds_debits;
  if ((dr.controls.status_flags & account_status_flags::frozen) != 0)
    return tr::debit_account_frozen;
  if ((cr.controls.status_flags & account_status_flags::frozen) != 0)
    return tr::credit_account_frozen;
  if (dr.controls.transfer_amount_max != 0 && amount > dr.controls.transfer_amount_max)
    return tr::exceeds_transfer_amount_max;
  // The day's sum is compared over the integers too (a saturated sum can never pass a cap of
  // 2^128-1). AMBIGUITY: "since 00:00 UTC by the server's clock" and "by the UTC day of each
  // transfer's timestamp" differ when a batch's timestamps run ahead of the clock; the model
  // uses the transfer's timestamp.
  const std::uint64_t day = day_of(ts);
  if (dr.controls.daily_debit_max != 0 &&
      (add_overflows(debited_on(dr, day), amount) ||
       debited_on(dr, day) + amount > dr.controls.daily_debit_max))
    return tr::exceeds_daily_debit_max;

  // Take effect.
  if (is_pending) {
    dr.stored.debits_pending += amount;
    cr.stored.credits_pending += amount;
  } else {
    dr.stored.debits_posted += amount;
    cr.stored.credits_posted += amount;
  }
  dr.daily_sum = add_saturated(debited_on(dr, day), amount);
  dr.daily_day = day;

  model_transfer m;
  m.sent = t;
  m.stored = t;
  m.stored.amount = amount;
  m.stored.timestamp = ts;
  m.expires_at_ns = is_pending && t.timeout != 0 ? ts + std::uint64_t{t.timeout} * ns_per_s : 0;
  m.status = is_pending ? pending_status::pending : pending_status::none;
  add_transfer(m);
  return tr::ok;
}

create_transfer_result ledger_model::post_or_void(const transfer& t, std::uint64_t ts) {
  using namespace transfer_flags;
  const bool is_void = (t.flags & void_pending_transfer) != 0;
  // AMBIGUITY: section 7 puts debit_account_not_found (34) to
  // transfer_must_have_the_same_ledger_as_accounts (37) before the pending transfer checks,
  // but section 4 says a post's account ids and ledger, where not 0, must equal the pending
  // transfer's "(codes 40 to 43)". The model takes a post's accounts and ledger from the
  // pending transfer (which exist and agree), so 34 to 37 never apply to a post or void and
  // a post naming another account gets 40 or 41, whether or not that account exists.
  const auto p_it = transfers_.find(t.pending_id);
  if (p_it == transfers_.end()) return tr::pending_transfer_not_found;
  model_transfer& p = p_it->second;
  if ((p.stored.flags & pending) == 0) return tr::pending_transfer_not_pending;
  if (t.debit_account_id != 0 && t.debit_account_id != p.stored.debit_account_id)
    return tr::pending_transfer_has_different_debit_account_id;
  if (t.credit_account_id != 0 && t.credit_account_id != p.stored.credit_account_id)
    return tr::pending_transfer_has_different_credit_account_id;
  if (t.ledger != 0 && t.ledger != p.stored.ledger)
    return tr::pending_transfer_has_different_ledger;
  if (t.code != 0 && t.code != p.stored.code) return tr::pending_transfer_has_different_code;
  const u128 pending_amount = p.stored.amount;
  // AMBIGUITY: a void with an amount above the pending amount fits both the name of
  // exceeds_pending_transfer_amount (44) and section 7's "a void must carry 0 or the pending
  // amount (pending_transfer_has_different_amount otherwise)" (45). The model follows the
  // sentence about voids: 44 is for posts, a void with any other amount gets 45.
  if (!is_void && t.amount > pending_amount) return tr::exceeds_pending_transfer_amount;
  if (is_void && t.amount != 0 && t.amount != pending_amount)
    return tr::pending_transfer_has_different_amount;
  if (p.status == pending_status::posted) return tr::pending_transfer_already_posted;
  if (p.status == pending_status::voided) return tr::pending_transfer_already_voided;
  // AMBIGUITY: "from then a post or void gets pending_transfer_expired": the model compares
  // the post's own timestamp with the expiry (at or past it: expired).
  if (p.status == pending_status::expired) return tr::pending_transfer_expired;
  if (p.expires_at_ns != 0 && ts >= p.expires_at_ns) return tr::pending_transfer_expired;

  model_account& dr = accounts_.at(p.stored.debit_account_id);
  model_account& cr = accounts_.at(p.stored.credit_account_id);
  const u128 posted = is_void ? 0 : (t.amount == 0 ? pending_amount : t.amount);
  if (add_overflows(dr.stored.debits_posted, posted)) return tr::overflows_debits_posted;
  if (add_overflows(cr.stored.credits_posted, posted)) return tr::overflows_credits_posted;
  // 53 to 61 cannot apply: a post moves no more than was reserved, and controls are never
  // checked on a post or a void (section 4, AccountControls).

  dr.stored.debits_pending -= pending_amount;
  cr.stored.credits_pending -= pending_amount;
  dr.stored.debits_posted += posted;
  cr.stored.credits_posted += posted;
  set_status(p, is_void ? pending_status::voided : pending_status::posted);

  model_transfer m;
  m.sent = t;
  m.stored = t;
  m.stored.debit_account_id = p.stored.debit_account_id;
  m.stored.credit_account_id = p.stored.credit_account_id;
  m.stored.ledger = p.stored.ledger;
  m.stored.code = p.stored.code;
  m.stored.amount = is_void ? pending_amount : posted;
  m.stored.timestamp = ts;
  add_transfer(m);
  return tr::ok;
}

// ---------------------------------------------------------------------------------------
// Expiry (section 4): released like a void.

std::vector<u128> ledger_model::expire(std::uint64_t now_ns) {
  std::vector<u128> due;
  for (const u128 id : open_pending_) {
    const model_transfer& p = transfers_.at(id);
    if (p.expires_at_ns != 0 && p.expires_at_ns <= now_ns) due.push_back(id);
  }
  for (const u128 id : due) {
    model_transfer& p = transfers_.at(id);
    accounts_.at(p.stored.debit_account_id).stored.debits_pending -= p.stored.amount;
    accounts_.at(p.stored.credit_account_id).stored.credits_pending -= p.stored.amount;
    set_status(p, pending_status::expired);
  }
  return due;
}

std::optional<std::uint64_t> ledger_model::next_expiry() const {
  std::optional<std::uint64_t> next;
  for (const u128 id : open_pending_) {
    const std::uint64_t at = transfers_.at(id).expires_at_ns;
    if (at != 0 && (!next || at < *next)) next = at;
  }
  return next;
}

// ---------------------------------------------------------------------------------------
// SET_ACCOUNT_CONTROLS (section 4)

std::vector<result> ledger_model::set_account_controls(
    const std::vector<account_controls>& events) {
  std::vector<result> out;
  for (const account_controls& c : events) {
    set_controls_result code = set_controls_result::ok;
    bool reserved_zero = true;
    for (const std::uint8_t b : c.reserved) reserved_zero = reserved_zero && b == 0;
    const auto it = accounts_.find(c.account_id);
    if (!reserved_zero) {
      code = set_controls_result::reserved_field;
    } else if ((c.status_flags & ~account_status_flags::known) != 0) {
      code = set_controls_result::reserved_flag;
    } else if (it == accounts_.end()) {
      code = set_controls_result::account_not_found;
    } else {
      it->second.controls = c;  // the daily sum so far stays
    }
    out.push_back(result{static_cast<std::uint32_t>(code), 0, 0});
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Reads

std::vector<account> ledger_model::lookup_accounts(const std::vector<u128>& ids) const {
  std::vector<account> out;
  for (const u128 id : ids)
    if (const auto it = accounts_.find(id); it != accounts_.end()) out.push_back(it->second.stored);
  return out;
}

std::vector<transfer> ledger_model::lookup_transfers(const std::vector<u128>& ids) const {
  std::vector<transfer> out;
  for (const u128 id : ids)
    if (const auto it = transfers_.find(id); it != transfers_.end())
      out.push_back(it->second.stored);
  return out;
}

std::vector<transfer> ledger_model::get_account_transfers(const account_filter& f) const {
  std::vector<transfer> all;
  for (const auto& [id, m] : transfers_) {
    const transfer& t = m.stored;
    const bool side =
        ((f.flags & account_filter_flags::debits) != 0 && t.debit_account_id == f.account_id) ||
        ((f.flags & account_filter_flags::credits) != 0 && t.credit_account_id == f.account_id);
    if (!side) continue;
    if (f.timestamp_min != 0 && t.timestamp < f.timestamp_min) continue;
    if (f.timestamp_max != 0 && t.timestamp > f.timestamp_max) continue;
    all.push_back(t);
  }
  std::sort(all.begin(), all.end(),
            [](const transfer& a, const transfer& b) { return a.timestamp < b.timestamp; });
  if ((f.flags & account_filter_flags::reversed) != 0) std::reverse(all.begin(), all.end());
  if (all.size() > f.limit) all.resize(f.limit);
  return all;
}

ledger_stats ledger_model::get_ledger_stats(std::uint32_t ledger) const {
  ledger_stats s{};
  s.ledger = ledger;
  for (const auto& [id, a] : accounts_)
    if (a.stored.ledger == ledger) ++s.accounts;
  for (const auto& [id, m] : transfers_) {
    if (m.stored.ledger != ledger) continue;
    const std::uint16_t f = m.stored.flags;
    if ((f & transfer_flags::pending) != 0) {
      if (m.status == pending_status::pending) ++s.transfers_pending;
    } else if ((f & transfer_flags::void_pending_transfer) == 0) {
      // A plain transfer or a post.
      ++s.transfers_posted;
      s.volume_posted = add_saturated(s.volume_posted, m.stored.amount);
    }
  }
  return s;
}

const model_account* ledger_model::find_account(u128 id) const {
  const auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : &it->second;
}

const model_transfer* ledger_model::find_transfer(u128 id) const {
  const auto it = transfers_.find(id);
  return it == transfers_.end() ? nullptr : &it->second;
}

}  // namespace remit::model
