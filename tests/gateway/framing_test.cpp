// Frames split anywhere, and pipelining (docs/PROTOCOL.md sections 1 and 2): a frame that arrives
// in two pieces, cut at every byte, or one byte at a time is answered as if it came whole;
// many requests outstanding are all answered, matched by request_id; the server stops
// reading a session at inflight_max outstanding and resumes as answers go out.
#include <map>

#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

// Writes `bytes` in pieces cut at `cuts`, each piece only once the server has read the one
// before (its bytes_in counter moved), so the server really sees a partial frame.
void write_in_pieces(harness& h, raw_client& c, std::span<const std::byte> bytes,
                     const std::vector<std::size_t>& cuts) {
  std::size_t from = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t to = i < cuts.size() ? cuts[i] : bytes.size();
    const auto before = h.srv().stats().bytes_in.load();
    ASSERT_TRUE(c.write(bytes.subspan(from, to - from)));
    if (i < cuts.size()) {
      ASSERT_TRUE(eventually([&] {
        return h.srv().stats().bytes_in.load() >= before + (to - from);
      })) << "the server did not read the piece "
          << from << ".." << to;
    }
    from = to;
  }
}

class split : public ::testing::TestWithParam<bool> {};

TEST_P(split, a_frame_cut_in_two_at_every_byte_is_answered_the_same) {
  const bool mac = GetParam();
  harness h;
  auto c = h.session(mac);
  ASSERT_TRUE(c);
  create_accounts_ok(*c, {make_account(1), make_account(2)});

  // CREATE_TRANSFERS: one transfer per cut position, each must be created.
  const std::size_t frame_size = codec::header_size + sizeof(transfer);
  std::uint64_t transfers_made = 0;
  for (std::size_t k = 1; k < frame_size; ++k) {
    SCOPED_TRACE("CREATE_TRANSFERS cut at " + std::to_string(k));
    auto b =
        c->request(opcode::create_transfers, bytes_of_one(make_transfer(10000 + k, 1, 2, 3)), 1);
    const auto bytes = c->seal(b);
    ASSERT_EQ(bytes.size(), frame_size);
    write_in_pieces(h, *c, bytes, {k});
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->st(), status::ok);
    EXPECT_EQ(f->h.request_id, b.h.request_id);
    ASSERT_EQ(f->h.event_count, 1u);
    const auto r = f->events<result>();
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].status, 0u) << name(static_cast<create_transfer_result>(r[0].status));
    EXPECT_NE(r[0].timestamp, 0u);
    ++transfers_made;
  }

  // LOOKUP_ACCOUNTS of both accounts: every answer is byte for byte the same.
  const std::vector<u128> ids = {1, 2, 1};
  const std::size_t lookup_size = codec::header_size + ids.size() * sizeof(u128);
  std::optional<std::vector<std::byte>> first;
  for (std::size_t k = 1; k < lookup_size; ++k) {
    SCOPED_TRACE("LOOKUP_ACCOUNTS cut at " + std::to_string(k));
    auto b = c->request(opcode::lookup_accounts, bytes_of(ids), 3);
    const auto bytes = c->seal(b);
    write_in_pieces(h, *c, bytes, {k});
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    ASSERT_EQ(f->st(), status::ok);
    EXPECT_EQ(f->h.request_id, b.h.request_id);
    EXPECT_EQ(f->h.event_count, 3u);
    if (!first) first = f->body;
    EXPECT_EQ(f->body, *first);
  }
  ASSERT_TRUE(first);
  frame whole;
  whole.body = *first;
  const auto accounts = whole.events<account>();
  ASSERT_EQ(accounts.size(), 3u);
  EXPECT_EQ(accounts[0].debits_posted, u128{3} * transfers_made);
  EXPECT_EQ(accounts[1].credits_posted, u128{3} * transfers_made);
  EXPECT_EQ(accounts[2].id, u128{1}) << "a lookup answers each id as often as it is asked";
  EXPECT_TRUE(c->ping_ok());
}

