#include "tools/load/report.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/assert.hpp"

namespace remit::load {

// ---------------------------------------------------------------------------------------
// run_record

second_stats& run_record::second(double t_s) {
  auto i = static_cast<std::size_t>(std::max(t_s, 0.0));
  i = std::min(i, seconds_recorded_max - 1);
  while (seconds.size() <= i) seconds.emplace_back();
  return seconds[i];
}

void run_record::merge(const run_record& o) {
  commands.insert(commands.end(), o.commands.begin(), o.commands.end());
  if (machine.empty()) machine = o.machine;
  if (start_epoch_s == 0 || (o.start_epoch_s != 0 && o.start_epoch_s < start_epoch_s))
    start_epoch_s = o.start_epoch_s;
  if (date.empty()) date = o.date;
  if (target.empty()) target = o.target;
  if (workload.empty()) workload = o.workload;
  if (load.empty()) load = o.load;
  late_after_us = std::max(late_after_us, o.late_after_us);
  latency->merge(*o.latency);
  lateness->merge(*o.lateness);
  for (const auto& [k, v] : o.codes) codes[k] += v;
  for (std::size_t i = 0; i < o.seconds.size(); ++i) {
    second_stats& s = second(static_cast<double>(i));
    const second_stats& x = o.seconds[i];
    s.offered += x.offered;
    s.late += x.late;
    s.answered += x.answered;
    s.refused += x.refused;
    s.overloaded += x.overloaded;
    for (const auto& [k, v] : x.codes) s.codes[k] += v;
    s.latency->merge(*x.latency);
  }
  transfers += o.transfers;
  sends += o.sends;
  late += o.late;
  overloaded += o.overloaded;
  elapsed_s = std::max(elapsed_s, o.elapsed_s);
  conserved = conserved && o.conserved;
  processes += o.processes;
  if (!find_max && o.find_max) find_max = o.find_max;
}

// ---------------------------------------------------------------------------------------
// JSON

nlohmann::ordered_json histogram_json(const histogram& h) {
  nlohmann::ordered_json j;
  j["unit"] = "ns";
  j["count"] = h.count();
  j["min"] = h.min();
  j["max"] = h.max();
  nlohmann::ordered_json b = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    if (h.count_in(i) != 0) b.push_back({i, h.count_in(i)});
  }
  j["buckets"] = std::move(b);  // [bucket index, count]: the raw counts, for exact merges
  return j;
}

bool histogram_from_json(const nlohmann::json& j, histogram& h, std::string& why) {
  h.reset();
  try {
    std::uint64_t total = 0;
    for (const auto& b : j.at("buckets")) {
      const auto i = b.at(0).get<std::size_t>();
      const auto c = b.at(1).get<std::uint64_t>();
      if (i >= histogram::bucket_count) {
        why = "a histogram bucket out of range";
        return false;
      }
      h.restore(i, c);
      total += c;
    }
    if (total != j.at("count").get<std::uint64_t>()) {
      why = "a histogram's buckets do not add up to its count";
      return false;
    }
    if (total != 0) h.restore_extremes(j.at("min").get<std::uint64_t>(), j.at("max"));
  } catch (const std::exception& e) {
    why = std::string("a histogram: ") + e.what();
    return false;
  }
  return true;
}

namespace {

double us(std::uint64_t ns) {
  return std::round(static_cast<double>(ns) / 100.0) / 10.0;
}

nlohmann::ordered_json step_json(const step_result& s) {
  nlohmann::ordered_json j;
  j["rate"] = s.rate;
  j["achieved"] = std::round(s.achieved);
  j["value_us"] = s.value_us;
  j["p99_us"] = s.p99_us;
  j["max_us"] = s.max_us;
  j["overloaded"] = s.overloaded;
  j["late"] = s.late;
  j["pass"] = s.pass;
  return j;
}

}  // namespace

