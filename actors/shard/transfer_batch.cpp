// CREATE_TRANSFERS: a batch of transfers, run by its driver shard (actors/shard.hpp).
#include <deque>
#include <span>
#include <utility>
#include <vector>

#include "actors/shard/driver.hpp"
#include "actors/shard/plan.hpp"
#include "actors/shard/wave_builder.hpp"
#include "engine/assert.hpp"

namespace remit::actors {

namespace {

using ctr = create_transfer_result;

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

  void on_claimed() override {
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
  // The rounds of the step in flight: one round with both legs, or two rounds with one leg
  // each (a balancing side first, then the other side with the amount it allowed), and with
  // both balancing flags perhaps a third.
  enum class phase : std::uint8_t {
    idle,
    both_legs,
    first_of_two,   // the balancing side
    second_of_two,  // the other side, with the amount the first allowed
    credit_again,   // the credit side again, with the amount the debit side allowed (both
                    // balancing flags, after an overflow at the first)
  };
  // A unit's progress (its shape is in plan_.units).
  struct unit {
    std::uint32_t step = 0;   // the event in flight
    std::uint32_t deps = 0;   // earlier units not yet done
    std::uint64_t chain = 0;  // the chain's key at the accounts; 0: a single event
    bool done = false;
    phase ph = phase::idle;
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
    plan_ =
        plan_batch(std::span<const transfer>(req_->transfers), std::span<const ctr>(alone_),
                   [&](u128 pending_id) -> std::optional<pending_accounts> {
                     const tkey& pk = tkeys_[claims_.index_of(pending_id)];
                     if (!pk.found) return std::nullopt;
                     return pending_accounts{pk.rec.t.debit_account_id, pk.rec.t.credit_account_id};
                   });
    units_.resize(plan_.units.size());
    for (std::uint32_t u = 0; u < units_.size(); ++u) {
      const planned_unit& p = plan_.units[u];
      unit& un = units_[u];
      un.step = p.first;
      un.deps = p.deps;
      un.chain = p.chain ? self_->state.unique() : 0;
      if (un.deps == 0) ready_.push_back(u);
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

  const dir_entry* account_of(u128 id) const { return self_->state.account_of(id); }

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
    const planned_unit& plan = plan_.units[u];
    const std::uint32_t e = un.step;
    const transfer& t = req_->transfers[e];
    const std::uint64_t ts = req_->timestamp_base + e;
    un.leg_count = 0;
    un.pre_code = ctr::ok;
    if (plan.open) return fail(u, plan.last, ctr::linked_event_chain_open);  // fails whole
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
        un.ph = phase::both_legs;
        emit_leg(un, e, *dr, true, false, t.amount, 0);
        emit_leg(un, e, *cr, false, false, t.amount, 0);
      } else if (bc) {
        un.ph = phase::first_of_two;  // the credit side first; the debit side then gets what
                                      // it allowed
        emit_leg(un, e, *cr, false, true, t.amount, 0);
      } else {
        un.ph = phase::first_of_two;
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
    un.ph = phase::both_legs;
    emit_leg(un, e, *dr, true, false, posted, p.amount);
    emit_leg(un, e, *cr, false, false, posted, p.amount);
    in_flight_.push_back(u);
  }

  void handle_replies(std::uint32_t u, const wave& w) {
    unit& un = units_[u];
    const std::uint32_t e = un.step;
    const transfer& t = req_->transfers[e];
    const transfer_kind kind = kind_of(t);

    if (un.ph == phase::first_of_two) {
      // The balancing side answered; the other side gets the amount it allowed, even when
      // it failed (then 0), so that the smallest code of both sides is the one reported.
      un.first_reply = w.replies[un.legs[0].slot];
      un.ph = phase::second_of_two;
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
    if (un.ph == phase::both_legs) {
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
    } else if (un.ph == phase::second_of_two) {
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
        un.ph = phase::credit_again;
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
      REMIT_ASSERT(un.ph == phase::credit_again);
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
    const bool first_held_more =
        un.ph == phase::second_of_two && reserved[0] && un.first_reply.amount > amount;
    un.ph = phase::idle;
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
    const planned_unit& p = plan_.units[u];
    if (e < p.last) {
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
    for (std::uint32_t i = p.first; i <= p.last; ++i) {
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
      const planned_unit& p = plan_.units[u];
      for (std::uint32_t i = p.first; i <= p.last; ++i)
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
    for (const std::uint32_t d : plan_.dependents_of(u)) {
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

  claim_requests claims_;
  journal_batch_ptr records_;  // decisions of the round being built
  std::uint32_t n_ = 0;
  std::vector<ctr> alone_;
  std::vector<tkey> tkeys_;
  batch_plan plan_;
  std::vector<unit> units_;
  std::deque<std::uint32_t> ready_;
  std::vector<std::uint32_t> in_flight_;
  std::size_t done_ = 0;
  wave_builder next_;
  wave_ptr current_;
};

}  // namespace

std::unique_ptr<job> make_transfer_batch(shard_pointer self, std::uint64_t id, request_ptr req) {
  return std::make_unique<transfer_batch>(self, id, std::move(req));
}

}  // namespace remit::actors
