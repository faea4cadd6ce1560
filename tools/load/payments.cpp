#include "tools/load/payments.hpp"

#include <algorithm>
#include <cmath>

#include <nlohmann/json.hpp>

#include "engine/assert.hpp"

namespace remit::workload {

namespace {
constexpr std::array<std::string_view, payment_kind_count> kind_names = {
    "card_auth", "settlement", "payment_fee", "fx", "payout", "refused"};
}  // namespace

std::string_view name(payment_kind k) {
  return kind_names[static_cast<std::size_t>(k)];
}

std::optional<payment_kind> parse_payment_kind(std::string_view s) {
  for (std::size_t i = 0; i < payment_kind_count; ++i)
    if (kind_names[i] == s) return static_cast<payment_kind>(i);
  return std::nullopt;
}

std::vector<std::string_view> payment_workload_names() {
  return {"card", "settlement", "payment-fee", "fx", "payout", "refused", "payments"};
}

std::optional<payments_config> named_payments(std::string_view n) {
  payments_config c;
  c.name = std::string(n);
  // Weights in the order card_auth, settlement, payment_fee, fx, payout, refused. Each
  // single-purpose workload keeps a little settlement so payouts have something to sweep.
  if (n == "card") {
    c.weights = {100, 0, 0, 0, 0, 0};
  } else if (n == "settlement") {
    c.weights = {0, 100, 0, 0, 0, 0};
    c.merchants = 50;
    c.merchant_zipf = 1.2;
  } else if (n == "payment-fee") {
    c.weights = {0, 0, 100, 0, 0, 0};
  } else if (n == "fx") {
    c.weights = {0, 0, 0, 100, 0, 0};
  } else if (n == "payout") {
    c.weights = {0, 80, 0, 0, 20, 0};
  } else if (n == "refused") {
    c.weights = {0, 0, 0, 0, 0, 100};
  } else if (n == "payments") {
    c.weights = {35, 30, 15, 8, 4, 8};
  } else {
    return std::nullopt;
  }
  return c;
}

std::string_view validate(const payments_config& c) {
  std::uint64_t sum = 0;
  for (auto w : c.weights) sum += w;
  if (sum == 0) return "the workload's weights are all 0";
  if (sum > 1'000'000) return "the workload's weights must sum to at most 10^6";
  if (c.customers < 2 || c.customers > (1ull << 30)) return "customers must be 2 to 2^30";
  if (c.merchants < 1 || c.merchants > (1ull << 24)) return "merchants must be 1 to 2^24";
  if (c.recipients < 1 || c.recipients > (1ull << 30)) return "recipients must be 1 to 2^30";
  if (c.refusal_accounts < 1 || c.refusal_accounts > 1024)
    return "refusal_accounts must be 1 to 1024";
  if (!(c.merchant_zipf > 0 && c.merchant_zipf <= 10)) return "merchant_zipf must be in (0, 10]";
  if (!(c.customer_zipf >= 0 && c.customer_zipf <= 10)) return "customer_zipf must be in [0, 10]";
  if (c.funding == 0 || c.funding > (1ull << 50)) return "funding must be 1 to 2^50";
  if (c.amount_max == 0 || c.amount_max > c.funding) return "amount_max must be 1 to funding";
  if (!(c.auth_delay_ms_mean > 0 && c.auth_delay_ms_max >= c.auth_delay_ms_mean))
    return "auth delay: mean > 0 and max >= mean";
  if (c.auth_timeout_s == 0 || c.auth_delay_ms_max >= 1000.0 * c.auth_timeout_s)
    return "auth_timeout_s must be more than auth_delay_ms_max";
  if (c.auth_expire_per_mille > 1000 || c.auth_void_per_mille > 1000 ||
      c.auth_partial_per_mille > 1000)
    return "per-mille fields must be at most 1000";
  if (c.fee_basis_points > 10'000) return "fee_basis_points must be at most 10000";
  if (c.fx_rate_ppm == 0 || c.fx_rate_ppm > 1'000'000'000) return "fx_rate_ppm must be 1 to 10^9";
  if (c.payout_max == 0) return "payout_max must not be 0";
  if (c.code == 0) return "code must not be 0";
  return {};
}

std::optional<payments_config> parse_payments(std::string_view text, std::string& why) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    why = std::string("not JSON: ") + e.what();
    return std::nullopt;
  }
  if (!j.is_object()) {
    why = "a workload file holds one JSON object";
    return std::nullopt;
  }
  payments_config c;
  if (j.contains("base")) {
    auto b = named_payments(j["base"].get<std::string>());
    if (!b) {
      why = "unknown base workload " + j["base"].dump();
      return std::nullopt;
    }
    c = *b;
  }
  try {
    for (const auto& [k, v] : j.items()) {
      if (k == "name") {
        c.name = v.get<std::string>();
      } else if (k == "base") {
      } else if (k == "kinds") {
        c.weights = {};
        for (const auto& [kind, w] : v.items()) {
          const auto pk = parse_payment_kind(kind);
          if (!pk) {
            why = "unknown kind '" + kind + "'";
            return std::nullopt;
          }
          c.weights[static_cast<std::size_t>(*pk)] = w.get<std::uint32_t>();
        }
      } else if (k == "customers") {
        c.customers = v.get<std::uint64_t>();
      } else if (k == "merchants") {
        c.merchants = v.get<std::uint64_t>();
      } else if (k == "recipients") {
        c.recipients = v.get<std::uint64_t>();
      } else if (k == "refusal_accounts") {
        c.refusal_accounts = v.get<std::uint64_t>();
      } else if (k == "merchant_zipf") {
        c.merchant_zipf = v.get<double>();
      } else if (k == "customer_zipf") {
        c.customer_zipf = v.get<double>();
      } else if (k == "funding") {
        c.funding = v.get<std::uint64_t>();
      } else if (k == "poor_per_mille") {
        c.poor_per_mille = v.get<std::uint32_t>();
      } else if (k == "amount_max") {
        c.amount_max = v.get<std::uint64_t>();
      } else if (k == "auth_delay_ms") {
        if (v.value("dist", std::string("exponential")) != "exponential") {
          why = "auth_delay_ms.dist: only exponential";
          return std::nullopt;
        }
        c.auth_delay_ms_mean = v.at("mean").get<double>();
        c.auth_delay_ms_max = v.value("max", c.auth_delay_ms_mean * 20);
      } else if (k == "auth_timeout_s") {
        c.auth_timeout_s = v.get<std::uint32_t>();
      } else if (k == "auth_expire_per_mille") {
        c.auth_expire_per_mille = v.get<std::uint32_t>();
      } else if (k == "auth_void_per_mille") {
        c.auth_void_per_mille = v.get<std::uint32_t>();
      } else if (k == "auth_partial_per_mille") {
        c.auth_partial_per_mille = v.get<std::uint32_t>();
      } else if (k == "fee_basis_points") {
        c.fee_basis_points = v.get<std::uint32_t>();
      } else if (k == "fee_fixed") {
        c.fee_fixed = v.get<std::uint64_t>();
      } else if (k == "fx_rate_ppm") {
        c.fx_rate_ppm = v.get<std::uint64_t>();
      } else if (k == "payout_max") {
        c.payout_max = v.get<std::uint64_t>();
      } else if (k == "seed") {
        c.seed = v.get<std::uint64_t>();
      } else {
        why = "unknown field '" + k + "'";
        return std::nullopt;
      }
    }
  } catch (const std::exception& e) {
    why = std::string("bad value: ") + e.what();
    return std::nullopt;
  }
  if (const std::string_view w = validate(c); !w.empty()) {
    why = std::string(w);
    return std::nullopt;
  }
  return c;
}

layout layout::of(const payments_config& c) {
  layout l;
  l.customers_first = l.merchants_first + c.merchants;
  l.frozen_first = l.customers_first + c.customers;
  l.capped_first = l.frozen_first + c.refusal_accounts;
  l.daily_first = l.capped_first + c.refusal_accounts;
  l.recipients_first = l.daily_first + c.refusal_accounts;
  l.count = l.recipients_first + c.recipients - 1;
  return l;
}

std::uint32_t layout::ledger_of(u128 id) const {
  REMIT_ASSERT(id >= 1 && id <= count);
  if (id == bank2 || id == liquidity2 || id >= recipients_first) return 2;
  return 1;
}

payments::payments(const payments_config& c)
    : cfg_(c), layout_(layout::of(c)), rng_(c.seed ^ 0x7061796d656e7473ull) {
  REMIT_ASSERT(validate(c).empty());
  merchant_zipf_.emplace(cfg_.merchants, cfg_.merchant_zipf);
  if (cfg_.customer_zipf > 0) customer_zipf_.emplace(cfg_.customers, cfg_.customer_zipf);
  for (auto w : cfg_.weights) weight_sum_ += w;
  REMIT_ASSERT(weight_sum_ > 0);
}

bool payments::next_account_batch(std::vector<account>& out, std::size_t events_max) {
  out.clear();
  while (out.size() < events_max && accounts_emitted_ < layout_.count) {
    const u128 id = ++accounts_emitted_;
    account a{};
    a.id = id;
    a.ledger = layout_.ledger_of(id);
    a.code = cfg_.code;
    // Customers, merchants and the refusal accounts cannot spend what they do not have; the
    // house accounts (banks, fee, liquidity, payout) and recipients are unbounded.
    if (id >= layout_.merchants_first && id < layout_.recipients_first)
      a.flags = account_flags::debits_must_not_exceed_credits;
    if (id == layout_.liquidity2) a.flags = account_flags::debits_must_not_exceed_credits;
    out.push_back(a);
  }
  return !out.empty();
}

bool payments::next_funding_batch(std::vector<transfer>& out, std::size_t events_max) {
  out.clear();
  if (funding_next_ == 0) funding_next_ = layout_.customers_first;
  if (!liquidity_funded_ && events_max > 0) {
    // Ledger 2's liquidity pays every FX leg: give it more than any run moves.
    transfer t = blank(payment_kind::fx);
    t.user_data_32 = 0;
    t.debit_account_id = layout::bank2;
    t.credit_account_id = layout::liquidity2;
    t.ledger = 2;
    t.amount = u128{cfg_.funding} << 20;
    out.push_back(t);
    liquidity_funded_ = true;
  }
  // Customers and the refusal accounts (which must have money, or a refusal would be for
  // want of funds and not for the control).
  while (out.size() < events_max && funding_next_ < layout_.recipients_first) {
    const u128 id = funding_next_++;
    transfer t = blank(payment_kind::settlement);
    t.user_data_32 = 0;
    t.debit_account_id = layout::bank1;
    t.credit_account_id = id;
    t.ledger = 1;
    const bool poor = id < layout_.frozen_first && rng_.chance(cfg_.poor_per_mille);
    t.amount = poor ? std::max<std::uint64_t>(cfg_.funding / 100, 1) : cfg_.funding;
    out.push_back(t);
  }
  return !out.empty();
}

std::vector<account_controls> payments::setup_controls() const {
  std::vector<account_controls> out;
  for (u128 i = 0; i < cfg_.refusal_accounts; ++i) {
    account_controls f{};
    f.account_id = layout_.frozen_first + i;
    f.status_flags = account_status_flags::frozen;
    out.push_back(f);
    account_controls c{};
    c.account_id = layout_.capped_first + i;
    c.transfer_amount_max = capped_transfer_max;
    out.push_back(c);
    account_controls d{};
    d.account_id = layout_.daily_first + i;
    d.daily_debit_max = daily_debit_max;
    out.push_back(d);
  }
  return out;
}

transfer payments::blank(payment_kind k) {
  transfer t{};
  t.id = next_transfer_id_++;
  t.code = cfg_.code;
  t.user_data_32 = static_cast<std::uint32_t>(k) + 1;
  return t;
}

payment_kind payments::choose() {
  std::uint32_t r = static_cast<std::uint32_t>(rng_.below(weight_sum_));
  for (std::size_t i = 0; i < payment_kind_count; ++i) {
    if (r < cfg_.weights[i]) return static_cast<payment_kind>(i);
    r -= cfg_.weights[i];
  }
  REMIT_ASSERT(false && "payments: weights do not add up");
  return payment_kind::settlement;
}

u128 payments::customer() {
  const std::uint64_t k =
      customer_zipf_ ? customer_zipf_->sample(rng_) - 1 : rng_.below(cfg_.customers);
  return layout_.customers_first + k;
}

u128 payments::merchant_uniform() {
  return layout_.merchants_first + rng_.below(cfg_.merchants);
}

u128 payments::amount() {
  return rng_.between(1, cfg_.amount_max);
}

std::size_t payments::emit_refused(op& o) {
  transfer& t = o[0];
  t.credit_account_id = merchant_uniform();
  t.ledger = 1;
  const std::uint64_t r = rng_.below(5);
  const u128 spare = rng_.below(cfg_.refusal_accounts);
  switch (r) {
    case 0:  // insufficient funds: more than any customer ever holds
      t.debit_account_id = customer();
      t.amount = u128{cfg_.funding} * 2 + amount();
      break;
    case 1:  // a frozen payer
      t.debit_account_id = layout_.frozen_first + spare;
      t.amount = amount();
      break;
    case 2:  // a frozen payee
      t.debit_account_id = customer();
      t.credit_account_id = layout_.frozen_first + spare;
      t.amount = amount();
      break;
    case 3:  // over the per-transfer cap
      t.debit_account_id = layout_.capped_first + spare;
      t.amount = capped_transfer_max + 1 + rng_.below(cfg_.amount_max);
      break;
    default:  // over the daily cap (the cap is smaller than any amount sent)
      t.debit_account_id = layout_.daily_first + spare;
      t.amount = daily_debit_max + 1 + rng_.below(capped_transfer_max);
      break;
  }
  return 1;
}

std::size_t payments::emit(payment_kind k, op& o, std::uint64_t now_ns) {
  o[0] = blank(k);
  transfer& t = o[0];
  switch (k) {
    case payment_kind::card_auth: {
      t.debit_account_id = customer();
      t.credit_account_id = merchant_uniform();
      t.ledger = 1;
      t.amount = amount();
      t.flags = transfer_flags::pending;
      t.timeout = cfg_.auth_timeout_s;
      if (!rng_.chance(cfg_.auth_expire_per_mille) && follow_ups_.size() < follow_ups_max) {
        // Exponential delay by inversion, capped.
        const double ms =
            std::min(-cfg_.auth_delay_ms_mean * std::log1p(-rng_.unit()), cfg_.auth_delay_ms_max);
        follow_ups_.push({now_ns + static_cast<std::uint64_t>(ms * 1e6), t.id, t.amount});
      }
      return 1;
    }
    case payment_kind::settlement:
      t.debit_account_id = customer();
      t.credit_account_id = layout_.merchants_first + merchant_zipf_->sample(rng_) - 1;
      t.ledger = 1;
      t.amount = amount();
      return 1;
    case payment_kind::payment_fee: {
      t.debit_account_id = customer();
      t.credit_account_id = merchant_uniform();
      t.ledger = 1;
      t.amount = amount();
      t.flags = transfer_flags::linked;
      transfer& fee = o[1];
      fee = blank(k);
      fee.debit_account_id = t.debit_account_id;
      fee.credit_account_id = layout::fee;
      fee.ledger = 1;
      fee.amount = t.amount * cfg_.fee_basis_points / 10'000 + cfg_.fee_fixed;
      return 2;
    }
    case payment_kind::fx: {
      t.debit_account_id = customer();
      t.credit_account_id = layout::liquidity1;
      t.ledger = 1;
      t.amount = amount();
      t.flags = transfer_flags::linked;
      transfer& leg = o[1];
      leg = blank(k);
      leg.debit_account_id = layout::liquidity2;
      leg.credit_account_id = layout_.recipients_first + rng_.below(cfg_.recipients);
      leg.ledger = 2;
      leg.amount = std::max<u128>(t.amount * cfg_.fx_rate_ppm / 1'000'000, 1);
      return 2;
    }
    case payment_kind::payout:
      t.debit_account_id = layout_.merchants_first + merchant_zipf_->sample(rng_) - 1;
      t.credit_account_id = layout::payout;
      t.ledger = 1;
      t.amount = cfg_.payout_max;
      t.flags = transfer_flags::balancing_debit;
      return 1;
    case payment_kind::refused:
      return emit_refused(o);
  }
  REMIT_ASSERT(false && "payments: unknown kind");
  return 0;
}

void payments::next_transfer_batch(std::vector<transfer>& out, std::size_t events,
                                   std::uint64_t now_ns) {
  REMIT_ASSERT(events >= 1);
  REMIT_ASSERT(events <= batch_events_max);
  out.clear();
  while (out.size() < events) {
    if (!follow_ups_.empty() && follow_ups_.top().due_ns <= now_ns) {
      const follow_up f = follow_ups_.top();
      follow_ups_.pop();
      transfer t = blank(payment_kind::card_auth);
      t.pending_id = f.pending_id;
      if (rng_.chance(cfg_.auth_void_per_mille)) {
        t.flags = transfer_flags::void_pending_transfer;
      } else {
        t.flags = transfer_flags::post_pending_transfer;
        // A partial capture (a tip-less restaurant bill, a shipment in parts) or the whole.
        if (rng_.chance(cfg_.auth_partial_per_mille))
          t.amount = rng_.between(1, static_cast<std::uint64_t>(f.amount));
      }
      out.push_back(t);
      ++follow_ups_sent_;
      continue;
    }
    std::pair<op, std::size_t> next;
    if (carry_) {
      next = *carry_;
      carry_.reset();
    } else {
      const payment_kind k = choose();
      next.second = emit(k, next.first, now_ns);
      ++started_[static_cast<std::size_t>(k)];
    }
    if (out.size() + next.second > batch_events_max) {
      carry_ = next;  // the next batch starts with it
      break;
    }
    for (std::size_t i = 0; i < next.second; ++i) out.push_back(next.first[i]);
  }
  REMIT_ASSERT(out.size() >= std::min<std::size_t>(events, batch_events_max - 1));
  REMIT_ASSERT(out.size() <= batch_events_max);
}

}  // namespace remit::workload
