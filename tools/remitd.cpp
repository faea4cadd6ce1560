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
// Exit status: 0 after a clean stop, 1 when it cannot start (bad data dir, damaged journal,
// address in use), 2 for bad flags.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

#include <CLI/CLI.hpp>

#include "actors/engine.hpp"
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
