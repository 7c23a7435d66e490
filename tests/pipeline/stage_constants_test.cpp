// The hard-coded upstream constants exposed as PipelineParams / ImageOps (docs/pipeline.md, Constants): hand-made
// cases where a non-default value changes the result in the expected way, and the defaults
// reproduce the upstream behaviour.
#include <cmath>
#include <functional>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_pipeline.h"
#include "vq2d/pipeline/query_tokens.h"
#include "vq2d/pipeline/refinement.h"
#include "vq2d/pipeline/selection.h"
#include "vq2d/pipeline/tracking.h"

namespace vq2d::pipeline {
namespace {

bool SameMat(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  return cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0;
}

cv::Mat NoiseImage(int h, int w, uint64_t seed) {
  cv::RNG rng(seed);
  cv::Mat img(h, w, CV_8UC3);
  rng.fill(img, cv::RNG::UNIFORM, 0, 256);
  return img;
}

// 2-D unit token whose cosine with [1, 0] is `score`.
torch::Tensor TokensWithScores(const std::vector<double>& scores) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(scores.size()), 2});
  for (size_t i = 0; i < scores.size(); ++i) {
    t[static_cast<int64_t>(i)][0] = scores[i];
    t[static_cast<int64_t>(i)][1] = std::sqrt(1.0 - scores[i] * scores[i]);
  }
  return t;
}

TEST(GeometryConstants, ImageOpsDefaultsAreUpstreamAndFollowTheParams) {
  const ImageOps d;
  EXPECT_EQ(d.crop_interpolation, CropInterpolation::kLanczos4);
  EXPECT_EQ(d.sam_blur_kernel, 3);
  EXPECT_EQ(d.token_distance_mask_size, 5);
  EXPECT_EQ(d.sliding_window_overlap, 0.0);
  const ImageOps fromDefaults = ImageOpsOf(PipelineParams{});
  EXPECT_EQ(fromDefaults.crop_interpolation, d.crop_interpolation);
  EXPECT_EQ(fromDefaults.sam_blur_kernel, d.sam_blur_kernel);
  EXPECT_EQ(fromDefaults.token_distance_mask_size, d.token_distance_mask_size);
  EXPECT_EQ(fromDefaults.sliding_window_overlap, d.sliding_window_overlap);
  PipelineParams p;
  p.crop_interpolation = CropInterpolation::kArea;
  p.sam_blur_kernel = 7;
  p.token_distance_mask_size = 0;
  p.sliding_window_overlap = 0.25;
  const ImageOps o = ImageOpsOf(p);
  EXPECT_EQ(o.crop_interpolation, CropInterpolation::kArea);
  EXPECT_EQ(o.sam_blur_kernel, 7);
  EXPECT_EQ(o.token_distance_mask_size, 0);
  EXPECT_EQ(o.sliding_window_overlap, 0.25);
  EXPECT_EQ(CvInterpolation(CropInterpolation::kLanczos4), cv::INTER_LANCZOS4);
  EXPECT_EQ(CvInterpolation(CropInterpolation::kCubic), cv::INTER_CUBIC);
  EXPECT_EQ(CvInterpolation(CropInterpolation::kLinear), cv::INTER_LINEAR);
  EXPECT_EQ(CvInterpolation(CropInterpolation::kArea), cv::INTER_AREA);
  EXPECT_EQ(CvInterpolation(CropInterpolation::kNearest), cv::INTER_NEAREST);
}

