// The adapters over the core models produce what the pipeline's interfaces promise (shapes,
// dtypes, host tensors), with tiny random-weight models.
#include "vq2d/pipeline/model_adapters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "vq2d/pipeline/engine.h"
#include "vq2d/pipeline/query_tokens.h"

namespace vq2d::pipeline {
namespace {

TEST(ModelAdapters, DinoFeaturesShape) {
  DinoVitConfig c = DinoVitConfig::VitB8();
  c.embed_dim = 16;
  c.depth = 1;
  c.num_heads = 2;
  DinoVisionTransformer m(c);
  m->eval();
  DinoFeatureAdapter a(m, 32, 48);
  auto f = a.Extract(torch::randint(0, 255, {2, 20, 30, 3}).to(torch::kUInt8));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->sizes(), (std::vector<int64_t>{2, 16, 4, 6}));
  EXPECT_EQ(f->scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(*f).all().item<bool>());
}

TEST(ModelAdapters, DinoV2FeaturesPadToThePatchAtNativeResolution) {
  DinoV2Config c = DinoV2Config::VitS14();
  c.embed_dim = 16;
  c.depth = 2;
  c.num_heads = 2;
  DinoV2VisionTransformer m(c);
  m->eval();
  DinoV2FeatureAdapter a(m, 1);
  const torch::Tensor img = torch::randint(0, 255, {2, 20, 30, 3}).to(torch::kUInt8);
  auto f = a.Extract(img);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->sizes(), (std::vector<int64_t>{2, 16, 2, 3}));  // 20x30 padded to 28x42
  // Same as the model on the image zero-padded (before normalisation) 4/4 rows and 6/6 columns.
  torch::NoGradGuard ng;
  torch::Tensor x = img.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
  x = torch::constant_pad_nd(x, {6, 6, 4, 4}, 0.0);
  x = (x - torch::tensor({0.485, 0.456, 0.406}).view({1, 3, 1, 1})) / torch::tensor({0.229, 0.224, 0.225}).view({1, 3, 1, 1});
  const auto ref = TokensToFeatureMap(m->GetIntermediateLayers(x, {1}, true)[0].patch_tokens, 2, 3);
  EXPECT_TRUE(torch::allclose(*f, ref, 1e-5, 1e-6));
}

TEST(ModelAdapters, RenTokensShape) {
  RenConfig c;
  c.dinov2.embed_dim = 32;
  c.dinov2.depth = 1;
  c.dinov2.num_heads = 2;
  c.dinov2_block = 0;
  c.region_encoder.hidden_dim = 32;
  c.region_encoder.decoder_layers = 1;
  c.region_encoder.num_attention_heads = 2;
  c.region_encoder.grid_size = 4;
  auto ren = RenEncoder::Create(c);
  ASSERT_TRUE(ren.ok()) << ren.status().ToString();
  RenTokenAdapter a(ren->get());
  auto r = a.Encode(torch::randint(0, 255, {3, 24, 32, 3}).to(torch::kUInt8));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->tokens.sizes(), (std::vector<int64_t>{3, 16, 32}));
  EXPECT_EQ(r->points.sizes(), (std::vector<int64_t>{16, 2}));
  EXPECT_TRUE(r->tokens.device().is_cpu());
  // REN rejects the input (InvalidArgument in core); through the adapter it is a model failure,
  // never mistaken for a stage input on which upstream raises (isolated per query by the engine).
  auto bad = a.Encode(torch::zeros({1, 24, 32, 3}, torch::kFloat32));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("uint8"), std::string::npos);
}

