#include <chrono>

#include "vq2d/pipeline/query_pipeline.h"
#include "vq2d/pipeline/query_tokens.h"
#include "vq2d/pipeline/refinement.h"

namespace vq2d::pipeline {

ClipPipeline::ClipPipeline(const Models& models, const PipelineParams& params, bool use_cache)
    : models_(models), params_(params), use_cache_(use_cache) {}

void ClipPipeline::StartClip(torch::Tensor frames) {
  frames_ = std::move(frames);
  cache_ = std::make_unique<VideoTokenCache>(params_.frame_cropping_factors);
  uncached_ren_images_ = 0;
}

int64_t ClipPipeline::ren_images_encoded_for_video() const {
  return (cache_ ? cache_->ren_images_encoded() : 0) + uncached_ren_images_;
}

Result<QueryOutcome> ClipPipeline::RunQuery(const QueryInput& q, nlohmann::json* trace) {
  if (!frames_.defined() || frames_.dim() != 4) return Status::FailedPrecondition("ClipPipeline: StartClip first");
  if (!models_.ren || !models_.sam || !models_.features || !models_.tracker) {
    return Status::InvalidArgument("ClipPipeline: every model is required");
  }
  const int64_t T = frames_.size(0);
  if (q.query_timestep < 0 || q.query_timestep >= T || q.visual_crop_frame < 0 || q.visual_crop_frame >= T) {
    return Status::InvalidArgument(StrCat("query frame ", q.query_timestep, " / visual crop frame ", q.visual_crop_frame,
                                          " outside the clip's ", T, " frames"));
  }
  QueryOutcome empty;
  // Query encoding.
  auto t0 = std::chrono::steady_clock::now();
  auto enc = EncodeQuery(frames_[q.visual_crop_frame], q.visual_crop_box, params_.query_cropping_factors, *models_.ren,
                         *models_.sam);
  const double query_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!enc.ok()) {
    if (enc.status().code() != StatusCode::kFailedPrecondition) return enc.status();
    empty.upstream_errors.push_back("QueryEncoder: " + enc.status().message());  // no query token: empty track
    empty.stats.query_s = query_s;
    return empty;
  }
  QuerySet queries;
  queries.tokens = enc->tokens;
  for (int64_t k = 0; k < enc->tokens.size(0); ++k) {
    queries.frame_numbers.push_back(q.visual_crop_frame);
    queries.boxes.push_back({static_cast<double>(q.visual_crop_box[0]), static_cast<double>(q.visual_crop_box[1]),
                             static_cast<double>(q.visual_crop_box[2]), static_cast<double>(q.visual_crop_box[3])});
  }
  // Video encoding (cached per clip, filtered per query).
  t0 = std::chrono::steady_clock::now();
  const int64_t before = ren_images_encoded_for_video();
  Result<VideoObjects> objects = Status::Internal("unset");
  if (use_cache_) {
    objects = cache_->Objects(frames_, q.query_timestep, queries.tokens, params_.matching_threshold, *models_.ren);
  } else {
    VideoTokenCache local(params_.frame_cropping_factors, 16, 0);
    objects = local.Objects(frames_, q.query_timestep, queries.tokens, params_.matching_threshold, *models_.ren);
    uncached_ren_images_ += local.ren_images_encoded();
  }
  VQ2D_RETURN_IF_ERROR(objects.status());
  const double video_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  ModelCandidateRefiner refiner(models_, params_);
  ModelBoxTokenGenerator tokens(models_.ren, models_.sam);
  RoundModels rm{&refiner, models_.tracker, &tokens};
  VQ2D_ASSIGN_OR_RETURN(QueryOutcome out, RunQueryRounds(frames_, queries, *objects, q.query_timestep, rm, params_, trace));
  for (const auto& e : refiner.upstream_errors()) out.upstream_errors.push_back("CandidateRefiner: " + e);
  out.stats.query_s = query_s;
  out.stats.video_s = video_s;
  out.stats.ren_images = ren_images_encoded_for_video() - before;
  return out;
}

}  // namespace vq2d::pipeline
