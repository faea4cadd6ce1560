// The messages of the actor engine and the typed interfaces of its actors.
//
// Hot-path messages do not carry their payload by value. A driver (a coordinator shard
// running a batch) builds one `wave` per round: every entry bound for the same account host
// is grouped (in order within each account), and each host gets one message naming its
// group. The host writes its replies into the wave's reply slots (each slot is written by
// exactly one host) and counts down `outstanding`; the last one sends a single `done` to the
// driver. So a round costs one message per host touched plus one, and no allocation per
// leg.
//
// The mailbox hand-off (enqueue, then dequeue by the reader) orders the writes to the wave
// before the driver's reads; no other synchronization is needed.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>

#include "actors/engine.hpp"
#include "actors/work_counters.hpp"
#include "engine/journal_format.hpp"
#include "engine/rules.hpp"
#include "engine/transfer_store.hpp"
#include "engine/types.hpp"

namespace remit::actors {

// ---------------------------------------------------------------------------------------
// Hand-off annotations for ThreadSanitizer. CAF's mailboxes live in the uninstrumented
// Debian libcaf_core, so ThreadSanitizer cannot see that a message's payload was written
// before it was enqueued. Every send releases on the receiving actor and every handler
// acquires on itself first, which states exactly the happens-before the mailbox gives.
// Without ThreadSanitizer these compile to nothing.

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
inline void handoff_release(const void* actor) {
  __tsan_release(const_cast<void*>(actor));
}
inline void handoff_acquire(const void* actor) {
  __tsan_acquire(const_cast<void*>(actor));
}
#else
inline void handoff_release(const void*) {}
inline void handoff_acquire(const void*) {}
#endif

// Sends from an actor (send_to) or from any thread (anon_send_to). They build the envelope
// first, then release on the receiver, then enqueue: so the receiver's handler, which
// acquires on itself, sees CAF's writes to the envelope (the arguments it reads) ordered
// too, not only what the payload points to. This is what caf::send and anon_send do, in
// that order; the message is checked against the receiver's interface as anon_send does.
template <class Handle, class... Ts>
void build_release_enqueue(caf::strong_actor_ptr sender, caf::execution_unit* context,
                           const Handle& dest, Ts&&... xs) {
  static_assert(sizeof...(Ts) > 0, "no message to send");
  using token = caf::detail::type_list<caf::detail::strip_and_convert_t<Ts>...>;
  static_assert(caf::response_type_unbox<caf::signatures_of_t<Handle>, token>::valid,
                "receiver does not accept given message");
  if (!dest) return;
  auto element = caf::make_mailbox_element(std::move(sender), caf::make_message_id(), {},
                                           std::forward<Ts>(xs)...);
  auto* receiver = caf::actor_cast<caf::abstract_actor*>(dest);
  handoff_release(receiver);
  receiver->enqueue(std::move(element), context);
}
template <class Self, class Handle, class... Ts>
void send_to(Self* self, const Handle& dest, Ts&&... xs) {
  build_release_enqueue(self->ctrl(), self->context(), dest, std::forward<Ts>(xs)...);
}
template <class Handle, class... Ts>
void anon_send_to(const Handle& dest, Ts&&... xs) {
  build_release_enqueue(nullptr, nullptr, dest, std::forward<Ts>(xs)...);
}
// Handlers take every argument by const reference: CAF reads a by-value argument while it
// calls the handler, before `received` below can acquire, and ThreadSanitizer then sees
// that read unordered with the sender's write whenever it has lost the sender's stack (and
// with it the suppressed CAF frame).
//
// Opens every handler: `const auto handoff = received(self);`. It acquires on the actor
// (the sends to it released there) and releases on it again when the handler ends, because
// the actor's next activation may run on another worker thread, handed over through CAF's
// uninstrumented scheduler queue: that edge, from one activation to the next, is stated too.
template <class Self>
class [[nodiscard]] activation {
 public:
  explicit activation(Self* self) : self_(self) {
    handoff_acquire(static_cast<caf::abstract_actor*>(self_));
    count(work::message);
  }
  ~activation() { handoff_release(static_cast<caf::abstract_actor*>(self_)); }
  activation(const activation&) = delete;
  activation& operator=(const activation&) = delete;

