// transfer_store: the stored transfers of one owner, by id and by account in timestamp order.
//
// One store for both owners of transfers: the serial reference ledger keeps all of them, a
// coordinator shard the ones whose ids it owns.
//
// Design: the records sit in a chunked_vector (growth never copies the array), indexed by id
// in an id_map. Each account's history is a list threaded through the records, newest first:
// `heads_` maps an account to its newest record, and each record links to the next older one
// of its debit account and of its credit account (`links_`, parallel to `records_`). An
// append that is the newest so far reads nothing but `heads_`; a history costs no allocation
// per account and no vector of its own. Walking oldest first collects the list, then reads it
// backwards.
//
// Inserting in place: requests in flight together hold runs of timestamps of their own, and
// their records reach the store interleaved (a journal replays them in that order), so a
// record of an older request often comes after many records of newer ones that share an
// account. Walking from the newest would pass every one of them, for every record: quadratic
// for a hot account. So each account keeps a few fingers next to its head: records of its
// list just newer than where recent inserts in place went (`history_head`, most recently
// used first). An insert starts from the closest finger newer than the record, or from the
// head when none is; it then moves that finger (or the least recently used one) to the
// record it went behind. A request's records come in ascending timestamp order and go into
// the gap its earlier ones went to, so each of them takes no step past its finger; as many
// requests in flight as fingers, plus the newest one (at the head), cost next to no step
// per record (bench/history_bench.cpp). The fingers sit in the padding of the id map's slot
// (a u128 key makes it 32 bytes anyway): they cost no memory.
//
// Invariants: every list is in timestamp order, newest first (ties: the later added is the
// newer); a record is in exactly the lists of its two accounts, which differ; `heads_` holds
// exactly the accounts that have a record; `ts_max_` is at least every timestamp in a list;
// a finger is no_record or a record in its account's list.
//
// Records never move and are never erased except by pop_back (the newest one, undone).
// Lookups and walks newest first do not allocate; a walk oldest first allocates its list
// (account_transfers, only a ring of filter.limit). A walk oldest first reads the whole list
// (account_transfers: down to timestamp_min), since no link points towards the newer.
// Not thread-safe: it has one owner, like every piece of engine state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/assert.hpp"
#include "engine/chunked_vector.hpp"
#include "engine/id_map.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"

namespace remit {

// A transfer as stored: the stored form, the fields as sent (for `exists`), when it expires
// (a pending transfer; 0 for never) and where it is in its pending life.
struct stored_transfer {
  transfer t{};
  sent_fields sent{};
  std::uint64_t expires_at_ns = 0;
  pending_state state = pending_state::none;
};

class transfer_store {
 public:
  static constexpr std::uint32_t no_record = UINT32_MAX;

  // Stores a record whose id is new and links it into the histories of its debit and its
  // credit account (newest first by timestamp; one older than some record already there is
  // inserted in place, which happens when batches in flight together finish out of order).
  std::uint32_t add(const stored_transfer& rec);

  // By transfer id, which must not be 0 (asserted, as by id_map: no transfer has it, so a
  // caller holding a client's 0 answers "absent" itself). no_record / nullptr when absent.
  std::uint32_t index_of(u128 id) const {
    const std::uint32_t* idx = index_.find(id);
    return idx == nullptr ? no_record : *idx;
  }
  const stored_transfer* find(u128 id) const {
    const std::uint32_t* idx = index_.find(id);
    return idx == nullptr ? nullptr : &records_[*idx];
  }
  stored_transfer* find(u128 id) {
    const std::uint32_t* idx = index_.find(id);
    return idx == nullptr ? nullptr : &records_[*idx];
  }
  stored_transfer& at(std::uint32_t index) { return records_[index]; }
  const stored_transfer& at(std::uint32_t index) const { return records_[index]; }
  std::size_t size() const { return records_.size(); }

  // Removes the last record added, which must be the newest in both its accounts'
  // histories (a linked chain rolled back, newest first).
  void pop_back();

  // Visits the transfers of one account in timestamp order (newest first when
  // `newest_first`) until visit returns false. visit(const stored_transfer&) -> bool.
  template <class F>
  void for_each_of_account(u128 account_id, bool newest_first, F&& visit) const {
    const history_head* head = account_id == 0 ? nullptr : heads_.find(account_id);
    if (head == nullptr) return;
    if (newest_first) {  // the list's own order
      for (std::uint32_t r = head->newest; r != no_record; r = older(r, account_id))
        if (!visit(records_[r])) return;
      return;
    }
    // Oldest first: the list is walked once, then read backwards.
    std::vector<std::uint32_t> list;
    for (std::uint32_t r = head->newest; r != no_record; r = older(r, account_id))
      list.push_back(r);
    for (auto it = list.rbegin(); it != list.rend(); ++it)
      if (!visit(records_[*it])) return;
  }

  // f(const stored_transfer&), in the order added.
  template <class F>
  void for_each(F&& f) const {
    for (std::size_t i = 0; i < records_.size(); ++i) f(records_[i]);
  }

