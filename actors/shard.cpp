#include "actors/shard.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <queue>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/account_host.hpp"
#include "engine/assert.hpp"
#include "engine/chunked_vector.hpp"

namespace remit::actors {

namespace {

using ctr = create_transfer_result;
using car = create_account_result;

struct dir_entry {
  account_address where;
  std::uint32_t ledger = 0;
};

struct shard_state;
using shard_pointer = shard_actor::stateful_pointer<shard_state>;

// One request run by this shard as driver. It answers only after the journal has made
// durable everything the answer reports or depended on (docs/ARCHITECTURE.md, the commit rule, 4):
// the simplest correct rule, a sync that covers every record appended before it.
class job {
 public:
  job(shard_pointer self, std::uint64_t id, request_ptr req)
      : self_(self), id_(id), req_(std::move(req)) {}
  virtual ~job() = default;
  virtual void start() = 0;
  virtual void on_claimed(const claim_ptr&) { REMIT_ASSERT(!"unexpected claim"); }
  virtual void on_done() { REMIT_ASSERT(!"unexpected wave or query"); }
  void on_synced(bool ok);

 protected:
  // Sends the records of this step to the journal (before any commit they cover is sent).
  void journal_append(journal_batch_ptr& b);
  // Asks for the sync; the answer goes out from on_synced, and the job ends there.
  void sync_then_answer();

  shard_pointer self_;
  std::uint64_t id_;
  request_ptr req_;
};

struct shard_state {
  shard_config cfg;
  std::vector<shard_actor> peers;
  id_map<dir_entry> directory;

  // Owner side.
  chunked_vector<transfer_record> records;  // stored transfers, by index
  id_map<std::uint32_t> record_index;
  id_map<ctr> failed;
  std::vector<account> account_records;
  id_map<std::uint32_t> account_index;
  id_map<std::uint64_t> claimed_transfers;
  id_map<std::uint64_t> claimed_accounts;
  std::deque<claim_ptr> waiting;           // in arrival order
  id_map<std::uint32_t> wanted_transfers;  // key -> waiting claims that name it
  id_map<std::uint32_t> wanted_accounts;
  std::map<std::uint32_t, ledger_stats> stats;
  // Each account's history is a list threaded through its records, newest first: the
  // index maps an account to its newest record, and each record links to the next older
  // one of its debit account and of its credit account (`history_links`, parallel to
  // `records`). An append reads nothing but the index.
  struct history_link {
    std::uint32_t older_debit = no_record;   // in the debit account's history
    std::uint32_t older_credit = no_record;  // in the credit account's history
  };
  static constexpr std::uint32_t no_record = UINT32_MAX;
  id_map<std::uint32_t> history_index;  // account id -> its newest record
  chunked_vector<history_link> history_links;
  std::uint64_t history_ts_max = 0;  // of every record in a history

  // The next older record after `record` in the history of `account_id` (a side of it).
  std::uint32_t& older(std::uint32_t record, u128 account_id) {
    history_link& l = history_links[record];
    return records[record].t.debit_account_id == account_id ? l.older_debit : l.older_credit;
  }
  using expiry_entry = std::pair<std::uint64_t, std::uint32_t>;
  std::priority_queue<expiry_entry, std::vector<expiry_entry>, std::greater<>> expiries;

  journal_actor journal() const { return cfg.journal; }

  // Driver side.
  std::vector<wave_ptr> wave_pool;  // waves whose round is over, for reuse
  std::uint64_t next_unique = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<job>> jobs;

  std::uint64_t unique() { return (std::uint64_t{cfg.index} << 48) | next_unique++; }
  ledger_stats& stats_of(std::uint32_t ledger) {
    auto [it, inserted] = stats.try_emplace(ledger);
    if (inserted) it->second.ledger = ledger;
    return it->second;
  }
};

// ---------------------------------------------------------------------------------------
// Waves

// Collects the entries of one round and sends one message per account host. Entries keep
// their order within an account.
class wave_builder {
 public:
  std::uint32_t add_reply_slot() { return reply_slots_++; }
  std::uint32_t add_lookup_slot() { return lookup_slots_++; }
  std::uint32_t add_controls(const controls_state& c) {
    controls_.push_back(c);
    return static_cast<std::uint32_t>(controls_.size() - 1);
  }

  void add(const account_address& where, wave_entry e) {
    if (where.host >= group_of_.size()) group_of_.resize(where.host + 1, no_group);
    std::uint32_t& group = group_of_[where.host];
    if (group == no_group) {
      group = static_cast<std::uint32_t>(hosts_.size());
      hosts_.push_back(where.host);
    }
    e.account = group;
    e.local = where.local;
    entries_.push_back(e);
  }

  // A new account: its host learns of it before anything else can name it.
  void add_create(const account_address& where, const account_state& initial) {
    wave_entry e;
    e.op = entry_op::create;
    e.slot = static_cast<std::uint32_t>(creates_.size());
    creates_.push_back(initial);
    add(where, e);
  }

  // Gives a wave back for reuse once its round is over.
  static void recycle(std::vector<wave_ptr>& pool, wave_ptr w) {
    constexpr std::size_t pool_max = 8;
    if (w && pool.size() < pool_max) pool.push_back(std::move(w));
  }

  bool empty() const { return entries_.empty(); }
  bool awaits_replies() const { return reply_slots_ > 0 || lookup_slots_ > 0; }

  // Builds the wave, sends it and resets the builder. With job != 0 the driver is told
  // when every account has handled its group.
  wave_ptr send(shard_pointer self, std::uint64_t job) {
    wave_ptr w = take_wave(self->state.wave_pool);
    const account_hosts& hosts = *self->state.cfg.hosts;
    const std::size_t groups = hosts_.size();
    std::vector<std::uint32_t> offset(groups + 1, 0);
    for (const wave_entry& e : entries_) ++offset[e.account + 1];
    for (std::size_t g = 0; g < groups; ++g) offset[g + 1] += offset[g];
    w->entries.resize(entries_.size());
    w->groups.resize(groups);
    for (std::size_t g = 0; g < groups; ++g)
      w->groups[g] = wave_group{hosts.host(hosts_[g]), offset[g], offset[g + 1]};
    for (const wave_entry& e : entries_) w->entries[offset[e.account]++] = e;
    w->replies.resize(reply_slots_);
    w->accounts_out.resize(lookup_slots_);
    w->controls_in = std::move(controls_);
    w->creates_in = std::move(creates_);
    w->driver = caf::actor_cast<shard_actor>(self);
    w->job = job;
    w->outstanding.store(static_cast<std::uint32_t>(groups), std::memory_order_relaxed);
    for (std::uint32_t g = 0; g < groups; ++g)
      send_to(self, w->groups[g].host, step_atom::value, w, g);
    entries_.clear();
    for (const std::uint32_t h : hosts_) group_of_[h] = no_group;
    hosts_.clear();
    controls_.clear();
    creates_.clear();
    reply_slots_ = 0;
    lookup_slots_ = 0;
    return w;
  }

