// The conflict order of a batch of transfers, as a pure function (no actors, no state).
//
// A batch is cut into units: a linked chain, or one event. Events of a batch take effect as
// if applied in order (docs/ARCHITECTURE.md, "Order within a batch"), so a unit waits for
// the latest earlier unit that shares a key with it: a transfer id, a pending id, or an
// account. Units that share nothing go ahead in the same round. Each unit waits only for the
// latest earlier unit per key, which in turn waited for the ones before it, so the order is
// transitive without listing every earlier conflict.
//
// A post or void of a pending transfer touches the pending transfer's accounts: those of
// the stored record when the pending transfer exists, otherwise those of every earlier event
// of the batch that may create its id (which of them succeeds is known only when it runs).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "engine/id_map.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"

namespace remit::actors {

struct planned_unit {
  std::uint32_t first = 0;  // its first and last event (inclusive)
  std::uint32_t last = 0;
  bool chain = false;      // a linked chain (also a lone linked event at the batch's end)
  bool open = false;       // its last event is linked and ends the batch: it fails whole
  std::uint32_t deps = 0;  // the earlier units it waits for
};

struct batch_plan {
  std::vector<planned_unit> units;
  // The units that wait for unit u, in increasing order:
  // dependents[dependents_begin[u] .. dependents_begin[u + 1]).
  std::vector<std::uint32_t> dependents_begin;
  std::vector<std::uint32_t> dependents;

  [[nodiscard]] std::span<const std::uint32_t> dependents_of(std::uint32_t u) const {
    return std::span<const std::uint32_t>(dependents)
        .subspan(dependents_begin[u], dependents_begin[u + 1] - dependents_begin[u]);
  }
};

// The accounts of a pending transfer that exists before the batch.
struct pending_accounts {
  u128 debit = 0;
  u128 credit = 0;
};

// Plans `events`. `alone[i]` is event i's result of the checks of the event alone: an event
// that failed them conflicts with nothing. `existing(pending_id)` returns the accounts of
// an existing transfer, or nothing (std::optional<pending_accounts>).
template <class Existing>
[[nodiscard]] batch_plan plan_batch(std::span<const transfer> events,
                                    std::span<const create_transfer_result> alone,
                                    Existing&& existing);

// Implementation ------------------------------------------------------------------------

namespace plan_detail {
std::vector<planned_unit> cut_units(std::span<const transfer> events);
// Turns the (earlier, later) unit pairs into the plan's dependency counts and lists.
void link(batch_plan& plan, std::vector<std::pair<std::uint32_t, std::uint32_t>>& edges);
}  // namespace plan_detail

template <class Existing>
batch_plan plan_batch(std::span<const transfer> events,
                      std::span<const create_transfer_result> alone, Existing&& existing) {
  using ctr = create_transfer_result;
  batch_plan plan;
  plan.units = plan_detail::cut_units(events);
  const auto n = static_cast<std::uint32_t>(events.size());
  // Every event of the batch that may create each id, for posts of pendings made here.
  id_map<std::vector<std::uint32_t>> creators;
  for (std::uint32_t i = 0; i < n; ++i) {
    const transfer_kind kind = kind_of(events[i]);
    if (alone[i] == ctr::ok && (kind == transfer_kind::plain || kind == transfer_kind::pending))
      creators[events[i].id].push_back(i);
  }
  id_map<std::uint32_t> last_by_transfer;  // id -> unit + 1
  id_map<std::uint32_t> last_by_account;   // id -> unit + 1
  std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
  for (std::uint32_t u = 0; u < plan.units.size(); ++u) {
    const auto touch = [&](id_map<std::uint32_t>& last_by, u128 id) {
      if (id == 0) return;
      std::uint32_t& last = last_by[id];
      if (last != 0 && last - 1 != u) edges.emplace_back(last - 1, u);
      last = u + 1;
    };
    for (std::uint32_t e = plan.units[u].first; e <= plan.units[u].last; ++e) {
      if (alone[e] != ctr::ok) continue;
      const transfer& t = events[e];
      touch(last_by_transfer, t.id);
      const transfer_kind kind = kind_of(t);
      if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
        touch(last_by_account, t.debit_account_id);
        touch(last_by_account, t.credit_account_id);
        continue;
      }
      touch(last_by_transfer, t.pending_id);
      if (const std::optional<pending_accounts> p = existing(t.pending_id)) {
        touch(last_by_account, p->debit);
        touch(last_by_account, p->credit);
      } else if (const auto* made = creators.find(t.pending_id)) {
        for (const std::uint32_t c : *made) {
          if (c >= e) break;
          touch(last_by_account, events[c].debit_account_id);
          touch(last_by_account, events[c].credit_account_id);
        }
      }
    }
  }
  plan_detail::link(plan, edges);
  return plan;
}

}  // namespace remit::actors
