// Work planning: which rank processes which clip. Pure functions, no MPI, fully deterministic.
//
// Static mode (default): every rank computes the same longest-processing-time-first (LPT) plan from
// (work list − finished clips, world size): items sorted by cost descending (ties by id), each given
// to the currently least-loaded rank (ties to the lowest rank). Graham's bound holds:
// makespan ≤ (4/3 − 1/(3m))·OPT, and makespan ≤ sum/m + max_cost.
// Dynamic mode uses the same LPT order as a queue; ranks take the next index from a shared counter.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace vq2d::runner {

struct WorkItem {
  std::string id;     // clip uid
  double cost = 0.0;  // estimated work (frames to search); must be >= 0
  std::string video_uid;  // informational (manifest, merge); not used for planning
};

// Indices into `items` of the not-yet-finished work, in LPT order (cost descending, id ascending).
std::vector<size_t> LptOrder(const std::vector<WorkItem>& items, const std::set<std::string>& finished);

struct Plan {
  // per_rank[r] = indices into the work list that rank r processes, in processing order.
  std::vector<std::vector<size_t>> per_rank;
  std::vector<double> load;  // summed cost per rank
  double makespan() const;
};

// Static LPT assignment of the unfinished items over `world_size` ranks (world_size >= 1).
Plan PlanStatic(const std::vector<WorkItem>& items, const std::set<std::string>& finished, int world_size);

// Lower bound on any assignment's makespan: max(sum/m, max cost).
double MakespanLowerBound(const std::vector<WorkItem>& items, const std::set<std::string>& finished, int world_size);

}  // namespace vq2d::runner
