// reference_ledger: the rules of docs/PROTOCOL.md applied one event at a time in one thread.
//
// It is the oracle for the actor engine (same input, same results, same final state), the
// baseline in benchmarks, and the embedding mode for callers that want no threads at all.
//
// Time is an argument: each batch gets `now_ns`, and its events get the timestamps
// base, base+1, ... where base = max(now_ns, last timestamp + 1). A timestamp is spent by
// every event of a batch, failed or not, so timestamps stay strictly increasing and the
// same input always gives the same timestamps. Pending transfers expire only when the
// caller says so with `expire(now_ns)` (a server does it every second); a post or void of a
// pending transfer whose expiry has passed gets `pending_transfer_expired` either way.
//
// Invariants (checked by the tests after every batch): per ledger the sum of debits_posted
// equals the sum of credits_posted and likewise for the pending balances; no account breaks
// the bound of its flags; timestamps strictly increase.
//
// Not thread-safe. Bounds: a batch holds at most batch_events_max events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "engine/id_map.hpp"
#include "engine/journal_format.hpp"
#include "engine/rules.hpp"
#include "engine/terms.hpp"
#include "engine/transfer_store.hpp"
#include "engine/types.hpp"

namespace remit {

class reference_ledger {
 public:
  reference_ledger() = default;

  // Results go to `out`, which must have one slot per event.
  void create_accounts(std::span<const account> events, std::uint64_t now_ns,
                       std::span<result> out);
  void create_transfers(std::span<const transfer> events, std::uint64_t now_ns,
                        std::span<result> out);
  // Result codes are set_controls_result; timestamps are 0.
  void set_account_controls(std::span<const account_controls> events, std::span<result> out);

  // Found ones, in request order, each as often as asked. Returns how many were written;
  // `out` must have room for ids.size().
  std::size_t lookup_accounts(std::span<const u128> ids, std::span<account> out) const;
  std::size_t lookup_transfers(std::span<const u128> ids, std::span<transfer> out) const;
  // Transfers of one account by timestamp (docs/PROTOCOL.md AccountFilter); at most
  // min(filter.limit, out.size()). The filter must have passed validate_filter.
  std::size_t get_account_transfers(const account_filter& filter, std::span<transfer> out) const;
  ledger_stats get_ledger_stats(std::uint32_t ledger) const;

  // Releases every open pending transfer whose expiry is at or before now_ns, in order of
  // expiry. Returns how many it released.
  std::size_t expire(std::uint64_t now_ns);

  // Journal replay: applies a record's decisions in order without checking them again (what
  // was decided is what replays). The record must have passed journal::parse_record. A
  // term_started record adds its term to the term history (add_term_start).
  void replay(const journal::record_view& record);

  // The terms that wrote the journal this state was built from (engine/terms.hpp), and the
  // last of them (0: none). A snapshot keeps them.
  const std::vector<term_start>& term_history() const { return terms_; }
  std::uint64_t last_term() const { return remit::last_term(terms_); }
  // A term_started record with LSN `lsn` that was written rather than replayed (the live
  // engine's): the same rule as its replay. True when the history grew.
  bool add_term(std::uint64_t term, std::uint64_t lsn) { return add_term_start(terms_, term, lsn); }

  // Snapshot: the whole state, stamped with the LSN of the last decision it holds.
  void write_snapshot(std::vector<std::byte>& out, std::uint64_t lsn) const;
  // Replaces this ledger's state with a snapshot's. False (state unspecified) and `why` set
  // when the snapshot is damaged.
  bool read_snapshot(std::span<const std::byte> data, std::uint64_t& lsn, std::string& why);

  // Read access for tests and tools.
  const account_state* find_account(u128 id) const;
  const controls_state* find_controls(u128 id) const;
  std::size_t account_count() const { return accounts_.size(); }
  std::size_t transfer_count() const { return transfers_.size(); }
  std::uint64_t last_timestamp() const { return last_timestamp_; }
  template <class F>
  void for_each_account(F&& f) const {
    for (const auto& s : accounts_) f(s);
  }
  // f(const transfer& stored, const sent_fields&, expires_at_ns, pending_state)
  template <class F>
  void for_each_transfer(F&& f) const {
    transfers_.for_each(
        [&](const stored_transfer& s) { f(s.t, s.sent, s.expires_at_ns, s.state); });
  }
  // Every stored transfer, in the order they were stored.
  template <class F>
  void for_each_stored_transfer(F&& f) const {
    transfers_.for_each(f);
  }
  template <class F>
  void for_each_failure(F&& f) const {
    failed_.for_each([&](u128 id, create_transfer_result code) { f(id, code); });
  }

 private:
  // What a failed linked chain must undo, in reverse order.
  struct undo_log {
    std::vector<std::pair<std::uint32_t, account_state>> accounts;  // index, state before
    std::vector<std::pair<std::uint32_t, pending_state>> pendings;  // transfer index, before
    std::vector<std::pair<std::uint32_t, ledger_stats>> stats;      // ledger, stats before
    std::size_t accounts_size = 0;   // account count when the chain began
    std::size_t transfers_size = 0;  // transfer count when the chain began
    void clear(std::size_t n_accounts, std::size_t n_transfers) {
      accounts.clear();
      pendings.clear();
      stats.clear();
      accounts_size = n_accounts;
      transfers_size = n_transfers;
    }
  };

  template <class Code, class Event, class Create>
  void run_batch(std::span<const Event> events, std::uint64_t now_ns, std::span<result> out,
                 std::uint16_t linked_flag, Create&& create);
  std::uint64_t reserve_timestamps(std::size_t n, std::uint64_t now_ns);
  create_account_result create_account(const account& a, std::uint64_t ts, bool chained,
                                       std::uint64_t& ts_out);
  create_transfer_result create_transfer(const transfer& t, std::uint64_t ts, bool chained,
                                         std::uint64_t& ts_out);
  create_transfer_result create_plain_or_pending(const transfer& t, std::uint64_t ts, bool chained);
  create_transfer_result create_post_or_void(const transfer& t, std::uint64_t ts, bool chained);
  static journal::committed_transfer committed_of(const transfer& stored, const transfer& sent,
                                                  std::uint64_t expires);
  void apply_committed(const journal::committed_transfer& c, bool chained);
  account_state& account_for_write(std::uint32_t index, bool chained);
  ledger_stats& stats_for_write(std::uint32_t ledger, bool chained);
  void set_pending_state(std::uint32_t index, pending_state s, bool chained);
  void rollback();
  void release_expired(std::uint32_t index);
  void rebuild_derived();
  std::uint32_t existing_account(u128 id) const;  // the index of an account known to exist

  std::vector<account_state> accounts_;
  id_map<std::uint32_t> account_index_;
  transfer_store transfers_;               // with their index by id and every account's history
  id_map<create_transfer_result> failed_;  // ids that failed on state
  std::map<std::uint32_t, ledger_stats> stats_;
  // Open pending transfers by expiry: (expires_at, transfer index). Entries whose transfer
  // is no longer pending are skipped when they come up.
  using expiry_entry = std::pair<std::uint64_t, std::uint32_t>;
  std::priority_queue<expiry_entry, std::vector<expiry_entry>, std::greater<>> expiries_;
  std::uint64_t last_timestamp_ = 0;
  std::vector<term_start> terms_;
  undo_log undo_;
};

}  // namespace remit
