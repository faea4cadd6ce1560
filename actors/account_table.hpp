// The accounts of one host (account_host.hpp): their committed state, and the activations
// of those that hold reservations. A plain object, used only from its host's turns; the
// tests drive it directly.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "actors/messages.hpp"
#include "engine/rules.hpp"

namespace remit::actors {

struct reservation {
  std::uint64_t key = 0;  // names it in the decide (and adjust) entry
  std::uint64_t chain = 0;
  std::uint64_t timestamp = 0;
  u128 amount = 0;          // held amount (plain/pending) or amount to post (post)
  u128 pending_amount = 0;  // post and void
  transfer_kind kind = transfer_kind::plain;
  bool debit = false;
};

// What an account has while it holds reservations: its activation. An account without one
// is only its committed state; the first reservation activates it, and the decision that
// leaves it holding nothing passivates it again.
struct account_activation {
  holds h;
  std::vector<reservation> inflight;  // in reservation order
};

struct account_cell {
  static constexpr std::uint32_t passive = UINT32_MAX;
  account_state s;
  std::uint32_t active = passive;  // index of its activation, while it has one
};

class account_table {
 public:
  // Applies one entry of a wave to its account (`e.local`): replies, lookups and controls go
  // through the wave's slots.
  void handle(const wave_entry& e, wave& w);

  // Creates an account at `local`. Creations by several drivers may arrive out of order,
  // but each before anything else names the account.
  void create(std::uint32_t local, const account_state& initial);

  // The account at `local`, which must exist.
  account_cell& cell(std::uint32_t local);
  // Starts loading the account at `local` into the cache, if it exists: a host handles a
  // group's entries one after the other, and each account is a cache miss of its own.
  void prefetch(std::uint32_t local) const {
    const std::uint32_t c = local >> chunk_bits;
    if (c >= chunks_.size() || chunks_[c] == nullptr) return;
    const account_cell* a = &chunks_[c][local & (chunk_size - 1)];
    __builtin_prefetch(&a->s.a, 1);
    __builtin_prefetch(&a->active, 1);
  }
  const account_state& state(std::uint32_t local) { return cell(local).s; }
  // What it holds for undecided reservations (nothing when passive).
  holds held(std::uint32_t local);
  bool is_active(std::uint32_t local) { return cell(local).active != account_cell::passive; }

  std::uint32_t active_count() const { return active_count_; }
  // Activation records allocated so far (reused after passivation).
  std::size_t activation_records() const { return activations_.size(); }

 private:
  static constexpr std::uint32_t chunk_bits = 10;
  static constexpr std::uint32_t chunk_size = 1u << chunk_bits;

  account_activation& activate(account_cell& a);
  void passivate(account_cell& a);
  void decide(account_cell& a, const wave_entry& e);
  leg_reply reserve(account_cell& a, const wave_entry& e);
  void adjust(account_cell& a, std::uint64_t key, u128 amount);

  // The accounts, by their index in this host, in chunks that never move.
  std::vector<std::unique_ptr<account_cell[]>> chunks_;
  std::vector<account_activation> activations_;  // by index; the free ones are listed in `unused_`
  std::vector<std::uint32_t> unused_;
  std::uint32_t active_count_ = 0;
};

}  // namespace remit::actors
