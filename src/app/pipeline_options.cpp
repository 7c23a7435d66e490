#include "app/pipeline_options.h"

namespace vq2d::app {

pipeline::CropInterpolation CropInterpolationFromName(const std::string& name) {
  if (name == "cubic") return pipeline::CropInterpolation::kCubic;
  if (name == "linear") return pipeline::CropInterpolation::kLinear;
  if (name == "area") return pipeline::CropInterpolation::kArea;
  if (name == "nearest") return pipeline::CropInterpolation::kNearest;
  return pipeline::CropInterpolation::kLanczos4;  // "lanczos4" (the config schema allows no other name)
}

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
  p.query_frame_suppression = vq.query_frame_suppression;
  p.intra_frame_keep_ratio = vq.intra_frame_keep_ratio;
  p.sliding_window_overlap = vq.sliding_window_overlap;
  p.cropping_margin_expansion = vq.cropping_margin_expansion;
  p.max_cropping_factor = vq.max_cropping_factor;
  p.sam_pooled_chunk = vq.sam_pooled_chunk;
  p.sam_blur_kernel = vq.sam_blur_kernel;
  p.token_distance_mask_size = vq.token_distance_mask_size;
  p.crop_interpolation = CropInterpolationFromName(vq.crop_interpolation);
  p.tracking_half_span = vq.tracking_half_window;
  p.bbox_size_threshold = vq.bbox_size_threshold;
  p.blur_threshold = vq.blur_threshold;
  p.fixes.expansion_token_index = config.fixes.expansion_token_index;
  p.fixes.tracked_token_alignment = config.fixes.tracked_token_alignment;
  p.fixes.suppression_frame_index = config.fixes.suppression_frame_index;
  p.fixes.blur_gray_conversion = config.fixes.blur_gray_conversion;
  p.fixes.apply_trim_offset = config.fixes.apply_trim_offset;
  p.fixes.sam2_prompt_frame_int_index = config.fixes.sam2_prompt_frame_int_index;
  return p;
}

}  // namespace vq2d::app
