// Writes the seed corpus of decoder_fuzz into a directory: valid sealed frames for every
// opcode of docs/PROTOCOL.md section 3 (1, 2, 3, 16 to 22), with and without MAC, a whole session
// (HELLO, AUTH, then one request of each kind) and a few frames the checks refuse. Each file
// starts with decoder_fuzz's control byte. Nothing is downloaded: the frames come from
// seal_frame and the builders of the codec tests.
//
//   make_corpus DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/codec/frames.hpp"

namespace remit::codec {
namespace {

using test::bytes;

// decoder_fuzz's control byte: permissions in bits 0-2, pre-AUTH in bit 3, event_count_max
// selector in bits 4-5 (1: 4 events, 3: batch_events_max), chunk seed in bit 6, reseal in
// bit 7.
constexpr std::uint8_t control(std::uint32_t permissions, bool pre_auth, std::uint32_t variant,
                               std::uint32_t event_count_max_selector = 3) {
  return static_cast<std::uint8_t>(permissions | (pre_auth ? 8u : 0u) |
                                   ((event_count_max_selector & 3u) << 4) | ((variant & 3u) << 6));
}

class corpus {
 public:
  explicit corpus(std::filesystem::path dir) : dir_(std::move(dir)) {}

  void write(const std::string& name, std::uint8_t control_byte, const std::vector<bytes>& frames) {
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.put(static_cast<char>(control_byte));
    for (const auto& f : frames)
      out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
    if (!out) {
      std::fprintf(stderr, "make_corpus: cannot write %s\n", (dir_ / name).c_str());
      std::exit(1);
    }
    ++written_;
  }
  int written() const { return written_; }

 private:
  std::filesystem::path dir_;
  int written_ = 0;
};

bytes request(opcode op, std::uint64_t sequence, const mac_key* key, std::uint32_t n = 2) {
  const bool pre = op == opcode::hello || op == opcode::auth;
  return test::seal({static_cast<std::uint16_t>(op), test::valid_event_count(op, n), 100 + sequence,
                     pre ? 0 : sequence, 0, 0},
                    test::valid_body(op, n), pre ? nullptr : key);
}

std::string file_name(const char* prefix, opcode op) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%02u-%s", prefix, static_cast<unsigned>(op),
                std::string(name(op)).c_str());
  return buf;
}

}  // namespace
}  // namespace remit::codec

int main(int argc, char** argv) {
  using namespace remit::codec;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  corpus c(dir);
  const std::vector<std::uint8_t> secret(32, 0x5e);
  const std::vector<std::uint8_t> client_nonce(16, 0x01);
  const std::vector<std::uint8_t> server_nonce(16, 0x02);
  const session_keys keys = derive_session_keys(secret, client_nonce, server_nonce);

  // One valid frame per opcode, with every permission bit; HELLO and AUTH before AUTH.
  for (const opcode op : test::all_opcodes) {
    const bool pre = op == opcode::hello || op == opcode::auth;
    c.write(file_name("op", op), control(permission::all, pre, 0), {request(op, 1, nullptr)});
    if (!pre) {
      c.write(file_name("mac", op), control(permission::all, false, 1),
              {request(op, 1, &keys.c2s)});
      c.write(file_name("one", op), control(permission::read, false, 2),
              {request(op, 1, nullptr, 1)});
    }
  }
  // A whole session: HELLO, AUTH, then each request in turn with MAC.
  std::vector<test::bytes> session = {request(opcode::hello, 0, nullptr),
                                      request(opcode::auth, 0, nullptr)};
  std::uint64_t sequence = 1;
  for (const opcode op : test::request_opcodes)
    session.push_back(request(op, sequence++, &keys.c2s));
  c.write("session-mac", control(permission::all, true, 3), session);
  // Frames the checks refuse: a response, an unknown opcode, a bad event count, an empty
  // PING, a filter without a side.
  c.write("refused-response", control(permission::all, false, 2),
          {test::seal({17, 0, 1, 1, 17, flag_response}, {})});
  c.write("refused-opcode-4", control(permission::all, false, 2),
          {test::seal({4, 0, 1, 1, 0, 0}, {})});
  c.write("refused-count", control(permission::all, false, 2),
          {test::seal({18, 3, 1, 1, 0, 0}, test::valid_body(opcode::lookup_accounts, 2))});
  c.write("ping-empty", control(0, false, 1), {test::seal({3, 0, 1, 1, 0, 0}, {})});
  test::bytes filter = test::valid_body(opcode::get_account_transfers);
  filter[36] = std::byte{0x04};  // flags: reversed only
  c.write("refused-filter", control(permission::read, false, 2),
          {test::seal({20, 1, 1, 1, 0, 0}, filter)});
  // At the limits of section 3, each followed by another frame, so that one more byte or
  // event is a single mutation away: PING with 64 bytes, a batch of event_count_max (4)
  // ids, a filter with limit event_count_max.
  const test::bytes ping = test::seal({3, 0, 2, 2, 0, 0}, {});
  c.write("limit-ping-64", control(0, false, 2),
          {test::seal({3, 0, 1, 1, 0, 0}, test::bytes(ping_body_max, std::byte{0x70})), ping});
  const std::uint8_t event_count_max_4 = control(permission::read, false, 3, 1);
  c.write("limit-batch-4", event_count_max_4,
          {request(opcode::lookup_accounts, 1, nullptr, 4), ping});
  test::bytes limit_filter = test::valid_body(opcode::get_account_transfers);
  limit_filter[32] = std::byte{4};  // limit
  c.write("limit-filter-4", event_count_max_4,
          {test::seal({20, 1, 1, 1, 0, 0}, limit_filter), ping});
  std::printf("make_corpus: %d seeds in %s\n", c.written(), dir.c_str());
  return 0;
}