TEST(GeometryConstants, SlidingWindowOverlapStrides) {
  int ch = 0, cw = 0;
  // Upstream (overlap 0): 2x2 quadrants.
  auto s0 = SlidingWindowStarts(100, 200, 2.0, &ch, &cw);
  EXPECT_EQ(ch, 50);
  EXPECT_EQ(cw, 100);
  EXPECT_EQ(s0, (std::vector<std::array<int, 2>>{{0, 0}, {0, 100}, {50, 0}, {50, 100}}));
  EXPECT_EQ(SlidingWindowStarts(100, 200, 2.0, nullptr, nullptr, 0.0), s0);
  // overlap 0.5: strides int(50*0.5)=25, int(100*0.5)=50 -> 3x3 crops, row-major.
  auto s5 = SlidingWindowStarts(100, 200, 2.0, nullptr, nullptr, 0.5);
  EXPECT_EQ(s5, (std::vector<std::array<int, 2>>{
                    {0, 0}, {0, 50}, {0, 100}, {25, 0}, {25, 50}, {25, 100}, {50, 0}, {50, 50}, {50, 100}}));
  // overlap 0.2 (sliding_window_cropping's own default): strides int(50*0.8)=40, int(100*0.8)=80.
  auto s2 = SlidingWindowStarts(100, 200, 2.0, nullptr, nullptr, 0.2);
  EXPECT_EQ(s2, (std::vector<std::array<int, 2>>{{0, 0}, {0, 80}, {40, 0}, {40, 80}}));
  // cf 1 is the identity crop at any overlap.
  EXPECT_EQ(SlidingWindowStarts(100, 200, 1.0, nullptr, nullptr, 0.5), (std::vector<std::array<int, 2>>{{0, 0}}));
  // Crops carry their start and the resized pixels of that window.
  const cv::Mat img = NoiseImage(40, 60, 3);
  const auto crops = SlidingWindowCrops(img, 2.0, 0.5);
  ASSERT_EQ(crops.size(), 9u);
  EXPECT_EQ(crops[4].y, 10);
  EXPECT_EQ(crops[4].x, 15);
  cv::Mat expect;
  cv::resize(img(cv::Rect(15, 10, 30, 20)), expect, img.size(), 0, 0, cv::INTER_LANCZOS4);
  EXPECT_TRUE(SameMat(crops[4].image, expect));
}

TEST(GeometryConstants, CropInterpolationSelectsTheResize) {
  const cv::Mat img = NoiseImage(48, 64, 5);
  auto w = CropWindowForBox(64, 48, {20, 10, 12, 12}, 2.0, BoxContext::kPyInt);
  ASSERT_TRUE(w.ok());
  const cv::Rect r(w->left, w->top, w->right - w->left, w->bottom - w->top);
  for (auto interp : {CropInterpolation::kLanczos4, CropInterpolation::kNearest, CropInterpolation::kLinear,
                      CropInterpolation::kArea, CropInterpolation::kCubic}) {
    cv::Mat expect;
    cv::resize(img(r), expect, img.size(), 0, 0, CvInterpolation(interp));
    EXPECT_TRUE(SameMat(CutAndResize(img, *w, interp), expect));
  }
  EXPECT_TRUE(SameMat(CutAndResize(img, *w), CutAndResize(img, *w, CropInterpolation::kLanczos4)));
  EXPECT_FALSE(SameMat(CutAndResize(img, *w, CropInterpolation::kNearest), CutAndResize(img, *w)));
  const auto near = SlidingWindowCrops(img, 2.0, 0.0, CropInterpolation::kNearest);
  const auto lanc = SlidingWindowCrops(img, 2.0);
  ASSERT_EQ(near.size(), lanc.size());
  EXPECT_FALSE(SameMat(near[0].image, lanc[0].image));
}

TEST(GeometryConstants, SamBlurKernel) {
  const cv::Mat img = NoiseImage(32, 40, 9);
  EXPECT_TRUE(SameMat(SamBlur(img, 1), img));  // 1 = no blur
  EXPECT_TRUE(SameMat(SamBlur(img, 3), GaussianBlur3(img)));
  cv::Mat g5;
  cv::GaussianBlur(img, g5, cv::Size(5, 5), 0);
  EXPECT_TRUE(SameMat(SamBlur(img, 5), g5));
  EXPECT_FALSE(SameMat(SamBlur(img, 5), GaussianBlur3(img)));
}

