// ClipOutput: the per-clip result file the runner checkpoints (clips/<aa>/<clip>.json) and
// `vq2d merge` turns into the official predictions file.
//
// Boxes are in RECORD pixels (the prepared frames, frame_width x frame_height, e.g. 512x288), corner
// format, as upstream REN writes them. original_width/height are the canonical video's size, used to
// rescale into the official format exactly as upstream submit.py does: int(x / frame_width * original_width).
//
// JSON (schema "vq2d.clip_output/1"):
//   {"schema": "vq2d.clip_output/1", "clip_uid": str, "video_uid": str,
//    "frame_width": int, "frame_height": int, "original_width": int, "original_height": int,
//    "queries": [{"annotation_index": int, "query_set": str, "score": float,
//                 "bboxes": [{"fno": int, "x1": num, "y1": num, "x2": num, "y2": num}, ...]}, ...],
//    "extra": {...}}   // optional, free-form (per-query diagnostics)
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::io {

struct PredictedBox {
  int fno = 0;  // 0-based clip frame index
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

struct QueryPrediction {
  int annotation_index = 0;  // index of the annotation within the clip (annotation file order)
  std::string query_set;     // query-set id ("1", "2", ...)
  double score = 0;
  std::vector<PredictedBox> bboxes;  // contiguous frames, ascending
};

struct ClipOutput {
  std::string clip_uid, video_uid;
  int frame_width = 0, frame_height = 0;
  int original_width = 0, original_height = 0;
  std::vector<QueryPrediction> queries;
  nlohmann::json extra = nlohmann::json::object();
};

std::string SerializeClipOutput(const ClipOutput& out);
// Errors name `source_name` and the offending key.
Result<ClipOutput> ParseClipOutput(const std::string& text, const std::string& source_name);

// Upstream's rescale of a record-pixel coordinate into original pixels (int truncation toward 0).
// Precondition (CHECKed): the result is within int range, as ParseClipOutput guarantees for the
// boxes it returns.
int RescaleToOriginal(double v, int record_size, int original_size);

}  // namespace vq2d::io
