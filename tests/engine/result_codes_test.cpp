// Every result code of docs/PROTOCOL.md sections 6 and 7, each produced by at least one row of a
// table and asserted, the precedence between codes when several apply, and the exact name of
// every code.
//
// Design: `build_fixture` makes one small ledger (accounts with each flag on ledgers 1 and 2,
// a pending transfer in each state, controls, balances near 2^128-1). Every row runs on its
// own copy of that ledger, so rows are independent and their order does not matter. A row is
// one batch: its events and the code expected for each. `*_code_has_a_row` fails when a code
// of the enum has no row, so adding a code to types.hpp without a row here breaks the build's
// tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"

namespace remit {

// Printers for gtest (found by argument-dependent lookup).
static void PrintTo(create_account_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}
static void PrintTo(create_transfer_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}
static void PrintTo(set_controls_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}

namespace {

using ar = create_account_result;
using tr = create_transfer_result;
using cr = set_controls_result;

// ---------------------------------------------------------------------------------------
// Time: the fixture lives at noon of one UTC day; rows run a minute later by default.

constexpr std::uint64_t day_ns = 20'000 * ns_per_day;
constexpr std::uint64_t t0_ns = day_ns + ns_per_s * 12 * 3600;
constexpr std::uint64_t expire_now_ns = t0_ns + 10 * ns_per_s;
constexpr std::uint64_t rows_now_ns = t0_ns + 60 * ns_per_s;
constexpr std::uint64_t next_day_ns = day_ns + ns_per_day + 1;

// ---------------------------------------------------------------------------------------
// Accounts of the fixture. Ledger 1 unless said otherwise.

constexpr u128 a1 = 1;            // no flags; user data set; funds the others
constexpr u128 a2 = 2;            // no flags
constexpr u128 a3 = 3;            // no flags, zero balances
constexpr u128 dr_bound = 4;      // debits_must_not_exceed_credits, room 0 after t_bal
constexpr u128 cr_bound = 5;      // credits_must_not_exceed_debits, zero balances
constexpr u128 frozen = 6;        // debits_must_not_exceed_credits, credits 1000, frozen
constexpr u128 capped = 7;        // transfer_amount_max 600, daily_debit_max 1000, 700 today
constexpr u128 overdraft = 8;     // debits_must_not_exceed_credits, overdraft_max 500
constexpr u128 big_pend_dr = 9;   // debits_pending 2^128-11
constexpr u128 big_pend_cr = 10;  // credits_pending 2^128-11
constexpr u128 big_post_dr = 11;  // debits_posted 2^128-11
constexpr u128 big_post_cr = 12;  // credits_posted 2^128-11
constexpr u128 linked_a = 13;     // created with the linked flag, chained with linked_b
constexpr u128 linked_b = 14;
constexpr u128 frozen2 = 16;    // no flags, frozen
constexpr u128 b1 = 101;        // ledger 2
constexpr u128 b2 = 102;        // ledger 2
constexpr u128 missing = 999;   // never created
constexpr u128 missing2 = 998;  // never created

// Transfers of the fixture.
constexpr u128 t_plain = 1001;         // a1 -> a2 100, user data set
constexpr u128 p_open = 1002;          // pending a1 -> a2 500, code 2, no timeout
constexpr u128 p_timed = 1003;         // pending a1 -> a2 300, timeout 3600 s
constexpr u128 p_posted = 1004;        // pending a1 -> a2 200, posted by post_of_posted
constexpr u128 post_of_posted = 1005;  // post of p_posted, amount 0, zero accounts/ledger/code
constexpr u128 p_voided = 1006;        // pending a1 -> a3 150, voided by void_of_voided
constexpr u128 void_of_voided = 1007;  // void of p_voided, amount 0
constexpr u128 p_expired = 1008;       // pending a1 -> a2 50, timeout 1 s, expired
constexpr u128 p_big = 1009;           // pending big_pend_dr -> big_pend_cr 2^128-11
constexpr u128 t_big = 1010;           // big_post_dr -> big_post_cr 2^128-11
constexpr u128 t_failed = 1011;        // a1 -> missing: credit_account_not_found, remembered
constexpr u128 t_fund_dr = 1012;       // a1 -> dr_bound 1000
constexpr u128 t_bal = 1013;           // balancing_debit dr_bound -> a2, sent 5000, moved 1000
constexpr u128 t_fund_frozen = 1014;   // a1 -> frozen 1000
constexpr u128 p_frozen = 1015;        // pending frozen -> a2 10, before the freeze
constexpr u128 p_capped = 1016;        // pending capped -> a2 700, before the caps

constexpr u128 big_amount = u128_max - 10;

// Ids for the events of the rows: never used by the fixture.
constexpr u128 n1 = 5001;
constexpr u128 n2 = 5002;
constexpr u128 n3 = 5003;

// ---------------------------------------------------------------------------------------
// Event builders

template <class T, class F>
T with(T t, F&& f) {
  f(t);
  return t;
}

account make_account(u128 id, std::uint32_t ledger = 1, std::uint16_t code = 10,
                     std::uint16_t flags = 0) {
  account a{};
  a.id = id;
  a.ledger = ledger;
  a.code = code;
  a.flags = flags;
  return a;
}

account linked(account a) {
  a.flags |= account_flags::linked;
  return a;
}

transfer make_transfer(u128 id, u128 debit, u128 credit, u128 amount, std::uint16_t flags = 0) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  return t;
}

transfer make_pending(u128 id, u128 debit, u128 credit, u128 amount, std::uint32_t timeout = 0) {
  transfer t = make_transfer(id, debit, credit, amount, transfer_flags::pending);
  t.timeout = timeout;
  return t;
}

// A post or void as a client may send it: only id, pending_id, amount and the flag.
transfer make_post(u128 id, u128 pending_id, u128 amount = 0) {
  transfer t{};
  t.id = id;
  t.pending_id = pending_id;
  t.amount = amount;
  t.flags = transfer_flags::post_pending_transfer;
  return t;
}

transfer make_void(u128 id, u128 pending_id, u128 amount = 0) {
  transfer t = make_post(id, pending_id, amount);
  t.flags = transfer_flags::void_pending_transfer;
  return t;
}

transfer linked(transfer t) {
  t.flags |= transfer_flags::linked;
  return t;
}

account_controls make_controls(u128 id) {
  account_controls c{};
  c.account_id = id;
  return c;
}

// The fixture's events exactly as sent, for the `exists` rows.
account sent_a1() {
  return with(make_account(a1), [](account& a) {
    a.user_data_128 = 11;
    a.user_data_64 = 12;
    a.user_data_32 = 13;
  });
}

transfer sent_t_plain() {
  return with(make_transfer(t_plain, a1, a2, 100), [](transfer& t) {
    t.user_data_128 = 21;
    t.user_data_64 = 22;
    t.user_data_32 = 23;
  });
}

transfer sent_p_open() {
  return with(make_pending(p_open, a1, a2, 500), [](transfer& t) { t.code = 2; });
}
transfer sent_p_timed() {
  return with(make_pending(p_timed, a1, a2, 300, 3600), [](transfer& t) { t.code = 3; });
}
transfer sent_post_of_posted() {
  return make_post(post_of_posted, p_posted);
}
transfer sent_void_of_voided() {
  return make_void(void_of_voided, p_voided);
}
transfer sent_t_bal() {
  return make_transfer(t_bal, dr_bound, a2, 5000, transfer_flags::balancing_debit);
}
transfer sent_t_failed() {
  return make_transfer(t_failed, a1, missing, 5);
}

// ---------------------------------------------------------------------------------------
// The fixture

struct fixture {
  reference_ledger ledger;
  std::uint64_t p_timed_timestamp = 0;
  std::uint64_t t_plain_timestamp = 0;
  std::vector<std::string> setup_errors;  // empty when every setup step did as expected
};

fixture build_fixture() {
  fixture f;
  auto expect = [&f](bool ok, const std::string& what) {
    if (!ok) f.setup_errors.push_back(what);
  };

  const std::vector<account> accounts = {
      sent_a1(),
      make_account(a2),
      make_account(a3),
      make_account(dr_bound, 1, 10, account_flags::debits_must_not_exceed_credits),
      make_account(cr_bound, 1, 10, account_flags::credits_must_not_exceed_debits),
      make_account(frozen, 1, 10, account_flags::debits_must_not_exceed_credits),
      make_account(capped),
      make_account(overdraft, 1, 10, account_flags::debits_must_not_exceed_credits),
      make_account(big_pend_dr),
      make_account(big_pend_cr),
      make_account(big_post_dr),
      make_account(big_post_cr),
      linked(make_account(linked_a)),
      make_account(linked_b),
      make_account(frozen2),
      make_account(b1, 2),
      make_account(b2, 2),
  };
  std::vector<result> out(accounts.size());
  f.ledger.create_accounts(accounts, t0_ns, out);
  for (std::size_t i = 0; i < out.size(); ++i)
    expect(out[i].status == 0, "account " + std::to_string(i) + " not created");

  const std::vector<transfer> transfers = {
      sent_t_plain(),
      sent_p_open(),
      sent_p_timed(),
      make_pending(p_posted, a1, a2, 200),
      make_pending(p_voided, a1, a3, 150),
      make_pending(p_expired, a1, a2, 50, 1),
      make_pending(p_big, big_pend_dr, big_pend_cr, big_amount),
      make_transfer(t_big, big_post_dr, big_post_cr, big_amount),
      sent_t_failed(),
      make_transfer(t_fund_dr, a1, dr_bound, 1000),
      sent_t_bal(),
      make_transfer(t_fund_frozen, a1, frozen, 1000),
      make_pending(p_frozen, frozen, a2, 10),
      make_pending(p_capped, capped, a2, 700),
  };
  out.assign(transfers.size(), result{});
  f.ledger.create_transfers(transfers, t0_ns, out);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint32_t expected =
        transfers[i].id == t_failed ? static_cast<std::uint32_t>(tr::credit_account_not_found) : 0;
    expect(out[i].status == expected,
           "transfer " + std::to_string(i) + " got status " + std::to_string(out[i].status));
    if (transfers[i].id == p_timed) f.p_timed_timestamp = out[i].timestamp;
    if (transfers[i].id == t_plain) f.t_plain_timestamp = out[i].timestamp;
  }

