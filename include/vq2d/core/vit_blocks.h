// The transformer blocks DINO v1 (facebookresearch/dino@7c446df vision_transformer.py) and DINOv2
// (facebookresearch/dinov2@b8931f7 layers/) share: the same computation and parameter names, DINO
// v1 being DINOv2 without LayerScale, with biases everywhere and the GELU MLP.
//
// Parameter names (relative to a block): norm1, attn.qkv, attn.proj, [ls1.gamma], norm2,
// mlp.fc1, mlp.fc2 | mlp.w12, mlp.w3, [ls2.gamma]; the patch embedding: proj.
// Tensors: tokens [B, N, D] in the module's dtype. Shape errors throw c10::Error.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>

#include "vq2d/core/attention.h"

namespace vq2d::vit {

struct BlockConfig {
  int64_t embed_dim = 0;
  int64_t num_heads = 1;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  bool proj_bias = true;
  bool ffn_bias = true;
  double init_values = 0.0;       // LayerScale init; 0 = no LayerScale (no ls1/ls2 parameters)
  std::string ffn_layer = "mlp";  // "mlp" (fc1/GELU/fc2) or "swiglufused"/"swiglu" (w12/SiLU-gate/w3)
  double layer_norm_eps = 1e-6;
};

// Conv2d(in, D, k=p, s=p) patch embedding (identity norm): [B,C,H,W] -> [B, (H/p)*(W/p), D].
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t in_chans, int64_t embed_dim, int64_t patch_size);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

class LayerScaleImpl : public torch::nn::Module {
 public:
  LayerScaleImpl(int64_t dim, double init_values);
  torch::Tensor forward(const torch::Tensor& x) { return x * gamma; }
  torch::Tensor gamma;
};
TORCH_MODULE(LayerScale);

// Multi-head self-attention: qkv Linear, ScaledDotProductAttention (scale head_dim^-0.5), proj.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const AttentionOptions& options);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  int64_t num_heads;
  double scale;
};
TORCH_MODULE(Attention);

// Feed-forward: fc1 -> GELU -> fc2, or the fused SwiGLU (hidden (int(h * 2/3) + 7) // 8 * 8).
class FfnImpl : public torch::nn::Module {
 public:
  explicit FfnImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x);
  bool swiglu = false;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, w12{nullptr}, w3{nullptr};
};
TORCH_MODULE(Ffn);

// Pre-norm block: y = x + ls1(attn(norm1(x))); out = y + ls2(mlp(norm2(y))).
class BlockImpl : public torch::nn::Module {
 public:
  explicit BlockImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const AttentionOptions& options);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Ffn mlp{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};
};
TORCH_MODULE(Block);

}  // namespace vq2d::vit
