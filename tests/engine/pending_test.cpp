// Pending transfers through their whole life (docs/PROTOCOL.md section 4, Transfer): post in
// full, in part and exactly, void, double post and post after void, expiry by `expire` and
// by reaching expires_at, timeout 0. After every step: the result code, both accounts'
// balances, the stored transfer as lookup_transfers shows it, and the ledger's stats.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"

namespace remit {

static void PrintTo(create_transfer_result r, std::ostream* os) {
  *os << static_cast<std::uint32_t>(r) << " (" << name(r) << ")";
}

namespace {

using tr = create_transfer_result;

constexpr std::uint64_t t0_ns = 20'000 * ns_per_day + ns_per_s * 8 * 3600;

constexpr u128 dr = 1;
constexpr u128 cr = 2;
constexpr u128 other = 3;
constexpr u128 bounded = 4;  // debits_must_not_exceed_credits
constexpr u128 p = 100;      // the pending transfer of each test
constexpr std::uint16_t p_code = 7;
constexpr u128 p_amount = 100;

struct balances {
  u128 debits_pending = 0;
  u128 debits_posted = 0;
  u128 credits_pending = 0;
  u128 credits_posted = 0;
  bool operator==(const balances&) const = default;
};

[[maybe_unused]] void PrintTo(const balances& b, std::ostream* os) {
  *os << "{dr_pending " << ::testing::PrintToString(b.debits_pending) << ", dr_posted "
      << ::testing::PrintToString(b.debits_posted) << ", cr_pending "
      << ::testing::PrintToString(b.credits_pending) << ", cr_posted "
      << ::testing::PrintToString(b.credits_posted) << "}";
}

// The stats fields a test checks.
struct stats {
  std::uint64_t transfers_posted = 0;
  std::uint64_t transfers_pending = 0;
  u128 volume_posted = 0;
  bool operator==(const stats&) const = default;
};

[[maybe_unused]] void PrintTo(const stats& s, std::ostream* os) {
  *os << "{posted " << s.transfers_posted << ", pending " << s.transfers_pending << ", volume "
      << ::testing::PrintToString(s.volume_posted) << "}";
}

transfer make_pending(u128 id, u128 amount, std::uint32_t timeout = 0) {
  transfer t{};
  t.id = id;
  t.debit_account_id = dr;
  t.credit_account_id = cr;
  t.amount = amount;
  t.timeout = timeout;
  t.ledger = 1;
  t.code = p_code;
  t.flags = transfer_flags::pending;
  return t;
}

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

class engine_pending : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<account> accounts;
    for (u128 id : {dr, cr, other, bounded}) {
      account a{};
      a.id = id;
      a.ledger = 1;
      a.code = 1;
      if (id == bounded) a.flags = account_flags::debits_must_not_exceed_credits;
      accounts.push_back(a);
    }
    std::vector<result> out(accounts.size());
    ledger_.create_accounts(accounts, t0_ns, out);
    for (const result& r : out) ASSERT_EQ(r.status, 0u);
  }

  // One event at now_ns_ (which then moves on by a second); returns its result.
  result create(const transfer& t) { return create_at(t, next_now()); }

  result create_at(const transfer& t, std::uint64_t now_ns) {
    const std::vector<transfer> events = {t};
    std::vector<result> out(1);
    ledger_.create_transfers(events, now_ns, out);
    return out[0];
  }

  tr code(const transfer& t) { return static_cast<tr>(create(t).status); }

  std::uint64_t next_now() {
    now_ns_ += ns_per_s;
    return now_ns_;
  }

  balances of(u128 id) const {
    const account_state* s = ledger_.find_account(id);
    if (s == nullptr) {
      ADD_FAILURE() << "no account";
      return {};
    }
    return {s->a.debits_pending, s->a.debits_posted, s->a.credits_pending, s->a.credits_posted};
  }

  stats ledger_stats_1() const {
    const ledger_stats s = ledger_.get_ledger_stats(1);
    EXPECT_EQ(s.ledger, 1u);
    EXPECT_EQ(s.accounts, 4u);
    return {s.transfers_posted, s.transfers_pending, s.volume_posted};
  }

  transfer lookup(u128 id) const {
    const std::vector<u128> ids = {id};
    std::vector<transfer> out(1);
    if (ledger_.lookup_transfers(ids, out) != 1) {
      ADD_FAILURE() << "transfer not found";
      return {};
    }
    return out[0];
  }