TEST(GeometryConstants, MaxCroppingFactorClips) {
  // A 10x10 box in a 640x480 frame: min(640/15, 480/15) = 32 -> clipped to max_cf.
  for (BoxContext ctx : {BoxContext::kPyInt, BoxContext::kTensorInt64}) {
    EXPECT_EQ(*GetCroppingFactor({100, 100, 10, 10}, 640, 480, 1.5, 2.0, ctx), 2.0);
    EXPECT_EQ(*GetCroppingFactor({100, 100, 10, 10}, 640, 480, 1.5, 3.0, ctx), 3.0);
  }
  // Below the clip nothing changes.
  EXPECT_EQ(*GetCroppingFactor({0, 0, 400, 300}, 640, 480, 1.5, 2.0, BoxContext::kPyInt),
            *GetCroppingFactor({0, 0, 400, 300}, 640, 480, 1.5, 3.0, BoxContext::kPyInt));
}

// All ones except one zero pixel at (50, 50): A = (67, 67) is 17 diagonal steps away (exact 24.04,
// 5x5 chamfer 17*1.4 = 23.8, 3x3 chamfer 17*1.3693 = 23.28), B = (74, 50) is 24 axis steps away
// (exact 24, 5x5 24, 3x3 24*0.955 = 22.92). The farthest point differs between mask sizes.
TEST(GeometryConstants, TokenDistanceMaskSizeChangesTheChoice) {
  cv::Mat mask = cv::Mat::ones(101, 101, CV_8U);
  mask.at<uint8_t>(50, 50) = 0;
  const float pts[4] = {67.f, 67.f, 74.f, 50.f};
  EXPECT_EQ(ChooseTokenByDistance(mask, pts, 2), 1);     // upstream maskSize 5: B
  EXPECT_EQ(ChooseTokenByDistance(mask, pts, 2, 5), 1);
  EXPECT_EQ(ChooseTokenByDistance(mask, pts, 2, 0), 0);  // precise: A
  EXPECT_EQ(ChooseTokenByDistance(mask, pts, 2, 3), 0);  // 3x3: A
  EXPECT_NEAR(DistanceTransformL2(mask, 0).at<float>(67, 67), std::sqrt(2.0) * 17, 1e-3);
  // Threaded through the query-token assembly.
  const torch::Tensor toks = torch::eye(2);  // [2,2]: token 0 = [1,0], token 1 = [0,1]
  const torch::Tensor points = torch::tensor({67.f, 67.f, 74.f, 50.f}).view({2, 2});
  auto a5 = AssembleQueryTokens({toks}, {points}, {mask});
  auto a0 = AssembleQueryTokens({toks}, {points}, {mask}, 0);
  ASSERT_TRUE(a5.ok() && a0.ok());
  EXPECT_EQ(a5->token_index, std::vector<int>{1});
  EXPECT_EQ(a0->token_index, std::vector<int>{0});
}

// Stand-ins recording what the stages hand the models.
class OneTokenRen : public TokenExtractor {
 public:
  // Per image: token 0 = [1, 0] (and token 1 = [1, 1]) at `points`.
  Result<RenTokens> Encode(const torch::Tensor& images) override {
    images_ += images.size(0);
    RenTokens r;
    r.tokens = torch::zeros({images.size(0), points.size(0), 2});
    r.tokens.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 0}, 1.0);
    if (points.size(0) > 1) r.tokens.index_put_({torch::indexing::Slice(), 1, 1}, 1.0);  // token 1 = [1, 1]
    r.points = points;
    return r;
  }
  torch::Tensor points = torch::tensor({0.f, 0.f, 74.f, 50.f}).view({2, 2});
  int64_t images_ = 0;
};

class RecordingSam : public ImageSegmenter {
 public:
  Status SetImage(const cv::Mat& rgb) override {
    seen.push_back(rgb.clone());
    size_ = rgb.size();
    return Status::OK();
  }
  Result<cv::Mat> PredictBox(const std::array<double, 4>&) override { return mask.empty() ? Ones() : mask.clone(); }
  Result<std::vector<cv::Mat>> PredictPoint(double, double) override { return std::vector<cv::Mat>{Ones(), Ones(), Ones()}; }
  cv::Mat Ones() const { return cv::Mat::ones(size_, CV_8U); }
  std::vector<cv::Mat> seen;
  cv::Mat mask;
  cv::Size size_;
};

class ConstFeatures : public DenseFeatureExtractor {
 public:
  Result<torch::Tensor> Extract(const torch::Tensor& images) override {
    ++calls;
    return torch::ones({images.size(0), 4, 2, 2});
  }
  int calls = 0;
};

