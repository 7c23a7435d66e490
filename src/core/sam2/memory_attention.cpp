// SAM 2.1 attention with RoPE and the memory attention.
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads_, int64_t downsample, int64_t kv_in_dim, bool rope_,
                             bool rope_k_repeat_, double rope_theta_)
    : heads(heads_), internal_dim(dim / downsample), rope(rope_), rope_k_repeat(rope_k_repeat_),
      rope_theta(rope_theta_) {
  const int64_t kv = kv_in_dim > 0 ? kv_in_dim : dim;
  q_proj = register_module("q_proj", torch::nn::Linear(dim, internal_dim));
  k_proj = register_module("k_proj", torch::nn::Linear(kv, internal_dim));
  v_proj = register_module("v_proj", torch::nn::Linear(kv, internal_dim));
  out_proj = register_module("out_proj", torch::nn::Linear(internal_dim, dim));
}

namespace {

// Rotates consecutive (even, odd) pairs of x [B,H,N,D] by angles with cos/sin [N,D/2]; computed in fp32.
torch::Tensor Rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  auto xf = x.to(torch::kFloat32);
  auto shape = xf.sizes().vec();
  shape.back() /= 2;
  shape.push_back(2);
  auto pairs = xf.reshape(shape);
  auto a = pairs.select(-1, 0), b = pairs.select(-1, 1);
  auto re = a * cos - b * sin;
  auto im = a * sin + b * cos;
  return torch::stack({re, im}, -1).flatten(-2).to(x.scalar_type());
}

}  // namespace

torch::Tensor AttentionImpl::forward(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                     int64_t num_k_exclude_rope) {
  auto sep = [this](const torch::Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
  };
  auto q = sep(q_proj(q_in)), k = sep(k_proj(k_in)), v = sep(v_proj(v_in));
  if (rope) {
    const int64_t n = q.size(-2);
    if (!rope_cos_.defined() || rope_cos_.size(0) != n || rope_cos_.device() != q.device()) {
      const int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
      const int64_t dim = internal_dim / heads;
      auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(q.device());
      auto freqs = 1.0 / torch::pow(rope_theta, torch::arange(0, dim, 4, fopt).narrow(0, 0, dim / 4) / dim);
      auto t = torch::arange(side * side, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
      auto tx = torch::remainder(t, side).to(torch::kFloat32);
      auto ty = torch::div(t, side, "floor").to(torch::kFloat32);
      auto ang = torch::cat({torch::outer(tx, freqs), torch::outer(ty, freqs)}, -1);
      rope_cos_ = ang.cos();
      rope_sin_ = ang.sin();
    }
    q = Rotate(q, rope_cos_, rope_sin_);
    const int64_t nk = k.size(-2) - num_k_exclude_rope;
    if (nk > 0) {
      auto c = rope_cos_, s = rope_sin_;
      if (nk != n) {
        VQ2D_CHECK(rope_k_repeat && nk % n == 0);
        c = c.repeat({nk / n, 1});
        s = s.repeat({nk / n, 1});
      }
      auto kr = Rotate(k.narrow(-2, 0, nk), c, s);
      k = nk == k.size(-2) ? kr : torch::cat({kr, k.narrow(-2, nk, num_k_exclude_rope)}, -2);
    }
  }
  auto o = Attend(q, k, v);
  o = o.transpose(1, 2).reshape({o.size(0), o.size(2), -1});
  return out_proj(o);
}

MemoryAttentionLayerImpl::MemoryAttentionLayerImpl(const Sam2Config& cfg) {
  const int64_t d = cfg.d_model;
  self_attn = register_module("self_attn", Attention(d, 1, 1, -1, true, false, cfg.rope_theta));
  cross_attn_image =
      register_module("cross_attn_image", Attention(d, 1, 1, cfg.mem_dim, true, true, cfg.rope_theta));
  linear1 = register_module("linear1", torch::nn::Linear(d, cfg.mem_attn_dim_feedforward));
  linear2 = register_module("linear2", torch::nn::Linear(cfg.mem_attn_dim_feedforward, d));
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
}

torch::Tensor MemoryAttentionLayerImpl::forward(torch::Tensor tgt, const torch::Tensor& memory,
                                                const torch::Tensor& pos, int64_t num_k_exclude_rope) {
  auto t2 = LN(norm1, tgt);
  tgt = tgt + self_attn(t2, t2, t2);
  t2 = LN(norm2, tgt);
  tgt = tgt + cross_attn_image(t2, memory + pos, memory, num_k_exclude_rope);
  t2 = LN(norm3, tgt);
  return tgt + linear2(torch::relu(linear1(t2)));
}

MemoryAttentionImpl::MemoryAttentionImpl(const Sam2Config& cfg) {
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < cfg.mem_attn_layers; ++i) {
    layers.push_back(MemoryAttentionLayer(cfg));
    list->push_back(layers.back());
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.d_model})));
}

torch::Tensor MemoryAttentionImpl::forward(const torch::Tensor& curr, const torch::Tensor& memory,
                                           const torch::Tensor& curr_pos, const torch::Tensor& memory_pos,
                                           int64_t num_obj_ptr_tokens) {
  auto out = curr + 0.1 * curr_pos;
  out = out.transpose(0, 1);
  auto mem = memory.transpose(0, 1), mpos = memory_pos.transpose(0, 1);
  for (auto& l : layers) out = l->forward(out, mem, mpos, num_obj_ptr_tokens);
  return LN(norm, out).transpose(0, 1);
}

}  // namespace vq2d::sam2
