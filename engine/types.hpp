// The data model of docs/PROTOCOL.md section 4: fixed-size structs that are byte-identical to
// the wire (little-endian host, no padding), their flag bits, and both result-code enums.
//
// The structs are plain data: they do not validate themselves and do not allocate. A buffer
// from the network is not necessarily 16-byte aligned; copy events out of it with memcpy
// (see `load_event`) rather than casting the pointer.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace remit {

static_assert(std::endian::native == std::endian::little,
              "remit reads wire structs in place and needs a little-endian host");

__extension__ using u128 = unsigned __int128;

inline constexpr u128 u128_max = ~u128{0};

constexpr u128 make_u128(std::uint64_t hi, std::uint64_t lo) {
  return (static_cast<u128>(hi) << 64) | lo;
}
constexpr std::uint64_t u128_lo(u128 x) {
  return static_cast<std::uint64_t>(x);
}
constexpr std::uint64_t u128_hi(u128 x) {
  return static_cast<std::uint64_t>(x >> 64);
}

// Limits shared by the engine and the wire.
inline constexpr std::uint32_t batch_events_max = 8190;   // event_count_max
inline constexpr std::uint32_t body_size_max = 1u << 20;  // 1 MiB
static_assert(body_size_max >= 128u * batch_events_max);
inline constexpr std::uint64_t ns_per_s = 1'000'000'000;
inline constexpr std::uint64_t ns_per_day = 86'400 * ns_per_s;

// ---------------------------------------------------------------------------------------
// Account (128)

namespace account_flags {
inline constexpr std::uint16_t linked = 1u << 0;
inline constexpr std::uint16_t debits_must_not_exceed_credits = 1u << 1;
inline constexpr std::uint16_t credits_must_not_exceed_debits = 1u << 2;
inline constexpr std::uint16_t known =
    linked | debits_must_not_exceed_credits | credits_must_not_exceed_debits;
}  // namespace account_flags

struct account {
  u128 id;
  u128 debits_pending;
  u128 debits_posted;
  u128 credits_pending;
  u128 credits_posted;
  u128 user_data_128;
  std::uint64_t user_data_64;
  std::uint32_t user_data_32;
  std::uint32_t reserved;
  std::uint32_t ledger;
  std::uint16_t code;
  std::uint16_t flags;
  std::uint64_t timestamp;
};
static_assert(sizeof(account) == 128);
static_assert(offsetof(account, id) == 0);
static_assert(offsetof(account, debits_pending) == 16);
static_assert(offsetof(account, debits_posted) == 32);
static_assert(offsetof(account, credits_pending) == 48);
static_assert(offsetof(account, credits_posted) == 64);
static_assert(offsetof(account, user_data_128) == 80);
static_assert(offsetof(account, user_data_64) == 96);
static_assert(offsetof(account, user_data_32) == 104);
static_assert(offsetof(account, reserved) == 108);
static_assert(offsetof(account, ledger) == 112);
static_assert(offsetof(account, code) == 116);
static_assert(offsetof(account, flags) == 118);
static_assert(offsetof(account, timestamp) == 120);

// ---------------------------------------------------------------------------------------
// Transfer (128)

namespace transfer_flags {
inline constexpr std::uint16_t linked = 1u << 0;
inline constexpr std::uint16_t pending = 1u << 1;
inline constexpr std::uint16_t post_pending_transfer = 1u << 2;
inline constexpr std::uint16_t void_pending_transfer = 1u << 3;
inline constexpr std::uint16_t balancing_debit = 1u << 4;
inline constexpr std::uint16_t balancing_credit = 1u << 5;
inline constexpr std::uint16_t known = linked | pending | post_pending_transfer |
                                       void_pending_transfer | balancing_debit | balancing_credit;
}  // namespace transfer_flags

struct transfer {
  u128 id;
  u128 debit_account_id;
  u128 credit_account_id;
  u128 amount;
  u128 pending_id;
  u128 user_data_128;
  std::uint64_t user_data_64;
  std::uint32_t user_data_32;
  std::uint32_t timeout;  // seconds; pending transfers only
  std::uint32_t ledger;
  std::uint16_t code;
  std::uint16_t flags;
  std::uint64_t timestamp;
};
static_assert(sizeof(transfer) == 128);
static_assert(offsetof(transfer, id) == 0);
static_assert(offsetof(transfer, debit_account_id) == 16);
static_assert(offsetof(transfer, credit_account_id) == 32);
static_assert(offsetof(transfer, amount) == 48);
static_assert(offsetof(transfer, pending_id) == 64);
static_assert(offsetof(transfer, user_data_128) == 80);
static_assert(offsetof(transfer, user_data_64) == 96);
static_assert(offsetof(transfer, user_data_32) == 104);
static_assert(offsetof(transfer, timeout) == 108);
static_assert(offsetof(transfer, ledger) == 112);
static_assert(offsetof(transfer, code) == 116);
static_assert(offsetof(transfer, flags) == 118);
static_assert(offsetof(transfer, timestamp) == 120);

