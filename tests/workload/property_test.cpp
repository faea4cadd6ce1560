// A seeded random-workload property test of reference_ledger.
//
// The generator (tools/workload.hpp, mix `mixed`) drives the ledger with every kind of
// transfer: plain, pending with and without timeout, full and partial posts, voids,
// balancing_debit/credit, linked chains (some of which create a pending transfer and post
// it), resends of old ids, cross-ledger and unknown-account transfers, chains left open at
// the end of a batch; and between transfer batches, controls changes and expire(now) calls,
// with `now` advancing across a UTC midnight.
//
// The test does not predict outcomes (that would be a second ledger); it checks properties
// that must hold whatever the outcomes are. After EVERY batch (transfers, their resend,
// controls, expire):
//
//  1. Conservation: per ledger, sum debits_posted == sum credits_posted and sum
//     debits_pending == sum credits_pending.
//  2. Bounds. For an account with debits_must_not_exceed_credits let
//     excess = debits_pending + debits_posted - credits_posted and o = its overdraft_max
//     (constant during a batch: controls change only between batches). Then
//         excess_after <= max(o, excess_before).
//     Why this and not excess <= o: lowering the overdraft is allowed to leave an account
//     over its bound; it must then not go further over. Every accepted debit leaves
//     excess <= o, and nothing else raises excess (credits_posted never falls; voids,
//     expiries and partial posts only lower the debits), so the bound above is exact.
//     Mirrored for credits_must_not_exceed_debits (credits_pending + credits_posted -
//     debits_posted).
//  3. Frozen accounts (frozen during the whole batch) gain no debits and no credits:
//     debits_pending + debits_posted and credits_pending + credits_posted do not grow
//     (posts and voids of existing pending transfers only move or release).
//  4. Daily caps: with daily_debit_max = c != 0, an account whose daily sum changed has
//     daily_debited <= max(c, the sum before) on the same UTC day, <= c on a new day.
//  5. Every ok plain or pending transfer: moved amount >= 1, equal to the amount sent (at
//     most it, for a balancing one), <= transfer_amount_max when set, neither account
//     frozen, both accounts on the transfer's ledger. Every ok post or void names a pending
//     transfer the model holds open and not yet expired at its timestamp, shows its
//     accounts, and moves the full amount (post with 0, void), or the amount sent.
//  6. Timestamps: an ok result has timestamp base + i, where base = max(now, last + 1) and
//     i the event's index (each event spends one), so ok timestamps strictly increase within
//     and across batches; a failure has 0; `exists` has the original's timestamp.
//  7. Ledger stats agree with a recount: accounts per ledger; transfers_posted (ok plain
//     transfers and posts) and transfers_pending (open pending transfers: created, minus
//     posted, voided and expired) from a model kept from the results; volume_posted equals
//     the ledger's sum of debits_posted.
//  8. expire(now) releases exactly the open pending transfers whose expiry is <= now.
//     Probes hit the boundary exactly: expire(E) at a pending transfer's expiry E releases
//     it; a post or void at timestamp E - 1 is ok, at E pending_transfer_expired.
//  9. Controls: each result is the code the request must get, and find_controls shows the
//     values last set.
// 10. Linked chains: all ok, or none ok and exactly one event with its own code and every
//     other linked_event_failed; a chain open at the end of the batch has
//     linked_event_chain_open on its last event. An event in no chain never gets
//     linked_event_failed or linked_event_chain_open.
// 11. Resending each batch at once: a non-chained event that was ok gets `exists` with the
//     original timestamp; `exists` stays `exists`; a state failure (code >= 34) or
//     id_already_failed gets id_already_failed; other codes repeat. A chain that was ok
//     gets `exists` on its first event and linked_event_failed on the others (docs/PROTOCOL.md
//     section 7: `exists` fails a chain). A chain that failed is not remembered, so its
//     resend is executed again: only property 10 applies to it.
//
// At the end of a run every kind of transfer must have succeeded at least once and the
// interesting failure codes must each have been seen.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "engine/reference_ledger.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"
#include "tools/workload.hpp"

