#include "tools/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#include "tools/workload.hpp"

namespace remit {
namespace {

// A histogram is 37 KB: keep them off the test's stack.
std::unique_ptr<histogram> make() {
  return std::make_unique<histogram>();
}

TEST(histogram, empty) {
  const auto h = make();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 0u);
  EXPECT_EQ(h->percentile(50), 0u);
  EXPECT_EQ(h->percentile(100), 0u);
  EXPECT_EQ(h->mean(), 0.0);
}

TEST(histogram, small_values_are_exact) {
  const auto h = make();
  for (std::uint64_t v = 0; v < 256; ++v) h->record(v);
  EXPECT_EQ(h->count(), 256u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 255u);
  EXPECT_EQ(h->percentile(0), 0u);
  EXPECT_EQ(h->percentile(50), 127u);  // the 128th of 256 values
  EXPECT_EQ(h->percentile(100), 255u);
  EXPECT_DOUBLE_EQ(h->mean(), 127.5);
}

TEST(histogram, buckets_tile_the_range_with_two_significant_digits) {
  // Buckets past the one of value_max are never used (values are clamped to value_max).
  const std::size_t last = histogram::bucket_of(histogram::value_max);
  EXPECT_LT(last, histogram::bucket_count);
  for (std::size_t b = 0; b < last; ++b) {
    ASSERT_LE(histogram::lowest_of(b), histogram::highest_of(b)) << b;
    ASSERT_EQ(histogram::highest_of(b) + 1, histogram::lowest_of(b + 1)) << b;
    ASSERT_EQ(histogram::bucket_of(histogram::lowest_of(b)), b);
    ASSERT_EQ(histogram::bucket_of(histogram::highest_of(b)), b);
    // width relative to the bucket's values: under 1/128
    const std::uint64_t width = histogram::highest_of(b) - histogram::lowest_of(b) + 1;
    ASSERT_LE(width * 128, std::max<std::uint64_t>(histogram::lowest_of(b), 128)) << b;
  }
  EXPECT_GE(histogram::highest_of(last), histogram::value_max);
  EXPECT_LE(histogram::lowest_of(last), histogram::value_max);
  EXPECT_EQ(histogram::bucket_of(histogram::value_max), histogram::bucket_of(~std::uint64_t{0}));

  workload::xoshiro256 rng(7);
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t v = rng.below(histogram::value_max + 1) >> rng.below(40);
    const std::size_t b = histogram::bucket_of(v);
    ASSERT_LE(histogram::lowest_of(b), v);
    ASSERT_GE(histogram::highest_of(b), v);
  }
}

TEST(histogram, percentiles_within_one_percent) {
  const auto h = make();
  for (std::uint64_t v = 1; v <= 1'000'000; ++v) h->record(v);
  EXPECT_EQ(h->count(), 1'000'000u);
  const auto near = [](std::uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want * 0.01;
  };
  EXPECT_TRUE(near(h->percentile(50), 500'000)) << h->percentile(50);
  EXPECT_TRUE(near(h->percentile(90), 900'000)) << h->percentile(90);
  EXPECT_TRUE(near(h->percentile(99), 990'000)) << h->percentile(99);
  EXPECT_TRUE(near(h->percentile(99.9), 999'000)) << h->percentile(99.9);
  EXPECT_EQ(h->percentile(100), 1'000'000u);
  EXPECT_EQ(h->max(), 1'000'000u);
  EXPECT_EQ(h->min(), 1u);
  EXPECT_TRUE(std::abs(h->mean() - 500'000.5) < 500'000 * 0.01) << h->mean();
  // never above the largest value recorded, never below the smallest
  for (double p : {0.0, 0.001, 1.0, 33.3, 99.99, 99.9999, 100.0}) {
    EXPECT_LE(h->percentile(p), h->max());
    EXPECT_GE(h->percentile(p), h->min());
  }
}

TEST(histogram, percentile_is_monotonic_in_p) {
  const auto h = make();
  workload::xoshiro256 rng(3);
  for (int i = 0; i < 10'000; ++i) h->record(rng.below(1'000'000'000) >> rng.below(30));
  std::uint64_t last = 0;
  for (int p10 = 0; p10 <= 1000; ++p10) {
    const std::uint64_t v = h->percentile(p10 / 10.0);
    ASSERT_GE(v, last) << p10;
    last = v;
  }
}

TEST(histogram, one_value_many_times) {
  const auto h = make();
  h->record(123'456'789, 1000);
  EXPECT_EQ(h->count(), 1000u);
  EXPECT_EQ(h->percentile(1), 123'456'789u);  // clamped into [min, max]
  EXPECT_EQ(h->percentile(50), 123'456'789u);
  EXPECT_EQ(h->percentile(100), 123'456'789u);
  h->record(5, 0);  // a count of 0 records nothing
  EXPECT_EQ(h->count(), 1000u);
  EXPECT_EQ(h->min(), 123'456'789u);
}

TEST(histogram, record_with_count_equals_repeated_record) {
  const auto a = make();
  const auto b = make();
  workload::xoshiro256 rng(11);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = rng.below(10'000'000);
    const std::uint64_t n = rng.between(1, 20);
    a->record(v, n);
    for (std::uint64_t k = 0; k < n; ++k) b->record(v);
  }
  EXPECT_EQ(a->count(), b->count());
  for (double p : {0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0})
    EXPECT_EQ(a->percentile(p), b->percentile(p)) << p;
}

TEST(histogram, merge_equals_recording_into_one) {
  const auto a = make();
  const auto b = make();
  const auto all = make();
  workload::xoshiro256 rng(5);
  for (int i = 0; i < 20'000; ++i) {
    const std::uint64_t v = rng.below(50'000'000) >> rng.below(20);
    (i % 3 == 0 ? *a : *b).record(v);
    all->record(v);
  }
  a->merge(*b);
  EXPECT_EQ(a->count(), all->count());
  EXPECT_EQ(a->min(), all->min());
  EXPECT_EQ(a->max(), all->max());
  EXPECT_DOUBLE_EQ(a->mean(), all->mean());
  for (double p : {0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 100.0})
    EXPECT_EQ(a->percentile(p), all->percentile(p)) << p;

  const auto empty = make();
  a->merge(*empty);  // merging an empty one changes nothing
  EXPECT_EQ(a->count(), all->count());
  EXPECT_EQ(a->min(), all->min());
  empty->merge(*all);
  EXPECT_EQ(empty->min(), all->min());
  EXPECT_EQ(empty->percentile(50), all->percentile(50));
}

TEST(histogram, values_past_an_hour_are_clamped_but_max_is_exact) {
  const auto h = make();
  const std::uint64_t two_hours = 2 * histogram::value_max;
  h->record(1000);
  h->record(two_hours);
  EXPECT_EQ(h->max(), two_hours);
  EXPECT_EQ(h->percentile(100), two_hours);
  EXPECT_LE(h->percentile(99), two_hours);
  EXPECT_GE(h->percentile(99), histogram::value_max);
  h->reset();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->max(), 0u);
}

}  // namespace
}  // namespace remit
