// remit: the command-line client of a remit server (docs/CLI.md).
//
//   remit create-account --id N --ledger L --code C [--flags F,...] [--user-data-...]
//   remit transfer --id N --debit A --credit B --amount X --ledger L --code C [--pending ...]
//   remit transfer --id N --post PENDING_ID [--amount X]  |  --void PENDING_ID
//   remit transfer --file F            one CREATE_TRANSFERS request from a file
//   remit lookup-account ID...  |  lookup-transfer ID...
//   remit history --account ID [--debits] [--credits] [--limit N] [--from TS] [--to TS]
//   remit controls --account ID [--overdraft-max X] [...] [--freeze|--unfreeze]
//   remit stats --ledger L  |  ping
//   remit cluster-status --server A,B,C --key-id node
//
// Every number is checked before anything is sent; a bad one exits 2 naming its flag. One
// command is one request, on one session unless the primary of a cluster moves (--server
// A,B,C: the client library follows it and resends by id). The human output is aligned tables on
// stdout, with failures and their hints on stderr; --json prints one JSON object on stdout instead
// (and the same messages on stderr). Exit status: 0 all ok, 1 some event failed or the server or
// connection failed, 2 bad usage or input (nothing was sent).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/types.hpp"
#include "gateway/client/client.hpp"
#include "gateway/codec/address.hpp"
#include "gateway/codec/frame.hpp"
#include "gateway/codec/keys.hpp"
#include "tools/cli_format.hpp"
#include "tools/cluster_status.hpp"

namespace {

using namespace remit;
using namespace remit::cli;
using ojson = nlohmann::ordered_json;

// A transfer file larger than this is refused before it is parsed: 8190 transfers of
// key=value fields take well under 8 MiB.
constexpr std::uintmax_t transfer_file_bytes_max = 16u << 20;
// Failed events explained one a line on stderr; the rest are counted.
constexpr std::size_t failure_lines_max = 20;

// ---------------------------------------------------------------------------------------
// Options

struct global_options {
  std::string server = "127.0.0.1:7400";
  std::string key_id = "admin";
  std::string key_file = "./remit-data/keys";
  std::string secret;  // hex; takes precedence over the keys file
  bool mac = false;
  bool tls = false;
  std::string tls_ca;
  bool json = false;
};

// Every number is held as text until it has passed its validator; `u128_of` and `uint_of`
// then convert text that is known to be good.
CLI::Validator u128_check() {
  return CLI::Validator(
      [](std::string& s) -> std::string { return parse_u128(s) ? "" : u128_error(s); }, "");
}

CLI::Validator uint_check(std::uint64_t max) {
  return CLI::Validator(
      [max](std::string& s) -> std::string {
        return parse_uint(s, max) ? "" : number_error(s, max);
      },
      "");
}

u128 u128_of(const std::string& text) {
  const std::optional<u128> v = parse_u128(text);
  if (!v) throw std::logic_error("u128 not validated: " + text);
  return *v;
}

std::uint64_t uint_of(const std::string& text, std::uint64_t max) {
  const std::optional<std::uint64_t> v = parse_uint(text, max);
  if (!v) throw std::logic_error("number not validated: " + text);
  return *v;
}

struct user_data_options {
  std::string d128 = "0";
  std::string d64 = "0";
  std::string d32 = "0";
};

void add_user_data(CLI::App* cmd, user_data_options& u) {
  cmd->add_option("--user-data-128", u.d128, "opaque 128-bit value, stored as given")
      ->check(u128_check())
      ->type_name("U128");
  cmd->add_option("--user-data-64", u.d64, "opaque 64-bit value")
      ->check(uint_check(UINT64_MAX))
      ->type_name("U64");
  cmd->add_option("--user-data-32", u.d32, "opaque 32-bit value")
      ->check(uint_check(UINT32_MAX))
      ->type_name("U32");
}

struct create_account_options {
  std::string id;
  std::string ledger;
  std::string code;
  std::string flags;
  user_data_options user_data;
};

struct transfer_options {
  std::string id;
  std::string debit;
  std::string credit;
  std::string amount;
  std::string ledger;
  std::string code;
  std::string timeout;
  std::string post;
  std::string void_id;
  std::string file;
  bool pending = false;
  bool balancing_debit = false;
  bool balancing_credit = false;
  bool linked = false;
  user_data_options user_data;
};

struct history_options {
  std::string account;
  bool debits = false;
  bool credits = false;
  bool reversed = false;
  std::string limit;
  std::string from = "0";
  std::string to = "0";
};

struct controls_options {
  std::string account;
  std::string overdraft_max = "0";
  std::string transfer_amount_max = "0";
  std::string daily_debit_max = "0";
  bool freeze = false;
  bool unfreeze = false;
};

// ---------------------------------------------------------------------------------------
// Output

// Messages go to stderr; with --json the command's one JSON object goes to stdout.
class output {
 public:
  explicit output(bool json) : json_(json) {}
  bool json() const { return json_; }

