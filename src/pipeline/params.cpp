#include "vq2d/pipeline/params.h"

#include <nlohmann/json.hpp>

namespace vq2d::pipeline {

Status ValidatePipelineParams(const PipelineParams& p) {
  if (p.sam_blur_kernel < 1 || p.sam_blur_kernel % 2 == 0) {
    return Status::InvalidArgument(
        StrCat("pipeline params: sam_blur_kernel ", p.sam_blur_kernel, ": expected an odd size >= 1 (1 = no blur)"));
  }
  if (p.token_distance_mask_size != 0 && p.token_distance_mask_size != 3 && p.token_distance_mask_size != 5) {
    return Status::InvalidArgument(StrCat("pipeline params: token_distance_mask_size ", p.token_distance_mask_size,
                                          ": expected 3, 5 or 0 (precise)"));
  }
  if (!(p.sliding_window_overlap >= 0.0 && p.sliding_window_overlap < 1.0)) {
    return Status::InvalidArgument(
        StrCat("pipeline params: sliding_window_overlap ", p.sliding_window_overlap, ": expected a value in [0, 1)"));
  }
  if (p.sam_pooled_chunk < 1) {
    return Status::InvalidArgument(StrCat("pipeline params: sam_pooled_chunk ", p.sam_pooled_chunk, ": expected >= 1"));
  }
  return Status::OK();
}

nlohmann::json StageStatsJson(const StageStats& s) {
  return {{"query_s", s.query_s},
          {"video_s", s.video_s},
          {"select_s", s.select_s},
          {"refine_s", s.refine_s},
          {"track_s", s.track_s},
          {"expansion_s", s.expansion_s},
          {"objects", s.n_objects},
          {"queries_round1", s.n_queries_round1},
          {"queries_round2", s.n_queries_round2},
          {"selected_round1", s.n_selected_round1},
          {"refined_round1", s.n_refined_round1},
          {"selected_round2", s.n_selected_round2},
          {"refined_round2", s.n_refined_round2},
          {"ren_images", s.ren_images}};
}

}  // namespace vq2d::pipeline
