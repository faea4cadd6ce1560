// Rate schedules (tools/load/schedule.hpp): when each event is due.
#include "tools/load/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace remit::load {
namespace {

TEST(schedule, constant_rate) {
  const schedule s = schedule::constant(2000, 10);
  EXPECT_DOUBLE_EQ(*s.due_s(0), 0);
  EXPECT_DOUBLE_EQ(*s.due_s(1), 0.0005);
  EXPECT_DOUBLE_EQ(*s.due_s(19'999), 19'999 / 2000.0);
  EXPECT_FALSE(s.due_s(20'000).has_value());
  EXPECT_DOUBLE_EQ(s.events(), 20'000);
  EXPECT_DOUBLE_EQ(s.rate_at(3), 2000);
  EXPECT_DOUBLE_EQ(s.rate_at(11), 0);
}

TEST(schedule, ramp_sends_the_integral_of_its_rate) {
  std::string why;
  const auto s = schedule::parse_ramp("1000:3000:10", why);
  ASSERT_TRUE(s) << why;
  EXPECT_DOUBLE_EQ(s->events(), 20'000);  // the mean rate 2000/s for 10 s
  // Half the events come after the time where the integral reaches 10000:
  // 1000 t + 100 t^2 = 10000 -> t = (sqrt(10^6 + 4 x 10^6) - 1000) / 200.
  EXPECT_NEAR(*s->due_s(10'000), (std::sqrt(5e6) - 1000) / 200, 1e-9);
  EXPECT_NEAR(s->rate_at(5), 2000, 1e-9);
  // Due times only go forward.
  double last = -1;
  for (double n = 0; n < 20'000; n += 7) {
    const double t = *s->due_s(n);
    EXPECT_GT(t, last);
    last = t;
  }
  const auto down = schedule::parse_ramp("5000:0:2", why);
  ASSERT_TRUE(down);
  EXPECT_DOUBLE_EQ(down->events(), 5000);
  EXPECT_LE(*down->due_s(4999.9), 2.0);
}

TEST(schedule, steps) {
  std::string why;
  const auto s = schedule::parse_steps("1000:2,4000:1", why);
  ASSERT_TRUE(s) << why;
  EXPECT_DOUBLE_EQ(s->seconds(), 3);
  EXPECT_DOUBLE_EQ(s->events(), 6000);
  EXPECT_DOUBLE_EQ(*s->due_s(1999), 1.999);
  EXPECT_DOUBLE_EQ(*s->due_s(2000), 2.0);
  EXPECT_DOUBLE_EQ(*s->due_s(2004), 2.001);
  EXPECT_EQ(s->describe(), "1000/s for 2 s, 4000/s for 1 s");
}

TEST(schedule, refuses_what_it_cannot_run) {
  std::string why;
  EXPECT_FALSE(schedule::parse_ramp("1000:2000", why));
  EXPECT_FALSE(schedule::parse_ramp("a:2000:3", why));
  EXPECT_FALSE(schedule::parse_ramp("0:0:3", why));
  EXPECT_FALSE(schedule::parse_ramp("100:200:0", why));
  EXPECT_FALSE(schedule::parse_ramp("100:200:4000", why));
  EXPECT_FALSE(schedule::parse_steps("100:1,", why));
  EXPECT_FALSE(schedule::parse_steps("100", why));
  EXPECT_FALSE(schedule::parse_steps("-5:1", why));
}

}  // namespace
}  // namespace remit::load