TEST_P(split, a_frame_sent_byte_by_byte_is_answered) {
  const bool mac = GetParam();
  harness h;
  auto c = h.session(mac);
  ASSERT_TRUE(c);
  create_accounts_ok(*c, {make_account(1), make_account(2)});
  std::vector<transfer> t = {make_transfer(1, 1, 2, 10), make_transfer(2, 2, 1, 4)};
  auto b = c->request(opcode::create_transfers, bytes_of(t), 2);
  const auto bytes = c->seal(b);
  std::vector<std::size_t> cuts;
  for (std::size_t k = 1; k < bytes.size(); ++k) cuts.push_back(k);
  write_in_pieces(h, *c, bytes, cuts);
  auto f = c->read_frame();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->st(), status::ok);
  const auto r = f->events<result>();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].status, 0u);
  EXPECT_EQ(r[1].status, 0u);
  EXPECT_LT(r[0].timestamp, r[1].timestamp);
  EXPECT_TRUE(c->ping_ok());
}

TEST_P(split, several_frames_in_one_write_and_a_frame_across_writes) {
  const bool mac = GetParam();
  harness h;
  auto c = h.session(mac);
  ASSERT_TRUE(c);
  // Three PINGs in one buffer, then cut that buffer in the middle of the second frame.
  std::vector<std::uint64_t> ids;
  std::vector<std::byte> all;
  for (int i = 0; i < 3; ++i) {
    auto b = c->request(opcode::ping, std::vector<std::byte>(10 + i, std::byte{1}), 0);
    ids.push_back(b.h.request_id);
    const auto bytes = c->seal(b);
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  write_in_pieces(h, *c, all, {74 + 30, 74 + 75 + 1});
  for (int i = 0; i < 3; ++i) {
    auto f = c->read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::ok);
    EXPECT_EQ(f->h.request_id, ids[static_cast<std::size_t>(i)]) << "PINGs are answered in order";
    EXPECT_EQ(f->body.size(), static_cast<std::size_t>(10 + i));
  }
}

INSTANTIATE_TEST_SUITE_P(mac, split, ::testing::Bool(), mac_name);

// ---- pipelining ----------------------------------------------------------------------