 private:
  Self* self_;
};
template <class Self>
activation<Self> received(Self* self) {
  return activation<Self>(self);
}

// An exit message (the engine's shutdown) is handled by CAF, not by a handler of remit's,
// and the actor's state is destroyed at the end of that activation, on whichever worker runs
// it. Installed first thing in a behavior, this exit handler opens that activation as every
// handler does, so the destruction comes after every earlier activation for ThreadSanitizer
// too; then it does what CAF's default exit handler does (stop the actor).
template <class Self>
void open_exit_activation(Self* self) {
  self->set_exit_handler([self](caf::scheduled_actor* actor, caf::exit_msg& m) {
    const auto handoff = received(self);
    caf::scheduled_actor::default_exit_handler(actor, m);
  });
}

// Shared payloads: what messages carry by pointer (caf::intrusive_ptr). caf::ref_counted
// drops a reference in deref(), inside the uninstrumented libcaf_core, so ThreadSanitizer
// sees neither its acquire on the count nor that every owner's accesses come before the
// last owner's delete: it would report every such delete as a race. `shared_payload` drops
// references in remit's own code instead, with the same atomic operations as CAF 0.17's
// deref, where ThreadSanitizer sees them. intrusive_ptr<T> finds the overload below by
// argument-dependent lookup, a better match than caf's for any T derived from
// shared_payload.
class shared_payload : public caf::ref_counted {
 public:
  // Drops one reference; the last owner deletes the object.
  void drop_ref() const noexcept {
    if (rc_.load(std::memory_order_acquire) == 1) {
      request_deletion(false);  // the only owner: nobody else can take a reference
    } else if (rc_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      request_deletion(true);
    }
  }
};
inline void intrusive_ptr_release(const shared_payload* p) noexcept {
  p->drop_ref();
}

using step_atom = caf::atom_constant<caf::atom("step")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using request_atom = caf::atom_constant<caf::atom("request")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using claimed_atom = caf::atom_constant<caf::atom("claimed")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using peers_atom = caf::atom_constant<caf::atom("peers")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;
using synced_atom = caf::atom_constant<caf::atom("synced")>;
using durable_atom = caf::atom_constant<caf::atom("durable")>;
using replicated_atom = caf::atom_constant<caf::atom("replicated")>;
using restore_atom = caf::atom_constant<caf::atom("restore")>;
using journal_atom = caf::atom_constant<caf::atom("journal")>;
using term_atom = caf::atom_constant<caf::atom("term")>;

struct wave;
struct claim_set;
struct release_set;
struct directory_update;
struct shard_query;
struct request;
struct journal_batch;
struct restore_set;
struct term_request;
using term_request_ptr = caf::intrusive_ptr<term_request>;
using journal_batch_ptr = caf::intrusive_ptr<journal_batch>;
using restore_ptr = caf::intrusive_ptr<restore_set>;
using wave_ptr = caf::intrusive_ptr<wave>;
using claim_ptr = caf::intrusive_ptr<claim_set>;
using release_ptr = caf::intrusive_ptr<release_set>;
using directory_ptr = caf::intrusive_ptr<directory_update>;
using query_ptr = caf::intrusive_ptr<shard_query>;
using request_ptr = caf::intrusive_ptr<request>;

// An account host: the serial executor of the accounts placed on it (account_host.hpp).
using account_host = caf::typed_actor<caf::reacts_to<step_atom, wave_ptr, std::uint32_t>>;

// Where an account lives: its host and its index there.
struct account_address {
  std::uint32_t host = 0;
  std::uint32_t local = 0;
};

// A coordinator shard: owner of the ids whose hash picks it, and driver of the batches
// the facade hands it.
using shard_actor =
    caf::typed_actor<caf::reacts_to<request_atom, request_ptr>,            // from the facade
                     caf::reacts_to<peers_atom, std::vector<caf::actor>>,  // all shards, once
                     caf::reacts_to<claim_atom, claim_ptr>,                // owner side
                     caf::reacts_to<claimed_atom, claim_ptr>,              // driver side
                     caf::reacts_to<release_atom, release_ptr>,            // owner side
                     caf::reacts_to<register_atom, directory_ptr>,         // every shard
                     caf::reacts_to<query_atom, query_ptr>,                // owner side
                     caf::reacts_to<done_atom, std::uint64_t>,  // a wave or query is done
                     // a job's sync is done, with its sync_status
                     caf::reacts_to<synced_atom, std::uint64_t, std::uint8_t>,
                     caf::reacts_to<restore_atom, restore_ptr>,  // recovered state, once
                     caf::reacts_to<tick_atom>>;                 // expiry sweep

// The journal: assigns LSNs in mailbox order and answers a sync once an fdatasync covers
// everything appended before it (journal.hpp).
using journal_actor = caf::typed_actor<caf::reacts_to<append_atom, journal_batch_ptr>,
                                       caf::reacts_to<sync_atom, shard_actor, std::uint64_t>,
                                       // a term_started record from the facade, or a sync
                                       caf::reacts_to<term_atom, term_request_ptr>,
                                       // written and synced, replicated
                                       caf::reacts_to<durable_atom, std::uint64_t, bool, bool>,
                                       // pipelined: confirmed by the cluster, or not
                                       caf::reacts_to<replicated_atom, std::uint64_t, bool>>;

// How a job's sync ended (synced_atom).
enum class sync_status : std::uint8_t {
  durable,         // on this node, and on the cluster's synchronous standbys if any
  storage_failed,  // a write or fdatasync failed: fail-stop
  unavailable,     // durable here, but the cluster could not confirm it: outcome unknown
};

// From the facade (engine::begin_term, and the start of a term at construction): the journal
// writes a term_started record of `term` (0: writes nothing), then calls `done` on its own
// thread once everything appended so far is durable, as a sync is answered.
struct term_request : shared_payload {
  std::uint64_t term = 0;
  std::uint64_t lsn = 0;  // set by the journal: the record's LSN (0 when none was written)
  std::function<void(const term_request&, sync_status)> done;
};

// ---------------------------------------------------------------------------------------
// Account actors

// What an account is asked to do with one entry of a wave.
enum class entry_op : std::uint8_t {
  reserve,       // check a leg against committed state and holds; hold it if it passes
  release,       // an expired pending transfer: move its amount out of pending
  lookup,        // copy the account into a slot
  set_controls,  // replace the account's controls
  adjust,        // lower a held reservation to the amount decided for it (`key`, `amount`)
  create,        // a new account at `local`, its initial state in `creates_in[slot]`
  decide,        // the decision on a held reservation (`key`, `verdict`, `amount`)
};

// The decision on one reservation. It reaches the account as a `decide` entry of the
// driver's next wave, sent after the round's records went to the journal and before the
// answer: a request sent after the answer reaches the host after it, so it always sees the
// effect, and so does a later event of the same batch (its reserve follows the decide in the
// same wave, in the account's order).
enum class decision : std::uint8_t { undecided = 0, commit = 1, abort = 2 };

struct wave_entry {
  entry_op op = entry_op::reserve;
  transfer_kind kind = transfer_kind::plain;
  bool debit = false;      // which side of the transfer this account is
  bool balancing = false;  // this side's balancing flag (reserve of plain/pending only)
  decision verdict = decision::undecided;  // decide
  std::uint32_t slot = 0;                  // reply, lookup or controls slot
  std::uint32_t account = 0;               // index of the entry's group (driver-side, for sorting)
  std::uint32_t local = 0;                 // the account's index in its host
  std::uint64_t key = 0;                   // reservation key, unique per engine
  std::uint64_t chain = 0;                 // linked chain id (0: none), for the per-chain overlay
  std::uint64_t timestamp = 0;
  u128 amount = 0;          // reserve: requested; adjust, decide: decided; release: pending amount
  u128 pending_amount = 0;  // post and void: the pending transfer's amount
};

struct leg_reply {
  create_transfer_result code = create_transfer_result::ok;
  u128 amount = 0;  // the amount reserved (a balancing leg may reserve less than asked)

