// Plain (torch-free) parameters and results of the VQ2D pipeline, so the layers above (io, runner,
// app) can configure it and read its statistics without LibTorch headers.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace vq2d::pipeline {

// Quirk switches (ren_vq.md §2.13), all off = upstream behaviour. Mirrors io's FixesOptions.
struct PipelineFixes {
  bool expansion_token_index = false;    // #1 append tracked_tokens[query_idx]
  bool tracked_token_alignment = false;  // #2 zero row for an empty SAM mask (8 tokens per frame)
  bool suppression_frame_index = false;  // #3 query-frame suppression indexed by frame id
  bool blur_gray_conversion = false;     // #4 RGB2GRAY in is_blurry
  bool apply_trim_offset = false;        // #5 (data preparation; not used by the stages)
};

struct PipelineParams {
  std::vector<double> query_cropping_factors = {1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75};
  std::vector<double> frame_cropping_factors = {1.0, 2.0};
  double matching_threshold = 0.6;         // upstream hard-codes 0.6 (dataloader.py:58)
  int64_t selection_top_k = 25;
  double selection_top_p = 0.7;
  double nms_threshold = 0.8;
  double refinement_top_p = 0.7;
  double cropping_margin_expansion = 1.5;
  int64_t patch_size = 8;
  double query_selection_threshold = 0.5;
  double track_selection_threshold = 0.7;  // round-2 filter and acceptance ratio
  int64_t bbox_size_threshold = 10;
  double blur_threshold = 100.0;
  int64_t tracking_half_span = 500;
  bool refine_tracks = true;               // run query expansion + round 2
  PipelineFixes fixes;
};

struct StageStats {
  double query_s = 0, video_s = 0, select_s = 0, refine_s = 0, track_s = 0, expansion_s = 0;
  int64_t n_objects = 0, n_queries_round1 = 0, n_queries_round2 = 0;
  int64_t n_selected_round1 = 0, n_refined_round1 = 0, n_selected_round2 = 0, n_refined_round2 = 0;
  int64_t ren_images = 0;  // REN images encoded for this query (0 when served by the cache)
};

// One query of a clip: the visual crop (frame + box in frame pixels, as mapped by the dataloader)
// and the query frame (annotation `query_frame` = query_timestep; video frames [0, it) are searched).
struct QueryInput {
  int64_t visual_crop_frame = 0;
  std::array<int64_t, 4> visual_crop_box{};  // xywh
  int64_t query_timestep = 0;
};

}  // namespace vq2d::pipeline
