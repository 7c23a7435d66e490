#include "vq2d/core/ren.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>

#include "vq2d/core/torch_guard.h"

namespace vq2d {


Status RenConfig::Validate() const {
  VQ2D_RETURN_IF_ERROR(dinov2.Validate());
  VQ2D_RETURN_IF_ERROR(region_encoder.Validate());
  if (dinov2_block < 0 || dinov2_block >= dinov2.depth) {
    return Status::InvalidArgument(StrCat("ren: dinov2_block ", dinov2_block, " outside [0, ", dinov2.depth, ")"));
  }
  if (dinov2.embed_dim != region_encoder.hidden_dim) {
    return Status::InvalidArgument(StrCat("ren: DINOv2 embed_dim ", dinov2.embed_dim,
                                          " != region encoder hidden_dim ", region_encoder.hidden_dim));
  }
  if (dinov2.patch_size != region_encoder.patch_size) {
    return Status::InvalidArgument(StrCat("ren: DINOv2 patch ", dinov2.patch_size, " != region encoder patch_size ",
                                          region_encoder.patch_size));
  }
  if (region_encoder.image_resolution % dinov2.patch_size != 0) {
    return Status::InvalidArgument(StrCat("ren: image_resolution ", region_encoder.image_resolution,
                                          " is not a multiple of the patch size ", dinov2.patch_size));
  }
  if (chunk_size <= 0) return Status::InvalidArgument(StrCat("ren: chunk_size ", chunk_size, " must be positive"));
  if (dtype != c10::kFloat && dtype != c10::kBFloat16) {
    return Status::InvalidArgument(StrCat("ren: dtype ", c10::toString(dtype), " (expected float32 or bfloat16)"));
  }
  for (double s : std) {
    if (!(s > 0)) return Status::InvalidArgument("ren: normalisation std must be positive");
  }
  return Status::OK();
}

RenEncoder::RenEncoder(const RenConfig& config) : config_(config) {}
RenEncoder::~RenEncoder() = default;

Result<std::unique_ptr<RenEncoder>> RenEncoder::Create(const RenConfig& config) {
  VQ2D_RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<RenEncoder> enc(new RenEncoder(config));
  VQ2D_RETURN_IF_ERROR(GuardTorch("ren: building models", [&]() -> Status {
    enc->dinov2_ = DinoV2VisionTransformer(config.dinov2);
    enc->dinov2_->attention_options() = config.attention;
    enc->dinov2_->eval();
    enc->dinov2_->to(config.device, config.dtype);
    enc->region_encoder_ = RegionEncoder(config.region_encoder);
    enc->region_encoder_->attention_options() = config.attention;
    enc->region_encoder_->eval();
    enc->region_encoder_->to(config.device, config.dtype);
    auto opts = at::TensorOptions().dtype(at::kFloat);
    enc->mean_ = at::tensor(std::vector<float>(config.mean.begin(), config.mean.end()), opts)
                     .view({1, 3, 1, 1})
                     .to(config.device);
    enc->std_ = at::tensor(std::vector<float>(config.std.begin(), config.std.end()), opts)
                    .view({1, 3, 1, 1})
                    .to(config.device);
    return Status::OK();
  }, StatusCode::kInvalidArgument));
  return enc;
}

Status RenEncoder::LoadDinoV2(const TensorMap& state_dict) {
  return LoadStateDict(*dinov2_, state_dict).WithContext("ren: DINOv2 weights");
}

Status RenEncoder::LoadRegionEncoder(const TensorMap& state_dict) {
  return LoadStateDict(*region_encoder_, state_dict).WithContext("ren: region encoder weights");
}

Status RenEncoder::LoadDinoV2File(const std::string& dinov2_path) {
  VQ2D_ASSIGN_OR_RETURN(TensorMap tensors, LoadTensorFile(dinov2_path));
  return LoadDinoV2(tensors).WithContext(dinov2_path);
}

Status RenEncoder::LoadRegionEncoderFile(const std::string& ren_checkpoint_path) {
  static const std::string kPrefix = "region_encoder_state.";
  VQ2D_ASSIGN_OR_RETURN(TensorMap tensors, LoadTensorFile(ren_checkpoint_path, kPrefix));
  if (tensors.empty()) {
    return Status::NotFound(StrCat(ren_checkpoint_path, ": no '", kPrefix,
                                   "*' tensors (expected REN's checkpoint.pth with a region_encoder_state dict)"));
  }
  return LoadRegionEncoder(SubMap(tensors, kPrefix)).WithContext(ren_checkpoint_path);
}

at::Tensor RenEncoder::Resize(const at::Tensor& frames) const {
  c10::NoGradGuard no_grad;
  const int64_t r = config_.region_encoder.image_resolution;
  auto x = frames.to(config_.device).permute({0, 3, 1, 2}).contiguous().to(at::kFloat).div(255);
  return at::_upsample_bilinear2d_aa(x, {r, r}, /*align_corners=*/false);
}

at::Tensor RenEncoder::Normalize(const at::Tensor& resized) const {
  return resized.sub(mean_).div(std_).to(config_.dtype);
}

at::Tensor RenEncoder::FeatureTokens(const at::Tensor& normalized) {
  c10::NoGradGuard no_grad;
  return dinov2_->GetIntermediateLayers(normalized, {config_.dinov2_block}, /*norm=*/true)[0].patch_tokens;
}

at::Tensor RenEncoder::FramePoints(int64_t height, int64_t width) const {
  const double r = static_cast<double>(config_.region_encoder.image_resolution);
  auto g = region_encoder_->grid_points().to(at::kFloat);
  auto y = g.select(1, 0).mul(static_cast<double>(height) / r);
  auto x = g.select(1, 1).mul(static_cast<double>(width) / r);
  return at::stack({y, x}, 1).to(config_.device);
}

Result<RenOutput> RenEncoder::Encode(const at::Tensor& frames, int64_t chunk_size) {
  if (!frames.defined() || frames.dim() != 4 || frames.size(3) != 3 || frames.scalar_type() != at::kByte) {
    return Status::InvalidArgument(StrCat("ren: frames must be [N,H,W,3] uint8, got ",
                                          frames.defined() ? c10::toString(frames.scalar_type()) : "undefined", " ",
                                          frames.defined() ? frames.sizes() : at::IntArrayRef{}));
  }
  if (frames.size(1) <= 0 || frames.size(2) <= 0) return Status::InvalidArgument("ren: frames have an empty side");
  return GuardTorch("ren: encode", [&]() -> Result<RenOutput> {
    c10::NoGradGuard no_grad;
    const int64_t n = frames.size(0);
    const int64_t chunk = chunk_size > 0 ? chunk_size : config_.chunk_size;
    const int64_t q = region_encoder_->grid_points().size(0), d = config_.region_encoder.hidden_dim;
    RenOutput out;
    out.tokens = at::empty({n, q, d}, at::TensorOptions().dtype(at::kFloat).device(config_.device));
    for (int64_t s = 0; s < n; s += chunk) {
      const int64_t m = std::min(chunk, n - s);
      auto feats = FeatureTokens(Normalize(Resize(frames.narrow(0, s, m))));
      auto enc = region_encoder_->ForwardGrid(feats);
      out.tokens.narrow(0, s, m).copy_(enc.pred_tokens);
    }
    out.points = FramePoints(frames.size(1), frames.size(2));
    return out;
  }, StatusCode::kInvalidArgument);
}

Result<RenFilteredOutput> RenEncoder::Filter(const RenOutput& encoded, const at::Tensor& matching_tokens,
                                             double threshold) {
  if (!encoded.tokens.defined() || encoded.tokens.dim() != 3) {
    return Status::InvalidArgument("ren filter: encoded tokens must be [N,Q,D]");
  }
  const int64_t d = encoded.tokens.size(2);
  if (!matching_tokens.defined() || matching_tokens.dim() != 2 || matching_tokens.size(1) != d ||
      matching_tokens.size(0) == 0 || !matching_tokens.is_floating_point()) {
    return Status::InvalidArgument(StrCat("ren filter: matching tokens must be float [K,", d, "] with K >= 1, got ",
                                          matching_tokens.defined() ? matching_tokens.sizes() : at::IntArrayRef{}));
  }
  return GuardTorch("ren: filter", [&]() -> Result<RenFilteredOutput> {
    c10::NoGradGuard no_grad;
    auto normalize = [](const at::Tensor& t) {
      return t / t.norm(2, {-1}, /*keepdim=*/true).clamp_min(1e-12).expand_as(t);
    };
    auto tokens = encoded.tokens.to(at::kFloat);
    auto x = normalize(tokens);
    auto y = normalize(matching_tokens.to(tokens.device(), at::kFloat));
    RenFilteredOutput out;
    out.scores = std::get<0>(at::matmul(x, y.t()).max(-1));  // [N,Q]
    const int64_t n = tokens.size(0);
    if (n == 0 || tokens.size(1) == 0) {
      auto lopts = at::TensorOptions().dtype(at::kLong).device(tokens.device());
      out.counts = at::zeros({n}, lopts);
      out.frame_ids = at::empty({0}, lopts);
      out.indices = at::empty({0}, lopts);
      out.points = at::empty({0, 2}, tokens.options());
      out.tokens = at::empty({0, d}, tokens.options());
      return out;
    }
    auto all_below = out.scores.lt(threshold).all(1, /*keepdim=*/true);  // [N,1]
    auto best = out.scores.argmax(1, /*keepdim=*/true);                  // [N,1] first max
    auto fallback = at::zeros_like(out.scores, at::kBool).scatter_(1, best, true);
    auto keep = at::where(all_below, fallback, out.scores.gt(threshold));
    out.counts = keep.sum(1);
    auto nz = keep.nonzero();  // [M,2] row-major: frames in order, grid order within a frame
    out.frame_ids = nz.select(1, 0).contiguous();
    out.indices = nz.select(1, 1).contiguous();
    out.tokens = tokens.flatten(0, 1).index_select(0, out.frame_ids * tokens.size(1) + out.indices);
    out.points = encoded.points.to(tokens.device()).index_select(0, out.indices);
    return out;
  }, StatusCode::kInvalidArgument);
}

Result<RenFilteredOutput> RenEncoder::EncodeAndFilter(const at::Tensor& frames, const at::Tensor& matching_tokens,
                                                      double threshold) {
  VQ2D_ASSIGN_OR_RETURN(RenOutput enc, Encode(frames));
  return Filter(enc, matching_tokens, threshold);
}

}  // namespace vq2d
