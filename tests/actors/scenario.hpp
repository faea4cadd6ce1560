// A seeded generator of engine scenarios for the differential tests: account batches,
// transfer batches of every kind (plain, pending with and without timeout, posts in full
// and in part, voids, balancing, linked chains including a pending created and posted in
// one chain, resends, invalid events, unknown accounts, amounts near 2^127), "conflict"
// batches on a few accounts, and controls changes. It never sees results: it posts and
// voids the pending transfers it generated, so some of those fail, which is intended.
// One seed gives one scenario on every machine (splitmix64, no std:: distributions).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/types.hpp"
#include "test_support.hpp"

namespace remit::actor_test {

// splitmix64: small, seeded, the same on every machine.
struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  bool chance(std::uint32_t per_mille) { return below(1000) < per_mille; }
};

enum class step_kind : std::uint8_t { accounts, transfers, controls };

struct step {
  step_kind kind = step_kind::transfers;
  std::uint64_t now_ns = 0;
  bool conflict = false;  // a conflict batch (for the report only)
  std::vector<account> accounts;
  std::vector<transfer> transfers;
  std::vector<account_controls> controls;
};

struct scenario_config {
  std::uint64_t seed = 1;
  std::size_t transfer_events_min = 60'000;
  // Let resends and duplicate accounts land inside linked chains (`exists` inside a chain).
  bool chain_exists = false;
  // Pending transfers with timeouts of 1 to 4 s and 100 to 400 ms per step, so that many
  // expire during the run (the runner must then drive expiry on both sides).
  bool short_timeouts = false;
  // Added to every account and transfer id, so that scenarios with different bases share
  // no id and can run side by side on one engine.
  std::uint64_t id_base = 0;
  // Start at noon and never cross a UTC day (no daily sums start again).
  bool single_day = false;
};

// The generated steps, plus every id they use, for the final comparisons.
struct scenario {
  std::vector<step> steps;
  std::vector<u128> account_ids;
  std::vector<u128> transfer_ids;
  std::vector<u128> hot_accounts;
  std::size_t transfer_events = 0;
  std::size_t conflict_batches = 0;
};

// Generates a scenario. It never sees results: it posts and voids the pending transfers it
// generated, so some of those fail (already posted, not found...), which is intended.
class scenario_builder {
 public:
  explicit scenario_builder(const scenario_config& c) : cfg_(c), rng_(c.seed) {}

  scenario build() {
    now_ns_ = cfg_.single_day ? (epoch_2023_ns / ns_per_day) * ns_per_day + ns_per_day / 2
                              : (epoch_2023_ns / ns_per_day + 1) * ns_per_day -
                                    700 * 1'000'000ull;  // 23:59:59.3
    make_initial_accounts();
    fund();
    bool day_jumped = false;
    while (out_.transfer_events < cfg_.transfer_events_min) {
      const std::uint64_t r = rng_.below(1000);
      if (r < 20) {
        account_step();
      } else if (r < 70) {
        controls_step();
      } else {
        transfer_step();
      }
      if (!cfg_.single_day && !day_jumped && out_.transfer_events > cfg_.transfer_events_min / 2) {
        now_ns_ += ns_per_day;  // daily sums start again
        day_jumped = true;
      }
    }
    // Close with a few batches that look up nothing new but move more money, so that the
    // last state is not just after a controls change.
    for (int i = 0; i < 3; ++i) transfer_step();
    return std::move(out_);
  }

 private:
  struct acct {
    u128 id;
    std::uint32_t ledger;
    std::uint16_t flags;
  };
  struct pending_ref {
    u128 id;
    u128 debit;
    u128 credit;
    u128 amount;
    std::uint32_t ledger;
  };

  static constexpr std::uint32_t ledger_count = 3;

  step& new_step(step_kind k) {
    if (cfg_.short_timeouts) {
      now_ns_ += rng_.between(100'000'000, 400'000'000);
    } else {
      now_ns_ += 1'000'000 + rng_.below(1000);  // about 1 ms per step
    }
    step s;
    s.kind = k;
    s.now_ns = now_ns_;
    out_.steps.push_back(std::move(s));
    return out_.steps.back();
  }

