// Thin adapters from the pipeline's model interfaces (models.h) to the core models: REN
// (vq2d::RenEncoder), DINO ViT-B/8 (vq2d::DinoVisionTransformer) and SAM 2.1 (sam2::ImagePredictor,
// sam2::VideoPredictor). The adapters borrow the models (built and loaded once per rank by the
// caller); c10::Error / cv::Exception become Status. One thread per adapter instance. Each adapter
// adds what it computes to an optional ModelWork (params.h; borrowed, may be shared by the four).
#pragma once

#include <array>

#include "vq2d/base/stage_defaults.h"
#include "vq2d/core/dino_vit.h"
#include "vq2d/core/ren.h"
#include "vq2d/core/sam2_image_predictor.h"
#include "vq2d/core/sam2_video_predictor.h"
#include "vq2d/pipeline/models.h"
#include "vq2d/pipeline/model_work.h"

namespace vq2d::pipeline {

// REN: tokens and points come back to the host as float32 (the pipeline works on CPU tensors).
class RenTokenAdapter : public TokenExtractor {
 public:
  explicit RenTokenAdapter(RenEncoder* ren, ModelWork* work = nullptr) : ren_(ren), work_(work) {}
  Result<RenTokens> Encode(const torch::Tensor& images) override;
  Result<torch::Tensor> GridPoints(int64_t height, int64_t width) override;

 private:
  RenEncoder* ren_;
  ModelWork* work_;
};

// SAM 2 image predictor: masks = logits > 0 at the image size, as CV_8U 0/1. SetImage with the
// same pixels as the image already set reuses its features (upstream re-encodes, e.g. the K identical
// query frames of the SAM-pooled descriptors): identical results, one encoder pass.
class Sam2ImageAdapter : public ImageSegmenter {
 public:
  explicit Sam2ImageAdapter(sam2::ImagePredictor* predictor, ModelWork* work = nullptr) : p_(predictor), work_(work) {}
  Status SetImage(const cv::Mat& rgb) override;
  // One image-encoder pass over every image (sam2::ImagePredictor::SetImageBatch); counted as
  // rgbs.size() encodes.
  Status SetImages(const std::vector<cv::Mat>& rgbs) override;
  Status UseImage(size_t index) override;
  Result<cv::Mat> PredictBox(const std::array<double, 4>& box_xyxy) override;
  Result<std::vector<cv::Mat>> PredictPoint(double x, double y) override;
  int64_t images_encoded() const { return encoded_; }
  int64_t images_reused() const { return reused_; }

 private:
  sam2::ImagePredictor* p_;
  ModelWork* work_;
  cv::Mat last_;  // the pixels whose features the predictor holds
  int64_t encoded_ = 0, reused_ = 0;
};

// DINO features as upstream extract_dino: ToTensor, antialiased bilinear resize to
// (resize_h, resize_w) (384, 512), ImageNet normalisation, last block normed (get_intermediate_layers
// n=1), CLS dropped -> [N, 768, resize_h/8, resize_w/8] float32 on the host. Runs in the model's
// dtype/device.
class DinoFeatureAdapter : public DenseFeatureExtractor {
 public:
  DinoFeatureAdapter(DinoVisionTransformer model, int64_t resize_h = defaults::kDinoInputHeight,
                     int64_t resize_w = defaults::kDinoInputWidth, ModelWork* work = nullptr)
      : model_(std::move(model)), h_(resize_h), w_(resize_w), work_(work) {}
  Result<torch::Tensor> Extract(const torch::Tensor& images) override;

 private:
  DinoVisionTransformer model_;
  int64_t h_, w_;
  ModelWork* work_;
};

// DINOv2 features as upstream extract_dino_v2 (visual_query.feature_extractor 'dinov2'): ToTensor,
// no resize, zero CenterPadding of H and W to multiples of the patch (left = pad // 2), ImageNet
// normalisation, block `block` normed patch tokens (get_intermediate_layers n=[block], reshape) ->
// [N, D, ceil(H/p), ceil(W/p)] float32 on the host. Runs in the model's dtype/device (upstream bf16).
class DinoV2FeatureAdapter : public DenseFeatureExtractor {
 public:
  DinoV2FeatureAdapter(DinoV2VisionTransformer model, int64_t block, ModelWork* work = nullptr)
      : model_(std::move(model)), block_(block), work_(work) {}
  Result<torch::Tensor> Extract(const torch::Tensor& images) override;

 private:
  DinoV2VisionTransformer model_;
  int64_t block_;
  ModelWork* work_;
};

// SAM 2 video predictor: frames preprocessed lazily (1024² bilinear antialiased + ImageNet), one
// box prompt, forward propagation with early stop.
class Sam2VideoAdapter : public VideoTracker {
 public:
  explicit Sam2VideoAdapter(sam2::VideoPredictor* predictor, int64_t image_size = 1024, ModelWork* work = nullptr)
      : p_(predictor), image_size_(image_size), work_(work) {}
  Status Track(const FrameSource& frames, int64_t prompt_index, const std::array<double, 4>& box_xyxy,
               const TrackerFrameCallback& on_frame) override;

 private:
  sam2::VideoPredictor* p_;
  int64_t image_size_;
  ModelWork* work_;
};

}  // namespace vq2d::pipeline
