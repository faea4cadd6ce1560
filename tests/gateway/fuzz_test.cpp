// Random malformed frames after AUTH, by category (a bad header field, a bad checksum, bad
// sizes, random bytes), each answered as docs/PROTOCOL.md section 2 orders the checks: the status,
// the echoed opcode and request_id (or 0), and the close or the session going on. The
// expected answer comes from an oracle written from the protocol text, not from the codec's
// checks. Meanwhile another session on the same server makes transfers, which must all
// succeed, and money is conserved at the end.
//
// A frame whose status closes needs a new session (connect, HELLO, AUTH) for the next one,
// so the categories that close often cost most.
#include <map>
#include <sstream>

#include "tests/gateway/gateway_test_support.hpp"

namespace remit::gateway_test {
namespace {

constexpr std::uint32_t event_count_max = 100;
constexpr std::uint32_t body_size_max = 128 * event_count_max;
constexpr int frames_per_category = 10000;
constexpr std::uint32_t healthy_ledger = 777;

gateway::server_config fuzz_config() {
  auto c = server_defaults();
  c.event_count_max = event_count_max;
  c.body_size_max = body_size_max;
  return c;
}

// ---- the oracle --------------------------------------------------------------------------

struct expectation {
  status st = status::ok;
  bool closes = false;
  bool zero_id = false;        // opcode and request_id 0 in the answer
  bool uses_sequence = false;  // the request passed the sequence check
};

std::uint32_t event_size_of(std::uint16_t op) {
  switch (op) {
    case 16:
      return 128;  // Account
    case 17:
      return 128;  // Transfer
    case 18:
      return 16;  // u128 id
    case 19:
      return 16;
    case 20:
      return 64;  // AccountFilter
    case 21:
      return 96;  // AccountControls
    case 22:
      return 16;  // stats request
    default:
      return 0;
  }
}

// Section 2's checks in order, for a session with key permissions 7 (all) that expects
// `sequence` next. `bytes` is the frame as sent (for a frame whose header fails in step 1,
// possibly the header alone).
expectation oracle(std::span<const std::byte> bytes, std::uint64_t sequence, bool mac,
                   const codec::mac_key& c2s) {
  const auto u16 = [&](std::size_t at) {
    std::uint16_t v;
    std::memcpy(&v, bytes.data() + at, 2);
    return v;
  };
  const auto u32 = [&](std::size_t at) {
    std::uint32_t v;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  const auto u64 = [&](std::size_t at) {
    std::uint64_t v;
    std::memcpy(&v, bytes.data() + at, 8);
    return v;
  };
  // Step 1: the header alone; each closes.
  if (std::memcmp(bytes.data(), "RMTP", 4) != 0) return {status::bad_magic, true, true};
  if (u16(4) != 1) return {status::unsupported_version, true, true};
  if (crc32c(bytes.data(), 60) != u32(60)) return {status::header_checksum, true, true};
  const std::uint32_t body_size = u32(8);
  if (body_size > body_size_max) return {status::body_too_large, true, false};
  EXPECT_EQ(bytes.size(), codec::header_size + body_size) << "test bug: the body is not all sent";
  const auto body = bytes.subspan(codec::header_size, body_size);
  // Step 2: sequence, MAC; each closes.
  if (u64(24) != sequence) return {status::bad_sequence, true, false};
  std::array<std::uint8_t, 16> mac_sent;
  std::memcpy(mac_sent.data(), bytes.data() + 40, 16);
  if (mac) {
    std::array<std::byte, 64> header;
    std::memcpy(header.data(), bytes.data(), 64);
    std::memset(header.data() + 40, 0, 16);
    std::memset(header.data() + 60, 0, 4);
    if (c2s.compute(header, body) != mac_sent) return {status::bad_mac, true, false, true};
  } else if (!bytes_zero(mac_sent.data(), mac_sent.size())) {
    return {status::bad_mac, true, false, true};
  }
  // Step 3: the session goes on.
  const std::uint32_t body_crc = body.empty() ? 0 : crc32c(body.data(), body.size());
  if (body_crc != u32(36)) return {status::body_checksum, false, false, true};
  if (u16(34) != 0 || u32(56) != 0) return {status::reserved_field, false, false, true};
  const std::uint16_t op = u16(6);
  const std::uint32_t count = u32(12);
  // Opcodes 64 to 127 need permission 8, which key 7 lacks (section 9).
  if (op >= 64 && op <= 127) return {status::permission_denied, false, false, true};
  const bool known = op == 3 || (op >= 16 && op <= 22);
  if (!known) return {status::unknown_opcode, false, false, true};
  const expectation bad_count{status::bad_event_count, false, false, true};
  const expectation reserved{status::reserved_field, false, false, true};
  const expectation ok{status::ok, false, false, true};
  if (op == 3) return count == 0 && body.size() <= 64 ? ok : bad_count;
  const std::uint32_t size = event_size_of(op);
  if (op == 20 || op == 22) {
    if (count != 1 || body.size() != size) return bad_count;
    if (op == 22) {
      for (std::size_t i = 4; i < 16; ++i)
        if (body[i] != std::byte{0}) return reserved;
      return ok;
    }
    account_filter f;
    std::memcpy(&f, body.data(), sizeof f);
    if (f.limit == 0 || f.limit > event_count_max) return bad_count;
    if ((f.flags & 3u) == 0) return bad_count;
    if ((f.flags & ~7u) != 0) return reserved;
    if (!bytes_zero(f.reserved, sizeof f.reserved)) return reserved;
    return ok;
  }
  if (count == 0 || count > event_count_max || body.size() != std::size_t{count} * size)
    return bad_count;
  return ok;
}

// ---- frame generators ---------------------------------------------------------------------

using rng_t = std::mt19937_64;

std::uint64_t pick(rng_t& rng, std::uint64_t n) {
  return rng() % n;
}

std::vector<std::byte> random_bytes(rng_t& rng, std::size_t n) {
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

u128 random_id(rng_t& rng) {
  return make_u128(rng() | 1, rng());
}

constexpr opcode known_ops[] = {opcode::ping,
                                opcode::create_accounts,
                                opcode::create_transfers,
                                opcode::lookup_accounts,
                                opcode::lookup_transfers,
                                opcode::get_account_transfers,
                                opcode::set_account_controls,
                                opcode::get_ledger_stats};

// A valid request body for `op` (events on ledger 1, ids random: nothing the healthy
// session uses).
std::vector<std::byte> valid_body(rng_t& rng, opcode op, std::uint32_t& count) {
  count = 1 + static_cast<std::uint32_t>(pick(rng, 3));
  switch (op) {
    case opcode::ping:
      count = 0;
      return random_bytes(rng, pick(rng, 65));
    case opcode::create_accounts: {
      std::vector<account> a;
      for (std::uint32_t i = 0; i < count; ++i) a.push_back(make_account(random_id(rng), 1));
      return bytes_of(a);
    }
    case opcode::create_transfers: {
      std::vector<transfer> t;
      for (std::uint32_t i = 0; i < count; ++i)
        t.push_back(
            make_transfer(random_id(rng), random_id(rng), random_id(rng), 1 + pick(rng, 9)));
      return bytes_of(t);
    }
    case opcode::lookup_accounts:
    case opcode::lookup_transfers: {
      std::vector<u128> ids;
      for (std::uint32_t i = 0; i < count; ++i) ids.push_back(random_id(rng));
      return bytes_of(ids);
    }
    case opcode::get_account_transfers:
      count = 1;
      return bytes_of_one(make_filter(random_id(rng), 1 + static_cast<std::uint32_t>(pick(rng, 7)),
                                      1 + static_cast<std::uint32_t>(pick(rng, event_count_max))));
    case opcode::set_account_controls: {
      std::vector<account_controls> c(count);
      for (auto& x : c) x.account_id = random_id(rng);
      return bytes_of(c);
    }
    case opcode::get_ledger_stats:
      count = 1;
      return stats_request(1);
    default:
      return {};
  }
}

frame_builder valid_request(rng_t& rng, raw_client& c) {
  const opcode op = known_ops[pick(rng, std::size(known_ops))];
  std::uint32_t count = 0;
  auto body = valid_body(rng, op, count);
  return c.request(op, std::move(body), count, rng() | 1);
}

// What a generator makes: the bytes to send, and a word on how they were made.
struct fuzz_frame {
  std::vector<std::byte> bytes;
  std::string how;
};

// One header field set wrong, everything else (checksums, MAC) right.
fuzz_frame bad_header_field(rng_t& rng, raw_client& c) {
  frame_builder b = valid_request(rng, c);
  std::string how;
  switch (pick(rng, 8)) {
    case 0:
      how = "magic";
      do {
        for (auto& x : b.h.magic) x = static_cast<std::byte>(rng());
      } while (b.h.magic == codec::magic);
      if (pick(rng, 2)) b.h.magic[pick(rng, 4)] = std::byte{'R'};
      break;
    case 1:
      how = "version";
      do b.h.version = static_cast<std::uint16_t>(pick(rng, 2) ? pick(rng, 4) : rng());
      while (b.h.version == 1);
      break;
    case 2:
      how = "opcode";
      b.h.opcode = static_cast<std::uint16_t>(pick(rng, 2) ? pick(rng, 32) : rng());
      break;
    case 3:
      how = "event_count";
      b.h.event_count =
          static_cast<std::uint32_t>(pick(rng, 2) ? pick(rng, event_count_max + 3) : rng());
      break;
    case 4:
      how = "sequence";
      b.h.sequence = pick(rng, 3) == 0 ? 0 : b.h.sequence + 1 + pick(rng, 1000);
      if (pick(rng, 4) == 0 && b.h.sequence > 2) b.h.sequence -= 2;
      break;
    case 5:
      how = "flags";
      b.h.flags = static_cast<std::uint16_t>(1 + pick(rng, 0xFFFF));
      break;
    case 6:
      how = "reserved";
      b.h.reserved = static_cast<std::uint32_t>(1 + pick(rng, 0xFFFFFFFEu));
      break;
    default:
      how = "mac";
      b.auto_mac = false;
      for (auto& x : b.h.mac) x = static_cast<std::uint8_t>(rng());
      break;
  }
  return {b.bytes(c.c2s()), how};
}

// A checksum wrong: the header's, the body's, or a bit flipped anywhere.
fuzz_frame bad_checksum(rng_t& rng, raw_client& c) {
  frame_builder b = valid_request(rng, c);
  switch (pick(rng, 4)) {
    case 0: {
      auto bytes = b.bytes(c.c2s());
      std::uint32_t crc;
      std::memcpy(&crc, bytes.data() + 60, 4);
      crc ^= static_cast<std::uint32_t>(1 + pick(rng, 0xFFFFFFFEu));
      std::memcpy(bytes.data() + 60, &crc, 4);
      return {bytes, "header crc"};
    }
    case 1: {
      // The body crc wrong, MAC and header crc computed over the wrong value.
      b.auto_body_crc = false;
      b.h.body_crc32c = (b.body.empty() ? 0 : crc32c(b.body.data(), b.body.size())) ^
                        static_cast<std::uint32_t>(1 + pick(rng, 0xFFFFFFFEu));
      return {b.bytes(c.c2s()), "body crc"};
    }
    case 2: {
      auto bytes = b.bytes(c.c2s());
      const std::size_t bit = pick(rng, bytes.size() * 8);
      bytes[bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      return {bytes, "bit " + std::to_string(bit)};
    }
    default: {
      // A body bit flipped, the header crc fixed up: the body crc (and the MAC) disagree.
      if (b.body.empty()) b = c.request(opcode::ping, random_bytes(rng, 1 + pick(rng, 64)), 0);
      auto bytes = b.bytes(c.c2s());
      const std::size_t bit = pick(rng, b.body.size() * 8);
      bytes[codec::header_size + bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
      const std::uint32_t crc = crc32c(bytes.data(), 60);
      std::memcpy(bytes.data() + 60, &crc, 4);
      return {bytes, "body bit, header crc fixed"};
    }
  }
}

// body_size and event_count in any combination, every other field right.
fuzz_frame bad_sizes(rng_t& rng, raw_client& c) {
  const std::uint16_t ops[] = {1, 2, 3, 16, 17, 18, 19, 20, 21, 22};
  const std::uint16_t op = ops[pick(rng, std::size(ops))];
  const std::uint32_t size = std::max<std::uint32_t>(event_size_of(op), 1);
  std::uint32_t count = 0;
  switch (pick(rng, 7)) {
    case 0:
      count = 0;
      break;
    case 1:
      count = 1;
      break;
    case 2:
      count = 2 + static_cast<std::uint32_t>(pick(rng, 10));
      break;
    case 3:
      count = event_count_max;
      break;
    case 4:
      count = event_count_max + 1;
      break;
    case 5:
      count = static_cast<std::uint32_t>(rng());
      break;
    default:
      count = static_cast<std::uint32_t>(pick(rng, event_count_max + 2));
      break;
  }
  std::uint64_t body = 0;
  bool header_only = false;
  switch (pick(rng, 8)) {
    case 0:
      body = 0;
      break;
    case 1:
      body = std::uint64_t{count} * size;
      break;
    case 2:
      body = std::uint64_t{count} * size + 1;
      break;
    case 3:
      body = std::uint64_t{count} * size - 1;
      break;
    case 4:
      body = pick(rng, 2000);
      break;
    case 5:
      body = body_size_max;
      break;
    case 6:
      body = body_size_max + 1 + pick(rng, 1000);
      header_only = true;
      break;
    default:
      body = 0xFFFFFFFFu - pick(rng, 100);
      header_only = true;
      break;
  }
  if (body > body_size_max && !header_only) body = pick(rng, body_size_max + 1);
  std::vector<std::byte> bytes_body;
  if (!header_only) {
    // Valid events where they fit (zero bytes otherwise), so a matching size may pass.
    bytes_body.resize(body);
    if (op == 20) {
      const auto f = bytes_of_one(make_filter(1, 3, 10));
      for (std::size_t i = 0; i < bytes_body.size(); ++i) bytes_body[i] = f[i % f.size()];
    }
  }
  frame_builder b = c.request(op, std::move(bytes_body), count, rng() | 1);
  if (header_only) {
    b.auto_body_size = false;
    b.h.body_size = static_cast<std::uint32_t>(body);
    b.auto_mac = false;  // no body to MAC; the server must not get that far
  }
  auto bytes = b.bytes(c.c2s());
  if (header_only) bytes.resize(codec::header_size);
  return {bytes, "op " + std::to_string(op) + " count " + std::to_string(count) + " body " +
                     std::to_string(body)};
}

// Random header bytes, progressively less random: nothing fixed; the magic; magic and
// version; magic, version and a header crc that matches (and then a body as long as the
// header says).
fuzz_frame random_frame(rng_t& rng, raw_client& c) {
  const auto level = pick(rng, 4);
  std::vector<std::byte> bytes = random_bytes(rng, codec::header_size);
  if (level == 0) {
    auto tail = random_bytes(rng, pick(rng, 100));
    bytes.insert(bytes.end(), tail.begin(), tail.end());
    return {bytes, "random"};
  }
  std::memcpy(bytes.data(), "RMTP", 4);
  if (level == 1) return {bytes, "random after magic"};
  const std::uint16_t version = 1;
  std::memcpy(bytes.data() + 4, &version, 2);
  if (level == 2) return {bytes, "random after magic and version"};
  codec::frame_header h = codec::read_header(bytes.data());
  h.status = 0;
  if (pick(rng, 2)) h.opcode = op_of(known_ops[pick(rng, std::size(known_ops))]);
  if (pick(rng, 2)) h.event_count = static_cast<std::uint32_t>(pick(rng, 5));
  if (pick(rng, 2)) h.flags = 0;
  if (pick(rng, 2)) h.reserved = 0;
  if (pick(rng, 2)) h.sequence = c.next_sequence();
  if (pick(rng, 8)) h.body_size = static_cast<std::uint32_t>(pick(rng, 300));
  std::vector<std::byte> body;
  if (h.body_size <= body_size_max) body = random_bytes(rng, h.body_size);
  if (pick(rng, 2)) h.body_crc32c = body.empty() ? 0 : crc32c(body.data(), body.size());
  if (!c.mac() && pick(rng, 2)) h.mac = {};
  if (c.mac() && pick(rng, 2)) {
    h.mac = {};
    h.header_crc32c = 0;
    std::memcpy(bytes.data(), &h, sizeof h);
    h.mac = c.session_keys().c2s.compute(std::span(bytes).first(codec::header_size), body);
  }
  h.header_crc32c = codec::header_crc(h);
  std::memcpy(bytes.data(), &h, sizeof h);
  bytes.insert(bytes.end(), body.begin(), body.end());
  return {bytes, "random with a valid header crc"};
}

// ---- the session that must not notice ----------------------------------------------------

class healthy_session {
 public:
  explicit healthy_session(harness& h) : h_(h), thread_([this] { run(); }) {}
  ~healthy_session() { stop(); }
  healthy_session(const healthy_session&) = delete;
  healthy_session& operator=(const healthy_session&) = delete;

  void stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }

  // After stop(): every transfer ok, the balances and the ledger's stats say the same.
  void check() {
    EXPECT_EQ(failures_, 0u) << first_failure_;
    EXPECT_GT(transfers_, 10u) << "the healthy session hardly ran";
    auto c = h_.session(keys().read, false);
    ASSERT_TRUE(c);
    const auto a =
        c->call_ok<account>(opcode::lookup_accounts, bytes_of(std::vector<u128>{a_, b_}), 2);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].debits_posted, amount_);
    EXPECT_EQ(a[1].credits_posted, amount_);
    EXPECT_EQ(a[0].debits_posted + a[1].debits_posted, a[0].credits_posted + a[1].credits_posted)
        << "money is not conserved";
    EXPECT_EQ(a[0].debits_pending + a[1].debits_pending, 0u);
    const auto s =
        c->call_ok<ledger_stats>(opcode::get_ledger_stats, stats_request(healthy_ledger), 1);
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].accounts, 2u);
    EXPECT_EQ(s[0].transfers_posted, transfers_);
    EXPECT_EQ(s[0].volume_posted, amount_);
  }

