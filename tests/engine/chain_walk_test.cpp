// walk_chains: table tests with a fake hook that records every call. Each row is a batch:
// per event whether it is linked and the code its apply gives; the results and the calls the
// walker must make.
#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/chain_walk.hpp"
#include "engine/types.hpp"

namespace remit {
namespace {

using tr = create_transfer_result;

constexpr std::uint16_t linked_flag = transfer_flags::linked;
constexpr std::uint64_t exists_ts = 7;  // the original's timestamp, answered for exists

struct event {
  std::uint16_t flags;
  tr code;  // what apply gives
};
event alone(tr code = tr::ok) {
  return event{0, code};
}
event link(tr code = tr::ok) {
  return event{linked_flag, code};
}

// The timestamp the hook gives event i.
std::uint64_t ts_of(std::size_t i) {
  return 1000 + i;
}

// Records "begin", "apply <i>" or "apply <i> chained", and "rollback".
struct fake_hooks {
  std::vector<std::string>* calls;
  void begin_chain() { calls->push_back("begin"); }
  tr apply(const event& e, std::size_t index, bool chained, std::uint64_t& ts_out) {
    calls->push_back("apply " + std::to_string(index) + (chained ? " chained" : ""));
    if (e.code == tr::ok) ts_out = ts_of(index);
    if (e.code == tr::exists) ts_out = exists_ts;
    return e.code;
  }
  void rollback() { calls->push_back("rollback"); }
};

struct want {
  tr code;
  std::uint64_t ts;
};

struct row {
  std::string name;
  std::vector<event> events;
  std::vector<want> results;
  std::vector<std::string> calls;
};

void PrintTo(const row& r, std::ostream* os) {
  *os << r.name;
}

class engine_chain_walk : public ::testing::TestWithParam<row> {};

TEST_P(engine_chain_walk, results_and_calls) {
  const row& r = GetParam();
  std::vector<std::string> calls;
  // One slot more than events: the walker writes only the slots of the events.
  std::vector<result> out(r.events.size() + 1, result{99, 0, 99});
  walk_chains<tr>(std::span<const event>(r.events), linked_flag,
                  std::span(out).first(r.events.size()), fake_hooks{&calls});
  ASSERT_EQ(r.results.size(), r.events.size());
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    EXPECT_EQ(out[i].status, static_cast<std::uint32_t>(r.results[i].code)) << "event " << i;
    EXPECT_EQ(out[i].reserved, 0u) << "event " << i;
    EXPECT_EQ(out[i].timestamp, r.results[i].ts) << "event " << i;
  }
  EXPECT_EQ(out.back().status, 99u);
  EXPECT_EQ(calls, r.calls);
}

const tr ok = tr::ok;
const tr failed = tr::linked_event_failed;
const tr open = tr::linked_event_chain_open;
const tr exceeds = tr::exceeds_credits;
const tr exists = tr::exists;

INSTANTIATE_TEST_SUITE_P(
    rows, engine_chain_walk,
    ::testing::Values(row{"single_events_apply_alone_and_keep_their_codes",
                          {alone(), alone(exceeds), alone(exists), alone()},
                          {{ok, 1000}, {exceeds, 0}, {exists, exists_ts}, {ok, 1003}},
                          {"apply 0", "apply 1", "apply 2", "apply 3"}},
                      row{"chain_that_succeeds",
                          {link(), link(), alone()},
                          {{ok, 1000}, {ok, 1001}, {ok, 1002}},
                          {"begin", "apply 0 chained", "apply 1 chained", "apply 2 chained"}},
                      row{"chain_that_breaks_in_the_middle",
                          {alone(), link(), link(), link(exceeds), link(), alone(), alone()},
                          {{ok, 1000},
                           {failed, 0},
                           {failed, 0},
                           {exceeds, 0},
                           {failed, 0},
                           {failed, 0},
                           {ok, 1006}},
                          {"apply 0", "begin", "apply 1 chained", "apply 2 chained",
                           "apply 3 chained", "rollback", "apply 6"}},
                      row{"chain_whose_first_event_fails",
                          {link(exceeds), alone()},
                          {{exceeds, 0}, {failed, 0}},
                          {"begin", "apply 0 chained", "rollback"}},
                      row{"chain_whose_last_event_fails",
                          {link(), alone(exceeds), alone()},
                          {{failed, 0}, {exceeds, 0}, {ok, 1002}},
                          {"begin", "apply 0 chained", "apply 1 chained", "rollback", "apply 2"}},
                      row{"open_chain_at_the_end_fails_whole_unapplied",
                          {alone(), link(), link(), link()},
                          {{ok, 1000}, {failed, 0}, {failed, 0}, {open, 0}},
                          {"apply 0"}},
                      row{"last_event_linked_alone_is_an_open_chain",
                          {alone(), link()},
                          {{ok, 1000}, {open, 0}},
                          {"apply 0"}},
                      row{"exists_in_a_chain_breaks_it_and_keeps_the_original_timestamp",
                          {link(), link(exists), alone()},
                          {{failed, 0}, {exists, exists_ts}, {failed, 0}},
                          {"begin", "apply 0 chained", "apply 1 chained", "rollback"}},
                      row{"two_chains_back_to_back_the_first_fails",
                          {link(), alone(exceeds), link(), alone()},
                          {{failed, 0}, {exceeds, 0}, {ok, 1002}, {ok, 1003}},
                          {"begin", "apply 0 chained", "apply 1 chained", "rollback", "begin",
                           "apply 2 chained", "apply 3 chained"}},
                      row{"two_chains_back_to_back_the_second_fails",
                          {link(), alone(), link(), alone(exceeds)},
                          {{ok, 1000}, {ok, 1001}, {failed, 0}, {exceeds, 0}},
                          {"begin", "apply 0 chained", "apply 1 chained", "begin",
                           "apply 2 chained", "apply 3 chained", "rollback"}},
                      row{"empty_batch", {}, {}, {}}),
    [](const ::testing::TestParamInfo<row>& p) { return p.param.name; });

}  // namespace
}  // namespace remit
