// HELLO and AUTH (docs/PROTOCOL.md sections 1 and 3): the successful handshake with and without
// MAC, and every way it fails, each answered with its status and followed by the close.
#include <set>

#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

std::string version_of(const codec::hello_reply& r) {
  return std::string(r.server_version.data(),
                     strnlen(r.server_version.data(), r.server_version.size()));
}

class handshake : public ::testing::TestWithParam<bool> {};

TEST_P(handshake, succeeds_and_reports_the_session) {
  const bool mac = GetParam();
  auto cfg = server_defaults();
  cfg.inflight_max = 17;
  cfg.event_count_max = 1000;
  cfg.body_size_max = 200000;
  harness h(cfg);
  auto c = h.connect();
  const auto r = c->handshake(keys().all, mac);
  ASSERT_TRUE(r);

  // HelloReply: the server's limits, in the order of section 3.
  EXPECT_EQ(r->hello_reply_frame.h.opcode, op_of(opcode::hello));
  EXPECT_EQ(r->hello_reply_frame.h.request_id, 7u);
  EXPECT_EQ(r->hello_reply_frame.h.event_count, 1u);
  EXPECT_EQ(r->hello_reply.body_size_max, 200000u);
  EXPECT_EQ(r->hello_reply.event_count_max, 1000u);
  EXPECT_GE(r->hello_reply.body_size_max, 128u * r->hello_reply.event_count_max);
  EXPECT_EQ(r->hello_reply.inflight_max, 17u);
  EXPECT_EQ(r->hello_reply.mac_required, 0u);
  EXPECT_EQ(version_of(r->hello_reply), "0.1.0-nodurable");
  // role (section 9): a standalone server says 0, at offset 48 of the body.
  EXPECT_EQ(r->hello_reply.role, static_cast<std::uint32_t>(codec::node_role::standalone));
  EXPECT_EQ(r->hello_reply_frame.body.size(), codec::hello_reply_size);
  for (std::size_t i = 48; i < codec::hello_reply_size; ++i)
    EXPECT_EQ(r->hello_reply_frame.body[i], std::byte{0}) << "HelloReply byte " << i;
  EXPECT_TRUE(bytes_zero(r->hello_reply.reserved.data(), r->hello_reply.reserved.size()));
  const auto& nonce = r->hello_reply.server_nonce;
  EXPECT_FALSE(bytes_zero(nonce.data(), nonce.size()));

  // AuthReply: permissions of the key, the server's proof checked in handshake().
  EXPECT_EQ(r->auth_reply_frame.h.opcode, op_of(opcode::auth));
  EXPECT_EQ(r->auth_reply_frame.h.request_id, 8u);
  EXPECT_EQ(r->auth_reply_frame.h.event_count, 1u);
  EXPECT_EQ(r->auth_reply.permissions, codec::permission::all);
  EXPECT_EQ(r->auth_reply.reserved, 0u);
  EXPECT_NE(r->auth_reply.session_id, 0u);

  // The session works, and its frames carry sequence 1, 2, ... (and MACs): ping_ok checks.
  EXPECT_TRUE(c->ping_ok());
  EXPECT_TRUE(c->ping_ok());
}

TEST_P(handshake, auth_reply_carries_each_keys_permissions) {
  const bool mac = GetParam();
  harness h;
  std::set<std::uint64_t> session_ids;
  for (const auto* key :
       {&keys().all, &keys().read, &keys().transfer, &keys().admin, &keys().none}) {
    auto c = h.connect();
    const auto r = c->handshake(*key, mac);
    ASSERT_TRUE(r) << key->id;
    EXPECT_EQ(r->auth_reply.permissions, key->permissions) << key->id;
    session_ids.insert(r->auth_reply.session_id);
    EXPECT_TRUE(c->ping_ok()) << key->id << ": PING needs no permission";
  }
  EXPECT_EQ(session_ids.size(), 5u) << "session ids repeat";
}

INSTANTIATE_TEST_SUITE_P(mac, handshake, ::testing::Bool(), mac_name);

TEST(handshake_version, durable_server_has_no_nodurable_suffix) {
  temp_dir dir;
  auto ecfg = engine_nodurable();
  ecfg.durability = true;
  ecfg.data_dir = dir.str();
  harness h(server_defaults(), ecfg);
  auto c = h.connect();
  const auto r = c->handshake(keys().all, false);
  ASSERT_TRUE(r);
  EXPECT_EQ(version_of(r->hello_reply), "0.1.0");
}

