// remit-load's reading of answers to a resent request (tools/load/resend.hpp): `exists` from
// an earlier send of the same request is done; a chain created by the earlier send answers
// `exists` and then `linked_event_failed`, and is done whole; anything else stays.
#include <gtest/gtest.h>

#include <vector>

#include "tools/load/resend.hpp"

namespace remit::load {
namespace {

constexpr auto ok = static_cast<std::uint32_t>(create_transfer_result::ok);
constexpr auto exists = static_cast<std::uint32_t>(create_transfer_result::exists);
constexpr auto link_failed =
    static_cast<std::uint32_t>(create_transfer_result::linked_event_failed);
constexpr auto exceeds = static_cast<std::uint32_t>(create_transfer_result::exceeds_credits);
constexpr auto already = static_cast<std::uint32_t>(create_transfer_result::id_already_failed);

transfer event(bool linked) {
  transfer t{};
  t.flags = linked ? transfer_flags::linked : 0;
  return t;
}

std::vector<result> results_of(const std::vector<std::uint32_t>& codes) {
  std::vector<result> r;
  for (std::uint32_t c : codes) r.push_back(result{c, 0, c == exists ? 99u : 0u});
  return r;
}

std::vector<std::uint32_t> codes_of(const std::vector<result>& r) {
  std::vector<std::uint32_t> c;
  for (const result& x : r) c.push_back(x.status);
  return c;
}

TEST(count_resent_as_done, single_transfers_that_exist_are_done) {
  const std::vector<transfer> events{event(false), event(false), event(false), event(false)};
  auto r = results_of({exists, ok, already, exceeds});
  EXPECT_EQ(count_resent_as_done(events, r), 1u);
  EXPECT_EQ(codes_of(r), (std::vector<std::uint32_t>{ok, ok, already, exceeds}));
  EXPECT_EQ(r[0].timestamp, 99u);  // the original's
  // Without the events (no chain in the batch) the same.
  auto r2 = results_of({exists, exists});
  EXPECT_EQ(count_resent_as_done({}, r2), 2u);
  EXPECT_EQ(codes_of(r2), (std::vector<std::uint32_t>{ok, ok}));
}

TEST(count_resent_as_done, a_chain_created_before_is_done_whole) {
  // [0 1 2] a chain created by the earlier send; 3 alone, exists; [4 5] a chain whose second
  // event fails now (its first answers linked_event_failed: not the earlier send's).
  const std::vector<transfer> events{event(true),  event(true), event(false),
                                     event(false), event(true), event(false)};
  auto r = results_of({exists, link_failed, link_failed, exists, link_failed, exceeds});
  EXPECT_EQ(count_resent_as_done(events, r), 4u);
  EXPECT_EQ(codes_of(r), (std::vector<std::uint32_t>{ok, ok, ok, ok, link_failed, exceeds}));
}

TEST(count_resent_as_done, a_chain_with_another_failure_stays) {
  // exists on the first event but a later one answers its own code: not a chain the earlier
  // send created whole.
  const std::vector<transfer> events{event(true), event(false)};
  auto r = results_of({exists, exceeds});
  EXPECT_EQ(count_resent_as_done(events, r), 0u);
  EXPECT_EQ(codes_of(r), (std::vector<std::uint32_t>{exists, exceeds}));
  // A linked_event_failed right after a lone `exists` belongs to the next chain: it stays.
  const std::vector<transfer> e2{event(false), event(true), event(false)};
  auto r2 = results_of({exists, link_failed, exceeds});
  EXPECT_EQ(count_resent_as_done(e2, r2), 1u);
  EXPECT_EQ(codes_of(r2), (std::vector<std::uint32_t>{ok, link_failed, exceeds}));
}

}  // namespace
}  // namespace remit::load
