// VqEngine on the demo's tiny random models: weight files written and loaded back strictly, a clip
// of synthetic frames run end to end, deterministic, identical with the shared video pass on/off
// and with the debug trace and with frames arriving from a prefetch thread, and bad inputs handled
// per query.
#include "vq2d/pipeline/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <utility>

#include "vq2d/base/chunk_prefetch.h"
#include "vq2d/core/checkpoint.h"

#include "engine_scenes.h"
#include "support/test_support.h"

namespace vq2d::pipeline {
namespace {

// Demo models with random weights (seed) written to `dir`, and an engine over them.
std::unique_ptr<VqEngine> DemoEngine(const std::string& dir, uint64_t seed, EngineOptions* options = nullptr) {
  EngineOptions o;
  o.models = testing::SmallDemoModels(dir);
  EXPECT_TRUE(WriteRandomModels(o.models, seed).ok());
  if (options) *options = o;
  auto engine = VqEngine::Create(o);
  EXPECT_TRUE(engine.ok()) << engine.status().ToString();
  return engine.ok() ? std::move(engine).value() : nullptr;
}

std::string Dump(const std::vector<QueryResult>& rs) { return testing::DumpResults(rs); }

TEST(VqEngine, DemoModelsRunAClipDeterministically) {
  vq2d::testing::TempDir dir;
  EngineOptions o;
  auto engine = DemoEngine(dir.path(), 7, &o);
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->device(), "cpu");
  // models.precision auto on the CPU: what the CPU has always run (precision.h).
  EXPECT_EQ(engine->precision(), "auto: REN fp32, SAM 2 fp32, descriptors bf16");
  const int T = 10, H = 72, W = 128;
  const auto frames = testing::MovingSquareFrames(T, H, W);
  ClipFrames cf{frames.data(), T, H, W};
  std::vector<QueryInput> qs = {{8, {58, 20, 20, 20}, 9}, {7, {52, 20, 20, 20}, 6}};
  auto a = engine->RunClip(cf, qs);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), 2u);
  for (const auto& r : *a) {
    EXPECT_TRUE(std::isfinite(r.score));
    EXPECT_GT(r.stats.n_objects, 0);
  }
  auto b = engine->RunClip(cf, qs);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Dump(*a), Dump(*b));

  // Upstream's per-query video encoding: same results, more REN images.
  EngineOptions per_query = o;
  per_query.share_video_tokens = false;
  auto e2 = VqEngine::Create(per_query);
  ASSERT_TRUE(e2.ok());
  auto c = (*e2)->RunClip(cf, qs);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Dump(*a), Dump(*c));
  int64_t shared = 0, separate = 0;
  for (const auto& r : *a) shared += r.stats.ren_images;
  for (const auto& r : *c) separate += r.stats.ren_images;
  EXPECT_EQ(shared, 5 * 9);           // one pass over frames [0, max query frame)
  EXPECT_EQ(separate, 5 * (9 + 6));   // upstream: 5 x sum of query frames

  // The debug trace runs each query alone: same results, one trace per query.
  nlohmann::json debug;
  auto d = engine->RunClip(cf, qs, &debug, dir.Join("debug.safetensors"));
  ASSERT_TRUE(d.ok());
  auto tensors = LoadSafetensors(dir.Join("debug.safetensors"));
  ASSERT_TRUE(tensors.ok()) << tensors.status().ToString();
  ASSERT_TRUE(tensors->count("q1.query_tokens"));
  EXPECT_EQ(tensors->at("q1.query_tokens").size(1), 32);
  EXPECT_EQ(tensors->at("q0.object_frame_ids").size(0), a->at(0).stats.n_objects);
  EXPECT_EQ(Dump(*a), Dump(*d));
  ASSERT_EQ(debug["queries"].size(), 2u);
  EXPECT_FALSE(debug["queries"][0]["trace"].empty());
}

