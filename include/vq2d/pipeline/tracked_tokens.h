// The round-1 tracked-object tokens of a track (TrackPrediction get_tokens: generate_token_from_bbox
// on the query_cropping_factors crops of every tracked frame, concatenated) computed on demand:
// a frame's crops are cut and its SAM 2 box masks computed only when the row count, the row -> crop
// mapping or upstream's error check needs them, and its REN tokens only when one of its rows is read.
// The rows, their order and values, and the upstream errors are those of AssembleCropTokens over
// every frame (the eager path). With TrackingParams::batch_frames, the frames one Gather needs are
// encoded by one CropTokenRowsOfFrames call (equal within float tolerance, not bit-identical).
//
// Borrows `frames` ([T,H,W,3] uint8) and the generator, which must outlive the object.
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "vq2d/pipeline/geometry.h"

#include "vq2d/pipeline/tracking.h"

namespace vq2d::pipeline {

class TrackedTokens {
 public:
  // `generator` must SupportsOnDemand(); BeginTrack() is called here. The crop windows of every
  // frame are computed here (cheap arithmetic), so a degenerate crop fails now, as in the eager path
  // (InvalidArgument where upstream raises).
  static Result<std::shared_ptr<TrackedTokens>> Create(const torch::Tensor& frames, Track track,
                                                       BoxTokenGenerator* generator, const TrackingParams& params);

  // AssembleCropTokens' error over the whole track: "" (rows exist and one holds a token),
  // "RuntimeError" (no row) or "TypeError" (no token). Scans the masks frame by frame up to the first
  // crop with a token.
  Result<std::string> UpstreamError();
  // Rows of the assembled tensor (0 when UpstreamError() is not empty).
  Result<int64_t> Rows();
  // Rows `idx` (each in [0, Rows())) as [n,D] float32; rows without a token are zeros (D = `dim`
  // when no REN token has been computed yet).
  Result<torch::Tensor> Gather(const std::vector<int64_t>& idx, int64_t dim);
  // Every row: what AssembleCropTokens returns for the eager parts ([M,D], or [0,D] on error).
  Result<torch::Tensor> All();

  const Track& track() const { return track_; }
  int64_t frames_masked() const;   // frames whose SAM masks were computed
  int64_t frames_encoded() const;  // frames whose REN tokens were computed

 private:
  TrackedTokens(const torch::Tensor& frames, Track track, BoxTokenGenerator* generator, const TrackingParams& params);
  struct Frame {
    std::vector<CropWindow> windows;
    torch::Tensor crops;  // [N,H,W,3] uint8, cut on first use
    std::vector<std::array<double, 4>> boxes;
    std::optional<CropSelection> sel;
    torch::Tensor rows;  // [N,D] float32 once encoded
  };
  Status Cut(size_t f);
  Status Select(size_t f);
  Status Encode(size_t f);
  // Encode of several frames through one CropTokenRowsOfFrames call (TrackingParams::batch_frames).
  Status EncodeFrames(const std::vector<size_t>& frames);
  // (frame, crop) of row r; needs the masks of every frame before it without alignment.
  Result<std::pair<size_t, size_t>> Locate(int64_t r);

  torch::Tensor frames_;
  Track track_;
  BoxTokenGenerator* gen_;
  TrackingParams params_;
  std::vector<Frame> f_;
  std::optional<std::string> error_;
  std::vector<int64_t> row_start_;  // without alignment: first row of each frame (all masks known)
  int64_t dim_ = 0;                 // token width once known
};

}  // namespace vq2d::pipeline
