#include "app/pipeline_options.h"

namespace vq2d::app {

pipeline::PipelineParams PipelineParamsFromConfig(const Config& config) {
  const VisualQueryOptions& vq = config.visual_query;
  pipeline::PipelineParams p;
  p.query_cropping_factors = vq.query_cropping_factors;
  p.frame_cropping_factors = vq.frame_cropping_factors;
  p.matching_threshold = vq.matching_threshold;
  p.selection_top_k = vq.selection_top_k;
  p.selection_top_p = vq.selection_top_p;
  p.nms_threshold = vq.nms_threshold;
  p.refinement_top_p = vq.refinement_top_p;
  p.patch_size = vq.patch_size;
  p.query_selection_threshold = vq.query_selection_threshold;
  p.track_selection_threshold = vq.track_selection_threshold;
  p.fixes.expansion_token_index = config.fixes.expansion_token_index;
  p.fixes.tracked_token_alignment = config.fixes.tracked_token_alignment;
  p.fixes.suppression_frame_index = config.fixes.suppression_frame_index;
  p.fixes.blur_gray_conversion = config.fixes.blur_gray_conversion;
  p.fixes.apply_trim_offset = config.fixes.apply_trim_offset;
  return p;
}

}  // namespace vq2d::app
