// gateway/codec/address: the HOST:PORT forms the tools take. Tables of inputs and what each
// must give: addresses to connect to (IPv4, names, [IPv6]:PORT, the default port, every port
// out of range or not a number), addresses to listen on (port required, 0 allowed), and
// server lists (order kept, empty items, duplicates, the 16-entry bound).
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/codec/address.hpp"

namespace remit::codec {
namespace {

struct server_row {
  std::string_view text;
  std::optional<std::string> host;  // nothing: refused
  std::uint16_t port = 0;
};

// Checks one row against `parse` (parse_server or parse_listen_address).
template <class Parse>
void check_rows(std::span<const server_row> rows, Parse parse) {
  for (const server_row& row : rows) {
    std::string error;
    const std::optional<server_address> a = parse(row.text, error);
    EXPECT_EQ(a.has_value(), row.host.has_value()) << "'" << row.text << "'";
    EXPECT_EQ(error.empty(), row.host.has_value()) << "'" << row.text << "': " << error;
    if (a && row.host) {
      EXPECT_EQ(a->host, *row.host) << "'" << row.text << "'";
      EXPECT_EQ(a->port, row.port) << "'" << row.text << "'";
    }
    // A refusal quotes what it refused, so the user sees which flag value is wrong.
    if (!a && !row.text.empty()) {
      EXPECT_NE(error.find("'" + std::string(row.text) + "'"), std::string::npos) << error;
    }
  }
}

TEST(ParseServer, HostPortForms) {
  const server_row rows[] = {
      // IPv4
      {"127.0.0.1:7400", "127.0.0.1", 7400},
      {"10.0.0.7:1", "10.0.0.7", 1},
      {"127.0.0.1", "127.0.0.1", default_port},
      // names
      {"localhost", "localhost", default_port},
      {"db.example:1", "db.example", 1},
      {"DB-2.Example.ORG:8080", "DB-2.Example.ORG", 8080},
      // [IPv6]:PORT
      {"[::1]:9000", "::1", 9000},
      {"[::1]", "::1", default_port},
      {"[fe80::1%eth0]:7401", "fe80::1%eth0", 7401},
      {"[2001:db8::42]:65535", "2001:db8::42", 65535},
      // the port's bounds
      {"host:65535", "host", 65535},
      {"host:00080", "host", 80},
      {"host:0", std::nullopt},
      {"host:00000", std::nullopt},
      {"host:65536", std::nullopt},
      {"host:99999", std::nullopt},
      {"host:100000", std::nullopt},
      {"host:4294967297", std::nullopt},  // 2^32 + 1: must not wrap to 1
      // a port that is not a number
      {"host:", std::nullopt},
      {"host:0x10", std::nullopt},
      {"host:-1", std::nullopt},
      {"host:+1", std::nullopt},
      {"host:12x", std::nullopt},
      {"host: 80", std::nullopt},
      {"host:http", std::nullopt},
      // no host, or not one address
      {"", std::nullopt},
      {":7400", std::nullopt},
      {"[]:7400", std::nullopt},
      {"::1:7400", std::nullopt},
      {"::1", std::nullopt},
      {"[::1", std::nullopt},
      {"[::1]7400", std::nullopt},
      {"[::1]:", std::nullopt},
  };
  check_rows(rows, [](std::string_view t, std::string& e) { return parse_server(t, e); });
}

// Where remitd listens: the port is required and 0 (any free port) is allowed.
TEST(ParseServer, ListenAddresses) {
  const server_row rows[] = {
      {"127.0.0.1:7400", "127.0.0.1", 7400},
      {"127.0.0.1:0", "127.0.0.1", 0},
      {"0.0.0.0:65535", "0.0.0.0", 65535},
      {"[::1]:0", "::1", 0},
      {"[::]:7400", "::", 7400},
      {"localhost:7400", "localhost", 7400},
      {"localhost", std::nullopt},  // the port is required
      {"[::1]", std::nullopt},
      {"host:", std::nullopt},
      {":7400", std::nullopt},
      {"host:65536", std::nullopt},
      {"host:0x10", std::nullopt},
      {"host:abc", std::nullopt},
      {"::1:7400", std::nullopt},
      {"off", std::nullopt},
  };
  check_rows(rows, [](std::string_view t, std::string& e) { return parse_listen_address(t, e); });
}

// ---------------------------------------------------------------------------------------
// Server lists

struct list_row {
  std::string_view text;
  std::optional<std::vector<server_address>> expected;  // nothing: refused
  std::string_view error_part = {};                     // what the message must say
};

TEST(SplitServerList, ParsesAndRefuses) {
  using list = std::vector<server_address>;
  const list_row rows[] = {
      {"a:1,b:2,[::1]:3", list{{"a", 1}, {"b", 2}, {"::1", 3}}},
      {"a:1", list{{"a", 1}}},
      {"a", list{{"a", default_port}}},
      {"10.0.0.1:7400, 10.0.0.2:7400 ,10.0.0.3",
       list{{"10.0.0.1", 7400}, {"10.0.0.2", 7400}, {"10.0.0.3", default_port}}},
      {"[::1]:7400,[::2]:7400", list{{"::1", 7400}, {"::2", 7400}}},
      {"b:2,a:1", list{{"b", 2}, {"a", 1}}},  // order kept: clients try them in turn
      {"a:1,a:2", list{{"a", 1}, {"a", 2}}},  // two nodes on one host
      // empty lists and empty items
      {"", std::nullopt, "empty"},
      {"  ", std::nullopt, "empty"},
      {",", std::nullopt, "server 1"},
      {"a:1,,b:2", std::nullopt, "server 2"},
      {"a:1,", std::nullopt, "server 2"},
      {",a:1", std::nullopt, "server 1"},
      {"a:1, ,b:2", std::nullopt, "server 2"},
      // an item that is not an address
      {"a:1,b:0", std::nullopt, "'b:0'"},
      {"a:1,b:65536", std::nullopt, "'b:65536'"},
      {"a:1,b:x", std::nullopt, "'b:x'"},
      {"a:1,::1:3", std::nullopt, "'::1:3'"},
      {"a:1,[::1", std::nullopt, "'[::1'"},
      // the same server twice
      {"a:1,b:2,a:1", std::nullopt, "twice"},
      {"a,a:7400", std::nullopt, "twice"},
      {"Node1:7400,node1:7400", std::nullopt, "twice"},
      {"[::1]:3,[::1]:3", std::nullopt, "twice"},
  };
  for (const list_row& row : rows) {
    std::string error;
    const std::optional<list> got = split_server_list(row.text, error);
    EXPECT_EQ(got, row.expected) << "'" << row.text << "': " << error;
    EXPECT_EQ(error.empty(), row.expected.has_value()) << "'" << row.text << "'";
    EXPECT_NE(error.find(row.error_part), std::string::npos) << "'" << row.text << "': " << error;
  }
}

// 16 servers is the bound; a 17th is refused whatever it is.
TEST(SplitServerList, AtMostSixteen) {
  static_assert(server_list_max == 16);
  std::string text;
  for (std::size_t i = 1; i <= server_list_max; i++) {
    if (i > 1) text += ',';
    text += "node" + std::to_string(i) + ":7400";
  }
  std::string error;
  const std::optional<std::vector<server_address>> sixteen = split_server_list(text, error);
  ASSERT_TRUE(sixteen.has_value()) << error;
  EXPECT_EQ(sixteen->size(), server_list_max);
  EXPECT_EQ(sixteen->back(), (server_address{"node16", 7400}));

  const std::optional<std::vector<server_address>> seventeen =
      split_server_list(text + ",node17:7400", error);
  EXPECT_FALSE(seventeen.has_value());
  EXPECT_NE(error.find("more than 16"), std::string::npos) << error;

  // An empty 17th item is refused as empty: the first fault met is the one named.
  error.clear();
  EXPECT_FALSE(split_server_list(text + ",", error).has_value());
  EXPECT_NE(error.find("server 17"), std::string::npos) << error;
}

}  // namespace
}  // namespace remit::codec