nlohmann::ordered_json to_json(const run_record& r) {
  nlohmann::ordered_json j;
  j["format"] = "remit-load run 1";
  j["commands"] = r.commands;
  j["machine"] = r.machine;
  j["date"] = r.date;
  j["target"] = r.target;
  j["workload"] = r.workload;
  j["load"] = r.load;
  j["processes"] = r.processes;
  j["transfers"] = r.transfers;
  j["sends"] = r.sends;
  j["late"] = r.late;
  j["late_after_us"] = r.late_after_us;
  j["overloaded"] = r.overloaded;
  j["elapsed_s"] = r.elapsed_s;
  j["start_epoch_s"] = r.start_epoch_s;
  j["conserved"] = r.conserved;
  j["codes"] = r.codes;
  j["latency"] = histogram_json(*r.latency);
  j["lateness"] = histogram_json(*r.lateness);
  nlohmann::ordered_json secs = nlohmann::ordered_json::array();
  for (const second_stats& s : r.seconds) {
    nlohmann::ordered_json x;
    x["offered"] = s.offered;
    x["late"] = s.late;
    x["answered"] = s.answered;
    x["refused"] = s.refused;
    x["overloaded"] = s.overloaded;
    x["codes"] = s.codes;
    x["latency"] = histogram_json(*s.latency);
    secs.push_back(std::move(x));
  }
  j["seconds"] = std::move(secs);
  if (r.find_max) {
    nlohmann::ordered_json f;
    f["slo"] = r.find_max->slo;
    f["bound_us"] = r.find_max->bound_us;
    f["rate"] = r.find_max->rate;
    f["verdict"] = r.find_max->verdict;
    f["steps"] = nlohmann::ordered_json::array();
    for (const auto& s : r.find_max->steps) f["steps"].push_back(step_json(s));
    j["find_max"] = std::move(f);
  }
  return j;
}