  const std::vector<transfer> resolves = {sent_post_of_posted(), sent_void_of_voided()};
  out.assign(resolves.size(), result{});
  f.ledger.create_transfers(resolves, t0_ns, out);
  for (std::size_t i = 0; i < out.size(); ++i)
    expect(out[i].status == 0, "post/void " + std::to_string(i) + " failed");

  const std::vector<account_controls> controls = {
      with(make_controls(frozen), [](account_controls& c) { c.status_flags = 1; }),
      with(make_controls(frozen2), [](account_controls& c) { c.status_flags = 1; }),
      with(make_controls(capped),
           [](account_controls& c) {
             c.transfer_amount_max = 600;
             c.daily_debit_max = 1000;
           }),
      with(make_controls(overdraft), [](account_controls& c) { c.overdraft_max = 500; }),
  };
  out.assign(controls.size(), result{});
  f.ledger.set_account_controls(controls, out);
  for (std::size_t i = 0; i < out.size(); ++i)
    expect(out[i].status == 0, "controls " + std::to_string(i) + " failed");

  expect(f.ledger.expire(expire_now_ns) == 1, "expire(t0 + 10 s) did not release p_expired");
  expect(f.ledger.last_timestamp() < rows_now_ns, "setup ran past rows_now_ns");
  return f;
}

const fixture& shared_fixture() {
  static const fixture f = build_fixture();
  return f;
}

// Per ledger the sums of debits and credits agree, posted and pending (sums wrap alike).
void expect_balanced(const reference_ledger& ledger) {
  struct sums {
    u128 dp = 0, dq = 0, cp = 0, cq = 0;
  };
  std::array<sums, 3> by_ledger{};
  ledger.for_each_account([&](const account_state& s) {
    ASSERT_LT(s.a.ledger, by_ledger.size());
    sums& x = by_ledger[s.a.ledger];
    x.dp += s.a.debits_posted;
    x.dq += s.a.debits_pending;
    x.cp += s.a.credits_posted;
    x.cq += s.a.credits_pending;
  });
  for (const sums& x : by_ledger) {
    EXPECT_EQ(x.dp, x.cp);
    EXPECT_EQ(x.dq, x.cq);
  }
  // No account breaks the bound of its flags (overdraft_max included).
  ledger.for_each_account([&](const account_state& s) {
    const u128 allowed = s.controls.overdraft_max;
    if (s.a.flags & account_flags::debits_must_not_exceed_credits) {
      EXPECT_LE(s.a.debits_pending + s.a.debits_posted, add_saturating(s.a.credits_posted, allowed))
          << "account " << u128_lo(s.a.id);
    }
    if (s.a.flags & account_flags::credits_must_not_exceed_debits) {
      EXPECT_LE(s.a.credits_pending + s.a.credits_posted,
                add_saturating(s.a.debits_posted, allowed))
          << "account " << u128_lo(s.a.id);
    }
  });
}

std::vector<account> all_accounts(const reference_ledger& ledger) {
  std::vector<account> v;
  ledger.for_each_account([&](const account_state& s) { v.push_back(s.a); });
  return v;
}

bool same_accounts(const std::vector<account>& x, const std::vector<account>& y) {
  return x.size() == y.size() &&
         std::equal(x.begin(), x.end(), y.begin(), [](const account& p, const account& q) {
           return std::memcmp(&p, &q, sizeof(account)) == 0;
         });
}

// ---------------------------------------------------------------------------------------
// Rows

struct account_row {
  std::string name;
  std::vector<account> events;
  std::vector<ar> expected;
};

struct transfer_row {
  std::string name;
  std::vector<transfer> events;
  std::vector<tr> expected;
  std::uint64_t now_ns = rows_now_ns;
};

struct controls_row {
  std::string name;
  std::vector<account_controls> events;
  std::vector<cr> expected;
};

