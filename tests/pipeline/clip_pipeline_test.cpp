// ClipPipeline end to end with small deterministic stand-in models (test doubles): a pasted object
// the pipeline must find, identical outputs with the per-clip video-token cache on and off, fewer
// REN passes with it, the tracked-token alignment switch, and queries that never take the clip down.
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_pipeline.h"
#include "vq2d/pipeline/query_tokens.h"

namespace vq2d::pipeline {
namespace {

// Tokens: the mean colour of a 5x5 patch around each of a 4x4 grid of points (+ a constant), so the
// tokens on the red object match the query's.
class ColourRen : public TokenExtractor {
 public:
  Result<RenTokens> Encode(const torch::Tensor& images) override {
    const int64_t n = images.size(0), H = images.size(1), W = images.size(2);
    const auto grid = RenGridPoints(4);
    RenTokens r;
    r.points = torch::empty({16, 2});
    r.tokens = torch::empty({n, 16, 4});
    for (size_t g = 0; g < grid.size(); ++g) {
      const auto p = TranslatePoint(grid[g], static_cast<int>(H), static_cast<int>(W));
      r.points[g][0] = p[0];
      r.points[g][1] = p[1];
    }
    for (int64_t i = 0; i < n; ++i) {
      const cv::Mat img = TensorToMat(images[i]);
      for (size_t g = 0; g < grid.size(); ++g) {
        const int y = static_cast<int>(r.points[g][0].item<float>()), x = static_cast<int>(r.points[g][1].item<float>());
        const cv::Rect roi = cv::Rect(x - 2, y - 2, 5, 5) & cv::Rect(0, 0, img.cols, img.rows);
        const cv::Scalar m = cv::mean(img(roi));
        r.tokens[i][g][0] = m[0] / 255.0;
        r.tokens[i][g][1] = m[1] / 255.0;
        r.tokens[i][g][2] = m[2] / 255.0;
        r.tokens[i][g][3] = 0.05;
      }
    }
    ++calls;
    images_ += n;
    return r;
  }
  int calls = 0;
  int64_t images_ = 0;
};

// SAM: the mask of "red" pixels (R > 150, G < 100) inside the box / the red component at the point
// (three masks: red-in-3x3, red-in-window, red-everywhere).
class RedSam : public ImageSegmenter {
 public:
  Status SetImage(const cv::Mat& rgb) override {
    cv::Mat ch[3];
    cv::split(rgb, ch);
    red_ = (ch[0] > 150) & (ch[1] < 100);
    red_ /= 255;
    return Status::OK();
  }
  Result<cv::Mat> PredictBox(const std::array<double, 4>& b) override {
    cv::Mat m = cv::Mat::zeros(red_.size(), CV_8U);
    const cv::Rect r = cv::Rect(cv::Point(static_cast<int>(b[0]), static_cast<int>(b[1])),
                                cv::Point(static_cast<int>(b[2]) + 1, static_cast<int>(b[3]) + 1)) &
                       cv::Rect(0, 0, m.cols, m.rows);
    red_(r).copyTo(m(r));
    return m;
  }
  Result<std::vector<cv::Mat>> PredictPoint(double x, double y) override {
    std::vector<cv::Mat> out;
    for (int half : {1, 6, 1000}) {
      cv::Mat m = cv::Mat::zeros(red_.size(), CV_8U);
      const cv::Rect r = cv::Rect(static_cast<int>(x) - half, static_cast<int>(y) - half, 2 * half + 1, 2 * half + 1) &
                         cv::Rect(0, 0, m.cols, m.rows);
      red_(r).copyTo(m(r));
      out.push_back(m);
    }
    return out;
  }

