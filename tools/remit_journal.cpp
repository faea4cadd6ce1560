// remit-journal: inspects a data directory without changing it.
//
//   remit-journal verify DIR          checks every snapshot and journal record; exit status
//                                     0 clean, 1 torn tail (recovery cuts it), 2 damaged
//   remit-journal dump DIR [--json] [--from LSN] [--limit N]
//                                     one line per record (JSON Lines with --json)
//   remit-journal stats DIR [--json]  records by type, transfers, time span, files, and the
//                                     terms the journal's term_started records start
//
// It reads the files as they are: a torn tail is reported, never cut (the engine cuts it
// when it recovers). Exit status 3: bad usage; 4: it could not finish (the error is printed).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "actors/storage.hpp"
#include "engine/journal_format.hpp"
#include "engine/reference_ledger.hpp"

namespace {

using namespace remit;
using json = nlohmann::json;

// DIR/NAME, in one allocation (it runs once per file of the directory).
std::string file_in(const std::string& dir, const std::string& name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path += dir;
  path += '/';
  path += name;
  return path;
}

struct walk_summary {
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
  std::uint64_t records = 0;
  std::uint64_t first_lsn = 0;
  std::uint64_t last_lsn = 0;
  std::map<std::string, std::uint64_t> by_type;
  std::uint64_t entries = 0;
  std::uint64_t transfers = 0;
  std::uint64_t ts_min = 0, ts_max = 0;
  std::vector<term_start> terms;  // of the term_started records read, in order
  int status = 0;                 // 0 clean, 1 torn tail, 2 damaged
  std::string problem;
};

// Reads every journal file in LSN order and calls visit(file, record) for each valid one.
template <class Visit>
walk_summary walk(const std::string& dir, Visit&& visit) {
  walk_summary w;
  storage::listing l;
  std::string why;
  if (!storage::list_dir(dir, l, why)) {
    w.status = 2;
    w.problem = why;
    return w;
  }
  std::uint64_t expected = 0;
  std::vector<std::byte> data;
  for (std::size_t i = 0; i < l.journals.size(); ++i) {
    // Not a structured binding: clang before 16 (clang-tidy's) cannot capture one in the
    // scan's lambda below.
    const std::uint64_t first = l.journals[i].first;
    const std::string& name = l.journals[i].second;
    const std::string path = file_in(dir, name);
    if (!storage::read_file(path, data, why)) {
      w.status = 2;
      w.problem = why;
      return w;
    }
    ++w.files;
    w.bytes += data.size();
    if (expected != 0 && first > expected) {
      // A gap is fine only where a snapshot covers it (files before it were removed).
      bool covered = false;
      for (const auto& s : l.snapshots) covered |= s.first + 1 >= first;
      if (!covered) {
        w.status = 2;
        w.problem = path + ": starts at LSN " + std::to_string(first) + ", " +
                    std::to_string(expected) + " expected";
        return w;
      }
    }
    const journal::scan_result r = journal::scan(data, first, [&](const journal::record_view& v) {
      ++w.records;
      if (w.first_lsn == 0) w.first_lsn = v.header.lsn;
      w.last_lsn = v.header.lsn;
      const auto type = static_cast<journal::record_type>(v.header.type);
      ++w.by_type[std::string(journal::name(type))];
      const std::size_t n = v.payload.size() / journal::entry_size(type);
      w.entries += n;
      if (type == journal::record_type::transfers_committed) {
        w.transfers += n;
        for (std::size_t k = 0; k < n; ++k) {
          const auto c = load_event<journal::committed_transfer>(
              v.payload.data() + k * sizeof(journal::committed_transfer));
          const std::uint64_t ts = c.stored.timestamp;
          w.ts_min = w.ts_min == 0 ? ts : std::min(w.ts_min, ts);
          w.ts_max = std::max(w.ts_max, ts);
        }
      }
      if (type == journal::record_type::term_started && n == 1) {
        const auto t = load_event<journal::term_entry>(v.payload.data());
        // As replay counts them: a term again (a restart in the same term) starts nothing.
        if (t.term > last_term(w.terms)) w.terms.push_back(term_start{t.term, v.header.lsn});
      }
      visit(name, v);
    });
    if (r.records > 0) expected = r.last_lsn + 1;
    if (r.how != journal::scan_result::end::clean) {
      const bool last = i + 1 == l.journals.size();
      const bool torn = r.how == journal::scan_result::end::torn_tail && last;
      w.status = torn ? 1 : 2;
      w.problem = path + ": " + (torn ? "torn tail" : "damaged record") + " at offset " +
                  std::to_string(r.bad_offset) + " (" + r.why + "), " +
                  std::to_string(data.size() - r.valid_bytes) +
                  " bytes after the last whole record";
      if (!torn) return w;
    }
  }
  return w;
}

int verify(const std::string& dir) {
  storage::listing l;
  std::string why;
  if (!storage::list_dir(dir, l, why)) {
    std::fprintf(stderr, "remit-journal: %s\n", why.c_str());
    return 2;
  }
  for (const auto& [lsn, name] : l.snapshots) {
    std::vector<std::byte> data;
    reference_ledger state;
    std::uint64_t got = 0;
    if (!storage::read_file(file_in(dir, name), data, why) ||
        !state.read_snapshot(data, got, why)) {
      std::printf("%s: damaged snapshot: %s\n", name.c_str(), why.c_str());
      return 2;
    }
    std::printf("%s: ok, LSN %llu, %zu accounts, %zu transfers, %zu terms (last %llu)\n",
                name.c_str(), static_cast<unsigned long long>(got), state.account_count(),
                state.transfer_count(), state.term_history().size(),
                static_cast<unsigned long long>(state.last_term()));
  }
  const walk_summary w = walk(dir, [](const std::string&, const journal::record_view&) {});
  std::printf("journal: %llu files, %llu records, LSN %llu to %llu\n",
              static_cast<unsigned long long>(w.files), static_cast<unsigned long long>(w.records),
              static_cast<unsigned long long>(w.first_lsn),
              static_cast<unsigned long long>(w.last_lsn));
  if (w.status == 0) {
    // The records also have to replay: recover into memory without touching the files.
    std::printf("verify: ok\n");
    return 0;
  }
  std::printf("verify: %s\n", w.problem.c_str());
  if (w.status == 1) std::printf("verify: the engine cuts a torn tail when it recovers\n");
  return w.status;
}

json entry_json(journal::record_type type, const std::byte* p) {
  switch (type) {
    case journal::record_type::accounts_created: {
      const auto a = load_event<account>(p);
      return {{"id", to_decimal(a.id)},
              {"ledger", a.ledger},
              {"code", a.code},
              {"flags", a.flags},
              {"timestamp", a.timestamp}};
    }
    case journal::record_type::transfers_committed: {
      const auto c = load_event<journal::committed_transfer>(p);
      const transfer& t = c.stored;
      return {{"id", to_decimal(t.id)},
              {"debit_account_id", to_decimal(t.debit_account_id)},
              {"credit_account_id", to_decimal(t.credit_account_id)},
              {"amount", to_decimal(t.amount)},
              {"amount_sent", to_decimal(c.amount_sent)},
              {"pending_id", to_decimal(t.pending_id)},
              {"ledger", t.ledger},
              {"code", t.code},
              {"flags", t.flags},
              {"timeout", t.timeout},
              {"timestamp", t.timestamp},
              {"expires_at", c.expires_at_ns}};
    }
    case journal::record_type::failures: {
      const auto f = load_event<journal::failure_entry>(p);
      return {{"id", to_decimal(f.id)},
              {"result", std::string(name(static_cast<create_transfer_result>(f.code)))}};
    }
    case journal::record_type::pendings_expired:
      return {{"pending_id", to_decimal(load_event<u128>(p))}};
    case journal::record_type::controls_set: {
      const auto c = load_event<account_controls>(p);
      return {{"account_id", to_decimal(c.account_id)},
              {"overdraft_max", to_decimal(c.overdraft_max)},
              {"transfer_amount_max", to_decimal(c.transfer_amount_max)},
              {"daily_debit_max", to_decimal(c.daily_debit_max)},
              {"status_flags", c.status_flags}};
    }
    case journal::record_type::term_started:
      return {{"term", load_event<journal::term_entry>(p).term}};
  }
  return {};
}

int dump(const std::string& dir, bool as_json, std::uint64_t from, std::uint64_t limit) {
  std::uint64_t shown = 0;
  const walk_summary w = walk(dir, [&](const std::string& file, const journal::record_view& v) {
    if (v.header.lsn < from || shown >= limit) return;
    ++shown;
    const auto type = static_cast<journal::record_type>(v.header.type);
    const std::size_t size = journal::entry_size(type);
    const std::size_t n = v.payload.size() / size;
    if (as_json) {
      json entries = json::array();
      for (std::size_t k = 0; k < n; ++k)
        entries.push_back(entry_json(type, v.payload.data() + k * size));
      json line = {{"lsn", v.header.lsn},         {"group_lsn", v.header.group_lsn},
                   {"type", journal::name(type)}, {"file", file},
                   {"offset", v.offset},          {"entries", entries}};
      std::printf("%s\n", line.dump().c_str());
      return;
    }
    std::printf("lsn %llu group %llu %s %zu entries (%s @%llu)\n",
                static_cast<unsigned long long>(v.header.lsn),
                static_cast<unsigned long long>(v.header.group_lsn),
                std::string(journal::name(type)).c_str(), n, file.c_str(),
                static_cast<unsigned long long>(v.offset));
    for (std::size_t k = 0; k < n; ++k)
      std::printf("  %s\n", entry_json(type, v.payload.data() + k * size).dump().c_str());
  });
  if (w.status != 0) std::fprintf(stderr, "remit-journal: %s\n", w.problem.c_str());
  return w.status;
}

int stats(const std::string& dir, bool as_json) {
  const walk_summary w = walk(dir, [](const std::string&, const journal::record_view&) {});
  const double span_s = w.ts_max > w.ts_min ? static_cast<double>(w.ts_max - w.ts_min) / 1e9 : 0;
  if (as_json) {
    json j = {
        {"files", w.files},          {"bytes", w.bytes},         {"records", w.records},
        {"first_lsn", w.first_lsn},  {"last_lsn", w.last_lsn},   {"records_by_type", w.by_type},
        {"entries", w.entries},      {"transfers", w.transfers}, {"timestamp_min", w.ts_min},
        {"timestamp_max", w.ts_max}, {"span_seconds", span_s},   {"status", w.status}};
    json terms = json::array();
    for (const term_start& t : w.terms)
      terms.push_back({{"term", t.term}, {"first_lsn", t.first_lsn}});
    j["terms"] = terms;
    if (!w.problem.empty()) j["problem"] = w.problem;
    std::printf("%s\n", j.dump().c_str());
    return w.status;
  }
  std::printf("files %llu, %llu bytes, records %llu (LSN %llu to %llu)\n",
              static_cast<unsigned long long>(w.files), static_cast<unsigned long long>(w.bytes),
              static_cast<unsigned long long>(w.records),
              static_cast<unsigned long long>(w.first_lsn),
              static_cast<unsigned long long>(w.last_lsn));
  for (const auto& [type, n] : w.by_type)
    std::printf("  %-20s %llu\n", type.c_str(), static_cast<unsigned long long>(n));
  std::printf("transfers %llu over %.3f s of timestamps\n",
              static_cast<unsigned long long>(w.transfers), span_s);
  for (const term_start& t : w.terms)
    std::printf("term %llu from LSN %llu\n", static_cast<unsigned long long>(t.term),
                static_cast<unsigned long long>(t.first_lsn));
  if (!w.problem.empty()) std::printf("%s\n", w.problem.c_str());
  return w.status;
}

}  // namespace

