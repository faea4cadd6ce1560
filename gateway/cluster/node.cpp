#include "gateway/cluster/node.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "actors/follower.hpp"
#include "actors/storage.hpp"
#include "engine/crc32c.hpp"
#include "gateway/cluster/peer_connection.hpp"
#include "gateway/codec/address.hpp"

namespace remit::cluster {

namespace {

using namespace std::chrono_literals;

std::uint64_t wall_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// Records before the first entry of a history were written in term 0.
std::vector<term_start> history_of(const actors::journal_follower& f) {
  std::vector<term_start> out;
  for (const auto& t : f.term_history()) out.push_back({t.term, t.first_lsn});
  return out;
}

}  // namespace

node::node(node_config cfg) : cfg_(std::move(cfg)) {
  if (!cfg_.engine.durability) throw std::invalid_argument("a cluster node needs durability on");
  if (cfg_.sync_standbys == 0) throw std::invalid_argument("sync_standbys must be at least 1");
  if (cfg_.standby_stall.count() == 0)
    cfg_.standby_stall = std::max<std::chrono::milliseconds>(1000ms, cfg_.replication_timeout / 2);
  role_ = std::make_unique<node_role>(cfg_.election, [this](const role_state& s) { on_role(s); });
}

node::~node() {
  request_stop();
  follow_stop_ = true;
  replication_stop_ = true;
  {
    std::lock_guard<std::mutex> lock(follow_conn_mutex_);
    if (follow_conn_) follow_conn_->shutdown();
  }
  work_cv_.notify_all();
  ack_cv_.notify_all();
  ctl_cv_.notify_all();
  if (role_) role_->stop();
  if (control_thread_.joinable()) control_thread_.join();
  if (follow_thread_.joinable()) follow_thread_.join();
  if (replication_thread_.joinable()) replication_thread_.join();
  join_catch_up_threads(true);
  if (engine_) engine_->shutdown();
}

void node::join_catch_up_threads(bool all) {
  std::vector<catch_up_thread> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = catch_up_threads_.begin(); it != catch_up_threads_.end();) {
      if (all || it->done->load()) {
        finished.push_back(std::move(*it));
        it = catch_up_threads_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& t : finished)
    if (t.thread.joinable()) t.thread.join();
}

void node::say(const std::string& line) const {
  if (cfg_.log) cfg_.log(line);
}

bool node::start(gateway::server& srv, std::string& why) {
  srv_ = &srv;
  actors::follower_config fc;
  fc.dir = cfg_.engine.data_dir;
  fc.file_size_max = cfg_.engine.journal_file_size_max;
  fc.faults = cfg_.engine.faults;
  follower_ = std::make_unique<actors::journal_follower>(fc);
  if (!follower_->open(why)) return false;
  standby_durable_ = follower_->durable_lsn();
  standby_term_ = follower_->last_term();
  say(fmt::format("standby copy opened: LSN {}, term {}", follower_->durable_lsn(),
                  follower_->last_term()));
  role_->start();
  control_thread_ = std::thread([this] { control_loop(); });
  follow_thread_ = std::thread([this] { follow_loop(); });
  return true;
}

node::outcome node::wait() {
  std::unique_lock<std::mutex> lock(ctl_mutex_);
  ctl_cv_.wait(lock, [&] { return outcome_.has_value(); });
  return *outcome_;
}

void node::request_stop() {
  std::lock_guard<std::mutex> lock(ctl_mutex_);
  if (!outcome_) outcome_ = outcome::stopped;
  ctl_cv_.notify_all();
}

void node::shutdown(gateway::server& srv, bool resign) {
  stopping_ = true;  // no more client requests: not_primary
  if (engine_attached_) {
    const auto until = clock::now() + cfg_.replication_timeout + 1s;
    while (engine_->inflight_requests() > 0 && clock::now() < until)
      std::this_thread::sleep_for(5ms);
  }
  if (resign && engine_attached_) {
    const bool gave_up = role_->resign();
    say(gave_up ? "resigned: the leader key is free" : "resign: etcd did not confirm");
  }
  follow_stop_ = true;
  {
    std::lock_guard<std::mutex> lock(follow_conn_mutex_);
    if (follow_conn_) follow_conn_->shutdown();
  }
  srv.stop();
  role_->stop();
  replication_stop_ = true;
  work_cv_.notify_all();
  ack_cv_.notify_all();
  ctl_cv_.notify_all();
  if (control_thread_.joinable()) control_thread_.join();
  if (follow_thread_.joinable()) follow_thread_.join();
  if (replication_thread_.joinable()) replication_thread_.join();
  join_catch_up_threads(true);
  if (engine_) engine_->shutdown();
}

// ---------------------------------------------------------------------------------------
// Roles

void node::on_role(const role_state& s) {
  say(fmt::format("role: {} (term {}, leader '{}', synchronous set '{}')", role_name(s.role),
                  s.term, s.leader, join(s.sync_set)));
  std::lock_guard<std::mutex> lock(ctl_mutex_);
  role_changed_ = true;
  ctl_cv_.notify_all();
}

void node::control_loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(ctl_mutex_);
      ctl_cv_.wait_for(lock, 100ms, [&] { return role_changed_ || outcome_.has_value(); });
      if (outcome_) return;
      role_changed_ = false;
    }
    const role_state s = role_->state();
    auto finish = [&](outcome o) {
      std::lock_guard<std::mutex> lock(ctl_mutex_);
      if (!outcome_) outcome_ = o;
      ctl_cv_.notify_all();
    };
    if (engine_) {
      if (engine_->storage_failed()) {
        say("the journal failed (fail-stop): giving up the leader key");
        (void)role_->resign();
        return finish(outcome::failed);
      }
      // Deposed: another node holds the leader key, or took it in a newer term. (A leader
      // key that is merely free may come back to this node in its own term.)
      if ((!s.leader.empty() && s.leader != cfg_.election.node) || s.term > term_now()) {
        say(fmt::format("deposed: '{}' is primary in term {}; restarting to follow it", s.leader,
                        s.term));
        return finish(outcome::restart);
      }
      if (s.role == role::primary && s.term > term_now()) {
        // The same process took the key again in a newer term: its records from now on
        // belong to that term.
        const std::uint64_t t = s.term;
        {
          std::lock_guard<std::mutex> lock(mu_);
          term_ = t;
          if (terms_.empty() || terms_.back().term < t) terms_.push_back({t, written_lsn_ + 1});
        }
        auto st = engine_->begin_term(t).get();
        say(fmt::format("primary again, in term {} ({})", t, name(st)));
      }
      continue;
    }
    if (follower_ && follower_->failed()) {
      say("the standby copy failed (fail-stop)");
      return finish(outcome::failed);
    }
    if (s.role == role::primary && !stopping_) {
      std::string why;
      if (!promote(s.term, why)) {
        say("promotion failed: " + why);
        (void)role_->resign();
        return finish(outcome::failed);
      }
    }
  }
}

