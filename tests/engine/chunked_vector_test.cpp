// chunked_vector: indexing across chunk boundaries, value-initialized appends (after a pop
// too), and elements that stay where they are while the array grows.
#include <gtest/gtest.h>

#include "engine/chunked_vector.hpp"

namespace remit {
namespace {

TEST(engine_chunked_vector, holds_every_element_across_chunks) {
  chunked_vector<std::uint64_t, 3> v;  // chunks of 8
  EXPECT_TRUE(v.empty());
  for (std::uint64_t i = 0; i < 100; ++i) v.push_back(i * i);
  ASSERT_EQ(v.size(), 100u);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(v[i], i * i) << i;
  v[57] = 7;
  EXPECT_EQ(v[57], 7u);
  EXPECT_EQ(v[56], 56u * 56u);
}

TEST(engine_chunked_vector, emplace_back_value_initializes) {
  struct pair {
    std::uint32_t a = 11;
    std::uint32_t b = 22;
  };
  chunked_vector<pair, 2> v;
  for (int i = 0; i < 9; ++i) {
    pair& p = v.emplace_back();
    EXPECT_EQ(p.a, 11u);
    EXPECT_EQ(p.b, 22u);
  }
  EXPECT_EQ(v.size(), 9u);
}

TEST(engine_chunked_vector, pop_back_then_emplace_back_gives_a_fresh_element) {
  struct pair {
    std::uint32_t a = 11;
    std::uint32_t b = 22;
  };
  chunked_vector<pair, 2> v;  // chunks of 4
  for (std::uint32_t i = 0; i < 5; ++i) v.push_back(pair{i, i});
  v.pop_back();  // the only element of the second chunk
  v.pop_back();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2].a, 2u);
  for (int i = 0; i < 2; ++i) {
    pair& p = v.emplace_back();
    EXPECT_EQ(p.a, 11u);
    EXPECT_EQ(p.b, 22u);
  }
  EXPECT_EQ(v.size(), 5u);
}

TEST(engine_chunked_vector, a_copy_is_independent) {
  chunked_vector<std::uint64_t, 2> v;  // chunks of 4
  for (std::uint64_t i = 0; i < 9; ++i) v.push_back(i);
  chunked_vector<std::uint64_t, 2> w = v;
  ASSERT_EQ(w.size(), 9u);
  for (std::uint64_t i = 0; i < 9; ++i) EXPECT_EQ(w[i], i) << i;
  w[3] = 33;
  w.push_back(9);
  EXPECT_EQ(v[3], 3u);
  EXPECT_EQ(v.size(), 9u);
  v = w;
  EXPECT_EQ(v[3], 33u);
  EXPECT_EQ(v.size(), 10u);
  EXPECT_NE(&v[0], &w[0]);
}

TEST(engine_chunked_vector, elements_do_not_move_when_it_grows) {
  chunked_vector<std::uint64_t, 4> v;
  v.push_back(1);
  const std::uint64_t* first = &v[0];
  for (std::uint64_t i = 0; i < 10'000; ++i) v.push_back(i);
  EXPECT_EQ(first, &v[0]);
  EXPECT_EQ(*first, 1u);
}

}  // namespace
}  // namespace remit
