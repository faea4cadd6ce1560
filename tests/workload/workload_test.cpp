// The workload generator: one seed, one stream; the stream has the shape the callers rely
// on (ids, ledgers, chains, bounds); zipf is zipf; a reused vector is not reallocated.
#include "tools/workload.hpp"

#include <gtest/gtest.h>

#include "engine/rules.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace remit::workload {
namespace {

// FNV-1a over the bytes of every event the generator hands out.
struct fingerprint {
  std::uint64_t h = 0xcbf29ce484222325ull;
  std::uint64_t events = 0;
  template <class T>
  void add(const std::vector<T>& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (std::size_t i = 0; i < v.size() * sizeof(T); ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    events += v.size();
  }
};

config mixed_config(std::uint64_t seed, distribution d) {
  config c;
  c.accounts = 5000;
  c.ledgers = 3;
  c.kind = mix::mixed;
  c.dist = d;
  c.seed = seed;
  c.batch_events = 1000;
  c.setup_batch_events = 700;
  return c;
}

fingerprint run(const config& c) {
  generator g(c);
  fingerprint f;
  std::vector<account> accounts;
  while (g.next_account_batch(accounts)) f.add(accounts);
  std::vector<transfer> transfers;
  while (g.next_funding_batch(transfers)) f.add(transfers);
  std::vector<account_controls> controls;
  for (std::size_t i = 1; i <= 30; ++i) {
    g.next_transfer_batch(transfers, i * 37 % batch_events_max + 1);
    f.add(transfers);
    if (i % 6 == 0) {
      g.next_controls_batch(controls, i);
      f.add(controls);
    }
  }
  return f;
}

TEST(workload_generator, same_seed_same_stream) {
  for (distribution d : {distribution::uniform, distribution::zipf}) {
    for (mix m : {mix::plain, mix::pending, mix::linked, mix::mixed}) {
      config c = mixed_config(42, d);
      c.kind = m;
      const fingerprint a = run(c);
      const fingerprint b = run(c);
      EXPECT_EQ(a.h, b.h) << name(m) << " " << name(d);
      EXPECT_EQ(a.events, b.events);
      EXPECT_GT(a.events, 5000u);
      c.seed = 43;
      EXPECT_NE(run(c).h, a.h) << "seeds 42 and 43 give one stream: " << name(m);
    }
  }
}

TEST(workload_generator, accounts_and_funding) {
  config c = mixed_config(9, distribution::uniform);
  c.bounded_fraction = 0.5;
  generator g(c);
  std::vector<account> batch;
  std::uint64_t next = 1, bounded = 0;
  while (g.next_account_batch(batch)) {
    ASSERT_LE(batch.size(), c.setup_batch_events);
    for (const account& a : batch) {
      ASSERT_TRUE(a.id == next) << next;
      ++next;
      EXPECT_EQ(a.ledger, g.ledger_of(a.id));
      EXPECT_EQ(a.code, c.code);
      EXPECT_NE(a.flags, account_flags::debits_must_not_exceed_credits |
                             account_flags::credits_must_not_exceed_debits);
      EXPECT_EQ(a.flags & account_flags::linked, 0);
      if (a.id > c.accounts) {
        EXPECT_EQ(a.flags, 0) << "banks are unbounded";
      }
      bounded += a.flags != 0;
    }
  }
  EXPECT_EQ(next - 1, g.account_count());
  EXPECT_EQ(g.ledger_of(1), 1u);
  EXPECT_EQ(g.ledger_of(4), 1u);
  EXPECT_EQ(g.ledger_of(g.bank_id(3)), 3u);
  EXPECT_NEAR(static_cast<double>(bounded) / static_cast<double>(c.accounts), 0.5, 0.05);

  std::vector<transfer> funding;
  u128 last_id = 0;
  std::uint64_t funded = 0;
  while (g.next_funding_batch(funding)) {
    for (const transfer& t : funding) {
      EXPECT_TRUE(t.id > last_id);
      last_id = t.id;
      EXPECT_TRUE(t.debit_account_id == g.bank_id(t.ledger));
      EXPECT_EQ(g.ledger_of(t.credit_account_id), t.ledger);
      EXPECT_EQ(g.traits_of(t.credit_account_id) & account_traits::credits_bounded, 0);
      EXPECT_TRUE(t.amount >= 1 && t.amount <= c.funding);
      EXPECT_EQ(t.flags, 0);
      ++funded;
    }
  }
  EXPECT_GT(funded, c.accounts * 8 / 10);
  EXPECT_FALSE(g.next_funding_batch(funding));
  EXPECT_TRUE(funding.empty());
}

// The shape of the load: exact batch sizes, fresh ids increasing, chains closed within the
// batch (but for the deliberate open one at the end), legs on one ledger (but for the
// deliberate cross-ledger ones), posts and voids naming earlier pending ids.
TEST(workload_generator, transfer_stream_shape) {
  for (mix m : {mix::plain, mix::pending, mix::linked, mix::mixed}) {
    config c = mixed_config(5, distribution::zipf);
    c.kind = m;
    generator g(c);
    std::vector<account> accounts;
    while (g.next_account_batch(accounts)) {
    }
    std::vector<transfer> batch;
    while (g.next_funding_batch(batch)) {
    }
    u128 max_id = g.last_transfer_id();
    std::uint64_t resends = 0, cross = 0, unknown = 0, chains = 0, posts = 0, voids = 0,
                  pendings = 0, balancing = 0, open_chains = 0;
    for (std::size_t round = 0; round < 200; ++round) {
      const std::size_t n = round % 10 == 0 ? 1 : (round * 97) % 2000 + 1;
      g.next_transfer_batch(batch, n);
      ASSERT_EQ(batch.size(), n);
      bool in_chain = false;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const transfer& t = batch[i];
        if (t.id > max_id) {
          EXPECT_TRUE(t.id == max_id + 1) << "fresh ids are consecutive";
          max_id = t.id;
        } else {
          ++resends;
          EXPECT_FALSE(in_chain) << "a resend inside a chain";
        }
        EXPECT_EQ(t.timestamp, 0u);
        const bool linked = (t.flags & transfer_flags::linked) != 0;
        if (linked && !in_chain) ++chains;
        in_chain = linked;
        const transfer_kind k = kind_of(t);
        if (k == transfer_kind::post || k == transfer_kind::void_) {
          ++(k == transfer_kind::post ? posts : voids);
          EXPECT_TRUE(t.pending_id != 0 && t.pending_id < t.id);
          continue;
        }
        EXPECT_NE(t.code, 0) << "only posts and voids may leave the code 0";
        if (k == transfer_kind::pending) ++pendings;
        if (t.flags & (transfer_flags::balancing_debit | transfer_flags::balancing_credit))
          ++balancing;
        EXPECT_TRUE(t.amount >= 1);
        EXPECT_TRUE(t.debit_account_id != t.credit_account_id);
        if (t.debit_account_id > g.account_count() || t.credit_account_id > g.account_count()) {
          ++unknown;
          continue;
        }
        EXPECT_EQ(g.ledger_of(t.debit_account_id), t.ledger);
        if (g.ledger_of(t.credit_account_id) != t.ledger) ++cross;
        EXPECT_TRUE(t.debit_account_id <= c.accounts && t.credit_account_id <= c.accounts)
            << "the load never touches the banks";
      }
      if (in_chain) ++open_chains;  // the last event kept its linked flag
    }
    if (m == mix::plain) {
      EXPECT_EQ(resends + cross + unknown + chains + posts + voids + pendings + balancing, 0u);
    }
    if (m == mix::pending) {
      EXPECT_GT(pendings, 0u);
      EXPECT_GT(posts, 0u);
      EXPECT_GT(voids, 0u);
      EXPECT_EQ(chains + resends + cross + unknown, 0u);
    }
    if (m == mix::linked) {
      EXPECT_GT(chains, 0u);
      EXPECT_GT(posts + voids, 0u) << "chains that post their own pending transfer";
      EXPECT_EQ(resends + cross + unknown + open_chains, 0u);
    }
    if (m == mix::mixed) {
      for (std::uint64_t x :
           {resends, cross, unknown, chains, posts, voids, pendings, balancing, open_chains})
        EXPECT_GT(x, 0u);
      EXPECT_LT(cross + unknown, g.transfers_generated() / 20);
    }
  }
}

TEST(workload_generator, controls) {
  generator g(mixed_config(3, distribution::uniform));
  std::vector<account_controls> batch;
  g.next_controls_batch(batch, 2000);
  ASSERT_EQ(batch.size(), 2000u);
  std::size_t frozen = 0, reset = 0, invalid = 0;
  for (const account_controls& c : batch) {
    const bool valid = bytes_zero(c.reserved, sizeof c.reserved) &&
                       (c.status_flags & ~account_status_flags::known) == 0 && c.account_id >= 1 &&
                       c.account_id <= g.account_count();
    invalid += !valid;
    frozen += valid && c.status_flags == account_status_flags::frozen;
    reset += valid && c.overdraft_max == 0 && c.transfer_amount_max == 0 &&
             c.daily_debit_max == 0 && c.status_flags == 0;
  }
  EXPECT_GT(frozen, 100u);
  EXPECT_GT(reset, 500u);
  EXPECT_GT(invalid, 20u);
  EXPECT_LT(invalid, 200u);
}

TEST(workload_generator, reused_vector_is_not_reallocated) {
  config c = mixed_config(8, distribution::zipf);
  c.batch_events = batch_events_max;
  generator g(c);
  std::vector<transfer> batch;
  batch.reserve(batch_events_max);
  const transfer* data = batch.data();
  for (int i = 0; i < 50; ++i) {
    g.next_transfer_batch(batch);
    ASSERT_EQ(batch.size(), batch_events_max);
    ASSERT_EQ(batch.data(), data);
  }
}

TEST(workload_generator, zipf_follows_one_over_rank) {
  const std::uint64_t n = 1000;
  zipf_sampler z(n, 1.0);
  xoshiro256 rng(1);
  std::vector<std::uint64_t> counts(n + 1);
  const int samples = 400'000;
  for (int i = 0; i < samples; ++i) {
    const std::uint64_t k = z.sample(rng);
    ASSERT_GE(k, 1u);
    ASSERT_LE(k, n);
    ++counts[k];
  }
  double harmonic = 0;
  for (std::uint64_t k = 1; k <= n; ++k) harmonic += 1.0 / static_cast<double>(k);
  for (std::uint64_t k : {1, 2, 3, 10, 100}) {
    const double want = samples / (static_cast<double>(k) * harmonic);
    EXPECT_NEAR(static_cast<double>(counts[k]), want, want * 0.05 + 30) << "rank " << k;
  }
  // Large n works and stays in range.
  zipf_sampler big(1'000'000, 1.0);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t k = big.sample(rng);
    ASSERT_TRUE(k >= 1 && k <= 1'000'000);
  }
}

