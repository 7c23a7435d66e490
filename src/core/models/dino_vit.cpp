#include "vq2d/core/dino_vit.h"

#include <ATen/ATen.h>

#include <nlohmann/json.hpp>

#include "vq2d/base/arch_limits.h"

#include <cmath>

namespace vq2d {

DinoVitConfig DinoVitConfig::VitS8() {
  DinoVitConfig c;
  c.embed_dim = 384;
  c.num_heads = 6;
  return c;
}
DinoVitConfig DinoVitConfig::VitS16() {
  DinoVitConfig c = VitS8();
  c.patch_size = 16;
  return c;
}
DinoVitConfig DinoVitConfig::VitB8() { return DinoVitConfig(); }
DinoVitConfig DinoVitConfig::VitB16() {
  DinoVitConfig c;
  c.patch_size = 16;
  return c;
}

Status DinoVitConfig::Validate() const {
  if (img_size <= 0 || patch_size <= 0 || img_size < patch_size) {
    return Status::InvalidArgument(StrCat("dino: img_size ", img_size, " / patch_size ", patch_size));
  }
  if (embed_dim <= 0 || depth <= 0 || num_heads <= 0 || embed_dim % num_heads != 0) {
    return Status::InvalidArgument(StrCat("dino: embed_dim ", embed_dim, " must be a positive multiple of num_heads ",
                                          num_heads, " (depth ", depth, ")"));
  }
  if (in_chans <= 0 || mlp_ratio <= 0) return Status::InvalidArgument("dino: in_chans and mlp_ratio must be positive");
  namespace L = arch_limits;
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "img_size", img_size, 1, L::kMaxImageSize));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "patch_size", patch_size, 1, L::kMaxPatch));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "in_chans", in_chans, 1, L::kMaxTokens));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "embed_dim", embed_dim, 1, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "depth", depth, 1, L::kMaxDepth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "num_heads", num_heads, 1, L::kMaxHeads));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("dino", "mlp_ratio", mlp_ratio, 0.0, L::kMaxMlpRatio));
  return Status::OK();
}

Result<DinoVitConfig> DinoVitConfig::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("dino config: expected a JSON object");
  DinoVitConfig c;
  auto read = [&](const char* key, auto* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::OK();
    return arch_limits::ReadValue(*it, "dino config", key, out);
  };
  VQ2D_RETURN_IF_ERROR(read("img_size", &c.img_size));
  VQ2D_RETURN_IF_ERROR(read("patch_size", &c.patch_size));
  VQ2D_RETURN_IF_ERROR(read("in_chans", &c.in_chans));
  VQ2D_RETURN_IF_ERROR(read("embed_dim", &c.embed_dim));
  VQ2D_RETURN_IF_ERROR(read("depth", &c.depth));
  VQ2D_RETURN_IF_ERROR(read("num_heads", &c.num_heads));
  VQ2D_RETURN_IF_ERROR(read("mlp_ratio", &c.mlp_ratio));
  VQ2D_RETURN_IF_ERROR(read("qkv_bias", &c.qkv_bias));
  VQ2D_RETURN_IF_ERROR(read("layer_norm_eps", &c.layer_norm_eps));
  VQ2D_RETURN_IF_ERROR(read("interpolate_offset", &c.interpolate_offset));
  VQ2D_RETURN_IF_ERROR(c.Validate());
  return c;
}

namespace dino {

AttentionImpl::AttentionImpl(const DinoVitConfig& c) : num_heads(c.num_heads) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, 3 * c.embed_dim).bias(c.qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(c.embed_dim, c.embed_dim));
  scale = std::pow(static_cast<double>(c.embed_dim / c.num_heads), -0.5);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionOptions& options) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  auto qkv_out = qkv->forward(x).reshape({b, n, 3, num_heads, c / num_heads}).permute({2, 0, 3, 1, 4});
  auto o = ScaledDotProductAttention(qkv_out[0], qkv_out[1], qkv_out[2], scale, options);
  return proj->forward(o.transpose(1, 2).reshape({b, n, c}));
}

