// report: what one remit-load run (or several merged) measured, and the files of
// `--report DIR`:
//   run.json        everything below, with every histogram's raw bucket counts, so that
//                   `remit-load merge` combines several processes' runs exactly;
//   latency.hgrm    the latency distribution in HdrHistogram's percentile-distribution text
//                   format (values in microseconds), which HdrHistogram plotters read;
//   latency.hlog    HdrHistogram's interval log: one compressed histogram per second;
//   seconds.csv     per second: offered and achieved rate, p50/p99/p99.9/max, late sends,
//                   overloaded answers, refused events, and a column per result code seen;
//   report.html     one self-contained page of inline SVG (no script, nothing fetched): the
//                   percentile curve on a log axis, throughput and p99 over time, the result
//                   codes, the command line, the machine and the --find-max verdict.
//
// A `run_record` is filled by one thread (the caller serializes: remit-load records under
// its own lock). Seconds count from the start of the load; an answer belongs to the second
// it arrived in, a send to the second it was due in.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/types.hpp"
#include "tools/histogram.hpp"

namespace remit::load {

// Four hours; past it, the last second grows.
inline constexpr std::size_t seconds_recorded_max = std::size_t{3600} * 4;

struct second_stats {
  std::uint64_t offered = 0;     // events due in this second
  std::uint64_t late = 0;        // of those, sent more than the late threshold after due
  std::uint64_t answered = 0;    // events answered in this second
  std::uint64_t refused = 0;     // of those, with a result other than ok
  std::uint64_t overloaded = 0;  // `overloaded` answers (batches) in this second
  std::map<std::string, std::uint64_t> codes;  // result name -> events
  std::unique_ptr<histogram> latency = std::make_unique<histogram>();
};

// One step of --find-max: an open-loop run at `rate`.
struct step_result {
  double rate = 0;      // offered, transfers/s
  double achieved = 0;  // answered / seconds
  double value_us = 0;  // the SLO's percentile
  double p99_us = 0;
  double max_us = 0;
  std::uint64_t overloaded = 0;
  std::uint64_t late = 0;
  bool pass = false;
};

struct find_max_result {
  std::string slo;      // e.g. "p99 <= 300 us"
  double bound_us = 0;  // the SLO's bound
  double rate = 0;      // the highest passing rate; 0 when none passed
  std::string verdict;
  std::vector<step_result> steps;
};

struct run_record {
  std::vector<std::string> commands;  // one per process merged
  std::string machine;
  std::string date;
  std::string target;
  std::string workload;
  std::string load;  // "open loop, ..." or "closed loop, ..."
  double late_after_us = 0;
  std::unique_ptr<histogram> latency = std::make_unique<histogram>();
  std::unique_ptr<histogram> lateness = std::make_unique<histogram>();  // send - due, ns
  std::map<std::string, std::uint64_t> codes;
  std::vector<second_stats> seconds;
  std::uint64_t transfers = 0;
  std::uint64_t sends = 0;  // batches sent
  std::uint64_t late = 0;   // batches sent late
  std::uint64_t overloaded = 0;
  double elapsed_s = 0;
  double start_epoch_s = 0;  // when the load started, on the wall clock
  bool conserved = true;
  int processes = 1;
  std::optional<find_max_result> find_max;

  second_stats& second(double t_s);  // grows the vector as needed
  // Another process's run added to this one: histograms and counts summed second by second.
  void merge(const run_record& other);
};

nlohmann::ordered_json histogram_json(const histogram& h);
[[nodiscard]] bool histogram_from_json(const nlohmann::json& j, histogram& h, std::string& why);

nlohmann::ordered_json to_json(const run_record& r);
[[nodiscard]] bool from_json(const nlohmann::json& j, run_record& r, std::string& why);

// HdrHistogram's percentile distribution of `h` (ns), values scaled to microseconds.
std::string hgrm(const histogram& h);
std::string hdr_compressed_base64(const histogram& h);
std::string interval_log(const run_record& r);
std::string seconds_csv(const run_record& r);
std::string html(const run_record& r);

// Writes every file into `dir` (made if missing). False and `why` when it cannot.
[[nodiscard]] bool write_report(const std::string& dir, const run_record& r, std::string& why);
[[nodiscard]] bool read_report(const std::string& dir, run_record& r, std::string& why);

// The machine, for a report: host name, CPU model, cores, kernel.
std::string machine_description();
std::string utc_now();

}  // namespace remit::load
