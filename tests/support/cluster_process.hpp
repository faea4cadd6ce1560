// A real remit cluster for tests: one etcd (tests/support/etcd_process.hpp) and N remitd
// nodes as child processes on loopback, each with its own data dir under one temp dir, a
// fixed port picked free up front (a restarted node comes back at the same address, which
// is also its --advertise), a port file, and its standard error appended to a log file of
// its own. The nodes share one keys file: `admin` (permissions 7, what clients use) and
// `node` (permission 8, node-to-node, --peer-key-id).
//
// The test drives the processes (kill: SIGKILL, stop/cont: SIGSTOP/SIGCONT, terminate:
// SIGTERM and wait, restart) and finds the primary by asking every node for its role in
// HELLO (remit::client's session().role), with short timeouts so that a stopped node never
// holds the search up. When the test has failed, the destructor prints the last lines of
// every node's log (and etcd_process prints etcd's): that is how a failure is read.
//
// Every child gets SIGKILL when the thread that started it ends (PR_SET_PDEATHSIG), and the
// destructor kills whatever still runs: a failed or crashed test leaves no process behind.
// Start and restart nodes from the test's own thread.
//
// Without `cluster` the nodes are standalone remitd (no etcd, no cluster flags): the harness
// checks itself against them before the cluster mode exists.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/client/client.hpp"
#include "tests/support/etcd_process.hpp"

namespace remit::test {

// HelloReply's role values (docs/PROTOCOL.md section 9).
inline constexpr std::uint32_t role_standalone = 0;
inline constexpr std::uint32_t role_primary = 1;
inline constexpr std::uint32_t role_standby = 2;
struct cluster_options {
  int nodes = 3;
  bool cluster = true;  // false: standalone nodes, no etcd
  std::string name = "remit-test";
  int lease_ttl_s = 2;
  int replication_timeout_s = 5;
  int sync_standbys = 1;
  bool allow_async = false;
  std::vector<std::string> extra_flags;  // appended to every node's command line
  // Empty: $REMIT_REMITD / $REMIT_JOURNAL, else the binaries of the build the harness was
  // compiled in.
  std::string remitd;
  std::string remit_journal;
  std::chrono::milliseconds start_timeout{30000};  // until the node's port file appears
  std::chrono::milliseconds stop_timeout{30000};   // SIGTERM until exit, then SIGKILL
  // Kept after the run (data dirs and logs) when set, or when $REMIT_CLUSTER_KEEP is 1.
  bool keep_dir = false;
};

// The client side of a cluster: addresses and the client key. Plain data, copyable, safe
// to use from any thread (the load driver has its own copy).
struct cluster_view {
  std::vector<std::uint16_t> ports;  // node i listens on 127.0.0.1:ports[i]
  std::string keys_file;
  std::string key_id = "admin";
  std::vector<std::uint8_t> secret;
  bool cluster = true;  // false: standalone nodes, which take writes with role 0

