// Helpers shared by the actor engine tests: event builders, an injectable clock, blocking
// wrappers around remit::engine's futures (with a deadline, so a lost reply fails loudly
// instead of hanging until the ctest timeout), and byte-exact comparisons with messages
// that name the differing fields.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"
#include "tests/support/builders.hpp"
#include "tests/support/engine_calls.hpp"

namespace remit::actor_test {

using tr = create_transfer_result;
using ar = create_account_result;
using test::create_accounts;
using test::create_transfers;
using test::describe;
using test::epoch_2023_ns;
using test::get_reply;
using test::lookup_accounts;
using test::lookup_transfers;
using test::manual_clock;
using test::reply_deadline;
using test::same_bytes;
using test::set_controls;
using test::stats;
using test::u128_str;

// ---------------------------------------------------------------------------------------
// Printing

inline std::string describe_transfer_result(const result& r) {
  std::ostringstream os;
  os << static_cast<std::uint32_t>(r.status) << " ("
     << name(static_cast<create_transfer_result>(r.status)) << ") ts " << r.timestamp;
  return os.str();
}

inline std::string describe_account_result(const result& r) {
  std::ostringstream os;
  os << static_cast<std::uint32_t>(r.status) << " ("
     << name(static_cast<create_account_result>(r.status)) << ") ts " << r.timestamp;
  return os.str();
}

// ---------------------------------------------------------------------------------------
// Event builders

using test::make_account;
using test::make_transfer;

inline transfer make_pending(u128 id, u128 debit, u128 credit, u128 amount,
                             std::uint32_t timeout_s = 0, std::uint32_t ledger = 1) {
  transfer t = make_transfer(id, debit, credit, amount, transfer_flags::pending, ledger);
  t.timeout = timeout_s;
  return t;
}

using test::linked;
using test::make_controls;
using test::make_post;
using test::make_void;

inline account_filter make_filter(u128 account_id, std::uint32_t flags, std::uint32_t limit,
                                  std::uint64_t ts_min = 0, std::uint64_t ts_max = 0) {
  account_filter f{};
  f.account_id = account_id;
  f.flags = flags;
  f.limit = limit;
  f.timestamp_min = ts_min;
  f.timestamp_max = ts_max;
  return f;
}

// ---------------------------------------------------------------------------------------
// Engine configuration

// An engine config for these tests: durability off (nothing written, nothing recovered;
// the engine's default is a journal in ./remit-data), the given shards and threads.
inline engine_config test_config(std::uint32_t shards = 2, std::uint32_t threads = 2) {
  engine_config c;
  c.shards = shards;
  c.threads = threads;
  c.durability = false;
  c.snapshot_at_shutdown = false;
  return c;
}

// ---------------------------------------------------------------------------------------
// Blocking calls

// Waits until the engine counts no call in flight (it counts a call out just after its
// callback returns, so a reply can come a moment before). False after 5 s.
inline bool wait_idle(engine& e) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.inflight_requests() != 0) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

inline std::vector<transfer> account_transfers(engine& e, const account_filter& f) {
  engine_reply r = get_reply(e.get_account_transfers(f), "get_account_transfers reply");
  EXPECT_EQ(r.status, engine_status::ok);
  return std::move(r.transfers);
}

inline account lookup_account(engine& e, u128 id) {
  const u128 ids[1] = {id};
  std::vector<account> out = lookup_accounts(e, ids);
  if (out.size() != 1) {
    ADD_FAILURE() << "account " << u128_str(id) << " not found";
    return account{};
  }
  return out[0];
}

// Same on the reference ledger.
inline std::vector<account> ref_lookup_accounts(const reference_ledger& l,
                                                std::span<const u128> ids) {
  std::vector<account> out(ids.size());
  out.resize(l.lookup_accounts(ids, out));
  return out;
}

inline std::vector<transfer> ref_lookup_transfers(const reference_ledger& l,
                                                  std::span<const u128> ids) {
  std::vector<transfer> out(ids.size());
  out.resize(l.lookup_transfers(ids, out));
  return out;
}

