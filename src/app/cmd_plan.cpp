// `vq2d plan`: the work a split implies and, with calibrations, its GPU-hours and wall time on N GPUs
// (src/app/work_plan.h has the counting rules).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "app/work_plan.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/runner/run_store.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using runner::kExitError;
using runner::kExitOk;
using io::LoadConfig;
using runner::DoneRecord;
using runner::Plan;
using runner::PlanStatic;
using runner::RunStore;
using runner::WorkItem;

namespace {

std::string Range(const Bounds& b) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.0f .. %.0f", b.lo, b.hi);
  return buf;
}

nlohmann::json CountsJson(const WorkCounts& w) {
  auto b = [](const Bounds& x) { return nlohmann::json::array({x.lo, x.hi}); };
  return {{"clips", w.clips},
          {"queries", w.queries},
          {"frames_read", w.frames_read},
          {"ren_video_shared", w.ren_video_shared},
          {"ren_video_per_query", w.ren_video_per_query},
          {"ren_images", b(w.ren_images)},
          {"sam2_encodes", b(w.sam2_encodes)},
          {"track_steps", b(w.track_steps)},
          {"dino_images", b(w.dino_images)}};
}

std::string Hours(double s) {
  char buf[64];
  if (s < 3600) std::snprintf(buf, sizeof buf, "%.1f min", s / 60);
  else std::snprintf(buf, sizeof buf, "%.2f h", s / 3600);
  return buf;
}

}  // namespace

