// REN region encoder (savya08/REN@e2204c5 model.py: PositionalEmbedding2D, AttentionLayer,
// MLPBlock, CrossAttentionBlock, RegionEncoder) in LibTorch, eval mode (dropout = identity).
//
// Parameter names equal the keys of `region_encoder_state` in REN's checkpoint.pth:
// prompt_proj, region_attention_layers.{i}.{query_norm, cross_attn.{q_proj,k_proj,v_proj,q_norm,
// k_norm,out_proj}, mlp_norm, mlp.{linear1,linear2}, out_norm}, out_norm, out_proj.
// The Fourier matrix G and the position tables are not parameters (not in the checkpoint); they
// are rebuilt exactly at construction: G = randn((2, D/2)) from a CPU generator seeded 42.
//
// Coordinates: prompts are integer pixels (y, x) of the R x R (R = image_resolution, 518) image fed
// to the backbone; features are the (R/p) x (R/p) patch grid (37 x 37), token index = row*37 + col.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <nlohmann/json_fwd.hpp>

#include <vector>

#include "vq2d/core/attention.h"
#include "vq2d/base/status.h"

namespace vq2d {

// Defaults: the VQ2D / ren-dinov2-vitl14 configuration.
struct RegionEncoderConfig {
  int64_t hidden_dim = 1024;      // D (= backbone feature dim)
  int64_t decoder_layers = 4;
  int64_t num_attention_heads = 8;
  int64_t mlp_dim = 0;            // 0 = 2 * hidden_dim (upstream)
  int64_t image_resolution = 518; // R
  int64_t patch_size = 14;        // p
  int64_t grid_size = 32;         // VQ prompt grid: grid_size^2 points on linspace(1, R-2)
  double layer_norm_eps = 1e-5;

  int64_t effective_mlp_dim() const { return mlp_dim > 0 ? mlp_dim : 2 * hidden_dim; }
  int64_t feature_grid() const { return image_resolution / patch_size; }
  Status Validate() const;
  // Reads REN's `ren` config keys (hidden_dim, decoder_layers, num_attention_heads, image_resolution,
  // patch_size, grid_size, upsample_features [must be false], mlp_dim, layernorm_eps).
  static Result<RegionEncoderConfig> FromJson(const nlohmann::json& j);
};

// ---- 2-D random-Fourier position encoding (PositionalEmbedding2D) ------------------------------

// G: (2, dim/2) float32 on CPU, torch.randn((2, dim//2), generator=Generator().manual_seed(42)).
torch::Tensor RenGaussianMatrix(int64_t dim);
// PE of normalised coordinates: coords [..., 2] float32 (x, y) in [0,1] -> [..., dim]
// = cat(sin(2π·((2c−1)@G)), cos(...)).
torch::Tensor RenFourierEncoding(const torch::Tensor& coords_xy, const torch::Tensor& gaussian);
// PE((h, w)): (dim, h, w), pixel (i, j) at ((j+0.5)/w, (i+0.5)/h).
torch::Tensor RenPositionalGrid(const torch::Tensor& gaussian, int64_t h, int64_t w);
// location_embeddings[:, y, x] of PE((R, R)) for integer points [..., 2] (y, x): [..., dim], computed
// directly (no R x R table).
torch::Tensor RenPointEmbeddings(const torch::Tensor& points_yx, const torch::Tensor& gaussian, int64_t resolution);
// VQ grid: (grid_size^2, 2) int64 (y, x), np.linspace(1, R-2, grid_size, dtype=int), y outer.
torch::Tensor RenGridPoints(int64_t resolution, int64_t grid_size);

// ---- Modules ------------------------------------------------------------------------------------
namespace ren {

class AttentionLayerImpl : public torch::nn::Module {
 public:
  AttentionLayerImpl(int64_t dim, int64_t num_heads, double eps);
  // q [B,Lq,D], kv [B,Lk,D]. Returns out [B,Lq,D]; when scores != nullptr, also the pre-softmax
  // logits [B,heads,Lq,Lk] (math path). project_values=false uses kv itself as values.
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& kv, bool project_values, torch::Tensor* scores,
                        const AttentionOptions& options);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  torch::nn::LayerNorm q_norm{nullptr}, k_norm{nullptr};
  int64_t num_heads;
  double scale;
};
TORCH_MODULE(AttentionLayer);

class MlpBlockImpl : public torch::nn::Module {
 public:
  MlpBlockImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
};
TORCH_MODULE(MlpBlock);

class CrossAttentionBlockImpl : public torch::nn::Module {
 public:
  explicit CrossAttentionBlockImpl(const RegionEncoderConfig& c);
  torch::Tensor forward(const torch::Tensor& query, const torch::Tensor& context, bool project_values,
                        torch::Tensor* scores, const AttentionOptions& options);
  torch::nn::LayerNorm query_norm{nullptr}, mlp_norm{nullptr}, out_norm{nullptr};
  AttentionLayer cross_attn{nullptr};
  MlpBlock mlp{nullptr};
};
TORCH_MODULE(CrossAttentionBlock);

}  // namespace ren

