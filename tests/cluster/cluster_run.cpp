// remit-cluster-run: what `tools/run cluster` shows. Starts a local etcd and three remitd
// nodes on loopback (free ports, a temp dir), drives transfers at whichever node is primary,
// kills the primary with SIGKILL halfway, and prints the failover time (from the kill to
// the first acknowledgement by another node), then checks that every acknowledged transfer
// is on the new primary, that money is conserved, and that every node stops cleanly with a
// journal that verifies. Exit status 0 when all of that holds.
//
//   remit-cluster-run [--seconds N] [--remitd PATH] [--remit-journal PATH] [--keep]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <thread>

#include "tests/support/cluster_load.hpp"
#include "tests/support/cluster_process.hpp"

namespace {

using namespace std::chrono_literals;
using namespace remit::test;

long long ms_between(cluster_clock::time_point a, cluster_clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

int usage() {
  std::fprintf(stderr,
               "usage: remit-cluster-run [--seconds N] [--remitd PATH] [--remit-journal PATH] "
               "[--keep]\n");
  return 2;
}

void progress(const load_driver& d, cluster_clock::time_point start, std::size_t& last) {
  const std::size_t n = d.ack_count();
  const auto a = d.last_ack_by(-1);
  std::printf("%6.1f s  %zu batches acknowledged (+%zu)%s\n",
              static_cast<double>(ms_between(start, cluster_clock::now())) / 1000.0, n, n - last,
              a ? (", last by node" + std::to_string(a->node)).c_str() : "");
  std::fflush(stdout);
  last = n;
}

}  // namespace

int main(int argc, char** argv) try {
  cluster_options o;
  int seconds = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      seconds = std::atoi(argv[++i]);
    else if (a == "--remitd" && i + 1 < argc)
      o.remitd = argv[++i];
    else if (a == "--remit-journal" && i + 1 < argc)
      o.remit_journal = argv[++i];
    else if (a == "--keep")
      o.keep_dir = true;
    else
      return usage();
  }
  if (seconds < 2) return usage();
  if (!find_etcd()) {
    std::fprintf(stderr, "remit-cluster-run: no etcd binary (tools/deps installs etcd-server)\n");
    return 1;
  }

  cluster_process c(o);
  std::printf("etcd at %s; nodes:", c.etcd().client_url().c_str());
  for (int i = 0; i < c.size(); ++i) std::printf(" node%d %s", i, c.address(i).c_str());
  std::printf("\nlogs and data under %s\n", c.dir().c_str());
  const auto p = c.wait_for_primary(30s);
  if (!p) {
    std::fprintf(stderr, "remit-cluster-run: no primary 30 s after the start\n");
    c.mark_failed();
    return 1;
  }
  std::printf("node%d is primary (%lld ms after the nodes listened)\n", p->index,
              static_cast<long long>(p->took.count()));

  load_driver d(c.view(), driver_options{});
  std::string why;
  if (!d.create_accounts(30s, why)) {
    std::fprintf(stderr, "remit-cluster-run: creating the accounts: %s\n", why.c_str());
    c.mark_failed();
    return 1;
  }
  const auto start = cluster_clock::now();
  d.start();
  std::size_t last = 0;
  const auto half = start + std::chrono::seconds(seconds) / 2;
  while (cluster_clock::now() < half) {
    std::this_thread::sleep_for(1s);
    progress(d, start, last);
  }

  const auto victim = c.find_primary();
  if (!victim) {
    std::fprintf(stderr, "remit-cluster-run: no primary to kill\n");
    c.mark_failed();
    return 1;
  }
  const auto t_kill = cluster_clock::now();
  c.kill(*victim);
  std::printf("SIGKILL node%d (the primary)\n", *victim);
  std::fflush(stdout);
  const auto deadline = t_kill + 30s;
  while (!d.first_ack_after(t_kill, *victim) && cluster_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  const auto first = d.first_ack_after(t_kill, *victim);
  if (!first) {
    std::fprintf(stderr, "remit-cluster-run: no other node acknowledged within 30 s\n%s\n",
                 d.summary().c_str());
    c.mark_failed();
    return 1;
  }
  std::printf("failover: node%d acknowledged %lld ms after the kill\n", first->node,
              ms_between(t_kill, first->at));
  c.start(*victim);
  const bool back = c.wait_for_role(*victim, role_standby, 30s);
  std::printf("node%d restarted: %s\n", *victim,
              back ? "a standby again" : "NOT a standby after 30 s");
  const auto end = start + std::chrono::seconds(seconds);
  while (cluster_clock::now() < end) {
    std::this_thread::sleep_for(1s);
    progress(d, start, last);
  }
  d.stop();
  std::printf("%s\n", d.summary().c_str());
  const check_report r = check_cluster(c, d);
  std::printf("%s\n", r.summary.c_str());
  if (!r.ok() || !back) {
    std::printf("%s", r.text().c_str());
    std::printf("remit-cluster-run: FAILED\n");
    c.mark_failed();
    return 1;
  }
  std::printf(
      "every acknowledged transfer is on the new primary node%d; money is conserved; "
      "every journal verifies\n",
      r.primary);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "remit-cluster-run: %s\n", e.what());
  return 1;
}
