#include "tests/support/cluster_load.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "gateway/codec/frame.hpp"

namespace remit::test {

using std::chrono::milliseconds;

namespace {

std::string decimal(u128 v) {
  if (v == 0) return "0";
  std::string s;
  while (v != 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return s;
}

constexpr std::uint32_t result_ok = 0;
constexpr std::uint32_t result_exists = 3;

std::string status_name(const client::reply& r) {
  if (!r.answered) return "no answer";
  return std::string(codec::name(r.status));
}

}  // namespace

// ---- load_plan -----------------------------------------------------------------------------

account load_plan::make_account(int k) const {
  account a{};
  a.id = account_id(k);
  a.ledger = ledger;
  a.code = 1;
  return a;
}

u128 load_plan::transfer_id(std::uint64_t b, int j) const {
  return transfer_base + static_cast<u128>(b) * static_cast<u128>(batch_size) +
         static_cast<u128>(j);
}

transfer load_plan::make_transfer(u128 id) const {
  const auto n = static_cast<std::uint64_t>(accounts);
  const auto k = static_cast<std::uint64_t>(id - transfer_base);
  const std::uint64_t debit = k % n;
  const std::uint64_t credit = (debit + 1 + (k / n) % (n - 1)) % n;
  transfer t{};
  t.id = id;
  t.debit_account_id = account_id(static_cast<int>(debit));
  t.credit_account_id = account_id(static_cast<int>(credit));
  t.amount = 1 + static_cast<u128>(k % 997);
  t.ledger = ledger;
  t.code = 1;
  return t;
}

std::vector<transfer> load_plan::batch(std::uint64_t b) const {
  std::vector<transfer> out;
  out.reserve(static_cast<std::size_t>(batch_size));
  for (int j = 0; j < batch_size; ++j) out.push_back(make_transfer(transfer_id(b, j)));
  return out;
}

// ---- load_driver ---------------------------------------------------------------------------

struct load_driver::call_state {
  std::uint64_t batch = 0;
  int node = -1;
  int events = 0;
  bool done = false;
  client::reply reply;
};

struct load_driver::shared {
  mutable std::mutex m;
  mutable std::condition_variable cv;
  std::vector<ack_record> acks;
  std::vector<std::string> problems;
  std::map<std::string, std::uint64_t> outcomes;