  void text(const std::string& s) const {
    if (!json_) std::fputs(s.c_str(), stdout);
  }
  void json_out(const ojson& j) const {
    if (json_) std::printf("%s\n", j.dump().c_str());
  }
  static void note(const std::string& s) { std::fprintf(stderr, "remit: %s\n", s.c_str()); }

  // An error of the session or the server: stderr, and with --json an object on stdout.
  int error(const std::string& kind, const std::string& message, std::string_view why,
            std::string_view status = {}) const {
    note(message);
    if (!why.empty()) note(std::string(why));
    if (json_) {
      ojson j;
      j["ok"] = false;
      j["error"] = kind;
      if (!status.empty()) j["status"] = std::string(status);
      j["message"] = message;
      if (!why.empty()) j["hint"] = std::string(why);
      json_out(j);
    }
    return exit_failed;
  }

 private:
  bool json_;
};

int usage(const std::string& message) {
  std::fprintf(stderr, "remit: %s\n", message.c_str());
  return exit_usage;
}

// ---------------------------------------------------------------------------------------
// The session

struct session {
  std::unique_ptr<client::client> c;
  // The server the session is with now (of the list, the primary; after a failover the
  // new one), for messages.
  std::string server() const { return c->session().server; }
};

// The client configuration from the global options; a usage problem fills `error`.
[[nodiscard]] std::optional<client::config> make_config(const global_options& g,
                                                        std::string& error) {
  client::config cfg;
  std::optional<std::vector<codec::server_address>> servers =
      codec::split_server_list(g.server, error);
  if (!servers) {
    error = "--server: " + error;
    return std::nullopt;
  }
  cfg.servers = std::move(*servers);
  if (g.key_id.empty() || g.key_id.size() > codec::key_id_max) {
    error = "--key-id: a key id has 1 to 32 characters";
    return std::nullopt;
  }
  if (!g.secret.empty()) {
    const std::optional<std::vector<std::uint8_t>> s = parse_hex(g.secret);
    if (!s || s->size() < codec::secret_size_min) {
      error = "--secret: the secret must be hex digits of at least 16 bytes (32 digits)";
      return std::nullopt;
    }
    cfg.key_id = g.key_id;
    cfg.secret = *s;
  } else {
    try {
      client::load_key(cfg, g.key_file, g.key_id);
    } catch (const client::client_error& e) {
      error = std::string(e.what()) +
              " (give the keys file with --key-file or REMIT_KEY_FILE, or the secret with "
              "--secret or REMIT_SECRET)";
      return std::nullopt;
    }
  }
  cfg.mac = g.mac;
  cfg.tls = g.tls;
  cfg.tls_ca_file = g.tls_ca;
  // One command is one request: fail soon rather than retry for long.
  cfg.reconnects_max = 2;
  cfg.batching = false;
  return cfg;
}

// Connects; on failure prints what happened naming the server and returns nothing.
[[nodiscard]] std::optional<session> connect(const client::config& cfg, const global_options& g,
                                             const output& out) {
  session s;
  try {
    s.c = std::make_unique<client::client>(cfg);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    const auto has = [&](const char* part) { return what.find(part) != std::string::npos; };
    const bool list = g.server.find(',') != std::string::npos;
    std::string why = list ? "check that remitd runs at " + g.server +
                                 " and that one of them is the primary (remit cluster-status "
                                 "shows each node's role; --server, REMIT_SERVER)"
                           : "check that remitd runs at " + g.server + " (--server, REMIT_SERVER)";
    if (has("auth_failed")) {
      why = hint(codec::status::auth_failed);
    } else if (has("requires a MAC")) {
      why = "the server requires a MAC on every frame: add --mac";
    } else if (has("proof does not verify")) {
      why = "the server could not prove it holds the key: check --server and the key";
    } else if (has("TLS")) {
      why =
          "check --tls and --tls-ca: the server must serve TLS and its certificate must "
          "verify against the CA";
    } else if (has("no primary")) {
      why =
          "no server listed is the primary now: a failover may be under way (try again), or "
          "list the primary in --server; remit cluster-status shows each node's role";
    } else if (has("resolving")) {
      why = "check the host name of --server";
    } else if (has("closed the connection") && !g.tls) {
      why += "; if the server serves TLS, add --tls";
    }
    out.error("connection", "cannot connect to " + g.server + ": " + what, why);
    return std::nullopt;
  }
  return s;
}

// Whether a reply is usable; prints why when it is not.
[[nodiscard]] bool reply_ok(const client::reply& r, const session& s, const output& out,
                            bool creates) {
  if (!r.answered) {
    std::string why = "check that remitd still runs at " + s.server();
    if (creates) {
      why +=
          "; the request may or may not have taken effect: run the same command again "
          "(creating is idempotent by id)";
    }
    out.error("connection", "no response from " + s.server() + ": " + r.error, why);
    return false;
  }
  if (r.status != codec::status::ok) {
    std::string message = "the server answered " + std::string(codec::name(r.status));
    if (!r.error.empty()) message += ": " + r.error;
    out.error("status", message, hint(r.status), codec::name(r.status));
    return false;
  }
  return true;
}

// Prints the outcomes of a create request; returns the exit status.
template <class Code, class Event>
int report_outcomes(const client::reply& r, std::span<const Event> events, u128 Event::*id,
                    const session& s, const output& out) {
  if (r.results.size() != events.size()) {
    return out.error("protocol",
                     "the server at " + s.server() + " answered " +
                         std::to_string(r.results.size()) + " results for " +
                         std::to_string(events.size()) + " events",
                     "");
  }
  std::vector<outcome> outcomes;
  bool all_ok = true;
  for (std::size_t i = 0; i < events.size(); ++i) {
    outcomes.push_back(make_outcome<Code>(events[i].*id, r.results[i]));
    all_ok &= outcomes.back().ok();
  }
  out.text(outcomes_table(outcomes));
  std::size_t failed = 0;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].ok()) continue;
    if (failed < failure_lines_max) output::note(failure_line(i, outcomes[i]));
    ++failed;
  }
  if (failed > failure_lines_max) {
    output::note("... and " + std::to_string(failed - failure_lines_max) +
                 " more failed events (the table and --json list every result)");
  }
  if (failed != 0 && outcomes.size() > 1) {
    output::note(std::to_string(failed) + " of " + std::to_string(outcomes.size()) +
                 " events failed");
  }
  ojson j;
  j["ok"] = all_ok;
  j["results"] = outcomes_json(outcomes);
  out.json_out(j);
  return all_ok ? exit_ok : exit_failed;
}

