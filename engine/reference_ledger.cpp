#include "engine/reference_ledger.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "engine/assert.hpp"
#include "engine/chain_walk.hpp"
#include "engine/crc32c.hpp"

namespace remit {

using ctr = create_transfer_result;
using car = create_account_result;

std::uint64_t reference_ledger::reserve_timestamps(std::size_t n, std::uint64_t now_ns) {
  const std::uint64_t base = std::max(now_ns, last_timestamp_ + 1);
  REMIT_ASSERT(base > last_timestamp_);
  if (n > 0) last_timestamp_ = base + n - 1;
  return base;
}

// The batch loop is walk_chains, shared with the actor engine: events take effect one by
// one, a linked chain takes effect whole or not at all (docs/PROTOCOL.md section 7, "Linked
// chains"). What a chain applied is undone through undo_.
template <class Code, class Event, class Create>
void reference_ledger::run_batch(std::span<const Event> events, std::uint64_t now_ns,
                                 std::span<result> out, std::uint16_t linked_flag,
                                 Create&& create) {
  REMIT_ASSERT(out.size() >= events.size());
  struct hooks {
    reference_ledger& ledger;
    Create& create;
    std::uint64_t base;  // the timestamp of the batch's first event

    void begin_chain() { ledger.undo_.clear(ledger.accounts_.size(), ledger.transfers_.size()); }
    Code apply(const Event& ev, std::size_t index, bool chained, std::uint64_t& ts_out) {
      return create(ev, base + index, chained, ts_out);
    }
    void rollback() { ledger.rollback(); }
  };
  const std::uint64_t base = reserve_timestamps(events.size(), now_ns);
  walk_chains<Code>(events, linked_flag, out, hooks{*this, create, base});
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
  if (const stored_transfer* s = transfers_.find(t.id)) {
    ts_out = s->t.timestamp;
    return compare_existing(s->t, s->sent, t);
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

  transfer stored = t;
  stored.amount = moved.amount;
  stored.timestamp = ts;
  apply_committed(committed_of(stored, t, expires_at(t, ts)), chained);
  return ctr::ok;
}

create_transfer_result reference_ledger::create_post_or_void(const transfer& t, std::uint64_t ts,
                                                             bool chained) {
  const stored_transfer* p = transfers_.find(t.pending_id);
  pending_view view{nullptr, pending_state::none, 0};
  if (p != nullptr) view = pending_view{&p->t, p->state, p->expires_at_ns};
  u128 posted = 0;
  ctr code = check_post_or_void(t, view, ts, posted);
  if (code != ctr::ok) return code;

  const transfer& pending = p->t;
  const bool is_post = kind_of(t) == transfer_kind::post;
  if (is_post) {
    const account_state& dr = accounts_[existing_account(pending.debit_account_id)];
    const account_state& cr = accounts_[existing_account(pending.credit_account_id)];
    code = first_failure(check_post_debit(dr, posted), check_post_credit(cr, posted));
    if (code != ctr::ok) return code;
  }
  const transfer stored = stored_post_or_void(t, pending, is_post ? posted : pending.amount, ts);
  apply_committed(committed_of(stored, t, 0), chained);
  return ctr::ok;
}

journal::committed_transfer reference_ledger::committed_of(const transfer& stored,
                                                           const transfer& sent,
                                                           std::uint64_t expires) {
  journal::committed_transfer c{};
  const sent_fields f = sent_fields_of(sent);
  c.stored = stored;
  c.amount_sent = f.amount;
  c.expires_at_ns = expires;
  c.zero_mask = f.zero_mask;
  return c;
}

// The one place a decided transfer takes effect: creation and journal replay both end here.
void reference_ledger::apply_committed(const journal::committed_transfer& c, bool chained) {
  const transfer& t = c.stored;
  const transfer_kind kind = kind_of(t);
  const std::uint32_t dr_i = existing_account(t.debit_account_id);
  const std::uint32_t cr_i = existing_account(t.credit_account_id);
  const sent_fields sent{c.amount_sent, c.zero_mask};
  if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
    apply_debit(account_for_write(dr_i, chained), kind, t.amount, t.timestamp);
    apply_credit(account_for_write(cr_i, chained), kind, t.amount);
    const bool pending = kind == transfer_kind::pending;
    const stored_transfer rec{t, sent, c.expires_at_ns,
                              pending ? pending_state::pending : pending_state::none};
    const std::uint32_t idx = transfers_.add(rec);
    if (count_in_stats(stats_for_write(t.ledger, chained), rec))
      expiries_.emplace(c.expires_at_ns, idx);
    return;
  }
  const std::uint32_t pi = transfers_.index_of(t.pending_id);
  REMIT_ASSERT(pi != transfer_store::no_record);
  const u128 pending_amount = transfers_.at(pi).t.amount;
  const bool is_post = kind == transfer_kind::post;
  const u128 posted = is_post ? t.amount : 0;
  REMIT_ASSERT(transfers_.at(pi).state == pending_state::pending);
  apply_resolve_debit(account_for_write(dr_i, chained), pending_amount, posted);
  apply_resolve_credit(account_for_write(cr_i, chained), pending_amount, posted);
  set_pending_state(pi, is_post ? pending_state::posted : pending_state::voided, chained);
  const stored_transfer rec{t, sent, 0, pending_state::none};
  transfers_.add(rec);
  ledger_stats& st = stats_for_write(t.ledger, chained);
  REMIT_ASSERT(st.transfers_pending > 0);
  st.transfers_pending -= 1;  // the pending transfer it resolves
  count_in_stats(st, rec);    // a post counts what it posted (t.amount), a void nothing
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
  if (chained) undo_.pendings.emplace_back(index, transfers_.at(index).state);
  transfers_.at(index).state = s;
}

void reference_ledger::rollback() {
  for (auto it = undo_.accounts.rbegin(); it != undo_.accounts.rend(); ++it)
    accounts_[it->first] = it->second;
  for (auto it = undo_.pendings.rbegin(); it != undo_.pendings.rend(); ++it)
    transfers_.at(it->first).state = it->second;
  for (auto it = undo_.stats.rbegin(); it != undo_.stats.rend(); ++it)
    stats_[it->first] = it->second;
  // Transfers made by the chain, newest first: each is the newest entry in the history of
  // both its accounts (their timestamps are the batch's, above every earlier one).
  REMIT_ASSERT(transfers_.size() >= undo_.transfers_size);
  while (transfers_.size() > undo_.transfers_size) transfers_.pop_back();
  // Accounts made by the chain, whose transfers (all made by the chain too) are gone.
  while (accounts_.size() > undo_.accounts_size) {
    const u128 id = accounts_.back().a.id;
    bool has_transfers = false;
    transfers_.for_each_of_account(id, true, [&](const stored_transfer&) {
      has_transfers = true;
      return false;
    });
    REMIT_ASSERT(!has_transfers);
    account_index_.erase(id);
    accounts_.pop_back();
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
    if (const stored_transfer* s = transfers_.find(id)) out[n++] = s->t;
  }
  return n;
}

std::size_t reference_ledger::get_account_transfers(const account_filter& filter,
                                                    std::span<transfer> out) const {
  REMIT_ASSERT(validate_filter(filter) == filter_check::ok);
  if (out.empty()) return 0;
  account_filter f = filter;
  f.limit = static_cast<std::uint32_t>(std::min<std::size_t>(filter.limit, out.size()));
  std::size_t n = 0;
  account_transfers(transfers_, f, [&](const transfer& t) { out[n++] = t; });
  REMIT_ASSERT(n <= f.limit);
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
    const stored_transfer& p = transfers_.at(idx);
    if (p.state != pending_state::pending || p.expires_at_ns != when) continue;
    release_expired(idx);
    ++released;
  }
  return released;
}

