// logic/tracking_logic "orchestration": whole upstream two-round runs (run.run) driven through
// RunQueryRounds with the recorded stand-ins (scripted refiner, scripted SAM 2 masks, replayed
// tracked-token outputs). Final tracks, scores, every stage call and every SAM 2 prompt reproduce.
#include "vq2d/pipeline/query_pipeline.h"

#include <map>

#include <gtest/gtest.h>

#include "logic_fixture.h"
#include "replay_models.h"

namespace vq2d::pipeline {
namespace {

using testing::ScriptedTracker;
using vq2d::testing::LoadLogicCases;

// refiner_script[frame] = (box_xywh, score) for every selected candidate (no top-p).
class ScriptedRefiner : public CandidateRefinerStage {
 public:
  explicit ScriptedRefiner(const nlohmann::json& script) {
    for (auto it = script.begin(); it != script.end(); ++it) {
      const auto& b = it.value()[0];
      script_[std::stoll(it.key())] = {
          std::array<float, 4>{static_cast<float>(b[0].get<double>()), static_cast<float>(b[1].get<double>()),
                               static_cast<float>(b[2].get<double>()), static_cast<float>(b[3].get<double>())},
          static_cast<float>(it.value()[1].get<double>())};
    }
  }
  Result<Candidates> Refine(const torch::Tensor&, const Candidates& sel, const QuerySet& q, double) override {
    calls.push_back({{"selected_frame_ids", sel.frame_ids},
                     {"selected_object_scores_in", sel.scores},
                     {"query_match_idxs", sel.query_match_idxs},
                     {"n_queries", q.tokens.size(0)}});
    Candidates out = sel;
    for (size_t i = 0; i < sel.size(); ++i) {
      auto it = script_.find(sel.frame_ids[i]);
      if (it == script_.end()) return Status::NotFound(StrCat("refiner script has no frame ", sel.frame_ids[i]));
      out.boxes[i] = it->second.first;
      out.scores[i] = it->second.second;
    }
    return out;
  }
  nlohmann::json calls = nlohmann::json::array();

 private:
  std::map<int64_t, std::pair<std::array<float, 4>, float>> script_;
};

// Replays several generate_token_from_bbox calls (one per tracked track) in order.
class MultiReplayTokens : public BoxTokenGenerator {
 public:
  void Add(torch::Tensor rows, std::vector<int64_t> kept, int64_t n_crops) { calls_.push_back({rows, kept, n_crops}); }
  Result<CropTokens> Generate(const torch::Tensor& crops, const std::vector<std::array<double, 4>>& boxes) override {
    CropTokens out;
    while (cur_ < calls_.size() && calls_[cur_].n_crops == 0) ++cur_;
    if (cur_ >= calls_.size()) return Status::Internal("MultiReplayTokens: more calls than recorded");
    Call& c = calls_[cur_];
    out.tokens = torch::zeros({crops.size(0), c.rows.size(1)}, torch::kFloat32);
    for (int64_t i = 0; i < crops.size(0); ++i, ++c.crop) {
      (void)boxes;
      if (c.next < static_cast<int64_t>(c.kept.size()) && c.kept[c.next] == c.crop) {
        out.tokens[i].copy_(c.rows[c.next++]);
        out.kind.push_back(1);
      } else {
        out.kind.push_back(-1);
      }
    }
    if (c.crop >= c.n_crops) ++cur_;
    return out;
  }