namespace remit {
namespace {

using ctr = create_transfer_result;

std::string code_name(std::uint32_t code) {
  return std::string(name(static_cast<ctr>(code))) + "(" + std::to_string(code) + ")";
}

// Successes by kind, failures by code: the coverage the run must reach.
struct coverage {
  std::uint64_t plain = 0;
  std::uint64_t pending_with_timeout = 0;
  std::uint64_t pending_without_timeout = 0;
  std::uint64_t post_full = 0;
  std::uint64_t post_partial = 0;
  std::uint64_t void_ = 0;
  std::uint64_t balancing_debit = 0;
  std::uint64_t balancing_credit = 0;
  std::uint64_t chain_ok = 0;
  std::uint64_t chain_pending_post_ok = 0;
  std::uint64_t resent_old_id_exists = 0;
  std::uint64_t expired = 0;
  std::uint64_t controls_ok = 0;
  std::uint64_t controls_failed = 0;
  std::uint64_t probe_expire = 0;
  std::uint64_t probe_before_expiry = 0;
  std::uint64_t probe_at_expiry = 0;
  std::array<std::uint64_t, create_transfer_result_count> codes{};
};

struct property_config {
  std::uint64_t seed = 1;
  workload::distribution dist = workload::distribution::uniform;
  std::uint64_t accounts = 1000;
  std::uint32_t ledgers = 4;
  std::uint64_t transfer_events_min = 100'000;
};

class property_run {
 public:
  explicit property_run(const property_config& pc) : pc_(pc), gen_(make_config(pc)) {
    controls_.resize(gen_.account_count());
    ledgers_.resize(gen_.cfg().ledgers + 1);
  }

  void run() {
    setup();
    if (::testing::Test::HasFailure()) return;
    std::vector<transfer> batch;
    std::vector<account_controls> ctl;
    batch.reserve(batch_events_max);
    std::uint64_t events = 0;
    while (events < pc_.transfer_events_min) {
      ++step_;
      // Time goes on: mostly a fraction of a second, sometimes a long pause (so pending
      // transfers expire).
      now_ns_ += rng_.below(400'000'000);
      if (rng_.chance(20)) now_ns_ += rng_.between(5, 40) * ns_per_s;

      if (rng_.chance(250)) run_expire();
      if (rng_.chance(60)) run_probe();
      if (rng_.chance(170)) {
        gen_.next_controls_batch(ctl, static_cast<std::size_t>(rng_.between(1, 8)));
        run_controls(ctl);
      }
      const std::uint64_t r = rng_.below(100);
      const std::uint64_t n = r < 85   ? rng_.between(1, 256)
                              : r < 98 ? rng_.between(257, 2048)
                                       : batch_events_max;
      gen_.next_transfer_batch(batch, static_cast<std::size_t>(n));
      events += n;
      run_transfers(batch, /*resend=*/false);
      if (::testing::Test::HasFailure()) return;
      // The same batch again, at once: idempotency by id.
      run_transfers(batch, /*resend=*/true);
      if (::testing::Test::HasFailure()) return;
    }
    run_expire();
    finish();
  }

 private:
  struct pending_model {
    u128 debit_account_id;
    u128 credit_account_id;
    u128 amount;
    std::uint32_t ledger;
    std::uint64_t expires_at_ns;  // 0: never
  };
  struct ledger_model {
    std::uint64_t transfers_posted = 0;
    std::uint64_t transfers_pending = 0;
  };

  static workload::config make_config(const property_config& pc) {
    workload::config c;
    c.accounts = pc.accounts;
    c.ledgers = pc.ledgers;
    c.kind = workload::mix::mixed;
    c.dist = pc.dist;
    c.seed = pc.seed;
    c.bounded_fraction = 0.4;
    c.funding = 20'000;
    c.amount_max = 1'000;
    c.timeout_max_s = 30;
    c.chain_legs_max = 4;
    return c;
  }

  std::string where() const {
    std::ostringstream s;
    s << "[seed " << pc_.seed << " step " << step_ << " " << phase_ << "] ";
    return s.str();
  }

  std::size_t slot(u128 id) const { return static_cast<std::size_t>(id - 1); }

  // --- setup --------------------------------------------------------------------------

  void setup() {
    phase_ = "accounts";
    std::vector<account> accounts;
    std::vector<result> results;
    while (gen_.next_account_batch(accounts)) {
      results.assign(accounts.size(), result{});
      const std::uint64_t base = std::max(now_ns_, ledger_.last_timestamp() + 1);
      ledger_.create_accounts(accounts, now_ns_, results);
      for (std::size_t i = 0; i < accounts.size(); ++i) {
        ASSERT_EQ(results[i].status, 0u) << where() << "account " << to_decimal(accounts[i].id);
        ASSERT_EQ(results[i].timestamp, base + i) << where();
      }
      now_ns_ += 1'000'000;
    }
    ASSERT_EQ(ledger_.account_count(), gen_.account_count());

    phase_ = "funding";
    std::vector<transfer> funding;
    while (gen_.next_funding_batch(funding)) {
      const std::vector<result> r = run_transfers(funding, false);
      for (std::size_t i = 0; i < r.size(); ++i)
        ASSERT_EQ(r[i].status, 0u) << where() << "funding " << to_decimal(funding[i].id);
      now_ns_ += 1'000'000;
    }
    check_state();
    coverage_ = coverage{};  // the funding transfers are not the load
  }

