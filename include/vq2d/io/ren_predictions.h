// REN's per-clip prediction file (docs/eval.md; REN vq_utils.format_predictions + run.Evaluator),
// the pipeline's output format that `vq2d eval --local` and `vq2d submit` read.
//
// Layout: {"version":"1.0.5","challenge":"ego4d_vq2d_challenge","results":{"videos":[{"video_uid",
//   "clips":[{"clip_uid","predictions":[{"query_sets":{"<id>":{"bboxes":[{fno,x1,x2,y1,y2}],"score"},
//   "<id>-gt":{"bboxes":[...],"score":null}}}]}],"frame_height":H,"frame_width":W}]}}
// Boxes are in record pixels (the preprocessed frame, e.g. 512x288): x1 = int(x), x2 = int(x + w),
// y likewise (truncation toward zero), sorted by fno. Queries of a clip are grouped into annotation
// entries by occurrence: the n-th occurrence of a query-set id goes to predictions[n-1]. "<id>-gt"
// is written only when the ground truth's first frame number is not -1 (the test split has no GT).
// Videos and clips are ordered by uid (upstream uses python set order, which is unspecified).
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/io/vq_metrics.h"

namespace vq2d {

struct RenTrackRow {  // [fno, x, y, w, h] in record pixels
  long long fno = 0;
  double x = 0, y = 0, w = 0, h = 0;
};

struct RenQueryOutput {
  std::string video_uid, clip_uid, query_set;
  std::vector<RenTrackRow> predicted;     // may be empty
  double score = 0;
  std::vector<RenTrackRow> ground_truth;  // test split: one row with fno -1
  int frame_height = 0, frame_width = 0;  // record frame size (all queries of a video must agree)
  // The query's visual crop (record pixels) and its frame: REN's Evaluator.run passes it to the
  // metrics (only its area is used, by the 'all' area filter). Not written to the JSON.
  double query_x = 0, query_y = 0, query_w = 0, query_h = 0;
  long long query_frame_number = 0;
};

// The JSON text of format_predictions(...). Errors: "ValueError: ..." when a track is not
// frame-contiguous, "AssertionError: ..." when a video's queries disagree on the frame size,
// "IndexError: ..." when a ground truth is empty.
Result<std::string> FormatRenPredictions(const std::vector<RenQueryOutput>& queries);

// REN's in-pipeline metrics (run.Evaluator.run -> metrics.compute_visual_query_metrics, what
// run.py logs after the last batch): every query is its own "video" (its index), in the order
// given, which must be REN's dataset order: under tied scores the ranking is numpy's unstable
// argsort of the scores in that order. Boxes are BBox(f, x, y, x + w, y + h) on the raw values (no
// int() truncation), the prediction carries `score`, the ground truth is taken as is (the test
// split's [-1, W, H, W, H] row included) and the visual crop comes from query_x..query_h.
// These numbers equal EvaluateRenLocal (eval.py) on the written files only when the file order
// (videos and clips by uid, a clip's queries grouped by query-set occurrence) is the dataset order.
// Errors as ComputeVisualQueryMetrics and EvalTrack::Make (ValueError for a non-contiguous track or
// an empty ground truth).
Result<VqMetrics> ComputeRenRunMetrics(const std::vector<RenQueryOutput>& queries,
                                       const MetricsOptions& options = {});

}  // namespace vq2d