int RunPlan(const Args& args) {
  std::string config_path = "config.yaml", split, run_dir, json_out;
  std::vector<std::string> sets, calibrations;
  long long gpus = 1;
  bool per_clip = false, compare = false;
  ArgParser p("vq2d plan",
              "Prints the work a split implies before it is submitted: clips, frames to read, REN images (with the "
              "shared video pass and with upstream's per-query encoding), SAM 2 image encodes, SAM 2 tracking steps "
              "and descriptor images (lower .. upper bounds where they depend on the data). With --calibration "
              "files written by `vq2d bench pipeline --calibration-out` (one per device / precision mode): the "
              "expected seconds, GPU-hours and the wall time on --gpus GPUs under the runner's LPT plan. "
              "--compare-run puts the prediction next to a finished run's per-clip wall times and counts.");
  p.AddString("--config", &config_path, "configuration file");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "split (default: visual_query.split)");
  p.AddInt("--gpus", &gpus, "GPUs (one rank each) for the wall time (default 1)");
  p.AddList("--calibration", &calibrations, "calibration file (repeatable: one per precision mode)");
  p.AddBool("--per-clip", &per_clip, "one line per clip");
  p.AddBool("--compare-run", &compare, "compare with the done records of the run in --run-dir (default: the config's)");
  p.AddString("--run-dir", &run_dir, "run output directory for --compare-run");
  p.AddString("--json", &json_out, "also write the counts (totals and per clip) and estimates to this JSON file");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vq2d plan: %s\n", s.ToString().c_str());
    return kExitError;
  };
  if (gpus < 1) return fail(Status::InvalidArgument(StrCat("--gpus ", gpus, ": expected >= 1")));
  if (!split.empty()) sets.push_back("visual_query.split=" + split);
  auto config = LoadConfig(config_path, sets);
  if (!config.ok()) return fail(config.status());
  const std::string sp = config->visual_query.split;
  auto plan = PlanSplit(*config, sp);
  if (!plan.ok()) return fail(plan.status());
  std::vector<Calibration> cals;
  for (const auto& f : calibrations) {
    auto text = FileSystem::Default()->ReadFile(f);
    if (!text.ok()) return fail(text.status().WithContext("--calibration"));
    auto c = Calibration::FromJson(nlohmann::json::parse(*text, nullptr, false), f);
    if (!c.ok()) return fail(c.status());
    cals.push_back(*c);
  }

  WorkCounts total;
  int records = 0;
  for (const auto& c : *plan) total += c.work, records += c.has_record;
  std::printf("split %s: %lld clips, %lld queries run (annotations %s; records found for %d of %zu clips%s)\n",
              sp.c_str(), static_cast<long long>(total.clips), static_cast<long long>(total.queries),
              config->AnnotationsFile(sp).c_str(), records, plan->size(),
              records < static_cast<int>(plan->size()) ? ": frame counts and sizes of the others assumed" : "");
  std::printf("  %-40s %lld\n", "frames to read", static_cast<long long>(total.frames_read));
  std::printf("  %-40s %lld shared pass, %lld per query (upstream)\n", "REN images, video stage",
              static_cast<long long>(total.ren_video_shared), static_cast<long long>(total.ren_video_per_query));
  std::printf("  %-40s %s\n", "REN images, all stages (shared pass)", Range(total.ren_images).c_str());
  std::printf("  %-40s %s\n", "SAM 2 image encodes", Range(total.sam2_encodes).c_str());
  std::printf("  %-40s %s\n", "SAM 2 tracking steps", Range(total.track_steps).c_str());
  std::printf("  %-40s %s\n", "descriptor (DINO) images", Range(total.dino_images).c_str());

  nlohmann::json report = {{"split", sp}, {"total", CountsJson(total)}, {"clips", nlohmann::json::array()},
                           {"estimates", nlohmann::json::array()}};
  for (const auto& c : *plan) {
    nlohmann::json j = CountsJson(c.work);
    j["clip_uid"] = c.item.id;
    j["has_record"] = c.has_record;
    report["clips"].push_back(j);
  }

  for (const Calibration& cal : cals) {
    std::vector<WorkItem> items;
    std::vector<ClipEstimate> est;
    double sum = 0, lo = 0, hi = 0;
    for (const auto& c : *plan) {
      est.push_back(EstimateClip(c.work, cal));
      items.push_back(c.item);
      sum += est.back().seconds, lo += est.back().seconds_lo, hi += est.back().seconds_hi;
    }
    // The runner's static plan (costs = frames to search), timed with the estimates.
    const Plan lpt = PlanStatic(items, {}, static_cast<int>(gpus));
    double wall = 0, wall_lo = 0, wall_hi = 0;
    for (const auto& rank : lpt.per_rank) {
      double s = 0, l = 0, h = 0;
      for (size_t i : rank) s += est[i].seconds, l += est[i].seconds_lo, h += est[i].seconds_hi;
      wall = std::max(wall, s), wall_lo = std::max(wall_lo, l), wall_hi = std::max(wall_hi, h);
    }
    report["estimates"].push_back({{"calibration", cal.source},
                                   {"device", cal.device},
                                   {"precision", cal.precision},
                                   {"gpus", gpus},
                                   {"device_seconds", {sum, lo, hi}},
                                   {"wall_seconds", {wall, wall_lo, wall_hi}},
                                   {"load_s", cal.load_s}});
    std::printf("\ncalibration %s (%s, %s):\n", cal.source.c_str(), cal.device.c_str(), cal.precision.c_str());
    std::printf("  %-40s %s (bounds %s .. %s)\n", "device time, all clips", Hours(sum).c_str(), Hours(lo).c_str(),
                Hours(hi).c_str());
    std::printf("  %-40s %.3f (bounds %.3f .. %.3f)\n", "GPU-hours (1 rank per GPU)", sum / 3600, lo / 3600, hi / 3600);
    std::printf("  %-40s %s + %.0f s model loading (bounds %s .. %s)\n",
                StrCat("wall time on ", gpus, " GPU(s), LPT plan").c_str(), Hours(wall).c_str(), cal.load_s,
                Hours(wall_lo).c_str(), Hours(wall_hi).c_str());
    if (per_clip) {
      std::printf("  %-38s %7s %9s %9s %9s\n", "clip", "frames", "expect_s", "lo_s", "hi_s");
      for (size_t i = 0; i < plan->size(); ++i)
        std::printf("  %-38s %7lld %9.2f %9.2f %9.2f\n", (*plan)[i].item.id.c_str(),
                    static_cast<long long>((*plan)[i].work.frames_read), est[i].seconds, est[i].seconds_lo,
                    est[i].seconds_hi);
    }
    if (!compare) continue;
    const std::string dir = run_dir.empty() ? config->OutputDir() : run_dir;
    RunStore store(FileSystem::Default(), dir);
    double abs_err = 0, pred_sum = 0, meas_sum = 0;
    int n = 0;
    std::printf("  compared with the run in %s:\n  %-38s %9s %9s %7s\n", dir.c_str(), "clip", "predict_s", "run_s",
                "error");
    for (size_t i = 0; i < plan->size(); ++i) {
      auto text = FileSystem::Default()->ReadFile(store.DoneRecordPath((*plan)[i].item.id));
      if (!text.ok()) continue;
      auto rec = DoneRecord::FromJson(nlohmann::json::parse(*text, nullptr, false));
      if (!rec.ok() || rec->wall_s <= 0) continue;
      const double e = est[i].seconds / rec->wall_s - 1;
      abs_err += std::fabs(e), pred_sum += est[i].seconds, meas_sum += rec->wall_s, ++n;
      std::printf("  %-38s %9.2f %9.2f %+6.0f%%\n", (*plan)[i].item.id.c_str(), est[i].seconds, rec->wall_s, 100 * e);
    }
    if (n == 0) {
      std::printf("  (no done records there)\n");
    } else {
      std::printf("  %d clips: mean |error| per clip %.0f%%, total %.2f s predicted vs %.2f s measured (%+.0f%%)\n", n,
                  100 * abs_err / n, pred_sum, meas_sum, 100 * (pred_sum / meas_sum - 1));
    }
  }
  if (!json_out.empty()) {
    const Status s = WriteFileAtomic(FileSystem::Default(), json_out, report.dump(1) + "\n", "plan");
    if (!s.ok()) return fail(s);
  }
  return kExitOk;
}

}  // namespace vq2d::app