std::vector<account_row> account_rows() {
  const account a = make_account(n1);
  return {
      {"ok", {a}, {ar::ok}},
      {"ok_debits_must_not_exceed_credits",
       {make_account(n1, 1, 10, account_flags::debits_must_not_exceed_credits)},
       {ar::ok}},
      {"ok_credits_must_not_exceed_debits",
       {make_account(n1, 1, 10, account_flags::credits_must_not_exceed_debits)},
       {ar::ok}},
      {"ok_user_data_set", {with(a, [](account& x) { x.user_data_64 = 5; })}, {ar::ok}},
      {"ok_chain", {linked(a), make_account(n2)}, {ar::ok, ar::ok}},
      {"linked_event_failed",
       {linked(a), make_account(n2, 0)},
       {ar::linked_event_failed, ar::ledger_must_not_be_zero}},
      {"linked_event_failed_after_failure",
       {linked(make_account(n1, 1, 0)), make_account(n2)},
       {ar::code_must_not_be_zero, ar::linked_event_failed}},
      {"linked_event_chain_open_single", {linked(a)}, {ar::linked_event_chain_open}},
      {"linked_event_chain_open_two",
       {linked(a), linked(make_account(n2))},
       {ar::linked_event_failed, ar::linked_event_chain_open}},
      {"exists", {sent_a1()}, {ar::exists}},
      {"exists_plain_account", {make_account(a2)}, {ar::exists}},
      {"exists_with_different_flags",
       {with(sent_a1(),
             [](account& x) { x.flags = account_flags::debits_must_not_exceed_credits; })},
       {ar::exists_with_different_flags}},
      {"exists_with_different_user_data_128",
       {with(sent_a1(), [](account& x) { x.user_data_128 = 99; })},
       {ar::exists_with_different_user_data_128}},
      {"exists_with_different_user_data_64",
       {with(sent_a1(), [](account& x) { x.user_data_64 = 99; })},
       {ar::exists_with_different_user_data_64}},
      {"exists_with_different_user_data_32",
       {with(sent_a1(), [](account& x) { x.user_data_32 = 99; })},
       {ar::exists_with_different_user_data_32}},
      {"exists_with_different_ledger",
       {with(sent_a1(), [](account& x) { x.ledger = 2; })},
       {ar::exists_with_different_ledger}},
      {"exists_with_different_code",
       {with(sent_a1(), [](account& x) { x.code = 99; })},
       {ar::exists_with_different_code}},
      {"id_must_not_be_zero", {make_account(0)}, {ar::id_must_not_be_zero}},
      {"id_must_not_be_int_max", {make_account(u128_max)}, {ar::id_must_not_be_int_max}},
      {"flags_are_mutually_exclusive",
       {make_account(n1, 1, 10,
                     account_flags::debits_must_not_exceed_credits |
                         account_flags::credits_must_not_exceed_debits)},
       {ar::flags_are_mutually_exclusive}},
      {"reserved_field", {with(a, [](account& x) { x.reserved = 1; })}, {ar::reserved_field}},
      {"reserved_flag", {make_account(n1, 1, 10, 1u << 3)}, {ar::reserved_flag}},
      {"reserved_flag_high_bit", {make_account(n1, 1, 10, 1u << 15)}, {ar::reserved_flag}},
      {"balances_must_be_zero_debits_pending",
       {with(a, [](account& x) { x.debits_pending = 1; })},
       {ar::balances_must_be_zero}},
      {"balances_must_be_zero_debits_posted",
       {with(a, [](account& x) { x.debits_posted = 1; })},
       {ar::balances_must_be_zero}},
      {"balances_must_be_zero_credits_pending",
       {with(a, [](account& x) { x.credits_pending = 1; })},
       {ar::balances_must_be_zero}},
      {"balances_must_be_zero_credits_posted",
       {with(a, [](account& x) { x.credits_posted = 1; })},
       {ar::balances_must_be_zero}},
      {"timestamp_must_be_zero",
       {with(a, [](account& x) { x.timestamp = 1; })},
       {ar::timestamp_must_be_zero}},
      {"ledger_must_not_be_zero", {make_account(n1, 0)}, {ar::ledger_must_not_be_zero}},
      {"code_must_not_be_zero", {make_account(n1, 1, 0)}, {ar::code_must_not_be_zero}},

      // Precedence: the smaller code of two, event-alone checks before `exists`.
      {"precedence_id_zero_before_ledger_zero", {make_account(0, 0)}, {ar::id_must_not_be_zero}},
      {"precedence_id_max_before_flags",
       {make_account(u128_max, 1, 10,
                     account_flags::debits_must_not_exceed_credits |
                         account_flags::credits_must_not_exceed_debits)},
       {ar::id_must_not_be_int_max}},
      {"precedence_exclusive_flags_before_reserved_field",
       {with(make_account(n1, 1, 10,
                          account_flags::debits_must_not_exceed_credits |
                              account_flags::credits_must_not_exceed_debits),
             [](account& x) { x.reserved = 1; })},
       {ar::flags_are_mutually_exclusive}},
      {"precedence_reserved_field_before_reserved_flag",
       {with(make_account(n1, 1, 10, 1u << 4), [](account& x) { x.reserved = 7; })},
       {ar::reserved_field}},
      {"precedence_reserved_flag_before_balances",
       {with(make_account(n1, 1, 10, 1u << 4), [](account& x) { x.credits_posted = 1; })},
       {ar::reserved_flag}},
      {"precedence_balances_before_timestamp",
       {with(a,
             [](account& x) {
               x.debits_posted = 1;
               x.timestamp = 1;
             })},
       {ar::balances_must_be_zero}},
      {"precedence_timestamp_before_ledger",
       {with(make_account(n1, 0), [](account& x) { x.timestamp = 1; })},
       {ar::timestamp_must_be_zero}},
      {"precedence_ledger_before_code", {make_account(n1, 0, 0)}, {ar::ledger_must_not_be_zero}},
      {"precedence_event_alone_before_exists_ledger",
       {with(sent_a1(), [](account& x) { x.ledger = 0; })},
       {ar::ledger_must_not_be_zero}},
      {"precedence_event_alone_before_exists_timestamp",
       {with(sent_a1(), [](account& x) { x.timestamp = 5; })},
       {ar::timestamp_must_be_zero}},
      {"precedence_exists_flags_before_code",
       {with(sent_a1(),
             [](account& x) {
               x.flags = account_flags::credits_must_not_exceed_debits;
               x.code = 77;
             })},
       {ar::exists_with_different_flags}},
      {"precedence_exists_user_data_128_before_64",
       {with(sent_a1(),
             [](account& x) {
               x.user_data_128 = 1;
               x.user_data_64 = 1;
               x.ledger = 2;
             })},
       {ar::exists_with_different_user_data_128}},
      {"precedence_exists_ledger_before_code",
       {with(sent_a1(),
             [](account& x) {
               x.ledger = 2;
               x.code = 2;
             })},
       {ar::exists_with_different_ledger}},

      // Chains and exists.
      {"exists_fails_chain", {linked(a), sent_a1()}, {ar::linked_event_failed, ar::exists}},
      {"exists_fails_chain_first",
       {linked(make_account(linked_a)), a},
       {ar::exists, ar::linked_event_failed}},
      {"duplicate_within_chain_exists",
       {linked(a), linked(a), make_account(n2)},
       {ar::linked_event_failed, ar::exists, ar::linked_event_failed}},
      {"duplicate_outside_chain_exists", {a, a}, {ar::ok, ar::exists}},
      {"chain_then_independent",
       {linked(a), make_account(n2, 0), make_account(n3)},
       {ar::linked_event_failed, ar::ledger_must_not_be_zero, ar::ok}},
  };
}

