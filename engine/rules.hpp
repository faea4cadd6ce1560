// The rules of docs/PROTOCOL.md sections 4, 6 and 7 as pure functions over plain state.
//
// They are written so that the checks can be split between owners: the checks that read one
// account only (`check_debit`, `check_credit`), the checks that read the pending transfer
// (`check_post_or_void`), and the shared ones (`check_accounts`). Each returns the first
// failing code of its own checks in numeric order, and because the codes of docs/PROTOCOL.md are
// decided in numeric order, the code of the whole transfer is the smallest of those that the
// parts return (`first_failure`). The serial reference ledger and the account hosts both
// use exactly these functions, so they cannot drift apart.
//
// Nothing here allocates, reads a clock, or throws. All arithmetic on amounts is checked.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/types.hpp"

namespace remit {

// ---------------------------------------------------------------------------------------
// Checked arithmetic

inline bool add_overflows(u128 a, u128 b) {
  return a + b < a;
}
inline bool add_overflows(u128 a, u128 b, u128 c) {
  return add_overflows(a, b) || add_overflows(a + b, c);
}
inline u128 add_saturating(u128 a, u128 b) {
  return add_overflows(a, b) ? u128_max : a + b;
}

// ---------------------------------------------------------------------------------------
// Account state

// Risk controls of one account (docs/PROTOCOL.md, AccountControls). Defaults: no overdraft, no
// caps, not frozen.
struct controls_state {
  u128 overdraft_max = 0;
  u128 transfer_amount_max = 0;
  u128 daily_debit_max = 0;
  std::uint32_t status_flags = 0;

