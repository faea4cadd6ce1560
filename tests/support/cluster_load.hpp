// Load against a cluster that fails over, and the checks after it.
//
// load_driver: one thread that creates transfers in batches (batch b holds the ids
// transfer_base + b * batch_size + j, increasing, each with a debit, credit and amount that
// follow from its id) between a fixed set of accounts created first (flags 0: no balance
// limits, so every transfer is valid). It sends each batch to the node it takes for the
// primary, one batch at a time, and waits at most `wait` for the answer. On not_primary it
// goes to the node the body names; on unavailable, no answer in time or a lost connection
// it finds the primary again (HELLO roles) and sends the same batch again, same ids: a
// result `exists` means it was done. A batch is acknowledged when a node answers it ok with
// every result ok or exists; the driver records each acknowledgement with the node that gave
// it and when it arrived.
//
// A request that got no answer in time is not given up: its client is kept open until the
// driver stops, and an answer that still comes (from a stopped primary that runs again, say)
// is recorded as an acknowledgement by that node at the time it came. That is what lets a
// test see a deposed primary acknowledge after its successor did.
//
// check_cluster: on the primary, every acknowledged transfer is found with its accounts and
// amount, every transfer found is one the driver sent, each account's posted sums are the
// sums of the transfers found, and per ledger debits equal credits (posted and pending);
// then every node gets SIGTERM (it must exit 0) and remit-journal verify must pass on every
// data dir.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/types.hpp"
#include "gateway/client/client.hpp"
#include "tests/support/cluster_process.hpp"

namespace remit::test {

using cluster_clock = std::chrono::steady_clock;

// Which transfers batch b holds, and between which accounts.
struct load_plan {
  int batch_size = 64;  // 1 to 64
  int accounts = 16;    // at least 2
  std::uint32_t ledger = 1;
  u128 account_base = 1'000'000;  // account k has id account_base + k
  u128 transfer_base = 1;

  account make_account(int k) const;
  u128 account_id(int k) const { return account_base + static_cast<u128>(k); }
  u128 transfer_id(std::uint64_t batch, int j) const;
  // The transfer with this id, as the driver sends it.
  transfer make_transfer(u128 id) const;
  std::vector<transfer> batch(std::uint64_t b) const;
};

struct ack_record {
  std::uint64_t batch = 0;
  int node = -1;
  cluster_clock::time_point at;
  std::uint64_t mask = 0;  // bit j: event j answered ok or exists
};

struct driver_options {
  load_plan plan;
  std::chrono::milliseconds wait{2000};            // per batch sent, then look again
  std::chrono::milliseconds connect_timeout{500};  // also bounds a role query
  std::chrono::milliseconds pause{0};              // between batches
  std::uint64_t max_batches = 0;                   // 0: until stopped
};

class load_driver {
 public:
  load_driver(cluster_view view, driver_options opts);
  // Stops the thread and closes every client.
  ~load_driver();
  load_driver(const load_driver&) = delete;
  load_driver& operator=(const load_driver&) = delete;

  // Creates the plan's accounts through whatever node is primary (on this thread), trying
  // until they all answer ok or exists; false (and why) after `timeout`.
  bool create_accounts(std::chrono::milliseconds timeout, std::string& why);
  void start();
  // Stops sending and joins the thread; the records stay. Clients with a request still
  // unanswered are closed too (their answers are not waited for).
  void stop();
  bool running() const { return thread_.joinable(); }

  const load_plan& plan() const { return opts_.plan; }
  // Every acknowledgement so far, in the order they came.
  std::vector<ack_record> acks() const;
  std::size_t ack_count() const;
  // Batches handed to the server so far (batch 0 .. sent - 1): every id the driver ever sent.
  std::uint64_t batches_sent() const { return sent_.load(); }
  // The acknowledged transfers, once each, by id.
  std::map<u128, transfer> acknowledged() const;
  // The first acknowledgement that came after `t` from a node other than `not_node`.
  std::optional<ack_record> first_ack_after(cluster_clock::time_point t, int not_node = -1) const;
  // The last acknowledgement by `node` (any node when -1).
  std::optional<ack_record> last_ack_by(int node) const;
  // Waits until `count` acknowledgements came after `t` from nodes other than `not_node`.
  bool wait_for_acks_after(cluster_clock::time_point t, std::size_t count,
                           std::chrono::milliseconds timeout, int not_node = -1) const;
  // Results other than ok/exists, answers that make no sense: each a line. Empty is good.
  std::vector<std::string> problems() const;
  // How often each status came back (by name), and how often no answer came in time.
  std::map<std::string, std::uint64_t> outcomes() const;
  std::string summary() const;

 private:
  struct call_state;
  struct shared;
  void run();
  std::optional<int> find_primary(int hint);

  cluster_view view_;
  driver_options opts_;
  std::shared_ptr<shared> shared_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

struct check_options {
  std::chrono::milliseconds primary_timeout{30000};  // to find the final primary
  bool stop_and_verify = true;  // SIGTERM every node and run remit-journal verify
};

struct check_report {
  std::vector<std::string> problems;
  std::string summary;
  int primary = -1;
  bool ok() const { return problems.empty(); }
  std::string text() const;
};

// The transfers and the money, on the primary (the driver must be stopped).
check_report check_transfers(cluster_process& c, const load_driver& d,
                             std::chrono::milliseconds primary_timeout);
// SIGTERM every node still running (standbys first), each must exit 0; then
// remit-journal verify on every data dir.
check_report stop_and_verify(cluster_process& c);
// Both, in that order.
check_report check_cluster(cluster_process& c, const load_driver& d, check_options opts = {});

}  // namespace remit::test