// ---------------------------------------------------------------------------------------
// AccountControls (96)

namespace account_status_flags {
inline constexpr std::uint32_t frozen = 1u << 0;
inline constexpr std::uint32_t known = frozen;
}  // namespace account_status_flags

struct account_controls {
  u128 account_id;
  u128 overdraft_max;
  u128 transfer_amount_max;  // 0: no cap on one debit
  u128 daily_debit_max;      // 0: no cap
  std::uint32_t status_flags;
  std::uint8_t reserved[28];
};
static_assert(sizeof(account_controls) == 96);
static_assert(offsetof(account_controls, overdraft_max) == 16);
static_assert(offsetof(account_controls, transfer_amount_max) == 32);
static_assert(offsetof(account_controls, daily_debit_max) == 48);
static_assert(offsetof(account_controls, status_flags) == 64);
static_assert(offsetof(account_controls, reserved) == 68);

// ---------------------------------------------------------------------------------------
// Result (16)

struct result {
  std::uint32_t status;
  std::uint32_t reserved;
  std::uint64_t timestamp;  // of the created object; of the original for `exists`; 0 on failure
};
static_assert(sizeof(result) == 16);
static_assert(offsetof(result, timestamp) == 8);

// ---------------------------------------------------------------------------------------
// AccountFilter (64)

namespace account_filter_flags {
inline constexpr std::uint32_t debits = 1u << 0;
inline constexpr std::uint32_t credits = 1u << 1;
inline constexpr std::uint32_t reversed = 1u << 2;
inline constexpr std::uint32_t known = debits | credits | reversed;
}  // namespace account_filter_flags

struct account_filter {
  u128 account_id;
  std::uint64_t timestamp_min;  // inclusive; 0: no bound
  std::uint64_t timestamp_max;  // inclusive; 0: no bound
  std::uint32_t limit;          // 1 to batch_events_max
  std::uint32_t flags;
  std::uint8_t reserved[24];
};
static_assert(sizeof(account_filter) == 64);
static_assert(offsetof(account_filter, timestamp_min) == 16);
static_assert(offsetof(account_filter, timestamp_max) == 24);
static_assert(offsetof(account_filter, limit) == 32);
static_assert(offsetof(account_filter, flags) == 36);
static_assert(offsetof(account_filter, reserved) == 40);

// The checks of an AccountFilter that docs/PROTOCOL.md gives protocol statuses (section 4): a
// limit out of range or no side is bad_event_count; unknown flag bits or reserved bytes are
// reserved_field, in that order.
enum class filter_check : std::uint8_t { ok, reserved_field, bad_event_count };
filter_check validate_filter(const account_filter& f);

// ---------------------------------------------------------------------------------------
// GET_LEDGER_STATS request (16) and LedgerStats (64)

struct ledger_stats_request {
  std::uint32_t ledger;
  std::uint8_t reserved[12];
};
static_assert(sizeof(ledger_stats_request) == 16);

struct ledger_stats {
  std::uint32_t ledger;
  std::uint32_t reserved;
  std::uint64_t accounts;
  std::uint64_t transfers_posted;   // plain transfers and posts
  std::uint64_t transfers_pending;  // open now
  u128 volume_posted;               // saturating at 2^128-1
  std::uint8_t reserved2[16];
};
static_assert(sizeof(ledger_stats) == 64);
static_assert(offsetof(ledger_stats, accounts) == 8);
static_assert(offsetof(ledger_stats, transfers_posted) == 16);
static_assert(offsetof(ledger_stats, transfers_pending) == 24);
static_assert(offsetof(ledger_stats, volume_posted) == 32);
static_assert(offsetof(ledger_stats, reserved2) == 48);

template <class T>
concept wire_struct =
    std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T>;

static_assert(wire_struct<account> && wire_struct<transfer> && wire_struct<account_controls> &&
              wire_struct<result> && wire_struct<account_filter> && wire_struct<ledger_stats> &&
              wire_struct<ledger_stats_request>);

// Copies one event out of a possibly unaligned buffer. Does not allocate.
template <wire_struct T>
T load_event(const std::byte* p) {
  T t;
  std::memcpy(&t, p, sizeof(T));
  return t;
}

template <wire_struct T>
bool all_zero(const T& t) {
  const auto* p = reinterpret_cast<const unsigned char*>(&t);
  for (std::size_t i = 0; i < sizeof(T); ++i)
    if (p[i] != 0) return false;
  return true;
}

