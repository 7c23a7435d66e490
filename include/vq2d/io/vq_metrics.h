// The VQ2D metric core, computed exactly as the official Ego4D code does
// (EGO4D/episodic-memory VQ2D/vq2d/metrics/*, docs/eval.md), on already-converted tracks.
// evaluate.h builds the inputs from prediction / annotation files.
//
// Conventions (all as upstream): boxes are corners x1,y1,x2,y2 in one pixel space; areas are
// (x2-x1)*(y2-y1) with no +1 and no clamping (a box with x2 < x1 has a negative area); frames are
// inclusive in the temporal IoU; a track is sorted by fno (stable) and must be frame-contiguous
// (length == last fno - first fno + 1; duplicated fnos can pass); in per-frame look-ups the last box
// of a duplicated fno wins. Ranking uses numpy<=1.24 argsort of the scores, reversed (numpy_compat.h).
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

struct EvalBox {
  long long fno = 0;
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double Area() const { return (x2 - x1) * (y2 - y1); }
};

// A response track (ResponseTrack in structures.py).
struct EvalTrack {
  std::vector<EvalBox> boxes;  // sorted by fno (stable)
  long long t_start = 0, t_end = -1;  // empty track: (0, -1)
  // Sorts the boxes (stable, by fno) and checks contiguity. Error message as upstream:
  // "ValueError: ====> ResponseTrack: BBoxes not contiguous" plus `what`.
  static Result<EvalTrack> Make(std::vector<EvalBox> boxes, const std::string& what);
  double Volume() const;  // sum of areas in sorted order, duplicates included
  size_t length() const { return boxes.size(); }
};

// A prediction score as the pandas "score" column holds it: null, a JSON integer or a float.
// If every score of the evaluated set is an integer the column is int64, else float64.
struct EvalScore {
  enum Kind { kNull, kInt, kFloat } kind = kNull;
  long long i = 0;
  double d = 0;
  static EvalScore Int(long long v) { EvalScore s; s.kind = kInt; s.i = v; s.d = static_cast<double>(v); return s; }
  static EvalScore Float(double v) { EvalScore s; s.kind = kFloat; s.d = v; return s; }
};

// One valid query: one prediction (exactly one per query, as evaluate_vq.py builds it) and its GT.
struct EvalQuery {
  std::string label;   // names the query in messages / per-query output
  EvalTrack pred;
  EvalScore score;
  EvalTrack gt;
  EvalBox visual_crop;
};

struct MetricsOptions {
  // Upstream raises ZeroDivisionError when an IoU denominator is exactly 0 (e.g. a zero-area GT box
  // and a zero-area predicted box on the same frame). Default false = replicate (error). True =
  // define that IoU as 0 (a fix, off by default).
  bool zero_division_iou_zero = false;
};

inline constexpr std::array<double, 4> kApThresholds = {0.25, 0.5, 0.75, 0.95};
inline constexpr std::array<double, 3> kRecoveryThresholds = {0.5, 0.75, 0.95};
inline constexpr std::array<double, 3> kSuccessThresholds = {0.05, 0.1, 0.2};

struct QueryMetrics {
  size_t input_index = 0;   // index into the EvalQuery vector
  double tiou = 0, stiou = 0;
  std::array<long long, 3> recovered_frames{};  // #GT fnos with per-frame IoU >= kRecoveryThresholds
  long long gt_frames = 0;  // GT track length
  long long rank = 0;       // 0-based position in the descending score order
};

struct VqMetrics {
  // False when the official 'all' pairing selected no query (upstream then prints no table).
  bool has_metrics = false;
  size_t n_queries = 0;  // queries inside the area filter
  std::array<double, 4> tap{}, stap{};  // per kApThresholds
  double tap_mean = 0, stap_mean = 0;
  std::array<double, 3> recovery{};     // per kRecoveryThresholds, in %
  std::array<double, 3> success{};      // per kSuccessThresholds, in %
  std::string score_dtype;              // "float64" or "int64"
  std::vector<int64_t> sort_order_desc;  // argsort(scores)[::-1], indices into the filtered list
  std::vector<QueryMetrics> per_query;   // filtered queries, input order

  // The dict of compute_visual_query_metrics()["all"] in upstream key order, keys padded with
  // '{:<30s} {:<15s}'. ren_style: REN metrics.py keys and order (Spatio-temporal AP first).
  std::vector<std::pair<std::string, double>> MetricDict(bool ren_style = false) const;
};

// compute_visual_query_metrics with the 'all' pairing (area range [0, 1e10) for the visual-crop area
// and the max GT box area). Errors reproduce upstream exceptions: "ValueError: ..." (empty GT track),
// "AssertionError: ..." (null score), "ZeroDivisionError: ..." (see MetricsOptions), each naming the
// query label.
Result<VqMetrics> ComputeVisualQueryMetrics(const std::vector<EvalQuery>& queries,
                                            const MetricsOptions& options = {});

// IoU helpers (exposed for tests). Temporal IoU of inclusive frame segments.
double SegmentIou(long long ps, long long pe, long long gs, long long ge);

}  // namespace vq2d
