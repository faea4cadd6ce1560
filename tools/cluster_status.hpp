// `remit cluster-status`: what each node of a cluster says about itself. For each server the
// command opens a session of its own (HELLO, AUTH with a key that has permission 8), sends
// one HEARTBEAT (docs/CLUSTER.md, opcode 69) and reads the node's answering Heartbeat: its
// role, term and durable LSN. A node whose server has no cluster answers unknown_opcode and
// shows as standalone; a node that cannot be reached, refuses the key or answers anything
// else shows as unreachable, with the reason.
//
// The exchange (probe_node) needs a server; the rest (the lag, the table, the JSON, the exit
// status) is a function of the probes, unit tested in tests/cli.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/client/client.hpp"
#include "gateway/codec/address.hpp"

namespace remit::cli {

struct node_status {
  std::string server;      // host:port, as probed
  bool reachable = false;  // a session was made and the HEARTBEAT answered (or refused)
  bool cluster = false;    // the node answered the HEARTBEAT (false: unknown_opcode)
  std::string error;       // not reachable: why
  std::uint32_t role = 0;  // codec::node_role, from the Heartbeat (0 without a cluster)
  std::uint64_t term = 0;
  std::uint64_t durable_lsn = 0;
  std::uint64_t round_trip_us = 0;  // HEARTBEAT sent to its answer, on this machine's clock
};

// One node: `base` gives the key, MAC, TLS and timeouts (its servers are not used); `at` the
// node. Never throws for what the node does; the status says what happened.
node_status probe_node(const client::config& base, const codec::server_address& at);

// The primary: the node that says primary with the highest term (a former primary that has
// not heard of the new term yet may still say primary with an older one). Nothing when no
// node says primary.
std::optional<std::size_t> primary_of(const std::vector<node_status>& nodes);

// A node's lag in LSNs behind the primary: the primary's durable_lsn minus its own (negative
// when it is ahead: it holds records of an older term the primary will make it cut). Nothing
// without a primary, or for a node that is unreachable or has no cluster.
std::optional<std::int64_t> lag_of(const std::vector<node_status>& nodes, std::size_t i);

// "primary", "standby", "standalone", "unreachable".
std::string state_name(const node_status& n);

// The table: NODE ROLE TERM DURABLE_LSN LAG RTT_US, "-" where nothing is known; then one line
// per unreachable node with its reason.
std::string cluster_table(const std::vector<node_status>& nodes);
// {"ok", "primary": address or null, "nodes": [{server, role, term, durable_lsn, lag,
// round_trip_us, error}]}; unknown values are null.
nlohmann::ordered_json cluster_json(const std::vector<node_status>& nodes);
// 0 when every node was reached and a primary was found, else 1.
int cluster_exit_status(const std::vector<node_status>& nodes);

}  // namespace remit::cli
