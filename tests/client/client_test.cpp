// remit::client against a fake server on loopback (fake_server.hpp): the handshake and what
// makes it fail, decoding of every response, pipelining, batching and the split of results,
// the frame checks that drop a connection, reconnect and resend, overloaded retries,
// timeouts, the bounded queue, close, and load_key.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "fake_server.hpp"
#include "gateway/client/client.hpp"
#include "gateway/codec/keys.hpp"

namespace remit::client_test {
namespace {

using namespace std::chrono_literals;
using remit::client::client;
using remit::client::client_error;
using remit::client::config;
using remit::client::reply;

std::vector<std::uint8_t> secret() {
  return std::vector<std::uint8_t>(32, 0x11);
}

config config_for(const fake_server& f) {
  config c;
  c.port = f.port();
  c.key_id = "k1";
  c.secret = secret();
  c.connect_timeout = 2000ms;
  c.request_timeout = 10000ms;
  return c;
}

transfer make_transfer(u128 id, std::uint16_t flags = 0) {
  transfer t{};
  t.id = id;
  t.debit_account_id = 1;
  t.credit_account_id = 2;
  t.amount = 10;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  return t;
}

std::vector<transfer> transfers(u128 first, std::size_t n) {
  std::vector<transfer> v;
  for (std::size_t i = 0; i < n; ++i) v.push_back(make_transfer(first + i));
  return v;
}

// Checks that `r` is the fake's ordinary answer to `events`: ok, one result per event with
// the id's low 64 bits as its timestamp.
void expect_results_for(const reply& r, const std::vector<transfer>& events) {
  ASSERT_TRUE(r.ok()) << r.error;
  ASSERT_EQ(r.results.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(r.results[i].status, 0u);
    EXPECT_EQ(r.results[i].timestamp, u128_lo(events[i].id)) << "event " << i;
  }
}

// Collects the replies of asynchronous calls.
class collector {
 public:
  remit::client::callback at(std::size_t i) {
    return [this, i](reply&& r) {
      std::lock_guard lk(mu_);
      EXPECT_EQ(replies_.count(i), 0u) << "call " << i << " answered twice";
      replies_[i] = std::move(r);
      cv_.notify_all();
    };
  }
  bool wait(std::size_t n, std::chrono::milliseconds timeout = 10000ms) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return replies_.size() >= n; });
  }
  reply get(std::size_t i) {
    std::lock_guard lk(mu_);
    return replies_.at(i);
  }
  std::size_t size() {
    std::lock_guard lk(mu_);
    return replies_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::size_t, reply> replies_;
};

// Requests a hook kept without answering, to be answered later by the test.
class held {
 public:
  fake_server::hook hook() {
    return [this](fake_session& s, const received& r) {
      std::lock_guard lk(mu_);
      kept_.emplace_back(&s, r);
      cv_.notify_all();
    };
  }
  // Waits until `n` requests are kept.
  bool wait(std::size_t n, std::chrono::milliseconds timeout = 5000ms) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return kept_.size() >= n; });
  }
  std::vector<std::pair<fake_session*, received>> take() {
    std::lock_guard lk(mu_);
    return std::exchange(kept_, {});
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<fake_session*, received>> kept_;
};

// ---- handshake ------------------------------------------------------------------------------

TEST(client_handshake, session_info_and_ping) {
  fake_options o;
  o.inflight_max = 7;
  o.event_count_max = 100;
  o.server_version = "fake-9-nodurable";
  fake_server f(secret(), o);
  client c(config_for(f));
  const auto& s = c.session();
  EXPECT_EQ(s.session_id, 1u);
  EXPECT_EQ(s.permissions, codec::permission::all);
  EXPECT_EQ(s.inflight_max, 7u);
  EXPECT_EQ(s.event_count_max, 100u);
  EXPECT_EQ(s.body_size_max, remit::body_size_max);
  EXPECT_FALSE(s.mac);
  EXPECT_EQ(s.server_version, "fake-9-nodurable");
  EXPECT_EQ(s.role, 0u);
  EXPECT_EQ(f.last_mac_mode(), 0u);

  const std::vector<std::byte> payload = {std::byte{1}, std::byte{2}, std::byte{3}};
  const reply r = c.ping(payload);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.ping, payload);
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