bool from_json(const nlohmann::json& j, run_record& r, std::string& why) {
  try {
    if (j.at("format") != "remit-load run 1") {
      why = "not a remit-load run (format " + j.at("format").dump() + ")";
      return false;
    }
    r.commands = j.at("commands").get<std::vector<std::string>>();
    r.machine = j.at("machine");
    r.date = j.at("date");
    r.target = j.at("target");
    r.workload = j.at("workload");
    r.load = j.at("load");
    r.processes = j.at("processes");
    r.transfers = j.at("transfers");
    r.sends = j.at("sends");
    r.late = j.at("late");
    r.late_after_us = j.at("late_after_us");
    r.overloaded = j.at("overloaded");
    r.elapsed_s = j.at("elapsed_s");
    r.start_epoch_s = j.value("start_epoch_s", 0.0);
    r.conserved = j.at("conserved");
    r.codes = j.at("codes").get<std::map<std::string, std::uint64_t>>();
    if (!histogram_from_json(j.at("latency"), *r.latency, why)) return false;
    if (!histogram_from_json(j.at("lateness"), *r.lateness, why)) return false;
    r.seconds.clear();
    for (const auto& x : j.at("seconds")) {
      if (r.seconds.size() >= seconds_recorded_max) break;
      second_stats s;
      s.offered = x.at("offered");
      s.late = x.at("late");
      s.answered = x.at("answered");
      s.refused = x.at("refused");
      s.overloaded = x.at("overloaded");
      s.codes = x.at("codes").get<std::map<std::string, std::uint64_t>>();
      if (!histogram_from_json(x.at("latency"), *s.latency, why)) return false;
      r.seconds.push_back(std::move(s));
    }
    if (j.contains("find_max")) {
      const auto& f = j["find_max"];
      find_max_result m;
      m.slo = f.at("slo");
      m.bound_us = f.value("bound_us", 0.0);
      m.rate = f.at("rate");
      m.verdict = f.at("verdict");
      for (const auto& x : f.at("steps")) {
        step_result s;
        s.rate = x.at("rate");
        s.achieved = x.at("achieved");
        s.value_us = x.at("value_us");
        s.p99_us = x.at("p99_us");
        s.max_us = x.at("max_us");
        s.overloaded = x.at("overloaded");
        s.late = x.at("late");
        s.pass = x.at("pass");
        m.steps.push_back(s);
      }
      r.find_max = std::move(m);
    }
  } catch (const std::exception& e) {
    why = std::string("run.json: ") + e.what();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// HdrHistogram text

namespace {

// The percentile levels HdrHistogram's outputPercentileDistribution reports (5 ticks per
// half distance), as (value ns, percentile in [0, 1], count at or below). The last is 1.0.
struct level {
  std::uint64_t value;
  double percentile;
  std::uint64_t count;
};

std::vector<level> percentile_levels(const histogram& h) {
  std::vector<level> out;
  const std::uint64_t total = h.count();
  if (total == 0) return out;
  constexpr int ticks_per_half = 5;
  double to = 0;  // percent
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < histogram::bucket_count && seen < total; ++i) {
    const std::uint64_t c = h.count_in(i);
    if (c == 0) continue;
    seen += c;
    const std::uint64_t value = std::clamp(histogram::highest_of(i), h.min(), h.max());
    const double at = 100.0 * static_cast<double>(seen) / static_cast<double>(total);
    // Every level this bucket reaches, at most 200 in all (levels approach 100 geometrically).
    while (to <= at && seen < total && out.size() < 200) {
      out.push_back({value, to / 100.0, seen});
      const double half = std::floor(std::log2(100.0 / (100.0 - to))) + 1;
      to += 100.0 / (ticks_per_half * std::pow(2.0, half));
    }
    if (seen == total) out.push_back({h.max(), 1.0, total});
  }
  return out;
}

}  // namespace

std::string hgrm(const histogram& h) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)");
  out += line;
  for (const level& l : percentile_levels(h)) {
    const double v = static_cast<double>(l.value) / 1e3;
    if (l.percentile < 1.0) {
      std::snprintf(line, sizeof line, "%12.3f %2.12f %10llu %14.2f\n", v, l.percentile,
                    static_cast<unsigned long long>(l.count), 1.0 / (1.0 - l.percentile));
    } else {
      std::snprintf(line, sizeof line, "%12.3f %2.12f %10llu\n", v, l.percentile,
                    static_cast<unsigned long long>(l.count));
    }
    out += line;
  }
  // Standard deviation from the bucket midpoints, like the mean.
  double var = 0;
  const double mean = h.mean();
  for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
    if (h.count_in(i) == 0) continue;
    const double mid = (static_cast<double>(histogram::lowest_of(i)) +
                        static_cast<double>(histogram::highest_of(i))) /
                       2.0;
    var += (mid - mean) * (mid - mean) * static_cast<double>(h.count_in(i));
  }
  const double sd = h.count() == 0 ? 0.0 : std::sqrt(var / static_cast<double>(h.count()));
  std::snprintf(line, sizeof line, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean / 1e3,
                sd / 1e3);
  out += line;
  std::snprintf(line, sizeof line, "#[Max     = %12.3f, Total count    = %12llu]\n",
                static_cast<double>(h.max()) / 1e3, static_cast<unsigned long long>(h.count()));
  out += line;
  std::snprintf(line, sizeof line, "#[Buckets = %12d, SubBuckets     = %12zu]\n",
                histogram::octave_max + 1, histogram::exact_count);
  out += line;
  return out;
}