  bool found(u128 id) const {
    const std::vector<u128> ids = {id};
    std::vector<transfer> out(1);
    return ledger_.lookup_transfers(ids, out) == 1;
  }

  // Creates p (amount p_amount) and checks the state it leaves; returns its timestamp.
  std::uint64_t create_p(std::uint32_t timeout = 0) {
    const result r = create(make_pending(p, p_amount, timeout));
    EXPECT_EQ(static_cast<tr>(r.status), tr::ok);
    EXPECT_EQ(of(dr), (balances{p_amount, 0, 0, 0}));
    EXPECT_EQ(of(cr), (balances{0, 0, p_amount, 0}));
    EXPECT_EQ(ledger_stats_1(), (stats{0, 1, 0}));
    return r.timestamp;
  }

  // The stored post or void: the pending transfer's accounts, ledger and code, `amount`,
  // the rest as sent.
  void expect_stored(const transfer& sent, const result& r, u128 amount) const {
    const transfer s = lookup(sent.id);
    EXPECT_EQ(s.id, sent.id);
    EXPECT_EQ(s.debit_account_id, dr);
    EXPECT_EQ(s.credit_account_id, cr);
    EXPECT_EQ(s.amount, amount);
    EXPECT_EQ(s.pending_id, p);
    EXPECT_EQ(s.user_data_128, sent.user_data_128);
    EXPECT_EQ(s.user_data_64, sent.user_data_64);
    EXPECT_EQ(s.user_data_32, sent.user_data_32);
    EXPECT_EQ(s.timeout, sent.timeout);
    EXPECT_EQ(s.ledger, 1u);
    EXPECT_EQ(s.code, p_code);
    EXPECT_EQ(s.flags, sent.flags);
    EXPECT_EQ(s.timestamp, r.timestamp);
  }

  // The pending transfer itself never changes after it is created.
  void expect_p_unchanged(std::uint64_t timestamp, std::uint32_t timeout = 0) const {
    const transfer s = lookup(p);
    EXPECT_EQ(s.amount, p_amount);
    EXPECT_EQ(s.flags, transfer_flags::pending);
    EXPECT_EQ(s.timeout, timeout);
    EXPECT_EQ(s.debit_account_id, dr);
    EXPECT_EQ(s.credit_account_id, cr);
    EXPECT_EQ(s.timestamp, timestamp);
  }

  reference_ledger ledger_;
  std::uint64_t now_ns_ = t0_ns;
};

TEST_F(engine_pending, post_with_amount_zero_posts_the_full_amount) {
  const std::uint64_t p_ts = create_p();
  const transfer post = [] {
    transfer t = make_post(200, p);
    t.user_data_128 = 1;
    t.user_data_64 = 2;
    t.user_data_32 = 3;
    return t;
  }();
  const result r = create(post);
  ASSERT_EQ(static_cast<tr>(r.status), tr::ok);
  EXPECT_GT(r.timestamp, p_ts);
  EXPECT_EQ(of(dr), (balances{0, p_amount, 0, 0}));
  EXPECT_EQ(of(cr), (balances{0, 0, 0, p_amount}));
  EXPECT_EQ(ledger_stats_1(), (stats{1, 0, p_amount}));
  expect_stored(post, r, p_amount);
  expect_p_unchanged(p_ts);
}

TEST_F(engine_pending, partial_post_releases_the_rest) {
  const std::uint64_t p_ts = create_p();
  const transfer post = make_post(200, p, 30);
  const result r = create(post);
  ASSERT_EQ(static_cast<tr>(r.status), tr::ok);
  EXPECT_EQ(of(dr), (balances{0, 30, 0, 0}));
  EXPECT_EQ(of(cr), (balances{0, 0, 0, 30}));
  EXPECT_EQ(ledger_stats_1(), (stats{1, 0, 30}));
  expect_stored(post, r, 30);
  expect_p_unchanged(p_ts);
  // The released rest cannot be posted later.
  EXPECT_EQ(code(make_post(201, p, 70)), tr::pending_transfer_already_posted);
  EXPECT_EQ(of(dr), (balances{0, 30, 0, 0}));
}

