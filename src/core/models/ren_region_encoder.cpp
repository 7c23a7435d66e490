#include "vq2d/core/ren_region_encoder.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>

#include "vq2d/base/arch_limits.h"

#include <cmath>

namespace vq2d {

// ---- Config -----------------------------------------------------------------------------------

Status RegionEncoderConfig::Validate() const {
  if (hidden_dim <= 0 || hidden_dim % 2 != 0 || num_attention_heads <= 0 || hidden_dim % num_attention_heads != 0) {
    return Status::InvalidArgument(StrCat("region encoder: hidden_dim ", hidden_dim,
                                          " must be even and a multiple of num_attention_heads ", num_attention_heads));
  }
  if (decoder_layers <= 0) return Status::InvalidArgument(StrCat("region encoder: decoder_layers ", decoder_layers));
  if (patch_size <= 0 || image_resolution < patch_size) {
    return Status::InvalidArgument(StrCat("region encoder: image_resolution ", image_resolution, " / patch_size ",
                                          patch_size));
  }
  if (grid_size <= 0 || image_resolution < 3) {
    return Status::InvalidArgument(StrCat("region encoder: grid_size ", grid_size));
  }
  namespace L = arch_limits;
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "hidden_dim", hidden_dim, 2, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "decoder_layers", decoder_layers, 1, L::kMaxDepth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "num_attention_heads", num_attention_heads, 1, L::kMaxHeads));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "mlp_dim", mlp_dim, 0, L::kMaxFeedForward));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "image_resolution", image_resolution, 3, L::kMaxImageSize));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "patch_size", patch_size, 1, L::kMaxPatch));
  VQ2D_RETURN_IF_ERROR(L::CheckRange("region encoder", "grid_size", grid_size, 1, L::kMaxGrid));
  return Status::OK();
}

Result<RegionEncoderConfig> RegionEncoderConfig::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Status::InvalidArgument("region encoder config: expected a JSON object");
  RegionEncoderConfig c;
  auto read = [&](const char* key, auto* out) -> Status {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return Status::OK();
    return arch_limits::ReadValue(*it, "region encoder config", key, out);
  };
  VQ2D_RETURN_IF_ERROR(read("hidden_dim", &c.hidden_dim));
  VQ2D_RETURN_IF_ERROR(read("decoder_layers", &c.decoder_layers));
  VQ2D_RETURN_IF_ERROR(read("num_attention_heads", &c.num_attention_heads));
  VQ2D_RETURN_IF_ERROR(read("mlp_dim", &c.mlp_dim));
  VQ2D_RETURN_IF_ERROR(read("image_resolution", &c.image_resolution));
  VQ2D_RETURN_IF_ERROR(read("patch_size", &c.patch_size));
  VQ2D_RETURN_IF_ERROR(read("grid_size", &c.grid_size));
  VQ2D_RETURN_IF_ERROR(read("layernorm_eps", &c.layer_norm_eps));
  VQ2D_RETURN_IF_ERROR(read("layer_norm_eps", &c.layer_norm_eps));
  bool upsample = false;
  VQ2D_RETURN_IF_ERROR(read("upsample_features", &upsample));
  if (upsample) {
    return Status::Unimplemented("region encoder config: upsample_features true (never used by REN inference)");
  }
  VQ2D_RETURN_IF_ERROR(c.Validate());
  return c;
}

// ---- Position encoding ------------------------------------------------------------------------

torch::Tensor RenGaussianMatrix(int64_t dim) {
  at::Generator gen = at::detail::createCPUGenerator(42);
  return at::randn({2, dim / 2}, gen, at::TensorOptions().dtype(at::kFloat)).mul_(1.0);
}

torch::Tensor RenFourierEncoding(const torch::Tensor& coords_xy, const torch::Tensor& gaussian) {
  auto c = coords_xy.mul(2).sub(1);
  c = at::matmul(c, gaussian.to(c.device()));
  c = c.mul(2.0 * M_PI);
  return at::cat({c.sin(), c.cos()}, -1);
}

torch::Tensor RenPositionalGrid(const torch::Tensor& gaussian, int64_t h, int64_t w) {
  auto grid = at::ones({h, w}, gaussian.options());
  auto y = grid.cumsum(0).sub(0.5).div(static_cast<double>(h));
  auto x = grid.cumsum(1).sub(0.5).div(static_cast<double>(w));
  return RenFourierEncoding(at::stack({x, y}, -1), gaussian).permute({2, 0, 1});
}

