// Query encoding (docs/pipeline.md stage 1): the visual crop at the query cropping factors, REN tokens per
// crop, a SAM 2 box mask per (blurred) crop, and the distance-transform token choice
// (upstream generate_token_from_bbox).
#pragma once

#include <array>
#include <vector>

#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/models.h"

namespace vq2d::pipeline {

struct AssembledTokens {
  torch::Tensor tokens;           // [K,D] float32: one row per crop whose refined mask is non-empty
  std::vector<int> crop_index;    // [K] crop of each row
  std::vector<int> token_index;   // [K] chosen token in that crop, -1 = zero row (no point inside)
};

// generate_token_from_bbox after the models ran: tokens[c] [P,D] float32, points[c] [P,2] float32
// (y,x), refined_masks[c] CV_8U 0/1. Crops with an empty mask are skipped; a crop without a point
// inside its mask gives a zero row. Errors where upstream raises: every mask empty
// (RuntimeError) or no crop has a point inside its mask (TypeError). `distance_mask_size`: see
// ChooseTokenByDistance.
Result<AssembledTokens> AssembleQueryTokens(const std::vector<torch::Tensor>& tokens,
                                            const std::vector<torch::Tensor>& points,
                                            const std::vector<cv::Mat>& refined_masks, int distance_mask_size = 5);

// Runs REN on `crops` [N,H,W,3] uint8 and SAM box prompts (box xywh in crop pixels, float) on each
// crop blurred with SamBlur(ops.sam_blur_kernel), then AssembleQueryTokens
// (ops.token_distance_mask_size). With `keep_alignment` (fixes.tracked_token_alignment)
// crops with an empty mask give a zero row instead of being skipped, so row i is crop i.
Result<AssembledTokens> GenerateTokensFromBoxes(const torch::Tensor& crops,
                                                const std::vector<std::array<double, 4>>& boxes_xywh,
                                                TokenExtractor& ren, ImageSegmenter& sam, bool keep_alignment = false,
                                                const ImageOps& ops = {});

// Query tokens of one visual crop: crop_using_bbox(frame, box, cf) for every cf (python-int box
// arithmetic, crops resized with ops.crop_interpolation), then GenerateTokensFromBoxes.
// frame [H,W,3] uint8.
Result<AssembledTokens> EncodeQuery(const torch::Tensor& frame, const std::array<int64_t, 4>& box_xywh,
                                    const std::vector<double>& cropping_factors, TokenExtractor& ren,
                                    ImageSegmenter& sam, const ImageOps& ops = {});

// torch [H,W,3] uint8 <-> cv::Mat CV_8UC3 (copies).
cv::Mat TensorToMat(const torch::Tensor& image);
torch::Tensor MatToTensor(const cv::Mat& image);

}  // namespace vq2d::pipeline
