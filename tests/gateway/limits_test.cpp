// Timers and per-address limits of docs/PROTOCOL.md section 1: the idle timer after AUTH (a quiet
// session, a peer stalled mid-header or mid-body, one waiting on its own requests), which
// counts from the last complete frame received; at most 8 unauthenticated connections per
// address; refusal at accept after repeated failed AUTHs.
#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

constexpr ms idle{300};

gateway::server_config idle_config() {
  auto c = server_defaults();
  c.idle_timeout = idle;
  return c;
}

// How long until the connection ends; fails if it does not within 5 s.
long long ms_until_closed(raw_client& c) {
  const auto start = steady::now();
  EXPECT_TRUE(c.closed(ms(5000)));
  return std::chrono::duration_cast<ms>(steady::now() - start).count();
}

TEST(idle_timer, an_idle_authenticated_session_is_closed) {
  harness h(idle_config());
  auto c = h.session(true);
  ASSERT_TRUE(c);
  const auto waited = ms_until_closed(*c);
  EXPECT_GE(waited, idle.count() - 50);
  EXPECT_LT(waited, 3000);
}

TEST(idle_timer, the_timer_counts_from_the_last_complete_frame) {
  harness h(idle_config());
  auto c = h.session(false);
  ASSERT_TRUE(c);
  // Frames every 100 ms for a second keep the session open.
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(ms(100));
    ASSERT_TRUE(c->ping_ok()) << "PING " << i;
  }
  const auto waited = ms_until_closed(*c);
  EXPECT_GE(waited, idle.count() - 50);
}

TEST(idle_timer, a_peer_stalled_mid_header_is_closed) {
  harness h(idle_config());
  auto c = h.session(true);
  ASSERT_TRUE(c);
  const auto bytes = c->seal(c->request(opcode::ping, {}, 0));
  ASSERT_TRUE(c->write(std::span(bytes).first(30)));
  const auto waited = ms_until_closed(*c);
  EXPECT_GE(waited, idle.count() - 50);
  EXPECT_LT(waited, 3000);
}

TEST(idle_timer, a_peer_stalled_mid_body_is_closed) {
  harness h(idle_config());
  auto c = h.session(false);
  ASSERT_TRUE(c);
  const auto bytes = c->seal(c->request(opcode::create_accounts, bytes_of_one(make_account(1)), 1));
  ASSERT_TRUE(c->write(std::span(bytes).first(codec::header_size + 64)));
  const auto waited = ms_until_closed(*c);
  EXPECT_GE(waited, idle.count() - 50);
  EXPECT_LT(waited, 3000);
}

TEST(idle_timer, a_stall_that_trickles_bytes_is_still_closed) {
  // A byte every 50 ms never completes a frame: the timer is about frames, not bytes.
  harness h(idle_config());
  auto c = h.session(false);
  ASSERT_TRUE(c);
  const auto bytes = c->seal(c->request(opcode::create_accounts, bytes_of_one(make_account(1)), 1));
  const auto start = steady::now();
  bool gone = false;
  for (std::size_t i = 0; i < bytes.size() - 1 && steady::now() - start < ms(3000); ++i) {
    if (!c->write(std::span(bytes).subspan(i, 1))) {
      gone = true;
      break;
    }
    std::this_thread::sleep_for(ms(50));
    pollfd p{c->socket().native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) {
      gone = true;
      break;
    }
  }
  EXPECT_TRUE(gone || c->closed(ms(1000))) << "the trickling peer was not closed";
  EXPECT_LT(std::chrono::duration_cast<ms>(steady::now() - start).count(), 3000);
}

// Requests whose answers are large (1 MiB each) on a session with a small receive buffer:
// the server has answers left to write for as long as the peer does not read them.
struct waiting_session {
  static constexpr int requests = 12;
  std::unique_ptr<raw_client> c;
  std::vector<std::byte> frames;  // the requests, sealed back to back

