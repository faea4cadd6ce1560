#include "gateway/server/server.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "actors/engine.hpp"
#include "engine/assert.hpp"
#include "gateway/codec/crypto.hpp"
#include "gateway/codec/decoder.hpp"

namespace remit::gateway {

std::string render_metrics(const metrics& m, const engine* e);  // metrics.cpp

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;
using codec::status;

void metrics::record_latency(std::uint64_t ns, std::uint64_t count) {
  const double us = static_cast<double>(ns) / 1000.0;
  std::size_t b = 0;
  while (b < latency_bounds_us.size() && us > latency_bounds_us[b]) ++b;
  latency_buckets[b].fetch_add(count, std::memory_order_relaxed);
  latency_count.fetch_add(count, std::memory_order_relaxed);
  latency_sum_ns.fetch_add(ns * count, std::memory_order_relaxed);
}

namespace {

constexpr std::size_t read_buffer_size = 64u << 10;
constexpr std::size_t write_gather_max = 64;      // frames per gathered write
constexpr std::chrono::seconds closing_grace{5};  // to write the answer that closes a session
constexpr std::size_t addresses_max = 1u << 16;   // client addresses remembered at once

// What the server keeps per client address (section 1 limits).
struct address_state {
  std::uint32_t unauthenticated = 0;
  std::deque<clock_type::time_point> failures;  // failed AUTHs within the window
};

class session_base {
 public:
  virtual ~session_base() = default;
  virtual void post_resume() = 0;        // room in the server's budget again
  virtual void post_drain() = 0;         // the server is stopping
  virtual void close_now_stopped() = 0;  // only once the I/O threads have ended
};

}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(engine* e, cluster_hooks* h, server_config c)
      : eng(e), hooks(h), cfg(std::move(c)), acceptor(io) {}

  // Set once: at construction, or when a cluster node is promoted (attach_engine).
  std::atomic<engine*> eng;
  cluster_hooks* const hooks;  // null: a standalone server
  server_config cfg;
  metrics m;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  std::vector<std::thread> threads;
  std::string server_version;
  std::uint32_t inflight_events_max = 0;
  std::array<std::uint8_t, 32> dummy_secret{};

  std::mutex keys_mutex;
  std::unordered_map<std::string, codec::key_entry> keys;

  std::mutex addresses_mutex;
  std::unordered_map<std::string, address_state> addresses;

  std::mutex sessions_mutex;
  std::condition_variable sessions_cv;
  std::unordered_set<std::shared_ptr<session_base>> sessions;
  std::atomic<std::uint64_t> next_session_id{1};

  // The server-wide budget of events in the engine, and the sessions waiting for room.
  std::atomic<std::int64_t> inflight_events{0};
  std::mutex waiters_mutex;
  std::vector<std::weak_ptr<session_base>> waiters;

  std::atomic<bool> stopping{false};
  std::atomic<bool> fail_stop_logged{false};
  bool stopped = false;  // under sessions_mutex
  std::mutex log_mutex;  // lines are rare (auth failures, fail-stop): a lock is cheap here
  std::function<void(std::string_view)> log;  // under log_mutex

  void accept();
  template <class Stream>
  void start_session(Stream&& s, std::string address);

  void say(std::string_view line) {
    std::lock_guard<std::mutex> lock(log_mutex);
    if (log) log(line);
  }

  // Whether `n` more events fit the budget; takes them if so.
  bool take_budget(std::int64_t n) {
    std::int64_t cur = inflight_events.load(std::memory_order_relaxed);
    for (;;) {
      // A request larger than the whole budget still goes alone, or it would wait forever.
      if (cur > 0 && cur + n > static_cast<std::int64_t>(inflight_events_max)) return false;
      if (inflight_events.compare_exchange_weak(cur, cur + n)) return true;
    }
  }
  void give_budget(std::int64_t n) {
    inflight_events.fetch_sub(n);
    std::vector<std::weak_ptr<session_base>> woken;
    {
      std::lock_guard<std::mutex> lock(waiters_mutex);
      woken.swap(waiters);
    }
    for (auto& w : woken)
      if (auto s = w.lock()) s->post_resume();
  }
  void wait_for_budget(std::weak_ptr<session_base> s) {
    {
      std::lock_guard<std::mutex> lock(waiters_mutex);
      waiters.push_back(std::move(s));
    }
    // Room may have been freed between the failed take and the registration.
    if (inflight_events.load() == 0) give_budget(0);
  }

  // Per-address admission at accept; false: refuse the connection.
  bool admit(const std::string& address) {
    std::lock_guard<std::mutex> lock(addresses_mutex);
    const auto now = clock_type::now();
    if (addresses.size() >= addresses_max) forget_old_failures(now);
    if (addresses.size() >= addresses_max) return false;
    auto& a = addresses[address];
    while (!a.failures.empty() && now - a.failures.front() > cfg.auth_failure_window)
      a.failures.pop_front();
    if (a.failures.size() >= cfg.auth_failures_max) return false;
    if (a.unauthenticated >= cfg.unauthenticated_per_address_max) return false;
    ++a.unauthenticated;
    return true;
  }
  // Under addresses_mutex: drops failures older than the window, and addresses left empty.
  void forget_old_failures(clock_type::time_point now) {
    for (auto it = addresses.begin(); it != addresses.end();) {
      auto& f = it->second.failures;
      while (!f.empty() && now - f.front() > cfg.auth_failure_window) f.pop_front();
      it = it->second.unauthenticated == 0 && f.empty() ? addresses.erase(it) : std::next(it);
    }
  }

