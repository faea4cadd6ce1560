// The jobs on accounts: CREATE_ACCOUNTS, SET_ACCOUNT_CONTROLS and LOOKUP_ACCOUNTS, run by
// their driver shard (actors/shard.hpp).
#include <span>
#include <utility>
#include <vector>

#include "actors/account_host.hpp"
#include "actors/shard/driver.hpp"
#include "actors/shard/wave_builder.hpp"
#include "engine/assert.hpp"
#include "engine/chain_walk.hpp"

namespace remit::actors {

namespace {

using car = create_account_result;

// CREATE_ACCOUNTS: no account-side checks, so once the ids are claimed the driver decides
// the whole batch itself, spawns the new accounts and registers them in every directory.

class account_batch final : public job {
 public:
  account_batch(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)), claims_(self, id, true) {}

  void start() override {
    const std::size_t n = req_->accounts.size();
    req_->results.assign(n, result{});
    alone_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      alone_[i] = validate_account(req_->accounts[i]);
      if (alone_[i] == car::ok) claims_.add(req_->accounts[i].id);
    }
    akeys_.resize(claims_.size());
    if (!claims_.next()) decide();
  }

  void on_claimed() override {
    if (!claims_.next()) decide();
  }

 private:
  struct akey {
    bool found = false;
    bool created = false;
    account rec{};
  };

  void decide() {
    claims_.for_each_state([&](std::uint32_t idx, const key_state& s) {
      akeys_[idx].found = s.found;
      if (s.found) akeys_[idx].rec = s.account_record;
    });
    // The chain walk is the reference ledger's (engine/chain_walk.hpp); applying an event
    // here only decides it in the claimed keys' table, which a failed chain rolls back.
    struct hooks {
      account_batch& job;
      std::vector<std::pair<std::uint32_t, akey>> undo;
      void begin_chain() { undo.clear(); }
      car apply(const account& a, std::size_t i, bool chained, std::uint64_t& ts_out) {
        if (job.alone_[i] != car::ok) return job.alone_[i];
        const std::uint32_t idx = job.claims_.index_of(a.id);
        akey& k = job.akeys_[idx];
        if (k.found) {
          const car code = compare_existing(k.rec, a);
          if (code == car::exists) ts_out = k.rec.timestamp;
          return code;
        }
        if (chained) undo.emplace_back(idx, k);
        k.found = k.created = true;
        k.rec = a;
        k.rec.timestamp = job.req_->timestamp_base + i;
        ts_out = k.rec.timestamp;
        return car::ok;
      }
      void rollback() {
        for (auto it = undo.rbegin(); it != undo.rend(); ++it) job.akeys_[it->first] = it->second;
        undo.clear();
      }
    };
    walk_chains<car>(std::span<const account>(req_->accounts), account_flags::linked,
                     std::span<result>(req_->results), hooks{*this, {}});
    // In a chain, `exists` fails the chain; alone it is an answer with the original's
    // timestamp.

    // The decision goes to the journal before the accounts exist anywhere.
    auto records = caf::make_counted<journal_batch>();
    for (const akey& k : akeys_)
      if (k.created) records->add(journal::record_type::accounts_created, k.rec);
    journal_append(records);
    // The hosts learn of the new accounts before any shard's directory names them: a leg
    // reaches a host only after the create entry it depends on.
    auto update = caf::make_counted<directory_update>();
    account_hosts& hosts = *self_->state.cfg.hosts;
    wave_builder creates;
    for (const akey& k : akeys_) {
      if (!k.created) continue;
      account_state s;
      s.a = k.rec;
      const account_address where = hosts.place(k.rec.id);
      creates.add_create(where, s);
      update->addresses.emplace_back(k.rec.id, where);
      update->ledgers.push_back(k.rec.ledger);
    }
    if (!update->addresses.empty()) {
      creates.send(self_, 0);
      for (const shard_actor& peer : self_->state.peers)
        send_to(self_, peer, register_atom::value, update);
    }
    claims_.release([&](release_set& r, u128, std::uint32_t idx) {
      if (akeys_[idx].created) r.new_accounts.push_back(akeys_[idx].rec);
    });
    sync_then_answer();
  }