inline bool bytes_zero(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------
// Result codes (docs/PROTOCOL.md sections 6 and 7)

enum class create_account_result : std::uint32_t {
  ok = 0,
  linked_event_failed = 1,
  linked_event_chain_open = 2,
  exists = 3,
  exists_with_different_flags = 4,
  exists_with_different_user_data_128 = 5,
  exists_with_different_user_data_64 = 6,
  exists_with_different_user_data_32 = 7,
  exists_with_different_ledger = 8,
  exists_with_different_code = 9,
  id_must_not_be_zero = 10,
  id_must_not_be_int_max = 11,
  flags_are_mutually_exclusive = 12,
  reserved_field = 13,
  reserved_flag = 14,
  balances_must_be_zero = 15,
  timestamp_must_be_zero = 16,
  ledger_must_not_be_zero = 17,
  code_must_not_be_zero = 18,
};
inline constexpr std::uint32_t create_account_result_count = 19;

enum class create_transfer_result : std::uint32_t {
  ok = 0,
  linked_event_failed = 1,
  linked_event_chain_open = 2,
  exists = 3,
  exists_with_different_flags = 4,
  exists_with_different_pending_id = 5,
  exists_with_different_timeout = 6,
  exists_with_different_debit_account_id = 7,
  exists_with_different_credit_account_id = 8,
  exists_with_different_amount = 9,
  exists_with_different_user_data_128 = 10,
  exists_with_different_user_data_64 = 11,
  exists_with_different_user_data_32 = 12,
  exists_with_different_ledger = 13,
  exists_with_different_code = 14,
  id_already_failed = 15,
  id_must_not_be_zero = 16,
  id_must_not_be_int_max = 17,
  flags_are_mutually_exclusive = 18,
  reserved_flag = 19,
  timestamp_must_be_zero = 20,
  debit_account_id_must_not_be_zero = 21,
  debit_account_id_must_not_be_int_max = 22,
  credit_account_id_must_not_be_zero = 23,
  credit_account_id_must_not_be_int_max = 24,
  accounts_must_be_different = 25,
  pending_id_must_be_zero = 26,
  pending_id_must_not_be_zero = 27,
  pending_id_must_not_be_int_max = 28,
  pending_id_must_be_different = 29,
  timeout_reserved_for_pending_transfer = 30,
  amount_must_not_be_zero = 31,
  ledger_must_not_be_zero = 32,
  code_must_not_be_zero = 33,
  debit_account_not_found = 34,
  credit_account_not_found = 35,
  accounts_must_have_the_same_ledger = 36,
  transfer_must_have_the_same_ledger_as_accounts = 37,
  pending_transfer_not_found = 38,
  pending_transfer_not_pending = 39,
  pending_transfer_has_different_debit_account_id = 40,
  pending_transfer_has_different_credit_account_id = 41,
  pending_transfer_has_different_ledger = 42,
  pending_transfer_has_different_code = 43,
  exceeds_pending_transfer_amount = 44,
  pending_transfer_has_different_amount = 45,
  pending_transfer_already_posted = 46,
  pending_transfer_already_voided = 47,
  pending_transfer_expired = 48,
  overflows_debits_pending = 49,
  overflows_credits_pending = 50,
  overflows_debits_posted = 51,
  overflows_credits_posted = 52,
  overflows_debits = 53,
  overflows_credits = 54,
  overflows_timeout = 55,
  exceeds_credits = 56,
  exceeds_debits = 57,
  debit_account_frozen = 58,
  credit_account_frozen = 59,
  exceeds_transfer_amount_max = 60,
  exceeds_daily_debit_max = 61,
};
inline constexpr std::uint32_t create_transfer_result_count = 62;

enum class set_controls_result : std::uint32_t {
  ok = 0,
  account_not_found = 1,
  reserved_field = 2,
  reserved_flag = 3,
};
inline constexpr std::uint32_t set_controls_result_count = 4;

// The first code of the checks against state: failures at or past it are remembered by id
// (`id_already_failed`), failures before it are not.
inline constexpr create_transfer_result first_state_check =
    create_transfer_result::debit_account_not_found;

std::string_view name(create_account_result r);
std::string_view name(create_transfer_result r);
std::string_view name(set_controls_result r);

// A 128-bit number in decimal, as the CLI, the tools and the tests print amounts and ids.
std::string to_decimal(u128 v);

inline bool is_state_failure(create_transfer_result r) {
  return static_cast<std::uint32_t>(r) >= static_cast<std::uint32_t>(first_state_check);
}

}  // namespace remit
