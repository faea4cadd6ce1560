#include "gateway/cluster/election.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <stdexcept>
#include <utility>

namespace remit::cluster {

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// The keepalive interval and the margin leave room for at least one more keepalive before
// the deadline: TTL - margin > TTL/2 > TTL/3.
milliseconds default_margin(milliseconds ttl) {
  return std::max<milliseconds>(200ms, ttl / 4);
}

election_config checked(election_config cfg) {
  if (!valid_name(cfg.cluster)) throw std::invalid_argument("election: bad cluster name");
  if (!valid_name(cfg.node)) throw std::invalid_argument("election: bad node name");
  if (cfg.address.empty() || cfg.address.size() > address_bytes_max)
    throw std::invalid_argument("election: address must be 1..255 bytes");
  if (cfg.lease_ttl < 1s || cfg.lease_ttl > 600s)
    throw std::invalid_argument("election: lease TTL must be 1..600 s");
  const milliseconds ttl = cfg.lease_ttl;
  if (cfg.margin == 0ms) cfg.margin = default_margin(ttl);
  if (cfg.margin < 0ms || cfg.margin * 2 >= ttl)
    throw std::invalid_argument("election: margin must be in (0, TTL/2)");
  // An etcd call that outlasts a keepalive interval is worth nothing to the lease; and the
  // thread must be back in time to drop the role near its deadline.
  cfg.etcd.timeout = std::min<milliseconds>(cfg.etcd.timeout, ttl / 3);
  return cfg;
}

// A term as etcd holds it: 1..19 decimal digits.
std::optional<std::uint64_t> parse_term(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The synchronous set: "" (nobody) or comma-separated valid names, at most sync_names_max.
std::optional<std::vector<std::string>> parse_sync(std::string_view text) {
  std::vector<std::string> names;
  if (text.empty()) return names;
  if (text.size() > sync_bytes_max) return std::nullopt;
  while (true) {
    const auto comma = text.find(',');
    const auto name = text.substr(0, comma);
    if (!valid_name(name) || names.size() == sync_names_max) return std::nullopt;
    names.emplace_back(name);
    if (comma == std::string_view::npos) return names;
    text.remove_prefix(comma + 1);
  }
}

etcd::compare value_is(std::string key, std::string value) {
  return {std::move(key), etcd::compare::target::value, etcd::compare::relation::equal, 0,
          std::move(value)};
}
etcd::compare lease_is(std::string key, std::int64_t lease) {
  return {std::move(key), etcd::compare::target::lease, etcd::compare::relation::equal, lease, {}};
}
etcd::compare absent(std::string key) {
  return {std::move(key), etcd::compare::target::create, etcd::compare::relation::equal, 0, {}};
}

std::int64_t to_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

const char* role_name(role r) {
  switch (r) {
    case role::unknown:
      return "unknown";
    case role::standby:
      return "standby";
    case role::primary:
      return "primary";
  }
  return "?";
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > name_bytes_max) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// The four keys of the cluster, read in one txn (one revision).
struct node_role::snapshot {
  std::optional<etcd::kv> leader;
  std::optional<etcd::kv> term;
  std::optional<etcd::kv> primary;
  std::optional<etcd::kv> sync;
  // The term as a number: 0 when absent; nullopt when the key holds something else.
  std::optional<std::uint64_t> term_value;
  // The synchronous set: nullopt when absent or malformed.
  std::optional<std::vector<std::string>> sync_names;
};

node_role::node_role(election_config cfg, on_change callback)
    : cfg_(checked(std::move(cfg))),
      callback_(std::move(callback)),
      now_(cfg_.now),
      ttl_(cfg_.lease_ttl),
      margin_(cfg_.margin),
      keepalive_interval_(ttl_ / 3),
      // A standby reads etcd every TTL/10, at least every 50 ms: it is most of how long a
      // failover takes after the lease ends, and a read is cheap.
      poll_interval_(std::max<std::chrono::milliseconds>(std::chrono::milliseconds(50), ttl_ / 10)),
      retry_pause_(std::max<milliseconds>(50ms, ttl_ / 10)),
      client_(cfg_.etcd),
      lease_ttl_(ttl_),
      sync_client_(cfg_.etcd) {
  assert(margin_ > 0ms && margin_ * 2 < ttl_);
  assert(retry_pause_ < ttl_ - margin_);
}

node_role::~node_role() {
  stop_thread();
  writes_until_ns_.store(0, std::memory_order_release);
}

std::string node_role::key(std::string_view name) const {
  std::string k = "/remit/";
  k += cfg_.cluster;
  k += '/';
  k += name;
  return k;
}

void node_role::start() {
  std::lock_guard lock(stop_mutex_);
  if (thread_.joinable() || stopping_) throw std::logic_error("node_role: started twice");
  thread_ = std::thread([this] { run(); });
}

void node_role::stop_thread() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void node_role::stop() {
  stop_thread();
  demote(role::unknown);
}

bool node_role::resign() {
  stop_thread();
  demote(role::unknown);  // writes stop before the key is given up
  if (lease_id_ == 0) return false;
  // Only this node's key, under this lease: a deposed node must not delete its successor's.
  const std::vector<etcd::compare> mine = {value_is(key("leader"), cfg_.node),
                                           lease_is(key("leader"), lease_id_)};
  const std::vector<etcd::op> give_up = {etcd::op::del(key("leader")),
                                         etcd::op::del(key("primary"))};
  const auto r = client_.txn(mine, give_up, {});
  const bool gave_up = r.ok() && r.value().succeeded;
  drop_lease();  // unanswered: the lease ends by itself within the TTL
  return gave_up;
}

role_state node_role::state() const {
  std::lock_guard lock(state_mutex_);
  return state_;
}

bool node_role::set_sync_set(std::span<const std::string> names) {
  if (names.size() > sync_names_max) return false;
  std::string value;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!valid_name(names[i]) || names[i] == cfg_.node) return false;
    if (std::find(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(i), names[i]) !=
        names.begin() + static_cast<std::ptrdiff_t>(i))
      return false;  // a name twice
    if (i > 0) value += ',';
    value += names[i];
  }
  std::int64_t lease = 0;
  {
    std::lock_guard lock(state_mutex_);
    if (state_.role != role::primary) return false;
    lease = primary_lease_id_;
  }
  assert(lease != 0);
  // The compare on the leader key's value and lease is what keeps a deposed primary out:
  // its own view of its role may be stale (its thread may be stalled), etcd's is not.
  const std::vector<etcd::compare> mine = {value_is(key("leader"), cfg_.node),
                                           lease_is(key("leader"), lease)};
  const std::vector<etcd::op> write = {etcd::op::put(key("sync"), value)};
  std::lock_guard sync_lock(sync_mutex_);
  const auto r = sync_client_.txn(mine, write, {});
  if (!r.ok() || !r.value().succeeded) return false;
  std::lock_guard lock(state_mutex_);
  state_.sync_set.assign(names.begin(), names.end());
  state_.sync_exists = true;
  return true;
}

