// remit-load: drives a ledger target with a generated workload (tools/workload.hpp) and
// reports throughput, latency, result codes, and whether money was conserved.
//
//   remit-load --target reference --accounts 100000 --mix mixed --seconds 5 [--json]
//
// Phases: create the accounts, fund them, run the load (timed), look up every account and
// check per ledger that debits equal credits (posted, and pending). Each batch's latency is
// recorded once per transfer in it, so the percentiles are per transfer. With --json the
// last line printed is one JSON object with the figures. Exit status: 0, 1 when money was
// not conserved or the target failed, 2 for bad flags.
//
// Targets sit behind `load_target`; only the in-process reference ledger exists so far. An
// `embedded` target (the actor engine in-process) and a `HOST:PORT` target (the client
// library over the wire) are added by implementing that interface and `make_target`.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "engine/reference_ledger.hpp"
#include "engine/types.hpp"
#include "tools/histogram.hpp"
#include "tools/workload.hpp"

namespace remit::load {

// What a target call returns: done, or why the target could not answer (then the results
// are unspecified and the run stops).
class [[nodiscard]] call_status {
 public:
  static call_status done() { return call_status{}; }
  static call_status failed(std::string why) {
    call_status s;
    s.error_ = std::move(why);
    if (s.error_.empty()) s.error_ = "unknown error";
    return s;
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

// A ledger remit-load can drive. Calls are synchronous: each returns when the target has
// answered the whole batch. `out` has one slot per event (lookups: room for every id).
class load_target {
 public:
  virtual ~load_target() = default;
  virtual std::string_view name() const = 0;
  virtual call_status create_accounts(std::span<const account> events, std::span<result> out) = 0;
  virtual call_status create_transfers(std::span<const transfer> events, std::span<result> out) = 0;
  // Found accounts in request order; `found` is how many were written.
  virtual call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                                      std::size_t& found) = 0;
};

std::uint64_t wall_clock_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// The serial reference ledger in this process, on the wall clock, expiring pending
// transfers about once a second like a server.
class reference_target final : public load_target {
 public:
  std::string_view name() const override { return "reference"; }

  call_status create_accounts(std::span<const account> events, std::span<result> out) override {
    ledger_.create_accounts(events, wall_clock_ns(), out);
    return call_status::done();
  }

  call_status create_transfers(std::span<const transfer> events, std::span<result> out) override {
    const std::uint64_t now = wall_clock_ns();
    if (now >= next_expire_ns_) {
      ledger_.expire(now);
      next_expire_ns_ = now + ns_per_s;
    }
    ledger_.create_transfers(events, now, out);
    return call_status::done();
  }

  call_status lookup_accounts(std::span<const u128> ids, std::span<account> out,
                              std::size_t& found) override {
    found = ledger_.lookup_accounts(ids, out);
    return call_status::done();
  }

