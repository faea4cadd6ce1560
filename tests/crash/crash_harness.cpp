// remit_crash: the crash harness of the durable engine (docs/ARCHITECTURE.md, "The commit rule" and
// "Durability and failure").
//
// Usage:
//   remit_crash [--kills K] [--seed S] [--data-dir D] [--min-run-ms A] [--max-run-ms B]
//               [--keep] [--inflight N] [--batch-max N] [--accounts N] [--ledgers N]
//               [--journal-kib N] [--snapshot-records N] [--term-per-mille N]
//               [--tear-per-mille N] [--shards N] [--threads N] [--child-seconds N]
//               [--power-loss] [--die-per-mille N] [--unsafe-answer-before-fdatasync]
//   remit_crash --standby [--power-loss] [--kills K] [--seed S] [--data-dir D] [--keep]
//               [--standby-records N] [--journal-kib N] [--accounts N] [--die-per-mille N]
//               [--unsafe-hide-follower-syncs]
//   remit_crash --verify-only --data-dir D
//   remit_crash --child --data-dir D --seed S --run R --fd N     (started by the parent)
//   remit_crash --standby-child --data-dir D --source-dir S --source-last L --fd N
//
// ctest runs `remit_crash --kills 20` (crash.kills_20; and crash.kills_20_one_shard with
// --shards 1), `remit_crash --power-loss --kills 50` (crash.power_loss_50, with 300
// accounts, runs of at most 300 ms and a roll every 50 records, to keep it fast), and the
// same against an engine that answers before its fdatasync, which must FAIL
// (crash.power_loss_catches_early_answers). Long modes, for soak runs:
//   remit_crash --kills 200
//   remit_crash --power-loss --kills 500
//   remit_crash --standby --power-loss --kills 300 --standby-records 20000
// (or more; --seed varies the load and the kill times, and is printed so that a failing run
// can be repeated as far as timing allows; --keep keeps the data directory).
// --standby crashes a standby's copy of the journal instead (actors/follower.hpp) while it
// catches up from a primary's journal, and checks it against that journal: see "Standby
// mode" below. ctest runs `remit_crash --standby --power-loss --kills 30`
// (crash.standby_power_loss_30), and the same with the follower's fdatasyncs hidden from the
// power-loss model, which must FAIL (crash.standby_power_loss_catches_unsynced_groups).
//
// How it works. The parent forks and execs itself as a child with a pipe. The child opens
// remit::engine with durability on in the data directory (small journal files and frequent
// snapshots, so that files roll and snapshots are built during the run), which recovers
// whatever the earlier children left. It then (re)creates the accounts and their funding
// (the same seed and ids every time: `exists` on every later run) and runs a mixed load
// (plain, pending, posts, voids, expiries, linked chains, balancing, resends of old ids,
// cross-ledger, unknown accounts, a few controls changes without overdrafts) with several
// batches in flight. The transfer ids of run R are the generator's ids plus (R+1) * 2^40
// (pending ids likewise), so ids never collide across restarts; the run number continues
// across invocations on one directory (file crash-harness-runs). For EVERY reply that comes
// back with status ok, the child writes one fixed 96-byte record per event (id, pending id,
// result code, timestamp, flags, and for a transfer its debit and credit accounts and
// amount as sent) to the pipe with one write(), from inside the callback: what is in the
// pipe was acknowledged. Each controls change is also numbered and written to the pipe
// before it is sent, so that the parent knows which changes may be decided after which.
// It runs until it is stopped (bounded to 60 s).
//
// The parent lets the child run a random time (seeded; 20% of the stops count from the
// child's start, so they land in recovery and setup, the rest from the start of its load),
// sends SIGKILL (15% of the load-time stops are a SIGTERM instead: a clean shutdown with
// its final snapshot), drains the pipe (a trailing partial record is ignored), reaps the
// child (a child that died any other way is a failure), and then verifies the directory
// in-process with storage::recover into the serial reference ledger (no actors):
//   1. every acknowledged result is in the recovered state: `ok` and `exists` transfers are
//      present with the acknowledged timestamp, the accounts and the amount they were sent
//      with (a balancing transfer may move less; a post or void is on its pending
//      transfer's accounts and moves the amount asked, or the pending amount), a post or
//      void acknowledged ok left its pending transfer posted or voided, a state failure
//      outside a chain is remembered (id_already_failed after a restart) with its code and
//      the transfer is absent, a fresh id that failed is absent; acknowledged accounts are
//      present with their timestamp; a controls change acknowledged ok is in its account's
//      controls, unless a change that may have been decided after it (any change not
//      acknowledged before it was sent, answered or not) is there instead;
//   2. money is conserved per ledger (debits_posted = credits_posted, pending likewise);
//   3. no account breaks its bound flag (debits_must_not_exceed_credits and the credit
//      side, with its overdraft);
//   4. a second recover() of the same directory gives a byte-identical write_snapshot (and
//      finds no torn tail: the first recovery cut it).
// Plus: every account's balances equal the sums of the recovered transfers; every post or
// void matches its pending transfer's state; timestamps are unique; nothing recovered at an
// earlier kill is lost or changed later (except a pending transfer being resolved); the
// child's own recovery (engine::recovery()) found exactly the state the parent recovered
// just before; after a clean shutdown, every transfer of that run was acknowledged ok.
// After 30% of the SIGKILLs the parent appends a torn, never-acknowledged group to the
// journal (see inject_torn_tail: a SIGKILL alone never tears a write) and checks that
// recovery cuts exactly that. A run in which no transfer of the load was acknowledged ok
// over all its stops checked nothing, and fails. Any violation prints a precise message and
// exits 1; the directory is then kept for inspection (remit_crash --verify-only --data-dir
// D). If the recovery itself hits an engine assertion, the parent says so and exits 1 as
// well.
//
// Power-loss mode (--power-loss). A SIGKILL keeps the page cache, so the checks above
// cannot tell an answer given after write() from one given after fdatasync(). In this mode
// the child reports every durability step of the storage (storage_faults::on_step: a file
// created, synced up to a size, truncated, renamed, about to be removed; a directory fsync
// about to start and done) to the pipe, synchronously, before anything the step made
// durable can be acknowledged; a file about to be removed is first hard-linked into
// .power-loss-copies in the data directory. After every stop (SIGTERM too) the parent
// replays those steps and rewrites the directory as a power cut at that moment could leave
// it (see power_loss_model): every byte that no completed fdatasync or fsync covered is
// lost, or a random prefix of it survives, sometimes with zeros, garbage or lost sectors;
// name changes that no completed fsync of the directory covered happened or not (all,
// none, or each at random), so new journal files and snapshots vanish, a renamed snapshot
// keeps its temporary name, removed journal files and snapshots come back. Then it runs
// the checks above, and checks that recovery cut no byte that an fdatasync had made
// durable. In 40% of the stops the child kills itself right after its 1st to 6th name
// change (--die-per-mille; the parent then waits four times longer before it stops the
// child itself), so that cuts land between a name change and the fsync of the directory
// that makes it durable. --unsafe-answer-before-fdatasync starts the child's
// engine with engine_config::unsafe_answer_before_fdatasync (answers wait for write() but
// not for fdatasync()): power-loss mode must then fail with acknowledged transfers lost,
// while the SIGKILL mode cannot see the difference.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "actors/follower.hpp"
#include "actors/storage.hpp"
#include "engine/crc32c.hpp"
#include "engine/id_map.hpp"
#include "engine/journal_format.hpp"
#include "engine/reference_ledger.hpp"
#include "engine/rules.hpp"
#include "engine/types.hpp"
#include "tools/workload.hpp"

namespace {

using namespace remit;
using clock_type = std::chrono::steady_clock;
using ctr = create_transfer_result;
using car = create_account_result;

// ---------------------------------------------------------------------------------------
// The pipe's records

enum class tag : std::uint16_t {
  transfer_ack = 1,   // id, aux = pending_id, status, timestamp, bits; debit, credit, amount
                      // as sent
  account_ack = 2,    // id, status, timestamp
  recovered = 3,      // the child's engine::recovery(): id = accounts, aux = transfers,
                      // timestamp = last LSN, status = torn bytes (clamped)
  load_started = 4,   // setup done, the load begins
  controls_ack = 5,   // id = account id, aux = change number, status
  controls_sent = 6,  // written before the call: id = account id, aux = change number,
                      // timestamp = status_flags, debit = daily_debit_max, credit =
                      // overdraft_max, amount = transfer_amount_max
  storage_step = 7,   // --power-loss: one durability_step (see step_record)
  standby_ack = 8,    // --standby: a group appended, synced and applied: timestamp = the
                      // follower's durable LSN (what a standby's Ack carries), id = the
                      // run's first LSN, aux = its group's first LSN
};

namespace bit {
constexpr std::uint16_t chained = 1u << 0;  // the event is part of a linked chain
constexpr std::uint16_t resend = 1u << 1;   // its id was sent before in this run
constexpr std::uint16_t post = 1u << 2;
constexpr std::uint16_t void_ = 1u << 3;
constexpr std::uint16_t funding = 1u << 4;
constexpr std::uint16_t last_of_batch = 1u << 5;
constexpr std::uint16_t balancing = 1u << 6;  // balancing_debit or balancing_credit
}  // namespace bit

struct wire_record {
  std::uint16_t tag;
  std::uint16_t bits;
  std::uint32_t status;
  std::uint64_t timestamp;
  u128 id;
  u128 aux;
  u128 debit;
  u128 credit;
  u128 amount;
};
static_assert(sizeof(wire_record) == 96);
static_assert(std::is_trivially_copyable_v<wire_record>);

// ---------------------------------------------------------------------------------------
// Small helpers

std::string describe(const transfer& t) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{id %s dr %s cr %s amount %s pending_id %s timeout %u ledger %u code %u "
                "flags 0x%x ts %llu}",
                to_decimal(t.id).c_str(), to_decimal(t.debit_account_id).c_str(),
                to_decimal(t.credit_account_id).c_str(), to_decimal(t.amount).c_str(),
                to_decimal(t.pending_id).c_str(), t.timeout, t.ledger, t.code, t.flags,
                static_cast<unsigned long long>(t.timestamp));
  return buf;
}

std::string describe(const account_state& s) {
  const account& a = s.a;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{id %s ledger %u flags 0x%x debits_pending %s debits_posted %s "
                "credits_pending %s credits_posted %s overdraft_max %s ts %llu}",
                to_decimal(a.id).c_str(), a.ledger, a.flags, to_decimal(a.debits_pending).c_str(),
                to_decimal(a.debits_posted).c_str(), to_decimal(a.credits_pending).c_str(),
                to_decimal(a.credits_posted).c_str(), to_decimal(s.controls.overdraft_max).c_str(),
                static_cast<unsigned long long>(a.timestamp));
  return buf;
}

std::string_view state_name(pending_state s) {
  switch (s) {
    case pending_state::none:
      return "none";
    case pending_state::pending:
      return "pending";
    case pending_state::posted:
      return "posted";
    case pending_state::voided:
      return "voided";
    case pending_state::expired:
      return "expired";
  }
  return "?";
}

std::string code_name(std::uint32_t code) {
  if (code < create_transfer_result_count)
    return std::string(name(static_cast<ctr>(code))) + " (" + std::to_string(code) + ")";
  return std::to_string(code);
}

bool write_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Power loss: the storage's durability steps in the pipe
//
// A step names its files by kind and LSN (a data directory holds nothing else) in a
// wire_record with tag storage_step: bits = durability_step::kind, status = the kind of
// `path` | the kind of `to` << 8, timestamp = size, id = the LSN of `path`, aux = the LSN of
// `to` (renamed) or the number of the copy the child kept (removing; 0: none), debit = the
// reporting thread (dir_syncing, dir_synced: an fsync of the directory covers the name
// changes reported before its own start).

enum class file_kind : std::uint8_t {
  none = 0,
  directory = 1,
  journal = 2,
  snapshot = 3,
  snapshot_temp = 4,
};

struct file_ref {
  file_kind kind = file_kind::none;
  std::uint64_t lsn = 0;
};

file_ref file_of(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string name(slash == std::string_view::npos ? path : path.substr(slash + 1));
  file_ref f;
  if (journal::parse_journal_file_name(name, f.lsn)) {
    f.kind = file_kind::journal;
  } else if (journal::parse_snapshot_file_name(name, f.lsn)) {
    f.kind = file_kind::snapshot;
  } else if (name.size() > 5 && name.front() == '.' && name.ends_with(".tmp") &&
             journal::parse_snapshot_file_name(name.substr(1, name.size() - 5), f.lsn)) {
    f.kind = file_kind::snapshot_temp;  // as write_file_atomically names it
  }
  return f;
}

std::string name_of(file_ref f) {
  switch (f.kind) {
    case file_kind::journal:
      return journal::journal_file_name(f.lsn);
    case file_kind::snapshot:
      return journal::snapshot_file_name(f.lsn);
    case file_kind::snapshot_temp:
      return "." + journal::snapshot_file_name(f.lsn) + ".tmp";
    case file_kind::none:
    case file_kind::directory:
      break;
  }
  return {};
}

