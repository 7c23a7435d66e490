// The official Ego4D VQ2D evaluator (EGO4D/episodic-memory VQ2D/evaluate_vq.py; docs/eval.md)
// and REN's local evaluation (savya08/REN visual_query/eval.py; docs/eval.md), on JSON files.
//
// Official mode: predictions in the eval.ai layout (docs/eval.md) are validated against the
// annotation file exactly as validate_model_predictions does (same rules, same order: the first
// failing rule is reported), converted in annotation order (videos -> clips -> annotations ->
// query-set keys in JSON text order, valid sets only; predictions are matched by position) and
// scored with ComputeVisualQueryMetrics (vq_metrics.h). Boxes are in the annotation's pixel space
// (original_width x original_height); GT boxes become x2 = x + width, y2 = y + height.
//
// Error messages start with the Python exception upstream raises in the same situation
// ("AssertionError: ", "KeyError: ", "ValueError: ", "ZeroDivisionError: ", "TypeError: "), then name
// the file, the JSON path / query and what was expected.
//
// REN-local mode: REN's own per-clip prediction files carry the GT as "<id>-gt" entries (already in
// REN's record pixels: int(x/original_width*W) truncation, no black-bar offset); every key without
// "-gt" is a prediction, the visual crop is the dummy BBox(-1,-1,-1,-1,-1), queries are taken in file
// order. Reproduces the numbers in REN's logs, which are NOT official numbers.
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/vq_metrics.h"

namespace vq2d {

// Identifies one evaluated query in the input files.
struct EvalQueryRef {
  std::string video_uid;
  std::optional<std::string> clip_uid;
  size_t annotation_index = 0;  // position in the clip's annotations / predictions list
  std::string query_set;        // "1", "2", ...
};

struct EvaluationResult {
  bool ren_local = false;              // true: REN-local mode (REN key names and order)
  std::vector<EvalQueryRef> refs;      // one per converted valid query, conversion order
  std::vector<EvalScore> scores;       // the score of each converted query
  VqMetrics metrics;                   // per_query[k].input_index indexes refs / scores
};

// Validation + conversion only: the metric inputs in annotation order (refs[i] names queries[i]).
struct ConvertedPredictions {
  std::vector<EvalQuery> queries;
  std::vector<EvalQueryRef> refs;
};
Result<ConvertedPredictions> ConvertPredictions(std::string_view predictions_json, const std::string& predictions_source,
                                                const AnnotationFile& annotations);

// evaluate_vq.evaluate(gt, pred): validation + conversion + metrics.
Result<EvaluationResult> EvaluatePredictions(std::string_view predictions_json, const std::string& predictions_source,
                                             const AnnotationFile& annotations, const MetricsOptions& options = {});

// Only validate_model_predictions (OK or the first failing rule).
Status ValidatePredictions(std::string_view predictions_json, const std::string& predictions_source,
                           const AnnotationFile& annotations);

// REN eval.py Evaluator.run on a collated REN prediction JSON.
Result<EvaluationResult> EvaluateRenLocal(std::string_view collated_json, const std::string& source,
                                          const MetricsOptions& options = {});

// REN eval.py Evaluator.collate on a directory of per-clip files "<run_id>-<clip_uid>.json": files
// sorted by the integer before the first '-' (ties by name); the first file is the base and every
// later file contributes its results.videos[0]. Returns the collated JSON text.
Result<std::string> CollateRenPredictionDir(const std::string& dir);

// The text evaluate_vq.py prints after "Starting Evaluation.....":
//   Evaluating VQ2D performance / ---- / all / ---- / "tAP                  |      0.375" ...
// (nothing after the header when no query passed the area filter).
std::string FormatOfficialReport(const EvaluationResult& result);
// REN eval.py's log lines: "Area range: all" then "  <key> \t-\t <value:.4f>" per metric.
std::string FormatRenLocalReport(const EvaluationResult& result);
// All metrics as JSON: official_metrics / ren_metrics dict, reported, per-threshold values,
// n_queries, score_dtype, sort_order_desc.
std::string MetricsToJson(const EvaluationResult& result);
// One CSV row per evaluated query: index,video_uid,clip_uid,annotation_index,query_set,score,rank,
// tiou,stiou,recovered_frames@0.50,gt_frames,success@0.05.
std::string PerQueryCsv(const EvaluationResult& result);

}  // namespace vq2d
