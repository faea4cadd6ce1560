// remit::client's implementation.
//
// Design. Everything that changes after construction is owned by the I/O thread, except the
// hand-over queue `incoming_` (a mutex and a vector) and a few atomic counters. A public call
// copies its events once into a `call`, pushes it onto `incoming_` and, when no drain is
// pending, posts one: calls made by many threads at once reach the I/O thread together, which
// is what lets them be packed. On the I/O thread:
//
//   incoming_ -> calls_ (FIFO) --pack--> request --seal--> out_next (one buffer, many frames)
//                                          |
//   resend_ (requests to send again) ------+--> inflight_ (by request_id) -> answered
//   delayed_ (overloaded, waiting for their backoff) -> resend_
//
// A request is one frame: one call, or several create_* calls packed together (never past a
// call whose last event is linked). The request keeps its body until it is answered, so that
// it can be sealed again with a new sequence and key on a new connection. request_ids are
// never reused within a client.
//
// Finding a server (client.hpp): a search is passes over `pass_` (the address a not_primary
// named, then the configured list), one attempt at a time. An attempt that fails, or meets a
// standby, moves on to the next address at once; a pass that settles nowhere schedules the
// next after a backoff, or gives up (pass_failed). A connection that drops, or a not_primary
// that is followed, puts every request in flight back at the front of `resend_` and starts a
// new search.
//
// A connection (`connection`) owns its socket, its read buffer and its write buffers, and
// every handler holds it by shared_ptr: a connection that is dropped is never written into
// again, whatever its pending operations still do. Handlers of a dropped connection see that
// it is no longer `conn_` and return.
//
// Invariants: a call is answered exactly once (`done`); `inflight_.size()` never exceeds the
// server's inflight_max; frames leave in sequence order because they are sealed in the order
// they are appended to out_next and the buffers are written in order, one write at a time.
#include "gateway/client/client.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include <openssl/ssl.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "engine/crc32c.hpp"
#include "gateway/codec/crypto.hpp"
#include "gateway/codec/keys.hpp"

// Guards an invariant of the client itself (never a condition of the network or the server):
// a broken one stops the program. The client does not link the engine's REMIT_ASSERT.
#define REMIT_CLIENT_CHECK(expr)                                                            \
  do {                                                                                      \
    if (!(expr)) [[unlikely]] {                                                             \
      std::fprintf(stderr, "remit client: invariant broken: %s (%s:%d)\n", #expr, __FILE__, \
                   __LINE__);                                                               \
      std::abort();                                                                         \
    }                                                                                       \
  } while (false)

namespace remit::client {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

constexpr std::chrono::milliseconds backoff_min{10};
constexpr std::chrono::milliseconds backoff_max{1000};
// Bodies a server may send before AUTH: HelloReply, AuthReply, or an error reason.
constexpr std::uint32_t handshake_body_max = 1024;
static_assert(handshake_body_max >= codec::hello_reply_size);
static_assert(handshake_body_max >= codec::reason_max);
constexpr std::size_t read_buffer_size = std::size_t{256} * 1024;
constexpr std::size_t read_room_min = std::size_t{64} * 1024;  // compact the read buffer below this
static_assert(read_buffer_size > read_room_min);

std::chrono::milliseconds backoff_after(std::uint32_t attempt) {
  const auto shift = std::min<std::uint32_t>(attempt, 10);
  return std::min(backoff_min * (1 << shift), backoff_max);
}

bool is_create(codec::opcode op) {
  return op == codec::opcode::create_accounts || op == codec::opcode::create_transfers;
}

template <class T>
std::vector<std::byte> bytes_of(std::span<const T> events) {
  const auto b = std::as_bytes(events);
  return std::vector<std::byte>(b.begin(), b.end());
}

// Copies `n` events of T out of a possibly unaligned body. One allocation, none per event.
template <wire_struct T>
std::vector<T> events_of(const std::byte* p, std::size_t n) {
  std::vector<T> out(n);
  if (n != 0) std::memcpy(out.data(), p, n * sizeof(T));
  return out;
}

std::string ascii_of(const char* p, std::size_t n) {
  const auto* end = static_cast<const char*>(std::memchr(p, 0, n));
  return std::string(p, end ? static_cast<std::size_t>(end - p) : n);
}

std::string reason_of(std::span<const std::byte> body) {
  const std::size_t n = std::min(body.size(), codec::reason_max);
  return std::string(reinterpret_cast<const char*>(body.data()), n);
}

std::string status_text(codec::status s, std::span<const std::byte> body) {
  std::string t(codec::name(s));
  if (!body.empty()) t += ": " + reason_of(body);
  return t;
}

reply failure(std::string error) {
  reply r;
  r.answered = false;
  r.error = std::move(error);
  return r;
}

// A call: one public call, its events copied once, its callback and its deadline.
struct call {
  codec::opcode op = codec::opcode::ping;
  std::uint32_t event_count = 0;  // events (ids for lookups; 1 for filter, stats and ping)
  bool linked_last = false;       // the last event has the linked flag: never pack past it
  bool done = false;              // answered
  clock_type::time_point deadline = clock_type::time_point::max();
  std::vector<std::byte> body;
  callback cb;
};
using call_ptr = std::unique_ptr<call>;

// A request: one frame, made of one call or of several packed create_* calls.
struct request {
  codec::opcode op = codec::opcode::ping;
  std::uint32_t event_count = 0;  // of the frame (0 for PING)
  std::uint32_t open = 0;         // calls not yet answered
  std::uint64_t request_id = 0;   // of the last send
  std::chrono::milliseconds overload_backoff{0};
  std::uint32_t unavailable_resends = 0;  // resends after `unavailable`, bounded
  std::uint32_t not_primary_follows = 0;  // not_primary answers followed, bounded
  std::uint32_t sends = 0;                // times sent, on any session
  std::vector<std::byte> body;
  std::vector<call_ptr> calls;  // in body order
};
using request_ptr = std::unique_ptr<request>;

enum class phase : std::uint8_t { connecting, hello_sent, auth_sent, ready, closed };

// One TCP (or TLS) connection and the buffers that belong to it.
struct connection {
  connection(asio::io_context& io, ssl::context* tls_ctx) : plain(io) {
    if (tls_ctx) tls = std::make_unique<ssl::stream<tcp::socket>>(io, *tls_ctx);
    rbuf.resize(read_buffer_size);
  }

  tcp::socket& socket() { return tls ? tls->next_layer() : plain; }

