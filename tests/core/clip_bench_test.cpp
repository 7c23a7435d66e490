// `bench clip`: the work counts follow the documented rule (include/vq2d/core/clip_bench.h), a toy
// run does exactly the planned units and calls, and the forked ranks report back. No timing asserts.
#include <gtest/gtest.h>

#include <sstream>

#include "vq2d/core/clip_bench.h"

namespace vq2d {
namespace {

int64_t Calls(const ClipWorkPlan& p, const std::string& stage, const std::string& model) {
  for (const auto& s : p.stages)
    if (s.stage == stage && s.model == model) return s.calls;
  return -1;
}

TEST(ClipBench, DefaultPlanFollowsThePipelineRule) {
  ClipBenchOptions o;  // 1,500 frames, 4 queries, c = 5, 60 steps per track, E = 4, CPU (unbatched crops)
  auto p = PlanClipWork(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->query_frames, (std::vector<int64_t>{650, 683, 717, 750}));
  EXPECT_FALSE(p->batch_crops);
  const int64_t Q = 4, n = 8, c = 5, P = 60, L = P - 1, E = 4, K2 = 1 + E;
  EXPECT_EQ(p->Units("query", "ren"), Q * n);
  EXPECT_EQ(p->Units("query", "sam2"), Q * n);
  EXPECT_EQ(p->Units("video", "ren"), 5 * 750);  // shared pass: S * max qf
  EXPECT_EQ(p->Units("refine", "sam2"), Q * ((2 + 2 * c) + (2 * K2 + 2 * c)));
  EXPECT_EQ(p->Units("refine", "dino"), Q * ((2 + 2 * c) + (2 * K2 + 2 * c)));
  EXPECT_EQ(p->Units("refine", "ren"), Q * 2 * 8 * c);
  EXPECT_EQ(p->Units("track", "sam2_video"), Q * 2 * P);
  EXPECT_EQ(p->Units("tokens", "sam2"), Q * 8 * L);
  EXPECT_EQ(p->Units("tokens", "ren"), Q * 8 * E);
  // Calls: REN in batches of 4, the video pass in chunks of 8 frames (40 images = 10 calls).
  EXPECT_EQ(Calls(*p, "video", "ren"), (750 / 8) * 10 + (5 * (750 % 8) + 3) / 4);
  EXPECT_EQ(Calls(*p, "tokens", "sam2"), Q * 8 * L);
  EXPECT_EQ(Calls(*p, "track", "sam2_video"), Q * 2 * 2);

  o.device = "cuda";  // batch_crops auto: the 8 crops of a tracked frame in one batch
  auto g = PlanClipWork(o);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->batch_crops);
  EXPECT_EQ(g->Units("tokens", "sam2"), Q * 8 * L);
  EXPECT_EQ(Calls(*g, "tokens", "sam2"), Q * L);
}

TEST(ClipBench, NoExpansionMeansNoRoundTwoAndTrackStepsAreClamped) {
  ClipBenchOptions o;
  o.frames = 100;
  o.query_frames = {3, 50};
  o.expansion_frames = 0;
  o.track_steps = 20;
  auto p = PlanClipWork(o);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->track_steps, (std::vector<int64_t>{5, 20}));  // P = min(steps, qf + 2)
  EXPECT_EQ(p->Units("track", "sam2_video"), 5 + 20);          // round 1 only
  EXPECT_EQ(p->Units("refine", "sam2"), 2 * (2 + 2 * 5));
  EXPECT_EQ(p->Units("tokens", "sam2"), 2);  // unbatched: the first crop of the first tracked frame
  EXPECT_EQ(p->Units("tokens", "ren"), 0);
  EXPECT_EQ(p->Units("video", "ren"), 5 * 50);
  o.batch_crops = 1;
  auto b = PlanClipWork(o);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->Units("tokens", "sam2"), 2 * 8);
}

TEST(ClipBench, RejectsBadOptions) {
  ClipBenchOptions o;
  o.arch = "huge";
  EXPECT_FALSE(PlanClipWork(o).ok());
  o = ClipBenchOptions();
  o.query_frames = {1500};
  EXPECT_FALSE(PlanClipWork(o).ok());
  o = ClipBenchOptions();
  o.ranks = {0};
  EXPECT_FALSE(PlanClipWork(o).ok());
  o = ClipBenchOptions();
  EXPECT_TRUE(SetClipBenchOption(&o, "ranks", "1,2,4").ok());
  EXPECT_EQ(o.ranks, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_TRUE(SetClipBenchOption(&o, "track-steps", "30").ok());
  EXPECT_EQ(o.track_steps, 30);
  EXPECT_TRUE(SetClipBenchOption(&o, "batch-crops", "on").ok());
  EXPECT_EQ(o.batch_crops, 1);
  const Status bad = SetClipBenchOption(&o, "frames", "12x");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("--frames"), std::string::npos) << bad.message();
  EXPECT_FALSE(SetClipBenchOption(&o, "no-such-option", "1").ok());
  EXPECT_FALSE(SetClipBenchOption(&o, "batch-crops", "maybe").ok());
}