// Regression (issue I.8): non-finite model outputs became empty tracks; now they fail the call as
// a model failure (Internal, which fails the clip) with a message saying what was non-finite.
TEST(ModelAdapters, NonFiniteOutputsFailAsModelFailures) {
  RenConfig c;
  c.dinov2.embed_dim = 32;
  c.dinov2.depth = 1;
  c.dinov2.num_heads = 2;
  c.dinov2_block = 0;
  c.region_encoder.hidden_dim = 32;
  c.region_encoder.decoder_layers = 1;
  c.region_encoder.num_attention_heads = 2;
  c.region_encoder.grid_size = 4;
  auto ren = RenEncoder::Create(c);
  ASSERT_TRUE(ren.ok()) << ren.status().ToString();
  RenTokenAdapter a(ren->get());
  const torch::Tensor img = torch::randint(0, 255, {1, 24, 32, 3}).to(torch::kUInt8);
  ASSERT_TRUE(a.Encode(img).ok());
  {
    torch::NoGradGuard ng;
    for (auto& p : (*ren)->dinov2()->parameters()) p.fill_(std::numeric_limits<float>::quiet_NaN());
  }
  auto r = a.Encode(img);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().ToString();
  EXPECT_NE(r.status().message().find("non-finite model output: REN tokens"), std::string::npos)
      << r.status().message();

  DinoVitConfig dc = DinoVitConfig::VitB8();
  dc.embed_dim = 16;
  dc.depth = 1;
  dc.num_heads = 2;
  DinoVisionTransformer m(dc);
  m->eval();
  {
    torch::NoGradGuard ng;
    m->parameters().front().fill_(std::numeric_limits<float>::infinity());
  }
  DinoFeatureAdapter d(m, 32, 48);
  auto f = d.Extract(img);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kInternal);
  EXPECT_NE(f.status().message().find("non-finite model output: DINO features"), std::string::npos)
      << f.status().message();
}

}  // namespace
}  // namespace vq2d::pipeline

