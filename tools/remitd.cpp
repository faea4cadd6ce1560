// remitd: the remit server. The embedded engine (recovering from --data-dir), the binary
// protocol gateway on --listen, and Prometheus metrics on --metrics.
//
//   remitd [--data-dir DIR] [--listen HOST:PORT] [--metrics HOST:PORT|off] [--keys FILE]
//          [--durability on|off] [--tls-cert PEM --tls-key PEM] [--threads N] [--config FILE]
//
// When the keys file is missing it is created with one key, `admin`, permissions 7 (read,
// transfer, admin) and a random 32-byte secret, mode 0600, and its path is printed. The log
// (standard error) has start, listen, recovery, auth failures and fail-stop; never a secret.
// SIGTERM or SIGINT: stop accepting, answer what is in flight, flush, snapshot, exit 0.
//
// In a cluster (docs/CLUSTER.md) it also takes
//   --etcd URL[,URL...] --cluster NAME --node NAME [--advertise HOST:PORT] --peer-key-id ID
//   [--lease-ttl S] [--replication-timeout S] [--sync-standbys N] [--allow-async]
// and starts as a standby: it follows the primary, or becomes primary when etcd lets it. A
// primary that another node deposed starts the process again (execv of itself, same PID
// and arguments) to follow the new one from its data directory.
// Exit status: 0 after a clean stop, 1 when it cannot start (bad data dir, damaged journal,
// address in use), 2 for bad flags.
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "actors/engine.hpp"
#include "gateway/cluster/node.hpp"
#include "gateway/codec/address.hpp"
#include "gateway/codec/keys.hpp"
#include "gateway/server/server.hpp"

namespace {

std::mutex log_mutex;

void log_line(std::string_view line) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::lock_guard<std::mutex> lock(log_mutex);
  std::fprintf(stderr, "%s remitd: %.*s\n", stamp, static_cast<int>(line.size()), line.data());
  std::fflush(stderr);
}

// Creates the keys file with one admin key; false (with `why`) when that fails.
[[nodiscard]] bool create_keys_file(const std::string& path, std::string& why) {
  const remit::codec::key_entry k = remit::codec::make_key("admin", remit::codec::permission::all);
  const std::string text =
      "# remit keys: key_id hex_secret permissions (1 read, 2 transfer, 4 admin, 8 "
      "replicate)\n" +
      remit::codec::format_key(k) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  if (!ok) why = path + ": " + std::strerror(errno);
  ::close(fd);
  return ok;
}

struct cluster_flags {
  std::string etcd, cluster, node, advertise, peer_key_id;
  double lease_ttl, replication_timeout;
  std::uint32_t sync_standbys;
  std::uint32_t replication_window;
  bool allow_async;
  std::string port_file;
  const remit::codec::server_address* metrics;
};

