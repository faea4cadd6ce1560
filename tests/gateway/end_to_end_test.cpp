// The whole path over a socket: accounts, plain, pending, posted and voided transfers,
// controls, lookups, history and ledger stats with the values docs/PROTOCOL.md section 4 gives;
// the metrics (text and the HTTP endpoint); and a graceful stop that answers every request
// the server took before the connection closes.
#include <map>
#include <sstream>

#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

using tr = create_transfer_result;

std::vector<result> transfers_ok_or(raw_client& c, const std::vector<transfer>& t) {
  return c.call_ok<result>(opcode::create_transfers, bytes_of(t),
                           static_cast<std::uint32_t>(t.size()));
}

std::vector<transfer> history(raw_client& c, const account_filter& f) {
  return c.call_ok<transfer>(opcode::get_account_transfers, bytes_of_one(f), 1);
}

std::vector<u128> ids_of(const std::vector<transfer>& t) {
  std::vector<u128> out;
  for (const auto& x : t) out.push_back(x.id);
  return out;
}

class end_to_end : public ::testing::TestWithParam<bool> {};

TEST_P(end_to_end, accounts_transfers_lookups_history_and_stats) {
  const bool mac = GetParam();
  harness h;
  auto c = h.session(mac);
  ASSERT_TRUE(c);

  create_accounts_ok(*c, {make_account(1), make_account(2), make_account(3), make_account(10, 2)});
  // The same account again: exists, with the first one's timestamp.
  auto again = c->call_ok<result>(opcode::create_accounts, bytes_of_one(make_account(2)), 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].status, static_cast<std::uint32_t>(create_account_result::exists));

  // Plain transfers, a pending transfer posted in part, another voided.
  transfer pending1 = make_transfer(103, 1, 3, 50, transfer_flags::pending);
  transfer pending2 = make_transfer(105, 3, 1, 40, transfer_flags::pending);
  transfer post1{};
  post1.id = 104;
  post1.pending_id = 103;
  post1.amount = 20;
  post1.flags = transfer_flags::post_pending_transfer;
  transfer void2{};
  void2.id = 106;
  void2.pending_id = 105;
  void2.flags = transfer_flags::void_pending_transfer;
  const std::vector<transfer> batch = {
      make_transfer(101, 1, 2, 100), make_transfer(102, 2, 3, 30), pending1, post1, pending2, void2,
      make_transfer(107, 1, 10, 5),   // another ledger
      make_transfer(101, 1, 2, 100),  // the first again
  };
  const auto r = transfers_ok_or(*c, batch);
  ASSERT_EQ(r.size(), batch.size());
  const std::uint32_t expected[] = {
      0,
      0,
      0,
      0,
      0,
      0,
      static_cast<std::uint32_t>(tr::accounts_must_have_the_same_ledger),
      static_cast<std::uint32_t>(tr::exists)};
  for (std::size_t i = 0; i < r.size(); ++i)
    EXPECT_EQ(r[i].status, expected[i])
        << "transfer " << i << ": " << name(static_cast<tr>(r[i].status));
  for (std::size_t i = 1; i < 6; ++i) EXPECT_GT(r[i].timestamp, r[i - 1].timestamp);
  EXPECT_EQ(r[6].timestamp, 0u) << "a failure has timestamp 0";
  EXPECT_EQ(r[7].timestamp, r[0].timestamp) << "exists carries the original's timestamp";

  // Balances.
  const auto accounts =
      c->call_ok<account>(opcode::lookup_accounts, bytes_of(std::vector<u128>{1, 2, 3, 10, 99}), 5);
  ASSERT_EQ(accounts.size(), 4u) << "the unknown id is left out";
  EXPECT_EQ(accounts[0].debits_posted, 120u);
  EXPECT_EQ(accounts[0].credits_posted, 0u);
  EXPECT_EQ(accounts[0].debits_pending, 0u);
  EXPECT_EQ(accounts[0].credits_pending, 0u);
  EXPECT_EQ(accounts[1].debits_posted, 30u);
  EXPECT_EQ(accounts[1].credits_posted, 100u);
  EXPECT_EQ(accounts[2].debits_posted, 0u);
  EXPECT_EQ(accounts[2].credits_posted, 50u);
  EXPECT_EQ(accounts[2].debits_pending, 0u);
  EXPECT_EQ(accounts[3].id, u128{10});
  EXPECT_EQ(accounts[3].ledger, 2u);
  EXPECT_NE(accounts[0].timestamp, 0u);

  // Stored transfers: the post and the void show the pending transfer's accounts and code.
  const auto stored = c->call_ok<transfer>(opcode::lookup_transfers,
                                           bytes_of(std::vector<u128>{101, 104, 106, 107, 104}), 5);
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0].amount, 100u);
  EXPECT_EQ(stored[0].timestamp, r[0].timestamp);
  EXPECT_EQ(stored[1].id, u128{104});
  EXPECT_EQ(stored[1].debit_account_id, u128{1});
  EXPECT_EQ(stored[1].credit_account_id, u128{3});
  EXPECT_EQ(stored[1].amount, 20u);
  EXPECT_EQ(stored[1].ledger, 1u);
  EXPECT_EQ(stored[1].code, 1u);
  EXPECT_EQ(stored[1].flags, transfer_flags::post_pending_transfer);
  EXPECT_EQ(stored[2].id, u128{106});
  EXPECT_EQ(stored[2].debit_account_id, u128{3});
  EXPECT_EQ(stored[2].amount, 40u) << "a void shows the pending amount";
  EXPECT_EQ(stored[3].id, u128{104}) << "asked twice, answered twice";

  // History of account 1, by timestamp.
  const auto both = history(
      *c, make_filter(1, account_filter_flags::debits | account_filter_flags::credits, 100));
  EXPECT_EQ(ids_of(both), (std::vector<u128>{101, 103, 104, 105, 106}));
  const auto reversed =
      history(*c, make_filter(1,
                              account_filter_flags::debits | account_filter_flags::credits |
                                  account_filter_flags::reversed,
                              100));
  EXPECT_EQ(ids_of(reversed), (std::vector<u128>{106, 105, 104, 103, 101}));
  EXPECT_EQ(ids_of(history(*c, make_filter(1, account_filter_flags::debits, 100))),
            (std::vector<u128>{101, 103, 104}));
  EXPECT_EQ(ids_of(history(*c, make_filter(1, account_filter_flags::credits, 100))),
            (std::vector<u128>{105, 106}));
  EXPECT_EQ(ids_of(history(*c, make_filter(1, account_filter_flags::debits, 2))),
            (std::vector<u128>{101, 103}));
  auto bounded = make_filter(1, account_filter_flags::debits | account_filter_flags::credits, 100);
  bounded.timestamp_min = r[2].timestamp;
  bounded.timestamp_max = r[4].timestamp;
  EXPECT_EQ(ids_of(history(*c, bounded)), (std::vector<u128>{103, 104, 105}));
  EXPECT_TRUE(history(*c, make_filter(99, account_filter_flags::debits, 10)).empty());

  // Ledger stats: plain transfers and posts count, pending creations and voids do not.
  auto stats = c->call_ok<ledger_stats>(opcode::get_ledger_stats, stats_request(1), 1);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].ledger, 1u);
  EXPECT_EQ(stats[0].accounts, 3u);
  EXPECT_EQ(stats[0].transfers_posted, 3u);
  EXPECT_EQ(stats[0].transfers_pending, 0u);
  EXPECT_EQ(stats[0].volume_posted, 150u);
  stats = c->call_ok<ledger_stats>(opcode::get_ledger_stats, stats_request(2), 1);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].accounts, 1u);
  EXPECT_EQ(stats[0].transfers_posted, 0u);

  // An open pending transfer is counted as pending.
  ASSERT_EQ(transfers_ok_or(*c, {make_transfer(108, 2, 1, 7, transfer_flags::pending)})[0].status,
            0u);
  stats = c->call_ok<ledger_stats>(opcode::get_ledger_stats, stats_request(1), 1);
  ASSERT_EQ(stats.size(), 1u);
  EXPECT_EQ(stats[0].transfers_pending, 1u);

  // Controls: a frozen account takes no new debit.
  account_controls freeze{};
  freeze.account_id = 2;
  freeze.status_flags = account_status_flags::frozen;
  account_controls missing{};
  missing.account_id = 404;
  const auto cr = c->call_ok<result>(opcode::set_account_controls,
                                     bytes_of(std::vector<account_controls>{freeze, missing}), 2);
  ASSERT_EQ(cr.size(), 2u);
  EXPECT_EQ(cr[0].status, 0u);
  EXPECT_EQ(cr[1].status, static_cast<std::uint32_t>(set_controls_result::account_not_found));
  const auto frozen = transfers_ok_or(*c, {make_transfer(109, 2, 3, 1)});
  ASSERT_EQ(frozen.size(), 1u);
  EXPECT_EQ(frozen[0].status, static_cast<std::uint32_t>(tr::debit_account_frozen));
}