TEST_F(engine_pending, post_of_exactly_the_pending_amount) {
  create_p();
  const transfer post = make_post(200, p, p_amount);
  const result r = create(post);
  ASSERT_EQ(static_cast<tr>(r.status), tr::ok);
  EXPECT_EQ(of(dr), (balances{0, p_amount, 0, 0}));
  EXPECT_EQ(of(cr), (balances{0, 0, 0, p_amount}));
  EXPECT_EQ(ledger_stats_1(), (stats{1, 0, p_amount}));
  expect_stored(post, r, p_amount);
}

TEST_F(engine_pending, post_of_more_than_the_pending_amount_fails) {
  create_p();
  EXPECT_EQ(code(make_post(200, p, p_amount + 1)), tr::exceeds_pending_transfer_amount);
  EXPECT_EQ(of(dr), (balances{p_amount, 0, 0, 0}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 1, 0}));
  EXPECT_FALSE(found(200));
  EXPECT_EQ(code(make_post(201, p, p_amount)), tr::ok);
}

TEST_F(engine_pending, post_naming_the_pending_transfers_fields_explicitly) {
  create_p();
  transfer post = make_post(200, p, 40);
  post.debit_account_id = dr;
  post.credit_account_id = cr;
  post.ledger = 1;
  post.code = p_code;
  const result r = create(post);
  ASSERT_EQ(static_cast<tr>(r.status), tr::ok);
  expect_stored(post, r, 40);
  EXPECT_EQ(ledger_stats_1(), (stats{1, 0, 40}));
}

