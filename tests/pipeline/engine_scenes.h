// Shared set-ups of the engine and tracking tests: the demo models at a small DINO input size, a
// synthetic moving-square clip, a text dump of results, and the inputs of one query-expansion
// instance of the tracking_logic fixtures.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "logic_fixture.h"
#include "support/test_support.h"
#include "vq2d/pipeline/engine.h"
#include "vq2d/pipeline/tracking.h"

namespace vq2d::pipeline::testing {

// The demo architectures (DemoModelOptions) with DINO at 96x128 so that tests stay fast.
inline ModelOptions SmallDemoModels(const std::string& dir) {
  ModelOptions m = DemoModelOptions(dir);
  m.dino_input_height = 96;
  m.dino_input_width = 128;
  return m;
}

// T frames HxW RGB (uint8, [T,H,W,3] row-major): a textured background and a red 20x20 square at
// rows 20..39 moving right 6 px per frame from x = 10.
inline std::vector<uint8_t> MovingSquareFrames(int T, int H, int W) {
  std::vector<uint8_t> f(static_cast<size_t>(T) * H * W * 3);
  for (int t = 0; t < T; ++t)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        uint8_t* p = &f[((static_cast<size_t>(t) * H + y) * W + x) * 3];
        const bool obj = y >= 20 && y < 40 && x >= 10 + 6 * t && x < 30 + 6 * t;
        p[0] = obj ? 220 : static_cast<uint8_t>((x * 7 + y * 3) % 120);
        p[1] = obj ? 30 : static_cast<uint8_t>((x * 2 + y * 5) % 110);
        p[2] = obj ? 40 : static_cast<uint8_t>((x + y) % 90);
      }
  return f;
}

// One line per query: score, track boxes, round-2 flags, upstream errors (and with
// `round2_counts` the round-2 query and selection counts).
inline std::string DumpResults(const std::vector<QueryResult>& rs, bool round2_counts = false) {
  std::string s;
  for (const auto& r : rs) {
    s += StrCat("score ", r.score, " n ", r.track.size(), " r2 ", r.round2_tracked, r.round2_accepted, ":");
    for (const auto& b : r.track) s += StrCat(" ", b.frame, "/", b.x1, ",", b.y1, ",", b.x2, ",", b.y2);
    for (const auto& e : r.upstream_errors) s += " [" + e + "]";
    if (round2_counts) s += StrCat(" q2=", r.stats.n_queries_round2, " sel2=", r.stats.n_selected_round2);
    s += "\n";
  }
  return s;
}

// The inputs of instance `i` of a tracking_logic case's "query_expansion" list: the clip (zeros
// except the tracked frames), the query set and the video objects.
struct ExpansionInputs {
  torch::Tensor frames;  // [T,H,W,3] uint8
  QuerySet queries;
  VideoObjects objects;
};

inline ExpansionInputs LoadExpansionInputs(const vq2d::testing::LogicCase& c, size_t i) {
  const auto& in = c.inputs["query_expansion"][i];
  const std::string p = "query_expansion/" + std::to_string(i) + "/";
  ExpansionInputs x;
  x.frames = torch::zeros({in["n_frames"].get<int64_t>(), in["H"].get<int64_t>(), in["W"].get<int64_t>(), 3},
                          torch::kUInt8);
  const auto tracked = in["frames_tracked_frame_numbers"].get<std::vector<int64_t>>();
  const torch::Tensor ft = c.tensors->Get(p + "frames_tracked");
  for (size_t k = 0; k < tracked.size(); ++k) x.frames[tracked[k]].copy_(ft[static_cast<int64_t>(k)]);
  x.queries.tokens = c.tensors->Get(p + "query_tokens_in");
  x.queries.frame_numbers = in["query_frame_numbers_in"].get<std::vector<int64_t>>();
  for (const auto& b : in["query_bboxes_in"]) x.queries.boxes.push_back(b.get<std::array<double, 4>>());
  x.objects.tokens = c.tensors->Get(p + "object_tokens");
  x.objects.points = c.tensors->Get(p + "object_points");
  x.objects.frame_ids = c.tensors->Get(p + "frame_ids");
  return x;
}

}  // namespace vq2d::pipeline::testing
