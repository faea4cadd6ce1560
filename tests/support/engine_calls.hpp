// What the actor and journal suites share around remit::engine: printing of wire structs for
// failure messages, a clock the test moves by hand, and blocking calls with a deadline (an
// engine that loses a reply stops the test with a message instead of hanging until the
// ctest timeout). Suites bring these in with using-declarations.
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
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "actors/engine.hpp"
#include "engine/types.hpp"

namespace remit::test {

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

template <wire_struct T>
bool same_bytes(const T& a, const T& b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
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
    std::fprintf(stderr, "test: no %s within %lld s: lost reply\n", what,
                 static_cast<long long>(reply_deadline.count()));
    std::abort();
  }
  return f.get();
}

inline std::vector<result> create_accounts(engine& e, std::span<const account> events) {
  engine_reply r = get_reply(e.create_accounts(events), "create_accounts reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  return std::move(r.results);
}

inline std::vector<result> create_transfers(engine& e, std::span<const transfer> events) {
  engine_reply r = get_reply(e.create_transfers(events), "create_transfers reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  return std::move(r.results);
}

inline std::vector<result> set_controls(engine& e, std::span<const account_controls> events) {
  engine_reply r = get_reply(e.set_account_controls(events), "set_account_controls reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  return std::move(r.results);
}

// Looks up any number of ids, batch_events_max at a time.
inline std::vector<account> lookup_accounts(engine& e, std::span<const u128> ids) {
  std::vector<account> out;
  for (std::size_t i = 0; i < ids.size(); i += batch_events_max) {
    const std::size_t n = std::min<std::size_t>(batch_events_max, ids.size() - i);
    engine_reply r = get_reply(e.lookup_accounts(ids.subspan(i, n)), "lookup_accounts reply");
    EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
    out.insert(out.end(), r.accounts.begin(), r.accounts.end());
  }
  return out;
}

inline std::vector<transfer> lookup_transfers(engine& e, std::span<const u128> ids) {
  std::vector<transfer> out;
  for (std::size_t i = 0; i < ids.size(); i += batch_events_max) {
    const std::size_t n = std::min<std::size_t>(batch_events_max, ids.size() - i);
    engine_reply r = get_reply(e.lookup_transfers(ids.subspan(i, n)), "lookup_transfers reply");
    EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
    out.insert(out.end(), r.transfers.begin(), r.transfers.end());
  }
  return out;
}

inline ledger_stats stats(engine& e, std::uint32_t ledger) {
  engine_reply r = get_reply(e.get_ledger_stats(ledger), "get_ledger_stats reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  return r.stats;
}

}  // namespace remit::test
