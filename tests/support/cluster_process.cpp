#include "tests/support/cluster_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "gateway/cluster/etcd.hpp"
#include "gateway/codec/keys.hpp"

namespace remit::test {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

#ifdef REMIT_TEST_REMITD
constexpr const char* built_remitd = REMIT_TEST_REMITD;
#else
constexpr const char* built_remitd = "remitd";
#endif
#ifdef REMIT_TEST_REMIT_JOURNAL
constexpr const char* built_journal = REMIT_TEST_REMIT_JOURNAL;
#else
constexpr const char* built_journal = "remit-journal";
#endif

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string last_lines(const std::string& text, std::size_t lines) {
  std::size_t at = text.size();
  if (at > 0 && text[at - 1] == '\n') --at;
  std::size_t n = 0;
  while (at > 0) {
    if (text[at - 1] == '\n' && ++n == lines) break;
    --at;
  }
  return text.substr(at);
}

std::string wall_clock_now() {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return stamp;
}

std::string describe_status(int wait_status) {
  if (WIFEXITED(wait_status))
    return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status))
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(wait_status)) + " (" +
           strsignal(WTERMSIG(wait_status)) + ")";
  return "ended with wait status " + std::to_string(wait_status);
}

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

}  // namespace

// ---- cluster_view --------------------------------------------------------------------------

std::string cluster_view::address(int i) const {
  return "127.0.0.1:" + std::to_string(ports.at(static_cast<std::size_t>(i)));
}

int cluster_view::index_of(std::string_view host_port) const {
  for (int i = 0; i < size(); ++i)
    if (host_port == address(i)) return i;
  // localhost:port or another spelling of loopback: match the port alone.
  if (const auto colon = host_port.rfind(':'); colon != std::string_view::npos) {
    const std::string port(host_port.substr(colon + 1));
    for (int i = 0; i < size(); ++i)
      if (port == std::to_string(ports[static_cast<std::size_t>(i)])) return i;
  }
  return -1;
}

client::config cluster_view::client_config(int i, milliseconds connect_timeout,
                                           milliseconds request_timeout) const {
  client::config c;
  c.host = "127.0.0.1";
  c.port = ports.at(static_cast<std::size_t>(i));
  c.key_id = key_id;
  c.secret = secret;
  c.connect_timeout = connect_timeout;
  c.request_timeout = request_timeout;
  // The harness finds the primary itself: a lost connection or `unavailable` comes back at
  // once instead of being retried against the same node.
  c.reconnects_max = 0;
  // It talks to the node it names, whatever its role: it reads a standby's role, and it
  // must see a deposed primary's late answers on that primary's own session.
  c.follow_primary = false;
  c.batching = false;
  return c;
}