// Where the child links a file that the storage is about to remove (inside the data
// directory, so on the same file system; recovery ignores folders).
constexpr std::string_view copies_dir_name = ".power-loss-copies";
std::string copy_path(const std::string& dir, std::uint64_t n) {
  return dir + "/" + std::string(copies_dir_name) + "/removed-" + std::to_string(n);
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a ^ (b * 0x9e3779b97f4a7c15ull);
  return workload::splitmix64(s);
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// Options shared by parent and child (the parent passes them on).
struct options {
  bool child = false;
  bool verify_only = false;
  std::string data_dir;
  std::uint64_t seed = 0;
  bool seed_set = false;
  std::uint64_t run = 0;
  int fd = -1;
  std::uint32_t kills = 20;
  std::uint32_t min_run_ms = 50;
  std::uint32_t max_run_ms = 400;
  std::uint32_t term_per_mille = 150;  // clean shutdowns (SIGTERM) among the stops
  std::uint32_t tear_per_mille = 300;  // SIGKILLs followed by an injected torn tail
  bool keep = false;
  std::uint32_t inflight = 6;
  std::uint32_t batch_max = 200;
  std::uint64_t accounts = 1000;
  std::uint32_t ledgers = 2;
  std::uint64_t journal_kib = 128;
  std::uint64_t snapshot_records = 200;
  std::uint32_t child_seconds = 60;
  std::uint32_t shards = 2;
  std::uint32_t threads = 2;
  bool power_loss = false;
  bool unsafe_answer_before_fdatasync = false;  // engine_config's test-only knob
  // --power-loss: stops where the child kills itself right after its Nth name change
  // (creation, rename or removal of a file), N in 1..6, so that power cuts land between a
  // name change and the fsync of the directory that makes it durable.
  std::uint32_t die_per_mille = 400;
  std::uint64_t die_after_change = 0;  // the child's: 0 never
  std::uint64_t die_in_sync = 0;       // the standby child's: 0 never (power_loss_reporter)
  // --standby: a standby's copy of a primary's journal, crashed and caught up (see
  // standby_main). standby_records is the source journal's size in records (LSNs).
  bool standby = false;
  std::uint64_t standby_records = 3000;
  // UNSAFE, for showing that --standby --power-loss has teeth: the standby child does not
  // tell the power-loss model about the follower's fdatasyncs, which the model then takes
  // for skipped (a power cut may lose everything the follower wrote since it started).
  bool unsafe_hide_follower_syncs = false;
  // The children of --standby: the source's engine (keep_removed: where to link each journal
  // file its snapshots remove) and the standby (standby_child, reading source_dir up to
  // source_last).
  std::string keep_removed;
  bool standby_child = false;
  std::string source_dir;
  std::uint64_t source_last = 0;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "remit_crash: %s\n"
               "usage: remit_crash [--kills K] [--seed S] [--data-dir D] [--min-run-ms A]\n"
               "                   [--max-run-ms B] [--keep] [--inflight N] [--batch-max N]\n"
               "                   [--accounts N] [--journal-kib N] [--snapshot-records N]\n"
               "                   [--term-per-mille N] [--tear-per-mille N] [--shards N]\n"
               "                   [--threads N] [--power-loss]\n"
               "                   [--unsafe-answer-before-fdatasync]\n"
               "       remit_crash --standby [--power-loss] [--kills K] [--seed S]\n"
               "                   [--data-dir D] [--keep] [--standby-records N]\n"
               "                   [--journal-kib N] [--accounts N] [--die-per-mille N]\n"
               "                   [--unsafe-hide-follower-syncs]\n"
               "       remit_crash --verify-only --data-dir D\n",
               why);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value after " + std::string(a)).c_str());
      return argv[++i];
    };
    const auto number = [&]() -> std::uint64_t {
      const std::string v = value();
      char* end = nullptr;
      errno = 0;
      const unsigned long long n = std::strtoull(v.c_str(), &end, 0);
      if (errno != 0 || end == v.c_str() || *end != '\0')
        usage(("not a number: " + std::string(a) + " " + v).c_str());
      return n;
    };
    const auto u32 = [&] { return static_cast<std::uint32_t>(number()); };
    if (a == "--child") {
      o.child = true;
    } else if (a == "--verify-only") {
      o.verify_only = true;
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--power-loss") {
      o.power_loss = true;
    } else if (a == "--unsafe-answer-before-fdatasync") {
      o.unsafe_answer_before_fdatasync = true;
    } else if (a == "--standby") {
      o.standby = true;
    } else if (a == "--standby-records") {
      o.standby_records = number();
    } else if (a == "--unsafe-hide-follower-syncs") {
      o.unsafe_hide_follower_syncs = true;
    } else if (a == "--standby-child") {
      o.standby_child = true;
    } else if (a == "--keep-removed-journals") {
      o.keep_removed = value();
    } else if (a == "--source-dir") {
      o.source_dir = value();
    } else if (a == "--source-last") {
      o.source_last = number();
    } else if (a == "--data-dir") {
      o.data_dir = value();
    } else if (a == "--seed") {
      o.seed = number();
      o.seed_set = true;
    } else if (a == "--run") {
      o.run = number();
    } else if (a == "--fd") {
      o.fd = static_cast<int>(number());
    } else if (a == "--accounts") {
      o.accounts = number();
    } else if (a == "--journal-kib") {
      o.journal_kib = number();
    } else if (a == "--snapshot-records") {
      o.snapshot_records = number();
    } else if (a == "--die-after-change") {
      o.die_after_change = number();
    } else if (a == "--die-in-sync") {
      o.die_in_sync = number();
    } else {
      // The 32-bit options.
      static const std::pair<std::string_view, std::uint32_t options::*> flags[] = {
          {"--kills", &options::kills},
          {"--min-run-ms", &options::min_run_ms},
          {"--max-run-ms", &options::max_run_ms},
          {"--term-per-mille", &options::term_per_mille},
          {"--tear-per-mille", &options::tear_per_mille},
          {"--die-per-mille", &options::die_per_mille},
          {"--inflight", &options::inflight},
          {"--batch-max", &options::batch_max},
          {"--ledgers", &options::ledgers},
          {"--child-seconds", &options::child_seconds},
          {"--shards", &options::shards},
          {"--threads", &options::threads},
      };
      bool known = false;
      for (const auto& [flag, member] : flags) {
        if (a != flag) continue;
        o.*member = u32();
        known = true;
        break;
      }
      if (!known) usage(("unknown argument " + std::string(a)).c_str());
    }
  }
  if (o.min_run_ms == 0 || o.max_run_ms < o.min_run_ms) usage("need 0 < min-run-ms <= max-run-ms");
  if (o.inflight == 0 || o.batch_max == 0 || o.batch_max > batch_events_max)
    usage("bad --inflight or --batch-max");
  if (o.accounts < 2ull * o.ledgers || o.ledgers == 0) usage("bad --accounts or --ledgers");
  if (o.journal_kib == 0 || o.snapshot_records == 0) usage("bad journal or snapshot size");
  if (o.shards == 0 || o.shards > 256 || o.threads == 0) usage("bad --shards or --threads");
  if (o.standby && (o.standby_records == 0 || o.unsafe_answer_before_fdatasync))
    usage("--standby needs --standby-records > 0 and an engine that answers after fdatasync");
  if (o.unsafe_hide_follower_syncs && !o.standby_child && !(o.standby && o.power_loss))
    usage("--unsafe-hide-follower-syncs needs --standby --power-loss");
  return o;
}

workload::config setup_config(const options& o) {
  workload::config c;
  c.accounts = o.accounts;
  c.ledgers = o.ledgers;
  c.kind = workload::mix::mixed;
  c.batch_events = 256;
  c.seed = o.seed;
  c.timeout_max_s = 3;  // pending transfers expire during the run and across restarts
  return c;
}

// =======================================================================================
// Child

std::atomic<bool> g_term{false};
extern "C" void on_sigterm(int) {
  g_term.store(true);
}

class pipe_writer {
 public:
  explicit pipe_writer(int fd) : fd_(fd) {}
  // One write() for the whole batch, serialized: callbacks run on several threads.
  void put(std::span<const wire_record> recs) {
    if (recs.empty()) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!write_all(fd_, recs.data(), recs.size_bytes())) {
      // The parent is gone: nothing more to report.
      ::_exit(0);
    }
  }

 private:
  int fd_;
  std::mutex mutex_;
};

[[noreturn]] void child_fail(const std::string& why) {
  std::fprintf(stderr, "remit_crash child: %s\n", why.c_str());
  std::fflush(stderr);
  ::_exit(4);
}

// --power-loss: reports every durability step of the storage to the parent synchronously,
// before the step's caller goes on, so before anything that the step made durable can be
// acknowledged. A file about to be removed is first linked into the copies folder, so that
// the parent can bring it back when its removal was not made durable.
// With `die_after_change` the child kills itself right after reporting that many name changes.
// With `die_in_sync` it kills itself at that many fdatasyncs of a file, instead of reporting
// the last one: to the parent, the power failed while that fdatasync ran (no answer it would
// have allowed was given). `hide_syncs` (--unsafe-hide-follower-syncs) leaves out every
// `synced` step, as if the storage never called fdatasync.
std::shared_ptr<storage_faults> power_loss_reporter(const std::string& dir, pipe_writer& out,
                                                    std::uint64_t die_after_change,
                                                    std::uint64_t die_in_sync = 0,
                                                    bool hide_syncs = false) {
  auto faults = std::make_shared<storage_faults>();
  auto copies = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto changes = std::make_shared<std::atomic<std::uint64_t>>(0);
  auto syncs = std::make_shared<std::atomic<std::uint64_t>>(0);
  faults->on_step = [&out, dir, copies, changes, syncs, die_after_change, die_in_sync,
                     hide_syncs](const durability_step& s) {
    using k = durability_step::kind;
    if (hide_syncs && s.what == k::synced) return;
    if (s.what == k::synced && syncs->fetch_add(1) + 1 == die_in_sync) {
      ::kill(::getpid(), SIGKILL);
      for (;;) ::pause();
    }
    const bool on_dir = s.what == k::dir_syncing || s.what == k::dir_synced;
    const file_ref from = on_dir ? file_ref{file_kind::directory, 0} : file_of(s.path);
    const file_ref to = s.what == k::renamed ? file_of(s.to) : file_ref{};
    if (from.kind == file_kind::none || (s.what == k::renamed && to.kind == file_kind::none))
      child_fail("a durability step on an unexpected file: " + std::string(s.path) + " " +
                 std::string(s.to));
    wire_record rec{};
    rec.tag = static_cast<std::uint16_t>(tag::storage_step);
    rec.bits = static_cast<std::uint16_t>(s.what);
    rec.status = static_cast<std::uint32_t>(from.kind) | static_cast<std::uint32_t>(to.kind) << 8;
    rec.timestamp = s.size;
    rec.id = from.lsn;
    rec.aux = to.lsn;
    if (s.what == k::removing) {
      const std::uint64_t n = copies->fetch_add(1) + 1;
      if (::link(std::string(s.path).c_str(), copy_path(dir, n).c_str()) == 0) rec.aux = n;
    }
    if (on_dir) rec.debit = static_cast<u128>(::gettid());
    out.put(std::span(&rec, 1));
    const bool name_change = s.what == k::created || s.what == k::renamed || s.what == k::removing;
    if (name_change && changes->fetch_add(1) + 1 == die_after_change) {
      ::kill(::getpid(), SIGKILL);
      for (;;) ::pause();
    }
  };
  return faults;
}

// --standby's source: the engine builds a snapshot at every roll, and the snapshot removes
// the journal files it covers. A hard link to each journal file, made just before its
// removal, keeps the whole journal from LSN 1 (standby_main gathers them).
std::shared_ptr<storage_faults> removed_journal_keeper(const std::string& keep_dir) {
  auto faults = std::make_shared<storage_faults>();
  faults->on_step = [keep_dir](const durability_step& s) {
    if (s.what != durability_step::kind::removing) return;
    const file_ref f = file_of(s.path);
    if (f.kind != file_kind::journal) return;
    const std::string from(s.path);
    const std::string to = keep_dir + "/" + name_of(f);
    if (::link(from.c_str(), to.c_str()) != 0)
      child_fail("link " + from + " to " + to + ": " + std::strerror(errno));
  };
  return faults;
}

// A call answered through a future, retried while the engine says overloaded.
template <class Call>
engine_reply call_until_ok(Call&& call, const char* what) {
  for (int attempt = 0;; ++attempt) {
    auto f = call();
    if (f.wait_for(std::chrono::seconds(120)) != std::future_status::ready)
      child_fail(std::string(what) + ": no reply within 120 s");
    engine_reply r = f.get();
    if (r.status == engine_status::ok) return r;
    if (r.status != engine_status::overloaded || attempt > 1000)
      child_fail(std::string(what) + ": status " + std::string(name(r.status)));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int child_main(const options& o) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGTERM, on_sigterm);
  if (o.fd < 0) child_fail("--fd is required");
  pipe_writer out(o.fd);

  engine_config cfg;
  cfg.data_dir = o.data_dir;
  cfg.durability = true;
  cfg.shards = o.shards;
  cfg.threads = o.threads;
  cfg.journal_file_size_max = o.journal_kib << 10;
  cfg.snapshot_every_records = o.snapshot_records;
  cfg.expiry_interval_ms = 50;
  cfg.unsafe_answer_before_fdatasync = o.unsafe_answer_before_fdatasync;
  if (o.power_loss) cfg.faults = power_loss_reporter(o.data_dir, out, o.die_after_change);
  if (!o.keep_removed.empty()) {
    if (o.power_loss) child_fail("--keep-removed-journals does not go with --power-loss");
    cfg.faults = removed_journal_keeper(o.keep_removed);
  }
  std::unique_ptr<remit::engine> eng;
  try {
    eng = std::make_unique<remit::engine>(cfg);
  } catch (const std::exception& e) {
    child_fail(std::string("engine did not start: ") + e.what());
  }
  {
    const auto& r = eng->recovery();
    wire_record rec{};
    rec.tag = static_cast<std::uint16_t>(tag::recovered);
    rec.id = r.accounts;
    rec.aux = r.transfers;
    rec.timestamp = r.last_lsn;
    rec.status = static_cast<std::uint32_t>(std::min<std::uint64_t>(r.torn_bytes, UINT32_MAX));
    out.put(std::span(&rec, 1));
  }

  // Setup: the same accounts and funding transfers on every run (same seed, same ids), so
  // they are created once and answered `exists` afterwards.
  workload::generator setup(setup_config(o));
  std::vector<account> accounts;
  std::vector<wire_record> recs;
  while (setup.next_account_batch(accounts)) {
    engine_reply r = call_until_ok([&] { return eng->create_accounts(accounts); }, "accounts");
    if (r.results.size() != accounts.size()) child_fail("account reply has the wrong size");
    recs.clear();
    for (std::size_t i = 0; i < accounts.size(); ++i) {
      wire_record rec{};
      rec.tag = static_cast<std::uint16_t>(tag::account_ack);
      rec.id = accounts[i].id;
      rec.status = r.results[i].status;
      rec.timestamp = r.results[i].timestamp;
      recs.push_back(rec);
    }
    out.put(recs);
  }
  std::vector<transfer> batch;
  while (setup.next_funding_batch(batch)) {
    engine_reply r = call_until_ok([&] { return eng->create_transfers(batch); }, "funding");
    if (r.results.size() != batch.size()) child_fail("funding reply has the wrong size");
    recs.clear();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      wire_record rec{};
      rec.tag = static_cast<std::uint16_t>(tag::transfer_ack);
      rec.bits = bit::funding;
      rec.id = batch[i].id;
      rec.debit = batch[i].debit_account_id;
      rec.credit = batch[i].credit_account_id;
      rec.amount = batch[i].amount;
      rec.status = r.results[i].status;
      rec.timestamp = r.results[i].timestamp;
      recs.push_back(rec);
    }
    out.put(recs);
  }
  {
    wire_record rec{};
    rec.tag = static_cast<std::uint16_t>(tag::load_started);
    out.put(std::span(&rec, 1));
  }

  // Load: a fresh stream per run; its ids moved up by (run + 1) * 2^40.
  workload::config lc = setup_config(o);
  lc.seed = mix_seed(o.seed, o.run + 1);
  workload::generator load(lc);
  workload::xoshiro256 rng(mix_seed(o.seed, 1000003 + o.run));
  const u128 offset = u128{o.run + 1} << 40;
  u128 max_raw_id = 0;

  std::mutex mutex;
  std::condition_variable cv;
  std::uint32_t inflight = 0;
  std::uint64_t batches = 0;
  const auto deadline = clock_type::now() + std::chrono::seconds(o.child_seconds);
  std::vector<account_controls> controls;
  std::uint64_t controls_changes = 0;

  while (!g_term.load() && clock_type::now() < deadline) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return inflight < o.inflight; });
      if (inflight >= o.inflight) continue;
      ++inflight;
    }
    ++batches;
    const auto done = [&] {
      std::lock_guard<std::mutex> lock(mutex);
      --inflight;
      cv.notify_all();
    };
    if (batches % 20 == 0) {
      // A few controls changes: caps and freezes; never an overdraft, so that the bound
      // check of the verification stays exact. Each is numbered and reported before the
      // call, so that the parent knows which changes may be decided after which.
      load.next_controls_batch(controls, 1 + rng.below(8));
      auto sent = std::make_shared<std::vector<wire_record>>(controls.size());
      for (std::size_t i = 0; i < controls.size(); ++i) {
        account_controls& c = controls[i];
        c.overdraft_max = 0;
        wire_record& m = (*sent)[i];
        m = wire_record{};
        m.tag = static_cast<std::uint16_t>(tag::controls_sent);
        m.id = c.account_id;
        m.aux = (u128{o.run + 1} << 32) + ++controls_changes;
        m.timestamp = c.status_flags;
        m.debit = c.daily_debit_max;
        m.credit = c.overdraft_max;
        m.amount = c.transfer_amount_max;
      }
      out.put(*sent);
      eng->set_account_controls(controls, [&out, sent, done](engine_reply&& r) {
        if (r.status == engine_status::ok) {
          if (r.results.size() != sent->size()) child_fail("controls reply has the wrong size");
          std::vector<wire_record> v(*sent);
          for (std::size_t i = 0; i < v.size(); ++i) {
            v[i].tag = static_cast<std::uint16_t>(tag::controls_ack);
            v[i].status = r.results[i].status;
          }
          out.put(v);
        }
        done();
      });
      continue;
    }
    const std::size_t n = 1 + static_cast<std::size_t>(rng.below(o.batch_max));
    load.next_transfer_batch(batch, n);
    auto meta = std::make_shared<std::vector<wire_record>>(n);
    for (std::size_t i = 0; i < n; ++i) {
      transfer& t = batch[i];
      wire_record& m = (*meta)[i];
      m = wire_record{};
      m.tag = static_cast<std::uint16_t>(tag::transfer_ack);
      if (t.id > max_raw_id) {
        max_raw_id = t.id;
      } else {
        m.bits |= bit::resend;
      }
      t.id += offset;
      if (t.pending_id != 0) t.pending_id += offset;
      if ((t.flags & transfer_flags::linked) ||
          (i > 0 && (batch[i - 1].flags & transfer_flags::linked)))
        m.bits |= bit::chained;
      if (t.flags & transfer_flags::post_pending_transfer) m.bits |= bit::post;
      if (t.flags & transfer_flags::void_pending_transfer) m.bits |= bit::void_;
      if (t.flags & (transfer_flags::balancing_debit | transfer_flags::balancing_credit))
        m.bits |= bit::balancing;
      if (i + 1 == n) m.bits |= bit::last_of_batch;
      m.id = t.id;
      m.aux = t.pending_id;
      m.debit = t.debit_account_id;
      m.credit = t.credit_account_id;
      m.amount = t.amount;
    }
    eng->create_transfers(batch, [&out, meta, done](engine_reply&& r) {
      if (r.status == engine_status::ok) {
        if (r.results.size() != meta->size())
          child_fail("transfer reply has " + std::to_string(r.results.size()) + " results for " +
                     std::to_string(meta->size()) + " events");
        for (std::size_t i = 0; i < meta->size(); ++i) {
          (*meta)[i].status = r.results[i].status;
          (*meta)[i].timestamp = r.results[i].timestamp;
        }
        out.put(*meta);
      }
      done();
    });
  }
  // SIGTERM or the time bound: a clean shutdown (every call in flight is answered, then
  // the final snapshot).
  eng->shutdown();
  eng.reset();
  return 0;
}