  // Whether this leg's answer stands when its transfer moves `less` <= amount: true unless
  // it failed a check that a smaller amount may pass (the overflow codes; a bound holds for
  // less if it held, and frozen does not depend on the amount).
  bool code_holds_for_less(u128 less) const {
    using ctr = create_transfer_result;
    if (less >= amount) return true;
    switch (code) {
      case ctr::overflows_debits_pending:
      case ctr::overflows_credits_pending:
      case ctr::overflows_debits_posted:
      case ctr::overflows_credits_posted:
      case ctr::overflows_debits:
      case ctr::overflows_credits:
      case ctr::exceeds_transfer_amount_max:
      case ctr::exceeds_daily_debit_max:
        return false;
      default:
        return true;
    }
  }
};

struct wave_group {
  account_host host;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
};

struct wave : shared_payload {
  std::vector<wave_entry> entries;  // grouped by host; within an account, in order to apply
  std::vector<wave_group> groups;
  std::vector<leg_reply> replies;
  std::vector<account> accounts_out;
  std::vector<controls_state> controls_in;
  std::vector<account_state> creates_in;
  std::atomic<std::uint32_t> outstanding{0};
  shard_actor driver;     // notified with (done_atom, job) when every group is done
  std::uint64_t job = 0;  // 0: nobody waits for this wave
};

// ---------------------------------------------------------------------------------------
// Claims: ownership of transfer ids and account ids at their owner shards

// A stored transfer, as the owners keep it and the reference ledger does.
using transfer_record = stored_transfer;

struct key_state {
  bool found = false;
  transfer_record record{};                                    // when found (transfers)
  account account_record{};                                    // when found (accounts)
  create_transfer_result failed = create_transfer_result::ok;  // remembered failure
};

struct claim_set : shared_payload {
  bool accounts = false;  // account ids, or transfer ids
  std::uint64_t batch = 0;
  std::uint32_t shard = 0;
  std::vector<u128> keys;
  std::vector<key_state> states;  // filled by the owner
  shard_actor driver;
};

struct release_set : shared_payload {
  bool accounts = false;
  std::uint64_t batch = 0;
  std::vector<u128> keys;                                // every key the batch claimed here
  std::vector<transfer_record> new_transfers;            // records the batch created
  std::vector<std::pair<u128, pending_state>> resolved;  // pending transfers posted or voided
  std::vector<std::pair<u128, create_transfer_result>> failures;  // remembered by id
  std::vector<account> new_accounts;
};

// New accounts for every shard's directory.
struct directory_update : shared_payload {
  std::vector<std::pair<u128, account_address>> addresses;
  std::vector<std::uint32_t> ledgers;
};

// Read-only questions to owner shards: transfer lookups, history, stats.
struct shard_query : shared_payload {
  enum class kind : std::uint8_t { lookup_transfers, history, stats } what = kind::stats;
  std::vector<u128> ids;            // lookup_transfers
  std::vector<std::int32_t> found;  // per id: index into out, or -1
  std::vector<transfer> out;
  account_filter filter{};   // history
  std::uint32_t ledger = 0;  // stats
  ledger_stats stats{};
  std::atomic<std::uint32_t> outstanding{0};
  shard_actor driver;
  std::uint64_t job = 0;
};

// ---------------------------------------------------------------------------------------
// Requests from the facade

enum class request_op : std::uint8_t {
  create_accounts,
  create_transfers,
  lookup_accounts,
  lookup_transfers,
  get_account_transfers,
  set_account_controls,
  get_ledger_stats,
};

struct request : shared_payload {
  request_op op = request_op::create_transfers;
  std::uint64_t timestamp_base = 0;
  std::vector<account> accounts;
  std::vector<transfer> transfers;
  std::vector<u128> ids;
  std::vector<account_controls> controls;
  account_filter filter{};
  std::uint32_t ledger = 0;
  // Answers.
  engine_status status = engine_status::ok;
  std::vector<result> results;
  std::vector<account> accounts_out;
  std::vector<transfer> transfers_out;
  ledger_stats stats_out{};
  // Called exactly once, on a worker thread, when the request is answered.
  std::function<void(request&)> done;
};

}  // namespace remit::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::wave_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::claim_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::release_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::directory_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::query_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::request_ptr)

