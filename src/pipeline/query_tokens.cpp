#include "vq2d/pipeline/query_tokens.h"

#include "vq2d/pipeline/geometry.h"

namespace vq2d::pipeline {

cv::Mat TensorToMat(const torch::Tensor& image) {
  torch::Tensor t = image.to(torch::kCPU).to(torch::kUInt8).contiguous();
  const int c = t.dim() == 3 ? static_cast<int>(t.size(2)) : 1;
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8UC(c), t.data_ptr()).clone();
}

torch::Tensor MatToTensor(const cv::Mat& image) {
  cv::Mat c = image.isContinuous() ? image : image.clone();
  std::vector<int64_t> shape = {c.rows, c.cols};
  if (c.channels() > 1) shape.push_back(c.channels());
  return torch::from_blob(c.data, shape, torch::kUInt8).clone();
}

namespace {
Result<AssembledTokens> Assemble(const std::vector<torch::Tensor>& tokens, const std::vector<torch::Tensor>& points,
                                 const std::vector<cv::Mat>& masks, bool keep_alignment, int mask_size) {
  if (tokens.size() != points.size() || tokens.size() != masks.size()) {
    return Status::InvalidArgument("generate_token_from_bbox: tokens/points/masks count mismatch");
  }
  std::vector<int> crop, index;
  for (size_t c = 0; c < masks.size(); ++c) {
    if (cv::countNonZero(masks[c]) == 0) {
      if (keep_alignment) {
        crop.push_back(static_cast<int>(c));
        index.push_back(-1);
      }
      continue;
    }
    torch::Tensor p = points[c].to(torch::kFloat32).contiguous();
    crop.push_back(static_cast<int>(c));
    index.push_back(ChooseTokenByDistance(masks[c], p.data_ptr<float>(), p.size(0), mask_size));
  }
  if (crop.empty()) return Status::UpstreamRaised("generate_token_from_bbox: every SAM mask is empty (upstream RuntimeError)");
  int64_t D = -1;
  for (size_t r = 0; r < crop.size(); ++r)
    if (index[r] >= 0) D = tokens[crop[r]].size(1);
  if (D < 0) {
    return Status::UpstreamRaised(
        "generate_token_from_bbox: no token point inside any SAM mask (upstream TypeError)");
  }
  AssembledTokens out;
  out.tokens = torch::zeros({static_cast<int64_t>(crop.size()), D}, torch::kFloat32);
  for (size_t r = 0; r < crop.size(); ++r) {
    if (index[r] >= 0) out.tokens[static_cast<int64_t>(r)].copy_(tokens[crop[r]][index[r]].to(torch::kFloat32));
  }
  out.crop_index = std::move(crop);
  out.token_index = std::move(index);
  return out;
}
}  // namespace

Result<AssembledTokens> AssembleQueryTokens(const std::vector<torch::Tensor>& tokens,
                                            const std::vector<torch::Tensor>& points,
                                            const std::vector<cv::Mat>& refined_masks, int distance_mask_size) {
  return Assemble(tokens, points, refined_masks, false, distance_mask_size);
}

Result<AssembledTokens> GenerateTokensFromBoxes(const torch::Tensor& crops,
                                                const std::vector<std::array<double, 4>>& boxes_xywh,
                                                TokenExtractor& ren, ImageSegmenter& sam, bool keep_alignment,
                                                const ImageOps& ops) {
  if (crops.dim() != 4 || crops.size(0) != static_cast<int64_t>(boxes_xywh.size())) {
    return Status::InvalidArgument("generate_token_from_bbox: crops must be [N,H,W,3] with one box per crop");
  }
  VQ2D_ASSIGN_OR_RETURN(RenTokens rt, ren.Encode(crops));
  std::vector<torch::Tensor> toks, pts;
  std::vector<cv::Mat> masks;
  for (int64_t i = 0; i < crops.size(0); ++i) {
    VQ2D_RETURN_IF_ERROR(sam.SetImage(SamBlur(TensorToMat(crops[i]), ops.sam_blur_kernel)));
    const auto& b = boxes_xywh[i];
    VQ2D_ASSIGN_OR_RETURN(cv::Mat m, sam.PredictBox({b[0], b[1], b[0] + b[2], b[1] + b[3]}));
    masks.push_back(RefineMask(m));
    toks.push_back(rt.tokens[i]);
    pts.push_back(rt.points);
  }
  return Assemble(toks, pts, masks, keep_alignment, ops.token_distance_mask_size);
}

Result<AssembledTokens> EncodeQuery(const torch::Tensor& frame, const std::array<int64_t, 4>& box_xywh,
                                    const std::vector<double>& cropping_factors, TokenExtractor& ren,
                                    ImageSegmenter& sam, const ImageOps& ops) {
  const cv::Mat img = TensorToMat(frame);
  std::vector<torch::Tensor> crops;
  std::vector<std::array<double, 4>> boxes;
  for (double cf : cropping_factors) {
    VQ2D_ASSIGN_OR_RETURN(CropWindow w, CropWindowForBox(img.cols, img.rows, box_xywh, cf, BoxContext::kPyInt));
    crops.push_back(MatToTensor(CutAndResize(img, w, ops.crop_interpolation)));
    boxes.push_back(w.box);
  }
  return GenerateTokensFromBoxes(torch::stack(crops), boxes, ren, sam, false, ops);
}

}  // namespace vq2d::pipeline