// ---------------------------------------------------------------------------------------
// Commands

int create_account(session& s, const output& out, const create_account_options& o) {
  std::string why;
  const std::optional<std::uint16_t> flags = parse_account_flags(o.flags, why);
  if (!flags) throw std::logic_error("flags not validated: " + o.flags);
  account a{};
  a.id = u128_of(o.id);
  a.ledger = static_cast<std::uint32_t>(uint_of(o.ledger, UINT32_MAX));
  a.code = static_cast<std::uint16_t>(uint_of(o.code, UINT16_MAX));
  a.flags = *flags;
  a.user_data_128 = u128_of(o.user_data.d128);
  a.user_data_64 = uint_of(o.user_data.d64, UINT64_MAX);
  a.user_data_32 = static_cast<std::uint32_t>(uint_of(o.user_data.d32, UINT32_MAX));
  const std::span<const account> events(&a, 1);
  const client::reply r = s.c->create_accounts(events);
  if (!reply_ok(r, s, out, true)) return exit_failed;
  return report_outcomes<create_account_result>(r, events, &account::id, s, out);
}

[[nodiscard]] std::optional<std::string> read_file(const std::string& path, std::string& error) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error = "--file: cannot open " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
      error = "--file: cannot read " + path;
      return std::nullopt;
    }
  }
  if (text.size() > transfer_file_bytes_max) {
    error = "--file: " + path + " is larger than 16 MiB: split it";
    return std::nullopt;
  }
  return text;
}

// The transfers of a `transfer` command, checked; a usage problem fills `error`.
std::optional<std::vector<transfer>> transfers_of(const transfer_options& o, const CLI::App& cmd,
                                                  std::string& error) {
  const auto given = [&](const char* flag) { return cmd.count(flag) != 0; };
  if (given("--file")) {
    for (const char* flag :
         {"--id", "--debit", "--credit", "--amount", "--ledger", "--code", "--pending", "--timeout",
          "--post", "--void", "--balancing-debit", "--balancing-credit", "--linked",
          "--user-data-128", "--user-data-64", "--user-data-32"}) {
      if (given(flag)) {
        error = std::string("--file takes the transfers from the file: drop ") + flag;
        return std::nullopt;
      }
    }
    const std::optional<std::string> text = read_file(o.file, error);
    if (!text) return std::nullopt;
    transfer_file_result f = parse_transfer_file(*text, batch_events_max);
    if (!f.ok()) {
      error = (o.file == "-" ? std::string("standard input") : o.file) + ": " + f.error;
      return std::nullopt;
    }
    return std::move(f.transfers);
  }
  if (!given("--id")) {
    error = "transfer: --id is required (or --file)";
    return std::nullopt;
  }
  transfer t{};
  t.id = u128_of(o.id);
  const bool post = given("--post");
  const bool void_ = given("--void");
  if (post || void_) {
    for (const char* flag : {"--pending", "--timeout", "--balancing-debit", "--balancing-credit"}) {
      if (given(flag)) {
        error = std::string(post ? "--post" : "--void") + " does not go with " + flag;
        return std::nullopt;
      }
    }
    t.pending_id = u128_of(post ? o.post : o.void_id);
    t.flags = post ? transfer_flags::post_pending_transfer : transfer_flags::void_pending_transfer;
  } else {
    for (const char* flag : {"--debit", "--credit", "--amount", "--ledger", "--code"}) {
      if (!given(flag)) {
        error = std::string("transfer: ") + flag +
                " is required (a post or void gives --post or --void instead)";
        return std::nullopt;
      }
    }
    if (given("--timeout") && !o.pending) {
      error = "--timeout applies to pending transfers only: add --pending";
      return std::nullopt;
    }
    if (o.pending) t.flags |= transfer_flags::pending;
    if (o.balancing_debit) t.flags |= transfer_flags::balancing_debit;
    if (o.balancing_credit) t.flags |= transfer_flags::balancing_credit;
  }
  // A post or void may leave these 0; where given they must equal the pending transfer's.
  if (given("--debit")) t.debit_account_id = u128_of(o.debit);
  if (given("--credit")) t.credit_account_id = u128_of(o.credit);
  if (given("--amount")) t.amount = u128_of(o.amount);
  if (given("--ledger")) t.ledger = static_cast<std::uint32_t>(uint_of(o.ledger, UINT32_MAX));
  if (given("--code")) t.code = static_cast<std::uint16_t>(uint_of(o.code, UINT16_MAX));
  if (given("--timeout")) t.timeout = static_cast<std::uint32_t>(uint_of(o.timeout, UINT32_MAX));
  if (o.linked) t.flags |= transfer_flags::linked;
  t.user_data_128 = u128_of(o.user_data.d128);
  t.user_data_64 = uint_of(o.user_data.d64, UINT64_MAX);
  t.user_data_32 = static_cast<std::uint32_t>(uint_of(o.user_data.d32, UINT32_MAX));
  return std::vector<transfer>{t};
}