TEST(handshake_nonce, server_nonce_is_fresh_for_every_connection) {
  harness h;
  std::set<std::vector<std::uint8_t>> nonces;
  constexpr int connections = 32;
  for (int i = 0; i < connections; ++i) {
    auto c = h.connect();
    // The same Hello every time: only the server's randomness can make the nonces differ.
    codec::hello hello = raw_client::make_hello("all", 0);
    hello.client_nonce = {};
    auto f = c->send_hello(hello);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->st(), status::ok);
    codec::hello_reply r{};
    std::memcpy(&r, f->body.data(), sizeof r);
    nonces.emplace(r.server_nonce.begin(), r.server_nonce.end());
  }
  EXPECT_EQ(nonces.size(), static_cast<std::size_t>(connections));
}

TEST(handshake_failure, hello_for_an_unknown_key_is_answered_then_auth_fails) {
  harness h;
  // HELLO is answered the same whether or not the key exists.
  auto known = h.connect();
  auto kf = known->send_hello(raw_client::make_hello("all", 1));
  auto unknown = h.connect();
  auto uf = unknown->send_hello(raw_client::make_hello(keys().stranger.id, 1));
  ASSERT_TRUE(kf && uf);
  ASSERT_EQ(uf->st(), status::ok);
  ASSERT_EQ(uf->body.size(), kf->body.size());
  // Everything but the nonce is the same.
  EXPECT_EQ(0, std::memcmp(uf->body.data() + 16, kf->body.data() + 16, 48));

  auto af = unknown->send_auth(unknown->proof_for(keys().stranger.secret), keys().stranger.secret);
  ASSERT_TRUE(af);
  EXPECT_EQ(af->st(), status::auth_failed);
  EXPECT_EQ(af->h.opcode, op_of(opcode::auth));
  EXPECT_EQ(af->h.request_id, 8u);
  EXPECT_TRUE(unknown->closed());
}

TEST(handshake_failure, wrong_secret_is_auth_failed_and_closed) {
  harness h;
  auto c = h.connect();
  ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
  // The proof of another key's secret, for the id "all".
  auto f = c->send_auth(c->proof_for(keys().read.secret), keys().read.secret);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::auth_failed);
  EXPECT_TRUE(c->closed());
}

TEST(handshake_failure, proof_over_another_transcript_fails) {
  harness h;
  auto c = h.connect();
  ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
  // A proof for another server nonce: what a replayed AUTH from another session carries.
  auto other = h.connect();
  ASSERT_TRUE(other->send_hello(raw_client::make_hello("all", 0)));
  auto f = c->send_auth(other->proof_for(keys().all.secret), keys().all.secret);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::auth_failed);
  EXPECT_TRUE(c->closed());
}

TEST(handshake_failure, a_flipped_bit_in_the_proof_fails) {
  harness h;
  for (int bit : {0, 7, 100, 255}) {
    auto c = h.connect();
    ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 1)));
    auto proof = c->proof_for(keys().all.secret);
    proof[static_cast<std::size_t>(bit / 8)] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    auto f = c->send_auth(proof, keys().all.secret);
    ASSERT_TRUE(f) << "bit " << bit;
    EXPECT_EQ(f->st(), status::auth_failed) << "bit " << bit;
    EXPECT_TRUE(c->closed()) << "bit " << bit;
  }
}

TEST(handshake_failure, mac_mode_0_against_mac_required_fails) {
  auto cfg = server_defaults();
  cfg.mac_required = true;
  harness h(cfg);
  {
    auto c = h.connect();
    auto hr = c->send_hello(raw_client::make_hello("all", 0));
    ASSERT_TRUE(hr);
    codec::hello_reply r{};
    std::memcpy(&r, hr->body.data(), sizeof r);
    EXPECT_EQ(r.mac_required, 1u);
    // A valid proof: the only fault is the mode.
    auto f = c->send_auth(c->proof_for(keys().all.secret), keys().all.secret);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::auth_failed);
    EXPECT_TRUE(c->closed());
  }
  {
    auto c = h.session(keys().all, true);
    ASSERT_TRUE(c) << "mac_mode 1 is accepted";
    EXPECT_TRUE(c->ping_ok());
  }
}

// ---- anything but HELLO then AUTH: not_authenticated, closed ---------------------------