torch::Tensor RenPointEmbeddings(const torch::Tensor& points_yx, const torch::Tensor& gaussian, int64_t resolution) {
  TORCH_CHECK(points_yx.size(-1) == 2, "points must be [..., 2] (y, x), got ", points_yx.sizes());
  TORCH_CHECK(!points_yx.is_floating_point(), "points must be integer pixels (y, x)");
  if (points_yx.device().is_cpu() && points_yx.numel() > 0) {
    TORCH_CHECK(points_yx.min().item<int64_t>() >= 0 && points_yx.max().item<int64_t>() < resolution,
                "points must lie in [0, ", resolution - 1, "]");
  }
  auto p = points_yx.to(at::kFloat).add(0.5).div(static_cast<double>(resolution));
  auto xy = at::stack({p.select(-1, 1), p.select(-1, 0)}, -1);
  return RenFourierEncoding(xy, gaussian);
}

torch::Tensor RenGridPoints(int64_t resolution, int64_t grid_size) {
  // np.linspace(1, R-2, n, dtype=int): i*step + start in float64 (last = stop), truncated.
  std::vector<int64_t> coords(grid_size);
  const double start = 1.0, stop = static_cast<double>(resolution - 2);
  const double step = grid_size > 1 ? (stop - start) / static_cast<double>(grid_size - 1) : 0.0;
  for (int64_t i = 0; i < grid_size; ++i) {
    double v = static_cast<double>(i) * step + start;
    if (grid_size > 1 && i == grid_size - 1) v = stop;
    coords[i] = static_cast<int64_t>(v);
  }
  auto out = at::empty({grid_size * grid_size, 2}, at::kLong);
  auto acc = out.accessor<int64_t, 2>();
  for (int64_t yi = 0; yi < grid_size; ++yi) {
    for (int64_t xi = 0; xi < grid_size; ++xi) {
      acc[yi * grid_size + xi][0] = coords[yi];
      acc[yi * grid_size + xi][1] = coords[xi];
    }
  }
  return out;
}