 private:
  // A pooled wave that nothing else references any more (the accounts' messages may
  // outlive the round by a moment), or a new one.
  static wave_ptr take_wave(std::vector<wave_ptr>& pool) {
    for (auto it = pool.begin(); it != pool.end(); ++it) {
      if ((*it)->get_reference_count() != 1) continue;
      wave_ptr w = std::move(*it);
      pool.erase(it);
      w->entries.clear();
      w->groups.clear();
      w->replies.clear();
      w->accounts_out.clear();
      w->controls_in.clear();
      w->creates_in.clear();
      return w;
    }
    return caf::make_counted<wave>();
  }

  static constexpr std::uint32_t no_group = UINT32_MAX;
  std::vector<wave_entry> entries_;
  std::vector<std::uint32_t> hosts_;     // by group: its host
  std::vector<std::uint32_t> group_of_;  // by host: its group, or no_group
  std::vector<controls_state> controls_;
  std::vector<account_state> creates_;
  std::uint32_t reply_slots_ = 0;
  std::uint32_t lookup_slots_ = 0;
};

void answer(const request_ptr& req) {
  auto done = std::move(req->done);
  if (done) done(*req);
}

void job::journal_append(journal_batch_ptr& b) {
  if (!b || b->empty()) return;
  if (self_->state.cfg.journal) send_to(self_, self_->state.cfg.journal, append_atom::value, b);
  b = caf::make_counted<journal_batch>();
}

void job::sync_then_answer() {
  const auto me = caf::actor_cast<shard_actor>(self_);
  if (self_->state.cfg.journal) {
    send_to(self_, self_->state.cfg.journal, sync_atom::value, me, id_);
  } else {
    send_to(self_, me, synced_atom::value, id_, true);  // durability off: nothing to wait for
  }
}

void job::on_synced(bool ok) {
  // A failed sync means that decisions this answer may report, or that what it read
  // depended on, never became durable: a lookup could show a transfer that recovery will
  // not have. So no answer of any kind goes out after it (fail-stop), reads included.
  if (!ok) {
    req_->status = engine_status::storage_failed;
    req_->results.clear();
    req_->accounts_out.clear();
    req_->transfers_out.clear();
    req_->stats_out = ledger_stats{};
  }
  answer(req_);
  self_->state.jobs.erase(id_);  // destroys this
}

// ---------------------------------------------------------------------------------------
// Claims, acquired shard by shard in shard order

class claims {
 public:
  claims(shard_pointer self, std::uint64_t batch, bool accounts)
      : self_(self), batch_(batch), accounts_(accounts) {
    per_shard_.resize(self->state.cfg.count);
  }

  // Adds a key once; returns its index in the batch's key table.
  std::uint32_t add(u128 key) {
    if (const std::uint32_t* idx = index_.find(key)) return *idx;
    const auto idx = static_cast<std::uint32_t>(keys_.size());
    index_.insert(key, idx);
    keys_.push_back(key);
    const std::uint32_t owner = owner_of(key, self_->state.cfg.count);
    claim_ptr& c = per_shard_[owner];
    if (!c) {
      c = caf::make_counted<claim_set>();
      c->accounts = accounts_;
      c->batch = batch_;
      c->shard = owner;
      c->driver = caf::actor_cast<shard_actor>(self_);
    }
    c->keys.push_back(key);
    return idx;
  }

  std::uint32_t index_of(u128 key) const { return index_.at(key); }
  std::size_t size() const { return keys_.size(); }

  // Sends the next claim; false when every claim is granted.
  bool next() {
    while (next_shard_ < per_shard_.size() && !per_shard_[next_shard_]) ++next_shard_;
    if (next_shard_ == per_shard_.size()) return false;
    send_to(self_, self_->state.peers[next_shard_], claim_atom::value, per_shard_[next_shard_]);
    ++next_shard_;
    return true;
  }

  // For each granted key: its index in the key table and its state at the owner.
  template <class F>
  void for_each_state(F&& f) const {
    for (const claim_ptr& c : per_shard_) {
      if (!c) continue;
      for (std::size_t i = 0; i < c->keys.size(); ++i) f(index_.at(c->keys[i]), c->states[i]);
    }
  }

  // One release per owner: every claimed key, plus what `fill` adds.
  template <class F>
  void release(F&& fill) {
    for (const claim_ptr& c : per_shard_) {
      if (!c) continue;
      auto r = caf::make_counted<release_set>();
      r->accounts = accounts_;
      r->batch = batch_;
      r->keys = c->keys;
      for (const u128 key : c->keys) fill(*r, key, index_.at(key));
      send_to(self_, self_->state.peers[c->shard], release_atom::value, r);
    }
  }

 private:
  shard_pointer self_;
  std::uint64_t batch_;
  bool accounts_;
  std::vector<claim_ptr> per_shard_;
  std::size_t next_shard_ = 0;
  id_map<std::uint32_t> index_;
  std::vector<u128> keys_;
};

// ---------------------------------------------------------------------------------------
// CREATE_TRANSFERS

class transfer_batch final : public job {
 public:
  transfer_batch(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)),
        claims_(self, id, false),
        records_(caf::make_counted<journal_batch>()) {}

  void start() override {
    count(work::batch);
    n_ = req_->transfers.size();
    req_->results.assign(n_, result{});
    alone_.resize(n_);
    // Units: a linked chain, or one event.
    for (std::uint32_t i = 0; i < n_;) {
      unit u;
      u.first = i;
      while (i + 1 < n_ && (req_->transfers[i].flags & transfer_flags::linked)) ++i;
      u.last = i;
      u.step = u.first;
      u.chain = (u.last > u.first || (req_->transfers[i].flags & transfer_flags::linked))
                    ? self_->state.unique()
                    : 0;
      units_.push_back(std::move(u));
      ++i;
    }
    for (std::uint32_t i = 0; i < n_; ++i) {
      const transfer& t = req_->transfers[i];
      alone_[i] = validate_transfer(t);
      if (alone_[i] != ctr::ok) continue;
      claims_.add(t.id);
      const transfer_kind kind = kind_of(t);
      if (kind == transfer_kind::post || kind == transfer_kind::void_) claims_.add(t.pending_id);
    }
    tkeys_.resize(claims_.size());
    if (!claims_.next()) schedule();
  }

  void on_claimed(const claim_ptr&) override {
    if (!claims_.next()) schedule();
  }

  void on_done() override {
    const wave_ptr w = std::move(current_);
    // Pairs with the accounts' countdown: their reply writes happen before these reads.
    REMIT_ASSERT(w->outstanding.load(std::memory_order_acquire) == 0);
    std::vector<std::uint32_t> flight;
    flight.swap(in_flight_);
    for (const std::uint32_t u : flight) handle_replies(u, *w);
    wave_builder::recycle(self_->state.wave_pool, w);
    run_round();
  }

