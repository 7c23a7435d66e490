// SAM 2.1 image predictor (reference sam2_image_predictor.py + utils/transforms.py; docs/sam2.md).
#include "vq2d/core/sam2_image_predictor.h"

#include "vq2d/core/torch_guard.h"

namespace vq2d::sam2 {

namespace F = torch::nn::functional;

torch::Tensor PreprocessImage(const torch::Tensor& rgb, int64_t image_size) {
  auto x = rgb.permute({2, 0, 1}).to(torch::kFloat32).div(255.0).unsqueeze(0);
  x = F::interpolate(x, F::InterpolateFuncOptions()
                            .size(std::vector<int64_t>{image_size, image_size})
                            .mode(torch::kBilinear)
                            .align_corners(false)
                            .antialias(true));
  auto opt = x.options();
  auto mean = torch::tensor({0.485, 0.456, 0.406}, opt).view({1, 3, 1, 1});
  auto std = torch::tensor({0.229, 0.224, 0.225}, opt).view({1, 3, 1, 1});
  return (x - mean) / std;
}

namespace {

torch::Device ModelDevice(torch::nn::Module& m) {
  auto params = m.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

}  // namespace

ImagePredictor::ImagePredictor(Sam2Model model, ImagePredictorOptions options)
    : model_(std::move(model)), options_(options), device_(ModelDevice(*model_)) {
  model_->eval();
}

Status ImagePredictor::SetImage(const torch::Tensor& rgb) {
  if (!rgb.defined() || rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != torch::kUInt8)
    return Status::InvalidArgument("SAM 2 SetImage: expected a uint8 RGB image [H,W,3]");
  torch::Tensor input;
  VQ2D_RETURN_IF_ERROR(GuardTorch("SAM 2 image preprocessing failed", [&]() -> Status {
    torch::NoGradGuard no_grad;
    input = PreprocessImage(rgb.to(device_), model_->cfg.image_size);
    return Status::OK();
  }));
  return SetPreprocessedImage(input, rgb.size(0), rgb.size(1));
}

Status ImagePredictor::SetPreprocessedImage(const torch::Tensor& image, int64_t orig_h, int64_t orig_w) {
  const int64_t s = model_->cfg.image_size;
  if (!image.defined() || image.dim() != 4 || image.size(0) != 1 || image.size(1) != 3 || image.size(2) != s ||
      image.size(3) != s)
    return Status::InvalidArgument(StrCat("SAM 2 image: expected a preprocessed [1,3,", s, ",", s, "] tensor"));
  Status status = GuardTorch("SAM 2 image encoder failed", [&]() -> Status {
    torch::NoGradGuard no_grad;
    Bf16AutocastGuard autocast(options_.bf16, device_);
    batch_input_ = batch_embed_ = torch::Tensor();
    batch_high_res_.clear();
    batch_sizes_.clear();
    input_ = image.to(device_, torch::kFloat32);
    auto out = model_->ForwardImage(input_);
    // _prepare_backbone_features + no_mem_embed on the lowest-resolution level.
    const int64_t d = model_->cfg.d_model;
    auto top = out.backbone_fpn.back();
    auto flat = top.flatten(2).permute({2, 0, 1}) + model_->no_mem_embed;  // [HW,1,d]
    image_embed_ = flat.permute({1, 2, 0}).reshape({1, d, top.size(2), top.size(3)});
    high_res_ = {out.backbone_fpn[0], out.backbone_fpn[1]};
    orig_h_ = orig_h;
    orig_w_ = orig_w;
    return Status::OK();
  });
  if (!status.ok()) image_embed_ = torch::Tensor();  // no half-set image
  return status;
}

Status ImagePredictor::SetImageBatch(const std::vector<torch::Tensor>& rgbs) {
  batch_input_ = batch_embed_ = torch::Tensor();
  batch_high_res_.clear();
  batch_sizes_.clear();
  image_embed_ = torch::Tensor();  // no half-set image
  if (rgbs.empty()) return Status::InvalidArgument("SAM 2 SetImageBatch: expected at least one image");
  for (const auto& rgb : rgbs) {
    if (!rgb.defined() || rgb.dim() != 3 || rgb.size(2) != 3 || rgb.scalar_type() != torch::kUInt8)
      return Status::InvalidArgument("SAM 2 SetImageBatch: expected uint8 RGB images [H,W,3]");
  }
  Status status = GuardTorch("SAM 2 batched image encoder failed", [&]() -> Status {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> inputs;
    for (const auto& rgb : rgbs) {
      inputs.push_back(PreprocessImage(rgb.to(device_), model_->cfg.image_size));
      batch_sizes_.emplace_back(rgb.size(0), rgb.size(1));
    }
    Bf16AutocastGuard autocast(options_.bf16, device_);
    batch_input_ = torch::cat(inputs).to(device_, torch::kFloat32);
    auto out = model_->ForwardImage(batch_input_);
    // As SetPreprocessedImage, per image of the batch.
    const int64_t d = model_->cfg.d_model, b = batch_input_.size(0);
    auto top = out.backbone_fpn.back();
    auto flat = top.flatten(2).permute({2, 0, 1}) + model_->no_mem_embed;  // [HW,B,d]
    batch_embed_ = flat.permute({1, 2, 0}).reshape({b, d, top.size(2), top.size(3)});
    batch_high_res_ = {out.backbone_fpn[0], out.backbone_fpn[1]};
    return Status::OK();
  });
  if (!status.ok()) {
    batch_input_ = batch_embed_ = torch::Tensor();
    batch_high_res_.clear();
    batch_sizes_.clear();
    return status;
  }
  return SelectImage(0);
}

Status ImagePredictor::SelectImage(int64_t index) {
  if (index < 0 || index >= batch_size()) {
    return Status::InvalidArgument(StrCat("SAM 2 SelectImage: image ", index, " of a batch of ", batch_size()));
  }
  input_ = batch_input_.narrow(0, index, 1);
  image_embed_ = batch_embed_.narrow(0, index, 1);
  high_res_ = {batch_high_res_[0].narrow(0, index, 1), batch_high_res_[1].narrow(0, index, 1)};
  orig_h_ = batch_sizes_[static_cast<size_t>(index)].first;
  orig_w_ = batch_sizes_[static_cast<size_t>(index)].second;
  return Status::OK();
}

Result<BatchImagePrediction> ImagePredictor::PredictBatch(const torch::Tensor& point_coords,
                                                          const torch::Tensor& point_labels,
                                                          const torch::Tensor& boxes, bool multimask_output) {
  if (!has_image()) return Status::FailedPrecondition("SAM 2 predict: call SetImage first");
  const bool has_points = point_coords.defined() && point_coords.numel() > 0;
  const bool has_box = boxes.defined() && boxes.numel() > 0;
  if (!has_points && !has_box) return Status::InvalidArgument("SAM 2 predict: need points or a box");
  if (has_points && (point_coords.dim() != 3 || point_coords.size(2) != 2 || !point_labels.defined() ||
                     point_labels.dim() != 2 || point_labels.size(0) != point_coords.size(0) ||
                     point_labels.size(1) != point_coords.size(1)))
    return Status::InvalidArgument("SAM 2 predict: point_coords must be [B,N,2] with point_labels [B,N]");
  if (has_box && (boxes.dim() != 2 || boxes.size(1) != 4))
    return Status::InvalidArgument("SAM 2 predict: boxes must be [B,4] xyxy");
  if (has_box && has_points && boxes.size(0) != point_coords.size(0))
    return Status::InvalidArgument("SAM 2 predict: boxes and points disagree on the batch size");
  return GuardTorch("SAM 2 predict failed", [&]() -> Result<BatchImagePrediction> {
    torch::NoGradGuard no_grad;
    Bf16AutocastGuard autocast(options_.bf16, device_);
    const double s = model_->cfg.image_size;
    auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
    // transform_coords: x / W * S, y / H * S (same float ops as the reference: divide, then multiply).
    auto norm = [&](const torch::Tensor& c) {
      auto wh = torch::tensor({static_cast<double>(orig_w_), static_cast<double>(orig_h_)}, fopt);
      return c.to(fopt) / wh * s;
    };
    torch::Tensor coords, labels;
    if (has_box) {
      auto bc = norm(boxes.reshape({-1, 2, 2}));
      auto bl = torch::tensor({2, 3}, torch::TensorOptions().dtype(torch::kInt32).device(device_))
                    .repeat({bc.size(0), 1});
      coords = bc;
      labels = bl;
    }
    if (has_points) {
      auto pc = norm(point_coords);
      auto pl = point_labels.to(device_, torch::kInt32);
      coords = coords.defined() ? torch::cat({coords, pc}, 1) : pc;
      labels = labels.defined() ? torch::cat({labels, pl}, 1) : pl;
    }
    auto& pe = model_->sam_prompt_encoder;
    auto sparse = pe->EmbedPoints(coords, labels, /*pad=*/true);
    const int64_t b = sparse.size(0);
    auto dense = pe->NoMaskDense(b);
    auto dec = model_->sam_mask_decoder->forward(image_embed_, pe->DensePe(), sparse, dense, multimask_output,
                                                 /*repeat_image=*/b > 1, high_res_);
    BatchImagePrediction r;
    auto low = dec.masks.to(torch::kFloat32);
    auto up = PostprocessMasks(low, orig_h_, orig_w_, options_.max_hole_area, options_.max_sprinkle_area);
    r.masks = up > 0.0;
    r.iou_predictions = dec.iou_pred.to(torch::kFloat32);
    r.low_res_masks = low.clamp(-32.0, 32.0);
    return r;
  });
}

Result<ImagePrediction> ImagePredictor::Predict(const ImagePrompt& p) {
  if (p.mask_input.defined()) {
    if (!has_image()) return Status::FailedPrecondition("SAM 2 predict: call SetImage first");
    // Mask prompt: same as PredictBatch but with the downscaled mask as the dense embedding.
    const bool has_points = p.point_coords.defined() && p.point_coords.numel() > 0;
    const bool has_box = p.box.defined() && p.box.numel() > 0;
    if (p.mask_input.dim() != 3 || p.mask_input.size(0) != 1)
      return Status::InvalidArgument("SAM 2 predict: mask_input must be [1,256,256]");
    return GuardTorch("SAM 2 predict failed", [&]() -> Result<ImagePrediction> {
      torch::NoGradGuard no_grad;
      Bf16AutocastGuard autocast(options_.bf16, device_);
      const double s = model_->cfg.image_size;
      auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
      auto wh = torch::tensor({static_cast<double>(orig_w_), static_cast<double>(orig_h_)}, fopt);
      torch::Tensor coords = torch::zeros({1, 0, 2}, fopt);
      torch::Tensor labels = torch::zeros({1, 0}, fopt.dtype(torch::kInt32));
      if (has_box) {
        coords = p.box.to(fopt).reshape({1, 2, 2}) / wh * s;
        labels = torch::tensor({{2, 3}}, fopt.dtype(torch::kInt32));
      }
      if (has_points) {
        coords = torch::cat({coords, (p.point_coords.to(fopt) / wh * s).reshape({1, -1, 2})}, 1);
        labels = torch::cat({labels, p.point_labels.to(device_, torch::kInt32).reshape({1, -1})}, 1);
      }
      auto& pe = model_->sam_prompt_encoder;
      torch::Tensor sparse = coords.size(1) > 0 ? pe->EmbedPoints(coords, labels, true)
                                                : torch::zeros({1, 0, model_->cfg.d_model}, fopt);
      auto dense = pe->EmbedMasks(p.mask_input.to(fopt).unsqueeze(0));
      auto dec = model_->sam_mask_decoder->forward(image_embed_, pe->DensePe(), sparse, dense, p.multimask_output,
                                                   false, high_res_);
      auto low = dec.masks.to(torch::kFloat32);
      auto up = PostprocessMasks(low, orig_h_, orig_w_, options_.max_hole_area, options_.max_sprinkle_area);
      return ImagePrediction{(up > 0.0)[0], dec.iou_pred[0], low.clamp(-32.0, 32.0)[0]};
    });
  }
  torch::Tensor pc, pl, bx;
  if (p.point_coords.defined() && p.point_coords.numel() > 0) {
    if (p.point_coords.dim() != 2 || p.point_coords.size(1) != 2 || !p.point_labels.defined() ||
        p.point_labels.numel() != p.point_coords.size(0))
      return Status::InvalidArgument("SAM 2 predict: point_coords must be [N,2] with N point_labels");
    pc = p.point_coords.unsqueeze(0);
    pl = p.point_labels.reshape({1, -1});
  }
  if (p.box.defined() && p.box.numel() > 0) {
    if (p.box.numel() != 4) return Status::InvalidArgument("SAM 2 predict: box must have 4 values (xyxy)");
    bx = p.box.reshape({1, 4});
  }
  VQ2D_ASSIGN_OR_RETURN(auto b, PredictBatch(pc, pl, bx, p.multimask_output));
  return ImagePrediction{b.masks[0], b.iou_predictions[0], b.low_res_masks[0]};
}

}  // namespace vq2d::sam2