// ---- Modules ------------------------------------------------------------------------------------
namespace ren {

AttentionLayerImpl::AttentionLayerImpl(int64_t dim, int64_t heads, double eps) : num_heads(heads) {
  q_proj = register_module("q_proj", torch::nn::Linear(dim, dim));
  k_proj = register_module("k_proj", torch::nn::Linear(dim, dim));
  v_proj = register_module("v_proj", torch::nn::Linear(dim, dim));
  const int64_t head_dim = dim / heads;
  q_norm = register_module("q_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({head_dim}).eps(eps)));
  k_norm = register_module("k_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({head_dim}).eps(eps)));
  out_proj = register_module("out_proj", torch::nn::Linear(dim, dim));
  scale = std::pow(static_cast<double>(head_dim), -0.5);
}

torch::Tensor AttentionLayerImpl::forward(const torch::Tensor& q, const torch::Tensor& kv, bool project_values,
                                          torch::Tensor* scores, const AttentionOptions& options) {
  const int64_t b = q.size(0), lq = q.size(1), lk = kv.size(1), d = q.size(2);
  auto heads = [&](const torch::Tensor& t, int64_t len) { return t.view({b, len, num_heads, -1}).transpose(1, 2); };
  auto query = q_norm->forward(heads(q_proj->forward(q), lq));
  auto key = k_norm->forward(heads(k_proj->forward(kv), lk));
  auto value = project_values ? heads(v_proj->forward(kv), lk) : heads(kv.contiguous(), lk);
  torch::Tensor o;
  if (scores != nullptr) {
    *scores = at::matmul(query, key.transpose(-2, -1)).mul_(scale);
    o = at::matmul(at::softmax(*scores, -1), value);
  } else {
    o = ScaledDotProductAttention(query, key, value, scale, options);
  }
  return out_proj->forward(o.transpose(1, 2).contiguous().view({b, lq, d}));
}

MlpBlockImpl::MlpBlockImpl(int64_t dim, int64_t hidden) {
  linear1 = register_module("linear1", torch::nn::Linear(dim, hidden));
  linear2 = register_module("linear2", torch::nn::Linear(hidden, dim));
}

torch::Tensor MlpBlockImpl::forward(const torch::Tensor& x) { return linear2->forward(torch::gelu(linear1->forward(x))); }

CrossAttentionBlockImpl::CrossAttentionBlockImpl(const RegionEncoderConfig& c) {
  auto ln = torch::nn::LayerNormOptions({c.hidden_dim}).eps(c.layer_norm_eps);
  query_norm = register_module("query_norm", torch::nn::LayerNorm(ln));
  cross_attn = register_module("cross_attn", AttentionLayer(c.hidden_dim, c.num_attention_heads, c.layer_norm_eps));
  mlp_norm = register_module("mlp_norm", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", MlpBlock(c.hidden_dim, c.effective_mlp_dim()));
  out_norm = register_module("out_norm", torch::nn::LayerNorm(ln));
}

torch::Tensor CrossAttentionBlockImpl::forward(const torch::Tensor& query, const torch::Tensor& context,
                                               bool project_values, torch::Tensor* scores,
                                               const AttentionOptions& options) {
  auto x = cross_attn->forward(query_norm->forward(query), context, project_values, scores, options);
  x = x + query;
  auto y = mlp->forward(mlp_norm->forward(x));
  return out_norm->forward(y) + x;
}

}  // namespace ren

// ---- RegionEncoder ------------------------------------------------------------------------------

RegionEncoderImpl::RegionEncoderImpl(const RegionEncoderConfig& config) : config_(config) {
  auto st = config.Validate();
  TORCH_CHECK(st.ok(), st.message());
  const int64_t d = config.hidden_dim;
  prompt_proj = register_module("prompt_proj", torch::nn::Linear(d, d));
  region_attention_layers = register_module("region_attention_layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.decoder_layers; ++i) region_attention_layers->push_back(ren::CrossAttentionBlock(config));
  out_norm = register_module("out_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d}).eps(config.layer_norm_eps)));
  out_proj = register_module("out_proj", torch::nn::Linear(d, d));

  // Tables: computed once, in fp32 on CPU like upstream.
  gaussian_ = RenGaussianMatrix(d);
  const int64_t g = config.feature_grid();
  feature_embeddings_cpu_ = RenPositionalGrid(gaussian_, g, g).flatten(-2).permute({1, 0}).contiguous();
  grid_points_ = RenGridPoints(config.image_resolution, config.grid_size);
  grid_prompt_embeddings_cpu_ = RenPointEmbeddings(grid_points_, gaussian_, config.image_resolution).contiguous();
  SyncTables();
}

void RegionEncoderImpl::SyncTables() {
  const auto& w = prompt_proj->weight;
  feature_embeddings_ = feature_embeddings_cpu_.to(w.device(), w.scalar_type());
  grid_prompt_embeddings_ = grid_prompt_embeddings_cpu_.to(w.device(), w.scalar_type());
}

void RegionEncoderImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  SyncTables();
}
void RegionEncoderImpl::to(torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(dtype, non_blocking);
  SyncTables();
}
void RegionEncoderImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  SyncTables();
}

torch::Tensor RegionEncoderImpl::PromptEmbeddings(const torch::Tensor& points) const {
  const auto& w = prompt_proj->weight;
  auto pts = points.to(w.device());
  return RenPointEmbeddings(pts, gaussian_, config_.image_resolution).to(w.scalar_type());
}

RegionEncoderOutput RegionEncoderImpl::Forward(const torch::Tensor& features, const torch::Tensor& prompts,
                                               bool return_attn_scores) {
  const int64_t d = config_.hidden_dim, l = feature_embeddings_.size(0);
  torch::Tensor tokens;
  if (features.dim() == 4) {
    TORCH_CHECK(features.size(1) == d && features.size(2) * features.size(3) == l, "region encoder: feature maps ",
                features.sizes(), " expected [B,", d, ",", config_.feature_grid(), ",", config_.feature_grid(), "]");
    tokens = features.flatten(-2).permute({0, 2, 1});
  } else {
    TORCH_CHECK(features.dim() == 3 && features.size(1) == l && features.size(2) == d, "region encoder: feature tokens ",
                features.sizes(), " expected [B,", l, ",", d, "]");
    tokens = features;
  }
  const int64_t b = tokens.size(0);
  auto kv = tokens + feature_embeddings_.unsqueeze(0);
  TORCH_CHECK((prompts.dim() == 2 || (prompts.dim() == 3 && prompts.size(0) == b)) && prompts.size(-1) == d,
              "region encoder: prompt embeddings ", prompts.sizes(), " expected [B,Q,", d, "] or [Q,", d, "]");
  auto p = prompts.dim() == 2 ? prompts.unsqueeze(0).expand({b, -1, -1}) : prompts;
  auto q = prompt_proj->forward(p);
  RegionEncoderOutput out;
  const int64_t n = static_cast<int64_t>(region_attention_layers->size());
  for (int64_t i = 0; i < n; ++i) {
    q = q + p;
    torch::Tensor scores;
    auto layer = region_attention_layers->ptr<ren::CrossAttentionBlockImpl>(i);
    q = layer->forward(q, kv, /*project_values=*/i != n - 1, return_attn_scores ? &scores : nullptr,
                       attention_options_);
    if (return_attn_scores) out.attn_scores.push_back(scores);
  }
  out.pred_tokens = q;
  out.proj_tokens = out_proj->forward(out_norm->forward(q));
  return out;
}

RegionEncoderOutput RegionEncoderImpl::ForwardGrid(const torch::Tensor& features, bool return_attn_scores) {
  return Forward(features, grid_prompt_embeddings_, return_attn_scores);
}

RegionEncoderOutput RegionEncoderImpl::ForwardPoints(const torch::Tensor& features, const torch::Tensor& points,
                                                     bool return_attn_scores) {
  return Forward(features, PromptEmbeddings(points), return_attn_scores);
}

}  // namespace vq2d
