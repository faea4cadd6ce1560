// histogram: a log-bucketed latency histogram in the manner of HdrHistogram, with two
// significant digits, for values in nanoseconds from 0 to one hour.
//
// Layout. Values below 256 have a bucket each (exact). Above, a value v with
// 2^(e+7) <= v < 2^(e+8) (e >= 1) falls into one of 128 equal sub-buckets of that power of
// two: its top 8 bits pick the bucket. Every bucket is therefore narrower than 1/128 of its
// values (< 0.8%: two significant digits), and the whole range up to 2^42 ns (73 minutes)
// takes 256 + 34 x 128 = 4608 counters. Values above `value_max` are recorded as
// `value_max`; `max()` still reports the true largest value recorded.
//
// A percentile reports the highest value of its bucket (like HdrHistogram's
// highestEquivalentValue), but never more than the largest value recorded.
//
// Does not allocate (the counters are a fixed array). Not thread-safe: give each thread its
// own histogram and `merge` them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace remit {

class histogram {
 public:
  static constexpr std::uint64_t value_max = 3600ull * 1'000'000'000ull;         // one hour in ns
  static constexpr int sub_bucket_bits = 7;                                      // 128 per octave
  static constexpr std::size_t exact_count = std::size_t{2} << sub_bucket_bits;  // 256
  static constexpr std::size_t sub_bucket_count = std::size_t{1} << sub_bucket_bits;
  static constexpr int octave_max = 34;  // 2^(34+8) = 2^42 > value_max
  static constexpr std::size_t bucket_count = exact_count + octave_max * sub_bucket_count;
  static_assert(value_max < (std::uint64_t{1} << (octave_max + sub_bucket_bits + 1)));

  void record(std::uint64_t value) { record(value, 1); }
  // Records `count` occurrences of `value` (a batch latency once per event of the batch).
  void record(std::uint64_t value, std::uint64_t count);
  void merge(const histogram& other);
  void reset() { *this = histogram{}; }

  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }  // exact
  std::uint64_t max() const { return max_; }                    // exact
  double mean() const;  // of the bucket midpoints; 0 when empty
  // The value at percentile p in [0, 100]: the smallest recorded bucket value v such that
  // at least p% of the values are <= v. p = 0 gives min(), p = 100 gives max(); 0 when empty.
  std::uint64_t percentile(double p) const;

  // The raw counts, for writing a histogram out and reading it back exactly (a report,
  // a merge of several processes' reports).
  std::uint64_t count_in(std::size_t bucket) const { return counts_[bucket]; }
  // Adds `count` to `bucket` as if that many values of it were recorded, with `min` and
  // `max` the exact extremes of what was recorded (merged with the ones already held).
  void restore(std::size_t bucket, std::uint64_t count);
  void restore_extremes(std::uint64_t min, std::uint64_t max);

  // Bucket arithmetic, public for the tests.
  static std::size_t bucket_of(std::uint64_t value);
  static std::uint64_t lowest_of(std::size_t bucket);
  static std::uint64_t highest_of(std::size_t bucket);

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
};

}  // namespace remit
