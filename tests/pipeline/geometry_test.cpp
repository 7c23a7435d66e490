// logic/geometry fixture parity: crop_using_bbox (three arithmetic contexts), sliding windows,
// translate_point, get_cropping_factor, mask_to_bbox, refine_mask, token choice, blur, is_blurry.
#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_tokens.h"

#include <cmath>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>

#include "logic_fixture.h"

namespace vq2d::pipeline {
namespace {

using testing::LoadLogicCases;

bool SameMat(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type()) return false;
  return cv::countNonZero(a.reshape(1) != b.reshape(1)) == 0;
}

BoxContext ParseContext(const std::string& s) {
  if (s == "py_int") return BoxContext::kPyInt;
  if (s == "tensor_int64") return BoxContext::kTensorInt64;
  return BoxContext::kTensorInt64CfF32;
}

TEST(GeometryFixture, CropUsingBbox) {
  for (const auto& c : LoadLogicCases("geometry")) {
    const auto& ins = c.inputs["crop_using_bbox"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["crop_using_bbox"][i];
      const int H = in["H"], W = in["W"];
      const auto box = in["box"].get<std::array<int64_t, 4>>();
      const BoxContext ctx = ParseContext(in["context"]);
      cv::Mat frame;
      torch::Tensor crops;
      if (in["images_stored"].get<bool>() && c.tensors->Has("crop_using_bbox/" + std::to_string(i) + "/crops")) {
        frame = c.tensors->Mat("crop_using_bbox/" + std::to_string(i) + "/frame");
        crops = c.tensors->Get("crop_using_bbox/" + std::to_string(i) + "/crops");
      }
      const auto cfs = in["cf"].get<std::vector<double>>();
      for (size_t k = 0; k < cfs.size(); ++k) {
        SCOPED_TRACE(StrCat(c.dir, " instance ", i, " cf ", cfs[k]));
        auto w = CropWindowForBox(W, H, box, cfs[k], ctx);
        const auto& r = ex["results"][k];
        if (r.contains("error")) {
          EXPECT_FALSE(w.ok());
          continue;
        }
        ASSERT_TRUE(w.ok()) << w.status().ToString();
        EXPECT_EQ(w->left, r["crop_left"].get<int>());
        EXPECT_EQ(w->top, r["crop_top"].get<int>());
        EXPECT_NEAR(w->scale_x, r["scale_x"].get<double>(), 1e-12 * std::abs(r["scale_x"].get<double>()));
        EXPECT_NEAR(w->scale_y, r["scale_y"].get<double>(), 1e-12 * std::abs(r["scale_y"].get<double>()));
        EXPECT_EQ(w->box_is_float64, r["box_dtype"] == "float64");
        for (int j = 0; j < 4; ++j) EXPECT_EQ(w->box[j], r["box"][j].get<double>()) << "box[" << j << "]";
        if (crops.defined()) {
          torch::Tensor e = crops[static_cast<int64_t>(k)].contiguous();
          cv::Mat expect(H, W, CV_8UC3, e.data_ptr());
          EXPECT_TRUE(SameMat(CutAndResize(frame, *w), expect));
        }
      }
    }
  }
}

TEST(GeometryFixture, SlidingWindowCropping) {
  for (const auto& c : LoadLogicCases("geometry")) {
    const auto& ins = c.inputs["sliding_window_cropping"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const std::string p = "sliding_window_cropping/" + std::to_string(i) + "/";
      const cv::Mat frame = c.tensors->Mat(p + "frame");
      const auto& per_cf = ins[i]["per_cf"];
      for (size_t k = 0; k < per_cf.size(); ++k) {
        const double cf = per_cf[k]["cf"];
        const auto crops = SlidingWindowCrops(frame, cf);
        const auto& starts = c.expected["sliding_window_cropping"][i]["per_cf"][k]["crop_starts_yx"];
        ASSERT_EQ(crops.size(), starts.size());
        const torch::Tensor ec = c.tensors->Get(p + "crops_cf" + std::to_string(static_cast<int>(cf)));
        for (size_t j = 0; j < crops.size(); ++j) {
          EXPECT_EQ(crops[j].y, starts[j][0].get<int>());
          EXPECT_EQ(crops[j].x, starts[j][1].get<int>());
          torch::Tensor e = ec[static_cast<int64_t>(j)].contiguous();
          EXPECT_TRUE(SameMat(crops[j].image, cv::Mat(frame.rows, frame.cols, CV_8UC3, e.data_ptr())));
        }
      }
    }
  }
}

TEST(GeometryFixture, TranslatePoint) {
  for (const auto& c : LoadLogicCases("geometry")) {
    const auto& ins = c.inputs["translate_point"];
    const auto grid = RenGridPoints(32);
    for (size_t i = 0; i < ins.size(); ++i) {
      const torch::Tensor e = c.tensors->Get("translate_point/" + std::to_string(i) + "/points_yx");
      auto acc = e.accessor<float, 2>();
      ASSERT_EQ(e.size(0), 1024);
      for (int64_t j = 0; j < 1024; ++j) {
        const auto p = TranslatePoint(grid[j], ins[i]["H"], ins[i]["W"]);
        ASSERT_EQ(p[0], acc[j][0]) << j;
        ASSERT_EQ(p[1], acc[j][1]) << j;
      }
    }
  }
}

TEST(GeometryFixture, GetCroppingFactor) {
  for (const auto& c : LoadLogicCases("geometry")) {
    const auto& ins = c.inputs["get_cropping_factor"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["get_cropping_factor"][i];
      auto cf = GetCroppingFactor(in["box"].get<std::array<int64_t, 4>>(), in["W"], in["H"], in["margin"],
                                  in["max_cf"], ParseContext(in["context"]));
      if (ex.contains("error")) {
        EXPECT_FALSE(cf.ok()) << i;
        continue;
      }
      ASSERT_TRUE(cf.ok()) << i;
      EXPECT_NEAR(*cf, ex["cf"].get<double>(), 1e-12 * ex["cf"].get<double>()) << i;
    }
  }
}

TEST(GeometryFixture, MaskToBboxAndRefineMask) {
  for (const auto& c : LoadLogicCases("geometry")) {
    const auto& ins = c.inputs["mask_to_bbox"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const cv::Mat m = c.tensors->Mat(ins[i]["mask_key"]);
      const auto& ex = c.expected["mask_to_bbox"][i];
      auto b = MaskToBox(m);
      if (ex.contains("error")) {
        EXPECT_FALSE(b.ok()) << i;
      } else {
        ASSERT_TRUE(b.ok()) << i;
        EXPECT_EQ(*b, (ex["box_xywh"].get<std::array<int64_t, 4>>())) << i;
      }
    }
    const auto& rins = c.inputs["refine_mask"];
    for (size_t i = 0; i < rins.size(); ++i) {
      const cv::Mat m = c.tensors->Mat(rins[i]["mask_key"]);
      const auto& ex = c.expected["refine_mask"][i];
      const cv::Mat r = RefineMask(m);
      EXPECT_TRUE(SameMat(r, c.tensors->Mat(ex["refined_key"]))) << i;
      EXPECT_EQ(cv::countNonZero(r), ex["n_pixels"].get<int>()) << i;
    }
  }
}

TEST(GeometryFixture, GaussianBlurAndIsBlurry) {
  for (const auto& c : LoadLogicCases("geometry")) {
    for (size_t i = 0; i < c.inputs["gaussian_blur"].size(); ++i) {
      const std::string p = "gaussian_blur/" + std::to_string(i) + "/";
      EXPECT_TRUE(SameMat(GaussianBlur3(c.tensors->Mat(p + "in")), c.tensors->Mat(p + "out"))) << i;
    }
    for (size_t i = 0; i < c.inputs["is_blurry"].size(); ++i) {
      const std::string p = "is_blurry/" + std::to_string(i) + "/";
      const auto& ex = c.expected["is_blurry"][i];
      const auto r = IsBlurry(c.tensors->Mat(p + "image"), c.inputs["is_blurry"][i]["threshold"]);
      const double e = ex["laplacian_var"];
      EXPECT_NEAR(r.laplacian_var, e, 1e-9 * std::abs(e) + 1e-12) << i;
      EXPECT_EQ(r.blurry, ex["is_blurry"].get<bool>()) << i;
    }
  }
}

TEST(GeometryQuirk, BlurGrayConversionSwitch) {
  // A pure red vs pure blue image: BGR2GRAY on RGB data swaps the weights of R and B.
  cv::Mat img(8, 8, CV_8UC3, cv::Scalar(0, 0, 0));
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) img.at<cv::Vec3b>(y, x) = ((x + y) % 2) ? cv::Vec3b(255, 0, 0) : cv::Vec3b(0, 0, 0);
  const auto upstream = IsBlurry(img, 100.0, false);
  const auto fixed = IsBlurry(img, 100.0, true);
  // Upstream weights R (channel 0) with 0.114, the fix with 0.299: variances differ.
  EXPECT_LT(upstream.laplacian_var, fixed.laplacian_var);
}

