#include "vq2d/pipeline/query_pipeline.h"

#include <chrono>

#include "vq2d/pipeline/tracked_tokens.h"

namespace vq2d::pipeline {

namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json TrackJson(const Track& t) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& b : t) j.push_back({b.frame, b.x, b.y, b.w, b.h});
  return j;
}

// What SAM 2 saw and did in each pass of the tracked candidate: prompt, window, and per yielded
// frame [frame, x, y, w, h, object_score_logit] (an empty mask, where the pass stopped: [frame, null]).
nlohmann::json PassesJson(const std::vector<TrackPass>& passes, const PipelineFixes& fixes) {
  nlohmann::json j = nlohmann::json::array();
  for (const TrackPass& p : passes) {
    nlohmann::json frames = nlohmann::json::array();
    for (const TrackPassFrame& f : p.frames) {
      if (f.empty) {
        frames.push_back({f.frame, nullptr, f.object_score_logit});
      } else {
        frames.push_back({f.frame, f.box[0], f.box[1], f.box[2], f.box[3], f.object_score_logit});
      }
    }
    j.push_back({{"direction", p.reverse ? "reverse" : "forward"},
                 {"prompt_frame", p.prompt_frame},
                 {"prompt_box_xyxy", p.prompt_box_xyxy},
                 {"window_frames", {p.window_first, p.window_last}},
                 {"prompt_frame_output", fixes.sam2_prompt_frame_int_index ? "box-prompted mask" : "re-inferred with memory"},
                 {"frames_xywh_score", frames}});
  }
  return j;
}

SelectorParams Selector(const PipelineParams& p) {
  SelectorParams s;
  s.top_k = p.selection_top_k;
  s.top_p = p.selection_top_p;
  s.nms_threshold = p.nms_threshold;
  s.fix_suppression_index = p.fixes.suppression_frame_index;
  s.query_frame_suppression = p.query_frame_suppression;
  s.intra_frame_keep_ratio = p.intra_frame_keep_ratio;
  return s;
}

TrackingParams Tracking(const PipelineParams& p) {
  TrackingParams t;
  t.half_span = p.tracking_half_span;
  t.query_cropping_factors = p.query_cropping_factors;
  t.keep_token_alignment = p.fixes.tracked_token_alignment;
  t.crop_interpolation = p.crop_interpolation;
  t.lazy_tokens = p.lazy_tracked_tokens;
  t.batch_frames = p.batch_crops;
  return t;
}

// Selection + gather (run.py CandidateSelection.run).
Candidates Select(const VideoObjects& objects, const QuerySet& q, const PipelineParams& p, std::string* error,
                  nlohmann::json* trace) {
  Candidates c;
  if (objects.Size() == 0 || !q.tokens.defined() || q.tokens.size(0) == 0) {
    *error = "RuntimeError";
    return c;
  }
  const int64_t qfn = q.frame_numbers.empty() ? -1 : q.frame_numbers[0];
  Selection s = SelectCandidates(objects.tokens, q.tokens, objects.frame_ids, torch::Tensor(), qfn, Selector(p));
  *error = s.upstream_error;
  const int64_t* f = objects.frame_ids.data_ptr<int64_t>();
  auto pts = objects.points.accessor<float, 2>();
  for (size_t i = 0; i < s.idxs.size(); ++i) {
    const int64_t k = s.idxs[i];
    c.frame_ids.push_back(f[k]);
    c.points.push_back({pts[k][0], pts[k][1]});
    c.boxes.push_back({0.f, 0.f, 0.f, 0.f});
    c.scores.push_back(s.scores[i]);
    c.query_match_idxs.push_back(s.query_match_idxs[i]);
  }
  if (trace) {
    trace->push_back({{"stage", "CandidateSelection"},
                      {"selected_object_idxs", s.idxs},
                      {"selected_object_scores", s.scores},
                      {"selected_frame_ids", c.frame_ids},
                      {"query_match_idxs", c.query_match_idxs},
                      {"n_queries", q.tokens.size(0)},
                      {"query_frame_number_used", qfn}});
  }
  return c;
}

}  // namespace