 private:
  struct tkey {
    bool found = false;
    transfer_record rec{};
    ctr failed = ctr::ok;
    bool orig_found = false;
    pending_state orig_state = pending_state::none;
    bool new_failure = false;
  };
  struct leg {
    account_address where;  // its account's host and index there
    std::uint64_t key = 0;
    std::uint32_t slot = 0;
    bool debit = false;
    u128 amount = 0;  // the decided amount, once known
  };
  struct unit {
    std::uint32_t first = 0;
    std::uint32_t last = 0;
    std::uint32_t step = 0;  // the event in flight
    std::uint32_t deps = 0;
    std::vector<std::uint32_t> dependents;
    std::uint64_t chain = 0;  // 0: a single event
    bool done = false;
    // The step in flight: one round with both legs, or two rounds with one leg each
    // (a balancing side first, then the other side with the amount it allowed).
    // 1: both legs; 2: first of two; 3: second of two; 4: the credit side again, with the
    // amount the debit side allowed (both balancing flags, after an overflow at the first).
    std::uint8_t phase = 0;
    leg legs[2];
    std::uint8_t leg_count = 0;
    leg_reply first_reply{};   // the first leg's answer, when two rounds
    leg_reply second_reply{};  // the debit side's answer, when the credit side is checked again
    ctr pre_code = ctr::ok;    // a code found by the driver that ranks among the legs' (55)
    std::vector<leg> held;     // reservations of finished steps, awaiting the decision
    std::vector<std::pair<std::uint32_t, tkey>> undo;
  };

  void schedule() {
    claims_.for_each_state([&](std::uint32_t idx, const key_state& s) {
      tkey& k = tkeys_[idx];
      k.found = k.orig_found = s.found;
      if (s.found) k.rec = s.record;
      k.orig_state = k.rec.state;
      k.failed = s.failed;
    });
    // Every event of the batch that may create each id, for posts of pendings made here:
    // which one succeeds is known only when it runs (an earlier one may fail with its
    // chain), so a post is ordered against the accounts of all of them.
    id_map<std::vector<std::uint32_t>> creators;
    for (std::uint32_t i = 0; i < n_; ++i) {
      const transfer& t = req_->transfers[i];
      const transfer_kind kind = kind_of(t);
      if (alone_[i] == ctr::ok && (kind == transfer_kind::plain || kind == transfer_kind::pending))
        creators[t.id].push_back(i);
    }
    // Order conflicting units: each waits for the latest earlier unit sharing a key.
    std::vector<std::uint32_t> last_by_tkey(tkeys_.size(), 0);  // unit + 1
    id_map<std::uint32_t> last_by_account;                      // unit + 1
    std::vector<std::uint32_t> deps;
    for (std::uint32_t u = 0; u < units_.size(); ++u) {
      deps.clear();
      const auto touch_t = [&](u128 id) {
        const std::uint32_t idx = claims_.index_of(id);
        if (last_by_tkey[idx] != 0) deps.push_back(last_by_tkey[idx] - 1);
        last_by_tkey[idx] = u + 1;
      };
      const auto touch_a = [&](u128 id) {
        if (id == 0) return;
        std::uint32_t& last = last_by_account[id];
        if (last != 0) deps.push_back(last - 1);
        last = u + 1;
      };
      for (std::uint32_t e = units_[u].first; e <= units_[u].last; ++e) {
        if (alone_[e] != ctr::ok) continue;
        const transfer& t = req_->transfers[e];
        touch_t(t.id);
        const transfer_kind kind = kind_of(t);
        if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
          touch_a(t.debit_account_id);
          touch_a(t.credit_account_id);
          continue;
        }
        touch_t(t.pending_id);
        const tkey& pk = tkeys_[claims_.index_of(t.pending_id)];
        if (pk.found) {
          touch_a(pk.rec.t.debit_account_id);
          touch_a(pk.rec.t.credit_account_id);
        } else if (const auto* made = creators.find(t.pending_id)) {
          for (const std::uint32_t c : *made) {
            if (c >= e) break;
            touch_a(req_->transfers[c].debit_account_id);
            touch_a(req_->transfers[c].credit_account_id);
          }
        }
      }
      std::sort(deps.begin(), deps.end());
      deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
      for (const std::uint32_t p : deps) {
        if (p == u) continue;
        units_[p].dependents.push_back(u);
        units_[u].deps += 1;
      }
      if (units_[u].deps == 0) ready_.push_back(u);
    }
    run_round();
  }

  void run_round() {
    while (!ready_.empty()) {
      const std::uint32_t u = ready_.front();
      ready_.pop_front();
      advance(u);
    }
    // The round's decisions reach the journal before the accounts can see them (the
    // decide entries are in the wave sent below).
    journal_append(records_);
    if (next_.awaits_replies()) {
      count(work::round);
      current_ = next_.send(self_, id_);
      return;
    }
    if (!next_.empty()) next_.send(self_, 0);
    REMIT_ASSERT(done_ == units_.size());
    finish();
  }

  const dir_entry* account_of(u128 id) const {
    return id == 0 ? nullptr : self_->state.directory.find(id);
  }

  void emit_leg(unit& un, std::uint32_t e, const dir_entry& acct, bool debit, bool balancing,
                u128 amount, u128 pending_amount) {
    const transfer& t = req_->transfers[e];
    leg& l = un.legs[un.leg_count++];
    l = leg{acct.where, self_->state.unique(), next_.add_reply_slot(), debit, 0};
    wave_entry w;
    w.op = entry_op::reserve;
    w.kind = kind_of(t);
    w.debit = debit;
    w.balancing = balancing;
    w.slot = l.slot;
    w.key = l.key;
    w.chain = un.chain;
    w.timestamp = req_->timestamp_base + e;
    w.amount = amount;
    w.pending_amount = pending_amount;
    next_.add(acct.where, w);
  }

  void emit_adjust(const leg& l, u128 amount) {
    wave_entry w;
    w.op = entry_op::adjust;
    w.debit = l.debit;
    w.key = l.key;
    w.amount = amount;
    next_.add(l.where, w);
  }

  // Starts the current event of unit u: either it is answered at once (it fails here, or
  // it exists), or its legs go into the next round.
  void advance(std::uint32_t u) {
    unit& un = units_[u];
    const std::uint32_t e = un.step;
    const transfer& t = req_->transfers[e];
    const std::uint64_t ts = req_->timestamp_base + e;
    un.leg_count = 0;
    un.pre_code = ctr::ok;
    if (un.last + 1 == n_ && (req_->transfers[un.last].flags & transfer_flags::linked))
      return fail(u, un.last, ctr::linked_event_chain_open);  // an open chain fails whole
    if (alone_[e] != ctr::ok) return fail(u, e, alone_[e]);
    tkey& k = tkeys_[claims_.index_of(t.id)];
    if (k.found) {
      const ctr c = compare_existing(k.rec.t, k.rec.sent, t);
      if (un.chain != 0 || c != ctr::exists) return fail(u, e, c);
      req_->results[e] = result{static_cast<std::uint32_t>(c), 0, k.rec.t.timestamp};
      return complete(u);
    }
    if (k.failed != ctr::ok) return fail(u, e, ctr::id_already_failed);

    const transfer_kind kind = kind_of(t);
    if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
      const dir_entry* dr = account_of(t.debit_account_id);
      const dir_entry* cr = account_of(t.credit_account_id);
      const ctr c = check_accounts(t, dr ? &dr->ledger : nullptr, cr ? &cr->ledger : nullptr);
      if (c != ctr::ok) return fail(u, e, c);
      un.pre_code = check_timeout(t, ts);
      const bool bd = (t.flags & transfer_flags::balancing_debit) != 0;
      const bool bc = (t.flags & transfer_flags::balancing_credit) != 0;
      if (!bd && !bc) {
        un.phase = 1;
        emit_leg(un, e, *dr, true, false, t.amount, 0);
        emit_leg(un, e, *cr, false, false, t.amount, 0);
      } else if (bc) {
        un.phase = 2;  // the credit side first; the debit side then gets what it allowed
        emit_leg(un, e, *cr, false, true, t.amount, 0);
      } else {
        un.phase = 2;
        emit_leg(un, e, *dr, true, true, t.amount, 0);
      }
      in_flight_.push_back(u);
      return;
    }

