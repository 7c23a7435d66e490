// Geometry helpers of the VQ2D pipeline (docs/pipeline.md, Geometry helpers), reproducing upstream
// savya08/REN@e2204c5 visual_query/vq_utils.py bit for bit, including the float32/float64
// arithmetic that depends on whether the caller passed python ints or torch tensors.
//
// Images are cv::Mat CV_8UC3 RGB (H rows, W cols); masks are cv::Mat CV_8UC1 holding 0/1.
// Boxes are [x, y, w, h] in pixels of the image they refer to. Points are (y, x).
// All functions are pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/params.h"

namespace vq2d::pipeline {

// Image-processing constants of the stages (PipelineParams keys; defaults = upstream's hard-coded
// values, docs/pipeline.md Constants).
struct ImageOps {
  CropInterpolation crop_interpolation = CropInterpolation::kLanczos4;  // every crop's cv::resize
  int sam_blur_kernel = 3;            // GaussianBlur k x k (sigma 0) before SAM image calls; odd, 1 = none
  int token_distance_mask_size = 5;   // cv::distanceTransform maskSize: 3, 5 or 0 (DIST_MASK_PRECISE)
  double sliding_window_overlap = 0.0;  // video crops: stride int(crop * (1 - overlap))
};
ImageOps ImageOpsOf(const PipelineParams& params);
// The cv::InterpolationFlags value of `interpolation`.
int CvInterpolation(CropInterpolation interpolation);

// How upstream's caller typed the box and the cropping factor (selects the arithmetic):
//  kPyInt            python int box, python float cf (QueryEncoder): float64, box rounded to float32.
//  kTensorInt64      int64 tensor box (mask_to_bbox), python float cf: mixed float32 math.
//  kTensorInt64CfF32 int64 tensor box, cf = get_cropping_factor(...) (float64 tensor).
enum class BoxContext { kPyInt, kTensorInt64, kTensorInt64CfF32 };

// Result of the crop_using_bbox geometry (no pixels).
struct CropWindow {
  int left = 0, top = 0, right = 0, bottom = 0;  // slice [top:bottom, left:right], end exclusive
  double scale_x = 1.0, scale_y = 1.0;           // image size / crop size
  std::array<double, 4> box{};                   // box in crop pixels (values of `box_dtype`)
  bool box_is_float64 = false;                   // torch dtype of upstream's updated box
};

// crop_using_bbox geometry. `cf` is the requested cropping factor (for kTensorInt64CfF32 the
// float64 value returned by GetCroppingFactor). Errors where upstream raises
// (ZeroDivisionError for a zero-size box with kPyInt, a degenerate crop).
Result<CropWindow> CropWindowForBox(int W, int H, const std::array<int64_t, 4>& box, double cf,
                                    BoxContext context);
// Cuts `window` out of `image` and resizes it back to the image size (upstream INTER_LANCZOS4).
cv::Mat CutAndResize(const cv::Mat& image, const CropWindow& window,
                     CropInterpolation interpolation = CropInterpolation::kLanczos4);

// get_cropping_factor(box, (W,H), margin, max_cf): clip(min(W/(bw*m), H/(bh*m)), 1, max_cf).
// kPyInt: float64, error on a zero-size box; tensor contexts: float32 quotients (inf for 0).
Result<double> GetCroppingFactor(const std::array<int64_t, 4>& box, int W, int H, double margin,
                                 double max_cf, BoxContext context);

// sliding_window_cropping (upstream called with overlap 0): crop size (ch, cw) = (int(H/cf),
// int(W/cf)), strides (int(ch*(1-overlap)), int(cw*(1-overlap))) in float64 (a stride below 1,
// where python's range raises ValueError, is taken as 1), starts y in [0, H-ch], x in [0, W-cw],
// row-major (y, x); each crop resized to (W, H) with `interpolation` (upstream Lanczos4).
struct SlidingCrop {
  int y = 0, x = 0;
  cv::Mat image;
};
std::vector<SlidingCrop> SlidingWindowCrops(const cv::Mat& image, double cf, double overlap = 0.0,
                                            CropInterpolation interpolation = CropInterpolation::kLanczos4);
// Only the crop starts / size (no pixels).
std::vector<std::array<int, 2>> SlidingWindowStarts(int H, int W, double cf, int* crop_h, int* crop_w,
                                                    double overlap = 0.0);

// REN prompt grid: `linspace(1, 516, n, dtype=int)` (y outer, x inner), n*n rows of (gy, gx).
std::vector<std::array<int64_t, 2>> RenGridPoints(int n = 32);
// translate_point: (float32(gy) * float32(H/518), float32(gx) * float32(W/518)).
std::array<float, 2> TranslatePoint(const std::array<int64_t, 2>& grid_yx, int H, int W);

// mask_to_bbox: pixels == 1 -> [xmin, ymin, xmax-xmin, ymax-ymin] (no +1). Error when empty
// (upstream ValueError).
Result<std::array<int64_t, 4>> MaskToBox(const cv::Mat& mask);
// refine_mask: largest 8-connected component (lowest label on equal areas) as CV_8U 0/1;
// all zeros for an empty mask.
cv::Mat RefineMask(const cv::Mat& mask);
// cv2.GaussianBlur(img, (3,3), 0).
cv::Mat GaussianBlur3(const cv::Mat& image);
// cv2.GaussianBlur(img, (k,k), 0) for odd k >= 3; a copy of `image` for k <= 1 (no blur).
cv::Mat SamBlur(const cv::Mat& image, int kernel);

// is_blurry: variance of the 3x3 Laplacian (CV_64F) of the grey image, blurry iff var < threshold.
// Upstream converts the RGB image with COLOR_BGR2GRAY (upstream quirk Q4, docs/pipeline.md); `rgb_gray_fix` uses
// COLOR_RGB2GRAY instead.
struct BlurResult {
  double laplacian_var = 0.0;
  bool blurry = false;
};
BlurResult IsBlurry(const cv::Mat& image_rgb, double threshold = 100.0, bool rgb_gray_fix = false);

// Token choice of generate_token_from_bbox for one crop: among the points (y, x) (float32,
// indexed as mask[int(y), int(x)]) inside the refined mask, the one with the largest L2 distance
// transform value (strict >, first wins ties). Returns -1 when no point lies inside.
// `mask_size` is the distanceTransform maskSize (upstream 5; 3; 0 = precise).
int ChooseTokenByDistance(const cv::Mat& refined_mask, const float* points_yx, int64_t n_points, int mask_size = 5);
// The distance transform used above (cv2.distanceTransform(mask, DIST_L2, mask_size)), CV_32F.
cv::Mat DistanceTransformL2(const cv::Mat& mask, int mask_size = 5);

// Python/torch floor division of the exact operands (CPython float_floor_div), in T precision.
template <typename T>
T PyFloorDiv(T a, T b);

}  // namespace vq2d::pipeline
