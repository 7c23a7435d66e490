// SAM 2.1 image predictor (reference SAM2ImagePredictor, mask_threshold 0): set an image once, then
// prompt it with points and/or a box any number of times.
//
// Coordinates are pixels (x, y) of the image given to SetImage. Thread-safety: one thread at a time.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <utility>
#include <vector>

#include "vq2d/core/sam2.h"
#include "vq2d/base/status.h"

namespace vq2d::sam2 {

// uint8 RGB [H,W,3] -> float [1,3,S,S]: /255, bilinear antialiased resize to S×S (aspect not kept,
// align_corners false), ImageNet normalisation. Runs on `rgb`'s device.
torch::Tensor PreprocessImage(const torch::Tensor& rgb, int64_t image_size);

struct ImagePrompt {
  torch::Tensor point_coords;  // [N,2] float pixels (x,y), or undefined
  torch::Tensor point_labels;  // [N] int: 1 positive, 0 negative
  torch::Tensor box;           // [4] or [1,4] float xyxy pixels, or undefined
  torch::Tensor mask_input;    // [1,256,256] low-res logits, or undefined
  bool multimask_output = true;
};

struct ImagePrediction {
  torch::Tensor masks;           // [M,H,W] bool (logits > 0 after bilinear resize to the input size)
  torch::Tensor iou_predictions; // [M] float (sigmoid)
  torch::Tensor low_res_masks;   // [M,256,256] float logits clamped to ±32
};

struct BatchImagePrediction {  // B prompt sets on one image
  torch::Tensor masks;            // [B,M,H,W] bool
  torch::Tensor iou_predictions;  // [B,M]
  torch::Tensor low_res_masks;    // [B,M,256,256]
};

struct ImagePredictorOptions {
  // Postprocessing of the image predictor's SAM2Transforms (0 = off, the REN setting).
  int max_hole_area = 0;
  int max_sprinkle_area = 0;
  // Run under bf16 autocast (upstream REN's CUDA setting); outputs are float32 either way.
  bool bf16 = false;
};

class ImagePredictor {
 public:
  // The model is shared (not copied); it is put in eval mode. Inputs are moved to the model's device.
  explicit ImagePredictor(Sam2Model model, ImagePredictorOptions options = {});

  // rgb: uint8 [H,W,3] RGB. Encodes the image and caches its features.
  Status SetImage(const torch::Tensor& rgb);
  // Same from an already preprocessed [1,3,S,S] tensor plus the original size.
  Status SetPreprocessedImage(const torch::Tensor& image, int64_t orig_h, int64_t orig_w);
  // Images [B] (uint8 [H_i,W_i,3] RGB each, B >= 1) through the image encoder as ONE batch; every
  // image's features are kept and image 0 is the current one. SelectImage(i) makes image i current:
  // prompts then behave as after SetImage(images[i]), with features equal to the unbatched encoder's
  // within float tolerance (a batch is blocked differently; bit-identical is not promised). SetImage
  // drops the batch.
  Status SetImageBatch(const std::vector<torch::Tensor>& rgbs);
  Status SelectImage(int64_t index);
  int64_t batch_size() const { return batch_embed_.defined() ? batch_embed_.size(0) : 0; }

  Result<ImagePrediction> Predict(const ImagePrompt& prompt);
  // Batched prompts: point_coords [B,N,2] / point_labels [B,N] and/or boxes [B,4] (all sets share N).
  Result<BatchImagePrediction> PredictBatch(const torch::Tensor& point_coords, const torch::Tensor& point_labels,
                                            const torch::Tensor& boxes, bool multimask_output);

  bool has_image() const { return image_embed_.defined(); }
  const torch::Tensor& image_embed() const { return image_embed_; }             // [1,d,64,64]
  const std::vector<torch::Tensor>& high_res_feats() const { return high_res_; }  // [1,d/8,256²], [1,d/4,128²]
  const torch::Tensor& preprocessed_image() const { return input_; }

 private:
  Sam2Model model_;
  ImagePredictorOptions options_;
  torch::Device device_;
  torch::Tensor input_, image_embed_;
  std::vector<torch::Tensor> high_res_;
  int64_t orig_h_ = 0, orig_w_ = 0;
  // SetImageBatch: [B,...] features and the original sizes of its images.
  torch::Tensor batch_input_, batch_embed_;
  std::vector<torch::Tensor> batch_high_res_;
  std::vector<std::pair<int64_t, int64_t>> batch_sizes_;
};

// Reference SAM2Transforms.postprocess_masks on low-res logits [B,M,h,w]: optional hole filling
// (background components of logit <= 0 with area <= max_hole_area -> +10) and sprinkle removal
// (foreground components with area <= max_sprinkle_area -> -10), both found on the input logits,
// then bilinear resize (align_corners false) to (out_h, out_w). `before_resize` receives the edited logits.
torch::Tensor PostprocessMasks(const torch::Tensor& logits, int64_t out_h, int64_t out_w, int max_hole_area,
                               int max_sprinkle_area, torch::Tensor* before_resize = nullptr);

// Reference fill_holes_in_mask_scores: every 8-connected component of (logit <= 0) with area <= max_area
// becomes 0.1 (border components included). logits [B,1,h,w] float.
torch::Tensor FillHolesInMaskScores(const torch::Tensor& logits, int max_area);

// Per-pixel area of the 8-connected component containing each true pixel of mask [B,1,h,w] bool
// (0 where false), int32 — the reference get_connected_components areas.
torch::Tensor ConnectedComponentAreas(const torch::Tensor& mask);

}  // namespace vq2d::sam2
