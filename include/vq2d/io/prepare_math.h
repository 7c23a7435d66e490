// Upstream REN preprocessing arithmetic (savya08/REN@e2204c5 visual_query/prepare.py,
// prepare_utils.py, dataloader.py), reproduced exactly: clip frame times, the ffmpeg "-ss" timecode
// each time becomes, black-bar trimming bounds, the resize target size, and the int()-truncated
// mapping of annotation boxes into record pixels. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::io {

// numpy.unique(numpy.arange(max(0.0, start_sec), end_sec, 1.0 / clip_fps)) with numpy's float64
// semantics: n = ceil((stop - start) / step); value i = start + i * ((start + step) - start).
// InvalidArgument when clip_fps is not a positive finite number or the list would be empty (upstream
// then fails with a ValueError) or absurdly long (> 10 million).
Result<std::vector<double>> ClipFrameTimes(double video_start_sec, double video_end_sec, double clip_fps);

// The timecode upstream passes to "ffmpeg -ss": "{:.3f}".format(t), as integer milliseconds
// (correctly rounded decimal of the binary value, as Python and glibc printf do).
int64_t SeekMillis(double t);
std::string SeekTimecode(double t);  // the same as text, e.g. "1215.033"

// get_size_for_resize((w, h), shorter_size_trg, longer_size_max): the (width, height) frames are
// resized to. Python round() is half-to-even.
std::array<int, 2> GetSizeForResize(int w, int h, int shorter_size_trg = 288, int longer_size_max = 512);

// Black-bar trim box in decoded-frame pixels: rows [y1, y2), columns [x1, x2).
struct TrimBox {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int width() const { return x2 - x1; }
  int height() const { return y2 - y1; }
  bool operator==(const TrimBox& o) const { return x1 == o.x1 && y1 == o.y1 && x2 == o.x2 && y2 == o.y2; }
};

// Accumulates detect_black_bars_from_video(frames, threshold, max_perc_to_trim) over frames added one
// at a time: a row (column) has content when any pixel of any channel in any frame is >= threshold.
class BlackBarDetector {
 public:
  BlackBarDetector(int width, int height, int threshold = 32, double max_perc_to_trim = 0.2);
  // frame: height rows of width RGB pixels, row r at data + r * stride.
  void Add(const uint8_t* data, int64_t stride);
  // The bounds for the frames added so far (no content: the middle row/column, as upstream).
  TrimBox Box() const;
  // True when no further frame can change Box() (the box already spans the whole frame).
  bool Final() const;

 private:
  int w_, h_, thr_;
  double perc_;
  std::vector<uint8_t> row_, col_;
  int first_row_, last_row_, first_col_, last_col_;
};

// Python/numpy slice [start:stop] on an axis of length n, step 1: returns the clamped [begin, end)
// (end >= begin; negative indices count from the end, as numpy does).
std::array<int64_t, 2> PySlice(int64_t start, int64_t stop, int64_t n);

// Geometry that maps annotation boxes (pixels of original_width x original_height) to record pixels.
struct RecordGeometry {
  int decoded_width = 0, decoded_height = 0;  // frames as decoded from the video
  TrimBox trim;                                // black-bar crop, decoded pixels
  int width = 0, height = 0;                   // record frames (after trim and resize)
};

// Upstream mapping (dataloader.py / prepare.py): int((x / original_width) * W) etc., truncation
// toward zero, no trim offset (upstream quirk Q5, docs/pipeline.md). With apply_trim_offset (the
// fixes.apply_trim_offset switch) the box is first scaled to decoded pixels, shifted by the trim
// origin and scaled by the resize factor: int(((x / ow) * decoded_w - trim.x1) * W / trim.width()).
// Returns {x, y, w, h} in record pixels; x, y saturate at +-2^40 and w, h at +-2^41 (a box that far
// outside the frame slices the same pixels; no out-of-range cast). original_width/height must be > 0.
std::array<int64_t, 4> MapBoxToRecord(double x, double y, double w, double h, int original_width,
                                      int original_height, const RecordGeometry& g, bool apply_trim_offset);

}  // namespace vq2d::io
