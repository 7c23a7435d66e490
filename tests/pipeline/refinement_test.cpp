// logic/refinement_math fixture parity: upsample_feature, SAM-pooled descriptors, point_to_bbox and
// the whole CandidateRefiner with replayed SAM 2 / DINO / REN outputs.
#include "vq2d/pipeline/refinement.h"

#include <gtest/gtest.h>

#include "logic_fixture.h"
#include "replay_models.h"

namespace vq2d::pipeline {
namespace {

using vq2d::testing::LoadLogicCases;
using vq2d::testing::SafeTensors;
using Sam = testing::ReplaySam<SafeTensors>;
using Feat = testing::ReplayFeatures<SafeTensors>;

TEST(RefinementFixture, UpsampleFeature) {
  for (const auto& c : LoadLogicCases("refinement_math")) {
    const auto& ins = c.inputs["upsample_feature"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const std::string p = "upsample_feature/" + std::to_string(i) + "/";
      const torch::Tensor got = UpsampleFeature(c.tensors->Get(p + "features"), ins[i]["new_h"], ins[i]["new_w"],
                                                ins[i]["patch_size"])[0];
      EXPECT_TRUE(torch::allclose(got, c.tensors->Get(p + "upsampled"), 1e-5, 1e-6)) << i;
    }
  }
}

TEST(RefinementFixture, SamPooledTokens) {
  for (const auto& c : LoadLogicCases("refinement_math")) {
    const auto& ins = c.inputs["sam_pooled_tokens"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["sam_pooled_tokens"][i];
      const std::string p = "sam_pooled_tokens/" + std::to_string(i) + "/";
      Sam sam(*c.tensors, ex["sam_calls"]);
      Feat feat(*c.tensors, ex["feature_calls"]);
      std::vector<std::array<double, 4>> boxes;
      for (const auto& b : in["boxes_xywh"]) boxes.push_back(b.get<std::array<double, 4>>());
      const torch::Tensor images = torch::zeros({in["B"].get<int64_t>(), in["H"].get<int64_t>(), in["W"].get<int64_t>(), 3}, torch::kUInt8);
      int64_t n_nan = 0;
      auto r = SamPooledTokens(images, boxes, sam, feat, in["patch_size"], in["chunk_size"], &n_nan);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(sam.mismatches, 0);
      EXPECT_EQ(n_nan, ex["n_nan_rows"].get<int64_t>()) << i;
      EXPECT_TRUE(torch::allclose(*r, c.tensors->Get(p + "tokens"), 1e-5, 1e-6, /*equal_nan=*/true)) << i;
    }
  }
}

TEST(RefinementFixture, PointToBbox) {
  for (const auto& c : LoadLogicCases("refinement_math")) {
    const auto& ins = c.inputs["point_to_bbox"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["point_to_bbox"][i];
      const std::string p = "point_to_bbox/" + std::to_string(i) + "/";
      Sam sam(*c.tensors, ex["sam_calls"]);
      Feat feat(*c.tensors, ex["feature_calls"]);
      const torch::Tensor image = torch::zeros({in["H"].get<int64_t>(), in["W"].get<int64_t>(), 3}, torch::kUInt8);
      std::vector<double> sims;
      std::string err;
      const std::array<float, 2> pt = {static_cast<float>(in["point_yx"][0].get<double>()),
                                       static_cast<float>(in["point_yx"][1].get<double>())};
      auto r = PointToBox(image, pt, c.tensors->Get(p + "query_tokens"), sam, feat, in["patch_size"], &sims, &err);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(sam.mismatches, 0);
      if (ex.contains("error")) {
        EXPECT_EQ(err, ex["error"].get<std::string>()) << i;
        continue;
      }
      EXPECT_TRUE(err.empty()) << i;
      ASSERT_TRUE(r->has_value()) << i;
      EXPECT_EQ(**r, (ex["box_xywh"].get<std::array<int64_t, 4>>())) << i;
      const auto& ds = ex["diag_mask_similarities"];
      for (size_t k = 0; k < sims.size() && k < ds.size(); ++k) {
        if (!ds[k].is_number()) EXPECT_TRUE(std::isnan(sims[k])) << i << " mask " << k;
        else EXPECT_NEAR(sims[k], ds[k].get<double>(), 1e-6) << i << " mask " << k;
      }
    }
  }
}

TEST(RefinementFixture, CandidateRefiner) {
  for (const auto& c : LoadLogicCases("refinement_math")) {
    const auto& ins = c.inputs["refiner"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["refiner"][i];
      SCOPED_TRACE(StrCat("refiner instance ", i));
      const std::string p = "refiner/" + std::to_string(i) + "/";
      Sam sam(*c.tensors, ex["sam_calls"]);
      Feat feat(*c.tensors, ex["feature_calls"]);
      std::vector<torch::Tensor> batches;
      for (const auto& b : ex["ren_batches"]) batches.push_back(c.tensors->Get(b["pred_tokens_key"]));
      testing::ReplayRen ren(torch::cat(batches), in["ren_grid_size"]);
      Models m;
      m.ren = &ren;
      m.sam = &sam;
      m.features = &feat;
      PipelineParams pp;
      pp.query_cropping_factors = in["query_cropping_factors"].get<std::vector<double>>();
      pp.cropping_margin_expansion = in["cropping_margin_expansion"];
      pp.patch_size = in["patch_size"];
      ModelCandidateRefiner refiner(m, pp);
      if (ex.contains("error")) {  // upstream raised mid-way: the port goes on past the recording
        sam.lenient_h = in["H"];
        sam.lenient_w = in["W"];
        feat.lenient_c = in["C"];
        ren.lenient = true;
      }
      Candidates sel;
      for (size_t k = 0; k < in["selected_frame_ids"].size(); ++k) {
        sel.frame_ids.push_back(in["selected_frame_ids"][k]);
        sel.points.push_back({in["selected_object_points_yx"][k][0].get<float>(), in["selected_object_points_yx"][k][1].get<float>()});
        sel.boxes.push_back({0, 0, 0, 0});
        sel.scores.push_back(in["selected_object_scores"][k].get<float>());
        sel.query_match_idxs.push_back(in["query_match_idxs"][k]);
      }
      QuerySet q;
      q.tokens = c.tensors->Get(p + "query_tokens");
      q.frame_numbers = in["query_frame_numbers"].get<std::vector<int64_t>>();
      for (const auto& b : in["query_bboxes_xywh"]) q.boxes.push_back(b.get<std::array<double, 4>>());
      auto r = refiner.Refine(c.tensors->Get(p + "frames"), sel, q, in["top_p"]);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(sam.mismatches, 0);
      EXPECT_EQ(sam.consumed(), ex["sam_calls"].size());
      EXPECT_EQ(feat.consumed(), ex["feature_calls"].size());
      if (ex.contains("error")) {
        ASSERT_FALSE(refiner.upstream_errors().empty());
        EXPECT_NE(refiner.upstream_errors()[0].find(ex["error"].get<std::string>()), std::string::npos);
        continue;
      }
      EXPECT_TRUE(refiner.upstream_errors().empty());
      EXPECT_EQ(r->frame_ids, ex["selected_frame_ids"].get<std::vector<int64_t>>());
      EXPECT_EQ(r->query_match_idxs, ex["query_match_idxs"].get<std::vector<int64_t>>());
      ASSERT_EQ(r->size(), ex["refined_object_scores"].size());
      for (size_t k = 0; k < r->size(); ++k) {
        EXPECT_EQ(static_cast<double>(r->scores[k]), ex["refined_object_scores"][k].get<double>());  // upstream's float32 cosines, exactly
        for (int j = 0; j < 4; ++j) {
          const double e = ex["refined_object_bboxes"][k][j];
          EXPECT_NEAR(r->boxes[k][j], e, 1e-4 + 1e-6 * std::abs(e)) << k << "," << j;
        }
        EXPECT_EQ(r->points[k][0], ex["selected_object_points"][k][0].get<float>());
      }
    }
  }
}

}  // namespace
}  // namespace vq2d::pipeline