// The loop: one step, then sleep until the next thing to do. Every step is bounded by the
// client's deadline per call (at most TTL/3) and a handful of calls.
void node_role::run() {
  while (true) {
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    if (cfg_.step_hook) cfg_.step_hook();
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
    }
    time_point wake;
    if (role_ == role::primary) {
      primary_step();
      wake = role_ == role::primary ? std::min(next_keepalive_at_, deadline_) : now();
    } else {
      follower_step();
      wake = role_ == role::primary ? next_keepalive_at_ : now() + poll_interval_;
    }
    sleep_until(wake);
  }
}

void node_role::sleep_until(time_point wake) {
  const auto left = wake - now();
  if (left <= decltype(left)::zero()) return;
  // Capped at the poll interval: an injected clock may jump, and it is only read here.
  const auto wait = std::min<std::chrono::nanoseconds>(left, poll_interval_);
  std::unique_lock lock(stop_mutex_);
  stop_cv_.wait_for(lock, wait, [this] { return stopping_; });
}

// The primary's turn: drop the role at the deadline, else keep the lease alive when it is
// time, and check that the leader key is still this node's.
//
// The lease arithmetic. etcd ends the lease TTL after the last keepalive it *received*
// (later still: it renews every lease to its full TTL when it restarts or changes leader,
// and it revokes expired leases on a timer). This node sent that keepalive earlier, at
// `sent`, by its own clock. So etcd's end >= sent + TTL in real time, and the node stops at
// sent + TTL - margin by its clock: the margin absorbs a difference of rate between the two
// clocks over one TTL (25% by default) and the time a standby would still need to see the
// free key and take it is only added on top.
void node_role::primary_step() {
  if (now() >= deadline_) {
    demote(role::unknown);  // keeps the lease: try_reacquire may show nobody took over
    return;
  }
  if (now() < next_keepalive_at_) return;

  const time_point sent = now();
  const auto alive = client_.keep_alive(lease_id_);
  if (now() >= deadline_) {
    // The answer came too late: writes already stopped (writes_allowed saw the deadline);
    // the role goes now, and comes back only through the checks of try_reacquire.
    demote(role::unknown);
    return;
  }
  if (!alive.ok() && alive.error().unreachable()) {
    next_keepalive_at_ = now() + retry_pause_;  // keep trying until the deadline
    return;
  }
  if (!alive.ok() || alive.value() <= 0) {
    // etcd says the lease is gone (or refuses it): the key may be another's already.
    lease_id_ = 0;
    demote(role::standby);
    return;
  }
  // Answered: etcd renewed the lease to its full TTL when it received the keepalive, which
  // was after `sent`. Published at once, before the next call.
  lease_ttl_ = std::min<milliseconds>(lease_ttl_, std::chrono::seconds(alive.value()));
  deadline_ = sent + lease_ttl_ - margin_;
  next_keepalive_at_ = sent + keepalive_interval_;
  publish_deadline(deadline_);
  {
    std::lock_guard lock(state_mutex_);
    state_.lease_counted_from = sent;
    state_.lease_deadline = deadline_;
  }
  // The lease lives, but the key under it could have been deleted or replaced by hand (an
  // operator, a restore): then this node is no longer the one etcd names.
  if (leader_is_still_mine() == std::optional<bool>(false)) {
    demote(role::standby);
    drop_lease();
  }
}