TEST(handshake_failure, first_frame_not_hello_is_not_authenticated) {
  harness h;
  struct row {
    const char* what;
    std::uint16_t op;
    std::size_t body;
  };
  const row rows[] = {
      {"AUTH first", op_of(opcode::auth), 32},
      {"PING first", op_of(opcode::ping), 64},
      {"CREATE_ACCOUNTS first", op_of(opcode::create_accounts), 64},
      {"LOOKUP_ACCOUNTS first", op_of(opcode::lookup_accounts), 32},
      {"GET_ACCOUNT_TRANSFERS first", op_of(opcode::get_account_transfers), 64},
      {"unknown opcode first", 99, 64},
  };
  for (const auto& r : rows) {
    auto c = h.connect();
    auto b = raw_client::handshake_frame(opcode::hello, std::vector<std::byte>(r.body));
    b.h.opcode = r.op;
    b.h.request_id = 42;
    ASSERT_TRUE(c->write(b.bytes(nullptr)));
    auto f = c->read_frame();
    ASSERT_TRUE(f) << r.what;
    EXPECT_EQ(f->st(), status::not_authenticated) << r.what << ": " << codec::name(f->st());
    EXPECT_TRUE(c->closed()) << r.what;
  }
}

TEST(handshake_failure, second_frame_not_auth_is_not_authenticated) {
  harness h;
  struct row {
    const char* what;
    std::uint16_t op;
    std::size_t body;
  };
  const row rows[] = {
      {"HELLO again", op_of(opcode::hello), 64},
      {"PING", op_of(opcode::ping), 32},
      {"LOOKUP_ACCOUNTS", op_of(opcode::lookup_accounts), 32},
  };
  for (const auto& r : rows) {
    auto c = h.connect();
    ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
    std::vector<std::byte> body(r.body);
    if (r.op == op_of(opcode::hello)) body = bytes_of_one(raw_client::make_hello("all", 0));
    auto b = raw_client::handshake_frame(opcode::auth, body);
    b.h.opcode = r.op;
    ASSERT_TRUE(c->write(b.bytes(nullptr)));
    auto f = c->read_frame();
    ASSERT_TRUE(f) << r.what;
    EXPECT_EQ(f->st(), status::not_authenticated) << r.what << ": " << codec::name(f->st());
    EXPECT_TRUE(c->closed()) << r.what;
  }
}

// ---- body_size not 64 or 32 before AUTH: bad_event_count, closed before the body ------

TEST(handshake_failure, pre_auth_body_size_is_bad_event_count_before_the_body) {
  harness h;
  for (bool after_hello : {false, true}) {
    for (std::uint32_t size :
         {0u, 1u, 31u, 33u, 48u, 63u, 65u, 128u, 4096u, 1u << 20, 0xFFFFFFFFu}) {
      auto c = h.connect();
      if (after_hello) {
        ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
      }
      auto b = raw_client::handshake_frame(after_hello ? opcode::auth : opcode::hello, {});
      b.h.request_id = 5;
      b.auto_body_size = false;
      b.h.body_size = size;
      // The header alone: the server must answer without waiting for the body.
      ASSERT_TRUE(c->write(b.bytes(nullptr)));
      auto f = c->read_frame(ms(5000));
      ASSERT_TRUE(f) << "size " << size << " after_hello " << after_hello;
      EXPECT_EQ(f->st(), status::bad_event_count) << "size " << size;
      EXPECT_TRUE(c->closed()) << "size " << size;
    }
  }
}

TEST(handshake_failure, auth_with_hellos_size_is_bad_event_count) {
  harness h;
  auto c = h.connect();
  ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
  auto b = raw_client::handshake_frame(opcode::auth, std::vector<std::byte>(64));
  ASSERT_TRUE(c->write(b.bytes(nullptr)));
  auto f = c->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::bad_event_count);
  EXPECT_TRUE(c->closed());
}

// ---- HELLO's own fields: reserved_field, closed ----------------------------------------

TEST(handshake_failure, hello_reserved_fields_are_refused_and_closed) {
  harness h;
  struct row {
    const char* what;
    std::uint32_t mac_mode;
    int reserved_byte;  // -1: none set
  };
  const row rows[] = {
      {"mac_mode 2", 2, -1},
      {"mac_mode 0xFFFFFFFF", 0xFFFFFFFFu, -1},
      {"reserved byte 0", 0, 0},
      {"reserved byte 11", 1, 11},
  };
  for (const auto& r : rows) {
    auto c = h.connect();
    auto hello = raw_client::make_hello("all", r.mac_mode);
    if (r.reserved_byte >= 0) hello.reserved[static_cast<std::size_t>(r.reserved_byte)] = 1;
    auto f = c->send_hello(hello);
    ASSERT_TRUE(f) << r.what;
    EXPECT_EQ(f->st(), status::reserved_field) << r.what << ": " << codec::name(f->st());
    EXPECT_TRUE(c->closed()) << r.what;
  }
}