TEST(GeometryFixture, TokenChoice) {
  for (const auto& c : LoadLogicCases("geometry")) {
    const auto& ins = c.inputs["token_choice"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const int n = ins[i]["n_crops"];
      const auto& ex = c.expected["token_choice"][i];
      std::vector<cv::Mat> masks;
      std::vector<torch::Tensor> tokens, points;
      for (int k = 0; k < n; ++k) {
        const std::string p = "token_choice/" + std::to_string(i) + "/crop" + std::to_string(k) + "/";
        masks.push_back(RefineMask(c.tensors->Mat(p + "raw_mask")));
        tokens.push_back(c.tensors->Get(p + "tokens"));
        points.push_back(c.tensors->Get(p + "points_yx"));
        if (cv::countNonZero(masks.back()) > 0) {
          cv::Mat d = DistanceTransformL2(masks.back());
          torch::Tensor e = c.tensors->Get(p + "dist").contiguous();
          EXPECT_TRUE(cv::countNonZero(d != cv::Mat(d.rows, d.cols, CV_32F, e.data_ptr())) == 0);
        }
      }
      auto r = AssembleQueryTokens(tokens, points, masks);
      if (ex.contains("error")) {
        EXPECT_FALSE(r.ok()) << i;
        EXPECT_TRUE(r.ok() || true);
        continue;
      }
      ASSERT_TRUE(r.ok()) << i << " " << r.status().ToString();
      const torch::Tensor e = c.tensors->Get(ex["tokens_key"]);
      EXPECT_TRUE(torch::equal(r->tokens, e)) << i;
      EXPECT_EQ(r->tokens.size(0), ex["n_tokens"].get<int64_t>());
    }
  }
}

