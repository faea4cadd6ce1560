#include "tools/cli_format.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <set>

#include <nlohmann/json.hpp>

namespace remit::cli {

namespace {

using json = nlohmann::json;

int digit_value(char c, unsigned base) {
  int v = -1;
  if (c >= '0' && c <= '9') v = c - '0';
  if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
  if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
  return v >= 0 && static_cast<unsigned>(v) < base ? v : -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// "debits-must-not-exceed-credits" -> "debits_must_not_exceed_credits".
std::string normalized(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

struct flag_name {
  std::string_view name;
  std::uint16_t bit;
};

constexpr std::array<flag_name, 3> account_flag_table = {{
    {"linked", account_flags::linked},
    {"debits_must_not_exceed_credits", account_flags::debits_must_not_exceed_credits},
    {"credits_must_not_exceed_debits", account_flags::credits_must_not_exceed_debits},
}};
constexpr std::array<flag_name, 6> transfer_flag_table = {{
    {"linked", transfer_flags::linked},
    {"pending", transfer_flags::pending},
    {"post_pending_transfer", transfer_flags::post_pending_transfer},
    {"void_pending_transfer", transfer_flags::void_pending_transfer},
    {"balancing_debit", transfer_flags::balancing_debit},
    {"balancing_credit", transfer_flags::balancing_credit},
}};

template <std::size_t n>
std::optional<std::uint16_t> flag_bit(const std::array<flag_name, n>& table,
                                      std::string_view name) {
  const std::string s = normalized(name);
  for (const flag_name& f : table) {
    if (f.name == s) return f.bit;
  }
  return std::nullopt;
}

template <std::size_t n>
std::optional<std::uint16_t> parse_flags(const std::array<flag_name, n>& table,
                                         std::string_view list, std::string& error) {
  std::uint16_t flags = 0;
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view item = trim(list.substr(0, comma));
    if (!item.empty()) {
      const std::optional<std::uint16_t> bit = flag_bit(table, item);
      if (!bit) {
        error = "unknown flag '" + std::string(item) + "' (known: ";
        for (std::size_t i = 0; i < table.size(); ++i) {
          error += (i == 0 ? "" : ", ") + std::string(table[i].name);
        }
        error += ")";
        return std::nullopt;
      }
      flags |= *bit;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return flags;
}

template <std::size_t n>
std::vector<std::string> flag_names(const std::array<flag_name, n>& table, std::uint16_t flags) {
  std::vector<std::string> names;
  for (unsigned bit = 0; bit < 16; ++bit) {
    const auto mask = static_cast<std::uint16_t>(1u << bit);
    if ((flags & mask) == 0) continue;
    std::string name = "bit_" + std::to_string(bit);
    for (const flag_name& f : table) {
      if (f.bit == mask) name = std::string(f.name);
    }
    names.push_back(std::move(name));
  }
  return names;
}

// ---------------------------------------------------------------------------------------
// The transfer file.

// One field of a transfer: where it goes and how wide it is.
enum class field_kind : std::uint8_t { u128_field, u64_field, u32_field, u16_field };
struct field_spec {
  std::string_view key;
  field_kind kind;
  std::size_t offset;
};

constexpr std::array<field_spec, 13> field_table = {{
    {"id", field_kind::u128_field, offsetof(transfer, id)},
    {"debit", field_kind::u128_field, offsetof(transfer, debit_account_id)},
    {"debit_account_id", field_kind::u128_field, offsetof(transfer, debit_account_id)},
    {"credit", field_kind::u128_field, offsetof(transfer, credit_account_id)},
    {"credit_account_id", field_kind::u128_field, offsetof(transfer, credit_account_id)},
    {"amount", field_kind::u128_field, offsetof(transfer, amount)},
    {"pending_id", field_kind::u128_field, offsetof(transfer, pending_id)},
    {"user_data_128", field_kind::u128_field, offsetof(transfer, user_data_128)},
    {"user_data_64", field_kind::u64_field, offsetof(transfer, user_data_64)},
    {"user_data_32", field_kind::u32_field, offsetof(transfer, user_data_32)},
    {"timeout", field_kind::u32_field, offsetof(transfer, timeout)},
    {"ledger", field_kind::u32_field, offsetof(transfer, ledger)},
    {"code", field_kind::u16_field, offsetof(transfer, code)},
}};

std::uint64_t kind_max(field_kind k) {
  switch (k) {
    case field_kind::u128_field:
      break;
    case field_kind::u64_field:
      return UINT64_MAX;
    case field_kind::u32_field:
      return UINT32_MAX;
    case field_kind::u16_field:
      return UINT16_MAX;
  }
  return UINT64_MAX;
}

// Builds one transfer from its fields, whatever the form they were written in. Each key may
// be given once (`debit` and `debit_account_id` are the same key).
class transfer_builder {
 public:
  transfer_builder() { std::memset(&t_, 0, sizeof t_); }

  // A numeric field (or post/void), its value as text.
  bool set_number(std::string_view key_in, std::string_view value, std::string& error) {
    const std::string key = normalized(key_in);
    if (key == "post" || key == "void") {
      if (!set_number("pending_id", value, error)) return false;
      if (!claim(key, error)) return false;
      t_.flags |= key == "post" ? transfer_flags::post_pending_transfer
                                : transfer_flags::void_pending_transfer;
      return true;
    }
    const field_spec* spec = nullptr;
    for (const field_spec& f : field_table) {
      if (f.key == key) spec = &f;
    }
    if (spec == nullptr) {
      error = "unknown field '" + std::string(key_in) + "'";
      return false;
    }
    if (!claim(canonical(spec->key), error)) return false;
    auto* p = reinterpret_cast<unsigned char*>(&t_) + spec->offset;
    if (spec->kind == field_kind::u128_field) {
      const std::optional<u128> v = parse_u128(value);
      if (!v) {
        error = key + ": " + u128_error(value);
        return false;
      }
      std::memcpy(p, &*v, sizeof(u128));
      return true;
    }
    const std::uint64_t max = kind_max(spec->kind);
    const std::optional<std::uint64_t> v = parse_uint(value, max);
    if (!v) {
      error = key + ": " + number_error(value, max);
      return false;
    }
    switch (spec->kind) {
      case field_kind::u64_field:
        std::memcpy(p, &*v, sizeof(std::uint64_t));
        break;
      case field_kind::u32_field: {
        const auto x = static_cast<std::uint32_t>(*v);
        std::memcpy(p, &x, sizeof x);
        break;
      }
      case field_kind::u16_field: {
        const auto x = static_cast<std::uint16_t>(*v);
        std::memcpy(p, &x, sizeof x);
        break;
      }
      case field_kind::u128_field:
        assert(false);
        break;
    }
    return true;
  }

  bool set_flag_list(std::string_view list, std::string& error) {
    if (!claim("flags", error)) return false;
    std::string why;
    const std::optional<std::uint16_t> f = parse_transfer_flags(list, why);
    if (!f) {
      error = "flags: " + why;
      return false;
    }
    t_.flags |= *f;
    return true;
  }

  // Whether `word` is a flag name; sets it when `on`.
  bool set_flag_word(std::string_view word, bool on, std::string& error) {
    const std::optional<std::uint16_t> bit = flag_bit(transfer_flag_table, word);
    if (!bit) {
      error = "unknown field '" + std::string(word) + "'";
      return false;
    }
    if (!claim(normalized(word), error)) return false;
    if (on) t_.flags |= *bit;
    return true;
  }

  bool finish(transfer& out, std::string& error) const {
    if (seen_.count("id") == 0) {
      error = "id is missing (every transfer needs its own id)";
      return false;
    }
    out = t_;
    return true;
  }

 private:
  static std::string canonical(std::string_view key) {
    if (key == "debit") return "debit_account_id";
    if (key == "credit") return "credit_account_id";
    return std::string(key);
  }
  bool claim(const std::string& key, std::string& error) {
    if (!seen_.insert(key).second) {
      error = key + " is given twice";
      return false;
    }
    return true;
  }

  transfer t_;
  std::set<std::string> seen_;
};

// One transfer from a JSON object.
[[nodiscard]] bool transfer_from_json(const json& j, transfer& out, std::string& error) {
  if (!j.is_object()) {
    error = "a transfer must be a JSON object";
    return false;
  }
  transfer_builder b;
  for (const auto& [key, value] : j.items()) {
    const std::string k = normalized(key);
    if (k == "flags") {
      if (value.is_string()) {
        if (!b.set_flag_list(value.get<std::string>(), error)) return false;
      } else if (value.is_array()) {
        std::string list;
        for (const json& e : value) {
          if (!e.is_string()) {
            error = "flags: an array of flag names is expected";
            return false;
          }
          list += e.get<std::string>() + ",";
        }
        if (!b.set_flag_list(list, error)) return false;
      } else {
        error = "flags: a string or an array of flag names is expected";
        return false;
      }
    } else if (flag_bit(transfer_flag_table, k)) {
      if (!value.is_boolean()) {
        error = key + ": true or false is expected";
        return false;
      }
      if (!b.set_flag_word(k, value.get<bool>(), error)) return false;
    } else if (value.is_string()) {
      if (!b.set_number(key, value.get<std::string>(), error)) return false;
    } else if (value.is_number_unsigned()) {
      if (!b.set_number(key, std::to_string(value.get<std::uint64_t>()), error)) return false;
    } else if (value.is_number()) {
      error = key + ": " + value.dump() +
              " is not a whole number from 0 to 2^64-1 (write larger numbers as strings)";
      return false;
    } else {
      error = key + ": a number or a string is expected";
      return false;
    }
  }
  return b.finish(out, error);
}

// One transfer from a key=value line.
[[nodiscard]] bool transfer_from_line(std::string_view line, transfer& out, std::string& error) {
  transfer_builder b;
  while (true) {
    line = trim(line);
    if (line.empty()) break;
    const std::size_t end = line.find_first_of(" \t");
    const std::string_view word = line.substr(0, end);
    line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
    const std::size_t eq = word.find('=');
    if (eq == std::string_view::npos) {
      if (!b.set_flag_word(word, true, error)) return false;
      continue;
    }
    const std::string_view key = word.substr(0, eq);
    const std::string_view value = word.substr(eq + 1);
    if (normalized(key) == "flags") {
      if (!b.set_flag_list(value, error)) return false;
    } else if (!b.set_number(key, value, error)) {
      return false;
    }
  }
  return b.finish(out, error);
}

std::string too_many(std::size_t events_max) {
  return "more than " + std::to_string(events_max) +
         " transfers (one request holds at most that many; split the file)";
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Numbers

std::optional<u128> parse_u128(std::string_view text) {
  unsigned base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty()) return std::nullopt;
  u128 v = 0;
  for (const char c : text) {
    const int d = digit_value(c, base);
    if (d < 0) return std::nullopt;
    if (v > (u128_max - static_cast<unsigned>(d)) / base) return std::nullopt;
    v = v * base + static_cast<unsigned>(d);
  }
  return v;
}

std::optional<std::uint64_t> parse_uint(std::string_view text, std::uint64_t max) {
  const std::optional<u128> v = parse_u128(text);
  if (!v || *v > max) return std::nullopt;
  return static_cast<std::uint64_t>(*v);
}

std::string format_u128(u128 v) {
  return to_decimal(v);
}

std::string number_error(std::string_view text, std::uint64_t max) {
  return "'" + std::string(text) + "' is not a number from 0 to " + std::to_string(max) +
         " (decimal or 0x-hex)";
}

std::string u128_error(std::string_view text) {
  return "'" + std::string(text) + "' is not a number from 0 to 2^128-1 (decimal or 0x-hex)";
}

std::optional<std::vector<std::uint8_t>> parse_hex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> bytes;
  bytes.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit_value(text[i], 16);
    const int lo = digit_value(text[i + 1], 16);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Flags

std::optional<std::uint16_t> parse_account_flags(std::string_view list, std::string& error) {
  return parse_flags(account_flag_table, list, error);
}

std::optional<std::uint16_t> parse_transfer_flags(std::string_view list, std::string& error) {
  return parse_flags(transfer_flag_table, list, error);
}

std::vector<std::string> account_flag_names(std::uint16_t flags) {
  return flag_names(account_flag_table, flags);
}

std::vector<std::string> transfer_flag_names(std::uint16_t flags) {
  return flag_names(transfer_flag_table, flags);
}

std::vector<std::string> permission_names(std::uint32_t bits) {
  static constexpr std::array<flag_name, 4> table = {{
      {"read", static_cast<std::uint16_t>(codec::permission::read)},
      {"transfer", static_cast<std::uint16_t>(codec::permission::transfer)},
      {"admin", static_cast<std::uint16_t>(codec::permission::admin)},
      {"replicate", static_cast<std::uint16_t>(codec::permission::replicate)},
  }};
  std::vector<std::string> names = flag_names(table, static_cast<std::uint16_t>(bits));
  if (bits > UINT16_MAX) names.push_back("bit_16_or_more");
  return names;
}

std::string join_flags(const std::vector<std::string>& names) {
  if (names.empty()) return "-";
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : ",") + n;
  return s;
}

// ---------------------------------------------------------------------------------------
// The transfer file

transfer_file_result parse_transfer_file(std::string_view text, std::size_t events_max) {
  transfer_file_result r;
  const std::string_view body = trim(text);
  const std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '[') {
    json array;
    try {
      array = json::parse(body);
    } catch (const json::exception& e) {
      r.error = std::string("not valid JSON: ") + e.what();
      return r;
    }
    if (!array.is_array()) {
      r.error = "a JSON array of transfers is expected";
      return r;
    }
    if (array.size() > events_max) {
      r.error = too_many(events_max);
      return r;
    }
    for (std::size_t i = 0; i < array.size(); ++i) {
      transfer t;
      std::string why;
      if (!transfer_from_json(array[i], t, why)) {
        r.transfers.clear();
        r.error = "transfer " + std::to_string(i) + ": " + why;
        return r;
      }
      r.transfers.push_back(t);
    }
  } else {
    std::size_t line_number = 0;
    while (!text.empty()) {
      ++line_number;
      const std::size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
      line = trim(line);
      if (line.empty() || line.front() == '#') continue;
      if (r.transfers.size() == events_max) {
        r.transfers.clear();
        r.error = "line " + std::to_string(line_number) + ": " + too_many(events_max);
        return r;
      }
      transfer t;
      std::string why;
      bool ok = false;
      if (line.front() == '{') {
        try {
          ok = transfer_from_json(json::parse(line), t, why);
        } catch (const json::exception& e) {
          why = std::string("not valid JSON: ") + e.what();
        }
      } else {
        ok = transfer_from_line(line, t, why);
      }
      if (!ok) {
        r.transfers.clear();
        r.error = "line " + std::to_string(line_number) + ": " + why;
        return r;
      }
      r.transfers.push_back(t);
    }
  }
  if (r.transfers.empty()) r.error = "the file holds no transfer";
  return r;
}

// ---------------------------------------------------------------------------------------
// Hints

std::string_view hint(create_account_result r) {
  using enum create_account_result;
  switch (r) {
    case ok:
      return "";
    case linked_event_failed:
      return "another account of its linked chain failed, so none was created: fix that one "
             "and send the whole chain again";
    case linked_event_chain_open:
      return "the last account of a batch must not have the linked flag: close the chain";
    case exists:
      return "an identical account with this id exists already: nothing to do";
    case exists_with_different_flags:
    case exists_with_different_user_data_128:
    case exists_with_different_user_data_64:
    case exists_with_different_user_data_32:
    case exists_with_different_ledger:
    case exists_with_different_code:
      return "the id is taken by a different account: use a new id (lookup-account shows it)";
    case id_must_not_be_zero:
    case id_must_not_be_int_max:
      return "ids must be from 1 to 2^128-2";
    case flags_are_mutually_exclusive:
      return "debits_must_not_exceed_credits and credits_must_not_exceed_debits exclude each "
             "other: choose one";
    case reserved_field:
    case reserved_flag:
      return "a reserved field or flag bit is set: leave it zero";
    case balances_must_be_zero:
      return "a new account starts with zero balances: move money with transfers";
    case timestamp_must_be_zero:
      return "the server sets the timestamp: leave it zero";
    case ledger_must_not_be_zero:
      return "give --ledger, a number from 1";
    case code_must_not_be_zero:
      return "give --code, a number from 1";
  }
  return "see docs/PROTOCOL.md section 6";
}

std::string_view hint(create_transfer_result r) {
  using enum create_transfer_result;
  switch (r) {
    case ok:
      return "";
    case linked_event_failed:
      return "another transfer of its linked chain failed, so none took effect: fix that one "
             "and send the whole chain again";
    case linked_event_chain_open:
      return "the last transfer of a batch must not have linked: close the chain";
    case exists:
      return "an identical transfer with this id exists already: nothing to do";
    case exists_with_different_flags:
    case exists_with_different_pending_id:
    case exists_with_different_timeout:
    case exists_with_different_debit_account_id:
    case exists_with_different_credit_account_id:
    case exists_with_different_amount:
    case exists_with_different_user_data_128:
    case exists_with_different_user_data_64:
    case exists_with_different_user_data_32:
    case exists_with_different_ledger:
    case exists_with_different_code:
      return "the id is taken by a different transfer: use a new id (lookup-transfer shows it)";
    case id_already_failed:
      return "this id failed before and stays failed: use a new id";
    case id_must_not_be_zero:
    case id_must_not_be_int_max:
      return "ids must be from 1 to 2^128-2";
    case flags_are_mutually_exclusive:
      return "pending, post and void exclude each other, and balancing does not go with post "
             "or void: drop one";
    case reserved_flag:
    case timestamp_must_be_zero:
      return "a reserved flag bit or the timestamp is set: leave it zero";
    case debit_account_id_must_not_be_zero:
    case debit_account_id_must_not_be_int_max:
      return "give the debit account id (--debit), from 1 to 2^128-2";
    case credit_account_id_must_not_be_zero:
    case credit_account_id_must_not_be_int_max:
      return "give the credit account id (--credit), from 1 to 2^128-2";
    case accounts_must_be_different:
      return "the debit and credit accounts must be two different accounts";
    case pending_id_must_be_zero:
      return "only a post or void names a pending transfer: drop pending_id";
    case pending_id_must_not_be_zero:
    case pending_id_must_not_be_int_max:
      return "a post or void must name the pending transfer's id (--post ID or --void ID)";
    case pending_id_must_be_different:
      return "a post or void needs its own id, not the pending transfer's: use a new id";
    case timeout_reserved_for_pending_transfer:
      return "only pending transfers have a timeout: add --pending or drop --timeout";
    case amount_must_not_be_zero:
      return "give an --amount greater than 0";
    case ledger_must_not_be_zero:
      return "give --ledger, the ledger of both accounts";
    case code_must_not_be_zero:
      return "give --code, a number from 1";
    case debit_account_not_found:
      return "the debit account does not exist: create the account first";
    case credit_account_not_found:
      return "the credit account does not exist: create the account first";
    case accounts_must_have_the_same_ledger:
      return "both accounts must be on the same ledger";
    case transfer_must_have_the_same_ledger_as_accounts:
      return "--ledger must be the ledger of the two accounts";
    case pending_transfer_not_found:
      return "no transfer has that pending id: check the id (lookup-transfer)";
    case pending_transfer_not_pending:
      return "that transfer was not created with --pending: only pending transfers are posted "
             "or voided";
    case pending_transfer_has_different_debit_account_id:
    case pending_transfer_has_different_credit_account_id:
    case pending_transfer_has_different_ledger:
    case pending_transfer_has_different_code:
      return "accounts, ledger and code of a post or void must be 0 or the pending "
             "transfer's: leave them out";
    case exceeds_pending_transfer_amount:
      return "a post cannot post more than the pending amount: lower --amount (0 posts all)";
    case pending_transfer_has_different_amount:
      return "a void carries 0 or the pending amount: leave --amount out";
    case pending_transfer_already_posted:
      return "the pending transfer was posted already: nothing left to post or void";
    case pending_transfer_already_voided:
      return "the pending transfer was voided already: nothing left to post or void";
    case pending_transfer_expired:
      return "the pending transfer timed out and its amount was released: create a new one";
    case overflows_debits_pending:
    case overflows_credits_pending:
    case overflows_debits_posted:
    case overflows_credits_posted:
    case overflows_debits:
    case overflows_credits:
      return "the amount would overflow an account balance (2^128-1): lower the amount";
    case overflows_timeout:
      return "the timeout runs past the end of time: lower --timeout";
    case exceeds_credits:
      return "the debit account lacks funds (debits_must_not_exceed_credits): credit it first "
             "or lower the amount";
    case exceeds_debits:
      return "the credit account would exceed its debits (credits_must_not_exceed_debits): "
             "lower the amount";
    case debit_account_frozen:
      return "the debit account is frozen: unfreeze it (controls --unfreeze) first";
    case credit_account_frozen:
      return "the credit account is frozen: unfreeze it (controls --unfreeze) first";
    case exceeds_transfer_amount_max:
      return "the amount is above the debit account's transfer_amount_max: lower it or raise "
             "the cap (controls)";
    case exceeds_daily_debit_max:
      return "today's debits of the debit account would pass its daily_debit_max: wait for "
             "00:00 UTC or raise the cap (controls)";
  }
  return "see docs/PROTOCOL.md section 7";
}

std::string_view hint(set_controls_result r) {
  using enum set_controls_result;
  switch (r) {
    case ok:
      return "";
    case account_not_found:
      return "no account has this id: create the account first";
    case reserved_field:
    case reserved_flag:
      return "a reserved field or status flag bit is set: leave it zero";
  }
  return "see docs/PROTOCOL.md section 7";
}

std::string_view hint(codec::status s) {
  using enum codec::status;
  switch (s) {
    case ok:
      return "";
    case permission_denied:
      return "the key lacks the permission for this command (read 1, transfer 2, admin 4): use "
             "a key that has it (--key-id)";
    case auth_failed:
      return "the server refused the key: check --key-id and the secret (--key-file or "
             "--secret), and --mac if the server requires a MAC";
    case not_authenticated:
      return "the session was not authenticated: check the key and try again";
    case overloaded:
      return "the server is busy: try again in a moment";
    case shutting_down:
      return "the server is shutting down: try again when it is back";
    case storage_failed:
      return "the server could not write its journal and stopped taking writes: fix the "
             "server's storage, restart it, then send the same command again (it is safe to "
             "resend by id)";
    case bad_event_count:
      return "the request has a size the server refuses (too many events, or a bad --limit): "
             "send fewer";
    case body_too_large:
      return "the request is too large: send fewer events at once";
    case reserved_field:
      return "a reserved field was set: this is a bug of the client";
    case not_primary:
      return "this server is not the primary of its cluster and did not execute the request: "
             "send the same command to the primary (--server), whose address the error names "
             "when the server knows it";
    case unavailable:
      return "the server could not make the write durable on its cluster: the outcome is "
             "unknown; send the same command again later (it is safe to resend by id)";
    case bad_magic:
    case unsupported_version:
    case header_checksum:
    case body_checksum:
    case unknown_opcode:
    case bad_sequence:
    case bad_mac:
      return "the server could not read the request (a version mismatch or a damaged "
             "connection): check the server's version and try again";
  }
  return "see docs/PROTOCOL.md section 5";
}

// ---------------------------------------------------------------------------------------
// Outcomes and JSON

std::string failure_line(std::size_t index, const outcome& o) {
  std::string s = "event " + std::to_string(index) + " (id " + format_u128(o.id) +
                  "): " + std::string(o.result);
  if (!o.hint.empty()) s += ": " + std::string(o.hint);
  return s;
}

nlohmann::ordered_json account_json(const account& a) {
  nlohmann::ordered_json j;
  j["id"] = format_u128(a.id);
  j["ledger"] = a.ledger;
  j["code"] = a.code;
  j["flags"] = account_flag_names(a.flags);
  j["debits_pending"] = format_u128(a.debits_pending);
  j["debits_posted"] = format_u128(a.debits_posted);
  j["credits_pending"] = format_u128(a.credits_pending);
  j["credits_posted"] = format_u128(a.credits_posted);
  j["user_data_128"] = format_u128(a.user_data_128);
  j["user_data_64"] = std::to_string(a.user_data_64);
  j["user_data_32"] = a.user_data_32;
  j["timestamp"] = std::to_string(a.timestamp);
  return j;
}

nlohmann::ordered_json transfer_json(const transfer& t) {
  nlohmann::ordered_json j;
  j["id"] = format_u128(t.id);
  j["debit_account_id"] = format_u128(t.debit_account_id);
  j["credit_account_id"] = format_u128(t.credit_account_id);
  j["amount"] = format_u128(t.amount);
  j["pending_id"] = format_u128(t.pending_id);
  j["ledger"] = t.ledger;
  j["code"] = t.code;
  j["flags"] = transfer_flag_names(t.flags);
  j["timeout"] = t.timeout;
  j["user_data_128"] = format_u128(t.user_data_128);
  j["user_data_64"] = std::to_string(t.user_data_64);
  j["user_data_32"] = t.user_data_32;
  j["timestamp"] = std::to_string(t.timestamp);
  return j;
}

nlohmann::ordered_json outcomes_json(const std::vector<outcome>& outcomes) {
  nlohmann::ordered_json array = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const outcome& o = outcomes[i];
    nlohmann::ordered_json j;
    j["index"] = i;
    j["id"] = format_u128(o.id);
    j["result"] = std::string(o.result);
    j["timestamp"] = std::to_string(o.timestamp);
    if (!o.ok()) j["hint"] = std::string(o.hint);
    array.push_back(std::move(j));
  }
  return array;
}

// ---------------------------------------------------------------------------------------
// Tables

std::string render_table(const std::vector<column>& columns,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(columns.size(), 0);
  for (std::size_t c = 0; c < columns.size(); ++c) width[c] = columns[c].title.size();
  for (const auto& row : rows) {
    assert(row.size() <= columns.size());
    for (std::size_t c = 0; c < row.size() && c < columns.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  std::string out;
  const auto line = [&](const auto& cell) {
    std::string s;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      const std::string_view v = cell(c);
      const std::size_t pad = width[c] - v.size();
      if (c > 0) s += "  ";
      if (columns[c].right) s.append(pad, ' ');
      s += v;
      if (!columns[c].right) s.append(pad, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out += s;
    out += '\n';
  };
  line([&](std::size_t c) -> std::string_view { return columns[c].title; });
  for (const auto& row : rows) {
    line([&](std::size_t c) -> std::string_view {
      return c < row.size() ? std::string_view(row[c]) : std::string_view{};
    });
  }
  return out;
}

std::string render_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [name, value] : fields) width = std::max(width, name.size());
  std::string out;
  for (const auto& [name, value] : fields) {
    out += name;
    out += ':';
    out.append(width - name.size() + 2, ' ');
    out += value;
    out += '\n';
  }
  return out;
}

namespace {

// Appends the user data columns to a table when some row has user data.
template <class T>
void user_data_columns(std::span<const T> rows, std::vector<column>& cols,
                       std::vector<std::vector<std::string>>& cells) {
  bool any = false;
  for (const T& r : rows) any |= r.user_data_128 != 0 || r.user_data_64 != 0 || r.user_data_32 != 0;
  if (!any) return;
  cols.push_back({"USER_DATA_128", true});
  cols.push_back({"USER_DATA_64", true});
  cols.push_back({"USER_DATA_32", true});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    cells[i].push_back(format_u128(rows[i].user_data_128));
    cells[i].push_back(std::to_string(rows[i].user_data_64));
    cells[i].push_back(std::to_string(rows[i].user_data_32));
  }
}

}  // namespace

std::string accounts_table(std::span<const account> accounts) {
  std::vector<column> cols = {{"ID", true},
                              {"LEDGER", true},
                              {"CODE", true},
                              {"FLAGS", false},
                              {"DEBITS_PENDING", true},
                              {"DEBITS_POSTED", true},
                              {"CREDITS_PENDING", true},
                              {"CREDITS_POSTED", true},
                              {"TIMESTAMP", true}};
  std::vector<std::vector<std::string>> cells;
  for (const account& a : accounts) {
    cells.push_back({format_u128(a.id), std::to_string(a.ledger), std::to_string(a.code),
                     join_flags(account_flag_names(a.flags)), format_u128(a.debits_pending),
                     format_u128(a.debits_posted), format_u128(a.credits_pending),
                     format_u128(a.credits_posted), std::to_string(a.timestamp)});
  }
  user_data_columns(accounts, cols, cells);
  return render_table(cols, cells);
}

std::string transfers_table(std::span<const transfer> transfers, std::optional<u128> side_of) {
  std::vector<column> cols = {
      {"ID", true},     {"DEBIT", true}, {"CREDIT", true}, {"AMOUNT", true},  {"PENDING_ID", true},
      {"LEDGER", true}, {"CODE", true},  {"FLAGS", false}, {"TIMEOUT", true}, {"TIMESTAMP", true}};
  if (side_of) cols.insert(cols.begin() + 1, column{"SIDE", false});
  std::vector<std::vector<std::string>> cells;
  for (const transfer& t : transfers) {
    std::vector<std::string> row = {format_u128(t.id),
                                    format_u128(t.debit_account_id),
                                    format_u128(t.credit_account_id),
                                    format_u128(t.amount),
                                    t.pending_id == 0 ? "-" : format_u128(t.pending_id),
                                    std::to_string(t.ledger),
                                    std::to_string(t.code),
                                    join_flags(transfer_flag_names(t.flags)),
                                    std::to_string(t.timeout),
                                    std::to_string(t.timestamp)};
    if (side_of) {
      row.insert(row.begin() + 1, t.debit_account_id == *side_of ? "debit" : "credit");
    }
    cells.push_back(std::move(row));
  }
  user_data_columns(transfers, cols, cells);
  return render_table(cols, cells);
}

std::string outcomes_table(const std::vector<outcome>& outcomes) {
  const std::vector<column> cols = {
      {"INDEX", true}, {"ID", true}, {"RESULT", false}, {"TIMESTAMP", true}};
  std::vector<std::vector<std::string>> cells;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const outcome& o = outcomes[i];
    cells.push_back({std::to_string(i), format_u128(o.id), std::string(o.result),
                     o.timestamp != 0 ? std::to_string(o.timestamp) : "-"});
  }
  return render_table(cols, cells);
}

}  // namespace remit::cli