bool node::promote(std::uint64_t term, std::string& why) {
  const auto started = clock::now();
  // The follow thread ends first: the follower's files are the engine's from now on.
  follow_stop_ = true;
  {
    std::lock_guard<std::mutex> lock(follow_conn_mutex_);
    if (follow_conn_) follow_conn_->shutdown();
  }
  if (follow_thread_.joinable()) follow_thread_.join();
  std::uint64_t last = 0;
  std::vector<term_start> history;
  std::shared_ptr<reference_ledger> state;
  if (follower_) {
    follower_->close();  // syncs what the follow thread wrote, and applies every group
    last = follower_->durable_lsn();
    history = history_of(*follower_);
    state = std::make_shared<reference_ledger>(follower_->release_state());
    follower_.reset();
  }
  if (history.empty() || history.back().term < term) history.push_back({term, last + 1});
  {
    std::lock_guard<std::mutex> lock(mu_);
    term_ = term;
    terms_ = std::move(history);
    written_lsn_ = last;
    acked_lsn_ = 0;
    shipped_.clear();
    sync_set_.clear();
    joining_.clear();
    const role_state s = role_->state();
    empty_recorded_ = s.sync_exists && s.sync_set.empty();
    no_standby_since_ = clock::now();
    primary_active_ = true;
  }
  replication_stop_ = false;
  replication_thread_ = std::thread([this] { replication_loop(); });
  engine_config ec = cfg_.engine;
  ec.term = term;
  ec.recovered = std::move(state);  // what the copy applied: no replay
  ec.recovered_lsn = last;
  ec.pipeline.ship = [this](std::span<const std::byte> group, std::uint64_t first,
                            std::uint64_t last_lsn) { ship(group, first, last_lsn); };
  ec.pipeline.confirm = [this](std::uint64_t last_lsn) { return confirm(last_lsn); };
  ec.pipeline.window = cfg_.replication_window;
  try {
    engine_ = std::make_unique<engine>(std::move(ec));
  } catch (const std::exception& e) {
    why = std::string("cannot start the engine: ") + e.what();
    return false;
  }
  srv_->attach_engine(*engine_);
  engine_attached_ = true;
  promotions_.fetch_add(1);
  say(fmt::format(
      "primary in term {}: engine started from LSN {} in {} ms", term, last,
      std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count()));
  return true;
}

std::uint64_t node::term_now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return term_;
}

std::uint64_t node::durable_lsn() const {
  if (engine_attached_) {
    std::lock_guard<std::mutex> lock(mu_);
    return written_lsn_;
  }
  return standby_durable_.load();
}

// ---------------------------------------------------------------------------------------
// gateway::cluster_hooks

std::uint32_t node::hello_role() const {
  const bool primary =
      engine_attached_.load() && !stopping_.load() && role_->writes_allowed(role_->now());
  return static_cast<std::uint32_t>(primary ? codec::node_role::primary
                                            : codec::node_role::standby);
}

bool node::serving(std::string& primary) const {
  if (engine_attached_.load(std::memory_order_acquire) && !stopping_.load() &&
      role_->writes_allowed(role_->now()))
    return true;
  const role_state s = role_->state();
  if (s.leader != cfg_.election.node) primary = s.primary_address;
  return false;
}

bool node::may_answer() const {
  return role_->writes_allowed(role_->now());
}

