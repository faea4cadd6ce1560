// The wave builder: collects the entries of one round for the account hosts and sends one
// message per host (actors/messages.hpp says why a round is built this way).
#pragma once

#include <cstdint>
#include <vector>

#include "actors/messages.hpp"
#include "actors/shard/driver.hpp"

namespace remit::actors {

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
  wave_ptr send(shard_pointer self, std::uint64_t job);

 private:
  // A pooled wave that nothing else references any more (the accounts' messages may
  // outlive the round by a moment), or a new one.
  static wave_ptr take_wave(std::vector<wave_ptr>& pool);

  static constexpr std::uint32_t no_group = UINT32_MAX;
  std::vector<wave_entry> entries_;
  std::vector<std::uint32_t> hosts_;     // by group: its host
  std::vector<std::uint32_t> group_of_;  // by host: its group, or no_group
  std::vector<controls_state> controls_;
  std::vector<account_state> creates_;
  std::uint32_t reply_slots_ = 0;
  std::uint32_t lookup_slots_ = 0;
};

}  // namespace remit::actors