  void authenticated_or_gone(const std::string& address, bool auth_failed) {
    std::lock_guard<std::mutex> lock(addresses_mutex);
    auto it = addresses.find(address);
    REMIT_ASSERT(it != addresses.end());
    REMIT_ASSERT(it->second.unauthenticated > 0);
    --it->second.unauthenticated;
    if (auth_failed) it->second.failures.push_back(clock_type::now());
    if (it->second.unauthenticated == 0 && it->second.failures.empty()) addresses.erase(it);
  }

  void remove(const std::shared_ptr<session_base>& s) {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.erase(s);
    sessions_cv.notify_all();
  }

  void stop();
};

namespace {

// One connection. Every member is touched on the session's strand only.
template <class Stream>
class session final : public session_base,
                      public node_link,
                      public std::enable_shared_from_this<session<Stream>> {
 public:
  session(server::impl& srv, Stream stream, std::string address)
      : srv_(srv),
        keep_(srv.shared_from_this()),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        address_(std::move(address)),
        decoder_(srv.cfg.body_size_max),
        read_buf_(read_buffer_size) {
    decoder_.set_pre_auth(true);
  }

  void start() {
    srv_.m.sessions.fetch_add(1);
    srv_.m.sessions_unauthenticated.fetch_add(1);
    deadline_ = clock_type::now() + srv_.cfg.hello_timeout;
    arm_timer();
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      read_more();
    } else {
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this()](const boost::system::error_code& ec) {
            if (ec) return self->close_now();
            self->read_more();
          });
    }
  }

  void post_resume() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (!self->waiting_budget_ || self->phase_ == phase::closed) return;
      self->waiting_budget_ = false;
      self->process();
    });
  }

  void close_now_stopped() override { close_now(); }

  void post_drain() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->drain(); });
  }

  // ---- node_link (any thread) ---------------------------------------------------------

  bool send(std::vector<std::byte>&& frame) override {
    if (closed_flag_.load(std::memory_order_acquire)) return false;
    REMIT_ASSERT(frame.size() >= codec::header_size);
    node_queued_.fetch_add(frame.size(), std::memory_order_relaxed);
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this(), frame = std::move(frame)]() mutable {
                 self->send_node_frame(std::move(frame));
               });
    return true;
  }
  std::size_t queued_bytes() const override { return node_queued_.load(std::memory_order_relaxed); }
  void close() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->phase_ == phase::closed || self->phase_ == phase::closing) return;
      self->phase_ = phase::closing;
      self->authenticated_ = true;
      self->deadline_earlier(clock_type::now() + closing_grace);
      if (!self->writing_ && self->write_queue_.empty()) self->close_after_answers();
    });
  }
  const std::string& peer() const override { return address_; }

 private:
  enum class phase : std::uint8_t { await_hello, await_auth, open, draining, closing, closed };

  struct out_frame {
    std::vector<std::byte> bytes;
    bool answer = false;  // answers a request that counted as outstanding
    bool node = false;    // sent through node_link: counted in node_queued_
  };

  // ---- reading ----------------------------------------------------------------------

  bool may_read() const {
    return !reading_ && !waiting_budget_ &&
           (phase_ == phase::await_hello || phase_ == phase::await_auth || phase_ == phase::open) &&
           outstanding_ < srv_.cfg.inflight_max;
  }

  void read_more() {
    if (!may_read()) return;
    if (read_begin_ == read_end_) read_begin_ = read_end_ = 0;
    if (read_end_ == read_buf_.size()) {
      // Keep the unread tail at the front.
      std::memmove(read_buf_.data(), read_buf_.data() + read_begin_, read_end_ - read_begin_);
      read_end_ -= read_begin_;
      read_begin_ = 0;
    }
    reading_ = true;
    stream_.async_read_some(
        asio::buffer(read_buf_.data() + read_end_, read_buf_.size() - read_end_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->reading_ = false;
          if (ec) return self->close_now();
          if (self->lingering_) return self->discard_input();
          self->srv_.m.bytes_in.fetch_add(n, std::memory_order_relaxed);
          self->read_end_ += n;
          self->process();
        });
  }

  // Decodes and handles what has been read, as far as the session may go; then reads more.
  void process() {
    while (phase_ == phase::await_hello || phase_ == phase::await_auth || phase_ == phase::open) {
      if (decoder_.current() == codec::frame_decoder::state::need_more) {
        if (read_begin_ == read_end_) break;
        read_begin_ += decoder_.feed(
            std::span<const std::byte>(read_buf_.data() + read_begin_, read_end_ - read_begin_));
        // The idle window counts from the last complete frame received (section 1), whether
        // or not the session may handle it yet.
        if (phase_ == phase::open && decoder_.current() == codec::frame_decoder::state::frame)
          deadline_ = clock_type::now() + srv_.cfg.idle_timeout;
        continue;
      }
      if (decoder_.current() == codec::frame_decoder::state::header_error) {
        const auto& h = decoder_.header();
        const status s = decoder_.error();
        const bool echo = s != status::bad_magic && s != status::unsupported_version &&
                          s != status::header_checksum;
        fail(s, echo ? h.opcode : 0, echo ? h.request_id : 0, header_reason(s));
        return;
      }
      // A whole frame.
      if (phase_ == phase::open && outstanding_ >= srv_.cfg.inflight_max) break;
      if (!handle_frame()) break;  // waiting for room in the engine
      decoder_.next();
    }
    read_more();
  }

  static std::string_view header_reason(status s) {
    switch (s) {
      case status::bad_magic:
        return "the frame does not start with RMTP";
      case status::unsupported_version:
        return "this server speaks protocol version 1";
      case status::header_checksum:
        return "header_crc32c does not match bytes 0..59";
      case status::body_too_large:
        return "body_size is larger than body_size_max";
      case status::bad_event_count:
        return "before AUTH a body must be HELLO's (64) or AUTH's (32)";
      default:
        return "";
    }
  }

  // False when the frame must wait (the engine is saturated); it stays in the decoder.
  bool handle_frame() {
    const codec::frame_header& h = decoder_.header();
    const auto body = decoder_.body();
    switch (phase_) {
      case phase::await_hello:
        on_hello(h, body);
        return true;
      case phase::await_auth:
        on_auth(h, body);
        return true;
      case phase::open:
        return on_request(h, body);
      default:
        return true;
    }
  }

  void on_hello(const codec::frame_header& h, std::span<const std::byte> body) {
    if (const status s = codec::check_hello(h, body); s != status::ok)
      return fail(s, h.opcode, h.request_id, "the first frame must be a valid HELLO");
    std::memcpy(hello_.data(), body.data(), hello_.size());
    const auto hello = load_event<codec::hello>(body.data());
    mac_ = hello.mac_mode == static_cast<std::uint32_t>(codec::mac_mode::hmac_sha256);
    codec::hello_reply r{};
    codec::random_bytes(r.server_nonce);
    r.body_size_max = srv_.cfg.body_size_max;
    r.event_count_max = srv_.cfg.event_count_max;
    r.inflight_max = srv_.cfg.inflight_max;
    r.mac_required = srv_.cfg.mac_required ? 1 : 0;
    r.role = srv_.hooks ? srv_.hooks->hello_role()
                        : static_cast<std::uint32_t>(codec::node_role::standalone);
    std::memcpy(r.server_version.data(), srv_.server_version.data(),
                std::min(r.server_version.size(), srv_.server_version.size()));
    std::memcpy(reply_.data(), &r, sizeof r);
    client_nonce_ = hello.client_nonce;
    server_nonce_ = r.server_nonce;
    key_id_ = std::string(codec::key_id_of(hello));
    count(h.opcode, status::ok, 1);
    send(h.opcode, 1, h.request_id, status::ok, reply_, false);
    phase_ = phase::await_auth;
    // The timer waits for the HELLO deadline; re-arm it, or a shorter AUTH window would be
    // checked only when that one passes.
    deadline_ = clock_type::now() + srv_.cfg.auth_timeout;
    arm_timer();
  }

  void on_auth(const codec::frame_header& h, std::span<const std::byte> body) {
    if (const status s = codec::check_auth(h, body); s != status::ok)
      return fail(s, h.opcode, h.request_id, "the second frame must be a valid AUTH");
    std::vector<std::uint8_t> secret;
    std::uint32_t permissions = 0;
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(srv_.keys_mutex);
      if (auto it = srv_.keys.find(key_id_); it != srv_.keys.end()) {
        secret = it->second.secret;
        permissions = it->second.permissions;
        known = true;
      }
    }
    // An unknown key is checked against a dummy secret, so it takes the same time.
    const std::span<const std::uint8_t> key =
        known ? std::span<const std::uint8_t>(secret)
              : std::span<const std::uint8_t>(srv_.dummy_secret);
    const codec::digest proof = codec::auth_proof(key, hello_, reply_);
    const bool proof_ok =
        codec::equal_ct(proof, std::span(reinterpret_cast<const std::uint8_t*>(body.data()), 32));
    const bool mode_ok = mac_ || !srv_.cfg.mac_required;
    if (!(proof_ok && known && mode_ok)) {
      srv_.m.auth_failures.fetch_add(1);
      srv_.say("auth failed: key '" + printable(key_id_) + "' from " + address_ +
               (known && proof_ok ? " (mac_mode 0 on a server that requires a MAC)" : ""));
      // Counted now, not when the session closes: the peer sees the answer, and may connect
      // again, before the close has run.
      leave_unauthenticated(true);
      return fail(status::auth_failed, h.opcode, h.request_id, "authentication failed");
    }
    codec::auth_reply a{};
    a.session_id = srv_.next_session_id.fetch_add(1);
    a.permissions = permissions;
    a.server_proof = codec::server_proof(key, hello_, reply_, proof);
    keys_ = codec::derive_session_keys(key, client_nonce_, server_nonce_);
    permissions_ = permissions;
    count(h.opcode, status::ok, 1);
    send(h.opcode, 1, h.request_id, status::ok, std::as_bytes(std::span(&a, 1)), false);
    phase_ = phase::open;
    decoder_.set_pre_auth(false);
    leave_unauthenticated(false);
    deadline_ = clock_type::now() + srv_.cfg.idle_timeout;
    arm_timer();  // as in on_hello: the idle window may end before the AUTH deadline
  }

  static std::string printable(std::string_view s) {
    std::string out;
    for (char c : s) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    return out;
  }

  bool on_request(const codec::frame_header& h, std::span<const std::byte> body) {
    if (!sequence_checked_) {
      if (h.sequence != recv_sequence_)
        return fail(status::bad_sequence, h.opcode, h.request_id, "sequence is not the next one"),
               true;
      ++recv_sequence_;
      const bool mac_ok =
          mac_ ? keys_.c2s.verify(decoder_.frame()) : bytes_zero(h.mac.data(), h.mac.size());
      if (!mac_ok)
        return fail(status::bad_mac, h.opcode, h.request_id, "the MAC does not verify"), true;
      sequence_checked_ = true;
    }
    // Node-to-node frames (section 9) go to the cluster, which checks them (they include
    // answers, which a client never sends).
    if (codec::is_node_opcode(h.opcode) && srv_.hooks &&
        (permissions_ & codec::permission::replicate) != 0) {
      sequence_checked_ = false;
      node_session_ = true;
      count(h.opcode, status::ok, 0);
      srv_.hooks->on_node_frame(this->shared_from_this(), h, body);
      return true;
    }
    if (const status s = codec::check_request(h, body, permissions_, srv_.cfg.event_count_max);
        s != status::ok) {
      // Every status of step 3 lets the session go on (section 5).
      REMIT_ASSERT(!codec::closes_session(s));
      sequence_checked_ = false;
      count(h.opcode, s, 0);
      send(h.opcode, 0, h.request_id, s, {}, false);
      return true;
    }
    const auto op = static_cast<codec::opcode>(h.opcode);
    if (op == codec::opcode::ping) {
      sequence_checked_ = false;
      count(h.opcode, status::ok, 0);
      send(h.opcode, 0, h.request_id, status::ok, body, false);
      return true;
    }
    // A cluster node takes client requests only as primary, with an engine attached.
    engine* const e = srv_.eng.load(std::memory_order_acquire);
    if (srv_.hooks) {
      std::string primary;
      if (!srv_.hooks->serving(primary) || e == nullptr) {
        sequence_checked_ = false;
        count(h.opcode, status::not_primary, 0);
        send(h.opcode, 0, h.request_id, status::not_primary,
             std::as_bytes(std::span(primary.data(), std::min(primary.size(), codec::reason_max))),
             false);
        return true;
      }
    }
    const std::int64_t events = std::max<std::uint32_t>(h.event_count, 1);
    if (!srv_.take_budget(events)) {
      waiting_budget_ = true;
      srv_.wait_for_budget(this->weak_from_this());
      return false;
    }
    sequence_checked_ = false;
    ++outstanding_;
    srv_.m.inflight_requests.fetch_add(1, std::memory_order_relaxed);
    srv_.m.inflight_events.fetch_add(events, std::memory_order_relaxed);
    dispatch(*e, op, h, body, events);
    return true;
  }

  // ---- the engine -------------------------------------------------------------------

  template <class T>
  static std::span<const T> events_of(std::span<const std::byte> body) {
    // The body sits at offset 64 of a buffer from operator new, so it is aligned for T.
    REMIT_ASSERT(reinterpret_cast<std::uintptr_t>(body.data()) % alignof(T) == 0);
    return std::span<const T>(reinterpret_cast<const T*>(body.data()), body.size() / sizeof(T));
  }

  void dispatch(engine& e, codec::opcode op, const codec::frame_header& h,
                std::span<const std::byte> body, std::int64_t events) {
    auto cb = [self = this->shared_from_this(), op, request_id = h.request_id, events,
               start = clock_type::now()](engine_reply&& r) mutable {
      self->srv_.give_budget(events);
      self->srv_.m.inflight_events.fetch_sub(events, std::memory_order_relaxed);
      self->answer(op, request_id, start, std::move(r));
    };
    switch (op) {
      case codec::opcode::create_accounts:
        e.create_accounts(events_of<account>(body), std::move(cb));
        break;
      case codec::opcode::create_transfers:
        e.create_transfers(events_of<transfer>(body), std::move(cb));
        break;
      case codec::opcode::lookup_accounts:
        e.lookup_accounts(events_of<u128>(body), std::move(cb));
        break;
      case codec::opcode::lookup_transfers:
        e.lookup_transfers(events_of<u128>(body), std::move(cb));
        break;
      case codec::opcode::get_account_transfers:
        e.get_account_transfers(load_event<account_filter>(body.data()), std::move(cb));
        break;
      case codec::opcode::set_account_controls:
        e.set_account_controls(events_of<account_controls>(body), std::move(cb));
        break;
      case codec::opcode::get_ledger_stats:
        e.get_ledger_stats(load_event<ledger_stats_request>(body.data()).ledger, std::move(cb));
        break;
      default:
        REMIT_ASSERT(false && "dispatch of an opcode without an engine call");
    }
  }

  static status status_of(engine_status s) {
    switch (s) {
      case engine_status::ok:
        return status::ok;
      case engine_status::overloaded:
        return status::overloaded;
      case engine_status::shutting_down:
        return status::shutting_down;
      case engine_status::storage_failed:
        return status::storage_failed;
      case engine_status::too_many_events:  // the codec's event_count_max check comes first
        return status::bad_event_count;
      case engine_status::unavailable:
        return status::unavailable;
    }
    return status::storage_failed;
  }

  // On an engine thread: encodes the response body, then hands it to the strand.
  void answer(codec::opcode op, std::uint64_t request_id, clock_type::time_point start,
              engine_reply&& r) {
    // A primary answers only within its lease (docs/CLUSTER.md, "Roles and the lease"): an
    // answer that comes after it is `unavailable`, the outcome unknown to the client.
    if (r.status == engine_status::ok && srv_.hooks && !srv_.hooks->may_answer())
      r.status = engine_status::unavailable;
    const status s = status_of(r.status);
    std::vector<std::byte> frame;
    std::uint32_t count_out = 0;
    if (s == status::ok) {
      auto put = [&](const auto& items) {
        using item = typename std::decay_t<decltype(items)>::value_type;
        frame.resize(codec::header_size + items.size() * sizeof(item));
        if (!items.empty())
          std::memcpy(frame.data() + codec::header_size, items.data(), items.size() * sizeof(item));
        count_out = static_cast<std::uint32_t>(items.size());
      };
      switch (op) {
        case codec::opcode::create_accounts:
        case codec::opcode::create_transfers:
        case codec::opcode::set_account_controls:
          put(r.results);
          break;
        case codec::opcode::lookup_accounts:
          put(r.accounts);
          break;
        case codec::opcode::lookup_transfers:
        case codec::opcode::get_account_transfers:
          put(r.transfers);
          break;
        case codec::opcode::get_ledger_stats:
          frame.resize(codec::header_size + sizeof(ledger_stats));
          std::memcpy(frame.data() + codec::header_size, &r.stats, sizeof(ledger_stats));
          count_out = 1;
          break;
        default:
          break;
      }
      count_results(op, r.results);
    } else {
      const std::string_view why = name(r.status);
      frame.resize(codec::header_size + why.size());
      std::memcpy(frame.data() + codec::header_size, why.data(), why.size());
    }
    const auto op_index = static_cast<std::uint16_t>(op);
    count(op_index, s, count_out);
    if (op == codec::opcode::create_transfers && s == status::ok)
      srv_.m.record_latency(
          static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start)
                  .count()),
          count_out);
    // Logged once: after fail-stop every write is answered storage_failed.
    if (s == status::storage_failed && !srv_.fail_stop_logged.exchange(true))
      srv_.say("fail-stop: the journal cannot write; no more writes are taken");
    asio::post(stream_.get_executor(), [self = this->shared_from_this(), frame = std::move(frame),
                                        op_index, request_id, s, count_out]() mutable {
      self->srv_.m.inflight_requests.fetch_sub(1, std::memory_order_relaxed);
      self->queue_answer(std::move(frame), op_index, request_id, s, count_out);
    });
  }

  void count_results(codec::opcode op, const std::vector<result>& results) {
    std::array<std::uint32_t, metrics::result_codes> local{};
    for (const auto& x : results)
      if (x.status < local.size()) ++local[x.status];
    auto* table = op == codec::opcode::create_accounts        ? srv_.m.account_results.data()
                  : op == codec::opcode::create_transfers     ? srv_.m.transfer_results.data()
                  : op == codec::opcode::set_account_controls ? srv_.m.controls_results.data()
                                                              : nullptr;
    const std::size_t n = op == codec::opcode::set_account_controls ? 4 : local.size();
    if (!table) return;
    for (std::size_t i = 0; i < n; ++i)
      if (local[i]) table[i].fetch_add(local[i], std::memory_order_relaxed);
  }

  void count(std::uint16_t op, status s, std::uint32_t events) {
    if (op < metrics::opcodes) {
      srv_.m.requests[op][static_cast<std::size_t>(s)].fetch_add(1, std::memory_order_relaxed);
      if (events) srv_.m.events[op].fetch_add(events, std::memory_order_relaxed);
    }
  }

  void queue_answer(std::vector<std::byte>&& frame, std::uint16_t op, std::uint64_t request_id,
                    status s, std::uint32_t events) {
    if (phase_ == phase::closed) return;
    codec::frame_fields f{op,
                          events,
                          request_id,
                          send_sequence_++,
                          static_cast<std::uint16_t>(s),
                          codec::flag_response};
    codec::seal_frame(frame, f, mac_ ? &keys_.s2c : nullptr);
    write_queue_.push_back({std::move(frame), true});
    if (codec::closes_session(s) && phase_ != phase::closing) {
      phase_ = phase::closing;
    }
    start_write();
  }

  // ---- writing ----------------------------------------------------------------------

  void send_node_frame(std::vector<std::byte>&& frame) {
    if (phase_ != phase::open && phase_ != phase::draining) {
      node_queued_.fetch_sub(frame.size(), std::memory_order_relaxed);
      return;
    }
    node_session_ = true;
    const codec::frame_header h = codec::read_header(frame.data());
    codec::frame_fields f{h.opcode,         h.event_count, h.request_id,
                          send_sequence_++, h.status,      h.flags};
    codec::seal_frame(frame, f, mac_ ? &keys_.s2c : nullptr);
    write_queue_.push_back({std::move(frame), false, true});
    start_write();
  }

  // Sends a response made on the strand (handshake replies, errors, PING).
  void send(std::uint16_t op, std::uint32_t events, std::uint64_t request_id, status s,
            std::span<const std::byte> body, bool answer) {
    std::vector<std::byte> frame(codec::header_size + body.size());
    if (!body.empty()) std::memcpy(frame.data() + codec::header_size, body.data(), body.size());
    const bool authenticated = phase_ == phase::open || phase_ == phase::draining ||
                               (phase_ == phase::closing && authenticated_);
    codec::frame_fields f{op,
                          events,
                          request_id,
                          authenticated ? send_sequence_++ : 0,
                          static_cast<std::uint16_t>(s),
                          codec::flag_response};
    codec::seal_frame(frame, f, authenticated && mac_ ? &keys_.s2c : nullptr);
    write_queue_.push_back({std::move(frame), answer});
    start_write();
  }

  // Answers with a status that closes the session, then closes it once written.
  void fail(status s, std::uint16_t op, std::uint64_t request_id, std::string_view reason) {
    count(op, s, 0);
    authenticated_ = phase_ == phase::open || phase_ == phase::draining;
    phase_ = phase::closing;
    // A peer that does not read its last answer is not waited for long.
    deadline_earlier(clock_type::now() + closing_grace);
    send(op, 0, request_id, s,
         std::as_bytes(std::span(reason.data(), std::min(reason.size(), codec::reason_max))),
         false);
  }

  void start_write() {
    if (writing_ || write_queue_.empty() || phase_ == phase::closed) return;
    writing_ = true;
    in_write_.clear();
    std::vector<asio::const_buffer> buffers;
    while (!write_queue_.empty() && in_write_.size() < write_gather_max) {
      in_write_.push_back(std::move(write_queue_.front()));
      write_queue_.pop_front();
      buffers.emplace_back(asio::buffer(in_write_.back().bytes));
    }
    asio::async_write(
        stream_, buffers,
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->on_written(ec, n);
        });
  }

  void on_written(const boost::system::error_code& ec, std::size_t n) {
    writing_ = false;
    if (ec) return close_now();
    srv_.m.bytes_out.fetch_add(n, std::memory_order_relaxed);
    std::uint32_t answered = 0;
    std::size_t node_bytes = 0;
    for (const auto& f : in_write_) {
      answered += f.answer ? 1 : 0;
      if (f.node) node_bytes += f.bytes.size();
    }
    if (node_bytes) node_queued_.fetch_sub(node_bytes, std::memory_order_relaxed);
    in_write_.clear();
    REMIT_ASSERT(answered <= outstanding_);
    outstanding_ -= answered;
    if (!write_queue_.empty()) {
      start_write();
    } else if (phase_ == phase::closing) {
      return close_after_answers();
    } else if (phase_ == phase::draining) {
      if (outstanding_ == 0) close_after_answers();
      return;
    }
    // Answers went out: room for more requests, even while later answers are still being
    // written (section 1: reading resumes when one is answered).
    if (answered > 0 && !waiting_budget_) process();
  }

  // ---- timers, draining, closing ----------------------------------------------------

  void arm_timer() {
    timer_.expires_at(deadline_);
    timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->phase_ == phase::closed) return;
      const auto now = clock_type::now();
      // Past the deadline: HELLO or AUTH late, no complete frame within the idle window
      // (whatever is outstanding), or a closing peer that does not take its last answers.
      if (now >= self->deadline_) return self->close_now();
      self->arm_timer();
    });
  }

  // The timer waits for the deadline it was armed with; one moved earlier re-arms it (which
  // cancels the earlier wait).
  void deadline_earlier(clock_type::time_point t) {
    if (t >= deadline_) return;
    deadline_ = t;
    arm_timer();
  }

  void drain() {
    if (phase_ == phase::closed || phase_ == phase::closing) return;
    const bool open = phase_ == phase::open;
    phase_ = phase::draining;
    authenticated_ = open;
    deadline_earlier(clock_type::now() + srv_.cfg.drain_timeout);
    if (!open || (outstanding_ == 0 && !writing_ && write_queue_.empty())) close_after_answers();
  }

  // Closes a session whose last answers are written, without losing them. Closing a socket
  // with unread input makes the kernel reset the connection, and a reset drops what the peer
  // has not received yet. So when input is waiting (a pipelining peer, requests the session
  // will not read), send FIN behind the answers, read and drop what the peer still sends
  // until it closes or closing_grace passes, then close.
  void close_after_answers() {
    if (phase_ == phase::closed || lingering_) return;
    boost::system::error_code ec;
    auto& sock = stream_.lowest_layer();
    if (sock.available(ec) == 0 || ec) return close_now();
    lingering_ = true;
    sock.shutdown(tcp::socket::shutdown_send, ec);
    deadline_earlier(clock_type::now() + closing_grace);
    discard_input();
  }

  void discard_input() {
    if (phase_ == phase::closed || reading_) return;  // a pending read comes back here
    reading_ = true;
    tcp::socket* sock = nullptr;
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      sock = &stream_;
    } else {
      sock = &stream_.next_layer();  // the TLS records are dropped unread
    }
    sock->async_read_some(
        asio::buffer(read_buf_),
        [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->reading_ = false;
          if (ec) return self->close_now();  // the peer closed: nothing is left to lose
          self->discard_input();
        });
  }

  void leave_unauthenticated(bool failed) {
    if (!unauthenticated_) return;
    unauthenticated_ = false;
    srv_.m.sessions_unauthenticated.fetch_sub(1);
    srv_.authenticated_or_gone(address_, failed);
  }

  void close_now() {
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    closed_flag_.store(true, std::memory_order_release);
    if (node_session_ && srv_.hooks) srv_.hooks->on_node_closed(*this);
    boost::system::error_code ignored;
    timer_.cancel();
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
    leave_unauthenticated(false);
    srv_.m.sessions.fetch_sub(1);
    srv_.remove(this->shared_from_this());
  }

  server::impl& srv_;
  // Engine callbacks can outlive a stop that timed out: they keep the server's state alive.
  std::shared_ptr<server::impl> keep_;
  Stream stream_;
  asio::steady_timer timer_;
  std::string address_;
  codec::frame_decoder decoder_;
  std::vector<std::byte> read_buf_;
  std::size_t read_begin_ = 0;
  std::size_t read_end_ = 0;
  phase phase_ = phase::await_hello;
  bool reading_ = false;
  bool writing_ = false;
  bool waiting_budget_ = false;
  bool sequence_checked_ = false;  // the held frame passed sequence and MAC already
  bool unauthenticated_ = true;
  bool authenticated_ = false;  // for frames sent while closing or draining
  bool lingering_ = false;      // answers written, FIN sent, dropping the peer's input
  clock_type::time_point deadline_{};
  std::uint32_t outstanding_ = 0;
  std::uint64_t recv_sequence_ = 1;
  std::uint64_t send_sequence_ = 1;
  std::deque<out_frame> write_queue_;
  std::vector<out_frame> in_write_;
  // Handshake.
  std::array<std::byte, codec::hello_size> hello_{};
  std::array<std::byte, codec::hello_reply_size> reply_{};
  std::array<std::uint8_t, codec::nonce_size> client_nonce_{};
  std::array<std::uint8_t, codec::nonce_size> server_nonce_{};
  std::string key_id_;
  bool mac_ = false;
  std::uint32_t permissions_ = 0;
  codec::session_keys keys_;
  // A replicate session that sent or was sent node frames; the cluster hears of its close.
  bool node_session_ = false;
  std::atomic<bool> closed_flag_{false};     // node_link::send from other threads
  std::atomic<std::size_t> node_queued_{0};  // node frames queued, not yet written
};

}  // namespace