  // --- snapshots and state checks -----------------------------------------------------

  void snapshot() {
    before_.resize(gen_.account_count());
    ledger_.for_each_account([&](const account_state& s) { before_[slot(s.a.id)] = s; });
  }

  // Properties 1 to 4 and 7, against the snapshot taken before the batch.
  void check_state() {
    struct sums {
      u128 debits_pending = 0, debits_posted = 0, credits_pending = 0, credits_posted = 0;
      std::uint64_t accounts = 0;
    };
    std::vector<sums> per_ledger(gen_.cfg().ledgers + 1);
    const bool have_before = before_.size() == gen_.account_count();
    std::size_t seen = 0;
    ledger_.for_each_account([&](const account_state& s) {
      ++seen;
      const account& a = s.a;
      ASSERT_TRUE(a.id >= 1 && a.id <= gen_.account_count()) << where() << to_decimal(a.id);
      ASSERT_EQ(a.ledger, gen_.ledger_of(a.id)) << where();
      sums& l = per_ledger[a.ledger];
      l.debits_pending += a.debits_pending;
      l.debits_posted += a.debits_posted;
      l.credits_pending += a.credits_pending;
      l.credits_posted += a.credits_posted;
      ++l.accounts;
      if (!have_before) return;
      const account& b = before_[slot(a.id)].a;
      const controls_state& c = controls_[slot(a.id)];
      const u128 debits = a.debits_pending + a.debits_posted;
      const u128 credits = a.credits_pending + a.credits_posted;
      const u128 debits_before = b.debits_pending + b.debits_posted;
      const u128 credits_before = b.credits_pending + b.credits_posted;
      if (a.flags & account_flags::debits_must_not_exceed_credits) {
        // excess_after <= max(o, excess_before), without signed arithmetic.
        const bool within = debits <= a.credits_posted + c.overdraft_max;
        const bool not_worse = debits + b.credits_posted <= debits_before + a.credits_posted;
        EXPECT_TRUE(within || not_worse)
            << where() << "debit bound broken on account " << to_decimal(a.id) << ": debits "
            << to_decimal(debits) << " credits_posted " << to_decimal(a.credits_posted)
            << " overdraft " << to_decimal(c.overdraft_max) << " (before: debits "
            << to_decimal(debits_before) << " credits_posted " << to_decimal(b.credits_posted)
            << ")";
      }
      if (a.flags & account_flags::credits_must_not_exceed_debits) {
        const bool within = credits <= a.debits_posted + c.overdraft_max;
        const bool not_worse = credits + b.debits_posted <= credits_before + a.debits_posted;
        EXPECT_TRUE(within || not_worse)
            << where() << "credit bound broken on account " << to_decimal(a.id) << ": credits "
            << to_decimal(credits) << " debits_posted " << to_decimal(a.debits_posted)
            << " overdraft " << to_decimal(c.overdraft_max) << " (before: credits "
            << to_decimal(credits_before) << " debits_posted " << to_decimal(b.debits_posted)
            << ")";
      }
      if (c.frozen()) {
        EXPECT_TRUE(debits <= debits_before)
            << where() << "frozen account " << to_decimal(a.id) << " was debited";
        EXPECT_TRUE(credits <= credits_before)
            << where() << "frozen account " << to_decimal(a.id) << " was credited";
      }
      const account_state& sb = before_[slot(a.id)];
      if (c.daily_debit_max != 0 &&
          (s.daily_day != sb.daily_day || s.daily_debited != sb.daily_debited)) {
        u128 allowance = c.daily_debit_max;
        if (s.daily_day == sb.daily_day) allowance = std::max(allowance, sb.daily_debited);
        EXPECT_TRUE(s.daily_debited <= allowance)
            << where() << "daily cap broken on account " << to_decimal(a.id) << ": "
            << to_decimal(s.daily_debited) << " > cap " << to_decimal(c.daily_debit_max);
      }
    });
    EXPECT_EQ(seen, gen_.account_count()) << where();
    for (std::uint32_t l = 1; l <= gen_.cfg().ledgers; ++l) {
      const sums& s = per_ledger[l];
      EXPECT_TRUE(s.debits_posted == s.credits_posted)
          << where() << "ledger " << l << ": debits_posted " << to_decimal(s.debits_posted)
          << " != credits_posted " << to_decimal(s.credits_posted);
      EXPECT_TRUE(s.debits_pending == s.credits_pending)
          << where() << "ledger " << l << ": debits_pending " << to_decimal(s.debits_pending)
          << " != credits_pending " << to_decimal(s.credits_pending);
      const ledger_stats st = ledger_.get_ledger_stats(l);
      EXPECT_EQ(st.ledger, l) << where();
      EXPECT_EQ(st.accounts, s.accounts) << where() << "ledger " << l;
      EXPECT_EQ(st.transfers_posted, ledgers_[l].transfers_posted) << where() << "ledger " << l;
      EXPECT_EQ(st.transfers_pending, ledgers_[l].transfers_pending) << where() << "ledger " << l;
      EXPECT_TRUE(st.volume_posted == s.debits_posted)
          << where() << "ledger " << l << ": volume_posted " << to_decimal(st.volume_posted)
          << " != sum of debits_posted " << to_decimal(s.debits_posted);
    }
  }

