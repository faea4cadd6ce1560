// Every protocol status of docs/PROTOCOL.md section 5 provoked after AUTH, on sessions with and
// without MAC: the status answered, the opcode and request_id echoed (0 for bad_magic,
// unsupported_version and header_checksum), the next server sequence and a valid MAC (the
// raw client checks both on every frame), and then the close, or a session that goes on
// (a following PING is answered), as section 5's table says.
#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

constexpr std::uint32_t event_count_max = 100;
constexpr std::uint32_t body_size_max = 128 * event_count_max;

gateway::server_config status_config() {
  auto c = server_defaults();
  c.event_count_max = event_count_max;
  c.body_size_max = body_size_max;
  return c;
}

bool zero_id_status(status s) {
  return s == status::bad_magic || s == status::unsupported_version || s == status::header_checksum;
}

// One request built from a valid one by a change, and what the server must answer.
struct row {
  const char* what;
  status expected;
  bool closes;
  std::function<frame_builder(raw_client&)> make;
  bool mac_only = false;     // needs a MAC session
  bool header_only = false;  // send the header without the body
};

frame_builder ping(raw_client& c, std::size_t n = 8) {
  return c.request(opcode::ping, std::vector<std::byte>(n, std::byte{0x5a}), 0);
}

frame_builder lookup(raw_client& c, std::uint32_t n = 2) {
  std::vector<u128> ids(n);
  for (std::uint32_t i = 0; i < n; ++i) ids[i] = i + 1;
  return c.request(opcode::lookup_accounts, bytes_of(ids), n);
}

frame_builder transfers(raw_client& c, std::uint32_t n = 1) {
  std::vector<transfer> t;
  for (std::uint32_t i = 0; i < n; ++i) t.push_back(make_transfer(900 + i, 1, 2, 1));
  return c.request(opcode::create_transfers, bytes_of(t), n);
}

frame_builder filter_request(raw_client& c, const account_filter& f) {
  return c.request(opcode::get_account_transfers, bytes_of_one(f), 1);
}