    const tkey& pk = tkeys_[claims_.index_of(t.pending_id)];
    const pending_view view{pk.found ? &pk.rec.t : nullptr, pk.rec.state, pk.rec.expires_at_ns};
    u128 posted = 0;
    const ctr c = check_post_or_void(t, view, ts, posted);
    if (c != ctr::ok) return fail(u, e, c);
    const transfer& p = pk.rec.t;
    const dir_entry* dr = account_of(p.debit_account_id);
    const dir_entry* cr = account_of(p.credit_account_id);
    REMIT_ASSERT(dr != nullptr && cr != nullptr);
    un.phase = 1;
    emit_leg(un, e, *dr, true, false, posted, p.amount);
    emit_leg(un, e, *cr, false, false, posted, p.amount);
    in_flight_.push_back(u);
  }

  void handle_replies(std::uint32_t u, const wave& w) {
    unit& un = units_[u];
    const std::uint32_t e = un.step;
    const transfer& t = req_->transfers[e];
    const transfer_kind kind = kind_of(t);

    if (un.phase == 2) {
      // The balancing side answered; the other side gets the amount it allowed, even when
      // it failed (then 0), so that the smallest code of both sides is the one reported.
      un.first_reply = w.replies[un.legs[0].slot];
      un.phase = 3;
      const bool second_is_debit = !un.legs[0].debit;
      const bool second_balancing =
          second_is_debit && (t.flags & transfer_flags::balancing_debit) != 0;
      const u128 id = second_is_debit ? t.debit_account_id : t.credit_account_id;
      const dir_entry* acct = account_of(id);
      REMIT_ASSERT(acct != nullptr);
      un.leg_count = 1;
      emit_leg(un, e, *acct, second_is_debit, second_balancing, un.first_reply.amount, 0);
      in_flight_.push_back(u);
      return;
    }

    ctr code = un.pre_code;
    u128 amount = 0;
    bool reserved[2] = {false, false};
    if (un.phase == 1) {
      for (std::uint8_t i = 0; i < un.leg_count; ++i) {
        const leg_reply& r = w.replies[un.legs[i].slot];
        code = first_failure(code, r.code);
        reserved[i] = r.code == ctr::ok;
      }
      if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
        amount = t.amount;
      } else {
        amount = w.replies[un.legs[0].slot].amount;  // the amount posted (a void: 0)
      }
    } else if (un.phase == 3) {
      const leg_reply& first = un.first_reply;
      const leg_reply& second = w.replies[un.legs[1].slot];
      if (!first.code_holds_for_less(second.amount)) {
        // Both balancing flags: the credit side failed a check that depends on the amount
        // (an overflow) with what it could take, and the debit side then allowed less.
        // The transfer moves the smaller amount, so the credit side is checked again with
        // it (section 4: the checks apply to the amount moved).
        un.second_reply = second;
        if (second.code == ctr::ok) {
          un.legs[1].amount = second.amount;
          un.held.push_back(un.legs[1]);
        }
        REMIT_ASSERT(un.legs[1].debit && !un.legs[0].debit);
        un.phase = 4;
        un.leg_count = 0;
        const dir_entry* acct = account_of(t.credit_account_id);
        REMIT_ASSERT(acct != nullptr);
        emit_leg(un, e, *acct, false, false, second.amount, 0);
        in_flight_.push_back(u);
        return;
      }
      code = first_failure(code, first.code);
      code = first_failure(code, second.code);
      reserved[0] = first.code == ctr::ok;
      reserved[1] = second.code == ctr::ok;
      amount = second.amount;
    } else {
      REMIT_ASSERT(un.phase == 4);
      const leg_reply& credit = w.replies[un.legs[0].slot];
      code = first_failure(code, un.second_reply.code);
      code = first_failure(code, credit.code);
      reserved[0] = credit.code == ctr::ok;  // the debit side is in `held` already
      amount = un.second_reply.amount;
    }
    for (std::uint8_t i = 0; i < un.leg_count; ++i) {
      if (!reserved[i]) continue;
      un.legs[i].amount = amount;
      un.held.push_back(un.legs[i]);
    }
    // With both balancing flags the credit side held what it could take and the debit side
    // may have allowed less: the later steps of a chain must see the amount that moves.
    const bool first_held_more = un.phase == 3 && reserved[0] && un.first_reply.amount > amount;
    un.leg_count = 0;
    if (code != ctr::ok) return fail(u, e, code);

    // The step passed: its effects are provisional until the unit commits.
    const std::uint64_t ts = req_->timestamp_base + e;
    const std::uint32_t kidx = claims_.index_of(t.id);
    if (un.chain != 0) un.undo.emplace_back(kidx, tkeys_[kidx]);
    tkey& k = tkeys_[kidx];
    k.found = true;
    if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
      transfer stored = t;
      stored.amount = amount;
      stored.timestamp = ts;
      k.rec = transfer_record{
          stored, sent_fields_of(t), expires_at(t, ts),
          kind == transfer_kind::pending ? pending_state::pending : pending_state::none};
    } else {
      const std::uint32_t pidx = claims_.index_of(t.pending_id);
      if (un.chain != 0) un.undo.emplace_back(pidx, tkeys_[pidx]);
      tkey& pk = tkeys_[pidx];
      const bool is_post = kind == transfer_kind::post;
      const transfer stored =
          stored_post_or_void(t, pk.rec.t, is_post ? amount : pk.rec.t.amount, ts);
      pk.rec.state = is_post ? pending_state::posted : pending_state::voided;
      k.rec = transfer_record{stored, sent_fields_of(t), 0, pending_state::none};
    }
    req_->results[e] = result{0, 0, ts};
    if (e < un.last) {
      // Before the next step's legs, in the same wave: an account applies its entries in
      // order. (A unit that ends here is decided this round, which releases the hold whole.)
      if (first_held_more) emit_adjust(un.legs[0], amount);
      un.step += 1;
      return advance(u);
    }
    decide(un, decision::commit);
    // A unit's records go into one journal record (journal_batch::add starts a new one only
    // when full), so a torn tail never replays half a chain.
    static_assert(std::uint64_t{batch_events_max} * sizeof(journal::committed_transfer) <=
                  journal::record_payload_max);
    for (std::uint32_t i = un.first; i <= un.last; ++i) {
      const transfer_record& rec = tkeys_[claims_.index_of(req_->transfers[i].id)].rec;
      journal::committed_transfer c{};
      c.stored = rec.t;
      c.amount_sent = rec.sent.amount;
      c.expires_at_ns = rec.expires_at_ns;
      c.zero_mask = rec.sent.zero_mask;
      records_->add(journal::record_type::transfers_committed, c);
    }
    complete(u);
  }

  // Queues the decision on every reservation the unit holds, as decide entries of the next
  // wave: it goes out at the end of the round, after the round's records went to the
  // journal, ahead of any later entry for the same accounts.
  void decide(unit& un, decision d) {
    for (const leg& l : un.held) {
      wave_entry w;
      w.op = entry_op::decide;
      w.verdict = d;
      w.debit = l.debit;
      w.key = l.key;
      w.amount = l.amount;
      next_.add(l.where, w);
    }
    un.held.clear();
  }

  void fail(std::uint32_t u, std::uint32_t e, ctr code) {
    unit& un = units_[u];
    // `exists` reports the original's timestamp, read before a chain's rollback (an id made
    // earlier in the same chain reports that transfer's, as the reference ledger does).
    const std::uint64_t exists_ts =
        code == ctr::exists ? tkeys_[claims_.index_of(req_->transfers[e].id)].rec.t.timestamp : 0;
    decide(un, decision::abort);
    for (auto it = un.undo.rbegin(); it != un.undo.rend(); ++it) tkeys_[it->first] = it->second;
    un.undo.clear();
    if (un.chain != 0) {
      for (std::uint32_t i = un.first; i <= un.last; ++i)
        req_->results[i] = result{static_cast<std::uint32_t>(ctr::linked_event_failed), 0, 0};
      // `exists` fails a chain but still reports the original's timestamp.
      if (code == ctr::exists) {
        req_->results[e] = result{static_cast<std::uint32_t>(code), 0, exists_ts};
        complete(u);
        return;
      }
    } else if (is_state_failure(code)) {
      tkey& k = tkeys_[claims_.index_of(req_->transfers[e].id)];
      k.failed = code;
      k.new_failure = true;
      journal::failure_entry f{};
      f.id = req_->transfers[e].id;
      f.code = static_cast<std::uint32_t>(code);
      records_->add(journal::record_type::failures, f);
    }
    req_->results[e] = result{static_cast<std::uint32_t>(code), 0, 0};
    complete(u);
  }

  void complete(std::uint32_t u) {
    unit& un = units_[u];
    REMIT_ASSERT(!un.done);
    un.done = true;
    ++done_;
    for (const std::uint32_t d : un.dependents) {
      REMIT_ASSERT(units_[d].deps > 0);
      if (--units_[d].deps == 0) ready_.push_back(d);
    }
  }

  void finish() {
    claims_.release([&](release_set& r, u128 key, std::uint32_t idx) {
      const tkey& k = tkeys_[idx];
      if (k.found && !k.orig_found) r.new_transfers.push_back(k.rec);
      if (k.orig_found && k.rec.state != k.orig_state) r.resolved.emplace_back(key, k.rec.state);
      if (k.new_failure) r.failures.emplace_back(key, k.failed);
    });
    sync_then_answer();
  }

  claims claims_;
  journal_batch_ptr records_;  // decisions of the round being built
  std::uint32_t n_ = 0;
  std::vector<ctr> alone_;
  std::vector<tkey> tkeys_;
  std::vector<unit> units_;
  std::deque<std::uint32_t> ready_;
  std::vector<std::uint32_t> in_flight_;
  std::size_t done_ = 0;
  wave_builder next_;
  wave_ptr current_;
};

