#include "vq2d/runner/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <cmath>
#include <random>

namespace vq2d {

using runner::LptOrder;
using runner::MakespanLowerBound;
using runner::Plan;
using runner::PlanStatic;
using runner::WorkItem;
namespace {

std::vector<WorkItem> Items(const std::vector<double>& costs) {
  std::vector<WorkItem> items;
  for (size_t i = 0; i < costs.size(); ++i) items.push_back({"clip-" + std::to_string(i), costs[i], ""});
  return items;
}

double BruteForceOptimum(const std::vector<double>& costs, int m) {
  std::vector<double> load(static_cast<size_t>(m), 0);
  double best = 1e300;
  std::function<void(size_t)> rec = [&](size_t i) {
    if (i == costs.size()) {
      best = std::min(best, *std::max_element(load.begin(), load.end()));
      return;
    }
    for (int r = 0; r < m; ++r) {
      load[r] += costs[i];
      if (*std::max_element(load.begin(), load.end()) < best) rec(i + 1);
      load[r] -= costs[i];
      if (load[r] == 0) break;  // symmetric empty bins
    }
  };
  rec(0);
  return best;
}

TEST(PlannerTest, LptOrderIsCostDescendingThenId) {
  auto items = Items({5, 9, 5, 1});
  auto order = LptOrder(items, {});
  std::vector<size_t> expected = {1, 0, 2, 3};
  EXPECT_EQ(order, expected);
}

TEST(PlannerTest, StaticPlanIsDeterministicAndCoversEverythingOnce) {
  std::mt19937 rng(7);
  std::vector<double> costs;
  for (int i = 0; i < 200; ++i) costs.push_back(static_cast<double>(rng() % 1000));
  auto items = Items(costs);
  for (int m : {1, 2, 3, 8, 64}) {
    Plan a = PlanStatic(items, {}, m), b = PlanStatic(items, {}, m);
    EXPECT_EQ(a.per_rank, b.per_rank);
    std::vector<int> seen(items.size(), 0);
    for (const auto& r : a.per_rank)
      for (size_t i : r) ++seen[i];
    for (int s : seen) EXPECT_EQ(s, 1);
    // Each rank processes its clips longest first.
    for (const auto& r : a.per_rank)
      for (size_t k = 1; k < r.size(); ++k) EXPECT_GE(items[r[k - 1]].cost, items[r[k]].cost);
  }
}

TEST(PlannerTest, GrahamBoundAgainstExactOptimum) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 60; ++trial) {
    const int m = 2 + trial % 2;
    std::vector<double> costs;
    const int n = 4 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) costs.push_back(1 + static_cast<double>(rng() % 50));
    const double opt = BruteForceOptimum(costs, m);
    const double lpt = PlanStatic(Items(costs), {}, m).makespan();
    EXPECT_LE(lpt, (4.0 / 3.0 - 1.0 / (3.0 * m)) * opt + 1e-9) << "trial " << trial;
    EXPECT_GE(lpt, opt - 1e-9);
  }
}

TEST(PlannerTest, MakespanWithinSumOverMPlusMax) {
  std::mt19937 rng(99);
  std::vector<double> costs;
  for (int i = 0; i < 1000; ++i) costs.push_back(std::pow(static_cast<double>(rng() % 1000 + 1), 2.0));  // heavy tail
  auto items = Items(costs);
  for (int m : {2, 8, 64}) {
    const double lb = MakespanLowerBound(items, {}, m);
    const double mx = *std::max_element(costs.begin(), costs.end());
    EXPECT_LE(PlanStatic(items, {}, m).makespan(), lb + mx);
    EXPECT_GE(PlanStatic(items, {}, m).makespan(), lb - 1e-9);
  }
}

TEST(PlannerTest, ResumeSubtractsFinishedClips) {
  auto items = Items({10, 20, 30, 40});
  Plan p = PlanStatic(items, {"clip-3", "clip-1"}, 2);
  std::vector<size_t> all;
  for (const auto& r : p.per_rank) all.insert(all.end(), r.begin(), r.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<size_t>{0, 2}));
  EXPECT_DOUBLE_EQ(p.makespan(), 30);
  EXPECT_DOUBLE_EQ(MakespanLowerBound(items, {"clip-3", "clip-1"}, 2), 30);
}

TEST(PlannerTest, MoreRanksThanClipsLeavesRanksIdle) {
  Plan p = PlanStatic(Items({3, 1}), {}, 4);
  int busy = 0;
  for (const auto& r : p.per_rank) busy += !r.empty();
  EXPECT_EQ(busy, 2);
}

}  // namespace
}  // namespace vq2d