// true: the leader key holds this node's name under its lease and the term is its own;
// false: etcd says otherwise (somebody deleted or replaced the key); nullopt: no answer.
std::optional<bool> node_role::leader_is_still_mine() {
  const std::vector<etcd::compare> mine = {value_is(key("leader"), cfg_.node),
                                           lease_is(key("leader"), lease_id_),
                                           value_is(key("term"), std::to_string(lease_term_))};
  const std::vector<etcd::op> read_sync = {etcd::op::get(key("sync"))};
  const auto r = client_.txn(mine, read_sync, {});
  if (!r.ok()) return std::nullopt;
  if (!r.value().succeeded) return false;
  assert(r.value().gets.size() == 1);
  const auto& sync = r.value().gets[0];
  const auto names = sync ? parse_sync(sync->value) : std::nullopt;
  std::lock_guard lock(state_mutex_);
  state_.sync_exists = sync.has_value();
  state_.sync_set = names.value_or(std::vector<std::string>{});
  return true;
}

// A standby's (or an unknown node's) turn: read the keys; take the leader key when it is
// free and this node may; take back its own key when its lease outlived a lost deadline.
void node_role::follower_step() {
  const auto s = read_cluster();
  if (!s) {
    // No answer. What this node last read may be stale after a TTL: another primary may
    // have come since.
    if (!ever_read_ || now() - last_read_ok_ >= ttl_) set_role(role::unknown);
    return;
  }
  ever_read_ = true;
  last_read_ok_ = now();
  observe(*s);

  if (lease_id_ != 0) {
    const bool still_mine = s->leader && s->leader->value == cfg_.node &&
                            s->leader->lease == lease_id_ && s->term_value == lease_term_;
    if (still_mine) {
      try_reacquire();
      if (role_ == role::primary) return;
    } else {
      drop_lease();
    }
  }
  if (!s->leader && lease_id_ == 0 && eligible(*s)) try_take(*s);
  if (role_ != role::primary) set_role(role::standby);
}