  // --- transfers ----------------------------------------------------------------------

  transfer stored(u128 id) const {
    transfer t{};
    const std::size_t n =
        ledger_.lookup_transfers(std::span<const u128>(&id, 1), std::span<transfer>(&t, 1));
    EXPECT_EQ(n, 1u) << where() << "transfer " << to_decimal(id) << " not found";
    return t;
  }

  // Property 5 and the model updates for one ok event.
  void on_ok(const transfer& e, std::uint64_t ts) {
    const transfer s = stored(e.id);
    EXPECT_EQ(s.timestamp, ts) << where() << "transfer " << to_decimal(e.id);
    const transfer_kind kind = kind_of(e);
    if (kind == transfer_kind::plain || kind == transfer_kind::pending) {
      EXPECT_TRUE(s.debit_account_id == e.debit_account_id) << where();
      EXPECT_TRUE(s.credit_account_id == e.credit_account_id) << where();
      EXPECT_EQ(s.ledger, e.ledger) << where();
      EXPECT_EQ(s.ledger, gen_.ledger_of(s.debit_account_id)) << where();
      EXPECT_EQ(s.ledger, gen_.ledger_of(s.credit_account_id)) << where();
      const bool balancing =
          (e.flags & (transfer_flags::balancing_debit | transfer_flags::balancing_credit)) != 0;
      EXPECT_TRUE(s.amount >= 1) << where() << "transfer " << to_decimal(e.id) << " moved 0";
      if (balancing) {
        EXPECT_TRUE(s.amount <= e.amount) << where() << "balancing moved more than sent";
      } else {
        EXPECT_TRUE(s.amount == e.amount) << where() << "moved " << to_decimal(s.amount);
      }
      const controls_state& dc = controls_[slot(s.debit_account_id)];
      const controls_state& cc = controls_[slot(s.credit_account_id)];
      EXPECT_FALSE(dc.frozen()) << where() << "debited frozen " << to_decimal(s.debit_account_id);
      EXPECT_FALSE(cc.frozen()) << where() << "credited frozen " << to_decimal(s.credit_account_id);
      EXPECT_TRUE(dc.transfer_amount_max == 0 || s.amount <= dc.transfer_amount_max)
          << where() << "transfer " << to_decimal(e.id) << " amount " << to_decimal(s.amount)
          << " over transfer_amount_max " << to_decimal(dc.transfer_amount_max);
      if (kind == transfer_kind::pending) {
        const std::uint64_t expires = e.timeout == 0 ? 0 : ts + e.timeout * ns_per_s;
        open_[e.id] = {s.debit_account_id, s.credit_account_id, s.amount, s.ledger, expires};
        ++ledgers_[s.ledger].transfers_pending;
        ++(e.timeout == 0 ? coverage_.pending_without_timeout : coverage_.pending_with_timeout);
      } else {
        ++ledgers_[s.ledger].transfers_posted;
        ++coverage_.plain;
      }
      if (e.flags & transfer_flags::balancing_debit) ++coverage_.balancing_debit;
      if (e.flags & transfer_flags::balancing_credit) ++coverage_.balancing_credit;
      return;
    }
    // post or void
    const auto it = open_.find(e.pending_id);
    ASSERT_TRUE(it != open_.end())
        << where() << "ok " << (kind == transfer_kind::post ? "post" : "void") << " "
        << to_decimal(e.id) << " of pending " << to_decimal(e.pending_id) << " that is not open";
    const pending_model p = it->second;
    EXPECT_TRUE(p.expires_at_ns == 0 || ts < p.expires_at_ns)
        << where() << "post/void " << to_decimal(e.id) << " at " << ts << " of pending "
        << to_decimal(e.pending_id) << " expired at " << p.expires_at_ns;
    EXPECT_TRUE(s.debit_account_id == p.debit_account_id) << where();
    EXPECT_TRUE(s.credit_account_id == p.credit_account_id) << where();
    EXPECT_EQ(s.ledger, p.ledger) << where();
    EXPECT_TRUE(s.pending_id == e.pending_id) << where();
    EXPECT_EQ(s.flags, e.flags) << where();
    if (kind == transfer_kind::post) {
      const u128 want = e.amount == 0 ? p.amount : e.amount;
      EXPECT_TRUE(want <= p.amount) << where() << "posted more than pending";
      EXPECT_TRUE(s.amount == want) << where() << "post " << to_decimal(e.id) << " shows "
                                    << to_decimal(s.amount) << ", want " << to_decimal(want);
      ++ledgers_[p.ledger].transfers_posted;
      ++(e.amount == 0 || e.amount == p.amount ? coverage_.post_full : coverage_.post_partial);
    } else {
      EXPECT_TRUE(s.amount == p.amount) << where() << "void shows " << to_decimal(s.amount);
      ++coverage_.void_;
    }
    --ledgers_[p.ledger].transfers_pending;
    open_.erase(it);
  }

