// remit::cluster::node_role: a node's election and lease (docs/CLUSTER.md, "Roles and the
// lease"). One thread of its own talks to etcd through an etcd::client it owns; the owner
// starts and stops it, reads the role, and asks `writes_allowed(now)` on the hot path.
//
// Design. The node is in one of three roles:
// - primary: it holds the leader key under its own lease, with a term it wrote itself;
// - standby: etcd answers and another node (or nobody) holds the leader key;
// - unknown: etcd has not answered for a while and the node holds no valid lease.
// The thread runs a loop: as primary it keeps its lease alive every TTL/3 and checks that
// the leader key is still its own; otherwise it reads the cluster's keys every TTL/10 and,
// when the leader key is free and this node may take it, takes it with the one txn of
// CLUSTER.md.
//
// Invariants:
// - writes are allowed only before the lease deadline, which is the send time of the last
//   keepalive (or grant) that etcd answered, plus the TTL, less a margin. etcd counts the
//   lease from a later moment (when it received that request), so the deadline falls before
//   etcd could let another node in, by at least the margin.
// - `writes_allowed(now)` is one atomic load: the deadline itself, 0 when not primary. It
//   compares `now` with the deadline, so a stalled thread cannot keep writes allowed past
//   it (a SIGSTOP of the process, a thread the scheduler forgot, an etcd call in flight).
// - a node becomes primary only with a term it wrote: term + 1 in the txn that took the
//   key, or, after losing its lease deadline, the same term again when etcd shows that its
//   lease, its leader key and its term are all still there (nobody took over meanwhile).
// - every etcd call has the client's deadline (at most TTL/3 here), every wait is bounded,
//   every retry sleeps, every string read from etcd is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gateway/cluster/etcd.hpp"

namespace remit::cluster {

// Bounds of what a node writes to etcd and accepts from it.
inline constexpr std::size_t name_bytes_max = 64;      // cluster and node names
inline constexpr std::size_t address_bytes_max = 255;  // host:port
inline constexpr std::size_t sync_names_max = 16;      // node names in the synchronous set
inline constexpr std::size_t sync_bytes_max = sync_names_max * (name_bytes_max + 1);

enum class role : std::uint8_t { unknown, standby, primary };
const char* role_name(role r);

// Cluster and node names: 1..name_bytes_max of [A-Za-z0-9._-] (no ',': the synchronous
// set is comma-separated; no '/': they go into keys).
bool valid_name(std::string_view name);

struct election_config {
  using clock = std::chrono::steady_clock;

  std::string cluster;  // keys under /remit/<cluster>/
  std::string node;     // this node's name: the leader key's value when it is primary
  std::string address;  // this node's client address, host:port, written under /primary
  etcd::config etcd;    // its timeout is capped at the keepalive interval (TTL/3)
  // The lease TTL asked of etcd, whole seconds, >= 1 s (etcd may grant more; the node counts
  // with the smaller of the two).
  std::chrono::seconds lease_ttl{2};
  // How long before the lease would end by the node's own count it stops taking writes;
  // 0: max(200 ms, TTL/4). Must stay below TTL/2 so there is time between keepalives.
  std::chrono::milliseconds margin{0};
  // false: this node never takes the leader key (a standby kept out of failover).
  bool may_be_primary = true;
  // The clock every deadline is counted on; writes_allowed(now) must be given its time.
  // Empty: steady_clock::now. Tests inject one that they can move.
  std::function<clock::time_point()> now;
  // Tests only: called by the election thread at the top of every loop turn; a test that
  // blocks in it stalls the thread (as SIGSTOP would).
  std::function<void()> step_hook;
};

// What the node knows, as last read. A copy: the owner may keep it.
struct role_state {
  using time_point = election_config::clock::time_point;

  cluster::role role = role::unknown;
  // primary: its own term; else the term last read from etcd (0: none yet).
  std::uint64_t term = 0;
  std::string leader;           // the leader key's value as last read ("": none)
  std::string primary_address;  // the /primary key as last read: the not_primary answer
  std::vector<std::string> sync_set;
  bool sync_exists = false;         // false: no sync key yet (a new cluster)
  std::uint64_t role_changes = 0;   // grows by one on every change of `role`
  time_point lease_counted_from{};  // primary: send time of the last answered keepalive
  time_point lease_deadline{};      // primary: writes stop here; else the epoch
};

class node_role {
 public:
  using clock = election_config::clock;
  using time_point = clock::time_point;
  // Called on every change of role, on the election thread (or on the caller of stop and
  // resign), with no lock held. It must not call stop() or resign().
  using on_change = std::function<void(const role_state&)>;

