// Server addresses as the tools take them on the command line: HOST:PORT, [IPV6]:PORT, HOST
// alone, and comma-separated lists of them (a cluster's clients take `--server A,B,C`).
// Pure string work: no name resolution, no sockets, nothing but the standard library, so
// remitd, the CLI, remit-load and the cluster's clients all parse an address the same way.
//
// A host is taken as written (a name, an IPv4 address, or an IPv6 address between brackets);
// whether it resolves is the connect's business. A port is decimal, 1 to 5 digits, nothing
// else: no sign, no hex, no spaces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remit::codec {

// The protocol port when an address gives none (remit's clients; remitd listens there by
// default).
inline constexpr std::uint16_t default_port = 7400;

struct server_address {
  std::string host;  // without the brackets of an IPv6 address
  std::uint16_t port = default_port;

  friend bool operator==(const server_address&, const server_address&) = default;
};

// An address to connect to: HOST:PORT, [IPV6]:PORT, or HOST alone (port 7400); the port from
// 1 to 65535. On anything else returns nothing and sets `error` to a message that quotes
// `text` and says what is wrong.
[[nodiscard]] std::optional<server_address> parse_server(std::string_view text, std::string& error);

// The address as parse_server reads it back: HOST:PORT, or [IPV6]:PORT for a host with a ':'.
// For messages, and for the `host:port` a cluster names its primary with.
[[nodiscard]] std::string format_server(const server_address& a);

// An address to listen on (remitd's --listen and --metrics): HOST:PORT or [IPV6]:PORT with the
// port required, 0 meaning any free port. Sets `error` when `text` is not one.
[[nodiscard]] std::optional<server_address> parse_listen_address(std::string_view text,
                                                                 std::string& error);

// The most addresses a server list may hold: a cluster is a primary and a few standbys, so a
// longer list is a mistake (a pasted file, a wrong variable), not a cluster.
inline constexpr std::size_t server_list_max = 16;

// A comma-separated list of addresses to connect to, each as parse_server takes it
// ("a:1,b:2,[::1]:3"); spaces around an item are ignored. Refuses, with a message naming
// the item: an empty list, an empty item ("a:1,,b:2", a trailing comma), an item that is
// not an address, the same address twice (hosts compared without regard to ASCII case,
// after the default port is filled in; "a" and "a:7400" are the same), and more than
// server_list_max items. The order is kept: it is the order in which clients try them.
[[nodiscard]] std::optional<std::vector<server_address>> split_server_list(std::string_view text,
                                                                           std::string& error);

}  // namespace remit::codec
