#include "vq2d/core/dinov2.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <nlohmann/json.hpp>

#include "core/json_key.h"
#include "vq2d/base/arch_limits.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace vq2d {

// ---- Config -----------------------------------------------------------------------------------

DinoV2Config DinoV2Config::VitS14() {
  DinoV2Config c;
  c.embed_dim = 384;
  c.depth = 12;
  c.num_heads = 6;
  return c;
}
DinoV2Config DinoV2Config::VitB14() {
  DinoV2Config c;
  c.embed_dim = 768;
  c.depth = 12;
  c.num_heads = 12;
  return c;
}
DinoV2Config DinoV2Config::VitL14() { return DinoV2Config(); }
DinoV2Config DinoV2Config::VitG14() {
  DinoV2Config c;
  c.embed_dim = 1536;
  c.depth = 40;
  c.num_heads = 24;
  c.ffn_layer = "swiglufused";
  return c;
}

Status DinoV2Config::Validate() const {
  if (img_size <= 0 || patch_size <= 0 || img_size % patch_size != 0) {
    return Status::InvalidArgument(StrCat("dinov2: img_size ", img_size, " must be a positive multiple of patch_size ",
                                          patch_size));
  }
  if (embed_dim <= 0 || depth <= 0 || num_heads <= 0 || embed_dim % num_heads != 0) {
    return Status::InvalidArgument(StrCat("dinov2: embed_dim ", embed_dim, " must be a positive multiple of num_heads ",
                                          num_heads, " (depth ", depth, ")"));
  }
  if (ffn_layer != "mlp" && ffn_layer != "swiglu" && ffn_layer != "swiglufused") {
    return Status::InvalidArgument(StrCat("dinov2: ffn_layer '", ffn_layer, "' (expected mlp, swiglu or swiglufused)"));
  }
  if (num_register_tokens < 0 || in_chans <= 0 || mlp_ratio <= 0) {
    return Status::InvalidArgument("dinov2: num_register_tokens, in_chans and mlp_ratio must be positive");
  }
  namespace L = arch_limits;
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "img_size", img_size, 1, L::kMaxImageSize));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "patch_size", patch_size, 1, L::kMaxPatch));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "in_chans", in_chans, 1, L::kMaxTokens));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "embed_dim", embed_dim, 1, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "depth", depth, 1, L::kMaxDepth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "num_heads", num_heads, 1, L::kMaxHeads));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "num_register_tokens", num_register_tokens, 0, L::kMaxTokens));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dinov2", "mlp_ratio", mlp_ratio, 0.0, L::kMaxMlpRatio));
  return Status::OK();
}

using core_internal::ReadOptionalKey;

Result<DinoV2Config> DinoV2Config::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("dinov2 config: expected a JSON object");
  DinoV2Config c;
  const char* w = "dinov2 config";
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "img_size", &c.img_size, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "patch_size", &c.patch_size, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "in_chans", &c.in_chans, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "embed_dim", &c.embed_dim, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "depth", &c.depth, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "num_heads", &c.num_heads, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "mlp_ratio", &c.mlp_ratio, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "qkv_bias", &c.qkv_bias, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "proj_bias", &c.proj_bias, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "ffn_bias", &c.ffn_bias, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "init_values", &c.init_values, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "ffn_layer", &c.ffn_layer, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "num_register_tokens", &c.num_register_tokens, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "interpolate_antialias", &c.interpolate_antialias, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "interpolate_offset", &c.interpolate_offset, w));
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "layer_norm_eps", &c.layer_norm_eps, w));
  int64_t block_chunks = 0;
  VQ2D_RETURN_IF_ERROR(ReadOptionalKey(j, "block_chunks", &block_chunks, w));
  if (block_chunks != 0) {
    return Status::Unimplemented(StrCat("dinov2 config: block_chunks ", block_chunks,
                                        " (only 0, the hub layout of the official checkpoints)"));
  }
  VQ2D_RETURN_IF_ERROR(c.Validate());
  return c;
}

// ---- Model ------------------------------------------------------------------------------------

DinoV2VisionTransformerImpl::DinoV2VisionTransformerImpl(const DinoV2Config& config) : config_(config) {
  auto st = config.Validate();
  TORCH_CHECK(st.ok(), st.message());
  const int64_t d = config.embed_dim;
  const int64_t grid = config.img_size / config.patch_size;
  // Registration order follows the upstream module so named_parameters() lists like state_dict().
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, d}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, grid * grid + 1, d}));
  if (config.num_register_tokens > 0) {
    register_tokens = register_parameter("register_tokens", torch::zeros({1, config.num_register_tokens, d}));
  }
  mask_token = register_parameter("mask_token", torch::zeros({1, d}));
  patch_embed = register_module("patch_embed", vit::PatchEmbed(config.in_chans, d, config.patch_size));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) blocks->push_back(vit::Block(config.block()));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(config.layer_norm_eps)));
}