TEST(client_handshake, mac_on_every_frame_both_ways) {
  fake_server f(secret());
  config cfg = config_for(f);
  cfg.mac = true;
  client c(cfg);
  EXPECT_TRUE(c.session().mac);
  EXPECT_EQ(f.last_mac_mode(), 1u);
  for (int i = 0; i < 5; ++i) {
    const auto events = transfers(1000 + 10 * i, 3);
    expect_results_for(c.create_transfers(events), events);
  }
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

TEST(client_handshake, wrong_secret_is_refused) {
  fake_server f(secret());
  config cfg = config_for(f);
  cfg.secret = std::vector<std::uint8_t>(32, 0x22);
  try {
    client c(cfg);
    FAIL() << "connected with a wrong secret";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("auth_failed"), std::string::npos) << e.what();
  }
}

TEST(client_handshake, server_proof_that_does_not_verify_is_refused) {
  fake_options o;
  o.bad_server_proof = true;
  fake_server f(secret(), o);
  try {
    client c(config_for(f));
    FAIL() << "accepted a server that cannot prove the key";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("proof"), std::string::npos) << e.what();
  }
  // The connection was closed after AuthReply: no request ever came.
  EXPECT_EQ(f.request_count(), 0u);
}

TEST(client_handshake, mac_required_without_mac_is_refused) {
  fake_options o;
  o.mac_required = true;
  fake_server f(secret(), o);
  try {
    client c(config_for(f));
    FAIL() << "connected without MAC to a server that requires it";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("MAC"), std::string::npos) << e.what();
  }
  config cfg = config_for(f);
  cfg.mac = true;
  client c(cfg);
  EXPECT_TRUE(c.ping({}).ok());
}

TEST(client_handshake, connection_refused) {
  std::uint16_t port = 0;
  {
    fake_server f(secret());
    port = f.port();
  }
  config cfg;
  cfg.port = port;
  cfg.key_id = "k1";
  cfg.secret = secret();
  EXPECT_THROW(client c(cfg), client_error);
}

TEST(client_handshake, config_without_key_is_refused) {
  config cfg;
  cfg.secret = secret();
  EXPECT_THROW(client c(cfg), client_error);
}

// ---- decoding -------------------------------------------------------------------------------

TEST(client_decode, every_response_kind) {
  fake_server f(secret());
  client c(config_for(f));

  std::vector<account> accounts(3);
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    accounts[i].id = 500 + i;
    accounts[i].ledger = 1;
    accounts[i].code = 1;
  }
  const reply ca = c.create_accounts(accounts);
  ASSERT_TRUE(ca.ok()) << ca.error;
  ASSERT_EQ(ca.results.size(), 3u);
  EXPECT_EQ(ca.results[2].timestamp, 502u);

  const std::vector<u128> ids = {make_u128(1, 7), 9, make_u128(1, 7)};
  const reply la = c.lookup_accounts(ids);
  ASSERT_TRUE(la.ok()) << la.error;
  ASSERT_EQ(la.accounts.size(), 3u);
  EXPECT_TRUE(la.accounts[0].id == make_u128(1, 7));
  EXPECT_TRUE(la.accounts[1].credits_posted == 90);

  const reply lt = c.lookup_transfers(ids);
  ASSERT_TRUE(lt.ok()) << lt.error;
  ASSERT_EQ(lt.transfers.size(), 3u);
  EXPECT_TRUE(lt.transfers[1].amount == 9);

  account_filter filter{};
  filter.account_id = 77;
  filter.limit = 10;
  filter.flags = account_filter_flags::debits;
  const reply gt = c.get_account_transfers(filter);
  ASSERT_TRUE(gt.ok()) << gt.error;
  ASSERT_EQ(gt.transfers.size(), 2u);
  EXPECT_TRUE(gt.transfers[0].debit_account_id == 77);

  std::vector<account_controls> controls(2);
  controls[0].account_id = 1;
  controls[1].account_id = 2;
  const reply sc = c.set_account_controls(controls);
  ASSERT_TRUE(sc.ok()) << sc.error;
  EXPECT_EQ(sc.results.size(), 2u);

  const reply st = c.get_ledger_stats(5);
  ASSERT_TRUE(st.ok()) << st.error;
  EXPECT_EQ(st.stats.ledger, 5u);
  EXPECT_EQ(st.stats.accounts, 42u);
  EXPECT_TRUE(st.stats.volume_posted == make_u128(1, 2));
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

