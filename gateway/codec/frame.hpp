// The frame of docs/PROTOCOL.md sections 2 and 3: the 64-byte header, the opcodes, the protocol
// statuses, the HELLO/AUTH bodies, and the checks a server makes on a request, in the
// order the protocol gives them. Pure: no I/O, no allocation.
//
// Events themselves are the structs of engine/types.hpp (byte-identical to the wire); a
// body of n events is read in place with load_event.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/types.hpp"

namespace remit::codec {

inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t header_size = 64;
inline constexpr std::size_t hello_size = 64;
inline constexpr std::size_t hello_reply_size = 64;
inline constexpr std::size_t proof_size = 32;
inline constexpr std::size_t auth_reply_size = 48;
inline constexpr std::size_t ping_body_max = 64;
inline constexpr std::size_t reason_max = 256;  // UTF-8 reason of an error response
inline constexpr std::size_t mac_size = 16;
inline constexpr std::array<std::byte, 4> magic = {std::byte{'R'}, std::byte{'M'}, std::byte{'T'},
                                                   std::byte{'P'}};
inline constexpr std::uint16_t flag_response = 1u << 0;

enum class opcode : std::uint16_t {
  hello = 1,
  auth = 2,
  ping = 3,
  create_accounts = 16,
  create_transfers = 17,
  lookup_accounts = 18,
  lookup_transfers = 19,
  get_account_transfers = 20,
  set_account_controls = 21,
  get_ledger_stats = 22,
};

// Opcodes 64 to 127 carry node-to-node traffic (section 9) after AUTH with a key that has
// permission::replicate. This server defines none of them yet.
inline constexpr std::uint16_t node_opcode_min = 64;
inline constexpr std::uint16_t node_opcode_max = 127;
inline constexpr bool is_node_opcode(std::uint16_t op) {
  return op >= node_opcode_min && op <= node_opcode_max;
}

// Protocol status (section 5), carried in the header of a response.
enum class status : std::uint16_t {
  ok = 0,
  bad_magic = 1,
  unsupported_version = 2,
  header_checksum = 3,
  body_too_large = 4,
  body_checksum = 5,
  unknown_opcode = 6,
  bad_event_count = 7,
  not_authenticated = 8,
  auth_failed = 9,
  permission_denied = 10,
  bad_sequence = 11,
  bad_mac = 12,
  overloaded = 14,
  shutting_down = 15,
  storage_failed = 16,
  reserved_field = 17,
  not_primary = 18,  // the body names the primary's client address (section 9)
  unavailable = 19,  // the outcome is unknown: resend by id later (section 9)
};
inline constexpr std::size_t status_count = 20;  // codes 0 to 19, 13 unused
std::string_view name(status s);
std::string_view name(opcode op);  // "unknown" for a value outside section 3

// Whether a status closes the session once an authenticated session has answered it
// (section 5). Before AUTH every failed check closes.
bool closes_session(status s);

// Permission bits of a key (section 3). Admin does not imply the others.
namespace permission {
inline constexpr std::uint32_t read = 1u << 0;
inline constexpr std::uint32_t transfer = 1u << 1;
inline constexpr std::uint32_t admin = 1u << 2;
inline constexpr std::uint32_t replicate = 1u << 3;  // node-to-node traffic (section 9)
// Every permission a client uses; replicate is for nodes, not clients.
inline constexpr std::uint32_t all = read | transfer | admin;
// Every bit the protocol defines: a keys file may combine these and no others.
inline constexpr std::uint32_t defined = all | replicate;
static_assert(defined == 15);
}  // namespace permission

// The 64-byte frame header, byte-identical to the wire.
struct frame_header {
  std::array<std::byte, 4> magic;
  std::uint16_t version;
  std::uint16_t opcode;
  std::uint32_t body_size;
  std::uint32_t event_count;
  std::uint64_t request_id;
  std::uint64_t sequence;
  std::uint16_t status;
  std::uint16_t flags;
  std::uint32_t body_crc32c;
  std::array<std::uint8_t, mac_size> mac;
  std::uint32_t reserved;
  std::uint32_t header_crc32c;
};
static_assert(sizeof(frame_header) == header_size);
static_assert(offsetof(frame_header, version) == 4);
static_assert(offsetof(frame_header, opcode) == 6);
static_assert(offsetof(frame_header, body_size) == 8);
static_assert(offsetof(frame_header, event_count) == 12);
static_assert(offsetof(frame_header, request_id) == 16);
static_assert(offsetof(frame_header, sequence) == 24);
static_assert(offsetof(frame_header, status) == 32);
static_assert(offsetof(frame_header, flags) == 34);
static_assert(offsetof(frame_header, body_crc32c) == 36);
static_assert(offsetof(frame_header, mac) == 40);
static_assert(offsetof(frame_header, reserved) == 56);
static_assert(offsetof(frame_header, header_crc32c) == 60);

// Hello (64), HelloReply (64), AuthReply (48).
inline constexpr std::size_t key_id_max = 32;
inline constexpr std::size_t nonce_size = 16;
enum class mac_mode : std::uint32_t { none = 0, hmac_sha256 = 1 };

struct hello {
  std::array<char, key_id_max> key_id;  // ASCII, zero padded
  std::array<std::uint8_t, nonce_size> client_nonce;
  std::uint32_t mac_mode;
  std::array<std::uint8_t, 12> reserved;
};
static_assert(sizeof(hello) == hello_size);
static_assert(offsetof(hello, client_nonce) == 32);
static_assert(offsetof(hello, mac_mode) == 48);

struct hello_reply {
  std::array<std::uint8_t, nonce_size> server_nonce;
  std::uint32_t body_size_max;
  std::uint32_t event_count_max;
  std::uint32_t inflight_max;
  std::uint32_t mac_required;
  std::array<char, 16> server_version;  // ASCII, zero padded
  std::uint32_t role;                   // node_role
  std::array<std::uint8_t, 12> reserved;
};
static_assert(sizeof(hello_reply) == hello_reply_size);
static_assert(offsetof(hello_reply, role) == 48);
static_assert(offsetof(hello_reply, body_size_max) == 16);
static_assert(offsetof(hello_reply, mac_required) == 28);
static_assert(offsetof(hello_reply, server_version) == 32);

// HelloReply's `role`: what the node is now (section 9).
enum class node_role : std::uint32_t { standalone = 0, primary = 1, standby = 2 };
// "standalone", "primary", "standby", or "unknown" for a value section 9 does not define.
std::string_view role_name(std::uint32_t role);

struct auth_reply {
  std::uint64_t session_id;
  std::uint32_t permissions;
  std::uint32_t reserved;
  std::array<std::uint8_t, 32> server_proof;
};
static_assert(sizeof(auth_reply) == auth_reply_size);

static_assert(wire_struct<frame_header> && wire_struct<hello> && wire_struct<hello_reply> &&
              wire_struct<auth_reply>);

// The key id of a Hello as a string (up to the first zero byte).
std::string_view key_id_of(const hello& h);

// Section 3's table, for the opcodes a session may send after AUTH.
struct opcode_shape {
  bool known = false;            // false: unknown_opcode (HELLO and AUTH included)
  std::uint32_t permission = 0;  // bits the key needs; 0: any authenticated key
  std::uint32_t event_size = 0;  // bytes per event; 0 for PING
  bool batch = false;            // 1..event_count_max events; otherwise exactly one
};
opcode_shape shape_of(std::uint16_t op);

// Step 1 of section 2, on the header alone: magic, version, header_crc32c, body_size.
// `pre_auth`: the body must be exactly HELLO's or AUTH's size (else bad_event_count).
// Returns status::ok when the body may be read.
[[nodiscard]] status check_header(const frame_header& h, std::uint32_t body_size_max,
                                  bool pre_auth);

// Step 3 of section 2 on a request that passed the sequence and MAC checks: body_crc32c,
// flags and reserved header field, opcode, permission, event_count and body_size, reserved
// bytes of Hello/AccountFilter/stats bodies. `permissions` are the session key's bits.
[[nodiscard]] status check_request(const frame_header& h, std::span<const std::byte> body,
                                   std::uint32_t permissions, std::uint32_t event_count_max);

// The checks of HELLO's and AUTH's frames before AUTH (section 1): the opcode expected at
// that point (else not_authenticated), body crc, flags and reserved field, event_count 1,
// and for HELLO its mac_mode and reserved bytes.
[[nodiscard]] status check_hello(const frame_header& h, std::span<const std::byte> body);
[[nodiscard]] status check_auth(const frame_header& h, std::span<const std::byte> body);

// Everything of a header but the checksums and MAC, which seal_frame computes.
struct frame_fields {
  std::uint16_t opcode = 0;
  std::uint32_t event_count = 0;
  std::uint64_t request_id = 0;
  std::uint64_t sequence = 0;
  std::uint16_t status = 0;
  std::uint16_t flags = 0;
};

class mac_key;

// `frame` holds header_size bytes followed by the body, already in place. Fills the header
// from `f`: body_size from the span's size, the body CRC, the MAC with `key` when it is not
// null, and the header CRC last (section 2).
void seal_frame(std::span<std::byte> frame, const frame_fields& f, const mac_key* key);

// Reads the header at the front of `bytes` (at least header_size of them).
frame_header read_header(const std::byte* bytes);

// The header CRC a sender would compute.
std::uint32_t header_crc(const frame_header& h);

}  // namespace remit::codec