namespace remit::actors {

// Records for the journal, already laid out as payloads: one journal record per entry.
struct journal_batch : shared_payload {
  struct part {
    journal::record_type type;
    std::vector<std::byte> payload;
  };
  std::vector<part> parts;

  template <class T>
  void add(journal::record_type type, const T& entry) {
    if (parts.empty() || parts.back().type != type ||
        parts.back().payload.size() + sizeof(T) > journal::record_payload_max)
      parts.push_back(part{type, {}});
    auto& payload = parts.back().payload;
    const std::size_t at = payload.size();
    payload.resize(at + sizeof(T));
    std::memcpy(payload.data() + at, &entry, sizeof(T));
  }
  bool empty() const { return parts.empty(); }
};

// What one shard gets back from recovery: its accounts, and the recovered state itself, from
// which it takes the transfers and failures it owns (owner_of(id, shards) == shard). The
// shards read the one state side by side (const), and it is freed when the last is done:
// nothing copies the transfers for them first.
struct restore_set : shared_payload {
  std::vector<std::pair<u128, account_address>> addresses;  // every account (directory)
  std::vector<std::uint32_t> ledgers;
  std::vector<account> owned_accounts;
  std::shared_ptr<const reference_ledger> source;
  std::uint32_t shard = 0;
  std::uint32_t shards = 1;
  std::uint64_t transfers_expected = 0;  // about this shard's share, to size its tables
};

}  // namespace remit::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::journal_batch_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::restore_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(remit::actors::term_request_ptr)
