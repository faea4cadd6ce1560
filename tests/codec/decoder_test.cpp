// frame_decoder: a frame comes out the same whatever the split of the bytes (every split
// point, byte by byte, several frames in one feed, the want()/commit() path), and a bad
// header (step 1 of docs/PROTOCOL.md section 2) is reported as soon as its 64 bytes are in,
// before any body byte is taken. check_header on its own, one row per status.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "gateway/codec/decoder.hpp"
#include "tests/codec/frames.hpp"

namespace remit::codec {

static void PrintTo(status s, std::ostream* os) {
  *os << static_cast<unsigned>(s) << " (" << name(s) << ")";
}

namespace {

using test::bytes;
using state = frame_decoder::state;

constexpr std::uint32_t body_max = 64 * 1024;

struct sample {
  std::string name;
  bytes frame;
};

// One sealed frame per opcode, with and without MAC, and the edge sizes of a body.
std::vector<sample> samples() {
  std::vector<sample> out;
  const mac_key key(digest{1, 2, 3});
  std::uint64_t sequence = 1;
  for (const opcode op : test::all_opcodes) {
    const frame_fields f{static_cast<std::uint16_t>(op),
                         test::valid_event_count(op),
                         1000 + sequence,
                         sequence,
                         0,
                         0};
    out.push_back({std::string(name(op)), test::seal(f, test::valid_body(op))});
    out.push_back({std::string(name(op)) + "_mac", test::seal(f, test::valid_body(op), &key)});
    ++sequence;
  }
  out.push_back({"empty_ping", test::seal({3, 0, 9, 9, 0, 0}, {})});
  const bytes big = test::valid_body(opcode::create_transfers, 40);
  out.push_back({"create_transfers_40", test::seal({17, 40, 10, 10, 0, 0}, big)});
  // A response frame (flag bit 0, a status) decodes too: the decoder checks only step 1.
  out.push_back({"error_response", test::seal({17, 0, 11, 11, 7, flag_response}, {})});
  return out;
}

void expect_frame(frame_decoder& d, const bytes& frame) {
  ASSERT_EQ(d.current(), state::frame);
  EXPECT_EQ(d.error(), status::ok);
  const frame_header expected = read_header(frame.data());
  EXPECT_EQ(std::memcmp(&d.header(), &expected, header_size), 0);
  EXPECT_EQ(d.header().body_size, frame.size() - header_size);
  ASSERT_EQ(d.body().size(), frame.size() - header_size);
  EXPECT_TRUE(std::equal(d.body().begin(), d.body().end(), frame.begin() + header_size));
  ASSERT_EQ(d.frame().size(), frame.size());
  EXPECT_TRUE(std::equal(d.frame().begin(), d.frame().end(), frame.begin()));
  EXPECT_TRUE(d.want().empty());
}

std::span<const std::byte> slice(const bytes& b, std::size_t from, std::size_t to) {
  return std::span<const std::byte>(b).subspan(from, to - from);
}

TEST(decoder, every_split_point_gives_the_same_frame) {
  for (const auto& s : samples()) {
    SCOPED_TRACE(s.name);
    for (std::size_t cut = 0; cut <= s.frame.size(); ++cut) {
      SCOPED_TRACE("cut at " + std::to_string(cut));
      frame_decoder d(body_max);
      EXPECT_EQ(d.feed(slice(s.frame, 0, cut)), cut);
      if (cut < s.frame.size()) {
        EXPECT_EQ(d.current(), state::need_more);
        EXPECT_EQ(d.feed(slice(s.frame, cut, s.frame.size())), s.frame.size() - cut);
      }
      expect_frame(d, s.frame);
    }
  }
}

TEST(decoder, every_pair_of_split_points_gives_the_same_frame) {
  const bytes frame = test::seal({18, 2, 5, 5, 0, 0}, test::valid_body(opcode::lookup_accounts));
  for (std::size_t a = 0; a <= frame.size(); ++a)
    for (std::size_t b = a; b <= frame.size(); ++b) {
      frame_decoder d(body_max);
      ASSERT_EQ(d.feed(slice(frame, 0, a)), a);
      ASSERT_EQ(d.feed(slice(frame, a, b)), b - a);
      ASSERT_EQ(d.feed(slice(frame, b, frame.size())), frame.size() - b);
      expect_frame(d, frame);
    }
}

TEST(decoder, byte_by_byte) {
  for (const auto& s : samples()) {
    SCOPED_TRACE(s.name);
    frame_decoder d(body_max);
    for (std::size_t i = 0; i < s.frame.size(); ++i) {
      ASSERT_EQ(d.current(), state::need_more) << "at byte " << i;
      ASSERT_EQ(d.feed(slice(s.frame, i, i + 1)), 1u);
    }
    expect_frame(d, s.frame);
    // A decoder holding a frame takes nothing more until next().
    EXPECT_EQ(d.feed(slice(s.frame, 0, 1)), 0u);
  }
}

// Feeds `stream` in chunks of the sizes `chunk(i)` and returns the frames, in order.
std::vector<bytes> decode_all(const bytes& stream,
                              const std::function<std::size_t(std::size_t)>& chunk, bool use_want) {
  frame_decoder d(body_max);
  std::vector<bytes> out;
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < stream.size(); ++i) {
    const std::size_t n = std::min(chunk(i), stream.size() - pos);
    std::size_t taken = 0;
    while (taken < n) {
      if (use_want) {
        const auto dst = d.want();
        EXPECT_FALSE(dst.empty());
        const std::size_t k = std::min(dst.size(), n - taken);
        std::memcpy(dst.data(), stream.data() + pos + taken, k);
        d.commit(k);
        taken += k;
      } else {
        taken += d.feed(slice(stream, pos + taken, pos + n));
      }
      EXPECT_NE(d.current(), state::header_error);
      if (d.current() == state::frame) {
        out.emplace_back(d.frame().begin(), d.frame().end());
        d.next();
      }
    }
    pos += n;
  }
  EXPECT_EQ(d.current(), state::need_more);
  EXPECT_EQ(d.want().size(), header_size);  // nothing left over
  return out;
}

TEST(decoder, frames_back_to_back_in_any_chunking) {
  bytes stream;
  std::vector<bytes> expected;
  for (const auto& s : samples()) {
    stream.insert(stream.end(), s.frame.begin(), s.frame.end());
    expected.push_back(s.frame);
  }
  const std::size_t whole = stream.size();
  struct chunking {
    const char* name;
    std::function<std::size_t(std::size_t)> size;
  };
  const chunking chunkings[] = {
      {"whole", [whole](std::size_t) { return whole; }},
      {"1", [](std::size_t) { return std::size_t{1}; }},
      {"7", [](std::size_t) { return std::size_t{7}; }},
      {"63", [](std::size_t) { return std::size_t{63}; }},
      {"65", [](std::size_t) { return std::size_t{65}; }},
      {"1..97", [](std::size_t i) { return 1 + (i * 37) % 97; }},
      {"4096", [](std::size_t) { return std::size_t{4096}; }},
  };
  for (const auto& c : chunkings)
    for (const bool use_want : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (use_want ? " want/commit" : " feed"));
      EXPECT_EQ(decode_all(stream, c.size, use_want), expected);
    }
}