Result<QueryOutcome> RunQueryRounds(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                                    int64_t query_timestep, const RoundModels& models, const PipelineParams& params,
                                    nlohmann::json* trace) {
  if (!models.refiner || !models.tracker || !models.tokens) {
    return Status::InvalidArgument("RunQueryRounds: refiner, tracker and token generator are required");
  }
  QueryOutcome out;
  StageStats& st = out.stats;
  st.n_objects = objects.Size();
  st.n_queries_round1 = queries.tokens.defined() ? queries.tokens.size(0) : 0;
  const TrackingParams tp = Tracking(params);
  const int64_t original_qfn = queries.frame_numbers.empty() ? -1 : queries.frame_numbers[0];

  // ---- Round 1 ----
  auto t0 = std::chrono::steady_clock::now();
  std::string err;
  Candidates sel = Select(objects, queries, params, &err, trace);
  st.select_s += Since(t0);
  st.n_selected_round1 = static_cast<int64_t>(sel.size());
  if (!err.empty()) out.upstream_errors.push_back("CandidateSelection: " + err);
  if (sel.size() == 0) return out;  // nothing to refine: empty track, score 0

  t0 = std::chrono::steady_clock::now();
  VQ2D_ASSIGN_OR_RETURN(Candidates ref, models.refiner->Refine(frames, sel, queries, params.refinement_top_p));
  st.refine_s += Since(t0);
  st.n_refined_round1 = static_cast<int64_t>(ref.size());
  if (ref.size() == 0) {
    out.upstream_errors.push_back("TrackPrediction: RuntimeError");
    return out;
  }

  t0 = std::chrono::steady_clock::now();
  VQ2D_ASSIGN_OR_RETURN(TrackPredictionResult tp1, PredictTrack(frames, ref, TrackMode::kMax, /*get_tokens=*/true,
                                                                query_timestep, original_qfn, *models.tracker,
                                                                models.tokens, tp));
  st.track_s += Since(t0);
  if (!tp1.upstream_error.empty()) out.upstream_errors.push_back("TrackPrediction: " + tp1.upstream_error);
  if (trace) {
    int64_t n_tokens = tp1.tokens.defined() ? tp1.tokens.size(0) : 0;
    if (tp1.lazy) {
      VQ2D_ASSIGN_OR_RETURN(n_tokens, tp1.lazy->Rows());  // the trace needs the count: all masks
    }
    trace->push_back({{"stage", "TrackPrediction"},
                      {"to_track", "max"},
                      {"selected_frame_ids_in", ref.frame_ids},
                      {"selected_object_scores_in", ref.scores},
                      {"predicted_track", TrackJson(tp1.track)},
                      {"predicted_track_score", tp1.score},
                      {"n_tracked_object_tokens", n_tokens},
                      {"sam2_passes", PassesJson(tp1.passes, params.fixes)}});
  }
  out.track = tp1.track;
  out.score = tp1.track.empty() ? 0.0 : tp1.score;
  if (tp1.track.empty()) {
    out.upstream_errors.push_back("QueryExpansion: IndexError");  // upstream: predicted_track[-1]
    return out;
  }
  if (!params.refine_tracks) return out;

  // ---- Query expansion ----
  t0 = std::chrono::steady_clock::now();
  ExpansionParams ep;
  ep.query_selection_threshold = params.query_selection_threshold;
  ep.bbox_size_threshold = params.bbox_size_threshold;
  ep.blur_threshold = params.blur_threshold;
  ep.fix_token_index = params.fixes.expansion_token_index;
  ep.fix_blur_gray = params.fixes.blur_gray_conversion;
  ExpansionResult ex;
  if (tp1.lazy) {
    VQ2D_ASSIGN_OR_RETURN(ex, ExpandQueries(frames, queries, objects, tp1.track, *tp1.lazy, ep));
  } else {
    ex = ExpandQueries(frames, queries, objects, tp1.track, tp1.tokens, ep);
  }
  st.expansion_s += Since(t0);
  if (!ex.upstream_error.empty()) out.upstream_errors.push_back("QueryExpansion: " + ex.upstream_error);
  if (trace) {
    nlohmann::json rec = {{"stage", "QueryExpansion"}, {"returned_none", !ex.expanded}};
    if (ex.expanded) {
      rec["n_queries_after"] = ex.queries.tokens.size(0);
      rec["query_frame_numbers_after"] = ex.queries.frame_numbers;
      rec["n_objects_after"] = ex.objects.Size();
    }
    trace->push_back(rec);
  }
  if (!ex.expanded) return out;
  st.n_queries_round2 = ex.queries.tokens.size(0);

  // ---- Round 2 ----
  t0 = std::chrono::steady_clock::now();
  Candidates sel2 = Select(ex.objects, ex.queries, params, &err, trace);
  st.select_s += Since(t0);
  st.n_selected_round2 = static_cast<int64_t>(sel2.size());
  if (!err.empty()) out.upstream_errors.push_back("CandidateSelection(round 2): " + err);
  if (sel2.size() == 0) return out;  // keep round 1

  t0 = std::chrono::steady_clock::now();
  VQ2D_ASSIGN_OR_RETURN(Candidates ref2, models.refiner->Refine(frames, sel2, ex.queries, params.refinement_top_p));
  st.refine_s += Since(t0);
  st.n_refined_round2 = static_cast<int64_t>(ref2.size());

  // Keep refined scores >= track_selection_threshold (float32 comparison).
  Candidates kept;
  const float thr = static_cast<float>(params.track_selection_threshold);
  for (size_t i = 0; i < ref2.size(); ++i) {
    if (!(ref2.scores[i] >= thr)) continue;
    kept.frame_ids.push_back(ref2.frame_ids[i]);
    kept.points.push_back(ref2.points[i]);
    kept.boxes.push_back(ref2.boxes[i]);
    kept.scores.push_back(ref2.scores[i]);
    kept.query_match_idxs.push_back(ref2.query_match_idxs[i]);
  }
  if (kept.size() == 0) return out;

  t0 = std::chrono::steady_clock::now();
  VQ2D_ASSIGN_OR_RETURN(TrackPredictionResult tp2, PredictTrack(frames, kept, TrackMode::kLast, /*get_tokens=*/false,
                                                                query_timestep, original_qfn, *models.tracker,
                                                                models.tokens, tp));
  st.track_s += Since(t0);
  out.round2_tracked = true;
  if (trace) {
    const int64_t m = kept.query_match_idxs.back();
    nlohmann::json rec = {{"stage", "TrackPrediction"},
                          {"to_track", "last"},
                          {"selected_frame_ids_in", kept.frame_ids},
                          {"selected_object_scores_in", kept.scores},
                          {"predicted_track", TrackJson(tp2.track)},
                          {"predicted_track_score", tp2.score},
                          {"sam2_passes", PassesJson(tp2.passes, params.fixes)}};
    if (m >= 0 && m < static_cast<int64_t>(ex.queries.frame_numbers.size())) {
      rec["query_frame_numbers_in"] = {ex.queries.frame_numbers[m]};
      rec["query_bboxes_in"] = {ex.queries.boxes[m]};
    }
    trace->push_back(rec);
  }
  if (tp2.score > params.track_selection_threshold * out.score) {
    out.round2_accepted = true;
    out.track = tp2.track;
    out.score = tp2.score;
  }
  return out;
}

}  // namespace vq2d::pipeline