TEST(GeometryConstants, SamBlurKernelReachesEverySamImageCall) {
  const cv::Mat img = NoiseImage(24, 32, 11);
  const torch::Tensor crops = MatToTensor(img).unsqueeze(0);
  cv::Mat g5;
  cv::GaussianBlur(img, g5, cv::Size(5, 5), 0);
  struct Case {
    int k;
    cv::Mat expect;
  };
  for (const Case& c : {Case{3, GaussianBlur3(img)}, Case{1, img}, Case{5, g5}}) {
    SCOPED_TRACE(c.k);
    ImageOps ops;
    ops.sam_blur_kernel = c.k;
    OneTokenRen ren;
    RecordingSam sam;
    ConstFeatures feat;
    // Query tokens / generate_token_from_bbox.
    ASSERT_TRUE(GenerateTokensFromBoxes(crops, {{2, 2, 10, 10}}, ren, sam, false, ops).ok());
    // Tracked-object tokens.
    ModelBoxTokenGenerator gen(&ren, &sam, ops);
    ASSERT_TRUE(gen.Generate(crops, {{2, 2, 10, 10}}).ok());
    // SAM-pooled descriptors and point_to_bbox.
    ASSERT_TRUE(SamPooledTokens(crops, {{2, 2, 10, 10}}, sam, feat, 8, 8, nullptr, c.k).ok());
    ASSERT_TRUE(PointToBox(crops[0], {5.f, 5.f}, torch::ones({1, 4}), sam, feat, 8, nullptr, nullptr, c.k).ok());
    ASSERT_EQ(sam.seen.size(), 4u);
    for (const cv::Mat& s : sam.seen) EXPECT_TRUE(SameMat(s, c.expect));
  }
  // Defaults of the function signatures are upstream's 3x3 blur.
  OneTokenRen ren;
  RecordingSam sam;
  ConstFeatures feat;
  ASSERT_TRUE(GenerateTokensFromBoxes(crops, {{2, 2, 10, 10}}, ren, sam).ok());
  ASSERT_TRUE(SamPooledTokens(crops, {{2, 2, 10, 10}}, sam, feat, 8).ok());
  for (const cv::Mat& s : sam.seen) EXPECT_TRUE(SameMat(s, GaussianBlur3(img)));
}

TEST(GeometryConstants, TokenDistanceMaskSizeReachesTheTokenGenerators) {
  // The case above: a 101x101 crop, SAM mask = ones but (50, 50), REN points A = (67, 67), B = (74, 50).
  const torch::Tensor crops = MatToTensor(NoiseImage(101, 101, 2)).unsqueeze(0);
  cv::Mat mask = cv::Mat::ones(101, 101, CV_8U);
  mask.at<uint8_t>(50, 50) = 0;
  for (int ms : {5, 0}) {
    SCOPED_TRACE(ms);
    ImageOps ops;
    ops.token_distance_mask_size = ms;
    OneTokenRen ren;
    ren.points = torch::tensor({67.f, 67.f, 74.f, 50.f}).view({2, 2});
    RecordingSam sam;
    sam.mask = mask;
    auto q = GenerateTokensFromBoxes(crops, {{0, 0, 100, 100}}, ren, sam, false, ops);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    EXPECT_EQ(q->token_index, std::vector<int>{ms == 5 ? 1 : 0});
    ModelBoxTokenGenerator gen(&ren, &sam, ops);
    auto t = gen.Generate(crops, {{0, 0, 100, 100}});
    ASSERT_TRUE(t.ok());
    // token 1 is [1, 1], token 0 is [1, 0].
    EXPECT_EQ(t->tokens[0][1].item<float>(), ms == 5 ? 1.f : 0.f);
  }
}

