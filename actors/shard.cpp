#include "actors/shard.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "actors/shard/driver.hpp"
#include "actors/shard/wave_builder.hpp"
#include "engine/assert.hpp"
#include "engine/reference_ledger.hpp"

namespace remit::actors {

namespace {

void apply_release(shard_pointer self, release_set& r) {
  auto& st = self->state;
  if (r.accounts) {
    for (const account& a : r.new_accounts) st.store.add_account(a);
  } else {
    for (const transfer_record& rec : r.new_transfers) st.store.add_transfer(rec);
    for (const auto& [id, state] : r.resolved) st.store.resolve(id, state);
    for (const auto& [id, code] : r.failures) st.store.add_failure(id, code);
  }
  st.claims.release(r.accounts, r.keys, st.store,
                    [&](const claim_ptr& c) { send_to(self, c->driver, claimed_atom::value, c); });
}

void answer_query(shard_pointer self, shard_query& q) {
  const owner_store& store = self->state.store;
  switch (q.what) {
    case shard_query::kind::lookup_transfers:
      store.lookup_transfers(q.ids, q.found, q.out);
      break;
    case shard_query::kind::history:
      store.account_transfers(q.filter, q.out);
      break;
    case shard_query::kind::stats:
      q.stats = store.stats(q.ledger);
      break;
  }
  send_to(self, q.driver, done_atom::value, q.job);
}

// Releases the open pending transfers whose expiry has passed and that no batch holds.
void sweep_expired(shard_pointer self) {
  auto& st = self->state;
  wave_builder builder;
  auto expired = caf::make_counted<journal_batch>();
  st.store.expire(
      st.cfg.clock(), [&](u128 id) { return st.claims.transfer_claimed(id); },
      [&](const transfer_record& rec) {
        expired->add(journal::record_type::pendings_expired, rec.t.id);
        for (const bool debit : {true, false}) {
          const dir_entry* d =
              st.account_of(debit ? rec.t.debit_account_id : rec.t.credit_account_id);
          REMIT_ASSERT(d != nullptr);
          wave_entry w;
          w.op = entry_op::release;
          w.debit = debit;
          w.amount = rec.t.amount;
          builder.add(d->where, w);
        }
      });
  if (builder.empty()) return;
  if (st.cfg.journal) send_to(self, st.cfg.journal, append_atom::value, expired);
  builder.send(self, 0);
}

shard_actor::behavior_type shard_behavior(shard_pointer self, shard_config cfg) {
  self->state.cfg = std::move(cfg);
  open_exit_activation(self);
  self->set_exception_handler([](caf::scheduled_actor*, std::exception_ptr&) -> caf::error {
    std::fprintf(stderr, "remit: exception in a coordinator shard; stopping\n");
    std::abort();
  });
  self->delayed_send(self, std::chrono::milliseconds(self->state.cfg.expiry_interval_ms),
                     tick_atom::value);
  return {
      [self](request_atom, const request_ptr& req) {
        const auto handoff = received(self);
        auto& st = self->state;
        // Job ids are unique across shards: claims name their batch by it.
        const std::uint64_t id = st.unique();
        std::unique_ptr<job> j;
        switch (req->op) {
          case request_op::create_transfers:
            j = make_transfer_batch(self, id, req);
            break;
          case request_op::create_accounts:
            j = make_account_batch(self, id, req);
            break;
          case request_op::lookup_accounts:
            j = make_lookup_accounts(self, id, req);
            break;
          case request_op::set_account_controls:
            j = make_controls_job(self, id, req);
            break;
          case request_op::lookup_transfers:
          case request_op::get_account_transfers:
          case request_op::get_ledger_stats:
            j = make_query_job(self, id, req);
            break;
        }
        REMIT_ASSERT(st.jobs.size() < st.cfg.jobs_max);
        job* raw = j.get();
        st.jobs.emplace(id, std::move(j));
        raw->start();
      },
      [self](peers_atom, const std::vector<caf::actor>& peers) {
        const auto handoff = received(self);
        for (const auto& p : peers) self->state.peers.push_back(caf::actor_cast<shard_actor>(p));
      },
      [self](claim_atom, const claim_ptr& c) {
        const auto handoff = received(self);
        auto& st = self->state;
        if (st.claims.claim(c, st.store)) send_to(self, c->driver, claimed_atom::value, c);
      },
      [self](claimed_atom, const claim_ptr& c) {
        const auto handoff = received(self);
        auto it = self->state.jobs.find(c->batch);
        REMIT_ASSERT(it != self->state.jobs.end());
        it->second->on_claimed();
      },
      [self](release_atom, const release_ptr& r) {
        const auto handoff = received(self);
        apply_release(self, *r);
      },
      [self](register_atom, const directory_ptr& d) {
        const auto handoff = received(self);
        for (std::size_t i = 0; i < d->addresses.size(); ++i)
          self->state.directory.insert(d->addresses[i].first,
                                       dir_entry{d->addresses[i].second, d->ledgers[i]});
      },
      [self](query_atom, const query_ptr& q) {
        const auto handoff = received(self);
        answer_query(self, *q);
      },
      [self](done_atom, const std::uint64_t& job_id) {
        const auto handoff = received(self);
        auto it = self->state.jobs.find(job_id);
        REMIT_ASSERT(it != self->state.jobs.end());
        it->second->on_done();
      },
      [self](synced_atom, const std::uint64_t& job_id, const std::uint8_t& status) {
        const auto handoff = received(self);
        auto it = self->state.jobs.find(job_id);
        REMIT_ASSERT(it != self->state.jobs.end());
        it->second->on_synced(static_cast<sync_status>(status));
      },
      [self](restore_atom, const restore_ptr& r) {
        const auto handoff = received(self);
        auto& st = self->state;
        for (std::size_t i = 0; i < r->addresses.size(); ++i)
          st.directory.insert(r->addresses[i].first,
                              dir_entry{r->addresses[i].second, r->ledgers[i]});
        for (const account& a : r->owned_accounts) st.store.add_account(a);
        st.store.reserve_transfers(r->transfers_expected);
        r->source->for_each_stored_transfer([&](const transfer_record& rec) {
          if (owner_of(rec.t.id, r->shards) == r->shard) st.store.add_transfer(rec);
        });
        r->source->for_each_failure([&](u128 id, create_transfer_result code) {
          if (owner_of(id, r->shards) == r->shard) st.store.add_failure(id, code);
        });
        r->source.reset();  // the last shard to let go frees the recovered state
      },
      [self](tick_atom) {
        const auto handoff = received(self);
        sweep_expired(self);
        self->delayed_send(self, std::chrono::milliseconds(self->state.cfg.expiry_interval_ms),
                           tick_atom::value);
      },
  };
}

}  // namespace

shard_actor spawn_shard(caf::actor_system& sys, shard_config cfg) {
  return sys.spawn(shard_behavior, std::move(cfg));
}

}  // namespace remit::actors
