// tools/cli_format: the pure parts of the `remit` CLI. Tables of inputs and what each must
// give: numbers (decimal, hex, the u128 bounds, everything that must be refused), flag lists
// both ways, the transfer file in its three forms and its errors, a hint for every result
// code and status, and aligned tables.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/types.hpp"
#include "tools/cli_format.hpp"

namespace remit::cli {
namespace {

constexpr u128 two_pow_64 = make_u128(1, 0);

// ---------------------------------------------------------------------------------------
// Numbers

struct u128_row {
  std::string_view text;
  std::optional<u128> expected;
};

TEST(ParseU128, AcceptsDecimalAndHexAndRefusesTheRest) {
  const u128_row rows[] = {
      {"0", u128{0}},
      {"1", u128{1}},
      {"007", u128{7}},
      {"18446744073709551615", u128{UINT64_MAX}},
      {"18446744073709551616", two_pow_64},
      {"340282366920938463463374607431768211455", u128_max},
      {"340282366920938463463374607431768211456", std::nullopt},  // 2^128
      {"999999999999999999999999999999999999999999", std::nullopt},
      {"0x0", u128{0}},
      {"0xff", u128{255}},
      {"0XFF", u128{255}},
      {"0xDeadBeef", u128{0xdeadbeef}},
      {"0x10000000000000000", two_pow_64},
      {"0xffffffffffffffffffffffffffffffff", u128_max},
      {"0x000000000000000000000000000000000001", u128{1}},    // leading zeros past 32 digits
      {"0x100000000000000000000000000000000", std::nullopt},  // 2^128
      {"", std::nullopt},
      {"0x", std::nullopt},
      {"-1", std::nullopt},
      {"+1", std::nullopt},
      {" 1", std::nullopt},
      {"1 ", std::nullopt},
      {"1_000", std::nullopt},
      {"1e6", std::nullopt},
      {"12a", std::nullopt},
      {"0xfg", std::nullopt},
      {"1.5", std::nullopt},
      {"abc", std::nullopt},
  };
  for (const u128_row& row : rows) {
    const std::optional<u128> got = parse_u128(row.text);
    EXPECT_EQ(got.has_value(), row.expected.has_value()) << "'" << row.text << "'";
    if (got && row.expected) {
      EXPECT_TRUE(*got == *row.expected) << "'" << row.text << "'";
    }
  }
}

TEST(ParseUint, BoundsTheValue) {
  EXPECT_EQ(parse_uint("65535", UINT16_MAX), std::optional<std::uint64_t>{65535});
  EXPECT_EQ(parse_uint("65536", UINT16_MAX), std::nullopt);
  EXPECT_EQ(parse_uint("0xffffffff", UINT32_MAX), std::optional<std::uint64_t>{UINT32_MAX});
  EXPECT_EQ(parse_uint("4294967296", UINT32_MAX), std::nullopt);
  EXPECT_EQ(parse_uint("18446744073709551615", UINT64_MAX),
            std::optional<std::uint64_t>{UINT64_MAX});
  EXPECT_EQ(parse_uint("18446744073709551616", UINT64_MAX), std::nullopt);
  EXPECT_EQ(parse_uint("x", UINT64_MAX), std::nullopt);
}

TEST(FormatU128, PrintsDecimalAndRoundTrips) {
  EXPECT_EQ(format_u128(0), "0");
  EXPECT_EQ(format_u128(1), "1");
  EXPECT_EQ(format_u128(10), "10");
  EXPECT_EQ(format_u128(UINT64_MAX), "18446744073709551615");
  EXPECT_EQ(format_u128(two_pow_64), "18446744073709551616");
  EXPECT_EQ(format_u128(u128_max), "340282366920938463463374607431768211455");
  const u128 samples[] = {
      0, 9, 10, 99, 100, two_pow_64 - 1, two_pow_64 + 12345, u128_max / 3, u128_max - 1, u128_max};
  for (const u128 v : samples) {
    const std::optional<u128> back = parse_u128(format_u128(v));
    ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(*back == v) << format_u128(v);
  }
}

TEST(NumberErrors, NameTheTextAndTheRange) {
  EXPECT_EQ(number_error("x1", UINT32_MAX),
            "'x1' is not a number from 0 to 4294967295 (decimal or 0x-hex)");
  EXPECT_EQ(u128_error("-5"), "'-5' is not a number from 0 to 2^128-1 (decimal or 0x-hex)");
}

TEST(ParseHex, EvenDigitsOnly) {
  EXPECT_EQ(parse_hex(""), std::optional<std::vector<std::uint8_t>>{std::vector<std::uint8_t>{}});
  EXPECT_EQ(parse_hex("00ff10Ab"),
            (std::optional<std::vector<std::uint8_t>>{{0x00, 0xff, 0x10, 0xab}}));
  EXPECT_EQ(parse_hex("abc"), std::nullopt);
  EXPECT_EQ(parse_hex("0x00"), std::nullopt);
  EXPECT_EQ(parse_hex("zz"), std::nullopt);
}

// ---------------------------------------------------------------------------------------
// Flag lists

struct flags_row {
  std::string_view list;
  std::optional<std::uint16_t> expected;
};

TEST(FlagLists, TransferFlagsParse) {
  const flags_row rows[] = {
      {"", std::uint16_t{0}},
      {"linked", transfer_flags::linked},
      {"linked,pending", transfer_flags::linked | transfer_flags::pending},
      {" linked , pending ", transfer_flags::linked | transfer_flags::pending},
      {"balancing-debit", transfer_flags::balancing_debit},
      {"post_pending_transfer,void_pending_transfer",
       transfer_flags::post_pending_transfer | transfer_flags::void_pending_transfer},
      {"linked,,linked", transfer_flags::linked},
      {"balancing_credit", transfer_flags::balancing_credit},
      {"Linked", std::nullopt},
      {"debits_must_not_exceed_credits", std::nullopt},  // an account flag
      {"linked,bogus", std::nullopt},
  };
  for (const flags_row& row : rows) {
    std::string error;
    EXPECT_EQ(parse_transfer_flags(row.list, error), row.expected) << "'" << row.list << "'";
    EXPECT_EQ(error.empty(), row.expected.has_value()) << error;
  }
}

TEST(FlagLists, AccountFlagsParse) {
  const flags_row rows[] = {
      {"", std::uint16_t{0}},
      {"linked", account_flags::linked},
      {"debits_must_not_exceed_credits", account_flags::debits_must_not_exceed_credits},
      {"credits-must-not-exceed-debits,linked",
       account_flags::credits_must_not_exceed_debits | account_flags::linked},
      {"pending", std::nullopt},  // a transfer flag
  };
  for (const flags_row& row : rows) {
    std::string error;
    EXPECT_EQ(parse_account_flags(row.list, error), row.expected) << "'" << row.list << "'";
  }
  std::string error;
  EXPECT_FALSE(parse_account_flags("linked,frozen", error));
  EXPECT_NE(error.find("'frozen'"), std::string::npos) << error;
  EXPECT_NE(error.find("debits_must_not_exceed_credits"), std::string::npos) << error;
}

TEST(FlagLists, NamesComeBackInBitOrder) {
  EXPECT_EQ(join_flags(transfer_flag_names(0)), "-");
  EXPECT_EQ(join_flags(transfer_flag_names(transfer_flags::pending | transfer_flags::linked)),
            "linked,pending");
  EXPECT_EQ(join_flags(account_flag_names(account_flags::debits_must_not_exceed_credits)),
            "debits_must_not_exceed_credits");
  EXPECT_EQ(join_flags(transfer_flag_names(1u << 9)), "bit_9");
  EXPECT_EQ(join_flags(account_flag_names(account_flags::linked | (1u << 15))), "linked,bit_15");
  EXPECT_EQ(join_flags(permission_names(7)), "read,transfer,admin");
  EXPECT_EQ(join_flags(permission_names(8)), "replicate");
  EXPECT_EQ(join_flags(permission_names(15)), "read,transfer,admin,replicate");
  EXPECT_EQ(join_flags(permission_names(4)), "admin");
  EXPECT_EQ(join_flags(permission_names(0)), "-");
  // Every known flag round-trips through its name.
  for (unsigned bit = 0; bit < 6; ++bit) {
    const auto f = static_cast<std::uint16_t>(1u << bit);
    std::string error;
    EXPECT_EQ(parse_transfer_flags(join_flags(transfer_flag_names(f)), error),
              std::optional<std::uint16_t>{f});
  }
}

// ---------------------------------------------------------------------------------------
// The transfer file

TEST(TransferFile, KeyValueLines) {
  const std::string_view text =
      "# a chain: pending hold, then a plain transfer\n"
      "id=1 debit=10 credit=20 amount=100 ledger=1 code=7 pending timeout=60 linked\n"
      "\n"
      "  id=0x2 debit_account_id=10 credit_account_id=20 amount=5 ledger=1 code=7 "
      "flags=balancing_debit user_data_128=340282366920938463463374607431768211455 "
      "user_data_64=18446744073709551615 user_data_32=4294967295\r\n"
      "id=3 post=1 amount=40\n"
      "id=4\tvoid=1\n";
  const transfer_file_result r = parse_transfer_file(text, 8190);
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.transfers.size(), 4u);
  const transfer& a = r.transfers[0];
  EXPECT_TRUE(a.id == 1 && a.debit_account_id == 10 && a.credit_account_id == 20);
  EXPECT_TRUE(a.amount == 100);
  EXPECT_EQ(a.ledger, 1u);
  EXPECT_EQ(a.code, 7u);
  EXPECT_EQ(a.timeout, 60u);
  EXPECT_EQ(a.flags, transfer_flags::pending | transfer_flags::linked);
  EXPECT_EQ(a.timestamp, 0u);
  const transfer& b = r.transfers[1];
  EXPECT_TRUE(b.id == 2 && b.debit_account_id == 10 && b.credit_account_id == 20);
  EXPECT_EQ(b.flags, transfer_flags::balancing_debit);
  EXPECT_TRUE(b.user_data_128 == u128_max);
  EXPECT_EQ(b.user_data_64, UINT64_MAX);
  EXPECT_EQ(b.user_data_32, UINT32_MAX);
  const transfer& c = r.transfers[2];
  EXPECT_TRUE(c.pending_id == 1 && c.amount == 40 && c.debit_account_id == 0);
  EXPECT_EQ(c.flags, transfer_flags::post_pending_transfer);
  EXPECT_EQ(r.transfers[3].flags, transfer_flags::void_pending_transfer);
  EXPECT_TRUE(r.transfers[3].pending_id == 1);
}

TEST(TransferFile, JsonLinesAndArray) {
  const std::string_view lines =
      R"({"id": 1, "debit": "10", "credit": 20, "amount": "0x64", "ledger": 1, "code": 2, "linked": true})"
      "\n"
      R"({"id": "340282366920938463463374607431768211454", "post": 1, "flags": ["linked"]})"
      "\n"
      "id=5 void=1\n";
  const transfer_file_result l = parse_transfer_file(lines, 8190);
  ASSERT_TRUE(l.ok()) << l.error;
  ASSERT_EQ(l.transfers.size(), 3u);
  EXPECT_TRUE(l.transfers[0].amount == 100 && l.transfers[0].credit_account_id == 20);
  EXPECT_EQ(l.transfers[0].flags, transfer_flags::linked);
  EXPECT_TRUE(l.transfers[1].id == u128_max - 1);
  EXPECT_EQ(l.transfers[1].flags, transfer_flags::post_pending_transfer | transfer_flags::linked);

  const std::string_view array =
      "\n  [ {\"id\": 1, \"debit\": 1, \"credit\": 2, \"amount\": 3, \"ledger\": 1, "
      "\"code\": 1, \"flags\": \"pending,linked\", \"timeout\": 5},\n"
      "    {\"id\": 2, \"debit\": 1, \"credit\": 2, \"amount\": 3, \"ledger\": 1, \"code\": 1, "
      "\"pending\": false} ]\n";
  const transfer_file_result a = parse_transfer_file(array, 8190);
  ASSERT_TRUE(a.ok()) << a.error;
  ASSERT_EQ(a.transfers.size(), 2u);
  EXPECT_EQ(a.transfers[0].flags, transfer_flags::pending | transfer_flags::linked);
  EXPECT_EQ(a.transfers[0].timeout, 5u);
  EXPECT_EQ(a.transfers[1].flags, 0u);
}

struct file_error_row {
  std::string_view text;
  std::string_view error_contains;
};

TEST(TransferFile, ErrorsNameTheLineAndTheField) {
  const file_error_row rows[] = {
      {"", "no transfer"},
      {"# only a comment\n\n", "no transfer"},
      {"[]", "no transfer"},
      {"id=1 amount=12x\n", "line 1: amount: '12x' is not a number"},
      {"id=1\nid=2 ledger=4294967296\n", "line 2: ledger: '4294967296'"},
      {"id=1 code=65536", "code: '65536' is not a number from 0 to 65535"},
      {"id=1 timeout=-1", "timeout: '-1'"},
      {"id=1 user_data_64=18446744073709551616", "user_data_64"},
      {"amount=5 ledger=1", "line 1: id is missing"},
      {"id=1 id=2", "id is given twice"},
      {"id=1 debit=2 debit_account_id=3", "debit_account_id is given twice"},
      {"id=1 colour=red", "unknown field 'colour'"},
      {"id=1 pendin", "unknown field 'pendin'"},
      {"id=1 flags=linked,frozen", "flags: unknown flag 'frozen'"},
      {"id=1 amount=", "amount: ''"},
      {"{\"id\": 1, \"amount\": -5}", "amount: -5 is not a whole number"},
      {"{\"id\": 1, \"amount\": 1.5}", "amount: 1.5 is not a whole number"},
      {"{\"id\": 1, \"amount\": 1e40}", "write larger numbers as strings"},
      {"{\"id\": 1, \"linked\": 1}", "linked: true or false"},
      {"{\"id\": 1, \"flags\": 3}", "flags: a string or an array"},
      {"{\"id\": 1, \"amount\": null}", "amount: a number or a string"},
      {"{\"id\": 1,", "line 1: not valid JSON"},
      {"[{\"id\": 1}, {\"amount\": 1}]", "transfer 1: id is missing"},
      {"[{\"id\": 1}, 5]", "transfer 1: a transfer must be a JSON object"},
      {"[1, 2", "not valid JSON"},
  };
  for (const file_error_row& row : rows) {
    const transfer_file_result r = parse_transfer_file(row.text, 8190);
    EXPECT_FALSE(r.ok()) << "'" << row.text << "'";
    EXPECT_TRUE(r.transfers.empty()) << "'" << row.text << "'";
    EXPECT_NE(r.error.find(row.error_contains), std::string::npos)
        << "'" << row.text << "' gave: " << r.error;
  }
}

TEST(TransferFile, RefusesMoreThanEventsMax) {
  EXPECT_TRUE(parse_transfer_file("id=1\nid=2\nid=3\n", 3).ok());
  const transfer_file_result lines = parse_transfer_file("id=1\nid=2\nid=3\nid=4\n", 3);
  EXPECT_FALSE(lines.ok());
  EXPECT_NE(lines.error.find("line 4: more than 3 transfers"), std::string::npos) << lines.error;
  const transfer_file_result array = parse_transfer_file("[{\"id\":1},{\"id\":2}]", 1);
  EXPECT_FALSE(array.ok());
  EXPECT_NE(array.error.find("more than 1 transfers"), std::string::npos) << array.error;
}

// ---------------------------------------------------------------------------------------
// Hints: every failure code has one; ok has none.

TEST(Hints, EveryFailureCodeHasOne) {
  EXPECT_TRUE(hint(create_account_result::ok).empty());
  EXPECT_TRUE(hint(create_transfer_result::ok).empty());
  EXPECT_TRUE(hint(set_controls_result::ok).empty());
  EXPECT_TRUE(hint(codec::status::ok).empty());
  for (std::uint32_t c = 1; c < create_account_result_count; ++c) {
    EXPECT_FALSE(hint(static_cast<create_account_result>(c)).empty()) << c;
  }
  for (std::uint32_t c = 1; c < create_transfer_result_count; ++c) {
    EXPECT_FALSE(hint(static_cast<create_transfer_result>(c)).empty()) << c;
  }
  for (std::uint32_t c = 1; c < set_controls_result_count; ++c) {
    EXPECT_FALSE(hint(static_cast<set_controls_result>(c)).empty()) << c;
  }
  for (std::uint16_t s = 1; s <= 17; ++s) {
    EXPECT_FALSE(hint(static_cast<codec::status>(s)).empty()) << s;
  }
}

TEST(Hints, CommonCodesSayWhatToDo) {
  const auto has = [](std::string_view h, std::string_view part) {
    return h.find(part) != std::string_view::npos;
  };
  EXPECT_TRUE(has(hint(create_transfer_result::debit_account_not_found), "create the account"));
  EXPECT_TRUE(has(hint(create_transfer_result::credit_account_not_found), "create the account"));
  EXPECT_TRUE(has(hint(create_transfer_result::exceeds_credits), "lacks funds"));
  EXPECT_TRUE(has(hint(create_transfer_result::exists_with_different_amount), "use a new id"));
  EXPECT_TRUE(has(hint(create_transfer_result::id_already_failed), "use a new id"));
  EXPECT_TRUE(has(hint(create_transfer_result::linked_event_chain_open), "must not have linked"));
  EXPECT_TRUE(has(hint(create_account_result::exists_with_different_code), "use a new id"));
  EXPECT_TRUE(has(hint(set_controls_result::account_not_found), "create the account"));
  EXPECT_TRUE(has(hint(codec::status::permission_denied), "permission"));
  EXPECT_TRUE(has(hint(codec::status::not_primary), "primary"));
  EXPECT_TRUE(has(hint(codec::status::unavailable), "resend by id"));
  EXPECT_TRUE(has(hint(codec::status::overloaded), "try again"));
}

// ---------------------------------------------------------------------------------------
// Tables

TEST(Tables, ColumnsAlignAndNumbersAlignRight) {
  const std::vector<column> cols = {{"ID", true}, {"RESULT", false}, {"TIMESTAMP", true}};
  const std::vector<std::vector<std::string>> rows = {
      {"1", "ok", "1700000000000000000"},
      {"12345", "exceeds_credits", "-"},
      {"7"},  // short row: padded with empty cells
  };
  EXPECT_EQ(render_table(cols, rows),
            "   ID  RESULT                     TIMESTAMP\n"
            "    1  ok               1700000000000000000\n"
            "12345  exceeds_credits                    -\n"
            "    7\n");
}

TEST(Tables, NoTrailingSpacesAndTitlesAlone) {
  const std::vector<column> cols = {{"NAME", false}, {"NOTE", false}};
  EXPECT_EQ(render_table(cols, {}), "NAME  NOTE\n");
  EXPECT_EQ(render_table(cols, {{"a", ""}, {"long name", "x"}}),
            "NAME       NOTE\n"
            "a\n"
            "long name  x\n");
}

TEST(Tables, FieldsAlignTheirValues) {
  EXPECT_EQ(render_fields({{"ledger", "1"}, {"transfers_posted", "20"}}),
            "ledger:            1\n"
            "transfers_posted:  20\n");
  EXPECT_EQ(render_fields({}), "");
}

account sample_account() {
  account a{};
  a.id = u128_max - 1;
  a.ledger = 1;
  a.code = 10;
  a.flags = account_flags::debits_must_not_exceed_credits;
  a.credits_posted = 500;
  a.debits_posted = 120;
  a.timestamp = 1700000000000000001;
  return a;
}

transfer sample_transfer(u128 id, u128 debit, u128 credit, u128 amount) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = 1;
  t.code = 2;
  t.timestamp = 1700000000000000002;
  return t;
}