TEST_F(engine_pending, void_with_amount_zero_releases_everything) {
  const std::uint64_t p_ts = create_p();
  transfer v = make_void(200, p);
  v.user_data_64 = 9;
  const result r = create(v);
  ASSERT_EQ(static_cast<tr>(r.status), tr::ok);
  EXPECT_EQ(of(dr), (balances{}));
  EXPECT_EQ(of(cr), (balances{}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
  expect_stored(v, r, p_amount);  // a void shows the pending amount
  expect_p_unchanged(p_ts);
}

TEST_F(engine_pending, void_carries_zero_or_the_pending_amount) {
  create_p();
  struct row {
    u128 amount;
    tr expected;
  };
  const row rows[] = {
      {1, tr::pending_transfer_has_different_amount},
      {p_amount - 1, tr::pending_transfer_has_different_amount},
      {p_amount + 1, tr::pending_transfer_has_different_amount},
      {u128_max - 1, tr::pending_transfer_has_different_amount},
      {p_amount, tr::ok},
  };
  u128 id = 200;
  for (const row& x : rows) {
    SCOPED_TRACE(::testing::PrintToString(x.amount));
    const transfer v = make_void(id++, p, x.amount);
    const result r = create(v);
    EXPECT_EQ(static_cast<tr>(r.status), x.expected);
    if (x.expected == tr::ok) {
      expect_stored(v, r, p_amount);
      EXPECT_EQ(of(dr), (balances{}));
      EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
    } else {
      EXPECT_EQ(of(dr), (balances{p_amount, 0, 0, 0}));
      EXPECT_EQ(ledger_stats_1(), (stats{0, 1, 0}));
    }
  }
}

TEST_F(engine_pending, double_post_and_void_after_post) {
  create_p();
  ASSERT_EQ(code(make_post(200, p)), tr::ok);
  const balances dr_after = of(dr);
  const stats stats_after = ledger_stats_1();
  struct row {
    transfer t;
    tr expected;
  };
  const row rows[] = {
      {make_post(201, p), tr::pending_transfer_already_posted},
      {make_post(202, p, 1), tr::pending_transfer_already_posted},
      {make_void(203, p), tr::pending_transfer_already_posted},
      {make_void(204, p, p_amount), tr::pending_transfer_already_posted},
      // The failures depended on state, so their ids stay failed.
      {make_post(201, p), tr::id_already_failed},
      {make_void(203, p), tr::id_already_failed},
      // The first post's id answers `exists`.
      {make_post(200, p), tr::exists},
  };
  for (const row& x : rows) {
    SCOPED_TRACE(::testing::PrintToString(x.t.id));
    EXPECT_EQ(code(x.t), x.expected);
    EXPECT_EQ(of(dr), dr_after);
    EXPECT_EQ(ledger_stats_1(), stats_after);
  }
  EXPECT_FALSE(found(201));
  EXPECT_FALSE(found(204));
}

TEST_F(engine_pending, post_and_void_after_void) {
  create_p();
  ASSERT_EQ(code(make_void(200, p)), tr::ok);
  struct row {
    transfer t;
    tr expected;
  };
  const row rows[] = {
      {make_post(201, p), tr::pending_transfer_already_voided},
      {make_post(202, p, p_amount), tr::pending_transfer_already_voided},
      {make_void(203, p), tr::pending_transfer_already_voided},
      {make_void(200, p), tr::exists},
  };
  for (const row& x : rows) {
    SCOPED_TRACE(::testing::PrintToString(x.t.id));
    EXPECT_EQ(code(x.t), x.expected);
    EXPECT_EQ(of(dr), (balances{}));
    EXPECT_EQ(of(cr), (balances{}));
    EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
  }
}

TEST_F(engine_pending, expire_releases_amounts_then_post_and_void_fail) {
  const std::uint64_t p_ts = create_p(10);
  const std::uint64_t expires_at_ns = p_ts + 10 * ns_per_s;
  EXPECT_EQ(ledger_.expire(expires_at_ns - 1), 0u);
  EXPECT_EQ(of(dr), (balances{p_amount, 0, 0, 0}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 1, 0}));

  EXPECT_EQ(ledger_.expire(expires_at_ns), 1u);
  EXPECT_EQ(of(dr), (balances{}));
  EXPECT_EQ(of(cr), (balances{}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
  expect_p_unchanged(p_ts, 10);

  EXPECT_EQ(ledger_.expire(expires_at_ns + ns_per_day), 0u);  // released once only
  now_ns_ = expires_at_ns;
  EXPECT_EQ(code(make_post(200, p)), tr::pending_transfer_expired);
  EXPECT_EQ(code(make_void(201, p)), tr::pending_transfer_expired);
  EXPECT_EQ(code(make_post(202, p, p_amount)), tr::pending_transfer_expired);
  EXPECT_EQ(of(dr), (balances{}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
  EXPECT_FALSE(found(200));
}

TEST_F(engine_pending, post_at_expires_at_before_expire_fails_and_releases_nothing) {
  const std::uint64_t p_ts = create_p(10);
  const std::uint64_t expires_at_ns = p_ts + 10 * ns_per_s;
  ASSERT_GT(expires_at_ns, ledger_.last_timestamp());

  const result r = create_at(make_post(200, p), expires_at_ns);
  EXPECT_EQ(static_cast<tr>(r.status), tr::pending_transfer_expired);
  EXPECT_EQ(r.timestamp, 0u);
  EXPECT_EQ(ledger_.last_timestamp(), expires_at_ns);
  // Only expire() releases the amounts.
  EXPECT_EQ(of(dr), (balances{p_amount, 0, 0, 0}));
  EXPECT_EQ(of(cr), (balances{0, 0, p_amount, 0}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 1, 0}));

  EXPECT_EQ(static_cast<tr>(create_at(make_void(201, p), expires_at_ns + 5).status),
            tr::pending_transfer_expired);
  EXPECT_EQ(ledger_.expire(expires_at_ns), 1u);
  EXPECT_EQ(of(dr), (balances{}));
  EXPECT_EQ(of(cr), (balances{}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
}

TEST_F(engine_pending, post_just_before_expires_at_succeeds) {
  const std::uint64_t p_ts = create_p(10);
  const std::uint64_t expires_at_ns = p_ts + 10 * ns_per_s;
  const result r = create_at(make_post(200, p), expires_at_ns - 1);
  EXPECT_EQ(static_cast<tr>(r.status), tr::ok);
  EXPECT_EQ(r.timestamp, expires_at_ns - 1);
  EXPECT_EQ(ledger_stats_1(), (stats{1, 0, p_amount}));
  EXPECT_EQ(ledger_.expire(expires_at_ns + ns_per_s), 0u);  // nothing left to release
  EXPECT_EQ(of(dr), (balances{0, p_amount, 0, 0}));
}

TEST_F(engine_pending, timeout_zero_never_expires) {
  const std::uint64_t p_ts = create_p(0);
  EXPECT_EQ(ledger_.expire(p_ts + 1000 * ns_per_day), 0u);
  EXPECT_EQ(ledger_.expire(std::numeric_limits<std::uint64_t>::max()), 0u);
  EXPECT_EQ(of(dr), (balances{p_amount, 0, 0, 0}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 1, 0}));
  const result r = create_at(make_post(200, p), p_ts + 1000 * ns_per_day);
  EXPECT_EQ(static_cast<tr>(r.status), tr::ok);
  EXPECT_EQ(ledger_stats_1(), (stats{1, 0, p_amount}));
}

TEST_F(engine_pending, expire_releases_only_what_is_due) {
  // p: 5 s, 101: 20 s, 102: never, 103: 5 s but posted first.
  const std::uint64_t ts = create_p(5);
  ASSERT_EQ(code(make_pending(101, 10, 20)), tr::ok);
  ASSERT_EQ(code(make_pending(102, 20, 0)), tr::ok);
  ASSERT_EQ(code(make_pending(103, 30, 5)), tr::ok);
  ASSERT_EQ(code(make_post(200, 103)), tr::ok);
  EXPECT_EQ(of(dr), (balances{p_amount + 10 + 20, 30, 0, 0}));
  EXPECT_EQ(ledger_stats_1(), (stats{1, 3, 30}));

  EXPECT_EQ(ledger_.expire(ts + 5 * ns_per_s), 1u);  // p; 103 is no longer pending
  EXPECT_EQ(of(dr), (balances{10 + 20, 30, 0, 0}));
  EXPECT_EQ(ledger_stats_1(), (stats{1, 2, 30}));

  EXPECT_EQ(ledger_.expire(ts + 60 * ns_per_s), 1u);  // 101
  EXPECT_EQ(of(dr), (balances{20, 30, 0, 0}));
  EXPECT_EQ(of(cr), (balances{0, 0, 20, 30}));
  EXPECT_EQ(ledger_stats_1(), (stats{1, 1, 30}));

  EXPECT_EQ(ledger_.expire(ts + 1000 * ns_per_day), 0u);
  EXPECT_EQ(ledger_stats_1(), (stats{1, 1, 30}));
}

TEST_F(engine_pending, several_expire_at_once) {
  const std::uint64_t ts = create_p(3);
  ASSERT_EQ(code(make_pending(101, 10, 1)), tr::ok);
  ASSERT_EQ(code(make_pending(102, 20, 2)), tr::ok);
  EXPECT_EQ(ledger_stats_1(), (stats{0, 3, 0}));
  EXPECT_EQ(ledger_.expire(ts + 3600 * ns_per_s), 3u);
  EXPECT_EQ(of(dr), (balances{}));
  EXPECT_EQ(of(cr), (balances{}));
  EXPECT_EQ(ledger_stats_1(), (stats{0, 0, 0}));
}

TEST_F(engine_pending, pending_debits_count_against_the_bound_until_voided) {
  transfer fund{};
  fund.id = 50;
  fund.debit_account_id = other;
  fund.credit_account_id = bounded;
  fund.amount = 100;
  fund.ledger = 1;
  fund.code = 1;
  ASSERT_EQ(code(fund), tr::ok);

  transfer hold = make_pending(51, 80);
  hold.debit_account_id = bounded;
  ASSERT_EQ(code(hold), tr::ok);

  transfer spend = fund;
  spend.id = 52;
  spend.debit_account_id = bounded;
  spend.credit_account_id = other;
  spend.amount = 21;
  EXPECT_EQ(code(spend), tr::exceeds_credits);  // 80 held of 100

  ASSERT_EQ(code(make_void(53, 51)), tr::ok);
  spend.id = 54;
  spend.amount = 100;
  EXPECT_EQ(code(spend), tr::ok);  // the void gave the 80 back
  EXPECT_EQ(of(bounded), (balances{0, 100, 0, 100}));
}

TEST_F(engine_pending, post_stored_on_the_pending_transfers_accounts_in_history) {
  create_p();
  ASSERT_EQ(code(make_post(200, p, 25)), tr::ok);
  account_filter f{};
  f.account_id = dr;
  f.limit = 10;
  f.flags = account_filter_flags::debits;
  std::vector<transfer> out(10);
  const std::size_t n = ledger_.get_account_transfers(f, out);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(out[0].id, p);
  EXPECT_EQ(out[1].id, 200u);
  EXPECT_EQ(out[1].amount, 25u);
}

}  // namespace
}  // namespace remit