// A function-try-block: what escapes the commands (no memory, a directory that vanished
// under us) is printed and gives status 4, not an uncaught exception's abort.
int main(int argc, char** argv) try {
  CLI::App app{"remit-journal: inspect a remit data directory (it never changes it)"};
  app.require_subcommand(1);
  std::string dir;
  bool as_json = false;
  std::uint64_t from = 0;
  std::uint64_t limit = UINT64_MAX;
  auto* v = app.add_subcommand("verify",
                               "check snapshots and records; exit 0 clean, 1 torn tail, 2 damaged");
  v->add_option("dir", dir, "data directory")->required()->check(CLI::ExistingDirectory);
  auto* d = app.add_subcommand("dump", "print every record");
  d->add_option("dir", dir, "data directory")->required()->check(CLI::ExistingDirectory);
  d->add_flag("--json", as_json, "one JSON object per record");
  d->add_option("--from", from, "first LSN to print");
  d->add_option("--limit", limit, "at most this many records");
  auto* s = app.add_subcommand("stats", "records by type, transfers, time span");
  s->add_option("dir", dir, "data directory")->required()->check(CLI::ExistingDirectory);
  s->add_flag("--json", as_json, "one JSON object");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 3;
  }
  if (v->parsed()) return verify(dir);
  if (d->parsed()) return dump(dir, as_json, from, limit);
  return stats(dir, as_json);
} catch (const std::exception& e) {
  std::fprintf(stderr, "remit-journal: %s\n", e.what());
  return 4;
}