// HdrHistogram's V2 encoding of `h`, compressed and in base64, as its interval logs carry
// it. remit's histogram has HdrHistogram's bucket layout for 2 significant digits and a
// lowest discernible value of 1 (256 exact values, then 128 sub-buckets per octave), so its
// counts array is HdrHistogram's, index for index, up to value_max.
//   uncompressed: cookie 0x1c849313, payload length, normalizing index offset 0, significant
//   digits 2, lowest 1, highest value_max, conversion ratio 1.0 (all big-endian), then the
//   counts up to the largest value as ZigZag LEB128, a run of zeros as minus its length;
//   compressed: cookie 0x1c849314, length, the zlib (deflate) stream of the above.
std::string hdr_compressed_base64(const histogram& h) {
  std::vector<std::uint8_t> payload;
  const auto put = [&](std::int64_t v) {
    std::uint64_t z = (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
    for (int i = 0; i < 8 && z >= 0x80; ++i) {
      payload.push_back(static_cast<std::uint8_t>((z & 0x7f) | 0x80));
      z >>= 7;
    }
    payload.push_back(static_cast<std::uint8_t>(z));  // the 9th byte, if any, holds 8 bits
  };
  const std::size_t limit = h.count() == 0 ? 0 : histogram::bucket_of(h.max()) + 1;
  for (std::size_t i = 0; i < limit;) {
    const std::uint64_t c = h.count_in(i++);
    if (c != 0) {
      put(static_cast<std::int64_t>(c));
      continue;
    }
    std::int64_t zeros = 1;
    while (i < limit && h.count_in(i) == 0) ++zeros, ++i;
    put(zeros > 1 ? -zeros : 0);
  }
  std::vector<std::uint8_t> raw;
  const auto be = [](std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
  };
  be(raw, 0x1c849303u | 0x10u, 4);
  be(raw, payload.size(), 4);
  be(raw, 0, 4);  // normalizing index offset
  be(raw, 2, 4);  // significant value digits
  be(raw, 1, 8);  // lowest discernible value
  be(raw, histogram::value_max, 8);
  be(raw, std::bit_cast<std::uint64_t>(1.0), 8);
  raw.insert(raw.end(), payload.begin(), payload.end());
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::vector<std::uint8_t> z(zlen);
  const int rc = compress2(z.data(), &zlen, raw.data(), static_cast<uLong>(raw.size()), 6);
  REMIT_ASSERT(rc == Z_OK);
  z.resize(zlen);
  std::vector<std::uint8_t> framed;
  be(framed, 0x1c849304u | 0x10u, 4);
  be(framed, z.size(), 4);
  framed.insert(framed.end(), z.begin(), z.end());
  static constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < framed.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{framed[i]} << 16) |
                            (i + 1 < framed.size() ? std::uint32_t{framed[i + 1]} << 8 : 0) |
                            (i + 2 < framed.size() ? std::uint32_t{framed[i + 2]} : 0);
    out += b64[(n >> 18) & 63];
    out += b64[(n >> 12) & 63];
    out += i + 1 < framed.size() ? b64[(n >> 6) & 63] : '=';
    out += i + 2 < framed.size() ? b64[n & 63] : '=';
  }
  return out;
}

std::string interval_log(const run_record& r) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "#[Logged with remit-load: latency in ns, one interval per second of the load]\n"
                "#[Histogram log format version 1.3]\n"
                "#[StartTime: %.3f (seconds since epoch), %s]\n",
                r.start_epoch_s, r.date.c_str());
  std::string out = buf;
  out +=
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  for (std::size_t i = 0; i < r.seconds.size(); ++i) {
    const histogram& h = *r.seconds[i].latency;
    // Interval_Max in milliseconds, HdrHistogram's default unit ratio for nanosecond values.
    std::snprintf(buf, sizeof buf, "%zu.000,1.000,%.3f,", i, static_cast<double>(h.max()) / 1e6);
    out += buf;
    out += hdr_compressed_base64(h);
    out += "\n";
  }
  return out;
}

std::string seconds_csv(const run_record& r) {
  std::map<std::string, bool> names;
  for (const second_stats& s : r.seconds)
    for (const auto& [k, v] : s.codes) names[k] = true;
  std::string out =
      "second,offered_per_s,achieved_per_s,p50_us,p99_us,p999_us,max_us,late,overloaded,"
      "refused";
  for (const auto& [k, v] : names) out += "," + k;
  out += "\n";
  char buf[256];
  for (std::size_t i = 0; i < r.seconds.size(); ++i) {
    const second_stats& s = r.seconds[i];
    const histogram& h = *s.latency;
    std::snprintf(
        buf, sizeof buf, "%zu,%llu,%llu,%.1f,%.1f,%.1f,%.1f,%llu,%llu,%llu", i,
        static_cast<unsigned long long>(s.offered), static_cast<unsigned long long>(s.answered),
        us(h.percentile(50)), us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()),
        static_cast<unsigned long long>(s.late), static_cast<unsigned long long>(s.overloaded),
        static_cast<unsigned long long>(s.refused));
    out += buf;
    for (const auto& [k, v] : names) {
      const auto it = s.codes.find(k);
      out += "," + std::to_string(it == s.codes.end() ? 0 : it->second);
    }
    out += "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// HTML

namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  char buf[48];
  if (std::abs(v) >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  } else if (std::abs(v) >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.4g", v);
  }
  return buf;
}

struct series {
  std::string id;  // data-series
  std::string color;
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
  bool markers = false;
  bool line = true;  // false: markers only
};

