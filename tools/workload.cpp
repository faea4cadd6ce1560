#include "tools/workload.hpp"

#include <algorithm>
#include <cmath>

#include "engine/assert.hpp"

namespace remit::workload {

// ---------------------------------------------------------------------------------------
// zipf_sampler: rejection-inversion (Hoermann and Derflinger, "Rejection-inversion to
// generate variates from monotone discrete distributions", 1996), in the form used by
// Apache Commons RNG. h(x) = x^-s is the unnormalized density; H is its integral.

namespace {
// log1p(x)/x, continuous at 0.
double helper1(double x) {
  if (std::abs(x) > 1e-8) return std::log1p(x) / x;
  return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
// expm1(x)/x, continuous at 0.
double helper2(double x) {
  if (std::abs(x) > 1e-8) return std::expm1(x) / x;
  return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}
}  // namespace

zipf_sampler::zipf_sampler(std::uint64_t n, double exponent) : n_(n), exponent_(exponent) {
  REMIT_ASSERT(n >= 1);
  REMIT_ASSERT(exponent > 0.0);
  h_integral_x1_ = h_integral(1.5) - 1.0;
  h_integral_n_ = h_integral(static_cast<double>(n) + 0.5);
  s_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
}

double zipf_sampler::h(double x) const {
  return std::exp(-exponent_ * std::log(x));
}

double zipf_sampler::h_integral(double x) const {
  const double log_x = std::log(x);
  return helper2((1.0 - exponent_) * log_x) * log_x;
}

double zipf_sampler::h_integral_inverse(double x) const {
  double t = x * (1.0 - exponent_);
  if (t < -1.0) t = -1.0;  // rounding can push it just past the pole
  return std::exp(helper1(t) * x);
}

std::uint64_t zipf_sampler::sample(xoshiro256& rng) const {
  // The expected number of rounds is below 1.1 for every n and s; the bound only guards
  // against a broken libm.
  for (int round = 0; round < 1000; ++round) {
    const double u = h_integral_n_ + rng.unit() * (h_integral_x1_ - h_integral_n_);
    const double x = h_integral_inverse(u);
    double k_real = std::floor(x + 0.5);
    k_real = std::clamp(k_real, 1.0, static_cast<double>(n_));
    const auto k = static_cast<std::uint64_t>(k_real);
    if (k_real - x <= s_ || u >= h_integral(k_real + 0.5) - h(k_real)) return k;
  }
  REMIT_ASSERT(false && "zipf_sampler: no sample in 1000 rounds");
  return 1;
}

// ---------------------------------------------------------------------------------------
// Names

std::string_view name(mix m) {
  switch (m) {
    case mix::plain:
      return "plain";
    case mix::pending:
      return "pending";
    case mix::linked:
      return "linked";
    case mix::mixed:
      return "mixed";
  }
  return "?";
}

std::string_view name(distribution d) {
  switch (d) {
    case distribution::uniform:
      return "uniform";
    case distribution::zipf:
      return "zipf";
  }
  return "?";
}

std::optional<mix> parse_mix(std::string_view s) {
  for (mix m : {mix::plain, mix::pending, mix::linked, mix::mixed})
    if (s == name(m)) return m;
  return std::nullopt;
}

std::optional<distribution> parse_distribution(std::string_view s) {
  for (distribution d : {distribution::uniform, distribution::zipf})
    if (s == name(d)) return d;
  return std::nullopt;
}

std::string_view validate(const config& c) {
  if (c.ledgers == 0) return "ledgers must be at least 1";
  if (c.accounts < 2ull * c.ledgers) return "accounts must be at least 2 x ledgers";
  if (c.accounts > (1ull << 40)) return "accounts must be at most 2^40";
  if (c.batch_events == 0 || c.batch_events > batch_events_max)
    return "batch must be 1 to 8190 events";
  if (c.setup_batch_events == 0 || c.setup_batch_events > batch_events_max)
    return "setup batch must be 1 to 8190 events";
  if (!(c.bounded_fraction >= 0.0 && c.bounded_fraction <= 1.0))
    return "bounded fraction must be in [0, 1]";
  if (!(c.zipf_exponent > 0.0 && c.zipf_exponent <= 10.0))
    return "zipf exponent must be in (0, 10]";
  if (c.funding == 0 || c.funding > (1ull << 62)) return "funding must be 1 to 2^62";
  if (c.amount_max == 0 || c.amount_max > (1ull << 62)) return "amount_max must be 1 to 2^62";
  if (c.chain_legs_max < 2 || c.chain_legs_max > 16) return "chain legs must be 2 to 16";
  if (c.code == 0) return "code must not be 0";
  return {};
}

// ---------------------------------------------------------------------------------------
// generator

namespace {

// What one pick of the load mix produces. A chain is one pick of 2..chain_legs_max events.
enum class pick : std::uint8_t {
  plain,
  pending,
  post_or_void,
  balancing,
  chain,
  resend,
  cross_ledger,
  unknown_account,
};
inline constexpr std::size_t pick_count = 8;
using pick_weights = std::array<std::uint16_t, pick_count>;  // per mille, summing to 1000

constexpr pick_weights weights_plain = {1000, 0, 0, 0, 0, 0, 0, 0};
constexpr pick_weights weights_pending = {0, 500, 500, 0, 0, 0, 0, 0};
constexpr pick_weights weights_linked = {0, 0, 0, 0, 1000, 0, 0, 0};
// Pendings slightly outnumber posts and voids so that the pool holds some old ones, which
// then expire or get posted late.
constexpr pick_weights weights_mixed = {440, 150, 130, 60, 180, 20, 10, 10};

constexpr std::uint32_t sum(const pick_weights& w) {
  std::uint32_t s = 0;
  for (auto x : w) s += x;
  return s;
}
static_assert(sum(weights_plain) == 1000 && sum(weights_pending) == 1000);
static_assert(sum(weights_linked) == 1000 && sum(weights_mixed) == 1000);

const pick_weights& weights_of(mix m) {
  switch (m) {
    case mix::plain:
      return weights_plain;
    case mix::pending:
      return weights_pending;
    case mix::linked:
      return weights_linked;
    case mix::mixed:
      return weights_mixed;
  }
  return weights_plain;
}

pick choose(xoshiro256& rng, const pick_weights& w) {
  std::uint32_t r = static_cast<std::uint32_t>(rng.below(1000));
  for (std::size_t i = 0; i < pick_count; ++i) {
    if (r < w[i]) return static_cast<pick>(i);
    r -= w[i];
  }
  REMIT_ASSERT(false && "pick weights do not sum to 1000");
  return pick::plain;
}

}  // namespace

generator::generator(const config& c) : cfg_(c), rng_(c.seed) {
  REMIT_ASSERT(validate(c).empty());
  if (cfg_.dist == distribution::zipf) zipf_.emplace(cfg_.accounts, cfg_.zipf_exponent);
  traits_.resize(cfg_.accounts);
  for (auto& t : traits_) {
    std::uint8_t bits = 0;
    if (rng_.unit() < cfg_.bounded_fraction) {
      bits = rng_.chance(60) ? account_traits::credits_bounded : account_traits::debits_bounded;
    }
    if (rng_.chance(50)) bits |= account_traits::poor;
    t = bits;
  }
  pending_pool_.reserve(pending_pool_max);
  resend_ring_.reserve(resend_ring_max);
}

std::uint32_t generator::ledger_of(u128 id) const {
  REMIT_ASSERT(id >= 1 && id <= account_count());
  if (id <= cfg_.accounts) return 1 + static_cast<std::uint32_t>((id - 1) % cfg_.ledgers);
  return static_cast<std::uint32_t>(id - cfg_.accounts);
}

std::uint8_t generator::traits_of(u128 user_id) const {
  REMIT_ASSERT(user_id >= 1 && user_id <= cfg_.accounts);
  return traits_[static_cast<std::size_t>(user_id - 1)];
}

bool generator::next_account_batch(std::vector<account>& out) {
  out.clear();
  const std::uint64_t total = account_count();
  const std::uint64_t n =
      std::min<std::uint64_t>(cfg_.setup_batch_events, total - accounts_emitted_);
  for (std::uint64_t i = 0; i < n; ++i) {
    const u128 id = ++accounts_emitted_;
    account a{};
    a.id = id;
    a.ledger = ledger_of(id);
    a.code = cfg_.code;
    if (id <= cfg_.accounts) {
      const std::uint8_t t = traits_of(id);
      if (t & account_traits::debits_bounded)
        a.flags = account_flags::debits_must_not_exceed_credits;
      if (t & account_traits::credits_bounded)
        a.flags = account_flags::credits_must_not_exceed_debits;
    }
    out.push_back(a);
  }
  return !out.empty();
}

bool generator::next_funding_batch(std::vector<transfer>& out) {
  out.clear();
  while (out.size() < cfg_.setup_batch_events && funded_ < cfg_.accounts) {
    const std::uint64_t k = funded_++;
    const std::uint8_t t = traits_[k];
    if (t & account_traits::credits_bounded) continue;  // it could not take the credit
    const std::uint64_t amount =
        (t & account_traits::poor) ? rng_.below(cfg_.funding / 100 + 1) : cfg_.funding;
    if (amount == 0) continue;
    transfer f = blank();
    f.credit_account_id = k + 1;
    f.ledger = ledger_of(k + 1);
    f.debit_account_id = bank_id(f.ledger);
    f.amount = amount;
    out.push_back(f);
  }
  return !out.empty();
}

void generator::next_transfer_batch(std::vector<transfer>& out, std::size_t events) {
  REMIT_ASSERT(events >= 1);
  REMIT_ASSERT(events <= batch_events_max);
  out.clear();
  const pick_weights& w = weights_of(cfg_.kind);
  while (out.size() < events) {
    const std::size_t room = events - out.size();
    switch (choose(rng_, w)) {
      case pick::plain:
        emit_plain(out);
        break;
      case pick::pending:
        emit_pending(out);
        break;
      case pick::post_or_void:
        emit_post_or_void(out);
        break;
      case pick::balancing:
        emit_balancing(out);
        break;
      case pick::chain:
        emit_chain(out, room);
        break;
      case pick::resend:
        emit_resend(out);
        break;
      case pick::cross_ledger:
        emit_cross_ledger(out);
        break;
      case pick::unknown_account:
        emit_unknown_account(out);
        break;
    }
  }
  REMIT_ASSERT(out.size() == events);
  // Now and then leave a chain open at the end of the batch (the whole chain fails).
  if (cfg_.kind == mix::mixed && rng_.chance(15)) out.back().flags |= transfer_flags::linked;
  transfers_generated_ += events;
}

void generator::next_controls_batch(std::vector<account_controls>& out, std::size_t events) {
  REMIT_ASSERT(events >= 1);
  REMIT_ASSERT(events <= batch_events_max);
  out.clear();
  for (std::size_t i = 0; i < events; ++i) {
    account_controls c{};
    c.account_id = 1 + rng_.below(cfg_.accounts);
    const std::uint64_t r = rng_.below(1000);
    if (r < 350) {
      // reset to the defaults (this is also how an account is unfrozen)
    } else if (r < 600) {
      c.overdraft_max = rng_.between(1, cfg_.funding / 2 + 1);
    } else if (r < 750) {
      c.transfer_amount_max = rng_.between(cfg_.amount_max / 4 + 1, cfg_.amount_max * 2);
    } else if (r < 850) {
      c.daily_debit_max = rng_.between(cfg_.funding / 100 + 1, cfg_.funding);
    } else if (r < 950) {
      c.status_flags = account_status_flags::frozen;
      if (rng_.chance(300)) c.overdraft_max = rng_.between(1, cfg_.funding / 2 + 1);
    } else if (r < 967) {
      c.account_id = account_count() + 1 + rng_.below(1000);  // account_not_found
    } else if (r < 984) {
      c.status_flags = 1u << (1 + rng_.below(31));  // reserved_flag
    } else {
      c.reserved[rng_.below(sizeof c.reserved)] =
          static_cast<std::uint8_t>(rng_.between(1, 255));  // reserved_field
    }
    out.push_back(c);
  }
}

// ---------------------------------------------------------------------------------------
// Picking accounts and amounts

std::uint64_t generator::pick_index() {
  if (zipf_) return zipf_->sample(rng_) - 1;
  return rng_.below(cfg_.accounts);
}

// `other` moved onto the ledger of `index` (same residue modulo ledgers), still < accounts.
std::uint64_t generator::same_ledger_index(std::uint64_t index, std::uint64_t other) {
  const std::uint64_t l = cfg_.ledgers;
  std::uint64_t c = other - other % l + index % l;
  if (c >= cfg_.accounts) c -= l;
  return c;
}

void generator::pick_pair(transfer& t) {
  const std::uint64_t d = pick_index();
  std::uint64_t c = d;
  for (int tries = 0; tries < 8 && c == d; ++tries) c = same_ledger_index(d, pick_index());
  if (c == d) c = d + cfg_.ledgers < cfg_.accounts ? d + cfg_.ledgers : d - cfg_.ledgers;
  t.debit_account_id = d + 1;
  t.credit_account_id = c + 1;
  t.ledger = ledger_of(d + 1);
}

u128 generator::pick_amount() {
  // Mostly small amounts; 2% up to twice the funding, which a bounded account can rarely pay.
  if (rng_.chance(20)) return rng_.between(1, 2 * cfg_.funding);
  return rng_.between(1, cfg_.amount_max);
}

transfer generator::blank() {
  transfer t{};
  t.id = next_transfer_id_++;
  t.code = cfg_.code;
  return t;
}

// ---------------------------------------------------------------------------------------
// Events

void generator::emit_plain(std::vector<transfer>& out) {
  transfer t = blank();
  pick_pair(t);
  t.amount = pick_amount();
  out.push_back(t);
  remember_sent(t);
}

void generator::emit_pending(std::vector<transfer>& out) {
  transfer t = blank();
  pick_pair(t);
  t.amount = pick_amount();
  t.flags = transfer_flags::pending;
  if (cfg_.timeout_max_s > 0 && rng_.chance(500))
    t.timeout = static_cast<std::uint32_t>(rng_.between(1, cfg_.timeout_max_s));
  out.push_back(t);
  remember_pending(t);
  remember_sent(t);
}

void generator::post_or_void_of(transfer& t, const pending_ref& p, bool post) {
  t.flags = post ? transfer_flags::post_pending_transfer : transfer_flags::void_pending_transfer;
  t.pending_id = p.id;
  // Each of these may be 0 or must match the pending transfer (docs/PROTOCOL.md section 4).
  if (rng_.chance(500)) t.debit_account_id = p.debit_account_id;
  if (rng_.chance(500)) t.credit_account_id = p.credit_account_id;
  if (rng_.chance(500)) t.ledger = p.ledger;
  if (rng_.chance(500)) t.code = 0;
  const std::uint64_t r = rng_.below(100);
  if (post) {
    if (r < 50) {
      t.amount = 0;  // the full pending amount
    } else if (r < 85) {
      t.amount = rng_.between(1, static_cast<std::uint64_t>(p.amount));  // partial
    } else if (r < 97) {
      t.amount = p.amount;
    } else {
      t.amount = p.amount + 1 + rng_.below(10);  // exceeds_pending_transfer_amount
    }
  } else {
    t.amount = r < 80 ? u128{0} : p.amount;
  }
  if (cfg_.kind == mix::mixed && rng_.chance(10))
    t.debit_account_id = p.credit_account_id;  // pending_transfer_has_different_debit_account_id
}

void generator::emit_post_or_void(std::vector<transfer>& out) {
  if (pending_pool_.empty()) {
    emit_pending(out);
    return;
  }
  const std::size_t i = static_cast<std::size_t>(rng_.below(pending_pool_.size()));
  const pending_ref p = pending_pool_[i];
  transfer t = blank();
  post_or_void_of(t, p, rng_.chance(700));
  // Usually forget it; sometimes keep it, so that a second post or void is refused
  // (already posted, already voided).
  if (rng_.chance(950)) {
    pending_pool_[i] = pending_pool_.back();
    pending_pool_.pop_back();
  }
  out.push_back(t);
  remember_sent(t);
}

void generator::emit_balancing(std::vector<transfer>& out) {
  transfer t = blank();
  pick_pair(t);
  const std::uint64_t r = rng_.below(10);
  if (r < 5) {
    t.flags = transfer_flags::balancing_debit;
  } else if (r < 9) {
    t.flags = transfer_flags::balancing_credit;
  } else {
    t.flags = transfer_flags::balancing_debit | transfer_flags::balancing_credit;
  }
  t.amount = pick_amount();
  if (rng_.chance(300)) t.amount *= 100;                     // usually clamped to the room
  if (rng_.chance(200)) t.flags |= transfer_flags::pending;  // never posted by amount
  out.push_back(t);
  remember_sent(t);
}

void generator::emit_chain(std::vector<transfer>& out, std::size_t room) {
  if (room < 2) {
    emit_plain(out);
    return;
  }
  const std::size_t legs_max = std::min<std::size_t>(cfg_.chain_legs_max, room);
  const auto legs = static_cast<std::size_t>(rng_.between(2, legs_max));
  const std::size_t start = out.size();
  const std::uint64_t r = rng_.below(100);
  if (r < 25) {
    // A pending transfer, plain legs, then the post or void of that pending transfer.
    transfer p = blank();
    pick_pair(p);
    p.amount = pick_amount();
    p.flags = transfer_flags::pending;
    if (cfg_.timeout_max_s > 0 && rng_.chance(500))
      p.timeout = static_cast<std::uint32_t>(rng_.between(1, cfg_.timeout_max_s));
    out.push_back(p);
    for (std::size_t i = 0; i + 2 < legs; ++i) {
      transfer t = blank();
      pick_pair(t);
      t.amount = pick_amount();
      out.push_back(t);
    }
    transfer t = blank();
    const pending_ref ref{p.id, p.debit_account_id, p.credit_account_id, p.amount, p.ledger};
    post_or_void_of(t, ref, rng_.chance(750));
    out.push_back(t);
  } else if (r < 55) {
    // Money passed along: a0 -> a1 -> a2 ..., one amount. Each later leg debits the account
    // the leg before credited, so it can rely on that credit.
    const u128 amount = rng_.between(1, cfg_.amount_max);
    std::uint64_t from = pick_index();
    for (std::size_t i = 0; i < legs; ++i) {
      std::uint64_t to = from;
      for (int tries = 0; tries < 8 && to == from; ++tries)
        to = same_ledger_index(from, pick_index());
      if (to == from)
        to = from + cfg_.ledgers < cfg_.accounts ? from + cfg_.ledgers : from - cfg_.ledgers;
      transfer t = blank();
      t.debit_account_id = from + 1;
      t.credit_account_id = to + 1;
      t.ledger = ledger_of(from + 1);
      t.amount = amount;
      out.push_back(t);
      from = to;
    }
  } else {
    // Random legs; now and then one posts or voids an older pending transfer, so that a
    // chain that fails must put that pending transfer back.
    for (std::size_t i = 0; i < legs; ++i) {
      transfer t = blank();
      if (!pending_pool_.empty() && rng_.chance(150)) {
        const std::size_t k = static_cast<std::size_t>(rng_.below(pending_pool_.size()));
        post_or_void_of(t, pending_pool_[k], rng_.chance(700));
        pending_pool_[k] = pending_pool_.back();
        pending_pool_.pop_back();
      } else {
        pick_pair(t);
        t.amount = pick_amount();
      }
      out.push_back(t);
    }
  }
  REMIT_ASSERT(out.size() == start + legs);
  for (std::size_t i = start; i + 1 < out.size(); ++i) out[i].flags |= transfer_flags::linked;
}

void generator::emit_resend(std::vector<transfer>& out) {
  if (resend_ring_.empty()) {
    emit_plain(out);
    return;
  }
  out.push_back(resend_ring_[static_cast<std::size_t>(rng_.below(resend_ring_.size()))]);
}

void generator::emit_cross_ledger(std::vector<transfer>& out) {
  if (cfg_.ledgers < 2) {
    emit_plain(out);
    return;
  }
  const std::uint64_t l = cfg_.ledgers;
  const std::uint64_t d = pick_index();
  std::uint64_t c = pick_index();
  const std::uint64_t slot = (d % l + 1 + rng_.below(l - 1)) % l;  // any other ledger
  c = c - c % l + slot;
  if (c >= cfg_.accounts) c -= l;
  transfer t = blank();
  t.debit_account_id = d + 1;
  t.credit_account_id = c + 1;
  t.ledger = ledger_of(d + 1);
  t.amount = pick_amount();
  REMIT_ASSERT(ledger_of(c + 1) != t.ledger);
  out.push_back(t);
  remember_sent(t);
}

void generator::emit_unknown_account(std::vector<transfer>& out) {
  transfer t = blank();
  pick_pair(t);
  t.amount = pick_amount();
  const u128 unknown = account_count() + 1 + rng_.below(1000);
  if (rng_.chance(500)) {
    t.debit_account_id = unknown;
  } else {
    t.credit_account_id = unknown;
  }
  out.push_back(t);
  remember_sent(t);
}

void generator::remember_pending(const transfer& t) {
  const pending_ref p{t.id, t.debit_account_id, t.credit_account_id, t.amount, t.ledger};
  if (pending_pool_.size() < pending_pool_max) {
    pending_pool_.push_back(p);
  } else {
    pending_pool_[static_cast<std::size_t>(rng_.below(pending_pool_max))] = p;
  }
}

void generator::remember_sent(const transfer& t) {
  if (cfg_.kind != mix::mixed) return;  // only the mixed load sends old ids again
  if (resend_ring_.size() < resend_ring_max) {
    resend_ring_.push_back(t);
  } else {
    resend_ring_[resend_next_] = t;
  }
  resend_next_ = (resend_next_ + 1) % resend_ring_max;
}

}  // namespace remit::workload