int create_transfers(session& s, const output& out, const std::vector<transfer>& events) {
  const std::uint32_t events_max = s.c->session().event_count_max;
  if (events_max != 0 && events.size() > events_max) {
    return usage("the server at " + s.server() + " takes at most " + std::to_string(events_max) +
                 " transfers in one request; the file holds " + std::to_string(events.size()) +
                 ": split it");
  }
  const client::reply r = s.c->create_transfers(events);
  if (!reply_ok(r, s, out, true)) return exit_failed;
  return report_outcomes<create_transfer_result>(r, std::span<const transfer>(events),
                                                 &transfer::id, s, out);
}

std::vector<u128> ids_of(const std::vector<std::string>& texts) {
  std::vector<u128> ids;
  ids.reserve(texts.size());
  for (const std::string& t : texts) ids.push_back(u128_of(t));
  return ids;
}

// Splits a lookup's answer (the found ones, in request order) into found and missing ids.
template <class Event>
std::vector<u128> missing_ids(std::span<const u128> ids, const std::vector<Event>& found) {
  std::vector<u128> missing;
  std::size_t next = 0;
  for (const u128 id : ids) {
    if (next < found.size() && found[next].id == id) {
      ++next;
    } else {
      missing.push_back(id);
    }
  }
  return missing;
}

template <class Event>
int report_lookup(const std::vector<u128>& ids, const std::vector<Event>& found, const char* what,
                  const char* hint_text, const output& out) {
  const std::vector<u128> missing = missing_ids<Event>(ids, found);
  for (const u128 id : missing) {
    output::note(std::string(what) + " " + format_u128(id) + " not found: " + hint_text);
  }
  ojson j;
  j["ok"] = missing.empty();
  ojson list = ojson::array();
  for (const Event& e : found) {
    if constexpr (std::is_same_v<Event, account>) {
      list.push_back(account_json(e));
    } else {
      list.push_back(transfer_json(e));
    }
  }
  j[std::string(what) + "s"] = std::move(list);
  ojson not_found = ojson::array();
  for (const u128 id : missing) not_found.push_back(format_u128(id));
  j["not_found"] = std::move(not_found);
  out.json_out(j);
  if (!found.empty()) {
    if constexpr (std::is_same_v<Event, account>) {
      out.text(accounts_table(found));
    } else {
      out.text(transfers_table(found));
    }
  }
  return missing.empty() ? exit_ok : exit_failed;
}

int check_batch_size(const session& s, std::size_t n) {
  const std::uint32_t events_max = s.c->session().event_count_max;
  if (events_max != 0 && n > events_max) {
    return usage("the server at " + s.server() + " takes at most " + std::to_string(events_max) +
                 " ids in one request");
  }
  return exit_ok;
}

int lookup_accounts(session& s, const output& out, const std::vector<std::string>& texts) {
  const std::vector<u128> ids = ids_of(texts);
  if (const int rc = check_batch_size(s, ids.size()); rc != exit_ok) return rc;
  const client::reply r = s.c->lookup_accounts(ids);
  if (!reply_ok(r, s, out, false)) return exit_failed;
  return report_lookup(ids, r.accounts, "account", "create the account first (create-account)",
                       out);
}

int lookup_transfers(session& s, const output& out, const std::vector<std::string>& texts) {
  const std::vector<u128> ids = ids_of(texts);
  if (const int rc = check_batch_size(s, ids.size()); rc != exit_ok) return rc;
  const client::reply r = s.c->lookup_transfers(ids);
  if (!reply_ok(r, s, out, false)) return exit_failed;
  return report_lookup(ids, r.transfers, "transfer",
                       "check the id (a transfer that failed is not stored)", out);
}

