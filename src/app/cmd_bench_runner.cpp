// vq2d bench runner: what the runner itself costs per clip (planning, checkpoint write, done record,
// journal), measured with a processor that does no work, and how close the static LPT plan gets to
// the makespan lower bound on a heavy-tailed cost list.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/runner/collective.h"
#include "vq2d/runner/planner.h"
#include "vq2d/runner/run_store.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using runner::ClipProcessor;
using runner::ClipResult;
using runner::ClipTask;
using runner::MakeLocalCollective;
using runner::MakespanLowerBound;
using runner::Plan;
using runner::PlanStatic;
using runner::RunJob;
using runner::RunOptions;
using runner::StopToken;
using runner::WorkItem;
namespace {

// The benchmark's workload: returns a fixed-size output at once, so only runner overhead remains.
class FixedOutputProcessor final : public ClipProcessor {
 public:
  explicit FixedOutputProcessor(size_t bytes) : output_(bytes, 'x') { output_.back() = '\n'; }
  Result<ClipResult> Process(const ClipTask&, const StopToken&) override {
    ClipResult r;
    r.output = output_;
    return r;
  }

 private:
  std::string output_;
};

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Frames-to-search per clip, heavy-tailed like Ego4D's (log-normal, median ~250, long right tail).
std::vector<WorkItem> HeavyTailedWork(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> cost(std::log(250.0), 1.0);
  std::vector<WorkItem> w;
  for (int i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "clip-%06d", i);
    w.push_back({id, std::floor(cost(rng)) + 1, ""});
  }
  return w;
}

}  // namespace

int RunBenchRunner(const Args& args) {
  long long clips = 10000, output_bytes = 2048, plan_clips = 4500;
  std::string dir = "/tmp/vq2d-bench-runner-" + std::to_string(getpid());
  bool keep = false;
  ArgParser p("vq2d bench runner",
              "Runner overhead per clip with a no-work processor (planning + checkpoint write + done record + "
              "journal, all fsynced), resume-scan time, and the static LPT makespan against the sum/world lower "
              "bound on a heavy-tailed cost list for 2, 8 and 64 simulated ranks.");
  p.AddInt("--clips", &clips, "clips in the overhead run");
  p.AddInt("--output-bytes", &output_bytes, "size of each clip's output file");
  p.AddInt("--plan-clips", &plan_clips, "clips in the makespan study");
  p.AddString("--dir", &dir, "scratch output directory (must not exist)");
  p.AddBool("--keep", &keep, "keep the scratch directory");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (FileSystem::Default()->Exists(dir)) {
    std::fprintf(stderr, "vq2d bench runner: '%s' exists; pass another --dir\n", dir.c_str());
    return 1;
  }

  // 1. Planning cost alone.
  auto work = HeavyTailedWork(static_cast<int>(clips), 1);
  auto t0 = std::chrono::steady_clock::now();
  Plan plan = PlanStatic(work, {}, 64);
  auto t1 = std::chrono::steady_clock::now();
  std::printf("plan: LPT over %lld clips for 64 ranks in %.2f ms\n", clips, 1e3 * Seconds(t0, t1));

  // 2. The full per-clip protocol.
  FixedOutputProcessor proc(static_cast<size_t>(std::max<long long>(1, output_bytes)));
  RunOptions o;
  o.out_dir = dir;
  o.canonical_config = "bench: true\n";
  o.progress_interval_s = 3600;
  auto coll = MakeLocalCollective();
  t0 = std::chrono::steady_clock::now();
  auto summary = RunJob(o, work, proc, *coll, FileSystem::Default(), Clock::Default(), nullptr);
  t1 = std::chrono::steady_clock::now();
  if (!summary.ok() || summary->done != clips) {
    std::fprintf(stderr, "vq2d bench runner: run failed: %s\n", summary.status().ToString().c_str());
    return 1;
  }
  const double run_s = Seconds(t0, t1);
  std::printf("run: %lld clips, %lld-byte outputs, in %.2f s = %.3f ms per clip "
              "(start event + output + done record + finish event, each fsynced)\n",
              clips, output_bytes, run_s, 1e3 * run_s / clips);

  // 3. Resume: a second run finds everything done.
  t0 = std::chrono::steady_clock::now();
  auto again = RunJob(o, work, proc, *coll, FileSystem::Default(), Clock::Default(), nullptr);
  t1 = std::chrono::steady_clock::now();
  std::printf("resume: validating %lld done records (sha256 of every output) and planning nothing in %.2f s "
              "(%.3f ms per clip)\n",
              clips, Seconds(t0, t1), 1e3 * Seconds(t0, t1) / clips);
  if (!again.ok() || again->processed_here != 0) std::printf("resume: UNEXPECTED work redone\n");

  // 4. Makespan study.
  auto costs = HeavyTailedWork(static_cast<int>(plan_clips), 2);
  double sum = 0, mx = 0;
  for (const auto& w : costs) sum += w.cost, mx = std::max(mx, w.cost);
  std::printf("makespan: %lld clips, log-normal frames-to-search (sum %.0f, max %.0f)\n", plan_clips, sum, mx);
  std::printf("  %6s %14s %14s %10s %22s\n", "ranks", "LPT makespan", "lower bound", "LPT/LB", "round-robin/LB (naive)");
  for (int m : {2, 8, 64}) {
    const double lpt = PlanStatic(costs, {}, m).makespan();
    const double lb = MakespanLowerBound(costs, {}, m);
    std::vector<double> rr(static_cast<size_t>(m), 0);
    for (size_t i = 0; i < costs.size(); ++i) rr[i % static_cast<size_t>(m)] += costs[i].cost;
    const double rr_span = *std::max_element(rr.begin(), rr.end());
    std::printf("  %6d %14.0f %14.0f %10.4f %22.4f\n", m, lpt, lb, lpt / lb, rr_span / lb);
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  std::printf("peak resident memory: %.1f MiB\n", ru.ru_maxrss / 1024.0);
  if (!keep) std::system(("rm -rf '" + dir + "'").c_str());
  (void)plan;
  return 0;
}

}  // namespace vq2d::app
