// The cryptography of docs/PROTOCOL.md section 3 (HELLO and AUTH, session keys, frame MAC),
// on OpenSSL's HMAC-SHA256 and random source.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

namespace remit::codec {

using digest = std::array<std::uint8_t, 32>;

// HMAC-SHA256(key, parts[0] || parts[1] || ...).
digest hmac_sha256(std::span<const std::uint8_t> key,
                   std::initializer_list<std::span<const std::byte>> parts);

// Constant-time equality of two byte strings of the same size.
[[nodiscard]] bool equal_ct(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// Fills `out` from a cryptographic random source; throws std::runtime_error if it fails.
void random_bytes(std::span<std::uint8_t> out);

// AUTH proof = HMAC(secret, "remit-auth-v1" || Hello || HelloReply), both 64 bytes as sent.
digest auth_proof(std::span<const std::uint8_t> secret, std::span<const std::byte> hello,
                  std::span<const std::byte> hello_reply);
// server_proof = HMAC(secret, "remit-server-v1" || Hello || HelloReply || proof).
digest server_proof(std::span<const std::uint8_t> secret, std::span<const std::byte> hello,
                    std::span<const std::byte> hello_reply, std::span<const std::uint8_t> proof);

// The MAC key of one direction of a session.
class mac_key {
 public:
  mac_key() = default;
  explicit mac_key(const digest& key) : key_(key) {}
  // HMAC over the 64 header bytes (with `mac` and `header_crc32c` zero) followed by the body,
  // cut to 16 bytes.
  std::array<std::uint8_t, 16> compute(std::span<const std::byte> header,
                                       std::span<const std::byte> body) const;
  // Whether the frame's MAC verifies (constant time). `frame`: header then body.
  [[nodiscard]] bool verify(std::span<const std::byte> frame) const;

 private:
  digest key_{};
};

struct session_keys {
  mac_key c2s;  // client to server
  mac_key s2c;  // server to client
};
// c2s = HMAC(secret, "remit-c2s-v1" || client_nonce || server_nonce); s2c likewise.
session_keys derive_session_keys(std::span<const std::uint8_t> secret,
                                 std::span<const std::uint8_t> client_nonce,
                                 std::span<const std::uint8_t> server_nonce);

}  // namespace remit::codec
