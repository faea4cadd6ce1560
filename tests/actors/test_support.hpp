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

namespace remit::actor_test {

using tr = create_transfer_result;
using ar = create_account_result;

// ---------------------------------------------------------------------------------------
// Printing

// Decimal below 2^64, else "0x<hi>:<lo>" in hex.
inline std::string u128_str(u128 x) {
  if (u128_hi(x) != 0) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "0x%llx:%llx", static_cast<unsigned long long>(u128_hi(x)),
                  static_cast<unsigned long long>(u128_lo(x)));
    return buf;
  }
  if (x == 0) return "0";
  std::string s;
  while (x != 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
    x /= 10;
  }
  return s;
}

inline std::string describe(const transfer& t) {
  std::ostringstream os;
  os << "{id " << u128_str(t.id) << " dr " << u128_str(t.debit_account_id) << " cr "
     << u128_str(t.credit_account_id) << " amount " << u128_str(t.amount) << " pending_id "
     << u128_str(t.pending_id) << " ud128 " << u128_str(t.user_data_128) << " ud64 "
     << t.user_data_64 << " ud32 " << t.user_data_32 << " timeout " << t.timeout << " ledger "
     << t.ledger << " code " << t.code << " flags 0x" << std::hex << t.flags << std::dec << " ts "
     << t.timestamp << "}";
  return os.str();
}

inline std::string describe(const account& a) {
  std::ostringstream os;
  os << "{id " << u128_str(a.id) << " dp " << u128_str(a.debits_pending) << " dP "
     << u128_str(a.debits_posted) << " cp " << u128_str(a.credits_pending) << " cP "
     << u128_str(a.credits_posted) << " ud128 " << u128_str(a.user_data_128) << " ud64 "
     << a.user_data_64 << " ud32 " << a.user_data_32 << " ledger " << a.ledger << " code " << a.code
     << " flags 0x" << std::hex << a.flags << std::dec << " ts " << a.timestamp << "}";
  return os.str();
}

inline std::string describe(const ledger_stats& s) {
  std::ostringstream os;
  os << "{ledger " << s.ledger << " accounts " << s.accounts << " posted " << s.transfers_posted
     << " pending " << s.transfers_pending << " volume " << u128_str(s.volume_posted) << "}";
  return os.str();
}

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

template <wire_struct T>
bool same_bytes(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
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
using test::make_account;
using test::make_controls;
using test::make_post;
using test::make_transfer;
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
// Clock

// A clock the test moves by hand; engine_config::clock reads it from any thread.
struct manual_clock {
  std::shared_ptr<std::atomic<std::uint64_t>> now = std::make_shared<std::atomic<std::uint64_t>>(0);

  explicit manual_clock(std::uint64_t start_ns = 0) { now->store(start_ns); }
  std::function<std::uint64_t()> fn() const {
    auto p = now;
    return [p] { return p->load(); };
  }
  std::uint64_t get() const { return now->load(); }
  void set(std::uint64_t ns) const { now->store(ns); }
  void advance(std::uint64_t ns) const { now->fetch_add(ns); }
};

// 2023-11-14 22:13:20 UTC: a realistic nanosecond timestamp.
inline constexpr std::uint64_t epoch_2023_ns = 1'700'000'000ull * ns_per_s;

// ---------------------------------------------------------------------------------------
// Blocking calls

inline constexpr auto reply_deadline = std::chrono::seconds(120);

// Waits for a reply; a reply that does not come within the deadline is a lost reply (the
// engine promises to answer every call), so the process stops with a message rather than
// waiting for the ctest timeout.
inline engine_reply get_reply(std::future<engine_reply> f, const char* what = "reply") {
  if (f.wait_for(reply_deadline) != std::future_status::ready) {
    std::fprintf(stderr, "actor test: no %s within %lld s: lost reply\n", what,
                 static_cast<long long>(reply_deadline.count()));
    std::abort();
  }
  return f.get();
}

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

inline std::vector<result> create_accounts(engine& e, std::span<const account> events) {
  engine_reply r = get_reply(e.create_accounts(events), "create_accounts reply");
  EXPECT_EQ(r.status, engine_status::ok);
  return std::move(r.results);
}

inline std::vector<result> create_transfers(engine& e, std::span<const transfer> events) {
  engine_reply r = get_reply(e.create_transfers(events), "create_transfers reply");
  EXPECT_EQ(r.status, engine_status::ok);
  return std::move(r.results);
}

inline std::vector<result> set_controls(engine& e, std::span<const account_controls> events) {
  engine_reply r = get_reply(e.set_account_controls(events), "set_account_controls reply");
  EXPECT_EQ(r.status, engine_status::ok);
  return std::move(r.results);
}

// Looks up any number of ids, batch_events_max at a time.
inline std::vector<account> lookup_accounts(engine& e, std::span<const u128> ids) {
  std::vector<account> out;
  for (std::size_t i = 0; i < ids.size(); i += batch_events_max) {
    const std::size_t n = std::min<std::size_t>(batch_events_max, ids.size() - i);
    engine_reply r = get_reply(e.lookup_accounts(ids.subspan(i, n)), "lookup_accounts reply");
    EXPECT_EQ(r.status, engine_status::ok);
    out.insert(out.end(), r.accounts.begin(), r.accounts.end());
  }
  return out;
}

inline std::vector<transfer> lookup_transfers(engine& e, std::span<const u128> ids) {
  std::vector<transfer> out;
  for (std::size_t i = 0; i < ids.size(); i += batch_events_max) {
    const std::size_t n = std::min<std::size_t>(batch_events_max, ids.size() - i);
    engine_reply r = get_reply(e.lookup_transfers(ids.subspan(i, n)), "lookup_transfers reply");
    EXPECT_EQ(r.status, engine_status::ok);
    out.insert(out.end(), r.transfers.begin(), r.transfers.end());
  }
  return out;
}

inline std::vector<transfer> account_transfers(engine& e, const account_filter& f) {
  engine_reply r = get_reply(e.get_account_transfers(f), "get_account_transfers reply");
  EXPECT_EQ(r.status, engine_status::ok);
  return std::move(r.transfers);
}

inline ledger_stats stats(engine& e, std::uint32_t ledger) {
  engine_reply r = get_reply(e.get_ledger_stats(ledger), "get_ledger_stats reply");
  EXPECT_EQ(r.status, engine_status::ok);
  return r.stats;
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
