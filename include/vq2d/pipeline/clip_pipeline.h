// ClipPipeline: every query of one clip through the REN VQ2D pipeline (query encoding, video
// encoding with a per-clip token cache, then RunQueryRounds of query_pipeline.h), and
// RunClipQueries, the per-query isolation of queries on which upstream raises.
#pragma once

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
#include "vq2d/pipeline/query_pipeline.h"
#include "vq2d/pipeline/selection.h"

namespace vq2d::pipeline {

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
  // With `ready` set (frames still arriving): each query waits for its visual-crop frame before it
  // is encoded, the video pass for each chunk, the rounds for the whole clip (ClipFrames::ready).
  Result<std::vector<QueryOutcome>> RunQueries(const std::vector<QueryInput>& queries,
                                               int64_t chunk_frames = defaults::kVideoChunkFrames,
                                               const FramesReady& ready = {});
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

// The outcome of a query on which a stage returned StatusCode::kUpstreamRaised: empty track,
// score 0, the reason in upstream_errors.
QueryOutcome UpstreamRaisedOutcome(const Status& status);

// Every query of one clip (frames [T,H,W,3] uint8; each query's frames inside the clip). With
// `share_video_tokens` one shared video pass serves every query (ClipPipeline::RunQueries, chunks
// of `chunk_frames`); if a query raises where upstream raises (kUpstreamRaised), the queries are
// run one by one instead and that query alone gets UpstreamRaisedOutcome. `ready` (frames still
// arriving, ClipFrames::ready): frames are read only as far as it said they are there. Any other error (model
// or device failure, programming error such as InvalidArgument) fails the call.
Result<std::vector<QueryOutcome>> RunClipQueries(const Models& models, const PipelineParams& params,
                                                 const torch::Tensor& frames, const std::vector<QueryInput>& queries,
                                                 bool share_video_tokens, int64_t chunk_frames,
                                                 const FramesReady& ready = {});

}  // namespace vq2d::pipeline
