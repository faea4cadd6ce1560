#include "engine/reference_ledger.hpp"

#include <algorithm>

#include "engine/assert.hpp"

namespace remit {

using ctr = create_transfer_result;
using car = create_account_result;

namespace {
constexpr std::size_t no_chain = SIZE_MAX;
}  // namespace

std::uint64_t reference_ledger::reserve_timestamps(std::size_t n, std::uint64_t now_ns) {
  const std::uint64_t base = std::max(now_ns, last_timestamp_ + 1);
  REMIT_ASSERT(base > last_timestamp_);
  if (n > 0) last_timestamp_ = base + n - 1;
  return base;
}

// The batch loop is the same for accounts and transfers: events take effect one by one, a
// linked chain takes effect whole or not at all (PROTOCOL.md section 7, "Linked chains").
template <class Code, class Event, class Create>
void reference_ledger::run_batch(std::span<const Event> events, std::uint64_t now_ns,
                                 std::span<result> out, std::uint16_t linked_flag,
                                 Create&& create) {
  REMIT_ASSERT(out.size() >= events.size());
  const std::size_t n = events.size();
  const std::uint64_t base = reserve_timestamps(n, now_ns);
  const std::size_t open_start = open_chain_start(events, linked_flag);
  for (std::size_t i = open_start; i < n; ++i) {
    const Code code = i + 1 == n ? Code::linked_event_chain_open : Code::linked_event_failed;
    out[i] = result{static_cast<std::uint32_t>(code), 0, 0};
  }
  std::size_t chain_start = no_chain;
  bool chain_broken = false;
  for (std::size_t i = 0; i < open_start; ++i) {
    const Event& ev = events[i];
    const bool linked = (ev.flags & linked_flag) != 0;
    if (chain_start == no_chain && linked) {
      chain_start = i;
      chain_broken = false;
      undo_.clear(accounts_.size(), transfers_.size());
    }
    const bool chained = chain_start != no_chain;
    std::uint64_t ts = 0;
    Code code;
    if (chain_broken) {
      code = Code::linked_event_failed;
    } else {
      code = create(ev, base + i, chained, ts);
    }
    const bool has_ts = code == Code::ok || code == Code::exists;
    out[i] = result{static_cast<std::uint32_t>(code), 0, has_ts ? ts : 0};
    if (chained && code != Code::ok && !chain_broken) {
      rollback();
      chain_broken = true;
      for (std::size_t j = chain_start; j < i; ++j)
        out[j] = result{static_cast<std::uint32_t>(Code::linked_event_failed), 0, 0};
    }
    if (chained && !linked) {
      chain_start = no_chain;
      chain_broken = false;
    }
  }
}

void reference_ledger::create_accounts(std::span<const account> events, std::uint64_t now_ns,
                                       std::span<result> out) {
  run_batch<create_account_result>(
      events, now_ns, out, account_flags::linked,
      [this](const account& a, std::uint64_t ts, bool chained, std::uint64_t& ts_out) {
        return create_account(a, ts, chained, ts_out);
      });
}

void reference_ledger::create_transfers(std::span<const transfer> events, std::uint64_t now_ns,
                                        std::span<result> out) {
  run_batch<create_transfer_result>(
      events, now_ns, out, transfer_flags::linked,
      [this](const transfer& t, std::uint64_t ts, bool chained, std::uint64_t& ts_out) {
        return create_transfer(t, ts, chained, ts_out);
      });
}

create_account_result reference_ledger::create_account(const account& a, std::uint64_t ts,
                                                       bool chained, std::uint64_t& ts_out) {
  const car code = validate_account(a);
  if (code != car::ok) return code;
  if (const std::uint32_t* idx = account_index_.find(a.id)) {
    ts_out = accounts_[*idx].a.timestamp;
    return compare_existing(accounts_[*idx].a, a);
  }
  const auto idx = static_cast<std::uint32_t>(accounts_.size());
  account_state s;
  s.a = a;
  s.a.timestamp = ts;
  accounts_.push_back(s);
  history_.emplace_back();
  const bool inserted = account_index_.insert(a.id, idx);
  REMIT_ASSERT(inserted);
  stats_for_write(a.ledger, chained).accounts += 1;
  ts_out = ts;
  return car::ok;
}

create_transfer_result reference_ledger::create_transfer(const transfer& t, std::uint64_t ts,
                                                         bool chained, std::uint64_t& ts_out) {
  ctr code = validate_transfer(t);
  if (code != ctr::ok) return code;
  if (const std::uint32_t* idx = transfer_index_.find(t.id)) {
    const stored_transfer& s = transfers_[*idx];
    ts_out = s.t.timestamp;
    return compare_existing(s.t, s.sent, t);
  }
  if (failed_.contains(t.id)) return ctr::id_already_failed;

  const transfer_kind kind = kind_of(t);
  if (kind == transfer_kind::post || kind == transfer_kind::void_) {
    code = create_post_or_void(t, ts, chained);
  } else {
    code = create_plain_or_pending(t, ts, chained);
  }
  if (code == ctr::ok) {
    ts_out = ts;
  } else if (is_state_failure(code) && !chained) {
    failed_.insert(t.id, code);
  }
  return code;
}

create_transfer_result reference_ledger::create_plain_or_pending(const transfer& t,
                                                                 std::uint64_t ts, bool chained) {
  const std::uint32_t* dr_idx = account_index_.find(t.debit_account_id);
  const std::uint32_t* cr_idx = account_index_.find(t.credit_account_id);
  ctr code = check_accounts(t, dr_idx ? &accounts_[*dr_idx].a.ledger : nullptr,
                            cr_idx ? &accounts_[*cr_idx].a.ledger : nullptr);
  // 34 to 37 are the smallest codes a plain or pending transfer can fail with on state.
  if (code != ctr::ok) return code;
  const std::uint32_t dr_i = *dr_idx;
  const std::uint32_t cr_i = *cr_idx;

  const transfer_kind kind = kind_of(t);
  const u128 dr_room = (t.flags & transfer_flags::balancing_debit)
                           ? balancing_debit_room(accounts_[dr_i])
                           : u128_max;
  const u128 cr_room = (t.flags & transfer_flags::balancing_credit)
                           ? balancing_credit_room(accounts_[cr_i])
                           : u128_max;
  const resolved_amount moved = resolve_amount(t, dr_room, cr_room);
  code = moved.code;
  code = first_failure(code, check_debit(accounts_[dr_i], kind, moved.amount, ts));
  code = first_failure(code, check_credit(accounts_[cr_i], kind, moved.amount));
  code = first_failure(code, check_timeout(t, ts));
  if (code != ctr::ok) return code;

  apply_debit(account_for_write(dr_i, chained), kind, moved.amount, ts);
  apply_credit(account_for_write(cr_i, chained), kind, moved.amount);

  transfer stored = t;
  stored.amount = moved.amount;
  stored.timestamp = ts;
  const std::uint64_t expiry = expires_at(t, ts);
  store_transfer(stored, t, expiry,
                 kind == transfer_kind::pending ? pending_state::pending : pending_state::none,
                 dr_i, cr_i);
  ledger_stats& st = stats_for_write(t.ledger, chained);
  if (kind == transfer_kind::pending) {
    st.transfers_pending += 1;
    if (expiry != 0)
      expiries_.emplace(expiry, static_cast<std::uint32_t>(transfers_.size() - 1));
  } else {
    st.transfers_posted += 1;
    st.volume_posted = add_saturating(st.volume_posted, moved.amount);
  }
  return ctr::ok;
}

create_transfer_result reference_ledger::create_post_or_void(const transfer& t, std::uint64_t ts,
                                                             bool chained) {
  const std::uint32_t* p_idx = transfer_index_.find(t.pending_id);
  pending_view view{nullptr, pending_state::none, 0};
  if (p_idx) {
    const stored_transfer& p = transfers_[*p_idx];
    view = pending_view{&p.t, p.state, p.expires_at_ns};
  }
  u128 posted = 0;
  ctr code = check_post_or_void(t, view, ts, posted);
  if (code != ctr::ok) return code;

  const std::uint32_t pi = *p_idx;
  const transfer pending = transfers_[pi].t;  // copied: store_transfer may reallocate
  const std::uint32_t* dr_idx = account_index_.find(pending.debit_account_id);
  const std::uint32_t* cr_idx = account_index_.find(pending.credit_account_id);
  REMIT_ASSERT(dr_idx != nullptr && cr_idx != nullptr);
  const std::uint32_t dr_i = *dr_idx;
  const std::uint32_t cr_i = *cr_idx;

  const bool is_post = kind_of(t) == transfer_kind::post;
  if (is_post) {
    code = first_failure(check_post_debit(accounts_[dr_i], posted),
                         check_post_credit(accounts_[cr_i], posted));
    if (code != ctr::ok) return code;
  }

  apply_resolve_debit(account_for_write(dr_i, chained), pending.amount, posted);
  apply_resolve_credit(account_for_write(cr_i, chained), pending.amount, posted);
  set_pending_state(pi, is_post ? pending_state::posted : pending_state::voided, chained);

  const transfer stored = stored_post_or_void(t, pending, is_post ? posted : pending.amount, ts);
  store_transfer(stored, t, 0, pending_state::none, dr_i, cr_i);
  ledger_stats& st = stats_for_write(pending.ledger, chained);
  REMIT_ASSERT(st.transfers_pending > 0);
  st.transfers_pending -= 1;
  if (is_post) {
    st.transfers_posted += 1;
    st.volume_posted = add_saturating(st.volume_posted, posted);
  }
  return ctr::ok;
}

void reference_ledger::store_transfer(const transfer& stored, const transfer& sent,
                                      std::uint64_t expires, pending_state state,
                                      std::uint32_t dr_i, std::uint32_t cr_i) {
  const auto idx = static_cast<std::uint32_t>(transfers_.size());
  REMIT_ASSERT(transfers_.empty() || transfers_.back().t.timestamp < stored.timestamp);
  transfers_.push_back(stored_transfer{stored, sent_fields_of(sent), expires, state});
  const bool inserted = transfer_index_.insert(stored.id, idx);
  REMIT_ASSERT(inserted);
  history_[dr_i].push_back(idx);
  history_[cr_i].push_back(idx);
}

account_state& reference_ledger::account_for_write(std::uint32_t index, bool chained) {
  if (chained) undo_.accounts.emplace_back(index, accounts_[index]);
  return accounts_[index];
}

ledger_stats& reference_ledger::stats_for_write(std::uint32_t ledger, bool chained) {
  auto [it, inserted] = stats_.try_emplace(ledger);
  if (inserted) it->second.ledger = ledger;
  if (chained) undo_.stats.emplace_back(ledger, it->second);
  return it->second;
}

void reference_ledger::set_pending_state(std::uint32_t index, pending_state s, bool chained) {
  if (chained) undo_.pendings.emplace_back(index, transfers_[index].state);
  transfers_[index].state = s;
}

void reference_ledger::rollback() {
  for (auto it = undo_.accounts.rbegin(); it != undo_.accounts.rend(); ++it)
    accounts_[it->first] = it->second;
  for (auto it = undo_.pendings.rbegin(); it != undo_.pendings.rend(); ++it)
    transfers_[it->first].state = it->second;
  for (auto it = undo_.stats.rbegin(); it != undo_.stats.rend(); ++it)
    stats_[it->first] = it->second;
  // Transfers made by the chain, newest first: each is the newest entry in the history of
  // both its accounts.
  while (transfers_.size() > undo_.transfers_size) {
    const transfer& t = transfers_.back().t;
    const auto idx = static_cast<std::uint32_t>(transfers_.size() - 1);
    for (const u128 id : {t.debit_account_id, t.credit_account_id}) {
      auto& h = history_[existing_account(id)];
      REMIT_ASSERT(!h.empty() && h.back() == idx);
      h.pop_back();
    }
    transfer_index_.erase(t.id);
    transfers_.pop_back();
  }
  while (accounts_.size() > undo_.accounts_size) {
    REMIT_ASSERT(history_.back().empty());
    account_index_.erase(accounts_.back().a.id);
    accounts_.pop_back();
    history_.pop_back();
  }
  // Stats entries created by the chain were restored to zero counts; drop them so that a
  // ledger that never saw a committed event reads as absent, like one never used.
  std::erase_if(stats_, [](const auto& kv) {
    const ledger_stats& s = kv.second;
    return s.accounts == 0 && s.transfers_posted == 0 && s.transfers_pending == 0 &&
           s.volume_posted == 0;
  });
  undo_.clear(accounts_.size(), transfers_.size());
}

void reference_ledger::set_account_controls(std::span<const account_controls> events,
                                            std::span<result> out) {
  REMIT_ASSERT(out.size() >= events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const account_controls& c = events[i];
    set_controls_result code = validate_controls(c);
    const std::uint32_t* idx = nullptr;
    if (code == set_controls_result::ok) {
      idx = c.account_id == 0 ? nullptr : account_index_.find(c.account_id);
      if (idx == nullptr) code = set_controls_result::account_not_found;
    }
    if (code == set_controls_result::ok) accounts_[*idx].controls = controls_of(c);
    out[i] = result{static_cast<std::uint32_t>(code), 0, 0};
  }
}

std::size_t reference_ledger::lookup_accounts(std::span<const u128> ids,
                                              std::span<account> out) const {
  REMIT_ASSERT(out.size() >= ids.size());
  std::size_t n = 0;
  for (const u128 id : ids) {
    if (id == 0) continue;
    if (const std::uint32_t* idx = account_index_.find(id)) out[n++] = accounts_[*idx].a;
  }
  return n;
}

std::size_t reference_ledger::lookup_transfers(std::span<const u128> ids,
                                               std::span<transfer> out) const {
  REMIT_ASSERT(out.size() >= ids.size());
  std::size_t n = 0;
  for (const u128 id : ids) {
    if (id == 0) continue;
    if (const std::uint32_t* idx = transfer_index_.find(id)) out[n++] = transfers_[*idx].t;
  }
  return n;
}

std::size_t reference_ledger::get_account_transfers(const account_filter& filter,
                                                    std::span<transfer> out) const {
  REMIT_ASSERT(validate_filter(filter) == filter_check::ok);
  if (filter.account_id == 0) return 0;
  const std::uint32_t* idx = account_index_.find(filter.account_id);
  if (idx == nullptr) return 0;
  const std::vector<std::uint32_t>& h = history_[*idx];
  const auto ts_of = [&](std::uint32_t i) { return transfers_[i].t.timestamp; };
  const auto lo = std::partition_point(h.begin(), h.end(), [&](std::uint32_t i) {
    return ts_of(i) < filter.timestamp_min;
  });
  const auto hi = filter.timestamp_max == 0
                      ? h.end()
                      : std::partition_point(lo, h.end(), [&](std::uint32_t i) {
                          return ts_of(i) <= filter.timestamp_max;
                        });
  const std::size_t limit = std::min<std::size_t>(filter.limit, out.size());
  std::size_t n = 0;
  const auto take = [&](std::uint32_t i) {
    if (filter_matches(filter, transfers_[i].t)) out[n++] = transfers_[i].t;
  };
  if (filter.flags & account_filter_flags::reversed) {
    for (auto it = hi; it != lo && n < limit;) take(*--it);
  } else {
    for (auto it = lo; it != hi && n < limit; ++it) take(*it);
  }
  return n;
}

ledger_stats reference_ledger::get_ledger_stats(std::uint32_t ledger) const {
  if (auto it = stats_.find(ledger); it != stats_.end()) return it->second;
  ledger_stats s{};
  s.ledger = ledger;
  return s;
}

std::size_t reference_ledger::expire(std::uint64_t now_ns) {
  std::size_t released = 0;
  while (!expiries_.empty() && expiries_.top().first <= now_ns) {
    const auto [when, idx] = expiries_.top();
    expiries_.pop();
    // Entries of transfers that were posted, voided, or undone by a failed chain (whose
    // index may since hold another transfer) are stale.
    if (idx >= transfers_.size()) continue;
    stored_transfer& p = transfers_[idx];
    if (p.state != pending_state::pending || p.expires_at_ns != when) continue;
    const std::uint32_t dr_i = existing_account(p.t.debit_account_id);
    const std::uint32_t cr_i = existing_account(p.t.credit_account_id);
    apply_resolve_debit(accounts_[dr_i], p.t.amount, 0);
    apply_resolve_credit(accounts_[cr_i], p.t.amount, 0);
    p.state = pending_state::expired;
    ledger_stats& st = stats_for_write(p.t.ledger, false);
    REMIT_ASSERT(st.transfers_pending > 0);
    st.transfers_pending -= 1;
    ++released;
  }
  return released;
}

std::uint32_t reference_ledger::existing_account(u128 id) const {
  const std::uint32_t* idx = account_index_.find(id);
  REMIT_ASSERT(idx != nullptr);
  return *idx;
}

const account_state* reference_ledger::find_account(u128 id) const {
  if (id == 0) return nullptr;
  const std::uint32_t* idx = account_index_.find(id);
  return idx ? &accounts_[*idx] : nullptr;
}

const controls_state* reference_ledger::find_controls(u128 id) const {
  const account_state* s = find_account(id);
  return s ? &s->controls : nullptr;
}

}  // namespace remit