std::optional<std::uint32_t> cluster_view::role(int i, milliseconds timeout) const {
  try {
    client::client c(client_config(i, timeout, timeout));
    return c.session().role;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<std::optional<std::uint32_t>> cluster_view::roles(milliseconds timeout) const {
  std::vector<std::future<std::optional<std::uint32_t>>> asks;
  asks.reserve(ports.size());
  for (int i = 0; i < size(); ++i)
    asks.push_back(std::async(std::launch::async, [this, i, timeout] { return role(i, timeout); }));
  std::vector<std::optional<std::uint32_t>> out;
  out.reserve(asks.size());
  for (auto& a : asks) out.push_back(a.get());
  return out;
}

// ---- run_command ---------------------------------------------------------------------------

command_result run_command(const std::vector<std::string>& args) {
  command_result r;
  int fds[2];
  if (args.empty() || ::pipe2(fds, O_CLOEXEC) != 0) return r;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return r;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(fds[1], STDOUT_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      r.output.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = exit_code(status);
  return r;
}

// ---- cluster_process -----------------------------------------------------------------------

cluster_process::cluster_process(cluster_options opts) : opts_(std::move(opts)) {
  if (opts_.nodes < 1) throw std::invalid_argument("cluster_process: nodes must be at least 1");
  if (opts_.remitd.empty()) opts_.remitd = env_or("REMIT_REMITD", built_remitd);
  if (opts_.remit_journal.empty()) opts_.remit_journal = env_or("REMIT_JOURNAL", built_journal);
  if (::access(opts_.remitd.c_str(), X_OK) != 0)
    throw std::runtime_error("cluster_process: no remitd at " + opts_.remitd);
  if (env_or("REMIT_CLUSTER_KEEP", "") == "1") opts_.keep_dir = true;

  std::string pattern = (fs::temp_directory_path() / "remit-cluster-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("cluster_process: mkdtemp: " + std::string(std::strerror(errno)));
  dir_ = pattern;

  // One keys file for every node: clients use `admin`, nodes `node` (replicate only).
  const codec::key_entry admin = codec::make_key("admin", codec::permission::all);
  const codec::key_entry peer = codec::make_key("node", codec::permission::replicate);
  view_.keys_file = dir_ + "/keys";
  {
    const std::string text = "# remit test cluster keys\n" + codec::format_key(admin) + "\n" +
                             codec::format_key(peer) + "\n";
    const int fd = ::open(view_.keys_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("cluster_process: cannot write " + view_.keys_file);
    }
    ::close(fd);
  }
  view_.key_id = admin.id;
  view_.cluster = opts_.cluster;
  view_.secret = admin.secret;

  try {
    if (opts_.cluster) etcd_ = std::make_unique<etcd_process>();
    nodes_.resize(static_cast<std::size_t>(opts_.nodes));
    for (int i = 0; i < opts_.nodes; ++i) {
      node_state& n = node(i);
      n.name = "node" + std::to_string(i);
      n.dir = dir_ + "/" + n.name;
      n.data_dir = n.dir + "/data";
      n.log_path = n.dir + "/remitd.log";
      n.port_file = n.dir + "/port";
      fs::create_directories(n.dir);
      view_.ports.push_back(free_port());
    }
    for (int i = 0; i < opts_.nodes; ++i) spawn(i);
    for (int i = 0; i < opts_.nodes; ++i) wait_listening(i);
  } catch (const std::exception& e) {
    std::string logs;
    for (int i = 0; i < size(); ++i)
      logs += "---- " + node(i).name + " ----\n" + log_tail(i, 30) + "\n";
    for (int i = 0; i < size(); ++i)
      if (node(i).pid > 0) {
        ::kill(node(i).pid, SIGKILL);
        ::waitpid(node(i).pid, nullptr, 0);
        node(i).pid = -1;
      }
    etcd_.reset();
    std::error_code ignored;
    if (!opts_.keep_dir) fs::remove_all(dir_, ignored);
    throw std::runtime_error(std::string("cluster_process: ") + e.what() + "\n" + logs);
  }
}

cluster_process::~cluster_process() {
  for (int i = 0; i < size(); ++i) {
    node_state& n = node(i);
    if (n.pid <= 0) continue;
    ::kill(n.pid, SIGKILL);
    while (::waitpid(n.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    n.pid = -1;
  }
  const bool failed = failed_ || ::testing::Test::HasFailure();
  if (failed) print_logs(60);
  etcd_.reset();  // prints etcd's log on a test failure
  std::error_code ignored;
  if (opts_.keep_dir || (failed && env_or("REMIT_CLUSTER_KEEP", "") == "on-failure"))
    std::cerr << "cluster_process: kept " << dir_ << "\n";
  else
    fs::remove_all(dir_, ignored);
}

std::vector<std::string> cluster_process::command(int i) const {
  const node_state& n = node(i);
  std::vector<std::string> args = {
      opts_.remitd, "--data-dir", n.data_dir,      "--listen",    address(i),  "--metrics",
      "off",        "--keys",     view_.keys_file, "--port-file", n.port_file,
  };
  if (opts_.cluster) {
    const std::vector<std::string> more = {
        "--etcd",
        etcd_->client_url(),
        "--cluster",
        opts_.name,
        "--node",
        n.name,
        "--advertise",
        address(i),
        "--peer-key-id",
        "node",
        "--lease-ttl",
        std::to_string(opts_.lease_ttl_s),
        "--replication-timeout",
        std::to_string(opts_.replication_timeout_s),
        "--sync-standbys",
        std::to_string(opts_.sync_standbys),
    };
    args.insert(args.end(), more.begin(), more.end());
    if (opts_.allow_async) args.emplace_back("--allow-async");
  }
  args.insert(args.end(), opts_.extra_flags.begin(), opts_.extra_flags.end());
  return args;
}

void cluster_process::append_log(int i, const std::string& line) const {
  std::ofstream out(node(i).log_path, std::ios::app);
  out << line << '\n';
}

void cluster_process::spawn(int i) {
  node_state& n = node(i);
  if (n.pid > 0) throw std::logic_error("cluster_process::start: " + n.name + " runs already");
  std::error_code ignored;
  fs::remove(n.port_file, ignored);
  const std::vector<std::string> args = command(i);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  std::string cmdline;
  for (const auto& a : args) cmdline += (cmdline.empty() ? "" : " ") + a;
  append_log(i, "---- cluster test " + wall_clock_now() + ": starting " + n.name + ": " + cmdline);
  const int log_fd = ::open(n.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cluster_process: open " + n.log_path);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error("cluster_process: fork: " + std::string(std::strerror(errno)));
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
  n.pid = pid;
  n.stopped = false;
  n.expected_exit = false;
  n.exit_status.reset();
}

void cluster_process::reaped(int i, int wait_status) {
  node_state& n = node(i);
  n.exit_status = exit_code(wait_status);
  append_log(i, "---- cluster test " + wall_clock_now() + ": " + n.name + " (pid " +
                    std::to_string(n.pid) + ") " + describe_status(wait_status));
  if (!n.expected_exit) exits_.push_back(n.name + " " + describe_status(wait_status));
  n.pid = -1;
  n.stopped = false;
  n.expected_exit = true;
}

void cluster_process::wait_listening(int i) {
  node_state& n = node(i);
  const auto deadline = clock_type::now() + opts_.start_timeout;
  for (;;) {
    std::error_code ec;
    if (fs::file_size(n.port_file, ec) > 0 && !ec) return;
    int status = 0;
    if (n.pid > 0 && ::waitpid(n.pid, &status, WNOHANG) == n.pid) {
      const std::string what = describe_status(status);
      reaped(i, status);
      throw std::runtime_error(n.name + " " + what + " before it listened; its log:\n" +
                               log_tail(i, 30));
    }
    if (clock_type::now() >= deadline)
      throw std::runtime_error(n.name + " did not listen within " +
                               std::to_string(opts_.start_timeout.count()) + " ms; its log:\n" +
                               log_tail(i, 30));
    std::this_thread::sleep_for(milliseconds(10));
  }
}

void cluster_process::start(int i) {
  spawn(i);
  wait_listening(i);
}

bool cluster_process::running(int i) {
  node_state& n = node(i);
  if (n.pid <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(n.pid, &status, WNOHANG);
  if (r == n.pid) {
    reaped(i, status);
    return false;
  }
  return true;
}

std::vector<std::string> cluster_process::unexpected_exits() {
  for (int i = 0; i < size(); ++i) (void)running(i);
  return exits_;
}

void cluster_process::kill(int i) {
  node_state& n = node(i);
  if (n.pid <= 0) return;
  append_log(i, "---- cluster test " + wall_clock_now() + ": SIGKILL " + n.name);
  n.expected_exit = true;
  ::kill(n.pid, SIGKILL);
  int status = 0;
  while (::waitpid(n.pid, &status, 0) < 0 && errno == EINTR) {
  }
  reaped(i, status);
}

void cluster_process::stop(int i) {
  node_state& n = node(i);
  if (n.pid <= 0 || n.stopped) return;
  append_log(i, "---- cluster test " + wall_clock_now() + ": SIGSTOP " + n.name);
  ::kill(n.pid, SIGSTOP);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(n.pid, &status, WUNTRACED);
    if (r < 0 && errno == EINTR) continue;
    break;
  }
  if (WIFSTOPPED(status)) {
    n.stopped = true;
    return;
  }
  reaped(i, status);
  throw std::runtime_error("cluster_process::stop: " + n.name + " ended instead of stopping");
}

void cluster_process::cont(int i) {
  node_state& n = node(i);
  if (n.pid <= 0 || !n.stopped) return;
  append_log(i, "---- cluster test " + wall_clock_now() + ": SIGCONT " + n.name);
  ::kill(n.pid, SIGCONT);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(n.pid, &status, WCONTINUED);
    if (r < 0 && errno == EINTR) continue;
    break;
  }
  n.stopped = false;
  if (!WIFCONTINUED(status)) reaped(i, status);
}

std::optional<int> cluster_process::terminate(int i) {
  node_state& n = node(i);
  if (n.pid <= 0) return n.exit_status;
  append_log(i, "---- cluster test " + wall_clock_now() + ": SIGTERM " + n.name);
  n.expected_exit = true;
  if (n.stopped) ::kill(n.pid, SIGCONT);
  ::kill(n.pid, SIGTERM);
  const auto deadline = clock_type::now() + opts_.stop_timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(n.pid, &status, WNOHANG);
    if (r == n.pid) {
      reaped(i, status);
      return n.exit_status;
    }
    if (clock_type::now() >= deadline) {
      append_log(i, "---- cluster test: " + n.name + " still runs " +
                        std::to_string(opts_.stop_timeout.count()) + " ms after SIGTERM: SIGKILL");
      ::kill(n.pid, SIGKILL);
      while (::waitpid(n.pid, &status, 0) < 0 && errno == EINTR) {
      }
      reaped(i, status);
      n.exit_status.reset();
      return std::nullopt;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
}

void cluster_process::restart(int i) {
  kill(i);
  start(i);
}

int cluster_process::index_of_name(std::string_view name) const {
  for (int i = 0; i < size(); ++i)
    if (node(i).name == name) return i;
  return -1;
}

std::optional<int> cluster_process::find_primary(int excluding) {
  const auto roles = view_.roles(milliseconds(500));
  std::vector<int> primaries;
  for (int i = 0; i < size(); ++i)
    if (i != excluding && view_.takes_writes(roles[static_cast<std::size_t>(i)]))
      primaries.push_back(i);
  if (primaries.empty()) return std::nullopt;
  if (primaries.size() > 1 && etcd_ && etcd_->running()) {
    if (const auto leader = etcd_leader())
      for (const int p : primaries)
        if (p == *leader) return p;
  }
  return primaries.front();
}

std::optional<cluster_process::found> cluster_process::wait_for_primary(milliseconds timeout,
                                                                        int excluding) {
  const auto start = clock_type::now();
  for (;;) {
    if (const auto p = find_primary(excluding))
      return found{*p, std::chrono::duration_cast<milliseconds>(clock_type::now() - start)};
    if (clock_type::now() - start >= timeout) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool cluster_process::wait_for_role(int i, std::uint32_t role, milliseconds timeout) {
  const auto deadline = clock_type::now() + timeout;
  for (;;) {
    if (view_.role(i, milliseconds(500)) == role) return true;
    if (clock_type::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

std::optional<std::string> cluster_process::etcd_value(std::string_view suffix) {
  if (!etcd_ || !etcd_->running() || etcd_->paused()) return std::nullopt;
  cluster::etcd::config cfg;
  cfg.endpoints = {etcd_->client_url()};
  cfg.timeout = milliseconds(1000);
  cluster::etcd::client c(cfg);
  auto r = c.get("/remit/" + opts_.name + "/" + std::string(suffix));
  if (!r.ok() || !r.value()) return std::nullopt;
  return r.value()->value;
}

std::optional<int> cluster_process::etcd_leader() {
  const auto v = etcd_value("leader");
  if (!v) return std::nullopt;
  const int i = index_of_name(*v);
  return i < 0 ? std::nullopt : std::optional<int>(i);
}

std::optional<std::vector<int>> cluster_process::sync_set() {
  const auto v = etcd_value("sync");
  if (!v) return std::nullopt;
  std::vector<int> out;
  std::stringstream names(*v);
  for (std::string name; std::getline(names, name, ',');) {
    if (name.empty()) continue;
    out.push_back(index_of_name(name));
  }
  return out;
}

std::string cluster_process::log(int i) const {
  return read_file(node(i).log_path);
}

std::string cluster_process::log_tail(int i, std::size_t lines) const {
  return last_lines(log(i), lines);
}

void cluster_process::print_logs(std::size_t lines) const {
  std::ostringstream out;
  out << "==== cluster " << dir_ << ": the last " << lines << " lines of every node's log ====\n";
  for (int i = 0; i < size(); ++i) {
    const node_state& n = node(i);
    out << "---- " << n.name << " (" << address(i) << ", "
        << (n.pid > 0 ? "pid " + std::to_string(n.pid) + (n.stopped ? ", stopped" : "")
                      : std::string("not running"))
        << ") " << n.log_path << " ----\n"
        << log_tail(i, lines);
  }
  if (!exits_.empty()) {
    out << "---- unexpected exits ----\n";
    for (const auto& e : exits_) out << e << "\n";
  }
  out << "==== end of the cluster's logs ====\n";
  std::cerr << out.str() << std::flush;
}

command_result cluster_process::verify(int i) const {
  return run_command({opts_.remit_journal, "verify", node(i).data_dir});
}

}  // namespace remit::test
