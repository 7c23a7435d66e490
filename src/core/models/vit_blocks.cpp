#include "vq2d/core/vit_blocks.h"

#include <torch/nn/functional/activation.h>

#include <cmath>

namespace vq2d::vit {

PatchEmbedImpl::PatchEmbedImpl(int64_t in_chans, int64_t embed_dim, int64_t patch_size) {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_chans, embed_dim, patch_size).stride(patch_size)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& x) {
  return proj->forward(x).flatten(2).transpose(1, 2);
}

LayerScaleImpl::LayerScaleImpl(int64_t dim, double init_values) {
  gamma = register_parameter("gamma", torch::full({dim}, init_values));
}

AttentionImpl::AttentionImpl(const BlockConfig& c) : num_heads(c.num_heads) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, 3 * c.embed_dim).bias(c.qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, c.embed_dim).bias(c.proj_bias)));
  scale = std::pow(static_cast<double>(c.embed_dim / c.num_heads), -0.5);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionOptions& options) {
  const int64_t b = x.size(0), n = x.size(1), c = x.size(2);
  auto qkv_out = qkv->forward(x).reshape({b, n, 3, num_heads, c / num_heads});
  auto parts = qkv_out.unbind(2);
  auto q = parts[0].transpose(1, 2), k = parts[1].transpose(1, 2), v = parts[2].transpose(1, 2);
  auto o = ScaledDotProductAttention(q, k, v, scale, options);
  return proj->forward(o.transpose(1, 2).contiguous().view({b, n, c}));
}

FfnImpl::FfnImpl(const BlockConfig& c) {
  const int64_t hidden = static_cast<int64_t>(static_cast<double>(c.embed_dim) * c.mlp_ratio);
  if (c.ffn_layer == "mlp") {
    fc1 = register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, hidden).bias(c.ffn_bias)));
    fc2 = register_module("fc2", torch::nn::Linear(torch::nn::LinearOptions(hidden, c.embed_dim).bias(c.ffn_bias)));
  } else {  // SwiGLUFFNFused: hidden = (int(hidden * 2 / 3) + 7) // 8 * 8
    swiglu = true;
    const int64_t h = (static_cast<int64_t>(static_cast<double>(hidden) * 2.0 / 3.0) + 7) / 8 * 8;
    w12 = register_module("w12", torch::nn::Linear(torch::nn::LinearOptions(c.embed_dim, 2 * h).bias(c.ffn_bias)));
    w3 = register_module("w3", torch::nn::Linear(torch::nn::LinearOptions(h, c.embed_dim).bias(c.ffn_bias)));
  }
}

torch::Tensor FfnImpl::forward(const torch::Tensor& x) {
  if (!swiglu) return fc2->forward(torch::gelu(fc1->forward(x)));
  auto x12 = w12->forward(x).chunk(2, -1);
  return w3->forward(torch::silu(x12[0]) * x12[1]);
}

BlockImpl::BlockImpl(const BlockConfig& c) {
  auto ln = torch::nn::LayerNormOptions({c.embed_dim}).eps(c.layer_norm_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", Attention(c));
  if (c.init_values != 0.0) ls1 = register_module("ls1", LayerScale(c.embed_dim, c.init_values));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Ffn(c));
  if (c.init_values != 0.0) ls2 = register_module("ls2", LayerScale(c.embed_dim, c.init_values));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const AttentionOptions& options) {
  auto a = attn->forward(norm1->forward(x), options);
  if (ls1) a = ls1->forward(a);
  auto y = x + a;
  auto m = mlp->forward(norm2->forward(y));
  if (ls2) m = ls2->forward(m);
  return y + m;
}

}  // namespace vq2d::vit