INSTANTIATE_TEST_SUITE_P(mac, end_to_end, ::testing::Bool(), mac_name);

TEST(end_to_end_sessions, two_sessions_see_each_others_writes) {
  harness h;
  auto writer = h.session(keys().all, true);
  auto reader = h.session(keys().read, false);
  ASSERT_TRUE(writer && reader);
  create_accounts_ok(*writer, {make_account(1), make_account(2)});
  for (int i = 1; i <= 5; ++i) {
    const auto r = transfers_ok_or(*writer, {make_transfer(static_cast<u128>(i), 1, 2, 10)});
    ASSERT_EQ(r.size(), 1u);
    ASSERT_EQ(r[0].status, 0u);
    // Real time: a request sent after the response sees its effect.
    const auto a = reader->call_ok<account>(opcode::lookup_accounts, bytes_of_one(u128{2}), 1);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(a[0].credits_posted, u128{10} * static_cast<unsigned>(i));
  }
}

// ---- metrics --------------------------------------------------------------------------

bool contains_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

TEST(metrics, the_text_counts_requests_by_opcode_and_status) {
  harness h;
  auto c = h.session(true);
  ASSERT_TRUE(c);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->ping_ok());
  create_accounts_ok(*c, {make_account(1), make_account(2)});
  ASSERT_EQ(transfers_ok_or(*c, {make_transfer(1, 1, 2, 5), make_transfer(2, 1, 3, 5)}).size(), 2u);
  auto b = c->request(opcode::lookup_accounts, bytes_of_one(u128{1}), 1);
  b.auto_body_crc = false;
  b.h.body_crc32c = 99;
  auto f = c->call(b);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::body_checksum);
  const auto text = h.srv().metrics_text();
  EXPECT_TRUE(contains_line(text, "remit_requests_total{opcode=\"ping\",status=\"ok\"} 3")) << text;
  EXPECT_TRUE(contains_line(text, "remit_requests_total{opcode=\"hello\",status=\"ok\"} 1"))
      << text;
  EXPECT_TRUE(contains_line(text, "remit_requests_total{opcode=\"auth\",status=\"ok\"} 1")) << text;
  EXPECT_TRUE(
      contains_line(text, "remit_requests_total{opcode=\"create_accounts\",status=\"ok\"} 1"))
      << text;
  EXPECT_TRUE(
      contains_line(text, "remit_requests_total{opcode=\"create_transfers\",status=\"ok\"} 1"))
      << text;
  EXPECT_TRUE(contains_line(
      text, "remit_requests_total{opcode=\"lookup_accounts\",status=\"body_checksum\"} 1"))
      << text;
  EXPECT_TRUE(
      contains_line(text, "remit_results_total{opcode=\"create_transfers\",result=\"ok\"} 1"))
      << text;
  EXPECT_TRUE(contains_line(
      text,
      "remit_results_total{opcode=\"create_transfers\",result=\"credit_account_not_found\"} 1"))
      << text;
  EXPECT_TRUE(contains_line(text, "remit_sessions 1")) << text;
  EXPECT_TRUE(contains_line(text, "remit_transfer_latency_seconds_count 2")) << text;
}

