#include "vq2d/pipeline/clip_pipeline.h"

#include <algorithm>
#include <chrono>

#include "vq2d/pipeline/query_tokens.h"
#include "vq2d/pipeline/refinement.h"

namespace vq2d::pipeline {

ClipPipeline::ClipPipeline(const Models& models, const PipelineParams& params, bool use_cache)
    : models_(models), params_(params), use_cache_(use_cache) {}

void ClipPipeline::StartClip(torch::Tensor frames) {
  frames_ = std::move(frames);
  cache_ = std::make_unique<VideoTokenCache>(params_.frame_cropping_factors, 16, 1 << 30, ImageOpsOf(params_));
  uncached_ren_images_ = 0;
}

int64_t ClipPipeline::ren_images_encoded_for_video() const {
  return (cache_ ? cache_->ren_images_encoded() : 0) + uncached_ren_images_;
}

Result<bool> ClipPipeline::EncodeQuerySet(const QueryInput& q, QuerySet* queries, QueryOutcome* outcome) {
  if (!frames_.defined() || frames_.dim() != 4) return Status::FailedPrecondition("ClipPipeline: StartClip first");
  VQ2D_RETURN_IF_ERROR(ValidatePipelineParams(params_));
  if (!models_.ren || !models_.sam || !models_.features || !models_.tracker) {
    return Status::InvalidArgument("ClipPipeline: every model is required");
  }
  const int64_t T = frames_.size(0);
  if (q.query_timestep < 0 || q.query_timestep >= T || q.visual_crop_frame < 0 || q.visual_crop_frame >= T) {
    return Status::InvalidArgument(StrCat("query frame ", q.query_timestep, " / visual crop frame ", q.visual_crop_frame,
                                          " outside the clip's ", T, " frames"));
  }
  auto t0 = std::chrono::steady_clock::now();
  auto enc = EncodeQuery(frames_[q.visual_crop_frame], q.visual_crop_box, params_.query_cropping_factors, *models_.ren,
                         *models_.sam, ImageOpsOf(params_));
  outcome->stats.query_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!enc.ok()) {
    // Where upstream's QueryEncoder raises (no query token): empty track. Other errors fail.
    if (enc.status().code() != StatusCode::kUpstreamRaised) return enc.status();
    outcome->upstream_errors.push_back("QueryEncoder: " + enc.status().message());
    return false;
  }
  queries->tokens = enc->tokens;
  for (int64_t k = 0; k < enc->tokens.size(0); ++k) {
    queries->frame_numbers.push_back(q.visual_crop_frame);
    queries->boxes.push_back({static_cast<double>(q.visual_crop_box[0]), static_cast<double>(q.visual_crop_box[1]),
                              static_cast<double>(q.visual_crop_box[2]), static_cast<double>(q.visual_crop_box[3])});
  }
  return true;
}

Result<QueryOutcome> ClipPipeline::Rounds(const QueryInput& q, const QuerySet& queries, const VideoObjects& objects,
                                          QueryOutcome pre, nlohmann::json* trace) {
  ModelCandidateRefiner refiner(models_, params_);
  ModelBoxTokenGenerator tokens(models_.ren, models_.sam, ImageOpsOf(params_), params_.batch_crops);
  RoundModels rm{&refiner, models_.tracker, &tokens};
  VQ2D_ASSIGN_OR_RETURN(QueryOutcome out, RunQueryRounds(frames_, queries, objects, q.query_timestep, rm, params_, trace));
  for (const auto& e : refiner.upstream_errors()) out.upstream_errors.push_back("CandidateRefiner: " + e);
  out.stats.query_s = pre.stats.query_s;
  out.stats.video_s = pre.stats.video_s;
  out.stats.ren_images = pre.stats.ren_images;
  return out;
}

Result<QueryOutcome> ClipPipeline::RunQuery(const QueryInput& q, nlohmann::json* trace,
                                            std::map<std::string, torch::Tensor>* tensors) {
  QueryOutcome pre;
  QuerySet queries;
  VQ2D_ASSIGN_OR_RETURN(bool ok, EncodeQuerySet(q, &queries, &pre));
  if (!ok) return pre;
  auto t0 = std::chrono::steady_clock::now();
  const int64_t before = ren_images_encoded_for_video();
  Result<VideoObjects> objects = Status::Internal("unset");
  if (use_cache_) {
    objects = cache_->Objects(frames_, q.query_timestep, queries.tokens, params_.matching_threshold, *models_.ren);
  } else {
    VideoTokenCache local(params_.frame_cropping_factors, 16, 0, ImageOpsOf(params_));
    objects = local.Objects(frames_, q.query_timestep, queries.tokens, params_.matching_threshold, *models_.ren);
    uncached_ren_images_ += local.ren_images_encoded();
  }
  VQ2D_RETURN_IF_ERROR(objects.status());
  pre.stats.video_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  pre.stats.ren_images = ren_images_encoded_for_video() - before;
  if (tensors) {
    (*tensors)["query_tokens"] = queries.tokens;
    (*tensors)["object_tokens"] = objects->tokens;
    (*tensors)["object_points"] = objects->points;
    (*tensors)["object_frame_ids"] = objects->frame_ids;
  }
  return Rounds(q, queries, *objects, pre, trace);
}

