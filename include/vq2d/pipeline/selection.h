// Video encoding and candidate selection (docs/pipeline.md stages 2-3, REN filter), as upstream
// REN.forward's matching filter, VideoEncoder.forward and CandidateSelector.forward.
// Scores are float32 and every comparison is done in float32 (python thresholds rounded first).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/models.h"
#include "vq2d/pipeline/params.h"

namespace vq2d::pipeline {

// ---- REN matching filter -------------------------------------------------------------------
// tokens [Q,D] float32 of one image, matching [K,D] float32. score_q = max_k cos(token_q, m_k)
// (F.normalize eps 1e-12). If every score < threshold keep only the first argmax, else keep the
// scores > threshold (strict). Returns the kept token indices in grid order.
std::vector<int64_t> RenMatchingFilter(const torch::Tensor& tokens, const torch::Tensor& matching, double threshold);

// ---- Video objects ----------------------------------------------------------------------------
// The per-query object set of stage 2 (frame-major; per frame cf=1 tokens then the cf=2 crops).
struct VideoObjects {
  torch::Tensor tokens;     // [N,D] float32
  torch::Tensor points;     // [N,2] float32 (y,x) frame pixels
  torch::Tensor frame_ids;  // [N] int64
  int64_t Size() const { return frame_ids.defined() ? frame_ids.size(0) : 0; }
  // Rows whose frame id >= first_frame (upstream slices from the first row of that frame).
  VideoObjects From(int64_t first_frame) const;
};

// REN tokens of every (frame, crop) of a clip, computed once and shared by the clip's queries
// (only the matching filter is per query). Frames are encoded on demand, in upstream's call order
// (all cf=1 crops of the new frames, then all cf=2 crops), `batch` images per REN call.
// Host memory: Q*D floats per (frame, crop) (e.g. 4 MiB for REN ViT-L); bounded by
// `max_cached_frames` (frames beyond it are encoded per request and not kept). The crops are
// SlidingWindowCrops(frame, cf, ops.sliding_window_overlap, ops.crop_interpolation).
class VideoTokenCache {
 public:
  VideoTokenCache(std::vector<double> frame_cropping_factors, int64_t batch = 16, int64_t max_cached_frames = 1 << 30,
                  const ImageOps& ops = {});
  // Objects of frames [0, end) filtered against `query_tokens` [K,D] at `threshold`.
  // frames: [T,H,W,3] uint8 RGB (T >= end).
  Result<VideoObjects> Objects(const torch::Tensor& frames, int64_t end, const torch::Tensor& query_tokens,
                               double threshold, TokenExtractor& ren);
  int64_t ren_images_encoded() const { return ren_images_; }
  int64_t cached_frames() const { return static_cast<int64_t>(frames_.size()); }

  struct Crop {
    torch::Tensor tokens;  // [Q,D]
    torch::Tensor points;  // [Q,2] crop pixels
    double cf = 1.0;
    int y0 = 0, x0 = 0;
  };
  using FrameCrops = std::vector<Crop>;
  // Encodes frames [begin, end) without caching them.
  Result<std::vector<FrameCrops>> EncodeRange(const torch::Tensor& frames, int64_t begin, int64_t end, TokenExtractor& ren) {
    return Encode(frames, begin, end, ren);
  }
  // Appends the filtered objects of one encoded frame t.
  void FilterFrame(const FrameCrops& fc, int64_t t, const torch::Tensor& query_tokens, double threshold,
                   std::vector<torch::Tensor>* toks, std::vector<torch::Tensor>* pts, std::vector<int64_t>* fids) const;