// ---------------------------------------------------------------------------------------
// CREATE_ACCOUNTS: no account-side checks, so once the ids are claimed the driver decides
// the whole batch itself, spawns the new accounts and registers them in every directory.

class account_batch final : public job {
 public:
  account_batch(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)), claims_(self, id, true) {}

  void start() override {
    const std::size_t n = req_->accounts.size();
    req_->results.assign(n, result{});
    alone_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      alone_[i] = validate_account(req_->accounts[i]);
      if (alone_[i] == car::ok) claims_.add(req_->accounts[i].id);
    }
    akeys_.resize(claims_.size());
    if (!claims_.next()) decide();
  }

  void on_claimed(const claim_ptr&) override {
    if (!claims_.next()) decide();
  }

 private:
  struct akey {
    bool found = false;
    bool created = false;
    account rec{};
  };

  void decide() {
    claims_.for_each_state([&](std::uint32_t idx, const key_state& s) {
      akeys_[idx].found = s.found;
      if (s.found) akeys_[idx].rec = s.account_record;
    });
    const std::size_t n = req_->accounts.size();
    std::vector<std::pair<std::uint32_t, akey>> undo;
    const std::size_t open_start =
        open_chain_start(std::span<const account>(req_->accounts), account_flags::linked);
    for (std::size_t i = open_start; i < n; ++i) {
      const car code = i + 1 == n ? car::linked_event_chain_open : car::linked_event_failed;
      req_->results[i] = result{static_cast<std::uint32_t>(code), 0, 0};
    }
    std::size_t chain_start = SIZE_MAX;
    bool broken = false;
    for (std::size_t i = 0; i < open_start; ++i) {
      const account& a = req_->accounts[i];
      const bool linked = (a.flags & account_flags::linked) != 0;
      if (chain_start == SIZE_MAX && linked) {
        chain_start = i;
        broken = false;
        undo.clear();
      }
      const bool chained = chain_start != SIZE_MAX;
      const std::uint64_t ts = req_->timestamp_base + i;
      car code = car::ok;
      std::uint64_t result_ts = 0;
      if (broken) {
        code = car::linked_event_failed;
      } else if (alone_[i] != car::ok) {
        code = alone_[i];
      } else {
        const std::uint32_t idx = claims_.index_of(a.id);
        akey& k = akeys_[idx];
        if (k.found) {
          code = compare_existing(k.rec, a);
          if (code == car::exists) result_ts = k.rec.timestamp;
        } else {
          if (chained) undo.emplace_back(idx, k);
          k.found = k.created = true;
          k.rec = a;
          k.rec.timestamp = ts;
          result_ts = ts;
        }
      }
      req_->results[i] = result{static_cast<std::uint32_t>(code), 0, result_ts};
      if (chained && code != car::ok && !broken) {
        broken = true;
        for (auto it = undo.rbegin(); it != undo.rend(); ++it) akeys_[it->first] = it->second;
        for (std::size_t j = chain_start; j < i; ++j)
          req_->results[j] = result{static_cast<std::uint32_t>(car::linked_event_failed), 0, 0};
      }
      if (chained && !linked) {
        chain_start = SIZE_MAX;
        broken = false;
      }
    }
    // In a chain, `exists` fails the chain; alone it is an answer with the original's
    // timestamp (kept above).

    // The decision goes to the journal before the accounts exist anywhere.
    auto records = caf::make_counted<journal_batch>();
    for (const akey& k : akeys_)
      if (k.created) records->add(journal::record_type::accounts_created, k.rec);
    journal_append(records);
    // The hosts learn of the new accounts before any shard's directory names them: a leg
    // reaches a host only after the create entry it depends on.
    auto update = caf::make_counted<directory_update>();
    account_hosts& hosts = *self_->state.cfg.hosts;
    wave_builder creates;
    for (const akey& k : akeys_) {
      if (!k.created) continue;
      account_state s;
      s.a = k.rec;
      const account_address where = hosts.place(k.rec.id);
      creates.add_create(where, s);
      update->addresses.emplace_back(k.rec.id, where);
      update->ledgers.push_back(k.rec.ledger);
    }
    if (!update->addresses.empty()) {
      creates.send(self_, 0);
      for (const shard_actor& peer : self_->state.peers)
        send_to(self_, peer, register_atom::value, update);
    }
    claims_.release([&](release_set& r, u128, std::uint32_t idx) {
      if (akeys_[idx].created) r.new_accounts.push_back(akeys_[idx].rec);
    });
    sync_then_answer();
  }

  claims claims_;
  std::vector<car> alone_;
  std::vector<akey> akeys_;
};