// --standby: a standby that catches up from the source journal (a primary's, read back
// with storage::read_groups from the LSN after what the follower holds, as a primary does
// for FOLLOW's start LSN) and reports each acknowledged LSN. It exits once it holds the whole
// source.
int standby_child_main(const options& o) {
  ::signal(SIGPIPE, SIG_IGN);
  if (o.fd < 0) child_fail("--fd is required");
  if (o.source_dir.empty() || o.source_last == 0) child_fail("--source-dir and --source-last");
  pipe_writer out(o.fd);
  actors::follower_config cfg;
  cfg.dir = o.data_dir;
  cfg.file_size_max = o.journal_kib << 10;
  if (o.power_loss)
    cfg.faults = power_loss_reporter(o.data_dir, out, o.die_after_change, o.die_in_sync,
                                     o.unsafe_hide_follower_syncs);
  actors::journal_follower follower(cfg);
  std::string why;
  if (!follower.open(why)) child_fail("the follower did not open: " + why);
  {
    wire_record rec{};
    rec.tag = static_cast<std::uint16_t>(tag::recovered);
    rec.timestamp = follower.durable_lsn();
    out.put(std::span(&rec, 1));
    rec = wire_record{};
    rec.tag = static_cast<std::uint16_t>(tag::load_started);
    out.put(std::span(&rec, 1));
  }
  const std::uint64_t from = follower.durable_lsn() + 1;
  if (from > o.source_last) return 0;
  const storage::read_result r = storage::read_groups(
      o.source_dir, from, o.source_last,
      [&](std::span<const std::byte> records, std::uint64_t first, std::uint64_t last,
          std::uint64_t group_lsn) {
        std::string append_why;
        const auto res = follower.append_group(records, first, last, append_why);
        if (res != actors::journal_follower::outcome::ok)
          child_fail("append_group of LSNs " + std::to_string(first) + ".." + std::to_string(last) +
                     " (group " + std::to_string(group_lsn) + ") failed: " + append_why);
        // Acknowledged: written, synced and applied.
        wire_record rec{};
        rec.tag = static_cast<std::uint16_t>(tag::standby_ack);
        rec.timestamp = follower.durable_lsn();
        rec.id = first;
        rec.aux = group_lsn;
        out.put(std::span(&rec, 1));
      },
      why);
  if (r != storage::read_result::ok) child_fail("reading the source journal: " + why);
  if (follower.durable_lsn() != o.source_last)
    child_fail("caught up to LSN " + std::to_string(follower.durable_lsn()) + ", not " +
               std::to_string(o.source_last));
  follower.close();
  return 0;
}

// =======================================================================================
// Parent: verification

// The parent recovers the data directory in-process; if the reference ledger's replay hits
// an assertion (the journal holds decisions that cannot be replayed, so the engine could
// not restart from it either), say so before dying.
char g_abort_context[2048];
extern "C" void on_parent_abort(int) {
  const std::size_t n = ::strnlen(g_abort_context, sizeof g_abort_context);
  if (n > 0) {
    const ssize_t w = ::write(2, g_abort_context, n);
    (void)w;
  }
  ::_exit(1);
}
void set_abort_context(const std::string& s) {
  std::snprintf(g_abort_context, sizeof g_abort_context, "%s", s.c_str());
}

// One SET_ACCOUNT_CONTROLS event as the child sent it, and its answer if one came.
struct controls_change {
  u128 account = 0;
  u128 number = 0;  // (run + 1) << 32 | the change's number in its run
  controls_state values;
  std::uint64_t sent_at = 0;            // position of its controls_sent record in the pipes
  std::uint64_t acked_at = UINT64_MAX;  // of its controls_ack, if it came
  std::uint32_t status = UINT32_MAX;    // its result code, if it came
};

struct ack_set {
  std::vector<wire_record> transfers;
  std::vector<wire_record> accounts;
  std::vector<wire_record> controls;
  std::uint64_t ok = 0, exists = 0, failed = 0;
  std::uint64_t load_ok = 0;   // transfers of the load (not funding) acknowledged ok
  std::uint64_t position = 0;  // records taken from the pipes so far, over every run
  std::vector<controls_change> changes;
  std::map<u128, std::size_t> change_index;  // by number

  void take_controls(const wire_record& r) {
    if (static_cast<tag>(r.tag) == tag::controls_sent) {
      controls_change c;
      c.account = r.id;
      c.number = r.aux;
      c.values.status_flags = static_cast<std::uint32_t>(r.timestamp);
      c.values.daily_debit_max = r.debit;
      c.values.overdraft_max = r.credit;
      c.values.transfer_amount_max = r.amount;
      c.sent_at = position;
      change_index[c.number] = changes.size();
      changes.push_back(c);
      return;
    }
    controls.push_back(r);
    const auto it = change_index.find(r.aux);
    if (it == change_index.end()) return;  // verify_dir reports it
    changes[it->second].acked_at = position;
    changes[it->second].status = r.status;
  }
};

// What an earlier verification saw, to check that nothing recovered is lost later.
struct seen_transfer {
  std::uint64_t timestamp;
  pending_state state;
  std::uint32_t crc;  // of the stored transfer
};

struct previous_state {
  bool valid = false;
  std::uint64_t last_lsn = 0;
  std::uint64_t last_timestamp = 0;
  std::uint64_t accounts = 0;
  std::uint64_t transfers = 0;
  std::uint64_t failures = 0;
  id_map<seen_transfer> transfer_map;
  id_map<std::uint64_t> account_ts;
  id_map<std::uint32_t> failure_map;
};

struct verify_result {
  bool ok = true;
  std::vector<std::string> errors;
  std::uint64_t accounts = 0, transfers = 0, failures = 0, last_lsn = 0, snapshot_lsn = 0;
  std::uint64_t files = 0, records = 0, torn_bytes = 0;
  double recovery_ms = 0, second_recovery_ms = 0;
  std::uint32_t digest = 0;
  std::size_t digest_bytes = 0;

  void fail(std::string s) {
    ok = false;
    if (errors.size() < 50) errors.push_back(std::move(s));
    if (errors.size() == 50) errors.push_back("(more violations not shown)");
  }
};

struct stored_ref {
  transfer t;
  pending_state state;
  std::uint64_t expires;
  sent_fields sent;
};

// After a clean shutdown (SIGTERM) every call in flight was answered, and the child wrote
// each answer before it exited: every transfer of that run's id range must have been
// acknowledged ok in that run.
struct clean_run {
  u128 lo = 0, hi = 0;  // [lo, hi): the run's transfer ids
  id_map<std::uint8_t> acked_ok;
};

// An acknowledged `ok` or `exists` transfer is stored with the accounts and the amount it
// was sent with: a plain or pending transfer as sent (a balancing one may move less), a post
// or a void on its pending transfer's accounts (those it names, if it names any), moving
// the amount it asked for (a post of 0 and a void: the pending amount).
template <class Find>
void check_stored_as_sent(const wire_record& a, const stored_ref& s, const std::string& what,
                          const Find& find_transfer, verify_result& v) {
  const transfer& t = s.t;
  const std::string sent = " (sent: debit " + to_decimal(a.debit) + ", credit " +
                           to_decimal(a.credit) + ", amount " + to_decimal(a.amount) + ")";
  if (s.sent.amount != a.amount)
    v.fail(what + " is stored as sent with amount " + to_decimal(s.sent.amount) + sent + ": " +
           describe(t));
  if (a.bits & (bit::post | bit::void_)) {
    if ((a.debit != 0 && t.debit_account_id != a.debit) ||
        (a.credit != 0 && t.credit_account_id != a.credit))
      v.fail(what + " is stored with other accounts" + sent + ": " + describe(t));
    const stored_ref* p = find_transfer(a.aux);
    if (p == nullptr) return;  // reported by the caller
    const u128 want = (a.bits & bit::void_) || a.amount == 0 ? p->t.amount : a.amount;
    if (t.amount != want)
      v.fail(what + " moved " + to_decimal(t.amount) + ", not " + to_decimal(want) + sent +
             ", of its pending transfer " + describe(p->t));
    return;
  }
  if (t.debit_account_id != a.debit || t.credit_account_id != a.credit)
    v.fail(what + " is stored with other accounts" + sent + ": " + describe(t));
  const bool clamped = (a.bits & bit::balancing) && t.amount < a.amount;
  if (t.amount != a.amount && !clamped)
    v.fail(what + " is stored with amount " + to_decimal(t.amount) + sent + ": " + describe(t));
}

std::string describe(const controls_state& c) {
  return "{overdraft_max " + to_decimal(c.overdraft_max) + " transfer_amount_max " +
         to_decimal(c.transfer_amount_max) + " daily_debit_max " + to_decimal(c.daily_debit_max) +
         " status_flags " + std::to_string(c.status_flags) + "}";
}

bool same_controls(const controls_state& a, const controls_state& b) {
  return a.overdraft_max == b.overdraft_max && a.transfer_amount_max == b.transfer_amount_max &&
         a.daily_debit_max == b.daily_debit_max && a.status_flags == b.status_flags;
}

// Every controls change acknowledged ok is in its account's recovered controls, unless a
// change that may have been decided after it is there instead: any change not known to have
// failed, other than those acknowledged before it was sent (those were decided before it).
// A change sent but never answered may have been decided, and made durable, all the same.
void check_controls(const ack_set& acks, const id_map<std::uint32_t>& account_index,
                    const std::vector<const account_state*>& accounts, verify_result& v) {
  constexpr auto ok = static_cast<std::uint32_t>(set_controls_result::ok);
  std::map<u128, std::vector<const controls_change*>> by_account;
  for (const controls_change& c : acks.changes) by_account[c.account].push_back(&c);
  for (const wire_record& r : acks.controls)
    if (!acks.change_index.contains(r.aux))
      v.fail("controls answer for change " + to_decimal(r.aux) + " that was never sent");
  std::size_t bad = 0;
  for (const auto& [id, list] : by_account) {
    const std::uint32_t* i = account_index.find(id);
    for (const controls_change* x : list) {
      if (x->status != ok) continue;
      const std::string what = "controls change " + to_decimal(x->number >> 32) + "." +
                               to_decimal(x->number & 0xffffffffu) + " of account " +
                               to_decimal(id) + ", acknowledged ok, " + describe(x->values);
      if (i == nullptr) {
        if (++bad <= 10) v.fail(what + ": the account is lost");
        continue;
      }
      const controls_state& got = accounts[*i]->controls;
      bool explained = same_controls(x->values, got);
      for (const controls_change* y : list) {
        if (explained) break;
        if (y == x || (y->status != UINT32_MAX && y->status != ok)) continue;
        if (y->acked_at < x->sent_at) continue;  // decided before x was sent
        explained = same_controls(y->values, got);
      }
      if (!explained && ++bad <= 10)
        v.fail(what + " is not in the recovered controls " + describe(got) +
               ", and no change that may have been decided after it has them");
    }
  }
}