namespace vq2d::pipeline {
namespace {

// The crops of a tracked frame through the image encoder as one batch (models.batch_crops): every
// image's features and box-prompt logits equal those of SetImage one by one within float tolerance
// (a batch is blocked differently, so bits are not compared), the masks' decisions are the same
// where the logit is not within that tolerance of 0, and the adapter counts one encode per image.
TEST(ModelAdapters, Sam2BatchedImagesMatchOneByOne) {
  auto cfg = sam2::Sam2ConfigFromJson(DemoArchitectures()["sam2"]);  // the demo's SAM 2 (256 px): cheap
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  torch::manual_seed(3);
  sam2::Sam2Model model(*cfg);
  model->eval();
  torch::NoGradGuard ng;
  std::vector<cv::Mat> images;
  for (int k = 0; k < 3; ++k) {
    cv::Mat rgb(24, 32, CV_8UC3, cv::Scalar(60 + 40 * k, 90, 120 - 30 * k));
    rgb(cv::Rect(4 + 4 * k, 6, 10, 8)).setTo(cv::Scalar(220, 40, 40 + 50 * k));
    images.push_back(rgb);
  }
  const std::array<double, 4> box = {6, 5, 20, 15};
  sam2::ImagePredictor one(model), batch(model);
  std::vector<torch::Tensor> rgbs;
  for (const auto& m : images) rgbs.push_back(MatToTensor(m));
  ASSERT_TRUE(batch.SetImageBatch(rgbs).ok());
  EXPECT_EQ(batch.batch_size(), 3);
  sam2::ImagePrompt prompt;
  prompt.box = torch::tensor({static_cast<float>(box[0]), static_cast<float>(box[1]), static_cast<float>(box[2]),
                              static_cast<float>(box[3])});
  prompt.multimask_output = false;
  const double kTol = 1e-4;  // relative to the largest |value| of the tensor compared
  auto close = [&](const torch::Tensor& a, const torch::Tensor& b, const char* what) {
    const double scale = std::max(1.0, a.abs().max().item<double>());
    const double diff = (a - b).abs().max().item<double>();
    EXPECT_LE(diff, kTol * scale) << what << ": max |diff| " << diff << " at scale " << scale;
  };
  for (int k = 2; k >= 0; --k) {  // any order
    SCOPED_TRACE(StrCat("image ", k));
    ASSERT_TRUE(one.SetImage(rgbs[k]).ok());
    ASSERT_TRUE(batch.SelectImage(k).ok());
    close(one.image_embed(), batch.image_embed(), "image_embed");
    close(one.high_res_feats()[0], batch.high_res_feats()[0], "high_res[0]");
    close(one.high_res_feats()[1], batch.high_res_feats()[1], "high_res[1]");
    auto a = one.Predict(prompt);
    auto b = batch.Predict(prompt);
    ASSERT_TRUE(a.ok() && b.ok());
    close(a->low_res_masks, b->low_res_masks, "box logits");
    const double scale = std::max(1.0, a->low_res_masks.abs().max().item<double>());
    const torch::Tensor sure = a->low_res_masks.abs() > 10 * kTol * scale;
    EXPECT_TRUE(torch::equal((a->low_res_masks > 0) & sure, (b->low_res_masks > 0) & sure));
  }
  EXPECT_FALSE(batch.SelectImage(3).ok());
  ASSERT_TRUE(batch.SetImage(rgbs[0]).ok());  // SetImage drops the batch
  EXPECT_EQ(batch.batch_size(), 0);

  Sam2ImageAdapter adapter(&batch);
  ASSERT_TRUE(adapter.SetImages(images).ok());
  EXPECT_EQ(adapter.images_encoded(), 3);
  ASSERT_TRUE(adapter.UseImage(1).ok());
  auto m = adapter.PredictBox({box[0], box[1], box[2], box[3]});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->size(), images[1].size());
  EXPECT_FALSE(adapter.UseImage(5).ok());
  // After a batch, SetImage encodes (the batch's current image is not a SetImage one).
  ASSERT_TRUE(adapter.SetImage(images[1]).ok());
  EXPECT_EQ(adapter.images_encoded(), 4);
}

TEST(ModelAdapters, Sam2ImageAndVideoContracts) {
  auto cfg = sam2::Sam2Preset("tiny");
  ASSERT_TRUE(cfg.ok());
  sam2::Sam2Model model(*cfg);
  model->eval();
  torch::NoGradGuard ng;
  sam2::ImagePredictor ip(model);
  Sam2ImageAdapter img(&ip);
  cv::Mat rgb(24, 32, CV_8UC3, cv::Scalar(90, 90, 90));
  rgb(cv::Rect(8, 6, 10, 8)).setTo(cv::Scalar(220, 40, 40));
  ASSERT_TRUE(img.SetImage(rgb).ok());
  auto box = img.PredictBox({8, 6, 18, 14});
  ASSERT_TRUE(box.ok()) << box.status().ToString();
  EXPECT_EQ(box->size(), rgb.size());
  EXPECT_EQ(box->type(), CV_8U);
  auto pts = img.PredictPoint(12.5, 9.5);
  ASSERT_TRUE(pts.ok()) << pts.status().ToString();
  EXPECT_EQ(pts->size(), 3u);
  // Same pixels again (a copy): features reused, same masks as a fresh predictor's.
  EXPECT_EQ(img.images_encoded(), 1);
  ASSERT_TRUE(img.SetImage(rgb.clone()).ok());
  EXPECT_EQ(img.images_encoded(), 1);
  EXPECT_EQ(img.images_reused(), 1);
  auto again = img.PredictBox({8, 6, 18, 14});
  ASSERT_TRUE(again.ok());
  sam2::ImagePredictor ip2(model);
  Sam2ImageAdapter fresh(&ip2);
  ASSERT_TRUE(fresh.SetImage(rgb).ok());
  auto ref = fresh.PredictBox({8, 6, 18, 14});
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(cv::countNonZero(*again != *ref), 0);
  cv::Mat other = rgb.clone();
  other.at<cv::Vec3b>(0, 0)[0] ^= 1;  // one byte differs: encoded again
  ASSERT_TRUE(img.SetImage(other).ok());
  EXPECT_EQ(img.images_encoded(), 2);

  sam2::VideoPredictor vp(model);
  Sam2VideoAdapter vid(&vp);
  torch::Tensor frames = torch::stack({MatToTensor(rgb), MatToTensor(rgb), MatToTensor(rgb)});
  FrameSource src{3, 24, 32, [frames](int64_t i) { return frames[i]; }};
  std::vector<int64_t> seen;
  Status s = vid.Track(src, 1, {8, 6, 18, 14}, [&](int64_t i, const cv::Mat& m, float score) {
    EXPECT_EQ(m.size(), rgb.size());
    EXPECT_TRUE(std::isfinite(score));
    seen.push_back(i);
    return seen.size() < 1;  // stop after the prompt frame: nothing further is computed
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace vq2d::pipeline