// ---------------------------------------------------------------------------------------
// LOOKUP_ACCOUNTS: one wave to the accounts.

class lookup_accounts_job final : public job {
 public:
  lookup_accounts_job(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)) {}

  void start() override {
    auto& dir = self_->state.directory;
    for (const u128 id : req_->ids) {
      const dir_entry* d = id == 0 ? nullptr : dir.find(id);
      if (d == nullptr) continue;
      wave_entry w;
      w.op = entry_op::lookup;
      w.slot = builder_.add_lookup_slot();
      builder_.add(d->where, w);
    }
    if (builder_.empty()) return sync_then_answer();
    current_ = builder_.send(self_, id_);
  }

  void on_done() override {
    REMIT_ASSERT(current_->outstanding.load(std::memory_order_acquire) == 0);
    req_->accounts_out = std::move(current_->accounts_out);
    current_.reset();
    sync_then_answer();
  }

 private:
  wave_builder builder_;
  wave_ptr current_;
};

// ---------------------------------------------------------------------------------------
// SET_ACCOUNT_CONTROLS: the account ids are claimed at their owners first, like transfer
// ids, so that two requests changing one account reach the journal and the account in the
// same order (replay must give the state that was live).

class controls_job final : public job {
 public:
  controls_job(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)), claims_(self, id, true) {}

  void start() override {
    // Checks in the order of docs/PROTOCOL.md section 4; existence is checked once claimed.
    const std::size_t n = req_->controls.size();
    req_->results.assign(n, result{});
    alone_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const account_controls& c = req_->controls[i];
      alone_[i] = validate_controls(c);
      if (alone_[i] == set_controls_result::ok && c.account_id != 0) claims_.add(c.account_id);
    }
    if (!claims_.next()) apply();
  }

  void on_claimed(const claim_ptr&) override {
    if (!claims_.next()) apply();
  }

 private:
  void apply() {
    auto& dir = self_->state.directory;
    auto records = caf::make_counted<journal_batch>();
    wave_builder builder;
    for (std::size_t i = 0; i < req_->controls.size(); ++i) {
      const account_controls& c = req_->controls[i];
      set_controls_result code = alone_[i];
      const dir_entry* d = nullptr;
      if (code == set_controls_result::ok) {
        d = c.account_id == 0 ? nullptr : dir.find(c.account_id);
        if (d == nullptr) code = set_controls_result::account_not_found;
      }
      req_->results[i] = result{static_cast<std::uint32_t>(code), 0, 0};
      if (code != set_controls_result::ok) continue;
      records->add(journal::record_type::controls_set, c);
      wave_entry w;
      w.op = entry_op::set_controls;
      w.slot = builder.add_controls(controls_of(c));
      builder.add(d->where, w);
    }
    // Journal first, then the accounts, then the claims go: the next change of the same
    // account is journaled and enqueued after this one.
    journal_append(records);
    if (!builder.empty()) builder.send(self_, 0);
    claims_.release([](release_set&, u128, std::uint32_t) {});
    sync_then_answer();
  }

  claims claims_;
  std::vector<set_controls_result> alone_;
};

// ---------------------------------------------------------------------------------------
// LOOKUP_TRANSFERS, GET_ACCOUNT_TRANSFERS, GET_LEDGER_STATS: questions to owner shards.

class query_job final : public job {
 public:
  query_job(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)) {}

  void start() override {
    const std::uint32_t count = self_->state.cfg.count;
    queries_.resize(count);
    const auto make = [&](shard_query::kind k) {
      auto q = caf::make_counted<shard_query>();
      q->what = k;
      q->driver = caf::actor_cast<shard_actor>(self_);
      q->job = id_;
      return q;
    };
    switch (req_->op) {
      case request_op::lookup_transfers:
        for (const u128 id : req_->ids) {
          if (id == 0) continue;
          query_ptr& q = queries_[owner_of(id, count)];
          if (!q) q = make(shard_query::kind::lookup_transfers);
          q->ids.push_back(id);
        }
        break;
      case request_op::get_account_transfers:
        for (auto& q : queries_) {
          q = make(shard_query::kind::history);
          q->filter = req_->filter;
        }
        break;
      default:
        for (auto& q : queries_) {
          q = make(shard_query::kind::stats);
          q->ledger = req_->ledger;
        }
        break;
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!queries_[i]) continue;
      ++outstanding_;
      send_to(self_, self_->state.peers[i], query_atom::value, queries_[i]);
    }
    if (outstanding_ == 0) finish();
  }

  void on_done() override {
    REMIT_ASSERT(outstanding_ > 0);
    if (--outstanding_ == 0) finish();
  }

 private:
  void finish() {
    const std::uint32_t count = self_->state.cfg.count;
    switch (req_->op) {
      case request_op::lookup_transfers: {
        std::vector<std::size_t> next(count, 0);
        for (const u128 id : req_->ids) {
          if (id == 0) continue;
          const std::uint32_t o = owner_of(id, count);
          const shard_query& q = *queries_[o];
          const std::int32_t found = q.found[next[o]++];
          if (found >= 0) req_->transfers_out.push_back(q.out[static_cast<std::size_t>(found)]);
        }
        break;
      }
      case request_op::get_account_transfers: {
        auto& out = req_->transfers_out;
        for (const auto& q : queries_) out.insert(out.end(), q->out.begin(), q->out.end());
        const bool reversed = (req_->filter.flags & account_filter_flags::reversed) != 0;
        std::sort(out.begin(), out.end(), [&](const transfer& a, const transfer& b) {
          return reversed ? a.timestamp > b.timestamp : a.timestamp < b.timestamp;
        });
        if (out.size() > req_->filter.limit) out.resize(req_->filter.limit);
        break;
      }
      default: {
        ledger_stats total{};
        total.ledger = req_->ledger;
        for (const auto& q : queries_) {
          total.accounts += q->stats.accounts;
          total.transfers_posted += q->stats.transfers_posted;
          total.transfers_pending += q->stats.transfers_pending;
          total.volume_posted = add_saturating(total.volume_posted, q->stats.volume_posted);
        }
        req_->stats_out = total;
        break;
      }
    }
    sync_then_answer();
  }

  std::vector<query_ptr> queries_;
  std::uint32_t outstanding_ = 0;
};

