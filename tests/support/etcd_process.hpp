// A real etcd for tests: one single-member etcd as a child process on free loopback ports,
// with a fresh data dir, that the test can stop, start again (same dir, same ports: the data
// is still there), kill, pause (SIGSTOP) and resume.
//
// etcd runs with short raft timers (heartbeat 50 ms, election 500 ms): it is up in about
// half a second, and its minimum lease TTL is 1 s (1.5 x the election timeout, rounded up
// to seconds), so lease tests can wait seconds, not tens of them. Its log (stdout and
// stderr, every run appended) is <dir>/etcd.log; when the test has failed, the destructor
// prints it.
//
// The child gets SIGKILL if the thread that started it ends (PR_SET_PDEATHSIG), so a test
// that crashes leaves no etcd behind: start it from the test's own thread.
//
// Tests derive their fixture from etcd_test, which skips (GTEST_SKIP) when no etcd binary
// is installed ($REMIT_ETCD, else `etcd` on PATH; tools/deps installs etcd-server) and
// otherwise starts one etcd per test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace remit::test {

// $REMIT_ETCD when it names an executable, else the first `etcd` on PATH.
std::optional<std::string> find_etcd();

struct etcd_options {
  std::chrono::milliseconds start_timeout{15000};  // until /health says true
  std::chrono::milliseconds stop_timeout{5000};    // SIGTERM, then SIGKILL
  int heartbeat_ms = 50;
  int election_ms = 500;
};

class etcd_process {
 public:
  using options = etcd_options;

  // Starts etcd and waits until it is healthy; throws std::runtime_error (with the log's
  // tail) when it does not come up. `binary` defaults to find_etcd().
  explicit etcd_process(options opts = {}, std::string binary = {});
  // Stops etcd (as stop()) and removes its dir.
  ~etcd_process();
  etcd_process(const etcd_process&) = delete;
  etcd_process& operator=(const etcd_process&) = delete;

  // Starts it again on the same data dir and ports and waits until it is healthy.
  void start();
  // SIGTERM (after SIGCONT, if paused); SIGKILL when it has not exited after stop_timeout.
  void stop();
  // SIGKILL: a crash.
  void kill();
  // SIGSTOP / SIGCONT: etcd keeps its sockets but answers nothing (a hung or partitioned
  // store: connections are accepted by the kernel, requests time out).
  void pause();
  void resume();

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  // http://127.0.0.1:<client port>
  const std::string& client_url() const { return client_url_; }
  std::uint16_t client_port() const { return client_port_; }
  std::uint16_t peer_port() const { return peer_port_; }
  const std::string& dir() const { return dir_; }
  // What etcd logged, every run so far.
  std::string log() const;

 private:
  void spawn();
  void wait_healthy();
  void reap(std::chrono::milliseconds timeout);

  options opts_;
  std::string binary_;
  std::string dir_;
  std::string log_path_;
  std::uint16_t client_port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::string client_url_;
  pid_t pid_ = -1;
  bool paused_ = false;
};

// A loopback TCP port that was free a moment ago (bound to port 0 and read back).
std::uint16_t free_port();

// The fixture of tests against a real etcd: skips without the binary, else starts one.
class etcd_test : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  etcd_process& etcd() { return *etcd_; }

 private:
  std::optional<etcd_process> etcd_;
};

}  // namespace remit::test