verify_result verify_dir(const std::string& dir, const ack_set* acks, previous_state* prev,
                         const std::string& when, const clean_run* clean = nullptr) {
  set_abort_context("remit_crash: FAIL: recovering " + dir + " (" + when +
                    ") hit the assertion above: the journal holds decisions that cannot be "
                    "replayed, so the engine cannot restart from this directory either; it "
                    "is kept for inspection\n");
  verify_result v;
  reference_ledger ledger;
  storage::recovery_report rep;
  std::string why;
  auto t0 = clock_type::now();
  if (!storage::recover(dir, ledger, rep, why)) {
    v.fail("recovery failed: " + why);
    return v;
  }
  v.recovery_ms = ms_since(t0);
  v.accounts = ledger.account_count();
  v.transfers = ledger.transfer_count();
  v.last_lsn = rep.last_lsn;
  v.snapshot_lsn = rep.snapshot_lsn;
  v.files = rep.files;
  v.records = rep.records;
  v.torn_bytes = rep.torn_bytes;

  // (4) A second recovery of the same directory gives the same bytes.
  std::vector<std::byte> digest1, digest2;
  ledger.write_snapshot(digest1, rep.last_lsn);
  {
    reference_ledger again;
    storage::recovery_report rep2;
    t0 = clock_type::now();
    if (!storage::recover(dir, again, rep2, why)) {
      v.fail("second recovery failed: " + why);
      return v;
    }
    v.second_recovery_ms = ms_since(t0);
    again.write_snapshot(digest2, rep2.last_lsn);
    if (rep2.torn_bytes != 0)
      v.fail("second recovery found a torn tail again (" + std::to_string(rep2.torn_bytes) +
             " bytes in " + rep2.torn_file + ") after the first cut it");
    if (rep2.last_lsn != rep.last_lsn)
      v.fail("second recovery ends at LSN " + std::to_string(rep2.last_lsn) + ", first at " +
             std::to_string(rep.last_lsn));
  }
  if (digest1 != digest2) {
    std::size_t at = 0;
    while (at < std::min(digest1.size(), digest2.size()) && digest1[at] == digest2[at]) ++at;
    v.fail("second recovery differs: snapshots of " + std::to_string(digest1.size()) + " and " +
           std::to_string(digest2.size()) + " bytes, first difference at byte " +
           std::to_string(at));
  }
  v.digest = crc32c(digest1.data(), digest1.size());
  v.digest_bytes = digest1.size();

  // Index the recovered state.
  id_map<std::uint32_t> account_index;
  std::vector<const account_state*> accounts;
  ledger.for_each_account([&](const account_state& s) {
    account_index.insert(s.a.id, static_cast<std::uint32_t>(accounts.size()));
    accounts.push_back(&s);
  });
  id_map<std::uint32_t> transfer_index;
  std::vector<stored_ref> transfers;
  transfers.reserve(ledger.transfer_count());
  ledger.for_each_transfer(
      [&](const transfer& t, const sent_fields& sent, std::uint64_t expires, pending_state st) {
        if (!transfer_index.insert(t.id, static_cast<std::uint32_t>(transfers.size())))
          v.fail("transfer " + to_decimal(t.id) + " is stored twice");
        transfers.push_back(stored_ref{t, st, expires, sent});
      });
  id_map<std::uint32_t> failures;
  ledger.for_each_failure([&](u128 id, ctr code) {
    failures.insert(id, static_cast<std::uint32_t>(code));
    ++v.failures;
  });
  const auto find_transfer = [&](u128 id) -> const stored_ref* {
    const std::uint32_t* i = transfer_index.find(id);
    return i ? &transfers[*i] : nullptr;
  };

  // (2) Money is conserved per ledger; (3) bounds; balances equal the sums of transfers.
  struct sums {
    u128 dp = 0, dP = 0, cp = 0, cP = 0;
  };
  std::map<std::uint32_t, sums> per_ledger;
  std::vector<sums> expect(accounts.size());
  for (const account_state* s : accounts) {
    sums& l = per_ledger[s->a.ledger];
    l.dp += s->a.debits_pending;
    l.dP += s->a.debits_posted;
    l.cp += s->a.credits_pending;
    l.cP += s->a.credits_posted;
    const u128 overdraft = s->controls.overdraft_max;
    if (s->a.flags & account_flags::debits_must_not_exceed_credits) {
      const u128 debits = s->a.debits_pending + s->a.debits_posted;
      if (debits > add_saturating(s->a.credits_posted, overdraft))
        v.fail("account breaks debits_must_not_exceed_credits: " + describe(*s));
    }
    if (s->a.flags & account_flags::credits_must_not_exceed_debits) {
      const u128 credits = s->a.credits_pending + s->a.credits_posted;
      if (credits > add_saturating(s->a.debits_posted, overdraft))
        v.fail("account breaks credits_must_not_exceed_debits: " + describe(*s));
    }
  }
  for (const auto& [l, s] : per_ledger) {
    if (s.dP != s.cP)
      v.fail("ledger " + std::to_string(l) + ": debits_posted " + to_decimal(s.dP) +
             " != credits_posted " + to_decimal(s.cP));
    if (s.dp != s.cp)
      v.fail("ledger " + std::to_string(l) + ": debits_pending " + to_decimal(s.dp) +
             " != credits_pending " + to_decimal(s.cp));
  }
  // Every post or void against its pending transfer; balances from the transfers.
  id_map<std::uint32_t> resolved_by;  // pending id -> index of its post or void
  std::vector<std::uint64_t> timestamps;
  timestamps.reserve(transfers.size() + accounts.size());
  for (const account_state* s : accounts) timestamps.push_back(s->a.timestamp);
  for (std::size_t i = 0; i < transfers.size(); ++i) {
    const stored_ref& r = transfers[i];
    const transfer& t = r.t;
    timestamps.push_back(t.timestamp);
    const std::uint32_t* dr = account_index.find(t.debit_account_id);
    const std::uint32_t* cr = account_index.find(t.credit_account_id);
    if (!dr || !cr) {
      v.fail("transfer names an account that does not exist: " + describe(t));
      continue;
    }
    const transfer_kind kind = kind_of(t);
    switch (kind) {
      case transfer_kind::plain:
        expect[*dr].dP += t.amount;
        expect[*cr].cP += t.amount;
        if (r.state != pending_state::none)
          v.fail("plain transfer in state " + std::string(state_name(r.state)) + ": " +
                 describe(t));
        break;
      case transfer_kind::pending:
        if (r.state == pending_state::pending) {
          expect[*dr].dp += t.amount;
          expect[*cr].cp += t.amount;
        } else if (r.state == pending_state::none) {
          v.fail("pending transfer in state none: " + describe(t));
        }
        break;
      case transfer_kind::post:
      case transfer_kind::void_: {
        if (kind == transfer_kind::post) {
          expect[*dr].dP += t.amount;
          expect[*cr].cP += t.amount;
        }
        const stored_ref* p = find_transfer(t.pending_id);
        if (!p) {
          v.fail("post or void of a pending transfer that is not stored: " + describe(t));
          break;
        }
        const pending_state want =
            kind == transfer_kind::post ? pending_state::posted : pending_state::voided;
        if (kind_of(p->t) != transfer_kind::pending || p->state != want)
          v.fail("pending transfer " + describe(p->t) + " is " + std::string(state_name(p->state)) +
                 " but " + describe(t) + " resolved it");
        if (p->t.debit_account_id != t.debit_account_id ||
            p->t.credit_account_id != t.credit_account_id)
          v.fail("post or void with other accounts than its pending transfer: " + describe(t));
        if (kind == transfer_kind::post && t.amount > p->t.amount)
          v.fail("post of more than the pending amount: " + describe(t));
        if (!resolved_by.insert(t.pending_id, static_cast<std::uint32_t>(i)))
          v.fail("pending transfer " + to_decimal(t.pending_id) + " resolved twice, second by " +
                 describe(t));
        break;
      }
    }
  }
  for (const stored_ref& r : transfers) {
    if (kind_of(r.t) != transfer_kind::pending) continue;
    const bool resolved = resolved_by.contains(r.t.id);
    if ((r.state == pending_state::posted || r.state == pending_state::voided) && !resolved)
      v.fail("pending transfer is " + std::string(state_name(r.state)) +
             " but no post or void of it is stored: " + describe(r.t));
    if ((r.state == pending_state::pending || r.state == pending_state::expired) && resolved)
      v.fail("pending transfer is " + std::string(state_name(r.state)) +
             " but a post or void of it is stored: " + describe(r.t));
  }
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const account& a = accounts[i]->a;
    const sums& e = expect[i];
    if (a.debits_pending != e.dp || a.debits_posted != e.dP || a.credits_pending != e.cp ||
        a.credits_posted != e.cP)
      v.fail("account balances differ from the sums of its transfers (dp " + to_decimal(e.dp) +
             " dP " + to_decimal(e.dP) + " cp " + to_decimal(e.cp) + " cP " + to_decimal(e.cP) +
             "): " + describe(*accounts[i]));
  }
  std::sort(timestamps.begin(), timestamps.end());
  for (std::size_t i = 1; i < timestamps.size(); ++i)
    if (timestamps[i] == timestamps[i - 1]) {
      v.fail("timestamp " + std::to_string(timestamps[i]) + " is used twice");
      break;
    }
  if (!timestamps.empty() && timestamps.back() > ledger.last_timestamp())
    v.fail("a timestamp is past the recovered last_timestamp " +
           std::to_string(ledger.last_timestamp()));
  for (const stored_ref& r : transfers)
    if (failures.contains(r.t.id))
      v.fail("transfer is both stored and remembered as failed: " + describe(r.t));

  // (1) Every acknowledged result.
  if (acks) {
    for (const wire_record& a : acks->accounts) {
      if (a.status != static_cast<std::uint32_t>(car::ok) &&
          a.status != static_cast<std::uint32_t>(car::exists))
        continue;
      const std::uint32_t* i = account_index.find(a.id);
      if (!i) {
        v.fail("acknowledged account " + to_decimal(a.id) + " (" +
               std::string(name(static_cast<car>(a.status))) + ") is lost");
      } else if (accounts[*i]->a.timestamp != a.timestamp) {
        v.fail("acknowledged account " + to_decimal(a.id) + " has timestamp " +
               std::to_string(accounts[*i]->a.timestamp) + ", acknowledged " +
               std::to_string(a.timestamp));
      }
    }
    for (const wire_record& a : acks->transfers) {
      const stored_ref* s = find_transfer(a.id);
      const std::uint32_t* failed = failures.find(a.id);
      const std::string what = "acknowledged transfer " + to_decimal(a.id) + " (" +
                               code_name(a.status) + (a.bits & bit::chained ? ", in a chain" : "") +
                               (a.bits & bit::resend ? ", a resend" : "") +
                               (a.bits & bit::funding ? ", funding" : "") + ")";
      const auto must_be_present = [&](bool check_ts) {
        if (!s) {
          v.fail(what + " is lost" +
                 (failed ? ", remembered as failed with " + code_name(*failed) : std::string()));
          return false;
        }
        if (check_ts && s->t.timestamp != a.timestamp) {
          v.fail(what + " has timestamp " + std::to_string(s->t.timestamp) + ", acknowledged " +
                 std::to_string(a.timestamp) + ": " + describe(s->t));
          return false;
        }
        return true;
      };
      const auto must_be_absent = [&] {
        if (s) v.fail(what + " is stored: " + describe(s->t));
      };
      const std::uint32_t code = a.status;
      if (code == static_cast<std::uint32_t>(ctr::ok) ||
          code == static_cast<std::uint32_t>(ctr::exists)) {
        if (s) check_stored_as_sent(a, *s, what, find_transfer, v);
      }
      if (code == static_cast<std::uint32_t>(ctr::ok)) {
        if (a.timestamp == 0) v.fail(what + " has timestamp 0");
        if (must_be_present(true) && (a.bits & (bit::post | bit::void_))) {
          const stored_ref* p = find_transfer(a.aux);
          const pending_state want =
              (a.bits & bit::post) ? pending_state::posted : pending_state::voided;
          if (!p) {
            v.fail(what + ": its pending transfer " + to_decimal(a.aux) + " is lost");
          } else if (p->state != want) {
            v.fail(what + ": its pending transfer is " + std::string(state_name(p->state)) +
                   ", not " + std::string(state_name(want)) + ": " + describe(p->t));
          }
        }
      } else if (code == static_cast<std::uint32_t>(ctr::exists)) {
        must_be_present(true);
      } else if (code >= static_cast<std::uint32_t>(ctr::exists_with_different_flags) &&
                 code <= static_cast<std::uint32_t>(ctr::exists_with_different_code)) {
        must_be_present(false);
      } else if (code == static_cast<std::uint32_t>(ctr::id_already_failed)) {
        must_be_absent();
        if (!failed) v.fail(what + ": the failure it refers to is not remembered");
      } else if (is_state_failure(static_cast<ctr>(code)) && !(a.bits & bit::chained)) {
        must_be_absent();
        if (!failed) {
          v.fail(what + ": the failure is not remembered (id_already_failed after restart)");
        } else if (*failed != code) {
          v.fail(what + ": remembered with another code, " + code_name(*failed));
        }
      } else if (!(a.bits & bit::resend) &&
                 !(code == static_cast<std::uint32_t>(ctr::linked_event_chain_open) &&
                   (a.bits & bit::last_of_batch))) {
        // A fresh id that failed (in a chain, on validation, ...) is never created: no
        // other event of the load carries it (chains are never resent; only the last
        // event of a batch, which may be closed into an open chain, can be resent).
        must_be_absent();
      }
    }
  }

  if (acks) check_controls(*acks, account_index, accounts, v);

  if (clean) {
    std::size_t extra = 0;
    for (const stored_ref& r : transfers) {
      if (r.t.id < clean->lo || r.t.id >= clean->hi || clean->acked_ok.contains(r.t.id)) continue;
      if (++extra <= 10)
        v.fail("the run shut down cleanly, but transfer " + to_decimal(r.t.id) +
               " of its id range was never acknowledged ok: " + describe(r.t));
    }
  }

  // Nothing recovered before is lost or changed (a pending transfer may be resolved).
  if (prev && prev->valid) {
    if (rep.last_lsn < prev->last_lsn)
      v.fail("last LSN went back from " + std::to_string(prev->last_lsn) + " to " +
             std::to_string(rep.last_lsn));
    if (ledger.last_timestamp() < prev->last_timestamp) v.fail("last timestamp went back");
    std::size_t lost = 0;
    prev->account_ts.for_each([&](u128 id, std::uint64_t ts) {
      const std::uint32_t* i = account_index.find(id);
      if (!i || accounts[*i]->a.timestamp != ts) {
        if (++lost <= 5)
          v.fail("account " + to_decimal(id) + " recovered earlier is lost or changed");
      }
    });
    prev->transfer_map.for_each([&](u128 id, const seen_transfer& seen) {
      const stored_ref* s = find_transfer(id);
      if (!s) {
        if (++lost <= 20)
          v.fail("transfer " + to_decimal(id) + " recovered at an earlier kill is lost");
        return;
      }
      const std::uint32_t crc = crc32c(&s->t, sizeof s->t);
      if (crc != seen.crc)
        if (++lost <= 20) v.fail("transfer changed since an earlier kill: " + describe(s->t));
      if (seen.state != s->state && seen.state != pending_state::pending)
        if (++lost <= 20)
          v.fail("pending transfer went from " + std::string(state_name(seen.state)) + " to " +
                 std::string(state_name(s->state)) + ": " + describe(s->t));
    });
    prev->failure_map.for_each([&](u128 id, std::uint32_t code) {
      const std::uint32_t* f = failures.find(id);
      if (!f || *f != code)
        if (++lost <= 20) v.fail("failure of " + to_decimal(id) + " recovered earlier is lost");
    });
  }
  if (prev) {
    prev->valid = true;
    prev->last_lsn = rep.last_lsn;
    prev->last_timestamp = ledger.last_timestamp();
    prev->accounts = v.accounts;
    prev->transfers = v.transfers;
    prev->failures = v.failures;
    prev->transfer_map.clear();
    prev->transfer_map.reserve(transfers.size());
    for (const stored_ref& r : transfers)
      prev->transfer_map.insert(r.t.id,
                                seen_transfer{r.t.timestamp, r.state, crc32c(&r.t, sizeof r.t)});
    prev->account_ts.clear();
    for (const account_state* s : accounts) prev->account_ts.insert(s->a.id, s->a.timestamp);
    prev->failure_map.clear();
    failures.for_each([&](u128 id, std::uint32_t code) { prev->failure_map.insert(id, code); });
  }
  return v;
}

// =======================================================================================
// Parent: torn tails
//
// A SIGKILL never tears a write (the page cache keeps whatever write() took), so recovery's
// torn-tail path would go untested. After some kills the parent appends to the last journal
// file (or, as a restart or roll would, to a new journal-<next LSN>.rmj) a group that was
// never acknowledged (valid records, then damage), exactly what a power cut in the middle of
// a group write can leave: the records continue the LSNs, their entries are failures of ids
// no load ever uses (2^100 + n), and the damage is
// a record cut short, a zeroed range inside one record (the records after it, of the same
// group, stay whole), or garbage. Recovery must replay the whole records before the damage
// and cut everything from the damage on: exactly `expected_torn` bytes.
struct injection {
  bool done = false;
  std::string file;
  std::uint64_t records_kept = 0;  // whole records before the damage, replayed
  std::uint64_t expected_torn = 0;
  std::string kind;
};

injection inject_torn_tail(const std::string& dir, workload::xoshiro256& rng,
                           std::uint64_t& next_fake_id) {
  injection inj;
  storage::listing l;
  std::string why;
  if (!storage::list_dir(dir, l, why) || l.journals.empty()) return inj;
  const auto& [first_lsn, name] = l.journals.back();
  const std::string path = dir + "/" + name;
  std::vector<std::byte> data;
  if (!storage::read_file(path, data, why)) return inj;
  const journal::scan_result r = journal::scan(data, 0, [](const journal::record_view&) {});
  if (r.how != journal::scan_result::end::clean) return inj;  // leave a real tear alone
  const std::uint64_t lsn0 = r.records > 0 ? r.last_lsn + 1 : first_lsn;
  // Sometimes the torn group is the first of a new file, as after a restart or a roll (the
  // engine opens journal-<next LSN>.rmj and the power fails during its first write).
  const bool fresh_file = r.records > 0 && rng.below(3) == 0;
  const std::string target = fresh_file ? journal::journal_file_name(lsn0) : name;

  // The damage: 0 a record cut short, 1 a zeroed range inside a record (the group's later
  // records stay whole), 2 garbage where a record would start, 3 the group's first page
  // lost (zeros in its first record) while its later pages, with whole records, were
  // written.
  const std::uint64_t mode = rng.below(4);
  const std::uint64_t n = mode == 3 ? rng.between(2, 4) : rng.between(1, 4);
  std::vector<std::byte> group;
  std::vector<std::uint64_t> starts;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::vector<std::byte> payload;
    const std::uint64_t entries = rng.between(1, 40);
    for (std::uint64_t e = 0; e < entries; ++e) {
      journal::failure_entry f{};
      f.id = (u128{1} << 100) + next_fake_id++;
      f.code = static_cast<std::uint32_t>(ctr::exceeds_credits);
      const std::size_t at = payload.size();
      payload.resize(at + sizeof f);
      std::memcpy(payload.data() + at, &f, sizeof f);
    }
    starts.push_back(group.size());
    journal::append_record(group, journal::record_type::failures, lsn0 + i, lsn0, payload);
  }
  const std::uint64_t victim = mode == 3 ? 0 : rng.below(n);
  const std::uint64_t victim_start = starts[victim];
  const std::uint64_t victim_end = victim + 1 < n ? starts[victim + 1] : group.size();
  if (mode == 0) {
    // Cut short inside the victim record (header or payload).
    const std::uint64_t keep = victim_start + rng.between(1, victim_end - victim_start - 1);
    group.resize(keep);
    inj.kind = "record cut short";
  } else if (mode == 1 || mode == 3) {
    // A zeroed range inside the victim; the group's later records stay whole.
    const std::uint64_t from = victim_start + rng.below(victim_end - victim_start);
    const std::uint64_t len = rng.between(1, std::min<std::uint64_t>(64, victim_end - from));
    bool changed = false;
    for (std::uint64_t i = from; i < from + len; ++i) {
      changed |= group[i] != std::byte{0};
      group[i] = std::byte{0};
    }
    if (!changed) group[victim_start] = std::byte{0xff};  // the magic's first byte
    inj.kind = mode == 3 ? "first page of the group lost" : "zeroed range inside a record";
  } else {
    // Garbage where the victim would have started.
    group.resize(victim_start);
    const std::uint64_t len = rng.between(1, 300);
    for (std::uint64_t i = 0; i < len; ++i) group.push_back(static_cast<std::byte>(rng.below(256)));
    inj.kind = "garbage";
  }
  inj.records_kept = victim;
  inj.expected_torn = group.size() - victim_start;
  const std::string target_path = dir + "/" + target;
  const int fd = fresh_file
                     ? ::open(target_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)
                     : ::open(target_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return inj;
  const bool ok = write_all(fd, group.data(), group.size());
  ::close(fd);
  if (!ok) return inj;
  inj.done = true;
  inj.file = target + (fresh_file ? " (a new file)" : "");
  return inj;
}

