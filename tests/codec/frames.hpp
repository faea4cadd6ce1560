// Frame builders shared by the codec tests and the fuzz seed generator: one valid request
// per opcode of docs/PROTOCOL.md section 3, sealed with seal_frame, and a `request` that a test
// mutates field by field and then reseals (or deliberately does not).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "engine/crc32c.hpp"
#include "engine/types.hpp"
#include "gateway/codec/crypto.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::codec::test {

using bytes = std::vector<std::byte>;

template <wire_struct T>
void append(bytes& out, const T& t) {
  const auto* p = reinterpret_cast<const std::byte*>(&t);
  out.insert(out.end(), p, p + sizeof(T));
}

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return std::as_bytes(std::span(s));
}

// header_size bytes of header (filled by seal_frame) followed by `body`.
inline bytes seal(const frame_fields& f, std::span<const std::byte> body,
                  const mac_key* key = nullptr) {
  bytes frame(header_size + body.size());
  if (!body.empty()) std::memcpy(frame.data() + header_size, body.data(), body.size());
  seal_frame(frame, f, key);
  return frame;
}

inline account make_account(std::uint64_t id) {
  account a{};
  a.id = id;
  a.ledger = 1;
  a.code = 10;
  a.user_data_64 = id * 3;
  return a;
}

inline transfer make_transfer(std::uint64_t id) {
  transfer t{};
  t.id = id;
  t.debit_account_id = 1;
  t.credit_account_id = 2;
  t.amount = 100 + id;
  t.ledger = 1;
  t.code = 10;
  return t;
}

inline account_filter make_filter(std::uint32_t limit = 10) {
  account_filter f{};
  f.account_id = 1;
  f.limit = limit;
  f.flags = account_filter_flags::debits | account_filter_flags::credits;
  return f;
}

inline hello make_hello(std::string_view key_id = "ops", std::uint32_t mode = 1) {
  hello h{};
  std::memcpy(h.key_id.data(), key_id.data(), key_id.size());
  for (std::size_t i = 0; i < h.client_nonce.size(); ++i)
    h.client_nonce[i] = static_cast<std::uint8_t>(0xa0 + i);
  h.mac_mode = mode;
  return h;
}

// A valid request body for `op` with `n` events (batch opcodes; others ignore n).
inline bytes valid_body(opcode op, std::uint32_t n = 2) {
  bytes b;
  switch (op) {
    case opcode::hello:
      append(b, make_hello());
      break;
    case opcode::auth:
      b.assign(proof_size, std::byte{0x5a});
      break;
    case opcode::ping:
      b = {std::byte{'p'}, std::byte{'i'}, std::byte{'n'}, std::byte{'g'}};
      break;
    case opcode::create_accounts:
      for (std::uint32_t i = 0; i < n; ++i) append(b, make_account(i + 1));
      break;
    case opcode::create_transfers:
      for (std::uint32_t i = 0; i < n; ++i) append(b, make_transfer(i + 1));
      break;
    case opcode::lookup_accounts:
    case opcode::lookup_transfers:
      for (std::uint32_t i = 0; i < n; ++i) append(b, u128{i + 1});
      break;
    case opcode::get_account_transfers:
      append(b, make_filter());
      break;
    case opcode::set_account_controls:
      for (std::uint32_t i = 0; i < n; ++i) {
        account_controls c{};
        c.account_id = i + 1;
        c.transfer_amount_max = 1000;
        append(b, c);
      }
      break;
    case opcode::get_ledger_stats: {
      ledger_stats_request r{};
      r.ledger = 1;
      append(b, r);
      break;
    }
  }
  return b;
}

// The event_count a valid request of `op` with `n` events carries.
inline std::uint32_t valid_event_count(opcode op, std::uint32_t n = 2) {
  if (op == opcode::ping) return 0;
  return shape_of(static_cast<std::uint16_t>(op)).batch ? n : 1;
}

// A request as the server sees it after decoding: header and body, each editable. `reseal`
// recomputes both checksums (the body CRC from the body as it is now).
struct request {
  frame_header h{};
  bytes body;

  void reseal() {
    h.body_crc32c = crc32c(body.data(), body.size());
    h.body_size = static_cast<std::uint32_t>(body.size());
    h.header_crc32c = header_crc(h);
  }
  status check(std::uint32_t permissions = permission::all,
               std::uint32_t event_count_max = batch_events_max) const {
    return check_request(h, body, permissions, event_count_max);
  }
};

// A valid request of `op` on an authenticated session without MAC (sequence 1).
inline request valid_request(opcode op, std::uint32_t n = 2) {
  const bytes body = valid_body(op, n);
  const std::uint64_t sequence = op == opcode::hello || op == opcode::auth ? 0 : 1;
  const bytes frame =
      seal({static_cast<std::uint16_t>(op), valid_event_count(op, n), 77, sequence, 0, 0}, body);
  return {read_header(frame.data()), body};
}

inline constexpr opcode all_opcodes[] = {
    opcode::hello,
    opcode::auth,
    opcode::ping,
    opcode::create_accounts,
    opcode::create_transfers,
    opcode::lookup_accounts,
    opcode::lookup_transfers,
    opcode::get_account_transfers,
    opcode::set_account_controls,
    opcode::get_ledger_stats,
};

// The opcodes a session may send after AUTH.
inline constexpr opcode request_opcodes[] = {
    opcode::ping,
    opcode::create_accounts,
    opcode::create_transfers,
    opcode::lookup_accounts,
    opcode::lookup_transfers,
    opcode::get_account_transfers,
    opcode::set_account_controls,
    opcode::get_ledger_stats,
};

}  // namespace remit::codec::test
