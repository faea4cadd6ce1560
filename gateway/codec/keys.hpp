// The keys file of docs/PROTOCOL.md section 3: one key a line, `key_id hex_secret permissions`,
// `#` starts a comment. key_id is 1 to 32 printable ASCII characters without spaces, the
// secret at least 16 bytes, permissions a decimal number of the bits read 1, transfer 2,
// admin 4, replicate 8 (node-to-node traffic; section 9).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remit::codec {

inline constexpr std::size_t secret_size_min = 16;

struct key_entry {
  std::string id;
  std::vector<std::uint8_t> secret;
  std::uint32_t permissions = 0;
};

// Parses the text of a keys file. On a bad line returns nothing and sets `error` to the line
// number and what is wrong with it (never the secret).
[[nodiscard]] std::optional<std::vector<key_entry>> parse_keys(std::string_view text,
                                                               std::string& error);

// Reads and parses a keys file. Refuses a file that group or others may read or write (it
// holds secrets), naming the mode and the fix.
[[nodiscard]] std::optional<std::vector<key_entry>> read_keys_file(const std::string& path,
                                                                   std::string& error);

// A new random key line's fields: a 32-byte secret.
key_entry make_key(std::string id, std::uint32_t permissions);
// The line for a key, as the file holds it (without the newline).
std::string format_key(const key_entry& k);

std::string to_hex(const std::uint8_t* data, std::size_t size);

}  // namespace remit::codec