// Where upstream raises, the stages say so with their own code (the engine isolates only that
// code per query), never with InvalidArgument (a caller error that fails the clip).
TEST(GeometryErrors, UpstreamRaisesAreUpstreamRaised) {
  auto crop = CropWindowForBox(64, 48, {10, 10, 0, 5}, 1.5, BoxContext::kPyInt);  // ZeroDivisionError
  ASSERT_FALSE(crop.ok());
  EXPECT_EQ(crop.status().code(), StatusCode::kUpstreamRaised) << crop.status().ToString();
  auto cf = GetCroppingFactor({10, 10, 5, 0}, 64, 48, 1.5, 2.0, BoxContext::kPyInt);
  ASSERT_FALSE(cf.ok());
  EXPECT_EQ(cf.status().code(), StatusCode::kUpstreamRaised) << cf.status().ToString();
  auto box = MaskToBox(cv::Mat::zeros(8, 8, CV_8U));  // ValueError
  ASSERT_FALSE(box.ok());
  EXPECT_EQ(box.status().code(), StatusCode::kUpstreamRaised) << box.status().ToString();
  // generate_token_from_bbox: every mask empty (RuntimeError), no point inside a mask (TypeError).
  const torch::Tensor tokens = torch::ones({1, 4}), far = torch::full({1, 2}, 100.0f);
  auto empty = AssembleQueryTokens({tokens}, {far}, {cv::Mat::zeros(8, 8, CV_8U)});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kUpstreamRaised) << empty.status().ToString();
  auto outside = AssembleQueryTokens({tokens}, {far}, {cv::Mat::ones(8, 8, CV_8U)});
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().code(), StatusCode::kUpstreamRaised) << outside.status().ToString();
  // A caller error stays a caller error.
  auto mismatch = AssembleQueryTokens({tokens, tokens}, {far}, {cv::Mat::ones(8, 8, CV_8U)});
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vq2d::pipeline
