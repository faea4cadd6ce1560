#include "actors/account_host.hpp"

#include <memory>
#include <vector>

#include "actors/account_table.hpp"
#include "engine/assert.hpp"

namespace remit::actors {

namespace {

void add_hold(holds& h, const reservation& r) {
  if (r.kind != transfer_kind::plain && r.kind != transfer_kind::pending) return;
  if (r.debit) {
    h.debits += r.amount;
    h.daily_debits += r.amount;
  } else {
    h.credits += r.amount;
  }
}

void drop_hold(holds& h, const reservation& r) {
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

void apply(account_state& st, const reservation& r, u128 amount) {
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

}  // namespace

account_cell& account_table::cell(std::uint32_t local) {
  const std::uint32_t c = local >> chunk_bits;
  REMIT_ASSERT(c < chunks_.size() && chunks_[c] != nullptr);
  account_cell& a = chunks_[c][local & (chunk_size - 1)];
  REMIT_ASSERT(a.s.a.id != 0);
  return a;
}

holds account_table::held(std::uint32_t local) {
  const account_cell& a = cell(local);
  return a.active == account_cell::passive ? holds{} : activations_[a.active].h;
}

void account_table::create(std::uint32_t local, const account_state& initial) {
  const std::uint32_t c = local >> chunk_bits;
  if (c >= chunks_.size()) chunks_.resize(c + 1);
  if (chunks_[c] == nullptr) chunks_[c] = std::make_unique<account_cell[]>(chunk_size);
  account_cell& a = chunks_[c][local & (chunk_size - 1)];
  REMIT_ASSERT(a.s.a.id == 0 && initial.a.id != 0);
  a.s = initial;
}

account_activation& account_table::activate(account_cell& a) {
  if (a.active != account_cell::passive) return activations_[a.active];
  if (unused_.empty()) {
    a.active = static_cast<std::uint32_t>(activations_.size());
    activations_.emplace_back();
  } else {
    a.active = unused_.back();
    unused_.pop_back();
  }
  ++active_count_;
  return activations_[a.active];
}

void account_table::passivate(account_cell& a) {
  account_activation& act = activations_[a.active];
  REMIT_ASSERT(act.inflight.empty());
  REMIT_ASSERT(act.h.debits == 0 && act.h.credits == 0 && act.h.daily_debits == 0);
  unused_.push_back(a.active);
  a.active = account_cell::passive;
  --active_count_;
}

// Applies the decision on one held reservation (found by its key) and drops its hold; the
// others keep their order. The account is passivated when it holds nothing more.
void account_table::decide(account_cell& a, const wave_entry& e) {
  REMIT_ASSERT(a.active != account_cell::passive);
  account_activation& act = activations_[a.active];
  auto it = act.inflight.begin();
  while (it != act.inflight.end() && it->key != e.key) ++it;
  REMIT_ASSERT(it != act.inflight.end());
  drop_hold(act.h, *it);
  if (e.verdict == decision::commit) {
    REMIT_ASSERT(e.amount <= it->amount || it->kind == transfer_kind::void_);
    apply(a.s, *it, e.amount);
  } else {
    REMIT_ASSERT(e.verdict == decision::abort);
  }
  act.inflight.erase(it);
  if (act.inflight.empty()) passivate(a);
}

// Reserves one leg, or says why not.
leg_reply account_table::reserve(account_cell& a, const wave_entry& e) {
  // The view this leg is checked against: committed state, plus this chain's own earlier
  // reservations as if committed; the holds of everyone else.
  const account_state* view = &a.s;
  account_state overlay;
  holds others;
  if (a.active != account_cell::passive) {
    const account_activation& act = activations_[a.active];
    others = act.h;
    if (e.chain != 0) {
      bool any = false;
      for (const reservation& r : act.inflight) {
        if (r.chain != e.chain) continue;
        if (!any) overlay = a.s;
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
  }

  leg_reply out;
  reservation r{e.key, e.chain, e.timestamp, e.amount, e.pending_amount, e.kind, e.debit};
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
    account_activation& act = activate(a);
    add_hold(act.h, r);
    act.inflight.push_back(r);
  }
  return out;
}

// Lowers a held reservation to the amount its transfer will move. With both balancing
// flags the credit side reserves first what it can take, and the debit side may then allow
// less: from then on the hold, and the view of the chain's later legs, must be the
// decided amount, not the first side's.
void account_table::adjust(account_cell& a, std::uint64_t key, u128 amount) {
  if (a.active == account_cell::passive) return;  // see below
  account_activation& act = activations_[a.active];
  for (reservation& r : act.inflight) {
    if (r.key != key) continue;
    REMIT_ASSERT(amount <= r.amount);
    REMIT_ASSERT(r.kind == transfer_kind::plain || r.kind == transfer_kind::pending);
    drop_hold(act.h, r);
    r.amount = amount;
    add_hold(act.h, r);
    return;
  }
  // Not held any more: its transfer was decided (a later step of its chain failed at the
  // driver) and its decide entry came first.
}

void account_table::handle(const wave_entry& e, wave& w) {
  if (e.op == entry_op::create) return create(e.local, w.creates_in[e.slot]);
  account_cell& a = cell(e.local);
  switch (e.op) {
    case entry_op::reserve:
      w.replies[e.slot] = reserve(a, e);
      break;
    case entry_op::release:
      if (e.debit) {
        apply_resolve_debit(a.s, e.amount, 0);
      } else {
        apply_resolve_credit(a.s, e.amount, 0);
      }
      break;
    case entry_op::lookup:
      w.accounts_out[e.slot] = a.s.a;
      break;
    case entry_op::set_controls:
      a.s.controls = w.controls_in[e.slot];
      break;
    case entry_op::adjust:
      adjust(a, e.key, e.amount);
      break;
    case entry_op::decide:
      decide(a, e);
      break;
    case entry_op::create:
      break;
  }
}

namespace {

// The host's state: its accounts.
struct account_host_state {
  std::uint32_t index = 0;  // among the engine's hosts
  account_table table;
};

using host_pointer = account_host::stateful_pointer<account_host_state>;

// Takes its index as an argument: CAF 0.17 spawns a function of `self` alone through a
// null tuple pointer, which UBSan reports.
account_host::behavior_type host_behavior(host_pointer self, std::uint32_t index) {
  self->state.index = index;
  // The engine stops its hosts with an exit message; the state is destroyed after it, and
  // that must come after every activation for ThreadSanitizer too (messages.hpp).
  open_exit_activation(self);
  return {
      [self](step_atom, const wave_ptr& w, const std::uint32_t& group) {
        const auto handoff = received(self);
        count(work::account_message);
        const wave_group& g = w->groups[group];
        account_table& t = self->state.table;
        constexpr std::uint32_t ahead = 8;  // entries whose accounts are loading meanwhile
        for (std::uint32_t i = g.begin; i < g.end && i < g.begin + ahead; ++i)
          t.prefetch(w->entries[i].local);
        for (std::uint32_t i = g.begin; i < g.end; ++i) {
          if (i + ahead < g.end) t.prefetch(w->entries[i + ahead].local);
          t.handle(w->entries[i], *w);
        }
        if (w->job != 0 && w->outstanding.fetch_sub(1, std::memory_order_acq_rel) == 1)
          send_to(self, w->driver, done_atom::value, w->job);
      },
  };
}

}  // namespace

account_host spawn_account_host(caf::actor_system& sys, std::uint32_t index) {
  return sys.spawn<caf::lazy_init>(host_behavior, index);
}

account_hosts::account_hosts(caf::actor_system& sys, std::uint32_t count)
    : handles_(count), next_local_(std::make_unique<std::atomic<std::uint32_t>[]>(count)) {
  REMIT_ASSERT(count > 0);
  for (std::uint32_t i = 0; i < count; ++i) handles_[i] = spawn_account_host(sys, i);
  for (std::uint32_t i = 0; i < count; ++i) next_local_[i].store(0, std::memory_order_relaxed);
}

account_address account_hosts::place(u128 id) {
  // The low half of the hash: owner_of takes the high half, so hosts and owners are
  // independent of each other.
  const auto host = static_cast<std::uint32_t>(static_cast<std::uint32_t>(hash_id(id)) %
                                               static_cast<std::uint32_t>(handles_.size()));
  const std::uint32_t local = next_local_[host].fetch_add(1, std::memory_order_relaxed);
  REMIT_ASSERT(local != UINT32_MAX);
  return account_address{host, local};
}

}  // namespace remit::actors