inline std::vector<transfer> ref_account_transfers(const reference_ledger& l,
                                                   const account_filter& f) {
  std::vector<transfer> out(f.limit);
  out.resize(l.get_account_transfers(f, out));
  return out;
}

// Compares two lists element by element, byte for byte; reports the first few differences.
template <class T>
::testing::AssertionResult same_list(const std::vector<T>& expected, const std::vector<T>& actual,
                                     const std::string& what) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << what << ": expected " << expected.size() << " items, got " << actual.size();
  }
  std::ostringstream os;
  int diffs = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (same_bytes(expected[i], actual[i])) continue;
    if (++diffs <= 5) {
      os << "\n  [" << i << "] expected " << describe(expected[i]) << "\n  [" << i << "] actual   "
         << describe(actual[i]);
    }
  }
  if (diffs == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << diffs << " differ" << os.str();
}

inline ::testing::AssertionResult same_stats(const ledger_stats& expected,
                                             const ledger_stats& actual) {
  if (same_bytes(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "stats: expected " << describe(expected) << ", got " << describe(actual);
}

// ---------------------------------------------------------------------------------------
// An engine and a reference ledger fed the same calls at the same injected time.

class both_sides {
 public:
  explicit both_sides(engine_config cfg = test_config(), std::uint64_t start_ns = epoch_2023_ns)
      : clock_(start_ns) {
    cfg.clock = clock_.fn();
    eng_ = std::make_unique<engine>(std::move(cfg));
  }

  engine& eng() { return *eng_; }
  reference_ledger& ref() { return ref_; }
  const manual_clock& clock() const { return clock_; }

  // Each call first moves the clock on by `step_ns`.
  struct pair {
    std::vector<result> expected;  // the reference's
    std::vector<result> actual;    // the engine's
  };
  pair accounts(const std::vector<account>& events) {
    clock_.advance(step_ns);
    pair p;
    p.expected.resize(events.size());
    ref_.create_accounts(events, clock_.get(), p.expected);
    p.actual = create_accounts(*eng_, events);
    return p;
  }
  pair transfers(const std::vector<transfer>& events) {
    clock_.advance(step_ns);
    pair p;
    p.expected.resize(events.size());
    ref_.create_transfers(events, clock_.get(), p.expected);
    p.actual = create_transfers(*eng_, events);
    return p;
  }
  pair controls(const std::vector<account_controls>& events) {
    pair p;
    p.expected.resize(events.size());
    ref_.set_account_controls(events, p.expected);
    p.actual = set_controls(*eng_, events);
    return p;
  }

  // The accounts, byte for byte, on both sides.
  ::testing::AssertionResult same_accounts(const std::vector<u128>& ids) {
    return same_list(ref_lookup_accounts(ref_, ids), lookup_accounts(*eng_, ids), "accounts");
  }

  static constexpr std::uint64_t step_ns = ns_per_s;

 private:
  manual_clock clock_;
  std::unique_ptr<engine> eng_;
  reference_ledger ref_;
};

// Results (code, reserved, timestamp) equal, event by event.
inline ::testing::AssertionResult same_results(const std::vector<result>& expected,
                                               const std::vector<result>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << "expected " << expected.size() << " results, got " << actual.size();
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    if (!same_bytes(expected[i], actual[i])) {
      return ::testing::AssertionFailure()
             << "result " << i << ": expected {" << expected[i].status << ", ts "
             << expected[i].timestamp << "}, got {" << actual[i].status << ", ts "
             << actual[i].timestamp << "}";
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::vector<std::uint32_t> codes_of(const std::vector<result>& r) {
  std::vector<std::uint32_t> out;
  for (const result& x : r) out.push_back(x.status);
  return out;
}

template <class Code>
std::vector<std::uint32_t> codes(std::initializer_list<Code> list) {
  std::vector<std::uint32_t> out;
  for (const Code c : list) out.push_back(static_cast<std::uint32_t>(c));
  return out;
}

}  // namespace remit::actor_test
