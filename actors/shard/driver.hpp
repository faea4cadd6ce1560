// The driver side of a coordinator shard (actors/shard.hpp, "Driver"): the shard's state,
// the base of the jobs it runs (one per request), and a job's claims on the owners of its
// keys. The jobs themselves are in transfer_batch.cpp, account_jobs.cpp and query_job.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "actors/messages.hpp"
#include "actors/shard.hpp"
#include "actors/shard/claim_table.hpp"
#include "actors/shard/owner_store.hpp"
#include "engine/id_map.hpp"

namespace remit::actors {

struct dir_entry {
  account_address where;
  std::uint32_t ledger = 0;
};

class job;

struct shard_state {
  shard_config cfg;
  std::vector<shard_actor> peers;
  id_map<dir_entry> directory;  // every account: where it lives, its ledger

  // Owner side.
  owner_store store;
  claim_table claims;

  // Driver side.
  std::vector<wave_ptr> wave_pool;  // waves whose round is over, for reuse
  std::uint64_t next_unique = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<job>> jobs;

  // Unique across shards: job ids (claims name their batch by it), chain and leg keys.
  std::uint64_t unique() { return (std::uint64_t{cfg.index} << 48) | next_unique++; }
  [[nodiscard]] const dir_entry* account_of(u128 id) const {
    return id == 0 ? nullptr : directory.find(id);
  }
};

using shard_pointer = shard_actor::stateful_pointer<shard_state>;

// One request run by this shard as driver. It answers only after the journal has made
// durable everything the answer reports or depended on (docs/ARCHITECTURE.md, the commit
// rule, 4): the simplest correct rule, a sync that covers every record appended before it.
class job {
 public:
  job(shard_pointer self, std::uint64_t id, request_ptr req)
      : self_(self), id_(id), req_(std::move(req)) {}
  job(const job&) = delete;
  job& operator=(const job&) = delete;
  virtual ~job() = default;
  virtual void start() = 0;
  virtual void on_claimed();
  virtual void on_done();  // a wave or every query of the job is done
  void on_synced(sync_status status);

 protected:
  // Sends the records of this step to the journal (before any commit they cover is sent),
  // and gives `b` a fresh batch.
  void journal_append(journal_batch_ptr& b);
  // Asks for the sync; the answer goes out from on_synced, and the job ends there.
  void sync_then_answer();

  shard_pointer self_;
  std::uint64_t id_;
  request_ptr req_;
};

// The jobs, one per kind of request.
std::unique_ptr<job> make_transfer_batch(shard_pointer self, std::uint64_t id, request_ptr req);
std::unique_ptr<job> make_account_batch(shard_pointer self, std::uint64_t id, request_ptr req);
std::unique_ptr<job> make_controls_job(shard_pointer self, std::uint64_t id, request_ptr req);
std::unique_ptr<job> make_lookup_accounts(shard_pointer self, std::uint64_t id, request_ptr req);
std::unique_ptr<job> make_query_job(shard_pointer self, std::uint64_t id, request_ptr req);

// A job's claims: its keys grouped by owner, one claim message per owner, sent one at a
// time in shard order (ordered acquisition: no deadlock between batches).
class claim_requests {
 public:
  claim_requests(shard_pointer self, std::uint64_t batch, bool accounts);

  // Adds a key once; returns its index in the batch's key table.
  std::uint32_t add(u128 key);
  [[nodiscard]] std::uint32_t index_of(u128 key) const { return index_.at(key); }
  [[nodiscard]] std::size_t size() const { return keys_.size(); }

  // Sends the next claim; false when every claim is granted.
  [[nodiscard]] bool next();

  // For each granted key: its index in the key table and its state at the owner.
  template <class F>
  void for_each_state(F&& f) const {
    for (const claim_ptr& c : per_shard_) {
      if (!c) continue;
      for (std::size_t i = 0; i < c->keys.size(); ++i) f(index_.at(c->keys[i]), c->states[i]);
    }
  }

  // One release per owner: every claimed key, plus what fill(release_set&, key, index) adds.
  template <class F>
  void release(F&& fill) {
    for (const claim_ptr& c : per_shard_) {
      if (!c) continue;
      auto r = caf::make_counted<release_set>();
      r->accounts = accounts_;
      r->batch = batch_;
      r->keys = c->keys;
      for (const u128 key : c->keys) fill(*r, key, index_.at(key));
      send_release(c->shard, r);
    }
  }

 private:
  void send_release(std::uint32_t shard, const release_ptr& r);

  shard_pointer self_;
  std::uint64_t batch_;
  bool accounts_;
  std::vector<claim_ptr> per_shard_;
  std::size_t next_shard_ = 0;
  id_map<std::uint32_t> index_;
  std::vector<u128> keys_;
};

}  // namespace remit::actors