  template <class Buffers, class Handler>
  void read_some(const Buffers& b, Handler&& h) {
    if (tls)
      tls->async_read_some(b, std::forward<Handler>(h));
    else
      plain.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Buffers, class Handler>
  void write(const Buffers& b, Handler&& h) {
    if (tls)
      asio::async_write(*tls, b, std::forward<Handler>(h));
    else
      asio::async_write(plain, b, std::forward<Handler>(h));
  }

  void close() {
    ph = phase::closed;
    error_code ignored;
    socket().shutdown(tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
  }

  tcp::socket plain;
  std::unique_ptr<ssl::stream<tcp::socket>> tls;
  phase ph = phase::connecting;

  // Reading: frames are decoded in place from [rbeg, rend).
  std::vector<std::byte> rbuf;
  std::size_t rbeg = 0;
  std::size_t rend = 0;
  std::uint32_t body_limit = handshake_body_max;

  // Writing: frames are appended to out_next while out_writing is on the wire.
  std::vector<std::byte> out_next;
  std::vector<std::byte> out_writing;
  bool writing = false;

  // The session.
  std::array<std::byte, codec::hello_size> hello_bytes{};
  std::array<std::byte, codec::hello_reply_size> reply_bytes{};
  codec::digest proof{};
  codec::hello_reply hello_reply{};
  codec::session_keys keys;
  std::uint64_t seq_out = 0;  // of the next frame sent
  std::uint64_t seq_in = 0;   // expected of the next frame received
};
using connection_ptr = std::shared_ptr<connection>;

}  // namespace

struct client::impl {
  explicit impl(config c) : cfg_(std::move(c)), resolver_(io_) {
    if (cfg_.key_id.empty() || cfg_.key_id.size() > codec::key_id_max)
      throw client_error("remit client: key_id must be 1 to 32 characters");
    if (cfg_.secret.empty()) throw client_error("remit client: no secret for key " + cfg_.key_id);
    if (cfg_.servers.size() > codec::server_list_max)
      throw client_error("remit client: " + std::to_string(cfg_.servers.size()) +
                         " servers listed; at most " + std::to_string(codec::server_list_max));
    servers_ = cfg_.servers;
    if (servers_.empty()) servers_.push_back({cfg_.host, cfg_.port});
    for (const auto& a : servers_)
      if (a.host.empty() || a.port == 0)
        throw client_error("remit client: a server needs a host and a port from 1");
    if (cfg_.tls) setup_tls();
  }

  ~impl() { shutdown(); }
  impl(const impl&) = delete;
  impl& operator=(const impl&) = delete;

  // ---- lifecycle --------------------------------------------------------------------------

  // Starts the I/O thread, connects and authenticates; throws client_error when that fails.
  void start() {
    std::future<std::string> first = first_result_.get_future();
    asio::post(io_, [this] {
      state_ = state::connecting;
      begin_search();
      arm_tick();
    });
    thread_ = std::thread([this] { io_.run(); });
    io_thread_id_ = thread_.get_id();
    const std::string error = first.get();
    if (!error.empty()) {
      shutdown();
      throw client_error("remit client: " + error);
    }
  }

  // Answers everything unanswered with answered = false and stops the I/O thread. From the
  // I/O thread itself (a callback) it only starts that; the destructor then joins.
  void shutdown() {
    {
      std::lock_guard lk(mu_);
      if (!closed_) {
        closed_ = true;
        if (thread_.joinable()) asio::post(io_, [this] { close_io("client closed"); });
      }
    }
    if (thread_.joinable() && std::this_thread::get_id() != io_thread_id_) thread_.join();
  }

  // ---- calls ------------------------------------------------------------------------------

  void submit(call_ptr c) {
    if (cfg_.request_timeout.count() > 0) c->deadline = clock_type::now() + cfg_.request_timeout;
    {
      std::unique_lock lk(mu_);
      if (closed_) {
        lk.unlock();
        auto cb = std::move(c->cb);
        cb(failure("client closed"));
        return;
      }
      const std::uint64_t queued = queued_events_.load(std::memory_order_relaxed);
      if (queued + c->event_count > cfg_.queued_events_max) {
        // Answered on the I/O thread, like every other answer, and never inside the call:
        // a callback that calls again must not recurse. Posted under the lock, so ahead of
        // the handler that closes the client.
        asio::post(io_, [cb = std::move(c->cb)]() mutable {
          reply r;
          r.answered = true;
          r.status = codec::status::overloaded;
          r.error = "client queue full (queued_events_max)";
          cb(std::move(r));
        });
        return;
      }
      queued_events_.fetch_add(c->event_count, std::memory_order_relaxed);
      unanswered_.fetch_add(1, std::memory_order_relaxed);
      incoming_.push_back(std::move(c));
      if (drain_posted_) return;
      drain_posted_ = true;
    }
    asio::post(io_, [this] { drain(); });
  }

  template <class Fn>
  reply sync(Fn&& fn) {
    if (std::this_thread::get_id() == io_thread_id_)
      return failure("a synchronous call on the client's own I/O thread would never return");
    std::promise<reply> p;
    auto f = p.get_future();
    fn([&p](reply&& r) { p.set_value(std::move(r)); });
    return f.get();
  }

  // ---- I/O thread: queues -----------------------------------------------------------------

  void drain() {
    std::vector<call_ptr> batch;
    {
      std::lock_guard lk(mu_);
      batch.swap(incoming_);
      drain_posted_ = false;
    }
    if (state_ == state::closed) {
      for (auto& c : batch) answer_failed(*c, "client closed");
      return;
    }
    for (auto& c : batch) calls_.push_back(std::move(c));
    if (state_ == state::failed && !calls_.empty()) {
      // The last search gave up; a new call starts a new one.
      state_ = state::reconnecting;
      begin_search();
      return;
    }
    pump();
  }