std::vector<row> rows() {
  using fb = frame_builder;
  std::vector<row> r;
  // ---- step 1: the header alone; each closes ----
  r.push_back({"bad magic", status::bad_magic, true, [](raw_client& c) {
                 fb b = ping(c);
                 b.h.magic = {std::byte{'R'}, std::byte{'M'}, std::byte{'T'}, std::byte{'Q'}};
                 return b;
               }});
  r.push_back({"version 0", status::unsupported_version, true, [](raw_client& c) {
                 fb b = ping(c);
                 b.h.version = 0;
                 return b;
               }});
  r.push_back({"version 2", status::unsupported_version, true, [](raw_client& c) {
                 fb b = lookup(c);
                 b.h.version = 2;
                 return b;
               }});
  r.push_back({"header crc", status::header_checksum, true, [](raw_client& c) {
                 fb b = lookup(c);
                 b.auto_header_crc = false;
                 b.h.header_crc32c = 0xdeadbeef;
                 return b;
               }});
  r.push_back({"header crc after a bit flip", status::header_checksum, true, [](raw_client& c) {
                 fb b = lookup(c);
                 auto bytes = b.bytes(c.c2s());
                 codec::frame_header h = codec::read_header(bytes.data());
                 h.request_id ^= 1u << 20;  // crc no longer matches
                 b.h = h;
                 b.auto_body_size = b.auto_body_crc = b.auto_mac = b.auto_header_crc = false;
                 return b;
               }});
  r.push_back({"body_size one past body_size_max", status::body_too_large, true,
               [](raw_client& c) {
                 fb b = transfers(c);
                 b.auto_body_size = false;
                 b.h.body_size = body_size_max + 1;
                 return b;
               },
               false, true});
  r.push_back({"body_size 0xFFFFFFFF", status::body_too_large, true,
               [](raw_client& c) {
                 fb b = ping(c);
                 b.auto_body_size = false;
                 b.h.body_size = 0xFFFFFFFFu;
                 return b;
               },
               false, true});
  // ---- step 2: sequence and MAC; each closes ----
  r.push_back({"sequence one ahead", status::bad_sequence, true, [](raw_client& c) {
                 fb b = ping(c);
                 b.h.sequence += 1;
                 return b;
               }});
  r.push_back({"sequence 0", status::bad_sequence, true, [](raw_client& c) {
                 fb b = ping(c);
                 b.h.sequence = 0;
                 return b;
               }});
  r.push_back({"sequence behind (a replay)", status::bad_sequence, true, [](raw_client& c) {
                 EXPECT_TRUE(c.ping_ok());
                 fb b = ping(c);
                 b.h.sequence -= 1;
                 return b;
               }});
  r.push_back(
      {"bad sequence wins over a bad body crc", status::bad_sequence, true, [](raw_client& c) {
         fb b = lookup(c);
         b.h.sequence += 5;
         b.auto_body_crc = false;
         b.h.body_crc32c = 7;
         return b;
       }});
  r.push_back({"flipped bit in the MAC", status::bad_mac, true,
               [](raw_client& c) {
                 fb b = transfers(c);
                 auto bytes = b.bytes(c.c2s());
                 b.h = codec::read_header(bytes.data());
                 b.h.mac[3] ^= 0x10;
                 b.auto_mac = false;  // keep the flipped MAC; header crc recomputed
                 return b;
               },
               true});
  r.push_back({"flipped bit in the body after the MAC", status::bad_mac, true,
               [](raw_client& c) {
                 fb b = transfers(c);
                 auto bytes = b.bytes(c.c2s());
                 b.h = codec::read_header(bytes.data());
                 b.body[17] ^= std::byte{0x01};
                 b.auto_mac = false;  // the body crc matches the new body, the MAC does not
                 return b;
               },
               true});
  r.push_back({"flipped body bit and stale body crc: MAC comes first", status::bad_mac, true,
               [](raw_client& c) {
                 fb b = transfers(c);
                 auto bytes = b.bytes(c.c2s());
                 b.h = codec::read_header(bytes.data());
                 b.body[17] ^= std::byte{0x01};
                 b.auto_mac = false;
                 b.auto_body_crc = false;
                 return b;
               },
               true});
  r.push_back({"MAC with the server-to-client key (a reflection)", status::bad_mac, true,
               [](raw_client& c) {
                 fb b = ping(c);
                 auto bytes = b.bytes(&c.session_keys().s2c);
                 b.h = codec::read_header(bytes.data());
                 b.auto_mac = false;
                 return b;
               },
               true});
  r.push_back({"zero MAC on a MAC session", status::bad_mac, true,
               [](raw_client& c) {
                 fb b = ping(c);
                 b.auto_mac = false;
                 return b;
               },
               true});
  // ---- step 3: the session goes on ----
  r.push_back({"body crc", status::body_checksum, false, [](raw_client& c) {
                 fb b = lookup(c);
                 b.auto_body_crc = false;
                 b.h.body_crc32c ^= 0x1234;
                 return b;
               }});
  r.push_back({"empty body with a crc", status::body_checksum, false, [](raw_client& c) {
                 fb b = ping(c, 0);
                 b.auto_body_crc = false;
                 b.h.body_crc32c = 1;
                 return b;
               }});
  r.push_back(
      {"flags 1 (the response bit) in a request", status::reserved_field, false, [](raw_client& c) {
         fb b = ping(c);
         b.h.flags = 1;
         return b;
       }});
  r.push_back({"flags bit 1", status::reserved_field, false, [](raw_client& c) {
                 fb b = lookup(c);
                 b.h.flags = 2;
                 return b;
               }});
  r.push_back({"flags bit 15", status::reserved_field, false, [](raw_client& c) {
                 fb b = transfers(c);
                 b.h.flags = 0x8000;
                 return b;
               }});
  r.push_back({"reserved header field", status::reserved_field, false, [](raw_client& c) {
                 fb b = lookup(c);
                 b.h.reserved = 0x100;
                 return b;
               }});
  r.push_back({"body crc is checked before flags", status::body_checksum, false, [](raw_client& c) {
                 fb b = lookup(c);
                 b.h.flags = 2;
                 b.auto_body_crc = false;
                 b.h.body_crc32c ^= 1;
                 return b;
               }});
  r.push_back(
      {"flags are checked before the opcode", status::reserved_field, false, [](raw_client& c) {
         fb b = ping(c);
         b.h.opcode = 77;
         b.h.flags = 4;
         return b;
       }});
  for (std::uint16_t op : {0, 4, 15, 23, 63, 128, 0xFFFF}) {
    r.push_back({"unknown opcode", status::unknown_opcode, false, [op](raw_client& c) {
                   fb b = ping(c);
                   b.h.opcode = op;
                   return b;
                 }});
  }
  // Opcodes 64 to 127 with a key without permission 8 (section 9).
  for (std::uint16_t op : {64, 100, 127}) {
    r.push_back({"node opcode", status::permission_denied, false, [op](raw_client& c) {
                   fb b = ping(c);
                   b.h.opcode = op;
                   return b;
                 }});
  }
  r.push_back({"HELLO after AUTH", status::unknown_opcode, false, [](raw_client& c) {
                 return c.request(opcode::hello, bytes_of_one(raw_client::make_hello("all", 0)), 1);
               }});
  r.push_back({"AUTH after AUTH", status::unknown_opcode, false, [](raw_client& c) {
                 return c.request(opcode::auth, std::vector<std::byte>(32), 1);
               }});
  r.push_back({"unknown opcode with a bad event count", status::unknown_opcode, false,
               [](raw_client& c) { return c.request(std::uint16_t{50}, {}, 9); }});
  // bad_event_count, opcode by opcode.
  r.push_back({"PING with event_count 1", status::bad_event_count, false, [](raw_client& c) {
                 fb b = ping(c);
                 b.h.event_count = 1;
                 return b;
               }});
  r.push_back({"PING with 65 bytes", status::bad_event_count, false,
               [](raw_client& c) { return ping(c, 65); }});
  r.push_back({"CREATE_TRANSFERS with event_count 0 and no body", status::bad_event_count, false,
               [](raw_client& c) { return c.request(opcode::create_transfers, {}, 0); }});
  r.push_back({"CREATE_TRANSFERS with event_count 2 and one transfer", status::bad_event_count,
               false, [](raw_client& c) {
                 fb b = transfers(c, 1);
                 b.h.event_count = 2;
                 return b;
               }});
  r.push_back(
      {"CREATE_TRANSFERS with 129 bytes", status::bad_event_count, false, [](raw_client& c) {
         fb b = transfers(c, 1);
         b.body.push_back(std::byte{0});
         return b;
       }});
  r.push_back({"CREATE_ACCOUNTS with 127 bytes", status::bad_event_count, false, [](raw_client& c) {
                 return c.request(opcode::create_accounts, std::vector<std::byte>(127), 1);
               }});
  r.push_back({"LOOKUP_ACCOUNTS past event_count_max", status::bad_event_count, false,
               [](raw_client& c) { return lookup(c, event_count_max + 1); }});
  r.push_back({"LOOKUP_TRANSFERS with 24 bytes", status::bad_event_count, false, [](raw_client& c) {
                 return c.request(opcode::lookup_transfers, std::vector<std::byte>(24), 1);
               }});
  r.push_back({"SET_ACCOUNT_CONTROLS with event_count 0", status::bad_event_count, false,
               [](raw_client& c) {
                 return c.request(opcode::set_account_controls, std::vector<std::byte>(96), 0);
               }});
  r.push_back(
      {"GET_LEDGER_STATS with two requests", status::bad_event_count, false, [](raw_client& c) {
         auto body = stats_request(1);
         auto more = stats_request(2);
         body.insert(body.end(), more.begin(), more.end());
         return c.request(opcode::get_ledger_stats, body, 2);
       }});
  r.push_back(
      {"GET_LEDGER_STATS with event_count 0", status::bad_event_count, false,
       [](raw_client& c) { return c.request(opcode::get_ledger_stats, stats_request(1), 0); }});
  r.push_back(
      {"GET_ACCOUNT_TRANSFERS with 63 bytes", status::bad_event_count, false, [](raw_client& c) {
         return c.request(opcode::get_account_transfers, std::vector<std::byte>(63), 1);
       }});
  r.push_back({"AccountFilter limit 0", status::bad_event_count, false, [](raw_client& c) {
                 return filter_request(c, make_filter(1, account_filter_flags::debits, 0));
               }});
  r.push_back({"AccountFilter limit past event_count_max", status::bad_event_count, false,
               [](raw_client& c) {
                 return filter_request(
                     c, make_filter(1, account_filter_flags::debits, event_count_max + 1));
               }});
  r.push_back({"AccountFilter without debits or credits", status::bad_event_count, false,
               [](raw_client& c) {
                 return filter_request(c, make_filter(1, account_filter_flags::reversed, 10));
               }});
  r.push_back({"AccountFilter limit is checked before reserved bytes", status::bad_event_count,
               false, [](raw_client& c) {
                 auto f = make_filter(1, account_filter_flags::credits, 0);
                 f.reserved[5] = 1;
                 return filter_request(c, f);
               }});
  // reserved bytes of request bodies.
  r.push_back({"AccountFilter reserved byte", status::reserved_field, false, [](raw_client& c) {
                 auto f = make_filter(1, account_filter_flags::credits, 10);
                 f.reserved[23] = 0x80;
                 return filter_request(c, f);
               }});
  r.push_back({"AccountFilter unknown flag bit", status::reserved_field, false, [](raw_client& c) {
                 return filter_request(c, make_filter(1, account_filter_flags::debits | 8u, 10));
               }});
  r.push_back({"GET_LEDGER_STATS reserved byte", status::reserved_field, false, [](raw_client& c) {
                 ledger_stats_request q{};
                 q.ledger = 1;
                 q.reserved[11] = 1;
                 return c.request(opcode::get_ledger_stats, bytes_of_one(q), 1);
               }});
  return r;
}