// A cluster node (docs/CLUSTER.md): the server without an engine until the node becomes
// primary. Returns the exit status; a deposed primary does not return (execv).
int run_cluster_node(char** argv, remit::engine_config ecfg, remit::gateway::server_config scfg,
                     const cluster_flags& f, const sigset_t& stop_signals) {
  using namespace std::chrono;
  std::string why;
  if (!ecfg.durability) {
    log_line("a cluster node needs --durability on");
    return 2;
  }
  if (f.cluster.empty() || f.node.empty() || f.peer_key_id.empty()) {
    log_line("--etcd needs --cluster, --node and --peer-key-id");
    return 2;
  }
  if (!remit::cluster::valid_name(f.cluster) || !remit::cluster::valid_name(f.node)) {
    log_line("--cluster and --node: 1 to 64 characters of [A-Za-z0-9._-]");
    return 2;
  }
  if (!scfg.tls_cert_file.empty()) {
    log_line("a cluster node does not take TLS yet: node-to-node traffic is plain TCP");
    return 2;
  }
  const auto peer = std::find_if(scfg.keys.begin(), scfg.keys.end(),
                                 [&](const auto& k) { return k.id == f.peer_key_id; });
  if (peer == scfg.keys.end() || (peer->permissions & remit::codec::permission::replicate) == 0) {
    log_line("--peer-key-id: '" + f.peer_key_id +
             "' must be a key of the keys file with permission 8 (replicate)");
    return 2;
  }
  remit::cluster::node_config nc;
  nc.election.cluster = f.cluster;
  nc.election.node = f.node;
  nc.election.address =
      f.advertise.empty() ? scfg.host + ":" + std::to_string(scfg.port) : f.advertise;
  if (!remit::codec::parse_server(nc.election.address, why)) {
    log_line("--advertise: " + why);
    return 2;
  }
  nc.election.etcd.endpoints = remit::cluster::etcd::split_endpoints(f.etcd);
  if (nc.election.etcd.endpoints.empty()) {
    log_line("--etcd: no URL");
    return 2;
  }
  nc.election.lease_ttl = seconds(static_cast<long>(f.lease_ttl));
  nc.engine = ecfg;
  // A node restarts often (a deposed primary restarts to follow); the journal's own rolls
  // take the snapshots, so a stop does not replay the journal to write one.
  nc.engine.snapshot_at_shutdown = false;
  nc.peer_key_id = f.peer_key_id;
  nc.peer_secret = peer->secret;
  nc.replication_timeout = milliseconds(static_cast<long>(f.replication_timeout * 1000));
  nc.sync_standbys = f.sync_standbys;
  nc.replication_window = f.replication_window;
  nc.allow_async = f.allow_async;
  nc.log = log_line;
  if (scfg.inflight_events_max == 0) scfg.inflight_events_max = ecfg.inflight_events_max;

  std::optional<remit::cluster::node> node;
  std::optional<remit::gateway::server> server;
  std::optional<remit::gateway::metrics_endpoint> metrics;
  try {
    node.emplace(nc);
    server.emplace(*node, scfg);
    server->set_logger(log_line);
    if (f.metrics) metrics.emplace(*server, f.metrics->host, f.metrics->port);
  } catch (const std::exception& e) {
    log_line(e.what());
    return e.what() == std::string_view("a cluster node needs durability on") ? 2 : 1;
  }
  log_line("cluster '" + f.cluster + "', node '" + f.node + "', advertising " +
           nc.election.address + ", listening on " + scfg.host + ":" +
           std::to_string(server->port()));
  if (!node->start(*server, why)) {
    log_line("cannot open the data directory: " + why);
    return 1;
  }
  if (!f.port_file.empty()) std::ofstream(f.port_file) << server->port() << "\n";
  // The signals end waiting through a thread of their own.
  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig == SIGUSR1) return;  // the main thread ends this thread
    log_line(std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    node->request_stop();
  });
  const auto result = node->wait();
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  if (metrics) metrics->stop();
  metrics.reset();
  node->shutdown(*server, result == remit::cluster::node::outcome::stopped);
  server.reset();
  node.reset();
  switch (result) {
    case remit::cluster::node::outcome::stopped:
      log_line("stopped");
      return 0;
    case remit::cluster::node::outcome::failed:
      return 1;
    case remit::cluster::node::outcome::restart:
      break;
  }
  log_line("restarting to follow the new primary");
  std::fflush(stderr);
  // Nothing this process opened may outlive it into the next one (listening sockets above
  // all: the new process binds the same ports).
  ::close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
  pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
  ::execv("/proc/self/exe", argv);
  log_line(std::string("execv failed: ") + std::strerror(errno));
  return 1;
}

}  // namespace