  // Runs one batch of transfers (the original or its resend) and checks properties 5, 6,
  // 10, 11 and, after it, the state. Returns the results.
  std::vector<result> run_transfers(const std::vector<transfer>& batch, bool resend) {
    phase_ = resend ? "resend" : "transfers";
    snapshot();
    std::vector<result> results(batch.size(), result{});
    const std::uint64_t base = std::max(now_ns_, ledger_.last_timestamp() + 1);
    ledger_.create_transfers(batch, now_ns_, results);

    // Property 6, per event.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const result& r = results[i];
      EXPECT_LT(r.status, create_transfer_result_count) << where();
      if (r.status == 0) {
        EXPECT_EQ(r.timestamp, base + i) << where() << "event " << i;
        EXPECT_GT(r.timestamp, last_ok_timestamp_) << where() << "event " << i;
        last_ok_timestamp_ = r.timestamp;
      } else if (r.status == static_cast<std::uint32_t>(ctr::exists)) {
        // The original's timestamp (but an `exists` that fails a chain may carry 0).
        if (r.timestamp != 0) {
          EXPECT_LT(r.timestamp, base + i) << where() << "event " << i;  // an earlier one
          EXPECT_EQ(r.timestamp, stored(batch[i].id).timestamp) << where() << "event " << i;
        }
      } else {
        EXPECT_EQ(r.timestamp, 0u) << where() << "event " << i << " " << code_name(r.status);
      }
    }
    if (::testing::Test::HasFailure()) return results;

