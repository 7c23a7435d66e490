// Tracking, track post-processing and query expansion (docs/pipeline.md stages 5-6): upstream
// VisualQueryTracker.track, TrackPrediction.run and QueryExpansion.run.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/models.h"
#include "vq2d/pipeline/selection.h"

namespace vq2d::pipeline {

// One tracked frame: [frame, x, y, w, h] from mask_to_bbox (frame pixels, no +1).
struct TrackBox {
  int64_t frame = 0;
  int64_t x = 0, y = 0, w = 0, h = 0;
  bool operator==(const TrackBox& o) const {
    return frame == o.frame && x == o.x && y == o.y && w == o.w && h == o.h;
  }
};
using Track = std::vector<TrackBox>;

// Candidates of one round in temporal order (after refinement: refined boxes and scores).
struct Candidates {
  std::vector<int64_t> frame_ids;
  std::vector<std::array<float, 2>> points;      // (y, x) frame pixels
  std::vector<std::array<float, 4>> boxes;       // xywh, float32 values
  std::vector<float> scores;
  std::vector<int64_t> query_match_idxs;
  size_t size() const { return frame_ids.size(); }
};

// Per-crop output of a generate_token_from_bbox implementation.
struct CropTokens {
  // Per crop: -1 skipped (empty refined SAM mask), 0 no token point inside the mask (zero row),
  // 1 token chosen.
  std::vector<int> kind;
  torch::Tensor tokens;  // [N,D] float32, one row per crop (rows with kind != 1 are ignored)
};
// The mask half of generate_token_from_bbox for the crops of one frame: per crop the kind (as
// CropTokens::kind, decided by the SAM box mask and the REN grid points alone) and, for kind 1, the
// index of the chosen token (generator-defined: the REN grid index for the model generator).
struct CropSelection {
  std::vector<int> kind;
  std::vector<int64_t> token;
};

// generate_token_from_bbox: REN on crops [N,H,W,3] uint8 + a SAM box mask per crop (box xywh in
// crop pixels).
class BoxTokenGenerator {
 public:
  virtual ~BoxTokenGenerator() = default;
  virtual Result<CropTokens> Generate(const torch::Tensor& crops, const std::vector<std::array<double, 4>>& boxes_xywh) = 0;

  // The two halves separately, for tokens computed on demand (TrackedTokens). A generator that
  // returns false here is only ever called through Generate. `frame_pos` is the position of the
  // crops' frame in the current track; BeginTrack() starts a new track (once per TrackedTokens).
  virtual bool SupportsOnDemand() const { return false; }
  virtual void BeginTrack() {}
  // The masks: kind and chosen token per crop, no token values.
  virtual Result<CropSelection> SelectCrops(const torch::Tensor& crops,
                                            const std::vector<std::array<double, 4>>& boxes_xywh, int64_t frame_pos);
  // The tokens: [N,D] float32, row i = the chosen token of crop i where sel.kind[i] == 1, zeros elsewhere.
  virtual Result<torch::Tensor> CropTokenRows(const torch::Tensor& crops, const CropSelection& sel, int64_t frame_pos);
  // CropTokenRows of several frames (crops[f], sel[f], frame_pos[f]); the default calls it per frame,
  // a batching generator encodes them together. One [N_f,D] tensor per frame.
  virtual Result<std::vector<torch::Tensor>> CropTokenRowsOfFrames(const std::vector<torch::Tensor>& crops,
                                                                   const std::vector<const CropSelection*>& sel,
                                                                   const std::vector<int64_t>& frame_pos);
};
// The model-backed generator (REN + SAM 2 on the crop blurred with SamBlur(ops.sam_blur_kernel) +
// distance-transform rule with ops.token_distance_mask_size).
class ModelBoxTokenGenerator : public BoxTokenGenerator {
 public:
  // `batch_crops` (PipelineParams::batch_crops): SelectCrops sends a frame's crops through the SAM
  // image encoder as one batch (ImageSegmenter::SetImages), CropTokenRowsOfFrames sends every
  // frame's crops through REN in one Encode call.
  ModelBoxTokenGenerator(TokenExtractor* ren, ImageSegmenter* sam, const ImageOps& ops = {}, bool batch_crops = false)
      : ren_(ren), sam_(sam), ops_(ops), batch_(batch_crops) {}
  // SelectCrops then CropTokenRows (the same model calls as upstream's one function: REN on the N
  // crops as one batch, SAM on each blurred crop).
  Result<CropTokens> Generate(const torch::Tensor& crops, const std::vector<std::array<double, 4>>& boxes_xywh) override;
  bool SupportsOnDemand() const override { return true; }
  // SAM only (the REN grid points come from TokenExtractor::GridPoints, no encoding).
  Result<CropSelection> SelectCrops(const torch::Tensor& crops, const std::vector<std::array<double, 4>>& boxes_xywh,
                                    int64_t frame_pos) override;
  // REN only.
  Result<torch::Tensor> CropTokenRows(const torch::Tensor& crops, const CropSelection& sel, int64_t frame_pos) override;
  Result<std::vector<torch::Tensor>> CropTokenRowsOfFrames(const std::vector<torch::Tensor>& crops,
                                                           const std::vector<const CropSelection*>& sel,
                                                           const std::vector<int64_t>& frame_pos) override;