// =======================================================================================
// Parent: power loss
//
// A SIGKILL keeps the page cache: it cannot tell an answer given after write() from one
// given after fdatasync(). With --power-loss the child reports every durability step of the
// storage (power_loss_reporter) before the step's caller goes on, and after each stop the
// parent rewrites the directory to a state that a power cut at that moment could leave:
//   - a file keeps the bytes that a completed fdatasync or fsync covered; of the rest (the
//     group being written) a random prefix survives: none, some, all, now and then with a
//     damaged range (zeros or garbage) or with lost 512-byte sectors (zeros);
//   - a name change (creation, rename, removal) that no completed fsync of the directory
//     covered happened or not: all of them, none, or each at random. So a new file vanishes,
//     a renamed snapshot keeps its temporary name, a removed file comes back (from the link
//     the child made just before removing it);
//   - a file the child created but did not report yet vanishes.
// The directory as the next child finds it is durable as a whole (the parent's own
// recovery is not subject to power cuts).
class power_loss_model {
 public:
  struct outcome {
    std::uint64_t files = 0;           // in the directory after the cut
    std::uint64_t vanished = 0;        // unreported files, and files whose creation was undone
    std::uint64_t changes = 0;         // name changes that no fsync of the directory covered
    std::uint64_t undone = 0;          // of those, undone by the cut
    std::uint64_t unsynced_bytes = 0;  // past the last fsync of their file
    std::uint64_t lost_bytes = 0;      // of those, lost
    std::uint64_t damaged = 0;         // files whose surviving unsynced bytes were damaged
    std::map<std::string, std::uint64_t> durable_journal_bytes;  // by file name
  };

  explicit power_loss_model(std::string dir) : dir_(std::move(dir)) {}

  // Before a child starts: everything in the directory is durable; no copies are kept.
  bool start(std::string& why) {
    files_.clear();
    durable_.clear();
    current_.clear();
    pending_.clear();
    syncing_.clear();
    std::error_code ec;
    const std::string copies = dir_ + "/" + std::string(copies_dir_name);
    std::filesystem::remove_all(copies, ec);
    std::filesystem::create_directories(copies, ec);
    if (ec) {
      why = "create " + copies + ": " + ec.message();
      return false;
    }
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      if (!e.is_regular_file()) continue;
      const std::string name = e.path().filename().string();
      if (file_of(name).kind == file_kind::none) continue;  // the harness's own files
      durable_[name] = current_[name] = files_.size();
      files_.push_back(file{name, {}, e.file_size()});
    }
    if (ec) why = "list " + dir_ + ": " + ec.message();
    return !ec;
  }

  // One reported step, in the order of the pipe.
  bool apply(const wire_record& r, std::string& why) {
    using k = durability_step::kind;
    const auto what = static_cast<k>(r.bits);
    const file_ref from{static_cast<file_kind>(r.status & 0xff), static_cast<std::uint64_t>(r.id)};
    const std::string name = name_of(from);
    if (what == k::dir_syncing) {
      syncing_[r.debit] = next_seq_;
      return true;
    }
    if (what == k::dir_synced) {
      const auto it = syncing_.find(r.debit);
      const std::uint64_t covered = it == syncing_.end() ? 0 : it->second;
      if (it != syncing_.end()) syncing_.erase(it);
      while (!pending_.empty() && pending_.front().seq < covered) {
        replay(durable_, pending_.front());
        pending_.pop_front();
      }
      return true;
    }
    const auto it = current_.find(name);
    if (what == k::created) {
      if (it != current_.end()) {
        // Emptied (O_TRUNC): the model keeps no older contents, so it must have had none.
        if (files_[it->second].synced != 0) {
          why = "the storage emptied " + name + ", which held " +
                std::to_string(files_[it->second].synced) +
                " durable bytes, without an fsync: a power cut may bring them back";
          return false;
        }
        return true;
      }
      current_[name] = files_.size();
      files_.push_back(file{name, {}, 0});
      pending_.push_back(change{change::kind::create, name, {}, files_.size() - 1, next_seq_++});
      return true;
    }
    if (it == current_.end()) {
      why = "a durability step (" + std::to_string(r.bits) + ") on " + name +
            ", which the model does not know";
      return false;
    }
    const std::size_t f = it->second;
    switch (what) {
      case k::synced:
        files_[f].synced = std::max(files_[f].synced, r.timestamp);
        break;
      case k::truncated:
        files_[f].synced = r.timestamp;
        break;
      case k::renamed: {
        const std::string to = name_of(file_ref{static_cast<file_kind>((r.status >> 8) & 0xff),
                                                static_cast<std::uint64_t>(r.aux)});
        if (current_.contains(to)) {
          why = "the storage renamed " + name + " onto the existing " + to;
          return false;
        }
        current_.erase(it);
        current_[to] = f;
        files_[f].name = to;
        pending_.push_back(change{change::kind::rename, name, to, f, next_seq_++});
        break;
      }
      case k::removing:
        current_.erase(it);
        files_[f].name.clear();
        if (r.aux != 0) files_[f].copy = copy_path(dir_, static_cast<std::uint64_t>(r.aux));
        pending_.push_back(change{change::kind::remove, name, {}, f, next_seq_++});
        break;
      default:
        why = "unknown durability step " + std::to_string(r.bits);
        return false;
    }
    return true;
  }

  // Rewrites the directory as a power cut now could leave it.
  bool cut_power(workload::xoshiro256& rng, outcome& out, std::string& why) {
    out = outcome{};
    std::map<std::string, std::size_t> names = durable_;
    const std::uint64_t mode = rng.below(3);  // 0: no pending change happened, 1: each at
                                              // random, 2: all
    for (const change& c : pending_) {
      ++out.changes;
      if (mode == 2 || (mode == 1 && rng.below(2) == 0)) {
        replay(names, c);
      } else {
        ++out.undone;
      }
    }
    std::vector<std::pair<std::string, std::vector<std::byte>>> contents;
    for (const auto& [name, f] : names) {
      std::vector<std::byte> bytes;
      if (!read_contents(files_[f], bytes)) {
        if (files_[f].synced != 0) {
          why = "the bytes of " + name + " (" + std::to_string(files_[f].synced) +
                " durable) are gone from the directory";
          return false;
        }
        bytes.clear();
      }
      // A cut that the model did not hear of (truncated, then killed before the report)
      // leaves the file shorter than its synced size: the cut was durable.
      const std::uint64_t durable = std::min<std::uint64_t>(files_[f].synced, bytes.size());
      const std::uint64_t before = bytes.size();
      out.unsynced_bytes += before - durable;
      if (tear(bytes, durable, rng)) ++out.damaged;
      out.lost_bytes += before - bytes.size();
      if (file_of(name).kind == file_kind::journal) out.durable_journal_bytes[name] = durable;
      contents.emplace_back(name, std::move(bytes));
    }
    // Rewrite: every file of the data directory goes, then what survived is written.
    std::error_code ec;
    std::vector<std::string> present;
    for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
      const std::string name = e.path().filename().string();
      if (e.is_regular_file() && file_of(name).kind != file_kind::none) present.push_back(name);
    }
    for (const std::string& name : present) {
      if (!names.contains(name)) ++out.vanished;
      std::filesystem::remove(dir_ + "/" + name, ec);
    }
    for (const auto& [name, bytes] : contents) {
      const std::string path = dir_ + "/" + name;
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      const bool ok = fd >= 0 && write_all(fd, bytes.data(), bytes.size());
      if (fd >= 0) ::close(fd);
      if (!ok) {
        why = "write " + path + ": " + std::strerror(errno);
        return false;
      }
    }
    std::filesystem::remove_all(dir_ + "/" + std::string(copies_dir_name), ec);
    out.files = contents.size();
    return true;
  }

 private:
  struct file {
    std::string name;  // in the directory now; empty once removed
    std::string copy;  // the link the child made before removing it, if any
    std::uint64_t synced = 0;
  };
  struct change {
    enum class kind : std::uint8_t { create, rename, remove } what;
    std::string name, to;
    std::size_t file;
    std::uint64_t seq;
  };

  // Applies one name change to a namespace, if it still applies there (a rename or removal
  // of a file whose creation or earlier rename did not happen does not).
  static void replay(std::map<std::string, std::size_t>& names, const change& c) {
    if (c.what == change::kind::create) {
      names[c.name] = c.file;
      return;
    }
    const auto it = names.find(c.name);
    if (it == names.end() || it->second != c.file) return;
    names.erase(it);
    if (c.what == change::kind::rename) names[c.to] = c.file;
  }

  bool read_contents(const file& f, std::vector<std::byte>& bytes) const {
    std::string why;
    if (!f.name.empty() && storage::read_file(dir_ + "/" + f.name, bytes, why)) return true;
    if (!f.copy.empty() && storage::read_file(f.copy, bytes, why)) return true;
    // Renamed, then killed before the report: the bytes are under the new name.
    const file_ref r = file_of(f.name);
    return r.kind == file_kind::snapshot_temp &&
           storage::read_file(dir_ + "/" + name_of(file_ref{file_kind::snapshot, r.lsn}), bytes,
                              why);
  }

  // What survives of the bytes past `durable`: none, a random prefix, all; or a prefix with
  // a damaged range (zeros or garbage); or all of it with some 512-byte sectors lost.
  // Bytes before `durable` are never touched (sector writes are atomic). True if damaged.
  static bool tear(std::vector<std::byte>& bytes, std::uint64_t durable,
                   workload::xoshiro256& rng) {
    const std::uint64_t tail = bytes.size() - durable;
    if (tail == 0) return false;
    const std::uint64_t r = rng.below(100);
    if (r < 30) {
      bytes.resize(durable);
    } else if (r < 60) {
      bytes.resize(durable + rng.below(tail + 1));
    } else if (r < 72) {
      // all of it survives
    } else if (r < 88) {
      const std::uint64_t kept = rng.between(1, tail);
      bytes.resize(durable + kept);
      const std::uint64_t from = durable + rng.below(kept);
      const std::uint64_t len = rng.between(1, std::min<std::uint64_t>(bytes.size() - from, 4096));
      const bool zeros = rng.below(2) == 0;
      for (std::uint64_t i = from; i < from + len; ++i)
        bytes[i] = zeros ? std::byte{0} : static_cast<std::byte>(rng.below(256));
      return true;
    } else {
      bool lost = false;
      for (std::uint64_t sector = durable / 512; sector * 512 < bytes.size(); ++sector) {
        if (rng.below(2) != 0) continue;
        lost = true;
        const std::uint64_t end = std::min<std::uint64_t>((sector + 1) * 512, bytes.size());
        for (std::uint64_t i = std::max(durable, sector * 512); i < end; ++i)
          bytes[i] = std::byte{0};
      }
      return lost;
    }
    return false;
  }

  std::string dir_;
  std::vector<file> files_;
  std::map<std::string, std::size_t> durable_;  // names a directory fsync made durable
  std::map<std::string, std::size_t> current_;  // names as the child left them
  std::deque<change> pending_;                  // name changes not yet durable, in order
  std::uint64_t next_seq_ = 0;
  std::map<u128, std::uint64_t> syncing_;  // thread -> first change its fsync does not cover
};

// =======================================================================================
// Parent: running children

struct child_outcome {
  enum class stop { sigkill, sigterm, exited } how = stop::sigkill;
  bool reached_load = false;
  bool abnormal = false;
  std::string abnormal_why;
  double ran_ms = 0;
  double load_ms = 0;
  std::size_t records = 0;
  std::size_t partial_bytes = 0;
  std::optional<wire_record> recovered;
  std::uint64_t died_after_change = 0;  // killed itself right after that many name changes
  std::vector<wire_record> steps;       // --power-loss: the storage's durability steps, in order
};

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    std::perror("readlink /proc/self/exe");
    std::exit(2);
  }
  buf[n] = '\0';
  return buf;
}

child_outcome run_child(const options& o, const std::string& exe, std::uint64_t run,
                        workload::xoshiro256& rng, ack_set& acks) {
  child_outcome out;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::exit(2);
  }
  // How this child stops: SIGKILL at a random time after it started (during recovery and
  // setup) or after its load started, or now and then SIGTERM (a clean shutdown).
  const std::uint64_t r = rng.below(1000);
  const bool from_start = r < 200;
  const bool term = !from_start && rng.below(1000) < o.term_per_mille;
  std::uint64_t after_ms =
      from_start ? rng.between(1, o.max_run_ms) : rng.between(o.min_run_ms, o.max_run_ms);
  const std::uint64_t die_after =
      o.power_loss && rng.below(1000) < o.die_per_mille ? rng.between(1, 6) : 0;
  if (die_after != 0) after_ms *= 4;  // name changes come only at rolls: give it time

  std::vector<std::string> args = {exe,
                                   "--child",
                                   "--data-dir",
                                   o.data_dir,
                                   "--seed",
                                   std::to_string(o.seed),
                                   "--run",
                                   std::to_string(run),
                                   "--fd",
                                   std::to_string(fds[1]),
                                   "--inflight",
                                   std::to_string(o.inflight),
                                   "--batch-max",
                                   std::to_string(o.batch_max),
                                   "--accounts",
                                   std::to_string(o.accounts),
                                   "--ledgers",
                                   std::to_string(o.ledgers),
                                   "--journal-kib",
                                   std::to_string(o.journal_kib),
                                   "--snapshot-records",
                                   std::to_string(o.snapshot_records),
                                   "--child-seconds",
                                   std::to_string(o.child_seconds),
                                   "--shards",
                                   std::to_string(o.shards),
                                   "--threads",
                                   std::to_string(o.threads)};
  if (o.power_loss) args.emplace_back("--power-loss");
  if (die_after != 0) {
    args.emplace_back("--die-after-change");
    args.push_back(std::to_string(die_after));
  }
  if (o.unsafe_answer_before_fdatasync) args.emplace_back("--unsafe-answer-before-fdatasync");
  if (!o.keep_removed.empty()) {
    args.emplace_back("--keep-removed-journals");
    args.push_back(o.keep_removed);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const auto t_start = clock_type::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    ::fcntl(fds[1], F_SETFD, 0);  // the write end survives exec
    ::execv(exe.c_str(), argv.data());
    std::perror("execv");
    ::_exit(127);
  }
  ::close(fds[1]);
  const int fd = fds[0];

  std::vector<unsigned char> buf;
  std::size_t used = 0;
  bool eof = false;
  std::optional<clock_type::time_point> t_load;
  const auto take = [&]() {
    const std::size_t whole = used / sizeof(wire_record);
    for (std::size_t i = 0; i < whole; ++i) {
      wire_record rec;
      std::memcpy(&rec, buf.data() + i * sizeof rec, sizeof rec);
      ++out.records;
      ++acks.position;
      switch (static_cast<tag>(rec.tag)) {
        case tag::transfer_ack:
          acks.transfers.push_back(rec);
          if (rec.status == 0 && !(rec.bits & bit::funding)) ++acks.load_ok;
          if (rec.status == 0)
            ++acks.ok;
          else if (rec.status == static_cast<std::uint32_t>(ctr::exists))
            ++acks.exists;
          else
            ++acks.failed;
          break;
        case tag::account_ack:
          acks.accounts.push_back(rec);
          break;
        case tag::controls_sent:
        case tag::controls_ack:
          acks.take_controls(rec);
          break;
        case tag::storage_step:
          out.steps.push_back(rec);
          break;
        case tag::recovered:
          out.recovered = rec;
          break;
        case tag::load_started:
          out.reached_load = true;
          t_load = clock_type::now();
          break;
        default:
          out.abnormal = true;
          out.abnormal_why = "unknown record tag " + std::to_string(rec.tag) + " in the pipe";
      }
    }
    const std::size_t consumed = whole * sizeof(wire_record);
    std::memmove(buf.data(), buf.data() + consumed, used - consumed);
    used -= consumed;
  };
  const auto read_some = [&](int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      std::perror("poll");
      std::exit(2);
    }
    if (n <= 0) return;
    if (buf.size() < used + (1u << 20)) buf.resize(used + (1u << 20));
    const ssize_t got = ::read(fd, buf.data() + used, buf.size() - used);
    if (got < 0 && errno != EINTR && errno != EAGAIN) {
      std::perror("read");
      std::exit(2);
    }
    if (got == 0) eof = true;
    if (got > 0) {
      used += static_cast<std::size_t>(got);
      take();
    }
  };

  // Run until the stop time (or the child ends by itself).
  constexpr double load_wait_max_ms = 120'000;
  for (;;) {
    if (eof) break;
    const double since_start = ms_since(t_start);
    double remaining;
    if (from_start) {
      remaining = static_cast<double>(after_ms) - since_start;
    } else if (t_load) {
      remaining = static_cast<double>(after_ms) - ms_since(*t_load);
    } else {
      if (since_start > load_wait_max_ms) {
        out.abnormal = true;
        out.abnormal_why = "the child did not start its load within 120 s";
        break;
      }
      remaining = 50;
    }
    if (remaining <= 0 && (from_start || t_load)) break;
    read_some(static_cast<int>(std::max(1.0, std::min(remaining, 50.0))));
  }
  out.ran_ms = ms_since(t_start);
  out.load_ms = t_load ? ms_since(*t_load) : 0;
  if (!eof) {
    if (term && !out.abnormal) {
      out.how = child_outcome::stop::sigterm;
      ::kill(pid, SIGTERM);
      // A clean shutdown answers every call in flight and writes a snapshot.
      const auto t_term = clock_type::now();
      while (!eof && ms_since(t_term) < 60'000) read_some(50);
      if (!eof) {
        out.abnormal = true;
        out.abnormal_why = "the child did not shut down within 60 s of SIGTERM";
        ::kill(pid, SIGKILL);
      }
    } else {
      out.how = child_outcome::stop::sigkill;
      ::kill(pid, SIGKILL);
    }
  } else {
    out.how = child_outcome::stop::exited;
  }
  while (!eof) read_some(1000);  // drain: the write end closes when the child is gone
  out.partial_bytes = used;
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (die_after != 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
      out.how != child_outcome::stop::sigkill) {
    out.how = child_outcome::stop::sigkill;  // it killed itself after a name change
    out.died_after_change = die_after;
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
    out.abnormal = true;
    out.abnormal_why = "the child died of signal " + std::to_string(WTERMSIG(status)) + " (" +
                       strsignal(WTERMSIG(status)) + ")";
  } else if (WIFSIGNALED(status) && out.how != child_outcome::stop::sigkill) {
    if (!out.abnormal) {
      out.abnormal = true;
      out.abnormal_why = "the child was killed by SIGKILL that the harness did not send";
    }
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    out.abnormal = true;
    out.abnormal_why = "the child exited with status " + std::to_string(WEXITSTATUS(status)) +
                       " (see its messages above)";
  } else if (WIFEXITED(status) && out.how == child_outcome::stop::exited &&
             out.ran_ms < 1000.0 * o.child_seconds) {
    out.abnormal = true;
    out.abnormal_why = "the child exited by itself before its time bound";
  }
  return out;
}

