// Accounts and the actors that host them.
//
// An account is an actor in the model's sense: the only writer of its balances, applying
// what reaches it one entry at a time, in order. It is not a CAF actor of its own, which
// would cost about 1 KB and a message per leg: accounts live in a fixed set of CAF actors,
// the account hosts, each the serial executor of the accounts placed on it (by a hash of
// the id; `account_hosts::place`). A wave (messages.hpp) carries one group per host, whose
// entries the host applies in order: entries of one account keep their order, so every
// account sees exactly the sequence it would have seen as an actor of its own.
//
// An account is its committed state (~250 bytes) until it holds a reservation: the first
// reservation activates it (an `account_activation`: its holds and undecided reservations),
// and the decide entry that leaves it holding nothing passivates it. Both happen inside the host's
// own turn, so there is no window in which a message could reach an account being passivated, and
// nothing else ever reads the state.
//
// A reservation checks a leg with the same rules as the serial ledger (engine/rules.hpp),
// counting the holds of every other undecided transfer: their debits like pending debits,
// their credits not at all as available funds. A leg of a linked chain also sees the
// chain's own earlier reservations on this account as if they were committed (the per-chain
// overlay), so a credit made earlier in the chain can fund a later debit of the same chain.
// A reservation that passed stays valid whatever the other in-flight transfers do.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "actors/messages.hpp"
#include "engine/id_map.hpp"
#include "engine/rules.hpp"

namespace remit::actors {

// The hosts of one engine, and where each new account goes. Shared by every shard; `place`
// may be called from any of them at once.
class account_hosts {
 public:
  account_hosts(caf::actor_system& sys, std::uint32_t count);

  // The host of a new account and its index there. Each id is placed once (its creation
  // is claimed at its owner), and the host learns of it by a `create` entry that its
  // creator sends before it tells anyone else of the account.
  account_address place(u128 id);

  const account_host& host(std::uint32_t index) const { return handles_[index]; }
  std::uint32_t count() const { return static_cast<std::uint32_t>(handles_.size()); }

 private:
  std::vector<account_host> handles_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> next_local_;
};

}  // namespace remit::actors
