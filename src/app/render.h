// Pictures of one query of a clip record, shared by `vq2d render` (mp4 + contact sheet) and
// `vq2d report` (thumbnail strips). Colours: ground truth green, prediction red, query frame yellow.
// Boxes are in record pixels (the prepared frames). Not thread-safe (one painter per thread).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "vq2d/io/clip_output.h"
#include "vq2d/io/record.h"

namespace vq2d::app {

struct RenderBox {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // record pixels, corners
};
struct RenderPrediction {
  bool found = false;
  double score = 0;
  std::map<int, RenderBox> boxes;  // by frame number
};

// The prediction for (record's clip, annotation index, query set) in a predictions file: a run's
// per-clip output (vq2d.clip_output/1, record pixels), an upstream per-clip file (frame_width /
// frame_height present, record pixels) or the merged / submission file (original pixels, rescaled
// here). found = false when the file has none.
Result<RenderPrediction> LoadRenderPrediction(const std::string& path, const io::ClipRecord& rec, size_t ann_index,
                                              const io::QuerySet& q);
// The same from a parsed clip output.
RenderPrediction PredictionFromClipOutput(const io::ClipOutput& out, int ann_index, const std::string& query_set);

// A caption and its picture (BGR, CV_8UC3).
struct Tile {
  std::string caption;
  cv::Mat image;
};

class QueryPainter {
 public:
  // `rec` and `q` are borrowed and must outlive the painter. `frames` (optional, borrowed) holds all
  // of the record's frames; without it each drawn frame is read from the record.
  static Result<QueryPainter> Make(const io::ClipRecord& rec, const io::QuerySet& q, RenderPrediction pred,
                                   const io::FrameBuffer* frames = nullptr);

  // Frame t (0 <= t < num_frames) drawn `scale` times the record size, with boxes, a header line
  // (frame, query frame, score) and a timeline below; `inset` adds the visual crop in the bottom-left
  // corner. Labels keep a readable size at any scale.
  Result<cv::Mat> Frame(int t, double scale, bool inset) const;
  // The visual crop centred on a w x h tile (empty Mat when the record has no crop for the query).
  cv::Mat VisualCrop(int w, int h) const;
  // Frame numbers of the response track / the predicted track, ascending.
  std::vector<int> GtFrames() const;
  std::vector<int> PredFrames() const;
  // The query frame clamped into the record, and whether it had to be clamped.
  int QueryFrameInRecord() const;
  // What the colours mean; says where the ground truth is drawn (upstream's box mapping unless the
  // record was prepared with fixes.apply_trim_offset).
  std::string Legend() const;

  const io::ClipRecord& record() const { return *rec_; }
  const io::QuerySet& query() const { return *q_; }
  const RenderPrediction& prediction() const { return pred_; }

 private:
  QueryPainter() = default;
  const io::ClipRecord* rec_ = nullptr;
  const io::QuerySet* q_ = nullptr;
  const io::FrameBuffer* frames_ = nullptr;
  RenderPrediction pred_;
  std::map<int, std::array<int64_t, 4>> gt_;  // record pixels x, y, w, h by frame
  cv::Mat crop_;                              // visual crop, BGR, record pixels
};

// Tiles of `tile_w` x `tile_h` (each image scaled to fit, a caption band above it) on a grid of
// `cols` columns, with the legend as a band below when not empty.
cv::Mat ContactSheet(const std::vector<Tile>& tiles, int cols, int tile_w, int tile_h, const std::string& legend);

// PNG-encodes `image` and writes it atomically.
Status WritePng(const std::string& path, const cv::Mat& image);

}  // namespace vq2d::app
