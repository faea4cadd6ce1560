// Coordinator shards.
//
// A shard has two roles.
//
// Owner: every transfer id and account id has one owner, the shard its hash picks
// (`owner_of`). The owner keeps the id table (stored transfers and accounts, the failures
// remembered for `id_already_failed`), the state of open pending transfers and their
// expiry, the per-account history of its transfers, and the per-ledger statistics of what
// it owns. A batch claims its ids at their owners before any leg is reserved; a claim on an
// id that another batch holds waits until that batch releases it, so a retry of the same
// id on a second connection answers from the first attempt instead of running twice.
//
// Driver: the facade hands each request to one shard, which runs it. For a batch of
// transfers it (1) checks each event alone, (2) claims the batch's ids shard by shard in
// shard order (ordered acquisition: no deadlock between batches), (3) orders the events
// that conflict (share an account, a transfer id or a pending id) so that a later one
// starts only when every earlier conflicting one is decided and its commit enqueued, and
// (4) runs rounds: in each round every account touched gets one message (a wave group)
// carrying the decisions of the previous round followed by the new reservations. A linked
// chain is one unit whose legs reserve in order; it commits or aborts whole. (5) Last, it
// releases the claims with the outcome and answers.
//
// Every shard also keeps a replica of the account directory (id -> host, index there, ledger),
// updated by every account creation before it is answered, so drivers route legs without asking.
//
// The parts, one file each in actors/shard/: owner_store (what an owner keeps; no actors),
// claim_table (the owner side of claims; no actors), plan (a batch's conflict order, a pure
// function), driver (the shard's state, the job base and a job's claims), wave_builder, and
// the jobs: transfer_batch, account_jobs, query_job. shard.cpp is the behaviour that joins
// them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "actors/messages.hpp"
#include "engine/id_map.hpp"

namespace remit::actors {

class account_hosts;

struct shard_config {
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  std::function<std::uint64_t()> clock;  // ns since the epoch
  std::uint32_t expiry_interval_ms = 250;
  journal_actor journal;                 // invalid when durability is off
  std::shared_ptr<account_hosts> hosts;  // where the accounts live, shared by every shard
  // The requests a shard may drive at once: at most every request the facade lets in
  // (engine_config::inflight_requests_max).
  std::uint32_t jobs_max = 4096;
};

inline std::uint32_t owner_of(u128 id, std::uint32_t shard_count) {
  // The high half of the hash: id_map indexes by the low bits, so the two stay independent.
  return static_cast<std::uint32_t>((hash_id(id) >> 32) % shard_count);
}

shard_actor spawn_shard(caf::actor_system& sys, shard_config cfg);

}  // namespace remit::actors