  // Room for n records in the id index, so that filling a store of known size (a snapshot)
  // never rehashes. The record arrays grow a chunk at a time anyway.
  void reserve(std::size_t n) { index_.reserve(n); }

  // Records passed over by inserts in place since the store was made (not counting the
  // finger or head an insert starts from): what linking costs, for tests and benchmarks.
  std::uint64_t link_steps() const { return link_steps_; }

  static constexpr std::size_t fingers_per_account = 3;

 private:
  // An account's entry in `heads_`: its newest record, and the fingers (no_record when
  // unused), most recently used first.
  struct history_head {
    std::uint32_t newest = no_record;
    std::uint32_t fingers[fingers_per_account];
    history_head() {
      for (std::uint32_t& f : fingers) f = no_record;
    }
  };
  // With a u128 key, the id map's slot is 32 bytes for a value of 4 bytes as of 16.
  static_assert(sizeof(history_head) <= sizeof(u128));

  struct history_link {
    std::uint32_t older_debit = no_record;   // in the debit account's history
    std::uint32_t older_credit = no_record;  // in the credit account's history
  };

  // The next older record after `record` in the history of `account_id` (a side of it).
  std::uint32_t older(std::uint32_t record, u128 account_id) const {
    return const_cast<transfer_store*>(this)->older_link(record, account_id);
  }
  std::uint32_t& older_link(std::uint32_t record, u128 account_id) {
    const transfer& t = records_[record].t;
    REMIT_ASSERT(t.debit_account_id == account_id || t.credit_account_id == account_id);
    history_link& l = links_[record];
    return t.debit_account_id == account_id ? l.older_debit : l.older_credit;
  }
  void link(u128 account_id, std::uint32_t record);
  void unlink_newest(u128 account_id, std::uint32_t record);

  chunked_vector<stored_transfer> records_;
  chunked_vector<history_link> links_;  // parallel to records_
  id_map<std::uint32_t> index_;         // transfer id -> its record
  id_map<history_head> heads_;          // account id -> its newest record and fingers
  std::uint64_t ts_max_ = 0;            // at least every timestamp in a history
  std::uint64_t link_steps_ = 0;
};

// The transfers of an account that match a filter (docs/PROTOCOL.md AccountFilter), in the
// filter's order, at most filter.limit: calls out(const transfer&) for each. The filter must
// have passed validate_filter.
//
// A history is in timestamp order, so the walk skips what is newer than timestamp_max and
// stops at the first transfer older than timestamp_min instead of filtering every one.
// How a stored transfer counts in its ledger's statistics (docs/PROTOCOL.md, ledger
// stats): a plain transfer or a post adds to the posted count and volume, an open pending
// transfer to the pending count. Returns whether it is an open pending transfer with an
// expiry, which the caller's expiry queue must take.
inline bool count_in_stats(ledger_stats& s, const stored_transfer& rec) {
  switch (kind_of(rec.t)) {
    case transfer_kind::plain:
    case transfer_kind::post:
      s.transfers_posted += 1;
      s.volume_posted = add_saturating(s.volume_posted, rec.t.amount);
      return false;
    case transfer_kind::pending:
      if (rec.state != pending_state::pending) return false;
      s.transfers_pending += 1;
      return rec.expires_at_ns != 0;
    case transfer_kind::void_:
      return false;
  }
  return false;
}

template <class Out>
void account_transfers(const transfer_store& store, const account_filter& filter, Out&& out) {
  REMIT_ASSERT(validate_filter(filter) == filter_check::ok);
  if (filter.account_id == 0) return;
  const std::uint64_t ts_max = filter.timestamp_max == 0 ? UINT64_MAX : filter.timestamp_max;
  std::uint32_t n = 0;
  if (filter.flags & account_filter_flags::reversed) {
    store.for_each_of_account(filter.account_id, true, [&](const stored_transfer& s) {
      if (s.t.timestamp < filter.timestamp_min) return false;
      if (s.t.timestamp > ts_max || !filter_matches(filter, s.t)) return true;
      out(s.t);
      return ++n < filter.limit;
    });
    return;
  }
  // Oldest first: the list runs newest first, so the walk goes down to timestamp_min and
  // keeps the last `limit` matches it meets (the oldest), in a ring, then reads them
  // backwards. Bounded memory, but the walk is as long as the history above timestamp_min:
  // the list has no link towards the newer.
  std::vector<const transfer*> ring(filter.limit);
  std::size_t seen = 0;
  store.for_each_of_account(filter.account_id, true, [&](const stored_transfer& s) {
    if (s.t.timestamp < filter.timestamp_min) return false;
    if (s.t.timestamp <= ts_max && filter_matches(filter, s.t)) ring[seen++ % ring.size()] = &s.t;
    return true;
  });
  const std::size_t first = seen > ring.size() ? seen - ring.size() : 0;
  for (std::size_t k = seen; k > first; --k, ++n) out(*ring[(k - 1) % ring.size()]);
  REMIT_ASSERT(n <= filter.limit);
}

}  // namespace remit