// An axis: linear or log10, over [lo, hi].
struct axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::string label;
  double map(double v) const {
    if (log) {
      v = std::log10(std::max(v, 1e-12));
      const double a = std::log10(lo), b = std::log10(hi);
      return b > a ? (v - a) / (b - a) : 0.0;
    }
    return hi > lo ? (v - lo) / (hi - lo) : 0.0;
  }
  // At most ticks_max ticks, counted in integers: a double loop counter that starts at 0
  // (log10 of lo <= 0) never grows by *= 10, and one that grows by += step drifts.
  static constexpr int ticks_max = 12;
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      // The powers of ten in [lo, hi]; lo and hi clamped as map() clamps values.
      const double e_lo = std::floor(std::log10(std::max(lo, 1e-12)));
      const double e_hi = std::ceil(std::log10(std::max(hi, 1e-12)));
      for (int i = 0; i < 2 * ticks_max && e_lo + i <= e_hi; ++i) {
        const double v = std::pow(10.0, e_lo + i);
        if (v >= lo * 0.9999 && v <= hi * 1.0001) t.push_back(v);
      }
    } else {
      const double step = std::pow(10.0, std::floor(std::log10(std::max(hi - lo, 1e-9)))) *
                          ((hi - lo) / std::pow(10.0, std::floor(std::log10(hi - lo))) > 5 ? 2 : 1);
      const double first = std::ceil(lo / step) * step;
      for (int i = 0; i < ticks_max; ++i) {
        const double v = first + i * step;
        if (v > hi + step * 1e-6) break;
        t.push_back(v);
      }
    }
    return t;
  }
};

