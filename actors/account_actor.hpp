// The account actor: owns one account's committed state and the holds of the transfers that
// are reserved on it but not yet decided (escrow). It is the only writer of its balances;
// every change reaches it as an entry of a wave (messages.hpp), applied in order.
//
// A reservation checks a leg with the same rules as the serial ledger (engine/rules.hpp),
// counting the holds of every other undecided transfer: their debits like pending debits,
// their credits not at all as available funds. A leg of a linked chain also sees the
// chain's own earlier reservations on this account as if they were committed (the per-chain
// overlay), so a credit made earlier in the chain can fund a later debit of the same chain.
// A reservation that passed stays valid whatever the other in-flight transfers do.
#pragma once

#include "actors/messages.hpp"
#include "engine/rules.hpp"

namespace remit::actors {

// Spawns an account actor with its initial (committed) state.
account_actor spawn_account(caf::actor_system& sys, const account_state& initial);

}  // namespace remit::actors
