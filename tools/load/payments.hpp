// payments: named payment workloads for remit-load, the mixes people run against a ledger.
//
// Design. A workload is a set of operation kinds with weights; each operation is one
// transfer or a linked chain of two, and card authorizations have a follow-up (a post or a
// void) sent after a delay. Like workload::generator it is seeded and deterministic (one
// seed and one sequence of `now_ns` values give one stream) and never sees results. Every
// event carries its kind in user_data_32 (kind + 1), so results can be told apart by kind
// and a test can check the mix from the stream alone.
//
// Accounts (ids from 1; `layout` names them):
//   ledger 1: bank (the source of all money), fee, liquidity, payout; merchants; customers
//             (debits_must_not_exceed_credits, most funded, a few poor); and three small
//             groups of refusal accounts: frozen, capped (transfer_amount_max) and
//             daily-capped (daily_debit_max), set by account controls after funding;
//   ledger 2: bank, liquidity (funded from its bank) and FX recipients.
// The kinds:
//   card_auth    a pending transfer customer -> merchant with a timeout; after a delay drawn
//                from an exponential distribution (mean, max) it is posted (in full or in
//                part) or voided; a fraction gets no follow-up and expires;
//   settlement   a plain payment customer -> merchant, the merchant drawn by Zipf over the
//                merchants: a few hot merchant accounts take most credits;
//   payment_fee  linked: customer -> merchant, and customer -> fee account (basis points
//                plus a fixed part);
//   fx           linked across the ledgers: customer -> liquidity (ledger 1), then
//                liquidity -> recipient (ledger 2) at the configured rate;
//   payout       merchant -> payout with balancing_debit: sweeps what the merchant holds,
//                up to `payout_max` (exceeds_credits when it holds nothing);
//   refused      a transfer the ledger must refuse: insufficient funds (exceeds_credits), a
//                frozen account (debit_ or credit_account_frozen), over the per-transfer cap
//                (exceeds_transfer_amount_max) or over the daily cap (exceeds_daily_debit_max).
//
// Bounds: the follow-up queue holds at most follow_ups_max authorizations (past it a new
// authorization gets no follow-up and expires); a batch holds at most batch_events_max.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "engine/types.hpp"
#include "tools/workload.hpp"

namespace remit::workload {

enum class payment_kind : std::uint8_t {
  card_auth,
  settlement,
  payment_fee,
  fx,
  payout,
  refused,
};
inline constexpr std::size_t payment_kind_count = 6;

std::string_view name(payment_kind k);
[[nodiscard]] std::optional<payment_kind> parse_payment_kind(std::string_view s);

struct payments_config {
  std::string name = "custom";
  std::array<std::uint32_t, payment_kind_count> weights{};  // relative; not all 0
  std::uint64_t customers = 10'000;                         // ledger 1
  std::uint64_t merchants = 100;                            // ledger 1
  std::uint64_t recipients = 1'000;                         // ledger 2 (fx)
  std::uint64_t refusal_accounts = 8;                       // of each refusal group
  double merchant_zipf = 1.1;  // settlement: Zipf exponent over the merchants
  double customer_zipf = 0;    // 0: customers uniform; else Zipf with this exponent
  std::uint64_t funding = 1'000'000;
  std::uint32_t poor_per_mille = 20;  // customers funded with 1% of `funding`
  std::uint64_t amount_max = 10'000;  // payments uniform in 1..amount_max
  // card_auth
  double auth_delay_ms_mean = 50;  // exponential
  double auth_delay_ms_max = 1'000;
  std::uint32_t auth_timeout_s = 2;
  std::uint32_t auth_expire_per_mille = 50;
  std::uint32_t auth_void_per_mille = 150;
  std::uint32_t auth_partial_per_mille = 200;  // of the posts
  // payment_fee
  std::uint32_t fee_basis_points = 250;
  std::uint64_t fee_fixed = 30;
  // fx: amount on ledger 2 = amount x fx_rate_ppm / 10^6
  std::uint64_t fx_rate_ppm = 920'000;
  // payout
  std::uint64_t payout_max = 1'000'000;
  std::uint64_t seed = 1;
  std::uint16_t code = 1;
};

// The named workloads: card, settlement, payment-fee, fx, payout, refused, payments (all
// of them blended as a payments company might see them).
std::vector<std::string_view> payment_workload_names();
[[nodiscard]] std::optional<payments_config> named_payments(std::string_view name);
// A workload from JSON text (docs/LOAD.md): {"name", "kinds": {kind: weight}, and any field
// of payments_config}. nullopt and `why` when it is not one.
[[nodiscard]] std::optional<payments_config> parse_payments(std::string_view json_text,
                                                            std::string& why);
// Empty when usable.
std::string_view validate(const payments_config& c);

struct layout {
  static constexpr u128 bank1 = 1, bank2 = 2, fee = 3, liquidity1 = 4, liquidity2 = 5, payout = 6;
  u128 merchants_first = 7;
  u128 customers_first = 0;
  u128 frozen_first = 0;
  u128 capped_first = 0;
  u128 daily_first = 0;
  u128 recipients_first = 0;
  u128 count = 0;  // accounts: ids 1..count
  static layout of(const payments_config& c);
  std::uint32_t ledger_of(u128 id) const;
};

class payments {
 public:
  static constexpr std::size_t follow_ups_max = 1u << 16;
  static constexpr std::uint64_t capped_transfer_max = 100;  // transfer_amount_max of capped
  static constexpr std::uint64_t daily_debit_max = 1;        // of daily-capped accounts