TEST(Tables, Accounts) {
  const account a = sample_account();
  EXPECT_EQ(
      accounts_table(std::span<const account>(&a, 1)),
      "                                     ID  LEDGER  CODE  FLAGS                         "
      "  DEBITS_PENDING  DEBITS_POSTED  CREDITS_PENDING  CREDITS_POSTED            TIMESTAMP\n"
      "340282366920938463463374607431768211454       1    10  debits_must_not_exceed_credits"
      "               0            120                0             500  1700000000000000001\n");
  account b = a;
  b.user_data_64 = 9;
  const std::string with_user_data = accounts_table(std::span<const account>(&b, 1));
  EXPECT_NE(with_user_data.find("USER_DATA_64"), std::string::npos) << with_user_data;
}

TEST(Tables, TransfersWithSide) {
  transfer p = sample_transfer(7, 1, 2, 300);
  p.flags = transfer_flags::pending;
  p.timeout = 60;
  const transfer rows[] = {p, sample_transfer(8, 2, 1, 5)};
  EXPECT_EQ(transfers_table(rows, u128{1}),
            "ID  SIDE    DEBIT  CREDIT  AMOUNT  PENDING_ID  LEDGER  CODE  FLAGS    TIMEOUT"
            "            TIMESTAMP\n"
            " 7  debit       1       2     300           -       1     2  pending       60"
            "  1700000000000000002\n"
            " 8  credit      2       1       5           -       1     2  -              0"
            "  1700000000000000002\n");
  EXPECT_EQ(transfers_table(rows).find("SIDE"), std::string::npos);
}