    // Properties 10 and 11 per chain (a lone event is a chain of one), model updates in
    // batch order.
    std::size_t start = 0;
    while (start < batch.size()) {
      std::size_t end = start;  // inclusive
      while (end + 1 < batch.size() && (batch[end].flags & transfer_flags::linked)) ++end;
      const bool open = (batch[end].flags & transfer_flags::linked) != 0;
      const std::size_t n = end - start + 1;
      const bool chained = n > 1 || open;
      std::size_t ok = 0, failed_linked = 0;
      for (std::size_t i = start; i <= end; ++i) {
        ok += results[i].status == 0;
        failed_linked += results[i].status == static_cast<std::uint32_t>(ctr::linked_event_failed);
      }
      if (!chained) {
        EXPECT_NE(results[start].status, static_cast<std::uint32_t>(ctr::linked_event_failed))
            << where() << "event " << start << " is in no chain";
        EXPECT_NE(results[start].status, static_cast<std::uint32_t>(ctr::linked_event_chain_open))
            << where() << "event " << start << " is in no chain";
      } else {
        if (open) {
          EXPECT_EQ(ok, 0u) << where() << "open chain at " << start << " took effect";
          EXPECT_EQ(results[end].status, static_cast<std::uint32_t>(ctr::linked_event_chain_open))
              << where() << "last event of an open chain at " << start << ": "
              << code_name(results[end].status);
          EXPECT_GE(failed_linked + 1, n - 1)
              << where() << "open chain at " << start << ": more than one own code";
        } else {
          EXPECT_TRUE(ok == n || (ok == 0 && failed_linked == n - 1))
              << where() << "chain at " << start << " of " << n << " events: " << ok << " ok, "
              << failed_linked << " linked_event_failed";
        }
      }
      if (resend) {
        check_resend(batch, results, start, end, chained);
      } else {
        for (std::size_t i = start; i <= end; ++i) {
          if (results[i].status < create_transfer_result_count)
            ++coverage_.codes[results[i].status];
          if (results[i].status == static_cast<std::uint32_t>(ctr::exists) && !chained)
            ++coverage_.resent_old_id_exists;
        }
      }
      if (ok == n) {
        bool pending_in_chain = false, post_of_it = false;
        for (std::size_t i = start; i <= end; ++i) {
          on_ok(batch[i], results[i].timestamp);
          if (kind_of(batch[i]) == transfer_kind::pending) pending_in_chain = true;
          if (pending_in_chain && kind_of(batch[i]) == transfer_kind::post) {
            for (std::size_t j = start; j < i; ++j)
              post_of_it |= batch[j].id == batch[i].pending_id;
          }
        }
        if (chained && !resend) {
          ++coverage_.chain_ok;
          coverage_.chain_pending_post_ok += post_of_it;
        }
      }
      start = end + 1;
    }
    if (!resend) original_ = results;
    if (!::testing::Test::HasFailure()) check_state();
    return results;
  }

  // Property 11 for one chain [start, end] of a resent batch.
  void check_resend(const std::vector<transfer>& batch, const std::vector<result>& results,
                    std::size_t start, std::size_t end, bool chained) {
    const auto code = [](ctr c) { return static_cast<std::uint32_t>(c); };
    if (!chained) {
      const result& o = original_[start];
      const result& r = results[start];
      std::uint32_t want = o.status;
      if (o.status == 0) {
        want = code(ctr::exists);
      } else if (o.status >= code(first_state_check) || o.status == code(ctr::id_already_failed)) {
        want = code(ctr::id_already_failed);
      }
      EXPECT_EQ(r.status, want) << where() << "event " << start << " (id "
                                << to_decimal(batch[start].id) << ") was " << code_name(o.status)
                                << ", resent got " << code_name(r.status);
      if (want == code(ctr::exists) && r.status == want) {
        EXPECT_EQ(r.timestamp, o.timestamp) << where() << "event " << start;
      }
      return;
    }
    bool was_ok = true;
    for (std::size_t i = start; i <= end; ++i) was_ok &= original_[i].status == 0;
    if (!was_ok) return;  // not remembered: executed again, property 10 only
    EXPECT_EQ(results[start].status, code(ctr::exists))
        << where() << "first event of resent ok chain at " << start << ": "
        << code_name(results[start].status);
    for (std::size_t i = start + 1; i <= end; ++i) {
      EXPECT_EQ(results[i].status, code(ctr::linked_event_failed))
          << where() << "event " << i << " of resent ok chain at " << start << ": "
          << code_name(results[i].status);
    }
  }

  // --- controls and expiry ------------------------------------------------------------