  explicit waiting_session(harness& h) : c(h.connect(4096)) {
    if (!c->handshake(keys().all, true)) return;
    create_accounts_ok(*c, {make_account(1)});
    const std::vector<u128> ids(batch_events_max, u128{1});
    for (int i = 0; i < requests; ++i) {
      const auto bytes =
          c->seal(c->request(opcode::lookup_accounts, bytes_of(ids), batch_events_max));
      frames.insert(frames.end(), bytes.begin(), bytes.end());
    }
  }
};

gateway::server_config waiting_config(ms window = idle) {
  auto cfg = idle_config();
  cfg.idle_timeout = window;
  cfg.inflight_max = 16;
  return cfg;
}

// Section 1: no complete frame for the idle window closes the session, a peer stalled
// mid-frame included, whatever it has outstanding: waiting on its own requests does not
// count as a frame.
TEST(idle_timer, a_peer_stalled_mid_frame_while_waiting_on_its_requests_is_closed) {
  harness h(waiting_config());
  waiting_session w(h);
  ASSERT_FALSE(w.frames.empty());
  const auto half = w.c->seal(w.c->request(opcode::ping, {}, 0));
  ASSERT_TRUE(w.c->write(w.frames));
  const auto start = steady::now();
  ASSERT_TRUE(w.c->write(std::span(half).first(30)));
  ASSERT_TRUE(eventually([&] { return h.srv().stats().sessions.load() == 0; }, ms(5000)))
      << "the session waiting on its answers was never closed";
  const auto waited = std::chrono::duration_cast<ms>(steady::now() - start).count();
  EXPECT_GE(waited, idle.count() - 50);
  EXPECT_LT(waited, 3 * idle.count()) << "closed late: something restarted the idle window";
  const std::size_t answer_size =
      codec::header_size + std::size_t{batch_events_max} * sizeof(account);
  EXPECT_LT(h.srv().stats().bytes_out.load(), waiting_session::requests * answer_size)
      << "the answers were all written: the test did not make the session wait";
}

// Answers written are not frames received: a peer that sends nothing more and reads its
// answers slowly (256 KiB every 100 ms, so the server writes now and then for seconds) is
// closed an idle window after its last frame, not after its last answer.
TEST(idle_timer, answers_written_do_not_restart_the_idle_window) {
  // A longer window than the other timer tests: the first answers must be written inside
  // it, and the lookups behind them are slow under ThreadSanitizer on a busy machine.
  constexpr ms window{1500};
  harness h(waiting_config(window));
  waiting_session w(h);
  ASSERT_FALSE(w.frames.empty());
  ASSERT_TRUE(w.c->write(w.frames));
  const auto start = steady::now();
  const int fd = w.c->socket().native_handle();
  std::vector<char> sink(256u << 10);
  std::size_t received = 0;
  long long closed_after_ms = -1;
  while (steady::now() - start < 3 * window) {
    std::this_thread::sleep_for(ms(100));
    if (h.srv().stats().sessions.load() == 0) {
      closed_after_ms = std::chrono::duration_cast<ms>(steady::now() - start).count();
      break;
    }
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n > 0) received += static_cast<std::size_t>(n);
  }
  ASSERT_GE(closed_after_ms, 0) << "the session stayed open for 3 windows while its answers "
                                << "were written (" << received << " bytes read)";
  EXPECT_GE(closed_after_ms, window.count() - 50);
  EXPECT_GT(received, 0u) << "no answer was written: the test did not write while waiting";
}

// ---- per-address limits -----------------------------------------------------------------

