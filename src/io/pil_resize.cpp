#include "vq2d/io/pil_resize.h"

#include <cmath>
#include <cstring>

#include "vq2d/base/check.h"

namespace vq2d::io {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS for 8-bit images

double BicubicFilter(double x) {  // Keys cubic, a = -0.5, support 2
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

inline uint8_t Clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

}  // namespace

PilBicubicResizer::Pass PilBicubicResizer::MakePass(int in_size, int out_size) {
  Pass p;
  const double in0 = 0.0, in1 = in_size;
  const double scale = (in1 - in0) / out_size;
  double filterscale = scale;
  if (filterscale < 1.0) filterscale = 1.0;
  const double support = 2.0 * filterscale;
  p.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  p.bounds.assign(static_cast<size_t>(out_size) * 2, 0);
  p.coeffs.assign(static_cast<size_t>(out_size) * p.ksize, 0);
  std::vector<double> k(p.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);  // truncation toward zero, as in C
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    int x = 0;
    for (; x < xmax; ++x) {
      const double w = BicubicFilter((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (x = 0; x < xmax; ++x) {
      if (ww != 0.0) k[x] /= ww;
    }
    for (; x < p.ksize; ++x) k[x] = 0;
    for (x = 0; x < p.ksize; ++x) {
      const double v = k[x] * (1 << kPrecisionBits);
      p.coeffs[static_cast<size_t>(xx) * p.ksize + x] =
          static_cast<int32_t>(k[x] < 0 ? -0.5 + v : 0.5 + v);
    }
    p.bounds[xx * 2] = xmin;
    p.bounds[xx * 2 + 1] = xmax;
  }
  return p;
}

PilBicubicResizer::PilBicubicResizer(int src_w, int src_h, int dst_w, int dst_h)
    : src_w_(src_w), src_h_(src_h), dst_w_(dst_w), dst_h_(dst_h) {
  VQ2D_CHECK(src_w >= 1 && src_h >= 1 && dst_w >= 1 && dst_h >= 1)
      << "bad resize " << src_w << "x" << src_h << " -> " << dst_w << "x" << dst_h;
  need_h_ = dst_w != src_w;
  need_v_ = dst_h != src_h;
  h_ = MakePass(src_w, dst_w);
  v_ = MakePass(src_h, dst_h);
}

void PilBicubicResizer::Resize(const uint8_t* src, int64_t src_stride, uint8_t* dst) const {
  const int64_t dst_stride = static_cast<int64_t>(dst_w_) * 3;
  if (!need_h_ && !need_v_) {
    for (int y = 0; y < src_h_; ++y) std::memcpy(dst + y * dst_stride, src + y * src_stride, dst_stride);
    return;
  }
  // Rows of the source that the vertical pass reads.
  const int ybox_first = need_v_ ? v_.bounds[0] : 0;
  const int ybox_last = need_v_ ? v_.bounds[dst_h_ * 2 - 2] + v_.bounds[dst_h_ * 2 - 1] : src_h_;
  const int tmp_rows = ybox_last - ybox_first;

  std::vector<uint8_t> tmp;
  const uint8_t* vsrc = src;  // input of the vertical pass
  int64_t vsrc_stride = src_stride;
  int row_offset = 0;  // source row index of vsrc's row 0
  if (need_h_) {
    tmp.resize(static_cast<size_t>(tmp_rows) * dst_stride);
    uint8_t* out_rows = need_v_ ? tmp.data() : dst;
    const int rows = need_v_ ? tmp_rows : src_h_;
    const int first = need_v_ ? ybox_first : 0;
    const int ks = h_.ksize;
    for (int yy = 0; yy < rows; ++yy) {
      const uint8_t* in = src + static_cast<int64_t>(yy + first) * src_stride;
      uint8_t* out = out_rows + yy * dst_stride;
      for (int xx = 0; xx < dst_w_; ++xx) {
        const int xmin = h_.bounds[xx * 2], xn = h_.bounds[xx * 2 + 1];
        const int32_t* k = &h_.coeffs[static_cast<size_t>(xx) * ks];
        int32_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
        const uint8_t* p = in + xmin * 3;
        for (int x = 0; x < xn; ++x, p += 3) {
          s0 += p[0] * k[x];
          s1 += p[1] * k[x];
          s2 += p[2] * k[x];
        }
        out[xx * 3 + 0] = Clip8(s0);
        out[xx * 3 + 1] = Clip8(s1);
        out[xx * 3 + 2] = Clip8(s2);
      }
    }
    if (!need_v_) return;
    vsrc = tmp.data();
    vsrc_stride = dst_stride;
    row_offset = ybox_first;
  }
  // Vertical pass over vsrc (width = dst_w_ if the horizontal pass ran, else src_w_ == dst_w_).
  const int ks = v_.ksize;
  const int width3 = dst_w_ * 3;
  std::vector<int32_t> acc(width3);
  for (int yy = 0; yy < dst_h_; ++yy) {
    const int ymin = v_.bounds[yy * 2] - row_offset, yn = v_.bounds[yy * 2 + 1];
    const int32_t* k = &v_.coeffs[static_cast<size_t>(yy) * ks];
    std::fill(acc.begin(), acc.end(), 1 << (kPrecisionBits - 1));
    for (int y = 0; y < yn; ++y) {
      const uint8_t* row = vsrc + static_cast<int64_t>(ymin + y) * vsrc_stride;
      const int32_t c = k[y];
      for (int i = 0; i < width3; ++i) acc[i] += row[i] * c;
    }
    uint8_t* out = dst + yy * dst_stride;
    for (int i = 0; i < width3; ++i) out[i] = Clip8(acc[i]);
  }
}

void PilBicubicResize(const uint8_t* src, int src_w, int src_h, int dst_w, int dst_h,
                      std::vector<uint8_t>* dst) {
  PilBicubicResizer r(src_w, src_h, dst_w, dst_h);
  dst->resize(static_cast<size_t>(dst_w) * dst_h * 3);
  r.Resize(src, static_cast<int64_t>(src_w) * 3, dst->data());
}

}  // namespace vq2d::io