// A minimal HTTP/1.1 exchange; returns the status code and the body.
std::pair<int, std::string> http_get(std::uint16_t port, const std::string& method,
                                     const std::string& target) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  const std::string req =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  asio::write(s, asio::buffer(req));
  std::string all;
  boost::system::error_code ec;
  std::array<char, 4096> buf{};
  for (;;) {
    const std::size_t n = s.read_some(asio::buffer(buf), ec);
    all.append(buf.data(), n);
    if (ec) break;
  }
  int code = 0;
  if (all.rfind("HTTP/1.1 ", 0) == 0) code = std::stoi(all.substr(9, 3));
  const auto split = all.find("\r\n\r\n");
  return {code, split == std::string::npos ? std::string() : all.substr(split + 4)};
}

TEST(metrics, the_http_endpoint_serves_get_metrics_and_404_otherwise) {
  harness h;
  auto c = h.session(false);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->ping_ok());
  gateway::metrics_endpoint endpoint(h.srv(), "127.0.0.1", 0);
  ASSERT_NE(endpoint.port(), 0);
  const auto [code, body] = http_get(endpoint.port(), "GET", "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_TRUE(contains_line(body, "remit_requests_total{opcode=\"ping\",status=\"ok\"} 1")) << body;
  EXPECT_TRUE(contains_line(body, "# TYPE remit_requests_total counter")) << body;
  EXPECT_EQ(http_get(endpoint.port(), "GET", "/").first, 404);
  EXPECT_EQ(http_get(endpoint.port(), "GET", "/metricsx").first, 404);
  EXPECT_EQ(http_get(endpoint.port(), "POST", "/metrics").first, 404);
  endpoint.stop();
}

