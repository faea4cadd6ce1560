// workload: a seeded, deterministic generator of remit requests for load runs, benchmarks
// and the property test.
//
// Design. The generator owns one PRNG (xoshiro256**, seeded by splitmix64) and draws every
// choice from it, so one seed gives one byte-identical stream of events on every machine:
// no std:: distributions, whose output is implementation-defined. It never sees results;
// it tracks only what it generated (the pending transfers it may post or void, recent
// events it may send again), so some of its posts fail, and that is intended.
//
// The stream, in order:
//   1. accounts: user accounts with ids 1..accounts on ledgers 1..ledgers round-robin
//      (id k on ledger 1 + (k-1) % ledgers), then one unbounded "bank" account per ledger
//      (id accounts + ledger). A fraction of the user accounts carries
//      debits_must_not_exceed_credits, and a few of those credits_must_not_exceed_debits.
//   2. funding: one plain transfer per user account from its ledger's bank (accounts with
//      credits_must_not_exceed_debits are not funded: they could not take it). Most get
//      `funding`, a few ("poor" accounts) much less, so the load mostly succeeds but some
//      transfers fail with exceeds_credits.
//   3. load: transfer batches of the chosen mix, forever; ids unique and increasing (except
//      the deliberate resends of old ids). Both legs of a transfer are on one ledger except
//      the deliberate cross-ledger ones (mix `mixed` only). The mixes:
//        plain    plain transfers only;
//        pending  pending transfers (half with a timeout), posts (full, partial, a few
//                 over the amount) and voids of earlier ones, some posted twice;
//        linked   chains of 2..chain_legs_max legs: random legs, money passed along
//                 a0 -> a1 -> a2, or a pending transfer posted or voided in its own chain;
//        mixed    all of the above plus balancing_debit/credit, chain legs that post older
//                 pending transfers, resends of old ids, cross-ledger transfers, unknown
//                 accounts, and now and then a chain left open at the end of the batch.
//   4. controls (on request, interleaved by the caller): account_controls batches that set
//      overdrafts, caps and freeze/unfreeze, plus a few invalid ones.
//
// Bounds: every batch holds at most batch_events_max events; the pool of pending transfers
// and the ring of resend candidates have fixed capacities. Filling a batch into a vector
// that already has the capacity does not allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/types.hpp"

namespace remit::workload {

// ---------------------------------------------------------------------------------------
// Random numbers

// splitmix64: seeds the main generator (and is a fine hash of a counter).
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna). Does not allocate.
class xoshiro256 {
 public:
  explicit constexpr xoshiro256(std::uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }

  constexpr std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0. Multiply-shift (Lemire) without the rejection step: the bias
  // is below n / 2^64, far under anything a load test can see.
  constexpr std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  // Uniform in [lo, hi]; lo <= hi < 2^64 - 1.
  constexpr std::uint64_t between(std::uint64_t lo, std::uint64_t hi) {
    return lo + below(hi - lo + 1);
  }
  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // True with probability per_mille / 1000.
  constexpr bool chance(std::uint32_t per_mille) { return below(1000) < per_mille; }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

// Zipf over ranks 1..n with exponent s (s > 0; s = 1 is the classic case), by
// rejection-inversion (Hoermann and Derflinger 1996): O(1) per sample, no table, so it is as
// fast for 10^6 accounts as for 10. Does not allocate.
class zipf_sampler {
 public:
  zipf_sampler(std::uint64_t n, double exponent);
  std::uint64_t sample(xoshiro256& rng) const;  // in [1, n]
  std::uint64_t n() const { return n_; }

 private:
  double h(double x) const;
  double h_integral(double x) const;
  double h_integral_inverse(double x) const;

