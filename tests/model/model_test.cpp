// Table tests of the ledger model: one row per event and the code docs/PROTOCOL.md gives it, for
// the rules that are easy to get wrong (precedence, `exists` on the fields as sent,
// id_already_failed, pending/post/void/expiry, balancing, bounds with overdraft_max, caps,
// freeze, the daily cap across UTC midnight, linked chains). Every case runs on a fresh
// model, a fresh reference ledger and a fresh actor engine, and each side must give the
// codes of the table; the timestamps of the three must agree too, and so must the accounts,
// transfers and stats afterwards.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/model/three_sides.hpp"

namespace remit::model {
namespace {

using ar = create_account_result;
using tr = create_transfer_result;
using sc = set_controls_result;
using namespace transfer_flags;
using test::make_account;
using test::make_controls;

constexpr std::uint16_t L = linked;
constexpr std::uint16_t P = pending;
constexpr std::uint16_t BD = balancing_debit;
constexpr std::uint16_t BC = balancing_credit;

// One request of a case and the code of each of its events.
struct op {
  enum class kind { accounts, transfers, controls, advance } k;
  std::vector<account> accounts;
  std::vector<transfer> transfers;
  std::vector<account_controls> controls;
  std::uint64_t advance_ns = 0;
  std::vector<std::uint32_t> expect;
};

template <class Code>
std::vector<std::uint32_t> codes(std::initializer_list<Code> list) {
  std::vector<std::uint32_t> out;
  for (const Code c : list) out.push_back(static_cast<std::uint32_t>(c));
  return out;
}

op A(std::vector<account> a, std::initializer_list<ar> expect) {
  return op{op::kind::accounts, std::move(a), {}, {}, 0, codes(expect)};
}
op T(std::vector<transfer> t, std::initializer_list<tr> expect) {
  return op{op::kind::transfers, {}, std::move(t), {}, 0, codes(expect)};
}
op C(std::vector<account_controls> c, std::initializer_list<sc> expect) {
  return op{op::kind::controls, {}, {}, std::move(c), 0, codes(expect)};
}
op wait_s(std::uint64_t s) {
  return op{op::kind::advance, {}, {}, {}, s * ns_per_s, {}};
}

transfer tx(u128 id, u128 dr, u128 cr, u128 amount, std::uint16_t flags = 0) {
  return test::make_transfer(id, dr, cr, amount, flags);
}
transfer pend(u128 id, u128 dr, u128 cr, u128 amount, std::uint32_t timeout = 0,
              std::uint16_t flags = 0) {
  transfer t = test::make_transfer(id, dr, cr, amount, P | flags);
  t.timeout = timeout;
  return t;
}
transfer post(u128 id, u128 pending_id, u128 amount = 0, std::uint16_t flags = 0) {
  transfer t = test::make_post(id, pending_id, amount);
  t.flags |= flags;
  return t;
}
transfer voids(u128 id, u128 pending_id, u128 amount = 0) {
  transfer t = test::make_void(id, pending_id);
  t.amount = amount;
  return t;
}
template <class F>
transfer with(transfer t, F&& f) {
  f(t);
  return t;
}
template <class F>
account with(account a, F&& f) {
  f(a);
  return a;
}

account_controls with_reserved(account_controls c) {
  c.reserved[27] = 1;
  return c;
}

account acct(u128 id, std::uint16_t flags = 0) {
  return make_account(id, 1, flags);
}
constexpr std::uint16_t dmnec = account_flags::debits_must_not_exceed_credits;
constexpr std::uint16_t cmned = account_flags::credits_must_not_exceed_debits;

struct table_case {
  std::string name;
  std::vector<op> ops;
  std::uint64_t start_ns = test::epoch_2023_ns;
};

std::vector<table_case> cases() {
  std::vector<table_case> v;

  v.push_back({"account_checks_on_the_event_alone_in_numeric_order",
               {A({with(acct(0), [](account& a) { a.ledger = 0; }), acct(u128_max),
                   with(acct(1, dmnec | cmned), [](account& a) { a.reserved = 1; }),
                   with(acct(1, 1u << 3), [](account& a) { a.reserved = 1; }), acct(1, 1u << 3),
                   with(acct(1), [](account& a) { a.debits_posted = 1, a.timestamp = 1; }),
                   with(acct(1), [](account& a) { a.timestamp = 1, a.ledger = 0; }),
                   with(acct(1), [](account& a) { a.ledger = 0, a.code = 0; }),
                   with(acct(1), [](account& a) { a.code = 0; }), acct(1)},
                  {ar::id_must_not_be_zero, ar::id_must_not_be_int_max,
                   ar::flags_are_mutually_exclusive, ar::reserved_field, ar::reserved_flag,
                   ar::balances_must_be_zero, ar::timestamp_must_be_zero,
                   ar::ledger_must_not_be_zero, ar::code_must_not_be_zero, ar::ok})}});

  v.push_back(
      {"account_exists_reports_the_first_different_field",
       {A({acct(1)}, {ar::ok}),
        A({acct(1), with(acct(1, dmnec), [](account& a) { a.user_data_128 = 1; }),
           with(acct(1), [](account& a) { a.user_data_128 = 1, a.code = 2; }),
           with(acct(1), [](account& a) { a.user_data_64 = 1; }),
           with(acct(1), [](account& a) { a.user_data_32 = 1; }),
           with(acct(1), [](account& a) { a.ledger = 2, a.code = 2; }),
           with(acct(1), [](account& a) { a.code = 2; })},
          {ar::exists, ar::exists_with_different_flags, ar::exists_with_different_user_data_128,
           ar::exists_with_different_user_data_64, ar::exists_with_different_user_data_32,
           ar::exists_with_different_ledger, ar::exists_with_different_code})}});

  v.push_back({"account_chains_fail_whole",
               {A({acct(1, account_flags::linked),
                   with(acct(2, account_flags::linked), [](account& a) { a.ledger = 0; }), acct(3)},
                  {ar::linked_event_failed, ar::ledger_must_not_be_zero, ar::linked_event_failed}),
                A({acct(4, account_flags::linked), acct(5, account_flags::linked)},
                  {ar::linked_event_failed, ar::linked_event_chain_open}),
                // An id made earlier in the same chain exists, and fails the chain; the result
                // carries the timestamp of that (rolled back) original.
                A({acct(6, account_flags::linked), acct(6, account_flags::linked), acct(7)},
                  {ar::linked_event_failed, ar::exists, ar::linked_event_failed}),
                A({acct(6), acct(7), acct(1), acct(2), acct(3)},
                  {ar::ok, ar::ok, ar::ok, ar::ok, ar::ok})}});

  v.push_back({"transfer_checks_on_the_event_alone_in_numeric_order",
               {A({acct(1), acct(2)}, {ar::ok, ar::ok}),
                T({tx(0, 1, 2, 0),
                   tx(u128_max, 1, 2, 0),
                   tx(3, 1, 2, 5, P | post_pending_transfer),
                   tx(3, 1, 2, 5, BD | void_pending_transfer),
                   tx(3, 1, 2, 5, 1u << 6),
                   with(tx(3, 1, 2, 5), [](transfer& t) { t.timestamp = 1; }),
                   tx(3, 0, 2, 5),
                   tx(3, u128_max, 2, 5),
                   tx(3, 1, 0, 5),
                   tx(3, 1, u128_max, 5),
                   tx(3, 1, 1, 0),
                   with(tx(3, 1, 2, 0), [](transfer& t) { t.pending_id = 9; }),
                   post(3, 0),
                   post(3, u128_max),
                   post(3, 3),
                   with(tx(3, 1, 2, 0), [](transfer& t) { t.timeout = 1; }),
                   with(post(3, 9), [](transfer& t) { t.timeout = 1; }),
                   tx(3, 1, 2, 0),
                   with(tx(3, 1, 2, 5), [](transfer& t) { t.ledger = 0, t.code = 0; }),
                   with(tx(3, 1, 2, 5), [](transfer& t) { t.code = 0; }),
                   post(3, 9)},
                  {tr::id_must_not_be_zero,
                   tr::id_must_not_be_int_max,
                   tr::flags_are_mutually_exclusive,
                   tr::flags_are_mutually_exclusive,
                   tr::reserved_flag,
                   tr::timestamp_must_be_zero,
                   tr::debit_account_id_must_not_be_zero,
                   tr::debit_account_id_must_not_be_int_max,
                   tr::credit_account_id_must_not_be_zero,
                   tr::credit_account_id_must_not_be_int_max,
                   tr::accounts_must_be_different,
                   tr::pending_id_must_be_zero,
                   tr::pending_id_must_not_be_zero,
                   tr::pending_id_must_not_be_int_max,
                   tr::pending_id_must_be_different,
                   tr::timeout_reserved_for_pending_transfer,
                   tr::timeout_reserved_for_pending_transfer,
                   tr::amount_must_not_be_zero,
                   tr::ledger_must_not_be_zero,
                   tr::code_must_not_be_zero,
                   tr::pending_transfer_not_found})}});

  v.push_back(
      {"exists_compares_the_fields_as_sent",
       {A({acct(1), acct(2), acct(3, dmnec)}, {ar::ok, ar::ok, ar::ok}),
        T({tx(10, 1, 3, 50), tx(11, 3, 2, 80, BD)}, {tr::ok, tr::ok}),  // 11 moves 50
        T({tx(11, 3, 2, 80, BD), tx(11, 3, 2, 50, BD), tx(11, 3, 2, 80, BD | BC),
           with(tx(11, 3, 2, 80, BD), [](transfer& t) { t.user_data_128 = 1, t.ledger = 2; }),
           with(tx(11, 3, 2, 80, BD), [](transfer& t) { t.ledger = 2; }),
           with(tx(11, 3, 2, 80, BD), [](transfer& t) { t.code = 2; }), tx(11, 2, 3, 80, BD)},
          {tr::exists, tr::exists_with_different_amount, tr::exists_with_different_flags,
           tr::exists_with_different_user_data_128, tr::exists_with_different_ledger,
           tr::exists_with_different_code, tr::exists_with_different_debit_account_id}),
        T({pend(20, 1, 2, 30), post(21, 20, 0)}, {tr::ok, tr::ok}),
        T({post(21, 20, 0), post(21, 20, 30),
           with(post(21, 20), [](transfer& t) { t.debit_account_id = 1; })},
          {tr::exists, tr::exists_with_different_amount,
           tr::exists_with_different_debit_account_id})}});

  v.push_back(
      {"id_already_failed_only_for_state_failures_outside_chains",
       {A({acct(1), acct(2)}, {ar::ok, ar::ok}),
        T({tx(30, 1, 99, 5)}, {tr::credit_account_not_found}),
        A({acct(99), acct(98)}, {ar::ok, ar::ok}),
        T({tx(30, 1, 99, 5), tx(30, 0, 99, 5), tx(30, 1, 99, 6)},
          {tr::id_already_failed, tr::debit_account_id_must_not_be_zero, tr::id_already_failed}),
        T({tx(31, 1, 97, 5, L), tx(32, 1, 2, 5)},
          {tr::credit_account_not_found, tr::linked_event_failed}),
        A({acct(97)}, {ar::ok}), T({tx(31, 1, 97, 5, L), tx(32, 1, 2, 5)}, {tr::ok, tr::ok}),
        T({tx(33, 1, 1, 5), tx(33, 1, 2, 5)}, {tr::accounts_must_be_different, tr::ok})}});

  v.push_back(
      {"pending_post_partial_post_and_void",
       {A({acct(1), acct(2)}, {ar::ok, ar::ok}),
        T({pend(40, 1, 2, 100), post(41, 40, 30), post(42, 40), voids(43, 40)},
          {tr::ok, tr::ok, tr::pending_transfer_already_posted,
           tr::pending_transfer_already_posted}),
        T({pend(44, 1, 2, 100), voids(45, 44, 50), voids(46, 44, 150), post(47, 44, 150),
           tx(48, 1, 2, 5), post(49, 48),
           with(post(50, 44), [](transfer& t) { t.debit_account_id = 2; }),
           with(post(54, 44), [](transfer& t) { t.credit_account_id = 1; }),
           with(post(55, 44), [](transfer& t) { t.ledger = 2; }),
           with(post(56, 44), [](transfer& t) { t.code = 2; }),
           with(post(57, 44), [](transfer& t) { t.debit_account_id = 77; }), voids(51, 44, 100),
           post(52, 44)},
          {tr::ok, tr::pending_transfer_has_different_amount,
           tr::pending_transfer_has_different_amount, tr::exceeds_pending_transfer_amount, tr::ok,
           tr::pending_transfer_not_pending, tr::pending_transfer_has_different_debit_account_id,
           tr::pending_transfer_has_different_credit_account_id,
           tr::pending_transfer_has_different_ledger, tr::pending_transfer_has_different_code,
           tr::pending_transfer_has_different_debit_account_id, tr::ok,
           tr::pending_transfer_already_voided})}});

  v.push_back({"expiry_after_the_timeout",
               {A({acct(1), acct(2)}, {ar::ok, ar::ok}),
                T({pend(60, 1, 2, 100, 2), pend(62, 1, 2, 100, 2), pend(64, 1, 2, 100, 0),
                   pend(66, 1, 2, 100, 10)},
                  {tr::ok, tr::ok, tr::ok, tr::ok}),
                wait_s(3),
                T({post(61, 60), voids(63, 62), post(67, 66)},
                  {tr::pending_transfer_expired, tr::pending_transfer_expired, tr::ok}),
                wait_s(86'400), T({post(65, 64)}, {tr::ok})}});

  v.push_back(
      {"balancing_with_no_room_is_exceeds_on_that_side",
       {A({acct(1, dmnec), acct(2, cmned), acct(3), acct(4)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
        T({tx(70, 1, 3, 10, BD), tx(71, 3, 2, 10, BC), tx(72, 3, 4, 10, BD),
           tx(73, 4, 3, 10, BD | BC), tx(74, 4, 3, 40), tx(75, 3, 1, 100, BD)},
          {tr::exceeds_credits, tr::exceeds_debits, tr::exceeds_credits, tr::exceeds_credits,
           tr::ok, tr::ok}),
        C({make_controls(4, 25)}, {sc::ok}),
        T({tx(76, 4, 3, 100, BD), tx(77, 3, 2, 5, BD)},
          {tr::exceeds_credits, tr::exceeds_credits})}});

  // Section 4: when the room of a balancing side is 0 and another check fails too (here the
  // debit account is already past its bound, since its overdraft_max was lowered), the
  // smallest code is reported.
  v.push_back({"balancing_room_zero_and_another_bound_give_the_smallest_code",
               {A({acct(1, dmnec), acct(2, cmned), acct(3)}, {ar::ok, ar::ok, ar::ok}),
                C({make_controls(1, 100)}, {sc::ok}), T({tx(1, 1, 3, 50)}, {tr::ok}),
                C({make_controls(1, 0)}, {sc::ok}),
                T({tx(2, 1, 2, 10, BC), tx(3, 1, 2, 10, BD), tx(4, 3, 2, 10, BC)},
                  {tr::exceeds_credits, tr::exceeds_credits, tr::exceeds_debits})}});

  v.push_back({"bounds_with_overdraft_max",
               {A({acct(1, dmnec), acct(2), acct(3, cmned)}, {ar::ok, ar::ok, ar::ok}),
                C({make_controls(1, 100)}, {sc::ok}),
                T({tx(80, 1, 2, 100), tx(81, 1, 2, 1)}, {tr::ok, tr::exceeds_credits}),
                C({make_controls(1, 150)}, {sc::ok}),
                T({tx(82, 1, 2, 50), pend(86, 1, 2, 1), tx(83, 2, 3, 1)},
                  {tr::ok, tr::exceeds_credits, tr::exceeds_debits}),
                C({make_controls(3, 5)}, {sc::ok}),
                T({tx(84, 2, 3, 5), tx(85, 2, 3, 1)}, {tr::ok, tr::exceeds_debits})}});

  v.push_back({"freeze_and_the_cap_on_one_debit",
               {A({acct(1), acct(2)}, {ar::ok, ar::ok}), T({pend(92, 1, 2, 10)}, {tr::ok}),
                C({make_controls(1, 0, 10, 0, account_status_flags::frozen)}, {sc::ok}),
                T({tx(90, 1, 2, 50), tx(91, 2, 1, 5), post(93, 92)},
                  {tr::debit_account_frozen, tr::credit_account_frozen, tr::ok}),
                C({make_controls(1, 0, 10)}, {sc::ok}),
                T({tx(94, 1, 2, 11), tx(95, 1, 2, 10), tx(96, 2, 1, 1000)},
                  {tr::exceeds_transfer_amount_max, tr::ok, tr::ok}),
                C({make_controls(1, 0, 990)}, {sc::ok}),
                // Room of 1: credits 1000 - debits 20 = 980, under the cap of 990.
                T({tx(97, 1, 2, 5000, BD)}, {tr::ok})}});

  // 2023-11-14 23:59:58 UTC.
  v.push_back({"daily_debit_cap_by_utc_day",
               {A({acct(1), acct(2)}, {ar::ok, ar::ok}), C({make_controls(1, 0, 0, 100)}, {sc::ok}),
                T({tx(100, 1, 2, 60), tx(101, 1, 2, 50), pend(102, 1, 2, 40), voids(103, 102),
                   tx(104, 1, 2, 1), tx(107, 2, 1, 140)},
                  {tr::ok, tr::exceeds_daily_debit_max, tr::ok, tr::ok, tr::exceeds_daily_debit_max,
                   tr::ok}),
                // Past midnight: a new day. 106 moves 10 (the room of 1), and that counts.
                wait_s(3),
                T({tx(105, 1, 2, 70), tx(106, 1, 2, 80, BD), tx(108, 1, 2, 21)},
                  {tr::ok, tr::ok, tr::exceeds_daily_debit_max})},
               test::epoch_2023_ns + (86'400 - 22 * 3600 - 13 * 60 - 20 - 2) * ns_per_s});

  // Which balances a transfer overflows: a pending transfer adds to the pending balances
  // (49, 50) and to the sum of pending and posted (53, 54); a plain one to the posted
  // balances (51, 52) and the sum. 2 holds 2^127 posted credits and 1 2^127
  // posted debits; then 3 and 4 hold 2^128-1 pending.
  v.push_back({"overflows_by_the_balances_a_transfer_adds_to",
               {A({acct(1), acct(2), acct(3), acct(4)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
                T({tx(1, 1, 2, u128{1} << 127)}, {tr::ok}),
                T({pend(2, 3, 2, u128{1} << 127), tx(3, 3, 2, u128{1} << 127),
                   pend(4, 1, 4, u128{1} << 127), tx(5, 1, 4, u128{1} << 127),
                   pend(6, 3, 4, u128_max), pend(7, 3, 4, 1), pend(8, 2, 4, 1)},
                  {tr::overflows_credits, tr::overflows_credits_posted, tr::overflows_debits,
                   tr::overflows_debits_posted, tr::ok, tr::overflows_debits_pending,
                   tr::overflows_credits_pending})}});

  // A clock near the end of u64 nanoseconds (the year 2554): a timeout past it overflows.
  v.push_back({"overflows_timeout",
               {A({acct(1), acct(2)}, {ar::ok, ar::ok}),
                T({pend(1, 1, 2, 10, 1'000), pend(2, 1, 2, 10, 50), tx(3, 1, 2, 10)},
                  {tr::overflows_timeout, tr::ok, tr::ok})},
               ~std::uint64_t{0} - 100 * ns_per_s});

  v.push_back({"set_account_controls_codes",
               {A({acct(1)}, {ar::ok}),
                C({with_reserved(make_controls(1)), make_controls(1, 0, 0, 0, 2), make_controls(9),
                   with_reserved(make_controls(9, 0, 0, 0, 2)), make_controls(1)},
                  {sc::reserved_field, sc::reserved_flag, sc::account_not_found, sc::reserved_field,
                   sc::ok})}});

  v.push_back(
      {"chains_see_earlier_legs_and_roll_back",
       {A({acct(1, dmnec), acct(2)}, {ar::ok, ar::ok}),
        T({tx(110, 2, 1, 50, L), tx(111, 1, 2, 50)}, {tr::ok, tr::ok}),
        T({tx(112, 2, 1, 10, L), tx(113, 1, 2, 100)},
          {tr::linked_event_failed, tr::exceeds_credits}),
        T({pend(114, 2, 1, 10, 0, L), post(115, 114, 0, L), tx(116, 1, 2, 10)},
          {tr::ok, tr::ok, tr::ok}),
        T({pend(117, 2, 1, 10, 0, L), post(118, 117, 0, L), tx(119, 1, 99, 1)},
          {tr::linked_event_failed, tr::linked_event_failed, tr::credit_account_not_found}),
        T({post(120, 117), tx(112, 2, 1, 10)}, {tr::pending_transfer_not_found, tr::ok}),
        T({tx(110, 2, 1, 50, L), tx(121, 2, 1, 1)}, {tr::exists, tr::linked_event_failed})}});

  // The two cases where a balancing leg of a chain moves less than it was sent with, and a
  // later leg of the same chain must see the amount moved.
  v.push_back({"balancing_leg_moves_less_so_a_later_leg_exceeds_credits",
               {A({acct(1), acct(2), acct(3), acct(4, dmnec)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
                C({make_controls(4, 100)}, {sc::ok}), T({tx(1, 1, 3, 10)}, {tr::ok}),
                T({tx(2, 3, 4, 100, L | BD | BC), tx(3, 4, 2, 150)},
                  {tr::linked_event_failed, tr::exceeds_credits})}});
  v.push_back({"balancing_leg_moves_less_so_a_later_leg_fits",
               {A({acct(1, cmned), acct(2), acct(3), acct(4)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
                T({tx(1, 1, 4, 1000), tx(2, 3, 2, 100)}, {tr::ok, tr::ok}),
                T({tx(3, 2, 1, 500, L | BD | BC), tx(4, 3, 1, 900)}, {tr::ok, tr::ok})}});
  // The room of a balancing side is section 4's formula over the integers: with
  // overdraft_max 2^128-1, credits 5 and debits 10, account 1 has room 2^128-6, so a
  // balancing_debit of 2^128-1 moves 2^128-6, which overflows debits_posted (10 + 2^128-6).
  // Computing credits_posted + overdraft_max saturated at 2^128-1 gives a room of 2^128-11
  // instead, which fits, and the transfer succeeds with a smaller amount.
  v.push_back({"balancing_room_is_the_formula_of_section_4_without_saturation",
               {A({acct(1), acct(2), acct(3)}, {ar::ok, ar::ok, ar::ok}),
                T({tx(1, 2, 1, 5), tx(2, 1, 3, 10)}, {tr::ok, tr::ok}),
                C({make_controls(1, u128_max)}, {sc::ok}),
                T({tx(3, 1, 3, u128_max, BD)}, {tr::overflows_debits_posted})}});

  // The daily sum is a sum over the integers too: a pending transfer of 2^127+1, voided
  // (it still counts), then a debit of 2^127 make 2^128+1 today, past a daily_debit_max of
  // 2^128-1. Summing saturated at 2^128-1 says the cap is not exceeded.
  v.push_back(
      {"daily_sum_past_u128_exceeds_a_cap_of_u128_max",
       {A({acct(1), acct(2)}, {ar::ok, ar::ok}), C({make_controls(1, 0, 0, u128_max)}, {sc::ok}),
        T({pend(1, 1, 2, (u128{1} << 127) + 1), voids(2, 1), tx(3, 1, 2, u128{1} << 127)},
          {tr::ok, tr::ok, tr::exceeds_daily_debit_max})}});

  // Both flags, the credit side clamps, and the later leg debits the same debit account.
  v.push_back(
      {"balancing_leg_clamped_by_its_credit_side_so_a_later_debit_fits",
       {A({acct(1, dmnec), acct(2, cmned), acct(3), acct(4)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
        C({make_controls(1, 100)}, {sc::ok}),
        T({tx(1, 3, 1, 10), tx(2, 2, 4, 10)}, {tr::ok, tr::ok}),
        T({tx(3, 1, 2, 100, L | BD | BC), tx(4, 1, 3, 95)}, {tr::ok, tr::ok})}});

  // The same with one balancing flag: the debit side clamps, or the credit side does.
  v.push_back({"balancing_debit_leg_moves_less_so_a_later_leg_exceeds_credits",
               {A({acct(1), acct(2), acct(3), acct(4, dmnec)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
                C({make_controls(4, 100)}, {sc::ok}), T({tx(1, 1, 3, 10)}, {tr::ok}),
                T({tx(2, 3, 4, 100, L | BD), tx(3, 4, 2, 150)},
                  {tr::linked_event_failed, tr::exceeds_credits})}});
  v.push_back(
      {"balancing_credit_leg_moves_less_so_a_later_leg_fits",
       {A({acct(1, dmnec), acct(2, cmned), acct(3), acct(4)}, {ar::ok, ar::ok, ar::ok, ar::ok}),
        T({tx(1, 3, 1, 1000), tx(2, 2, 4, 300)}, {tr::ok, tr::ok}),
        T({tx(3, 1, 2, 500, L | BC), tx(4, 1, 3, 600)}, {tr::ok, tr::ok})}});
  return v;
}

void PrintTo(const table_case& c, std::ostream* os) {
  *os << c.name;
}

std::string case_name(const ::testing::TestParamInfo<table_case>& info) {
  return info.param.name;
}

// Waits until the engine's sweep has released what the model released (the stats of every
// ledger and the accounts agree); false after 10 s.
bool wait_for_sweep(three_sides& s, const std::vector<u128>& account_ids) {
  const std::vector<account> expected = s.model().lookup_accounts(account_ids);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    bool same = true;
    for (std::uint32_t l = 1; l <= 2 && same; ++l)
      same = test::same_bytes(s.model().get_ledger_stats(l), test::stats(s.eng(), l));
    if (same) same = same_items(expected, test::lookup_accounts(s.eng(), account_ids));
    if (same) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string show(const std::vector<std::uint32_t>& codes) {
  std::string s = "[";
  for (const std::uint32_t c : codes) s += (s.size() > 1 ? ", " : "") + std::to_string(c);
  return s + "]";
}

class model_table_test : public ::testing::TestWithParam<table_case> {};

TEST_P(model_table_test, every_side_gives_the_codes_of_the_table) {
  const table_case& c = GetParam();
  three_sides s(2, c.start_ns);
  std::vector<u128> account_ids;
  std::vector<u128> transfer_ids;
  for (std::size_t i = 0; i < c.ops.size(); ++i) {
    const op& o = c.ops[i];
    s.set_clock(s.now() + ns_per_s / 1000);
    answers<result> a;
    switch (o.k) {
      case op::kind::accounts:
        for (const account& x : o.accounts) account_ids.push_back(x.id);
        a = s.accounts(o.accounts);
        break;
      case op::kind::transfers:
        for (const transfer& x : o.transfers) transfer_ids.push_back(x.id);
        a = s.transfers(o.transfers);
        break;
      case op::kind::controls:
        a = s.controls(o.controls);
        break;
      case op::kind::advance:
        s.set_clock(s.now() + o.advance_ns);
        s.model().expire(s.now());
        s.ref().expire(s.now());
        EXPECT_TRUE(wait_for_sweep(s, account_ids))
            << "request " << i << ": the engine did not expire";
        continue;
    }
    const std::string where = "request " + std::to_string(i);
    EXPECT_EQ(show(o.expect), show(codes_of(a.model))) << where << ": the model";
    EXPECT_EQ(show(o.expect), show(codes_of(a.reference))) << where << ": the reference ledger";
    EXPECT_EQ(show(o.expect), show(codes_of(a.engine))) << where << ": the actor engine";
    for (std::size_t j = 0; j < a.model.size(); ++j) {
      if (j < a.reference.size()) {
        EXPECT_EQ(a.model[j].timestamp, a.reference[j].timestamp)
            << where << " event " << j << ": timestamp, model and reference ledger";
      }
      if (j < a.engine.size()) {
        EXPECT_EQ(a.model[j].timestamp, a.engine[j].timestamp)
            << where << " event " << j << ": timestamp, model and actor engine";
      }
      if (a.model[j].status == 0 && o.k != op::kind::controls) {
        EXPECT_NE(a.model[j].timestamp, 0u);
      }
    }
  }
  // The state afterwards, byte for byte.
  const auto accounts = s.lookup_accounts(account_ids);
  EXPECT_TRUE(same_items(accounts.model, accounts.reference)) << "accounts, reference";
  EXPECT_TRUE(same_items(accounts.model, accounts.engine)) << "accounts, engine";
  const auto transfers = s.lookup_transfers(transfer_ids);
  EXPECT_TRUE(same_items(transfers.model, transfers.reference)) << "transfers, reference";
  EXPECT_TRUE(same_items(transfers.model, transfers.engine)) << "transfers, engine";
  for (std::uint32_t l = 0; l <= 2; ++l) {
    const auto st = s.stats(l);
    EXPECT_TRUE(same_items(st.model, st.reference)) << "stats, reference, ledger " << l;
    EXPECT_TRUE(same_items(st.model, st.engine)) << "stats, engine, ledger " << l;
  }
}

INSTANTIATE_TEST_SUITE_P(rules, model_table_test, ::testing::ValuesIn(cases()), case_name);

}  // namespace
}  // namespace remit::model
