// Candidate refinement (docs/pipeline.md stage 4): upstream CandidateRefiner with get_sam_pooled_tokens,
// point_to_bbox and upsample_feature (vq_utils.py).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/models.h"
#include "vq2d/pipeline/query_pipeline.h"

namespace vq2d::pipeline {

// upsample_feature: bilinear (align_corners=False) to (ceil(h/p)*p, ceil(w/p)*p), then torchvision
// CenterCrop to (new_h, new_w) (offset round_half_even((padded - new)/2)). features [N,C,h,w]
// float32 -> [N,C,new_h,new_w].
torch::Tensor UpsampleFeature(const torch::Tensor& features, int64_t new_h, int64_t new_w, int64_t patch_size);

// Mean of features [C,H,W] over the pixels of mask (CV_8U 0/1) -> [C]; NaN for an empty mask
// (upstream), see MaskPooledOrNaN callers for the defined fallback.
torch::Tensor MaskPooled(const torch::Tensor& features, const cv::Mat& mask);

// get_sam_pooled_tokens: chunks of `chunk` images (upstream 8); per chunk SAM box masks (image
// blurred with SamBlur(sam_blur_kernel), box [x,y,x+w,y+h], refine_mask) then one dense-feature
// call, upsample, mask-average. images [B,H,W,3] uint8, boxes xywh. Returns [B,C]; rows of empty
// masks are NaN (counted in *n_nan).
Result<torch::Tensor> SamPooledTokens(const torch::Tensor& images, const std::vector<std::array<double, 4>>& boxes_xywh,
                                      ImageSegmenter& sam, DenseFeatureExtractor& features, int64_t patch_size,
                                      int64_t chunk = 8, int64_t* n_nan = nullptr, int sam_blur_kernel = 3);

// point_to_bbox: SAM point prompt (x, y) on the image blurred with SamBlur(sam_blur_kernel) (3
// masks, each refine_mask'ed), dense
// features of the image, mask-pooled descriptor per mask, similarity = max_k cos(desc, query_k);
// the chosen mask is python's `sims.index(max(sims))`. Upstream raises (ValueError) when the chosen
// mask is empty (an empty FIRST mask wins with NaN); the port then takes the first maximum among the
// non-empty masks, and returns nullopt when all three are empty. *upstream_error is set in both cases.
Result<std::optional<std::array<int64_t, 4>>> PointToBox(const torch::Tensor& image, const std::array<float, 2>& point_yx,
                                                         const torch::Tensor& query_tokens, ImageSegmenter& sam,
                                                         DenseFeatureExtractor& features, int64_t patch_size,
                                                         std::vector<double>* similarities = nullptr,
                                                         std::string* upstream_error = nullptr, int sam_blur_kernel = 3);

// The model-backed refinement stage (CandidateRefiner.forward + its top-p). Reads from the params:
// query/refinement crops (query_cropping_factors, crop_interpolation), get_cropping_factor
// (cropping_margin_expansion, max_cropping_factor), sam_pooled_chunk, sam_blur_kernel, patch_size.
// NaN pooled query descriptors (empty SAM masks) are kept, as upstream: every point_to_bbox
// similarity against that set is NaN, so the first mask is taken. Defined behaviour where upstream
// breaks: see PointToBox; a candidate whose point gives three empty masks is dropped. Errors of the
// models are returned as Status.
class ModelCandidateRefiner : public CandidateRefinerStage {
 public:
  ModelCandidateRefiner(const Models& models, const PipelineParams& params) : m_(models), p_(params) {}
  Result<Candidates> Refine(const torch::Tensor& frames, const Candidates& selected, const QuerySet& queries,
                            double top_p) override;
  // What upstream would have raised on during the last Refine ("ValueError", ...), empty if none.
  const std::vector<std::string>& upstream_errors() const { return errors_; }

 private:
  Models m_;
  PipelineParams p_;
  std::vector<std::string> errors_;
};

}  // namespace vq2d::pipeline