  std::uint64_t transfers() const { return transfers_; }

 private:
  void run() {
    // gtest assertions from this thread are fine, but failures are collected instead, so a
    // broken server reports once rather than per transfer.
    auto c = h_.session(keys().all, true);
    if (!c) {
      ++failures_;
      first_failure_ = "no session";
      return;
    }
    create_accounts_ok(*c, {make_account(a_, healthy_ledger), make_account(b_, healthy_ledger)});
    for (std::uint64_t i = 1; !stop_.load(); ++i) {
      const u128 amount = 1 + i % 5;
      auto f = c->call(
          opcode::create_transfers,
          bytes_of_one(make_transfer(make_u128(0xBEEF, i), a_, b_, amount, 0, healthy_ledger)), 1);
      if (!f || f->st() != status::ok || f->body.size() != sizeof(result) ||
          f->events<result>()[0].status != 0) {
        if (failures_++ == 0)
          first_failure_ = f ? std::string(codec::name(f->st())) : std::string("no answer");
        return;
      }
      ++transfers_;
      amount_ += amount;
    }
  }

  harness& h_;
  const u128 a_ = make_u128(0xBEEF, 1);
  const u128 b_ = make_u128(0xBEEF, 2);
  std::atomic<bool> stop_{false};
  std::uint64_t transfers_ = 0;
  u128 amount_ = 0;
  std::uint64_t failures_ = 0;
  std::string first_failure_;
  std::thread thread_;
};

// ---- the run ---------------------------------------------------------------------------

using generator = fuzz_frame (*)(rng_t&, raw_client&);

void run_category(generator gen, std::uint64_t seed, int frames) {
  harness h(fuzz_config());
  healthy_session healthy(h);
  rng_t rng(seed);
  std::unique_ptr<raw_client> c;
  std::map<std::string, int> seen;
  int mismatches = 0;
  std::ostringstream first;
  int sessions = 0;
  const auto start = steady::now();
  for (int i = 0; i < frames; ++i) {
    if (!c) {
      c = h.session(keys().all, pick(rng, 2) == 1);
      ASSERT_TRUE(c) << "no session for frame " << i;
      ++sessions;
    }
    const fuzz_frame f = gen(rng, *c);
    const auto e = oracle(f.bytes, c->next_sequence(), c->mac(), c->session_keys().c2s);
    codec::frame_header sent{};
    std::memcpy(&sent, f.bytes.data(), sizeof sent);
    ASSERT_TRUE(c->write(f.bytes)) << "frame " << i << ": the connection is gone";
    auto r = c->read_frame();
    std::string wrong;
    if (!r) {
      wrong = "no answer";
    } else {
      if (r->st() != e.st) {
        wrong = "answered " + std::string(codec::name(r->st())) + ", expected " +
                std::string(codec::name(e.st));
      } else if (e.zero_id ? (r->h.opcode != 0 || r->h.request_id != 0)
                           : (r->h.opcode != sent.opcode || r->h.request_id != sent.request_id)) {
        wrong = "opcode/request_id not as section 3 says";
      } else if (e.closes && !c->closed(ms(3000))) {
        wrong = "not closed after " + std::string(codec::name(e.st));
      }
      ++seen[std::string(codec::name(r->st()))];
    }
    if (!wrong.empty()) {
      if (mismatches++ < 10)
        first << "\n  frame " << i << " (" << f.how << ", " << (c->mac() ? "mac" : "no mac")
              << "): " << wrong;
      c.reset();
      continue;
    }
    if (e.closes) {
      c.reset();
    } else if (e.uses_sequence) {
      c->advance_sequence();
    }
  }
  // The last session still works.
  if (c) {
    EXPECT_TRUE(c->ping_ok());
  }
  const auto took = std::chrono::duration_cast<ms>(steady::now() - start).count();
  healthy.stop();
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << frames
                           << " frames answered wrongly:" << first.str();
  healthy.check();
  std::ostringstream summary;
  summary << frames << " frames over " << sessions << " sessions in " << took << " ms; "
          << healthy.transfers() << " healthy transfers; answers:";
  for (const auto& [name, n] : seen) summary << " " << name << "=" << n;
  ::testing::Test::RecordProperty("summary", summary.str());
  std::printf("[ fuzz     ] %s\n", summary.str().c_str());
}

TEST(fuzz, bad_header_field) {
  run_category(bad_header_field, 1, frames_per_category);
}
TEST(fuzz, bad_checksum) {
  run_category(bad_checksum, 2, frames_per_category);
}
TEST(fuzz, bad_sizes) {
  run_category(bad_sizes, 3, frames_per_category);
}
TEST(fuzz, random_bytes) {
  run_category(random_frame, 4, frames_per_category);
}

}  // namespace
}  // namespace remit::gateway_test