TEST(Outcomes, TableJsonAndFailureLines) {
  const result ok_result{0, 0, 1700000000000000003};
  const result failed{static_cast<std::uint32_t>(create_transfer_result::exceeds_credits), 0, 0};
  const std::vector<outcome> outcomes = {
      make_outcome<create_transfer_result>(100, ok_result),
      make_outcome<create_transfer_result>(101, failed),
  };
  EXPECT_TRUE(outcomes[0].ok());
  EXPECT_FALSE(outcomes[1].ok());
  EXPECT_EQ(outcomes_table(outcomes),
            "INDEX   ID  RESULT                     TIMESTAMP\n"
            "    0  100  ok               1700000000000000003\n"
            "    1  101  exceeds_credits                    -\n");
  EXPECT_EQ(failure_line(1, outcomes[1]),
            "event 1 (id 101): exceeds_credits: " +
                std::string(hint(create_transfer_result::exceeds_credits)));
  EXPECT_EQ(outcomes_json(outcomes).dump(),
            R"([{"index":0,"id":"100","result":"ok","timestamp":"1700000000000000003"},)"
            R"({"index":1,"id":"101","result":"exceeds_credits","timestamp":"0","hint":")" +
                std::string(hint(create_transfer_result::exceeds_credits)) + R"("}])");
  const outcome controls = make_outcome<set_controls_result>(
      5, result{static_cast<std::uint32_t>(set_controls_result::account_not_found), 0, 0});
  EXPECT_EQ(controls.result, "account_not_found");
}

TEST(Json, U128AndTimestampsAreStrings) {
  EXPECT_EQ(account_json(sample_account()).dump(),
            R"({"id":"340282366920938463463374607431768211454","ledger":1,"code":10,)"
            R"("flags":["debits_must_not_exceed_credits"],"debits_pending":"0",)"
            R"("debits_posted":"120","credits_pending":"0","credits_posted":"500",)"
            R"("user_data_128":"0","user_data_64":"0","user_data_32":0,)"
            R"("timestamp":"1700000000000000001"})");
  transfer t = sample_transfer(1, 2, 3, u128_max);
  t.flags = transfer_flags::linked | transfer_flags::balancing_debit;
  t.user_data_64 = UINT64_MAX;
  EXPECT_EQ(transfer_json(t).dump(),
            R"({"id":"1","debit_account_id":"2","credit_account_id":"3",)"
            R"("amount":"340282366920938463463374607431768211455","pending_id":"0","ledger":1,)"
            R"("code":2,"flags":["linked","balancing_debit"],"timeout":0,"user_data_128":"0",)"
            R"("user_data_64":"18446744073709551615","user_data_32":0,)"
            R"("timestamp":"1700000000000000002"})");
}

}  // namespace
}  // namespace remit::cli
