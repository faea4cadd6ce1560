#include "gateway/codec/frame.hpp"

#include <cstring>

#include "engine/crc32c.hpp"
#include "gateway/codec/crypto.hpp"

namespace remit::codec {

std::string_view name(status s) {
  switch (s) {
    case status::ok:
      return "ok";
    case status::bad_magic:
      return "bad_magic";
    case status::unsupported_version:
      return "unsupported_version";
    case status::header_checksum:
      return "header_checksum";
    case status::body_too_large:
      return "body_too_large";
    case status::body_checksum:
      return "body_checksum";
    case status::unknown_opcode:
      return "unknown_opcode";
    case status::bad_event_count:
      return "bad_event_count";
    case status::not_authenticated:
      return "not_authenticated";
    case status::auth_failed:
      return "auth_failed";
    case status::permission_denied:
      return "permission_denied";
    case status::bad_sequence:
      return "bad_sequence";
    case status::bad_mac:
      return "bad_mac";
    case status::overloaded:
      return "overloaded";
    case status::shutting_down:
      return "shutting_down";
    case status::storage_failed:
      return "storage_failed";
    case status::reserved_field:
      return "reserved_field";
    case status::not_primary:
      return "not_primary";
    case status::unavailable:
      return "unavailable";
  }
  return "unknown";
}

std::string_view name(opcode op) {
  switch (op) {
    case opcode::hello:
      return "hello";
    case opcode::auth:
      return "auth";
    case opcode::ping:
      return "ping";
    case opcode::create_accounts:
      return "create_accounts";
    case opcode::create_transfers:
      return "create_transfers";
    case opcode::lookup_accounts:
      return "lookup_accounts";
    case opcode::lookup_transfers:
      return "lookup_transfers";
    case opcode::get_account_transfers:
      return "get_account_transfers";
    case opcode::set_account_controls:
      return "set_account_controls";
    case opcode::get_ledger_stats:
      return "get_ledger_stats";
  }
  return "unknown";
}

bool closes_session(status s) {
  switch (s) {
    case status::ok:
    case status::body_checksum:
    case status::unknown_opcode:
    case status::bad_event_count:
    case status::permission_denied:
    case status::overloaded:
    case status::reserved_field:
    case status::not_primary:
    case status::unavailable:
      return false;
    default:
      return true;
  }
}

std::string_view key_id_of(const hello& h) {
  const auto* end = static_cast<const char*>(std::memchr(h.key_id.data(), 0, h.key_id.size()));
  return {h.key_id.data(), end ? static_cast<std::size_t>(end - h.key_id.data()) : h.key_id.size()};
}

std::string_view role_name(std::uint32_t role) {
  switch (static_cast<node_role>(role)) {
    case node_role::standalone:
      return "standalone";
    case node_role::primary:
      return "primary";
    case node_role::standby:
      return "standby";
  }
  return "unknown";
}

opcode_shape shape_of(std::uint16_t op) {
  switch (static_cast<opcode>(op)) {
    case opcode::ping:
      return {true, 0, 0, false};
    case opcode::create_accounts:
      return {true, permission::admin, sizeof(account), true};
    case opcode::create_transfers:
      return {true, permission::transfer, sizeof(transfer), true};
    case opcode::lookup_accounts:
    case opcode::lookup_transfers:  // both take a batch of ids
      return {true, permission::read, sizeof(u128), true};
    case opcode::get_account_transfers:
      return {true, permission::read, sizeof(account_filter), false};
    case opcode::set_account_controls:
      return {true, permission::admin, sizeof(account_controls), true};
    case opcode::get_ledger_stats:
      return {true, permission::read, sizeof(ledger_stats_request), false};
    case opcode::hello:
    case opcode::auth:
      break;
  }
  return {};
}

frame_header read_header(const std::byte* bytes) {
  return load_event<frame_header>(bytes);
}

std::uint32_t header_crc(const frame_header& h) {
  return crc32c(&h, offsetof(frame_header, header_crc32c));
}

status check_header(const frame_header& h, std::uint32_t body_size_max, bool pre_auth) {
  if (h.magic != magic) return status::bad_magic;
  if (h.version != protocol_version) return status::unsupported_version;
  if (header_crc(h) != h.header_crc32c) return status::header_checksum;
  if (pre_auth) {
    if (h.body_size != hello_size && h.body_size != proof_size) return status::bad_event_count;
  } else if (h.body_size > body_size_max) {
    return status::body_too_large;
  }
  return status::ok;
}

namespace {

// The part of step 3 every frame shares: body CRC, then flags and reserved header fields.
status check_envelope(const frame_header& h, std::span<const std::byte> body) {
  if (crc32c(body.data(), body.size()) != h.body_crc32c) return status::body_checksum;
  if (h.flags != 0 || h.reserved != 0 || h.status != 0) return status::reserved_field;
  return status::ok;
}

status check_single(const frame_header& h, std::span<const std::byte> body, std::size_t size) {
  if (h.event_count != 1 || body.size() != size) return status::bad_event_count;
  return status::ok;
}

}  // namespace

status check_request(const frame_header& h, std::span<const std::byte> body,
                     std::uint32_t permissions, std::uint32_t event_count_max) {
  if (const status s = check_envelope(h, body); s != status::ok) return s;
  // Node-to-node opcodes (section 9): only a key with replicate may use them, and this
  // server defines none yet, so such a key gets unknown_opcode.
  if (is_node_opcode(h.opcode))
    return (permissions & permission::replicate) != 0 ? status::unknown_opcode
                                                      : status::permission_denied;
  const opcode_shape shape = shape_of(h.opcode);
  if (!shape.known) return status::unknown_opcode;
  if ((permissions & shape.permission) != shape.permission) return status::permission_denied;
  if (static_cast<opcode>(h.opcode) == opcode::ping) {
    if (h.event_count != 0 || body.size() > ping_body_max) return status::bad_event_count;
    return status::ok;
  }
  if (shape.batch) {
    if (h.event_count == 0 || h.event_count > event_count_max ||
        body.size() != std::size_t{h.event_count} * shape.event_size)
      return status::bad_event_count;
    return status::ok;
  }
  if (const status s = check_single(h, body, shape.event_size); s != status::ok) return s;
  if (static_cast<opcode>(h.opcode) == opcode::get_account_transfers) {
    auto f = load_event<account_filter>(body.data());
    // validate_filter bounds the limit by batch_events_max; a server announcing a smaller
    // event_count_max bounds it by that.
    if (f.limit > event_count_max) return status::bad_event_count;
    switch (validate_filter(f)) {
      case filter_check::ok:
        return status::ok;
      case filter_check::bad_event_count:
        return status::bad_event_count;
      case filter_check::reserved_field:
        return status::reserved_field;
    }
  }
  if (static_cast<opcode>(h.opcode) == opcode::get_ledger_stats) {
    const auto r = load_event<ledger_stats_request>(body.data());
    if (!bytes_zero(r.reserved, sizeof r.reserved)) return status::reserved_field;
  }
  return status::ok;
}

status check_hello(const frame_header& h, std::span<const std::byte> body) {
  if (static_cast<opcode>(h.opcode) != opcode::hello) return status::not_authenticated;
  if (h.sequence != 0) return status::bad_sequence;
  if (!bytes_zero(h.mac.data(), h.mac.size())) return status::bad_mac;
  if (const status s = check_envelope(h, body); s != status::ok) return s;
  if (const status s = check_single(h, body, hello_size); s != status::ok) return s;
  const auto m = load_event<hello>(body.data());
  if (m.mac_mode > static_cast<std::uint32_t>(mac_mode::hmac_sha256)) return status::reserved_field;
  if (!bytes_zero(m.reserved.data(), m.reserved.size())) return status::reserved_field;
  return status::ok;
}

status check_auth(const frame_header& h, std::span<const std::byte> body) {
  if (static_cast<opcode>(h.opcode) != opcode::auth) return status::not_authenticated;
  if (h.sequence != 0) return status::bad_sequence;
  if (!bytes_zero(h.mac.data(), h.mac.size())) return status::bad_mac;
  if (const status s = check_envelope(h, body); s != status::ok) return s;
  return check_single(h, body, proof_size);
}

void seal_frame(std::span<std::byte> frame, const frame_fields& f, const mac_key* key) {
  frame_header h{};
  h.magic = magic;
  h.version = protocol_version;
  h.opcode = f.opcode;
  h.body_size = static_cast<std::uint32_t>(frame.size() - header_size);
  h.event_count = f.event_count;
  h.request_id = f.request_id;
  h.sequence = f.sequence;
  h.status = f.status;
  h.flags = f.flags;
  const auto body = frame.subspan(header_size);
  h.body_crc32c = crc32c(body.data(), body.size());
  std::memcpy(frame.data(), &h, header_size);
  if (key) {
    h.mac = key->compute(frame.first(header_size), body);
  }
  h.header_crc32c = header_crc(h);
  std::memcpy(frame.data(), &h, header_size);
}

}  // namespace remit::codec