class statuses : public ::testing::TestWithParam<bool> {};

TEST_P(statuses, each_is_answered_then_closes_or_goes_on) {
  const bool mac = GetParam();
  harness h(status_config());
  int checked = 0;
  for (const auto& r : rows()) {
    if (r.mac_only && !mac) continue;
    SCOPED_TRACE(r.what);
    auto c = h.session(keys().all, mac);
    ASSERT_TRUE(c);
    const frame_builder b = r.make(*c);
    auto bytes = c->seal(b);
    if (r.header_only) bytes.resize(codec::header_size);
    ASSERT_TRUE(c->write(bytes));
    auto f = c->read_frame();
    ASSERT_TRUE(f) << "no answer";
    EXPECT_EQ(f->st(), r.expected)
        << "answered " << codec::name(f->st()) << " (" << f->reason() << ")";
    if (zero_id_status(r.expected)) {
      EXPECT_EQ(f->h.opcode, 0u);
      EXPECT_EQ(f->h.request_id, 0u);
    } else {
      EXPECT_EQ(f->h.opcode, b.h.opcode);
      EXPECT_EQ(f->h.request_id, b.h.request_id);
    }
    if (r.closes) {
      EXPECT_TRUE(c->closed());
    } else {
      // The request used its sequence number: the next PING carries the one after it.
      EXPECT_TRUE(c->ping_ok());
    }
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

INSTANTIATE_TEST_SUITE_P(mac, statuses, ::testing::Bool(), mac_name);

TEST(status_no_mac, a_mac_on_a_session_without_mac_is_bad_mac) {
  harness h;
  auto c = h.session(false);
  ASSERT_TRUE(c);
  auto b = ping(*c);
  b.h.mac[15] = 1;
  ASSERT_TRUE(c->send(b));
  auto f = c->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::bad_mac);
  EXPECT_TRUE(c->closed());
}

// ---- permission_denied ----------------------------------------------------------------

struct permission_row {
  opcode op;
  std::uint32_t needs;
};

std::vector<std::byte> valid_body(opcode op) {
  switch (op) {
    case opcode::create_accounts:
      return bytes_of_one(make_account(0x5000));
    case opcode::create_transfers:
      return bytes_of_one(make_transfer(0x6000, 1, 2, 1));
    case opcode::lookup_accounts:
    case opcode::lookup_transfers:
      return bytes_of_one(u128{1});
    case opcode::get_account_transfers:
      return bytes_of_one(make_filter(1, account_filter_flags::debits, 10));
    case opcode::set_account_controls: {
      account_controls c{};
      c.account_id = 1;
      return bytes_of_one(c);
    }
    case opcode::get_ledger_stats:
      return stats_request(1);
    default:
      return {};
  }
}

class permissions : public ::testing::TestWithParam<bool> {};

TEST_P(permissions, each_key_may_do_exactly_what_its_bits_say) {
  const bool mac = GetParam();
  harness h;
  const permission_row table[] = {
      {opcode::create_accounts, codec::permission::admin},
      {opcode::create_transfers, codec::permission::transfer},
      {opcode::lookup_accounts, codec::permission::read},
      {opcode::lookup_transfers, codec::permission::read},
      {opcode::get_account_transfers, codec::permission::read},
      {opcode::set_account_controls, codec::permission::admin},
      {opcode::get_ledger_stats, codec::permission::read},
  };
  for (const auto* key : {&keys().all, &keys().read, &keys().transfer, &keys().admin, &keys().none,
                          &keys().replicate, &keys().node}) {
    auto c = h.session(*key, mac);
    ASSERT_TRUE(c) << key->id;
    for (const auto& row : table) {
      SCOPED_TRACE(key->id + " " + std::string(codec::name(row.op)));
      auto f = c->call(row.op, valid_body(row.op), 1);
      ASSERT_TRUE(f);
      const bool allowed = (key->permissions & row.needs) == row.needs;
      EXPECT_EQ(f->st(), allowed ? status::ok : status::permission_denied) << codec::name(f->st());
      if (!allowed) {
        EXPECT_LE(f->body.size(), codec::reason_max);
      }
    }
    // permission_denied lets the session go on, and PING needs no permission.
    EXPECT_TRUE(c->ping_ok()) << key->id;
  }
}

// Opcodes 64 to 127 (section 9): permission_denied for a key without replicate; a key with
// it gets unknown_opcode, since this server has no node-to-node message yet. The session goes
// on either way.
TEST_P(permissions, node_opcodes_need_replicate) {
  const bool mac = GetParam();
  harness h;
  for (const auto* key : {&keys().all, &keys().none, &keys().replicate, &keys().node}) {
    auto c = h.session(*key, mac);
    ASSERT_TRUE(c) << key->id;
    const bool replicate = (key->permissions & codec::permission::replicate) != 0;
    for (const std::uint16_t op : {std::uint16_t{64}, std::uint16_t{100}, std::uint16_t{127}}) {
      SCOPED_TRACE(key->id + " opcode " + std::to_string(op));
      auto f = c->call(c->request(op, bytes_of_one(u128{1}), 1));
      ASSERT_TRUE(f);
      EXPECT_EQ(f->st(), replicate ? status::unknown_opcode : status::permission_denied)
          << codec::name(f->st());
      EXPECT_EQ(f->h.opcode, op);
      EXPECT_EQ(f->h.event_count, 0u);
    }
    // 63 and 128 lie outside the range: unknown_opcode for every key.
    for (const std::uint16_t op : {std::uint16_t{63}, std::uint16_t{128}}) {
      auto f = c->call(c->request(op, {}, 0));
      ASSERT_TRUE(f);
      EXPECT_EQ(f->st(), status::unknown_opcode) << key->id << " opcode " << op;
    }
    EXPECT_TRUE(c->ping_ok()) << key->id;
  }
}

// A replicate-only key gets permission_denied for every client opcode, and may PING.
TEST_P(permissions, a_replicate_only_key_may_not_use_client_opcodes) {
  const bool mac = GetParam();
  harness h;
  auto admin = h.session(keys().all, mac);
  ASSERT_TRUE(admin);
  create_accounts_ok(*admin, {make_account(1), make_account(2)});
  auto c = h.session(keys().replicate, mac);
  ASSERT_TRUE(c);
  for (const opcode op :
       {opcode::create_accounts, opcode::create_transfers, opcode::lookup_accounts,
        opcode::lookup_transfers, opcode::get_account_transfers, opcode::set_account_controls,
        opcode::get_ledger_stats}) {
    auto f = c->call(op, valid_body(op), 1);
    ASSERT_TRUE(f) << codec::name(op);
    EXPECT_EQ(f->st(), status::permission_denied) << codec::name(op);
  }
  EXPECT_TRUE(c->ping_ok());
  // Nothing was executed: account 0x5000 and transfer 0x6000 do not exist.
  EXPECT_TRUE(
      admin->call_ok<account>(opcode::lookup_accounts, bytes_of_one(u128{0x5000}), 1).empty());
  EXPECT_TRUE(
      admin->call_ok<transfer>(opcode::lookup_transfers, bytes_of_one(u128{0x6000}), 1).empty());
}

TEST_P(permissions, permission_is_checked_before_the_event_count) {
  const bool mac = GetParam();
  harness h;
  auto c = h.session(keys().read, mac);
  ASSERT_TRUE(c);
  // event_count 0 would be bad_event_count; the read-only key is refused first.
  auto f = c->call(c->request(opcode::create_transfers, {}, 0));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::permission_denied);
  // And the opcode before the permission: unknown_opcode, not permission_denied.
  f = c->call(c->request(std::uint16_t{24}, {}, 0));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::unknown_opcode);
  // A transfer-only key with an AccountFilter whose limit is 0: permission first.
  auto t = h.session(keys().transfer, mac);
  ASSERT_TRUE(t);
  f = t->call(opcode::get_account_transfers,
              bytes_of_one(make_filter(1, account_filter_flags::debits, 0)), 1);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::permission_denied);
  EXPECT_TRUE(t->ping_ok());
  EXPECT_TRUE(c->ping_ok());
}