struct RegionEncoderOutput {
  torch::Tensor pred_tokens;               // [B,Q,D] ("ren" tokens; what VQ2D uses)
  torch::Tensor proj_tokens;               // [B,Q,D] ("aligned_ren")
  std::vector<torch::Tensor> attn_scores;  // per layer [B,heads,Q,L] pre-softmax; only when requested
};

class RegionEncoderImpl : public torch::nn::Module {
 public:
  explicit RegionEncoderImpl(const RegionEncoderConfig& config);

  // feature_tokens [B, L=(R/p)^2, D] (row-major patch tokens, e.g. DINOv2 output) or feature maps
  // [B, D, R/p, R/p]; prompt_embeddings [B,Q,D] or [Q,D] (shared by the batch).
  RegionEncoderOutput Forward(const torch::Tensor& features, const torch::Tensor& prompt_embeddings,
                              bool return_attn_scores = false);
  // Prompts = the cached VQ grid (grid_points()).
  RegionEncoderOutput ForwardGrid(const torch::Tensor& features, bool return_attn_scores = false);
  // Prompts = integer pixels points [B,P,2] or [P,2] (y, x) in [0, R-1].
  RegionEncoderOutput ForwardPoints(const torch::Tensor& features, const torch::Tensor& points,
                                    bool return_attn_scores = false);

  // Prompt embeddings of points [...,2] (y,x) on this module's device/dtype: [..., D].
  torch::Tensor PromptEmbeddings(const torch::Tensor& points) const;

  // Cached tables (on the module's device, in its dtype): feature PE [L, D], grid prompts [Q, D].
  const torch::Tensor& feature_embeddings() const { return feature_embeddings_; }
  const torch::Tensor& grid_prompt_embeddings() const { return grid_prompt_embeddings_; }
  const torch::Tensor& grid_points() const { return grid_points_; }  // [Q,2] int64 (y,x), CPU
  const torch::Tensor& gaussian() const { return gaussian_; }         // [2, D/2] fp32, CPU
  const RegionEncoderConfig& config() const { return config_; }
  AttentionOptions& attention_options() { return attention_options_; }

  // Moving/casting the module also moves/casts the cached tables (computed in fp32).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  torch::nn::Linear prompt_proj{nullptr};
  torch::nn::ModuleList region_attention_layers{nullptr};
  torch::nn::LayerNorm out_norm{nullptr};
  torch::nn::Linear out_proj{nullptr};

 private:
  void SyncTables();

  RegionEncoderConfig config_;
  AttentionOptions attention_options_;
  torch::Tensor gaussian_, grid_points_;
  torch::Tensor feature_embeddings_cpu_, grid_prompt_embeddings_cpu_;  // fp32 masters
  torch::Tensor feature_embeddings_, grid_prompt_embeddings_;
};
TORCH_MODULE(RegionEncoder);

}  // namespace vq2d