TEST(SelectionConstants, SlidingWindowOverlapReachesVideoEncoding) {
  // 2 frames 40x60; REN gives one token [1,0] at crop point (0,0), so each object's point is its
  // crop start (p / cf + start).
  torch::Tensor frames = torch::stack({MatToTensor(NoiseImage(40, 60, 1)), MatToTensor(NoiseImage(40, 60, 2))});
  const torch::Tensor query = torch::tensor({1.f, 0.f}).view({1, 2});
  for (double overlap : {0.0, 0.5}) {
    SCOPED_TRACE(overlap);
    ImageOps ops;
    ops.sliding_window_overlap = overlap;
    OneTokenRen ren;
    ren.points = torch::zeros({1, 2});
    auto o = EncodeVideo(frames, 2, {1.0, 2.0}, query, 0.6, ren, ops);
    ASSERT_TRUE(o.ok()) << o.status().ToString();
    const int per_frame = overlap == 0.0 ? 1 + 4 : 1 + 9;
    EXPECT_EQ(ren.images_, 2 * per_frame);
    ASSERT_EQ(o->Size(), 2 * per_frame);
    std::vector<std::array<int, 2>> starts = {{0, 0}};
    for (const auto& s : SlidingWindowStarts(40, 60, 2.0, nullptr, nullptr, overlap)) starts.push_back(s);
    for (int64_t i = 0; i < o->Size(); ++i) {
      EXPECT_EQ(o->frame_ids[i].item<int64_t>(), i / per_frame);
      EXPECT_EQ(o->points[i][0].item<float>(), static_cast<float>(starts[i % per_frame][0]));
      EXPECT_EQ(o->points[i][1].item<float>(), static_cast<float>(starts[i % per_frame][1]));
    }
    // The per-clip cache and the streaming pass honour the same crops.
    OneTokenRen ren2;
    ren2.points = torch::zeros({1, 2});
    VideoTokenCache cache({1.0, 2.0}, 16, 1 << 30, ops);
    auto c = cache.Objects(frames, 2, query, 0.6, ren2);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(torch::equal(c->points, o->points));
    OneTokenRen ren3;
    ren3.points = torch::zeros({1, 2});
    auto st = StreamVideoObjects(frames, {2}, {query}, {1.0, 2.0}, 0.6, ren3, 8, nullptr, ops);
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE(torch::equal((*st)[0].points, o->points));
  }
}

TEST(SelectionConstants, QueryFrameSuppressionThreshold) {
  // One token per frame 0..4, the query frame is 4: the run before it is zeroed while >= thr.
  const std::vector<float> s = {0.5f, 0.7f, 0.85f, 0.92f, 0.95f};
  const std::vector<int64_t> f = {0, 1, 2, 3, 4};
  auto up = IntraFrameNms(s, f, 4, false, nullptr);
  EXPECT_EQ(up.scores, (std::vector<float>{0.5f, 0.7f, 0.f, 0.f, 0.f}));
  EXPECT_EQ(IntraFrameNms(s, f, 4, false, nullptr, 0.8).scores, up.scores);
  EXPECT_EQ(IntraFrameNms(s, f, 4, false, nullptr, 0.9).scores, (std::vector<float>{0.5f, 0.7f, 0.85f, 0.f, 0.f}));
  EXPECT_EQ(IntraFrameNms(s, f, 4, false, nullptr, 0.6).scores, (std::vector<float>{0.5f, 0.f, 0.f, 0.f, 0.f}));
  EXPECT_EQ(IntraFrameNms(s, f, 4, false, nullptr, 1.5).scores, s);  // nothing suppressed

  // Through SelectCandidates: upstream keeps frame 1 (0.7); with 0.9 frame 2 (0.85) survives the
  // suppression, wins the temporal NMS (0.7 > 0.8*0.85 is zeroed) and top-p.
  const torch::Tensor objects = TokensWithScores({0.5, 0.7, 0.85, 0.92, 0.95});
  const torch::Tensor query = torch::tensor({1.f, 0.f}).view({1, 2});
  const torch::Tensor fids = torch::arange(5, torch::kInt64);
  SelectorParams p;
  EXPECT_EQ(p.query_frame_suppression, 0.8);
  EXPECT_EQ(SelectCandidates(objects, query, fids, torch::Tensor(), 4, p).idxs, std::vector<int64_t>{1});
  p.query_frame_suppression = 0.9;
  EXPECT_EQ(SelectCandidates(objects, query, fids, torch::Tensor(), 4, p).idxs, std::vector<int64_t>{2});
}