 private:
  // Rows of crop selection `sel` from REN tokens [N,Q,D] of its N crops.
  static torch::Tensor RowsFromTokens(const torch::Tensor& tokens, const CropSelection& sel);
  TokenExtractor* ren_;
  ImageSegmenter* sam_;
  ImageOps ops_;
  bool batch_;
};
// Concatenates per-crop outputs like upstream (skipped crops dropped unless keep_alignment, zero
// rows for kind 0). Returns an empty [0,D] tensor (and sets *upstream_error) where upstream raises.
torch::Tensor AssembleCropTokens(const std::vector<CropTokens>& parts, bool keep_alignment, std::string* upstream_error);

struct TrackingParams {
  int64_t half_span = defaults::kTrackingHalfSpan;      // ±500-frame SAM 2 window
  std::vector<double> query_cropping_factors = defaults::ToVector(defaults::kQueryCroppingFactors);
  bool keep_token_alignment = false;                    // fixes.tracked_token_alignment
  // get_tokens: compute the tracked tokens on demand (TrackPredictionResult::lazy) instead of for
  // every tracked frame (TrackPredictionResult::tokens). Same results; less work.
  bool lazy_tokens = false;
  // Lazy tokens: the REN crops of every frame one read needs in one call (PipelineParams::batch_crops).
  bool batch_frames = false;
  CropInterpolation crop_interpolation = defaults::kCropInterpolation;  // tracked-token crops
};

// What one SAM 2 pass of TrackCandidate saw and did (the debug dump's record of tracking). Frame
// numbers are clip frames; boxes are frame pixels.
struct TrackPassFrame {
  int64_t frame = 0;
  bool empty = false;                // empty mask: the pass stopped here (not part of the track)
  std::array<int64_t, 4> box{};      // mask_to_bbox xywh (zeros when empty)
  float object_score_logit = 0.f;    // SAM 2's object score logit of the output yielded for the frame
};
struct TrackPass {
  bool reverse = false;                  // the past pass (SAM 2 runs forward over the reversed clip)
  int64_t prompt_frame = 0;              // clip frame of the box prompt
  int64_t window_first = 0, window_last = 0;  // clip frames of the SAM 2 window, in pass order
  std::array<double, 4> prompt_box_xyxy{};
  std::vector<TrackPassFrame> frames;    // yielded frames in pass order, the prompt frame first
};

// VisualQueryTracker.track for one candidate: frames [T,H,W,3] uint8 (only [0, qt] used), prompt
// frame `fid` with box xywh (float32 values). Forward pass, then the backward pass on the reversed
// frames; each stops before the first empty mask. Track = reverse(backward)[:-1] + forward.
// `passes` (optional) receives the two passes' records.
Result<Track> TrackCandidate(const torch::Tensor& frames, int64_t fid, const std::array<float, 4>& box_xywh,
                             int64_t query_timestep, VideoTracker& tracker, const TrackingParams& params,
                             std::vector<TrackPass>* passes = nullptr);

class TrackedTokens;
struct TrackPredictionResult {
  Track track;
  double score = 0.0;
  torch::Tensor tokens;        // tracked-object tokens [M,D] (get_tokens, eager), else undefined
  // get_tokens with params.lazy_tokens and a generator that SupportsOnDemand (kMax only): the same
  // tokens, computed when read (borrows `frames` and the generator: use it while they live).
  std::shared_ptr<TrackedTokens> lazy;
  std::string upstream_error;  // set where upstream would have raised (e.g. empty candidates)
  std::vector<TrackPass> passes;  // the tracked candidate's SAM 2 passes (forward, reverse)
};
enum class TrackMode { kMax, kLast };
// TrackPrediction.run: kMax tracks the first argmax-score candidate, kLast the last one. kLast only:
// cut the track after the first element at `original_query_frame` (score 0 if it is the last).
// An empty candidate list gives an empty track with score 0.
Result<TrackPredictionResult> PredictTrack(const torch::Tensor& frames, const Candidates& candidates, TrackMode mode,
                                           bool get_tokens, int64_t query_timestep, int64_t original_query_frame,
                                           VideoTracker& tracker, BoxTokenGenerator* tokens,
                                           const TrackingParams& params);

// The query set of one query (K rows).
struct QuerySet {
  torch::Tensor tokens;                      // [K,D] float32
  std::vector<int64_t> frame_numbers;        // [K]
  std::vector<std::array<double, 4>> boxes;  // [K] xywh
};

struct ExpansionParams {
  double query_selection_threshold = defaults::kQuerySelectionThreshold;
  int64_t bbox_size_threshold = defaults::kBboxSizeThreshold;
  double blur_threshold = defaults::kBlurThreshold;
  bool fix_token_index = false;     // fixes.expansion_token_index
  bool fix_blur_gray = false;       // fixes.blur_gray_conversion
};
struct ExpansionResult {
  bool expanded = false;             // false: upstream returned None (keep round 1)
  QuerySet queries;                  // originals first, then the appended queries
  VideoObjects objects;              // objects from the frame after the track on
  int64_t object_start_index = 0;
  std::vector<int64_t> appended_token_source_index;
  std::string upstream_error;        // "IndexError" where upstream raises (then expanded = false)
};
// QueryExpansion.run. frames [T,H,W,3] uint8 (indexed by the track's frame numbers).
ExpansionResult ExpandQueries(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                              const Track& track, const torch::Tensor& tracked_tokens, const ExpansionParams& params);
// The same on tokens computed on demand: nothing is computed when upstream returns before reading
// them, and then only the masks that decide the row count and mapping and the REN tokens of the rows
// read (those of frames passing the box-size and blur checks, and the appended ones). Identical
// results: MaxCosine's value for a row depends on that row only, so the rows read get the eager
// overload's bits. Model failures are returned as errors.
Result<ExpansionResult> ExpandQueries(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                                      const Track& track, TrackedTokens& tracked_tokens, const ExpansionParams& params);

}  // namespace vq2d::pipeline
