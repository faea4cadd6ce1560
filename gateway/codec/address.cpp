#include "gateway/codec/address.hpp"

#include <algorithm>
#include <utility>

namespace remit::codec {

namespace {

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

// HOST:PORT, [IPV6]:PORT or HOST alone, split apart; the port, when there is one, is still
// text. Sets `error` when `text` is none of those.
struct split_address {
  std::string host;
  std::optional<std::string_view> port;
};

[[nodiscard]] std::optional<split_address> split_host_port(std::string_view text,
                                                           std::string& error) {
  split_address a;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      error = quoted(text) + ": an IPv6 address needs its closing ']'";
      return std::nullopt;
    }
    a.host = std::string(text.substr(1, close - 1));
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        error = quoted(text) + ": HOST:PORT or [IPV6]:PORT expected";
        return std::nullopt;
      }
      a.port = rest.substr(1);
    }
  } else {
    const std::size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      error = quoted(text) + ": write an IPv6 address as [ADDRESS]:PORT";
      return std::nullopt;
    }
    a.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) a.port = text.substr(colon + 1);
  }
  if (a.host.empty()) {
    error = quoted(text) + ": the host is missing (HOST:PORT)";
    return std::nullopt;
  }
  return a;
}

// A decimal port from `min` to 65535: 1 to 5 digits and nothing else.
[[nodiscard]] std::optional<std::uint16_t> parse_port(std::string_view port, std::uint16_t min) {
  if (port.empty() || port.size() > 5) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value < min || value > UINT16_MAX) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool same_host(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

std::optional<server_address> parse_server(std::string_view text, std::string& error) {
  std::optional<split_address> s = split_host_port(text, error);
  if (!s) return std::nullopt;
  server_address a{std::move(s->host)};
  if (s->port) {
    const std::optional<std::uint16_t> p = parse_port(*s->port, 1);
    if (!p) {
      error = quoted(text) + ": the port must be a number from 1 to 65535";
      return std::nullopt;
    }
    a.port = *p;
  }
  return a;
}

std::optional<server_address> parse_listen_address(std::string_view text, std::string& error) {
  std::optional<split_address> s = split_host_port(text, error);
  if (!s) return std::nullopt;
  const std::optional<std::uint16_t> p = s->port ? parse_port(*s->port, 0) : std::nullopt;
  if (!p) {
    error = quoted(text) + ": HOST:PORT with a port from 0 to 65535 expected";
    return std::nullopt;
  }
  return server_address{std::move(s->host), *p};
}

std::optional<std::vector<server_address>> split_server_list(std::string_view text,
                                                             std::string& error) {
  if (trim_blanks(text).empty()) {
    error = "the server list is empty: HOST:PORT[,HOST:PORT...] expected";
    return std::nullopt;
  }
  const std::string_view whole = text;
  std::vector<server_address> list;
  std::size_t item_index = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = trim_blanks(text.substr(0, comma));
    item_index++;
    if (item.empty()) {
      error = "server " + std::to_string(item_index) + " of " + quoted(whole) +
              " is empty (a stray comma?)";
      return std::nullopt;
    }
    if (list.size() == server_list_max) {
      error = "more than " + std::to_string(server_list_max) + " servers in the list";
      return std::nullopt;
    }
    std::optional<server_address> a = parse_server(item, error);
    if (!a) return std::nullopt;
    const auto same = [&](const server_address& b) {
      return b.port == a->port && same_host(b.host, a->host);
    };
    if (std::any_of(list.begin(), list.end(), same)) {
      error = quoted(item) + ": the same server is listed twice";
      return std::nullopt;
    }
    list.push_back(std::move(*a));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return list;
}

std::string format_server(const server_address& a) {
  const bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

}  // namespace remit::codec
