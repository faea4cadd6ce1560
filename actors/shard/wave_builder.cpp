#include "actors/shard/wave_builder.hpp"

#include "actors/account_host.hpp"

namespace remit::actors {

wave_ptr wave_builder::send(shard_pointer self, std::uint64_t job) {
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

wave_ptr wave_builder::take_wave(std::vector<wave_ptr>& pool) {
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

}  // namespace remit::actors
