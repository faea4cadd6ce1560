// The checks of step 3 of docs/PROTOCOL.md section 2 (check_request) and of the frames before
// AUTH (check_hello, check_auth), one table row per status, for every opcode; a request with
// two faults reports the earlier check. Also seal_frame's header and the section 3 shape of
// every opcode.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/crc32c.hpp"
#include "tests/codec/frames.hpp"

namespace remit::codec {

static void PrintTo(status s, std::ostream* os) {
  *os << static_cast<unsigned>(s) << " (" << name(s) << ")";
}

namespace {

using test::bytes;
using test::request;

std::string op_name(opcode op) {
  return std::string(name(op));
}

template <wire_struct T>
void edit_event(bytes& body, std::size_t index, const std::function<void(T&)>& edit) {
  T t = load_event<T>(body.data() + index * sizeof(T));
  edit(t);
  std::memcpy(body.data() + index * sizeof(T), &t, sizeof(T));
}

// ---------------------------------------------------------------------------------------
// seal_frame

TEST(seal_frame, fills_the_header_as_section_2_says) {
  const bytes body = test::valid_body(opcode::create_accounts, 3);
  const bytes f = test::seal({16, 3, 0x1122334455667788, 42, 0, 0}, body);
  ASSERT_EQ(f.size(), header_size + 3 * sizeof(account));
  EXPECT_EQ(std::memcmp(f.data(), "RMTP", 4), 0);
  const frame_header h = read_header(f.data());
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.opcode, 16);
  EXPECT_EQ(h.body_size, 3 * sizeof(account));
  EXPECT_EQ(h.event_count, 3u);
  EXPECT_EQ(h.request_id, 0x1122334455667788u);
  EXPECT_EQ(h.sequence, 42u);
  EXPECT_EQ(h.status, 0);
  EXPECT_EQ(h.flags, 0);
  EXPECT_EQ(h.body_crc32c, crc32c(body.data(), body.size()));
  EXPECT_EQ(h.mac, (std::array<std::uint8_t, mac_size>{}));
  EXPECT_EQ(h.reserved, 0u);
  EXPECT_EQ(h.header_crc32c, crc32c(f.data(), 60));
  // Little-endian on the wire, at the offsets of the table.
  EXPECT_EQ(static_cast<unsigned>(f[6]), 16u);
  EXPECT_EQ(static_cast<unsigned>(f[16]), 0x88u);
  EXPECT_EQ(static_cast<unsigned>(f[23]), 0x11u);
  EXPECT_EQ(static_cast<unsigned>(f[24]), 42u);
  EXPECT_TRUE(std::equal(body.begin(), body.end(), f.begin() + header_size));
}

TEST(seal_frame, empty_body_has_crc_zero) {
  const frame_header h = read_header(test::seal({3, 0, 1, 1, 0, 0}, {}).data());
  EXPECT_EQ(h.body_size, 0u);
  EXPECT_EQ(h.body_crc32c, 0u);
  EXPECT_EQ(check_header(h, 0, false), status::ok);
}

TEST(seal_frame, response_fields) {
  const frame_header h = read_header(test::seal({17, 0, 5, 8, 10, flag_response}, {}).data());
  EXPECT_EQ(h.status, 10);
  EXPECT_EQ(h.flags, 1);
  EXPECT_EQ(check_header(h, 1024, false), status::ok);
}

// ---------------------------------------------------------------------------------------
// check_request: step 3, in order.

TEST(check_request, every_valid_request_passes) {
  for (const opcode op : test::request_opcodes) {
    SCOPED_TRACE(op_name(op));
    EXPECT_EQ(test::valid_request(op).check(), status::ok);
    EXPECT_EQ(test::valid_request(op, 1).check(), status::ok);
  }
}

TEST(check_request, body_checksum) {
  for (const opcode op : test::request_opcodes) {
    SCOPED_TRACE(op_name(op));
    request r = test::valid_request(op);
    r.h.body_crc32c ^= 1;
    EXPECT_EQ(r.check(), status::body_checksum);
    r = test::valid_request(op);
    r.body.back() ^= std::byte{0x40};  // CRC no longer matches
    EXPECT_EQ(r.check(), status::body_checksum);
  }
  // An empty body has CRC 0.
  request r = test::valid_request(opcode::ping);
  r.body.clear();
  r.reseal();
  EXPECT_EQ(r.h.body_crc32c, 0u);
  EXPECT_EQ(r.check(), status::ok);
  r.h.body_crc32c = 0xffffffff;
  EXPECT_EQ(r.check(), status::body_checksum);
}

TEST(check_request, reserved_header_fields) {
  struct row {
    const char* name;
    std::function<void(frame_header&)> edit;
  };
  const row rows[] = {
      {"response_flag", [](frame_header& h) { h.flags = flag_response; }},
      {"flag_bit_1", [](frame_header& h) { h.flags = 2; }},
      {"flag_bit_15", [](frame_header& h) { h.flags = 0x8000; }},
      {"reserved_low", [](frame_header& h) { h.reserved = 1; }},
      {"reserved_high", [](frame_header& h) { h.reserved = 0x80000000; }},
      // `status` is 0 in requests (section 2).
      {"status", [](frame_header& h) { h.status = 7; }},
  };
  for (const opcode op : test::request_opcodes)
    for (const auto& x : rows) {
      SCOPED_TRACE(op_name(op) + " " + x.name);
      request r = test::valid_request(op);
      x.edit(r.h);
      r.reseal();
      EXPECT_EQ(r.check(), status::reserved_field);
    }
}

TEST(check_request, unknown_opcode) {
  // HELLO and AUTH after AUTH, and every number section 3 does not assign.
  std::vector<std::uint16_t> unknown = {0, 1, 2, 0xffff, 0x8010, 0x0110};
  for (std::uint16_t op = 4; op <= 15; ++op) unknown.push_back(op);
  for (std::uint16_t op = 23; op <= 300; ++op)
    if (!is_node_opcode(op)) unknown.push_back(op);
  for (const std::uint16_t op : unknown) {
    request r = test::valid_request(opcode::ping);
    r.h.opcode = op;
    r.reseal();
    EXPECT_EQ(r.check(permission::all), status::unknown_opcode) << op;
    EXPECT_EQ(r.check(0), status::unknown_opcode) << op;
    EXPECT_FALSE(shape_of(op).known) << op;
  }
  // HELLO and AUTH with their own valid bodies, too.
  for (const opcode op : {opcode::hello, opcode::auth}) {
    request r = test::valid_request(op);
    r.h.sequence = 5;
    r.reseal();
    EXPECT_EQ(r.check(), status::unknown_opcode) << op_name(op);
  }
}

// Opcodes 64 to 127 (section 9): permission_denied without replicate, whatever the body;
// with it, unknown_opcode, as this server defines no node-to-node message yet.
TEST(check_request, node_opcodes_need_replicate) {
  EXPECT_FALSE(is_node_opcode(63));
  EXPECT_TRUE(is_node_opcode(64));
  EXPECT_TRUE(is_node_opcode(127));
  EXPECT_FALSE(is_node_opcode(128));
  for (std::uint16_t op = node_opcode_min; op <= node_opcode_max; ++op) {
    for (std::uint32_t perms = 0; perms <= permission::defined; ++perms) {
      SCOPED_TRACE("opcode " + std::to_string(op) + " with permissions " + std::to_string(perms));
      request r = test::valid_request(opcode::lookup_accounts);
      r.h.opcode = op;
      r.reseal();
      const bool replicate = (perms & permission::replicate) != 0;
      EXPECT_EQ(r.check(perms), replicate ? status::unknown_opcode : status::permission_denied);
    }
  }
  // The checks before the opcode still come first.
  request r = test::valid_request(opcode::ping);
  r.h.opcode = 64;
  r.h.flags = 2;
  r.reseal();
  EXPECT_EQ(r.check(0), status::reserved_field);
  // 63 and 128 are not node opcodes: unknown_opcode for every key.
  for (const std::uint16_t op : {std::uint16_t{63}, std::uint16_t{128}}) {
    request o = test::valid_request(opcode::ping);
    o.h.opcode = op;
    o.reseal();
    EXPECT_EQ(o.check(0), status::unknown_opcode) << op;
    EXPECT_EQ(o.check(permission::replicate), status::unknown_opcode) << op;
  }
}

TEST(check_request, permissions_per_opcode) {
  struct row {
    opcode op;
    std::uint32_t needs;
  };
  const row rows[] = {
      {opcode::ping, 0},
      {opcode::create_accounts, permission::admin},
      {opcode::create_transfers, permission::transfer},
      {opcode::lookup_accounts, permission::read},
      {opcode::lookup_transfers, permission::read},
      {opcode::get_account_transfers, permission::read},
      {opcode::set_account_controls, permission::admin},
      {opcode::get_ledger_stats, permission::read},
  };
  static_assert(std::size(rows) == std::size(test::request_opcodes));
  for (const auto& x : rows) {
    EXPECT_EQ(shape_of(static_cast<std::uint16_t>(x.op)).permission, x.needs);
    // Up to 15: replicate (8) grants no client opcode, alone or with other bits.
    for (std::uint32_t perms = 0; perms <= permission::defined; ++perms) {
      SCOPED_TRACE(op_name(x.op) + " with permissions " + std::to_string(perms));
      const bool allowed = (perms & x.needs) == x.needs;
      EXPECT_EQ(test::valid_request(x.op).check(perms),
                allowed ? status::ok : status::permission_denied);
    }
  }
  // Admin does not imply read or transfer.
  EXPECT_EQ(test::valid_request(opcode::lookup_accounts).check(permission::admin),
            status::permission_denied);
  EXPECT_EQ(test::valid_request(opcode::create_transfers).check(permission::admin),
            status::permission_denied);
  EXPECT_EQ(test::valid_request(opcode::get_ledger_stats).check(permission::admin),
            status::permission_denied);
  EXPECT_EQ(test::valid_request(opcode::get_account_transfers).check(permission::admin),
            status::permission_denied);
  // Nor does replicate: a replicate-only key may PING and nothing else.
  for (const opcode op : test::request_opcodes)
    EXPECT_EQ(test::valid_request(op).check(permission::replicate),
              op == opcode::ping ? status::ok : status::permission_denied)
        << op_name(op);
}

// event_count and body_size (section 3), with event_count_max 4.
TEST(check_request, batch_event_count_and_body_size) {
  constexpr std::uint32_t max = 4;
  for (const opcode op : test::request_opcodes) {
    const opcode_shape shape = shape_of(static_cast<std::uint16_t>(op));
    if (!shape.batch) continue;
    const std::size_t size = shape.event_size;
    struct row {
      const char* name;
      std::uint32_t event_count;
      std::size_t body_size;
      status expected;
    };
    const row rows[] = {
        {"one", 1, size, status::ok},
        {"max", max, max * size, status::ok},
        {"zero_events_empty_body", 0, 0, status::bad_event_count},
        {"zero_events_with_body", 0, size, status::bad_event_count},
        {"max_plus_1", max + 1, (max + 1) * size, status::bad_event_count},
        {"count_huge", 0xffffffff, 2 * size, status::bad_event_count},
        {"body_one_byte_short", 2, 2 * size - 1, status::bad_event_count},
        {"body_one_byte_long", 2, 2 * size + 1, status::bad_event_count},
        {"body_of_one_event_count_two", 2, size, status::bad_event_count},
        {"body_of_three_events_count_two", 2, 3 * size, status::bad_event_count},
        {"empty_body_count_one", 1, 0, status::bad_event_count},
        {"half_an_event", 1, size / 2, status::bad_event_count},
    };
    for (const auto& x : rows) {
      SCOPED_TRACE(op_name(op) + " " + x.name);
      request r = test::valid_request(op, max + 1);
      r.body.resize(x.body_size, std::byte{0});
      r.h.event_count = x.event_count;
      r.reseal();
      EXPECT_EQ(r.check(permission::all, max), x.expected);
    }
  }
}

TEST(check_request, batch_limit_is_event_count_max) {
  const request r = test::valid_request(opcode::lookup_accounts, 100);
  EXPECT_EQ(r.check(permission::all, 100), status::ok);
  EXPECT_EQ(r.check(permission::all, 99), status::bad_event_count);
  EXPECT_EQ(r.check(permission::all, batch_events_max), status::ok);
  // The engine's own limit, whole.
  const request full = test::valid_request(opcode::lookup_transfers, batch_events_max);
  EXPECT_EQ(full.check(permission::all, batch_events_max), status::ok);
  request over = test::valid_request(opcode::lookup_transfers, batch_events_max + 1);
  EXPECT_EQ(over.check(permission::all, batch_events_max), status::bad_event_count);
}

TEST(check_request, single_event_opcodes) {
  for (const opcode op : {opcode::get_account_transfers, opcode::get_ledger_stats}) {
    const std::size_t size = shape_of(static_cast<std::uint16_t>(op)).event_size;
    struct row {
      const char* name;
      std::uint32_t event_count;
      std::size_t body_size;
      status expected;
    };
    const row rows[] = {
        {"one", 1, size, status::ok},
        {"count_zero", 0, size, status::bad_event_count},
        {"count_two", 2, 2 * size, status::bad_event_count},
        {"count_two_one_body", 2, size, status::bad_event_count},
        {"short", 1, size - 1, status::bad_event_count},
        {"long", 1, size + 1, status::bad_event_count},
        {"empty", 1, 0, status::bad_event_count},
    };
    for (const auto& x : rows) {
      SCOPED_TRACE(op_name(op) + " " + x.name);
      request r = test::valid_request(op);
      r.body.resize(x.body_size, std::byte{0});
      r.h.event_count = x.event_count;
      r.reseal();
      EXPECT_EQ(r.check(), x.expected);
    }
  }
  EXPECT_EQ(shape_of(20).event_size, 64u);
  EXPECT_EQ(shape_of(22).event_size, 16u);
}

TEST(check_request, ping_body_and_event_count) {
  for (std::size_t size = 0; size <= 200; ++size) {
    request r = test::valid_request(opcode::ping);
    r.body.assign(size, std::byte{0xab});
    r.reseal();
    EXPECT_EQ(r.check(0), size <= 64 ? status::ok : status::bad_event_count) << size;
    r.h.event_count = 1;
    r.reseal();
    EXPECT_EQ(r.check(0), status::bad_event_count) << size;
  }
}

TEST(check_request, account_filter) {
  constexpr std::uint32_t max = 100;
  struct row {
    const char* name;
    std::function<void(account_filter&)> edit;
    status expected;
  };
  const row rows[] = {
      {"valid", [](account_filter&) {}, status::ok},
      {"limit_1", [](account_filter& f) { f.limit = 1; }, status::ok},
      {"limit_max", [](account_filter& f) { f.limit = max; }, status::ok},
      {"debits_only", [](account_filter& f) { f.flags = 1; }, status::ok},
      {"credits_reversed", [](account_filter& f) { f.flags = 2 | 4; }, status::ok},
      {"timestamps",
       [](account_filter& f) {
         f.timestamp_min = 5;
         f.timestamp_max = 4;
       },
       status::ok},
      {"limit_0", [](account_filter& f) { f.limit = 0; }, status::bad_event_count},
      {"limit_max_plus_1", [](account_filter& f) { f.limit = max + 1; }, status::bad_event_count},
      {"limit_engine_max_plus_1", [](account_filter& f) { f.limit = batch_events_max + 1; },
       status::bad_event_count},
      {"limit_huge", [](account_filter& f) { f.limit = 0xffffffff; }, status::bad_event_count},
      {"no_side", [](account_filter& f) { f.flags = 0; }, status::bad_event_count},
      {"reversed_only", [](account_filter& f) { f.flags = 4; }, status::bad_event_count},
      {"unknown_flag_3", [](account_filter& f) { f.flags |= 8; }, status::reserved_field},
      {"unknown_flag_31", [](account_filter& f) { f.flags |= 0x80000000; }, status::reserved_field},
      {"reserved_first", [](account_filter& f) { f.reserved[0] = 1; }, status::reserved_field},
      {"reserved_last", [](account_filter& f) { f.reserved[23] = 0x80; }, status::reserved_field},
      // bad_event_count comes before reserved_field.
      {"limit_0_and_reserved",
       [](account_filter& f) {
         f.limit = 0;
         f.reserved[5] = 1;
       },
       status::bad_event_count},
      {"no_side_and_unknown_flag", [](account_filter& f) { f.flags = 8; }, status::bad_event_count},
      {"limit_over_and_unknown_flag",
       [](account_filter& f) {
         f.limit = max + 1;
         f.flags |= 16;
       },
       status::bad_event_count},
  };
  for (const auto& x : rows) {
    SCOPED_TRACE(x.name);
    request r = test::valid_request(opcode::get_account_transfers);
    edit_event<account_filter>(r.body, 0, x.edit);
    r.reseal();
    EXPECT_EQ(r.check(permission::read, max), x.expected);
  }
  for (std::size_t i = 0; i < sizeof(account_filter::reserved); ++i) {
    request r = test::valid_request(opcode::get_account_transfers);
    edit_event<account_filter>(r.body, 0, [i](account_filter& f) { f.reserved[i] = 0xff; });
    r.reseal();
    EXPECT_EQ(r.check(permission::read, max), status::reserved_field) << "reserved byte " << i;
  }
}

TEST(check_request, ledger_stats_reserved_bytes) {
  for (std::size_t i = 0; i < sizeof(ledger_stats_request::reserved); ++i) {
    request r = test::valid_request(opcode::get_ledger_stats);
    edit_event<ledger_stats_request>(r.body, 0,
                                     [i](ledger_stats_request& s) { s.reserved[i] = 1; });
    r.reseal();
    EXPECT_EQ(r.check(permission::read), status::reserved_field) << "reserved byte " << i;
  }
  for (const std::uint32_t ledger : {0u, 1u, 0xffffffffu}) {
    request r = test::valid_request(opcode::get_ledger_stats);
    edit_event<ledger_stats_request>(r.body, 0,
                                     [ledger](ledger_stats_request& s) { s.ledger = ledger; });
    r.reseal();
    EXPECT_EQ(r.check(permission::read), status::ok) << ledger;
  }
}

// Reserved bytes inside events are the engine's to answer per event (a Result code), not a
// protocol status.
TEST(check_request, reserved_bytes_inside_events_pass) {
  request a = test::valid_request(opcode::create_accounts);
  edit_event<account>(a.body, 1, [](account& x) {
    x.reserved = 1;
    x.flags = 0xffff;
  });
  a.reseal();
  EXPECT_EQ(a.check(permission::admin), status::ok);
  request c = test::valid_request(opcode::set_account_controls);
  edit_event<account_controls>(c.body, 0, [](account_controls& x) {
    x.reserved[27] = 1;
    x.status_flags = 0xff;
  });
  c.reseal();
  EXPECT_EQ(c.check(permission::admin), status::ok);
  request t = test::valid_request(opcode::create_transfers);
  edit_event<transfer>(t.body, 0, [](transfer& x) {
    x.flags = 0xffff;
    x.timestamp = 1;
  });
  t.reseal();
  EXPECT_EQ(t.check(permission::transfer), status::ok);
}

// A request with two faults reports the one step 3 checks first.
TEST(check_request, earlier_check_wins) {
  using edit = std::function<void(request&)>;
  // Each fault, applied to a valid GET_ACCOUNT_TRANSFERS request, in the protocol's order.
  // The permission fault is a key without read (GET_ACCOUNT_TRANSFERS needs it).
  struct fault {
    const char* name;
    edit apply;
    bool reseal_after;  // false: corrupts the body CRC
    status expected;
  };
  const fault faults[] = {
      {"body_crc", [](request& r) { r.h.body_crc32c ^= 0x100; }, false, status::body_checksum},
      {"flags", [](request& r) { r.h.flags = 4; }, true, status::reserved_field},
      {"opcode", [](request& r) { r.h.opcode = 2; }, true, status::unknown_opcode},
      {"permission", [](request&) {}, true, status::permission_denied},
      {"event_count", [](request& r) { r.h.event_count = 2; }, true, status::bad_event_count},
      {"filter_reserved",
       [](request& r) {
         edit_event<account_filter>(r.body, 0, [](account_filter& f) { f.reserved[3] = 9; });
       },
       true, status::reserved_field},
  };
  for (std::size_t a = 0; a < std::size(faults); ++a)
    for (std::size_t b = a; b < std::size(faults); ++b) {
      SCOPED_TRACE(std::string(faults[a].name) + " + " + faults[b].name);
      request r = test::valid_request(opcode::get_account_transfers);
      faults[b].apply(r);
      if (faults[b].reseal_after) r.reseal();
      if (a != b) faults[a].apply(r);
      if (faults[a].reseal_after && faults[b].reseal_after) r.reseal();
      const bool permission_fault = a == 3 || b == 3;
      const std::uint32_t perms = permission_fault ? 0 : permission::read;
      EXPECT_EQ(r.check(perms), faults[a].expected);
    }
}

// The same on a batch opcode: bad_event_count needs the permission first.
TEST(check_request, permission_before_event_count) {
  request r = test::valid_request(opcode::create_transfers);
  r.h.event_count = 0;
  r.reseal();
  EXPECT_EQ(r.check(permission::read | permission::admin), status::permission_denied);
  EXPECT_EQ(r.check(permission::transfer), status::bad_event_count);
  r.h.flags = 1;
  r.reseal();
  EXPECT_EQ(r.check(permission::read), status::reserved_field);
  r.body[0] ^= std::byte{1};
  EXPECT_EQ(r.check(permission::read), status::body_checksum);
}

TEST(closes_session, follows_section_5) {
  struct row {
    status s;
    bool closes;
  };
  const row rows[] = {
      {status::ok, false},
      {status::bad_magic, true},
      {status::unsupported_version, true},
      {status::header_checksum, true},
      {status::body_too_large, true},
      {status::body_checksum, false},
      {status::unknown_opcode, false},
      {status::bad_event_count, false},
      {status::not_authenticated, true},
      {status::auth_failed, true},
      {status::permission_denied, false},
      {status::bad_sequence, true},
      {status::bad_mac, true},
      {status::overloaded, false},
      {status::shutting_down, true},
      {status::storage_failed, true},
      {status::reserved_field, false},
      {status::not_primary, false},
      {status::unavailable, false},
  };
  static_assert(std::size(rows) == status_count - 1);  // every code but the unused 13
  for (const auto& x : rows) EXPECT_EQ(closes_session(x.s), x.closes) << name(x.s);
}

TEST(names, statuses_and_opcodes) {
  EXPECT_EQ(name(status::bad_magic), "bad_magic");
  EXPECT_EQ(name(status::reserved_field), "reserved_field");
  EXPECT_EQ(name(static_cast<status>(13)), "unknown");
  EXPECT_EQ(name(status::not_primary), "not_primary");
  EXPECT_EQ(name(status::unavailable), "unavailable");
  EXPECT_EQ(static_cast<int>(status::not_primary), 18);
  EXPECT_EQ(static_cast<int>(status::unavailable), 19);
  EXPECT_EQ(name(static_cast<status>(20)), "unknown");
  EXPECT_EQ(role_name(0), "standalone");
  EXPECT_EQ(role_name(1), "primary");
  EXPECT_EQ(role_name(2), "standby");
  EXPECT_EQ(role_name(3), "unknown");
  EXPECT_EQ(permission::replicate, 8u);
  EXPECT_EQ(name(opcode::get_ledger_stats), "get_ledger_stats");
  EXPECT_EQ(name(static_cast<opcode>(4)), "unknown");
  for (const opcode op : test::all_opcodes) EXPECT_NE(name(op), "unknown");
}

// HelloReply (section 3): role is the u32 after server_version, then 12 reserved bytes.
TEST(hello_reply, role_sits_after_server_version) {
  hello_reply r{};
  r.role = static_cast<std::uint32_t>(node_role::standby);
  std::array<std::byte, hello_reply_size> wire{};
  std::memcpy(wire.data(), &r, sizeof r);
  EXPECT_EQ(wire[48], std::byte{2});
  for (std::size_t i = 0; i < hello_reply_size; ++i) {
    if (i != 48) {
      EXPECT_EQ(wire[i], std::byte{0}) << i;
    }
  }
  EXPECT_EQ(r.reserved.size(), 12u);
}

// ---------------------------------------------------------------------------------------
// Before AUTH: check_hello and check_auth.

struct pre_auth_row {
  const char* name;
  std::function<void(request&)> edit;
  bool reseal;
  status expected;
};

void run_pre_auth(opcode op, const std::vector<pre_auth_row>& rows,
                  status (*check)(const frame_header&, std::span<const std::byte>)) {
  for (const auto& x : rows) {
    SCOPED_TRACE(op_name(op) + " " + x.name);
    request r = test::valid_request(op);
    ASSERT_EQ(r.h.sequence, 0u);
    x.edit(r);
    if (x.reseal) r.reseal();
    EXPECT_EQ(check(r.h, r.body), x.expected);
  }
}

std::vector<pre_auth_row> common_pre_auth_rows(opcode own) {
  std::vector<pre_auth_row> rows = {
      {"valid", [](request&) {}, true, status::ok},
      {"sequence_1", [](request& r) { r.h.sequence = 1; }, true, status::bad_sequence},
      {"sequence_huge", [](request& r) { r.h.sequence = ~0ull; }, true, status::bad_sequence},
      {"mac_first", [](request& r) { r.h.mac[0] = 1; }, true, status::bad_mac},
      {"mac_last", [](request& r) { r.h.mac[15] = 0x80; }, true, status::bad_mac},
      {"body_crc", [](request& r) { r.h.body_crc32c += 1; }, false, status::body_checksum},
      {"flags", [](request& r) { r.h.flags = 1; }, true, status::reserved_field},
      {"flags_high", [](request& r) { r.h.flags = 0x4000; }, true, status::reserved_field},
      {"reserved", [](request& r) { r.h.reserved = 3; }, true, status::reserved_field},
      {"status", [](request& r) { r.h.status = 1; }, true, status::reserved_field},
      {"event_count_0", [](request& r) { r.h.event_count = 0; }, true, status::bad_event_count},
      {"event_count_2", [](request& r) { r.h.event_count = 2; }, true, status::bad_event_count},
      {"body_short", [](request& r) { r.body.pop_back(); }, true, status::bad_event_count},
      {"body_long", [](request& r) { r.body.push_back(std::byte{0}); }, true,
       status::bad_event_count},
      // Two faults: the earlier one.
      {"sequence_and_mac",
       [](request& r) {
         r.h.sequence = 2;
         r.h.mac[3] = 1;
       },
       true, status::bad_sequence},
      {"mac_and_crc",
       [](request& r) {
         r.h.mac[3] = 1;
         r.h.body_crc32c ^= 1;
       },
       false, status::bad_mac},
      {"crc_and_flags",
       [](request& r) {
         r.h.flags = 1;
         r.h.body_crc32c ^= 1;
       },
       false, status::body_checksum},
      {"flags_and_count",
       [](request& r) {
         r.h.flags = 1;
         r.h.event_count = 0;
       },
       true, status::reserved_field},
  };
  // Any other opcode at this point: not_authenticated, before everything else.
  for (const std::uint16_t op : {0, 1, 2, 3, 4, 16, 17, 18, 19, 20, 21, 22, 23, 0xffff}) {
    if (op == static_cast<std::uint16_t>(own)) continue;
    rows.push_back(
        {"opcode", [op](request& r) { r.h.opcode = op; }, true, status::not_authenticated});
    rows.push_back({"opcode_and_sequence",
                    [op](request& r) {
                      r.h.opcode = op;
                      r.h.sequence = 1;
                      r.h.mac[0] = 1;
                    },
                    true, status::not_authenticated});
  }
  return rows;
}

TEST(check_hello, table) {
  std::vector<pre_auth_row> rows = common_pre_auth_rows(opcode::hello);
  const auto hello_edit = [](const std::function<void(hello&)>& edit) {
    return [edit](request& r) { edit_event<hello>(r.body, 0, edit); };
  };
  rows.push_back({"mac_mode_0", hello_edit([](hello& h) { h.mac_mode = 0; }), true, status::ok});
  rows.push_back({"mac_mode_1", hello_edit([](hello& h) { h.mac_mode = 1; }), true, status::ok});
  rows.push_back(
      {"mac_mode_2", hello_edit([](hello& h) { h.mac_mode = 2; }), true, status::reserved_field});
  rows.push_back({"mac_mode_max", hello_edit([](hello& h) { h.mac_mode = 0xffffffff; }), true,
                  status::reserved_field});
  rows.push_back(
      {"key_id_full", hello_edit([](hello& h) { h.key_id.fill('k'); }), true, status::ok});
  for (std::size_t i = 0; i < 12; ++i)
    rows.push_back({"reserved_byte", hello_edit([i](hello& h) { h.reserved[i] = 1; }), true,
                    status::reserved_field});
  rows.push_back({"proof_sized_body", [](request& r) { r.body.resize(proof_size); }, true,
                  status::bad_event_count});
  run_pre_auth(opcode::hello, rows, check_hello);
}

TEST(check_auth, table) {
  std::vector<pre_auth_row> rows = common_pre_auth_rows(opcode::auth);
  rows.push_back({"hello_sized_body", [](request& r) { r.body.resize(hello_size); }, true,
                  status::bad_event_count});
  rows.push_back({"any_proof_bytes", [](request& r) { r.body.assign(proof_size, std::byte{0xff}); },
                  true, status::ok});
  run_pre_auth(opcode::auth, rows, check_auth);
}

TEST(hello, key_id_of) {
  EXPECT_EQ(key_id_of(test::make_hello("ops")), "ops");
  EXPECT_EQ(key_id_of(test::make_hello("")), "");
  hello h = test::make_hello("");
  h.key_id.fill('z');
  EXPECT_EQ(key_id_of(h), std::string(32, 'z'));
}

}  // namespace
}  // namespace remit::codec