  // Packs the calls at the front of calls_ into one request.
  request_ptr pack() {
    auto r = std::make_unique<request>();
    call_ptr first = std::move(calls_.front());
    calls_.pop_front();
    r->op = first->op;
    r->event_count = first->event_count;
    std::size_t body_size = first->body.size();
    bool open_chain = first->linked_last;
    std::vector<call_ptr> more;
    if (cfg_.batching && is_create(r->op)) {
      while (!calls_.empty() && !open_chain) {
        const call& next = *calls_.front();
        if (next.op != r->op) break;
        if (r->event_count + next.event_count > session_.event_count_max) break;
        if (body_size + next.body.size() > session_.body_size_max) break;
        r->event_count += next.event_count;
        body_size += next.body.size();
        open_chain = next.linked_last;
        more.push_back(std::move(calls_.front()));
        calls_.pop_front();
      }
    }
    if (more.empty()) {
      r->body = std::move(first->body);
    } else {
      r->body.reserve(body_size);
      r->body.insert(r->body.end(), first->body.begin(), first->body.end());
      for (const auto& c : more) r->body.insert(r->body.end(), c->body.begin(), c->body.end());
      first->body = {};
      for (auto& c : more) c->body = {};
    }
    r->calls.reserve(1 + more.size());
    r->calls.push_back(std::move(first));
    for (auto& c : more) r->calls.push_back(std::move(c));
    r->open = static_cast<std::uint32_t>(r->calls.size());
    std::uint64_t events = 0;
    for (const auto& c : r->calls) events += c->event_count;
    queued_events_.fetch_sub(events, std::memory_order_relaxed);
    REMIT_CLIENT_CHECK(r->body.size() == body_size);
    return r;
  }

  // Sends what fits in the pipeline, then writes it.
  void pump() {
    if (state_ != state::connected) return;
    const auto& c = conn_;
    while (inflight_.size() < session_.inflight_max) {
      request_ptr r;
      if (!resend_.empty()) {
        r = std::move(resend_.front());
        resend_.pop_front();
      } else if (!calls_.empty()) {
        r = pack();
      } else {
        break;
      }
      if (r->open == 0) continue;  // every call of it timed out
      if (!fits(*r)) continue;
      send(*c, std::move(r));
    }
    flush(c);
  }

  // Whether a request fits the server's limits; answers it when not (sending it would make
  // the server close the session, and sending it again would do the same).
  bool fits(request& r) {
    if (r.body.size() <= session_.body_size_max && r.event_count <= session_.event_count_max)
      return true;
    const std::string e = std::to_string(r.event_count) + " events (" +
                          std::to_string(r.body.size()) + " bytes) exceed the server's limits (" +
                          std::to_string(session_.event_count_max) + " events, " +
                          std::to_string(session_.body_size_max) + " bytes)";
    for (auto& c : r.calls)
      if (!c->done) answer_failed(*c, e);
    return false;
  }

  void send(connection& c, request_ptr r) {
    r->request_id = next_request_id_++;
    ++r->sends;
    append_frame(c, r->op, r->event_count, r->request_id, r->body);
    const std::uint64_t id = r->request_id;
    inflight_.emplace(id, std::move(r));
  }

  // Appends one sealed frame to the connection's next write.
  void append_frame(connection& c, codec::opcode op, std::uint32_t event_count,
                    std::uint64_t request_id, std::span<const std::byte> body) {
    const std::size_t at = c.out_next.size();
    c.out_next.resize(at + codec::header_size + body.size());
    if (!body.empty())
      std::memcpy(c.out_next.data() + at + codec::header_size, body.data(), body.size());
    codec::frame_fields f;
    f.opcode = static_cast<std::uint16_t>(op);
    f.event_count = event_count;
    f.request_id = request_id;
    f.sequence = c.ph == phase::ready ? c.seq_out++ : 0;
    const bool with_mac = c.ph == phase::ready && session_.mac;
    codec::seal_frame(std::span(c.out_next).subspan(at), f, with_mac ? &c.keys.c2s : nullptr);
  }

  void flush(const connection_ptr& c) {
    if (!c || c->writing || c->out_next.empty()) return;
    c->out_writing.swap(c->out_next);
    c->out_next.clear();
    c->writing = true;
    c->write(asio::buffer(c->out_writing), [this, c](const error_code& ec, std::size_t) {
      if (c != conn_) return;
      c->writing = false;
      if (ec) {
        connection_lost(c, "write: " + ec.message());
        return;
      }
      c->out_writing.clear();
      flush(c);
    });
  }

  // ---- I/O thread: answers ----------------------------------------------------------------

  void answer(call& c, reply&& r) {
    REMIT_CLIENT_CHECK(!c.done);
    c.done = true;
    unanswered_.fetch_sub(1, std::memory_order_relaxed);
    auto cb = std::move(c.cb);
    cb(std::move(r));
  }

  void answer_failed(call& c, const std::string& error) { answer(c, failure(error)); }

  void answer_all(request& r, const std::string& error) {
    for (auto& c : r.calls)
      if (!c->done) answer_failed(*c, error);
    r.open = 0;
  }

  // Every call not yet answered, wherever it is.
  void fail_everything(const std::string& error) {
    for (auto& [id, r] : inflight_) answer_all(*r, error);
    inflight_.clear();
    for (auto& r : resend_) answer_all(*r, error);
    resend_.clear();
    for (auto& [due, r] : delayed_) answer_all(*r, error);
    delayed_.clear();
    std::uint64_t events = 0;
    for (auto& c : calls_) {
      events += c->event_count;
      answer_failed(*c, error);
    }
    calls_.clear();
    queued_events_.fetch_sub(events, std::memory_order_relaxed);
  }

  void handle_response(const codec::frame_header& h, std::span<const std::byte> body) {
    const auto st = static_cast<codec::status>(h.status);
    const auto it = h.request_id == 0 ? inflight_.end() : inflight_.find(h.request_id);
    if (it == inflight_.end()) {
      // bad_magic, unsupported_version and header_checksum carry request_id 0: the session
      // is closed by the server; what was in flight is sent again on a new one.
      if (st != codec::status::ok && codec::closes_session(st))
        connection_lost(conn_, "server: " + status_text(st, body));
      return;
    }
    request_ptr r = std::move(it->second);
    inflight_.erase(it);
    if (st == codec::status::overloaded) {
      retry_later(std::move(r));
      return;
    }
    if (h.opcode != static_cast<std::uint16_t>(r->op)) {
      answer_all(*r, "malformed response: opcode " + std::to_string(h.opcode) + " to " +
                         std::string(codec::name(r->op)));
      return;
    }
    if (st == codec::status::unavailable && r->unavailable_resends < cfg_.reconnects_max) {
      // The outcome is unknown (section 9): send it again by id later, on this session.
      ++r->unavailable_resends;
      unavailable_resent_.fetch_add(1, std::memory_order_relaxed);
      retry_later(std::move(r));
      return;
    }
    if (st == codec::status::not_primary && cfg_.follow_primary &&
        r->not_primary_follows < cfg_.reconnects_max) {
      // Not executed (section 9): find the primary, starting with the one the body names,
      // and send it there with everything else in flight.
      ++r->not_primary_follows;
      not_primary_followed_.fetch_add(1, std::memory_order_relaxed);
      std::string error;
      std::optional<codec::server_address> named;
      if (!body.empty()) named = codec::parse_server(reason_of(body), error);
      const std::string why = endpoint_name() + " answered not_primary" +
                              (named ? " naming " + codec::format_server(*named) : "");
      // Back among the requests in flight, so that it is resent in the order it was sent.
      const std::uint64_t id = r->request_id;
      inflight_.emplace(id, std::move(r));
      drop_and_search(conn_, why, named);
      return;
    }
    if (st != codec::status::ok) {
      for (auto& c : r->calls) {
        if (c->done) continue;
        answer(*c, error_reply(*r, st, body));
      }
      // storage_failed, shutting_down, bad_sequence, ...: the server closes the session.
      if (codec::closes_session(st)) connection_lost(conn_, "server: " + status_text(st, body));
      return;
    }
    if (r->open == 0) return;  // every call of it timed out
    if (const std::string e = decode(*r, h, body); !e.empty())
      answer_all(*r, "malformed response: " + e);
  }

