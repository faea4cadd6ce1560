#include "actors/shard/plan.hpp"

#include <algorithm>

#include "engine/assert.hpp"

namespace remit::actors::plan_detail {

std::vector<planned_unit> cut_units(std::span<const transfer> events) {
  std::vector<planned_unit> units;
  const auto n = static_cast<std::uint32_t>(events.size());
  for (std::uint32_t i = 0; i < n;) {
    planned_unit u;
    u.first = i;
    while (i + 1 < n && (events[i].flags & transfer_flags::linked)) ++i;
    u.last = i;
    const bool last_linked = (events[i].flags & transfer_flags::linked) != 0;
    u.chain = u.last > u.first || last_linked;
    u.open = last_linked;  // only the batch's last event can be linked and end a unit
    units.push_back(u);
    ++i;
  }
  return units;
}

void link(batch_plan& plan, std::vector<std::pair<std::uint32_t, std::uint32_t>>& edges) {
  // A unit may reach the same earlier unit through several keys: count each pair once.
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  const std::size_t units = plan.units.size();
  plan.dependents_begin.assign(units + 1, 0);
  for (const auto& [earlier, later] : edges) {
    REMIT_ASSERT(earlier < later);
    plan.dependents_begin[earlier + 1] += 1;
    plan.units[later].deps += 1;
  }
  for (std::size_t u = 0; u < units; ++u) plan.dependents_begin[u + 1] += plan.dependents_begin[u];
  // Sorted by (earlier, later): the lists come out in place and in increasing order.
  plan.dependents.resize(edges.size());
  for (std::size_t i = 0; i < edges.size(); ++i) plan.dependents[i] = edges[i].second;
}

}  // namespace remit::actors::plan_detail