// A function-try-block: what escapes (no memory, a failure stopping the server) is logged
// and gives status 1, not an uncaught exception's abort without a word.
int main(int argc, char** argv) try {
  CLI::App app{"remitd: the remit payment engine server"};
  std::string data_dir = "remit-data";
  std::string listen = "127.0.0.1:7400";
  std::string metrics_address = "127.0.0.1:7401";
  std::string keys_path;
  std::string durability = "on";
  std::string tls_cert, tls_key, port_file;
  remit::engine_config ecfg;
  remit::gateway::server_config scfg;
  app.set_config("--config", "", "read options from this file (INI or TOML: key = value)");
  app.add_option("--data-dir", data_dir, "journal and snapshots; created if missing")
      ->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT of the protocol (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--metrics", metrics_address, "HOST:PORT of GET /metrics, or off")
      ->capture_default_str();
  app.add_option("--keys", keys_path, "keys file (default DATA_DIR/keys; created when missing)");
  app.add_option("--durability", durability,
                 "on: every answer waits for fdatasync; off: nothing is written")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve TLS only");
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert");
  app.add_option("--threads", ecfg.threads, "engine worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--shards", ecfg.shards, "coordinator shards")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app.add_option("--scheduler", ecfg.scheduler_policy,
                 "the engine's scheduler: remit, sharing or stealing")
      ->capture_default_str()
      ->check(CLI::IsMember({"remit", "sharing", "stealing"}));
  app.add_option("--engine-spin-us", ecfg.spin_us,
                 "--scheduler remit: how long an idle worker spins before it sleeps (us)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--account-hosts", ecfg.account_hosts,
                 "the actors that host the accounts (0: 8 per engine thread)")
      ->capture_default_str()
      ->check(CLI::Range(0, 4096));
  app.add_option("--io-threads", scfg.io_threads, "gateway I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--inflight-max", scfg.inflight_max, "requests outstanding per session")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  app.add_flag("--mac-required", scfg.mac_required, "refuse sessions without a per-frame MAC");
  app.add_option("--port-file", port_file,
                 "write the bound protocol port to this file once listening");
  std::string etcd_urls, cluster_name, node_name, advertise, peer_key_id;
  double lease_ttl = 2, replication_timeout = 5;
  std::uint32_t sync_standbys = 1;
  std::uint32_t replication_window = 8;
  bool allow_async = false;
  auto* cl = app.add_option_group("cluster", "replication and failover (docs/CLUSTER.md)");
  cl->add_option("--etcd", etcd_urls, "etcd client URLs, comma-separated: run as a cluster node");
  cl->add_option("--cluster", cluster_name, "the cluster's name (its etcd key prefix)");
  cl->add_option("--node", node_name, "this node's unique name");
  cl->add_option("--advertise", advertise, "HOST:PORT clients and nodes reach (default --listen)");
  cl->add_option("--peer-key-id", peer_key_id,
                 "the key (permission 8, in the keys file) this node uses with other nodes");
  cl->add_option("--lease-ttl", lease_ttl, "leader lease TTL, whole seconds")
      ->capture_default_str()
      ->check(CLI::Range(1, 60));
  cl->add_option("--replication-timeout", replication_timeout,
                 "how long a write waits for its synchronous standbys, seconds")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 600.0));
  cl->add_option("--sync-standbys", sync_standbys, "standbys every write waits for")
      ->capture_default_str()
      ->check(CLI::Range(1, 15));
  cl->add_option("--replication-window", replication_window,
                 "journal groups the primary writes ahead of its standbys' confirmation")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cl->add_flag("--allow-async", allow_async,
               "with no healthy standby, record an empty synchronous set and go on alone");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (tls_cert.empty() != tls_key.empty()) {
    std::fprintf(stderr, "remitd: --tls-cert and --tls-key go together\n");
    return 2;
  }
  std::string why;
  const auto listen_at = remit::codec::parse_listen_address(listen, why);
  if (!listen_at) {
    std::fprintf(stderr, "remitd: --listen: %s\n", why.c_str());
    return 2;
  }
  scfg.host = listen_at->host;
  scfg.port = listen_at->port;
  const bool metrics_on = metrics_address != "off";
  std::optional<remit::codec::server_address> metrics_at;
  if (metrics_on) {
    metrics_at = remit::codec::parse_listen_address(metrics_address, why);
    if (!metrics_at) {
      std::fprintf(stderr, "remitd: --metrics (HOST:PORT or off): %s\n", why.c_str());
      return 2;
    }
  }

  // SIGINT and SIGTERM are taken by sigwait below; block them before any thread starts so
  // that no other thread is picked to handle them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR1);  // a cluster node's own wake-up of its signal thread
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    log_line("cannot create data directory " + data_dir + ": " + ec.message());
    return 1;
  }
  if (keys_path.empty()) keys_path = (std::filesystem::path(data_dir) / "keys").string();
  if (!std::filesystem::exists(keys_path)) {
    if (!create_keys_file(keys_path, why)) {
      log_line("cannot create the keys file: " + why);
      return 1;
    }
    log_line("created keys file " + keys_path +
             " with key 'admin' (permissions 7); keep it private");
  }
  auto keys = remit::codec::read_keys_file(keys_path, why);
  if (!keys) {
    log_line("keys: " + why);
    return 1;
  }
  scfg.keys = std::move(*keys);
  scfg.tls_cert_file = tls_cert;
  scfg.tls_key_file = tls_key;

  ecfg.data_dir = data_dir;
  ecfg.durability = durability == "on";
  if (!etcd_urls.empty())
    return run_cluster_node(
        argv, ecfg, scfg,
        cluster_flags{etcd_urls, cluster_name, node_name, advertise, peer_key_id, lease_ttl,
                      replication_timeout, sync_standbys, replication_window, allow_async,
                      port_file, metrics_on ? &*metrics_at : nullptr},
        stop_signals);
  if (!cluster_name.empty() || !node_name.empty() || !peer_key_id.empty()) {
    log_line("--cluster, --node and --peer-key-id need --etcd");
    return 2;
  }
  log_line("starting: data dir " + data_dir + ", durability " + durability + ", " +
           std::to_string(ecfg.threads) + " engine threads, " + std::to_string(ecfg.shards) +
           " shards, " + std::to_string(scfg.keys.size()) + " keys");
  std::optional<remit::engine> engine;
  try {
    engine.emplace(ecfg);
  } catch (const std::exception& e) {
    log_line(std::string("cannot start the engine: ") + e.what());
    return 1;
  }
  if (ecfg.durability) {
    const auto& r = engine->recovery();
    char line[512];
    std::snprintf(line, sizeof line,
                  "recovered: %llu accounts, %llu transfers, LSN %llu (snapshot %s, %llu records "
                  "replayed, %llu torn bytes cut) in %.3f s",
                  static_cast<unsigned long long>(r.accounts),
                  static_cast<unsigned long long>(r.transfers),
                  static_cast<unsigned long long>(r.last_lsn),
                  r.snapshot.empty() ? "none" : r.snapshot.c_str(),
                  static_cast<unsigned long long>(r.records),
                  static_cast<unsigned long long>(r.torn_bytes), r.seconds);
    log_line(line);
  }

  std::optional<remit::gateway::server> server;
  std::optional<remit::gateway::metrics_endpoint> metrics;
  try {
    server.emplace(*engine, scfg);
    server->set_logger(log_line);
    if (metrics_on) metrics.emplace(*server, metrics_at->host, metrics_at->port);
  } catch (const std::exception& e) {
    log_line(e.what());
    server.reset();
    engine->shutdown();
    return 1;
  }
  log_line("listening on " + scfg.host + ":" + std::to_string(server->port()) +
           (tls_cert.empty() ? "" : " (TLS)") +
           (metrics ? ", metrics on http://" + metrics_at->host + ":" +
                          std::to_string(metrics->port()) + "/metrics"
                    : std::string()));
  if (!port_file.empty()) {
    std::ofstream(port_file) << server->port() << "\n";
  }

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log_line(std::string("stopping on ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
           ": answering what is in flight");
  server->stop();
  if (metrics) metrics->stop();
  const auto j = engine->journal_stats();
  engine->shutdown();
  log_line("stopped: " + std::to_string(j.records) + " journal records in " +
           std::to_string(j.groups) + " groups this run" +
           (engine->storage_failed() ? "; the journal had failed (fail-stop)" : ""));
  return engine->storage_failed() ? 1 : 0;
} catch (const std::exception& e) {
  log_line(std::string("stopping on an unexpected error: ") + e.what());
  return 1;
}