TEST(ClipBench, VitFlopsFormula) {
  // P = 4 patches of 2x2, 1 class token, D = 8, M = 32, one block:
  // embed 2*4*12*8 = 768; block 2*(4*5*64 + 2*25*8 + 2*5*8*32) = 8480.
  EXPECT_DOUBLE_EQ(VitForwardFlops(4, 1, 2, 8, 32, 1), 768.0 + 8480.0);
  EXPECT_DOUBLE_EQ(VitForwardFlops(4, 1, 2, 8, 32, 3), 768.0 + 3 * 8480.0);
}

ClipBenchOptions ToyOptions() {
  ClipBenchOptions o;
  o.arch = "toy";
  o.frames = 6;
  o.query_frames = {3};
  o.candidates = 1;
  o.track_steps = 4;
  o.expansion_frames = 1;
  o.frame_height = 48;
  o.frame_width = 64;
  o.threads = 1;
  return o;
}

TEST(ClipBench, ToyRunDoesThePlannedWork) {
  const ClipBenchOptions o = ToyOptions();
  auto plan = PlanClipWork(o);
  ASSERT_TRUE(plan.ok());
  bool ready_called = false;
  auto r = RunClipWorkload(o, [&] { ready_called = true; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(ready_called);
  ASSERT_EQ(r->plan.stages.size(), plan->stages.size());
  for (size_t i = 0; i < plan->stages.size(); ++i) {
    const auto& want = plan->stages[i];
    const auto& got = r->plan.stages[i];
    EXPECT_EQ(got.stage, want.stage);
    EXPECT_EQ(got.model, want.model);
    EXPECT_EQ(got.units, want.units) << want.stage << " " << want.model;
    EXPECT_EQ(got.calls, want.calls) << want.stage << " " << want.model;
    EXPECT_GE(got.seconds, 0.0);
  }
  // The documented rule for this clip: qf 3, c 1, P 4, L 3, E 1, K2 2.
  EXPECT_EQ(r->plan.Units("query", "ren"), 8);
  EXPECT_EQ(r->plan.Units("video", "ren"), 5 * 3);
  EXPECT_EQ(r->plan.Units("refine", "sam2"), (2 + 2) + (4 + 2));
  EXPECT_EQ(r->plan.Units("refine", "dino"), (2 + 2) + (4 + 2));
  EXPECT_EQ(r->plan.Units("refine", "ren"), 2 * 8);
  EXPECT_EQ(r->plan.Units("track", "sam2_video"), 2 * 4);
  EXPECT_EQ(r->plan.Units("tokens", "sam2"), 8 * 3);
  EXPECT_EQ(r->plan.Units("tokens", "ren"), 8);
  // Toy DINOv2 (224², patch 14, D 32, 2 blocks) over the 15 video-pass images.
  EXPECT_DOUBLE_EQ(r->vit_flops, 15 * VitForwardFlops(256, 1, 14, 32, 128, 2));
  EXPECT_GT(r->peak_rss_mib, 0.0);
  EXPECT_EQ(r->peak_device_mib, -1.0);  // CPU
  EXPECT_EQ(r->dtypes, "REN fp32, DINO bf16, SAM 2 fp32");
}

TEST(ClipBench, ForkedRanksReportBack) {
  ClipBenchOptions o = ToyOptions();
  o.expansion_frames = 0;
  o.ranks = {1, 2};
  std::ostringstream out;
  const Status st = BenchClip(o, out);
  ASSERT_TRUE(st.ok()) << st.ToString() << "\n" << out.str();
  const std::string s = out.str();
  EXPECT_NE(s.find("model work of a synthetic clip"), std::string::npos) << s;
  EXPECT_NE(s.find("ranks 1: aggregate"), std::string::npos) << s;
  EXPECT_NE(s.find("ranks 2: aggregate"), std::string::npos) << s;
  EXPECT_NE(s.find("measured matmul peak fp32"), std::string::npos) << s;
  // The per-stage table of the one-rank run carries the planned units.
  EXPECT_NE(s.find("video   ren                15 images"), std::string::npos) << s;
}

TEST(ClipBench, AChildFailureIsAnErrorNotAHang) {
  ClipBenchOptions o = ToyOptions();
  o.device = "cuda:0";  // the children fail (this LibTorch or host has no CUDA) or, on a GPU host, run
  o.ranks = {2};
  std::ostringstream out;
  const Status st = BenchClip(o, out);
  if (!st.ok()) {
    EXPECT_NE(st.message().find("CUDA"), std::string::npos) << st.ToString();
  }
}

}  // namespace
}  // namespace vq2d