TEST_P(permissions, refused_requests_are_not_executed) {
  const bool mac = GetParam();
  harness h;
  auto admin = h.session(keys().admin, mac);
  ASSERT_TRUE(admin);
  create_accounts_ok(*admin, {make_account(1), make_account(2)});
  // The admin key has no transfer bit: the transfer is refused and not made.
  auto f = admin->call(opcode::create_transfers, bytes_of_one(make_transfer(77, 1, 2, 5)), 1);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::permission_denied);
  auto reader = h.session(keys().read, mac);
  ASSERT_TRUE(reader);
  const auto accounts =
      reader->call_ok<account>(opcode::lookup_accounts, bytes_of(std::vector<u128>{1, 2}), 2);
  ASSERT_EQ(accounts.size(), 2u);
  EXPECT_EQ(accounts[0].debits_posted, 0u);
  EXPECT_EQ(accounts[1].credits_posted, 0u);
}

INSTANTIATE_TEST_SUITE_P(mac, permissions, ::testing::Bool(), mac_name);

// ---- bad_sequence after step-3 failures: the number was used -------------------------

TEST(status_sequence, a_refused_request_used_its_sequence_number) {
  harness h;
  auto c = h.session(true);
  ASSERT_TRUE(c);
  auto b = lookup(*c);
  b.auto_body_crc = false;
  b.h.body_crc32c ^= 1;
  auto f = c->call(b);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->st(), status::body_checksum);
  // Sending the same number again is a replay.
  auto again = ping(*c);
  again.h.sequence = b.h.sequence;
  ASSERT_TRUE(c->send(again));
  f = c->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->st(), status::bad_sequence);
  EXPECT_TRUE(c->closed());
}