  void run_controls(const std::vector<account_controls>& batch) {
    phase_ = "controls";
    std::vector<result> results(batch.size(), result{});
    ledger_.set_account_controls(batch, results);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const account_controls& c = batch[i];
      set_controls_result want = set_controls_result::ok;
      if (!bytes_zero(c.reserved, sizeof c.reserved)) {
        want = set_controls_result::reserved_field;
      } else if (c.status_flags & ~account_status_flags::known) {
        want = set_controls_result::reserved_flag;
      } else if (c.account_id == 0 || c.account_id > gen_.account_count()) {
        want = set_controls_result::account_not_found;
      }
      EXPECT_EQ(results[i].status, static_cast<std::uint32_t>(want))
          << where() << "controls " << i << " got "
          << name(static_cast<set_controls_result>(results[i].status));
      EXPECT_EQ(results[i].timestamp, 0u) << where();
      if (want == set_controls_result::ok) {
        controls_state& m = controls_[slot(c.account_id)];
        m.overdraft_max = c.overdraft_max;
        m.transfer_amount_max = c.transfer_amount_max;
        m.daily_debit_max = c.daily_debit_max;
        m.status_flags = c.status_flags;
        ++coverage_.controls_ok;
      } else {
        ++coverage_.controls_failed;
      }
    }
    for (u128 id = 1; id <= gen_.account_count(); ++id) {
      const controls_state* got = ledger_.find_controls(id);
      ASSERT_NE(got, nullptr) << where() << "no controls for account " << to_decimal(id);
      const controls_state& m = controls_[slot(id)];
      EXPECT_TRUE(got->overdraft_max == m.overdraft_max &&
                  got->transfer_amount_max == m.transfer_amount_max &&
                  got->daily_debit_max == m.daily_debit_max && got->status_flags == m.status_flags)
          << where() << "controls of account " << to_decimal(id) << " differ from those last set";
    }
  }

  void run_expire() {
    phase_ = "expire";
    snapshot();
    const std::size_t released = ledger_.expire(now_ns_);
    std::size_t want = 0;
    for (auto it = open_.begin(); it != open_.end();) {
      if (it->second.expires_at_ns != 0 && it->second.expires_at_ns <= now_ns_) {
        --ledgers_[it->second.ledger].transfers_pending;
        it = open_.erase(it);
        ++want;
      } else {
        ++it;
      }
    }
    EXPECT_EQ(released, want) << where() << "expire(" << now_ns_ << ")";
    coverage_.expired += released;
    check_state();
  }

  // Property 8 and the expiry rule at their boundary, which random times never hit: take
  // the open pending transfer that expires first (at E, after the last timestamp) and
  // either expire(E) (it must be released), or post or void it at timestamp E - 1 (ok) or
  // E (pending_transfer_expired).
  void run_probe() {
    phase_ = "probe";
    const std::uint64_t floor = ledger_.last_timestamp() + 2;
    u128 pending_id = 0;
    std::uint64_t expires = 0;
    for (const auto& [id, p] : open_) {
      if (p.expires_at_ns >= floor && (pending_id == 0 || p.expires_at_ns < expires)) {
        pending_id = id;
        expires = p.expires_at_ns;
      }
    }
    if (pending_id == 0) return;
    const std::uint64_t r = rng_.below(3);
    if (r == 0) {
      now_ns_ = expires;
      run_expire();
      EXPECT_EQ(open_.count(pending_id), 0u);
      ++coverage_.probe_expire;
      return;
    }
    transfer t{};  // accounts, ledger and code 0: taken from the pending transfer
    t.id = next_probe_id_++;
    t.pending_id = pending_id;
    t.flags = rng_.chance(500) ? transfer_flags::post_pending_transfer
                               : transfer_flags::void_pending_transfer;
    now_ns_ = r == 1 ? expires - 1 : expires;
    const std::vector<transfer> batch{t};
    const std::vector<result> results = run_transfers(batch, false);
    const ctr want = r == 1 ? ctr::ok : ctr::pending_transfer_expired;
    EXPECT_EQ(results[0].status, static_cast<std::uint32_t>(want))
        << where() << (t.flags == transfer_flags::post_pending_transfer ? "post" : "void")
        << " of pending " << to_decimal(pending_id) << " expiring at " << expires << " sent at "
        << now_ns_ << ": " << code_name(results[0].status);
    ++(r == 1 ? coverage_.probe_before_expiry : coverage_.probe_at_expiry);
    run_transfers(batch, true);
  }

  // --- the end ------------------------------------------------------------------------

