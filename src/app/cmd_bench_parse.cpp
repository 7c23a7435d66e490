// `vq2d bench parse`: parse time vs input size for the inputs a hostile file can make large:
// safetensors headers (tensor count) and JSON objects (key count: a flat object, an annotation
// with that many query sets, and eval's validation of a prediction file with that many).
// Parsing must be linear: each 10x step should take about 10x the time (no assertion here).
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/base/json_parse.h"
#include "vq2d/core/bench.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/evaluate.h"

namespace vq2d::app {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string FlatObject(int64_t n) {
  std::string s = "{";
  for (int64_t i = 0; i < n; ++i) s += StrCat(i ? "," : "", "\"k", i, "\":", i);
  return s + "}";
}

// One clip whose one annotation has n (invalid) query sets "1".."n", and the matching predictions.
std::string Annotations(int64_t n) {
  std::string s = R"({"version":"1.0.5","videos":[{"video_uid":"v","split":"val","clips":[{"clip_uid":"c","clip_fps":5.0,)"
                  R"("annotations":[{"annotation_uid":"a","query_sets":{)";
  for (int64_t i = 1; i <= n; ++i) {
    s += StrCat(i > 1 ? "," : "", "\"", i,
                R"(":{"is_valid":false,"query_frame":1,"visual_crop":{"frame_number":0,"x":0,"y":0,"width":1,"height":1}})");
  }
  return s + "}}]}]}]}";
}
std::string Predictions(int64_t n) {
  std::string s = R"({"version":"1.0.5","challenge":"ego4d_vq2d_challenge","results":{"videos":[{"video_uid":"v",)"
                  R"("clips":[{"clip_uid":"c","predictions":[{"query_sets":{)";
  for (int64_t i = 1; i <= n; ++i) s += StrCat(i > 1 ? "," : "", "\"", i, R"(":{"bboxes":[],"score":0.0})");
  return s + "}}]}]}]}}";
}

}  // namespace

int RunBenchParse(const Args& args) {
  long long max_count = 1000000;
  std::string dir = "/tmp";
  ArgParser p("vq2d bench parse",
              "Parse time for 10^3, 10^4, ... tensors in a safetensors header and keys in a JSON object (flat, "
              "annotation query sets, eval's prediction validation). Linear parsing: 10x input, ~10x time.");
  p.AddInt("--max", &max_count, "largest count (a power of ten from 1000 on)");
  p.AddString("--dir", &dir, "where the temporary safetensors files go");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  std::vector<int64_t> counts;
  for (int64_t n = 1000; n <= max_count; n *= 10) counts.push_back(n);
  if (counts.empty()) {
    std::fprintf(stderr, "vq2d bench parse: --max must be >= 1000\n");
    return 2;
  }
  Status st = BenchSafetensorsParse(counts, dir, std::cout);
  if (!st.ok()) {
    std::fprintf(stderr, "vq2d bench parse: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("JSON: keys, flat object s, annotation file s (query sets), eval validation s (predictions)\n");
  for (int64_t n : counts) {
    const std::string flat = FlatObject(n);
    auto t0 = std::chrono::steady_clock::now();
    auto j = ParseOrderedJson(flat, "flat");
    const double flat_s = SecondsSince(t0);
    const std::string ann = Annotations(n);
    t0 = std::chrono::steady_clock::now();
    auto gt = ParseAnnotations(ann, "annotations");
    const double ann_s = SecondsSince(t0);
    if (!j.ok() || !gt.ok()) {
      std::fprintf(stderr, "vq2d bench parse: %s\n", (!j.ok() ? j.status() : gt.status()).ToString().c_str());
      return 1;
    }
    const std::string pred = Predictions(n);
    t0 = std::chrono::steady_clock::now();
    Status v = ValidatePredictions(pred, "predictions", *gt);
    const double eval_s = SecondsSince(t0);
    if (!v.ok()) {
      std::fprintf(stderr, "vq2d bench parse: %s\n", v.ToString().c_str());
      return 1;
    }
    std::printf("  %9lld %11.3f %11.3f %11.3f\n", static_cast<long long>(n), flat_s, ann_s, eval_s);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace vq2d::app