TEST(client_decode, error_status_and_reason_reach_the_caller) {
  fake_server f(secret());
  f.set_hook([](fake_session& s, const received& r) {
    if (r.op() == codec::opcode::create_transfers)
      s.error(r, codec::status::permission_denied, "key k1 lacks the transfer permission");
    else
      s.answer(r);
  });
  client c(config_for(f));
  const reply r = c.create_transfers(transfers(1, 2));
  EXPECT_TRUE(r.answered);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, codec::status::permission_denied);
  EXPECT_EQ(r.error, "key k1 lacks the transfer permission");
  EXPECT_TRUE(r.results.empty());
  // The session goes on.
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(c.reconnects(), 0u);
}

TEST(client_decode, a_status_that_closes_the_session_is_returned_and_the_rest_resent) {
  held h;
  fake_options o;
  o.inflight_max = 2;
  fake_server f(secret(), o);
  f.set_hook(h.hook());
  collector got;
  config cfg = config_for(f);
  cfg.batching = false;
  client c(cfg);
  const auto a = transfers(1, 1);
  const auto b = transfers(2, 1);
  c.create_transfers(a, got.at(0));
  c.create_transfers(b, got.at(1));
  ASSERT_TRUE(h.wait(2));
  f.set_hook([](fake_session& s, const received& r) { s.answer(r); });
  auto kept = h.take();
  ASSERT_EQ(kept.size(), 2u);
  kept[0].first->error(kept[0].second, codec::status::storage_failed, "disk full");
  kept[0].first->close();
  ASSERT_TRUE(got.wait(2));
  EXPECT_TRUE(got.get(0).answered);
  EXPECT_EQ(got.get(0).status, codec::status::storage_failed);
  EXPECT_EQ(got.get(0).error, "disk full");
  expect_results_for(got.get(1), b);
  EXPECT_EQ(c.reconnects(), 1u);
}

// ---- pipelining and batching ------------------------------------------------------------------

TEST(client_pipeline, answers_out_of_order_are_matched_by_request_id) {
  std::atomic<int> most_outstanding{0};
  held h;
  fake_options o;
  o.inflight_max = 8;
  fake_server f(secret(), o);
  f.set_hook([&](fake_session& s, const received& r) {
    h.hook()(s, r);
    auto kept = h.take();
    // Put back until 8 are kept, then answer them all in reverse order.
    if (kept.size() < 8) {
      for (auto& k : kept) h.hook()(*k.first, k.second);
      return;
    }
    most_outstanding = std::max<int>(most_outstanding, static_cast<int>(kept.size()));
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) it->first->answer(it->second);
  });
  config cfg = config_for(f);
  cfg.batching = false;
  collector got;
  client c(cfg);
  std::vector<std::vector<transfer>> events;
  for (std::size_t i = 0; i < 32; ++i) events.push_back(transfers(u128{1000} * (i + 1), 1 + i % 3));
  for (std::size_t i = 0; i < events.size(); ++i) c.create_transfers(events[i], got.at(i));
  ASSERT_TRUE(got.wait(events.size()));
  for (std::size_t i = 0; i < events.size(); ++i) expect_results_for(got.get(i), events[i]);
  EXPECT_EQ(most_outstanding.load(), 8);
  EXPECT_EQ(f.request_count(), 32u);
  EXPECT_EQ(c.inflight(), 0u);
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

// With inflight_max 1 and the first request held, the calls that follow queue; they go out
// packed in as few frames as the limits allow, and each call gets its own results back.
struct batching_case {
  const char* name;
  std::uint32_t event_count_max;
  std::vector<std::vector<std::uint16_t>> calls;  // flags of each event of each queued call
  std::vector<std::uint32_t> frames;              // event counts of the frames after the first
};

class client_batching : public ::testing::TestWithParam<batching_case> {};