// Frames arriving from a prefetch thread while the engine computes (ClipFrames::ready): the
// same results as with every frame there, through both the shared pass and the per-query path,
// with the reader going through the clip from its start or reading the visual-crop frames first;
// the engine waits for each query's visual-crop frame alone first (not a prefix of the clip), then
// for the chunks of the video pass, then for the whole clip; a frame that never arrives fails the
// clip with the reader's error.
TEST(VqEngine, FramesArrivingFromAPrefetchThreadGiveTheSameResults) {
  vq2d::testing::TempDir dir;
  EngineOptions o;
  auto engine = DemoEngine(dir.path(), 7, &o);
  ASSERT_TRUE(engine);
  const int T = 10, H = 72, W = 128;
  const auto frames = testing::MovingSquareFrames(T, H, W);
  const int64_t frame_bytes = int64_t{H} * W * 3;
  std::vector<QueryInput> qs = {{8, {58, 20, 20, 20}, 9}, {7, {52, 20, 20, 20}, 6}};
  auto all = engine->RunClip(ClipFrames{frames.data(), T, H, W}, qs);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  using Range = std::pair<int64_t, int64_t>;
  // (background, visual-crop frames first): the thread through the clip from its start, the
  // thread with the crops first, and the same order on the engine's thread (reads then follow the
  // waits, so what was read when a wait returned is known).
  for (auto [background, crops_first] : {std::pair{true, false}, std::pair{true, true}, std::pair{false, true}}) {
    std::vector<uint8_t> arriving(frames.size(), 0);
    std::vector<Range> waits, reads;
    std::vector<size_t> reads_at_wait;  // reads done when each wait returned (without the thread)
    std::mutex mu;
    ChunkPrefetcher prefetch(T, 3, [&](int64_t b, int64_t e) {
      std::copy(frames.begin() + b * frame_bytes, frames.begin() + e * frame_bytes, arriving.begin() + b * frame_bytes);
      std::lock_guard<std::mutex> lock(mu);
      reads.emplace_back(b, e);
      return Status::OK();
    }, background, Clock::Default(), crops_first ? std::vector<int64_t>{8, 7} : std::vector<int64_t>{});
    ClipFrames cf{arriving.data(), T, H, W};
    cf.ready = [&](int64_t b, int64_t e) {
      waits.emplace_back(b, e);
      Status s = prefetch.Wait(b, e);
      std::lock_guard<std::mutex> lock(mu);
      reads_at_wait.push_back(reads.size());
      return s;
    };
    auto r = engine->RunClip(cf, qs);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(Dump(*all), Dump(*r));
    ASSERT_GE(waits.size(), 4u);
    EXPECT_EQ(waits[0], (Range{8, 9}));  // query 0's visual-crop frame, then query 1's
    EXPECT_EQ(waits[1], (Range{7, 8}));
    for (size_t k = 2; k + 1 < waits.size(); ++k) {  // the video pass: consecutive chunks from 0 to 9
      EXPECT_EQ(waits[k].first, k == 2 ? 0 : waits[k - 1].second) << k;
      EXPECT_LT(waits[k].first, waits[k].second) << k;
    }
    EXPECT_EQ(waits[waits.size() - 2].second, 9);  // the last query frame
    EXPECT_EQ(waits.back(), (Range{0, T}));
    if (!background && crops_first) {
      // The first query was encoded after one frame was read, the second after two.
      EXPECT_EQ(reads_at_wait[0], 1u);
      EXPECT_EQ(reads_at_wait[1], 2u);
      EXPECT_EQ(reads[0], (Range{8, 9}));
      EXPECT_EQ(reads[1], (Range{7, 8}));
    }
  }
  EngineOptions per_query_options = o;
  per_query_options.share_video_tokens = false;
  auto per_query = VqEngine::Create(per_query_options);
  ASSERT_TRUE(per_query.ok());
  std::vector<uint8_t> arriving(frames.size(), 0);
  ChunkPrefetcher prefetch(T, 4, [&](int64_t b, int64_t e) {
    std::copy(frames.begin() + b * frame_bytes, frames.begin() + e * frame_bytes, arriving.begin() + b * frame_bytes);
    return Status::OK();
  });
  ClipFrames cf{arriving.data(), T, H, W};
  cf.ready = [&](int64_t b, int64_t e) { return prefetch.Wait(b, e); };
  auto r = (*per_query)->RunClip(cf, qs);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Dump(*all), Dump(*r));

  ChunkPrefetcher failing(T, 4, [&](int64_t b, int64_t) {
    return b >= 4 ? Status::Corruption("clip.h5: frame 5: checksum mismatch") : Status::OK();
  });
  ClipFrames bad{arriving.data(), T, H, W};
  bad.ready = [&](int64_t b, int64_t e) { return failing.Wait(b, e); };
  auto f = engine->RunClip(bad, qs);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kCorruption);
  EXPECT_NE(f.status().message().find("clip.h5: frame 5"), std::string::npos) << f.status().ToString();
}