// ---------------------------------------------------------------------------------------
// Owner side

bool try_grant(shard_state& st, claim_set& c) {
  auto& claimed = c.accounts ? st.claimed_accounts : st.claimed_transfers;
  for (const u128 k : c.keys) {
    const std::uint64_t* holder = claimed.find(k);
    if (holder != nullptr && *holder != c.batch) return false;
  }
  c.states.assign(c.keys.size(), key_state{});
  for (std::size_t i = 0; i < c.keys.size(); ++i) {
    const u128 k = c.keys[i];
    claimed.insert(k, c.batch);
    key_state& s = c.states[i];
    if (c.accounts) {
      if (const std::uint32_t* idx = st.account_index.find(k)) {
        s.found = true;
        s.account_record = st.account_records[*idx];
      }
    } else {
      if (const std::uint32_t* idx = st.record_index.find(k)) {
        s.found = true;
        s.record = st.records[*idx];
      }
      if (const ctr* f = st.failed.find(k)) s.failed = *f;
    }
  }
  return true;
}

// Claims are granted first come, first served per key: a claim never overtakes an earlier
// waiting claim on one of its keys. Otherwise a batch that needs many keys could wait
// forever behind a stream of single-key claims that each find their key free.
bool wanted_by_waiting(const shard_state& st, const claim_set& c) {
  const auto& wanted = c.accounts ? st.wanted_accounts : st.wanted_transfers;
  if (wanted.empty()) return false;
  for (const u128 k : c.keys)
    if (wanted.contains(k)) return true;
  return false;
}