torch::Tensor DinoV2VisionTransformerImpl::InterpolatePosEncoding(int64_t npatch, int64_t height, int64_t width) const {
  const int64_t n = pos_embed.size(1) - 1;
  if (npatch == n && height == width) return pos_embed;
  const auto dtype = pos_embed.scalar_type();
  auto pe = pos_embed.to(torch::kFloat);
  auto class_pe = pe.select(1, 0);
  auto patch_pe = pe.narrow(1, 1, n);
  const int64_t dim = pe.size(2);
  const int64_t gh = height / config_.patch_size, gw = width / config_.patch_size;
  const int64_t m = static_cast<int64_t>(std::sqrt(static_cast<double>(n)));
  TORCH_CHECK(m * m == n, "dinov2: pos_embed has ", n, " patch entries, not a square grid");
  auto grid = patch_pe.reshape({1, m, m, dim}).permute({0, 3, 1, 2});
  torch::Tensor out;
  if (config_.interpolate_offset != 0.0) {
    const double sh = (static_cast<double>(gh) + config_.interpolate_offset) / static_cast<double>(m);
    const double sw = (static_cast<double>(gw) + config_.interpolate_offset) / static_cast<double>(m);
    const int64_t oh = static_cast<int64_t>(static_cast<double>(m) * sh);
    const int64_t ow = static_cast<int64_t>(static_cast<double>(m) * sw);
    out = config_.interpolate_antialias ? at::_upsample_bicubic2d_aa(grid, {oh, ow}, false, sh, sw)
                                        : at::upsample_bicubic2d(grid, {oh, ow}, false, sh, sw);
  } else {
    out = config_.interpolate_antialias ? at::_upsample_bicubic2d_aa(grid, {gh, gw}, false)
                                        : at::upsample_bicubic2d(grid, {gh, gw}, false);
  }
  TORCH_CHECK(out.size(2) == gh && out.size(3) == gw, "dinov2: interpolated pos_embed is ", out.size(2), "x",
              out.size(3), ", expected ", gh, "x", gw);
  out = out.permute({0, 2, 3, 1}).reshape({1, -1, dim});
  return torch::cat({class_pe.unsqueeze(0), out}, 1).to(dtype);
}

torch::Tensor DinoV2VisionTransformerImpl::PrepareTokens(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == config_.in_chans, "dinov2: images must be [B,", config_.in_chans,
              ",H,W], got ", images.sizes());
  const int64_t h = images.size(2), w = images.size(3), p = config_.patch_size;
  TORCH_CHECK(h % p == 0 && w % p == 0, "dinov2: image size ", h, "x", w, " is not a multiple of the patch size ", p);
  auto x = patch_embed->forward(images);
  const int64_t b = x.size(0);
  x = torch::cat({cls_token.expand({b, -1, -1}), x}, 1);
  x = x + InterpolatePosEncoding(x.size(1) - 1, h, w);
  if (register_tokens.defined()) {
    x = torch::cat({x.narrow(1, 0, 1), register_tokens.expand({b, -1, -1}), x.narrow(1, 1, x.size(1) - 1)}, 1);
  }
  return x;
}

std::vector<int64_t> DinoV2VisionTransformerImpl::LastBlocks(int64_t n) const {
  std::vector<int64_t> out;
  for (int64_t i = std::max<int64_t>(0, config_.depth - n); i < config_.depth; ++i) out.push_back(i);
  return out;
}

std::vector<DinoV2Layer> DinoV2VisionTransformerImpl::GetIntermediateLayers(const torch::Tensor& images,
                                                                             const std::vector<int64_t>& blocks_to_take,
                                                                             bool apply_norm) {
  std::set<int64_t> take(blocks_to_take.begin(), blocks_to_take.end());
  TORCH_CHECK(!take.empty() && take.size() == blocks_to_take.size(), "dinov2: block indices must be unique, non-empty");
  TORCH_CHECK(*take.begin() >= 0 && *take.rbegin() < config_.depth, "dinov2: block index out of range [0,",
              config_.depth, ")");
  auto x = PrepareTokens(images);
  std::vector<DinoV2Layer> out;
  const int64_t skip = 1 + config_.num_register_tokens;
  for (int64_t i = 0; i <= *take.rbegin(); ++i) {
    x = blocks->ptr<vit::BlockImpl>(i)->forward(x, attention_options_);
    if (take.count(i)) {
      auto y = apply_norm ? norm->forward(x) : x;
      out.push_back({y.narrow(1, skip, y.size(1) - skip), y.select(1, 0)});
    }
  }
  return out;
}

torch::Tensor TokensToFeatureMap(const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w) {
  TORCH_CHECK(tokens.dim() == 3 && tokens.size(1) == grid_h * grid_w, "tokens ", tokens.sizes(), " do not form a ",
              grid_h, "x", grid_w, " grid");
  return tokens.permute({0, 2, 1}).reshape({tokens.size(0), tokens.size(2), grid_h, grid_w});
}

}  // namespace vq2d