// ---- overloaded: the engine refuses, the session goes on -----------------------------

TEST(status_engine, overloaded_lets_the_session_go_on) {
  // The engine takes at most 10 events in flight; a request of 11 is refused at once
  // (deterministic: nothing else is in flight). The server's own budget lets a request
  // larger than the whole budget go alone, so the engine sees it.
  auto ecfg = engine_nodurable();
  ecfg.inflight_events_max = 10;
  auto cfg = server_defaults();
  cfg.inflight_events_max = 1000;
  for (bool mac : {false, true}) {
    harness h(cfg, ecfg);
    auto c = h.session(mac);
    ASSERT_TRUE(c);
    std::vector<u128> ids(11, 1);
    auto f = c->call(opcode::lookup_accounts, bytes_of(ids), 11);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::overloaded);
    EXPECT_EQ(f->h.event_count, 0u);
    EXPECT_TRUE(c->ping_ok());
    // A request that fits is served.
    std::vector<account> a = {make_account(1), make_account(2)};
    create_accounts_ok(*c, a);
    EXPECT_TRUE(c->ping_ok());
  }
}

// ---- shutting_down: the engine stopped while the server runs, closed ----------------

TEST(status_engine, shutting_down_closes) {
  for (bool mac : {false, true}) {
    harness h;
    auto c = h.session(mac);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->ping_ok());
    h.eng().shutdown();
    auto f = c->call(opcode::lookup_accounts, bytes_of_one(u128{1}), 1);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::shutting_down);
    EXPECT_TRUE(c->closed());
  }
}

