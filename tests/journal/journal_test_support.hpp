// Helpers shared by the journal tests: a temporary data directory, file helpers, event
// builders, blocking wrappers around remit::engine's futures (with a deadline, so a lost
// reply fails loudly instead of hanging until the ctest timeout), and a snapshot of an
// engine's whole visible state for before/after comparisons.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/storage.hpp"
#include "engine/journal_format.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "tests/support/builders.hpp"
#include "tests/support/engine_calls.hpp"

namespace remit::journal_test {

namespace fs = std::filesystem;
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
// A fresh directory under /tmp, removed (with everything in it) at the end.

class temp_dir {
 public:
  temp_dir() {
    char tmpl[] = "/tmp/remit-journal-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (p == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = p;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------
// Files

inline std::vector<std::byte> read_bytes(const std::string& path) {
  std::vector<std::byte> out;
  std::string why;
  if (!storage::read_file(path, out, why)) ADD_FAILURE() << why;
  return out;
}

inline void write_bytes(const std::string& path, std::span<const std::byte> data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << "cannot write " << path;
}

inline void append_bytes(const std::string& path, std::span<const std::byte> data) {
  std::ofstream f(path, std::ios::binary | std::ios::app);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << "cannot append to " << path;
}

struct dir_files {
  std::vector<std::pair<std::uint64_t, std::string>> journals;   // sorted by first LSN
  std::vector<std::pair<std::uint64_t, std::string>> snapshots;  // sorted by LSN
  std::vector<std::string> others;                               // anything else
};

inline dir_files list_files(const std::string& dir) {
  dir_files out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    std::uint64_t n = 0;
    if (journal::parse_journal_file_name(name, n)) {
      out.journals.emplace_back(n, name);
    } else if (journal::parse_snapshot_file_name(name, n)) {
      out.snapshots.emplace_back(n, name);
    } else {
      out.others.push_back(name);
    }
  }
  std::sort(out.journals.begin(), out.journals.end());
  std::sort(out.snapshots.begin(), out.snapshots.end());
  std::sort(out.others.begin(), out.others.end());
  return out;
}

// The records of one journal file, as scanned (offsets and headers), and how the scan ended.
struct scanned_file {
  journal::scan_result result;
  std::vector<journal::record_header> headers;
  std::vector<std::uint64_t> offsets;
  std::vector<std::vector<std::byte>> payloads;
};

inline scanned_file scan_file(const std::string& path) {
  scanned_file out;
  const std::vector<std::byte> data = read_bytes(path);
  out.result = journal::scan(data, 0, [&](const journal::record_view& v) {
    out.headers.push_back(v.header);
    out.offsets.push_back(v.offset);
    out.payloads.emplace_back(v.payload.begin(), v.payload.end());
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Printing

inline std::string describe(const result& r) {
  std::ostringstream os;
  os << "{" << r.status << " (" << name(static_cast<create_transfer_result>(r.status)) << ") ts "
     << r.timestamp << "}";
  return os.str();
}

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

// ---------------------------------------------------------------------------------------
// Event builders

inline account make_account(u128 id, std::uint32_t ledger = 1, std::uint16_t flags = 0,
                            std::uint16_t code = 1) {
  account a{};
  a.id = id;
  a.ledger = ledger;
  a.code = code;
  a.flags = flags;
  a.user_data_64 = static_cast<std::uint64_t>(id) * 7;
  return a;
}

inline transfer make_transfer(u128 id, u128 debit, u128 credit, u128 amount,
                              std::uint16_t flags = 0, std::uint32_t ledger = 1) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = amount;
  t.ledger = ledger;
  t.code = 1;
  t.flags = flags;
  t.user_data_32 = static_cast<std::uint32_t>(id);
  return t;
}

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

inline account_filter make_filter(u128 account_id, std::uint32_t limit = batch_events_max) {
  account_filter f{};
  f.account_id = account_id;
  f.flags = account_filter_flags::debits | account_filter_flags::credits;
  f.limit = limit;
  return f;
}

// ---------------------------------------------------------------------------------------
// Engines

// A durable engine in `dir`, small and quick: 2 shards, 2 threads, a fast expiry sweep.
inline engine_config durable_config(const std::string& dir, const manual_clock& clock) {
  engine_config cfg;
  cfg.data_dir = dir;
  cfg.durability = true;
  cfg.shards = 2;
  cfg.threads = 2;
  cfg.expiry_interval_ms = 20;
  cfg.clock = clock.fn();
  return cfg;
}

inline std::vector<transfer> account_transfers(engine& e, u128 account_id) {
  engine_reply r =
      get_reply(e.get_account_transfers(make_filter(account_id)), "get_account_transfers reply");
  EXPECT_EQ(r.status, engine_status::ok) << name(r.status);
  return std::move(r.transfers);
}

// Everything a client can see of a set of ids: accounts and transfers byte for byte, each
// account's history, the stats of each ledger.
struct visible_state {
  std::vector<account> accounts;
  std::vector<transfer> transfers;
  std::vector<std::vector<transfer>> histories;  // per account id, in order
  std::vector<ledger_stats> stats;               // per ledger, in order
};

inline visible_state capture(engine& e, const std::vector<u128>& account_ids,
                             const std::vector<u128>& transfer_ids,
                             const std::vector<std::uint32_t>& ledgers) {
  visible_state s;
  s.accounts = lookup_accounts(e, account_ids);
  s.transfers = lookup_transfers(e, transfer_ids);
  for (const u128 id : account_ids) s.histories.push_back(account_transfers(e, id));
  for (const std::uint32_t l : ledgers) s.stats.push_back(stats(e, l));
  return s;
}

inline void expect_same_state(const visible_state& before, const visible_state& after) {
  EXPECT_TRUE(same_list(before.accounts, after.accounts, "accounts"));
  EXPECT_TRUE(same_list(before.transfers, after.transfers, "transfers"));
  ASSERT_EQ(before.histories.size(), after.histories.size());
  for (std::size_t i = 0; i < before.histories.size(); ++i)
    EXPECT_TRUE(same_list(before.histories[i], after.histories[i],
                          "history of account #" + std::to_string(i)));
  ASSERT_EQ(before.stats.size(), after.stats.size());
  for (std::size_t i = 0; i < before.stats.size(); ++i)
    EXPECT_TRUE(same_bytes(before.stats[i], after.stats[i]))
        << "stats: before " << describe(before.stats[i]) << ", after " << describe(after.stats[i]);
}

// Per ledger: sum of debits_posted == sum of credits_posted, and likewise pending.
inline ::testing::AssertionResult money_conserved(const std::vector<account>& accounts) {
  std::map<std::uint32_t, std::pair<u128, u128>> posted, pending;
  for (const account& a : accounts) {
    posted[a.ledger].first += a.debits_posted;
    posted[a.ledger].second += a.credits_posted;
    pending[a.ledger].first += a.debits_pending;
    pending[a.ledger].second += a.credits_pending;
  }
  for (const auto& [ledger, p] : posted) {
    if (p.first != p.second)
      return ::testing::AssertionFailure()
             << "ledger " << ledger << ": debits_posted " << u128_str(p.first)
             << " != credits_posted " << u128_str(p.second);
    const auto& q = pending[ledger];
    if (q.first != q.second)
      return ::testing::AssertionFailure()
             << "ledger " << ledger << ": debits_pending " << u128_str(q.first)
             << " != credits_pending " << u128_str(q.second);
  }
  return ::testing::AssertionSuccess();
}

inline std::uint32_t code(tr c) {
  return static_cast<std::uint32_t>(c);
}
inline std::uint32_t code(ar c) {
  return static_cast<std::uint32_t>(c);
}

}  // namespace remit::journal_test