std::string node::metrics_text() const {
  std::string out;
  auto it = std::back_inserter(out);
  const role_state s = role_->state();
  const bool primary = engine_attached_.load() && role_->writes_allowed(role_->now());
  fmt::format_to(it, "# HELP remit_cluster_role The node's role: 1 for the role it has now.\n");
  fmt::format_to(it, "# TYPE remit_cluster_role gauge\n");
  for (const char* r : {"primary", "standby", "unknown"}) {
    const bool now = primary ? std::strcmp(r, "primary") == 0
                             : std::strcmp(r, s.role == role::unknown ? "unknown" : "standby") == 0;
    fmt::format_to(it, "remit_cluster_role{{role=\"{}\"}} {}\n", r, now ? 1 : 0);
  }
  fmt::format_to(it, "# HELP remit_cluster_term The term: the primary's own, else as last read.\n");
  fmt::format_to(it, "# TYPE remit_cluster_term gauge\nremit_cluster_term {}\n",
                 primary ? term_now() : s.term);
  fmt::format_to(it, "# HELP remit_cluster_durable_lsn The last LSN durable on this node.\n");
  fmt::format_to(it, "# TYPE remit_cluster_durable_lsn gauge\nremit_cluster_durable_lsn {}\n",
                 durable_lsn());
  fmt::format_to(it, "# HELP remit_cluster_failovers_total Role changes this node has seen.\n");
  fmt::format_to(it,
                 "# TYPE remit_cluster_failovers_total counter\nremit_cluster_failovers_total {}\n",
                 s.role_changes);
  fmt::format_to(it, "# HELP remit_cluster_promotions_total Times this process became primary.\n");
  fmt::format_to(
      it, "# TYPE remit_cluster_promotions_total counter\nremit_cluster_promotions_total {}\n",
      promotions_.load());
  std::lock_guard<std::mutex> lock(mu_);
  fmt::format_to(it, "# HELP remit_cluster_sync_set_size Standbys an answer waits for.\n");
  fmt::format_to(it, "# TYPE remit_cluster_sync_set_size gauge\nremit_cluster_sync_set_size {}\n",
                 primary_active_ ? sync_set_.size() : s.sync_set.size());
  fmt::format_to(it, "# HELP remit_cluster_sync_set_changes_total Synchronous sets written.\n");
  fmt::format_to(it,
                 "# TYPE remit_cluster_sync_set_changes_total counter\n"
                 "remit_cluster_sync_set_changes_total {}\n",
                 sync_set_changes_);
  fmt::format_to(it,
                 "# HELP remit_cluster_unavailable_groups_total Groups not replicated in time.\n");
  fmt::format_to(it,
                 "# TYPE remit_cluster_unavailable_groups_total counter\n"
                 "remit_cluster_unavailable_groups_total {}\n",
                 groups_unavailable_);
  fmt::format_to(it, "# HELP remit_cluster_standby_lag_lsn Records a standby lacks.\n");
  fmt::format_to(it, "# TYPE remit_cluster_standby_lag_lsn gauge\n");
  const auto now = clock::now();
  for (const auto& [k, l] : links_)
    fmt::format_to(it, "remit_cluster_standby_lag_lsn{{node=\"{}\"}} {}\n", l.name,
                   written_lsn_ - std::min(written_lsn_, l.acked_lsn));
  fmt::format_to(it,
                 "# HELP remit_cluster_standby_lag_seconds Age of the oldest record a standby "
                 "has not acknowledged.\n");
  fmt::format_to(it, "# TYPE remit_cluster_standby_lag_seconds gauge\n");
  for (const auto& [k, l] : links_) {
    const double lag =
        l.sent_times.empty()
            ? 0.0
            : std::chrono::duration<double>(now - l.sent_times.front().second).count();
    fmt::format_to(it, "remit_cluster_standby_lag_seconds{{node=\"{}\"}} {:.6f}\n", l.name, lag);
  }
  if (!primary_active_) {
    fmt::format_to(it, "# HELP remit_cluster_primary_lag_lsn Records this standby lacks.\n");
    fmt::format_to(it,
                   "# TYPE remit_cluster_primary_lag_lsn gauge\nremit_cluster_primary_lag_lsn {}\n",
                   primary_durable_seen_.load() -
                       std::min(primary_durable_seen_.load(), standby_durable_.load()));
  }
  return out;
}

void node::answer_heartbeat(const std::shared_ptr<gateway::node_link>& link,
                            const codec::frame_header& h, const heartbeat& req) {
  heartbeat hb{};
  const bool primary = engine_attached_.load() && role_->writes_allowed(role_->now());
  hb.term = primary ? term_now() : std::max(role_->state().term, standby_term_.load());
  hb.durable_lsn = durable_lsn();
  hb.sent_at_ns = wall_ns();
  hb.echo_ns = req.sent_at_ns;
  hb.role =
      static_cast<std::uint32_t>(primary ? codec::node_role::primary : codec::node_role::standby);
  std::vector<std::byte> out;
  encode(out, {h.request_id, 0, nullptr}, hb, true);
  (void)link->send(std::move(out));
}