// ---- storage_failed: a journal write fails, closed; the server takes no more writes ---

TEST(status_engine, storage_failed_closes_and_writes_stop) {
  for (bool mac : {false, true}) {
    temp_dir dir;
    auto ecfg = engine_nodurable();
    ecfg.durability = true;
    ecfg.data_dir = dir.str();
    ecfg.faults = std::make_shared<storage_faults>();
    auto faults = ecfg.faults;
    harness h(server_defaults(), ecfg);
    std::mutex log_mutex;
    std::vector<std::string> log;
    h.srv().set_logger([&](std::string_view line) {
      std::lock_guard<std::mutex> lock(log_mutex);
      log.emplace_back(line);
    });
    auto c = h.session(mac);
    ASSERT_TRUE(c);
    create_accounts_ok(*c, {make_account(1), make_account(2)});
    faults->fail_write.store(true);
    auto f = c->call(opcode::create_accounts, bytes_of_one(make_account(3)), 1);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::storage_failed);
    EXPECT_TRUE(c->closed());
    faults->fail_write.store(false);
    // Fail-stop: a new session's writes are refused the same way.
    auto d = h.session(mac);
    ASSERT_TRUE(d);
    f = d->call(opcode::create_transfers, bytes_of_one(make_transfer(5, 1, 2, 1)), 1);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->st(), status::storage_failed);
    EXPECT_TRUE(d->closed());
    // Fail-stop is logged once, however many writes are refused after it.
    std::lock_guard<std::mutex> lock(log_mutex);
    EXPECT_EQ(std::count_if(log.begin(), log.end(),
                            [](const std::string& l) { return l.find("fail-stop") != l.npos; }),
              1)
        << "log lines: " << log.size();
  }
}

}  // namespace
}  // namespace remit::gateway_test
