#include "tools/load/schedule.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/assert.hpp"

namespace remit::load {

namespace {

constexpr double rate_max = 1e9;
constexpr double seconds_max = 3600;

[[nodiscard]] std::optional<double> number(std::string_view s) {
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// Events sent by a segment in its first t seconds.
double events_in(const schedule::segment& g, double t) {
  const double b = (g.to - g.from) / g.seconds;
  return g.from * t + b * t * t / 2;
}

[[nodiscard]] bool valid(const schedule::segment& g, std::string& why) {
  if (!(g.from >= 0 && g.to >= 0 && g.from <= rate_max && g.to <= rate_max) ||
      (g.from == 0 && g.to == 0)) {
    why = "a rate must be 0 to 1e9 transfers/s, and a segment must not be 0 throughout";
    return false;
  }
  if (!(g.seconds > 0 && g.seconds <= seconds_max)) {
    why = "a segment lasts more than 0 and at most 3600 s";
    return false;
  }
  return true;
}

}  // namespace

schedule schedule::constant(double rate, double seconds) {
  REMIT_ASSERT(rate > 0);
  REMIT_ASSERT(seconds > 0);
  schedule s;
  s.segments_.push_back({rate, rate, seconds});
  return s;
}

std::optional<schedule> schedule::parse_ramp(std::string_view text, std::string& why) {
  const auto parts = split(text, ':');
  if (parts.size() != 3) {
    why = "--ramp takes FROM:TO:SECONDS, e.g. 1000:50000:30";
    return std::nullopt;
  }
  const auto a = number(parts[0]), b = number(parts[1]), t = number(parts[2]);
  if (!a || !b || !t) {
    why = "--ramp takes three numbers FROM:TO:SECONDS";
    return std::nullopt;
  }
  schedule s;
  s.segments_.push_back({*a, *b, *t});
  if (!valid(s.segments_.back(), why)) return std::nullopt;
  return s;
}

std::optional<schedule> schedule::parse_steps(std::string_view text, std::string& why) {
  schedule s;
  double total = 0;
  for (std::string_view step : split(text, ',')) {
    const auto parts = split(step, ':');
    const auto r = parts.size() == 2 ? number(parts[0]) : std::nullopt;
    const auto t = parts.size() == 2 ? number(parts[1]) : std::nullopt;
    if (!r || !t) {
      why = "--steps takes RATE:SECONDS,RATE:SECONDS,..., e.g. 1000:10,2000:10";
      return std::nullopt;
    }
    s.segments_.push_back({*r, *r, *t});
    if (!valid(s.segments_.back(), why)) return std::nullopt;
    total += *t;
    if (s.segments_.size() > 1000 || total > seconds_max) {
      why = "--steps: at most 1000 steps and 3600 s in all";
      return std::nullopt;
    }
  }
  return s;
}

std::optional<double> schedule::due_s(double n) const {
  double start = 0;
  for (const segment& g : segments_) {
    const double in =
        std::isinf(g.seconds) ? std::numeric_limits<double>::infinity() : events_in(g, g.seconds);
    if (n < in) {
      const double b = (g.to - g.from) / g.seconds;
      double t;
      if (std::abs(b) < 1e-12 || std::isinf(g.seconds)) {
        t = n / g.from;
      } else {
        t = (std::sqrt(std::max(g.from * g.from + 2 * b * n, 0.0)) - g.from) / b;
      }
      return start + std::min(std::max(t, 0.0), g.seconds);
    }
    n -= in;
    start += g.seconds;
  }
  return std::nullopt;
}

double schedule::rate_at(double t) const {
  for (const segment& g : segments_) {
    if (t < g.seconds)
      return g.from + (g.to - g.from) * (std::isinf(g.seconds) ? 0 : t / g.seconds);
    t -= g.seconds;
  }
  return 0;
}

double schedule::seconds() const {
  double s = 0;
  for (const segment& g : segments_) s += g.seconds;
  return s;
}

double schedule::events() const {
  double n = 0;
  for (const segment& g : segments_)
    n += std::isinf(g.seconds) ? std::numeric_limits<double>::infinity() : events_in(g, g.seconds);
  return n;
}

std::string schedule::describe() const {
  std::string out;
  char buf[96];
  for (const segment& g : segments_) {
    if (!out.empty()) out += ", ";
    if (g.from == g.to) {
      std::snprintf(buf, sizeof buf, "%.0f/s", g.from);
    } else {
      std::snprintf(buf, sizeof buf, "%.0f/s to %.0f/s", g.from, g.to);
    }
    out += buf;
    if (!std::isinf(g.seconds)) {
      std::snprintf(buf, sizeof buf, " for %g s", g.seconds);
      out += buf;
    }
  }
  return out;
}

}  // namespace remit::load