Result<std::vector<QueryOutcome>> ClipPipeline::RunQueries(const std::vector<QueryInput>& qs, int64_t chunk_frames,
                                                           const FramesReady& ready) {
  std::vector<QueryOutcome> pre(qs.size());
  std::vector<QuerySet> sets(qs.size());
  std::vector<bool> ok(qs.size());
  std::vector<int64_t> ends;
  std::vector<torch::Tensor> toks;
  std::vector<size_t> which;
  for (size_t i = 0; i < qs.size(); ++i) {
    const int64_t v = qs[i].visual_crop_frame;  // outside the clip: EncodeQuerySet fails the query
    if (ready && v >= 0 && v < frames_.size(0)) VQ2D_RETURN_IF_ERROR(ready(v, v + 1));
    VQ2D_ASSIGN_OR_RETURN(bool good, EncodeQuerySet(qs[i], &sets[i], &pre[i]));
    ok[i] = good;
    if (!good) continue;
    ends.push_back(qs[i].query_timestep);
    toks.push_back(sets[i].tokens);
    which.push_back(i);
  }
  auto t0 = std::chrono::steady_clock::now();
  int64_t images = 0;
  VQ2D_ASSIGN_OR_RETURN(auto objects, StreamVideoObjects(frames_, ends, toks, params_.frame_cropping_factors,
                                                         params_.matching_threshold, *models_.ren, chunk_frames, &images,
                                                         ImageOpsOf(params_), ready));
  if (ready) VQ2D_RETURN_IF_ERROR(ready(0, frames_.size(0)));  // the rounds read any frame
  uncached_ren_images_ += images;
  const double video_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<QueryOutcome> out(qs.size());
  for (size_t i = 0; i < qs.size(); ++i) out[i] = pre[i];
  for (size_t k = 0; k < which.size(); ++k) {
    const size_t i = which[k];
    pre[i].stats.video_s = video_s / static_cast<double>(which.size());  // shared pass, split evenly
    pre[i].stats.ren_images = k == 0 ? images : 0;
    VQ2D_ASSIGN_OR_RETURN(out[i], Rounds(qs[i], sets[i], objects[k], pre[i], nullptr));
  }
  return out;
}

QueryOutcome UpstreamRaisedOutcome(const Status& status) {
  QueryOutcome out;
  out.upstream_errors.push_back(
      StrCat("query failed where upstream raises: ", status.message(), "; empty track, score 0"));
  return out;
}

Result<std::vector<QueryOutcome>> RunClipQueries(const Models& models, const PipelineParams& params,
                                                 const torch::Tensor& frames, const std::vector<QueryInput>& queries,
                                                 bool share_video_tokens, int64_t chunk_frames,
                                                 const FramesReady& ready) {
  if (share_video_tokens) {
    ClipPipeline p(models, params, /*use_cache=*/true);
    p.StartClip(frames);
    auto outs = p.RunQueries(queries, chunk_frames, ready);
    if (outs.ok() || outs.status().code() != StatusCode::kUpstreamRaised) return outs;
    // One query raised where upstream raises: it must not fail its clip. Redo the queries one by
    // one below and isolate it.
  }
  if (ready) VQ2D_RETURN_IF_ERROR(ready(0, frames.size(0)));  // per query: any frame, in any order
  ClipPipeline p(models, params, /*use_cache=*/share_video_tokens);
  p.StartClip(frames);
  std::vector<QueryOutcome> outs(queries.size());
  for (size_t k = 0; k < queries.size(); ++k) {
    auto out = p.RunQuery(queries[k]);
    if (out.ok()) {
      outs[k] = std::move(out).value();
    } else if (out.status().code() == StatusCode::kUpstreamRaised) {
      outs[k] = UpstreamRaisedOutcome(out.status());
    } else {
      return out.status();
    }
  }
  return outs;
}

}  // namespace vq2d::pipeline