std::optional<node_role::snapshot> node_role::read_cluster() {
  const std::vector<etcd::op> gets = {etcd::op::get(key("leader")), etcd::op::get(key("term")),
                                      etcd::op::get(key("primary")), etcd::op::get(key("sync"))};
  auto r = client_.txn({}, gets, {});  // no compare: the success branch runs
  if (!r.ok()) return std::nullopt;
  auto answer = std::move(r).value();
  assert(answer.succeeded);
  assert(answer.gets.size() == gets.size());
  snapshot s;
  s.leader = std::move(answer.gets[0]);
  s.term = std::move(answer.gets[1]);
  s.primary = std::move(answer.gets[2]);
  s.sync = std::move(answer.gets[3]);
  s.term_value = s.term ? parse_term(s.term->value) : std::optional<std::uint64_t>(0);
  if (s.sync) s.sync_names = parse_sync(s.sync->value);
  return s;
}

void node_role::observe(const snapshot& s) {
  std::lock_guard lock(state_mutex_);
  if (role_ == role::primary) return;  // a primary reports its own view
  // Strings from etcd are kept only within their bounds (no value past them is trusted).
  state_.leader = s.leader && valid_name(s.leader->value) ? s.leader->value : "";
  state_.primary_address =
      s.primary && s.primary->value.size() <= address_bytes_max ? s.primary->value : "";
  if (s.term_value) state_.term = *s.term_value;
  state_.sync_exists = s.sync.has_value();
  state_.sync_set = s.sync_names.value_or(std::vector<std::string>{});
}

// May this node take the free leader key? Only a member of the synchronous set has every
// acknowledged result. Two more cases have them too: a new cluster (no sync key yet: no
// result was ever acknowledged), and the node that was primary in the current term (it
// acknowledged them itself, and nobody has been primary since: the term did not move).
bool node_role::eligible(const snapshot& s) const {
  if (!cfg_.may_be_primary || !s.term_value) return false;
  if (!s.sync) return true;
  if (s.sync_names &&
      std::find(s.sync_names->begin(), s.sync_names->end(), cfg_.node) != s.sync_names->end())
    return true;
  return last_primary_term_ != 0 && *s.term_value == last_primary_term_;
}

// The take txn of CLUSTER.md: the leader key is absent, the term and the synchronous set
// are still what this node read; then the leader key and the primary's address under a
// fresh lease, and the term plus one. Of two racing candidates the second finds the leader
// key present (and the term moved): exactly one wins.
void node_role::try_take(const snapshot& s) {
  assert(!s.leader && lease_id_ == 0);
  assert(s.term_value.has_value());
  const std::uint64_t term = *s.term_value + 1;

  // The lease's count starts before etcd granted it: `sent` is early, the safe side.
  const time_point sent = now();
  const auto granted = client_.grant_lease(ttl_.count() / 1000);
  if (!granted.ok()) return;
  const std::int64_t lease = granted.value().id;

  std::vector<etcd::compare> unchanged = {absent(key("leader"))};
  unchanged.push_back(s.term ? value_is(key("term"), s.term->value) : absent(key("term")));
  unchanged.push_back(s.sync ? value_is(key("sync"), s.sync->value) : absent(key("sync")));
  std::vector<etcd::op> take = {etcd::op::put(key("leader"), cfg_.node, lease),
                                etcd::op::put(key("term"), std::to_string(term)),
                                etcd::op::put(key("primary"), cfg_.address, lease)};
  // A new cluster: from now on only the nodes the primary names may follow it (and the
  // primary itself while the term is its own).
  if (!s.sync) take.push_back(etcd::op::put(key("sync"), ""));

  const auto r = client_.txn(unchanged, take, {});
  if (!r.ok() && r.error().unreachable()) {
    // Applied or not: unknown. Keep the lease; the next turn reads the keys and either
    // finds the key under it (try_reacquire, with this term) or drops it.
    lease_id_ = lease;
    lease_ttl_ = std::min<milliseconds>(ttl_, std::chrono::seconds(granted.value().ttl_seconds));
    lease_term_ = term;
    return;
  }
  if (!r.ok() || !r.value().succeeded) {
    (void)client_.revoke(lease);  // lost the race; unanswered: the lease ends by itself
    return;
  }
  lease_id_ = lease;
  lease_ttl_ = std::min<milliseconds>(ttl_, std::chrono::seconds(granted.value().ttl_seconds));
  lease_term_ = term;
  if (now() >= sent + lease_ttl_ - margin_) return;  // too slow: try_reacquire decides
  promote(term, sent);
}