TEST(decoder, feed_stops_at_the_end_of_a_frame) {
  const bytes a = test::seal({3, 0, 1, 1, 0, 0}, test::valid_body(opcode::ping));
  const bytes b = test::seal({22, 1, 2, 2, 0, 0}, test::valid_body(opcode::get_ledger_stats));
  bytes stream = a;
  stream.insert(stream.end(), b.begin(), b.end());
  frame_decoder d(body_max);
  EXPECT_EQ(d.feed(stream), a.size());
  expect_frame(d, a);
  d.next();
  EXPECT_EQ(d.feed(slice(stream, a.size(), stream.size())), b.size());
  expect_frame(d, b);
}

TEST(decoder, want_is_the_rest_of_the_header_then_the_rest_of_the_body) {
  const bytes frame =
      test::seal({17, 3, 1, 1, 0, 0}, test::valid_body(opcode::create_transfers, 3));
  frame_decoder d(body_max);
  EXPECT_EQ(d.want().size(), header_size);
  std::memcpy(d.want().data(), frame.data(), 10);
  d.commit(10);
  EXPECT_EQ(d.want().size(), header_size - 10);
  std::memcpy(d.want().data(), frame.data() + 10, header_size - 10);
  d.commit(header_size - 10);
  ASSERT_EQ(d.current(), state::need_more);
  EXPECT_EQ(d.want().size(), 3 * sizeof(transfer));
  std::memcpy(d.want().data(), frame.data() + header_size, 100);
  d.commit(100);
  EXPECT_EQ(d.want().size(), 3 * sizeof(transfer) - 100);
  const auto rest = d.want();
  std::memcpy(rest.data(), frame.data() + header_size + 100, rest.size());
  d.commit(rest.size());
  expect_frame(d, frame);
}

