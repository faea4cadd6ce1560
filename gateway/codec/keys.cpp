#include "gateway/codec/keys.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gateway/codec/crypto.hpp"
#include "gateway/codec/frame.hpp"

namespace remit::codec {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

constexpr char permissions_rule[] =
    "permissions must be a decimal number from 0 to 15, a sum of read 1, transfer 2, admin 4 "
    "and replicate 8";

}  // namespace

std::optional<std::vector<key_entry>> parse_keys(std::string_view text, std::string& error) {
  std::vector<key_entry> keys;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto f = fields_of(line);
    if (f.empty()) continue;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (f.size() != 3) {
      error = where + "expected `key_id hex_secret permissions`";
      return std::nullopt;
    }
    key_entry k;
    if (f[0].size() > key_id_max) {
      error = where + "key_id is longer than 32 characters";
      return std::nullopt;
    }
    for (char c : f[0])
      if (c < 0x21 || c > 0x7e) {
        error = where + "key_id must be printable ASCII";
        return std::nullopt;
      }
    k.id = std::string(f[0]);
    if (f[1].size() % 2 != 0) {
      error = where + "the secret must be hex digits, two per byte";
      return std::nullopt;
    }
    for (std::size_t i = 0; i < f[1].size(); i += 2) {
      const int hi = hex_value(f[1][i]);
      const int lo = hex_value(f[1][i + 1]);
      if (hi < 0 || lo < 0) {
        error = where + "the secret must be hex digits, two per byte";
        return std::nullopt;
      }
      k.secret.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    if (k.secret.size() < secret_size_min) {
      error = where + "the secret must be at least 16 bytes (32 hex digits)";
      return std::nullopt;
    }
    std::uint64_t perm = 0;
    for (char c : f[2]) {
      if (c < '0' || c > '9' || perm > permission::defined) {
        error = where + permissions_rule;
        return std::nullopt;
      }
      perm = perm * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if ((perm & ~std::uint64_t{permission::defined}) != 0) {
      error = where + permissions_rule;
      return std::nullopt;
    }
    k.permissions = static_cast<std::uint32_t>(perm);
    for (const auto& other : keys)
      if (other.id == k.id) {
        error = where + "key_id '" + k.id + "' appears twice";
        return std::nullopt;
      }
    keys.push_back(std::move(k));
  }
  return keys;
}

std::optional<std::vector<key_entry>> read_keys_file(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    error = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    std::ostringstream m;
    m << path << ": mode " << std::oct << (st.st_mode & 0777)
      << " lets others read the secrets; run `chmod 600 " << path << "`";
    error = m.str();
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot be read";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto keys = parse_keys(ss.str(), error);
  if (!keys) error = path + ": " + error;
  return keys;
}

key_entry make_key(std::string id, std::uint32_t permissions) {
  key_entry k{std::move(id), std::vector<std::uint8_t>(32), permissions};
  random_bytes(k.secret);
  return k;
}

std::string to_hex(const std::uint8_t* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    s.push_back(digits[data[i] >> 4]);
    s.push_back(digits[data[i] & 15]);
  }
  return s;
}

std::string format_key(const key_entry& k) {
  return k.id + " " + to_hex(k.secret.data(), k.secret.size()) + " " +
         std::to_string(k.permissions);
}

}  // namespace remit::codec