std::uint32_t reference_ledger::existing_account(u128 id) const {
  const std::uint32_t* idx = account_index_.find(id);
  REMIT_ASSERT(idx != nullptr);
  return *idx;
}

void reference_ledger::release_expired(std::uint32_t index) {
  stored_transfer& p = transfers_.at(index);
  REMIT_ASSERT(p.state == pending_state::pending);
  apply_resolve_debit(accounts_[existing_account(p.t.debit_account_id)], p.t.amount, 0);
  apply_resolve_credit(accounts_[existing_account(p.t.credit_account_id)], p.t.amount, 0);
  p.state = pending_state::expired;
  ledger_stats& st = stats_for_write(p.t.ledger, false);
  REMIT_ASSERT(st.transfers_pending > 0);
  st.transfers_pending -= 1;
}

// ---------------------------------------------------------------------------------------
// Journal replay

namespace {
template <class T, class F>
void for_each_entry(const journal::record_view& r, F&& f) {
  const std::size_t n = r.payload.size() / sizeof(T);
  REMIT_ASSERT(n * sizeof(T) == r.payload.size());
  for (std::size_t i = 0; i < n; ++i) f(load_event<T>(r.payload.data() + i * sizeof(T)));
}
}  // namespace

void reference_ledger::replay(const journal::record_view& r) {
  using journal::record_type;
  switch (static_cast<record_type>(r.header.type)) {
    case record_type::accounts_created:
      for_each_entry<account>(r, [&](const account& a) {
        REMIT_ASSERT(!account_index_.contains(a.id));
        account_state s;
        s.a = a;
        account_index_.insert(a.id, static_cast<std::uint32_t>(accounts_.size()));
        accounts_.push_back(s);
        stats_for_write(a.ledger, false).accounts += 1;
        last_timestamp_ = std::max(last_timestamp_, a.timestamp);
      });
      break;
    case record_type::transfers_committed:
      for_each_entry<journal::committed_transfer>(r, [&](const journal::committed_transfer& c) {
        apply_committed(c, false);
        last_timestamp_ = std::max(last_timestamp_, c.stored.timestamp);
      });
      break;
    case record_type::failures:
      for_each_entry<journal::failure_entry>(r, [&](const journal::failure_entry& f) {
        failed_.insert(f.id, static_cast<create_transfer_result>(f.code));
      });
      break;
    case record_type::pendings_expired:
      for_each_entry<u128>(r, [&](const u128& id) {
        const std::uint32_t idx = transfers_.index_of(id);
        REMIT_ASSERT(idx != transfer_store::no_record);
        if (transfers_.at(idx).state == pending_state::pending) release_expired(idx);
      });
      break;
    case record_type::controls_set:
      for_each_entry<account_controls>(r, [&](const account_controls& c) {
        accounts_[existing_account(c.account_id)].controls = controls_of(c);
      });
      break;
    case record_type::term_started:
      // One entry: the record's LSN is where its term starts.
      REMIT_ASSERT(r.payload.size() == sizeof(journal::term_entry));
      for_each_entry<journal::term_entry>(
          r, [&](const journal::term_entry& t) { add_term_start(terms_, t.term, r.header.lsn); });
      break;
  }
}

