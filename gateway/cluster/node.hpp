// A remitd node of a cluster (docs/CLUSTER.md): its role from etcd (node_role), its copy of
// the primary's journal while it is a standby, the engine while it is primary, and the
// node-to-node traffic on the server's listener (gateway::cluster_hooks).
//
// - Standby: a thread follows the primary (peer_connection): FOLLOW, then every GROUP is
//   checked, written and synced by a journal_follower (the GROUPs that arrived together
//   under one fdatasync) and acknowledged with the LSN it has made durable; the follower
//   applies it behind, on a thread of its own. A diverged tail is cut, a rolled-away journal
//   is replaced by the primary's snapshot. Client requests get not_primary with the
//   primary's address.
// - Promotion (node_role says primary): the follow thread stops, the follower finishes its
//   apply and closes, and the engine starts from the same data directory, taking the state
//   the standby applied, with the new term (its
//   first record) and a replicate hook; the server gets the engine. From then on every
//   journal group goes to every following standby, and an answer waits until every member of
//   the synchronous set holds it (PROTOCOL.md section 9), or is `unavailable` after the
//   replication timeout or once the lease is gone.
// - The synchronous set (etcd's `sync` key): the primary adds a standby only once it holds
//   every LSN acknowledged so far, and waits for it from the moment it decides to add it; it
//   writes the set to etcd before it stops waiting for a standby. Strict (the default): the
//   set never becomes empty, so with no healthy standby writes wait and are answered
//   `unavailable`. With allow_async it records an empty set first and goes on alone.
// - A primary deposed by another one (its role becomes standby) cannot become a standby in
//   place: its engine holds state that may include a tail the new primary never had. wait()
//   answers `restart`, and the process starts again from its data directory, which cuts that
//   tail when it follows.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "gateway/cluster/election.hpp"
#include "gateway/cluster/node_messages.hpp"
#include "gateway/server/server.hpp"

namespace remit::actors {
class journal_follower;
}

namespace remit::cluster {

class peer_connection;

struct node_config {
  election_config election;  // cluster, node, address (the advertised client address), etcd
  // The engine this node runs while it is primary; its data_dir is also the standby's copy.
  // Durability must be on.
  engine_config engine;
  // The key (permission 8) this node authenticates with to other nodes.
  std::string peer_key_id;
  std::vector<std::uint8_t> peer_secret;
  bool peer_mac = true;
  // How long an answer waits for the synchronous standbys before it is `unavailable`.
  std::chrono::milliseconds replication_timeout{5000};
  std::uint32_t sync_standbys = 1;  // the size of the synchronous set the primary aims for
  // Journal groups written ahead of the standbys' confirmation (replicate_pipeline::window).
  std::uint32_t replication_window = 8;
  bool allow_async = false;
  // A standby whose link has more than this queued is dropped (it comes back and catches up
  // from the journal files).
  std::size_t link_queue_max = 64u << 20;
  std::chrono::milliseconds heartbeat_interval{500};
  // A member of the synchronous set that has not acknowledged what it was sent for this long
  // (or whose link closed) is replaced by a healthy standby when there is one. 0: half the
  // replication timeout, at least 1 s.
  std::chrono::milliseconds standby_stall{0};
  std::function<void(std::string_view)> log;
};

class node final : public gateway::cluster_hooks {
 public:
  explicit node(node_config cfg);
  ~node() override;
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // Opens the standby copy of the data directory (recovery: a torn tail is cut), then starts
  // the election and the threads. `srv` must have been built with this node as its hooks and
  // must outlive it. False with `why` when the data directory is damaged.
  [[nodiscard]] bool start(gateway::server& srv, std::string& why);

  enum class outcome : std::uint8_t {
    stopped,  // stop() was called
    restart,  // deposed as primary: start the process again to follow the new primary
    failed,   // storage failed (fail-stop), or promotion could not start the engine
  };
  // Blocks until the node must end.
  outcome wait();
  // Ends waiting with `stopped`. Any thread (a signal handler's thread).
  void request_stop();

  // Graceful stop, after wait(): a primary stops taking client requests, lets the ones in
  // flight finish (at most the replication timeout), hands the leader key over (resign) so a
  // standby takes over at once, and shuts its engine down; a standby stops following. The
  // server is stopped in between (the caller gives it): its sessions end.
  void shutdown(gateway::server& srv, bool resign);

  // The engine while this node is primary (null before). For figures only.
  const engine* current_engine() const { return engine_attached_.load() ? engine_.get() : nullptr; }

  // gateway::cluster_hooks
  std::uint32_t hello_role() const override;
  bool serving(std::string& primary) const override;
  bool may_answer() const override;
  void on_node_frame(const std::shared_ptr<gateway::node_link>& link, const codec::frame_header& h,
                     std::span<const std::byte> body) override;
  void on_node_closed(const gateway::node_link& link) override;
  std::string metrics_text() const override;

