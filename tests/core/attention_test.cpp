// The attention helper: chunked math == unchunked math; fused (LibTorch >= 2.1) == math.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vq2d/core/attention.h"

namespace vq2d {
namespace {

TEST(Attention, ChunkedMathEqualsUnchunked) {
  torch::manual_seed(0);
  auto q = torch::randn({2, 3, 37, 16}), k = torch::randn({2, 3, 29, 16}), v = torch::randn({2, 3, 29, 8});
  auto ref = AttentionMath(q, k, v, 0.25, 0);
  EXPECT_EQ(ref.sizes(), (std::vector<int64_t>{2, 3, 37, 8}));
  for (int64_t chunk : {1, 5, 36, 37, 100}) {
    auto got = AttentionMath(q, k, v, 0.25, chunk);
    EXPECT_TRUE(torch::allclose(got, ref, 1e-6, 1e-6)) << "chunk " << chunk;
  }
  // Explicit softmax formula.
  auto manual = torch::matmul(torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * 0.25, -1), v);
  EXPECT_TRUE(torch::allclose(ref, manual, 1e-6, 1e-6));
}

TEST(Attention, ScoreBudgetPicksChunks) {
  torch::manual_seed(1);
  auto q = torch::randn({1, 2, 50, 8}), k = torch::randn({1, 2, 40, 8}), v = torch::randn({1, 2, 40, 8});
  AttentionOptions tiny;
  tiny.use_fused = false;
  tiny.max_score_elements = 2 * 40 * 3;  // three query rows per block
  AttentionOptions none;
  none.use_fused = false;
  none.max_score_elements = 0;
  auto a = ScaledDotProductAttention(q, k, v, 0.3, tiny);
  auto b = ScaledDotProductAttention(q, k, v, 0.3, none);
  EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6));
}

TEST(Attention, FusedMatchesMathWhereAvailable) {
  torch::manual_seed(2);
  auto q = torch::randn({2, 4, 33, 16}), k = torch::randn({2, 4, 21, 16}), v = torch::randn({2, 4, 21, 16});
  AttentionOptions fused;
  auto got = ScaledDotProductAttention(q, k, v, 0.125, fused);
  auto ref = AttentionMath(q, k, v, 0.125, 0);
  EXPECT_TRUE(torch::allclose(got, ref, 1e-5, 1e-5));
  if (!FusedAttentionAvailable()) {
    // LibTorch < 2.1: the request for the fused path falls back to the exact math path.
    EXPECT_TRUE(torch::allclose(got, ref, 0, 0));
  }
}

TEST(Attention, RejectsMismatchedShapes) {
  auto q = torch::randn({1, 1, 4, 8}), k = torch::randn({1, 1, 5, 7}), v = torch::randn({1, 1, 5, 8});
  EXPECT_THROW(ScaledDotProductAttention(q, k, v, 1.0), c10::Error);
}

}  // namespace
}  // namespace vq2d
