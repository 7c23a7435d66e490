// Internal: the official validate_model_predictions on a parsed predictions JSON, and the one parser
// of a query-set prediction {"bboxes": [...], "score": s} that eval, eval --local and submit share
// (src/io only).
#pragma once

#include <string>

#include "io/json_util.h"
#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/vq_metrics.h"

namespace vq2d {

// evaluate_vq.validate_model_predictions: OK or the first failing rule, as an "AssertionError: ..." /
// "KeyError: ..." / "AttributeError: ..." message naming `src` and the JSON path.
Status ValidatePredictionsJson(const io_internal::OJson& pred, const std::string& src, const AnnotationFile& gt);

// ResponseTrack.from_json + the score as eval reads them: "bboxes" an array of objects with
// fno (integral), x1, y1, x2, y2 (numbers), frame-contiguous; "score" a number or null (kNull).
// Errors name `where` (file, JSON path / clip, query set) and the field.
struct QueryPrediction {
  EvalTrack track;
  EvalScore score;
};
Result<QueryPrediction> ParseQueryPrediction(const io_internal::OJson& q, const std::string& where);

// What eval needs beyond validate_model_predictions (run after it passed): every valid query set's
// prediction parses with ParseQueryPrediction and has a non-null score (eval's pred.has_score()).
Status ValidatePredictionContents(const io_internal::OJson& pred, const std::string& src, const AnnotationFile& gt);

}  // namespace vq2d