 private:
  using clock = std::chrono::steady_clock;

  // A standby following this primary, by its session.
  struct standby_link {
    std::shared_ptr<gateway::node_link> link;
    std::string name;
    enum class state : std::uint8_t { catching_up, streaming, closed } st = state::catching_up;
    std::uint64_t acked_lsn = 0;  // durable on it (its last Ack with ok)
    std::uint64_t sent_lsn = 0;   // the last LSN sent to it
    std::uint64_t next_request = 1;
    clock::time_point last_progress{};  // when acked_lsn last moved, or it was last level
    clock::time_point last_sent{};
    std::deque<std::pair<std::uint64_t, clock::time_point>> sent_times;  // lag in seconds
    std::uint64_t rtt_ns = 0;
  };

  void say(const std::string& line) const;
  void on_role(const role_state& s);
  void control_loop();
  void follow_loop();
  void replication_loop();
  void catch_up(std::shared_ptr<gateway::node_link> link, follow f);
  [[nodiscard]] bool promote(std::uint64_t term, std::string& why);

  // Primary side: the journal's pipelined replication (engine_config::pipeline). ship() on
  // the journal's writer thread sends a group to every streaming standby; confirm() on the
  // journal's confirming thread waits until the synchronous set holds it.
  void ship(std::span<const std::byte> group, std::uint64_t first_lsn, std::uint64_t last_lsn);
  bool confirm(std::uint64_t last_lsn);
  // Under mu_: sends one journal group (records of one group_lsn) to a link as GROUPs.
  void send_group_locked(standby_link& l, std::span<const std::byte> records,
                         std::uint64_t group_lsn);
  bool sync_satisfied_locked(std::uint64_t lsn) const;
  void maintain_sync_set();
  void send_heartbeats();
  void answer_heartbeat(const std::shared_ptr<gateway::node_link>& link,
                        const codec::frame_header& h, const heartbeat& hb);
  std::uint64_t durable_lsn() const;
  std::uint64_t term_now() const;

  // Standby side.
  void follow_primary(peer_connection& conn, const std::string& address);
  [[nodiscard]] bool receive_snapshot(peer_connection& conn, const follow_reply& r,
                                      std::uint64_t term);

  node_config cfg_;
  gateway::server* srv_ = nullptr;
  std::unique_ptr<node_role> role_;

  // The standby's copy (while no engine runs); touched by the follow thread, and by the
  // control thread once the follow thread has ended.
  std::unique_ptr<actors::journal_follower> follower_;
  std::atomic<std::uint64_t> standby_durable_{0};
  std::atomic<std::uint64_t> standby_term_{0};
  std::atomic<std::uint64_t> primary_durable_seen_{0};
  std::unique_ptr<peer_connection> follow_conn_;  // owned by the follow thread
  std::mutex follow_conn_mutex_;                  // guards the pointer for shutdown()

  // The engine (primary only).
  std::unique_ptr<engine> engine_;
  std::atomic<bool> engine_attached_{false};
  std::atomic<bool> stopping_{false};

  // Primary state, under mu_.
  mutable std::mutex mu_;
  std::condition_variable ack_cv_;
  std::condition_variable work_cv_;
  bool primary_active_ = false;
  std::uint64_t term_ = 0;
  std::vector<term_start> terms_;
  std::uint64_t written_lsn_ = 0;  // the last LSN durable here (the hook has seen it)
  std::uint64_t acked_lsn_ = 0;    // the last LSN the cluster acknowledged
  std::deque<std::pair<std::uint64_t, clock::time_point>> shipped_;  // groups not yet confirmed
  std::vector<std::string> sync_set_;  // as written to etcd by this primary
  std::vector<std::string> joining_;   // being added: waited for, not yet in etcd
  bool empty_recorded_ = false;        // allow_async: an empty set is in etcd
  clock::time_point no_standby_since_{};
  std::map<const gateway::node_link*, standby_link> links_;
  // One thread per FOLLOW being answered and caught up; joined once done.
  struct catch_up_thread {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<catch_up_thread> catch_up_threads_;
  void join_catch_up_threads(bool all);
  std::uint64_t groups_unavailable_ = 0;
  std::uint64_t sync_set_changes_ = 0;

  // Control.
  std::mutex ctl_mutex_;
  std::condition_variable ctl_cv_;
  bool role_changed_ = false;
  std::optional<outcome> outcome_;
  std::atomic<std::uint64_t> promotions_{0};

  std::thread control_thread_;
  std::thread follow_thread_;
  std::thread replication_thread_;
  std::atomic<bool> follow_stop_{false};
  std::atomic<bool> replication_stop_{false};
};

}  // namespace remit::cluster