 private:
  Result<std::vector<FrameCrops>> Encode(const torch::Tensor& frames, int64_t begin, int64_t end, TokenExtractor& ren);
  std::vector<double> cfs_;
  int64_t batch_, max_cached_;
  ImageOps ops_;
  std::vector<FrameCrops> frames_;
  int64_t ren_images_ = 0;
};

// All queries of a clip in one streaming pass (bounded memory: only `chunk_frames` frames of REN
// tokens are alive): query q gets the objects of frames [0, ends[q]) filtered against
// query_tokens[q] — the same objects as EncodeVideo per query, with max(ends) frames encoded once.
// With `ready` set, each chunk [b, e) is read only after ready(b, e) returned OK.
Result<std::vector<VideoObjects>> StreamVideoObjects(const torch::Tensor& frames, const std::vector<int64_t>& ends,
                                                     const std::vector<torch::Tensor>& query_tokens,
                                                     const std::vector<double>& frame_cropping_factors, double threshold,
                                                     TokenExtractor& ren, int64_t chunk_frames = defaults::kVideoChunkFrames,
                                                     int64_t* ren_images = nullptr, const ImageOps& ops = {},
                                                     const FramesReady& ready = {});

// Upstream VideoEncoder without a cache: encode frames [0, end) and filter.
Result<VideoObjects> EncodeVideo(const torch::Tensor& frames, int64_t end, const std::vector<double>& frame_cropping_factors,
                                 const torch::Tensor& query_tokens, double threshold, TokenExtractor& ren,
                                 const ImageOps& ops = {});

// ---- Candidate selection ------------------------------------------------------------------------
struct ScoredList {
  std::vector<float> scores;
  std::vector<int64_t> idxs;  // object indices
};
// Intra-frame NMS (per frame, ascending ids: keep scores >= float32(keep_ratio) * frame max) +
// query-frame suppression (zero entries from the query frame's position backwards while
// score >= float32(suppression); quirk Q3 unless `fix_suppression_index`: then the run
// starts at the last kept entry of the query frame). `upstream_error` is set when upstream would
// have raised (IndexError when the position is past the list).
ScoredList IntraFrameNms(const std::vector<float>& scores, const std::vector<int64_t>& frame_ids,
                         int64_t query_frame_number, bool fix_suppression_index, std::string* upstream_error,
                         double suppression = defaults::kQueryFrameSuppression,
                         double keep_ratio = defaults::kIntraFrameKeepRatio);
// Temporal peak NMS; records sorted by object index.
ScoredList InterFrameNms(ScoredList in, double nms_threshold);
ScoredList TopK(const ScoredList& in, int64_t k);
// thr = min(top_p, max); keep >= thr. Empty input -> empty (upstream RuntimeError).
ScoredList TopP(const ScoredList& in, double top_p);

struct SelectorParams {
  int64_t top_k = defaults::kSelectionTopK;
  double top_p = defaults::kSelectionTopP;
  double nms_threshold = defaults::kNmsThreshold;
  bool fix_suppression_index = false;  // fixes.suppression_frame_index
  double query_frame_suppression = defaults::kQueryFrameSuppression;
  double intra_frame_keep_ratio = defaults::kIntraFrameKeepRatio;
};
struct Selection {
  torch::Tensor object_scores;             // [N] float32 (mask applied)
  std::vector<float> scores;               // selected, temporal order
  std::vector<int64_t> idxs;               // object indices
  std::vector<int64_t> query_match_idxs;   // argmax query of each selected object
  // Non-empty when upstream would have raised here ("RuntimeError": nothing left to select,
  // "TypeError": nms_threshold == 0, "IndexError"); the port then returns an empty or
  // NMS-less selection instead.
  std::string upstream_error;
};
// object_tokens [N,D], query_tokens [K,D] float32; frame_ids [N] int64; attn_mask [N] (or undefined
// = all ones).
Selection SelectCandidates(const torch::Tensor& object_tokens, const torch::Tensor& query_tokens,
                           const torch::Tensor& frame_ids, const torch::Tensor& attn_mask, int64_t query_frame_number,
                           const SelectorParams& params);

// max_k cos(a_i, b_k) and its first argmax (F.normalize + mm, float32). a [N,D], b [K,D].
void MaxCosine(const torch::Tensor& a, const torch::Tensor& b, torch::Tensor* max_out, torch::Tensor* argmax_out);

}  // namespace vq2d::pipeline
