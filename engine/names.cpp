#include <array>
#include <iterator>

#include "engine/types.hpp"

namespace remit {

namespace {
constexpr std::string_view account_names[] = {
    "ok",
    "linked_event_failed",
    "linked_event_chain_open",
    "exists",
    "exists_with_different_flags",
    "exists_with_different_user_data_128",
    "exists_with_different_user_data_64",
    "exists_with_different_user_data_32",
    "exists_with_different_ledger",
    "exists_with_different_code",
    "id_must_not_be_zero",
    "id_must_not_be_int_max",
    "flags_are_mutually_exclusive",
    "reserved_field",
    "reserved_flag",
    "balances_must_be_zero",
    "timestamp_must_be_zero",
    "ledger_must_not_be_zero",
    "code_must_not_be_zero",
};
constexpr std::string_view transfer_names[] = {
    "ok",
    "linked_event_failed",
    "linked_event_chain_open",
    "exists",
    "exists_with_different_flags",
    "exists_with_different_pending_id",
    "exists_with_different_timeout",
    "exists_with_different_debit_account_id",
    "exists_with_different_credit_account_id",
    "exists_with_different_amount",
    "exists_with_different_user_data_128",
    "exists_with_different_user_data_64",
    "exists_with_different_user_data_32",
    "exists_with_different_ledger",
    "exists_with_different_code",
    "id_already_failed",
    "id_must_not_be_zero",
    "id_must_not_be_int_max",
    "flags_are_mutually_exclusive",
    "reserved_flag",
    "timestamp_must_be_zero",
    "debit_account_id_must_not_be_zero",
    "debit_account_id_must_not_be_int_max",
    "credit_account_id_must_not_be_zero",
    "credit_account_id_must_not_be_int_max",
    "accounts_must_be_different",
    "pending_id_must_be_zero",
    "pending_id_must_not_be_zero",
    "pending_id_must_not_be_int_max",
    "pending_id_must_be_different",
    "timeout_reserved_for_pending_transfer",
    "amount_must_not_be_zero",
    "ledger_must_not_be_zero",
    "code_must_not_be_zero",
    "debit_account_not_found",
    "credit_account_not_found",
    "accounts_must_have_the_same_ledger",
    "transfer_must_have_the_same_ledger_as_accounts",
    "pending_transfer_not_found",
    "pending_transfer_not_pending",
    "pending_transfer_has_different_debit_account_id",
    "pending_transfer_has_different_credit_account_id",
    "pending_transfer_has_different_ledger",
    "pending_transfer_has_different_code",
    "exceeds_pending_transfer_amount",
    "pending_transfer_has_different_amount",
    "pending_transfer_already_posted",
    "pending_transfer_already_voided",
    "pending_transfer_expired",
    "overflows_debits_pending",
    "overflows_credits_pending",
    "overflows_debits_posted",
    "overflows_credits_posted",
    "overflows_debits",
    "overflows_credits",
    "overflows_timeout",
    "exceeds_credits",
    "exceeds_debits",
    "debit_account_frozen",
    "credit_account_frozen",
    "exceeds_transfer_amount_max",
    "exceeds_daily_debit_max",
};
constexpr std::string_view controls_names[] = {
    "ok",
    "account_not_found",
    "reserved_field",
    "reserved_flag",
};
static_assert(std::size(account_names) == create_account_result_count);
static_assert(std::size(transfer_names) == create_transfer_result_count);
static_assert(std::size(controls_names) == set_controls_result_count);

template <std::size_t N>
std::string_view lookup(const std::string_view (&names)[N], std::uint32_t code) {
  return code < N ? names[code] : std::string_view{"unknown"};
}
}  // namespace

std::string_view name(create_account_result r) {
  return lookup(account_names, static_cast<std::uint32_t>(r));
}
std::string_view name(create_transfer_result r) {
  return lookup(transfer_names, static_cast<std::uint32_t>(r));
}
std::string_view name(set_controls_result r) {
  return lookup(controls_names, static_cast<std::uint32_t>(r));
}

std::string to_decimal(u128 v) {
  std::array<char, 40> buf{};  // 2^128-1 has 39 digits
  std::size_t i = buf.size();
  do {
    buf[--i] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  return std::string(buf.data() + i, buf.size() - i);
}

}  // namespace remit