  // The reply to a call of `r` answered with status `st` (not ok).
  reply error_reply(const request& r, codec::status st, std::span<const std::byte> body) const {
    reply rep;
    rep.answered = true;
    rep.status = st;
    rep.error = reason_of(body);
    rep.resends = r.sends == 0 ? 0 : r.sends - 1;
    if (st == codec::status::not_primary) {
      // The body is the primary's client address (section 9), not a reason.
      rep.primary = rep.error;
      rep.error = endpoint_name() + " is not the primary; " +
                  (rep.primary.empty() ? "it does not know which node is"
                                       : "the primary is at " + rep.primary) +
                  " (the request was not executed)";
    } else if (st == codec::status::unavailable) {
      const std::string said = rep.error.empty() ? "" : " (the server said: " + rep.error + ")";
      rep.error = "the outcome is unknown after " + std::to_string(r.unavailable_resends) +
                  " resends; resend by id later" + said;
    }
    return rep;
  }

  // Splits an ok response back over the calls of its request; returns what is wrong with it.
  std::string decode(request& r, const codec::frame_header& h, std::span<const std::byte> body) {
    const std::uint32_t n = h.event_count;
    auto ok_reply = [&r] {
      reply rep;
      rep.answered = true;
      rep.resends = r.sends == 0 ? 0 : r.sends - 1;
      return rep;
    };
    if (codec::is_node_opcode(static_cast<std::uint16_t>(r.op))) {
      // A node answer: its body is the caller's to decode (docs/CLUSTER.md).
      reply rep = ok_reply();
      rep.body.assign(body.begin(), body.end());
      answer(*r.calls.front(), std::move(rep));
      return {};
    }
    switch (r.op) {
      case codec::opcode::create_accounts:
      case codec::opcode::create_transfers:
      case codec::opcode::set_account_controls: {
        if (n != r.event_count || body.size() != std::size_t{n} * sizeof(result))
          return std::to_string(n) + " results to " + std::to_string(r.event_count) + " events";
        std::size_t at = 0;
        for (auto& c : r.calls) {
          const std::size_t count = c->event_count;
          if (!c->done) {
            reply rep = ok_reply();
            rep.results = events_of<result>(body.data() + at * sizeof(result), count);
            answer(*c, std::move(rep));
          }
          at += count;
        }
        return {};
      }
      case codec::opcode::lookup_accounts:
      case codec::opcode::lookup_transfers:
      case codec::opcode::get_account_transfers: {
        static_assert(sizeof(account) == sizeof(transfer));
        const std::uint32_t m_max =
            r.op == codec::opcode::get_account_transfers ? session_.event_count_max : r.event_count;
        if (n > m_max || body.size() != std::size_t{n} * sizeof(account))
          return std::to_string(n) + " events in " + std::to_string(body.size()) + " bytes";
        REMIT_CLIENT_CHECK(r.calls.size() == 1);
        reply rep = ok_reply();
        if (r.op == codec::opcode::lookup_accounts)
          rep.accounts = events_of<account>(body.data(), n);
        else
          rep.transfers = events_of<transfer>(body.data(), n);
        answer(*r.calls.front(), std::move(rep));
        return {};
      }
      case codec::opcode::get_ledger_stats: {
        if (n != 1 || body.size() != sizeof(ledger_stats)) return "not one LedgerStats";
        reply rep = ok_reply();
        rep.stats = load_event<ledger_stats>(body.data());
        answer(*r.calls.front(), std::move(rep));
        return {};
      }
      case codec::opcode::ping: {
        if (n != 0 || body.size() > codec::ping_body_max) return "a PING reply of that size";
        reply rep = ok_reply();
        rep.ping.assign(body.begin(), body.end());
        answer(*r.calls.front(), std::move(rep));
        return {};
      }
      case codec::opcode::hello:
      case codec::opcode::auth:
        break;
    }
    return "a response to an opcode never sent";
  }

  void retry_later(request_ptr r) {
    if (r->open == 0) return;
    r->overload_backoff = r->overload_backoff.count() == 0
                              ? backoff_min
                              : std::min(r->overload_backoff * 2, backoff_max);
    const auto due = clock_type::now() + r->overload_backoff;
    delayed_.emplace(due, std::move(r));
    arm_retry();
  }

  void arm_retry() {
    if (delayed_.empty()) return;
    const auto due = delayed_.begin()->first;
    if (retry_armed_ && retry_due_ <= due) return;
    retry_armed_ = true;
    retry_due_ = due;
    retry_timer_.expires_at(due);
    retry_timer_.async_wait([this](const error_code& ec) {
      if (ec == asio::error::operation_aborted || state_ == state::closed) return;
      retry_armed_ = false;
      const auto now = clock_type::now();
      while (!delayed_.empty() && delayed_.begin()->first <= now) {
        resend_.push_back(std::move(delayed_.begin()->second));
        delayed_.erase(delayed_.begin());
      }
      arm_retry();
      pump();
    });
  }

  // ---- I/O thread: timeouts ---------------------------------------------------------------

  void arm_tick() {
    if (cfg_.request_timeout.count() <= 0) return;
    const auto tick = std::clamp(cfg_.request_timeout / 10, std::chrono::milliseconds(1),
                                 std::chrono::milliseconds(100));
    tick_timer_.expires_after(tick);
    tick_timer_.async_wait([this](const error_code& ec) {
      if (ec == asio::error::operation_aborted || state_ == state::closed) return;
      expire(clock_type::now());
      arm_tick();
    });
  }

