// Per-query driver of the REN VQ2D pipeline (upstream run.py run() loop body, docs/pipeline.md stages 3-6):
// select -> refine -> track (max, with tokens) -> query expansion -> select -> refine -> keep
// >= track_selection_threshold -> track (last) -> accept iff new > threshold * old.
// ClipPipeline adds query encoding (stage 1) and video encoding (stage 2) with a per-clip token cache.
//
// A query never throws and never takes its clip down: where upstream would raise or produce NaN,
// the documented fallback is taken (docs/pipeline.md) and `upstream_errors` records it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/models.h"
#include "vq2d/pipeline/params.h"
#include "vq2d/pipeline/selection.h"
#include "vq2d/pipeline/tracking.h"

namespace vq2d::pipeline {

// The refinement stage as the rounds call it: refines `selected` (boxes empty, scores = selection
// scores) against `queries` and returns the kept candidates (refined boxes/scores, temporal order).
class CandidateRefinerStage {
 public:
  virtual ~CandidateRefinerStage() = default;
  virtual Result<Candidates> Refine(const torch::Tensor& frames, const Candidates& selected, const QuerySet& queries,
                                    double top_p) = 0;
};

struct QueryOutcome {
  Track track;                 // final track (may be empty)
  double score = 0.0;          // final score (0 when no track)
  bool round2_tracked = false;
  bool round2_accepted = false;
  std::vector<std::string> upstream_errors;  // "<stage>: <python exception>" where upstream raises
  StageStats stats;
};

struct RoundModels {
  CandidateRefinerStage* refiner = nullptr;
  VideoTracker* tracker = nullptr;
  BoxTokenGenerator* tokens = nullptr;
};

// Rounds 1 and 2 for one query given its encoded queries and video objects. frames [T,H,W,3]
// uint8, query_timestep < T. `trace` (optional) receives one JSON record per stage call.
Result<QueryOutcome> RunQueryRounds(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                                    int64_t query_timestep, const RoundModels& models, const PipelineParams& params,
                                    nlohmann::json* trace = nullptr);

// All queries of one clip. Models are borrowed (built once per rank by the caller). The per-clip
// video-token cache (REN tokens of every (frame, crop)) is shared by the clip's queries when
// `use_cache`; without it every query re-encodes its frames as upstream does. Results are identical.
// Thread-safety: one thread per instance.
class ClipPipeline {
 public:
  ClipPipeline(const Models& models, const PipelineParams& params, bool use_cache = true);
  // frames [T,H,W,3] uint8 RGB of the clip (kept by reference-counted tensor, not copied); resets the cache.
  void StartClip(torch::Tensor frames);
  // Never fails on bad model output; errors are returned only for broken inputs/model failures.
  // `tensors` (optional, for debugging) receives the query's intermediates: query_tokens [K,D],
  // object_tokens [N,D], object_points [N,2] (y,x), object_frame_ids [N].
  Result<QueryOutcome> RunQuery(const QueryInput& query, nlohmann::json* trace = nullptr,
                                std::map<std::string, torch::Tensor>* tensors = nullptr);
  // All queries of the clip: queries encoded first, then ONE streaming pass over the frames
  // (chunks of `chunk_frames`) filters every query's objects, so host memory stays bounded by a
  // chunk of REN tokens. Same outcomes as RunQuery per query.
  Result<std::vector<QueryOutcome>> RunQueries(const std::vector<QueryInput>& queries, int64_t chunk_frames = 8);
  int64_t ren_images_encoded_for_video() const;

 private:
  Result<bool> EncodeQuerySet(const QueryInput& q, QuerySet* out, QueryOutcome* outcome);
  Result<QueryOutcome> Rounds(const QueryInput& q, const QuerySet& queries, const VideoObjects& objects,
                              QueryOutcome pre, nlohmann::json* trace);
  Models models_;
  PipelineParams params_;
  bool use_cache_;
  torch::Tensor frames_;
  std::unique_ptr<VideoTokenCache> cache_;
  int64_t uncached_ren_images_ = 0;
};

}  // namespace vq2d::pipeline
