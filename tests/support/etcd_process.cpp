#include "tests/support/etcd_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace remit::test {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

std::string tail(const std::string& text, std::size_t bytes) {
  return text.size() <= bytes ? text : "...\n" + text.substr(text.size() - bytes);
}

// One GET /health over a fresh loopback connection, bounded by `timeout`: true when etcd
// says {"health":"true"} (it has a leader and answers reads).
bool healthy(std::uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const auto deadline = clock_type::now() + timeout;
  auto wait_for = [&](short events) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, static_cast<int>(left.count())) == 1;
  };
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ||
      (errno == EINPROGRESS && wait_for(POLLOUT))) {
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    const std::string request = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (so_error == 0 && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
                             static_cast<ssize_t>(request.size())) {
      char buf[4096];
      while (answer.size() < 65536 && wait_for(POLLIN)) {
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        answer.append(buf, static_cast<std::size_t>(n));
      }
      ok = answer.starts_with("HTTP/1.") && answer.find("\"health\":\"true\"") != std::string::npos;
    }
  }
  ::close(fd);
  return ok;
}

}  // namespace

std::optional<std::string> find_etcd() {
  if (const char* env = std::getenv("REMIT_ETCD"); env && *env)
    return ::access(env, X_OK) == 0 ? std::optional<std::string>(env) : std::nullopt;
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    if (d.empty()) continue;
    const std::string candidate = d + "/etcd";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("free_port: socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw std::runtime_error("free_port: " + why);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

etcd_process::etcd_process(options opts, std::string binary)
    : opts_(opts), binary_(std::move(binary)) {
  if (binary_.empty()) {
    auto found = find_etcd();
    if (!found) throw std::runtime_error("etcd_process: no etcd binary (tools/deps installs it)");
    binary_ = std::move(*found);
  }
  std::string pattern = (fs::temp_directory_path() / "remit-etcd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("etcd_process: mkdtemp: " + std::string(std::strerror(errno)));
  dir_ = pattern;
  log_path_ = dir_ + "/etcd.log";
  // The ports were free when picked; another process may take one before etcd binds it.
  // etcd then exits at once, and the first start tries other ports.
  for (int attempt = 1;; ++attempt) {
    client_port_ = free_port();
    peer_port_ = free_port();
    client_url_ = "http://127.0.0.1:" + std::to_string(client_port_);
    try {
      start();
      return;
    } catch (const std::exception&) {
      const bool port_taken = log().find("address already in use") != std::string::npos;
      if (!port_taken || attempt == 3) {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
        throw;
      }
      fs::remove_all(dir_ + "/data");
    }
  }
}

etcd_process::~etcd_process() {
  if (running()) stop();
  if (::testing::Test::HasFailure())
    std::cerr << "---- etcd log (" << log_path_ << ") ----\n"
              << tail(log(), 16384) << "---- end of etcd log ----\n";
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void etcd_process::spawn() {
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
  const std::vector<std::string> args = {
      binary_,
      "--name=remit-test",
      "--data-dir=" + dir_ + "/data",
      "--logger=zap",
      "--log-outputs=stderr",
      "--listen-client-urls=" + client_url_,
      "--advertise-client-urls=" + client_url_,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + peer_url,
      "--initial-cluster=remit-test=" + peer_url,
      "--initial-cluster-token=remit-test-" + std::to_string(peer_port_),
      "--initial-cluster-state=new",
      "--heartbeat-interval=" + std::to_string(opts_.heartbeat_ms),
      "--election-timeout=" + std::to_string(opts_.election_ms),
  };
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw std::runtime_error("etcd_process: open " + log_path_ + ": " + std::strerror(errno));
  const std::string banner = "---- remit test: starting etcd ----\n";
  (void)!::write(log_fd, banner.data(), banner.size());

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error("etcd_process: fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    // The child: async-signal-safe calls only until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  paused_ = false;
}

void etcd_process::wait_healthy() {
  const auto deadline = clock_type::now() + opts_.start_timeout;
  while (clock_type::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("etcd exited at start (status " + std::to_string(status) +
                               "); its log:\n" + tail(log(), 4096));
    }
    if (healthy(client_port_, std::chrono::milliseconds(500))) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill();
  throw std::runtime_error("etcd did not become healthy within " +
                           std::to_string(opts_.start_timeout.count()) + " ms; its log:\n" +
                           tail(log(), 4096));
}

void etcd_process::start() {
  if (running()) throw std::logic_error("etcd_process::start: already running");
  spawn();
  wait_healthy();
}

void etcd_process::reap(std::chrono::milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (clock_type::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  paused_ = false;
}

void etcd_process::stop() {
  if (!running()) return;
  if (paused_) ::kill(pid_, SIGCONT);
  ::kill(pid_, SIGTERM);
  reap(opts_.stop_timeout);
}

void etcd_process::kill() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  reap(opts_.stop_timeout);
}

// SIGSTOP takes effect some time after kill() returns (every thread of etcd has to stop),
// and etcd may answer a request in between: wait until the kernel reports the stop.
void etcd_process::pause() {
  if (!running() || paused_) return;
  ::kill(pid_, SIGSTOP);
  int status = 0;
  while (::waitpid(pid_, &status, WUNTRACED) < 0 && errno == EINTR) {
  }
  if (!WIFSTOPPED(status))
    throw std::runtime_error("etcd_process::pause: etcd did not stop (status " +
                             std::to_string(status) + ")");
  paused_ = true;
}

void etcd_process::resume() {
  if (!running() || !paused_) return;
  ::kill(pid_, SIGCONT);
  int status = 0;
  while (::waitpid(pid_, &status, WCONTINUED) < 0 && errno == EINTR) {
  }
  paused_ = false;
}

std::string etcd_process::log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

void etcd_test::SetUp() {
  if (!find_etcd())
    GTEST_SKIP() << "no etcd binary: install etcd-server (tools/deps) or set REMIT_ETCD";
  etcd_.emplace();
}

void etcd_test::TearDown() {
  etcd_.reset();
}

}  // namespace remit::test
