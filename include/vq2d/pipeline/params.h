// Plain (torch-free) parameters and results of the VQ2D pipeline, so the layers above (io, runner,
// app) can configure it and read its statistics without LibTorch headers.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::pipeline {

// Quirk switches (upstream quirks Q1-Q4, docs/pipeline.md), all off = upstream behaviour. Mirrors io's FixesOptions.
struct PipelineFixes {
  bool expansion_token_index = false;    // #1 append tracked_tokens[query_idx]
  bool tracked_token_alignment = false;  // #2 zero row for an empty SAM mask (8 tokens per frame)
  bool suppression_frame_index = false;  // #3 query-frame suppression indexed by frame id
  bool blur_gray_conversion = false;     // #4 RGB2GRAY in is_blurry
  bool apply_trim_offset = false;        // #5 (data preparation; not used by the stages)
  bool sam2_prompt_frame_int_index = false;  // SAM 2 prompt frame index as an int (docs/pipeline.md)
};

// cv::resize interpolation of every crop (crop_using_bbox and the sliding-window crops).
enum class CropInterpolation { kLanczos4, kCubic, kLinear, kArea, kNearest };

// Every default is upstream's value (savya08/REN@e2204c5); the constants upstream hard-codes
// (docs/pipeline.md, Constants) are marked with the upstream line that hard-codes them.
struct PipelineParams {
  std::vector<double> query_cropping_factors = {1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75};
  std::vector<double> frame_cropping_factors = {1.0, 2.0};
  double matching_threshold = 0.6;         // upstream hard-codes 0.6 (dataloader.py:58)
  int64_t selection_top_k = 25;
  double selection_top_p = 0.7;
  double nms_threshold = 0.8;
  double refinement_top_p = 0.7;
  double cropping_margin_expansion = 1.5;  // get_cropping_factor margin (models.py:417)
  int64_t patch_size = 8;
  double query_selection_threshold = 0.5;
  double track_selection_threshold = 0.7;  // round-2 filter and acceptance ratio
  int64_t bbox_size_threshold = 10;        // expansion skips min(w,h) <= this (run.py:304)
  double blur_threshold = 100.0;           // is_blurry: Laplacian variance < this (vq_utils.py:541)
  int64_t tracking_half_span = 500;        // SAM 2 window [fid-500, fid+500) (models.py:611)
  bool refine_tracks = true;               // run query expansion + round 2
  double query_frame_suppression = 0.8;    // suppress the query-frame run while score >= this (models.py:276)
  double intra_frame_keep_ratio = 1.0;     // keep scores >= ratio * frame max (models.py:263)
  double sliding_window_overlap = 0.0;     // video crops: stride int(crop * (1 - overlap)) (models.py:210)
  double max_cropping_factor = 2.0;        // get_cropping_factor upper clip (vq_utils.py:451)
  int64_t sam_pooled_chunk = 8;            // images per SAM-pooled chunk (vq_utils.py:385)
  int64_t sam_blur_kernel = 3;             // GaussianBlur k x k before SAM image calls, 1 = none (vq_utils.py:265,282)
  int64_t token_distance_mask_size = 5;    // distanceTransform maskSize: 3, 5, 0 = precise (vq_utils.py:326)
  CropInterpolation crop_interpolation = CropInterpolation::kLanczos4;  // (vq_utils.py:368,512)
  PipelineFixes fixes;
};

// InvalidArgument naming the field for values the stages cannot run with (the config schema
// rejects them too): sam_blur_kernel even or < 1, token_distance_mask_size not 0/3/5,
// sliding_window_overlap outside [0, 1), sam_pooled_chunk < 1. ClipPipeline checks it per query.
Status ValidatePipelineParams(const PipelineParams& params);

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
