#include "tools/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "engine/assert.hpp"

namespace remit {

std::size_t histogram::bucket_of(std::uint64_t value) {
  value = std::min(value, value_max);
  if (value < exact_count) return static_cast<std::size_t>(value);
  // value has its top bit at position 8 + e - 1 for octave e >= 1.
  const int e = std::bit_width(value) - (sub_bucket_bits + 1);
  REMIT_ASSERT(e >= 1);
  REMIT_ASSERT(e <= octave_max);
  const std::uint64_t top = value >> e;  // in [128, 256)
  return exact_count + static_cast<std::size_t>(e - 1) * sub_bucket_count +
         static_cast<std::size_t>(top - sub_bucket_count);
}

std::uint64_t histogram::lowest_of(std::size_t bucket) {
  REMIT_ASSERT(bucket < bucket_count);
  if (bucket < exact_count) return bucket;
  const std::size_t k = bucket - exact_count;
  const int e = static_cast<int>(k / sub_bucket_count) + 1;
  const std::uint64_t top = sub_bucket_count + k % sub_bucket_count;
  return top << e;
}

std::uint64_t histogram::highest_of(std::size_t bucket) {
  REMIT_ASSERT(bucket < bucket_count);
  if (bucket < exact_count) return bucket;
  const int e = static_cast<int>((bucket - exact_count) / sub_bucket_count) + 1;
  return lowest_of(bucket) + (std::uint64_t{1} << e) - 1;
}

void histogram::record(std::uint64_t value, std::uint64_t count) {
  if (count == 0) return;
  counts_[bucket_of(value)] += count;
  count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void histogram::merge(const histogram& other) {
  for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void histogram::restore(std::size_t bucket, std::uint64_t count) {
  REMIT_ASSERT(bucket < bucket_count);
  counts_[bucket] += count;
  count_ += count;
}

void histogram::restore_extremes(std::uint64_t min, std::uint64_t max) {
  REMIT_ASSERT(min <= max);
  min_ = std::min(min_, min);
  max_ = std::max(max_, max);
}

double histogram::mean() const {
  if (count_ == 0) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    if (counts_[i] == 0) continue;
    const double mid =
        (static_cast<double>(lowest_of(i)) + static_cast<double>(highest_of(i))) / 2.0;
    sum += mid * static_cast<double>(counts_[i]);
  }
  return sum / static_cast<double>(count_);
}

std::uint64_t histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  if (p == 0.0) return min();
  if (p == 100.0) return max_;
  // The rank of the value at p: ceil(p% of count), at least 1.
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_of(i), min(), max_);
  }
  REMIT_ASSERT(false && "histogram: counts do not add up to count()");
  return max_;
}

}  // namespace remit