 private:
  struct Call {
    torch::Tensor rows;
    std::vector<int64_t> kept;
    int64_t n_crops = 0;
    int64_t next = 0, crop = 0;
  };
  std::vector<Call> calls_;
  size_t cur_ = 0;
};

void ExpectSubset(const nlohmann::json& got, const nlohmann::json& want, const std::string& what) {
  for (auto it = want.begin(); it != want.end(); ++it) {
    if (it.key() == "item" || it.key() == "get_tokens" || it.key() == "original_query_frame_numbers_in" ||
        it.key() == "query_frame_numbers_in" || it.key() == "query_bboxes_in") {
      continue;
    }
    // The stand-in answered 1 row for the 0 crops of an empty track; the port does not call it.
    if (it.key() == "n_tracked_object_tokens" && (it.value().is_null() || want["predicted_track"].empty())) continue;
    if (!got.contains(it.key())) {
      ADD_FAILURE() << what << ": missing " << it.key();
      continue;
    }
    const auto& g = got[it.key()];
    const auto& w = it.value();
    if (it.key().find("scores") != std::string::npos || it.key() == "predicted_track_score") {
      std::vector<double> gv = g.is_array() ? g.get<std::vector<double>>() : std::vector<double>{g.get<double>()};
      std::vector<double> wv = w.is_array() ? w.get<std::vector<double>>() : std::vector<double>{w.get<double>()};
      ASSERT_EQ(gv.size(), wv.size()) << what << " " << it.key();
      for (size_t k = 0; k < gv.size(); ++k) EXPECT_EQ(gv[k], wv[k]) << what << " " << it.key();
    } else {
      EXPECT_EQ(g, w) << what << " " << it.key();
    }
  }
}

TEST(OrchestrationFixture, TwoRoundRunsReproduce) {
  for (const auto& c : LoadLogicCases("tracking_logic")) {
    const auto& ins = c.inputs["orchestration"];
    for (size_t i = 0; i < ins.size(); ++i) {
      const auto& in = ins[i];
      const auto& ex = c.expected["orchestration"][i];
      SCOPED_TRACE(StrCat("orchestration instance ", i));
      const std::string p = "orchestration/" + std::to_string(i) + "/";
      PipelineParams pp;
      const auto& vq = in["config_visual_query"];
      pp.query_cropping_factors = vq["query_cropping_factors"].get<std::vector<double>>();
      pp.selection_top_k = vq["selection_top_k"];
      pp.selection_top_p = vq["selection_top_p"];
      pp.nms_threshold = vq["nms_threshold"];
      pp.refinement_top_p = vq["refinement_top_p"];
      pp.query_selection_threshold = vq["query_selection_threshold"];
      pp.track_selection_threshold = vq["track_selection_threshold"];
      MultiReplayTokens tokens;
      for (size_t k = 0; k < ex["token_standin_calls"].size(); ++k) {
        const auto& call = ex["token_standin_calls"][k];
        const std::string key = p + "token_standin" + std::to_string(k);
        tokens.Add(c.tensors->Has(key) ? c.tensors->Get(key) : torch::zeros({0, in["D"].get<int64_t>()}),
                   call["kept_crops"].get<std::vector<int64_t>>(), call["n_crops"]);
      }
      nlohmann::json trace = nlohmann::json::array();
      nlohmann::json prompts = nlohmann::json::array();
      nlohmann::json refiner_calls = nlohmann::json::array();
      std::vector<QueryOutcome> outcomes;
      // Upstream's run() propagates the first exception: no later item was run or recorded.
      std::string raised;
      for (size_t k = 0; k < in["items"].size(); ++k) {
        const auto& item = in["items"][k];
        const std::string ip = p + "item" + std::to_string(k) + "/";
        const torch::Tensor frames = c.tensors->Get(ip + "frames");
        QuerySet q;
        q.tokens = c.tensors->Get(ip + "query_tokens");
        const auto box = item["visual_crop_box_xywh"].get<std::array<double, 4>>();
        for (int64_t r = 0; r < q.tokens.size(0); ++r) {
          q.frame_numbers.push_back(item["visual_crop_frame"]);
          q.boxes.push_back(box);
        }
        VideoObjects o;
        o.tokens = c.tensors->Get(ip + "object_tokens");
        o.points = c.tensors->Get(ip + "object_points");
        o.frame_ids = c.tensors->Get(ip + "frame_ids");
        const auto rects = ScriptedTracker::Parse(item["sam2_video_masks_rect_x0y0x1y1_inclusive"]);
        ScriptedTracker tracker(rects, rects);
        ScriptedRefiner refiner(item["refiner_script"]);
        RoundModels m{&refiner, &tracker, &tokens};
        nlohmann::json item_trace = nlohmann::json::array();
        auto out = RunQueryRounds(frames, q, o, item["query_timestep"], m, pp, &item_trace);
        ASSERT_TRUE(out.ok()) << out.status().ToString();
        for (auto& r : item_trace) {
          r["item"] = k;
          trace.push_back(r);
        }
        for (const auto& call : tracker.calls) {
          prompts.push_back({{"direction", call.direction},
                             {"window_first_frame", call.window_first_frame},
                             {"window_len", call.window_len},
                             {"prompt_window_idx", call.prompt_window_idx},
                             {"prompt_frame", call.prompt_frame},
                             {"box_xyxy", call.box}});
        }
        for (const auto& rc : refiner.calls) refiner_calls.push_back(rc);
        outcomes.push_back(*out);
        if (!out->upstream_errors.empty()) {
          raised = out->upstream_errors.front();
          break;
        }
      }
      // Stage calls, in order (upstream stops at the raising stage: compare the recorded prefix).
      const auto& ws = ex["stage_calls"];
      ASSERT_GE(trace.size(), ws.size());
      for (size_t k = 0; k < ws.size(); ++k) {
        EXPECT_EQ(trace[k]["stage"], ws[k]["stage"]) << k;
        EXPECT_EQ(trace[k]["item"].get<int64_t>(), ws[k]["item"].get<int64_t>()) << k;
        ExpectSubset(trace[k], ws[k], StrCat("stage call ", k));
      }
      const auto& wp = ex["sam_video_prompts"];
      ASSERT_GE(prompts.size(), wp.size());
      for (size_t k = 0; k < wp.size(); ++k) {
        for (const char* key : {"direction", "window_first_frame", "window_len", "prompt_window_idx", "prompt_frame"})
          EXPECT_EQ(prompts[k][key], wp[k][key]) << "prompt " << k << " " << key;
        for (int j = 0; j < 4; ++j)
          EXPECT_EQ(prompts[k]["box_xyxy"][j].get<double>(), wp[k]["box_xyxy"][j].get<double>()) << "prompt " << k;
      }
      const auto& wr = ex["refiner_calls"];
      ASSERT_GE(refiner_calls.size(), wr.size());
      for (size_t k = 0; k < wr.size(); ++k) ExpectSubset(refiner_calls[k], wr[k], StrCat("refiner call ", k));
      // The port flags a raise exactly where upstream raised (and finishes the query, see docs).
      EXPECT_EQ(!raised.empty(), ex.contains("error")) << raised;
      if (ex.contains("error")) {
        EXPECT_NE(raised.find(ex["error"].get<std::string>()), std::string::npos) << raised;
        continue;
      }
      // Final tracks and scores, as written to the predictions file (grouped by query-set occurrence).
      const auto& clip = ex["predictions_json"]["results"]["videos"][0]["clips"][0];
      std::map<std::string, int> occ;
      for (size_t k = 0; k < in["items"].size(); ++k) {
        const std::string qs = in["items"][k]["qset_id"];
        const int n = occ[qs]++;
        const auto& entry = clip["predictions"][n]["query_sets"][qs];
        const Track& t = outcomes[k].track;
        ASSERT_EQ(t.size(), entry["bboxes"].size()) << "item " << k;
        for (size_t j = 0; j < t.size(); ++j) {
          const auto& b = entry["bboxes"][j];
          EXPECT_EQ(t[j].frame, b["fno"].get<int64_t>());
          EXPECT_EQ(t[j].x, b["x1"].get<int64_t>());
          EXPECT_EQ(t[j].y, b["y1"].get<int64_t>());
          EXPECT_EQ(t[j].x + t[j].w, b["x2"].get<int64_t>());
          EXPECT_EQ(t[j].y + t[j].h, b["y2"].get<int64_t>());
        }
        EXPECT_EQ(outcomes[k].score, entry["score"].get<double>()) << "item " << k;
      }
    }
  }
}

}  // namespace
}  // namespace vq2d::pipeline