  void finish() {
    phase_ = "finish";
    EXPECT_GT(utc_day(now_ns_), utc_day(start_ns)) << where() << "never crossed midnight";
    const coverage& c = coverage_;
    std::ostringstream s;
    s << "seed " << pc_.seed << " (" << workload::name(pc_.dist)
      << "): " << gen_.transfers_generated() << " transfer events in " << step_
      << " steps; ok: plain " << c.plain << ", pending with/without timeout "
      << c.pending_with_timeout << "/" << c.pending_without_timeout << ", post full/partial "
      << c.post_full << "/" << c.post_partial << ", void " << c.void_ << ", balancing debit/credit "
      << c.balancing_debit << "/" << c.balancing_credit << ", chains " << c.chain_ok
      << " (pending+post " << c.chain_pending_post_ok << "), old ids resent "
      << c.resent_old_id_exists << ", expired " << c.expired << ", controls ok/failed "
      << c.controls_ok << "/" << c.controls_failed << ", expiry probes (expire/before/at) "
      << c.probe_expire << "/" << c.probe_before_expiry << "/" << c.probe_at_expiry << "\n  codes:";
    for (std::uint32_t i = 0; i < create_transfer_result_count; ++i)
      if (c.codes[i] != 0) s << " " << name(static_cast<ctr>(i)) << "=" << c.codes[i];
    std::printf("%s\n", s.str().c_str());

    EXPECT_GT(c.plain, 0u);
    EXPECT_GT(c.pending_with_timeout, 0u);
    EXPECT_GT(c.pending_without_timeout, 0u);
    EXPECT_GT(c.post_full, 0u);
    EXPECT_GT(c.post_partial, 0u);
    EXPECT_GT(c.void_, 0u);
    EXPECT_GT(c.balancing_debit, 0u);
    EXPECT_GT(c.balancing_credit, 0u);
    EXPECT_GT(c.chain_ok, 0u);
    EXPECT_GT(c.chain_pending_post_ok, 0u);
    EXPECT_GT(c.resent_old_id_exists, 0u);
    EXPECT_GT(c.expired, 0u);
    EXPECT_GT(c.controls_ok, 0u);
    EXPECT_GT(c.controls_failed, 0u);
    EXPECT_GT(c.probe_expire, 0u);
    EXPECT_GT(c.probe_before_expiry, 0u);
    EXPECT_GT(c.probe_at_expiry, 0u);
    for (ctr code :
         {ctr::linked_event_failed, ctr::linked_event_chain_open, ctr::exists,
          ctr::id_already_failed, ctr::debit_account_not_found, ctr::credit_account_not_found,
          ctr::accounts_must_have_the_same_ledger, ctr::pending_transfer_not_found,
          ctr::pending_transfer_has_different_debit_account_id,
          ctr::exceeds_pending_transfer_amount, ctr::pending_transfer_already_posted,
          ctr::pending_transfer_already_voided, ctr::pending_transfer_expired, ctr::exceeds_credits,
          ctr::exceeds_debits, ctr::debit_account_frozen, ctr::credit_account_frozen,
          ctr::exceeds_transfer_amount_max, ctr::exceeds_daily_debit_max}) {
      EXPECT_GT(c.codes[static_cast<std::size_t>(code)], 0u)
          << "seed " << pc_.seed << ": never saw " << name(code);
    }
  }

  // 30 s before a UTC midnight, so that the run crosses it.
  static constexpr std::uint64_t start_ns = 19'723 * ns_per_day + ns_per_day - 30 * ns_per_s;

  property_config pc_;
  workload::generator gen_;
  workload::xoshiro256 rng_{pc_.seed ^ 0x5eed5eed5eed5eedull};  // the test's own choices
  reference_ledger ledger_;
  std::uint64_t now_ns_ = start_ns;
  std::uint64_t step_ = 0;
  const char* phase_ = "setup";
  std::uint64_t last_ok_timestamp_ = 0;
  u128 next_probe_id_ = make_u128(1, 0);  // far above the generator's ids
  std::vector<account_state> before_;
  std::vector<controls_state> controls_;  // the model: what was last set, by account slot
  std::map<u128, pending_model> open_;    // the model: open pending transfers by id
  std::vector<ledger_model> ledgers_;     // the model, by ledger (index 0 unused)
  std::vector<result> original_;
  coverage coverage_;
};

TEST(workload_property, reference_ledger_seed_1_uniform) {
  property_run run({.seed = 1,
                    .dist = workload::distribution::uniform,
                    .accounts = 1000,
                    .ledgers = 4,
                    .transfer_events_min = 150'000});
  run.run();
}

TEST(workload_property, reference_ledger_seed_2_zipf) {
  property_run run({.seed = 2,
                    .dist = workload::distribution::zipf,
                    .accounts = 1000,
                    .ledgers = 4,
                    .transfer_events_min = 150'000});
  run.run();
}

// Few accounts: hot, often at their bounds, many conflicts inside chains.
TEST(workload_property, reference_ledger_seed_3_zipf_few_accounts) {
  property_run run({.seed = 3,
                    .dist = workload::distribution::zipf,
                    .accounts = 120,
                    .ledgers = 3,
                    .transfer_events_min = 100'000});
  run.run();
}

}  // namespace
}  // namespace remit