template <class Stream>
void server::impl::start_session(Stream&& s, std::string address) {
  auto sess =
      std::make_shared<session<std::decay_t<Stream>>>(*this, std::forward<Stream>(s), address);
  {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.insert(sess);
  }
  sess->start();
}

void server::impl::accept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](
                                                   const boost::system::error_code& ec,
                                                   tcp::socket sock) {
    if (self->stopping.load()) return;
    if (!ec) {
      boost::system::error_code e2;
      const auto remote = sock.remote_endpoint(e2);
      const std::string address = e2 ? std::string("?") : remote.address().to_string();
      std::size_t open = 0;
      {
        std::lock_guard<std::mutex> lock(self->sessions_mutex);
        open = self->sessions.size();
      }
      if (e2 || open >= self->cfg.sessions_max || !self->admit(address)) {
        self->m.connections_refused.fetch_add(1);
        sock.close(e2);
      } else {
        self->m.connections_accepted.fetch_add(1);
        sock.set_option(tcp::no_delay(true), e2);
        if (self->tls)
          self->start_session(asio::ssl::stream<tcp::socket>(std::move(sock), *self->tls), address);
        else
          self->start_session(std::move(sock), address);
      }
    }
    if (ec != asio::error::operation_aborted) self->accept();
  });
}