MlpImpl::MlpImpl(const DinoVitConfig& c) {
  const int64_t hidden = static_cast<int64_t>(static_cast<double>(c.embed_dim) * c.mlp_ratio);
  fc1 = register_module("fc1", torch::nn::Linear(c.embed_dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, c.embed_dim));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return fc2->forward(torch::gelu(fc1->forward(x))); }

BlockImpl::BlockImpl(const DinoVitConfig& c) {
  auto ln = torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", Attention(c));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(c));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const AttentionOptions& options) {
  auto y = x + attn->forward(norm1->forward(x), options);
  return y + mlp->forward(norm2->forward(y));
}

}  // namespace dino

DinoVisionTransformerImpl::DinoVisionTransformerImpl(const DinoVitConfig& config) : config_(config) {
  auto st = config.Validate();
  TORCH_CHECK(st.ok(), st.message());
  const int64_t d = config.embed_dim;
  const int64_t grid = config.img_size / config.patch_size;
  patch_embed = register_module("patch_embed", dinov2::PatchEmbed(config.in_chans, d, config.patch_size));
  cls_token = register_parameter("cls_token", torch::zeros({1, 1, d}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, grid * grid + 1, d}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.depth; ++i) blocks->push_back(dino::Block(config));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(config.layer_norm_eps)));
}

torch::Tensor DinoVisionTransformerImpl::InterpolatePosEncoding(int64_t npatch, int64_t height, int64_t width) const {
  const int64_t n = pos_embed.size(1) - 1;
  if (npatch == n && height == width) return pos_embed;
  const auto dtype = pos_embed.scalar_type();
  const bool upcast = pos_embed.device().is_cpu() && dtype != torch::kFloat && dtype != torch::kDouble;
  auto pe = upcast ? pos_embed.to(torch::kFloat) : pos_embed;
  const int64_t dim = pe.size(2);
  const double sqrt_n = std::sqrt(static_cast<double>(n));
  const int64_t m = static_cast<int64_t>(sqrt_n);
  TORCH_CHECK(m * m == n, "dino: pos_embed has ", n, " patch entries, not a square grid");
  const double h0 = static_cast<double>(height / config_.patch_size) + config_.interpolate_offset;
  const double w0 = static_cast<double>(width / config_.patch_size) + config_.interpolate_offset;
  const double sh = h0 / sqrt_n, sw = w0 / sqrt_n;
  const int64_t oh = static_cast<int64_t>(static_cast<double>(m) * sh);
  const int64_t ow = static_cast<int64_t>(static_cast<double>(m) * sw);
  auto grid = pe.narrow(1, 1, n).reshape({1, m, m, dim}).permute({0, 3, 1, 2});
  auto out = at::upsample_bicubic2d(grid, {oh, ow}, false, sh, sw);
  TORCH_CHECK(oh == static_cast<int64_t>(h0) && ow == static_cast<int64_t>(w0), "dino: interpolated pos_embed is ",
              oh, "x", ow);
  out = out.permute({0, 2, 3, 1}).reshape({1, -1, dim});
  auto res = torch::cat({pe.narrow(1, 0, 1), out}, 1);
  return upcast ? res.to(dtype) : res;
}

torch::Tensor DinoVisionTransformerImpl::PrepareTokens(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == config_.in_chans, "dino: images must be [B,", config_.in_chans,
              ",H,W], got ", images.sizes());
  auto x = patch_embed->forward(images);
  x = torch::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1);
  return x + InterpolatePosEncoding(x.size(1) - 1, images.size(2), images.size(3));
}

std::vector<torch::Tensor> DinoVisionTransformerImpl::GetIntermediateLayers(const torch::Tensor& images, int64_t n) {
  auto x = PrepareTokens(images);
  std::vector<torch::Tensor> out;
  const int64_t depth = static_cast<int64_t>(blocks->size());
  for (int64_t i = 0; i < depth; ++i) {
    x = blocks->ptr<dino::BlockImpl>(i)->forward(x, attention_options_);
    if (depth - i <= n) out.push_back(norm->forward(x));
  }
  return out;
}

}  // namespace vq2d
