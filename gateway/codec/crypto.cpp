#include "gateway/codec/crypto.hpp"

#include <cstring>
#include <stdexcept>
#include <string_view>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "gateway/codec/frame.hpp"

namespace remit::codec {

namespace {
std::span<const std::byte> text(std::string_view s) {
  return std::as_bytes(std::span(s));
}

// One reusable EVP_MAC context per thread: fetching the algorithm costs more than the MAC of
// a small frame.
struct mac_ctx {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
  mac_ctx() {
    if (!ctx) throw std::runtime_error("OpenSSL: HMAC is not available");
  }
  ~mac_ctx() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
  mac_ctx(const mac_ctx&) = delete;
  mac_ctx& operator=(const mac_ctx&) = delete;
};
}  // namespace

digest hmac_sha256(std::span<const std::uint8_t> key,
                   std::initializer_list<std::span<const std::byte>> parts) {
  thread_local mac_ctx m;
  char sha256[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", sha256, 0),
                               OSSL_PARAM_construct_end()};
  // EVP_MAC_init with a null key keeps the key of the previous call on this context: an
  // empty key must still be a valid pointer.
  static const std::uint8_t no_key = 0;
  if (EVP_MAC_init(m.ctx, key.empty() ? &no_key : key.data(), key.size(), params) != 1)
    throw std::runtime_error("OpenSSL: HMAC init failed");
  for (const auto& p : parts)
    if (!p.empty() &&
        EVP_MAC_update(m.ctx, reinterpret_cast<const unsigned char*>(p.data()), p.size()) != 1)
      throw std::runtime_error("OpenSSL: HMAC update failed");
  digest out{};
  std::size_t n = 0;
  if (EVP_MAC_final(m.ctx, out.data(), &n, out.size()) != 1 || n != out.size())
    throw std::runtime_error("OpenSSL: HMAC final failed");
  return out;
}

bool equal_ct(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("OpenSSL: no random bytes");
}

digest auth_proof(std::span<const std::uint8_t> secret, std::span<const std::byte> hello,
                  std::span<const std::byte> hello_reply) {
  return hmac_sha256(secret, {text("remit-auth-v1"), hello, hello_reply});
}

digest server_proof(std::span<const std::uint8_t> secret, std::span<const std::byte> hello,
                    std::span<const std::byte> hello_reply, std::span<const std::uint8_t> proof) {
  return hmac_sha256(secret, {text("remit-server-v1"), hello, hello_reply, std::as_bytes(proof)});
}

std::array<std::uint8_t, 16> mac_key::compute(std::span<const std::byte> header,
                                              std::span<const std::byte> body) const {
  // The MAC covers the header with `mac` and `header_crc32c` zero.
  std::array<std::byte, header_size> h;
  std::memcpy(h.data(), header.data(), header_size);
  std::memset(h.data() + offsetof(frame_header, mac), 0, mac_size);
  std::memset(h.data() + offsetof(frame_header, header_crc32c), 0, 4);
  const digest d = hmac_sha256(key_, {std::span<const std::byte>(h), body});
  std::array<std::uint8_t, 16> out;
  std::memcpy(out.data(), d.data(), out.size());
  return out;
}

bool mac_key::verify(std::span<const std::byte> frame) const {
  const auto expected = compute(frame.first(header_size), frame.subspan(header_size));
  return equal_ct(expected, std::span(reinterpret_cast<const std::uint8_t*>(frame.data()) +
                                          offsetof(frame_header, mac),
                                      mac_size));
}

session_keys derive_session_keys(std::span<const std::uint8_t> secret,
                                 std::span<const std::uint8_t> client_nonce,
                                 std::span<const std::uint8_t> server_nonce) {
  const auto cn = std::as_bytes(client_nonce);
  const auto sn = std::as_bytes(server_nonce);
  return {mac_key(hmac_sha256(secret, {text("remit-c2s-v1"), cn, sn})),
          mac_key(hmac_sha256(secret, {text("remit-s2c-v1"), cn, sn}))};
}

}  // namespace remit::codec