axis fit(const std::vector<series>& ss, bool x, bool log, std::string label) {
  axis a;
  a.log = log;
  a.label = std::move(label);
  double lo = 1e300, hi = -1e300;
  for (const auto& s : ss)
    for (const auto& p : s.points) {
      const double v = x ? p.first : p.second;
      if (log && v <= 0) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  if (lo > hi) lo = 0, hi = 1;
  if (log) {
    a.lo = std::pow(10.0, std::floor(std::log10(lo)));
    a.hi = std::pow(10.0, std::ceil(std::log10(hi * 1.0001)));
  } else {
    a.lo = x ? lo : std::min(0.0, lo);
    a.hi = hi > a.lo ? hi * (x ? 1.0 : 1.1) : a.lo + 1;
  }
  return a;
}

// One chart: a plot area (class "plot", a light fill the screenshot test looks for) with
// axes, ticks and every series as a polyline.
std::string chart(const std::string& id, const std::string& title, const axis& xa, const axis& ya,
                  const std::vector<series>& ss, const std::string& x_tick_suffix = "") {
  constexpr double w = 760, h = 300, left = 70, right = 20, top = 30, bottom = 45;
  const double pw = w - left - right, ph = h - top - bottom;
  std::ostringstream o;
  o << "<svg id=\"" << id << "\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
    << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h << "\">\n";
  o << "<text x=\"" << left << "\" y=\"18\" class=\"title\">" << escape(title) << "</text>\n";
  o << "<rect class=\"plot\" x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw
    << "\" height=\"" << ph << "\" fill=\"#f4f6fb\" stroke=\"#c8ccd6\"/>\n";
  for (double t : xa.ticks()) {
    const double x = left + xa.map(t) * pw;
    o << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\"" << top + ph
      << "\" stroke=\"#e0e3ea\"/>";
    o << "<text x=\"" << x << "\" y=\"" << top + ph + 16 << "\" text-anchor=\"middle\">"
      << escape(num(t) + x_tick_suffix) << "</text>\n";
  }
  for (double t : ya.ticks()) {
    const double y = top + ph - ya.map(t) * ph;
    o << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << left + pw << "\" y2=\"" << y
      << "\" stroke=\"#e0e3ea\"/>";
    o << "<text x=\"" << left - 6 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">"
      << escape(num(t)) << "</text>\n";
  }
  o << "<text x=\"" << left + pw / 2 << "\" y=\"" << h - 6 << "\" text-anchor=\"middle\">"
    << escape(xa.label) << "</text>\n";
  o << "<text x=\"14\" y=\"" << top + ph / 2
    << "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " << top + ph / 2 << ")\">"
    << escape(ya.label) << "</text>\n";
  const auto clampf = [](double v) { return std::clamp(v, 0.0, 1.0); };
  double legend_x = left + pw - 10;
  for (auto it = ss.rbegin(); it != ss.rend(); ++it) {
    const series& s = *it;
    o << "<polyline data-series=\"" << s.id << "\" fill=\"none\" stroke=\"" << s.color
      << "\" stroke-width=\"2.5\"" << (s.dashed ? " stroke-dasharray=\"6 4\"" : "")
      << (s.line ? "" : " stroke-opacity=\"0\"") << " points=\"";
    for (const auto& [px, py] : s.points) {
      if ((xa.log && px <= 0) || (ya.log && py <= 0)) continue;
      o << left + clampf(xa.map(px)) * pw << "," << top + ph - clampf(ya.map(py)) * ph << " ";
    }
    o << "\"/>\n";
    if (s.markers) {
      for (const auto& [px, py] : s.points) {
        o << "<circle cx=\"" << left + clampf(xa.map(px)) * pw << "\" cy=\""
          << top + ph - clampf(ya.map(py)) * ph << "\" r=\"4\" fill=\"" << s.color << "\"/>";
      }
      o << "\n";
    }
    legend_x -= 8.0 * static_cast<double>(s.id.size()) + 24;
    o << "<rect x=\"" << legend_x << "\" y=\"" << top + 6 << "\" width=\"12\" height=\"4\" fill=\""
      << s.color << "\"/><text x=\"" << legend_x + 16 << "\" y=\"" << top + 12 << "\">" << s.id
      << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

std::string codes_chart(const run_record& r) {
  std::vector<std::pair<std::string, std::uint64_t>> codes(r.codes.begin(), r.codes.end());
  std::sort(codes.begin(), codes.end(), [](auto& a, auto& b) { return a.second > b.second; });
  const double rows = std::max<double>(static_cast<double>(codes.size()), 1);
  const double w = 760, row_h = 24, left = 300, top = 30;
  const double h = top + rows * row_h + 20;
  std::uint64_t most = 1;
  for (const auto& c : codes) most = std::max(most, c.second);
  std::ostringstream o;
  o << "<svg id=\"codes\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w
    << "\" height=\"" << h << "\" viewBox=\"0 0 " << w << " " << h << "\">\n";
  o << "<text x=\"10\" y=\"18\" class=\"title\">Result codes (events, log scale)</text>\n";
  o << "<rect class=\"plot\" x=\"" << left << "\" y=\"" << top << "\" width=\"" << w - left - 20
    << "\" height=\"" << rows * row_h << "\" fill=\"#f4f6fb\" stroke=\"#c8ccd6\"/>\n";
  const double span = std::log10(static_cast<double>(most)) + 1;
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const double y = top + static_cast<double>(i) * row_h;
    const double frac = (std::log10(static_cast<double>(codes[i].second)) + 1) / span;
    const double bw = std::max(frac * (w - left - 120), 2.0);
    o << "<text x=\"" << left - 8 << "\" y=\"" << y + 16 << "\" text-anchor=\"end\">"
      << escape(codes[i].first) << "</text>";
    o << "<rect data-series=\"codes\" x=\"" << left << "\" y=\"" << y + 4 << "\" width=\"" << bw
      << "\" height=\"" << row_h - 8 << "\" fill=\""
      << (codes[i].first == "ok" ? "#9467bd" : "#e377c2") << "\"/>";
    o << "<text x=\"" << left + bw + 6 << "\" y=\"" << y + 16 << "\">" << codes[i].second
      << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

}  // namespace

std::string html(const run_record& r) {
  const histogram& h = *r.latency;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
       "<meta charset=\"utf-8\"/>\n<title>remit-load report</title>\n<style>\n"
       "body { font-family: sans-serif; margin: 16px; color: #222; background: #ffffff; }\n"
       "svg text { font-size: 12px; fill: #333; }\n"
       "svg text.title { font-size: 14px; font-weight: bold; }\n"
       "table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: right; }\n"
       "th { border-bottom: 1px solid #999; } td.l, th.l { text-align: left; }\n"
       "code { background: #f2f2f2; padding: 1px 4px; }\n"
       ".fail { color: #b00; } .pass { color: #070; }\n"
       "</style>\n</head>\n<body>\n";
  o << "<h1>remit-load report</h1>\n";
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "%llu transfers in %.2f s; latency us p50 %.1f, p99 %.1f, p99.9 %.1f, max %.1f "
                "(from each batch's due time in an open loop)",
                static_cast<unsigned long long>(r.transfers), r.elapsed_s, us(h.percentile(50)),
                us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()));
  o << "<p id=\"summary\">" << escape(buf) << "</p>\n";
  std::snprintf(buf, sizeof buf,
                "%llu of %llu sends late (more than %.0f us after due); lateness us p50 %.1f, "
                "p99 %.1f, max %.1f; %llu overloaded answers; money conserved: %s",
                static_cast<unsigned long long>(r.late), static_cast<unsigned long long>(r.sends),
                r.late_after_us, us(r.lateness->percentile(50)), us(r.lateness->percentile(99)),
                us(r.lateness->max()), static_cast<unsigned long long>(r.overloaded),
                r.conserved ? "yes" : "NO");
  o << "<p id=\"sends\">" << escape(buf) << "</p>\n";
  if (r.find_max) {
    const find_max_result& f = *r.find_max;
    o << "<h2>--find-max</h2>\n<p id=\"verdict\"><b>" << escape(f.verdict) << "</b></p>\n";
    o << "<table id=\"steps\"><tr><th>step</th><th>offered/s</th><th>achieved/s</th><th>"
      << escape(f.slo.substr(0, f.slo.find(' '))) << " us</th><th>p99 us</th><th>max us</th>"
      << "<th>overloaded</th><th>late</th><th class=\"l\">verdict</th></tr>\n";
    for (std::size_t i = 0; i < f.steps.size(); ++i) {
      const step_result& s = f.steps[i];
      std::snprintf(buf, sizeof buf,
                    "<tr><td>%zu</td><td>%.0f</td><td>%.0f</td><td>%.1f</td><td>%.1f</td><td>%.1f"
                    "</td><td>%llu</td><td>%llu</td><td class=\"l %s\">%s</td></tr>\n",
                    i + 1, s.rate, s.achieved, s.value_us, s.p99_us, s.max_us,
                    static_cast<unsigned long long>(s.overloaded),
                    static_cast<unsigned long long>(s.late), s.pass ? "pass" : "fail",
                    s.pass ? "within" : "over");
      o << buf;
    }
    o << "</table>\n";
    // Each step a dot (runs of one rate repeated), the bound a dashed line.
    std::vector<series> ss(2);
    ss[0] = {"steps", "#17becf", {}, false, true, false};
    ss[1] = {"bound", "#7f7f7f", {}, true, false, true};
    double lo = 1e300, hi = 0;
    for (const auto& s : f.steps) {
      ss[0].points.push_back({s.rate, std::max(s.value_us, 0.1)});
      lo = std::min(lo, s.rate);
      hi = std::max(hi, s.rate);
    }
    if (f.bound_us > 0 && hi > 0) ss[1].points = {{lo, f.bound_us}, {hi, f.bound_us}};
    if (ss[1].points.empty()) ss.pop_back();
    axis xa = fit(ss, true, false, "offered transfers/s");
    axis ya = fit(ss, false, true, f.slo.substr(0, f.slo.find(' ')) + " us (log)");
    o << chart("find-max", "--find-max steps: " + f.slo, xa, ya, ss);
  }

  // The percentile curve: x = 1/(1-p) on a log axis, y = latency on a log axis.
  {
    std::vector<series> ss(1);
    ss[0] = {"percentile", "#1f77b4", {}, false, false};
    for (const level& l : percentile_levels(h)) {
      const double x = l.percentile < 1.0 ? 1.0 / (1.0 - l.percentile) : 0;
      if (x >= 1.0) ss[0].points.push_back({x, std::max(static_cast<double>(l.value) / 1e3, 0.1)});
    }
    if (ss[0].points.empty()) ss[0].points.push_back({1, 0.1});
    axis xa = fit(ss, true, true, "percentile (log: 10 = 90%, 100 = 99%, 1000 = 99.9%)");
    axis ya = fit(ss, false, true, "latency us (log)");
    o << "<h2>Latency by percentile</h2>\n"
      << chart("percentiles", "Latency by percentile", xa, ya, ss);
  }
  // Throughput and latency over time.
  {
    std::vector<series> tp(2);
    tp[0] = {"offered", "#7f7f7f", {}, true, false};
    tp[1] = {"achieved", "#2ca02c", {}, false, false};
    std::vector<series> lat(2);
    lat[0] = {"p99", "#d62728", {}, false, false};
    lat[1] = {"p50", "#ff7f0e", {}, false, false};
    for (std::size_t i = 0; i < r.seconds.size(); ++i) {
      const second_stats& s = r.seconds[i];
      const double t = static_cast<double>(i) + 0.5;
      tp[0].points.push_back({t, static_cast<double>(s.offered)});
      tp[1].points.push_back({t, static_cast<double>(s.answered)});
      if (s.latency->count() != 0) {
        lat[0].points.push_back({t, std::max(us(s.latency->percentile(99)), 0.1)});
        lat[1].points.push_back({t, std::max(us(s.latency->percentile(50)), 0.1)});
      }
    }
    if (r.seconds.empty()) {
      tp[0].points.push_back({0, 0});
      tp[1].points.push_back({0, 0});
    }
    if (lat[0].points.empty()) lat[0].points.push_back({0, 0.1}), lat[1].points.push_back({0, 0.1});
    o << "<h2>Over time</h2>\n";
    o << chart("throughput", "Transfers per second: offered (due) and achieved (answered)",
               fit(tp, true, false, "seconds into the load"), fit(tp, false, false, "transfers/s"),
               tp);
    o << chart("latency-over-time", "Latency per second, p50 and p99",
               fit(lat, true, false, "seconds into the load"),
               fit(lat, false, true, "latency us (log)"), lat);
  }
  o << "<h2>Result codes</h2>\n" << codes_chart(r);
  o << "<h2>Run</h2>\n<table id=\"run\">\n";
  const auto row = [&](const std::string& k, const std::string& v) {
    o << "<tr><td class=\"l\">" << escape(k) << "</td><td class=\"l\">" << v << "</td></tr>\n";
  };
  for (const std::string& c : r.commands) row("command", "<code>" + escape(c) + "</code>");
  row("processes", std::to_string(r.processes));
  row("target", escape(r.target));
  row("workload", escape(r.workload));
  row("load", escape(r.load));
  row("machine", escape(r.machine));
  row("date", escape(r.date));
  o << "</table>\n</body>\n</html>\n";
  return o.str();
}

// ---------------------------------------------------------------------------------------
// Files

namespace {

[[nodiscard]] bool write_file(const std::filesystem::path& p, const std::string& text,
                              std::string& why) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    why = "cannot write " + p.string();
    return false;
  }
  return true;
}

}  // namespace

bool write_report(const std::string& dir, const run_record& r, std::string& why) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    why = "cannot make " + dir + ": " + ec.message();
    return false;
  }
  const std::filesystem::path d(dir);
  return write_file(d / "run.json", to_json(r).dump(1) + "\n", why) &&
         write_file(d / "latency.hgrm", hgrm(*r.latency), why) &&
         write_file(d / "latency.hlog", interval_log(r), why) &&
         write_file(d / "seconds.csv", seconds_csv(r), why) &&
         write_file(d / "report.html", html(r), why);
}

bool read_report(const std::string& dir, run_record& r, std::string& why) {
  const std::filesystem::path p = std::filesystem::path(dir) / "run.json";
  std::ifstream f(p);
  if (!f) {
    why = "cannot read " + p.string();
    return false;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    why = p.string() + ": " + e.what();
    return false;
  }
  return from_json(j, r, why);
}

std::string machine_description() {
  std::string cpu;
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  utsname u{};
  uname(&u);
  return std::string(host) + ": " + (cpu.empty() ? "unknown CPU" : cpu) + ", " +
         std::to_string(std::thread::hardware_concurrency()) + " cores, " + u.sysname + " " +
         u.release;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace remit::load