// ---------------------------------------------------------------------------------------
// Snapshots

namespace {
constexpr std::uint32_t snapshot_magic = 0x31534d52;  // "RMS1"
constexpr std::uint32_t snapshot_version = 1;

struct snapshot_header {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint64_t lsn;
  std::uint64_t last_timestamp;
  std::uint64_t accounts;
  std::uint64_t transfers;
  std::uint64_t failures;
  std::uint32_t crc32c;  // of the header (this field 0) and everything after it
  std::uint32_t reserved;
  // Entries of the term history, after the failures. Version 1 snapshots written before
  // there was a history hold 0 here (the field was reserved), and read the same.
  std::uint64_t terms;
};
static_assert(sizeof(snapshot_header) == 64);

struct snapshot_term {
  std::uint64_t term;
  std::uint64_t first_lsn;
};
static_assert(sizeof(snapshot_term) == 16);

struct snapshot_account {
  account a;
  u128 overdraft_max;
  u128 transfer_amount_max;
  u128 daily_debit_max;
  u128 daily_debited;
  std::uint64_t daily_day;
  std::uint32_t status_flags;
  std::uint32_t reserved;
};
static_assert(sizeof(snapshot_account) == 208);

template <class T>
void put(std::vector<std::byte>& out, const T& v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}
}  // namespace

void reference_ledger::write_snapshot(std::vector<std::byte>& out, std::uint64_t lsn) const {
  out.clear();
  out.reserve(sizeof(snapshot_header) + accounts_.size() * sizeof(snapshot_account) +
              transfers_.size() * sizeof(journal::committed_transfer) +
              failed_.size() * sizeof(journal::failure_entry) +
              terms_.size() * sizeof(snapshot_term));
  snapshot_header h{snapshot_magic,
                    snapshot_version,
                    lsn,
                    last_timestamp_,
                    accounts_.size(),
                    transfers_.size(),
                    failed_.size(),
                    0,
                    0,
                    terms_.size()};
  put(out, h);
  for (const account_state& s : accounts_) {
    snapshot_account a{};
    a.a = s.a;
    a.overdraft_max = s.controls.overdraft_max;
    a.transfer_amount_max = s.controls.transfer_amount_max;
    a.daily_debit_max = s.controls.daily_debit_max;
    a.status_flags = s.controls.status_flags;
    a.daily_debited = s.daily_debited;
    a.daily_day = s.daily_day;
    put(out, a);
  }
  transfers_.for_each([&](const stored_transfer& t) {
    journal::committed_transfer c = committed_of(t.t, t.t, t.expires_at_ns);
    c.amount_sent = t.sent.amount;
    c.zero_mask = t.sent.zero_mask;
    c.reserved[0] = static_cast<std::uint8_t>(t.state);
    put(out, c);
  });
  failed_.for_each([&](u128 id, create_transfer_result code) {
    journal::failure_entry f{};
    f.id = id;
    f.code = static_cast<std::uint32_t>(code);
    put(out, f);
  });
  for (const term_start& t : terms_) put(out, snapshot_term{t.term, t.first_lsn});
  h.crc32c = crc32c(out.data(), out.size());
  std::memcpy(out.data(), &h, sizeof h);
}