void count_wanted(shard_state& st, const claim_set& c, bool add) {
  auto& wanted = c.accounts ? st.wanted_accounts : st.wanted_transfers;
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

void claim_or_wait(shard_pointer self, const claim_ptr& c) {
  auto& st = self->state;
  if (!wanted_by_waiting(st, *c) && try_grant(st, *c)) {
    send_to(self, c->driver, claimed_atom::value, c);
    return;
  }
  count_wanted(st, *c, true);
  st.waiting.push_back(c);
}

void grant_waiting(shard_pointer self) {
  auto& st = self->state;
  if (st.waiting.empty()) return;  // the common case: no tables to build
  // Keys of the claims that stay waiting, ahead of the one looked at.
  id_map<bool> blocked_transfers;
  id_map<bool> blocked_accounts;
  for (auto it = st.waiting.begin(); it != st.waiting.end();) {
    claim_set& c = **it;
    auto& blocked = c.accounts ? blocked_accounts : blocked_transfers;
    bool behind = false;
    for (const u128 k : c.keys) behind = behind || blocked.contains(k);
    if (!behind && try_grant(st, c)) {
      count_wanted(st, c, false);
      send_to(self, c.driver, claimed_atom::value, *it);
      it = st.waiting.erase(it);
      continue;
    }
    for (const u128 k : c.keys) blocked.insert(k, true);
    ++it;
  }
}

void add_history(shard_state& st, u128 account_id, std::uint32_t record) {
  std::uint32_t* newest = st.history_index.find(account_id);
  if (newest == nullptr) {
    st.history_index.insert(account_id, record);
    return;  // its links are no_record already
  }
  // Batches in flight together may release out of timestamp order: insert in place. A
  // record no older than every record so far goes first without reading the others (a
  // cache miss each).
  const std::uint64_t ts = st.records[record].t.timestamp;
  if (ts >= st.history_ts_max) {
    st.history_ts_max = ts;
    st.older(record, account_id) = *newest;
    *newest = record;
    return;
  }
  std::uint32_t* link = newest;  // the link that will point at the record
  while (*link != shard_state::no_record && st.records[*link].t.timestamp > ts)
    link = &st.older(*link, account_id);
  st.older(record, account_id) = *link;
  *link = record;
}

// Stores a transfer this shard owns, with its history, stats and expiry.
void add_record(shard_state& st, const transfer_record& rec) {
  const auto idx = static_cast<std::uint32_t>(st.records.size());
  st.records.push_back(rec);
  st.history_links.emplace_back();
  const bool inserted = st.record_index.insert(rec.t.id, idx);
  REMIT_ASSERT(inserted);
  add_history(st, rec.t.debit_account_id, idx);
  add_history(st, rec.t.credit_account_id, idx);
  ledger_stats& s = st.stats_of(rec.t.ledger);
  switch (kind_of(rec.t)) {
    case transfer_kind::plain:
    case transfer_kind::post:
      s.transfers_posted += 1;
      s.volume_posted = add_saturating(s.volume_posted, rec.t.amount);
      break;
    case transfer_kind::pending:
      if (rec.state == pending_state::pending) {
        s.transfers_pending += 1;
        if (rec.expires_at_ns != 0) st.expiries.emplace(rec.expires_at_ns, idx);
      }
      break;
    case transfer_kind::void_:
      break;
  }
}

void add_account_record(shard_state& st, const account& a) {
  st.account_index.insert(a.id, static_cast<std::uint32_t>(st.account_records.size()));
  st.account_records.push_back(a);
  st.stats_of(a.ledger).accounts += 1;
}

void apply_release(shard_pointer self, release_set& r) {
  auto& st = self->state;
  if (r.accounts) {
    for (const account& a : r.new_accounts) add_account_record(st, a);
  } else {
    for (const transfer_record& rec : r.new_transfers) add_record(st, rec);
    for (const auto& [id, state] : r.resolved) {
      transfer_record& rec = st.records[st.record_index.at(id)];
      REMIT_ASSERT(rec.state == pending_state::pending);
      rec.state = state;
      ledger_stats& s = st.stats_of(rec.t.ledger);
      REMIT_ASSERT(s.transfers_pending > 0);
      s.transfers_pending -= 1;
    }
    for (const auto& [id, code] : r.failures) st.failed.insert(id, code);
  }
  auto& claimed = r.accounts ? st.claimed_accounts : st.claimed_transfers;
  for (const u128 k : r.keys) claimed.erase(k);
  grant_waiting(self);
}

void answer_query(shard_pointer self, shard_query& q) {
  auto& st = self->state;
  switch (q.what) {
    case shard_query::kind::lookup_transfers:
      q.found.assign(q.ids.size(), -1);
      for (std::size_t i = 0; i < q.ids.size(); ++i) {
        if (const std::uint32_t* idx = st.record_index.find(q.ids[i])) {
          q.found[i] = static_cast<std::int32_t>(q.out.size());
          q.out.push_back(st.records[*idx].t);
        }
      }
      break;
    case shard_query::kind::history: {
      const account_filter& f = q.filter;
      const std::uint32_t* newest =
          f.account_id == 0 ? nullptr : st.history_index.find(f.account_id);
      if (newest == nullptr) break;
      const bool reversed = (f.flags & account_filter_flags::reversed) != 0;
      const auto take = [&](std::uint32_t idx) {
        const transfer& t = st.records[idx].t;
        if (filter_matches(f, t)) q.out.push_back(t);
        return q.out.size() < f.limit;
      };
      if (reversed) {  // newest first: the list's own order
        for (std::uint32_t r = *newest; r != shard_state::no_record && take(r);)
          r = st.older(r, f.account_id);
      } else {  // oldest first: the list is walked once, then read backwards
        std::vector<std::uint32_t> list;
        for (std::uint32_t r = *newest; r != shard_state::no_record; r = st.older(r, f.account_id))
          list.push_back(r);
        for (auto it = list.rbegin(); it != list.rend() && take(*it);) ++it;
      }
      break;
    }
    case shard_query::kind::stats:
      if (auto it = st.stats.find(q.ledger); it != st.stats.end()) q.stats = it->second;
      break;
  }
  send_to(self, q.driver, done_atom::value, q.job);
}

// Releases the open pending transfers whose expiry has passed and that no batch holds.
void sweep_expired(shard_pointer self) {
  auto& st = self->state;
  const std::uint64_t now = st.cfg.clock();
  std::vector<shard_state::expiry_entry> held;
  wave_builder builder;
  auto expired = caf::make_counted<journal_batch>();
  while (!st.expiries.empty() && st.expiries.top().first <= now) {
    const auto entry = st.expiries.top();
    st.expiries.pop();
    transfer_record& rec = st.records[entry.second];
    if (rec.state != pending_state::pending) continue;
    if (st.claimed_transfers.contains(rec.t.id)) {
      held.push_back(entry);  // a post or void holds it; look again next time
      continue;
    }
    rec.state = pending_state::expired;
    expired->add(journal::record_type::pendings_expired, rec.t.id);
    ledger_stats& s = st.stats_of(rec.t.ledger);
    REMIT_ASSERT(s.transfers_pending > 0);
    s.transfers_pending -= 1;
    for (const bool debit : {true, false}) {
      const u128 id = debit ? rec.t.debit_account_id : rec.t.credit_account_id;
      const dir_entry* d = st.directory.find(id);
      REMIT_ASSERT(d != nullptr);
      wave_entry w;
      w.op = entry_op::release;
      w.debit = debit;
      w.amount = rec.t.amount;
      builder.add(d->where, w);
    }
  }
  for (const auto& e : held) st.expiries.push(e);
  if (builder.empty()) return;
  if (st.cfg.journal) send_to(self, st.cfg.journal, append_atom::value, expired);
  builder.send(self, 0);
}

shard_actor::behavior_type shard_behavior(shard_pointer self, shard_config cfg) {
  self->state.cfg = std::move(cfg);
  open_exit_activation(self);
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
    std::fprintf(stderr, "remit: exception in a coordinator shard; stopping\n");
    std::abort();
  });
  self->delayed_send(self, std::chrono::milliseconds(self->state.cfg.expiry_interval_ms),
                     tick_atom::value);
  return {
      [self](request_atom, const request_ptr& req) {
        const auto handoff = received(self);
        auto& st = self->state;
        // Job ids are unique across shards: claims name their batch by it.
        const std::uint64_t id = st.unique();
        std::unique_ptr<job> j;
        switch (req->op) {
          case request_op::create_transfers:
            j = std::make_unique<transfer_batch>(self, id, req);
            break;
          case request_op::create_accounts:
            j = std::make_unique<account_batch>(self, id, req);
            break;
          case request_op::lookup_accounts:
            j = std::make_unique<lookup_accounts_job>(self, id, req);
            break;
          case request_op::set_account_controls:
            j = std::make_unique<controls_job>(self, id, req);
            break;
          case request_op::lookup_transfers:
          case request_op::get_account_transfers:
          case request_op::get_ledger_stats:
            j = std::make_unique<query_job>(self, id, req);
            break;
        }
        job* raw = j.get();
        st.jobs.emplace(id, std::move(j));
        raw->start();
      },
      [self](peers_atom, const std::vector<caf::actor>& peers) {
        const auto handoff = received(self);
        for (const auto& p : peers) self->state.peers.push_back(caf::actor_cast<shard_actor>(p));
      },
      [self](claim_atom, const claim_ptr& c) {
        const auto handoff = received(self);
        claim_or_wait(self, c);
      },
      [self](claimed_atom, const claim_ptr& c) {
        const auto handoff = received(self);
        auto it = self->state.jobs.find(c->batch);
        REMIT_ASSERT(it != self->state.jobs.end());
        it->second->on_claimed(c);
      },
      [self](release_atom, const release_ptr& r) {
        const auto handoff = received(self);
        apply_release(self, *r);
      },
      [self](register_atom, const directory_ptr& d) {
        const auto handoff = received(self);
        for (std::size_t i = 0; i < d->addresses.size(); ++i)
          self->state.directory.insert(d->addresses[i].first,
                                       dir_entry{d->addresses[i].second, d->ledgers[i]});
      },
      [self](query_atom, const query_ptr& q) {
        const auto handoff = received(self);
        answer_query(self, *q);
      },
      [self](done_atom, const std::uint64_t& job_id) {
        const auto handoff = received(self);
        auto it = self->state.jobs.find(job_id);
        REMIT_ASSERT(it != self->state.jobs.end());
        it->second->on_done();
      },
      [self](synced_atom, const std::uint64_t& job_id, const bool& ok) {
        const auto handoff = received(self);
        auto it = self->state.jobs.find(job_id);
        REMIT_ASSERT(it != self->state.jobs.end());
        it->second->on_synced(ok);
      },
      [self](restore_atom, const restore_ptr& r) {
        const auto handoff = received(self);
        auto& st = self->state;
        for (std::size_t i = 0; i < r->addresses.size(); ++i)
          st.directory.insert(r->addresses[i].first,
                              dir_entry{r->addresses[i].second, r->ledgers[i]});
        for (const account& a : r->owned_accounts) add_account_record(st, a);
        for (const transfer_record& rec : r->owned_transfers) add_record(st, rec);
        for (const auto& [id, code] : r->owned_failures) st.failed.insert(id, code);
      },
      [self](tick_atom) {
        const auto handoff = received(self);
        sweep_expired(self);
        self->delayed_send(self, std::chrono::milliseconds(self->state.cfg.expiry_interval_ms),
                           tick_atom::value);
      },
  };
}

}  // namespace

shard_actor spawn_shard(caf::actor_system& sys, shard_config cfg) {
  return sys.spawn(shard_behavior, std::move(cfg));
}

}  // namespace remit::actors
