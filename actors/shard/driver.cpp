#include "actors/shard/driver.hpp"

#include "engine/assert.hpp"

namespace remit::actors {

void job::on_claimed() {
  REMIT_ASSERT(!"unexpected claim");
}

void job::on_done() {
  REMIT_ASSERT(!"unexpected wave or query");
}

void job::journal_append(journal_batch_ptr& b) {
  if (!b || b->empty()) return;
  if (self_->state.cfg.journal) send_to(self_, self_->state.cfg.journal, append_atom::value, b);
  b = caf::make_counted<journal_batch>();
}

void job::sync_then_answer() {
  const auto me = caf::actor_cast<shard_actor>(self_);
  if (self_->state.cfg.journal) {
    send_to(self_, self_->state.cfg.journal, sync_atom::value, me, id_);
  } else {
    // Durability off: nothing to wait for.
    send_to(self_, me, synced_atom::value, id_, static_cast<std::uint8_t>(sync_status::durable));
  }
}

void job::on_synced(sync_status status) {
  // A failed sync means that decisions this answer may report, or that what it read
  // depended on, never became durable: a lookup could show a transfer that recovery will
  // not have. So no answer of any kind goes out after it (fail-stop), reads included. An
  // unconfirmed replication is the same for this answer (a new primary may not have what
  // it reports), but not for the engine, which goes on.
  if (status != sync_status::durable) {
    req_->status = status == sync_status::unavailable ? engine_status::unavailable
                                                      : engine_status::storage_failed;
    req_->results.clear();
    req_->accounts_out.clear();
    req_->transfers_out.clear();
    req_->stats_out = ledger_stats{};
  }
  auto done = std::move(req_->done);
  if (done) done(*req_);
  self_->state.jobs.erase(id_);  // destroys this
}

claim_requests::claim_requests(shard_pointer self, std::uint64_t batch, bool accounts)
    : self_(self), batch_(batch), accounts_(accounts) {
  per_shard_.resize(self->state.cfg.count);
}

std::uint32_t claim_requests::add(u128 key) {
  if (const std::uint32_t* idx = index_.find(key)) return *idx;
  const auto idx = static_cast<std::uint32_t>(keys_.size());
  index_.insert(key, idx);
  keys_.push_back(key);
  const std::uint32_t owner = owner_of(key, self_->state.cfg.count);
  claim_ptr& c = per_shard_[owner];
  if (!c) {
    c = caf::make_counted<claim_set>();
    c->accounts = accounts_;
    c->batch = batch_;
    c->shard = owner;
    c->driver = caf::actor_cast<shard_actor>(self_);
  }
  c->keys.push_back(key);
  return idx;
}

bool claim_requests::next() {
  while (next_shard_ < per_shard_.size() && !per_shard_[next_shard_]) ++next_shard_;
  if (next_shard_ == per_shard_.size()) return false;
  send_to(self_, self_->state.peers[next_shard_], claim_atom::value, per_shard_[next_shard_]);
  ++next_shard_;
  return true;
}

void claim_requests::send_release(std::uint32_t shard, const release_ptr& r) {
  send_to(self_, self_->state.peers[shard], release_atom::value, r);
}

}  // namespace remit::actors