// models.batch_crops: off on the CPU by default (auto), and on gives the same decisions (tracks,
// round-2 outcomes, errors) with scores within 1e-4: the batched SAM 2 encodes are equal within
// float tolerance, not bit-identical.
TEST(VqEngine, BatchedCropsGiveTheSameDecisions) {
  vq2d::testing::TempDir dir;
  EngineOptions o;
  auto engine = DemoEngine(dir.path(), 7, &o);
  ASSERT_TRUE(engine);
  const int T = 12, H = 72, W = 128;
  const auto frames = testing::MovingSquareFrames(T, H, W);
  const ClipFrames cf{frames.data(), T, H, W};
  const std::vector<QueryInput> qs = {{8, {58, 20, 20, 20}, 9}, {7, {52, 20, 20, 20}, 6}, {2, {22, 20, 20, 20}, 11}};
  auto off = engine->RunClip(cf, qs);
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EngineOptions b = o;
  b.models.batch_crops = "on";
  auto batched = VqEngine::Create(b);
  ASSERT_TRUE(batched.ok()) << batched.status().ToString();
  auto on = (*batched)->RunClip(cf, qs);
  ASSERT_TRUE(on.ok()) << on.status().ToString();
  ASSERT_EQ(on->size(), off->size());
  for (size_t i = 0; i < off->size(); ++i) {
    SCOPED_TRACE(StrCat("query ", i));
    const QueryResult &x = (*off)[i], &y = (*on)[i];
    EXPECT_NEAR(x.score, y.score, 1e-4);
    EXPECT_EQ(x.round2_tracked, y.round2_tracked);
    EXPECT_EQ(x.round2_accepted, y.round2_accepted);
    EXPECT_EQ(x.upstream_errors, y.upstream_errors);
    ASSERT_EQ(x.track.size(), y.track.size());
    for (size_t k = 0; k < x.track.size(); ++k) {
      EXPECT_EQ(x.track[k].frame, y.track[k].frame);
      EXPECT_EQ(x.track[k].x1, y.track[k].x1);
      EXPECT_EQ(x.track[k].y1, y.track[k].y1);
      EXPECT_EQ(x.track[k].x2, y.track[k].x2);
      EXPECT_EQ(x.track[k].y2, y.track[k].y2);
    }
  }
  // A batch encodes every crop; one by one, a crop equal to the previous one reuses its features.
  EXPECT_GE((*batched)->model_work().sam2_encodes, engine->model_work().sam2_encodes);
  EXPECT_EQ((*batched)->model_work().ren_images, engine->model_work().ren_images);
  b.models.batch_crops = "sometimes";
  auto bad = VqEngine::Create(b);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("models.batch_crops"), std::string::npos) << bad.status().ToString();
}

TEST(VqEngine, BadQueryInputsDoNotFailTheClip) {
  vq2d::testing::TempDir dir;
  auto engine = DemoEngine(dir.path(), 3);
  ASSERT_TRUE(engine);
  const auto frames = testing::MovingSquareFrames(4, 72, 128);
  ClipFrames cf{frames.data(), 4, 72, 128};
  // Query frame past the clip, and a degenerate (zero-area) visual crop.
  auto r = engine->RunClip(cf, {{1, {10, 20, 20, 20}, 40}, {1, {10, 20, 0, 0}, 3}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE((*r)[0].track.empty());
  EXPECT_EQ((*r)[0].score, 0.0);
  ASSERT_FALSE((*r)[0].upstream_errors.empty());
  EXPECT_NE((*r)[0].upstream_errors[0].find("outside the clip"), std::string::npos);
  EXPECT_TRUE(std::isfinite((*r)[1].score));
}

TEST(VqEngine, Dinov2DescriptorsRunTheSameClip) {
  vq2d::testing::TempDir dir;
  ModelOptions m = testing::SmallDemoModels(dir.path());
  ASSERT_TRUE(WriteRandomModels(m, 11).ok());
  EngineOptions o;
  o.models = m;
  o.models.feature_extractor = "dinov2";
  o.params.patch_size = 14;  // upstream pairs 'dinov2' with visual_query.patch_size 14
  auto engine = VqEngine::Create(o);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  const auto frames = testing::MovingSquareFrames(6, 72, 128);
  auto r = (*engine)->RunClip({frames.data(), 6, 72, 128}, {{4, {34, 20, 20, 20}, 5}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(std::isfinite((*r)[0].score));
  o.models.feature_extractor = "dinov3";
  EXPECT_FALSE(VqEngine::Create(o).ok());
}

TEST(VqEngine, LoadErrorsNameTheFile) {
  vq2d::testing::TempDir dir;
  ModelOptions m = testing::SmallDemoModels(dir.path());
  ASSERT_TRUE(WriteRandomModels(m, 1).ok());
  EngineOptions o;
  o.models = m;
  o.models.sam2_file = dir.path() + "/missing.pt";
  auto e = VqEngine::Create(o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("missing.pt"), std::string::npos) << e.status().ToString();
  // An architecture that does not match the weights: strict load names the checkpoint.
  o.models = m;
  o.models.dino_arch["depth"] = 3;
  e = VqEngine::Create(o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("dino_demo.safetensors"), std::string::npos) << e.status().ToString();
  // REN width must equal the backbone width.
  o.models = m;
  o.models.region_encoder["hidden_dim"] = 64;
  e = VqEngine::Create(o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("hidden_dim"), std::string::npos);
  // Stage parameters the stages cannot run with fail at start, not per query.
  o.models = m;
  o.params.sam_blur_kernel = 2;
  e = VqEngine::Create(o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("sam_blur_kernel"), std::string::npos) << e.status().ToString();
  o.params = PipelineParams{};
  o.models.precision = "fp16";
  e = VqEngine::Create(o);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("models.precision 'fp16'"), std::string::npos) << e.status().ToString();
  EXPECT_FALSE(ValidateEngineOptions(o).ok());
  o.models.precision = "auto";
  o.models.device = "cuda:9";
  e = VqEngine::Create(o);
  EXPECT_FALSE(e.ok());
}

}  // namespace
}  // namespace vq2d::pipeline