void node::on_node_frame(const std::shared_ptr<gateway::node_link>& link,
                         const codec::frame_header& h, std::span<const std::byte> body) {
  if (const status s = check_node_frame(h, body); s != status::ok) {
    say(fmt::format("node frame from {} refused: {}", link->peer(), codec::name(s)));
    std::vector<std::byte> out(codec::header_size);
    codec::seal_frame(
        out, {h.opcode, 0, h.request_id, 0, static_cast<std::uint16_t>(s), codec::flag_response},
        nullptr);
    (void)link->send(std::move(out));
    link->close();
    return;
  }
  const bool response = (h.flags & codec::flag_response) != 0;
  const auto op = static_cast<node_opcode>(h.opcode);
  if (op == node_opcode::heartbeat) {
    heartbeat hb{};
    if (decode(body, hb) != status::ok) return;
    if (!response) return answer_heartbeat(link, h, hb);
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = links_.find(link.get()); it != links_.end() && hb.echo_ns != 0) {
      const std::uint64_t now = wall_ns();
      it->second.rtt_ns = now > hb.echo_ns ? now - hb.echo_ns : 0;
    }
    return;
  }
  if (op == node_opcode::follow && !response) {
    follow f{};
    if (decode(body, f) != status::ok) return link->close();
    std::unique_lock<std::mutex> lock(mu_);
    const bool primary = primary_active_ && !stopping_ && role_->writes_allowed(role_->now());
    if (!primary) {
      lock.unlock();
      follow_reply r{};
      r.reason = static_cast<std::uint32_t>(node_reason::not_primary);
      r.version = replication_version;
      r.term = role_->state().term;
      std::vector<std::byte> out;
      encode(out, {h.request_id, 0, nullptr}, r);
      (void)link->send(std::move(out));
      return link->close();
    }
    // The answer reads the journal's files: off the I/O thread.
    auto done = std::make_shared<std::atomic<bool>>(false);
    catch_up_threads_.push_back({std::thread([this, link, f, done] {
                                   catch_up(link, f);
                                   done->store(true);
                                 }),
                                 done});
    return;
  }
  if (response && (op == node_opcode::group || op == node_opcode::snapshot_begin ||
                   op == node_opcode::snapshot_chunk || op == node_opcode::snapshot_end)) {
    ack a{};
    if (decode(body, a) != status::ok) return link->close();
    std::lock_guard<std::mutex> lock(mu_);
    auto it = links_.find(link.get());
    if (it == links_.end()) return;
    standby_link& l = it->second;
    const auto reason = static_cast<node_reason>(a.reason);
    if (reason != node_reason::ok) {
      say(fmt::format("standby '{}' refused a {}: {} (its term {})", l.name, name(op), name(reason),
                      a.term));
      l.st = standby_link::state::closed;
      link->close();
      ack_cv_.notify_all();
      return;
    }
    if (a.durable_lsn > l.acked_lsn) {
      l.acked_lsn = a.durable_lsn;
      l.last_progress = clock::now();
      while (!l.sent_times.empty() && l.sent_times.front().first <= l.acked_lsn)
        l.sent_times.pop_front();
      ack_cv_.notify_all();
    }
    return;
  }
  // Anything else is not what this node expects on this session.
  say(fmt::format("unexpected node frame {} from {}", name(op), link->peer()));
  link->close();
}

void node::on_node_closed(const gateway::node_link& link) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = links_.find(&link); it != links_.end()) {
    say(fmt::format("standby '{}' disconnected", it->second.name));
    links_.erase(it);
    ack_cv_.notify_all();
    work_cv_.notify_all();
  }
}

// ---------------------------------------------------------------------------------------
// Primary: shipping

void node::send_group_locked(standby_link& l, std::span<const std::byte> records,
                             std::uint64_t group_lsn) {
  if (l.st == standby_link::state::closed) return;
  const bool split_ok =
      split_group(records, group_bytes_max,
                  [&](std::span<const std::byte> bytes, std::uint64_t first, std::uint64_t last,
                      std::uint32_t count, bool continued) {
                    group_header g{};
                    g.term = term_;
                    g.first_lsn = first;
                    g.last_lsn = last;
                    g.group_lsn = group_lsn;
                    g.record_count = count;
                    g.flags = continued ? group_flags::continued : 0;
                    std::vector<std::byte> out;
                    out.reserve(codec::header_size + group_header_size + bytes.size());
                    encode(out, {l.next_request++, 0, nullptr}, g, bytes);
                    if (!l.link->send(std::move(out))) l.st = standby_link::state::closed;
                    l.sent_lsn = last;
                  });
  REMIT_ASSERT(split_ok);
  const auto now = clock::now();
  l.last_sent = now;
  if (l.acked_lsn >= l.sent_lsn) l.last_progress = now;
  l.sent_times.emplace_back(l.sent_lsn, now);
  if (l.sent_times.size() > 4096) l.sent_times.pop_front();
  if (l.link->queued_bytes() > cfg_.link_queue_max) {
    say(fmt::format("standby '{}' is too far behind ({} bytes queued): dropped", l.name,
                    l.link->queued_bytes()));
    l.st = standby_link::state::closed;
    l.link->close();
  }
}

bool node::sync_satisfied_locked(std::uint64_t lsn) const {
  if (sync_set_.empty() && joining_.empty()) return cfg_.allow_async && empty_recorded_;
  auto holds = [&](const std::string& name) {
    for (const auto& [k, l] : links_)
      if (l.name == name && l.st == standby_link::state::streaming && l.acked_lsn >= lsn)
        return true;
    return false;
  };
  for (const auto& n : sync_set_)
    if (!holds(n)) return false;
  for (const auto& n : joining_)
    if (!holds(n)) return false;
  return true;
}

void node::ship(std::span<const std::byte> group, std::uint64_t first_lsn, std::uint64_t last_lsn) {
  std::lock_guard<std::mutex> lock(mu_);
  written_lsn_ = last_lsn;
  for (auto& [k, l] : links_)
    if (l.st == standby_link::state::streaming) send_group_locked(l, group, first_lsn);
  shipped_.emplace_back(last_lsn, clock::now());
  work_cv_.notify_all();
}

