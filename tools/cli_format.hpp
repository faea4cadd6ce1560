// The pure parts of the `remit` command-line client: number parsing and printing, flag lists,
// the transfer file, the hints printed next to a failed result, and aligned tables. (HOST:PORT
// parsing is the codec's: gateway/codec/address.hpp.) No I/O and no network: every function
// here is a function of its arguments, so it is unit tested (tests/cli) without a server.
//
// Numbers on the command line and in transfer files are unsigned: decimal (up to 2^128-1)
// or 0x-prefixed hexadecimal. No sign, no spaces, no separators; anything else is refused
// rather than guessed at, since a misread amount moves the wrong amount of money.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/types.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::cli {

// Exit statuses of `remit`.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;  // some event failed, or a server or connection error
inline constexpr int exit_usage = 2;   // bad usage or input; nothing was sent

// ---------------------------------------------------------------------------------------
// Numbers

// Decimal or 0x-hex, 0 to 2^128-1. Nothing for an empty string, a sign, a stray character
// or a value that does not fit.
[[nodiscard]] std::optional<u128> parse_u128(std::string_view text);

// parse_u128 bounded by `max` (for the u64, u32 and u16 fields).
[[nodiscard]] std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max);

// Decimal, without leading zeros.
std::string format_u128(u128 v);

// "'abc' is not a number from 0 to 4294967295 (decimal or 0x-hex)": the message for a value
// that parse_uint with `max` (or parse_u128) refused. The caller puts the flag's name first.
std::string number_error(std::string_view text, std::uint64_t max);
std::string u128_error(std::string_view text);

// An even number of hex digits (a secret on the command line).
[[nodiscard]] std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text);

// ---------------------------------------------------------------------------------------
// Flag lists: comma-separated names as docs/PROTOCOL.md spells them ("linked,pending"); `-` may
// stand for `_`; an empty list is 0. Unknown names set `error` to a message naming the name
// and the valid ones.

[[nodiscard]] std::optional<std::uint16_t> parse_account_flags(std::string_view list,
                                                               std::string& error);
[[nodiscard]] std::optional<std::uint16_t> parse_transfer_flags(std::string_view list,
                                                                std::string& error);

// The names of the bits set, in bit order; unknown bits as "bit_N".
std::vector<std::string> account_flag_names(std::uint16_t flags);
std::vector<std::string> transfer_flag_names(std::uint16_t flags);

// Permission bits of a key (read, transfer, admin), the same way.
std::vector<std::string> permission_names(std::uint32_t bits);

// Names joined with ",", or "-" when none is set (for tables).
std::string join_flags(const std::vector<std::string>& names);

// ---------------------------------------------------------------------------------------
// The transfer file of `remit transfer --file` (docs/CLI.md):
//
// - Line form: one transfer per line as key=value fields separated by spaces or tabs. Keys:
//   id, debit (or debit_account_id), credit (or credit_account_id), amount, pending_id,
//   ledger, code, timeout, user_data_128, user_data_64, user_data_32, flags (a flag list);
//   post=ID and void=ID (pending_id plus the post or void flag); a bare flag name (linked,
//   pending, balancing_debit, ...) sets that flag. Blank lines and `#` comments are skipped.
//   A line that starts with `{` is one JSON object with the same keys (JSON Lines).
// - Array form: a file whose first character that is not white space is `[` is one JSON
//   array of such objects.
// In JSON, numbers are JSON numbers up to 2^64-1 or strings (decimal or 0x-hex, any u128),
// flags a string list or an array of names, and a flag name may also be a key with value
// true or false.
//
// Every transfer needs an id; other fields default to 0 and are the server's to judge.
// Refuses more than `events_max` transfers and an empty file.
struct transfer_file_result {
  std::vector<transfer> transfers;
  std::string error;  // "line 3: amount: 'x' is not a number ..."; empty on success
  bool ok() const { return error.empty(); }
};
[[nodiscard]] transfer_file_result parse_transfer_file(std::string_view text,
                                                       std::size_t events_max);

// ---------------------------------------------------------------------------------------
// Hints: one short sentence of what to do about a result code or protocol status.

std::string_view hint(create_account_result r);
std::string_view hint(create_transfer_result r);
std::string_view hint(set_controls_result r);
std::string_view hint(codec::status s);

// ---------------------------------------------------------------------------------------
// The outcome of one event of a create or set-controls request: its id, the code's number,
// name and hint, and the timestamp the server gave.

struct outcome {
  u128 id = 0;
  std::uint32_t code = 0;
  std::string_view result;  // the code's name
  std::string_view hint;    // empty for ok
  std::uint64_t timestamp = 0;
  bool ok() const { return code == 0; }
};
template <class Code>
outcome make_outcome(u128 id, const result& r) {
  const auto code = static_cast<Code>(r.status);
  return outcome{id, r.status, name(code), hint(code), r.timestamp};
}

// "event 1 (id 101): exceeds_credits: the debit account lacks funds ..."
std::string failure_line(std::size_t index, const outcome& o);

// ---------------------------------------------------------------------------------------
// JSON for scripts: ids, amounts, user data and timestamps are decimal strings (a JSON
// number loses precision past 2^53 in most readers); ledger, code, timeout and counts are
// numbers; flags are arrays of names.

nlohmann::ordered_json account_json(const account& a);
nlohmann::ordered_json transfer_json(const transfer& t);
// [{"index", "id", "result", "timestamp", "hint" (failures only)}, ...]
nlohmann::ordered_json outcomes_json(const std::vector<outcome>& outcomes);

// ---------------------------------------------------------------------------------------
// Tables

struct column {
  std::string title;
  bool right = false;  // right-aligned (numbers)
};

// Columns padded to their widest cell and separated by two spaces, the titles first; no
// trailing spaces; every line ends with '\n'. Rows shorter than the columns are padded with
// empty cells.
std::string render_table(const std::vector<column>& columns,
                         const std::vector<std::vector<std::string>>& rows);

// "name:  value" lines with the values aligned.
std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields);

// The tables the commands print. User data columns appear only when some row has user data.
std::string accounts_table(std::span<const account> accounts);
// With `side_of`, a SIDE column says whether that account is the debit or the credit side.
std::string transfers_table(std::span<const transfer> transfers,
                            std::optional<u128> side_of = std::nullopt);
// INDEX, ID, RESULT, TIMESTAMP ("-" when the server gave none: a failure other than exists).
std::string outcomes_table(const std::vector<outcome>& outcomes);

}  // namespace remit::cli
