#include "vq2d/io/prepare_math.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "vq2d/base/check.h"

namespace vq2d::io {

Result<std::vector<double>> ClipFrameTimes(double video_start_sec, double video_end_sec, double clip_fps) {
  if (!(clip_fps > 0) || !std::isfinite(clip_fps)) {
    return Status::InvalidArgument(StrCat("clip_fps must be a positive number, got ", clip_fps));
  }
  if (!std::isfinite(video_start_sec) || !std::isfinite(video_end_sec)) {
    return Status::InvalidArgument(StrCat("video_start_sec/video_end_sec must be finite, got ", video_start_sec,
                                          " / ", video_end_sec));
  }
  const double start = video_start_sec > 0.0 ? video_start_sec : 0.0;  // python max(0.0, start)
  const double step = 1.0 / clip_fps;
  const double len_f = std::ceil((video_end_sec - start) / step);
  if (!(len_f > 0)) {
    return Status::InvalidArgument(StrCat("the clip span [", start, ", ", video_end_sec,
                                          ") holds no frame time (upstream: ValueError on an empty frame list)"));
  }
  if (len_f > 1e7) return Status::InvalidArgument(StrCat("the clip span gives ", len_f, " frame times (> 1e7)"));
  const int64_t n = static_cast<int64_t>(len_f);
  std::vector<double> t(n);
  t[0] = start;
  if (n > 1) {
    const double delta = (start + step) - start;  // numpy's fill uses buffer[1] - buffer[0]
    t[1] = start + step;
    for (int64_t i = 2; i < n; ++i) t[i] = start + static_cast<double>(i) * delta;
  }
  // np.unique: sorted, duplicates removed.
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

std::string SeekTimecode(double t) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3f", t);
  return buf;
}

int64_t SeekMillis(double t) {
  const std::string s = SeekTimecode(t);
  const bool neg = !s.empty() && s[0] == '-';
  int64_t v = 0;
  for (char c : s) {
    if (c >= '0' && c <= '9') v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

namespace {
// Python round() on a float: half to even.
double PyRound(double x) { return std::nearbyint(x); }  // default FE_TONEAREST = half to even
}  // namespace

std::array<int, 2> GetSizeForResize(int w, int h, int shorter_size_trg, int longer_size_max) {
  int size = shorter_size_trg;
  if (std::min(w, h) <= size) return {w, h};
  const double mn = static_cast<double>(std::min(w, h));
  const double mx = static_cast<double>(std::max(w, h));
  if (mx / mn * size > longer_size_max) size = static_cast<int>(PyRound(longer_size_max * mn / mx));
  if ((w <= h && w == size) || (h <= w && h == size)) return {w, h};
  if (w < h) return {size, static_cast<int>(static_cast<double>(size) * h / w)};
  return {static_cast<int>(static_cast<double>(size) * w / h), size};
}

BlackBarDetector::BlackBarDetector(int width, int height, int threshold, double max_perc_to_trim)
    : w_(width), h_(height), thr_(threshold), perc_(max_perc_to_trim), row_(height, 0), col_(width, 0),
      first_row_(height), last_row_(-1), first_col_(width), last_col_(-1) {
  VQ2D_CHECK(width >= 1 && height >= 1);
}

void BlackBarDetector::Add(const uint8_t* data, int64_t stride) {
  const int thr = thr_;
  for (int y = 0; y < h_; ++y) {
    const uint8_t* p = data + y * stride;
    bool any = false;
    for (int x = 0; x < w_; ++x, p += 3) {
      if (p[0] >= thr || p[1] >= thr || p[2] >= thr) {
        col_[x] = 1;
        any = true;
      }
    }
    if (any) row_[y] = 1;
  }
  first_row_ = h_; last_row_ = -1; first_col_ = w_; last_col_ = -1;
  for (int y = 0; y < h_; ++y)
    if (row_[y]) { first_row_ = std::min(first_row_, y); last_row_ = y; }
  for (int x = 0; x < w_; ++x)
    if (col_[x]) { first_col_ = std::min(first_col_, x); last_col_ = x; }
}

TrimBox BlackBarDetector::Box() const {
  int fr = first_row_, lr = last_row_, fc = first_col_, lc = last_col_;
  if (lr < 0) fr = lr = h_ / 2;
  if (lc < 0) fc = lc = w_ / 2;
  TrimBox b;
  b.y1 = std::min(fr, static_cast<int>(h_ * perc_));
  b.y2 = std::max(lr + 1, static_cast<int>(h_ * (1 - perc_)));
  b.x1 = std::min(fc, static_cast<int>(w_ * perc_));
  b.x2 = std::max(lc + 1, static_cast<int>(w_ * (1 - perc_)));
  return b;
}

bool BlackBarDetector::Final() const {
  const TrimBox b = Box();
  return b.x1 == 0 && b.y1 == 0 && b.x2 == w_ && b.y2 == h_ && last_row_ >= 0 && last_col_ >= 0;
}

std::array<int64_t, 2> PySlice(int64_t start, int64_t stop, int64_t n) {
  auto norm = [n](int64_t i) {
    if (i < 0) i += n;
    if (i < 0) i = 0;
    if (i > n) i = n;
    return i;
  };
  const int64_t b = norm(start), e = norm(stop);
  return {b, std::max(b, e)};
}

namespace {

// int(v) of Python, saturated at +-limit pixels: a coordinate that far outside any frame slices the
// same (empty or clamped) region, and sums of a few such values stay far from int64's limits; a
// cast of a double beyond int64 (an annotation x of 1e300) would be undefined behaviour. Positions
// saturate at 2^40 and sizes at 2^41, so that x + w keeps Python's sign when a huge size meets a
// huge position (x = -1e20, w = 1e30 still covers the frame).
int64_t RecordPixel(double v, double limit) {
  if (!(v > -limit)) return -static_cast<int64_t>(limit);  // also -inf (and NaN: not from JSON)
  if (!(v < limit)) return static_cast<int64_t>(limit);
  return static_cast<int64_t>(v);
}
constexpr double kPositionLimit = 1099511627776.0;  // 2^40
constexpr double kSizeLimit = 2199023255552.0;      // 2^41
int64_t Position(double v) { return RecordPixel(v, kPositionLimit); }
int64_t Size(double v) { return RecordPixel(v, kSizeLimit); }

}  // namespace

std::array<int64_t, 4> MapBoxToRecord(double x, double y, double w, double h, int original_width,
                                      int original_height, const RecordGeometry& g, bool apply_trim_offset) {
  const double ow = original_width, oh = original_height;
  if (!apply_trim_offset) {
    return {Position((x / ow) * g.width), Position((y / oh) * g.height), Size((w / ow) * g.width),
            Size((h / oh) * g.height)};
  }
  const double sx = static_cast<double>(g.width) / g.trim.width();
  const double sy = static_cast<double>(g.height) / g.trim.height();
  return {Position(((x / ow) * g.decoded_width - g.trim.x1) * sx), Position(((y / oh) * g.decoded_height - g.trim.y1) * sy),
          Size((w / ow) * g.decoded_width * sx), Size((h / oh) * g.decoded_height * sy)};
}

}  // namespace vq2d::io