  // Whether a node with this role takes writes: a primary (a standalone node without
  // `cluster`).
  bool takes_writes(std::optional<std::uint32_t> role) const {
    return role == (cluster ? role_primary : role_standalone);
  }
  int size() const { return static_cast<int>(ports.size()); }
  std::string address(int i) const;  // "127.0.0.1:port"
  // The node whose address is `host_port` (a not_primary body), or -1.
  int index_of(std::string_view host_port) const;
  client::config client_config(int i, std::chrono::milliseconds connect_timeout,
                               std::chrono::milliseconds request_timeout) const;
  // Node i's role from HELLO, or nothing when no session was made within `timeout`
  // (refused, stopped, starting).
  std::optional<std::uint32_t> role(int i, std::chrono::milliseconds timeout) const;
  // Every node's, asked at once: the slowest bounds the call.
  std::vector<std::optional<std::uint32_t>> roles(std::chrono::milliseconds timeout) const;
};

// What a command printed and how it ended.
struct command_result {
  int status = -1;     // exit status; 128 + signal when killed; -1 when it could not run
  std::string output;  // stdout and stderr
};
command_result run_command(const std::vector<std::string>& argv);

class cluster_process {
 public:
  // Writes the keys file, picks the ports, starts etcd (with `cluster`) and every node, and
  // waits until each listens. Throws std::runtime_error (with the logs) when one does not.
  explicit cluster_process(cluster_options opts = {});
  // Kills every child still running; prints the logs when the test failed.
  ~cluster_process();
  cluster_process(const cluster_process&) = delete;
  cluster_process& operator=(const cluster_process&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  const cluster_options& options() const { return opts_; }
  const cluster_view& view() const { return view_; }
  etcd_process& etcd() { return *etcd_; }
  bool has_etcd() const { return etcd_ != nullptr; }
  const std::string& dir() const { return dir_; }
  const std::string& keys_file() const { return view_.keys_file; }
  std::string address(int i) const { return view_.address(i); }
  std::uint16_t port(int i) const { return view_.ports.at(static_cast<std::size_t>(i)); }
  const std::string& node_name(int i) const { return node(i).name; }
  const std::string& data_dir(int i) const { return node(i).data_dir; }
  const std::string& log_path(int i) const { return node(i).log_path; }
  // The node's command line (the same on every start).
  std::vector<std::string> command(int i) const;

  // Starts node i (not running) with its flags and waits until its port file appears.
  void start(int i);
  // SIGKILL, reaped.
  void kill(int i);
  // SIGSTOP / SIGCONT, each waited for until the kernel reports it.
  void stop(int i);
  void cont(int i);
  // SIGTERM (after SIGCONT when stopped) and wait: the exit status (128 + signal when it was
  // killed by one); SIGKILL and nothing after stop_timeout. A node that had already exited
  // answers the status it exited with.
  std::optional<int> terminate(int i);
  // kill (when running) then start.
  void restart(int i);
  // The process runs (or is stopped); false once it exited, found by reaping it now.
  bool running(int i);
  bool stopped(int i) const { return node(i).stopped; }
  pid_t pid(int i) const { return node(i).pid; }
  // Nodes that exited without the test asking (a crash, a failed start): "node1 exited with
  // status 1", empty when none.
  std::vector<std::string> unexpected_exits();

  std::optional<std::uint32_t> role(
      int i, std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const {
    return view_.role(i, timeout);
  }
  // The primary now: a node that says role 1 (or 0, standalone) in HELLO and is not `excluding`
  // (-1: none). When several say so, the one etcd names as leader, else the first.
  std::optional<int> find_primary(int excluding = -1);
  struct found {
    int index = -1;
    std::chrono::milliseconds took{0};
  };
  // Polls find_primary until one answers or `timeout` passes.
  std::optional<found> wait_for_primary(std::chrono::milliseconds timeout, int excluding = -1);
  // Polls node i's role until it is `role`; false after `timeout`.
  bool wait_for_role(int i, std::uint32_t role, std::chrono::milliseconds timeout);

  // The cluster's etcd keys (docs/CLUSTER.md, "etcd keys"): /remit/<name>/<suffix>'s value,
  // nothing when absent or etcd does not answer within a second.
  std::optional<std::string> etcd_value(std::string_view suffix);
  // The node etcd names as leader, and the synchronous set (node indexes).
  std::optional<int> etcd_leader();
  std::optional<std::vector<int>> sync_set();
  int index_of_name(std::string_view name) const;

  // The last `lines` lines of node i's log, every run so far.
  std::string log_tail(int i, std::size_t lines = 40) const;
  std::string log(int i) const;
  // Prints every node's log tail (and the list of processes) to stderr.
  void print_logs(std::size_t lines = 40) const;
  // The destructor prints the logs also when the test did not fail (a program that is no
  // test calls this on its own failure).
  void mark_failed() { failed_ = true; }

  // remit-journal verify on node i's data dir (the node must not run).
  command_result verify(int i) const;
  // remit-journal's path, for other commands (dump, stats).
  const std::string& journal_tool() const { return opts_.remit_journal; }

 private:
  struct node_state {
    std::string name;
    std::string dir;
    std::string data_dir;
    std::string log_path;
    std::string port_file;
    pid_t pid = -1;
    bool stopped = false;
    bool expected_exit = true;  // the test ended it (or it never ran)
    std::optional<int> exit_status;
  };
  node_state& node(int i) { return nodes_.at(static_cast<std::size_t>(i)); }
  const node_state& node(int i) const { return nodes_.at(static_cast<std::size_t>(i)); }
  void spawn(int i);
  void wait_listening(int i);
  void reaped(int i, int wait_status);
  void append_log(int i, const std::string& line) const;

  cluster_options opts_;
  std::string dir_;
  cluster_view view_;
  std::unique_ptr<etcd_process> etcd_;
  std::vector<node_state> nodes_;
  std::vector<std::string> exits_;  // unexpected exits seen so far
  bool failed_ = false;
};

}  // namespace remit::test