int history(session& s, const output& out, const history_options& o, const CLI::App& cmd) {
  account_filter f{};
  f.account_id = u128_of(o.account);
  f.timestamp_min = uint_of(o.from, UINT64_MAX);
  f.timestamp_max = uint_of(o.to, UINT64_MAX);
  std::uint32_t events_max = s.c->session().event_count_max;
  if (events_max == 0) events_max = batch_events_max;
  f.limit = events_max;
  if (cmd.count("--limit") != 0) {
    const std::uint64_t limit = uint_of(o.limit, UINT32_MAX);
    if (limit == 0 || limit > events_max) {
      return usage("--limit: the server at " + s.server() + " takes 1 to " +
                   std::to_string(events_max));
    }
    f.limit = static_cast<std::uint32_t>(limit);
  }
  if (o.debits) f.flags |= account_filter_flags::debits;
  if (o.credits) f.flags |= account_filter_flags::credits;
  if (!o.debits && !o.credits)
    f.flags |= account_filter_flags::debits | account_filter_flags::credits;
  if (o.reversed) f.flags |= account_filter_flags::reversed;

  const client::reply r = s.c->get_account_transfers(f);
  if (!reply_ok(r, s, out, false)) return exit_failed;
  const bool full = r.transfers.size() == f.limit;
  if (!r.transfers.empty()) out.text(transfers_table(r.transfers, f.account_id));
  if (r.transfers.empty()) {
    output::note("no transfers of account " + format_u128(f.account_id) +
                 " match (an account that does not exist has none either)");
  } else if (full) {
    output::note("the limit of " + std::to_string(f.limit) +
                 " transfers was reached: there may be more; narrow with --from/--to or raise "
                 "--limit");
  }
  ojson j;
  j["ok"] = true;
  j["account_id"] = format_u128(f.account_id);
  ojson list = ojson::array();
  for (const transfer& t : r.transfers) list.push_back(transfer_json(t));
  j["transfers"] = std::move(list);
  j["limit_reached"] = full;
  out.json_out(j);
  return exit_ok;
}

int controls(session& s, const output& out, const controls_options& o) {
  account_controls c{};
  c.account_id = u128_of(o.account);
  c.overdraft_max = u128_of(o.overdraft_max);
  c.transfer_amount_max = u128_of(o.transfer_amount_max);
  c.daily_debit_max = u128_of(o.daily_debit_max);
  c.status_flags = o.freeze ? account_status_flags::frozen : 0;
  const std::span<const account_controls> events(&c, 1);
  const client::reply r = s.c->set_account_controls(events);
  if (!reply_ok(r, s, out, false)) return exit_failed;
  if (r.results.size() != 1) {
    return out.error("protocol",
                     "the server at " + s.server() + " answered " +
                         std::to_string(r.results.size()) + " results for 1 event",
                     "");
  }
  const outcome oc = make_outcome<set_controls_result>(c.account_id, r.results[0]);
  const auto show = [](u128 v) { return v == 0 ? std::string("0 (no cap)") : format_u128(v); };
  out.text(render_fields({{"account", format_u128(c.account_id)},
                          {"result", std::string(oc.result)},
                          {"overdraft_max", format_u128(c.overdraft_max)},
                          {"transfer_amount_max", show(c.transfer_amount_max)},
                          {"daily_debit_max", show(c.daily_debit_max)},
                          {"frozen", o.freeze ? "yes" : "no"}}));
  if (!oc.ok()) output::note(failure_line(0, oc));
  ojson j;
  j["ok"] = oc.ok();
  j["result"] = std::string(oc.result);
  if (!oc.ok()) j["hint"] = std::string(oc.hint);
  j["account_id"] = format_u128(c.account_id);
  j["overdraft_max"] = format_u128(c.overdraft_max);
  j["transfer_amount_max"] = format_u128(c.transfer_amount_max);
  j["daily_debit_max"] = format_u128(c.daily_debit_max);
  j["frozen"] = o.freeze;
  out.json_out(j);
  return oc.ok() ? exit_ok : exit_failed;
}

int stats(session& s, const output& out, const std::string& ledger_text) {
  const auto ledger = static_cast<std::uint32_t>(uint_of(ledger_text, UINT32_MAX));
  const client::reply r = s.c->get_ledger_stats(ledger);
  if (!reply_ok(r, s, out, false)) return exit_failed;
  const ledger_stats& st = r.stats;
  const std::string average =
      st.transfers_posted == 0 ? "-" : format_u128(st.volume_posted / st.transfers_posted);
  out.text(render_fields({{"ledger", std::to_string(st.ledger)},
                          {"accounts", std::to_string(st.accounts)},
                          {"transfers_posted", std::to_string(st.transfers_posted)},
                          {"transfers_pending", std::to_string(st.transfers_pending)},
                          {"volume_posted", format_u128(st.volume_posted)},
                          {"average_posted", average}}));
  ojson j;
  j["ok"] = true;
  j["ledger"] = st.ledger;
  j["accounts"] = st.accounts;
  j["transfers_posted"] = st.transfers_posted;
  j["transfers_pending"] = st.transfers_pending;
  j["volume_posted"] = format_u128(st.volume_posted);
  j["average_posted"] = st.transfers_posted == 0 ? ojson(nullptr) : ojson(average);
  out.json_out(j);
  return exit_ok;
}

