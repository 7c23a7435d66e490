#include "vq2d/runner/planner.h"

#include <algorithm>
#include <queue>

#include "vq2d/base/check.h"

namespace vq2d::runner {

std::vector<size_t> LptOrder(const std::vector<WorkItem>& items, const std::set<std::string>& finished) {
  std::vector<size_t> order;
  order.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i)
    if (!finished.count(items[i].id)) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (items[a].cost != items[b].cost) return items[a].cost > items[b].cost;
    if (items[a].id != items[b].id) return items[a].id < items[b].id;
    return a < b;
  });
  return order;
}

double Plan::makespan() const { return load.empty() ? 0.0 : *std::max_element(load.begin(), load.end()); }

Plan PlanStatic(const std::vector<WorkItem>& items, const std::set<std::string>& finished, int world_size) {
  VQ2D_CHECK(world_size >= 1) << "world_size " << world_size;
  Plan plan;
  plan.per_rank.resize(static_cast<size_t>(world_size));
  plan.load.assign(static_cast<size_t>(world_size), 0.0);
  // Min-heap of (load, rank): the least-loaded rank, lowest rank on ties.
  using Slot = std::pair<double, int>;
  std::priority_queue<Slot, std::vector<Slot>, std::greater<Slot>> heap;
  for (int r = 0; r < world_size; ++r) heap.push({0.0, r});
  for (size_t idx : LptOrder(items, finished)) {
    auto [load, rank] = heap.top();
    heap.pop();
    plan.per_rank[static_cast<size_t>(rank)].push_back(idx);
    load += items[idx].cost;
    plan.load[static_cast<size_t>(rank)] = load;
    heap.push({load, rank});
  }
  return plan;
}

double MakespanLowerBound(const std::vector<WorkItem>& items, const std::set<std::string>& finished, int world_size) {
  double sum = 0, mx = 0;
  for (const auto& it : items) {
    if (finished.count(it.id)) continue;
    sum += it.cost;
    mx = std::max(mx, it.cost);
  }
  return std::max(sum / world_size, mx);
}

}  // namespace vq2d::runner