bool node::confirm(std::uint64_t last_lsn) {
  std::unique_lock<std::mutex> lock(mu_);
  // The timeout counts from when the group was shipped, not from when its turn came.
  auto deadline = clock::now() + cfg_.replication_timeout;
  while (!shipped_.empty() && shipped_.front().first <= last_lsn) {
    if (shipped_.front().first == last_lsn)
      deadline = shipped_.front().second + cfg_.replication_timeout;
    shipped_.pop_front();
  }
  for (;;) {
    if (!role_->writes_allowed(role_->now()) || replication_stop_) {
      ++groups_unavailable_;
      return false;
    }
    if (sync_satisfied_locked(last_lsn)) {
      acked_lsn_ = std::max(acked_lsn_, last_lsn);
      return true;
    }
    if (clock::now() >= deadline) {
      ++groups_unavailable_;
      return false;
    }
    ack_cv_.wait_for(lock, 20ms);
  }
}

void node::catch_up(std::shared_ptr<gateway::node_link> link, follow f) {
  const std::string name(name_of(f));
  auto reply_with = [&](const follow_reply& r) {
    std::vector<std::byte> out;
    encode(out, {1, 0, nullptr}, r);
    return link->send(std::move(out));
  };
  for (;;) {
    // Where the standby's journal and this one part.
    storage::extent ext;
    std::string why;
    if (!storage::journal_extent(cfg_.engine.data_dir, ext, why)) {
      say("follow: cannot list the journal: " + why);
      return link->close();
    }
    primary_position p;
    std::vector<term_start> terms;
    {
      std::lock_guard<std::mutex> lock(mu_);
      p.is_primary = primary_active_ && role_->writes_allowed(role_->now());
      p.term = term_;
      p.last_lsn = written_lsn_;
      terms = terms_;
    }
    p.first_lsn = ext.oldest_lsn != 0 ? ext.oldest_lsn : p.last_lsn + 1;
    p.snapshot_lsn = ext.snapshot_lsn;
    p.terms = terms;
    const follow_reply r = answer_follow(f, p);
    const auto reason = static_cast<node_reason>(r.reason);
    say(fmt::format("standby '{}' follows from LSN {} (its term {}): {}", name, f.last_lsn + 1,
                    f.last_term, cluster::name(reason)));
    if (!reply_with(r)) return;
    if (reason == node_reason::diverged) return;  // it cuts, then sends FOLLOW again
    if (reason != node_reason::ok && reason != node_reason::needs_snapshot) return link->close();
    std::uint64_t next = r.start_lsn;
    if (reason == node_reason::needs_snapshot) {
      std::vector<std::byte> bytes;
      if (!storage::read_file(cfg_.engine.data_dir + "/" + ext.snapshot, bytes, why)) {
        say("follow: cannot read the snapshot: " + why);
        return link->close();
      }
      const std::uint32_t crc = crc32c(bytes.data(), bytes.size());
      std::uint64_t rid = 2;
      std::vector<std::byte> out;
      encode(out, {rid++, 0, nullptr},
             snapshot_begin{p.term, r.snapshot_lsn, bytes.size(), crc, 0, {}});
      if (!link->send(std::move(out))) return;
      for (std::size_t off = 0; off < bytes.size(); off += snapshot_chunk_max) {
        while (link->queued_bytes() > 8u * snapshot_chunk_max && !replication_stop_)
          std::this_thread::sleep_for(2ms);
        const std::size_t n = std::min(snapshot_chunk_max, bytes.size() - off);
        out.clear();
        encode(out, {rid++, 0, nullptr}, snapshot_chunk{p.term, r.snapshot_lsn, off, 0, 0},
               std::span<const std::byte>(bytes).subspan(off, n));
        if (!link->send(std::move(out))) return;
      }
      out.clear();
      encode(out, {rid++, 0, nullptr}, snapshot_end{p.term, r.snapshot_lsn, bytes.size(), crc, 0});
      if (!link->send(std::move(out))) return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      standby_link l;
      l.link = link;
      l.name = name;
      l.acked_lsn = next - 1;
      l.sent_lsn = next - 1;
      l.next_request = 1u << 20;
      l.last_progress = clock::now();
      links_[link.get()] = std::move(l);
    }
    // From the journal files up to what is durable here; then the hook sends the rest.
    for (;;) {
      if (replication_stop_) return;
      std::uint64_t target = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = links_.find(link.get());
        if (it == links_.end() || it->second.st == standby_link::state::closed) return;
        target = written_lsn_;
        if (next > target) {
          it->second.st = standby_link::state::streaming;
          ack_cv_.notify_all();
          say(fmt::format("standby '{}' is streaming from LSN {}", name, next));
          return;
        }
      }
      const auto res = storage::read_groups(
          cfg_.engine.data_dir, next, target,
          [&](std::span<const std::byte> records, std::uint64_t first, std::uint64_t last,
              std::uint64_t group_lsn) {
            (void)first;
            while (link->queued_bytes() > 16u << 20 && !replication_stop_)
              std::this_thread::sleep_for(1ms);
            std::lock_guard<std::mutex> lock(mu_);
            auto it = links_.find(link.get());
            if (it == links_.end()) return;
            send_group_locked(it->second, records, group_lsn);
            next = last + 1;
          },
          why);
      if (res != storage::read_result::ok) {
        say(fmt::format("follow: standby '{}' cannot catch up from the journal: {}", name, why));
        return link->close();
      }
    }
  }
}