std::vector<transfer_row> transfer_rows(const fixture& f) {
  const std::uint64_t p_timed_expires_ns = f.p_timed_timestamp + 3600 * ns_per_s;
  const transfer plain = make_transfer(n1, a1, a2, 10);
  const transfer pend = make_pending(n1, a1, a2, 10);
  using tf = std::uint16_t;
  constexpr tf post_flag = transfer_flags::post_pending_transfer;
  constexpr tf void_flag = transfer_flags::void_pending_transfer;
  constexpr tf pending_flag = transfer_flags::pending;

  return {
      // ok
      {"ok_plain", {plain}, {tr::ok}},
      {"ok_pending", {pend}, {tr::ok}},
      {"ok_pending_with_timeout_u32_max", {make_pending(n1, a1, a2, 10, 0xffff'ffffu)}, {tr::ok}},
      {"ok_post_amount_zero_posts_all", {make_post(n1, p_open)}, {tr::ok}},
      {"ok_post_partial", {make_post(n1, p_open, 1)}, {tr::ok}},
      {"ok_post_exact", {make_post(n1, p_open, 500)}, {tr::ok}},
      {"ok_post_with_all_fields_matching",
       {with(make_post(n1, p_open, 500),
             [](transfer& t) {
               t.debit_account_id = a1;
               t.credit_account_id = a2;
               t.ledger = 1;
               t.code = 2;
             })},
       {tr::ok}},
      {"ok_void_amount_zero", {make_void(n1, p_open)}, {tr::ok}},
      {"ok_void_pending_amount", {make_void(n1, p_open, 500)}, {tr::ok}},
      {"ok_post_one_ns_before_expiry", {make_post(n1, p_timed)}, {tr::ok}, p_timed_expires_ns - 1},
      {"ok_post_of_frozen_accounts_pending", {make_post(n1, p_frozen)}, {tr::ok}},
      {"ok_void_of_frozen_accounts_pending", {make_void(n1, p_frozen)}, {tr::ok}},
      {"ok_post_not_checked_against_transfer_amount_max", {make_post(n1, p_capped)}, {tr::ok}},
      {"ok_daily_debit_max_reached_exactly", {make_transfer(n1, capped, a2, 300)}, {tr::ok}},
      {"ok_daily_debit_max_next_utc_day",
       {make_transfer(n1, capped, a2, 400)},
       {tr::ok},
       next_day_ns},
      {"ok_transfer_amount_max_exactly_next_day",
       {make_transfer(n1, capped, a2, 600)},
       {tr::ok},
       next_day_ns},
      {"ok_overdraft_max_reached_exactly", {make_transfer(n1, overdraft, a2, 500)}, {tr::ok}},
      {"ok_balancing_debit_clamps",
       {make_transfer(n1, overdraft, a2, 1000, transfer_flags::balancing_debit)},
       {tr::ok}},
      {"ok_pending_with_balancing_debit",
       {make_transfer(n1, overdraft, a2, 1000, pending_flag | transfer_flags::balancing_debit)},
       {tr::ok}},
      {"ok_debit_within_credits_made_earlier_in_batch",
       {make_transfer(n1, a1, dr_bound, 5), make_transfer(n2, dr_bound, a2, 5)},
       {tr::ok, tr::ok}},
      {"ok_plain_reaches_u128_max_exactly", {make_transfer(n1, big_post_dr, a3, 10)}, {tr::ok}},
      {"ok_chain", {linked(plain), make_transfer(n2, a2, a3, 5)}, {tr::ok, tr::ok}},

      // linked chains
      {"linked_event_failed",
       {linked(plain), make_transfer(n2, a1, a2, 0)},
       {tr::linked_event_failed, tr::amount_must_not_be_zero}},
      {"linked_event_failed_after_state_failure",
       {linked(make_transfer(n1, missing, a2, 1)), make_transfer(n2, a1, a2, 1)},
       {tr::debit_account_not_found, tr::linked_event_failed}},
      {"linked_event_chain_open_single", {linked(plain)}, {tr::linked_event_chain_open}},
      {"linked_event_chain_open_two",
       {linked(plain), linked(make_transfer(n2, a1, a2, 1))},
       {tr::linked_event_failed, tr::linked_event_chain_open}},
      {"chain_then_independent",
       {linked(plain), make_transfer(n2, a1, a2, 0), make_transfer(n3, a1, a2, 1)},
       {tr::linked_event_failed, tr::amount_must_not_be_zero, tr::ok}},
      // docs/PROTOCOL.md 7: an open chain's last event gets linked_event_chain_open and all the
      // others linked_event_failed, whatever else they would have given.
      {"chain_open_overrides_an_earlier_failure",
       {linked(plain), linked(make_transfer(n2, a1, a2, 0)), linked(make_transfer(n3, a1, a2, 1))},
       {tr::linked_event_failed, tr::linked_event_failed, tr::linked_event_chain_open}},

      // exists and exists_with_different_*
      {"exists", {sent_t_plain()}, {tr::exists}},
      {"exists_pending_with_timeout", {sent_p_timed()}, {tr::exists}},
      {"exists_post_sent_with_amount_and_ids_zero", {sent_post_of_posted()}, {tr::exists}},
      {"exists_void_sent_with_amount_zero", {sent_void_of_voided()}, {tr::exists}},
      {"exists_balancing_compares_amount_sent", {sent_t_bal()}, {tr::exists}},
      {"exists_expired_pending", {make_pending(p_expired, a1, a2, 50, 1)}, {tr::exists}},
      {"exists_with_different_flags",
       {with(sent_t_plain(), [](transfer& t) { t.flags = pending_flag; })},
       {tr::exists_with_different_flags}},
      {"exists_with_different_flags_post_resent_as_void",
       {with(sent_post_of_posted(), [](transfer& t) { t.flags = void_flag; })},
       {tr::exists_with_different_flags}},
      {"exists_with_different_pending_id",
       {with(sent_post_of_posted(), [](transfer& t) { t.pending_id = p_open; })},
       {tr::exists_with_different_pending_id}},
      {"exists_with_different_timeout",
       {with(sent_p_timed(), [](transfer& t) { t.timeout = 60; })},
       {tr::exists_with_different_timeout}},
      {"exists_with_different_debit_account_id",
       {with(sent_t_plain(), [](transfer& t) { t.debit_account_id = a3; })},
       {tr::exists_with_different_debit_account_id}},
      {"exists_with_different_debit_account_id_post_sent_zero",
       {with(sent_post_of_posted(), [](transfer& t) { t.debit_account_id = a1; })},
       {tr::exists_with_different_debit_account_id}},
      {"exists_with_different_credit_account_id",
       {with(sent_t_plain(), [](transfer& t) { t.credit_account_id = a3; })},
       {tr::exists_with_different_credit_account_id}},
      {"exists_with_different_amount",
       {with(sent_t_plain(), [](transfer& t) { t.amount = 101; })},
       {tr::exists_with_different_amount}},
      {"exists_with_different_amount_post_sent_zero",
       {with(sent_post_of_posted(), [](transfer& t) { t.amount = 200; })},
       {tr::exists_with_different_amount}},
      {"exists_with_different_amount_void_sent_zero",
       {with(sent_void_of_voided(), [](transfer& t) { t.amount = 150; })},
       {tr::exists_with_different_amount}},
      {"exists_with_different_amount_balancing_moved",
       {with(sent_t_bal(), [](transfer& t) { t.amount = 1000; })},
       {tr::exists_with_different_amount}},
      {"exists_with_different_user_data_128",
       {with(sent_t_plain(), [](transfer& t) { t.user_data_128 = 1; })},
       {tr::exists_with_different_user_data_128}},
      {"exists_with_different_user_data_64",
       {with(sent_t_plain(), [](transfer& t) { t.user_data_64 = 1; })},
       {tr::exists_with_different_user_data_64}},
      {"exists_with_different_user_data_32",
       {with(sent_t_plain(), [](transfer& t) { t.user_data_32 = 1; })},
       {tr::exists_with_different_user_data_32}},
      {"exists_with_different_ledger",
       {with(sent_t_plain(), [](transfer& t) { t.ledger = 2; })},
       {tr::exists_with_different_ledger}},
      {"exists_with_different_ledger_post_sent_zero",
       {with(sent_post_of_posted(), [](transfer& t) { t.ledger = 1; })},
       {tr::exists_with_different_ledger}},
      {"exists_with_different_code",
       {with(sent_t_plain(), [](transfer& t) { t.code = 9; })},
       {tr::exists_with_different_code}},
      {"id_already_failed_same_event", {sent_t_failed()}, {tr::id_already_failed}},
      {"id_already_failed_even_if_it_would_succeed",
       {with(sent_t_failed(), [](transfer& t) { t.credit_account_id = a2; })},
       {tr::id_already_failed}},
      {"exists_fails_chain",
       {linked(plain), sent_t_plain()},
       {tr::linked_event_failed, tr::exists}},

      // checks on the event alone, 16 to 33
      {"id_must_not_be_zero",
       {with(plain, [](transfer& t) { t.id = 0; })},
       {tr::id_must_not_be_zero}},
      {"id_must_not_be_int_max",
       {with(plain, [](transfer& t) { t.id = u128_max; })},
       {tr::id_must_not_be_int_max}},
      {"flags_are_mutually_exclusive_pending_post",
       {make_transfer(n1, a1, a2, 10, pending_flag | post_flag)},
       {tr::flags_are_mutually_exclusive}},
      {"flags_are_mutually_exclusive_pending_void",
       {make_transfer(n1, a1, a2, 10, pending_flag | void_flag)},
       {tr::flags_are_mutually_exclusive}},
      {"flags_are_mutually_exclusive_post_void",
       {with(make_post(n1, p_open), [](transfer& t) { t.flags |= void_flag; })},
       {tr::flags_are_mutually_exclusive}},
      {"flags_are_mutually_exclusive_balancing_debit_post",
       {with(make_post(n1, p_open),
             [](transfer& t) { t.flags |= transfer_flags::balancing_debit; })},
       {tr::flags_are_mutually_exclusive}},
      {"flags_are_mutually_exclusive_balancing_credit_void",
       {with(make_void(n1, p_open),
             [](transfer& t) { t.flags |= transfer_flags::balancing_credit; })},
       {tr::flags_are_mutually_exclusive}},
      {"reserved_flag", {make_transfer(n1, a1, a2, 10, 1u << 6)}, {tr::reserved_flag}},
      {"reserved_flag_high_bit", {make_transfer(n1, a1, a2, 10, 1u << 15)}, {tr::reserved_flag}},
      {"timestamp_must_be_zero",
       {with(plain, [](transfer& t) { t.timestamp = 1; })},
       {tr::timestamp_must_be_zero}},
      {"debit_account_id_must_not_be_zero",
       {make_transfer(n1, 0, a2, 10)},
       {tr::debit_account_id_must_not_be_zero}},
      {"debit_account_id_must_not_be_int_max",
       {make_transfer(n1, u128_max, a2, 10)},
       {tr::debit_account_id_must_not_be_int_max}},
      {"credit_account_id_must_not_be_zero",
       {make_transfer(n1, a1, 0, 10)},
       {tr::credit_account_id_must_not_be_zero}},
      {"credit_account_id_must_not_be_int_max",
       {make_transfer(n1, a1, u128_max, 10)},
       {tr::credit_account_id_must_not_be_int_max}},
      {"accounts_must_be_different",
       {make_transfer(n1, a1, a1, 10)},
       {tr::accounts_must_be_different}},
      {"pending_id_must_be_zero_plain",
       {with(plain, [](transfer& t) { t.pending_id = p_open; })},
       {tr::pending_id_must_be_zero}},
      {"pending_id_must_be_zero_pending",
       {with(pend, [](transfer& t) { t.pending_id = 7; })},
       {tr::pending_id_must_be_zero}},
      {"pending_id_must_not_be_zero_post", {make_post(n1, 0)}, {tr::pending_id_must_not_be_zero}},
      {"pending_id_must_not_be_zero_void", {make_void(n1, 0)}, {tr::pending_id_must_not_be_zero}},
      {"pending_id_must_not_be_int_max",
       {make_post(n1, u128_max)},
       {tr::pending_id_must_not_be_int_max}},
      {"pending_id_must_be_different", {make_post(n1, n1)}, {tr::pending_id_must_be_different}},
      {"timeout_reserved_for_pending_transfer",
       {with(plain, [](transfer& t) { t.timeout = 10; })},
       {tr::timeout_reserved_for_pending_transfer}},
      {"timeout_reserved_for_pending_transfer_post",
       {with(make_post(n1, p_open), [](transfer& t) { t.timeout = 10; })},
       {tr::timeout_reserved_for_pending_transfer}},
      {"amount_must_not_be_zero", {make_transfer(n1, a1, a2, 0)}, {tr::amount_must_not_be_zero}},
      {"amount_must_not_be_zero_pending",
       {make_pending(n1, a1, a2, 0)},
       {tr::amount_must_not_be_zero}},
      {"amount_must_not_be_zero_balancing",
       {make_transfer(n1, a1, a2, 0, transfer_flags::balancing_debit)},
       {tr::amount_must_not_be_zero}},
      {"ledger_must_not_be_zero",
       {with(plain, [](transfer& t) { t.ledger = 0; })},
       {tr::ledger_must_not_be_zero}},
      {"code_must_not_be_zero",
       {with(plain, [](transfer& t) { t.code = 0; })},
       {tr::code_must_not_be_zero}},

      // checks against state, 34 to 61
      {"debit_account_not_found",
       {make_transfer(n1, missing, a2, 10)},
       {tr::debit_account_not_found}},
      {"credit_account_not_found",
       {make_transfer(n1, a1, missing, 10)},
       {tr::credit_account_not_found}},
      {"accounts_must_have_the_same_ledger",
       {make_transfer(n1, a1, b1, 10)},
       {tr::accounts_must_have_the_same_ledger}},
      {"transfer_must_have_the_same_ledger_as_accounts",
       {with(plain, [](transfer& t) { t.ledger = 2; })},
       {tr::transfer_must_have_the_same_ledger_as_accounts}},
      {"transfer_must_have_the_same_ledger_as_accounts_ledger_2",
       {make_transfer(n1, b1, b2, 10)},
       {tr::transfer_must_have_the_same_ledger_as_accounts}},
      {"ok_ledger_2",
       {with(make_transfer(n1, b1, b2, 10), [](transfer& t) { t.ledger = 2; })},
       {tr::ok}},
      {"pending_transfer_not_found", {make_post(n1, missing)}, {tr::pending_transfer_not_found}},
      {"pending_transfer_not_found_void",
       {make_void(n1, missing)},
       {tr::pending_transfer_not_found}},
      {"pending_transfer_not_pending",
       {make_post(n1, t_plain)},
       {tr::pending_transfer_not_pending}},
      {"pending_transfer_not_pending_post_id",
       {make_void(n1, post_of_posted)},
       {tr::pending_transfer_not_pending}},
      {"pending_transfer_has_different_debit_account_id",
       {with(make_post(n1, p_open), [](transfer& t) { t.debit_account_id = a3; })},
       {tr::pending_transfer_has_different_debit_account_id}},
      {"pending_transfer_has_different_credit_account_id",
       {with(make_post(n1, p_open), [](transfer& t) { t.credit_account_id = a3; })},
       {tr::pending_transfer_has_different_credit_account_id}},
      {"pending_transfer_has_different_ledger",
       {with(make_post(n1, p_open), [](transfer& t) { t.ledger = 2; })},
       {tr::pending_transfer_has_different_ledger}},
      {"pending_transfer_has_different_code",
       {with(make_post(n1, p_open), [](transfer& t) { t.code = 1; })},
       {tr::pending_transfer_has_different_code}},
      {"exceeds_pending_transfer_amount",
       {make_post(n1, p_open, 501)},
       {tr::exceeds_pending_transfer_amount}},
      {"pending_transfer_has_different_amount",
       {make_void(n1, p_open, 499)},
       {tr::pending_transfer_has_different_amount}},
      {"pending_transfer_has_different_amount_more",
       {make_void(n1, p_open, 501)},
       {tr::pending_transfer_has_different_amount}},
      {"pending_transfer_already_posted",
       {make_post(n1, p_posted)},
       {tr::pending_transfer_already_posted}},
      {"pending_transfer_already_posted_void",
       {make_void(n1, p_posted)},
       {tr::pending_transfer_already_posted}},
      {"pending_transfer_already_voided",
       {make_post(n1, p_voided)},
       {tr::pending_transfer_already_voided}},
      {"pending_transfer_already_voided_void",
       {make_void(n1, p_voided)},
       {tr::pending_transfer_already_voided}},
      {"pending_transfer_expired", {make_post(n1, p_expired)}, {tr::pending_transfer_expired}},
      {"pending_transfer_expired_void", {make_void(n1, p_expired)}, {tr::pending_transfer_expired}},
      {"pending_transfer_expired_at_expires_at_before_expire",
       {make_post(n1, p_timed)},
       {tr::pending_transfer_expired},
       p_timed_expires_ns},
      {"pending_transfer_expired_void_after_expires_at",
       {make_void(n1, p_timed)},
       {tr::pending_transfer_expired},
       p_timed_expires_ns + ns_per_day},
      {"overflows_debits_pending",
       {make_pending(n1, big_pend_dr, a2, 20)},
       {tr::overflows_debits_pending}},
      {"overflows_credits_pending",
       {make_pending(n1, a1, big_pend_cr, 20)},
       {tr::overflows_credits_pending}},
      {"overflows_debits_posted",
       {make_transfer(n1, big_post_dr, a2, 20)},
       {tr::overflows_debits_posted}},
      {"overflows_credits_posted",
       {make_transfer(n1, a1, big_post_cr, 20)},
       {tr::overflows_credits_posted}},
      {"overflows_debits", {make_transfer(n1, big_pend_dr, a2, 20)}, {tr::overflows_debits}},
      {"overflows_credits", {make_transfer(n1, a1, big_pend_cr, 20)}, {tr::overflows_credits}},
      {"overflows_timeout",
       {make_pending(n1, a1, a2, 1, 0xffff'ffffu)},
       {tr::overflows_timeout},
       15'000'000'000'000'000'000ull},
      {"exceeds_credits", {make_transfer(n1, dr_bound, a2, 1)}, {tr::exceeds_credits}},
      {"exceeds_credits_pending", {make_pending(n1, dr_bound, a2, 1)}, {tr::exceeds_credits}},
      {"exceeds_credits_overdraft_max_plus_one",
       {make_transfer(n1, overdraft, a2, 501)},
       {tr::exceeds_credits}},
      {"exceeds_credits_counts_debits_pending",
       {make_pending(n1, overdraft, a2, 300), make_transfer(n2, overdraft, a2, 201)},
       {tr::ok, tr::exceeds_credits}},
      {"exceeds_credits_balancing_debit_no_room",
       {make_transfer(n1, dr_bound, a2, 10, transfer_flags::balancing_debit)},
       {tr::exceeds_credits}},
      {"exceeds_credits_balancing_debit_unflagged_account",
       {make_transfer(n1, a3, a2, 10, transfer_flags::balancing_debit)},
       {tr::exceeds_credits}},
      {"exceeds_debits", {make_transfer(n1, a1, cr_bound, 1)}, {tr::exceeds_debits}},
      {"exceeds_debits_balancing_credit_no_room",
       {make_transfer(n1, a1, cr_bound, 10, transfer_flags::balancing_credit)},
       {tr::exceeds_debits}},
      {"exceeds_debits_balancing_credit_unflagged_account",
       {make_transfer(n1, a1, a3, 10, transfer_flags::balancing_credit)},
       {tr::exceeds_debits}},
      {"debit_account_frozen", {make_transfer(n1, frozen, a2, 10)}, {tr::debit_account_frozen}},
      {"debit_account_frozen_pending",
       {make_pending(n1, frozen, a2, 10)},
       {tr::debit_account_frozen}},
      {"credit_account_frozen", {make_transfer(n1, a1, frozen, 10)}, {tr::credit_account_frozen}},
      {"exceeds_transfer_amount_max",
       {make_transfer(n1, capped, a2, 601)},
       {tr::exceeds_transfer_amount_max}},
      {"exceeds_transfer_amount_max_next_day",
       {make_transfer(n1, capped, a2, 601)},
       {tr::exceeds_transfer_amount_max},
       next_day_ns},
      {"exceeds_daily_debit_max",
       {make_transfer(n1, capped, a2, 301)},
       {tr::exceeds_daily_debit_max}},
      {"exceeds_daily_debit_max_pending",
       {make_pending(n1, capped, a2, 301)},
       {tr::exceeds_daily_debit_max}},
      {"exceeds_daily_debit_max_second_in_batch",
       {make_transfer(n1, capped, a2, 200), make_transfer(n2, capped, a2, 101)},
       {tr::ok, tr::exceeds_daily_debit_max}},

      // precedence among event-alone checks: the smaller code
      {"precedence_id_zero_before_amount_zero",
       {with(make_transfer(n1, a1, a2, 0), [](transfer& t) { t.id = 0; })},
       {tr::id_must_not_be_zero}},
      {"precedence_id_max_before_flags",
       {with(make_transfer(n1, a1, a2, 10, pending_flag | post_flag),
             [](transfer& t) { t.id = u128_max; })},
       {tr::id_must_not_be_int_max}},
      {"precedence_exclusive_flags_before_reserved_flag",
       {make_transfer(n1, a1, a2, 10, pending_flag | void_flag | (1u << 9))},
       {tr::flags_are_mutually_exclusive}},
      {"precedence_reserved_flag_before_timestamp",
       {with(make_transfer(n1, a1, a2, 10, 1u << 7), [](transfer& t) { t.timestamp = 3; })},
       {tr::reserved_flag}},
      {"precedence_timestamp_before_debit_zero",
       {with(make_transfer(n1, 0, a2, 10), [](transfer& t) { t.timestamp = 3; })},
       {tr::timestamp_must_be_zero}},
      {"precedence_debit_zero_before_credit_zero",
       {make_transfer(n1, 0, 0, 10)},
       {tr::debit_account_id_must_not_be_zero}},
      {"precedence_debit_max_before_credit_max",
       {make_transfer(n1, u128_max, u128_max, 10)},
       {tr::debit_account_id_must_not_be_int_max}},
      {"precedence_credit_zero_before_amount",
       {make_transfer(n1, a1, 0, 0)},
       {tr::credit_account_id_must_not_be_zero}},
      {"precedence_same_accounts_before_pending_id",
       {with(make_transfer(n1, a1, a1, 10), [](transfer& t) { t.pending_id = 5; })},
       {tr::accounts_must_be_different}},
      {"precedence_pending_id_before_timeout",
       {with(plain,
             [](transfer& t) {
               t.pending_id = 5;
               t.timeout = 5;
             })},
       {tr::pending_id_must_be_zero}},
      {"precedence_pending_id_zero_before_timeout",
       {with(make_post(n1, 0), [](transfer& t) { t.timeout = 5; })},
       {tr::pending_id_must_not_be_zero}},
      {"precedence_timeout_before_amount",
       {with(make_transfer(n1, a1, a2, 0), [](transfer& t) { t.timeout = 5; })},
       {tr::timeout_reserved_for_pending_transfer}},
      {"precedence_amount_before_ledger",
       {with(make_transfer(n1, a1, a2, 0), [](transfer& t) { t.ledger = 0; })},
       {tr::amount_must_not_be_zero}},
      {"precedence_ledger_before_code",
       {with(plain,
             [](transfer& t) {
               t.ledger = 0;
               t.code = 0;
             })},
       {tr::ledger_must_not_be_zero}},
      {"precedence_code_zero_before_state",
       {with(make_transfer(n1, missing, a2, 10), [](transfer& t) { t.code = 0; })},
       {tr::code_must_not_be_zero}},

      // precedence: event alone, then exists / id_already_failed, then state
      {"precedence_event_alone_before_exists_timestamp",
       {with(sent_t_plain(), [](transfer& t) { t.timestamp = 1; })},
       {tr::timestamp_must_be_zero}},
      {"precedence_event_alone_before_exists_amount",
       {with(sent_t_plain(), [](transfer& t) { t.amount = 0; })},
       {tr::amount_must_not_be_zero}},
      {"precedence_exists_flags_before_debit",
       {with(sent_t_plain(),
             [](transfer& t) {
               t.flags = pending_flag;
               t.debit_account_id = a3;
             })},
       {tr::exists_with_different_flags}},
      {"precedence_exists_amount_before_user_data",
       {with(sent_t_plain(),
             [](transfer& t) {
               t.amount = 1;
               t.user_data_64 = 1;
             })},
       {tr::exists_with_different_amount}},
      {"precedence_exists_before_state",
       {with(sent_t_plain(), [](transfer& t) { t.debit_account_id = missing; })},
       {tr::exists_with_different_debit_account_id}},
      {"precedence_exists_ledger_before_state",
       {with(sent_t_plain(), [](transfer& t) { t.ledger = 2; })},
       {tr::exists_with_different_ledger}},
      {"precedence_event_alone_before_id_already_failed",
       {with(sent_t_failed(), [](transfer& t) { t.amount = 0; })},
       {tr::amount_must_not_be_zero}},

      // precedence among state checks: the smaller code
      {"precedence_debit_not_found_before_credit_not_found",
       {make_transfer(n1, missing, missing2, 10)},
       {tr::debit_account_not_found}},
      {"precedence_same_ledger_before_transfer_ledger",
       {with(make_transfer(n1, a1, b1, 10), [](transfer& t) { t.ledger = 2; })},
       {tr::accounts_must_have_the_same_ledger}},
      {"precedence_pending_not_found_before_different_debit",
       {with(make_post(n1, missing), [](transfer& t) { t.debit_account_id = a3; })},
       {tr::pending_transfer_not_found}},
      {"precedence_different_debit_before_exceeds_amount",
       {with(make_post(n1, p_open, 9999), [](transfer& t) { t.debit_account_id = a3; })},
       {tr::pending_transfer_has_different_debit_account_id}},
      {"precedence_different_ledger_before_code",
       {with(make_post(n1, p_open),
             [](transfer& t) {
               t.ledger = 2;
               t.code = 7;
             })},
       {tr::pending_transfer_has_different_ledger}},
      {"precedence_exceeds_amount_before_already_posted",
       {make_post(n1, p_posted, 9999)},
       {tr::exceeds_pending_transfer_amount}},
      {"precedence_different_amount_before_already_voided",
       {make_void(n1, p_voided, 1)},
       {tr::pending_transfer_has_different_amount}},
      {"precedence_exceeds_amount_before_expired",
       {make_post(n1, p_expired, 51)},
       {tr::exceeds_pending_transfer_amount}},
      {"precedence_overflows_debits_pending_before_overflows_debits",
       {make_pending(n1, big_pend_dr, a2, 20)},
       {tr::overflows_debits_pending}},
      {"precedence_debits_before_credits_overflow",
       {make_transfer(n1, big_post_dr, big_post_cr, 20)},
       {tr::overflows_debits_posted}},
      {"precedence_exceeds_credits_before_frozen",
       {make_transfer(n1, frozen, a2, 2000)},
       {tr::exceeds_credits}},
      {"precedence_exceeds_credits_before_credit_frozen",
       {make_transfer(n1, dr_bound, frozen, 1)},
       {tr::exceeds_credits}},
      {"precedence_debit_frozen_before_credit_frozen",
       {make_transfer(n1, frozen, frozen2, 1)},
       {tr::debit_account_frozen}},
      {"precedence_frozen_before_transfer_amount_max",
       {make_transfer(n1, frozen2, a2, 1'000'000)},
       {tr::debit_account_frozen}},
      {"precedence_transfer_amount_max_before_daily",
       {make_transfer(n1, capped, a2, 601)},
       {tr::exceeds_transfer_amount_max}},
  };
}

std::vector<controls_row> controls_rows() {
  const account_controls c = make_controls(a1);
  return {
      {"ok", {with(c, [](account_controls& x) { x.overdraft_max = 5; })}, {cr::ok}},
      {"ok_frozen", {with(c, [](account_controls& x) { x.status_flags = 1; })}, {cr::ok}},
      {"ok_all_zero_resets", {make_controls(frozen)}, {cr::ok}},
      {"ok_twice", {c, c}, {cr::ok, cr::ok}},
      {"account_not_found", {make_controls(missing)}, {cr::account_not_found}},
      {"reserved_field",
       {with(c, [](account_controls& x) { x.reserved[0] = 1; })},
       {cr::reserved_field}},
      {"reserved_field_last_byte",
       {with(c, [](account_controls& x) { x.reserved[27] = 0x80; })},
       {cr::reserved_field}},
      {"reserved_flag",
       {with(c, [](account_controls& x) { x.status_flags = 2; })},
       {cr::reserved_flag}},
      {"reserved_flag_high_bit",
       {with(c, [](account_controls& x) { x.status_flags = 0x8000'0001u; })},
       {cr::reserved_flag}},
      {"precedence_reserved_field_before_reserved_flag",
       {with(c,
             [](account_controls& x) {
               x.reserved[3] = 1;
               x.status_flags = 4;
             })},
       {cr::reserved_field}},
      {"precedence_reserved_field_before_not_found",
       {with(make_controls(missing), [](account_controls& x) { x.reserved[5] = 1; })},
       {cr::reserved_field}},
      {"precedence_reserved_flag_before_not_found",
       {with(make_controls(missing), [](account_controls& x) { x.status_flags = 2; })},
       {cr::reserved_flag}},
      {"mixed_batch",
       {c, make_controls(missing), with(c, [](account_controls& x) { x.status_flags = 2; })},
       {cr::ok, cr::account_not_found, cr::reserved_flag}},
  };
}

template <class Rows>
std::set<std::uint32_t> covered_codes(const Rows& rows) {
  std::set<std::uint32_t> s;
  for (const auto& row : rows)
    for (auto code : row.expected) s.insert(static_cast<std::uint32_t>(code));
  return s;
}

std::set<std::uint32_t> full_range(std::uint32_t count) {
  std::set<std::uint32_t> s;
  for (std::uint32_t i = 0; i < count; ++i) s.insert(i);
  return s;
}

// ---------------------------------------------------------------------------------------
// Tests

TEST(engine_result_codes, fixture_builds) {
  const fixture& f = shared_fixture();
  for (const std::string& e : f.setup_errors) ADD_FAILURE() << e;
  EXPECT_NE(f.p_timed_timestamp, 0u);
  expect_balanced(f.ledger);
  // The fixture's balances that the rows rely on.
  const account_state* bal = f.ledger.find_account(dr_bound);
  ASSERT_NE(bal, nullptr);
  EXPECT_EQ(bal->a.credits_posted, 1000u);
  EXPECT_EQ(bal->a.debits_posted, 1000u);
  const account_state* big = f.ledger.find_account(big_pend_dr);
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->a.debits_pending, big_amount);
}

TEST(engine_result_codes, create_accounts_table) {
  const fixture& f = shared_fixture();
  ASSERT_TRUE(f.setup_errors.empty());
  for (const account_row& row : account_rows()) {
    SCOPED_TRACE(row.name);
    ASSERT_EQ(row.events.size(), row.expected.size());
    reference_ledger ledger = f.ledger;
    const std::vector<account> before = all_accounts(ledger);
    const std::uint64_t base = std::max(rows_now_ns, ledger.last_timestamp() + 1);
    std::vector<result> out(row.events.size());
    ledger.create_accounts(row.events, rows_now_ns, out);
    bool any_ok = false;
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(static_cast<ar>(out[i].status), row.expected[i]) << "event " << i;
      EXPECT_EQ(out[i].reserved, 0u);
      if (row.expected[i] == ar::ok) {
        any_ok = true;
        EXPECT_EQ(out[i].timestamp, base + i) << "event " << i;
      } else if (row.expected[i] != ar::exists) {
        EXPECT_EQ(out[i].timestamp, 0u) << "event " << i;
      }
    }
    EXPECT_EQ(ledger.last_timestamp(), base + out.size() - 1);
    if (!any_ok) {
      EXPECT_EQ(ledger.account_count(), f.ledger.account_count());
      EXPECT_TRUE(same_accounts(before, all_accounts(ledger)));
    }
  }
}

TEST(engine_result_codes, create_transfers_table) {
  const fixture& f = shared_fixture();
  ASSERT_TRUE(f.setup_errors.empty());
  for (const transfer_row& row : transfer_rows(f)) {
    SCOPED_TRACE(row.name);
    ASSERT_EQ(row.events.size(), row.expected.size());
    reference_ledger ledger = f.ledger;
    const std::vector<account> before = all_accounts(ledger);
    const std::uint64_t base = std::max(row.now_ns, ledger.last_timestamp() + 1);
    std::vector<result> out(row.events.size());
    ledger.create_transfers(row.events, row.now_ns, out);
    bool any_ok = false;
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(static_cast<tr>(out[i].status), row.expected[i]) << "event " << i;
      EXPECT_EQ(out[i].reserved, 0u);
      if (row.expected[i] == tr::ok) {
        any_ok = true;
        EXPECT_EQ(out[i].timestamp, base + i) << "event " << i;
      } else if (row.expected[i] != tr::exists) {
        EXPECT_EQ(out[i].timestamp, 0u) << "event " << i;
      }
    }
    EXPECT_EQ(ledger.last_timestamp(), base + out.size() - 1);
    expect_balanced(ledger);
    if (!any_ok) {
      EXPECT_EQ(ledger.transfer_count(), f.ledger.transfer_count());
      EXPECT_TRUE(same_accounts(before, all_accounts(ledger)));
    }
  }
}

TEST(engine_result_codes, set_account_controls_table) {
  const fixture& f = shared_fixture();
  ASSERT_TRUE(f.setup_errors.empty());
  for (const controls_row& row : controls_rows()) {
    SCOPED_TRACE(row.name);
    ASSERT_EQ(row.events.size(), row.expected.size());
    reference_ledger ledger = f.ledger;
    const std::uint64_t last = ledger.last_timestamp();
    std::vector<result> out(row.events.size());
    ledger.set_account_controls(row.events, out);
    for (std::size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(static_cast<cr>(out[i].status), row.expected[i]) << "event " << i;
      EXPECT_EQ(out[i].reserved, 0u);
      EXPECT_EQ(out[i].timestamp, 0u);
    }
    EXPECT_EQ(ledger.last_timestamp(), last);
  }
}

TEST(engine_result_codes, every_account_code_has_a_row) {
  EXPECT_EQ(covered_codes(account_rows()), full_range(create_account_result_count));
}

TEST(engine_result_codes, every_transfer_code_has_a_row) {
  const fixture& f = shared_fixture();
  EXPECT_EQ(covered_codes(transfer_rows(f)), full_range(create_transfer_result_count));
}

TEST(engine_result_codes, every_controls_code_has_a_row) {
  EXPECT_EQ(covered_codes(controls_rows()), full_range(set_controls_result_count));
}

TEST(engine_result_codes, exists_answers_the_original_timestamp) {
  const fixture& f = shared_fixture();
  ASSERT_TRUE(f.setup_errors.empty());
  reference_ledger ledger = f.ledger;
  const std::vector<transfer> events = {sent_t_plain()};
  std::vector<result> out(1);
  ledger.create_transfers(events, rows_now_ns, out);
  EXPECT_EQ(static_cast<tr>(out[0].status), tr::exists);
  EXPECT_EQ(out[0].timestamp, f.t_plain_timestamp);

  const std::vector<account> accounts = {sent_a1()};
  ledger.create_accounts(accounts, rows_now_ns, out);
  EXPECT_EQ(static_cast<ar>(out[0].status), ar::exists);
  const account_state* s = ledger.find_account(a1);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(out[0].timestamp, s->a.timestamp);
}

TEST(engine_result_codes, set_account_controls_sets_values) {
  const fixture& f = shared_fixture();
  reference_ledger ledger = f.ledger;
  const std::vector<account_controls> events = {with(make_controls(a3), [](account_controls& c) {
    c.overdraft_max = 1;
    c.transfer_amount_max = 2;
    c.daily_debit_max = 3;
    c.status_flags = account_status_flags::frozen;
  })};
  std::vector<result> out(1);
  ledger.set_account_controls(events, out);
  ASSERT_EQ(static_cast<cr>(out[0].status), cr::ok);
  const controls_state* c = ledger.find_controls(a3);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->overdraft_max, 1u);
  EXPECT_EQ(c->transfer_amount_max, 2u);
  EXPECT_EQ(c->daily_debit_max, 3u);
  EXPECT_TRUE(c->frozen());

  // Setting all zero undoes it: the account takes transfers again.
  const std::vector<account_controls> reset = {make_controls(a3)};
  ledger.set_account_controls(reset, out);
  ASSERT_EQ(static_cast<cr>(out[0].status), cr::ok);
  c = ledger.find_controls(a3);
  if (c != nullptr) {
    EXPECT_TRUE(c->is_default());
  }
  const std::vector<transfer> t = {make_transfer(n1, a3, a2, 1)};
  ledger.create_transfers(t, rows_now_ns, out);
  EXPECT_EQ(static_cast<tr>(out[0].status), tr::ok);
}

// ---------------------------------------------------------------------------------------
// Names, transcribed from docs/PROTOCOL.md sections 6 and 7.

constexpr std::array<std::string_view, 19> account_result_names = {
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

constexpr std::array<std::string_view, 62> transfer_result_names = {
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

constexpr std::array<std::string_view, 4> controls_result_names = {
    "ok",
    "account_not_found",
    "reserved_field",
    "reserved_flag",
};

static_assert(account_result_names.size() == create_account_result_count);
static_assert(transfer_result_names.size() == create_transfer_result_count);
static_assert(controls_result_names.size() == set_controls_result_count);

TEST(engine_result_codes, account_result_names) {
  for (std::uint32_t i = 0; i < create_account_result_count; ++i)
    EXPECT_EQ(name(static_cast<ar>(i)), account_result_names[i]) << "code " << i;
}

TEST(engine_result_codes, transfer_result_names) {
  for (std::uint32_t i = 0; i < create_transfer_result_count; ++i)
    EXPECT_EQ(name(static_cast<tr>(i)), transfer_result_names[i]) << "code " << i;
  EXPECT_EQ(name(tr::exceeds_daily_debit_max), "exceeds_daily_debit_max");
  EXPECT_EQ(name(tr::pending_transfer_expired), "pending_transfer_expired");
}

TEST(engine_result_codes, controls_result_names) {
  for (std::uint32_t i = 0; i < set_controls_result_count; ++i)
    EXPECT_EQ(name(static_cast<cr>(i)), controls_result_names[i]) << "code " << i;
}

// The enum's numbers are the wire's: spot checks against docs/PROTOCOL.md.
static_assert(static_cast<std::uint32_t>(tr::id_already_failed) == 15);
static_assert(static_cast<std::uint32_t>(tr::debit_account_not_found) == 34);
static_assert(static_cast<std::uint32_t>(tr::pending_transfer_expired) == 48);
static_assert(static_cast<std::uint32_t>(tr::exceeds_daily_debit_max) == 61);
static_assert(static_cast<std::uint32_t>(ar::code_must_not_be_zero) == 18);
static_assert(static_cast<std::uint32_t>(cr::reserved_flag) == 3);

}  // namespace
}  // namespace remit