void server::impl::stop() {
  {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    if (stopped) return;
    stopped = true;
  }
  stopping.store(true);
  asio::post(io, [self = shared_from_this()] {
    boost::system::error_code ignored;
    self->acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<session_base>> all;
  {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    all.assign(sessions.begin(), sessions.end());
  }
  for (auto& s : all) s->post_drain();
  {
    std::unique_lock<std::mutex> lock(sessions_mutex);
    sessions_cv.wait_for(lock, cfg.drain_timeout + std::chrono::seconds(1),
                         [&] { return sessions.empty(); });
  }
  io.stop();
  for (auto& t : threads)
    if (t.joinable()) t.join();
  // A session still open past drain_timeout is closed here: no I/O thread runs now, so
  // touching its strand's state from this thread is safe.
  {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    all.assign(sessions.begin(), sessions.end());
  }
  for (auto& s : all) s->close_now_stopped();
  all.clear();
  {
    std::lock_guard<std::mutex> lock(sessions_mutex);
    sessions.clear();
  }
  // Completion handlers still queued (the aborted accept, cancelled timers and reads of
  // closed sessions) hold their sessions, and a session holds this impl, which owns `io`:
  // run them, or that cycle keeps the whole server in memory.
  io.restart();
  io.poll();
}

server::server(engine& e, server_config cfg)
    : impl_(std::make_shared<impl>(&e, nullptr, std::move(cfg))) {
  impl_->server_version = e.config().durability ? "0.1.0" : "0.1.0-nodurable";
  if (impl_->cfg.inflight_events_max == 0)
    impl_->cfg.inflight_events_max = e.config().inflight_events_max;
  start();
}

server::server(cluster_hooks& hooks, server_config cfg)
    : impl_(std::make_shared<impl>(nullptr, &hooks, std::move(cfg))) {
  // Version 0.2: section 9 (role, not_primary, unavailable, node-to-node traffic).
  impl_->server_version = "0.2.0";
  if (impl_->cfg.inflight_events_max == 0)
    throw std::runtime_error("server: a cluster node needs inflight_events_max");
  start();
}

void server::attach_engine(engine& e) {
  engine* expected = nullptr;
  const bool first = impl_->eng.compare_exchange_strong(expected, &e);
  REMIT_ASSERT(first && "attach_engine: once, and only on a cluster node's server");
}

void server::start() {
  auto& d = *impl_;
  if (d.cfg.inflight_max == 0 || d.cfg.event_count_max == 0 ||
      d.cfg.event_count_max > batch_events_max ||
      d.cfg.body_size_max < 128u * d.cfg.event_count_max ||
      d.cfg.body_size_max > remit::body_size_max)
    throw std::runtime_error("server: inflight_max, event_count_max or body_size_max out of range");
  d.inflight_events_max = d.cfg.inflight_events_max;
  codec::random_bytes(d.dummy_secret);
  set_keys(d.cfg.keys);
  if (!d.cfg.tls_cert_file.empty() || !d.cfg.tls_key_file.empty()) {
    d.tls.emplace(asio::ssl::context::tls_server);
    d.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
    d.tls->use_certificate_chain_file(d.cfg.tls_cert_file);
    d.tls->use_private_key_file(d.cfg.tls_key_file, asio::ssl::context::pem);
  }
  const std::string where = d.cfg.host + ":" + std::to_string(d.cfg.port);
  try {
    const tcp::endpoint ep(asio::ip::make_address(d.cfg.host), d.cfg.port);
    d.acceptor.open(ep.protocol());
    d.acceptor.set_option(tcp::acceptor::reuse_address(true));
    d.acceptor.bind(ep);
    d.acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& ex) {
    throw std::runtime_error("cannot listen on " + where + ": " + ex.what());
  }
  d.accept();
  const std::uint32_t n = std::max<std::uint32_t>(1, d.cfg.io_threads);
  for (std::uint32_t i = 0; i < n; ++i) d.threads.emplace_back([&io = d.io] { io.run(); });
}

server::~server() {
  // stop() throws only when the system fails under it (a mutex that cannot be locked, a
  // thread that cannot be joined, no memory for the list of sessions). A destructor cannot
  // recover from that and must not throw: say what it was, then stop the process.
  try {
    stop();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "remit: gateway server: stopping in the destructor failed: %s\n",
                 e.what());
    std::abort();
  }
}

void server::stop() {
  impl_->stop();
}

std::uint16_t server::port() const {
  return impl_->acceptor.local_endpoint().port();
}
const server_config& server::config() const {
  return impl_->cfg;
}
const metrics& server::stats() const {
  return impl_->m;
}
std::string server::metrics_text() const {
  std::string out = render_metrics(impl_->m, impl_->eng.load(std::memory_order_acquire));
  if (impl_->hooks) out += impl_->hooks->metrics_text();
  return out;
}

void server::set_keys(std::vector<codec::key_entry> keys) {
  std::lock_guard<std::mutex> lock(impl_->keys_mutex);
  impl_->keys.clear();
  for (auto& k : keys) {
    auto id = k.id;
    impl_->keys.emplace(std::move(id), std::move(k));
  }
}

void server::set_logger(std::function<void(std::string_view)> log) {
  std::lock_guard<std::mutex> lock(impl_->log_mutex);
  impl_->log = std::move(log);
}

}  // namespace remit::gateway
