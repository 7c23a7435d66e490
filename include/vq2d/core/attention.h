// Scaled dot-product attention shared by the ViTs and the REN region encoder.
//
// Inputs are [B, heads, L, d] tensors of one floating dtype on one device; the result is
// softmax(q·kᵀ·scale)·v, shape [B, heads, Lq, dv], same dtype/device. No mask, no dropout.
//
// Two paths:
//  * fused: at::scaled_dot_product_attention (LibTorch >= 2.1, where it takes a `scale`);
//  * math: matmul(q, kᵀ)·scale → softmax → matmul(·, v), computed in chunks of query rows so
//    the score block (B·heads·chunk·Lk elements) stays under `max_score_elements`. Chunking does
//    not change the math (each query row is independent).
// Thread-safety: pure functions.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace vq2d {

struct AttentionOptions {
  // Use the library's fused kernel when this LibTorch has one (never on 1.13).
  bool use_fused = true;
  // Math path: upper bound on the elements of one score block; 0 = no chunking.
  int64_t max_score_elements = int64_t{1} << 26;  // 256 MiB of fp32 scores
};

// True when ScaledDotProductAttention can take the fused path in this build.
bool FusedAttentionAvailable();

at::Tensor ScaledDotProductAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                     const AttentionOptions& options = {});

// The math path with an explicit query chunk (rows per block; <= 0 = all rows at once).
at::Tensor AttentionMath(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                         int64_t query_chunk);

}  // namespace vq2d
