// vq2d bench eval: wall time of the official evaluator on synthetic Ego4D-sized inputs.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/human.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/evaluate.h"

namespace vq2d::app {

using io::ComputeVisualQueryMetrics;
using io::ConvertPredictions;
using io::EvaluationResult;
using io::FormatOfficialReport;
using io::ParseAnnotations;
namespace {

using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// An annotation file and matching predictions with `n` valid queries (3 query sets per annotation,
// 1-2 annotations per clip, response tracks of 1-60 frames in 1920x1080 pixels; predictions jittered,
// shifted in time, sometimes empty; a quarter of the scores tied at 1.0).
void MakeSynthetic(long long n, unsigned long long seed, std::string* gt_text, std::string* pred_text) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto uint = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  ordered_json gt, pred;
  gt["version"] = "1.0.5";
  gt["videos"] = ordered_json::array();
  pred["version"] = "1.0.5";
  pred["challenge"] = "ego4d_vq2d_challenge";
  pred["results"]["videos"] = ordered_json::array();
  long long made = 0;
  for (int v = 0; made < n; ++v) {
    ordered_json gv = {{"video_uid", "video-" + std::to_string(v)}, {"split", "val"}, {"clips", ordered_json::array()}};
    ordered_json pv = {{"video_uid", "video-" + std::to_string(v)}, {"clips", ordered_json::array()}};
    ordered_json gc = {{"clip_uid", "clip-" + std::to_string(v)}, {"clip_fps", 5.0}, {"annotations", ordered_json::array()}};
    ordered_json pc = {{"clip_uid", "clip-" + std::to_string(v)}, {"predictions", ordered_json::array()}};
    int n_ann = uint(1, 2);
    for (int a = 0; a < n_ann && made < n; ++a) {
      ordered_json gqs = ordered_json::object(), pqs = ordered_json::object();
      for (int q = 1; q <= 3 && made < n; ++q, ++made) {
        int len = uint(1, 60), start = uint(0, 1500);
        double x = uni(0, 1700), y = uni(0, 900), w = uni(20, 300), h = uni(20, 300);
        ordered_json rt = ordered_json::array(), pb = ordered_json::array();
        for (int f = 0; f < len; ++f) {
          rt.push_back({{"frame_number", start + f}, {"x", x + f}, {"y", y}, {"width", w}, {"height", h},
                        {"original_width", 1920}, {"original_height", 1080}});
        }
        int pshift = uint(-10, 10), plen = uint(0, 70);
        for (int f = 0; f < plen; ++f) {
          double jx = uni(-30, 30), jy = uni(-30, 30);
          pb.push_back({{"fno", start + pshift + f}, {"x1", static_cast<int>(x + jx)}, {"y1", static_cast<int>(y + jy)},
                        {"x2", static_cast<int>(x + jx + w)}, {"y2", static_cast<int>(y + jy + h)}});
        }
        ordered_json vc = {{"frame_number", start + len + 5}, {"x", x}, {"y", y}, {"width", w}, {"height", h},
                           {"original_width", 1920}, {"original_height", 1080}};
        gqs[std::to_string(q)] = {{"is_valid", true}, {"query_frame", start + len + uint(1, 50)},
                                  {"object_title", "object"}, {"visual_crop", vc}, {"response_track", rt}};
        pqs[std::to_string(q)] = {{"bboxes", pb}, {"score", uint(0, 3) == 0 ? 1.0 : uni(0, 1)}};
      }
      gc["annotations"].push_back({{"annotation_uid", "ann-" + std::to_string(v) + "-" + std::to_string(a)},
                                   {"query_sets", gqs}});
      pc["predictions"].push_back({{"query_sets", pqs}});
    }
    gv["clips"].push_back(gc);
    pv["clips"].push_back(pc);
    gt["videos"].push_back(gv);
    pred["results"]["videos"].push_back(pv);
  }
  *gt_text = gt.dump();
  *pred_text = pred.dump();
}

}  // namespace

int RunBenchEval(const Args& args) {
  long long queries = 4500, seed = 1, repeats = 5;
  ArgParser p("vq2d bench eval",
              "Times the official evaluator (vq2d eval) on synthetic Ego4D-format inputs: annotation parsing,\n"
              "then validation + conversion + all metrics. Prints the best of --repeats wall times.");
  p.AddInt("--queries", &queries, "number of valid queries");
  p.AddInt("--seed", &seed, "random seed of the synthetic data");
  p.AddInt("--repeats", &repeats, "timed repetitions (best is reported)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (queries < 1 || repeats < 1) {
    std::fprintf(stderr, "vq2d bench eval: --queries and --repeats must be >= 1\n");
    return 2;
  }
  std::string gt_text, pred_text;
  MakeSynthetic(queries, static_cast<unsigned long long>(seed), &gt_text, &pred_text);
  std::printf("bench eval: %lld queries, annotations %s, predictions %s\n", queries, HumanBytes(gt_text.size()).c_str(),
              HumanBytes(pred_text.size()).c_str());
  double best_parse = 1e30, best_convert = 1e30, best_metrics = 1e30, best_total = 1e30;
  EvaluationResult last;
  for (long long r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    auto gt = ParseAnnotations(gt_text, "synthetic-gt.json");
    auto t1 = Clock::now();
    if (!gt.ok()) {
      std::fprintf(stderr, "vq2d bench eval: %s\n", gt.status().message().c_str());
      return 1;
    }
    auto conv = ConvertPredictions(pred_text, "synthetic-pred.json", *gt);
    auto t2 = Clock::now();
    if (!conv.ok()) {
      std::fprintf(stderr, "vq2d bench eval: %s\n", conv.status().message().c_str());
      return 1;
    }
    auto metrics = ComputeVisualQueryMetrics(conv->queries);
    auto t3 = Clock::now();
    if (!metrics.ok()) {
      std::fprintf(stderr, "vq2d bench eval: %s\n", metrics.status().message().c_str());
      return 1;
    }
    best_parse = std::min(best_parse, Seconds(t0, t1));
    best_convert = std::min(best_convert, Seconds(t1, t2));
    best_metrics = std::min(best_metrics, Seconds(t2, t3));
    best_total = std::min(best_total, Seconds(t0, t3));
    last.refs = std::move(conv->refs);
    last.metrics = std::move(*metrics);
  }
  std::printf("%s", FormatOfficialReport(last).c_str());
  std::printf("bench eval: parse annotations %.3f s | parse+validate+convert predictions %.3f s | metrics %.3f s | "
              "total %.3f s (best of %lld, %lld queries)\n",
              best_parse, best_convert, best_metrics, best_total, repeats,
              static_cast<long long>(last.metrics.n_queries));
  return 0;
}

}  // namespace vq2d::app
