// logic/tracking_logic fixture parity: track assembly, TrackPrediction, QueryExpansion (upstream
// token-index quirk and the fix), plus the defined behaviour where upstream raises.
#include "vq2d/pipeline/tracking.h"

#include <gtest/gtest.h>

#include "logic_fixture.h"
#include "engine_scenes.h"
#include "replay_models.h"

namespace vq2d::pipeline {
namespace {

using testing::ScriptedTracker;
using vq2d::testing::LoadLogicCases;

Track ParseTrack(const nlohmann::json& j) {
  Track t;
  for (const auto& r : j) t.push_back(TrackBox{r[0], r[1], r[2], r[3], r[4]});
  return t;
}

void ExpectPrompts(const std::vector<ScriptedTracker::Call>& calls, const nlohmann::json& ex) {
  ASSERT_EQ(calls.size(), ex.size());
  for (size_t k = 0; k < calls.size(); ++k) {
    EXPECT_EQ(calls[k].direction, ex[k]["direction"].get<std::string>());
    EXPECT_EQ(calls[k].window_first_frame, ex[k]["window_first_frame"].get<int64_t>());
    EXPECT_EQ(calls[k].window_len, ex[k]["window_len"].get<int64_t>());
    EXPECT_EQ(calls[k].prompt_window_idx, ex[k]["prompt_window_idx"].get<int64_t>());
    EXPECT_EQ(calls[k].prompt_frame, ex[k]["prompt_frame"].get<int64_t>());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(calls[k].box[i], ex[k]["box_xyxy"][i].get<double>()) << k << "," << i;
  }
}

std::array<float, 4> Box32(const nlohmann::json& j) {
  return {static_cast<float>(j[0].get<double>()), static_cast<float>(j[1].get<double>()),
          static_cast<float>(j[2].get<double>()), static_cast<float>(j[3].get<double>())};
}

TEST(TrackingFixture, Track) {
  for (const auto& c : LoadLogicCases("tracking_logic")) {
    const auto& ins = c.inputs["track"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["track"][i];
      SCOPED_TRACE(StrCat("track instance ", i, " ", in["scenario"].get<std::string>()));
      const torch::Tensor frames = testing::IdentityFrames(in["n_clip_frames"], in["H"], in["W"]);
      ScriptedTracker tr(ScriptedTracker::Parse(in["fwd_masks_rect_x0y0x1y1_inclusive"]),
                         ScriptedTracker::Parse(in["bwd_masks_rect_x0y0x1y1_inclusive"]));
      auto t = TrackCandidate(frames, in["selected_frame_id"], Box32(in["selected_object_bbox_xywh"]),
                              in["query_timestep"], tr, TrackingParams{});
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      EXPECT_EQ(*t, ParseTrack(ex["predicted_track"]));
      ExpectPrompts(tr.calls, ex["sam_video_prompts"]);
    }
  }
}

Candidates ParseCandidates(const nlohmann::json& in) {
  Candidates c;
  for (size_t k = 0; k < in["selected_frame_ids"].size(); ++k) {
    c.frame_ids.push_back(in["selected_frame_ids"][k]);
    c.scores.push_back(static_cast<float>(in["selected_object_scores"][k].get<double>()));
    c.boxes.push_back(Box32(in["selected_object_bboxes_xywh"][k]));
    c.points.push_back({0.f, 0.f});
    c.query_match_idxs.push_back(0);
  }
  return c;
}

TEST(TrackingFixture, TrackPrediction) {
  for (const auto& c : LoadLogicCases("tracking_logic")) {
    const auto& ins = c.inputs["track_prediction"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["track_prediction"][i];
      SCOPED_TRACE(StrCat("track_prediction instance ", i, " ", in["scenario"].get<std::string>()));
      const std::string p = "track_prediction/" + std::to_string(i) + "/";
      const torch::Tensor frames = c.tensors->Get(p + "frames");
      ScriptedTracker tr(ScriptedTracker::Parse(in["fwd_masks_rect_x0y0x1y1_inclusive"]),
                         ScriptedTracker::Parse(in["bwd_masks_rect_x0y0x1y1_inclusive"]));
      const bool get_tokens = in["get_tokens"];
      std::unique_ptr<testing::ReplayTokenGenerator> gen;
      if (get_tokens) {
        gen = std::make_unique<testing::ReplayTokenGenerator>(
            c.tensors->Get(p + "token_standin_output"), ex["token_standin"]["kept_crops"].get<std::vector<int64_t>>());
      }
      const int64_t qfn = in["query_frame_number"];
      const int64_t oqf = in["original_query_frame_number"].is_null() ? qfn : in["original_query_frame_number"].get<int64_t>();
      TrackingParams tp;
      tp.query_cropping_factors = in["query_cropping_factors"].get<std::vector<double>>();
      auto r = PredictTrack(frames, ParseCandidates(in), in["to_track"] == "max" ? TrackMode::kMax : TrackMode::kLast,
                            get_tokens, in["query_timestep"], oqf, tr, gen.get(), tp);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      if (ex.contains("error")) {
        EXPECT_FALSE(r->upstream_error.empty());
        continue;
      }
      EXPECT_EQ(r->track, ParseTrack(ex["predicted_track"]));
      EXPECT_EQ(r->score, ex["predicted_track_score"].get<double>());
      ExpectPrompts(tr.calls, ex["sam_video_prompts"]);
      if (get_tokens) {
        EXPECT_TRUE(torch::equal(r->tokens, c.tensors->Get(p + "tracked_object_tokens")));
        const auto& eb = ex["token_standin"]["crop_bboxes_xywh"];
        ASSERT_EQ(gen->boxes_seen.size(), eb.size());
        for (size_t k = 0; k < eb.size(); ++k)
          for (int j = 0; j < 4; ++j) EXPECT_EQ(static_cast<float>(gen->boxes_seen[k][j]), eb[k][j].get<float>()) << k;
      }
    }
  }
}

TEST(TrackingFixture, QueryExpansionUpstreamAndFix) {
  for (const auto& c : LoadLogicCases("tracking_logic")) {
    const auto& ins = c.inputs["query_expansion"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const std::string p = "query_expansion/" + std::to_string(i) + "/";
      SCOPED_TRACE(StrCat("query_expansion instance ", i, " ", in["scenario"].get<std::string>()));
      const testing::ExpansionInputs x = testing::LoadExpansionInputs(c, i);
      const torch::Tensor& frames = x.frames;
      const QuerySet& q = x.queries;
      const VideoObjects& o = x.objects;
      for (const char* variant : {"upstream", "intended_fix_query_idx"}) {
        const auto& ex = c.expected["query_expansion"][i][variant];
        ExpansionParams ep;
        ep.query_selection_threshold = in["query_selection_threshold"];
        ep.bbox_size_threshold = in["bbox_size_threshold"];
        ep.fix_token_index = std::string(variant) != "upstream";
        const ExpansionResult r = ExpandQueries(frames, q, o, ParseTrack(in["predicted_track"]),
                                                c.tensors->Get(p + "tracked_object_tokens"), ep);
        SCOPED_TRACE(variant);
        if (ex.is_null()) {  // upstream returned None
          EXPECT_FALSE(r.expanded);
          EXPECT_TRUE(r.upstream_error.empty());
          continue;
        }
        if (ex.contains("error")) {
          EXPECT_FALSE(r.upstream_error.empty());
          continue;
        }
        EXPECT_TRUE(r.expanded);
        EXPECT_EQ(r.object_start_index, ex["object_start_index"].get<int64_t>());
        EXPECT_EQ(r.objects.Size(), ex["n_objects_after"].get<int64_t>());
        EXPECT_EQ(r.queries.frame_numbers, ex["query_frame_numbers"].get<std::vector<int64_t>>());
        ASSERT_EQ(r.queries.boxes.size(), ex["query_bboxes"].size());
        for (size_t k = 0; k < r.queries.boxes.size(); ++k)
          for (int j = 0; j < 4; ++j) EXPECT_EQ(r.queries.boxes[k][j], ex["query_bboxes"][k][j].get<double>());
        EXPECT_EQ(r.appended_token_source_index, ex["appended_token_source_index"].get<std::vector<int64_t>>());
        EXPECT_TRUE(torch::equal(r.queries.tokens, c.tensors->Get(p + variant + "/query_tokens")));
      }
    }
  }
}

TEST(TrackingDefined, EmptyCandidatesAndEmptyTrack) {
  ScriptedTracker tr({}, {});
  const torch::Tensor frames = testing::IdentityFrames(5, 8, 8);
  auto r = PredictTrack(frames, Candidates{}, TrackMode::kMax, false, 4, 0, tr, nullptr, TrackingParams{});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->track.empty());
  EXPECT_EQ(r->score, 0.0);
  EXPECT_EQ(r->upstream_error, "RuntimeError");
  // A prompt-frame mask that is empty in both directions: an empty track, no crash.
  Candidates c;
  c.frame_ids = {2};
  c.boxes = {{1.f, 1.f, 2.f, 2.f}};
  c.scores = {0.9f};
  c.points = {{0.f, 0.f}};
  c.query_match_idxs = {0};
  auto r2 = PredictTrack(frames, c, TrackMode::kMax, false, 4, 0, tr, nullptr, TrackingParams{});
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->track.empty());
  const ExpansionResult e = ExpandQueries(frames, QuerySet{}, VideoObjects{}, r2->track, torch::Tensor(), ExpansionParams{});
  EXPECT_FALSE(e.expanded);
  EXPECT_EQ(e.upstream_error, "IndexError");
}

}  // namespace
}  // namespace vq2d::pipeline