// Temporary files of snapshot builds that a kill interrupted (".snapshot-<LSN>.rms.tmp").
// Nothing in the ledger depends on them, so they are reported, not counted as violations.
struct leftovers {
  std::uint64_t files = 0, bytes = 0;
};
leftovers snapshot_temp_files(const std::string& dir) {
  leftovers l;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (n.starts_with(".snapshot-") && n.ends_with(".tmp")) {
      ++l.files;
      l.bytes += e.file_size(ec);
    }
  }
  return l;
}

void print_errors(const verify_result& v) {
  for (const auto& e : v.errors) std::fprintf(stderr, "  VIOLATION: %s\n", e.c_str());
}

// =======================================================================================
// Standby mode (--standby)
//
// The same crashes for a standby's copy of the journal (actors/follower.hpp,
// docs/CLUSTER.md "Journal shipping"). First a source journal: the durable engine runs as
// the children above do (the same load and checks, SIGKILL only) in <dir>/primary, with
// small journal files, until it holds --standby-records records; every journal file its
// snapshots remove is kept (removed_journal_keeper), so that <dir>/source gathers the whole
// journal from LSN 1, which must replay to the state the primary's own recovery finds. The
// parent reads it back with storage::read_groups.
//
// Then each child is a standby on <dir>/standby: it opens a journal_follower (with the
// power-loss reporter as its faults in --power-loss mode, small files so that it rolls),
// reads the source with read_groups from its durable LSN + 1 (the first run starts there,
// in the middle of a group if need be, as a primary starts at FOLLOW's start LSN), appends
// each run, and after each append_group that returns ok writes the follower's durable LSN to
// the pipe: what is in the pipe was acknowledged, as a standby's Ack is. The parent stops it
// with SIGKILL at a seeded random point: 20% of the stops at a random time from its start
// (in recovery or before it took a group), the rest 0 to 3 ms after it acknowledged a random
// number of LSNs (up to twice the remaining source's share per stop), so that the kill lands
// anywhere in the next group's handling. With --power-loss, of those, the child kills
// itself right after its 1st to 6th name change in 40% (--die-per-mille; it then gets four
// times as far), so that cuts land between the creation of a journal file and the fsync of
// the directory, and in its Nth fdatasync in half of the rest (N up to twice the remaining
// groups' share): it dies before it reports that fdatasync, so to the model the power failed
// while it ran. The directory is then rewritten as a power cut could leave it
// (power_loss_model); without --power-loss the page cache survives the kill, as in the
// SIGKILL mode above (no torn tails are injected: the journal must stay the source's). Then
// the parent checks, in-process:
//   1. a journal_follower opens the directory without error (recovery cuts only a torn tail,
//      and no byte that an fdatasync had made durable);
//   2. its durable_lsn() is at least every LSN acknowledged so far (in every run), and at
//      least what the previous check found;
//   3. its state equals the source's at that LSN: the write_snapshot bytes of the follower's
//      state and of a reference ledger replayed from the source up to the same LSN;
//   4. its journal, read back with read_groups, is byte for byte the source's records up to
//      that LSN (group LSNs included);
//   5. a second recovery of the directory finds no torn tail, the same LSN and the same
//      state; the child's own follower recovered the LSN the parent found before it.
// The next child catches up from there. After the last stop one more child runs until it
// holds the whole source and exits (checked the same way, power cut included): the standby
// then holds every record of the source. The source is kept in the data directory and
// reused by later invocations on it (file standby-source-lsn).

struct source_journal {
  std::string dir;
  std::uint64_t last_lsn = 0;
  std::vector<std::byte> bytes;          // records 1..last_lsn, byte for byte
  std::vector<std::uint64_t> end;        // end[l]: the offset in `bytes` after record l; end[0] = 0
  std::vector<std::uint64_t> run_first;  // the first LSN of each run of read_groups
  std::uint64_t runs = 0, groups = 0, files = 0;
};

// The state as sorted entries (what write_snapshot holds, in an order of its own), to
// compare two ledgers that reached one LSN along different paths: the primary's newest
// snapshot and the records after it, or the whole journal. Their write_snapshot bytes may
// list the transfers and failures in different orders.
std::vector<std::byte> canonical_state(const reference_ledger& l) {
  std::vector<std::byte> out;
  const auto put = [&out](const auto& v) {
    const std::size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
  };
  const auto sorted = [&out](std::vector<std::vector<std::byte>>& entries) {
    std::sort(entries.begin(), entries.end());
    for (const auto& e : entries) out.insert(out.end(), e.begin(), e.end());
  };
  put(l.last_timestamp());
  put(l.account_count());
  put(l.transfer_count());
  for (const term_start& t : l.term_history()) {
    put(t.term);
    put(t.first_lsn);
  }
  std::vector<std::vector<std::byte>> entries;
  std::vector<std::byte>* e = nullptr;
  const auto put_e = [&e](const auto& v) {
    const std::size_t at = e->size();
    e->resize(at + sizeof v);
    std::memcpy(e->data() + at, &v, sizeof v);
  };
  l.for_each_account([&](const account_state& s) {
    e = &entries.emplace_back();
    put_e(s.a);
    put_e(s.controls.overdraft_max);
    put_e(s.controls.transfer_amount_max);
    put_e(s.controls.daily_debit_max);
    put_e(s.controls.status_flags);
    put_e(s.daily_debited);
    put_e(s.daily_day);
  });
  sorted(entries);
  entries.clear();
  l.for_each_transfer(
      [&](const transfer& t, const sent_fields& sent, std::uint64_t expires, pending_state st) {
        e = &entries.emplace_back();
        put_e(t);
        put_e(sent.amount);
        put_e(sent.zero_mask);
        put_e(expires);
        put_e(static_cast<std::uint8_t>(st));
      });
  sorted(entries);
  entries.clear();
  l.for_each_failure([&](u128 id, ctr code) {
    e = &entries.emplace_back();
    put_e(id);
    put_e(static_cast<std::uint32_t>(code));
  });
  sorted(entries);
  return out;
}

bool build_source(const options& o, const std::string& exe, source_journal& src, std::string& why) {
  const std::string primary = o.data_dir + "/primary";
  const std::string kept = o.data_dir + "/primary-removed";
  const std::string marker = o.data_dir + "/standby-source-lsn";
  src.dir = o.data_dir + "/source";
  std::uint64_t last = 0;
  if (FILE* f = std::fopen(marker.c_str(), "r")) {
    unsigned long long n = 0;
    if (std::fscanf(f, "%llu", &n) == 1) last = n;
    std::fclose(f);
  }
  std::error_code ec;
  if (last == 0) {
    // A new source, and a standby that holds nothing.
    for (const std::string& d : {primary, kept, src.dir, o.data_dir + "/standby"})
      std::filesystem::remove_all(d, ec);
    for (const std::string& d : {primary, kept, src.dir}) {
      std::filesystem::create_directories(d, ec);
      if (ec) {
        why = "create " + d + ": " + ec.message();
        return false;
      }
    }
    options p = o;
    p.data_dir = primary;
    p.keep_removed = kept;
    p.power_loss = false;
    p.term_per_mille = 0;  // a clean shutdown's snapshot would only remove files too
    p.min_run_ms = 500;
    p.max_run_ms = 1500;
    workload::xoshiro256 rng(mix_seed(o.seed, 79));
    ack_set acks;
    previous_state prev;
    verify_result v;
    for (std::uint64_t run = 0; v.last_lsn < o.standby_records; ++run) {
      if (run == 200) {
        why = "the primary holds only " + std::to_string(v.last_lsn) + " records after " +
              std::to_string(run) + " runs";
        return false;
      }
      const child_outcome c = run_child(p, exe, run, rng, acks);
      if (c.abnormal) {
        why = "source run " + std::to_string(run) + ": " + c.abnormal_why;
        return false;
      }
      v = verify_dir(primary, &acks, &prev, "source run " + std::to_string(run));
      std::printf(
          "source run %llu: SIGKILL after %.0f ms; %zu transfer results acknowledged in all; "
          "LSN %llu (snapshot %llu, %llu files) %s\n",
          static_cast<unsigned long long>(run), c.ran_ms, acks.transfers.size(),
          static_cast<unsigned long long>(v.last_lsn),
          static_cast<unsigned long long>(v.snapshot_lsn), static_cast<unsigned long long>(v.files),
          v.ok ? "ok" : "VIOLATION");
      std::fflush(stdout);
      if (!v.ok) {
        print_errors(v);
        why = "the primary's directory breaks the rules above (source run " + std::to_string(run) +
              ")";
        return false;
      }
    }
    // Gather every journal file: those the snapshots removed, then those still there.
    std::map<std::uint64_t, std::string> files;  // first LSN -> path
    for (const std::string& d : {kept, primary}) {
      storage::listing l;
      if (!storage::list_dir(d, l, why)) return false;
      for (const auto& [lsn, name] : l.journals) files[lsn] = d + "/" + name;
    }
    for (const auto& [lsn, path] : files) {
      const std::string to = src.dir + "/" + journal::journal_file_name(lsn);
      std::filesystem::copy_file(path, to, ec);
      if (ec) {
        why = "copy " + path + " to " + to + ": " + ec.message();
        return false;
      }
    }
    // The whole journal replays to what the primary's own recovery finds (its newest
    // snapshot and the files after it).
    reference_ledger whole, own;
    storage::recovery_report rw, ro;
    if (!storage::recover(src.dir, whole, rw, why)) {
      why = "the gathered journal does not recover: " + why;
      return false;
    }
    if (!storage::recover(primary, own, ro, why)) return false;
    if (rw.snapshot_lsn != 0 || rw.torn_bytes != 0 || rw.last_lsn != ro.last_lsn ||
        canonical_state(whole) != canonical_state(own)) {
      why = "the gathered journal (LSN " + std::to_string(rw.last_lsn) + ", torn " +
            std::to_string(rw.torn_bytes) + " B) does not replay to the primary's state (LSN " +
            std::to_string(ro.last_lsn) + ", snapshot " + std::to_string(ro.snapshot_lsn) + ")";
      return false;
    }
    last = rw.last_lsn;
    if (FILE* f = std::fopen(marker.c_str(), "w")) {
      std::fprintf(f, "%llu\n", static_cast<unsigned long long>(last));
      std::fclose(f);
    }
  }
  src.last_lsn = last;
  src.end.assign(1, 0);
  const storage::read_result r = storage::read_groups(
      src.dir, 1, last,
      [&](std::span<const std::byte> records, std::uint64_t first, std::uint64_t last_lsn,
          std::uint64_t group_lsn) {
        ++src.runs;
        src.run_first.push_back(first);
        if (first == group_lsn) ++src.groups;
        const std::uint64_t base = src.bytes.size();
        src.bytes.insert(src.bytes.end(), records.begin(), records.end());
        for (std::size_t off = 0; off < records.size();) {
          journal::record_header h;
          std::memcpy(&h, records.data() + off, sizeof h);
          off += journal::header_size + h.length;
          src.end.push_back(base + off);
        }
        (void)last_lsn;
      },
      why);
  if (r != storage::read_result::ok) {
    why = "reading the source back: " + why;
    return false;
  }
  if (src.end.size() != last + 1) {
    why = "the source read back holds " + std::to_string(src.end.size() - 1) + " records, not " +
          std::to_string(last);
    return false;
  }
  storage::listing l;
  if (!storage::list_dir(src.dir, l, why)) return false;
  src.files = l.journals.size();
  return true;
}

// The source's state at an LSN, replayed forward as the standby's checks need it.
struct source_state {
  reference_ledger ledger;
  std::uint64_t lsn = 0;

  void advance(const source_journal& src, std::uint64_t to) {
    if (to < lsn) {
      ledger = reference_ledger{};
      lsn = 0;
    }
    if (to == lsn) return;
    const std::span<const std::byte> records(src.bytes.data() + src.end[lsn],
                                             src.end[to] - src.end[lsn]);
    journal::scan(records, lsn + 1, [&](const journal::record_view& v) { ledger.replay(v); });
    lsn = to;
  }
};

struct standby_check {
  bool ok = true;
  std::vector<std::string> errors;
  std::uint64_t durable = 0;
  std::uint64_t files = 0;
  double open_ms = 0;

  void fail(std::string s) {
    ok = false;
    if (errors.size() < 50) errors.push_back(std::move(s));
  }
};

std::size_t first_difference(std::span<const std::byte> a, std::span<const std::byte> b) {
  std::size_t at = 0;
  while (at < std::min(a.size(), b.size()) && a[at] == b[at]) ++at;
  return at;
}

standby_check verify_standby(const options& o, const std::string& dir, const source_journal& src,
                             source_state& ref, std::uint64_t acked_max, std::uint64_t held_before,
                             const std::string& when) {
  set_abort_context("remit_crash: FAIL: recovering the standby " + dir + " (" + when +
                    ") hit the assertion above; the directory is kept for inspection\n");
  standby_check v;
  std::string why;
  std::vector<std::byte> got;
  {
    actors::follower_config cfg;
    cfg.dir = dir;
    cfg.file_size_max = o.journal_kib << 10;
    actors::journal_follower follower(cfg);
    const auto t0 = clock_type::now();
    if (!follower.open(why)) {
      v.fail("recovery failed: the standby's journal_follower does not open: " + why);
      return v;
    }
    v.open_ms = ms_since(t0);
    v.durable = follower.durable_lsn();
    follower.state().write_snapshot(got, v.durable);
  }
  const std::uint64_t d = v.durable;
  if (d < acked_max)
    v.fail("acknowledged LSN " + std::to_string(acked_max) +
           " is lost: the standby recovered up to LSN " + std::to_string(d));
  if (d < held_before)
    v.fail("the standby held LSN " + std::to_string(held_before) +
           " at the previous check, now only " + std::to_string(d));
  if (d > src.last_lsn) {
    v.fail("the standby holds LSN " + std::to_string(d) + ", past the source's last, " +
           std::to_string(src.last_lsn));
    return v;
  }
  // (3) The state is the source's at the same LSN.
  ref.advance(src, d);
  std::vector<std::byte> want;
  ref.ledger.write_snapshot(want, d);
  if (got != want)
    v.fail("the standby's state at LSN " + std::to_string(d) +
           " differs from the source's: snapshots of " + std::to_string(got.size()) + " and " +
           std::to_string(want.size()) + " bytes, first difference at byte " +
           std::to_string(first_difference(got, want)));
  // (4) The journal is the source's prefix, byte for byte.
  std::vector<std::byte> journal_bytes;
  const storage::read_result r = storage::read_groups(
      dir, 1, d,
      [&](std::span<const std::byte> records, std::uint64_t, std::uint64_t, std::uint64_t) {
        journal_bytes.insert(journal_bytes.end(), records.begin(), records.end());
      },
      why);
  const std::span<const std::byte> prefix(src.bytes.data(), src.end[d]);
  if (r != storage::read_result::ok) {
    v.fail("the standby's journal does not read back up to LSN " + std::to_string(d) + ": " + why);
  } else if (!std::equal(journal_bytes.begin(), journal_bytes.end(), prefix.begin(),
                         prefix.end())) {
    const std::size_t at = first_difference(journal_bytes, prefix);
    const std::uint64_t lsn = static_cast<std::uint64_t>(
        std::upper_bound(src.end.begin(), src.end.end(), at) - src.end.begin());
    v.fail("the standby's journal (" + std::to_string(journal_bytes.size()) + " bytes up to LSN " +
           std::to_string(d) + ") differs from the source's (" + std::to_string(prefix.size()) +
           " bytes) at byte " + std::to_string(at) + ", in the record of LSN " +
           std::to_string(lsn));
  }
  // (5) A second recovery finds what the first left.
  reference_ledger again;
  storage::recovery_report rep;
  if (!storage::recover(dir, again, rep, why)) {
    v.fail("second recovery failed: " + why);
    return v;
  }
  std::vector<std::byte> again_bytes;
  again.write_snapshot(again_bytes, rep.last_lsn);
  if (rep.torn_bytes != 0)
    v.fail("second recovery found a torn tail again (" + std::to_string(rep.torn_bytes) +
           " bytes in " + rep.torn_file + ") after the first cut it");
  if (rep.last_lsn != d || again_bytes != got)
    v.fail("second recovery ends at LSN " + std::to_string(rep.last_lsn) + " with " +
           std::to_string(again_bytes.size()) + " bytes of state, the first at " +
           std::to_string(d) + " with " + std::to_string(got.size()));
  if (rep.snapshot_lsn != 0) v.fail("the standby's directory holds a snapshot: " + rep.snapshot);
  storage::listing l;
  if (storage::list_dir(dir, l, why)) v.files = l.journals.size();
  return v;
}