  // Answers the calls whose deadline has passed. A request in flight keeps its slot until
  // its response comes (the server still counts it); one that waits to be sent is dropped.
  void expire(clock_type::time_point now) {
    const std::string e =
        "request timed out after " + std::to_string(cfg_.request_timeout.count()) + " ms";
    auto expire_request = [&](request& r) {
      for (auto& c : r.calls)
        if (!c->done && c->deadline <= now) {
          answer_failed(*c, e);
          --r.open;
        }
      return r.open == 0;
    };
    for (auto& [id, r] : inflight_) expire_request(*r);
    std::erase_if(resend_, [&](const request_ptr& r) { return expire_request(*r); });
    std::erase_if(delayed_, [&](const auto& kv) { return expire_request(*kv.second); });
    // calls_ is in submission order, so (nearly) in deadline order.
    std::uint64_t events = 0;
    while (!calls_.empty() && calls_.front()->deadline <= now) {
      events += calls_.front()->event_count;
      answer_failed(*calls_.front(), e);
      calls_.pop_front();
    }
    queued_events_.fetch_sub(events, std::memory_order_relaxed);
  }

  // ---- I/O thread: connecting -------------------------------------------------------------

  void setup_tls() {
    tls_ctx_.emplace(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(tls_ctx_->native_handle(), TLS1_2_VERSION);
    try {
      if (cfg_.tls_verify) {
        tls_ctx_->set_verify_mode(ssl::verify_peer);
        if (cfg_.tls_ca_file.empty())
          tls_ctx_->set_default_verify_paths();
        else
          tls_ctx_->load_verify_file(cfg_.tls_ca_file);
      } else {
        tls_ctx_->set_verify_mode(ssl::verify_none);
      }
    } catch (const boost::system::system_error& e) {
      throw client_error("remit client: TLS CA file " + cfg_.tls_ca_file + ": " + e.what());
    }
  }

  // A new search: passes over the servers until one settles (client.hpp).
  void begin_search() {
    search_began_ = clock_type::now();
    passes_ = 0;
    start_pass();
  }

  void start_pass() {
    pass_.clear();
    if (hint_) pass_.push_back(*hint_);
    for (const auto& a : servers_)
      if (!hint_ || !(a == *hint_)) pass_.push_back(a);
    pass_at_ = 0;
    standby_seen_ = false;
    pass_report_.clear();
    start_attempt();
  }

  // The attempt at pass_[pass_at_] did not settle: the next address, or the pass failed.
  void next_in_pass(const std::string& reason) {
    if (!pass_report_.empty()) pass_report_ += "; ";
    // The server named once: most reasons name it already.
    const bool named = pass_.size() == 1 || reason.find(endpoint_name()) != std::string::npos;
    pass_report_ += named ? reason : endpoint_name() + ": " + reason;
    ++pass_at_;
    if (pass_at_ < pass_.size()) {
      start_attempt();
      return;
    }
    pass_failed();
  }

  // No server of the pass settled: another pass after a backoff, or give up.
  void pass_failed() {
    ++passes_;
    // Nodes that answer as standbys are up; a primary is likely being chosen.
    const bool failover = standby_seen_ && clock_type::now() - search_began_ < cfg_.connect_timeout;
    const bool go_on = failover || (!first_ && passes_ < cfg_.reconnects_max);
    if (go_on) {
      schedule_pass();
      return;
    }
    hint_.reset();
    std::string what = pass_report_;
    const std::string passes = std::to_string(passes_) + " pass" + (passes_ == 1 ? "" : "es") +
                               " over " + std::to_string(pass_.size()) + " server" +
                               (pass_.size() == 1 ? "" : "s");
    if (standby_seen_)
      what = "no primary found in " + passes + " (the last: " + pass_report_ + ")";
    else if (pass_.size() > 1)
      what = "no server could be used in " + passes + " (the last: " + pass_report_ + ")";
    if (first_) {
      first_ = false;
      state_ = state::closed;
      first_result_.set_value(what.empty() ? "connection failed" : what);
      return;
    }
    state_ = state::failed;
    fail_everything("connection lost (" + lost_reason_ + "); " + std::to_string(passes_) +
                    " reconnect attempts failed, the last: " + what);
  }

  void schedule_pass() {
    if (!first_) state_ = state::reconnecting;
    backoff_timer_.expires_after(backoff_after(passes_));
    backoff_timer_.async_wait([this](const error_code& ec) {
      if (ec == asio::error::operation_aborted || state_ == state::closed ||
          state_ == state::connected)
        return;
      start_pass();
    });
  }

  void start_attempt() {
    target_ = pass_.at(pass_at_);
    auto c = std::make_shared<connection>(io_, tls_ctx_ ? &*tls_ctx_ : nullptr);
    conn_ = c;
    connect_timer_.expires_after(cfg_.connect_timeout);
    connect_timer_.async_wait([this, c](const error_code& ec) {
      if (ec || c != conn_ || c->ph == phase::ready) return;
      attempt_failed(c, "connecting to " + endpoint_name() + " timed out after " +
                            std::to_string(cfg_.connect_timeout.count()) + " ms");
    });
    resolver_.async_resolve(
        target_.host, std::to_string(target_.port),
        [this, c](const error_code& ec, const tcp::resolver::results_type& results) {
          if (c != conn_) return;
          if (ec) {
            attempt_failed(c, "resolving " + target_.host + ": " + ec.message());
            return;
          }
          asio::async_connect(
              c->socket(), results, [this, c](const error_code& ec2, const tcp::endpoint&) {
                if (c != conn_) return;
                if (ec2) {
                  attempt_failed(c, "connecting to " + endpoint_name() + ": " + ec2.message());
                  return;
                }
                connected(c);
              });
        });
  }

  void connected(const connection_ptr& c) {
    error_code ignored;
    c->socket().set_option(tcp::no_delay(true), ignored);
    if (!c->tls) {
      send_hello(c);
      return;
    }
    SSL* s = c->tls->native_handle();
    error_code not_an_address;
    asio::ip::make_address(target_.host, not_an_address);
    if (not_an_address)  // SNI, for names only (SSL_set_tlsext_host_name, without its cast)
      SSL_ctrl(s, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(target_.host.c_str()));
    if (cfg_.tls_verify) c->tls->set_verify_callback(ssl::host_name_verification(target_.host));
    c->tls->async_handshake(ssl::stream_base::client, [this, c](const error_code& ec2) {
      if (c != conn_) return;
      if (ec2) {
        attempt_failed(c, "TLS handshake with " + endpoint_name() + ": " + ec2.message());
        return;
      }
      send_hello(c);
    });
  }

  void send_hello(const connection_ptr& c) {
    codec::hello h{};
    std::memcpy(h.key_id.data(), cfg_.key_id.data(), cfg_.key_id.size());
    codec::random_bytes(h.client_nonce);
    h.mac_mode =
        static_cast<std::uint32_t>(cfg_.mac ? codec::mac_mode::hmac_sha256 : codec::mac_mode::none);
    std::memcpy(c->hello_bytes.data(), &h, sizeof h);
    append_frame(*c, codec::opcode::hello, 1, 0, c->hello_bytes);
    c->ph = phase::hello_sent;
    flush(c);
    read(c);
  }

  // A handshake reply: status, opcode, size; returns what is wrong, or nothing.
  static std::string check_handshake_reply(const codec::frame_header& h,
                                           std::span<const std::byte> body, codec::opcode op,
                                           std::size_t size) {
    const auto st = static_cast<codec::status>(h.status);
    if (st != codec::status::ok)
      return std::string(codec::name(op)) + " refused: " + status_text(st, body);
    if (h.opcode != static_cast<std::uint16_t>(op) || h.request_id != 0)
      return "unexpected reply to " + std::string(codec::name(op));
    if (h.event_count != 1 || body.size() != size)
      return "malformed reply to " + std::string(codec::name(op));
    return {};
  }

  void on_hello_reply(const connection_ptr& c, const codec::frame_header& h,
                      std::span<const std::byte> body) {
    if (auto e = check_handshake_reply(h, body, codec::opcode::hello, codec::hello_reply_size);
        !e.empty()) {
      attempt_failed(c, e);
      return;
    }
    std::memcpy(c->reply_bytes.data(), body.data(), body.size());
    const auto r = load_event<codec::hello_reply>(body.data());
    if (r.event_count_max == 0 || r.inflight_max == 0 ||
        std::uint64_t{r.body_size_max} < 128ull * r.event_count_max) {
      attempt_failed(c, "HELLO reply announces impossible limits");
      return;
    }
    if (r.mac_required != 0 && !cfg_.mac) {
      attempt_failed(c, "the server requires a MAC on every frame (set config.mac)");
      return;
    }
    if (cfg_.follow_primary && r.role == static_cast<std::uint32_t>(codec::node_role::standby)) {
      // Requests would be answered not_primary: look further (section 9).
      standby_seen_ = true;
      attempt_failed(c, "a standby");
      return;
    }
    c->hello_reply = r;
    c->proof = codec::auth_proof(cfg_.secret, c->hello_bytes, c->reply_bytes);
    append_frame(*c, codec::opcode::auth, 1, 0, std::as_bytes(std::span(c->proof)));
    c->ph = phase::auth_sent;
    flush(c);
  }

  void on_auth_reply(const connection_ptr& c, const codec::frame_header& h,
                     std::span<const std::byte> body) {
    if (auto e = check_handshake_reply(h, body, codec::opcode::auth, codec::auth_reply_size);
        !e.empty()) {
      attempt_failed(c, e);
      return;
    }
    const auto a = load_event<codec::auth_reply>(body.data());
    const codec::digest expected =
        codec::server_proof(cfg_.secret, c->hello_bytes, c->reply_bytes, c->proof);
    if (!codec::equal_ct(expected, a.server_proof)) {
      attempt_failed(c, "the server's proof does not verify: it does not hold key '" + cfg_.key_id +
                            "' (or is not the server)");
      return;
    }
    const auto hello = load_event<codec::hello>(c->hello_bytes.data());
    c->keys =
        codec::derive_session_keys(cfg_.secret, hello.client_nonce, c->hello_reply.server_nonce);
    c->seq_out = 1;
    c->seq_in = 1;
    c->body_limit = c->hello_reply.body_size_max;
    c->ph = phase::ready;
    connect_timer_.cancel();

    session_.session_id = a.session_id;
    session_.permissions = a.permissions;
    session_.body_size_max = c->hello_reply.body_size_max;
    session_.event_count_max = c->hello_reply.event_count_max;
    session_.inflight_max = c->hello_reply.inflight_max;
    session_.mac = cfg_.mac;
    session_.server_version =
        ascii_of(c->hello_reply.server_version.data(), c->hello_reply.server_version.size());
    session_.role = c->hello_reply.role;
    session_.server = endpoint_name();
    {
      std::lock_guard lk(session_mu_);
      latest_session_ = session_;
    }

    state_ = state::connected;
    passes_ = 0;
    hint_.reset();
    if (first_) {
      first_ = false;
      first_result_.set_value({});
    } else {
      reconnects_.fetch_add(1, std::memory_order_relaxed);
    }
    pump();
  }

  // A connection attempt (connect, TLS, HELLO, AUTH) failed, or met a standby.
  void attempt_failed(const connection_ptr& c, const std::string& reason) {
    if (c != conn_) return;
    c->close();
    conn_.reset();
    connect_timer_.cancel();
    next_in_pass(reason.empty() ? "connection failed" : reason);
  }

  // An authenticated connection failed: every request in flight is sent again on a new one.
  void connection_lost(const connection_ptr& c, const std::string& reason) {
    if (!c || c != conn_) return;
    if (c->ph != phase::ready) {
      attempt_failed(c, reason);
      return;
    }
    drop_and_search(c, reason, std::nullopt);
  }

  // Leaves the session of `c`: what is in flight goes back to be resent, and a search for a
  // server begins, trying `named` first (a not_primary's primary: at once) or, without one,
  // after a backoff.
  void drop_and_search(const connection_ptr& c, const std::string& reason,
                       std::optional<codec::server_address> named) {
    c->close();
    conn_.reset();
    connect_timer_.cancel();
    lost_reason_ = reason;
    std::vector<request_ptr> again;
    again.reserve(inflight_.size());
    for (auto& [id, r] : inflight_)
      if (r->open != 0) again.push_back(std::move(r));
    inflight_.clear();
    resent_.fetch_add(again.size(), std::memory_order_relaxed);
    std::sort(again.begin(), again.end(), [](const request_ptr& a, const request_ptr& b) {
      return a->request_id < b->request_id;
    });
    // In the order they were first sent, ahead of whatever waited for a resend.
    for (auto it = again.rbegin(); it != again.rend(); ++it) resend_.push_front(std::move(*it));
    state_ = state::reconnecting;
    if (cfg_.reconnects_max == 0) {
      state_ = state::failed;
      fail_everything("connection lost (" + reason + "); reconnects_max is 0");
      return;
    }
    hint_ = std::move(named);
    search_began_ = clock_type::now();
    passes_ = 0;
    if (hint_)
      start_pass();
    else
      schedule_pass();
  }

  std::string endpoint_name() const { return codec::format_server(target_); }

  // ---- I/O thread: reading ----------------------------------------------------------------

  void read(const connection_ptr& c) {
    auto room = asio::buffer(c->rbuf.data() + c->rend, c->rbuf.size() - c->rend);
    c->read_some(room, [this, c](const error_code& ec, std::size_t n) {
      if (c != conn_) return;
      if (ec) {
        std::string why =
            ec == asio::error::eof ? "the server closed the connection" : "read: " + ec.message();
        if (c->ph != phase::ready)
          why += " during the handshake (does it require TLS, or refuse this address?)";
        connection_lost(c, why);
        return;
      }
      c->rend += n;
      if (!process(c)) return;
      pump();
      read(c);
    });
  }

  // Decodes every whole frame in the read buffer; false when the connection was dropped.
  bool process(const connection_ptr& c) {
    while (c->rend - c->rbeg >= codec::header_size) {
      const std::byte* at = c->rbuf.data() + c->rbeg;
      const codec::frame_header h = codec::read_header(at);
      if (const auto st = codec::check_header(h, c->body_limit, false); st != codec::status::ok) {
        connection_lost(c, "received a frame with " + std::string(codec::name(st)));
        return false;
      }
      const std::size_t size = codec::header_size + h.body_size;
      if (c->rend - c->rbeg < size) {
        make_room(*c, size);
        return true;
      }
      if (!handle_frame(c, h, std::span(at, size))) return false;
      c->rbeg += size;
      if (c != conn_) return false;
    }
    make_room(*c, codec::header_size);
    return true;
  }

  // Makes the read buffer hold at least `frame_size` bytes from rbeg, with room to read.
  static void make_room(connection& c, std::size_t frame_size) {
    if (c.rbeg == c.rend) c.rbeg = c.rend = 0;
    const bool little_room = c.rbuf.size() - c.rend < read_room_min;
    if (c.rbeg != 0 && (little_room || c.rbuf.size() - c.rbeg < frame_size)) {
      std::memmove(c.rbuf.data(), c.rbuf.data() + c.rbeg, c.rend - c.rbeg);
      c.rend -= c.rbeg;
      c.rbeg = 0;
    }
    if (c.rbuf.size() < frame_size + read_room_min) c.rbuf.resize(frame_size + read_room_min);
  }

  // Checks one frame (past its header) and acts on it; false when the connection was dropped.
  bool handle_frame(const connection_ptr& c, const codec::frame_header& h,
                    std::span<const std::byte> frame) {
    const auto body = frame.subspan(codec::header_size);
    std::string bad;
    if (crc32c(body.data(), body.size()) != h.body_crc32c)
      bad = "a bad body checksum";
    else if (h.flags != codec::flag_response || h.reserved != 0)
      bad = "bad flags or reserved fields";
    else if (h.sequence != (c->ph == phase::ready ? c->seq_in : 0))
      bad = "sequence " + std::to_string(h.sequence) + " where " +
            std::to_string(c->ph == phase::ready ? c->seq_in : 0) + " was due";
    else if (c->ph == phase::ready && session_.mac ? !c->keys.s2c.verify(frame)
                                                   : !bytes_zero(h.mac.data(), h.mac.size()))
      bad = "a MAC that does not verify";
    if (!bad.empty()) {
      connection_lost(c, "received a frame with " + bad);
      return false;
    }
    switch (c->ph) {
      case phase::hello_sent:
        on_hello_reply(c, h, body);
        break;
      case phase::auth_sent:
        on_auth_reply(c, h, body);
        break;
      case phase::ready:
        ++c->seq_in;
        handle_response(h, body);
        break;
      case phase::connecting:
      case phase::closed:
        connection_lost(c, "a frame before HELLO");
        return false;
    }
    return c == conn_;
  }

  // ---- I/O thread: closing ----------------------------------------------------------------

  void close_io(const std::string& reason) {
    {
      std::lock_guard lk(mu_);
      for (auto& c : incoming_) calls_.push_back(std::move(c));
      incoming_.clear();
    }
    state_ = state::closed;
    fail_everything(reason);
    if (conn_) conn_->close();
    conn_.reset();
    resolver_.cancel();
    connect_timer_.cancel();
    backoff_timer_.cancel();
    retry_timer_.cancel();
    tick_timer_.cancel();
    work_.reset();
    io_.stop();
  }

  // ---- state ------------------------------------------------------------------------------

  enum class state : std::uint8_t { connecting, connected, reconnecting, failed, closed };

  const config cfg_;
  std::optional<ssl::context> tls_ctx_;  // outlives every connection
  asio::io_context io_;
  // Keeps run() going while nothing is pending (a client that gave up waits for calls).
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  tcp::resolver resolver_;
  asio::steady_timer connect_timer_{io_};
  asio::steady_timer backoff_timer_{io_};
  asio::steady_timer retry_timer_{io_};
  asio::steady_timer tick_timer_{io_};
  std::thread thread_;
  std::thread::id io_thread_id_;

  // Shared with calling threads.
  std::mutex mu_;
  bool closed_ = false;        // guarded by mu_
  bool drain_posted_ = false;  // guarded by mu_
  std::vector<call_ptr> incoming_;
  std::atomic<std::uint64_t> queued_events_{0};
  std::atomic<std::uint32_t> unanswered_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::atomic<std::uint64_t> not_primary_followed_{0};
  std::atomic<std::uint64_t> unavailable_resent_{0};
  std::atomic<std::uint64_t> resent_{0};
  std::promise<std::string> first_result_;  // "" once the first session is up
  mutable std::mutex session_mu_;
  session_info latest_session_;  // guarded by session_mu_; set before first_result_

  // The I/O thread's alone.
  state state_ = state::connecting;
  bool first_ = true;
  std::vector<codec::server_address> servers_;  // the configured list, never empty
  // The search (begin_search): the pass under way, the attempt, what each attempt said.
  std::optional<codec::server_address> hint_;  // a not_primary's primary, tried first
  std::vector<codec::server_address> pass_;
  std::size_t pass_at_ = 0;
  codec::server_address target_;  // of the attempt, then of the session
  std::uint32_t passes_ = 0;      // failed in a row
  bool standby_seen_ = false;     // in this pass
  clock_type::time_point search_began_{};
  std::string pass_report_;
  std::string lost_reason_;
  connection_ptr conn_;
  session_info session_;  // of the current (or last) session
  std::uint64_t next_request_id_ = 1;
  std::deque<call_ptr> calls_;
  std::deque<request_ptr> resend_;
  std::multimap<clock_type::time_point, request_ptr> delayed_;
  bool retry_armed_ = false;
  clock_type::time_point retry_due_{};
  std::unordered_map<std::uint64_t, request_ptr> inflight_;
};

// ---- client -------------------------------------------------------------------------------

namespace {

template <class T>
call_ptr make_call(codec::opcode op, std::span<const T> events, callback cb) {
  auto c = std::make_unique<call>();
  c->op = op;
  c->event_count = static_cast<std::uint32_t>(events.size());
  c->body = bytes_of(events);
  c->cb = std::move(cb);
  return c;
}

}  // namespace

client::client(config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
  impl_->start();
}

client::~client() {
  // The I/O thread cannot join itself: destroy a client elsewhere than in its own callback.
  REMIT_CLIENT_CHECK(!impl_ || std::this_thread::get_id() != impl_->io_thread_id_);
  close();
}

session_info client::session() const {
  std::lock_guard lk(impl_->session_mu_);
  return impl_->latest_session_;
}

void client::create_accounts(std::span<const account> events, callback cb) {
  auto c = make_call(codec::opcode::create_accounts, events, std::move(cb));
  c->linked_last = !events.empty() && (events.back().flags & account_flags::linked) != 0;
  impl_->submit(std::move(c));
}

void client::create_transfers(std::span<const transfer> events, callback cb) {
  auto c = make_call(codec::opcode::create_transfers, events, std::move(cb));
  c->linked_last = !events.empty() && (events.back().flags & transfer_flags::linked) != 0;
  impl_->submit(std::move(c));
}

void client::lookup_accounts(std::span<const u128> ids, callback cb) {
  impl_->submit(make_call(codec::opcode::lookup_accounts, ids, std::move(cb)));
}

void client::lookup_transfers(std::span<const u128> ids, callback cb) {
  impl_->submit(make_call(codec::opcode::lookup_transfers, ids, std::move(cb)));
}

void client::get_account_transfers(const account_filter& filter, callback cb) {
  impl_->submit(
      make_call(codec::opcode::get_account_transfers, std::span(&filter, 1), std::move(cb)));
}

void client::set_account_controls(std::span<const account_controls> events, callback cb) {
  impl_->submit(make_call(codec::opcode::set_account_controls, events, std::move(cb)));
}

void client::get_ledger_stats(std::uint32_t ledger, callback cb) {
  ledger_stats_request r{};
  r.ledger = ledger;
  impl_->submit(make_call(codec::opcode::get_ledger_stats,
                          std::span<const ledger_stats_request>(&r, 1), std::move(cb)));
}

void client::ping(std::span<const std::byte> payload, callback cb) {
  auto c = std::make_unique<call>();
  c->op = codec::opcode::ping;
  c->event_count = 0;
  c->body.assign(payload.begin(), payload.end());
  c->cb = std::move(cb);
  impl_->submit(std::move(c));
}

void client::node_request(std::uint16_t opcode, std::span<const std::byte> body, callback cb) {
  if (!codec::is_node_opcode(opcode))
    throw std::invalid_argument("remit client: node_request takes opcodes 64 to 127, not " +
                                std::to_string(opcode));
  auto c = std::make_unique<call>();
  c->op = static_cast<codec::opcode>(opcode);
  c->event_count = 1;
  c->body.assign(body.begin(), body.end());
  c->cb = std::move(cb);
  impl_->submit(std::move(c));
}

reply client::create_accounts(std::span<const account> events) {
  return impl_->sync([&](callback cb) { create_accounts(events, std::move(cb)); });
}
reply client::create_transfers(std::span<const transfer> events) {
  return impl_->sync([&](callback cb) { create_transfers(events, std::move(cb)); });
}
reply client::lookup_accounts(std::span<const u128> ids) {
  return impl_->sync([&](callback cb) { lookup_accounts(ids, std::move(cb)); });
}
reply client::lookup_transfers(std::span<const u128> ids) {
  return impl_->sync([&](callback cb) { lookup_transfers(ids, std::move(cb)); });
}
reply client::get_account_transfers(const account_filter& filter) {
  return impl_->sync([&](callback cb) { get_account_transfers(filter, std::move(cb)); });
}
reply client::set_account_controls(std::span<const account_controls> events) {
  return impl_->sync([&](callback cb) { set_account_controls(events, std::move(cb)); });
}
reply client::get_ledger_stats(std::uint32_t ledger) {
  return impl_->sync([&](callback cb) { get_ledger_stats(ledger, std::move(cb)); });
}
reply client::ping(std::span<const std::byte> payload) {
  return impl_->sync([&](callback cb) { ping(payload, std::move(cb)); });
}
reply client::node_request(std::uint16_t opcode, std::span<const std::byte> body) {
  return impl_->sync([&](callback cb) { node_request(opcode, body, std::move(cb)); });
}

std::uint32_t client::inflight() const {
  return impl_->unanswered_.load(std::memory_order_relaxed);
}

std::uint64_t client::reconnects() const {
  return impl_->reconnects_.load(std::memory_order_relaxed);
}

counters client::stats() const {
  counters n;
  n.reconnects = impl_->reconnects_.load(std::memory_order_relaxed);
  n.not_primary_followed = impl_->not_primary_followed_.load(std::memory_order_relaxed);
  n.unavailable_resent = impl_->unavailable_resent_.load(std::memory_order_relaxed);
  n.resent = impl_->resent_.load(std::memory_order_relaxed);
  return n;
}

void client::close() {
  if (impl_) impl_->shutdown();
}

void load_key(config& cfg, const std::string& keys_file, const std::string& key_id) {
  std::string error;
  const auto keys = codec::read_keys_file(keys_file, error);
  if (!keys) throw client_error(error);
  for (const auto& k : *keys) {
    if (k.id != key_id) continue;
    cfg.key_id = k.id;
    cfg.secret = k.secret;
    return;
  }
  throw client_error(keys_file + ": no key '" + key_id + "'");
}

}  // namespace remit::client