TEST(pipelining, many_outstanding_requests_are_answered_by_request_id) {
  harness h;
  auto c = h.session(true);
  ASSERT_TRUE(c);
  constexpr int accounts = 10;
  std::vector<account> a;
  for (int i = 1; i <= accounts; ++i) a.push_back(make_account(static_cast<u128>(i)));
  create_accounts_ok(*c, a);

  // 300 requests in one write: transfers, lookups and pings mixed, more than inflight_max.
  constexpr int requests = 300;
  enum class kind : std::uint8_t { transfer, lookup, ping };
  std::map<std::uint64_t, kind> sent;
  std::vector<std::byte> all;
  std::uint64_t next_transfer = 1;
  for (int i = 0; i < requests; ++i) {
    frame_builder b;
    kind k = static_cast<kind>(i % 3);
    if (k == kind::transfer) {
      std::vector<transfer> t;
      for (int j = 0; j < 5; ++j) {
        const auto d = static_cast<u128>(1 + (next_transfer % accounts));
        const auto cr = static_cast<u128>(1 + ((next_transfer + 1) % accounts));
        t.push_back(make_transfer(next_transfer++, d, cr, 1));
      }
      b = c->request(opcode::create_transfers, bytes_of(t), 5);
    } else if (k == kind::lookup) {
      b = c->request(opcode::lookup_accounts, bytes_of(std::vector<u128>{1, 2, 3}), 3);
    } else {
      b = c->request(opcode::ping, std::vector<std::byte>(16, std::byte{9}), 0);
    }
    sent[b.h.request_id] = k;
    const auto bytes = c->seal(b);
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  std::thread writer([&] { EXPECT_TRUE(c->write(all)); });
  std::map<std::uint64_t, int> answered;
  for (int i = 0; i < requests; ++i) {
    auto f = c->read_frame();
    ASSERT_TRUE(f) << "answer " << i;
    ASSERT_EQ(f->st(), status::ok);
    auto it = sent.find(f->h.request_id);
    ASSERT_NE(it, sent.end()) << "an answer to a request never sent";
    ++answered[f->h.request_id];
    switch (it->second) {
      case kind::transfer: {
        EXPECT_EQ(f->h.opcode, op_of(opcode::create_transfers));
        const auto r = f->events<result>();
        ASSERT_EQ(r.size(), 5u);
        for (const auto& x : r) EXPECT_EQ(x.status, 0u);
        break;
      }
      case kind::lookup:
        EXPECT_EQ(f->h.opcode, op_of(opcode::lookup_accounts));
        EXPECT_EQ(f->events<account>().size(), 3u);
        break;
      case kind::ping:
        EXPECT_EQ(f->h.opcode, op_of(opcode::ping));
        EXPECT_EQ(f->body.size(), 16u);
        break;
    }
  }
  writer.join();
  EXPECT_EQ(answered.size(), static_cast<std::size_t>(requests));
  for (const auto& [id, n] : answered) EXPECT_EQ(n, 1) << "request " << id << " answered twice";
  // Money is conserved and every transfer took effect.
  std::vector<u128> ids;
  for (int i = 1; i <= accounts; ++i) ids.push_back(static_cast<u128>(i));
  const auto after = c->call_ok<account>(opcode::lookup_accounts, bytes_of(ids), accounts);
  u128 debits = 0;
  u128 credits = 0;
  for (const auto& x : after) {
    debits += x.debits_posted;
    credits += x.credits_posted;
  }
  EXPECT_EQ(debits, credits);
  EXPECT_EQ(debits, u128{next_transfer - 1});
}

// The server stops reading a session that has inflight_max requests outstanding (answers
// not yet written), and resumes when they go out. Answers of 1 MiB each to a client that
// does not read fill the socket buffers, so the answers stay unwritten and the count of
// requests the server took is exactly inflight_max past those whose answers it wrote.
TEST(pipelining, server_stops_reading_at_inflight_max_and_resumes) {
  constexpr std::uint32_t inflight_max = 3;
  constexpr std::uint32_t ids_per_lookup = batch_events_max;  // answer: 8190 x 128 bytes
  constexpr int requests = 24;
  auto cfg = server_defaults();
  cfg.inflight_max = inflight_max;
  cfg.io_threads = 1;
  harness h(cfg);
  auto c = h.connect(4096);
  auto hs = c->handshake(keys().all, false);
  ASSERT_TRUE(hs);
  EXPECT_EQ(hs->hello_reply.inflight_max, inflight_max) << "announced in the HELLO reply";
  create_accounts_ok(*c, {make_account(1)});

  const auto& m = h.srv().stats();
  const auto lookups_done = [&] { return m.requests[op_of(opcode::lookup_accounts)][0].load(); };
  // HelloReply, AuthReply and one Result, as the server counts them once written.
  constexpr std::uint64_t handshake_bytes = (64 + 64) + (64 + 48) + (64 + 16);
  ASSERT_TRUE(eventually([&] { return m.bytes_out.load() == handshake_bytes; }));
  const std::uint64_t bytes_out_0 = m.bytes_out.load();
  const std::size_t answer_size =
      codec::header_size + std::size_t{ids_per_lookup} * sizeof(account);

  const std::vector<u128> ids(ids_per_lookup, u128{1});
  std::map<std::uint64_t, bool> sent;
  std::vector<std::byte> all;
  for (int i = 0; i < requests; ++i) {
    auto b = c->request(opcode::lookup_accounts, bytes_of(ids), ids_per_lookup);
    sent[b.h.request_id] = false;
    const auto bytes = c->seal(b);
    all.insert(all.end(), bytes.begin(), bytes.end());
  }
  std::thread writer([&] { EXPECT_TRUE(c->write(all)); });

  // Wait until the server has settled: the count of lookups it took stops moving.
  std::uint64_t taken = 0;
  for (int stable = 0; stable < 10;) {
    std::this_thread::sleep_for(ms(50));
    const auto now = lookups_done();
    stable = now == taken ? stable + 1 : 0;
    taken = now;
  }
  const std::uint64_t written = (m.bytes_out.load() - bytes_out_0) / answer_size;
  EXPECT_LT(taken, static_cast<std::uint64_t>(requests)) << "the server never stopped reading";
  EXPECT_EQ(taken - written, inflight_max) << "taken " << taken << ", answers written " << written;
  EXPECT_LE(m.inflight_requests.load(), static_cast<std::int64_t>(inflight_max));

  // Now read: the server resumes and answers every request.
  for (int i = 0; i < requests; ++i) {
    auto f = c->read_frame();
    ASSERT_TRUE(f) << "answer " << i;
    ASSERT_EQ(f->st(), status::ok);
    ASSERT_EQ(f->h.event_count, ids_per_lookup);
    auto it = sent.find(f->h.request_id);
    ASSERT_NE(it, sent.end());
    EXPECT_FALSE(it->second) << "answered twice";
    it->second = true;
  }
  writer.join();
  EXPECT_EQ(lookups_done(), static_cast<std::uint64_t>(requests));
  EXPECT_TRUE(c->ping_ok());
}

}  // namespace
}  // namespace remit::gateway_test