// This node holds a lease and etcd showed its leader key under it with its term: it lost
// its role at its own deadline (or never announced it) while the lease lived on. Nobody
// became primary meanwhile (the term did not move), so it may be primary again in the same
// term, from a fresh keepalive.
void node_role::try_reacquire() {
  assert(lease_id_ != 0 && role_ != role::primary);
  const time_point sent = now();
  const auto alive = client_.keep_alive(lease_id_);
  if (!alive.ok()) {
    if (!alive.error().unreachable()) drop_lease();
    return;
  }
  if (alive.value() <= 0) {
    lease_id_ = 0;  // gone, and its keys with it
    return;
  }
  lease_ttl_ = std::min<milliseconds>(lease_ttl_, std::chrono::seconds(alive.value()));
  const std::vector<etcd::compare> mine = {value_is(key("leader"), cfg_.node),
                                           lease_is(key("leader"), lease_id_),
                                           value_is(key("term"), std::to_string(lease_term_))};
  const std::vector<etcd::op> address = {etcd::op::put(key("primary"), cfg_.address, lease_id_)};
  const auto r = client_.txn(mine, address, {});
  if (!r.ok()) return;
  if (!r.value().succeeded) {
    drop_lease();
    return;
  }
  if (now() >= sent + lease_ttl_ - margin_) return;
  promote(lease_term_, sent);
}

void node_role::drop_lease() {
  if (lease_id_ == 0) return;
  (void)client_.revoke(lease_id_);  // unanswered: it ends by itself within the TTL
  lease_id_ = 0;
}

void node_role::publish_deadline(time_point deadline) {
  writes_until_ns_.store(to_ns(deadline), std::memory_order_release);
}

void node_role::promote(std::uint64_t term, time_point counted_from) {
  assert(lease_id_ != 0 && term == lease_term_);
  assert(term > last_primary_term_ || term == last_primary_term_);  // terms only grow
  last_primary_term_ = term;
  deadline_ = counted_from + lease_ttl_ - margin_;
  next_keepalive_at_ = counted_from + keepalive_interval_;
  publish_deadline(deadline_);  // before the callback: whoever it tells may write at once
  {
    std::lock_guard lock(state_mutex_);
    state_.term = term;
    state_.leader = cfg_.node;
    state_.primary_address = cfg_.address;
    state_.lease_counted_from = counted_from;
    state_.lease_deadline = deadline_;
    primary_lease_id_ = lease_id_;
  }
  set_role(role::primary);
}

void node_role::demote(cluster::role to) {
  assert(to != role::primary);
  writes_until_ns_.store(0, std::memory_order_release);  // first: the hot path sees it now
  deadline_ = {};
  {
    std::lock_guard lock(state_mutex_);
    state_.lease_counted_from = {};
    state_.lease_deadline = {};
    primary_lease_id_ = 0;
  }
  set_role(to);
}

void node_role::set_role(cluster::role to) {
  role_state copy;
  {
    std::lock_guard lock(state_mutex_);
    if (role_ == to) return;
    role_ = to;
    state_.role = to;
    ++state_.role_changes;
    copy = state_;
  }
  if (callback_) callback_(copy);
}

}  // namespace remit::cluster