// Before AUTH every failed check closes, body_checksum and bad_event_count included.
TEST(handshake_failure, every_pre_auth_check_closes) {
  harness h;
  struct row {
    const char* what;
    status expected;
    void (*change)(frame_builder&);
  };
  const row rows[] = {
      {"bad magic", status::bad_magic, [](frame_builder& b) { b.h.magic[0] = std::byte{'X'}; }},
      {"version 2", status::unsupported_version, [](frame_builder& b) { b.h.version = 2; }},
      {"header crc", status::header_checksum,
       [](frame_builder& b) {
         b.auto_header_crc = false;
         b.h.header_crc32c = 12345;
       }},
      {"body crc", status::body_checksum,
       [](frame_builder& b) {
         b.auto_body_crc = false;
         b.h.body_crc32c = 1;
       }},
      {"event_count 2", status::bad_event_count, [](frame_builder& b) { b.h.event_count = 2; }},
      {"event_count 0", status::bad_event_count, [](frame_builder& b) { b.h.event_count = 0; }},
      {"flags 1", status::reserved_field, [](frame_builder& b) { b.h.flags = 1; }},
      {"flags 0x8000", status::reserved_field, [](frame_builder& b) { b.h.flags = 0x8000; }},
      {"reserved header", status::reserved_field, [](frame_builder& b) { b.h.reserved = 1; }},
  };
  for (bool at_auth : {false, true}) {
    for (const auto& r : rows) {
      auto c = h.connect();
      frame_builder b;
      if (at_auth) {
        ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
        auto proof = c->proof_for(keys().all.secret);
        b = raw_client::handshake_frame(opcode::auth,
                                        bytes_of(std::span<const std::uint8_t>(proof)));
      } else {
        b = raw_client::handshake_frame(opcode::hello,
                                        bytes_of_one(raw_client::make_hello("all", 0)));
      }
      b.h.request_id = 9;
      r.change(b);
      ASSERT_TRUE(c->write(b.bytes(nullptr)));
      auto f = c->read_frame();
      ASSERT_TRUE(f) << r.what << (at_auth ? " (AUTH)" : " (HELLO)");
      EXPECT_EQ(f->st(), r.expected)
          << r.what << (at_auth ? " (AUTH)" : " (HELLO)") << ": " << codec::name(f->st());
      const bool zero_id = r.expected == status::bad_magic ||
                           r.expected == status::unsupported_version ||
                           r.expected == status::header_checksum;
      EXPECT_EQ(f->h.request_id, zero_id ? 0u : 9u) << r.what;
      EXPECT_TRUE(c->closed()) << r.what << (at_auth ? " (AUTH)" : " (HELLO)");
    }
  }
}

// ---- timers ---------------------------------------------------------------------------

TEST(handshake_timer, hello_must_come_within_hello_timeout) {
  auto cfg = server_defaults();
  cfg.hello_timeout = ms(300);
  harness h(cfg);
  auto c = h.connect();
  const auto start = steady::now();
  EXPECT_TRUE(c->closed(ms(5000)));
  const auto waited = std::chrono::duration_cast<ms>(steady::now() - start);
  EXPECT_GE(waited.count(), 250);
  EXPECT_LT(waited.count(), 3000);
}

TEST(handshake_timer, auth_must_come_within_auth_timeout_of_the_reply) {
  auto cfg = server_defaults();
  cfg.hello_timeout = ms(300);
  cfg.auth_timeout = ms(600);
  harness h(cfg);
  auto c = h.connect();
  // HELLO late in the hello window: the AUTH window starts at the reply, not at connect.
  std::this_thread::sleep_for(ms(200));
  ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
  const auto start = steady::now();
  EXPECT_TRUE(c->closed(ms(5000)));
  const auto waited = std::chrono::duration_cast<ms>(steady::now() - start);
  EXPECT_GE(waited.count(), 500);
  EXPECT_LT(waited.count(), 3000);
}

TEST(handshake_timer, a_prompt_handshake_is_not_cut) {
  auto cfg = server_defaults();
  cfg.hello_timeout = ms(300);
  cfg.auth_timeout = ms(300);
  harness h(cfg);
  auto c = h.connect();
  std::this_thread::sleep_for(ms(150));
  ASSERT_TRUE(c->send_hello(raw_client::make_hello("all", 0)));
  std::this_thread::sleep_for(ms(150));
  auto f = c->send_auth(c->proof_for(keys().all.secret), keys().all.secret);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::ok);
  // After AUTH only the idle timer (60 s here) applies.
  std::this_thread::sleep_for(ms(400));
  EXPECT_TRUE(c->ping_ok());
}

}  // namespace
}  // namespace remit::gateway_test
