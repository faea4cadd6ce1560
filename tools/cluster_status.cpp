#include "tools/cluster_status.hpp"

#include <chrono>
#include <exception>
#include <memory>
#include <utility>

#include "gateway/cluster/node_messages.hpp"
#include "gateway/codec/frame.hpp"
#include "tools/cli_format.hpp"

namespace remit::cli {

namespace {

std::uint64_t wall_clock_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

bool known(const node_status& n) {
  return n.reachable && n.cluster;
}

}  // namespace

node_status probe_node(const client::config& base, const codec::server_address& at) {
  node_status n;
  n.server = codec::format_server(at);
  client::config cfg = base;
  cfg.servers = {at};
  cfg.follow_primary = false;  // this node, whatever its role
  cfg.batching = false;
  cfg.reconnects_max = 0;  // one try: a node that drops is reported, not waited for
  std::unique_ptr<client::client> c;
  try {
    c = std::make_unique<client::client>(cfg);
  } catch (const std::exception& e) {
    n.error = e.what();
    return n;
  }
  // The request says as little as it can about the asker: a standby that knows nothing
  // (term 0, nothing durable), which no node acts upon.
  cluster::heartbeat ask{};
  ask.role = static_cast<std::uint32_t>(codec::node_role::standby);
  ask.sent_at_ns = wall_clock_ns();
  std::vector<std::byte> frame;
  cluster::encode(frame, cluster::frame_ids{}, ask, false);
  const std::span<const std::byte> body = std::span(frame).subspan(codec::header_size);
  const auto t0 = std::chrono::steady_clock::now();
  const client::reply r =
      c->node_request(static_cast<std::uint16_t>(cluster::node_opcode::heartbeat), body);
  const auto t1 = std::chrono::steady_clock::now();
  if (!r.answered) {
    n.error = "no answer to HEARTBEAT: " + r.error;
    return n;
  }
  if (r.status == codec::status::unknown_opcode) {
    // A server without a cluster.
    n.reachable = true;
    n.role = c->session().role;
    return n;
  }
  if (r.status != codec::status::ok) {
    n.error = "HEARTBEAT answered " + std::string(codec::name(r.status)) +
              (r.error.empty() ? "" : ": " + r.error);
    if (r.status == codec::status::permission_denied)
      n.error += " (the key needs permission 8, replicate: --key-id)";
    return n;
  }
  cluster::heartbeat got{};
  if (const codec::status st = cluster::decode(r.body, got); st != codec::status::ok) {
    n.error =
        "HEARTBEAT answered with a malformed Heartbeat (" + std::string(codec::name(st)) + ")";
    return n;
  }
  n.reachable = true;
  n.cluster = true;
  n.role = got.role;
  n.term = got.term;
  n.durable_lsn = got.durable_lsn;
  n.round_trip_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count());
  return n;
}

std::optional<std::size_t> primary_of(const std::vector<node_status>& nodes) {
  std::optional<std::size_t> p;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node_status& n = nodes[i];
    if (!known(n) || n.role != static_cast<std::uint32_t>(codec::node_role::primary)) continue;
    if (!p || n.term > nodes[*p].term) p = i;
  }
  return p;
}

std::optional<std::int64_t> lag_of(const std::vector<node_status>& nodes, std::size_t i) {
  const std::optional<std::size_t> p = primary_of(nodes);
  if (!p || !known(nodes.at(i))) return std::nullopt;
  return static_cast<std::int64_t>(nodes[*p].durable_lsn - nodes[i].durable_lsn);
}

std::string state_name(const node_status& n) {
  if (!n.reachable) return "unreachable";
  if (!n.cluster) return "standalone";
  return std::string(codec::role_name(n.role));
}

std::string cluster_table(const std::vector<node_status>& nodes) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node_status& n = nodes[i];
    const std::optional<std::int64_t> lag = lag_of(nodes, i);
    rows.push_back({n.server, state_name(n), known(n) ? std::to_string(n.term) : "-",
                    known(n) ? std::to_string(n.durable_lsn) : "-",
                    lag ? std::to_string(*lag) : "-",
                    known(n) ? std::to_string(n.round_trip_us) : "-"});
  }
  std::string out = render_table(
      {{"NODE"}, {"ROLE"}, {"TERM", true}, {"DURABLE_LSN", true}, {"LAG", true}, {"RTT_US", true}},
      rows);
  for (const node_status& n : nodes)
    if (!n.reachable) out += n.server + ": " + n.error + "\n";
  if (!primary_of(nodes)) out += "no node says it is the primary\n";
  return out;
}

nlohmann::ordered_json cluster_json(const std::vector<node_status>& nodes) {
  using ojson = nlohmann::ordered_json;
  const std::optional<std::size_t> p = primary_of(nodes);
  ojson j;
  j["ok"] = cluster_exit_status(nodes) == exit_ok;
  j["primary"] = p ? ojson(nodes[*p].server) : ojson(nullptr);
  ojson list = ojson::array();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const node_status& n = nodes[i];
    const std::optional<std::int64_t> lag = lag_of(nodes, i);
    ojson o;
    o["server"] = n.server;
    o["role"] = state_name(n);
    o["term"] = known(n) ? ojson(n.term) : ojson(nullptr);
    o["durable_lsn"] = known(n) ? ojson(n.durable_lsn) : ojson(nullptr);
    o["lag"] = lag ? ojson(*lag) : ojson(nullptr);
    o["round_trip_us"] = known(n) ? ojson(n.round_trip_us) : ojson(nullptr);
    o["error"] = n.reachable ? ojson(nullptr) : ojson(n.error);
    list.push_back(std::move(o));
  }
  j["nodes"] = std::move(list);
  return j;
}

int cluster_exit_status(const std::vector<node_status>& nodes) {
  for (const node_status& n : nodes)
    if (!n.reachable) return exit_failed;
  return primary_of(nodes) ? exit_ok : exit_failed;
}

}  // namespace remit::cli