  u128 account_id(std::uint64_t k) {
    // One in 16 with high bits set, so that both halves of an id matter.
    if (k % 16 == 5) return make_u128(k * 0x9e3779b97f4a7c15ull, cfg_.id_base + k);
    return cfg_.id_base + k;
  }

  u128 next_transfer_id() {
    const std::uint64_t seq = ++transfer_seq_;
    const u128 id = seq % 16 == 7 ? make_u128(seq * 0xd1b54a32d192ed03ull, cfg_.id_base + seq)
                                  : 1'000'000 + cfg_.id_base + seq;
    out_.transfer_ids.push_back(id);
    return id;
  }

  account new_account(std::uint32_t ledger, std::uint16_t flags) {
    account a = make_account(account_id(++account_seq_), ledger, flags);
    if (rng_.chance(300)) a.user_data_128 = make_u128(rng_.next(), rng_.next());
    if (rng_.chance(300)) a.user_data_64 = rng_.next();
    if (rng_.chance(300)) a.user_data_32 = static_cast<std::uint32_t>(rng_.next());
    if (rng_.chance(100)) a.code = static_cast<std::uint16_t>(rng_.between(2, 9));
    return a;
  }

  void remember_account(const account& a) {
    out_.account_ids.push_back(a.id);
    by_ledger_[a.ledger - 1].push_back(acct{a.id, a.ledger, a.flags});
  }

  std::uint16_t random_account_flags() {
    const std::uint64_t r = rng_.below(100);
    if (r < 45) return account_flags::debits_must_not_exceed_credits;
    if (r < 55) return account_flags::credits_must_not_exceed_debits;
    return 0;
  }

  void make_initial_accounts() {
    step& s = new_step(step_kind::accounts);
    for (std::uint32_t l = 1; l <= ledger_count; ++l) {
      const account bank = new_account(l, 0);
      banks_[l - 1] = bank.id;
      s.accounts.push_back(bank);
      remember_account(bank);
      out_.hot_accounts.push_back(bank.id);
    }
    const std::uint32_t per_ledger[ledger_count] = {150, 150, 8};
    for (std::uint32_t l = 1; l <= ledger_count; ++l) {
      for (std::uint32_t i = 0; i < per_ledger[l - 1]; ++i) {
        // Ledger 3 holds the "whales" of huge(): no bound flags.
        const account a = new_account(l, l == 3 ? 0 : random_account_flags());
        s.accounts.push_back(a);
        remember_account(a);
      }
    }
    // Hot accounts: the bank and two user accounts of each big ledger.
    for (std::uint32_t l = 1; l <= 2; ++l) {
      for (int i = 0; i < 2; ++i) {
        const acct& a = by_ledger_[l - 1][1 + rng_.below(by_ledger_[l - 1].size() - 1)];
        hot_[l - 1].push_back(a.id);
        out_.hot_accounts.push_back(a.id);
      }
      hot_[l - 1].push_back(banks_[l - 1]);
    }
    hot_[2].push_back(banks_[2]);
  }

  void fund() {
    step* s = &new_step(step_kind::transfers);
    for (std::uint32_t l = 1; l <= ledger_count; ++l) {
      for (const acct& a : by_ledger_[l - 1]) {
        if (a.id == banks_[l - 1] || (a.flags & account_flags::credits_must_not_exceed_debits))
          continue;
        if (s->transfers.size() == 500) s = &new_step(step_kind::transfers);
        const u128 amount = rng_.chance(100) ? rng_.below(100) + 1 : rng_.between(1'000, 100'000);
        s->transfers.push_back(
            make_transfer(next_transfer_id(), banks_[l - 1], a.id, amount, 0, l));
        ++out_.transfer_events;
      }
    }
  }

  // ---- accounts

