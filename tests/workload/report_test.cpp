// The report files (tools/load/report.hpp): run.json carries every histogram exactly, so
// merged reports are exact; latency.hgrm is HdrHistogram's text and reads back.
#include "tools/load/report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "tools/workload.hpp"

namespace remit::load {
namespace {

void fill(run_record& r, std::uint64_t seed, std::size_t n) {
  workload::xoshiro256 rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    // Log-uniform from 1 us to 100 ms.
    const auto v = static_cast<std::uint64_t>(1e3 * std::pow(10.0, 5 * rng.unit()));
    r.latency->record(v);
    r.second(static_cast<double>(i % 5)).latency->record(v);
    ++r.second(static_cast<double>(i % 5)).answered;
  }
  r.codes["ok"] = n;
  r.transfers = n;
  r.commands = {"remit-load --seed " + std::to_string(seed)};
}

TEST(report, json_round_trip_is_exact) {
  run_record r;
  fill(r, 1, 10'000);
  r.find_max =
      find_max_result{"p99 <= 300 us", 300, 4750, "verdict", {{1000, 999, 12, 13, 20, 0, 0, true}}};
  run_record back;
  std::string why;
  ASSERT_TRUE(from_json(nlohmann::json::parse(to_json(r).dump()), back, why)) << why;
  for (std::size_t i = 0; i < histogram::bucket_count; ++i)
    ASSERT_EQ(back.latency->count_in(i), r.latency->count_in(i));
  EXPECT_EQ(back.latency->min(), r.latency->min());
  EXPECT_EQ(back.latency->max(), r.latency->max());
  ASSERT_EQ(back.seconds.size(), 5u);
  EXPECT_EQ(back.seconds[3].latency->percentile(99), r.seconds[3].latency->percentile(99));
  ASSERT_TRUE(back.find_max);
  EXPECT_EQ(back.find_max->rate, 4750);
  EXPECT_EQ(back.find_max->steps.size(), 1u);
}

TEST(report, merging_two_runs_equals_recording_both_in_one) {
  run_record a, b, both;
  fill(a, 1, 5000);
  fill(b, 2, 7000);
  fill(both, 1, 5000);
  fill(both, 2, 7000);
  a.merge(b);
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0})
    EXPECT_EQ(a.latency->percentile(p), both.latency->percentile(p)) << p;
  EXPECT_EQ(a.latency->count(), 12'000u);
  EXPECT_EQ(a.codes["ok"], 12'000u);
  EXPECT_EQ(a.processes, 2);
  EXPECT_EQ(a.commands.size(), 2u);
  EXPECT_EQ(a.seconds[2].latency->percentile(99), both.seconds[2].latency->percentile(99));
}

// latency.hgrm: the table's rows, read back, give the histogram's percentiles.
TEST(report, hgrm_reads_back_into_the_same_percentiles) {
  run_record r;
  fill(r, 3, 20'000);
  const std::string text = hgrm(*r.latency);
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  EXPECT_NE(line.find("Value"), std::string::npos);
  EXPECT_NE(line.find("1/(1-Percentile)"), std::string::npos);
  std::vector<std::pair<double, double>> rows;  // percentile, value us
  bool mean = false, max = false;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("#[Mean", 0) == 0) mean = true;
    if (line.rfind("#[Max", 0) == 0) max = true;
    if (line[0] == '#') continue;
    double v, p;
    unsigned long long count;
    ASSERT_GE(std::sscanf(line.c_str(), "%lf %lf %llu", &v, &p, &count), 3) << line;
    rows.push_back({p, v});
  }
  EXPECT_TRUE(mean);
  EXPECT_TRUE(max);
  ASSERT_GT(rows.size(), 50u);
  EXPECT_EQ(rows.back().first, 1.0);
  for (const auto& [p, v] : rows) {
    // (Row 0 is the lowest bucket's value, like HdrHistogram's, not the exact minimum.)
    const double want = static_cast<double>(r.latency->percentile(std::max(p * 100, 1e-9))) / 1e3;
    EXPECT_NEAR(v, want, 0.0005 + want * 1e-9) << "percentile " << p;
  }
}

TEST(report, html_names_every_series) {
  run_record r;
  fill(r, 4, 1000);
  r.find_max = find_max_result{
      "p99 <= 300 us", 300, 4750, "the verdict", {{1000, 999, 12, 13, 20, 0, 0, true}}};
  r.commands = {"remit-load --target 'a<b>&c'"};
  const std::string h = html(r);
  for (const char* s :
       {"data-series=\"percentile\"", "data-series=\"offered\"", "data-series=\"achieved\"",
        "data-series=\"p99\"", "data-series=\"p50\"", "data-series=\"codes\"",
        "data-series=\"steps\"", "the verdict", "a&lt;b&gt;&amp;c"})
    EXPECT_NE(h.find(s), std::string::npos) << s;
  EXPECT_EQ(h.find("<script"), std::string::npos);
  EXPECT_EQ(h.find("src="), std::string::npos);  // nothing fetched
  EXPECT_EQ(h.find("href="), std::string::npos);
}

}  // namespace
}  // namespace remit::load
