// The Prometheus text of the server's and the engine's figures, and the Boost.Beast
// endpoint that serves it.
#include <thread>
#include <utility>  // before Boost 1.74 Asio (awaitable.hpp uses std::exchange)

#include <fmt/format.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "actors/engine.hpp"
#include "gateway/server/server.hpp"

namespace remit::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string render_metrics(const metrics& m, const engine* e) {
  std::string out;
  out.reserve(16 << 10);
  auto it = std::back_inserter(out);
  header(out, "remit_requests_total", "counter",
         "Requests answered, by opcode and protocol status.");
  for (std::size_t op = 0; op < metrics::opcodes; ++op) {
    const std::string_view opname = codec::name(static_cast<codec::opcode>(op));
    if (opname == "unknown" && op != 0) continue;
    for (std::size_t s = 0; s < metrics::statuses; ++s) {
      const auto v = m.requests[op][s].load(std::memory_order_relaxed);
      if (v == 0) continue;
      fmt::format_to(it, "remit_requests_total{{opcode=\"{}\",status=\"{}\"}} {}\n",
                     op == 0 ? "none" : opname, codec::name(static_cast<codec::status>(s)), v);
    }
  }
  header(out, "remit_events_total", "counter", "Events in answered requests, by opcode.");
  for (std::size_t op = 1; op < metrics::opcodes; ++op) {
    const auto v = m.events[op].load(std::memory_order_relaxed);
    if (v)
      fmt::format_to(it, "remit_events_total{{opcode=\"{}\"}} {}\n",
                     codec::name(static_cast<codec::opcode>(op)), v);
  }
  header(out, "remit_results_total", "counter",
         "Per-event results of writes, by opcode and result code.");
  for (std::size_t c = 0; c < metrics::result_codes; ++c) {
    if (const auto v = m.account_results[c].load(std::memory_order_relaxed); v && c <= 18)
      fmt::format_to(it, "remit_results_total{{opcode=\"create_accounts\",result=\"{}\"}} {}\n",
                     name(static_cast<create_account_result>(c)), v);
    if (const auto v = m.transfer_results[c].load(std::memory_order_relaxed); v)
      fmt::format_to(it, "remit_results_total{{opcode=\"create_transfers\",result=\"{}\"}} {}\n",
                     name(static_cast<create_transfer_result>(c)), v);
  }
  for (std::size_t c = 0; c < m.controls_results.size(); ++c)
    if (const auto v = m.controls_results[c].load(std::memory_order_relaxed); v)
      fmt::format_to(it,
                     "remit_results_total{{opcode=\"set_account_controls\",result=\"{}\"}} {}\n",
                     name(static_cast<set_controls_result>(c)), v);

  header(out, "remit_transfer_latency_seconds", "histogram",
         "Per-transfer latency in the server: CREATE_TRANSFERS decoded to its response queued.");
  std::uint64_t cumulative = 0;
  for (std::size_t b = 0; b < metrics::latency_bounds_us.size(); ++b) {
    cumulative += m.latency_buckets[b].load(std::memory_order_relaxed);
    fmt::format_to(it, "remit_transfer_latency_seconds_bucket{{le=\"{}\"}} {}\n",
                   metrics::latency_bounds_us[b] / 1e6, cumulative);
  }
  cumulative += m.latency_buckets.back().load(std::memory_order_relaxed);
  fmt::format_to(it, "remit_transfer_latency_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  fmt::format_to(it, "remit_transfer_latency_seconds_sum {}\n",
                 static_cast<double>(m.latency_sum_ns.load(std::memory_order_relaxed)) / 1e9);
  fmt::format_to(it, "remit_transfer_latency_seconds_count {}\n",
                 m.latency_count.load(std::memory_order_relaxed));