TEST(decoder, reuses_its_buffer_for_frames_of_any_size) {
  const bytes big =
      test::seal({17, 50, 1, 1, 0, 0}, test::valid_body(opcode::create_transfers, 50));
  const bytes small = test::seal({3, 0, 2, 2, 0, 0}, {});
  const bytes mid = test::seal({16, 3, 3, 3, 0, 0}, test::valid_body(opcode::create_accounts, 3));
  frame_decoder d(body_max);
  for (const bytes* f : {&small, &big, &small, &mid, &big, &small}) {
    EXPECT_EQ(d.feed(*f), f->size());
    expect_frame(d, *f);
    d.next();
  }
}

TEST(decoder, body_of_exactly_body_size_max_is_read) {
  const bytes body(body_max, std::byte{7});
  const bytes frame = test::seal({3, 0, 1, 1, 0, 0}, body);
  frame_decoder d(body_max);
  EXPECT_EQ(d.feed(frame), frame.size());
  expect_frame(d, frame);
}

// ---------------------------------------------------------------------------------------
// Step 1: the header alone.

struct header_row {
  const char* name;
  std::function<void(frame_header&)> edit;
  bool reseal;  // recompute header_crc32c after the edit
  status expected;
};

const frame_header& base_header() {
  static const frame_header h = [] {
    const bytes f = test::seal({17, 2, 1, 1, 0, 0}, test::valid_body(opcode::create_transfers));
    return read_header(f.data());
  }();
  return h;
}

const header_row header_rows[] = {
    {"valid", [](frame_header&) {}, true, status::ok},
    {"magic_byte_0", [](frame_header& h) { h.magic[0] = std::byte{'X'}; }, true, status::bad_magic},
    {"magic_byte_3", [](frame_header& h) { h.magic[3] = std::byte{'p'}; }, true, status::bad_magic},
    {"magic_zero", [](frame_header& h) { h.magic = {}; }, true, status::bad_magic},
    {"version_0", [](frame_header& h) { h.version = 0; }, true, status::unsupported_version},
    {"version_2", [](frame_header& h) { h.version = 2; }, true, status::unsupported_version},
    {"version_256", [](frame_header& h) { h.version = 256; }, true, status::unsupported_version},
    {"crc_off_by_one", [](frame_header& h) { h.header_crc32c += 1; }, false,
     status::header_checksum},
    {"field_changed_after_crc", [](frame_header& h) { h.request_id ^= 1; }, false,
     status::header_checksum},
    {"mac_changed_after_crc", [](frame_header& h) { h.mac[15] ^= 0x80; }, false,
     status::header_checksum},
    {"body_size_max", [](frame_header& h) { h.body_size = 1024; }, true, status::ok},
    {"body_size_max_plus_1", [](frame_header& h) { h.body_size = 1025; }, true,
     status::body_too_large},
    {"body_size_huge", [](frame_header& h) { h.body_size = 0xffffffff; }, true,
     status::body_too_large},
    // Two faults: the earlier check is reported.
    {"magic_and_version",
     [](frame_header& h) {
       h.magic[1] = std::byte{0};
       h.version = 9;
     },
     true, status::bad_magic},
    {"magic_and_crc", [](frame_header& h) { h.magic[1] = std::byte{0}; }, false, status::bad_magic},
    {"version_and_crc", [](frame_header& h) { h.version = 9; }, false, status::unsupported_version},
    {"crc_and_too_large", [](frame_header& h) { h.body_size = 5000; }, false,
     status::header_checksum},
};

TEST(check_header, one_row_per_status) {
  for (const auto& row : header_rows) {
    SCOPED_TRACE(row.name);
    frame_header h = base_header();
    row.edit(h);
    if (row.reseal) h.header_crc32c = header_crc(h);
    EXPECT_EQ(check_header(h, 1024, false), row.expected);
  }
}