// ---- graceful stop ----------------------------------------------------------------------

// Requests the server took before stop() are answered, whole, before the connection closes;
// the answers are what the engine did.
TEST(graceful_stop, requests_in_flight_are_answered_before_the_close) {
  for (bool mac : {false, true}) {
    SCOPED_TRACE(mac ? "mac" : "no mac");
    auto cfg = server_defaults();
    cfg.io_threads = 2;
    harness h(cfg);
    auto c = h.session(mac);
    ASSERT_TRUE(c);
    create_accounts_ok(*c, {make_account(1), make_account(2)});

    constexpr int requests = 64;
    constexpr int per_request = 200;
    std::vector<std::byte> all;
    std::map<std::uint64_t, int> sent;
    std::uint64_t next_id = 1;
    for (int i = 0; i < requests; ++i) {
      std::vector<transfer> t;
      for (int j = 0; j < per_request; ++j) t.push_back(make_transfer(next_id++, 1, 2, 1));
      auto b = c->request(opcode::create_transfers, bytes_of(t), per_request);
      sent[b.h.request_id] = 0;
      const auto bytes = c->seal(b);
      all.insert(all.end(), bytes.begin(), bytes.end());
    }
    std::thread writer([&] { c->write(all); });  // may fail once the server closes
    // Stop as soon as the engine has work from this session.
    ASSERT_TRUE(eventually([&] { return h.srv().stats().inflight_requests.load() > 0; }));
    std::thread stopper([&] { h.stop_server(); });

    std::uint64_t answered_transfers = 0;
    int answered = 0;
    for (;;) {
      auto f = c->read_frame();
      if (!f) break;
      EXPECT_EQ(f->st(), status::ok);
      auto it = sent.find(f->h.request_id);
      ASSERT_NE(it, sent.end());
      EXPECT_EQ(++it->second, 1);
      const auto r = f->events<result>();
      ASSERT_EQ(r.size(), static_cast<std::size_t>(per_request));
      for (const auto& x : r) EXPECT_EQ(x.status, 0u);
      answered_transfers += r.size();
      ++answered;
    }
    EXPECT_EQ(c->last_outcome(), raw_client::outcome::closed) << "closed, not timed out";
    c->shutdown_both();  // as a client does at EOF; the server may wait for it
    const auto closed_at = steady::now();
    stopper.join();
    RecordProperty("answered", answered);
    std::printf(
        "[ stop     ] %d of %d requests answered; stop returned %lld ms after the close\n",
        answered, requests,
        static_cast<long long>(std::chrono::duration_cast<ms>(steady::now() - closed_at).count()));
    writer.join();
    EXPECT_GE(answered, 1);
    // Every request the server handed to the engine was answered.
    EXPECT_EQ(h.srv().stats().requests[op_of(opcode::create_transfers)][0].load(),
              static_cast<std::uint64_t>(answered));
    // And the engine holds exactly what was answered.
    const u128 ids[] = {1, 2};
    auto reply = h.eng().lookup_accounts(ids).get();
    ASSERT_EQ(reply.accounts.size(), 2u);
    EXPECT_EQ(reply.accounts[0].debits_posted, u128{answered_transfers});
    EXPECT_EQ(reply.accounts[1].credits_posted, u128{answered_transfers});
  }
}