  explicit payments(const payments_config& c);  // `validate` must pass (asserted)

  const payments_config& cfg() const { return cfg_; }
  const layout& accounts() const { return layout_; }
  std::uint64_t account_count() const { return static_cast<std::uint64_t>(layout_.count); }

  bool next_account_batch(std::vector<account>& out, std::size_t events_max);
  bool next_funding_batch(std::vector<transfer>& out, std::size_t events_max);
  // The controls that make the refusal accounts refuse (once, after funding).
  std::vector<account_controls> setup_controls() const;
  // Follow-ups due by `now_ns` first, then new operations, until the batch holds at least
  // `events` (an operation is never split: a chain may take it one past, never past
  // batch_events_max). `now_ns` is when the batch is due, on any clock that does not go back.
  void next_transfer_batch(std::vector<transfer>& out, std::size_t events, std::uint64_t now_ns);

  // Operations started per kind (follow-ups not counted).
  const std::array<std::uint64_t, payment_kind_count>& started() const { return started_; }
  std::uint64_t follow_ups_sent() const { return follow_ups_sent_; }

 private:
  struct follow_up {
    std::uint64_t due_ns;
    u128 pending_id;
    u128 amount;
    bool operator>(const follow_up& o) const { return due_ns > o.due_ns; }
  };
  using op = std::array<transfer, 2>;

  transfer blank(payment_kind k);
  payment_kind choose();
  u128 customer();
  u128 merchant_uniform();
  u128 amount();
  std::size_t emit(payment_kind k, op& o, std::uint64_t now_ns);  // events in `o`
  std::size_t emit_refused(op& o);

  payments_config cfg_;
  layout layout_;
  xoshiro256 rng_;
  std::optional<zipf_sampler> merchant_zipf_;
  std::optional<zipf_sampler> customer_zipf_;
  std::uint32_t weight_sum_ = 0;
  u128 accounts_emitted_ = 0;
  u128 funding_next_ = 0;  // 0: not started
  bool liquidity_funded_ = false;
  u128 next_transfer_id_ = 1;
  std::priority_queue<follow_up, std::vector<follow_up>, std::greater<>> follow_ups_;
  std::optional<std::pair<op, std::size_t>> carry_;  // an operation that did not fit
  std::array<std::uint64_t, payment_kind_count> started_{};
  std::uint64_t follow_ups_sent_ = 0;
};

}  // namespace remit::workload
