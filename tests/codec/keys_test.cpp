// The keys file of docs/PROTOCOL.md section 3: what parse_keys takes and refuses (one row per
// mistake, and no error message ever shows a secret), the file-mode check of
// read_keys_file, and format_key/parse_keys round trips.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gateway/codec/frame.hpp"
#include "gateway/codec/keys.hpp"

namespace remit::codec {
namespace {

const std::string secret_a = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string secret_b = "DEADBEEFdeadbeef0123456789abcdef";  // 16 bytes, mixed case

TEST(parse_keys, comments_blank_lines_and_separators) {
  const std::string text =
      "# remit keys\n"
      "\n"
      "   \n"
      "ops " +
      secret_a +
      " 7\n"
      "\t# indented comment\n"
      "reader\t" +
      secret_b +
      "\t1   # trailing comment\r\n"
      "  spaced   " +
      secret_a +
      "   0  \r\n"
      "last " +
      secret_b + " 6";  // no final newline
  std::string error;
  const auto keys = parse_keys(text, error);
  ASSERT_TRUE(keys) << error;
  ASSERT_EQ(keys->size(), 4u);
  EXPECT_EQ((*keys)[0].id, "ops");
  EXPECT_EQ((*keys)[0].permissions, 7u);
  ASSERT_EQ((*keys)[0].secret.size(), 32u);
  for (std::size_t i = 0; i < 32; ++i) EXPECT_EQ((*keys)[0].secret[i], i);
  EXPECT_EQ((*keys)[1].id, "reader");
  EXPECT_EQ((*keys)[1].permissions, 1u);
  EXPECT_EQ((*keys)[1].secret,
            (std::vector<std::uint8_t>{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x23,
                                       0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}));
  EXPECT_EQ((*keys)[2].id, "spaced");
  EXPECT_EQ((*keys)[2].permissions, 0u);
  EXPECT_EQ((*keys)[3].id, "last");
  EXPECT_EQ((*keys)[3].permissions, 6u);
}

TEST(parse_keys, empty_and_comment_only_files_have_no_keys) {
  for (const char* text : {"", "\n\n", "# nothing\n# here\n", "   \t \n"}) {
    std::string error;
    const auto keys = parse_keys(text, error);
    ASSERT_TRUE(keys) << error;
    EXPECT_TRUE(keys->empty());
  }
}

TEST(parse_keys, edge_values_are_accepted) {
  struct row {
    std::string line;
    std::uint32_t permissions;
  };
  const row rows[] = {
      {std::string(32, 'k') + " " + secret_b + " 7", 7},
      {"k " + secret_b + " 0", 0},
      {"k " + secret_b + " 007", 7},
      {"~!@$%^&*()_+{}|:\"<>?`-=[]\\;',./ " + secret_b + " 3", 3},
      {"k " + std::string(512, 'f') + " 4", 4},
      // replicate (8) alone and with every other bit (sections 3 and 9).
      {"node " + secret_b + " 8", 8},
      {"node " + secret_b + " 9", 9},
      {"node " + secret_b + " 10", 10},
      {"node " + secret_b + " 12", 12},
      {"node " + secret_b + " 15", 15},
      {"node " + secret_b + " 008", 8},
  };
  for (const auto& x : rows) {
    std::string error;
    const auto keys = parse_keys(x.line, error);
    ASSERT_TRUE(keys) << x.line << ": " << error;
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_EQ((*keys)[0].permissions, x.permissions);
  }
}

TEST(parse_keys, refuses_bad_lines_without_showing_the_secret) {
  struct row {
    const char* name;
    std::string line;
    std::string secret;  // must not appear in the error
    const char* mentions;
  };
  const std::string short_secret = "00112233445566778899aabbccddee";  // 15 bytes
  const std::string odd_secret = secret_a + "f";
  const std::string non_hex = "0011223344556677889900aabbccddeg";
  const std::string spaced_non_hex = "zz112233445566778899aabbccddeeff";
  const row rows[] = {
      {"secret_15_bytes", "ops " + short_secret + " 7", short_secret, "at least 16 bytes"},
      {"secret_odd_hex", "ops " + odd_secret + " 7", odd_secret, "hex"},
      {"secret_non_hex_last", "ops " + non_hex + " 7", non_hex, "hex"},
      {"secret_non_hex_first", "ops " + spaced_non_hex + " 7", spaced_non_hex, "hex"},
      {"secret_0x_prefix", "ops 0x" + secret_a + " 7", secret_a, "hex"},
      {"key_id_33", std::string(33, 'k') + " " + secret_a + " 7", secret_a, "longer than 32"},
      {"key_id_control_char", "op\x01s " + secret_a + " 7", secret_a, "printable"},
      {"key_id_high_byte", "op\xc3\xa9 " + secret_a + " 7", secret_a, "printable"},
      // Bits past the four the protocol defines.
      {"permissions_16", "ops " + secret_a + " 16", secret_a, "0 to 15"},
      {"permissions_17", "ops " + secret_a + " 17", secret_a, "0 to 15"},
      {"permissions_31", "ops " + secret_a + " 31", secret_a, "0 to 15"},
      {"permissions_160", "ops " + secret_a + " 160", secret_a, "0 to 15"},
      {"permissions_huge", "ops " + secret_a + " 99999999999999999999999", secret_a, "0 to 15"},
      {"permissions_negative", "ops " + secret_a + " -1", secret_a, "0 to 15"},
      {"permissions_hex", "ops " + secret_a + " 0x7", secret_a, "0 to 15"},
      {"permissions_word", "ops " + secret_a + " admin", secret_a, "0 to 15"},
      {"two_fields", "ops " + secret_a, secret_a, "key_id hex_secret permissions"},
      {"one_field", secret_a, secret_a, "key_id hex_secret permissions"},
      {"four_fields", "ops " + secret_a + " 7 extra", secret_a, "key_id hex_secret permissions"},
      {"secret_split", "ops " + secret_a.substr(0, 32) + " " + secret_a.substr(32) + " 7",
       secret_a.substr(0, 32), "key_id hex_secret permissions"},
  };
  for (const auto& x : rows) {
    SCOPED_TRACE(x.name);
    // The bad line comes third, after a good key and a comment.
    std::string text = "good " + secret_b + " 1\n# comment\n";
    text += x.line;
    text += "\nlater " + secret_b + " 2\n";
    std::string error;
    EXPECT_FALSE(parse_keys(text, error));
    EXPECT_EQ(error.rfind("line 3: ", 0), 0u) << error;
    EXPECT_NE(error.find(x.mentions), std::string::npos) << error;
    EXPECT_EQ(error.find(x.secret), std::string::npos) << error;
    EXPECT_EQ(error.find(secret_b), std::string::npos) << error;
    // Nor any 8 hex digits of it.
    for (std::size_t i = 0; i + 8 <= x.secret.size(); i += 4)
      EXPECT_EQ(error.find(x.secret.substr(i, 8)), std::string::npos) << error;
  }
}

TEST(parse_keys, refuses_duplicate_ids) {
  std::string error;
  EXPECT_FALSE(
      parse_keys("a " + secret_a + " 1\nb " + secret_a + " 2\na " + secret_b + " 4\n", error));
  EXPECT_EQ(error.rfind("line 3: ", 0), 0u) << error;
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
  EXPECT_EQ(error.find(secret_a), std::string::npos) << error;
  EXPECT_EQ(error.find(secret_b), std::string::npos) << error;
  // Ids differ by case: two keys.
  EXPECT_TRUE(parse_keys("a " + secret_a + " 1\nA " + secret_a + " 2\n", error)) << error;
}

// A scratch directory, removed with its files.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "remit-keys-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string file(const std::string& name, const std::string& text, mode_t mode) const {
    std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    return p;
  }