TEST(address_limits, the_ninth_unauthenticated_connection_is_closed_at_accept) {
  harness h;
  std::vector<std::unique_ptr<raw_client>> waiting;
  for (int i = 0; i < 8; ++i) {
    waiting.push_back(h.connect());
    const auto n = static_cast<std::int64_t>(i + 1);
    ASSERT_TRUE(eventually([&] { return h.srv().stats().sessions_unauthenticated.load() == n; }));
  }
  // Some of them are half way: HELLO answered, no AUTH yet. Still unauthenticated.
  ASSERT_TRUE(waiting[0]->send_hello(raw_client::make_hello("all", 0)));
  ASSERT_TRUE(waiting[1]->send_hello(raw_client::make_hello("all", 1)));

  auto ninth = h.connect();
  EXPECT_TRUE(ninth->closed(ms(3000))) << "the 9th unauthenticated connection was kept";
  EXPECT_EQ(h.srv().stats().connections_refused.load(), 1u);

  // The 8 are untouched: one authenticates, which frees a place for a new connection.
  auto proof = waiting[0]->proof_for(keys().all.secret);
  auto f = waiting[0]->send_auth(proof, keys().all.secret);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->st(), status::ok);
  EXPECT_TRUE(waiting[0]->ping_ok());
  auto tenth = h.connect();
  ASSERT_TRUE(tenth->handshake(keys().all, false)) << "a place was free again";
  EXPECT_TRUE(tenth->ping_ok());

  // 7 wait now: one more fits, the one after it does not.
  auto eleventh = h.connect();
  ASSERT_TRUE(eventually([&] { return h.srv().stats().sessions_unauthenticated.load() == 8; }));
  auto twelfth = h.connect();
  EXPECT_TRUE(twelfth->closed(ms(3000))) << "8 are waiting again: the next is refused";
  EXPECT_EQ(h.srv().stats().connections_refused.load(), 2u);
  auto hr = eleventh->send_hello(raw_client::make_hello("all", 0));
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->st(), status::ok);

  // A closed unauthenticated connection frees its place too.
  waiting[7].reset();
  ASSERT_TRUE(eventually([&] { return h.srv().stats().sessions_unauthenticated.load() == 7; }));
  auto thirteenth = h.connect();
  EXPECT_TRUE(thirteenth->handshake(keys().read, true));
}

TEST(address_limits, repeated_failed_auths_are_refused_at_accept) {
  auto cfg = server_defaults();
  cfg.auth_failures_max = 3;
  harness h(cfg);
  // An authenticated session from before the failures is not affected.
  auto before = h.session(true);
  ASSERT_TRUE(before);
  for (int i = 0; i < 3; ++i) {
    auto c = h.connect();
    ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
    auto f = c->send_auth(c->proof_for(keys().read.secret), keys().read.secret);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::auth_failed);
    EXPECT_TRUE(c->closed());
  }
  EXPECT_TRUE(eventually([&] { return h.srv().stats().auth_failures.load() == 3; }));
  // The next connection from the address is closed at accept, before any frame: even one
  // with the right key.
  auto refused = h.connect();
  EXPECT_TRUE(refused->closed(ms(3000)));
  EXPECT_GE(h.srv().stats().connections_refused.load(), 1u);
  EXPECT_TRUE(before->ping_ok());
}

TEST(address_limits, failures_older_than_the_window_are_forgotten) {
  auto cfg = server_defaults();
  cfg.auth_failures_max = 2;
  cfg.auth_failure_window = ms(400);
  harness h(cfg);
  for (int i = 0; i < 2; ++i) {
    auto c = h.connect();
    ASSERT_TRUE(c->send_hello(raw_client::make_hello(keys().stranger.id, 0)));
    auto f = c->send_auth(c->proof_for(keys().stranger.secret), keys().stranger.secret);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::auth_failed);
    EXPECT_TRUE(c->closed());
  }
  auto refused = h.connect();
  EXPECT_TRUE(refused->closed(ms(3000)));
  std::this_thread::sleep_for(ms(600));
  auto c = h.session(false);
  ASSERT_TRUE(c) << "the window passed";
  EXPECT_TRUE(c->ping_ok());
}

}  // namespace
}  // namespace remit::gateway_test