  std::uint64_t n_;
  double exponent_;
  double h_integral_x1_;
  double h_integral_n_;
  double s_;
};

// ---------------------------------------------------------------------------------------
// Configuration

enum class mix : std::uint8_t { plain, pending, linked, mixed };
enum class distribution : std::uint8_t { uniform, zipf };

std::string_view name(mix m);
std::string_view name(distribution d);
[[nodiscard]] std::optional<mix> parse_mix(std::string_view s);
[[nodiscard]] std::optional<distribution> parse_distribution(std::string_view s);

struct config {
  std::uint64_t accounts = 100'000;  // user accounts: ids 1..accounts; at least 2 x ledgers
  std::uint32_t ledgers = 1;         // ledgers 1..ledgers
  mix kind = mix::plain;
  distribution dist = distribution::uniform;
  double zipf_exponent = 1.0;
  std::uint32_t batch_events = batch_events_max;  // 1..batch_events_max
  // Accounts and funding (phases 1 and 2) go in batches of this many, whatever batch_events
  // is: setup is not what a run measures.
  std::uint32_t setup_batch_events = batch_events_max;  // 1..batch_events_max
  std::uint64_t seed = 1;
  double bounded_fraction = 0.25;     // user accounts with a bound flag
  std::uint64_t funding = 1'000'000;  // what a funded account starts with
  std::uint64_t amount_max = 1'000;   // most amounts are uniform in 1..amount_max
  std::uint32_t timeout_max_s = 30;   // pending transfers with a timeout: 1..timeout_max_s
  std::uint32_t chain_legs_max = 4;   // linked chains: 2..chain_legs_max legs
  std::uint16_t code = 1;             // the code of every account and transfer
};

// What `validate` says about a config; empty when it is usable.
std::string_view validate(const config& c);

// Per-account properties the generator chose, for callers that check bounds.
namespace account_traits {
inline constexpr std::uint8_t debits_bounded = 1u << 0;   // debits_must_not_exceed_credits
inline constexpr std::uint8_t credits_bounded = 1u << 1;  // credits_must_not_exceed_debits
inline constexpr std::uint8_t poor = 1u << 2;             // funded with little
}  // namespace account_traits

// ---------------------------------------------------------------------------------------
// Generator

class generator {
 public:
  static constexpr std::size_t pending_pool_max = 1u << 16;
  static constexpr std::size_t resend_ring_max = 1u << 12;

  // The config must pass `validate` (asserted).
  explicit generator(const config& c);

  const config& cfg() const { return cfg_; }
  std::uint64_t account_count() const { return cfg_.accounts + cfg_.ledgers; }  // with banks
  u128 bank_id(std::uint32_t ledger) const { return cfg_.accounts + ledger; }
  std::uint32_t ledger_of(u128 id) const;      // of a user or bank account id
  std::uint8_t traits_of(u128 user_id) const;  // account_traits of a user account

  // Phase 1: the next batch of at most cfg.batch_events accounts; false (and `out` empty)
  // once all account_count() have been handed out.
  bool next_account_batch(std::vector<account>& out);
  // Phase 2: the next batch of funding transfers; false (and `out` empty) when done.
  bool next_funding_batch(std::vector<transfer>& out);
  // Phase 3: a batch of exactly `events` transfers (1..batch_events_max) of the configured
  // mix, or cfg.batch_events with the one-argument form. Replaces the contents of `out`.
  void next_transfer_batch(std::vector<transfer>& out, std::size_t events);
  void next_transfer_batch(std::vector<transfer>& out) {
    next_transfer_batch(out, cfg_.batch_events);
  }
  // `events` controls changes (1..batch_events_max) on random user accounts: overdrafts,
  // amount and daily caps, freeze and unfreeze, resets; about 1 in 30 is invalid (an unknown
  // account, an unknown status flag, a reserved byte set).
  void next_controls_batch(std::vector<account_controls>& out, std::size_t events);

  std::uint64_t transfers_generated() const { return transfers_generated_; }
  u128 last_transfer_id() const { return next_transfer_id_ - 1; }

 private:
  struct pending_ref {
    u128 id;
    u128 debit_account_id;
    u128 credit_account_id;
    u128 amount;
    std::uint32_t ledger;
  };

  std::uint64_t pick_index();  // a user account index in [0, accounts), by cfg.dist
  std::uint64_t same_ledger_index(std::uint64_t index, std::uint64_t other);
  void pick_pair(transfer& t);  // debit, credit and ledger, one ledger, distinct
  u128 pick_amount();
  transfer blank();  // id assigned, code set, everything else zero

  void emit_plain(std::vector<transfer>& out);
  void emit_pending(std::vector<transfer>& out);
  void emit_post_or_void(std::vector<transfer>& out);
  void emit_balancing(std::vector<transfer>& out);
  void emit_chain(std::vector<transfer>& out, std::size_t room);
  void emit_resend(std::vector<transfer>& out);
  void emit_cross_ledger(std::vector<transfer>& out);
  void emit_unknown_account(std::vector<transfer>& out);
  void post_or_void_of(transfer& t, const pending_ref& p, bool post);
  void remember_pending(const transfer& t);
  void remember_sent(const transfer& t);

  config cfg_;
  xoshiro256 rng_;
  std::optional<zipf_sampler> zipf_;
  std::vector<std::uint8_t> traits_;  // per user account
  std::uint64_t accounts_emitted_ = 0;
  std::uint64_t funded_ = 0;  // user accounts considered for funding
  u128 next_transfer_id_ = 1;
  std::uint64_t transfers_generated_ = 0;
  std::vector<pending_ref> pending_pool_;  // capacity pending_pool_max
  std::vector<transfer> resend_ring_;      // capacity resend_ring_max
  std::size_t resend_next_ = 0;
};

}  // namespace remit::workload