  // On a client's I/O thread: short, never blocks but for the lock.
  void on_reply(call_state& call, client::reply&& r) {
    const auto now = cluster_clock::now();
    std::lock_guard lock(m);
    ++outcomes[status_name(r)];
    if (r.ok()) {
      std::uint64_t mask = 0;
      if (r.results.size() != static_cast<std::size_t>(call.events)) {
        problems.push_back("batch " + std::to_string(call.batch) + ": " +
                           std::to_string(r.results.size()) + " results to " +
                           std::to_string(call.events) + " transfers from node" +
                           std::to_string(call.node));
      } else {
        for (int j = 0; j < call.events; ++j) {
          const std::uint32_t s = r.results[static_cast<std::size_t>(j)].status;
          if (s == result_ok || s == result_exists) {
            mask |= std::uint64_t{1} << j;
          } else if (problems.size() < 100) {
            problems.push_back("batch " + std::to_string(call.batch) + " event " +
                               std::to_string(j) + ": result " +
                               std::string(name(static_cast<create_transfer_result>(s))) +
                               " from node" + std::to_string(call.node));
          }
        }
      }
      if (mask != 0) acks.push_back({call.batch, call.node, now, mask});
    }
    call.reply = std::move(r);
    call.done = true;
    cv.notify_all();
  }
};

load_driver::load_driver(cluster_view view, driver_options opts)
    : view_(std::move(view)), opts_(opts), shared_(std::make_shared<shared>()) {
  if (opts_.plan.batch_size < 1 || opts_.plan.batch_size > 64 || opts_.plan.accounts < 2)
    throw std::invalid_argument("load_driver: batch_size 1..64, accounts >= 2");
}

load_driver::~load_driver() {
  stop();
}

std::optional<int> load_driver::find_primary(int hint) {
  if (hint >= 0 && hint < view_.size()) return hint;
  const auto roles = view_.roles(opts_.connect_timeout);
  for (int i = 0; i < view_.size(); ++i)
    if (view_.takes_writes(roles[static_cast<std::size_t>(i)])) return i;
  return std::nullopt;
}

bool load_driver::create_accounts(milliseconds timeout, std::string& why) {
  std::vector<account> accounts;
  for (int k = 0; k < opts_.plan.accounts; ++k) accounts.push_back(opts_.plan.make_account(k));
  const auto deadline = cluster_clock::now() + timeout;
  int hint = -1;
  why = "no primary found";
  while (cluster_clock::now() < deadline) {
    const auto p = find_primary(hint);
    hint = -1;
    if (!p) {
      std::this_thread::sleep_for(milliseconds(50));
      continue;
    }
    try {
      client::client c(view_.client_config(*p, opts_.connect_timeout, milliseconds(10000)));
      const client::reply r = c.create_accounts(accounts);
      if (r.ok()) {
        bool all = r.results.size() == accounts.size();
        for (const auto& res : r.results)
          if (res.status != result_ok && res.status != result_exists) all = false;
        if (all) return true;
        why = "create_accounts on node" + std::to_string(*p) + ": a result is not ok";
        return false;
      }
      why = "create_accounts on node" + std::to_string(*p) + ": " + status_name(r) + " " + r.error;
      if (r.answered && r.status == codec::status::not_primary) hint = view_.index_of(r.primary);
    } catch (const std::exception& e) {
      why = e.what();
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

void load_driver::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void load_driver::stop() {
  stop_ = true;
  shared_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

void load_driver::run() {
  std::unique_ptr<client::client> cl;
  std::vector<std::unique_ptr<client::client>> waiting;  // requests unanswered in time
  int target = -1;
  int hint = -1;
  std::uint64_t b = sent_.load();
  const auto no_answer = [this](const std::string& what) {
    std::lock_guard lock(shared_->m);
    ++shared_->outcomes[what];
  };
  while (!stop_) {
    if (opts_.max_batches != 0 && b >= opts_.max_batches) break;
    if (!cl) {
      const auto p = find_primary(hint);
      hint = -1;
      if (!p) {
        std::this_thread::sleep_for(milliseconds(20));
        continue;
      }
      try {
        cl = std::make_unique<client::client>(
            view_.client_config(*p, opts_.connect_timeout, milliseconds(0)));
        target = *p;
      } catch (const std::exception&) {
        no_answer("no session");
        std::this_thread::sleep_for(milliseconds(20));
        continue;
      }
    }
    auto call = std::make_shared<call_state>();
    call->batch = b;
    call->node = target;
    call->events = opts_.plan.batch_size;
    const std::vector<transfer> events = opts_.plan.batch(b);
    sent_.store(std::max(sent_.load(), b + 1));
    cl->create_transfers(
        events, [sh = shared_, call](client::reply&& r) { sh->on_reply(*call, std::move(r)); });
    std::unique_lock lock(shared_->m);
    shared_->cv.wait_for(lock, opts_.wait, [&] { return call->done || stop_.load(); });
    if (!call->done) {
      if (stop_) break;
      ++shared_->outcomes["no answer within the wait"];
      lock.unlock();
      // Kept open: an answer that still comes is recorded.
      waiting.push_back(std::move(cl));
      continue;
    }
    const client::reply r = call->reply;
    lock.unlock();
    if (r.ok()) {
      ++b;
      if (opts_.pause.count() > 0) std::this_thread::sleep_for(opts_.pause);
      continue;
    }
    cl.reset();
    if (r.answered && r.status == codec::status::not_primary) {
      hint = view_.index_of(r.primary);
      if (hint == target) hint = -1;
      if (hint < 0) std::this_thread::sleep_for(milliseconds(20));
      continue;
    }
    // unavailable, a lost connection, shutting_down: the outcome is unknown; look again.
    std::this_thread::sleep_for(milliseconds(20));
  }
  cl.reset();
  waiting.clear();
}

std::vector<ack_record> load_driver::acks() const {
  std::lock_guard lock(shared_->m);
  return shared_->acks;
}

std::size_t load_driver::ack_count() const {
  std::lock_guard lock(shared_->m);
  return shared_->acks.size();
}

std::map<u128, transfer> load_driver::acknowledged() const {
  std::map<u128, transfer> out;
  for (const ack_record& a : acks())
    for (int j = 0; j < opts_.plan.batch_size; ++j)
      if ((a.mask >> j) & 1u) {
        const u128 id = opts_.plan.transfer_id(a.batch, j);
        out.emplace(id, opts_.plan.make_transfer(id));
      }
  return out;
}

std::optional<ack_record> load_driver::first_ack_after(cluster_clock::time_point t,
                                                       int not_node) const {
  std::lock_guard lock(shared_->m);
  std::optional<ack_record> best;
  for (const ack_record& a : shared_->acks)
    if (a.at > t && a.node != not_node && (!best || a.at < best->at)) best = a;
  return best;
}

std::optional<ack_record> load_driver::last_ack_by(int node) const {
  std::lock_guard lock(shared_->m);
  std::optional<ack_record> best;
  for (const ack_record& a : shared_->acks)
    if ((node < 0 || a.node == node) && (!best || a.at > best->at)) best = a;
  return best;
}

bool load_driver::wait_for_acks_after(cluster_clock::time_point t, std::size_t count,
                                      milliseconds timeout, int not_node) const {
  const auto deadline = cluster_clock::now() + timeout;
  for (;;) {
    {
      std::lock_guard lock(shared_->m);
      std::size_t n = 0;
      for (const ack_record& a : shared_->acks)
        if (a.at > t && a.node != not_node) ++n;
      if (n >= count) return true;
    }
    if (cluster_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

std::vector<std::string> load_driver::problems() const {
  std::lock_guard lock(shared_->m);
  return shared_->problems;
}

std::map<std::string, std::uint64_t> load_driver::outcomes() const {
  std::lock_guard lock(shared_->m);
  return shared_->outcomes;
}

std::string load_driver::summary() const {
  std::ostringstream out;
  std::map<int, std::size_t> by_node;
  std::size_t n = 0;
  {
    std::lock_guard lock(shared_->m);
    n = shared_->acks.size();
    for (const ack_record& a : shared_->acks) ++by_node[a.node];
  }
  out << "load: " << batches_sent() << " batches of " << opts_.plan.batch_size << " sent, " << n
      << " acknowledgements (";
  bool first = true;
  for (const auto& [node, k] : by_node) {
    out << (first ? "" : ", ") << "node" << node << ": " << k;
    first = false;
  }
  out << "); answers:";
  for (const auto& [what, k] : outcomes()) out << " " << what << " " << k << ";";
  return out.str();
}

// ---- the checks ----------------------------------------------------------------------------

std::string check_report::text() const {
  std::ostringstream out;
  out << summary << "\n";
  for (const auto& p : problems) out << "  PROBLEM: " << p << "\n";
  return out.str();
}

namespace {

// One pass of the transfer check on node p; false when the node stopped being primary
// (the caller looks again).
bool check_on(cluster_process& c, const load_driver& d, int p, check_report& rep) {
  const load_plan& plan = d.plan();
  client::client cl(c.view().client_config(p, milliseconds(2000), milliseconds(30000)));
  // Every id ever sent: the acknowledged ones must all be there, the others may.
  std::vector<u128> ids;
  const std::uint64_t sent = d.batches_sent();
  ids.reserve(static_cast<std::size_t>(sent) * static_cast<std::size_t>(plan.batch_size));
  for (std::uint64_t b = 0; b < sent; ++b)
    for (int j = 0; j < plan.batch_size; ++j) ids.push_back(plan.transfer_id(b, j));
  std::map<u128, transfer> found;
  constexpr std::size_t chunk = 4096;
  for (std::size_t at = 0; at < ids.size(); at += chunk) {
    const std::size_t n = std::min(chunk, ids.size() - at);
    const client::reply r = cl.lookup_transfers(std::span<const u128>(ids.data() + at, n));
    if (r.answered && r.status == codec::status::not_primary) return false;
    if (!r.ok()) {
      rep.problems.push_back("lookup_transfers on node" + std::to_string(p) + ": " +
                             status_name(r) + " " + r.error);
      return true;
    }
    for (const transfer& t : r.transfers) found.emplace(t.id, t);
  }
  const auto acked = d.acknowledged();
  std::size_t lost = 0;
  for (const auto& [id, want] : acked) {
    const auto it = found.find(id);
    if (it == found.end()) {
      if (++lost <= 10)
        rep.problems.push_back("acknowledged transfer " + decimal(id) + " is not on node" +
                               std::to_string(p));
      continue;
    }
  }
  if (lost > 10)
    rep.problems.push_back(std::to_string(lost) + " acknowledged transfers lost in all");
  std::map<u128, u128> debits, credits;  // by account: the sums of the transfers found
  for (const auto& [id, t] : found) {
    const transfer want = plan.make_transfer(id);
    if (t.debit_account_id != want.debit_account_id ||
        t.credit_account_id != want.credit_account_id || t.amount != want.amount ||
        t.ledger != want.ledger || t.flags != 0) {
      rep.problems.push_back("transfer " + decimal(id) + " on node" + std::to_string(p) +
                             " is not the one sent: amount " + decimal(t.amount) + " (sent " +
                             decimal(want.amount) + ")");
      continue;
    }
    debits[t.debit_account_id] += t.amount;
    credits[t.credit_account_id] += t.amount;
  }
  std::vector<u128> account_ids;
  for (int k = 0; k < plan.accounts; ++k) account_ids.push_back(plan.account_id(k));
  const client::reply ra = cl.lookup_accounts(account_ids);
  if (ra.answered && ra.status == codec::status::not_primary) return false;
  if (!ra.ok()) {
    rep.problems.push_back("lookup_accounts on node" + std::to_string(p) + ": " + status_name(ra) +
                           " " + ra.error);
    return true;
  }
  if (ra.accounts.size() != account_ids.size())
    rep.problems.push_back(std::to_string(ra.accounts.size()) + " of " +
                           std::to_string(account_ids.size()) + " accounts found");
  std::map<std::uint32_t, std::array<u128, 4>> ledgers;  // debits/credits posted/pending
  for (const account& a : ra.accounts) {
    auto& l = ledgers[a.ledger];
    l[0] += a.debits_posted;
    l[1] += a.credits_posted;
    l[2] += a.debits_pending;
    l[3] += a.credits_pending;
    if (a.debits_posted != debits[a.id] || a.credits_posted != credits[a.id])
      rep.problems.push_back("account " + decimal(a.id) + ": debits_posted " +
                             decimal(a.debits_posted) + ", credits_posted " +
                             decimal(a.credits_posted) + ", but its transfers found sum to " +
                             decimal(debits[a.id]) + " and " + decimal(credits[a.id]));
  }
  for (const auto& [ledger, l] : ledgers) {
    if (l[0] != l[1])
      rep.problems.push_back("ledger " + std::to_string(ledger) + ": debits_posted " +
                             decimal(l[0]) + " != credits_posted " + decimal(l[1]));
    if (l[2] != l[3])
      rep.problems.push_back("ledger " + std::to_string(ledger) + ": debits_pending " +
                             decimal(l[2]) + " != credits_pending " + decimal(l[3]));
  }
  rep.primary = p;
  rep.summary += "check on node" + std::to_string(p) + ": " + std::to_string(acked.size()) +
                 " acknowledged transfers, " + std::to_string(found.size()) + " found of " +
                 std::to_string(ids.size()) + " sent, " + std::to_string(lost) + " lost";
  return true;
}

}  // namespace

check_report check_transfers(cluster_process& c, const load_driver& d, milliseconds timeout) {
  check_report rep;
  for (const auto& p : d.problems()) rep.problems.push_back("load: " + p);
  const auto deadline = cluster_clock::now() + timeout;
  for (int attempt = 0;; ++attempt) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - cluster_clock::now());
    const auto f = c.wait_for_primary(std::max(left, milliseconds(0)));
    if (!f) {
      rep.problems.push_back("no primary within " + std::to_string(timeout.count()) + " ms");
      return rep;
    }
    try {
      check_report pass;
      if (check_on(c, d, f->index, pass)) {
        rep.primary = pass.primary;
        rep.summary += pass.summary;
        rep.problems.insert(rep.problems.end(), pass.problems.begin(), pass.problems.end());
        return rep;
      }
    } catch (const std::exception& e) {
      if (attempt >= 3) {
        rep.problems.push_back(std::string("check: ") + e.what());
        return rep;
      }
    }
    if (cluster_clock::now() >= deadline) {
      rep.problems.push_back("the primary kept changing during the check");
      return rep;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

check_report stop_and_verify(cluster_process& c) {
  check_report rep;
  const auto primary = c.find_primary();
  std::vector<int> order;
  for (int i = 0; i < c.size(); ++i)
    if (!primary || i != *primary) order.push_back(i);
  if (primary) order.push_back(*primary);
  for (const auto& e : c.unexpected_exits()) rep.problems.push_back("unexpected exit: " + e);
  for (const int i : order) {
    if (!c.running(i)) continue;
    const auto status = c.terminate(i);
    if (!status)
      rep.problems.push_back(c.node_name(i) + " did not exit after SIGTERM (killed); its log:\n" +
                             c.log_tail(i, 20));
    else if (*status != 0)
      rep.problems.push_back(c.node_name(i) + " exited with status " + std::to_string(*status) +
                             " after SIGTERM; its log:\n" + c.log_tail(i, 20));
  }
  int verified = 0;
  for (int i = 0; i < c.size(); ++i) {
    const command_result r = c.verify(i);
    if (r.status != 0)
      rep.problems.push_back("remit-journal verify " + c.data_dir(i) + ": status " +
                             std::to_string(r.status) + "\n" + r.output);
    else
      ++verified;
  }
  rep.summary = "stop and verify: " + std::to_string(verified) + " of " + std::to_string(c.size()) +
                " data dirs verify";
  return rep;
}

check_report check_cluster(cluster_process& c, const load_driver& d, check_options opts) {
  check_report rep = check_transfers(c, d, opts.primary_timeout);
  if (opts.stop_and_verify) {
    check_report s = stop_and_verify(c);
    rep.summary += "; " + s.summary;
    rep.problems.insert(rep.problems.end(), s.problems.begin(), s.problems.end());
  }
  return rep;
}

}  // namespace remit::test
