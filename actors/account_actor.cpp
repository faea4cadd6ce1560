#include "actors/account_actor.hpp"

#include <vector>

#include "engine/assert.hpp"

namespace remit::actors {

namespace {

struct reservation {
  cell_ptr cell;  // where the driver publishes the decision
  std::uint64_t key = 0;
  std::uint64_t chain = 0;
  std::uint64_t timestamp = 0;
  u128 amount = 0;          // held amount (plain/pending) or amount to post (post)
  u128 pending_amount = 0;  // post and void
  transfer_kind kind = transfer_kind::plain;
  bool debit = false;
};

struct account_actor_state {
  account_state s;
  holds h;
  std::vector<reservation> inflight;  // in reservation order

  void add_hold(const reservation& r) {
    if (r.kind != transfer_kind::plain && r.kind != transfer_kind::pending) return;
    if (r.debit) {
      h.debits += r.amount;
      h.daily_debits += r.amount;
    } else {
      h.credits += r.amount;
    }
  }
  void drop_hold(const reservation& r) {
    if (r.kind != transfer_kind::plain && r.kind != transfer_kind::pending) return;
    if (r.debit) {
      REMIT_ASSERT(h.debits >= r.amount && h.daily_debits >= r.amount);
      h.debits -= r.amount;
      h.daily_debits -= r.amount;
    } else {
      REMIT_ASSERT(h.credits >= r.amount);
      h.credits -= r.amount;
    }
  }

  static void apply(account_state& st, const reservation& r, u128 amount) {
    switch (r.kind) {
      case transfer_kind::plain:
      case transfer_kind::pending:
        if (r.debit) {
          apply_debit(st, r.kind, amount, r.timestamp);
        } else {
          apply_credit(st, r.kind, amount);
        }
        break;
      case transfer_kind::post:
      case transfer_kind::void_:
        if (r.debit) {
          apply_resolve_debit(st, r.pending_amount, amount);
        } else {
          apply_resolve_credit(st, r.pending_amount, amount);
        }
        break;
    }
  }

  // Reserves one leg, or says why not.
  leg_reply reserve(const wave_entry& e) {
    // The view this leg is checked against: committed state, plus this chain's own earlier
    // reservations as if committed; the holds of everyone else.
    const account_state* view = &s;
    account_state overlay;
    holds others = h;
    if (e.chain != 0) {
      bool any = false;
      for (const reservation& r : inflight) {
        if (r.chain != e.chain) continue;
        if (!any) overlay = s;
        any = true;
        apply(overlay, r, r.amount);
        if (r.kind == transfer_kind::plain || r.kind == transfer_kind::pending) {
          if (r.debit) {
            others.debits -= r.amount;
            others.daily_debits -= r.amount;
          } else {
            others.credits -= r.amount;
          }
        }
      }
      if (any) view = &overlay;
    }

    leg_reply out;
    reservation r{cell_ptr{e.cell}, e.key,  e.chain, e.timestamp, e.amount,
                  e.pending_amount, e.kind, e.debit};
    if (e.kind == transfer_kind::plain || e.kind == transfer_kind::pending) {
      u128 amount = e.amount;
      create_transfer_result code = create_transfer_result::ok;
      if (e.balancing) {
        const u128 room =
            e.debit ? balancing_debit_room(*view, others) : balancing_credit_room(*view, others);
        if (room == 0)
          code = e.debit ? create_transfer_result::exceeds_credits
                         : create_transfer_result::exceeds_debits;
        amount = std::min(amount, room);
      }
      code = first_failure(code, e.debit ? check_debit(*view, e.kind, amount, e.timestamp, others)
                                         : check_credit(*view, e.kind, amount, others));
      out = leg_reply{code, amount};
      r.amount = amount;
    } else {
      // The pending amount is already in the balances; a post only adds to posted.
      create_transfer_result code = create_transfer_result::ok;
      if (e.kind == transfer_kind::post)
        code = e.debit ? check_post_debit(*view, e.amount) : check_post_credit(*view, e.amount);
      out = leg_reply{code, e.amount};
    }
    if (out.code == create_transfer_result::ok) {
      add_hold(r);
      inflight.push_back(std::move(r));
    }
    return out;
  }

  // Lowers a held reservation to the amount its transfer will move. With both balancing
  // flags the credit side reserves first what it can take, and the debit side may then allow
  // less: from then on the hold, and the view of the chain's later legs, must be the
  // decided amount, not the first side's.
  void adjust(std::uint64_t key, u128 amount) {
    for (reservation& r : inflight) {
      if (r.key != key) continue;
      REMIT_ASSERT(amount <= r.amount);
      REMIT_ASSERT(r.kind == transfer_kind::plain || r.kind == transfer_kind::pending);
      drop_hold(r);
      r.amount = amount;
      add_hold(r);
      return;
    }
    // Not held any more: its transfer was decided (a later step of its chain failed at the
    // driver) and settle() already dropped the hold it had added.
  }

  // Applies every published decision, in reservation order.
  void settle() {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < inflight.size(); ++i) {
      reservation& r = inflight[i];
      const decision_cell& d = *r.cell;
      const auto state = static_cast<decision>(d.state.load(std::memory_order_acquire));
      if (state == decision::undecided) {
        if (kept != i) inflight[kept] = std::move(r);
        ++kept;
        continue;
      }
      drop_hold(r);
      if (state == decision::commit) {
        REMIT_ASSERT(d.amount <= r.amount || r.kind == transfer_kind::void_);
        apply(s, r, d.amount);
      }
    }
    inflight.resize(kept);
  }
};

using account_pointer = account_actor::stateful_pointer<account_actor_state>;

account_actor::behavior_type account_behavior(account_pointer self, account_state initial) {
  self->state.s = initial;
  return {
      [self](step_atom, const wave_ptr& w, const std::uint32_t& group) {
        const auto handoff = received(self);
        count(work::account_message);
        auto& st = self->state;
        st.settle();
        const wave_group& g = w->groups[group];
        for (std::uint32_t i = g.begin; i < g.end; ++i) {
          const wave_entry& e = w->entries[i];
          switch (e.op) {
            case entry_op::reserve:
              w->replies[e.slot] = st.reserve(e);
              break;
            case entry_op::release:
              if (e.debit) {
                apply_resolve_debit(st.s, e.amount, 0);
              } else {
                apply_resolve_credit(st.s, e.amount, 0);
              }
              break;
            case entry_op::lookup:
              w->accounts_out[e.slot] = st.s.a;
              break;
            case entry_op::set_controls:
              st.s.controls = w->controls_in[e.slot];
              break;
            case entry_op::adjust:
              st.adjust(e.key, e.amount);
              break;
          }
        }
        if (w->job != 0 && w->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1)
          send_to(self, w->driver, done_atom::value, w->job);
      },
  };
}

}  // namespace

account_actor spawn_account(caf::actor_system& sys, const account_state& initial) {
  return sys.spawn<caf::lazy_init>(account_behavior, initial);
}

}  // namespace remit::actors
