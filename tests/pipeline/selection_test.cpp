// logic/selection fixture parity: CandidateSelector, its score-only stages, the REN matching filter
// and the VideoEncoder token layout; plus the cache on/off identity and the suppression quirk switch.
#include "vq2d/pipeline/selection.h"

#include <gtest/gtest.h>

#include "logic_fixture.h"
#include "replay_models.h"

namespace vq2d::pipeline {
namespace {

using vq2d::testing::LoadLogicCases;

std::vector<float> F32(const nlohmann::json& j) {
  std::vector<float> v;
  for (const auto& x : j) v.push_back(static_cast<float>(x.get<double>()));
  return v;
}

TEST(SelectionFixture, Selector) {
  for (const auto& c : LoadLogicCases("selection")) {
    const auto& ins = c.inputs["selector"];
    for (size_t i = 0; i < ins.size(); ++i) {
      SCOPED_TRACE(StrCat("selector instance ", i, " ", ins[i]["scenario"].get<std::string>()));
      const std::string p = "selector/" + std::to_string(i) + "/";
      const auto& ex = c.expected["selector"][i];
      SelectorParams sp;
      sp.top_k = ins[i]["top_k"];
      sp.top_p = ins[i]["top_p"];
      sp.nms_threshold = ins[i]["nms_threshold"];
      Selection s = SelectCandidates(c.tensors->Get(p + "object_tokens"), c.tensors->Get(p + "query_tokens"),
                                     c.tensors->Get(p + "frame_ids"), c.tensors->Get(p + "object_attn_mask"),
                                     ins[i]["query_frame_number"], sp);
      if (ex.contains("error")) {
        EXPECT_EQ(s.upstream_error, ex["error"].get<std::string>());
        continue;
      }
      EXPECT_EQ(s.upstream_error, "");
      EXPECT_TRUE(torch::equal(s.object_scores, c.tensors->Get(p + "object_scores")));
      const auto es = F32(ex["selected_object_scores"]);
      ASSERT_EQ(s.scores.size(), es.size());
      for (size_t k = 0; k < es.size(); ++k) EXPECT_EQ(s.scores[k], es[k]);
      EXPECT_EQ(s.idxs, ex["selected_object_idxs"].get<std::vector<int64_t>>());
      EXPECT_EQ(s.query_match_idxs, ex["query_match_idxs"].get<std::vector<int64_t>>());
    }
  }
}

TEST(SelectionFixture, SelectorScoreStages) {
  for (const auto& c : LoadLogicCases("selection")) {
    const auto& ins = c.inputs["selector_scores"];
    for (size_t i = 0; i < ins.size(); ++i) {
      SCOPED_TRACE(StrCat("selector_scores instance ", i, " ", ins[i]["scenario"].get<std::string>()));
      const auto& in = ins[i];
      const auto& ex = c.expected["selector_scores"][i];
      std::string err;
      ScoredList l = IntraFrameNms(F32(in["scores"]), in["frame_ids"].get<std::vector<int64_t>>(),
                                   in["query_frame_number"], false, &err);
      if (!ex.contains("error")) {
        EXPECT_EQ(l.scores, F32(ex["after_intra_scores"]));
        EXPECT_EQ(l.idxs, ex["after_intra_idxs"].get<std::vector<int64_t>>());
      }
      if (in["nms_threshold"].get<double>() > 0) l = InterFrameNms(l, in["nms_threshold"]);
      if (!ex.contains("error")) {
        EXPECT_EQ(l.scores, F32(ex["after_inter_scores"]));
        EXPECT_EQ(l.idxs, ex["after_inter_idxs"].get<std::vector<int64_t>>());
      }
      l = TopK(l, in["top_k"]);
      if (ex.contains("error")) {
        EXPECT_TRUE(l.scores.empty());  // upstream: max() of an empty tensor
        continue;
      }
      l = TopP(l, in["top_p"]);
      EXPECT_EQ(l.scores, F32(ex["selected_scores"]));
      EXPECT_EQ(l.idxs, ex["selected_idxs"].get<std::vector<int64_t>>());
    }
  }
}

TEST(SelectionFixture, RenFilter) {
  for (const auto& c : LoadLogicCases("selection")) {
    const auto& ins = c.inputs["ren_filter"];
    for (size_t i = 0; i < ins.size(); ++i) {
      SCOPED_TRACE(StrCat("ren_filter instance ", i, " ", ins[i]["scenario"].get<std::string>()));
      const std::string p = "ren_filter/" + std::to_string(i) + "/";
      const auto& ex = c.expected["ren_filter"][i];
      const torch::Tensor pred = c.tensors->Get(p + "pred_tokens");
      const bool has_matching = c.tensors->Has(p + "matching_tokens") && !ins[i]["matching_threshold"].is_null();
      const int H = ins[i].value("H", 0), W = ins[i].value("W", 0);
      const auto grid = RenGridPoints(32);
      for (int64_t b = 0; b < pred.size(0); ++b) {
        std::vector<int64_t> keep;
        if (has_matching) {
          keep = RenMatchingFilter(pred[b], c.tensors->Get(p + "matching_tokens"), ins[i]["matching_threshold"]);
        } else {
          for (int64_t q = 0; q < pred.size(1); ++q) keep.push_back(q);
        }
        EXPECT_EQ(keep, ex["kept_grid_index"][b].get<std::vector<int64_t>>()) << b;
        const std::string key = p + "points_yx_" + std::to_string(b);
        if (!c.tensors->Has(key)) continue;
        const torch::Tensor ep = c.tensors->Get(key);
        ASSERT_EQ(ep.size(0), static_cast<int64_t>(keep.size()));
        auto a = ep.accessor<float, 2>();
        for (size_t k = 0; k < keep.size(); ++k) {
          const auto pt = TranslatePoint(grid[keep[k]], H, W);
          EXPECT_EQ(pt[0], a[k][0]);
          EXPECT_EQ(pt[1], a[k][1]);
        }
      }
    }
  }
}

TEST(SelectionFixture, VideoEncoderLayoutWithAndWithoutCache) {
  for (const auto& c : LoadLogicCases("selection")) {
    const auto& ins = c.inputs["video_encoder"];
    for (size_t i = 0; i < ins.size(); ++i) {
      SCOPED_TRACE(StrCat("video_encoder instance ", i));
      const std::string p = "video_encoder/" + std::to_string(i) + "/";
      const torch::Tensor frames = c.tensors->Get(p + "frames");
      const torch::Tensor q = c.tensors->Get(p + "query_tokens");
      const int64_t qf = ins[i]["query_frame"];
      const auto cfs = ins[i]["frame_cropping_factors"].get<std::vector<double>>();
      const double thr = ins[i]["matching_threshold"];
      const torch::Tensor pred = c.tensors->Get(p + "pred_tokens");
      testing::ReplayRen ren(pred, 32);
      auto o = EncodeVideo(frames, qf, cfs, q, thr, ren);
      ASSERT_TRUE(o.ok()) << o.status().ToString();
      EXPECT_EQ(ren.consumed(), pred.size(0));
      EXPECT_TRUE(torch::equal(o->tokens, c.tensors->Get(p + "object_tokens")));
      EXPECT_TRUE(torch::equal(o->points, c.tensors->Get(p + "object_points")));
      EXPECT_TRUE(torch::equal(o->frame_ids, c.tensors->Get(p + "frame_ids")));
      // The cache reproduces the same objects, and a second query reuses the encoded frames.
      testing::ReplayRen ren2(pred, 32);
      VideoTokenCache cache(cfs, 4);
      auto o1 = cache.Objects(frames, qf, q, thr, ren2);
      ASSERT_TRUE(o1.ok());
      EXPECT_TRUE(torch::equal(o1->tokens, o->tokens));
      EXPECT_TRUE(torch::equal(o1->points, o->points));
      EXPECT_TRUE(torch::equal(o1->frame_ids, o->frame_ids));
      const int64_t used = ren2.consumed();
      auto o2 = cache.Objects(frames, qf, q, thr, ren2);
      ASSERT_TRUE(o2.ok());
      EXPECT_EQ(ren2.consumed(), used);
      EXPECT_TRUE(torch::equal(o2->tokens, o->tokens));
    }
  }
}

TEST(SelectionQuirk, SuppressionFrameIndexSwitch) {
  // Frame 0 has a tie (two entries), the query frame is 2: upstream's position 2 is frame 1's entry.
  const std::vector<float> s = {0.9f, 0.9f, 0.5f, 0.95f};
  const std::vector<int64_t> f = {0, 0, 1, 2};
  std::string err;
  ScoredList up = IntraFrameNms(s, f, 2, false, &err);
  ASSERT_EQ(up.scores.size(), 4u);
  EXPECT_EQ(up.scores, (std::vector<float>{0.9f, 0.9f, 0.5f, 0.95f}));  // position 2 = 0.5 < 0.8: stops
  ScoredList fixed = IntraFrameNms(s, f, 2, true, &err);
  EXPECT_EQ(fixed.scores, (std::vector<float>{0.9f, 0.9f, 0.5f, 0.0f}));  // the query frame is suppressed
  EXPECT_TRUE(err.empty());
}

TEST(SelectionDefined, EmptySelectionIsFlaggedNotThrown) {
  torch::Tensor obj = torch::ones({3, 4});
  torch::Tensor q = torch::ones({1, 4});
  torch::Tensor fid = torch::tensor(std::vector<int64_t>{0, 1, 2});
  SelectorParams sp;
  Selection s = SelectCandidates(obj, q, fid, torch::Tensor(), 2, sp);  // all 1.0 -> all suppressed
  EXPECT_EQ(s.upstream_error, "RuntimeError");
  EXPECT_TRUE(s.idxs.empty());
}

}  // namespace
}  // namespace vq2d::pipeline
