// ledger_model: a second, independent model of the ledger, written from docs/PROTOCOL.md
// (sections 4, 6, 7 and 8) alone. It shares nothing with engine/rules.* or the reference
// ledger but the wire structs and result codes of engine/types.hpp, so a rule that is wrong
// in engine/rules.* is wrong on both the reference and the actor engine, and shows here.
//
// Small, slow and obvious on purpose:
// - accounts and transfers live in std::map, keyed by id;
// - each check is written out in the precedence order of section 7, one `if` per code;
// - a linked chain runs on the live state after a copy of everything it can change
//   (accounts with their controls and daily sums, open pending states, new transfers) is
//   taken, and a failed chain puts the copy back;
// - ledger stats and account histories are computed from the stored transfers on every
//   call, not kept up to date.
//
// Time: a batch of n events gets the timestamps base .. base+n-1 where
// base = max(now_ns, last timestamp + 1), failed events included (that is how the server
// keeps timestamps unique and strictly increasing, section 4 "Result"). Pending transfers
// expire only when the caller says `expire(now_ns)`; a post or void whose timestamp is at
// or past the pending transfer's expiry gets pending_transfer_expired either way.
//
// Not thread-safe. Does not bound its own size: it is a test oracle.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "engine/types.hpp"

namespace remit::model {

enum class pending_status : std::uint8_t { none, pending, posted, voided, expired };

struct model_account {
  account stored{};             // fields as sent, balances, timestamp
  account_controls controls{};  // zero until SET_ACCOUNT_CONTROLS
  std::uint64_t daily_day = 0;  // UTC day (timestamp / ns_per_day) of daily_sum
  u128 daily_sum = 0;           // amounts debited on daily_day (saturating)
};

struct model_transfer {
  transfer stored{};                // what lookups show
  transfer sent{};                  // as the client sent it: what `exists` compares
  std::uint64_t expires_at_ns = 0;  // 0: never
  pending_status status = pending_status::none;
};

class ledger_model {
 public:
  std::vector<result> create_accounts(const std::vector<account>& events, std::uint64_t now_ns);
  std::vector<result> create_transfers(const std::vector<transfer>& events, std::uint64_t now_ns);
  std::vector<result> set_account_controls(const std::vector<account_controls>& events);

  std::vector<account> lookup_accounts(const std::vector<u128>& ids) const;
  std::vector<transfer> lookup_transfers(const std::vector<u128>& ids) const;
  std::vector<transfer> get_account_transfers(const account_filter& filter) const;
  ledger_stats get_ledger_stats(std::uint32_t ledger) const;

  // Releases every open pending transfer whose expiry is at or before now_ns; returns their
  // ids.
  std::vector<u128> expire(std::uint64_t now_ns);
  // The earliest expiry of an open pending transfer, if any.
  std::optional<std::uint64_t> next_expiry() const;

  std::uint64_t last_timestamp() const { return last_timestamp_; }
  const model_account* find_account(u128 id) const;
  const model_transfer* find_transfer(u128 id) const;
  std::size_t transfer_count() const { return transfers_.size(); }
  const std::set<u128>& open_pending() const { return open_pending_; }

 private:
  // What a linked chain can change, saved before it starts.
  struct chain_backup {
    std::map<u128, model_account> accounts;
    std::set<u128> open_pending;
    std::vector<std::pair<u128, pending_status>> statuses;  // pending transfers it changed
    std::vector<u128> created_transfers;                    // transfer ids it created
  };

  template <class Event, class Apply>
  std::vector<result> run_batch(const std::vector<Event>& events, std::uint64_t now_ns,
                                std::uint16_t linked_flag, std::uint32_t failed_code,
                                std::uint32_t open_code, Apply&& apply);
  void begin_chain();
  void rollback_chain();

  std::pair<create_account_result, std::uint64_t> create_account(const account& a,
                                                                 std::uint64_t ts);
  std::pair<create_transfer_result, std::uint64_t> create_transfer(const transfer& t,
                                                                   std::uint64_t ts, bool chained);
  create_transfer_result plain_or_pending(const transfer& t, std::uint64_t ts);
  create_transfer_result post_or_void(const transfer& t, std::uint64_t ts);
  void set_status(model_transfer& p, pending_status s);
  void add_transfer(const model_transfer& t);

  std::map<u128, model_account> accounts_;
  std::map<u128, model_transfer> transfers_;
  std::map<u128, create_transfer_result> failed_;  // ids whose transfer failed on state
  std::set<u128> open_pending_;                    // ids of pending transfers still open
  std::uint64_t last_timestamp_ = 0;
  bool in_chain_ = false;
  chain_backup backup_;
};

}  // namespace remit::model