 private:
  std::filesystem::path path_;
};

TEST(read_keys_file, refuses_a_file_others_may_read_or_write) {
  temp_dir dir;
  const std::string text = "ops " + secret_a + " 7\n";
  struct row {
    mode_t mode;
    bool accepted;
  };
  const row rows[] = {
      {0600, true},  {0400, true},  {0700, true},  {0644, false}, {0640, false},
      {0604, false}, {0660, false}, {0620, false}, {0602, false}, {0610, false},
  };
  for (const auto& x : rows) {
    SCOPED_TRACE(std::to_string(x.mode));
    const std::string path = dir.file("keys-" + std::to_string(x.mode), text, x.mode);
    std::string error;
    const auto keys = read_keys_file(path, error);
    ASSERT_EQ(keys.has_value(), x.accepted) << error;
    if (x.accepted) {
      ASSERT_EQ(keys->size(), 1u);
      EXPECT_EQ((*keys)[0].id, "ops");
    } else {
      EXPECT_NE(error.find("chmod 600"), std::string::npos) << error;
      EXPECT_NE(error.find(path), std::string::npos) << error;
      EXPECT_EQ(error.find(secret_a), std::string::npos) << error;
    }
  }
  std::string error;
  const std::string p644 = dir.file("keys-644-named", text, 0644);
  EXPECT_FALSE(read_keys_file(p644, error));
  EXPECT_NE(error.find("mode 644"), std::string::npos) << error;
}