struct standby_outcome {
  enum class stop { sigkill, exited } how = stop::sigkill;
  bool abnormal = false;
  std::string abnormal_why;
  bool from_start = false;  // stopped at a time counted from its start
  bool caught_up = false;   // reached its catch-up (opened the follower)
  double ran_ms = 0;
  double startup_ms = 0;  // until it started its catch-up
  std::optional<std::uint64_t> recovered;
  std::uint64_t acks = 0;
  std::uint64_t last_acked = 0;  // the last LSN it acknowledged (the LSN it held if none)
  std::uint64_t target = 0;      // the LSN after whose acknowledgement it was to be stopped
  std::uint64_t died_after_change = 0;
  std::uint64_t died_in_sync = 0;  // killed itself in its Nth fdatasync
  std::size_t partial_bytes = 0;
  std::vector<wire_record> steps;
};

standby_outcome run_standby_child(const options& o, const std::string& exe, const std::string& dir,
                                  const source_journal& src, std::uint64_t run, bool final_run,
                                  std::uint64_t held, std::uint64_t stops_left,
                                  double startup_ms_hint, workload::xoshiro256& rng) {
  standby_outcome out;
  out.last_acked = held;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("pipe2");
    std::exit(2);
  }
  // Where this child stops (none for the final run): at a time from its start, after a
  // number of LSNs acknowledged, or by itself, right after a name change or in an fdatasync.
  out.from_start = !final_run && rng.below(1000) < 200;
  std::uint64_t die_after = 0, die_in_sync = 0;
  const std::uint64_t runs_left = static_cast<std::uint64_t>(
      src.run_first.end() - std::upper_bound(src.run_first.begin(), src.run_first.end(), held));
  stops_left = std::max<std::uint64_t>(1, stops_left);
  if (!final_run && !out.from_start && o.power_loss) {
    if (rng.below(1000) < o.die_per_mille) {
      die_after = rng.between(1, 6);
    } else if (rng.below(2) == 0) {
      die_in_sync = rng.between(1, std::max<std::uint64_t>(1, 2 * runs_left / stops_left));
    }
  }
  const std::uint64_t share = std::max<std::uint64_t>(1, (src.last_lsn - held) / stops_left);
  // Short of the source's last LSN, so that the stop comes before the child is done. A child
  // that is to stop itself gets four times as far (name changes come only at rolls), or as
  // far as it goes (fdatasyncs).
  const std::uint64_t last_target = std::max<std::uint64_t>(held, src.last_lsn - 1);
  out.target =
      die_in_sync != 0
          ? last_target
          : std::min(held + rng.between(0, 2 * share) * (die_after != 0 ? 4 : 1), last_target);
  const std::uint64_t start_ms =
      rng.between(1, std::max<std::uint64_t>(2, static_cast<std::uint64_t>(2 * startup_ms_hint)));
  const std::uint64_t extra_us = rng.below(3000);

  std::vector<std::string> args = {exe,
                                   "--standby-child",
                                   "--data-dir",
                                   dir,
                                   "--source-dir",
                                   src.dir,
                                   "--source-last",
                                   std::to_string(src.last_lsn),
                                   "--fd",
                                   std::to_string(fds[1]),
                                   "--seed",
                                   std::to_string(o.seed),
                                   "--run",
                                   std::to_string(run),
                                   "--journal-kib",
                                   std::to_string(o.journal_kib)};
  if (o.power_loss) args.emplace_back("--power-loss");
  if (o.unsafe_hide_follower_syncs) args.emplace_back("--unsafe-hide-follower-syncs");
  if (die_after != 0) {
    args.emplace_back("--die-after-change");
    args.push_back(std::to_string(die_after));
  }
  if (die_in_sync != 0) {
    args.emplace_back("--die-in-sync");
    args.push_back(std::to_string(die_in_sync));
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const auto t_start = clock_type::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::exit(2);
  }
  if (pid == 0) {
    ::fcntl(fds[1], F_SETFD, 0);  // the write end survives exec
    ::execv(exe.c_str(), argv.data());
    std::perror("execv");
    ::_exit(127);
  }
  ::close(fds[1]);
  const int fd = fds[0];

  std::vector<unsigned char> buf(1u << 16);
  std::size_t used = 0;
  bool eof = false;
  std::optional<clock_type::time_point> t_catch_up;
  auto t_progress = clock_type::now();
  const auto abnormal = [&](std::string why) {
    if (out.abnormal) return;
    out.abnormal = true;
    out.abnormal_why = std::move(why);
  };
  const auto take = [&]() {
    const std::size_t whole = used / sizeof(wire_record);
    for (std::size_t i = 0; i < whole; ++i) {
      wire_record rec;
      std::memcpy(&rec, buf.data() + i * sizeof rec, sizeof rec);
      switch (static_cast<tag>(rec.tag)) {
        case tag::recovered:
          out.recovered = rec.timestamp;
          break;
        case tag::load_started:
          out.caught_up = true;
          t_catch_up = clock_type::now();
          out.startup_ms = ms_since(t_start);
          break;
        case tag::standby_ack:
          // Runs in order, each right after the last LSN acknowledged.
          if (rec.id != out.last_acked + 1 || rec.timestamp < rec.id)
            abnormal("acknowledgement of LSNs " + to_decimal(rec.id) + ".." +
                     std::to_string(rec.timestamp) + " after LSN " +
                     std::to_string(out.last_acked));
          out.last_acked = rec.timestamp;
          ++out.acks;
          t_progress = clock_type::now();
          break;
        case tag::storage_step:
          out.steps.push_back(rec);
          break;
        default:
          abnormal("unknown record tag " + std::to_string(rec.tag) + " in the pipe");
      }
    }
    const std::size_t consumed = whole * sizeof(wire_record);
    std::memmove(buf.data(), buf.data() + consumed, used - consumed);
    used -= consumed;
  };
  const auto read_some = [&](int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      std::perror("poll");
      std::exit(2);
    }
    if (n <= 0) return;
    if (buf.size() < used + (1u << 16)) buf.resize(used + (1u << 16));
    const ssize_t got = ::read(fd, buf.data() + used, buf.size() - used);
    if (got < 0 && errno != EINTR && errno != EAGAIN) {
      std::perror("read");
      std::exit(2);
    }
    if (got == 0) eof = true;
    if (got > 0) {
      used += static_cast<std::size_t>(got);
      take();
    }
  };

  constexpr double stall_max_ms = 120'000;
  for (;;) {
    if (eof || out.abnormal) break;
    if (ms_since(t_progress) > stall_max_ms) {
      abnormal("the child acknowledged nothing for 120 s");
      break;
    }
    if (!final_run && out.from_start) {
      const double remaining = static_cast<double>(start_ms) - ms_since(t_start);
      if (remaining <= 0) break;
      read_some(static_cast<int>(std::max(1.0, std::min(remaining, 50.0))));
      continue;
    }
    if (!final_run && t_catch_up && out.last_acked >= out.target) {
      std::this_thread::sleep_for(std::chrono::microseconds(extra_us));
      break;
    }
    read_some(50);
  }
  out.ran_ms = ms_since(t_start);
  if (!eof) {
    out.how = standby_outcome::stop::sigkill;
    ::kill(pid, SIGKILL);
  } else {
    out.how = standby_outcome::stop::exited;
  }
  while (!eof) read_some(1000);  // drain: the write end closes when the child is gone
  out.partial_bytes = used;
  ::close(fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if ((die_after != 0 || die_in_sync != 0) && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
      out.how != standby_outcome::stop::sigkill) {
    out.how = standby_outcome::stop::sigkill;  // it killed itself
    out.died_after_change = die_after;
    out.died_in_sync = die_in_sync;
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
    abnormal("the child died of signal " + std::to_string(WTERMSIG(status)) + " (" +
             strsignal(WTERMSIG(status)) + ")");
  } else if (WIFSIGNALED(status) && out.how != standby_outcome::stop::sigkill) {
    abnormal("the child was killed by SIGKILL that the harness did not send");
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    abnormal("the child exited with status " + std::to_string(WEXITSTATUS(status)) +
             " (see its messages above)");
  } else if (WIFEXITED(status) && out.last_acked != src.last_lsn) {
    abnormal("the child exited before it held the whole source (LSN " +
             std::to_string(out.last_acked) + " of " + std::to_string(src.last_lsn) + ")");
  }
  return out;
}

int standby_main(const options& o, bool made_dir) {
  std::printf("remit_crash: standby, %u kills%s%s, seed %llu, data dir %s\n", o.kills,
              o.power_loss ? " with power loss" : "",
              o.unsafe_hide_follower_syncs ? " (UNSAFE: the follower's syncs are hidden)" : "",
              static_cast<unsigned long long>(o.seed), o.data_dir.c_str());
  std::fflush(stdout);
  const auto fail_out = [&](const std::string& why) {
    std::fprintf(stderr, "remit_crash: FAIL: %s\n", why.c_str());
    std::fprintf(stderr, "remit_crash: seed %llu; data dir kept at %s\n",
                 static_cast<unsigned long long>(o.seed), o.data_dir.c_str());
    return 1;
  };
  const std::string exe = self_exe();
  const auto t_all = clock_type::now();
  source_journal src;
  std::string why;
  if (!build_source(o, exe, src, why)) return fail_out("source: " + why);
  const double source_s = ms_since(t_all) / 1000.0;
  std::printf(
      "source: %llu records (LSN 1..%llu) in %llu groups, %llu runs of read_groups, %llu "
      "journal files, %zu bytes; %.1f s\n",
      static_cast<unsigned long long>(src.last_lsn), static_cast<unsigned long long>(src.last_lsn),
      static_cast<unsigned long long>(src.groups), static_cast<unsigned long long>(src.runs),
      static_cast<unsigned long long>(src.files), src.bytes.size(), source_s);
  std::fflush(stdout);

  const std::string dir = o.data_dir + "/standby";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  workload::xoshiro256 rng(mix_seed(o.seed, 80));
  workload::xoshiro256 cut_rng(mix_seed(o.seed, 81));
  power_loss_model model(dir);
  source_state ref;
  // The directory as found (empty, or left by an earlier invocation on the same source).
  standby_check v = verify_standby(o, dir, src, ref, 0, 0, "before the first run");
  if (!v.ok) {
    for (const auto& e : v.errors) std::fprintf(stderr, "  VIOLATION: %s\n", e.c_str());
    return fail_out("the standby's directory does not verify before the first run");
  }
  std::uint64_t held = v.durable, acked_max = 0, acks = 0, from_start = 0, self_kills = 0;
  std::uint64_t sync_kills = 0;
  std::uint64_t cuts = 0, cut_changes = 0, cut_undone = 0, cut_unsynced = 0, cut_lost = 0;
  std::uint64_t cuts_torn = 0;  // power cuts with unsynced bytes (a group being written)
  double open_ms_max = 0, startup_hint = 20;
  for (std::uint32_t k = 1; k <= o.kills + 1; ++k) {
    const bool final_run = k > o.kills;
    if (o.power_loss && !model.start(why)) return fail_out("power-loss model: " + why);
    const standby_outcome c =
        run_standby_child(o, exe, dir, src, k, final_run, held, o.kills + 1 - k, startup_hint, rng);
    if (c.abnormal) {
      std::fprintf(stderr, "remit_crash: standby run %u: %s\n", k, c.abnormal_why.c_str());
      return fail_out("standby run " + std::to_string(k) + ": " + c.abnormal_why);
    }
    if (c.caught_up) startup_hint = c.startup_ms;
    if (c.recovered && *c.recovered != held)
      return fail_out("standby run " + std::to_string(k) + ": its follower recovered up to LSN " +
                      std::to_string(*c.recovered) + ", the parent's up to " +
                      std::to_string(held));
    acks += c.acks;
    if (c.acks > 0) acked_max = std::max(acked_max, c.last_acked);
    from_start += c.from_start ? 1 : 0;
    self_kills += c.died_after_change != 0 ? 1 : 0;
    sync_kills += c.died_in_sync != 0 ? 1 : 0;
    power_loss_model::outcome cut;
    if (o.power_loss) {
      for (const wire_record& step : c.steps)
        if (!model.apply(step, why))
          return fail_out("standby run " + std::to_string(k) + ": power-loss model: " + why);
      if (!model.cut_power(cut_rng, cut, why))
        return fail_out("standby run " + std::to_string(k) + ": power cut: " + why);
      ++cuts;
      cut_changes += cut.changes;
      cut_undone += cut.undone;
      cut_unsynced += cut.unsynced_bytes;
      cut_lost += cut.lost_bytes;
      cuts_torn += cut.unsynced_bytes > 0 ? 1 : 0;
    }
    v = verify_standby(o, dir, src, ref, acked_max, held, "after standby run " + std::to_string(k));
    for (const auto& [name, durable] : cut.durable_journal_bytes) {
      std::error_code size_ec;
      const std::uint64_t size = std::filesystem::file_size(dir + "/" + name, size_ec);
      if (size_ec || size < durable)
        v.fail("recovery cut " + name + " to " + (size_ec ? "nothing" : std::to_string(size)) +
               " bytes, below the " + std::to_string(durable) +
               " bytes that an fdatasync had made durable");
    }
    open_ms_max = std::max(open_ms_max, v.open_ms);
    const std::string how =
        c.died_after_change != 0
            ? "SIGKILL (itself, after name change " + std::to_string(c.died_after_change) + ")"
        : c.died_in_sync != 0
            ? "SIGKILL (itself, in fdatasync " + std::to_string(c.died_in_sync) + ")"
        : c.how == standby_outcome::stop::exited ? std::string("exited, caught up")
        : c.from_start                           ? std::string("SIGKILL (timed from its start)")
                       : "SIGKILL (after LSN " + std::to_string(c.target) + " was acknowledged)";
    std::printf(
        "%s %u/%u: %s after %.0f ms; held LSN %llu, acked +%llu groups up to LSN %llu (highest "
        "acked %llu); recovered LSN %llu of %llu, %llu files, in %.1f ms%s %s\n",
        final_run ? "final" : "kill", final_run ? o.kills + 1 : k, o.kills + 1, how.c_str(),
        c.ran_ms, static_cast<unsigned long long>(held), static_cast<unsigned long long>(c.acks),
        static_cast<unsigned long long>(c.last_acked), static_cast<unsigned long long>(acked_max),
        static_cast<unsigned long long>(v.durable), static_cast<unsigned long long>(src.last_lsn),
        static_cast<unsigned long long>(v.files), v.open_ms,
        o.power_loss ? ("; power cut: " + std::to_string(cut.files) + " files (" +
                        std::to_string(cut.vanished) + " vanished), " + std::to_string(cut.undone) +
                        " of " + std::to_string(cut.changes) + " name changes undone, " +
                        std::to_string(cut.lost_bytes) + " of " +
                        std::to_string(cut.unsynced_bytes) + " unsynced B lost" +
                        (cut.damaged ? ", " + std::to_string(cut.damaged) + " tails damaged"
                                     : std::string()))
                           .c_str()
                     : "",
        v.ok ? "ok" : "VIOLATION");
    std::fflush(stdout);
    if (!v.ok) {
      for (const auto& e : v.errors) std::fprintf(stderr, "  VIOLATION: %s\n", e.c_str());
      return fail_out("standby run " + std::to_string(k) +
                      ": the recovered standby breaks the rules above");
    }
    held = v.durable;
  }
  if (held != src.last_lsn)
    return fail_out("after its final catch-up the standby holds LSN " + std::to_string(held) +
                    ", not the source's last, " + std::to_string(src.last_lsn));
  if (acks == 0) return fail_out("no group was acknowledged: nothing was checked");
  std::printf(
      "remit_crash: PASS: standby, %u stops (%llu timed from the start, %llu self-kills after a "
      "name change, %llu in an fdatasync) and a final catch-up, %llu acknowledgements (highest "
      "LSN %llu) checked; %sthe standby holds the whole source, LSN %llu, %llu files; recovery "
      "max %.1f ms; %.1f s (source %.1f s); seed %llu\n",
      o.kills, static_cast<unsigned long long>(from_start),
      static_cast<unsigned long long>(self_kills), static_cast<unsigned long long>(sync_kills),
      static_cast<unsigned long long>(acks), static_cast<unsigned long long>(acked_max),
      o.power_loss
          ? (std::to_string(cuts) + " power cuts (" + std::to_string(cuts_torn) +
             " during a write, " + std::to_string(cut_undone) + " of " +
             std::to_string(cut_changes) + " name changes undone, " + std::to_string(cut_lost) +
             " of " + std::to_string(cut_unsynced) + " unsynced B lost); ")
                .c_str()
          : "",
      static_cast<unsigned long long>(held), static_cast<unsigned long long>(v.files), open_ms_max,
      ms_since(t_all) / 1000.0, source_s, static_cast<unsigned long long>(o.seed));
  if (made_dir && !o.keep) {
    std::filesystem::remove_all(o.data_dir, ec);
  } else {
    std::printf("remit_crash: data dir kept at %s\n", o.data_dir.c_str());
  }
  return 0;
}