void node::replication_loop() {
  auto last_beat = clock::now();
  while (!replication_stop_) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait_for(lock, 50ms);
    }
    if (replication_stop_) return;
    if (clock::now() - last_beat >= cfg_.heartbeat_interval) {
      send_heartbeats();
      last_beat = clock::now();
    }
    maintain_sync_set();
    join_catch_up_threads(false);
  }
}

void node::send_heartbeats() {
  std::lock_guard<std::mutex> lock(mu_);
  heartbeat hb{};
  hb.term = term_;
  hb.durable_lsn = written_lsn_;
  hb.sent_at_ns = wall_ns();
  hb.role = static_cast<std::uint32_t>(codec::node_role::primary);
  for (auto& [k, l] : links_) {
    if (l.st == standby_link::state::closed) continue;
    std::vector<std::byte> out;
    encode(out, {l.next_request++, 0, nullptr}, hb, false);
    (void)l.link->send(std::move(out));
  }
}

void node::maintain_sync_set() {
  const auto now = clock::now();
  std::vector<std::string> members, healthy_candidates, unhealthy;
  std::string ready;  // a joining standby that holds every acknowledged LSN
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto healthy = [&](const std::string& name) {
      for (const auto& [k, l] : links_)
        if (l.name == name && l.st == standby_link::state::streaming &&
            (l.acked_lsn >= l.sent_lsn || now - l.last_progress < cfg_.standby_stall))
          return true;
      return false;
    };
    // Joining standbys that went away are no longer waited for: they were never in etcd.
    std::erase_if(joining_, [&](const std::string& n) { return !healthy(n); });
    for (const auto& n : joining_) {
      for (const auto& [k, l] : links_)
        if (l.name == n && l.acked_lsn >= acked_lsn_) ready = n;
    }
    members = sync_set_;
    for (const auto& n : members)
      if (!healthy(n)) unhealthy.push_back(n);
    for (const auto& [k, l] : links_)
      if (!contains(members, l.name) && !contains(joining_, l.name) && healthy(l.name))
        healthy_candidates.push_back(l.name);
    const std::size_t good = members.size() - unhealthy.size() + joining_.size();
    if (joining_.empty() && good < cfg_.sync_standbys && !healthy_candidates.empty()) {
      // From now on every answer waits for it too; it enters etcd once it holds everything
      // acknowledged before.
      joining_.push_back(healthy_candidates.front());
      say(fmt::format("standby '{}' joins the synchronous set", healthy_candidates.front()));
    }
    if (links_.empty() || healthy_candidates.empty()) {
      if (no_standby_since_ == clock::time_point{}) no_standby_since_ = now;
    } else {
      no_standby_since_ = {};
    }
  }
  std::vector<std::string> next = members;
  if (!ready.empty()) next.push_back(ready);
  // A member that stopped acknowledging goes, when the set keeps a member (strict) or when
  // going on alone is allowed.
  std::vector<std::string> keep;
  for (const auto& n : next)
    if (!contains(unhealthy, n)) keep.push_back(n);
  if (!unhealthy.empty() && (!keep.empty() || cfg_.allow_async)) {
    if (keep.empty()) {
      // allow_async: go alone only once no standby has been healthy for a while.
      std::lock_guard<std::mutex> lock(mu_);
      if (no_standby_since_ == clock::time_point{} || now - no_standby_since_ < cfg_.standby_stall)
        keep = next;
    }
    next = keep;
  }
  bool async_first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (next.empty() && members.empty() && joining_.empty() && cfg_.allow_async &&
        !empty_recorded_ && no_standby_since_ != clock::time_point{} &&
        now - no_standby_since_ >= cfg_.standby_stall)
      async_first = true;
  }
  if (next == members && !async_first) return;
  if (!role_->set_sync_set(next)) {
    say("synchronous set: etcd did not take '" + join(next) + "'");
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  say(fmt::format("synchronous set is now '{}'", join(next)));
  sync_set_ = next;
  ++sync_set_changes_;
  if (!ready.empty()) std::erase(joining_, ready);
  empty_recorded_ = next.empty();
  ack_cv_.notify_all();
}

// ---------------------------------------------------------------------------------------
// Standby: following

void node::follow_loop() {
  std::string last_error;
  while (!follow_stop_) {
    const role_state s = role_->state();
    if (s.primary_address.empty() || s.leader.empty() || s.leader == cfg_.election.node) {
      std::this_thread::sleep_for(100ms);
      continue;
    }
    std::string why;
    const auto a = codec::parse_server(s.primary_address, why);
    if (!a) {
      if (why != last_error)
        say("follow: the primary's address '" + s.primary_address + "': " + why);
      last_error = why;
      std::this_thread::sleep_for(500ms);
      continue;
    }
    auto conn = std::make_unique<peer_connection>(static_cast<std::uint32_t>(node_body_size_max));
    peer_connection* c = conn.get();
    {
      std::lock_guard<std::mutex> lock(follow_conn_mutex_);
      if (follow_stop_) break;
      follow_conn_ = std::move(conn);
    }
    if (!c->open(a->host, a->port, cfg_.peer_key_id, cfg_.peer_secret, cfg_.peer_mac, 1000ms,
                 why)) {
      if (why != last_error) say("follow: cannot connect to " + s.primary_address + ": " + why);
      last_error = why;
    } else if (c->hello_reply().role != static_cast<std::uint32_t>(codec::node_role::primary)) {
      last_error.clear();
    } else {
      last_error.clear();
      follow_primary(*c, s.primary_address);
    }
    {
      std::lock_guard<std::mutex> lock(follow_conn_mutex_);
      follow_conn_.reset();
    }
    if (follower_->failed()) {
      std::lock_guard<std::mutex> lock(ctl_mutex_);
      role_changed_ = true;  // the control thread ends the node
      ctl_cv_.notify_all();
      return;
    }
    if (!follow_stop_) std::this_thread::sleep_for(100ms);
  }
}

