#include "engine/journal_format.hpp"

#include <cstdio>
#include <cstring>

#include "engine/assert.hpp"
#include "engine/crc32c.hpp"

namespace remit::journal {

std::string_view name(record_type t) {
  switch (t) {
    case record_type::accounts_created:
      return "accounts_created";
    case record_type::transfers_committed:
      return "transfers_committed";
    case record_type::failures:
      return "failures";
    case record_type::pendings_expired:
      return "pendings_expired";
    case record_type::controls_set:
      return "controls_set";
    case record_type::term_started:
      return "term_started";
  }
  return "unknown";
}

namespace {
std::uint32_t record_crc(const record_header& h, std::span<const std::byte> payload) {
  record_header copy = h;
  copy.crc32c = 0;
  return crc32c(crc32c(&copy, sizeof copy), payload.data(), payload.size());
}
}  // namespace

void append_record(std::vector<std::byte>& out, record_type type, std::uint64_t lsn,
                   std::uint64_t group_lsn, std::span<const std::byte> payload) {
  REMIT_ASSERT(payload.size() <= record_payload_max);
  REMIT_ASSERT(payload.size() % entry_size(type) == 0);
  REMIT_ASSERT(lsn >= 1 && group_lsn >= 1 && group_lsn <= lsn);
  record_header h{record_magic,
                  static_cast<std::uint16_t>(type),
                  0,
                  static_cast<std::uint32_t>(payload.size()),
                  0,
                  lsn,
                  group_lsn};
  h.crc32c = record_crc(h, payload);
  const std::size_t at = out.size();
  out.resize(at + header_size + payload.size());
  std::memcpy(out.data() + at, &h, header_size);
  if (!payload.empty()) std::memcpy(out.data() + at + header_size, payload.data(), payload.size());
}

bool parse_record(std::span<const std::byte> data, std::uint64_t offset, record_view& out,
                  std::string* why) {
  const auto fail = [&](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (offset + header_size > data.size()) return fail("the header runs past the end");
  record_header h;
  std::memcpy(&h, data.data() + offset, header_size);
  if (h.magic != record_magic) return fail("bad magic");
  if (h.type == 0 || h.type > record_type_max) return fail("unknown record type");
  if (h.reserved != 0) return fail("reserved header field is not zero");
  if (h.length > record_payload_max) return fail("length over the maximum");
  if (h.length % entry_size(static_cast<record_type>(h.type)) != 0)
    return fail("length is not a whole number of entries");
  if (h.lsn == 0 || h.group_lsn == 0 || h.group_lsn > h.lsn) return fail("bad LSN fields");
  if (offset + header_size + h.length > data.size()) return fail("the payload runs past the end");
  const auto payload = data.subspan(offset + header_size, h.length);
  if (record_crc(h, payload) != h.crc32c) return fail("CRC mismatch");
  out = record_view{h, payload, offset};
  return true;
}

bool later_group_follows(std::span<const std::byte> data, std::uint64_t from, std::uint64_t lsn) {
  // Damage is rare and files are bounded, so a byte-by-byte search is fine here.
  for (std::uint64_t at = from; at + header_size <= data.size(); ++at) {
    std::uint32_t magic;
    std::memcpy(&magic, data.data() + at, sizeof magic);
    if (magic != record_magic) continue;
    record_view v{};
    if (parse_record(data, at, v) && v.header.group_lsn > lsn) return true;
  }
  return false;
}

std::string journal_file_name(std::uint64_t first_lsn) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "journal-%020llu.rmj", static_cast<unsigned long long>(first_lsn));
  return buf;
}

std::string snapshot_file_name(std::uint64_t lsn) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "snapshot-%020llu.rms", static_cast<unsigned long long>(lsn));
  return buf;
}

namespace {
bool parse_numbered(const std::string& name, const char* prefix, const char* suffix,
                    std::uint64_t& n) {
  const std::size_t p = std::strlen(prefix), s = std::strlen(suffix);
  if (name.size() != p + 20 + s) return false;
  if (name.compare(0, p, prefix) != 0 || name.compare(p + 20, s, suffix) != 0) return false;
  std::uint64_t v = 0;
  for (std::size_t i = p; i < p + 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    const auto digit = static_cast<std::uint64_t>(name[i] - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;  // past 2^64-1: not one of ours
    v = v * 10 + digit;
  }
  n = v;
  return true;
}
}  // namespace

bool parse_journal_file_name(const std::string& name, std::uint64_t& first_lsn) {
  return parse_numbered(name, "journal-", ".rmj", first_lsn);
}

bool parse_snapshot_file_name(const std::string& name, std::uint64_t& lsn) {
  return parse_numbered(name, "snapshot-", ".rms", lsn);
}

}  // namespace remit::journal
