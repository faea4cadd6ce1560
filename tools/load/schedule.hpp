// schedule: when each event of an open-loop run is due. A schedule is a list of segments,
// each a rate that goes linearly from `from` to `to` transfers/s over `seconds` (from ==
// to: a constant rate). `--rate R` is one constant segment, `--ramp A:B:S` one linear one,
// `--steps R1:S1,R2:S2,...` several constant ones.
//
// The n-th event (from 0) is due when the integral of the rate from the start reaches n:
// within a segment of rate a + b t that is t = (sqrt(a^2 + 2 b m) - a) / b for the m events
// into it, t = m / a when b = 0. Pure arithmetic: no clock, no allocation after parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace remit::load {

class schedule {
 public:
  struct segment {
    double from = 0;     // transfers/s at its start, > 0 (or 0 with to > 0)
    double to = 0;       // transfers/s at its end
    double seconds = 0;  // > 0; may be infinite for the last one
  };

  static schedule constant(double rate, double seconds);
  // "FROM:TO:SECONDS"; nullopt and `why` when malformed.
  [[nodiscard]] static std::optional<schedule> parse_ramp(std::string_view s, std::string& why);
  // "RATE:SECONDS,RATE:SECONDS,..."
  [[nodiscard]] static std::optional<schedule> parse_steps(std::string_view s, std::string& why);

  // Seconds from the start at which event `n` (from 0) is due; nullopt when the schedule
  // ends before it.
  std::optional<double> due_s(double n) const;
  // The rate at `t` seconds (0 past the end).
  double rate_at(double t) const;
  double seconds() const;  // total; may be infinite
  double events() const;   // how many events it sends in all; may be infinite
  const std::vector<segment>& segments() const { return segments_; }
  std::string describe() const;

 private:
  std::vector<segment> segments_;
};

}  // namespace remit::load