void node::follow_primary(peer_connection& conn, const std::string& address) {
  using read_result = peer_connection::read_result;
  std::string why;
  std::uint64_t request_id = 1;
  auto deadline = [] { return clock::now() + 5s; };
  auto known_term = [&] {
    return std::max({role_->state().term, standby_term_.load(), follower_->last_term()});
  };
  follow_reply r{};
  for (;;) {  // FOLLOW until the primary takes it (a diverged tail is cut in between)
    const follow f = make_follow(cfg_.election.node, known_term(), follower_->durable_lsn(),
                                 follower_->last_term(), follower_->last_term_start());
    std::vector<std::byte> out;
    encode(out, {request_id++, 0, nullptr}, f);
    if (!conn.send(out, deadline(), why)) return;
    if (conn.read(deadline(), why) != read_result::frame) return;
    if (conn.header().opcode != static_cast<std::uint16_t>(node_opcode::follow) ||
        check_node_frame(conn.header(), conn.body()) != status::ok ||
        decode(conn.body(), r) != status::ok) {
      say("follow: " + address + " did not answer FOLLOW");
      return;
    }
    const auto reason = static_cast<node_reason>(r.reason);
    if (reason == node_reason::diverged) {
      say(fmt::format(
          "follow: the journal parts from the primary's after LSN {}: cutting {} records",
          r.cut_after_lsn, follower_->durable_lsn() - r.cut_after_lsn));
      if (!follower_->cut_after(r.cut_after_lsn, why)) {
        say("follow: cannot cut the journal: " + why);
        return;
      }
      standby_durable_ = follower_->durable_lsn();
      continue;
    }
    if (reason == node_reason::ok) break;
    if (reason == node_reason::needs_snapshot) {
      if (!receive_snapshot(conn, r, known_term())) return;
      break;
    }
    say(fmt::format("follow: {} answered {}", address, name(reason)));
    return;
  }
  say(fmt::format("following {} (term {}) from LSN {}", address, r.term,
                  follower_->durable_lsn() + 1));
  standby_term_ = std::max(standby_term_.load(), r.term);
  standby_position pos{known_term(), follower_->durable_lsn(), 0};
  const auto quiet_max = std::max<std::chrono::milliseconds>(3000ms, 4 * cfg_.heartbeat_interval);
  auto last_frame = clock::now();
  // GROUPs written and not yet synced: the frames that arrived together share one fdatasync
  // (as PostgreSQL's WAL receiver flushes when no more data is waiting), then each gets its
  // Ack. A gathering ends at the first read that would wait, or at these bounds.
  struct written_group {
    std::uint64_t request_id;
    std::uint64_t last_lsn;
  };
  std::vector<written_group> unsynced;
  std::size_t unsynced_bytes = 0;
  constexpr std::size_t gather_groups_max = 64;
  constexpr std::size_t gather_bytes_max = 16u << 20;
  auto send_ack = [&](std::uint64_t group_request, node_reason answer, std::uint64_t durable) {
    ack a{};
    a.reason = static_cast<std::uint32_t>(answer);
    a.term = pos.term;
    a.durable_lsn = durable;
    std::vector<std::byte> out;
    encode(out, {group_request, 0, nullptr}, a, node_opcode::group);
    return conn.send(out, deadline(), why);
  };
  // The fdatasync of what was gathered, then an Ack for each GROUP in it: it is durable here
  // (the apply follows on the follower's thread; the primary waits for durability only).
  auto sync_and_ack = [&]() -> bool {
    if (unsynced.empty()) return true;
    if (follower_->sync(why) != actors::journal_follower::outcome::ok) {
      say("follow: the groups could not be synced: " + why);
      return false;
    }
    standby_durable_ = follower_->durable_lsn();
    for (const written_group& w : unsynced)
      if (!send_ack(w.request_id, node_reason::ok, w.last_lsn)) return false;
    unsynced.clear();
    unsynced_bytes = 0;
    return true;
  };
  enum class next_step : std::uint8_t { go_on, leave };
  // One frame that was read: a heartbeat is answered at once, a GROUP is checked and written.
  auto take_frame = [&]() -> next_step {
    last_frame = clock::now();
    const codec::frame_header h = conn.header();
    const auto body = conn.body();
    if (check_node_frame(h, body) != status::ok) {
      say("follow: a bad node frame from " + address);
      return next_step::leave;
    }
    const bool response = (h.flags & codec::flag_response) != 0;
    const auto op = static_cast<node_opcode>(h.opcode);
    if (response) return next_step::go_on;  // answers to our heartbeats
    if (op == node_opcode::heartbeat) {
      heartbeat req{};
      if (decode(body, req) != status::ok) return next_step::leave;
      primary_durable_seen_ = req.durable_lsn;
      heartbeat hb{};
      hb.term = pos.term;
      hb.durable_lsn = follower_->durable_lsn();
      hb.sent_at_ns = wall_ns();
      hb.echo_ns = req.sent_at_ns;
      hb.role = static_cast<std::uint32_t>(codec::node_role::standby);
      std::vector<std::byte> out;
      encode(out, {h.request_id, 0, nullptr}, hb, true);
      return conn.send(out, deadline(), why) ? next_step::go_on : next_step::leave;
    }
    if (op != node_opcode::group) {
      say(fmt::format("follow: unexpected {} from {}", name(op), address));
      return next_step::leave;
    }
    group_view g;
    if (decode(body, g) != status::ok) return next_step::leave;
    pos.term = std::max(pos.term, known_term());
    standby_position next;
    node_reason reason = check_group(g.header, pos, &next);
    if (reason == node_reason::ok) {
      const auto res = follower_->write_group(g.bytes, g.header.first_lsn, g.header.last_lsn, why);
      if (res == actors::journal_follower::outcome::ok) {
        pos = next;
        standby_term_ = std::max(standby_term_.load(), g.header.term);
        unsynced.push_back({h.request_id, g.header.last_lsn});
        unsynced_bytes += g.bytes.size();
        return next_step::go_on;
      }
      if (res != actors::journal_follower::outcome::gap) {
        say("follow: the group could not be written: " + why);
        return next_step::leave;
      }
      reason = node_reason::gap;
    }
    // Refused: what was gathered before it is still acknowledged, then the refusal.
    if (sync_and_ack()) (void)send_ack(h.request_id, reason, follower_->durable_lsn());
    say(fmt::format("follow: refused a GROUP of LSN {}..{}: {}", g.header.first_lsn,
                    g.header.last_lsn, name(reason)));
    return next_step::leave;
  };
  while (!follow_stop_) {
    const auto rr = conn.read(clock::now() + 200ms, why);
    if (rr == read_result::failed) {
      say(fmt::format("follow: {}: {}", address, why));
      return;
    }
    if (rr == read_result::timeout) {
      if (clock::now() - last_frame > quiet_max) {
        say("follow: nothing from " + address + " for a while: reconnecting");
        return;
      }
      const role_state s = role_->state();
      if (s.primary_address != address || s.term > pos.term) {
        say("follow: the primary moved: reconnecting");
        return;
      }
      continue;
    }
    if (take_frame() == next_step::leave) {
      (void)sync_and_ack();
      return;
    }
    // Gather the frames that are already here; a read that would wait ends the gathering.
    while (!unsynced.empty() && unsynced.size() < gather_groups_max &&
           unsynced_bytes < gather_bytes_max) {
      const auto more = conn.read(clock::now(), why);
      if (more == read_result::timeout) break;
      if (more == read_result::failed) {
        say(fmt::format("follow: {}: {}", address, why));
        (void)sync_and_ack();
        return;
      }
      if (take_frame() == next_step::leave) {
        (void)sync_and_ack();
        return;
      }
    }
    if (!sync_and_ack()) return;
  }
  (void)sync_and_ack();
}