// The same with a client that reads its answers only after stop() returned: the answers
// wait in the socket buffers, behind requests the server will never read. Closing a socket
// with unread input makes the kernel send a reset, which drops what the server wrote and
// the peer has not yet received, so the server must not close that way.
TEST(graceful_stop, answers_reach_a_client_that_reads_late) {
  auto cfg = server_defaults();
  cfg.inflight_max = 32;
  harness h(cfg);
  auto c = h.connect(16 << 10);
  ASSERT_TRUE(c->handshake(keys().all, false));
  create_accounts_ok(*c, {make_account(1), make_account(2)});
  constexpr int requests = 64;
  constexpr int per_request = 200;  // answers of 3.2 KB, more than the client buffers hold
  std::vector<std::byte> all;
  std::uint64_t next_id = 1;
  for (int i = 0; i < requests; ++i) {
    std::vector<transfer> t;
    for (int j = 0; j < per_request; ++j) t.push_back(make_transfer(next_id++, 1, 2, 1));
    const auto bytes = c->seal(c->request(opcode::create_transfers, bytes_of(t), per_request));
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  std::thread writer([&] { c->write(all); });
  ASSERT_TRUE(eventually(
      [&] { return h.srv().stats().requests[op_of(opcode::create_transfers)][0].load() >= 8; }));
  std::thread stopper([&] { h.stop_server(); });
  // Read late: the server has written its answers and wants to close by now.
  std::this_thread::sleep_for(ms(300));
  std::uint64_t answered = 0;
  while (auto f = c->read_frame()) {
    EXPECT_EQ(f->st(), status::ok);
    ++answered;
  }
  EXPECT_EQ(c->last_outcome(), raw_client::outcome::closed);
  c->shutdown_both();
  stopper.join();
  const auto taken = h.srv().stats().requests[op_of(opcode::create_transfers)][0].load();
  EXPECT_EQ(answered, taken) << "answers the server wrote were lost at the close";
  writer.join();
}

TEST(graceful_stop, idle_and_unauthenticated_sessions_are_closed) {
  harness h;
  auto idle = h.session(true);
  auto half = h.connect();
  ASSERT_TRUE(idle && half);
  ASSERT_TRUE(half->send_hello(raw_client::make_hello("all", 0)));
  const std::uint16_t port = h.port();
  const auto start = steady::now();
  h.stop_server();
  EXPECT_LT(std::chrono::duration_cast<ms>(steady::now() - start).count(), 3000);
  EXPECT_TRUE(idle->closed(ms(2000)));
  EXPECT_TRUE(half->closed(ms(2000)));
  // Nothing listens any more.
  EXPECT_THROW(raw_client{port}, boost::system::system_error);
}

}  // namespace
}  // namespace remit::gateway_test
