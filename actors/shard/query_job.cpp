// LOOKUP_TRANSFERS, GET_ACCOUNT_TRANSFERS, GET_LEDGER_STATS: questions to the owner shards,
// asked by the driver of the request (actors/shard.hpp).
#include <algorithm>
#include <utility>
#include <vector>

#include "actors/shard/driver.hpp"
#include "engine/assert.hpp"

namespace remit::actors {

namespace {

class query_job final : public job {
 public:
  query_job(shard_pointer self, std::uint64_t id, request_ptr req)
      : job(self, id, std::move(req)) {}

  void start() override {
    const std::uint32_t count = self_->state.cfg.count;
    queries_.resize(count);
    const auto make = [&](shard_query::kind k) {
      auto q = caf::make_counted<shard_query>();
      q->what = k;
      q->driver = caf::actor_cast<shard_actor>(self_);
      q->job = id_;
      return q;
    };
    switch (req_->op) {
      case request_op::lookup_transfers:
        for (const u128 id : req_->ids) {
          if (id == 0) continue;
          query_ptr& q = queries_[owner_of(id, count)];
          if (!q) q = make(shard_query::kind::lookup_transfers);
          q->ids.push_back(id);
        }
        break;
      case request_op::get_account_transfers:
        for (auto& q : queries_) {
          q = make(shard_query::kind::history);
          q->filter = req_->filter;
        }
        break;
      default:
        for (auto& q : queries_) {
          q = make(shard_query::kind::stats);
          q->ledger = req_->ledger;
        }
        break;
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!queries_[i]) continue;
      ++outstanding_;
      send_to(self_, self_->state.peers[i], query_atom::value, queries_[i]);
    }
    if (outstanding_ == 0) finish();
  }

  void on_done() override {
    REMIT_ASSERT(outstanding_ > 0);
    if (--outstanding_ == 0) finish();
  }

 private:
  void finish() {
    const std::uint32_t count = self_->state.cfg.count;
    switch (req_->op) {
      case request_op::lookup_transfers: {
        std::vector<std::size_t> next(count, 0);
        for (const u128 id : req_->ids) {
          if (id == 0) continue;
          const std::uint32_t o = owner_of(id, count);
          const shard_query& q = *queries_[o];
          const std::int32_t found = q.found[next[o]++];
          if (found >= 0) req_->transfers_out.push_back(q.out[static_cast<std::size_t>(found)]);
        }
        break;
      }
      case request_op::get_account_transfers: {
        auto& out = req_->transfers_out;
        for (const auto& q : queries_) out.insert(out.end(), q->out.begin(), q->out.end());
        const bool reversed = (req_->filter.flags & account_filter_flags::reversed) != 0;
        std::sort(out.begin(), out.end(), [&](const transfer& a, const transfer& b) {
          return reversed ? a.timestamp > b.timestamp : a.timestamp < b.timestamp;
        });
        if (out.size() > req_->filter.limit) out.resize(req_->filter.limit);
        break;
      }
      default: {
        ledger_stats total{};
        total.ledger = req_->ledger;
        for (const auto& q : queries_) {
          total.accounts += q->stats.accounts;
          total.transfers_posted += q->stats.transfers_posted;
          total.transfers_pending += q->stats.transfers_pending;
          total.volume_posted = add_saturating(total.volume_posted, q->stats.volume_posted);
        }
        req_->stats_out = total;
        break;
      }
    }
    sync_then_answer();
  }

  std::vector<query_ptr> queries_;
  std::uint32_t outstanding_ = 0;
};

}  // namespace

std::unique_ptr<job> make_query_job(shard_pointer self, std::uint64_t id, request_ptr req) {
  return std::make_unique<query_job>(self, id, std::move(req));
}

}  // namespace remit::actors
