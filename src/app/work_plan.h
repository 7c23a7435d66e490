// `vq2d plan`: the model work a split implies, from its annotations (and the clip records when they
// exist: frame count and size), before it is submitted; with a calibration (written by `vq2d bench
// pipeline --calibration-out`) the seconds, GPU-hours and the wall time on N GPUs under the runner's
// LPT plan.
//
// Counts per valid query with query frame qf (record frames T, sliding windows per frame S =
// sum over visual_query.frame_cropping_factors of the windows SlidingWindowStarts gives, n =
// |query_cropping_factors|, k = selection_top_k, h = tracking_half_window, L = min(qf+1, 2h-1) the
// longest track, P = min(qf+2, 2h) the most SAM 2 steps of one track (forward + backward pass)):
//   query stage         REN n (exact), SAM 2 up to n
//   video stage         REN S*qf per query; shared pass: S*max qf per clip (exact)
//   refine round 1      c1 in [1, k] candidates: REN 8*c1, SAM 2 2+2*c1, descriptor images 2+2*c1
//   track round 1       SAM 2 steps up to P
//   tracked tokens      SAM 2 and REN up to n*L (computed on demand: often only the first frame's masks)
//   round 2             K queries in [1, 1+n*L], c2 in [0, k]: REN 8*c2, SAM 2 and descriptors
//                       2K+2*c2, steps up to P
// The upper bounds take every maximum; the lower bounds are the query stage and the video pass alone
// (a query whose candidates all lose their SAM masks refines and tracks nothing). Where a run falls
// between them is what a calibration measures.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/config.h"
#include "vq2d/pipeline/params.h"
#include "vq2d/runner/planner.h"

namespace vq2d::app {

struct Bounds {
  double lo = 0, hi = 0;
  Bounds& operator+=(const Bounds& o) {
    lo += o.lo, hi += o.hi;
    return *this;
  }
};

// The model work of one clip (or a sum over clips).
struct WorkCounts {
  int64_t clips = 0, queries = 0, frames_read = 0;
  int64_t ren_video_shared = 0, ren_video_per_query = 0;  // video-stage REN images, exact
  Bounds ren_images;    // every stage, with the shared video pass
  Bounds sam2_encodes;  // SAM 2 image-encoder passes
  Bounds track_steps;   // SAM 2 video-predictor frames
  Bounds dino_images;   // descriptor-backbone images
  WorkCounts& operator+=(const WorkCounts& o);
};

// Geometry of a clip: frames and size from its record, or unknown (-1) without one.
struct ClipGeometry {
  int64_t num_frames = -1;
  int height = -1, width = -1;
};

// Work of one clip's valid query sets. Without the record's size the sliding windows per frame are
// those of a frame with the factor's aspect preserved (sum of floor(cf)^2).
WorkCounts CountClipWork(const io::Clip& clip, const ClipGeometry& geometry, const pipeline::PipelineParams& params);

// Per-unit seconds and where between the bounds a real run's counts fall, measured by `vq2d bench
// pipeline --calibration-out` on some clips (schema "vq2d.calibration/1").
struct Calibration {
  std::string device, precision, models, source;
  double ren_image_s = 0, sam2_encode_s = 0, track_step_s = 0, dino_image_s = 0;
  double read_s_per_frame = 0;  // record read
  double other_fraction = 0;    // clip wall time not in models or reads, as a fraction of the model time
  double load_s = 0;            // building + loading the models once per rank
  // Observed position between the bounds: (run - lo) / (hi - lo), per unit, in [0, 1].
  double f_ren = 0, f_sam2 = 0, f_track = 0, f_dino = 0;
  nlohmann::json ToJson() const;
  static Result<Calibration> FromJson(const nlohmann::json& j, const std::string& source_name);
};

// Measured work of a set of clips (done-record stats: stats.frames, stats.model_work.*, wall_s).
struct MeasuredClip {
  WorkCounts predicted;  // CountClipWork of the clip
  double wall_s = 0, read_s = 0;
  double ren_images = 0, ren_s = 0, sam2_encodes = 0, sam2_s = 0, track_steps = 0, track_s = 0, dino_images = 0,
         dino_s = 0;
};
Calibration Calibrate(const std::vector<MeasuredClip>& clips, double load_s);

// Expected counts (lo + f * (hi - lo)) and seconds of a clip under a calibration.
struct ClipEstimate {
  double ren_images = 0, sam2_encodes = 0, track_steps = 0, dino_images = 0;
  double seconds = 0, seconds_lo = 0, seconds_hi = 0;
};
ClipEstimate EstimateClip(const WorkCounts& w, const Calibration& c);

// Every clip of the split's work list (the runner's, in its order) with its work; the geometry from
// the clip's record when it exists.
struct PlannedClip {
  runner::WorkItem item;
  WorkCounts work;
  bool has_record = false;
};
Result<std::vector<PlannedClip>> PlanSplit(const io::Config& config, const std::string& split);

}  // namespace vq2d::app