TEST(workload_generator, uniform_helpers) {
  xoshiro256 rng(2);
  std::vector<int> counts(10);
  for (int i = 0; i < 100'000; ++i) ++counts[rng.below(10)];
  for (int x : counts) EXPECT_NEAR(x, 10'000, 500);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = rng.between(5, 7);
    EXPECT_TRUE(v >= 5 && v <= 7);
    const double u = rng.unit();
    EXPECT_TRUE(u >= 0.0 && u < 1.0);
  }
}

TEST(workload_generator, names_and_validation) {
  for (mix m : {mix::plain, mix::pending, mix::linked, mix::mixed})
    EXPECT_EQ(parse_mix(name(m)), m);
  for (distribution d : {distribution::uniform, distribution::zipf})
    EXPECT_EQ(parse_distribution(name(d)), d);
  EXPECT_FALSE(parse_mix("Plain").has_value());
  EXPECT_FALSE(parse_distribution("").has_value());

  EXPECT_TRUE(validate(config{}).empty());
  config c;
  c.ledgers = 0;
  EXPECT_FALSE(validate(c).empty());
  c = config{};
  c.accounts = 3;
  c.ledgers = 2;
  EXPECT_FALSE(validate(c).empty());
  c = config{};
  c.batch_events = batch_events_max + 1;
  EXPECT_FALSE(validate(c).empty());
  c = config{};
  c.bounded_fraction = 1.5;
  EXPECT_FALSE(validate(c).empty());
  c = config{};
  c.chain_legs_max = 1;
  EXPECT_FALSE(validate(c).empty());
}

}  // namespace
}  // namespace remit::workload