TEST(check_header, pre_auth_takes_only_hello_and_auth_sizes) {
  for (std::uint32_t size = 0; size <= 300; ++size) {
    frame_header h = base_header();
    h.body_size = size;
    h.header_crc32c = header_crc(h);
    const status expected = size == 64 || size == 32 ? status::ok : status::bad_event_count;
    EXPECT_EQ(check_header(h, 1024, true), expected) << "body_size " << size;
  }
  for (const std::uint32_t size : {1u << 20, 0xffffffffu}) {
    frame_header h = base_header();
    h.body_size = size;
    h.header_crc32c = header_crc(h);
    EXPECT_EQ(check_header(h, 1u << 20, true), status::bad_event_count) << size;
  }
  // The earlier checks of step 1 still come first before AUTH.
  frame_header h = base_header();
  h.version = 3;
  h.body_size = 7;
  h.header_crc32c = header_crc(h);
  EXPECT_EQ(check_header(h, 1024, true), status::unsupported_version);
}

// The decoder reports a bad header once its 64 bytes are in and takes no body byte.
TEST(decoder, header_error_before_any_body_byte) {
  for (const auto& row : header_rows) {
    if (row.expected == status::ok) continue;
    SCOPED_TRACE(row.name);
    frame_header h = base_header();
    row.edit(h);
    if (row.reseal) h.header_crc32c = header_crc(h);
    bytes stream(header_size + 4096, std::byte{0xee});
    std::memcpy(stream.data(), &h, header_size);
    for (const bool split : {false, true}) {
      frame_decoder d(1024);
      if (split) {
        EXPECT_EQ(d.feed(slice(stream, 0, 63)), 63u);
        EXPECT_EQ(d.current(), state::need_more);
        EXPECT_EQ(d.feed(slice(stream, 63, stream.size())), 1u);
      } else {
        EXPECT_EQ(d.feed(stream), header_size);
      }
      ASSERT_EQ(d.current(), state::header_error);
      EXPECT_EQ(d.error(), row.expected);
      EXPECT_EQ(std::memcmp(&d.header(), &h, header_size), 0);
      EXPECT_TRUE(d.want().empty());
      EXPECT_EQ(d.feed(stream), 0u);
    }
  }
}

TEST(decoder, pre_auth_refuses_other_body_sizes_before_the_body) {
  for (const std::uint32_t size : {0u, 1u, 16u, 31u, 33u, 63u, 65u, 96u, 128u, 4096u}) {
    SCOPED_TRACE(size);
    const bytes frame = test::seal({1, 1, 0, 0, 0, 0}, bytes(size, std::byte{0}));
    frame_decoder d(body_max);
    d.set_pre_auth(true);
    EXPECT_EQ(d.feed(frame), header_size);
    ASSERT_EQ(d.current(), state::header_error);
    EXPECT_EQ(d.error(), status::bad_event_count);
  }
  for (const opcode op : {opcode::hello, opcode::auth}) {
    const bytes frame =
        test::seal({static_cast<std::uint16_t>(op), 1, 0, 0, 0, 0}, test::valid_body(op));
    frame_decoder d(body_max);
    d.set_pre_auth(true);
    EXPECT_EQ(d.feed(frame), frame.size());
    expect_frame(d, frame);
  }
}

TEST(decoder, next_after_a_frame_starts_clean) {
  const bytes good = test::seal({3, 0, 1, 1, 0, 0}, test::valid_body(opcode::ping));
  frame_decoder d(body_max);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.feed(good), good.size());
    expect_frame(d, good);
    d.next();
    EXPECT_EQ(d.current(), state::need_more);
    EXPECT_EQ(d.want().size(), header_size);
  }
}

TEST(decoder, body_too_large_is_not_buffered) {
  // A header that claims 4 GiB is refused from its 64 bytes alone.
  frame_header h = base_header();
  h.body_size = 0xffffffff;
  h.header_crc32c = header_crc(h);
  bytes stream(header_size);
  std::memcpy(stream.data(), &h, header_size);
  frame_decoder d(body_max);
  EXPECT_EQ(d.feed(stream), header_size);
  ASSERT_EQ(d.current(), state::header_error);
  EXPECT_EQ(d.error(), status::body_too_large);
}

}  // namespace
}  // namespace remit::codec