  void account_step() {
    step& s = new_step(step_kind::accounts);
    const std::size_t n = rng_.between(1, 12);
    while (s.accounts.size() < n) {
      const std::uint64_t r = rng_.below(100);
      const auto l = static_cast<std::uint32_t>(1 + rng_.below(2));
      if (r < 45) {
        const account a = new_account(l, random_account_flags());
        s.accounts.push_back(a);
        remember_account(a);
      } else if (r < 60) {
        // An existing account again: exact, or with one field changed.
        const acct& e = pick_any(l);
        account a = make_account(e.id, e.ledger, e.flags);
        switch (rng_.below(6)) {
          case 0:
            a.flags ^= account_flags::debits_must_not_exceed_credits;
            break;
          case 1:
            a.user_data_64 = 1 + rng_.below(5);
            break;
          case 2:
            a.ledger = a.ledger == 1 ? 2 : 1;
            break;
          case 3:
            a.code = 7;
            break;
          default:
            break;  // maybe exact (user data / code of the original may differ)
        }
        s.accounts.push_back(a);
      } else if (r < 75) {
        // An invalid account.
        account a = new_account(l, 0);
        switch (rng_.below(7)) {
          case 0:
            a.id = 0;
            break;
          case 1:
            a.reserved = 1;
            break;
          case 2:
            a.debits_posted = 5;
            break;
          case 3:
            a.ledger = 0;
            break;
          case 4:
            a.code = 0;
            break;
          case 5:
            a.flags = account_flags::debits_must_not_exceed_credits |
                      account_flags::credits_must_not_exceed_debits;
            break;
          default:
            a.flags = 1u << 9;
            break;
        }
        s.accounts.push_back(a);
      } else {
        // A linked chain of new accounts, failing now and then (an invalid last member, or
        // the same id twice when exists-in-chain is allowed).
        const std::size_t legs = rng_.between(2, 4);
        const bool fail = rng_.chance(300);
        for (std::size_t i = 0; i < legs; ++i) {
          account a = new_account(l, random_account_flags());
          if (i + 1 < legs) a.flags |= account_flags::linked;
          if (fail && i + 1 == legs) {
            if (cfg_.chain_exists && rng_.chance(500)) {
              a = s.accounts.back();
              a.flags &= static_cast<std::uint16_t>(~account_flags::linked);
            } else {
              a.code = 0;
            }
          }
          s.accounts.push_back(a);
          if (!fail) remember_account(a);
        }
      }
    }
    if (cfg_.chain_exists && rng_.chance(200)) {
      // An existing account inside a chain.
      const acct& e = pick_any(1);
      s.accounts.push_back(make_account(e.id, e.ledger, e.flags | account_flags::linked));
      s.accounts.push_back(new_account(1, 0));
    }
    if (rng_.chance(50)) s.accounts.back().flags |= account_flags::linked;  // chain left open
  }

  // ---- controls

