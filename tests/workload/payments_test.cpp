// The payment workloads (tools/load/payments.hpp) run against the reference ledger on a
// simulated clock: each gives the result codes it is meant to, money is conserved on both
// ledgers, and the mix of operations matches the weights.
#include "tools/load/payments.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/reference_ledger.hpp"

namespace remit::workload {
namespace {

constexpr std::uint64_t epoch_ns = 1'800'000'000'000'000'000ull;

struct outcome {
  std::map<std::string, std::uint64_t> codes;  // all events
  std::map<std::string, std::map<std::string, std::uint64_t>> by_kind;
  std::array<std::uint64_t, payment_kind_count> ops{};  // operations started, from the stream
  std::uint64_t events = 0;
};

std::string code_name(std::uint32_t s) {
  return std::string(name(static_cast<create_transfer_result>(s)));
}

// Sets the workload up on `ledger` and sends `batches` batches of `batch` events, one batch
// every `step_ns` of simulated time, expiring pending transfers every simulated second.
outcome run(payments& gen, reference_ledger& ledger, std::size_t batches, std::size_t batch,
            std::uint64_t step_ns) {
  std::vector<account> accounts;
  std::vector<result> results;
  while (gen.next_account_batch(accounts, 1000)) {
    results.resize(accounts.size());
    ledger.create_accounts(accounts, epoch_ns, results);
    for (const result& r : results) EXPECT_EQ(r.status, 0u);
  }
  std::vector<transfer> transfers;
  while (gen.next_funding_batch(transfers, 1000)) {
    results.resize(transfers.size());
    ledger.create_transfers(transfers, epoch_ns, results);
    for (const result& r : results) EXPECT_EQ(r.status, 0u);
  }
  const std::vector<account_controls> controls = gen.setup_controls();
  results.resize(controls.size());
  ledger.set_account_controls(controls, results);
  for (const result& r : results) EXPECT_EQ(r.status, 0u);

  outcome o;
  std::uint64_t next_expiry = epoch_ns;
  for (std::size_t b = 0; b < batches; ++b) {
    const std::uint64_t now = epoch_ns + b * step_ns;
    if (now >= next_expiry) {
      ledger.expire(now);
      next_expiry = now + 1'000'000'000;
    }
    gen.next_transfer_batch(transfers, batch, now);
    EXPECT_GE(transfers.size(), batch);
    EXPECT_LE(transfers.size(), batch + 1);
    results.resize(transfers.size());
    ledger.create_transfers(transfers, now, results);
    for (std::size_t i = 0; i < transfers.size(); ++i) {
      const transfer& t = transfers[i];
      EXPECT_GE(t.user_data_32, 1u);
      EXPECT_LE(t.user_data_32, payment_kind_count);
      const std::string kind(name(static_cast<payment_kind>(t.user_data_32 - 1)));
      ++o.codes[code_name(results[i].status)];
      ++o.by_kind[kind][code_name(results[i].status)];
      const bool follow_up = (t.flags & (transfer_flags::post_pending_transfer |
                                         transfer_flags::void_pending_transfer)) != 0;
      const bool second_leg = i > 0 && (transfers[i - 1].flags & transfer_flags::linked) != 0;
      if (!follow_up && !second_leg) ++o.ops[t.user_data_32 - 1];
    }
    o.events += transfers.size();
  }
  return o;
}

struct sums {
  u128 dp = 0, dpo = 0, cp = 0, cpo = 0;
};

// Per ledger: debits equal credits, posted and pending.
void expect_conserved(const payments& gen, const reference_ledger& ledger) {
  std::vector<u128> ids;
  for (u128 id = 1; id <= gen.account_count(); ++id) ids.push_back(id);
  std::vector<account> found(ids.size());
  ASSERT_EQ(ledger.lookup_accounts(ids, found), ids.size());
  std::map<std::uint32_t, sums> by_ledger;
  for (const account& a : found) {
    sums& s = by_ledger[a.ledger];
    s.dp += a.debits_pending;
    s.dpo += a.debits_posted;
    s.cp += a.credits_pending;
    s.cpo += a.credits_posted;
  }
  EXPECT_EQ(by_ledger.size(), 2u);
  for (const auto& [l, s] : by_ledger) {
    EXPECT_TRUE(s.dpo == s.cpo) << "ledger " << l << " posted";
    EXPECT_TRUE(s.dp == s.cp) << "ledger " << l << " pending";
  }
}

account lookup(const reference_ledger& ledger, u128 id) {
  account a{};
  const u128 ids[1] = {id};
  EXPECT_EQ(ledger.lookup_accounts(ids, std::span<account>(&a, 1)), 1u);
  return a;
}

payments_config named(std::string_view n) {
  auto c = named_payments(n);
  EXPECT_TRUE(c.has_value()) << n;
  c->customers = 2000;
  c->seed = 7;
  return *c;
}

// The operations started per kind match the weights within 1.5 points over 20000.
void expect_mix(const payments_config& c, const outcome& o) {
  std::uint64_t ops = 0, weights = 0;
  for (std::size_t k = 0; k < payment_kind_count; ++k) ops += o.ops[k], weights += c.weights[k];
  ASSERT_GT(ops, 20000u);
  for (std::size_t k = 0; k < payment_kind_count; ++k) {
    const double want = static_cast<double>(c.weights[k]) / static_cast<double>(weights);
    const double got = static_cast<double>(o.ops[k]) / static_cast<double>(ops);
    EXPECT_NEAR(got, want, 0.015) << c.name << ": " << name(static_cast<payment_kind>(k));
  }
}

void expect_codes_within(const outcome& o, const std::set<std::string>& allowed) {
  for (const auto& [code, n] : o.codes) EXPECT_TRUE(allowed.count(code)) << code << " " << n;
}

TEST(payments, card_authorizations_post_void_and_expire) {
  const payments_config c = named("card");
  payments gen(c);
  reference_ledger ledger;
  // 10 events every ms: 30000 events over 3 simulated seconds (the delay's mean is 50 ms).
  const outcome o = run(gen, ledger, 4500, 10, 1'000'000);
  expect_codes_within(o, {"ok", "exceeds_credits", "pending_transfer_not_found"});
  EXPECT_GT(o.codes.at("ok"), o.events * 9 / 10);
  expect_mix(c, o);
  // Posts and voids were sent, and some authorizations got neither (they expire).
  EXPECT_GT(gen.follow_ups_sent(), o.ops[0] * 8 / 10);
  EXPECT_LT(gen.follow_ups_sent(), o.ops[0]);
  expect_conserved(gen, ledger);
  // Once every timeout has passed, nothing is held.
  ledger.expire(epoch_ns + 10'000'000'000ull);
  std::uint64_t held = 0;
  for (u128 id = 1; id <= gen.account_count(); ++id)
    held += static_cast<std::uint64_t>(lookup(ledger, id).debits_pending);
  EXPECT_EQ(held, 0u);
  expect_conserved(gen, ledger);
}

TEST(payments, settlement_credits_go_mostly_to_a_few_hot_merchants) {
  const payments_config c = named("settlement");
  payments gen(c);
  reference_ledger ledger;
  const outcome o = run(gen, ledger, 2100, 10, 1'000'000);
  expect_codes_within(o, {"ok", "exceeds_credits"});
  expect_mix(c, o);
  std::vector<std::uint64_t> credits;
  std::uint64_t total = 0;
  for (u128 i = 0; i < c.merchants; ++i) {
    const auto v = static_cast<std::uint64_t>(
        lookup(ledger, gen.accounts().merchants_first + i).credits_posted);
    credits.push_back(v);
    total += v;
  }
  std::sort(credits.rbegin(), credits.rend());
  const std::uint64_t top5 = credits[0] + credits[1] + credits[2] + credits[3] + credits[4];
  EXPECT_GT(top5 * 2, total) << "the 5 hottest of " << c.merchants << " merchants";
  expect_conserved(gen, ledger);
}

TEST(payments, payment_and_fee_are_linked) {
  const payments_config c = named("payment-fee");
  payments gen(c);
  reference_ledger ledger;
  const outcome o = run(gen, ledger, 4100, 10, 1'000'000);
  expect_codes_within(o, {"ok", "exceeds_credits", "linked_event_failed"});
  expect_mix(c, o);
  // A payment without its fee (or the reverse) never happens: failures come in pairs.
  EXPECT_EQ(o.codes.count("exceeds_credits") ? o.codes.at("exceeds_credits") : 0,
            o.codes.count("linked_event_failed") ? o.codes.at("linked_event_failed") : 0);
  EXPECT_GT(lookup(ledger, layout::fee).credits_posted, 0u);
  expect_conserved(gen, ledger);
}

TEST(payments, fx_crosses_two_ledgers_through_liquidity) {
  const payments_config c = named("fx");
  payments gen(c);
  reference_ledger ledger;
  const outcome o = run(gen, ledger, 4100, 10, 1'000'000);
  expect_codes_within(o, {"ok", "exceeds_credits", "linked_event_failed"});
  expect_mix(c, o);
  const account l1 = lookup(ledger, layout::liquidity1);
  const account l2 = lookup(ledger, layout::liquidity2);
  EXPECT_EQ(l1.ledger, 1u);
  EXPECT_EQ(l2.ledger, 2u);
  EXPECT_GT(l1.credits_posted, 0u);
  // What ledger 2 paid out is ledger 1's intake at the rate (each leg rounded down).
  const u128 paid = l2.debits_posted;
  EXPECT_TRUE(paid <= l1.credits_posted * c.fx_rate_ppm / 1'000'000 + o.ops[3]);
  EXPECT_TRUE(paid + o.ops[3] >= l1.credits_posted * c.fx_rate_ppm / 1'000'000);
  expect_conserved(gen, ledger);
}

TEST(payments, payouts_sweep_merchant_balances) {
  const payments_config c = named("payout");
  payments gen(c);
  reference_ledger ledger;
  const outcome o = run(gen, ledger, 2100, 10, 1'000'000);
  expect_codes_within(o, {"ok", "exceeds_credits"});
  expect_mix(c, o);
  EXPECT_GT(o.by_kind.at("payout").at("ok"), 0u);
  EXPECT_GT(lookup(ledger, layout::payout).credits_posted, 0u);
  for (u128 i = 0; i < c.merchants; ++i) {
    const account m = lookup(ledger, gen.accounts().merchants_first + i);
    EXPECT_TRUE(m.debits_posted <= m.credits_posted);
  }
  expect_conserved(gen, ledger);
}

TEST(payments, refused_transfers_are_all_refused_for_each_reason) {
  const payments_config c = named("refused");
  payments gen(c);
  reference_ledger ledger;
  const outcome o = run(gen, ledger, 2100, 10, 1'000'000);
  const std::set<std::string> reasons = {"exceeds_credits", "debit_account_frozen",
                                         "credit_account_frozen", "exceeds_transfer_amount_max",
                                         "exceeds_daily_debit_max"};
  expect_codes_within(o, reasons);
  for (const std::string& r : reasons) EXPECT_GT(o.codes.count(r) ? o.codes.at(r) : 0, 3000u) << r;
  expect_mix(c, o);
  expect_conserved(gen, ledger);
}

TEST(payments, the_blend_has_every_kind_and_batches_of_one_work) {
  const payments_config c = named("payments");
  payments gen(c);
  reference_ledger ledger;
  // Batch 1: a linked pair still goes whole (the batch then holds 2).
  const outcome o = run(gen, ledger, 30000, 1, 100'000);
  expect_mix(c, o);
  EXPECT_EQ(o.by_kind.size(), payment_kind_count);
  EXPECT_GT(o.codes.at("ok"), o.events * 8 / 10);
  expect_conserved(gen, ledger);
}

TEST(payments, one_seed_one_stream) {
  for (std::string_view n : payment_workload_names()) {
    payments a(named(n)), b(named(n));
    std::vector<transfer> x, y;
    for (int i = 0; i < 50; ++i) {
      a.next_transfer_batch(x, 100, 1'000'000ull * i);
      b.next_transfer_batch(y, 100, 1'000'000ull * i);
      ASSERT_EQ(x.size(), y.size());
      EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(transfer))) << n;
    }
  }
}

TEST(payments, workload_file) {
  std::string why;
  auto c = parse_payments(
      R"({"name": "shop", "base": "payments", "kinds": {"card_auth": 3, "refused": 1},
          "merchants": 7, "merchant_zipf": 1.5, "auth_delay_ms": {"dist": "exponential",
          "mean": 20, "max": 500}, "seed": 3})",
      why);
  ASSERT_TRUE(c.has_value()) << why;
  EXPECT_EQ(c->name, "shop");
  EXPECT_EQ(c->weights[0], 3u);
  EXPECT_EQ(c->weights[1], 0u);
  EXPECT_EQ(c->weights[5], 1u);
  EXPECT_EQ(c->merchants, 7u);
  EXPECT_DOUBLE_EQ(c->auth_delay_ms_mean, 20);
  EXPECT_DOUBLE_EQ(c->auth_delay_ms_max, 500);
  EXPECT_FALSE(parse_payments(R"({"kinds": {"teleport": 1}})", why));
  EXPECT_NE(why.find("teleport"), std::string::npos);
  EXPECT_FALSE(parse_payments(R"({"kinds": {"fx": 0}})", why));
  EXPECT_FALSE(parse_payments(R"({"colour": 1})", why));
  EXPECT_FALSE(parse_payments("[1,", why));
}

}  // namespace
}  // namespace remit::workload