 private:
  reference_ledger ledger_;
  std::uint64_t next_expire_ns_ = 0;
};

// The target named by --target, or nullptr and why not.
std::unique_ptr<load_target> make_target(std::string_view spec, std::string& why) {
  if (spec == "reference") return std::make_unique<reference_target>();
  if (spec == "embedded") {
    why =
        "target 'embedded' (the actor engine in-process) is not built yet; use --target reference";
  } else if (spec.find(':') != std::string_view::npos) {
    why = "network targets (HOST:PORT) are not built yet; use --target reference";
  } else {
    why = "unknown target '" + std::string(spec) + "': expected reference, embedded or HOST:PORT";
  }
  return nullptr;
}

struct options {
  std::string target = "reference";
  std::uint64_t accounts = 100'000;
  std::uint32_t ledgers = 1;
  std::string mix = "plain";
  std::string dist = "uniform";
  std::uint32_t batch = batch_events_max;
  std::uint64_t transfers = 0;  // 0: not given
  double seconds = 0;           // 0: not given
  std::uint64_t seed = 1;
  double bounded = 0.25;
  bool json = false;
};

inline constexpr std::uint64_t transfers_default = 1'000'000;
inline constexpr double seconds_max = 3600;

// A live progress line, only on a terminal, at most 4 times a second.
class progress {
 public:
  progress() : enabled_(isatty(STDOUT_FILENO) == 1) {}
  void update(double seconds, std::uint64_t transfers, const histogram& h) {
    if (!enabled_ || seconds - last_s_ < 0.25) return;
    last_s_ = seconds;
    std::printf("\r%7.1f s  %12llu transfers  %10.0f transfers/s  p99 %9.1f us ", seconds,
                static_cast<unsigned long long>(transfers),
                seconds > 0 ? static_cast<double>(transfers) / seconds : 0.0,
                static_cast<double>(h.percentile(99)) / 1000.0);
    std::fflush(stdout);
    shown_ = true;
  }
  void clear() {
    if (!shown_) return;
    std::printf("\r%80s\r", "");
    std::fflush(stdout);
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  double last_s_ = -1;
};

struct run_report {
  std::uint64_t transfers = 0;
  double seconds = 0;
  std::array<std::uint64_t, create_transfer_result_count> codes{};
  std::unique_ptr<histogram> latency = std::make_unique<histogram>();  // 37 KB: on the heap
  bool conserved = false;
  std::uint64_t accounts_found = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// x rounded to `digits` decimals, as the double nearest to that decimal (so that it prints
// short: 8716.3, not 8716.300000000001).
double round_to(double x, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(x * scale) / scale;
}

// Creates and funds the accounts. Prints what it did; false when the target failed.
bool setup(load_target& target, workload::generator& gen) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<account> accounts;
  std::vector<result> results(batch_events_max);
  std::uint64_t created = 0, refused = 0;
  while (gen.next_account_batch(accounts)) {
    const call_status s =
        target.create_accounts(accounts, std::span(results).first(accounts.size()));
    if (!s.ok()) {
      std::fprintf(stderr, "remit-load: create_accounts failed: %s\n", s.error().c_str());
      return false;
    }
    for (std::size_t i = 0; i < accounts.size(); ++i) {
      const auto code = static_cast<create_account_result>(results[i].status);
      // `exists` is fine: a server that already has them from an earlier run.
      if (code == create_account_result::ok || code == create_account_result::exists) {
        ++created;
      } else if (refused++ == 0) {
        std::fprintf(stderr, "remit-load: account refused: %s\n", std::string(name(code)).c_str());
      }
    }
  }
  std::vector<transfer> funding;
  std::uint64_t funded = 0, unfunded = 0;
  while (gen.next_funding_batch(funding)) {
    const call_status s =
        target.create_transfers(funding, std::span(results).first(funding.size()));
    if (!s.ok()) {
      std::fprintf(stderr, "remit-load: funding failed: %s\n", s.error().c_str());
      return false;
    }
    for (std::size_t i = 0; i < funding.size(); ++i) ++(results[i].status == 0 ? funded : unfunded);
  }
  {
    std::printf(
        "setup: %llu accounts (%llu refused), %llu funding transfers (%llu refused) in %.2f s\n",
        static_cast<unsigned long long>(created), static_cast<unsigned long long>(refused),
        static_cast<unsigned long long>(funded), static_cast<unsigned long long>(unfunded),
        seconds_since(t0));
  }
  return refused == 0;
}

// The timed load. False when the target failed.
bool run_load(load_target& target, workload::generator& gen, const options& o, run_report& rep) {
  std::vector<transfer> batch;
  batch.reserve(batch_events_max);
  std::vector<result> results(batch_events_max);
  const std::uint64_t limit = o.transfers != 0 ? o.transfers
                              : o.seconds > 0  ? ~std::uint64_t{0}
                                               : transfers_default;
  progress line;
  const auto t0 = std::chrono::steady_clock::now();
  while (rep.transfers < limit) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(o.batch, limit - rep.transfers));
    gen.next_transfer_batch(batch, n);
    const auto b0 = std::chrono::steady_clock::now();
    const call_status s = target.create_transfers(batch, std::span(results).first(n));
    const auto b1 = std::chrono::steady_clock::now();
    if (!s.ok()) {
      line.clear();
      std::fprintf(stderr, "remit-load: create_transfers failed: %s\n", s.error().c_str());
      return false;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(b1 - b0).count();
    rep.latency->record(static_cast<std::uint64_t>(std::max<std::int64_t>(ns, 0)), n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint32_t code = results[i].status;
      ++rep.codes[std::min<std::uint32_t>(code, create_transfer_result_count - 1)];
    }
    rep.transfers += n;
    rep.seconds = std::chrono::duration<double>(b1 - t0).count();
    line.update(rep.seconds, rep.transfers, *rep.latency);
    if (o.seconds > 0 && rep.seconds >= o.seconds) break;
  }
  line.clear();
  return true;
}

// Looks up every account and checks that per ledger the debits equal the credits.
bool check_conserved(load_target& target, const workload::generator& gen, run_report& rep) {
  struct sums {
    u128 debits_pending = 0, debits_posted = 0, credits_pending = 0, credits_posted = 0;
  };
  std::map<std::uint32_t, sums> ledgers;
  std::vector<u128> ids;
  std::vector<account> found(batch_events_max);
  ids.reserve(batch_events_max);
  const u128 count = gen.account_count();
  for (u128 id = 1; id <= count;) {
    ids.clear();
    while (id <= count && ids.size() < batch_events_max) ids.push_back(id++);
    std::size_t n = 0;
    const call_status s = target.lookup_accounts(ids, found, n);
    if (!s.ok()) {
      std::fprintf(stderr, "remit-load: lookup_accounts failed: %s\n", s.error().c_str());
      return false;
    }
    rep.accounts_found += n;
    for (std::size_t i = 0; i < n; ++i) {
      sums& l = ledgers[found[i].ledger];
      l.debits_pending += found[i].debits_pending;
      l.debits_posted += found[i].debits_posted;
      l.credits_pending += found[i].credits_pending;
      l.credits_posted += found[i].credits_posted;
    }
  }
  rep.conserved = rep.accounts_found == gen.account_count();
  for (const auto& [ledger, l] : ledgers) {
    if (l.debits_posted != l.credits_posted || l.debits_pending != l.credits_pending) {
      std::fprintf(stderr, "remit-load: ledger %u does not balance\n", ledger);
      rep.conserved = false;
    }
  }
  return true;
}

void print_report(const options& o, const run_report& rep) {
  const histogram& h = *rep.latency;
  const auto us = [&](double p) { return round_to(static_cast<double>(h.percentile(p)) / 1e3, 1); };
  const double max_us = round_to(static_cast<double>(h.max()) / 1e3, 1);
  const double tps = rep.seconds > 0 ? static_cast<double>(rep.transfers) / rep.seconds : 0.0;

  std::printf(
      "target       %s, %llu accounts on %u ledger(s), mix %s, dist %s, batch %u, seed %llu\n",
      o.target.c_str(), static_cast<unsigned long long>(o.accounts), o.ledgers, o.mix.c_str(),
      o.dist.c_str(), o.batch, static_cast<unsigned long long>(o.seed));
  std::printf("transfers    %llu\n", static_cast<unsigned long long>(rep.transfers));
  std::printf("seconds      %.3f\n", rep.seconds);
  std::printf("transfers/s  %.0f\n", tps);
  std::printf(
      "latency us   p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (per transfer, of its "
      "batch)\n",
      us(50), us(90), us(99), us(99.9), max_us);
  std::printf("results     ");
  for (std::uint32_t c = 0; c < create_transfer_result_count; ++c) {
    if (rep.codes[c] == 0 && c != 0) continue;
    std::printf(" %s %llu", std::string(name(static_cast<create_transfer_result>(c))).c_str(),
                static_cast<unsigned long long>(rep.codes[c]));
  }
  std::printf("\n");
  std::printf("conserved    %s (%llu accounts looked up)\n", rep.conserved ? "yes" : "no",
              static_cast<unsigned long long>(rep.accounts_found));

  if (o.json) {
    nlohmann::ordered_json j;
    j["target"] = o.target;
    j["transfers"] = rep.transfers;
    j["seconds"] = round_to(rep.seconds, 3);
    j["tps"] = std::llround(tps);
    j["latency_us"] = nlohmann::ordered_json::object();
    j["latency_us"]["p50"] = us(50);
    j["latency_us"]["p90"] = us(90);
    j["latency_us"]["p99"] = us(99);
    j["latency_us"]["p999"] = us(99.9);
    j["latency_us"]["max"] = max_us;
    j["results"] = nlohmann::ordered_json::object();
    for (std::uint32_t c = 0; c < create_transfer_result_count; ++c) {
      if (rep.codes[c] == 0 && c != 0) continue;
      j["results"][std::string(name(static_cast<create_transfer_result>(c)))] = rep.codes[c];
    }
    j["conserved"] = rep.conserved;
    std::cout << j.dump() << std::endl;
  }
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  CLI::App app{
      "remit-load: drive a remit ledger with a generated workload and report throughput, "
      "latency, result codes and whether money was conserved"};
  options o;
  app.add_option("--target", o.target,
                 "what to drive: reference (the serial ledger in this process); embedded and "
                 "HOST:PORT are not built yet")
      ->capture_default_str();
  app.add_option("--accounts", o.accounts, "user accounts (ids 1..N; one bank per ledger more)")
      ->check(CLI::Range(std::uint64_t{2}, std::uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--ledgers", o.ledgers, "ledgers; accounts are spread round-robin")
      ->check(CLI::Range(std::uint32_t{1}, std::uint32_t{1} << 20))
      ->capture_default_str();
  app.add_option("--mix", o.mix, "plain, pending (pending then post or void), linked, mixed")
      ->check(CLI::IsMember({"plain", "pending", "linked", "mixed"}))
      ->capture_default_str();
  app.add_option("--dist", o.dist, "how accounts are picked: uniform or zipf (exponent 1)")
      ->check(CLI::IsMember({"uniform", "zipf"}))
      ->capture_default_str();
  app.add_option("--batch", o.batch, "transfers per request, 1 to 8190")
      ->check(CLI::Range(std::uint32_t{1}, batch_events_max))
      ->capture_default_str();
  auto* transfers_opt =
      app.add_option("--transfers", o.transfers,
                     "stop after this many transfers (default 1000000 unless --seconds)")
          ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
  auto* seconds_opt = app.add_option("--seconds", o.seconds, "stop after this long, at most 3600")
                          ->check(CLI::Range(0.001, seconds_max));
  transfers_opt->excludes(seconds_opt);
  app.add_option("--seed", o.seed, "the workload's seed; one seed, one workload")
      ->capture_default_str();
  app.add_option("--bounded", o.bounded,
                 "fraction of accounts with a balance bound (debits_must_not_exceed_credits)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--json", o.json, "print the figures as one JSON object on the last line");
  CLI11_PARSE(app, argc, argv);

  workload::config c;
  c.accounts = o.accounts;
  c.ledgers = o.ledgers;
  c.kind = *workload::parse_mix(o.mix);
  c.dist = *workload::parse_distribution(o.dist);
  c.batch_events = o.batch;
  c.seed = o.seed;
  c.bounded_fraction = o.bounded;
  if (const std::string_view why = workload::validate(c); !why.empty()) {
    std::fprintf(stderr, "remit-load: %s\n", std::string(why).c_str());
    return 2;
  }
  std::string why;
  const std::unique_ptr<load_target> target = make_target(o.target, why);
  if (!target) {
    std::fprintf(stderr, "remit-load: %s\n", why.c_str());
    return 2;
  }

  workload::generator gen(c);
  if (!setup(*target, gen)) return 1;
  run_report rep;
  if (!run_load(*target, gen, o, rep)) return 1;
  if (!check_conserved(*target, gen, rep)) return 1;
  print_report(o, rep);
  return rep.conserved ? 0 : 1;
}

}  // namespace remit::load

int main(int argc, char** argv) {
  try {
    return remit::load::run(argc, argv);
  } catch (const std::exception& e) {  // out of memory, mostly
    std::fprintf(stderr, "remit-load: %s\n", e.what());
    return 1;
  }
}