  void controls_step() {
    step& s = new_step(step_kind::controls);
    const std::size_t n = rng_.between(1, 16);
    for (std::size_t i = 0; i < n; ++i) {
      const auto l = static_cast<std::uint32_t>(1 + rng_.below(2));
      account_controls c = make_controls(pick_user(l).id);
      const std::uint64_t r = rng_.below(100);
      if (r < 30) {
        // back to the defaults (unfreezes)
      } else if (r < 50) {
        c.overdraft_max = rng_.between(1, 5'000);
      } else if (r < 62) {
        c.transfer_amount_max = rng_.between(300, 5'000);
      } else if (r < 74) {
        c.daily_debit_max = rng_.between(1'000, 60'000);
      } else if (r < 82) {
        c.status_flags = account_status_flags::frozen;
      } else if (r < 88) {
        c.overdraft_max = rng_.between(1, 1'000);
        c.daily_debit_max = rng_.between(1'000, 60'000);
        c.transfer_amount_max = rng_.between(300, 5'000);
      } else if (r < 91) {
        c.account_id = make_u128(0xdead, rng_.next());  // account_not_found
      } else if (r < 94) {
        c.account_id = 0;  // account_not_found
      } else if (r < 97) {
        c.status_flags = 1u << rng_.between(1, 31);  // reserved_flag
      } else {
        c.reserved[rng_.below(sizeof c.reserved)] = 1;  // reserved_field
      }
      s.controls.push_back(c);
    }
  }

  // ---- transfers

  const acct& pick_any(std::uint32_t ledger) {
    const auto& v = by_ledger_[ledger - 1];
    return v[rng_.below(v.size())];
  }
  const acct& pick_user(std::uint32_t ledger) {
    const auto& v = by_ledger_[ledger - 1];
    for (;;) {
      const acct& a = v[rng_.below(v.size())];
      if (a.id != banks_[ledger - 1]) return a;
    }
  }

  u128 pick_account(std::uint32_t ledger) {
    if (!conflict_set_.empty()) return conflict_set_[rng_.below(conflict_set_.size())];
    if (rng_.chance(250)) {
      const auto& h = hot_[ledger - 1];
      return h[rng_.below(h.size())];
    }
    return pick_any(ledger).id;
  }

  std::uint32_t pick_ledger() {
    if (!conflict_set_.empty()) return conflict_ledger_;
    const std::uint64_t r = rng_.below(100);
    return r < 55 ? 1 : r < 97 ? 2 : 3;
  }

  void pick_pair(transfer& t) {
    t.ledger = pick_ledger();
    t.debit_account_id = pick_account(t.ledger);
    t.credit_account_id = t.debit_account_id;
    for (int i = 0; i < 16 && t.credit_account_id == t.debit_account_id; ++i)
      t.credit_account_id = pick_account(t.ledger);
    if (t.credit_account_id == t.debit_account_id) t.credit_account_id = banks_[t.ledger - 1];
    if (t.credit_account_id == t.debit_account_id) t.debit_account_id = pick_user(t.ledger).id;
  }

  u128 pick_amount() {
    if (rng_.chance(30)) return rng_.between(1, 200'000);
    return rng_.between(1, 1'000);
  }

  transfer blank() {
    transfer t{};
    t.id = next_transfer_id();
    t.code = 1;
    if (rng_.chance(100)) t.user_data_128 = make_u128(rng_.next(), rng_.next());
    if (rng_.chance(100)) t.user_data_64 = rng_.next();
    if (rng_.chance(100)) t.user_data_32 = static_cast<std::uint32_t>(rng_.next());
    return t;
  }

  transfer plain() {
    transfer t = blank();
    pick_pair(t);
    t.amount = pick_amount();
    return t;
  }

  std::uint32_t pick_timeout() {
    if (cfg_.short_timeouts) {
      return rng_.chance(400) ? 0 : static_cast<std::uint32_t>(rng_.between(1, 4));
    }
    // Never expires within the run: 10 to 100 days.
    return rng_.chance(500) ? 0 : static_cast<std::uint32_t>(rng_.between(864'000, 8'640'000));
  }

  transfer pending() {
    transfer t = plain();
    t.flags = transfer_flags::pending;
    t.timeout = pick_timeout();
    pool_.push_back(pending_ref{t.id, t.debit_account_id, t.credit_account_id, t.amount, t.ledger});
    return t;
  }

  transfer post_or_void_of(const pending_ref& p, bool post) {
    transfer t = blank();
    t.code = rng_.chance(500) ? 1 : 0;
    t.flags = post ? transfer_flags::post_pending_transfer : transfer_flags::void_pending_transfer;
    t.pending_id = p.id;
    if (rng_.chance(500)) t.debit_account_id = p.debit;
    if (rng_.chance(500)) t.credit_account_id = p.credit;
    if (rng_.chance(500)) t.ledger = p.ledger;
    const std::uint64_t r = rng_.below(100);
    if (post) {
      if (r < 40) {
        t.amount = 0;
      } else if (r < 75) {
        t.amount = rng_.between(1, static_cast<std::uint64_t>(p.amount));
      } else if (r < 93) {
        t.amount = p.amount;
      } else {
        t.amount = p.amount + 1 + rng_.below(10);  // exceeds_pending_transfer_amount
      }
    } else {
      t.amount = r < 75 ? u128{0} : r < 95 ? p.amount : p.amount + 1;
    }
    const std::uint64_t m = rng_.below(100);
    if (m < 2)
      t.debit_account_id = p.credit;  // pending_transfer_has_different_debit...
    else if (m < 3)
      t.credit_account_id = p.debit;  // ..._different_credit_account_id
    else if (m < 4)
      t.ledger = p.ledger + 1;  // pending_transfer_has_different_ledger
    else if (m < 5)
      t.code = 9;  // pending_transfer_has_different_code
    return t;
  }

  transfer post_or_void() {
    if (pool_.empty()) return pending();
    if (rng_.chance(20) && !sent_.empty()) {
      // Names a transfer that is not pending (or one that failed): not_pending, not_found.
      const transfer& x = sent_[rng_.below(sent_.size())];
      return post_or_void_of(pending_ref{x.id, x.debit_account_id, x.credit_account_id,
                                         x.amount == 0 ? u128{1} : x.amount, x.ledger},
                             rng_.chance(500));
    }
    // Mostly recent pending transfers (so that many are still open), sometimes old ones.
    const std::size_t n = pool_.size();
    const std::size_t i =
        rng_.chance(700) ? n - 1 - rng_.below(std::min<std::size_t>(n, 64)) : rng_.below(n);
    const pending_ref p = pool_[i];
    if (rng_.chance(900)) {
      pool_[i] = pool_.back();
      pool_.pop_back();
    }
    return post_or_void_of(p, rng_.chance(700));
  }

  transfer balancing() {
    transfer t = plain();
    const std::uint64_t r = rng_.below(100);
    t.flags = r < 45   ? transfer_flags::balancing_debit
              : r < 85 ? transfer_flags::balancing_credit
                       : static_cast<std::uint16_t>(transfer_flags::balancing_debit |
                                                    transfer_flags::balancing_credit);
    if (rng_.chance(300)) t.amount *= 100;
    if (rng_.chance(200)) {
      t.flags |= transfer_flags::pending;
      t.timeout = pick_timeout();
    }
    return t;
  }

  // A linked chain of 2..legs_max events.
  void chain(std::vector<transfer>& out, std::size_t room) {
    if (room < 2) {
      out.push_back(plain());
      return;
    }
    const std::size_t legs = rng_.between(2, std::min<std::size_t>(room, 5));
    const std::size_t start = out.size();
    const std::uint64_t r = rng_.below(100);
    if (r < 30) {
      // Money passed along: each leg debits the account the one before credited.
      const u128 amount = rng_.between(1, 3'000);
      const std::uint32_t ledger = pick_ledger();
      u128 from = pick_account(ledger);
      for (std::size_t i = 0; i < legs; ++i) {
        u128 to = from;
        for (int k = 0; k < 16 && to == from; ++k) to = pick_account(ledger);
        if (to == from) to = from == banks_[ledger - 1] ? pick_user(ledger).id : banks_[ledger - 1];
        transfer t = blank();
        t.debit_account_id = from;
        t.credit_account_id = to;
        t.ledger = ledger;
        t.amount = amount;
        out.push_back(t);
        from = to;
      }
    } else if (r < 55) {
      // A pending transfer, plain legs, then its post or void.
      const transfer p = pending();
      pool_.pop_back();  // resolved inside the chain (or not at all)
      out.push_back(p);
      for (std::size_t i = 0; i + 2 < legs; ++i) out.push_back(plain());
      const pending_ref ref{p.id, p.debit_account_id, p.credit_account_id, p.amount, p.ledger};
      out.push_back(post_or_void_of(ref, rng_.chance(750)));
    } else if (r < 85) {
      for (std::size_t i = 0; i < legs; ++i) {
        const std::uint64_t k = rng_.below(10);
        out.push_back(k < 6 ? plain() : k < 8 ? balancing() : pending());
      }
    } else {
      // A chain with a leg that fails for sure (an unknown account or a huge amount).
      for (std::size_t i = 0; i < legs; ++i) out.push_back(plain());
      transfer& bad = out[start + rng_.below(legs)];
      if (rng_.chance(500)) {
        bad.credit_account_id = make_u128(0xbad, rng_.next());
      } else {
        bad.amount = u128{1} << 100;
      }
    }
    if (cfg_.chain_exists && rng_.chance(100) && !sent_.empty()) {
      out[start + rng_.below(legs)] = sent_[rng_.below(sent_.size())];  // exists inside
    }
    for (std::size_t i = start; i + 1 < out.size(); ++i) out[i].flags |= transfer_flags::linked;
    out.back().flags &= static_cast<std::uint16_t>(~transfer_flags::linked);
  }

  // An earlier event again: exactly, or with one field changed (exists_with_different_*).
  transfer resend(const std::vector<transfer>& batch) {
    transfer t;
    std::vector<const transfer*> here;
    for (const transfer& x : batch)
      if (!(x.flags & transfer_flags::linked)) here.push_back(&x);
    if (!here.empty() && rng_.chance(300)) {
      t = *here[rng_.below(here.size())];  // the same id twice in one batch
    } else if (!sent_.empty()) {
      t = sent_[rng_.below(sent_.size())];
    } else {
      return plain();
    }
    if (rng_.chance(300)) {
      switch (rng_.below(11)) {
        case 8:
          t.pending_id += 1;
          break;  // exists_with_different_pending_id (posts)
        case 9:
          t.debit_account_id = t.credit_account_id + 1;
          break;
        case 10:
          t.credit_account_id = t.debit_account_id + 1;
          break;
        case 0:
          t.amount += 1;
          break;
        case 1:
          t.user_data_64 += 1;
          break;
        case 2:
          t.user_data_32 += 1;
          break;
        case 3:
          t.user_data_128 += 1;
          break;
        case 4:
          t.code = static_cast<std::uint16_t>(t.code + 1);
          break;
        case 5:
          t.flags ^= transfer_flags::pending;
          break;
        case 6:
          t.timeout = t.timeout == 0 ? 864'000 : t.timeout + 1;
          break;  // never expires
        default:
          t.ledger += 1;
          break;
      }
    }
    return t;
  }

  // Amounts near 2^127 on the small ledger 3: its balances soon overflow (codes 49 to 54),
  // and balancing rooms and the stats' volume saturate.
  transfer huge() {
    transfer t = blank();
    t.ledger = 3;
    // Flows between the whales of ledger 3 (v[0] is the bank, v[1] to v[8] have no bound
    // flags), each arranged so that one balance overflows before the others:
    //   A: pending v1 -> v2          49 (v1's debits_pending; v2's credits_pending ties)
    //   B: pending v3 or v4 -> v1    50 (v1's credits_pending grows twice as fast)
    //   C: v0 or v5 -> v6            52 (v6's credits_posted)
    //   D: v5 -> v0                  51 (v5's debits_posted, fed by C too)
    //   E: v3 -> v7                  53 (v3's debits_posted beside its pending from B)
    //   F: v8 -> v2                  54 (v2's credits_posted beside its pending from A)
    // The pending transfers are never posted or voided (not in the pool).
    const auto& v = by_ledger_[2];
    t.amount = (u128{1} << 125) + make_u128(rng_.below(u128_hi(u128{3} << 125)), rng_.next());
    const auto id = [&](std::size_t i) { return v[i].id; };
    switch (rng_.below(9)) {
      case 0:
      case 1:
        t.flags = transfer_flags::pending;
        t.debit_account_id = id(1);
        t.credit_account_id = id(2);
        break;
      case 2:
      case 3:
        t.flags = transfer_flags::pending;
        t.debit_account_id = id(rng_.chance(500) ? 3 : 4);
        t.credit_account_id = id(1);
        break;
      case 4:
      case 5:
        t.debit_account_id = id(rng_.chance(500) ? 0 : 5);
        t.credit_account_id = id(6);
        break;
      case 6:
        t.debit_account_id = id(5);
        t.credit_account_id = id(0);
        break;
      case 7:
        t.debit_account_id = id(3);
        t.credit_account_id = id(7);
        break;
      default:
        t.debit_account_id = id(8);
        t.credit_account_id = id(2);
        break;
    }
    if (!(t.flags & transfer_flags::pending) && rng_.chance(200)) {
      t.flags =
          rng_.chance(500) ? transfer_flags::balancing_debit : transfer_flags::balancing_credit;
    }
    return t;
  }

  // Fails on the event alone.
  transfer invalid() {
    transfer t = plain();
    switch (rng_.below(18)) {
      case 12:
        t.debit_account_id = u128_max;
        break;
      case 13:
        t.credit_account_id = 0;
        break;
      case 14:
        t.credit_account_id = u128_max;
        break;
      case 15:
        t.code = 0;
        break;
      case 16:
      case 17: {
        t.flags = transfer_flags::void_pending_transfer;
        t.pending_id = rng_.chance(500) ? u128{0} : u128_max;  // 27, 28
        break;
      }
      case 0:
        t.id = 0;
        break;
      case 1:
        t.id = u128_max;
        break;
      case 2:
        t.flags = transfer_flags::pending | transfer_flags::post_pending_transfer;
        break;
      case 3:
        t.flags = 1u << 12;
        break;
      case 4:
        t.timestamp = 1;
        break;
      case 5:
        t.debit_account_id = 0;
        break;
      case 6:
        t.credit_account_id = t.debit_account_id;
        break;
      case 7:
        t.pending_id = 5;
        break;
      case 8:
        t.timeout = 5;
        break;
      case 9:
        t.amount = 0;
        break;
      case 10:
        t.ledger = 0;
        break;
      default: {
        t.flags = transfer_flags::post_pending_transfer;
        t.pending_id = t.id;  // pending_id_must_be_different
        break;
      }
    }
    return t;
  }

  // Fails on state: unknown account, ledgers that differ.
  transfer wrong_accounts() {
    transfer t = plain();
    switch (rng_.below(4)) {
      case 0:
        t.debit_account_id = make_u128(0xbad, rng_.next());
        break;
      case 1:
        t.credit_account_id = make_u128(0xbad, rng_.next());
        break;
      case 2:
        t.ledger = t.ledger == 1 ? 2 : 1;
        break;  // transfer_must_have_the_same_ledger...
      default: {
        const std::uint32_t other = t.ledger == 1 ? 2 : 1;
        t.credit_account_id = pick_user(other).id;  // accounts_must_have_the_same_ledger
        break;
      }
    }
    return t;
  }

  // Conflict patterns that the engine must order within a batch. The conflict set holds
  // user accounts only (never the bank).
  void pattern(std::vector<transfer>& out, std::size_t room) {
    const std::uint32_t l = conflict_ledger_;
    const u128 bank = banks_[l - 1];
    const u128 x = conflict_set_[rng_.below(conflict_set_.size())];
    u128 y = x;
    while (y == x) y = conflict_set_[rng_.below(conflict_set_.size())];
    const auto leg = [&](u128 dr, u128 cr, u128 amount) {
      transfer t = blank();
      t.debit_account_id = dr;
      t.credit_account_id = cr;
      t.ledger = l;
      t.amount = amount;
      return t;
    };
    const std::uint64_t r = rng_.below(4);
    if (r == 0 && room >= 2) {
      // Credit then debit of the same account: the credit funds the debit.
      const u128 amount = rng_.between(1, 50'000);
      out.push_back(leg(bank, x, amount));
      out.push_back(leg(x, y, amount));
    } else if (r == 1 && room >= 2) {
      // A pending transfer created, then posted (or voided) in the same batch.
      transfer p = leg(x, y, rng_.between(1, 5'000));
      p.flags = transfer_flags::pending;
      out.push_back(p);
      const pending_ref ref{p.id, x, y, p.amount, l};
      if (room >= 3 && rng_.chance(300)) out.push_back(leg(y, x, rng_.between(1, 100)));
      out.push_back(post_or_void_of(ref, rng_.chance(750)));
    } else if (r == 2 && room >= 2) {
      // The same in one chain, then a debit that needs the posted credit.
      transfer p = leg(y, x, rng_.between(1, 5'000));
      p.flags = transfer_flags::pending | transfer_flags::linked;
      out.push_back(p);
      transfer post = blank();
      post.flags = transfer_flags::post_pending_transfer;
      post.pending_id = p.id;
      if (room >= 3) post.flags |= transfer_flags::linked;
      out.push_back(post);
      if (room >= 3) out.push_back(leg(x, y, p.amount));
    } else {
      // The same account debited twice (the second may find the first took the money).
      out.push_back(leg(x, y, rng_.between(1, 30'000)));
      if (room >= 2) out.push_back(leg(x, bank, rng_.between(1, 30'000)));
    }
  }

  void transfer_step() {
    const std::uint64_t size_class = rng_.below(100);
    std::size_t n = size_class < 15   ? 1
                    : size_class < 45 ? rng_.between(2, 20)
                    : size_class < 85 ? rng_.between(20, 200)
                                      : rng_.between(200, 1'000);
    const bool conflict = rng_.chance(170);
    conflict_set_.clear();
    if (conflict) {
      conflict_ledger_ = rng_.chance(800) ? 1 : 2;
      const std::size_t k = rng_.between(3, 5);
      conflict_set_.push_back(hot_[conflict_ledger_ - 1][0]);
      while (conflict_set_.size() < k) {
        const u128 id = pick_user(conflict_ledger_).id;
        if (std::find(conflict_set_.begin(), conflict_set_.end(), id) == conflict_set_.end())
          conflict_set_.push_back(id);
      }
      n = rng_.between(2, 80);
      ++out_.conflict_batches;
    }
    step& s = new_step(step_kind::transfers);
    s.conflict = conflict;
    std::vector<transfer>& out = s.transfers;
    out.reserve(n);
    while (out.size() < n) {
      const std::size_t room = n - out.size();
      const std::uint64_t r = rng_.below(1000);
      if (conflict && r < 250) {
        pattern(out, room);
      } else if (r < 300) {
        out.push_back(plain());
      } else if (r < 420) {
        out.push_back(pending());
      } else if (r < 550) {
        out.push_back(post_or_void());
      } else if (r < 620) {
        out.push_back(balancing());
      } else if (r < 770) {
        chain(out, room);
      } else if (r < 850) {
        out.push_back(resend(out));
      } else if (r < 880) {
        out.push_back(invalid());
      } else if (r < 910) {
        out.push_back(wrong_accounts());
      } else if (r < 918 && !conflict) {
        out.push_back(huge());
      } else {
        out.push_back(plain());
      }
    }
    // A chain left open at the end of the batch now and then.
    if (rng_.chance(15)) out.back().flags |= transfer_flags::linked;
    for (const transfer& t : out) {
      if (t.flags & transfer_flags::linked) continue;
      if (sent_.size() < 4096) {
        sent_.push_back(t);
      } else {
        sent_[rng_.below(sent_.size())] = t;
      }
    }
    out_.transfer_events += out.size();
    conflict_set_.clear();
    const bool has_chain = std::any_of(out.begin(), out.end(), [](const transfer& t) {
      return (t.flags & transfer_flags::linked) != 0;
    });
    if (out.size() >= 2 && (cfg_.chain_exists || !has_chain) && rng_.chance(40)) {
      // An exact resend of the whole batch right after it: every event is `exists` or the
      // same failure again. (`out` dangles once the next step is added.)
      std::vector<transfer> copy = out;
      step& again = new_step(step_kind::transfers);
      again.transfers = std::move(copy);
      out_.transfer_events += again.transfers.size();
    }
  }

  scenario_config cfg_;
  rng rng_;
  scenario out_;
  std::uint64_t now_ns_ = 0;
  std::uint64_t account_seq_ = 0;
  std::uint64_t transfer_seq_ = 0;
  u128 banks_[ledger_count] = {};
  std::vector<acct> by_ledger_[ledger_count];
  std::vector<u128> hot_[ledger_count];
  std::vector<pending_ref> pool_;
  std::vector<transfer> sent_;
  std::vector<u128> conflict_set_;
  std::uint32_t conflict_ledger_ = 1;
};

}  // namespace remit::actor_test
