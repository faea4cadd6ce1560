// Writes the seed corpus of node_messages_fuzz into a directory: one valid body of every
// node message of docs/CLUSTER.md ("Node-to-node messages"), each request and answer, and
// GROUPs of several sizes. Each file starts with node_messages_fuzz's control byte. Nothing
// is downloaded: the bodies come from the encoders and the builders of the node tests.
//
//   make_node_corpus DIR
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/cluster/node_frames.hpp"

namespace remit::cluster {
namespace {

using test::bytes;

// node_messages_fuzz's control byte: opcode - 64 in bits 0-2, answer in bit 3, reseal in
// bit 4, variant in bits 5-7.
std::uint8_t control(node_opcode op, bool answer, std::uint32_t variant = 0) {
  return static_cast<std::uint8_t>((static_cast<unsigned>(op) - node_opcode_first) |
                                   (answer ? 8u : 0u) | 0x10u | ((variant & 7u) << 5));
}

class corpus {
 public:
  explicit corpus(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Writes the control byte and the body of the frame at the front of `frame`.
  void write(const std::string& name, std::uint8_t control_byte, const bytes& frame) {
    const auto body = test::body_at(frame);
    std::ofstream out(dir_ / name, std::ios::binary | std::ios::trunc);
    out.put(static_cast<char>(control_byte));
    out.write(reinterpret_cast<const char*>(body.data()),
              static_cast<std::streamsize>(body.size()));
    if (!out) {
      std::fprintf(stderr, "make_node_corpus: cannot write %s\n", (dir_ / name).c_str());
      std::exit(1);
    }
    ++written_;
  }
  int written() const { return written_; }

 private:
  std::filesystem::path dir_;
  int written_ = 0;
};

}  // namespace
}  // namespace remit::cluster

int main(int argc, char** argv) {
  using namespace remit::cluster;
  using remit::codec::node_role;
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_node_corpus DIR\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  corpus c(dir);
  const frame_ids ids{1, 1, nullptr};
  const auto one = [&](const std::string& name, std::uint8_t control_byte, auto&& build) {
    test::bytes f;
    build(f);
    c.write(name, control_byte, f);
  };
  // FOLLOW: caught up, behind, diverged, empty; each variant picks another journal start.
  const follow follows[] = {make_follow("node-b", 4, 100, 4, 81), make_follow("b", 3, 60, 3, 51),
                            make_follow("node.c", 3, 85, 3, 51), make_follow("a_1", 2, 25, 2, 21),
                            make_follow("z", 0, 0, 0, 0)};
  for (std::uint32_t i = 0; i < std::size(follows); ++i)
    one("follow-" + std::to_string(i), control(node_opcode::follow, false, i),
        [&](test::bytes& f) { encode(f, ids, follows[i]); });
  one("follow-reply", control(node_opcode::follow, true),
      [&](test::bytes& f) { encode(f, ids, test::accepted(4, 101, 100)); });
  // GROUP: one record, a few, one group's piece; each with a piece size from the variant.
  for (const std::uint32_t count : {1u, 3u, 8u}) {
    const test::bytes records = test::journal_group(10, count, 10);
    for (std::uint32_t variant : {0u, 2u, 5u})
      one("group-" + std::to_string(count) + "-" + std::to_string(variant),
          control(node_opcode::group, false, variant),
          [&](test::bytes& f) { encode(f, ids, test::group_for(2, 10, count, 10), records); });
  }
  const test::bytes piece = test::journal_group(12, 2, 10);
  one("group-piece", control(node_opcode::group, false, 1), [&](test::bytes& f) {
    encode(f, ids, test::group_for(2, 12, 2, 10, group_flags::continued), piece);
  });
  for (const node_opcode op : {node_opcode::group, node_opcode::snapshot_begin,
                               node_opcode::snapshot_chunk, node_opcode::snapshot_end})
    one("ack-" + std::string(name(op)), control(op, true),
        [&](test::bytes& f) { encode(f, ids, test::make_ack(node_reason::ok, 2, 77), op); });
  const test::bytes file(300, std::byte{0x42});
  const snapshot_begin b = test::make_begin(2, 40, file);
  one("snapshot-begin", control(node_opcode::snapshot_begin, false),
      [&](test::bytes& f) { encode(f, ids, b); });
  one("snapshot-chunk", control(node_opcode::snapshot_chunk, false),
      [&](test::bytes& f) { encode(f, ids, test::make_chunk(2, 40, 100), file); });
  one("snapshot-end", control(node_opcode::snapshot_end, false),
      [&](test::bytes& f) { encode(f, ids, test::end_of(b)); });
  for (const bool answer : {false, true})
    one(answer ? "heartbeat-answer" : "heartbeat", control(node_opcode::heartbeat, answer),
        [&](test::bytes& f) {
          encode(f, ids, test::make_heartbeat(2, 90, node_role::standby, 1'000, answer ? 999 : 0),
                 answer);
        });
  std::printf("make_node_corpus: %d seeds in %s\n", c.written(), dir.c_str());
  return 0;
}