TEST(SelectionConstants, IntraFrameKeepRatio) {
  // Frame 0: 0.9, 0.85, 0.5; frame 1: 0.6. No query frame among them.
  const std::vector<float> s = {0.9f, 0.85f, 0.5f, 0.6f};
  const std::vector<int64_t> f = {0, 0, 0, 1};
  EXPECT_EQ(IntraFrameNms(s, f, -1, false, nullptr).idxs, (std::vector<int64_t>{0, 3}));  // upstream 1.0
  EXPECT_EQ(IntraFrameNms(s, f, -1, false, nullptr, 0.8, 1.0).idxs, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(IntraFrameNms(s, f, -1, false, nullptr, 0.8, 0.9).idxs, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_EQ(IntraFrameNms(s, f, -1, false, nullptr, 0.8, 0.5).idxs, (std::vector<int64_t>{0, 1, 2, 3}));
  // Through SelectCandidates with top-p 0: more entries reach the temporal NMS (which then keeps
  // the peaks only, as the entries are adjacent).
  SelectorParams p;
  EXPECT_EQ(p.intra_frame_keep_ratio, 1.0);
  p.top_p = 0.0;
  p.nms_threshold = 0.99;  // suppress neighbours only when almost equal
  const torch::Tensor objects = TokensWithScores({0.9, 0.85, 0.5, 0.6});
  const torch::Tensor query = torch::tensor({1.f, 0.f}).view({1, 2});
  const torch::Tensor fids = torch::tensor({0, 0, 0, 1}, torch::kInt64);
  EXPECT_EQ(SelectCandidates(objects, query, fids, torch::Tensor(), -1, p).idxs, (std::vector<int64_t>{0, 3}));
  p.intra_frame_keep_ratio = 0.9;
  EXPECT_EQ(SelectCandidates(objects, query, fids, torch::Tensor(), -1, p).idxs, (std::vector<int64_t>{0, 1, 3}));
}

TEST(GeometryConstants, ValidatePipelineParamsNamesTheField) {
  EXPECT_TRUE(ValidatePipelineParams(PipelineParams{}).ok());
  struct Case {
    std::function<void(PipelineParams&)> set;
    std::string field;
  };
  const Case cases[] = {
      {[](PipelineParams& p) { p.sam_blur_kernel = 4; }, "sam_blur_kernel"},
      {[](PipelineParams& p) { p.sam_blur_kernel = 0; }, "sam_blur_kernel"},
      {[](PipelineParams& p) { p.token_distance_mask_size = 4; }, "token_distance_mask_size"},
      {[](PipelineParams& p) { p.sliding_window_overlap = 1.0; }, "sliding_window_overlap"},
      {[](PipelineParams& p) { p.sliding_window_overlap = -0.5; }, "sliding_window_overlap"},
      {[](PipelineParams& p) { p.sam_pooled_chunk = 0; }, "sam_pooled_chunk"},
  };
  for (const Case& c : cases) {
    PipelineParams p;
    c.set(p);
    const Status s = ValidatePipelineParams(p);
    ASSERT_FALSE(s.ok()) << c.field;
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.field), std::string::npos) << s.message();
  }
  // ClipPipeline refuses such params per query instead of crashing in OpenCV.
  PipelineParams bad;
  bad.sam_blur_kernel = 2;
  OneTokenRen ren;
  RecordingSam sam;
  ConstFeatures feat;
  struct NoTracker : VideoTracker {
    Status Track(const FrameSource&, int64_t, const std::array<double, 4>&,
                 const TrackerFrameCallback&) override {
      return Status::OK();
    }
  } tracker;
  ClipPipeline clip(Models{&ren, &sam, &feat, &tracker}, bad);
  clip.StartClip(torch::zeros({4, 16, 16, 3}, torch::kUInt8));
  auto r = clip.RunQuery(QueryInput{0, {2, 2, 8, 8}, 3});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sam_blur_kernel"), std::string::npos);
}

}  // namespace
}  // namespace vq2d::pipeline