 private:
  cv::Mat red_;
};

// Dense features: 8x8 average-pooled colour.
class PoolFeatures : public DenseFeatureExtractor {
 public:
  Result<torch::Tensor> Extract(const torch::Tensor& images) override {
    torch::Tensor f = images.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
    return torch::avg_pool2d(f, 8, 8, 0, /*ceil_mode=*/true) + 0.01;
  }
};

// Tracker: the red component in every frame until one has none.
class RedTracker : public VideoTracker {
 public:
  Status Track(const FrameSource& frames, int64_t prompt, const std::array<double, 4>&,
               const TrackerFrameCallback& on_frame) override {
    RedSam sam;
    for (int64_t i = prompt; i < frames.num_frames; ++i) {
      VQ2D_RETURN_IF_ERROR(sam.SetImage(TensorToMat(frames.get(i))));
      auto m = sam.PredictBox({0, 0, 1e6, 1e6});
      if (!on_frame(i, *m, 10.f)) break;
    }
    return Status::OK();
  }
};

// 20 frames 48x64 of grey noise; a red 12x12 square on frames 2..6 (the visual crop is frame 3)
// and 12..15 (the response).
torch::Tensor MakeClip() {
  cv::RNG rng(7);
  std::vector<torch::Tensor> frames;
  for (int t = 0; t < 20; ++t) {
    cv::Mat img(48, 64, CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 60, 120);
    if ((t >= 2 && t <= 6) || (t >= 12 && t <= 15)) {
      img(cv::Rect(10 + 2 * t, 8 + t, 12, 12)).setTo(cv::Scalar(220, 30, 30));
    }
    frames.push_back(MatToTensor(img));
  }
  return torch::stack(frames);
}

struct ClipRun {
  std::vector<QueryOutcome> outcomes;
  int64_t video_images = 0;
};

ClipRun RunClip(bool cache, const PipelineParams& params) {
  ColourRen ren;
  RedSam sam;
  PoolFeatures feat;
  RedTracker tracker;
  Models m{&ren, &sam, &feat, &tracker};
  ClipPipeline clip(m, params, cache);
  clip.StartClip(MakeClip());
  ClipRun run;
  for (int64_t qt : {18, 19, 17}) {
    QueryInput q{3, {16, 11, 12, 12}, qt};
    auto out = clip.RunQuery(q);
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    if (out.ok()) run.outcomes.push_back(*out);
  }
  run.video_images = clip.ren_images_encoded_for_video();
  return run;
}

TEST(ClipPipeline, FindsThePastedObjectAndCacheChangesNothing) {
  PipelineParams p;
  const ClipRun on = RunClip(true, p);
  const ClipRun off = RunClip(false, p);
  ASSERT_EQ(on.outcomes.size(), 3u);
  ASSERT_EQ(off.outcomes.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(on.outcomes[k].track, off.outcomes[k].track) << k;
    EXPECT_EQ(on.outcomes[k].score, off.outcomes[k].score) << k;
    EXPECT_EQ(on.outcomes[k].upstream_errors, off.outcomes[k].upstream_errors) << k;
  }
  // The response (frames 12..15) is found, and the track stays before the query frame.
  const Track& t = on.outcomes[0].track;
  ASSERT_FALSE(t.empty());
  EXPECT_GT(on.outcomes[0].score, 0.9);
  for (const auto& b : t) {
    EXPECT_GE(b.frame, 12);
    EXPECT_LE(b.frame, 15);
    EXPECT_EQ(b.w, 11);
  }
  // Cache: 19 frames x 5 crops once, instead of (18 + 19 + 17) x 5.
  EXPECT_EQ(on.video_images, 19 * 5);
  EXPECT_EQ(off.video_images, (18 + 19 + 17) * 5);
  EXPECT_EQ(on.outcomes[1].stats.ren_images, 5);  // frame 18 only
}

TEST(ClipPipeline, StreamingPassOverAllQueriesMatchesPerQueryRuns) {
  PipelineParams p;
  const ClipRun off = RunClip(false, p);
  ColourRen ren;
  RedSam sam;
  PoolFeatures feat;
  RedTracker tracker;
  ClipPipeline clip(Models{&ren, &sam, &feat, &tracker}, p, true);
  clip.StartClip(MakeClip());
  std::vector<QueryInput> qs;
  for (int64_t qt : {18, 19, 17}) qs.push_back(QueryInput{3, {16, 11, 12, 12}, qt});
  for (int64_t chunk : {1, 4, 64}) {
    auto out = clip.RunQueries(qs, chunk);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    ASSERT_EQ(out->size(), 3u);
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ((*out)[k].track, off.outcomes[k].track) << k;
      EXPECT_EQ((*out)[k].score, off.outcomes[k].score) << k;
    }
    EXPECT_EQ((*out)[0].stats.ren_images, 19 * 5);
  }
}

TEST(ClipPipeline, QueryWithoutAnyMaskGivesEmptyTrackNotFailure) {
  PipelineParams p;
  ColourRen ren;
  RedSam sam;
  PoolFeatures feat;
  RedTracker tracker;
  ClipPipeline clip(Models{&ren, &sam, &feat, &tracker}, p, true);
  clip.StartClip(MakeClip());
  auto out = clip.RunQuery(QueryInput{0, {40, 30, 10, 10}, 18});  // no red pixel in the box
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_TRUE(out->track.empty());
  EXPECT_EQ(out->score, 0.0);
  ASSERT_FALSE(out->upstream_errors.empty());
  auto bad = clip.RunQuery(QueryInput{0, {1, 1, 4, 4}, 99});
  EXPECT_FALSE(bad.ok());
}

TEST(ClipPipeline, TrackedTokenAlignmentSwitch) {
  // Per-crop outputs: crop 1 of frame 0 skipped (empty mask). Upstream drops it (7 + 8 rows, so
  // len//len(track) misaligns); the fix keeps a zero row (8 + 8).
  CropTokens f0, f1;
  f0.kind = {1, -1, 1, 1, 1, 1, 1, 1};
  f0.tokens = torch::ones({8, 3});
  f1.kind = {1, 1, 1, 1, 1, 1, 1, 1};
  f1.tokens = torch::full({8, 3}, 2.0);
  std::string err;
  const torch::Tensor up = AssembleCropTokens({f0, f1}, false, &err);
  const torch::Tensor fix = AssembleCropTokens({f0, f1}, true, &err);
  EXPECT_EQ(up.size(0), 15);
  EXPECT_EQ(fix.size(0), 16);
  EXPECT_EQ(fix[1].sum().item<float>(), 0.f);
  EXPECT_EQ(fix[8][0].item<float>(), 2.f);  // frame 1 starts at row 8
  EXPECT_EQ(up[7][0].item<float>(), 2.f);   // upstream: frame 1's first token at row 7
}

TEST(ClipPipeline, SlidingWindowOverlapReachesTheVideoPass) {
  // 48x64 frames, cf 2 crops 24x32; overlap 0.5 -> strides 12, 16 -> 3x3 crops: 1 + 9 per frame.
  PipelineParams p;
  p.sliding_window_overlap = 0.5;
  const ClipRun on = RunClip(true, p);
  const ClipRun off = RunClip(false, p);
  EXPECT_EQ(on.video_images, 19 * 10);
  EXPECT_EQ(off.video_images, (18 + 19 + 17) * 10);
  ASSERT_EQ(on.outcomes.size(), 3u);
  ASSERT_EQ(off.outcomes.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(on.outcomes[k].track, off.outcomes[k].track) << k;
    EXPECT_EQ(on.outcomes[k].score, off.outcomes[k].score) << k;
    EXPECT_GT(on.outcomes[k].stats.n_objects, 0) << k;
  }
  const Track& t = on.outcomes[0].track;
  ASSERT_FALSE(t.empty());
  for (const auto& b : t) {
    EXPECT_GE(b.frame, 12);
    EXPECT_LE(b.frame, 15);
  }
  ColourRen ren;
  RedSam sam;
  PoolFeatures feat;
  RedTracker tracker;
  ClipPipeline clip(Models{&ren, &sam, &feat, &tracker}, p, true);
  clip.StartClip(MakeClip());
  auto out = clip.RunQueries({QueryInput{3, {16, 11, 12, 12}, 18}, QueryInput{3, {16, 11, 12, 12}, 19}}, 4);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ((*out)[0].stats.ren_images, 19 * 10);
  EXPECT_EQ((*out)[0].track, on.outcomes[0].track);
}

}  // namespace
}  // namespace vq2d::pipeline