  // Checks the configuration (std::invalid_argument) and builds the clients; no thread yet,
  // no etcd call.
  node_role(election_config cfg, on_change callback = {});
  // stop().
  ~node_role();
  node_role(const node_role&) = delete;
  node_role& operator=(const node_role&) = delete;

  // Starts the election thread. Once.
  void start();
  // Stops the thread without giving anything up, as a crash would leave etcd: the lease
  // runs out by itself. The node stops taking writes at once (role unknown).
  void stop();
  // Graceful: stops the thread, stops taking writes, then deletes the leader key (only if
  // it is still this node's, under this lease) and revokes the lease so a standby can take
  // over at once. Answers whether the key was given up; false also when etcd did not answer
  // (the lease then ends by itself).
  bool resign();

  // The hot-path check: this node is primary and `now` is before its lease deadline.
  // `now` is a reading of the configured clock. One atomic load; does not lock, does not
  // allocate, does not call etcd.
  bool writes_allowed(time_point now) const noexcept {
    const auto at = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
    return at.count() < writes_until_ns_.load(std::memory_order_acquire);
  }
  // A reading of the configured clock.
  time_point now() const { return now_ ? now_() : clock::now(); }

  role_state state() const;

  // Primary only: writes the synchronous set (node names, not this node's) with a txn that
  // compares the leader key's value and lease with this node's, so a deposed primary cannot
  // change it. Answers whether it was applied: false when this node is not primary, the
  // names are not valid, etcd refused the compare, or etcd did not answer (then it may or
  // may not have been applied). Any thread; calls are serialised among themselves.
  bool set_sync_set(std::span<const std::string> names);

  const election_config& config() const { return cfg_; }
  std::chrono::milliseconds margin() const { return margin_; }
  std::chrono::milliseconds keepalive_interval() const { return keepalive_interval_; }
  std::chrono::milliseconds poll_interval() const { return poll_interval_; }

 private:
  struct snapshot;  // the cluster's keys as one txn read them

  void run();
  void primary_step();
  void follower_step();
  std::optional<snapshot> read_cluster();
  bool eligible(const snapshot& s) const;
  void try_take(const snapshot& s);
  void try_reacquire();
  std::optional<bool> leader_is_still_mine();
  void stop_thread();
  void drop_lease();
  void promote(std::uint64_t term, time_point counted_from);
  void demote(cluster::role to);
  void observe(const snapshot& s);
  void set_role(cluster::role to);
  void publish_deadline(time_point deadline);
  void sleep_until(time_point wake);
  std::string key(std::string_view name) const;

  const election_config cfg_;
  const on_change callback_;
  const std::function<time_point()> now_;
  const std::chrono::milliseconds ttl_;
  const std::chrono::milliseconds margin_;
  const std::chrono::milliseconds keepalive_interval_;
  const std::chrono::milliseconds poll_interval_;
  const std::chrono::milliseconds retry_pause_;

  // The hot path's only state: the lease deadline in ns of the clock, 0 when not primary.
  std::atomic<std::int64_t> writes_until_ns_{0};
  static_assert(std::atomic<std::int64_t>::is_always_lock_free);

  // Owned by the election thread (and by stop/resign once it has been joined).
  etcd::client client_;
  cluster::role role_ = role::unknown;  // the role as published (also written under state_mutex_)
  std::int64_t lease_id_ = 0;           // 0: none held
  std::chrono::milliseconds lease_ttl_{0};  // min(asked, granted)
  std::uint64_t lease_term_ = 0;            // the term written with the lease's leader key
  std::uint64_t last_primary_term_ = 0;     // the last term this node was primary in
  time_point deadline_{};                   // primary: the lease deadline (as published)
  time_point next_keepalive_at_{};
  time_point last_read_ok_{};
  bool ever_read_ = false;

  // Observed state, read by state(); the election thread writes it.
  mutable std::mutex state_mutex_;
  role_state state_;
  std::int64_t primary_lease_id_ = 0;  // the lease while primary, for set_sync_set; else 0

  // set_sync_set's own connection: the election thread's client is not shared.
  std::mutex sync_mutex_;
  etcd::client sync_client_;

  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace remit::cluster
