// The conflict order of a batch (actors/shard/plan.hpp), as tables: for each batch, the
// units it is cut into and which earlier units each one waits for.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "actors/shard/plan.hpp"

namespace remit::actors {
namespace {

using ctr = create_transfer_result;

transfer plain(u128 id, u128 debit, u128 credit, std::uint16_t flags = 0) {
  transfer t{};
  t.id = id;
  t.debit_account_id = debit;
  t.credit_account_id = credit;
  t.amount = 1;
  t.ledger = 1;
  t.code = 1;
  t.flags = flags;
  return t;
}

transfer pending(u128 id, u128 debit, u128 credit) {
  return plain(id, debit, credit, transfer_flags::pending);
}

transfer post(u128 id, u128 pending_id, std::uint16_t flags = 0) {
  transfer t{};
  t.id = id;
  t.pending_id = pending_id;
  t.flags = static_cast<std::uint16_t>(transfer_flags::post_pending_transfer | flags);
  return t;
}

struct row {
  std::string name;
  std::vector<transfer> events;
  std::vector<ctr> alone;  // empty: every event passes its checks alone
  // Expected: each unit's first and last event, and the units it waits for.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> units;
  std::vector<std::vector<std::uint32_t>> waits_for;
};

// Who waits for whom, read back from the plan's dependents lists.
std::vector<std::vector<std::uint32_t>> waits_for(const batch_plan& p) {
  std::vector<std::vector<std::uint32_t>> w(p.units.size());
  for (std::uint32_t u = 0; u < p.units.size(); ++u)
    for (const std::uint32_t d : p.dependents_of(u)) w[d].push_back(u);
  return w;
}

batch_plan plan_of(const row& r, const id_map<pending_accounts>& existing) {
  std::vector<ctr> alone = r.alone;
  if (alone.empty()) alone.assign(r.events.size(), ctr::ok);
  return plan_batch(std::span<const transfer>(r.events), std::span<const ctr>(alone),
                    [&](u128 id) -> std::optional<pending_accounts> {
                      if (const pending_accounts* p = existing.find(id)) return *p;
                      return std::nullopt;
                    });
}

void check(const row& r, const id_map<pending_accounts>& existing = {}) {
  SCOPED_TRACE(r.name);
  const batch_plan p = plan_of(r, existing);
  ASSERT_EQ(p.units.size(), r.units.size());
  for (std::size_t u = 0; u < r.units.size(); ++u) {
    EXPECT_EQ(p.units[u].first, r.units[u].first) << "unit " << u;
    EXPECT_EQ(p.units[u].last, r.units[u].second) << "unit " << u;
    EXPECT_EQ(p.units[u].deps, r.waits_for[u].size()) << "unit " << u;
  }
  EXPECT_EQ(waits_for(p), r.waits_for);
}

TEST(PlanBatch, IndependentEventsWaitForNothing) {
  check({"disjoint accounts",
         {plain(1, 10, 11), plain(2, 12, 13), plain(3, 14, 15)},
         {},
         {{0, 0}, {1, 1}, {2, 2}},
         {{}, {}, {}}});
}

TEST(PlanBatch, SharedAccountWaitsForTheLatestEarlierUnitOnly) {
  // 2 waits for 1 only: 1 waited for 0 already, so the order is transitive.
  check({"one hot account",
         {plain(1, 10, 11), plain(2, 10, 12), plain(3, 13, 10)},
         {},
         {{0, 0}, {1, 1}, {2, 2}},
         {{}, {0}, {1}}});
  check({"credit side shared",
         {plain(1, 10, 11), plain(2, 12, 11)},
         {},
         {{0, 0}, {1, 1}},
         {{}, {0}}});
}

TEST(PlanBatch, SameIdTwiceIsOrdered) {
  check({"retry in one batch",
         {plain(1, 10, 11), plain(1, 12, 13)},
         {},
         {{0, 0}, {1, 1}},
         {{}, {0}}});
}

TEST(PlanBatch, TwoKeysToOneUnitCountOnce) {
  check({"both accounts shared",
         {plain(1, 10, 11), plain(2, 11, 10)},
         {},
         {{0, 0}, {1, 1}},
         {{}, {0}}});
}

TEST(PlanBatch, ChainsAreOneUnit) {
  const auto linked = transfer_flags::linked;
  check({"chain then event",
         {plain(1, 10, 11, linked), plain(2, 12, 13, linked), plain(3, 14, 15), plain(4, 12, 16)},
         {},
         {{0, 2}, {3, 3}},
         {{}, {0}}});
  const batch_plan p = plan_of({"", {plain(1, 10, 11, linked), plain(2, 12, 13)}, {}, {}, {}}, {});
  ASSERT_EQ(p.units.size(), 1u);
  EXPECT_TRUE(p.units[0].chain);
  EXPECT_FALSE(p.units[0].open);
}

TEST(PlanBatch, OpenChainAtTheEndIsOneOpenUnit) {
  const auto linked = transfer_flags::linked;
  const batch_plan p = plan_of(
      {"", {plain(1, 10, 11), plain(2, 12, 13, linked), plain(3, 14, 15, linked)}, {}, {}, {}}, {});
  ASSERT_EQ(p.units.size(), 2u);
  EXPECT_FALSE(p.units[0].chain);
  EXPECT_TRUE(p.units[1].chain);
  EXPECT_TRUE(p.units[1].open);
  EXPECT_EQ(p.units[1].first, 1u);
  EXPECT_EQ(p.units[1].last, 2u);
  // A lone linked event at the end is an open chain of one.
  const batch_plan q = plan_of({"", {plain(1, 10, 11, linked)}, {}, {}, {}}, {});
  ASSERT_EQ(q.units.size(), 1u);
  EXPECT_TRUE(q.units[0].chain && q.units[0].open);
}

TEST(PlanBatch, EventsThatFailedAloneConflictWithNothing) {
  check({"middle one invalid",
         {plain(1, 10, 11), plain(2, 10, 11), plain(3, 10, 11)},
         {ctr::ok, ctr::amount_must_not_be_zero, ctr::ok},
         {{0, 0}, {1, 1}, {2, 2}},
         {{}, {}, {0}}});
}

TEST(PlanBatch, PostOfAnExistingPendingTouchesItsAccounts) {
  id_map<pending_accounts> existing;
  existing.insert(100, pending_accounts{20, 21});
  check({"post then plain on the pending's debit account",
         {post(1, 100), plain(2, 20, 30), plain(3, 31, 32)},
         {},
         {{0, 0}, {1, 1}, {2, 2}},
         {{}, {0}, {}}},
        existing);
  check({"two posts of one pending", {post(1, 100), post(2, 100)}, {}, {{0, 0}, {1, 1}}, {{}, {0}}},
        existing);
}

TEST(PlanBatch, PostOfAPendingMadeInTheBatchTouchesEveryEarlierCreator) {
  // Event 0 and 1 may each create id 100 (the first to succeed does); the post waits for
  // both through their accounts and the id, and a later plain on 22 waits for the post.
  check({"two creators, then post, then plain",
         {pending(100, 20, 21), pending(100, 22, 23), post(3, 100), plain(4, 22, 40)},
         {},
         {{0, 0}, {1, 1}, {2, 2}, {3, 3}},
         {{}, {0}, {0, 1}, {2}}});
  // A creator after the post is not touched by it.
  check({"creator after the post",
         {post(3, 100), pending(100, 20, 21), plain(4, 20, 40)},
         {},
         {{0, 0}, {1, 1}, {2, 2}},
         {{}, {0}, {1}}});
}

}  // namespace
}  // namespace remit::actors
