// Per-query driver of the REN VQ2D pipeline (upstream run.py run() loop body, docs/pipeline.md stages 3-6):
// select -> refine -> track (max, with tokens) -> query expansion -> select -> refine -> keep
// >= track_selection_threshold -> track (last) -> accept iff new > threshold * old.
// ClipPipeline (clip_pipeline.h) adds query encoding (stage 1) and video encoding (stage 2) with a
// per-clip token cache.
//
// A query never throws and never takes its clip down: where upstream would raise or produce NaN,
// the documented fallback is taken (docs/pipeline.md) and `upstream_errors` records it.
#pragma once

#include <array>
#include <cstdint>
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

}  // namespace vq2d::pipeline
