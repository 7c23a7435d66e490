// `vq2d report`: one static HTML page about a finished or partial run (docs/runner.md, "vq2d report").
// This header holds the parts with rules of their own, so tests can pin them down.
#pragma once

#include <string>

#include "vq2d/io/vq_metrics.h"

namespace vq2d::app {

// What happened to one evaluated query (definitions in docs/runner.md, "Failure categories").
// Checked in this order; the first that applies wins.
enum class QueryCategory {
  kSuccess,         // st-IoU >= 0.05 (the official success threshold, kSuccessThresholds[0])
  kNoCandidate,     // the predicted track is empty: no candidate survived selection and refinement
  kWrongCandidate,  // a track, but on no frame of the ground-truth response track
  kTrackTooShort,   // overlaps the response track on fewer than half of its frames
  kBoxOff,          // overlaps at least half of the response-track frames, the boxes still miss
};

// `pred` and `gt` in one pixel space (as ConvertPredictions gives them); `stiou` the query's st-IoU.
QueryCategory CategorizeQuery(const io::EvalTrack& pred, const io::EvalTrack& gt, double stiou);
// "success", "no candidate above threshold", "wrong candidate", "track too short", "box off".
const char* QueryCategoryName(QueryCategory c);

// Text made safe for HTML element content and attribute values.
std::string HtmlEscape(const std::string& s);

}  // namespace vq2d::app