bool reference_ledger::read_snapshot(std::span<const std::byte> data, std::uint64_t& lsn,
                                     std::string& why) {
  if (data.size() < sizeof(snapshot_header)) {
    why = "shorter than its header";
    return false;
  }
  snapshot_header h;
  std::memcpy(&h, data.data(), sizeof h);
  if (h.magic != snapshot_magic || h.version != snapshot_version) {
    why = "not a version 1 snapshot";
    return false;
  }
  const u128 size = sizeof(snapshot_header) + u128{h.accounts} * sizeof(snapshot_account) +
                    u128{h.transfers} * sizeof(journal::committed_transfer) +
                    u128{h.failures} * sizeof(journal::failure_entry) +
                    u128{h.terms} * sizeof(snapshot_term);
  if (size != data.size()) {
    why = "its size does not match its counts";
    return false;
  }
  snapshot_header zeroed = h;
  zeroed.crc32c = 0;
  const std::uint32_t crc =
      crc32c(crc32c(&zeroed, sizeof zeroed), data.data() + sizeof h, data.size() - sizeof h);
  if (crc != h.crc32c) {
    why = "CRC mismatch";
    return false;
  }
  *this = reference_ledger{};
  const std::byte* p = data.data() + sizeof h;
  accounts_.reserve(h.accounts);
  account_index_.reserve(h.accounts);
  for (std::uint64_t i = 0; i < h.accounts; ++i, p += sizeof(snapshot_account)) {
    const auto a = load_event<snapshot_account>(p);
    account_state s;
    s.a = a.a;
    s.controls =
        controls_state{a.overdraft_max, a.transfer_amount_max, a.daily_debit_max, a.status_flags};
    s.daily_debited = a.daily_debited;
    s.daily_day = a.daily_day;
    account_index_.insert(s.a.id, static_cast<std::uint32_t>(accounts_.size()));
    accounts_.push_back(s);
  }
  transfers_.reserve(h.transfers);
  for (std::uint64_t i = 0; i < h.transfers; ++i, p += sizeof(journal::committed_transfer)) {
    const auto c = load_event<journal::committed_transfer>(p);
    const auto state = static_cast<pending_state>(c.reserved[0]);
    // In the order they were stored, which is the journal's: the store puts each in its
    // accounts' histories by timestamp.
    transfers_.add(
        stored_transfer{c.stored, sent_fields{c.amount_sent, c.zero_mask}, c.expires_at_ns, state});
  }
  for (std::uint64_t i = 0; i < h.failures; ++i, p += sizeof(journal::failure_entry)) {
    const auto f = load_event<journal::failure_entry>(p);
    failed_.insert(f.id, static_cast<create_transfer_result>(f.code));
  }
  terms_.reserve(h.terms);
  for (std::uint64_t i = 0; i < h.terms; ++i, p += sizeof(snapshot_term)) {
    const auto t = load_event<snapshot_term>(p);
    terms_.push_back(term_start{t.term, t.first_lsn});
  }
  // The CRC matched, so this is what a writer wrote; one that broke the history's rule
  // would make every later term_started record replay wrong.
  if (!valid_term_history(terms_, h.lsn, why)) {
    why = "term history: " + why;
    return false;
  }
  last_timestamp_ = h.last_timestamp;
  lsn = h.lsn;
  rebuild_derived();
  return true;
}

// Stats and the expiry queue follow from accounts and transfers (the histories, the store
// built as the transfers were added).
void reference_ledger::rebuild_derived() {
  stats_.clear();
  expiries_ = {};
  for (const account_state& s : accounts_) stats_for_write(s.a.ledger, false).accounts += 1;
  for (std::uint32_t i = 0; i < transfers_.size(); ++i) {
    const stored_transfer& t = transfers_.at(i);
    // A snapshot's transfers name its accounts.
    REMIT_ASSERT(account_index_.contains(t.t.debit_account_id));
    REMIT_ASSERT(account_index_.contains(t.t.credit_account_id));
    if (count_in_stats(stats_for_write(t.t.ledger, false), t))
      expiries_.emplace(t.expires_at_ns, i);
  }
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