  // A cluster standby has no engine (yet): its journal is the follower's, in the cluster's
  // figures.
  if (e != nullptr) {
    const auto j = e->journal_stats();
    header(out, "remit_journal_groups_total", "counter",
           "Journal write groups (one write and one fdatasync each).");
    fmt::format_to(it, "remit_journal_groups_total {}\n", j.groups);
    header(out, "remit_journal_records_total", "counter",
           "Journal records written; records over groups is the mean group size.");
    fmt::format_to(it, "remit_journal_records_total {}\n", j.records);
    header(out, "remit_journal_bytes_total", "counter", "Journal bytes written.");
    fmt::format_to(it, "remit_journal_bytes_total {}\n", j.bytes);
    header(out, "remit_journal_fdatasync_seconds_total", "counter",
           "Time spent in fdatasync; over groups it is the mean fdatasync latency.");
    fmt::format_to(it, "remit_journal_fdatasync_seconds_total {}\n",
                   static_cast<double>(j.sync_ns_total) / 1e9);
    header(out, "remit_journal_snapshots_total", "counter", "Snapshots written.");
    fmt::format_to(it, "remit_journal_snapshots_total {}\n", j.snapshots);
    header(out, "remit_storage_failed", "gauge", "1 once a journal write failed (fail-stop).");
    fmt::format_to(it, "remit_storage_failed {}\n", e->storage_failed() ? 1 : 0);
  }

  auto gauge = [&](std::string_view n, std::string_view help, std::int64_t v) {
    header(out, n, "gauge", help);
    fmt::format_to(it, "{} {}\n", n, v);
  };
  auto counter = [&](std::string_view n, std::string_view help, std::uint64_t v) {
    header(out, n, "counter", help);
    fmt::format_to(it, "{} {}\n", n, v);
  };
  gauge("remit_sessions", "Open sessions.", m.sessions.load());
  gauge("remit_sessions_unauthenticated", "Sessions before AUTH.",
        m.sessions_unauthenticated.load());
  gauge("remit_inflight_requests", "Requests in the engine or being answered.",
        m.inflight_requests.load());
  gauge("remit_inflight_events", "Events in the engine.", m.inflight_events.load());
  counter("remit_connections_accepted_total", "Connections accepted.",
          m.connections_accepted.load());
  counter("remit_connections_refused_total", "Connections refused at accept (limits).",
          m.connections_refused.load());
  counter("remit_auth_failures_total", "Failed AUTH attempts.", m.auth_failures.load());
  counter("remit_bytes_received_total", "Bytes read from sessions.", m.bytes_in.load());
  counter("remit_bytes_sent_total", "Bytes written to sessions.", m.bytes_out.load());
  return out;
}

struct metrics_endpoint::impl {
  const server& srv;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::thread thread;

  explicit impl(const server& s) : srv(s) {}

  void accept() {
    acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket sock) {
      if (ec) return;
      serve(std::make_shared<beast::tcp_stream>(std::move(sock)));
      accept();
    });
  }

  void serve(const std::shared_ptr<beast::tcp_stream>& stream) {
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto req = std::make_shared<http::request<http::string_body>>();
    stream->expires_after(std::chrono::seconds(5));
    http::async_read(*stream, *buffer, *req,
                     [this, stream, buffer, req](const boost::system::error_code& ec, std::size_t) {
                       if (ec) return;
                       auto res = std::make_shared<http::response<http::string_body>>();
                       res->version(req->version());
                       res->keep_alive(false);
                       if (req->method() == http::verb::get && req->target() == "/metrics") {
                         res->result(http::status::ok);
                         res->set(http::field::content_type, "text/plain; version=0.0.4");
                         res->body() = srv.metrics_text();
                       } else {
                         res->result(http::status::not_found);
                         res->set(http::field::content_type, "text/plain");
                         res->body() = "remit serves GET /metrics\n";
                       }
                       res->prepare_payload();
                       http::async_write(
                           *stream, *res,
                           [stream, res](const boost::system::error_code&, std::size_t) {
                             boost::system::error_code ignored;
                             stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
                           });
                     });
  }
};

metrics_endpoint::metrics_endpoint(const server& s, const std::string& host, std::uint16_t port)
    : impl_(std::make_unique<impl>(s)) {
  try {
    const tcp::endpoint ep(asio::ip::make_address(host), port);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
  } catch (const std::exception& ex) {
    throw std::runtime_error("cannot serve metrics on " + host + ":" + std::to_string(port) + ": " +
                             ex.what());
  }
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

metrics_endpoint::~metrics_endpoint() {
  stop();
}

std::uint16_t metrics_endpoint::port() const {
  return impl_->acceptor.local_endpoint().port();
}

void metrics_endpoint::stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace remit::gateway