TEST(read_keys_file, names_the_file_in_errors) {
  temp_dir dir;
  std::string error;
  EXPECT_FALSE(read_keys_file(dir.file("x", "", 0600) + ".missing", error));
  EXPECT_NE(error.find(".missing"), std::string::npos) << error;

  const std::string bad = dir.file("bad", "# k\nops " + secret_a + " 16\n", 0600);
  EXPECT_FALSE(read_keys_file(bad, error));
  EXPECT_EQ(error.rfind(bad + ": line 2: ", 0), 0u) << error;
  EXPECT_EQ(error.find(secret_a), std::string::npos) << error;
}

TEST(format_key, round_trips_through_parse_keys) {
  for (std::uint32_t perms = 0; perms <= permission::defined; ++perms) {
    const key_entry k = make_key("key-" + std::to_string(perms), perms);
    ASSERT_EQ(k.secret.size(), 32u);
    const std::string line = format_key(k);
    EXPECT_EQ(line,
              k.id + " " + to_hex(k.secret.data(), k.secret.size()) + " " + std::to_string(perms));
    std::string error;
    const auto keys = parse_keys(line + "\n", error);
    ASSERT_TRUE(keys) << error;
    ASSERT_EQ(keys->size(), 1u);
    EXPECT_EQ((*keys)[0].id, k.id);
    EXPECT_EQ((*keys)[0].secret, k.secret);
    EXPECT_EQ((*keys)[0].permissions, perms);
  }
  // Two new keys have different secrets.
  EXPECT_NE(make_key("a", 1).secret, make_key("a", 1).secret);
  // A file of several formatted keys, read back through the file.
  temp_dir dir;
  std::string text;
  std::vector<key_entry> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(make_key("k" + std::to_string(i), static_cast<std::uint32_t>(i)));
    text += format_key(made.back()) + "\n";
  }
  std::string error;
  const auto keys = read_keys_file(dir.file("keys", text, 0600), error);
  ASSERT_TRUE(keys) << error;
  ASSERT_EQ(keys->size(), made.size());
  for (std::size_t i = 0; i < made.size(); ++i) {
    EXPECT_EQ((*keys)[i].id, made[i].id);
    EXPECT_EQ((*keys)[i].secret, made[i].secret);
  }
}

TEST(to_hex, lowercase_two_digits_per_byte) {
  const std::uint8_t data[] = {0x00, 0x0f, 0xa0, 0xff, 0x5c};
  EXPECT_EQ(to_hex(data, sizeof data), "000fa0ff5c");
  EXPECT_EQ(to_hex(data, 0), "");
}

}  // namespace
}  // namespace remit::codec