bool node::receive_snapshot(peer_connection& conn, const follow_reply& r, std::uint64_t term) {
  using read_result = peer_connection::read_result;
  std::string why;
  snapshot_receiver rx;
  std::vector<std::byte> bytes;
  say(fmt::format("follow: the primary sends its snapshot at LSN {}", r.snapshot_lsn));
  for (;;) {
    if (conn.read(clock::now() + 10s, why) != read_result::frame) {
      say("follow: snapshot: " + why);
      return false;
    }
    const codec::frame_header h = conn.header();
    const auto body = conn.body();
    if (check_node_frame(h, body) != status::ok) return false;
    const auto op = static_cast<node_opcode>(h.opcode);
    node_reason reason = node_reason::ok;
    bool done = false;
    if (op == node_opcode::snapshot_begin) {
      snapshot_begin b{};
      if (decode(body, b) != status::ok) return false;
      reason = rx.begin(b, term);
      if (reason == node_reason::ok) {
        if (b.total_size > (std::uint64_t{16} << 30)) {
          say("follow: the snapshot is larger than 16 GiB");
          return false;
        }
        bytes.clear();
        bytes.reserve(b.total_size);
      }
    } else if (op == node_opcode::snapshot_chunk) {
      chunk_view c;
      if (decode(body, c) != status::ok) return false;
      reason = rx.chunk(c);
      if (reason == node_reason::ok) bytes.insert(bytes.end(), c.data.begin(), c.data.end());
    } else if (op == node_opcode::snapshot_end) {
      snapshot_end e{};
      if (decode(body, e) != status::ok) return false;
      reason = rx.end(e);
      if (reason == node_reason::ok) {
        if (!follower_->install_snapshot(bytes, e.snapshot_lsn, why)) {
          say("follow: cannot install the snapshot: " + why);
          return false;
        }
        standby_durable_ = follower_->durable_lsn();
        done = true;
      }
    } else if (op == node_opcode::heartbeat) {
      continue;
    } else {
      return false;
    }
    ack a{};
    a.reason = static_cast<std::uint32_t>(reason);
    a.term = term;
    a.durable_lsn = follower_->durable_lsn();
    std::vector<std::byte> out;
    encode(out, {h.request_id, 0, nullptr}, a, op);
    if (!conn.send(out, clock::now() + 5s, why)) return false;
    if (reason != node_reason::ok) return false;
    if (done) {
      say(fmt::format("follow: snapshot at LSN {} installed", follower_->durable_lsn()));
      return true;
    }
  }
}

}  // namespace remit::cluster