  bool frozen() const { return (status_flags & account_status_flags::frozen) != 0; }
  bool is_default() const {
    return overdraft_max == 0 && transfer_amount_max == 0 && daily_debit_max == 0 &&
           status_flags == 0;
  }
};

// One account's committed state: the wire view (balances, identity, timestamp), its
// controls, and the sums debited on the UTC day `daily_day` (days since the epoch) and on
// the day before it.
//
// Why two days: timestamps are given when a request arrives, and requests in flight at the
// same time commit in any order, so a debit stamped 23:59:59.999 may still be deciding when
// a debit stamped 00:00 the next day has committed. It must still be checked against, and
// counted in, its own day's sum. A debit stamped earlier still (a request in flight for over
// a day) is refused when the account has a daily cap: its day's sum is no longer known.
// `daily_debited_before` is not part of a snapshot: after recovery no request is stamped
// before the last timestamp, so the day before `daily_day` can no longer be asked about.
struct account_state {
  account a{};
  controls_state controls{};
  u128 daily_debited = 0;         // on daily_day
  u128 daily_debited_before = 0;  // on daily_day - 1
  std::uint64_t daily_day = 0;
};

// Amounts held by transfers that are reserved but not yet decided (escrow). The serial
// ledger never has any; account hosts pass theirs so that the same checks count them.
struct holds {
  u128 debits = 0;        // like debits_pending
  u128 credits = 0;       // like credits_pending, never spendable
  u128 daily_debits = 0;  // counted against daily_debit_max of the current day
};

inline std::uint64_t utc_day(std::uint64_t timestamp_ns) {
  return timestamp_ns / ns_per_day;
}

// The sum debited on the UTC day of `timestamp_ns`, by transfers already decided; u128_max
// (as good as over any cap) for a day older than the two that are kept.
inline u128 daily_debited_on(const account_state& s, std::uint64_t timestamp_ns) {
  const std::uint64_t day = utc_day(timestamp_ns);
  if (day > s.daily_day) return 0;
  if (day == s.daily_day) return s.daily_debited;
  if (day + 1 == s.daily_day) return s.daily_debited_before;
  return u128_max;
}

// ---------------------------------------------------------------------------------------
// Kinds of transfer

enum class transfer_kind : std::uint8_t { plain, pending, post, void_ };

inline transfer_kind kind_of(const transfer& t) {
  if (t.flags & transfer_flags::post_pending_transfer) return transfer_kind::post;
  if (t.flags & transfer_flags::void_pending_transfer) return transfer_kind::void_;
  if (t.flags & transfer_flags::pending) return transfer_kind::pending;
  return transfer_kind::plain;
}

// The state of a pending transfer over its life.
enum class pending_state : std::uint8_t { none, pending, posted, voided, expired };

// ---------------------------------------------------------------------------------------
// Checks on the event alone

[[nodiscard]] create_account_result validate_account(const account& a);
[[nodiscard]] create_transfer_result validate_transfer(const transfer& t);

// `exists` or the first `exists_with_different_*` in numeric order.
[[nodiscard]] create_account_result compare_existing(const account& existing, const account& sent);

// The fields of a stored transfer as the client sent them, for the `exists` comparison: a
// balancing transfer or a post with amount 0 compares the amount it was sent with; a post or
// void that sent 0 for an account id, the ledger or the code compares 0.
struct sent_fields {
  u128 amount = 0;
  std::uint8_t zero_mask = 0;  // bit 0 debit id, bit 1 credit id, bit 2 ledger, bit 3 code
};
sent_fields sent_fields_of(const transfer& sent);
[[nodiscard]] create_transfer_result compare_existing(const transfer& stored,
                                                      const sent_fields& stored_sent,
                                                      const transfer& sent);

// ---------------------------------------------------------------------------------------
// Checks against state for plain and pending transfers

// Codes 34 to 37 (found, same ledger) from what the coordinator knows of the two accounts:
// their ledgers, or `nullptr` for an account that does not exist.
[[nodiscard]] create_transfer_result check_accounts(const transfer& t,
                                                    const std::uint32_t* dr_ledger,
                                                    const std::uint32_t* cr_ledger);

// The amount a balancing transfer may move out of the debit account (balancing_debit) or
// into the credit account (balancing_credit), before the transfer's own amount caps it.
u128 balancing_debit_room(const account_state& dr, const holds& h = {});
u128 balancing_credit_room(const account_state& cr, const holds& h = {});

// The amount a plain or pending transfer moves, given both rooms (pass u128_max for a side
// without its balancing flag), and the code when a balancing side leaves nothing to move.
struct resolved_amount {
  u128 amount;
  create_transfer_result code;  // ok, exceeds_credits or exceeds_debits
};
resolved_amount resolve_amount(const transfer& t, u128 debit_room, u128 credit_room);

// The checks that read the debit account alone (49, 51, 53, 56, 58, 60, 61) for moving
// `amount` at `timestamp_ns`; the first failing in numeric order, or ok.
[[nodiscard]] create_transfer_result check_debit(const account_state& dr, transfer_kind kind,
                                                 u128 amount, std::uint64_t timestamp_ns,
                                                 const holds& h = {});
// The checks that read the credit account alone (50, 52, 54, 57, 59).
[[nodiscard]] create_transfer_result check_credit(const account_state& cr, transfer_kind kind,
                                                  u128 amount, const holds& h = {});
// 55: the pending transfer's expiry does not fit in a u64 of nanoseconds.
[[nodiscard]] create_transfer_result check_timeout(const transfer& t, std::uint64_t timestamp_ns);
// When a pending transfer created at `timestamp_ns` expires; 0 for never.
std::uint64_t expires_at(const transfer& t, std::uint64_t timestamp_ns);

// ---------------------------------------------------------------------------------------
// Checks against state for posts and voids

struct pending_view {
  const transfer* pending;  // the stored transfer named by pending_id, nullptr if none
  pending_state state;
  std::uint64_t expires_at_ns;  // 0: never
};
// Codes 38 to 48. On ok, `amount_out` is the amount the post moves to posted (a void: 0).
[[nodiscard]] create_transfer_result check_post_or_void(const transfer& t, const pending_view& p,
                                                        std::uint64_t timestamp_ns,
                                                        u128& amount_out);
// 51 on the debit account, 52 on the credit account, for posting `amount`.
[[nodiscard]] create_transfer_result check_post_debit(const account_state& dr, u128 amount);
[[nodiscard]] create_transfer_result check_post_credit(const account_state& cr, u128 amount);

// The stored form of a post or void: the pending transfer's accounts, ledger and code, the
// amount posted (a void: the pending amount), the rest as sent.
transfer stored_post_or_void(const transfer& sent, const transfer& pending, u128 amount,
                             std::uint64_t timestamp_ns);

// ---------------------------------------------------------------------------------------
// Effects (called only after every check passed)

void apply_debit(account_state& dr, transfer_kind kind, u128 amount, std::uint64_t timestamp_ns);
void apply_credit(account_state& cr, transfer_kind kind, u128 amount);
// Moves a pending amount out of pending; `posted` of it into posted (0 for a void or expiry).
void apply_resolve_debit(account_state& dr, u128 pending_amount, u128 posted);
void apply_resolve_credit(account_state& cr, u128 pending_amount, u128 posted);

// ---------------------------------------------------------------------------------------
// Controls, filters, stats

[[nodiscard]] set_controls_result validate_controls(const account_controls& c);
controls_state controls_of(const account_controls& c);

[[nodiscard]] bool filter_matches(const account_filter& f, const transfer& t);

// Where the chain left open at the end of a batch begins (the events from there to the end
// are linked, and so is the last): every one of them fails, the last with
// linked_event_chain_open and the others with linked_event_failed, whatever else they would
// have given. `events.size()` when the batch ends with its chains closed.
template <class Event>
std::size_t open_chain_start(std::span<const Event> events, std::uint16_t linked_flag) {
  std::size_t start = events.size();
  while (start > 0 && (events[start - 1].flags & linked_flag)) --start;
  return start;
}

// The combined code of a transfer's checks: the smallest failing one.
inline create_transfer_result first_failure(create_transfer_result a, create_transfer_result b) {
  if (a == create_transfer_result::ok) return b;
  if (b == create_transfer_result::ok) return a;
  return std::min(a, b);
}

}  // namespace remit