TEST_P(client_batching, packs_queued_calls_and_splits_results) {
  const batching_case& bc = GetParam();
  held h;
  fake_options o;
  o.inflight_max = 1;
  o.event_count_max = bc.event_count_max;
  fake_server f(secret(), o);
  f.set_hook(h.hook());
  collector got;
  client c(config_for(f));
  const auto first = transfers(1, 1);
  c.create_transfers(first, got.at(0));
  ASSERT_TRUE(h.wait(1));
  std::vector<std::vector<transfer>> events;
  u128 id = 100;
  for (const auto& flags : bc.calls) {
    std::vector<transfer> v;
    v.reserve(flags.size());
    for (const auto fl : flags) v.push_back(make_transfer(id++, fl));
    events.push_back(v);
  }
  for (std::size_t i = 0; i < events.size(); ++i) c.create_transfers(events[i], got.at(i + 1));
  EXPECT_EQ(c.inflight(), events.size() + 1);
  std::this_thread::sleep_for(50ms);  // let the I/O thread queue them
  f.set_hook([](fake_session& s, const received& r) { s.answer(r); });
  for (auto& [s, r] : h.take()) s->answer(r);
  ASSERT_TRUE(got.wait(events.size() + 1));
  expect_results_for(got.get(0), first);
  for (std::size_t i = 0; i < events.size(); ++i) expect_results_for(got.get(i + 1), events[i]);
  const auto reqs = f.requests();
  ASSERT_EQ(reqs.size(), bc.frames.size() + 1);
  for (std::size_t i = 0; i < bc.frames.size(); ++i)
    EXPECT_EQ(reqs[i + 1].header.event_count, bc.frames[i]) << "frame " << i + 1;
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

constexpr std::uint16_t L = transfer_flags::linked;

INSTANTIATE_TEST_SUITE_P(
    table, client_batching,
    ::testing::Values(
        batching_case{"five_calls_one_frame", 8190, {{0, 0, 0}, {0}, {0, 0}, {0}, {0, 0, 0}}, {10}},
        batching_case{
            "limit_of_events", 8, {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, {0}}, {6, 7}},
        // A call whose last event is linked ends its frame; a chain inside a call does not.
        batching_case{
            "linked_last_ends_a_frame", 8190, {{0, L, 0}, {0, L}, {0}, {L}, {0}}, {5, 2, 1}},
        batching_case{"linked_alone", 8190, {{L}, {L}, {0}}, {1, 1, 1}}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(client_batching_off, each_call_is_its_own_frame) {
  held h;
  fake_options o;
  o.inflight_max = 1;
  fake_server f(secret(), o);
  f.set_hook(h.hook());
  config cfg = config_for(f);
  cfg.batching = false;
  collector got;
  client c(cfg);
  for (std::size_t i = 0; i < 4; ++i)
    c.create_transfers(transfers(u128{10} * (i + 1), 2), got.at(i));
  ASSERT_TRUE(h.wait(1));
  f.set_hook([](fake_session& s, const received& r) { s.answer(r); });
  for (auto& [s, r] : h.take()) s->answer(r);
  ASSERT_TRUE(got.wait(4));
  EXPECT_EQ(f.request_count(), 4u);
}

TEST(client_batching_lookups, lookups_are_never_packed) {
  held h;
  fake_options o;
  o.inflight_max = 1;
  fake_server f(secret(), o);
  f.set_hook(h.hook());
  collector got;
  client c(config_for(f));
  const std::vector<u128> ids = {1, 2};
  for (std::size_t i = 0; i < 3; ++i) c.lookup_accounts(ids, got.at(i));
  ASSERT_TRUE(h.wait(1));
  std::this_thread::sleep_for(20ms);
  f.set_hook([](fake_session& s, const received& r) { s.answer(r); });
  for (auto& [s, r] : h.take()) s->answer(r);
  ASSERT_TRUE(got.wait(3));
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(got.get(i).accounts.size(), 2u);
  EXPECT_EQ(f.request_count(), 3u);
}

TEST(client_batching, a_call_larger_than_the_server_allows_is_answered_at_once) {
  fake_options o;
  o.event_count_max = 4;
  fake_server f(secret(), o);
  client c(config_for(f));
  const reply r = c.create_transfers(transfers(1, 5));
  EXPECT_FALSE(r.answered);
  EXPECT_NE(r.error.find("exceed"), std::string::npos) << r.error;
  EXPECT_EQ(f.request_count(), 0u);
  EXPECT_TRUE(c.create_transfers(transfers(1, 4)).ok());
}

TEST(client_queue, past_queued_events_max_a_call_is_answered_overloaded) {
  held h;
  fake_options o;
  o.inflight_max = 1;
  fake_server f(secret(), o);
  f.set_hook(h.hook());
  config cfg = config_for(f);
  cfg.queued_events_max = 4;
  collector got;
  client c(cfg);
  c.create_transfers(transfers(1, 1), got.at(0));
  ASSERT_TRUE(h.wait(1));
  c.create_transfers(transfers(10, 3), got.at(1));  // queued: 3 of 4
  c.create_transfers(transfers(20, 2), got.at(2));  // would make 5
  ASSERT_TRUE(got.wait(1));
  const reply r = got.get(2);
  EXPECT_TRUE(r.answered);
  EXPECT_EQ(r.status, codec::status::overloaded);
  f.set_hook([](fake_session& s, const received& x) { s.answer(x); });
  for (auto& [s, x] : h.take()) s->answer(x);
  ASSERT_TRUE(got.wait(3));
  EXPECT_TRUE(got.get(0).ok());
  EXPECT_TRUE(got.get(1).ok());
}

TEST(client_threads, many_callers_at_once) {
  fake_options o;
  o.inflight_max = 4;
  fake_server f(secret(), o);
  client c(config_for(f));
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const auto events = transfers(1'000'000 * (t + 1) + 10 * i, 1 + i % 4);
        const reply r = c.create_transfers(events);
        bool good = r.ok() && r.results.size() == events.size();
        for (std::size_t k = 0; good && k < events.size(); ++k)
          good = r.results[k].timestamp == u128_lo(events[k].id);
        if (!good) ++bad;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(c.inflight(), 0u);
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

TEST(client_threads, a_synchronous_call_from_a_callback_is_refused) {
  fake_server f(secret());
  collector got;
  client c(config_for(f));
  c.ping({}, [&](reply&& r) {
    EXPECT_TRUE(r.ok());
    got.at(0)(c.ping({}));
  });
  ASSERT_TRUE(got.wait(1));
  EXPECT_FALSE(got.get(0).answered);
  EXPECT_NE(got.get(0).error.find("I/O thread"), std::string::npos);
}

TEST(client_threads, callbacks_may_call_again) {
  fake_server f(secret());
  client c(config_for(f));
  std::atomic<int> left{100};
  std::mutex mu;
  std::condition_variable cv;
  std::function<void(reply &&)> again = [&](reply&& r) {
    EXPECT_TRUE(r.ok());
    if (--left > 0) {
      c.ping({}, again);
    } else {
      std::lock_guard lk(mu);
      cv.notify_all();
    }
  };
  c.ping({}, again);
  std::unique_lock lk(mu);
  EXPECT_TRUE(cv.wait_for(lk, 10s, [&] { return left.load() == 0; }));
}

// ---- checks on received frames, reconnect and resend -------------------------------------------

struct spoil_case {
  const char* name;
  bool mac;
  tamper t;
};

class client_frame_check : public ::testing::TestWithParam<spoil_case> {};

// The first answer on the first connection is spoiled: the client drops the connection,
// reconnects and sends the request again, and the caller sees only the good answer.
TEST_P(client_frame_check, a_bad_frame_drops_the_connection_and_the_request_is_resent) {
  const spoil_case& sc = GetParam();
  fake_server f(secret());
  f.set_hook([&](fake_session& s, const received& r) {
    if (s.index() == 0)
      s.answer(r, sc.t);
    else
      s.answer(r);
  });
  config cfg = config_for(f);
  cfg.mac = sc.mac;
  client c(cfg);
  const auto events = transfers(40, 3);
  expect_results_for(c.create_transfers(events), events);
  EXPECT_EQ(c.reconnects(), 1u);
  EXPECT_EQ(f.connections(), 2);
  const auto reqs = f.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].connection, 0);
  EXPECT_EQ(reqs[1].connection, 1);
  EXPECT_EQ(reqs[1].header.sequence, 1u);  // a new session numbers from 1 again
  EXPECT_EQ(reqs[0].ids(), reqs[1].ids());
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

INSTANTIATE_TEST_SUITE_P(
    table, client_frame_check,
    ::testing::Values(spoil_case{"sequence_ahead", false, tamper{1, false, false, false}},
                      spoil_case{"sequence_behind", false, tamper{-1, false, false, false}},
                      spoil_case{"sequence_ahead_mac", true, tamper{1, false, false, false}},
                      spoil_case{"bad_mac", true, tamper{0, true, false, false}},
                      spoil_case{"mac_without_mac_session", false, tamper{0, true, false, false}},
                      spoil_case{"body_checksum", false, tamper{0, false, true, false}},
                      spoil_case{"body_checksum_mac", true, tamper{0, false, true, false}},
                      spoil_case{"no_response_flag", false, tamper{0, false, false, true}}),
    [](const auto& test_info) { return std::string(test_info.param.name); });

TEST(client_reconnect, unanswered_requests_are_resent_after_a_drop) {
  fake_options o;
  o.inflight_max = 4;
  fake_server f(secret(), o);
  f.set_hook([](fake_session& s, const received& r) {
    // The first connection takes three requests and drops without answering.
    if (s.index() == 0) {
      if (r.header.sequence == 3) s.close();
      return;
    }
    s.answer(r);
  });
  config cfg = config_for(f);
  cfg.batching = false;
  collector got;
  client c(cfg);
  std::vector<std::vector<transfer>> events;
  for (std::size_t i = 0; i < 6; ++i) events.push_back(transfers(u128{100} * (i + 1), 2));
  for (std::size_t i = 0; i < events.size(); ++i) c.create_transfers(events[i], got.at(i));
  ASSERT_TRUE(got.wait(events.size()));
  for (std::size_t i = 0; i < events.size(); ++i) expect_results_for(got.get(i), events[i]);
  EXPECT_EQ(c.reconnects(), 1u);
  // Every call reached the second connection, in the order of the calls.
  std::vector<u128> second;
  for (const auto& r : f.requests())
    if (r.connection == 1) second.push_back(r.ids().front());
  ASSERT_EQ(second.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_TRUE(second[i] == events[i][0].id);
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

TEST(client_reconnect, gives_up_after_reconnects_max_and_answers_unanswered) {
  fake_server f(secret());
  f.set_hook([&](fake_session&, const received&) {});  // never answers
  config cfg = config_for(f);
  cfg.reconnects_max = 3;
  collector got;
  client c(cfg);
  c.create_transfers(transfers(1, 2), got.at(0));
  ASSERT_TRUE(f.wait_requests(1));
  const auto t0 = std::chrono::steady_clock::now();
  f.stop();  // closes the session and refuses new connections
  ASSERT_TRUE(got.wait(1));
  const auto waited = std::chrono::steady_clock::now() - t0;
  const reply r = got.get(0);
  EXPECT_FALSE(r.answered);
  EXPECT_NE(r.error.find("connection lost"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("3 reconnect attempts"), std::string::npos) << r.error;
  // Backoff 10 + 20 + 40 ms between the attempts.
  EXPECT_GE(waited, 60ms);
  EXPECT_EQ(c.inflight(), 0u);
  // A later call tries again, and fails the same way.
  const reply later = c.ping({});
  EXPECT_FALSE(later.answered);
}

TEST(client_reconnect, overloaded_is_retried_after_a_backoff) {
  std::atomic<int> overloaded{0};
  fake_server f(secret());
  f.set_hook([&](fake_session& s, const received& r) {
    if (overloaded < 3) {
      ++overloaded;
      s.error(r, codec::status::overloaded, "busy");
    } else {
      s.answer(r);
    }
  });
  client c(config_for(f));
  const auto events = transfers(7, 2);
  const auto t0 = std::chrono::steady_clock::now();
  expect_results_for(c.create_transfers(events), events);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 70ms);  // 10 + 20 + 40
  EXPECT_EQ(f.request_count(), 4u);
  EXPECT_EQ(c.reconnects(), 0u);
  // Each retry is a new request with a new id on the same session.
  const auto reqs = f.requests();
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    EXPECT_NE(reqs[i].header.request_id, reqs[i - 1].header.request_id);
    EXPECT_EQ(reqs[i].header.sequence, reqs[i - 1].header.sequence + 1);
  }
}

// ---- cluster statuses (section 9) ------------------------------------------------------------

TEST(client_handshake, role_of_the_hello_reply) {
  for (const std::uint32_t role : {0u, 1u, 2u}) {
    fake_options o;
    o.role = role;
    fake_server f(secret(), o);
    config cfg = config_for(f);
    cfg.follow_primary = role != 2;  // a standby is not settled on otherwise
    client c(cfg);
    EXPECT_EQ(c.session().role, role);
    EXPECT_TRUE(c.ping({}).ok());
  }
}

// With follow_primary off, not_primary fails the call with the primary's address from the
// body, and the session goes on: no reconnect, no resend.
TEST(client_cluster, not_primary_names_the_primary_and_keeps_the_session) {
  std::atomic<int> refused{0};
  fake_server f(secret());
  f.set_hook([&](fake_session& s, const received& r) {
    if (r.op() != codec::opcode::create_transfers) return s.answer(r);
    const std::string body = refused++ == 0 ? "10.0.0.2:7400" : "";
    s.respond(r, codec::status::not_primary, std::as_bytes(std::span(body)), 0);
  });
  config cfg = config_for(f);
  cfg.follow_primary = false;
  client c(cfg);
  const reply r = c.create_transfers(transfers(1, 2));
  EXPECT_TRUE(r.answered);
  EXPECT_EQ(r.status, codec::status::not_primary);
  EXPECT_EQ(r.primary, "10.0.0.2:7400");
  EXPECT_NE(r.error.find("the primary is at 10.0.0.2:7400"), std::string::npos) << r.error;
  EXPECT_TRUE(r.results.empty());
  // An empty body: the server does not know the primary.
  const reply e = c.create_transfers(transfers(3, 1));
  EXPECT_EQ(e.status, codec::status::not_primary);
  EXPECT_TRUE(e.primary.empty());
  EXPECT_NE(e.error.find("does not know"), std::string::npos) << e.error;
  // The session goes on: the same connection answers, nothing was resent.
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(c.reconnects(), 0u);
  EXPECT_EQ(f.connections(), 1);
  EXPECT_EQ(f.request_count(), 3u);
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

// not_primary is followed: a new session (to the address named, here the fake itself) and
// the same events resent. A node that keeps answering not_primary is followed at most
// reconnects_max times; then the caller gets not_primary.
TEST(client_cluster, not_primary_is_followed_at_most_reconnects_max_times) {
  fake_server f(secret());
  const std::string self = "127.0.0.1:" + std::to_string(f.port());
  f.set_hook([&](fake_session& s, const received& r) {
    if (r.op() != codec::opcode::create_transfers) return s.answer(r);
    s.respond(r, codec::status::not_primary, std::as_bytes(std::span(self)), 0);
  });
  config cfg = config_for(f);
  cfg.reconnects_max = 3;
  client c(cfg);
  const reply r = c.create_transfers(transfers(1, 2));
  EXPECT_TRUE(r.answered);
  EXPECT_EQ(r.status, codec::status::not_primary);
  EXPECT_EQ(r.primary, self);
  EXPECT_EQ(r.resends, 3u);
  EXPECT_EQ(f.connections(), 4);  // the first session and one per follow
  const auto reqs = f.requests();
  ASSERT_EQ(reqs.size(), 4u);
  for (const auto& q : reqs) EXPECT_EQ(q.body, reqs[0].body);
  EXPECT_EQ(c.stats().not_primary_followed, 3u);
  EXPECT_EQ(c.reconnects(), 3u);
  // The last session goes on.
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

// A single server that answers as a standby: the client waits, looking again, for up to
// connect_timeout, then says what it saw.
TEST(client_cluster, a_lone_standby_is_not_settled_on) {
  fake_options o;
  o.role = 2;
  fake_server f(secret(), o);
  config cfg = config_for(f);
  cfg.connect_timeout = 200ms;
  try {
    client c(cfg);
    FAIL() << "settled on a standby";
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("no primary"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a standby"), std::string::npos) << e.what();
  }
  EXPECT_GE(f.connections(), 2);
  // follow_primary off: a standby will do.
  cfg.follow_primary = false;
  client c(cfg);
  EXPECT_EQ(c.session().role, 2u);
  EXPECT_TRUE(c.ping({}).ok());
}

// unavailable: the outcome is unknown; the client resends the same events by id, on the
// same session, after a backoff.
TEST(client_cluster, unavailable_is_resent_by_id_on_the_same_session) {
  std::atomic<int> unavailable{0};
  fake_server f(secret());
  f.set_hook([&](fake_session& s, const received& r) {
    if (r.op() == codec::opcode::create_transfers && unavailable < 2) {
      ++unavailable;
      s.error(r, codec::status::unavailable, "replication timed out");
    } else {
      s.answer(r);
    }
  });
  client c(config_for(f));
  const auto events = transfers(7, 3);
  expect_results_for(c.create_transfers(events), events);
  EXPECT_EQ(c.reconnects(), 0u);
  EXPECT_EQ(f.connections(), 1);
  const auto reqs = f.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.ids(), reqs[0].ids());  // the same events each time
    EXPECT_EQ(q.body, reqs[0].body);
  }
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(f.violations(), 0) << f.last_violation();
}

// The resends are bounded by reconnects_max; then the caller gets unavailable.
TEST(client_cluster, unavailable_resends_are_bounded) {
  fake_server f(secret());
  f.set_hook([&](fake_session& s, const received& r) {
    if (r.op() == codec::opcode::create_transfers)
      s.error(r, codec::status::unavailable, "");
    else
      s.answer(r);
  });
  config cfg = config_for(f);
  cfg.reconnects_max = 3;
  client c(cfg);
  const reply r = c.create_transfers(transfers(5, 1));
  EXPECT_TRUE(r.answered);
  EXPECT_EQ(r.status, codec::status::unavailable);
  EXPECT_NE(r.error.find("outcome is unknown"), std::string::npos) << r.error;
  EXPECT_EQ(f.request_count(), 4u);  // the first send and 3 resends
  EXPECT_EQ(c.reconnects(), 0u);
  EXPECT_EQ(f.connections(), 1);
  EXPECT_TRUE(c.ping({}).ok());
}

// ---- timeouts and close -------------------------------------------------------------------------

TEST(client_timeout, an_unanswered_request_times_out) {
  held h;
  fake_options o;
  o.inflight_max = 1;
  fake_server f(secret(), o);
  f.set_hook(h.hook());
  config cfg = config_for(f);
  cfg.request_timeout = 100ms;
  collector got;
  client c(cfg);
  c.create_transfers(transfers(1, 1), got.at(0));  // sent, never answered
  c.create_transfers(transfers(2, 1), got.at(1));  // queued behind it
  ASSERT_TRUE(got.wait(2, 5000ms));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_FALSE(got.get(i).answered);
    EXPECT_NE(got.get(i).error.find("timed out"), std::string::npos) << got.get(i).error;
  }
  EXPECT_EQ(c.inflight(), 0u);
  // A late answer to a call that timed out is dropped; the session goes on.
  f.set_hook([](fake_session& s, const received& r) { s.answer(r); });
  for (auto& [s, r] : h.take()) s->answer(r);
  EXPECT_TRUE(c.ping({}).ok());
  EXPECT_EQ(c.reconnects(), 0u);
}

TEST(client_close, close_answers_pending_calls) {
  fake_server f(secret());
  f.set_hook([](fake_session&, const received&) {});
  collector got;
  {
    client c(config_for(f));
    c.create_transfers(transfers(1, 1), got.at(0));
    c.ping({}, got.at(1));
    ASSERT_TRUE(f.wait_requests(2));
    c.close();
    EXPECT_EQ(got.size(), 2u);
    EXPECT_FALSE(got.get(0).answered);
    EXPECT_NE(got.get(0).error.find("closed"), std::string::npos);
    // After close, calls are answered at once.
    const reply r = c.ping({});
    EXPECT_FALSE(r.answered);
    c.close();  // twice is harmless
  }
}

TEST(client_close, the_destructor_answers_pending_calls) {
  fake_server f(secret());
  f.set_hook([](fake_session&, const received&) {});
  collector got;
  {
    client c(config_for(f));
    for (std::size_t i = 0; i < 10; ++i) c.create_transfers(transfers(10 * i + 1, 2), got.at(i));
  }
  EXPECT_EQ(got.size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) EXPECT_FALSE(got.get(i).answered);
}

TEST(client_close, close_from_a_callback) {
  fake_server f(secret());
  collector got;
  client c(config_for(f));
  c.ping({}, [&](reply&& r) {
    EXPECT_TRUE(r.ok());
    c.close();
    got.at(0)(std::move(r));
  });
  ASSERT_TRUE(got.wait(1));
  // The destructor (on this thread) joins the I/O thread.
}

// ---- load_key -----------------------------------------------------------------------------------

class client_load_key : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("remit_client_keys_" + std::to_string(::getpid())))
                .string();
  }
  void TearDown() override { std::filesystem::remove(path_); }
  void write(const std::string& text, mode_t mode) {
    std::ofstream(path_) << text;
    ::chmod(path_.c_str(), mode);
  }
  std::string path_;
};

TEST_F(client_load_key, reads_the_named_key) {
  const auto k = codec::make_key("loader", 3);
  write("# keys\nadmin " + std::string(32, 'a') + " 7\n" + codec::format_key(k) + "\n", 0600);
  config cfg;
  remit::client::load_key(cfg, path_, "loader");
  EXPECT_EQ(cfg.key_id, "loader");
  EXPECT_EQ(cfg.secret, k.secret);
}

TEST_F(client_load_key, refuses_a_missing_key_a_bad_file_and_an_open_mode) {
  write("admin " + std::string(32, 'a') + " 7\n", 0600);
  config cfg;
  EXPECT_THROW(remit::client::load_key(cfg, path_, "nobody"), client_error);
  write("admin " + std::string(32, 'a') + " 7\n", 0644);
  try {
    remit::client::load_key(cfg, path_, "admin");
    FAIL();
  } catch (const client_error& e) {
    EXPECT_NE(std::string(e.what()).find("chmod"), std::string::npos) << e.what();
  }
  write("admin zz 7\n", 0600);
  EXPECT_THROW(remit::client::load_key(cfg, path_, "admin"), client_error);
  EXPECT_THROW(remit::client::load_key(cfg, path_ + ".missing", "admin"), client_error);
}

}  // namespace
}  // namespace remit::client_test
