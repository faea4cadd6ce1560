// The cryptography of docs/PROTOCOL.md section 3: HMAC-SHA256 against RFC 4231, the AUTH proof,
// the server proof and the session keys against OpenSSL's one-shot HMAC() of the
// concatenations the protocol names, and the frame MAC (every flipped bit is caught, and a
// frame never verifies in the other direction).
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/codec/decoder.hpp"
#include "gateway/codec/keys.hpp"
#include "tests/codec/frames.hpp"

namespace remit::codec {
namespace {

using test::bytes;

std::span<const std::uint8_t> text(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <class T>
std::span<const std::uint8_t> u8(const T& t) {
  return {reinterpret_cast<const std::uint8_t*>(t.data()), t.size() * sizeof(t[0])};
}

// The reference: OpenSSL's one-shot HMAC() over one buffer.
digest reference_hmac(std::span<const std::uint8_t> key, const std::vector<std::uint8_t>& data) {
  digest out{};
  unsigned int n = 0;
  // HMAC() refuses a null key pointer; an empty key is a valid pointer to no bytes.
  static const std::uint8_t no_key = 0;
  const unsigned char* r =
      HMAC(EVP_sha256(), key.empty() ? &no_key : key.data(), static_cast<int>(key.size()),
           data.data(), data.size(), out.data(), &n);
  EXPECT_NE(r, nullptr);
  EXPECT_EQ(n, out.size());
  return out;
}

std::vector<std::uint8_t> concat(std::initializer_list<std::span<const std::uint8_t>> parts) {
  std::vector<std::uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string hex(const digest& d) {
  return to_hex(d.data(), d.size());
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
  return v;
}

TEST(hmac_sha256, rfc_4231_test_case_2) {
  const std::string_view data = "what do ya want for nothing?";
  const digest d = hmac_sha256(text("Jefe"), {test::as_bytes(data)});
  EXPECT_EQ(hex(d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // The parts are concatenated: any split gives the same MAC.
  for (std::size_t cut = 0; cut <= data.size(); ++cut)
    EXPECT_EQ(hmac_sha256(text("Jefe"),
                          {test::as_bytes(data.substr(0, cut)), test::as_bytes(data.substr(cut))}),
              d)
        << cut;
}

TEST(hmac_sha256, rfc_4231_test_case_1_and_6) {
  const std::vector<std::uint8_t> key1(20, 0x0b);
  EXPECT_EQ(hex(hmac_sha256(key1, {test::as_bytes("Hi There")})),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // A key longer than the block size is hashed first.
  const std::vector<std::uint8_t> key6(131, 0xaa);
  EXPECT_EQ(hex(hmac_sha256(key6, {test::as_bytes("Test Using Larger Than Block-Size Key - "
                                                  "Hash Key First")})),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(hmac_sha256, matches_one_shot_hmac_for_every_key_size) {
  // Each call has a new key, and the empty key comes after a non-empty one: no call may
  // lean on the key of the call before it.
  const auto warm_up = pattern(7, 3);
  EXPECT_EQ(hmac_sha256(pattern(20, 9), {std::as_bytes(std::span(warm_up))}),
            reference_hmac(pattern(20, 9), warm_up));
  for (std::size_t n = 0; n <= 130; ++n) {
    const auto key = pattern(n, static_cast<std::uint8_t>(n));
    const auto data = pattern(n * 3, 1);
    EXPECT_EQ(hmac_sha256(key, {std::as_bytes(std::span(data))}), reference_hmac(key, data))
        << "key size " << n;
  }
}

TEST(auth_proof, is_hmac_of_the_named_concatenation) {
  const auto secret = pattern(32, 0x31);
  const auto hello = pattern(64, 0x10);
  const auto reply = pattern(64, 0x90);
  const digest proof =
      auth_proof(secret, std::as_bytes(std::span(hello)), std::as_bytes(std::span(reply)));
  EXPECT_EQ(proof, reference_hmac(secret, concat({text("remit-auth-v1"), hello, reply})));

  const digest server =
      server_proof(secret, std::as_bytes(std::span(hello)), std::as_bytes(std::span(reply)), proof);
  EXPECT_EQ(server,
            reference_hmac(secret, concat({text("remit-server-v1"), hello, reply, u8(proof)})));
  EXPECT_NE(server, proof);

  // Each input counts.
  auto other_reply = reply;
  other_reply[63] ^= 1;
  EXPECT_NE(
      auth_proof(secret, std::as_bytes(std::span(hello)), std::as_bytes(std::span(other_reply))),
      proof);
  auto other_secret = secret;
  other_secret[0] ^= 1;
  EXPECT_NE(
      auth_proof(other_secret, std::as_bytes(std::span(hello)), std::as_bytes(std::span(reply))),
      proof);
}

TEST(auth_proof, over_real_hello_and_hello_reply) {
  const hello h = test::make_hello("ops", 1);
  hello_reply r{};
  r.server_nonce.fill(0x44);
  r.body_size_max = body_size_max;
  r.event_count_max = batch_events_max;
  r.inflight_max = 64;
  const auto hb = std::as_bytes(std::span(&h, 1));
  const auto rb = std::as_bytes(std::span(&r, 1));
  ASSERT_EQ(hb.size(), 64u);
  ASSERT_EQ(rb.size(), 64u);
  const auto secret = pattern(16, 0);
  std::vector<std::uint8_t> data = concat({text("remit-auth-v1")});
  for (auto b : hb) data.push_back(static_cast<std::uint8_t>(b));
  for (auto b : rb) data.push_back(static_cast<std::uint8_t>(b));
  EXPECT_EQ(auth_proof(secret, hb, rb), reference_hmac(secret, data));
}

// The first 16 bytes of HMAC(key, header with mac and header_crc32c zero || body).
std::array<std::uint8_t, 16> reference_mac(const digest& key, const bytes& frame) {
  std::vector<std::uint8_t> data(frame.size());
  std::memcpy(data.data(), frame.data(), frame.size());
  std::memset(data.data() + offsetof(frame_header, mac), 0, mac_size);
  std::memset(data.data() + offsetof(frame_header, header_crc32c), 0, 4);
  const digest d = reference_hmac(key, data);
  std::array<std::uint8_t, 16> out;
  std::memcpy(out.data(), d.data(), 16);
  return out;
}

TEST(session_keys, are_hmac_of_the_named_concatenation) {
  const auto secret = pattern(24, 0x77);
  const auto cn = pattern(16, 0x01);
  const auto sn = pattern(16, 0xc0);
  const session_keys keys = derive_session_keys(secret, cn, sn);
  const digest c2s = reference_hmac(secret, concat({text("remit-c2s-v1"), cn, sn}));
  const digest s2c = reference_hmac(secret, concat({text("remit-s2c-v1"), cn, sn}));
  ASSERT_NE(c2s, s2c);

  // mac_key's key is private: compare the MAC it gives with the reference MAC under the
  // expected key, on frames with and without a body.
  for (const opcode op : test::request_opcodes) {
    const bytes body = test::valid_body(op);
    const bytes frame = test::seal(
        {static_cast<std::uint16_t>(op), test::valid_event_count(op), 9, 3, 0, 0}, body, &keys.c2s);
    const frame_header h = read_header(frame.data());
    EXPECT_EQ(h.mac, reference_mac(c2s, frame)) << name(op);
    const bytes reply =
        test::seal({static_cast<std::uint16_t>(op), 0, 9, 3, 0, flag_response}, {}, &keys.s2c);
    EXPECT_EQ(read_header(reply.data()).mac, reference_mac(s2c, reply)) << name(op);
    EXPECT_EQ(keys.c2s.compute(std::span(frame).first(header_size),
                               std::span(frame).subspan(header_size)),
              h.mac);
  }
  // The nonces are ordered: client first.
  const session_keys swapped = derive_session_keys(secret, sn, cn);
  const bytes frame = test::seal({3, 0, 1, 1, 0, 0}, {}, &keys.c2s);
  EXPECT_FALSE(swapped.c2s.verify(frame));
  EXPECT_TRUE(keys.c2s.verify(frame));
}

TEST(mac_key, verifies_a_sealed_frame_and_catches_every_flipped_bit) {
  const session_keys keys = derive_session_keys(pattern(32, 5), pattern(16, 6), pattern(16, 7));
  for (const opcode op : {opcode::ping, opcode::lookup_accounts, opcode::get_account_transfers}) {
    SCOPED_TRACE(name(op));
    const bytes frame =
        test::seal({static_cast<std::uint16_t>(op), test::valid_event_count(op), 123, 45, 0, 0},
                   test::valid_body(op), &keys.c2s);
    ASSERT_TRUE(keys.c2s.verify(frame));
    ASSERT_EQ(check_header(read_header(frame.data()), 1024, false), status::ok);
    for (std::size_t i = 0; i < frame.size(); ++i)
      for (int bit = 0; bit < 8; ++bit) {
        bytes bad = frame;
        bad[i] ^= static_cast<std::byte>(1u << bit);
        const bool in_header_crc = i >= offsetof(frame_header, header_crc32c) && i < header_size;
        if (in_header_crc) {
          // The MAC covers header_crc32c as zero: the header check catches this one.
          EXPECT_TRUE(keys.c2s.verify(bad)) << "byte " << i << " bit " << bit;
          EXPECT_EQ(check_header(read_header(bad.data()), 1024, false), status::header_checksum);
        } else {
          EXPECT_FALSE(keys.c2s.verify(bad)) << "byte " << i << " bit " << bit;
        }
      }
  }
}

TEST(mac_key, a_frame_never_verifies_in_the_other_direction) {
  const session_keys keys = derive_session_keys(pattern(16, 1), pattern(16, 2), pattern(16, 3));
  for (const opcode op : test::request_opcodes) {
    const bytes body = test::valid_body(op);
    const frame_fields f{static_cast<std::uint16_t>(op), test::valid_event_count(op), 1, 1, 0, 0};
    const bytes c2s = test::seal(f, body, &keys.c2s);
    const bytes s2c = test::seal(f, body, &keys.s2c);
    EXPECT_TRUE(keys.c2s.verify(c2s));
    EXPECT_FALSE(keys.s2c.verify(c2s)) << name(op);
    EXPECT_TRUE(keys.s2c.verify(s2c));
    EXPECT_FALSE(keys.c2s.verify(s2c)) << name(op);
    EXPECT_NE(read_header(c2s.data()).mac, read_header(s2c.data()).mac);
  }
}

TEST(mac_key, unsealed_frame_does_not_verify) {
  const session_keys keys = derive_session_keys(pattern(16, 1), pattern(16, 2), pattern(16, 3));
  const bytes plain = test::seal({3, 0, 1, 1, 0, 0}, test::valid_body(opcode::ping));
  EXPECT_EQ(read_header(plain.data()).mac, (std::array<std::uint8_t, mac_size>{}));
  EXPECT_FALSE(keys.c2s.verify(plain));
}

TEST(mac_key, sealed_frame_decodes_and_verifies_after_any_split) {
  const session_keys keys = derive_session_keys(pattern(16, 9), pattern(16, 8), pattern(16, 7));
  const bytes frame =
      test::seal({17, 2, 1, 1, 0, 0}, test::valid_body(opcode::create_transfers), &keys.c2s);
  for (std::size_t cut = 0; cut <= frame.size(); cut += 13) {
    frame_decoder d(1024);
    EXPECT_EQ(d.feed(std::span(frame).first(cut)), cut);
    EXPECT_EQ(d.feed(std::span(frame).subspan(cut)), frame.size() - cut);
    ASSERT_EQ(d.current(), frame_decoder::state::frame);
    EXPECT_TRUE(keys.c2s.verify(d.frame()));
  }
}

TEST(equal_ct, compares_size_and_bytes) {
  const std::array<std::uint8_t, 4> a{1, 2, 3, 4};
  std::array<std::uint8_t, 4> b = a;
  EXPECT_TRUE(equal_ct(a, b));
  b[3] = 5;
  EXPECT_FALSE(equal_ct(a, b));
  EXPECT_FALSE(equal_ct(a, std::span(a).first(3)));
  EXPECT_TRUE(equal_ct({}, {}));
}

TEST(random_bytes, differ_between_draws) {
  std::array<std::uint8_t, 32> a{};
  std::array<std::uint8_t, 32> b{};
  random_bytes(a);
  random_bytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<std::uint8_t, 32>{}));
}

}  // namespace
}  // namespace remit::codec