  claim_requests claims_;
  std::vector<car> alone_;
  std::vector<akey> akeys_;
};

// LOOKUP_ACCOUNTS: one wave to the accounts.

class lookup_accounts_job final : public job {
 public:
  lookup_accounts_job(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)) {}

  void start() override {
    auto& dir = self_->state.directory;
    for (const u128 id : req_->ids) {
      const dir_entry* d = id == 0 ? nullptr : dir.find(id);
      if (d == nullptr) continue;
      wave_entry w;
      w.op = entry_op::lookup;
      w.slot = builder_.add_lookup_slot();
      builder_.add(d->where, w);
    }
    if (builder_.empty()) return sync_then_answer();
    current_ = builder_.send(self_, id_);
  }

  void on_done() override {
    REMIT_ASSERT(current_->outstanding.load(std::memory_order_acquire) == 0);
    req_->accounts_out = std::move(current_->accounts_out);
    current_.reset();
    sync_then_answer();
  }

 private:
  wave_builder builder_;
  wave_ptr current_;
};

// SET_ACCOUNT_CONTROLS: the account ids are claimed at their owners first, like transfer
// ids, so that two requests changing one account reach the journal and the account in the
// same order (replay must give the state that was live).

class controls_job final : public job {
 public:
  controls_job(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)), claims_(self, id, true) {}

  void start() override {
    // Checks in the order of docs/PROTOCOL.md section 4; existence is checked once claimed.
    const std::size_t n = req_->controls.size();
    req_->results.assign(n, result{});
    alone_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const account_controls& c = req_->controls[i];
      alone_[i] = validate_controls(c);
      if (alone_[i] == set_controls_result::ok && c.account_id != 0) claims_.add(c.account_id);
    }
    if (!claims_.next()) apply();
  }

  void on_claimed() override {
    if (!claims_.next()) apply();
  }

 private:
  void apply() {
    auto& dir = self_->state.directory;
    auto records = caf::make_counted<journal_batch>();
    wave_builder builder;
    for (std::size_t i = 0; i < req_->controls.size(); ++i) {
      const account_controls& c = req_->controls[i];
      set_controls_result code = alone_[i];
      const dir_entry* d = nullptr;
      if (code == set_controls_result::ok) {
        d = c.account_id == 0 ? nullptr : dir.find(c.account_id);
        if (d == nullptr) code = set_controls_result::account_not_found;
      }
      req_->results[i] = result{static_cast<std::uint32_t>(code), 0, 0};
      if (code != set_controls_result::ok) continue;
      records->add(journal::record_type::controls_set, c);
      wave_entry w;
      w.op = entry_op::set_controls;
      w.slot = builder.add_controls(controls_of(c));
      builder.add(d->where, w);
    }
    // Journal first, then the accounts, then the claims go: the next change of the same
    // account is journaled and enqueued after this one.
    journal_append(records);
    if (!builder.empty()) builder.send(self_, 0);
    claims_.release([](release_set&, u128, std::uint32_t) {});
    sync_then_answer();
  }

  claim_requests claims_;
  std::vector<set_controls_result> alone_;
};

}  // namespace

std::unique_ptr<job> make_account_batch(shard_pointer self, std::uint64_t id, request_ptr req) {
  return std::make_unique<account_batch>(self, id, std::move(req));
}

std::unique_ptr<job> make_controls_job(shard_pointer self, std::uint64_t id, request_ptr req) {
  return std::make_unique<controls_job>(self, id, std::move(req));
}

std::unique_ptr<job> make_lookup_accounts(shard_pointer self, std::uint64_t id, request_ptr req) {
  return std::make_unique<lookup_accounts_job>(self, id, std::move(req));
}

}  // namespace remit::actors
