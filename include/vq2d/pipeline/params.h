// Plain (torch-free) parameters and results of the VQ2D pipeline, so the layers above (io, runner,
// app) can configure it and read its statistics without LibTorch headers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "vq2d/base/stage_defaults.h"
#include "vq2d/base/status.h"

namespace vq2d::pipeline {

// Frames of a clip still arriving: ready(begin, end) returns OK once frames [begin, end) may be
// read (blocking until then), or why they never will be. Empty = every frame is there
// (ClipFrames::ready).
using FramesReady = std::function<Status(int64_t begin, int64_t end)>;

// Quirk switches (upstream quirks Q1-Q4, docs/pipeline.md), all off = upstream behaviour. Mirrors io's FixesOptions.
struct PipelineFixes {
  bool expansion_token_index = false;    // #1 append tracked_tokens[query_idx]
  bool tracked_token_alignment = false;  // #2 zero row for an empty SAM mask (8 tokens per frame)
  bool suppression_frame_index = false;  // #3 query-frame suppression indexed by frame id
  bool blur_gray_conversion = false;     // #4 RGB2GRAY in is_blurry
  bool apply_trim_offset = false;        // #5 (data preparation; not used by the stages)
  bool sam2_prompt_frame_int_index = false;  // SAM 2 prompt frame index as an int (docs/pipeline.md)
};

// cv::resize interpolation of every crop (stage_defaults.h).
using vq2d::CropInterpolation;

// Every default is upstream's value, from stage_defaults.h (which notes the upstream line that
// hard-codes each constant).
struct PipelineParams {
  std::vector<double> query_cropping_factors = defaults::ToVector(defaults::kQueryCroppingFactors);
  std::vector<double> frame_cropping_factors = defaults::ToVector(defaults::kFrameCroppingFactors);
  double matching_threshold = defaults::kMatchingThreshold;
  int64_t selection_top_k = defaults::kSelectionTopK;
  double selection_top_p = defaults::kSelectionTopP;
  double nms_threshold = defaults::kNmsThreshold;
  double refinement_top_p = defaults::kRefinementTopP;
  double cropping_margin_expansion = defaults::kCroppingMarginExpansion;  // get_cropping_factor margin
  int64_t patch_size = defaults::kPatchSize;
  double query_selection_threshold = defaults::kQuerySelectionThreshold;
  double track_selection_threshold = defaults::kTrackSelectionThreshold;  // round-2 filter and acceptance ratio
  int64_t bbox_size_threshold = defaults::kBboxSizeThreshold;  // expansion skips min(w,h) <= this
  double blur_threshold = defaults::kBlurThreshold;            // is_blurry: Laplacian variance < this
  int64_t tracking_half_span = defaults::kTrackingHalfSpan;    // SAM 2 window [fid-span, fid+span)
  bool refine_tracks = true;                                   // run query expansion + round 2
  double query_frame_suppression = defaults::kQueryFrameSuppression;  // suppress the query-frame run while >= this
  double intra_frame_keep_ratio = defaults::kIntraFrameKeepRatio;     // keep scores >= ratio * frame max
  double sliding_window_overlap = defaults::kSlidingWindowOverlap;    // video crops: stride int(crop * (1 - overlap))
  double max_cropping_factor = defaults::kMaxCroppingFactor;          // get_cropping_factor upper clip
  int64_t sam_pooled_chunk = defaults::kSamPooledChunk;               // images per SAM-pooled chunk
  int64_t sam_blur_kernel = defaults::kSamBlurKernel;  // GaussianBlur k x k before SAM image calls, 1 = none
  int64_t token_distance_mask_size = defaults::kTokenDistanceMaskSize;  // distanceTransform maskSize: 3, 5, 0
  CropInterpolation crop_interpolation = defaults::kCropInterpolation;
  // Round-1 tracked-object tokens computed on demand (TrackedTokens) instead of for every tracked
  // frame as upstream does: identical results, less work. false = eager (equivalence tests).
  bool lazy_tracked_tokens = true;
  // The crops of a tracked frame through SAM 2's image encoder as one batch, and the REN crops of
  // all frames a read of tracked tokens needs as one call (chunks of models.ren_batch_size). Equal
  // within float tolerance with the same decisions, not bit-identical, so the engine turns it on by
  // device (models.batch_crops auto: CUDA only); false = one crop, one frame at a time.
  bool batch_crops = false;
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

// The one JSON form of StageStats (clip outputs' per-query "stats", the journal, `vq2d status`, the
// debug dump): {"query_s", "video_s", "select_s", "refine_s", "track_s", "expansion_s" (seconds),
// "objects", "queries_round1", "queries_round2", "selected_round1", "refined_round1",
// "selected_round2", "refined_round2", "ren_images"}.
nlohmann::json StageStatsJson(const StageStats& stats);

// One query of a clip: the visual crop (frame + box in frame pixels, as mapped by the dataloader)
// and the query frame (annotation `query_frame` = query_timestep; video frames [0, it) are searched).
struct QueryInput {
  int64_t visual_crop_frame = 0;
  std::array<int64_t, 4> visual_crop_box{};  // xywh
  int64_t query_timestep = 0;
};

}  // namespace vq2d::pipeline
