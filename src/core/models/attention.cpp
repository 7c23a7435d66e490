#include "vq2d/core/attention.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <algorithm>

namespace vq2d {

namespace {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
constexpr bool kHasFused = true;
#else
constexpr bool kHasFused = false;
#endif

at::Tensor AttentionBlock(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale) {
  at::Tensor scores = at::matmul(q, k.transpose(-2, -1)).mul_(scale);
  return at::matmul(at::softmax(scores, -1), v);
}
}  // namespace

bool FusedAttentionAvailable() { return kHasFused; }

at::Tensor AttentionMath(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                         int64_t query_chunk) {
  const int64_t lq = q.size(-2);
  if (query_chunk <= 0 || query_chunk >= lq) return AttentionBlock(q, k, v, scale);
  std::vector<int64_t> out_shape(q.sizes().begin(), q.sizes().end());
  out_shape.back() = v.size(-1);
  at::Tensor out = at::empty(out_shape, q.options());
  for (int64_t start = 0; start < lq; start += query_chunk) {
    const int64_t n = std::min(query_chunk, lq - start);
    out.narrow(-2, start, n).copy_(AttentionBlock(q.narrow(-2, start, n), k, v, scale));
  }
  return out;
}

at::Tensor ScaledDotProductAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                                     const AttentionOptions& options) {
  TORCH_CHECK(q.dim() >= 3 && k.dim() == q.dim() && v.dim() == q.dim(), "attention: q/k/v ranks differ");
  TORCH_CHECK(q.size(-1) == k.size(-1), "attention: q and k head dims differ: ", q.size(-1), " vs ", k.size(-1));
  TORCH_CHECK(k.size(-2) == v.size(-2), "attention: k and v lengths differ: ", k.size(-2), " vs ", v.size(-2));
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  if (options.use_fused) {
    return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, /*is_causal=*/false, scale);
  }
#endif
  int64_t chunk = 0;
  if (options.max_score_elements > 0) {
    const int64_t per_row = std::max<int64_t>(1, q.numel() / std::max<int64_t>(1, q.size(-1)) / q.size(-2) * k.size(-2));
    chunk = std::max<int64_t>(1, options.max_score_elements / per_row);
  }
  return AttentionMath(q, k, v, scale, chunk);
}

}  // namespace vq2d