int ping(session& s, const output& out, const global_options& g) {
  static constexpr char text[] = "remit-cli ping";
  std::vector<std::byte> payload(sizeof text - 1);
  std::memcpy(payload.data(), text, payload.size());
  const auto start = std::chrono::steady_clock::now();
  const client::reply r = s.c->ping(payload);
  const auto round_trip = std::chrono::steady_clock::now() - start;
  if (!reply_ok(r, s, out, false)) return exit_failed;
  if (r.ping != payload) {
    return out.error("protocol", "the server at " + s.server() + " echoed other bytes than sent",
                     "");
  }
  const client::session_info& info = s.c->session();
  const auto round_trip_us =
      std::chrono::duration_cast<std::chrono::microseconds>(round_trip).count();
  const bool durable = !info.server_version.ends_with("-nodurable");
  out.text(render_fields({{"server", s.server()},
                          {"server_version", info.server_version},
                          {"role", std::string(codec::role_name(info.role))},
                          {"durable", durable ? "yes" : "no (the server runs without durability)"},
                          {"key_id", g.key_id},
                          {"permissions", join_flags(permission_names(info.permissions))},
                          {"session_id", std::to_string(info.session_id)},
                          {"mac", info.mac ? "hmac-sha256" : "none"},
                          {"tls", g.tls ? "yes" : "no"},
                          {"event_count_max", std::to_string(info.event_count_max)},
                          {"body_size_max", std::to_string(info.body_size_max)},
                          {"inflight_max", std::to_string(info.inflight_max)},
                          {"round_trip_us", std::to_string(round_trip_us)}}));
  ojson j;
  j["ok"] = true;
  j["server"] = s.server();
  j["server_version"] = info.server_version;
  j["role"] = std::string(codec::role_name(info.role));
  j["durable"] = durable;
  j["key_id"] = g.key_id;
  j["permissions"] = permission_names(info.permissions);
  j["session_id"] = std::to_string(info.session_id);
  j["mac"] = info.mac;
  j["tls"] = g.tls;
  j["event_count_max"] = info.event_count_max;
  j["body_size_max"] = info.body_size_max;
  j["inflight_max"] = info.inflight_max;
  j["round_trip_us"] = round_trip_us;
  out.json_out(j);
  return exit_ok;
}

// Probes every node at once (each on a session of its own), so a node that does not answer
// costs its timeouts once, not once per node before it.
int cluster_status(client::config cfg, const output& out) {
  // A node that takes longer than this is reported as unreachable.
  cfg.connect_timeout = std::chrono::milliseconds(2000);
  cfg.request_timeout = std::chrono::milliseconds(2000);
  std::vector<std::future<node_status>> probes;
  for (const codec::server_address& a : cfg.servers)
    probes.push_back(std::async(std::launch::async, [&cfg, a] { return probe_node(cfg, a); }));
  std::vector<node_status> nodes;
  nodes.reserve(probes.size());
  for (auto& p : probes) nodes.push_back(p.get());
  out.text(cluster_table(nodes));
  out.json_out(cluster_json(nodes));
  return cluster_exit_status(nodes);
}

// ---------------------------------------------------------------------------------------

