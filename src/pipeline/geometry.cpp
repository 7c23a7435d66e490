#include "vq2d/pipeline/geometry.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "pynum.h"

namespace vq2d::pipeline {

using pynum::K;
using pynum::Num;

ImageOps ImageOpsOf(const PipelineParams& p) {
  ImageOps o;
  o.crop_interpolation = p.crop_interpolation;
  o.sam_blur_kernel = static_cast<int>(p.sam_blur_kernel);
  o.token_distance_mask_size = static_cast<int>(p.token_distance_mask_size);
  o.sliding_window_overlap = p.sliding_window_overlap;
  return o;
}

int CvInterpolation(CropInterpolation interpolation) {
  switch (interpolation) {
    case CropInterpolation::kLanczos4: return cv::INTER_LANCZOS4;
    case CropInterpolation::kCubic: return cv::INTER_CUBIC;
    case CropInterpolation::kLinear: return cv::INTER_LINEAR;
    case CropInterpolation::kArea: return cv::INTER_AREA;
    case CropInterpolation::kNearest: return cv::INTER_NEAREST;
  }
  return cv::INTER_LANCZOS4;
}

template <typename T>
T PyFloorDiv(T a, T b) {
  if (b == T(0)) return a / b;
  const T mod = std::fmod(a, b);
  T div = (a - mod) / b;
  if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
  T floordiv;
  if (div != T(0)) {
    floordiv = std::floor(div);
    if (div - floordiv > T(0.5)) floordiv += T(1);
  } else {
    floordiv = std::copysign(T(0), a / b);
  }
  return floordiv;
}
template float PyFloorDiv<float>(float, float);
template double PyFloorDiv<double>(double, double);

Result<CropWindow> CropWindowForBox(int W, int H, const std::array<int64_t, 4>& box, double cf,
                                    BoxContext context) {
  const K bk = context == BoxContext::kPyInt ? K::kPyInt : K::kI64;
  const K ck = context == BoxContext::kTensorInt64CfF32 ? K::kF64 : K::kPyFloat;
  const Num bx{static_cast<double>(box[0]), bk}, by{static_cast<double>(box[1]), bk};
  const Num bw{static_cast<double>(box[2]), bk}, bh{static_cast<double>(box[3]), bk};
  const Num w{static_cast<double>(W), K::kPyInt}, h{static_cast<double>(H), K::kPyInt};
  const Num two{2, K::kPyInt}, zero{0, K::kPyInt};
  if (context == BoxContext::kPyInt && (box[2] == 0 || box[3] == 0)) {
    return Status::UpstreamRaised(StrCat("crop_using_bbox: zero-size box [", box[0], ",", box[1], ",",
                                         box[2], ",", box[3], "] (upstream ZeroDivisionError)"));
  }
  const Num cx = pynum::Add(bx, pynum::FloorDiv(bw, two));
  const Num cy = pynum::Add(by, pynum::FloorDiv(bh, two));
  const Num c = pynum::Min({Num{cf, ck}, pynum::Div(w, bw), pynum::Div(h, bh)});
  const Num nw = pynum::FloorDiv(w, c);
  const Num nh = pynum::FloorDiv(h, c);
  if (!(nw.v > 0) || !(nh.v > 0) || !std::isfinite(nw.v) || !std::isfinite(nh.v)) {
    return Status::UpstreamRaised(StrCat("crop_using_bbox: degenerate crop ", nw.v, "x", nh.v, " of ", W, "x", H));
  }
  CropWindow out;
  int64_t left = pynum::Trunc(pynum::Max({zero, pynum::Sub(cx, pynum::FloorDiv(nw, two))}));
  left = pynum::Trunc(pynum::Min({Num{static_cast<double>(left), K::kPyInt}, pynum::Sub(w, nw)}));
  int64_t top = pynum::Trunc(pynum::Max({zero, pynum::Sub(cy, pynum::FloorDiv(nh, two))}));
  top = pynum::Trunc(pynum::Min({Num{static_cast<double>(top), K::kPyInt}, pynum::Sub(h, nh)}));
  const Num l{static_cast<double>(left), K::kPyInt}, t{static_cast<double>(top), K::kPyInt};
  out.left = static_cast<int>(left);
  out.top = static_cast<int>(top);
  out.right = static_cast<int>(pynum::Trunc(pynum::Add(l, nw)));
  out.bottom = static_cast<int>(pynum::Trunc(pynum::Add(t, nh)));
  const Num sx = pynum::Div(w, nw), sy = pynum::Div(h, nh);
  out.scale_x = sx.v;
  out.scale_y = sy.v;
  const Num vals[4] = {pynum::Mul(pynum::Max({zero, pynum::Sub(bx, l)}), sx),
                       pynum::Mul(pynum::Max({zero, pynum::Sub(by, t)}), sy),
                       pynum::Mul(pynum::Min({bw, nw}), sx), pynum::Mul(pynum::Min({bh, nh}), sy)};
  // torch.tensor([...]) infers float64 only when a float64 tensor is among the elements.
  out.box_is_float64 = std::any_of(std::begin(vals), std::end(vals), [](const Num& n) { return n.k == K::kF64; });
  for (int i = 0; i < 4; ++i) {
    out.box[i] = out.box_is_float64 ? vals[i].v : static_cast<double>(static_cast<float>(vals[i].v));
  }
  return out;
}

cv::Mat CutAndResize(const cv::Mat& image, const CropWindow& window, CropInterpolation interpolation) {
  const int x0 = std::clamp(window.left, 0, image.cols), x1 = std::clamp(window.right, x0, image.cols);
  const int y0 = std::clamp(window.top, 0, image.rows), y1 = std::clamp(window.bottom, y0, image.rows);
  cv::Mat out;
  if (x1 <= x0 || y1 <= y0) return cv::Mat::zeros(image.size(), image.type());
  cv::resize(image(cv::Rect(x0, y0, x1 - x0, y1 - y0)), out, image.size(), 0, 0, CvInterpolation(interpolation));
  return out;
}

Result<double> GetCroppingFactor(const std::array<int64_t, 4>& box, int W, int H, double margin,
                                 double max_cf, BoxContext context) {
  double c;
  if (context == BoxContext::kPyInt) {
    if (box[2] == 0 || box[3] == 0) {
      return Status::UpstreamRaised(StrCat("get_cropping_factor: zero-size box (upstream ZeroDivisionError)"));
    }
    const double a = W / (static_cast<double>(box[2]) * margin);
    const double b = H / (static_cast<double>(box[3]) * margin);
    c = b < a ? b : a;
  } else {
    const float m = static_cast<float>(margin);
    // python int / float32 tensor is reciprocal(tensor) * int in torch.
    const float a = (1.0f / (static_cast<float>(box[2]) * m)) * static_cast<float>(W);
    const float b = (1.0f / (static_cast<float>(box[3]) * m)) * static_cast<float>(H);
    c = static_cast<double>(b < a ? b : a);
  }
  if (std::isnan(c)) return Status::UpstreamRaised("get_cropping_factor: NaN");
  return std::min(std::max(c, 1.0), max_cf);
}

std::vector<std::array<int, 2>> SlidingWindowStarts(int H, int W, double cf, int* crop_h, int* crop_w,
                                                    double overlap) {
  const int ch = static_cast<int>(H / cf), cw = static_cast<int>(W / cf);
  if (crop_h) *crop_h = ch;
  if (crop_w) *crop_w = cw;
  std::vector<std::array<int, 2>> starts;
  if (ch <= 0 || cw <= 0) return starts;
  // python: int(crop * (1 - overlap)) in float64 (truncation); range() would raise for a 0 step.
  const int sy = std::max(1, static_cast<int>(ch * (1.0 - overlap)));
  const int sx = std::max(1, static_cast<int>(cw * (1.0 - overlap)));
  for (int y = 0; y < H - ch + 1; y += sy)
    for (int x = 0; x < W - cw + 1; x += sx) starts.push_back({y, x});
  return starts;
}

std::vector<SlidingCrop> SlidingWindowCrops(const cv::Mat& image, double cf, double overlap,
                                            CropInterpolation interpolation) {
  int ch = 0, cw = 0;
  std::vector<SlidingCrop> out;
  for (const auto& s : SlidingWindowStarts(image.rows, image.cols, cf, &ch, &cw, overlap)) {
    SlidingCrop c;
    c.y = s[0];
    c.x = s[1];
    cv::resize(image(cv::Rect(s[1], s[0], cw, ch)), c.image, image.size(), 0, 0, CvInterpolation(interpolation));
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::array<int64_t, 2>> RenGridPoints(int n) {
  // torch.linspace(1, 516, n, dtype=int64): float step, symmetric fill, truncation.
  std::vector<int64_t> v(n);
  const double start = 1, end = 516;
  const double step = n > 1 ? (end - start) / (n - 1) : 0.0;
  const int half = n / 2;
  for (int i = 0; i < n; ++i) {
    v[i] = i < half ? static_cast<int64_t>(start + step * i) : static_cast<int64_t>(end - step * (n - i - 1));
  }
  std::vector<std::array<int64_t, 2>> g;
  g.reserve(static_cast<size_t>(n) * n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) g.push_back({v[y], v[x]});
  return g;
}

std::array<float, 2> TranslatePoint(const std::array<int64_t, 2>& grid_yx, int H, int W) {
  const float sy = static_cast<float>(H / 518.0), sx = static_cast<float>(W / 518.0);
  return {static_cast<float>(grid_yx[0]) * sy, static_cast<float>(grid_yx[1]) * sx};
}

Result<std::array<int64_t, 4>> MaskToBox(const cv::Mat& mask) {
  int xmin = INT32_MAX, ymin = INT32_MAX, xmax = -1, ymax = -1;
  for (int y = 0; y < mask.rows; ++y) {
    const uint8_t* row = mask.ptr<uint8_t>(y);
    for (int x = 0; x < mask.cols; ++x) {
      if (row[x] == 1) {
        xmin = std::min(xmin, x);
        xmax = std::max(xmax, x);
        ymin = std::min(ymin, y);
        ymax = std::max(ymax, y);
      }
    }
  }
  if (xmax < 0) return Status::UpstreamRaised("mask_to_bbox: empty mask (upstream ValueError)");
  return std::array<int64_t, 4>{xmin, ymin, xmax - xmin, ymax - ymin};
}

cv::Mat RefineMask(const cv::Mat& mask) {
  cv::Mat m8;
  mask.convertTo(m8, CV_8U);
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(m8, labels, stats, centroids, 8);
  cv::Mat out = cv::Mat::zeros(mask.size(), CV_8U);
  if (n <= 1) return out;
  int best = 1;
  for (int l = 2; l < n; ++l)
    if (stats.at<int>(l, cv::CC_STAT_AREA) > stats.at<int>(best, cv::CC_STAT_AREA)) best = l;
  out.setTo(1, labels == best);
  return out;
}

cv::Mat GaussianBlur3(const cv::Mat& image) { return SamBlur(image, 3); }

cv::Mat SamBlur(const cv::Mat& image, int kernel) {
  if (kernel <= 1) return image.clone();
  cv::Mat out;
  cv::GaussianBlur(image, out, cv::Size(kernel, kernel), 0);
  return out;
}

BlurResult IsBlurry(const cv::Mat& image_rgb, double threshold, bool rgb_gray_fix) {
  cv::Mat gray, lap;
  cv::cvtColor(image_rgb, gray, rgb_gray_fix ? cv::COLOR_RGB2GRAY : cv::COLOR_BGR2GRAY);
  cv::Laplacian(gray, lap, CV_64F);
  const double n = static_cast<double>(lap.total());
  double sum = 0.0;
  for (int y = 0; y < lap.rows; ++y) {
    const double* r = lap.ptr<double>(y);
    for (int x = 0; x < lap.cols; ++x) sum += r[x];
  }
  const double mean = sum / n;
  double ss = 0.0;
  for (int y = 0; y < lap.rows; ++y) {
    const double* r = lap.ptr<double>(y);
    for (int x = 0; x < lap.cols; ++x) ss += (r[x] - mean) * (r[x] - mean);
  }
  BlurResult b;
  b.laplacian_var = ss / n;
  b.blurry = b.laplacian_var < threshold;
  return b;
}

cv::Mat DistanceTransformL2(const cv::Mat& mask, int mask_size) {
  cv::Mat m8, dist;
  mask.convertTo(m8, CV_8U);
  cv::distanceTransform(m8, dist, cv::DIST_L2, mask_size);
  return dist;
}

int ChooseTokenByDistance(const cv::Mat& refined_mask, const float* points_yx, int64_t n_points, int mask_size) {
  const cv::Mat dist = DistanceTransformL2(refined_mask, mask_size);
  int best = -1;
  float best_d = 0.f;
  for (int64_t i = 0; i < n_points; ++i) {
    const int y = static_cast<int>(points_yx[2 * i]), x = static_cast<int>(points_yx[2 * i + 1]);
    if (y < 0 || x < 0 || y >= refined_mask.rows || x >= refined_mask.cols) continue;
    if (!refined_mask.at<uint8_t>(y, x)) continue;
    const float d = dist.at<float>(y, x);
    if (best < 0 || d > best_d) {
      best = static_cast<int>(i);
      best_d = d;
    }
  }
  return best;
}

}  // namespace vq2d::pipeline
