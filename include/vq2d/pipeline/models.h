// Model interfaces the VQ2D stages call. Real implementations are thin adapters over the core
// models (REN / DINO ViT-B/8 / SAM 2.1); tests replay recorded outputs through test doubles.
// Images are uint8 RGB: torch [N,H,W,3] (CPU, contiguous) or cv::Mat CV_8UC3 (H rows, W cols).
// Masks are cv::Mat CV_8UC1 0/1 at the image's size. Boxes given to SAM are xyxy pixels of the
// image. Thread-safety: one thread per instance (stateful predictors).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "vq2d/base/status.h"

namespace vq2d::pipeline {

// REN tokens of a batch of equally sized images (no matching filter: the pipeline filters).
struct RenTokens {
  torch::Tensor tokens;  // [N,Q,D] float32, CPU, grid order (y outer, x inner), not normalised
  torch::Tensor points;  // [Q,2] float32 (y,x) in pixels of the input images (translate_point)
};
class TokenExtractor {
 public:
  virtual ~TokenExtractor() = default;
  // images [N,H,W,3] uint8 RGB (N >= 1).
  virtual Result<RenTokens> Encode(const torch::Tensor& images) = 0;
  // The `points` Encode returns for images of height x width, without encoding any.
  virtual Result<torch::Tensor> GridPoints(int64_t height, int64_t width) = 0;
};

// SAM 2 image predictor. The caller passes the image exactly as SAM must see it (the pipeline
// blurs it with SamBlur(sam_blur_kernel) first: GaussianBlur 3x3, as upstream does).
class ImageSegmenter {
 public:
  virtual ~ImageSegmenter() = default;
  virtual Status SetImage(const cv::Mat& rgb) = 0;
  // Several images at once (the crops of a tracked frame through the image encoder as one batch),
  // then UseImage(i) before prompting image i: prompts behave as after SetImage(rgbs[i]). The
  // default keeps the images and calls SetImage in UseImage (unbatched; test doubles); the SAM 2
  // adapter encodes them in one pass (equal within float tolerance, not bit-identical).
  virtual Status SetImages(const std::vector<cv::Mat>& rgbs) {
    pending_ = rgbs;
    return Status::OK();
  }
  virtual Status UseImage(size_t index) {
    if (index >= pending_.size()) return Status::Internal("ImageSegmenter::UseImage: no such image of SetImages");
    return SetImage(pending_[index]);
  }
  // Box prompt, multimask_output=False: one mask (logits > 0).
  virtual Result<cv::Mat> PredictBox(const std::array<double, 4>& box_xyxy) = 0;
  // One positive point (x, y), multimask_output=True: the 3 masks in SAM's order.
  virtual Result<std::vector<cv::Mat>> PredictPoint(double x, double y) = 0;

 private:
  std::vector<cv::Mat> pending_;  // the default SetImages
};

// Dense patch features (DINO ViT-B/8, normed last block without CLS, as a map).
class DenseFeatureExtractor {
 public:
  virtual ~DenseFeatureExtractor() = default;
  // images [N,H,W,3] uint8 RGB -> [N,C,h,w] float32 CPU (upstream: C=768, 48x64 for 384x512 input).
  virtual Result<torch::Tensor> Extract(const torch::Tensor& images) = 0;
};

// Frames supplied on demand (no whole-window copy): get(i) returns [H,W,3] uint8 RGB.
struct FrameSource {
  int64_t num_frames = 0;
  int64_t height = 0, width = 0;
  std::function<torch::Tensor(int64_t)> get;
};

// SAM 2 video predictor for one object: prompt frame `prompt_index` of `frames` with a box, then
// propagate forward (increasing index) to the end. `on_frame(index, mask, object_score_logit)`
// receives each yielded frame's mask (logits > 0 at video resolution, CV_8U 0/1) and SAM 2's object
// score logit for it (> 0: object present; for diagnostics), starting with the prompt frame; when
// it returns false the propagation stops (no further frames are computed).
using TrackerFrameCallback = std::function<bool(int64_t index, const cv::Mat& mask, float object_score_logit)>;
class VideoTracker {
 public:
  virtual ~VideoTracker() = default;
  virtual Status Track(const FrameSource& frames, int64_t prompt_index, const std::array<double, 4>& box_xyxy,
                       const TrackerFrameCallback& on_frame) = 0;
};

// The models one pipeline instance uses (not owned).
struct Models {
  TokenExtractor* ren = nullptr;
  ImageSegmenter* sam = nullptr;
  DenseFeatureExtractor* features = nullptr;
  VideoTracker* tracker = nullptr;
};

}  // namespace vq2d::pipeline