int run(int argc, char** argv) {
  CLI::App app{
      "remit: the command-line client of a remit server. Ids and amounts are decimal (up to "
      "2^128-1) or 0x-hex. Exit status: 0 all ok, 1 some event failed or a server or "
      "connection error, 2 bad usage or input.",
      "remit"};
  app.require_subcommand(1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return "remit: " + std::string(e.what()) + "\nRun with --help for more information.\n";
  });
  app.fallthrough();  // global options may follow the subcommand

  global_options g;
  app.add_option("--server", g.server,
                 "HOST:PORT of the server, or a comma-separated list of a cluster's nodes: the "
                 "client uses the primary and follows it when it moves")
      ->type_name("HOST:PORT[,...]")
      ->envname("REMIT_SERVER")
      ->capture_default_str();
  app.add_option("--key-id", g.key_id, "the key to authenticate with")
      ->envname("REMIT_KEY_ID")
      ->capture_default_str();
  app.add_option("--key-file", g.key_file, "the keys file holding the key's secret")
      ->envname("REMIT_KEY_FILE")
      ->capture_default_str();
  app.add_option("--secret", g.secret,
                 "the key's secret in hex (takes precedence over the keys file; prefer "
                 "REMIT_SECRET to keep it out of the process list)")
      ->envname("REMIT_SECRET")
      ->type_name("HEX");
  app.add_flag("--mac", g.mac, "sign every frame with HMAC-SHA256");
  auto* tls_opt = app.add_flag("--tls", g.tls, "connect with TLS");
  app.add_option("--tls-ca", g.tls_ca, "CA (or the server's certificate) to verify the server")
      ->check(CLI::ExistingFile)
      ->type_name("FILE")
      ->needs(tls_opt);
  app.add_flag("--json", g.json, "print one JSON object for scripts instead of tables");

  // create-account
  create_account_options ca;
  CLI::App* ca_cmd = app.add_subcommand("create-account", "create one account (admin key)");
  ca_cmd->add_option("--id", ca.id, "the account's id, 1 to 2^128-2")
      ->required()
      ->check(u128_check())
      ->type_name("U128");
  ca_cmd->add_option("--ledger", ca.ledger, "its ledger, from 1")
      ->required()
      ->check(uint_check(UINT32_MAX))
      ->type_name("U32");
  ca_cmd->add_option("--code", ca.code, "its code (the kind of account), from 1")
      ->required()
      ->check(uint_check(UINT16_MAX))
      ->type_name("U16");
  ca_cmd
      ->add_option("--flags", ca.flags,
                   "comma-separated: linked, debits_must_not_exceed_credits, "
                   "credits_must_not_exceed_debits")
      ->check(CLI::Validator(
          [](std::string& list) -> std::string {
            std::string error;
            return parse_account_flags(list, error) ? "" : error;
          },
          ""))
      ->type_name("LIST");
  add_user_data(ca_cmd, ca.user_data);

  // transfer
  transfer_options tr;
  CLI::App* tr_cmd = app.add_subcommand(
      "transfer",
      "create a transfer; post or void a pending one; or send the transfers of a file as one "
      "request (transfer key)");
  tr_cmd->add_option("--id", tr.id, "the transfer's id, 1 to 2^128-2")
      ->check(u128_check())
      ->type_name("U128");
  tr_cmd->add_option("--debit", tr.debit, "the account debited")
      ->check(u128_check())
      ->type_name("U128");
  tr_cmd->add_option("--credit", tr.credit, "the account credited")
      ->check(u128_check())
      ->type_name("U128");
  tr_cmd->add_option("--amount", tr.amount, "the amount (a post: 0 or absent posts it all)")
      ->check(u128_check())
      ->type_name("U128");
  tr_cmd->add_option("--ledger", tr.ledger, "the ledger of both accounts")
      ->check(uint_check(UINT32_MAX))
      ->type_name("U32");
  tr_cmd->add_option("--code", tr.code, "the transfer's code (its kind), from 1")
      ->check(uint_check(UINT16_MAX))
      ->type_name("U16");
  auto* pending_opt =
      tr_cmd->add_flag("--pending", tr.pending, "reserve the amount; post or void it later");
  tr_cmd
      ->add_option("--timeout", tr.timeout,
                   "seconds after which a pending transfer expires (0: never)")
      ->check(uint_check(UINT32_MAX))
      ->type_name("U32")
      ->needs(pending_opt);
  tr_cmd->add_flag("--balancing-debit", tr.balancing_debit,
                   "move at most what the debit account has (up to --amount)");
  tr_cmd->add_flag("--balancing-credit", tr.balancing_credit,
                   "move at most what the credit account may take (up to --amount)");
  tr_cmd->add_flag("--linked", tr.linked, "link to the next transfer of the batch");
  auto* post_opt = tr_cmd->add_option("--post", tr.post, "post the pending transfer with this id")
                       ->check(u128_check())
                       ->type_name("U128");
  auto* void_opt =
      tr_cmd->add_option("--void", tr.void_id, "void the pending transfer with this id")
          ->check(u128_check())
          ->type_name("U128");
  post_opt->excludes(void_opt);
  tr_cmd
      ->add_option("--file", tr.file,
                   "send the transfers of this file (or - for stdin) as one request; see "
                   "docs/CLI.md for its format")
      ->type_name("FILE");
  add_user_data(tr_cmd, tr.user_data);

  // lookups
  std::vector<std::string> account_ids;
  CLI::App* la_cmd =
      app.add_subcommand("lookup-account", "show accounts by id, with balances (read key)");
  la_cmd->add_option("ids", account_ids, "account ids")
      ->required()
      ->check(u128_check())
      ->type_name("U128");
  std::vector<std::string> transfer_ids;
  CLI::App* lt_cmd = app.add_subcommand("lookup-transfer", "show transfers by id (read key)");
  lt_cmd->add_option("ids", transfer_ids, "transfer ids")
      ->required()
      ->check(u128_check())
      ->type_name("U128");

  // history
  history_options hi;
  CLI::App* hi_cmd =
      app.add_subcommand("history", "the transfers of an account, by timestamp (read key)");
  hi_cmd->add_option("--account", hi.account, "the account")
      ->required()
      ->check(u128_check())
      ->type_name("U128");
  hi_cmd->add_flag("--debits", hi.debits, "transfers that debit it (default: both sides)");
  hi_cmd->add_flag("--credits", hi.credits, "transfers that credit it (default: both sides)");
  hi_cmd->add_option("--limit", hi.limit, "at most this many (default: the server's maximum)")
      ->check(uint_check(UINT32_MAX))
      ->type_name("U32");
  hi_cmd->add_option("--from", hi.from, "from this timestamp (ns since the epoch, inclusive)")
      ->check(uint_check(UINT64_MAX))
      ->type_name("U64");
  hi_cmd->add_option("--to", hi.to, "up to this timestamp (ns, inclusive)")
      ->check(uint_check(UINT64_MAX))
      ->type_name("U64");
  hi_cmd->add_flag("--reversed", hi.reversed, "newest first");

  // controls
  controls_options co;
  CLI::App* co_cmd = app.add_subcommand(
      "controls",
      "set an account's risk controls (admin key). All four are set at once: an option not "
      "given is set to 0 (no cap, not frozen)");
  co_cmd->add_option("--account", co.account, "the account")
      ->required()
      ->check(u128_check())
      ->type_name("U128");
  auto* od = co_cmd
                 ->add_option("--overdraft-max", co.overdraft_max,
                              "how far the bounded side may pass the other")
                 ->check(u128_check())
                 ->type_name("U128");
  auto* tam = co_cmd
                  ->add_option("--transfer-amount-max", co.transfer_amount_max,
                               "largest single debit (0: no cap)")
                  ->check(u128_check())
                  ->type_name("U128");
  auto* ddm = co_cmd
                  ->add_option("--daily-debit-max", co.daily_debit_max,
                               "largest sum debited per UTC day (0: no cap)")
                  ->check(u128_check())
                  ->type_name("U128");
  auto* freeze = co_cmd->add_flag("--freeze", co.freeze, "no new debits or credits");
  auto* unfreeze = co_cmd->add_flag("--unfreeze", co.unfreeze, "lift a freeze");
  freeze->excludes(unfreeze);

  // stats, ping
  std::string stats_ledger;
  CLI::App* st_cmd = app.add_subcommand("stats", "counts and volume of a ledger (read key)");
  st_cmd->add_option("--ledger", stats_ledger, "the ledger")
      ->required()
      ->check(uint_check(UINT32_MAX))
      ->type_name("U32");
  CLI::App* pi_cmd =
      app.add_subcommand("ping", "check the connection, the key and the server's limits");
  CLI::App* cs_cmd = app.add_subcommand(
      "cluster-status",
      "each node of --server: role, term, durable LSN, lag behind the primary, round trip "
      "(a key with permission 8, replicate: --key-id)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);  // prints the help or the error
    return status == 0 ? exit_ok : exit_usage;
  }

  // Checks that need no server, before connecting.
  std::vector<transfer> transfers;
  if (tr_cmd->parsed()) {
    std::string why;
    std::optional<std::vector<transfer>> t = transfers_of(tr, *tr_cmd, why);
    if (!t) return usage(why);
    transfers = std::move(*t);
  }
  if (co_cmd->parsed()) {
    const bool any =
        od->count() + tam->count() + ddm->count() + freeze->count() + unfreeze->count() != 0;
    if (!any) {
      return usage(
          "controls: give at least one of --overdraft-max, --transfer-amount-max, "
          "--daily-debit-max, --freeze, --unfreeze (all four values are set at once; one not "
          "given is set to 0)");
    }
  }
  if (hi_cmd->parsed() && uint_of(hi.from, UINT64_MAX) != 0 && uint_of(hi.to, UINT64_MAX) != 0 &&
      uint_of(hi.from, UINT64_MAX) > uint_of(hi.to, UINT64_MAX)) {
    return usage("--from must not be after --to");
  }
  if (hi_cmd->parsed() && hi_cmd->count("--limit") != 0) {
    const std::uint64_t limit = uint_of(hi.limit, UINT32_MAX);
    if (limit == 0 || limit > batch_events_max) {
      return usage("--limit: from 1 to " + std::to_string(batch_events_max));
    }
  }
  if ((la_cmd->parsed() && account_ids.size() > batch_events_max) ||
      (lt_cmd->parsed() && transfer_ids.size() > batch_events_max)) {
    return usage("at most " + std::to_string(batch_events_max) + " ids in one lookup");
  }

  std::string why;
  const std::optional<client::config> cfg = make_config(g, why);
  if (!cfg) return usage(why);
  const output out(g.json);
  if (cs_cmd->parsed()) return cluster_status(*cfg, out);
  std::optional<session> s = connect(*cfg, g, out);
  if (!s) return exit_failed;

  if (ca_cmd->parsed()) return create_account(*s, out, ca);
  if (tr_cmd->parsed()) return create_transfers(*s, out, transfers);
  if (la_cmd->parsed()) return lookup_accounts(*s, out, account_ids);
  if (lt_cmd->parsed()) return lookup_transfers(*s, out, transfer_ids);
  if (hi_cmd->parsed()) return history(*s, out, hi, *hi_cmd);
  if (co_cmd->parsed()) return controls(*s, out, co);
  if (st_cmd->parsed()) return stats(*s, out, stats_ledger);
  if (pi_cmd->parsed()) return ping(*s, out, g);
  return usage("a subcommand is required");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "remit: %s\n", e.what());
    return exit_failed;
  }
}