int parent_main(options o) {
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGABRT, on_parent_abort);
  if (!o.seed_set) {
    o.seed =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
    o.seed = mix_seed(o.seed, static_cast<std::uint64_t>(::getpid()));
    o.seed &= (1ull << 48) - 1;
  }
  bool made_dir = false;
  if (o.data_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/remit-crash-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      return 2;
    }
    o.data_dir = templ;
    made_dir = true;
  }
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (o.standby) return standby_main(o, made_dir);
  // Run numbers continue across invocations on the same directory, so ids never collide.
  const std::string marker = o.data_dir + "/crash-harness-runs";
  std::uint64_t run = 0;
  if (FILE* f = std::fopen(marker.c_str(), "r")) {
    unsigned long long n = 0;
    if (std::fscanf(f, "%llu", &n) == 1) run = n;
    std::fclose(f);
  }
  const std::string exe = self_exe();
  std::printf("remit_crash: %u kills%s%s, seed %llu, data dir %s, runs of %u..%u ms\n", o.kills,
              o.power_loss ? " with power loss" : "",
              o.unsafe_answer_before_fdatasync ? " (UNSAFE: answers before fdatasync)" : "",
              static_cast<unsigned long long>(o.seed), o.data_dir.c_str(), o.min_run_ms,
              o.max_run_ms);
  std::fflush(stdout);

  workload::xoshiro256 rng(mix_seed(o.seed, 77));
  workload::xoshiro256 cut_rng(mix_seed(o.seed, 78));  // the power cuts
  power_loss_model model(o.data_dir);
  std::uint64_t cuts = 0, cut_changes = 0, cut_undone = 0, cut_unsynced = 0, cut_lost = 0;
  ack_set acks;
  previous_state prev;
  double recovery_ms_max = 0, recovery_ms_total = 0;
  std::uint64_t verifications = 0, kills_in_load = 0, terms = 0, partial_total = 0;
  std::uint64_t tears = 0, next_fake_id = 1;
  verify_result last;
  const auto fail_out = [&](const std::string& why) {
    std::fprintf(stderr, "remit_crash: FAIL: %s\n", why.c_str());
    std::fprintf(stderr, "remit_crash: seed %llu; data dir kept at %s\n",
                 static_cast<unsigned long long>(o.seed), o.data_dir.c_str());
    return 1;
  };

  // The directory as given (empty, or left by an earlier invocation) must verify.
  last = verify_dir(o.data_dir, nullptr, &prev, "before the first run");
  if (!last.ok) {
    print_errors(last);
    return fail_out("the data directory does not verify before the first run");
  }
  const auto t_all = clock_type::now();
  for (std::uint32_t k = 1; k <= o.kills; ++k, ++run) {
    if (FILE* f = std::fopen(marker.c_str(), "w")) {
      std::fprintf(f, "%llu\n", static_cast<unsigned long long>(run + 1));
      std::fclose(f);
    }
    const std::size_t acked_before = acks.transfers.size();
    std::string why;
    if (o.power_loss && !model.start(why)) return fail_out("power-loss model: " + why);
    const child_outcome c = run_child(o, exe, run, rng, acks);
    if (c.abnormal) {
      // Say what the child did, then still check what it left behind.
      std::fprintf(stderr, "remit_crash: run %llu: %s\n", static_cast<unsigned long long>(run),
                   c.abnormal_why.c_str());
      last = verify_dir(o.data_dir, &acks, &prev,
                        "after run " + std::to_string(run) + " ended abnormally");
      std::fprintf(stderr,
                   "remit_crash: the directory it left: %llu accounts, %llu transfers, LSN %llu: "
                   "%s\n",
                   static_cast<unsigned long long>(last.accounts),
                   static_cast<unsigned long long>(last.transfers),
                   static_cast<unsigned long long>(last.last_lsn),
                   last.ok ? "verifies" : "VIOLATIONS");
      print_errors(last);
      return fail_out("run " + std::to_string(run) + ": " + c.abnormal_why);
    }
    partial_total += c.partial_bytes;
    if (c.how == child_outcome::stop::sigterm) ++terms;
    if (c.reached_load) ++kills_in_load;
    // The child's engine recovered exactly what the parent recovered before it started.
    if (c.recovered) {
      const wire_record& r = *c.recovered;
      if (r.id != last.accounts || r.aux != last.transfers || r.timestamp != last.last_lsn ||
          r.status != 0)
        return fail_out("run " + std::to_string(run) + ": the engine recovered " +
                        to_decimal(r.id) + " accounts, " + to_decimal(r.aux) +
                        " transfers, up to LSN " + std::to_string(r.timestamp) + " (torn " +
                        std::to_string(r.status) + " B), but storage::recover found " +
                        std::to_string(last.accounts) + " accounts, " +
                        std::to_string(last.transfers) + " transfers, up to LSN " +
                        std::to_string(last.last_lsn));
    }
    // --power-loss: the directory as a power cut now could leave it.
    power_loss_model::outcome cut;
    if (o.power_loss) {
      for (const wire_record& step : c.steps)
        if (!model.apply(step, why))
          return fail_out("run " + std::to_string(run) + ": power-loss model: " + why);
      if (!model.cut_power(cut_rng, cut, why))
        return fail_out("run " + std::to_string(run) + ": power cut: " + why);
      ++cuts;
      cut_changes += cut.changes;
      cut_undone += cut.undone;
      cut_unsynced += cut.unsynced_bytes;
      cut_lost += cut.lost_bytes;
    }
    injection inj;
    if (c.how == child_outcome::stop::sigkill && rng.below(1000) < o.tear_per_mille)
      inj = inject_torn_tail(o.data_dir, rng, next_fake_id);
    std::unique_ptr<clean_run> clean;
    if (c.how == child_outcome::stop::sigterm) {
      clean = std::make_unique<clean_run>();
      clean->lo = u128{run + 1} << 40;
      clean->hi = u128{run + 2} << 40;
      for (std::size_t i = acked_before; i < acks.transfers.size(); ++i)
        if (acks.transfers[i].status == 0) clean->acked_ok.insert(acks.transfers[i].id, 1);
    }
    last =
        verify_dir(o.data_dir, &acks, &prev,
                   "kill " + std::to_string(k) + ", after run " + std::to_string(run), clean.get());
    if (inj.done) {
      ++tears;
      if (last.torn_bytes != inj.expected_torn)
        last.fail("torn tail injected in " + inj.file + " (" + inj.kind + ", " +
                  std::to_string(inj.records_kept) + " whole records before it): recovery cut " +
                  std::to_string(last.torn_bytes) + " bytes, expected " +
                  std::to_string(inj.expected_torn));
    }
    // Recovery cuts only bytes that no fdatasync covered.
    for (const auto& [name, durable] : cut.durable_journal_bytes) {
      std::error_code size_ec;
      const std::uint64_t size = std::filesystem::file_size(o.data_dir + "/" + name, size_ec);
      if (size_ec || size < durable)
        last.fail("recovery cut " + name + " to " + (size_ec ? "nothing" : std::to_string(size)) +
                  " bytes, below the " + std::to_string(durable) +
                  " bytes that an fdatasync had made durable");
    }
    ++verifications;
    recovery_ms_max = std::max(recovery_ms_max, last.recovery_ms);
    recovery_ms_total += last.recovery_ms;
    const std::string self_kill =
        "SIGKILL (itself, after name change " + std::to_string(c.died_after_change) + ")";
    const char* how = c.died_after_change != 0                ? self_kill.c_str()
                      : c.how == child_outcome::stop::sigkill ? "SIGKILL"
                      : c.how == child_outcome::stop::sigterm ? "SIGTERM"
                                                              : "exited";
    std::printf(
        "kill %u/%u: run %llu %s after %.0f ms (%s%.0f ms of load); acked +%zu (total %zu, "
        "ok %llu, exists %llu, failed %llu)%s; recovered %llu accounts, %llu transfers, %llu "
        "failures, LSN %llu (snapshot %llu, %llu files, %llu records, torn %llu B) in %.1f ms "
        "(again %.1f ms); digest %08x/%zu B%s%s %s\n",
        k, o.kills, static_cast<unsigned long long>(run), how, c.ran_ms,
        c.reached_load ? "" : "no load, ", c.load_ms, acks.transfers.size() - acked_before,
        acks.transfers.size(), static_cast<unsigned long long>(acks.ok),
        static_cast<unsigned long long>(acks.exists), static_cast<unsigned long long>(acks.failed),
        c.partial_bytes
            ? (", partial record of " + std::to_string(c.partial_bytes) + " B ignored").c_str()
            : "",
        static_cast<unsigned long long>(last.accounts),
        static_cast<unsigned long long>(last.transfers),
        static_cast<unsigned long long>(last.failures),
        static_cast<unsigned long long>(last.last_lsn),
        static_cast<unsigned long long>(last.snapshot_lsn),
        static_cast<unsigned long long>(last.files), static_cast<unsigned long long>(last.records),
        static_cast<unsigned long long>(last.torn_bytes), last.recovery_ms, last.second_recovery_ms,
        last.digest, last.digest_bytes,
        o.power_loss ? ("; power cut: " + std::to_string(cut.files) + " files (" +
                        std::to_string(cut.vanished) + " vanished), " + std::to_string(cut.undone) +
                        " of " + std::to_string(cut.changes) + " name changes undone, " +
                        std::to_string(cut.lost_bytes) + " of " +
                        std::to_string(cut.unsynced_bytes) + " unsynced B lost" +
                        (cut.damaged ? ", " + std::to_string(cut.damaged) + " tails damaged"
                                     : std::string()))
                           .c_str()
                     : "",
        inj.done ? ("; injected torn tail in " + inj.file + " (" + inj.kind + ", " +
                    std::to_string(inj.records_kept) + " whole records before it, " +
                    std::to_string(inj.expected_torn) + " B)")
                       .c_str()
                 : "",
        last.ok ? "ok" : "VIOLATION");
    std::fflush(stdout);
    if (!last.ok) {
      print_errors(last);
      return fail_out("kill " + std::to_string(k) + " (run " + std::to_string(run) +
                      "): the recovered state breaks the rules above");
    }
  }
  const double total_s = ms_since(t_all) / 1000.0;
  // A run that acknowledged nothing checked nothing.
  if (acks.load_ok == 0)
    return fail_out("no transfer of the load was acknowledged ok over " + std::to_string(o.kills) +
                    " stops (" + std::to_string(acks.transfers.size()) +
                    " transfer results in all): nothing was checked");
  const leftovers tmp = snapshot_temp_files(o.data_dir);
  if (tmp.files > 0)
    std::printf(
        "remit_crash: warning: %llu temporary files of interrupted snapshot builds "
        "(.snapshot-*.rms.tmp, %.1f MB) are left in the data directory; nothing "
        "removes them\n",
        static_cast<unsigned long long>(tmp.files),
        static_cast<double>(tmp.bytes) / (1024.0 * 1024.0));
  std::printf(
      "remit_crash: PASS: %u stops (%llu during load, %llu clean SIGTERM, %llu torn tails), "
      "%zu acknowledged transfer results (ok %llu, exists %llu, failed %llu), %zu account acks, "
      "%zu controls acks (%zu changes sent), %llu bytes of partial records ignored; %s"
      "final state %llu accounts, %llu "
      "transfers, %llu failures, LSN %llu; recovery mean %.1f ms, max %.1f ms; %.1f s; seed "
      "%llu\n",
      o.kills, static_cast<unsigned long long>(kills_in_load),
      static_cast<unsigned long long>(terms), static_cast<unsigned long long>(tears),
      acks.transfers.size(), static_cast<unsigned long long>(acks.ok),
      static_cast<unsigned long long>(acks.exists), static_cast<unsigned long long>(acks.failed),
      acks.accounts.size(), acks.controls.size(), acks.changes.size(),
      static_cast<unsigned long long>(partial_total),
      o.power_loss
          ? (std::to_string(cuts) + " power cuts (" + std::to_string(cut_undone) + " of " +
             std::to_string(cut_changes) + " name changes undone, " + std::to_string(cut_lost) +
             " of " + std::to_string(cut_unsynced) + " unsynced B lost); ")
                .c_str()
          : "",
      static_cast<unsigned long long>(last.accounts),
      static_cast<unsigned long long>(last.transfers),
      static_cast<unsigned long long>(last.failures),
      static_cast<unsigned long long>(last.last_lsn),
      verifications ? recovery_ms_total / static_cast<double>(verifications) : 0.0, recovery_ms_max,
      total_s, static_cast<unsigned long long>(o.seed));
  if (made_dir && !o.keep) {
    std::filesystem::remove_all(o.data_dir, ec);
  } else {
    std::printf("remit_crash: data dir kept at %s\n", o.data_dir.c_str());
  }
  return 0;
}

int verify_only_main(const options& o) {
  if (o.data_dir.empty()) usage("--verify-only needs --data-dir");
  ::signal(SIGABRT, on_parent_abort);
  const verify_result v = verify_dir(o.data_dir, nullptr, nullptr, "--verify-only");
  std::printf(
      "%s: %llu accounts, %llu transfers, %llu failures, LSN %llu (snapshot %llu, "
      "%llu files, %llu records, torn %llu B), recovery %.1f ms, digest %08x/%zu B: %s\n",
      o.data_dir.c_str(), static_cast<unsigned long long>(v.accounts),
      static_cast<unsigned long long>(v.transfers), static_cast<unsigned long long>(v.failures),
      static_cast<unsigned long long>(v.last_lsn), static_cast<unsigned long long>(v.snapshot_lsn),
      static_cast<unsigned long long>(v.files), static_cast<unsigned long long>(v.records),
      static_cast<unsigned long long>(v.torn_bytes), v.recovery_ms, v.digest, v.digest_bytes,
      v.ok ? "ok" : "VIOLATION");
  print_errors(v);
  return v.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  if (o.child) {
    if (o.data_dir.empty()) usage("--child needs --data-dir");
    return child_main(o);
  }
  if (o.standby_child) {
    if (o.data_dir.empty()) usage("--standby-child needs --data-dir");
    return standby_child_main(o);
  }
  if (o.verify_only) return verify_only_main(o);
  return parent_main(o);
}
