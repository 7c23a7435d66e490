// Edge cases of upstream's float32 cosine arithmetic (MaxCosine) and the decisions that compare
// its scores: values that differ from a double-accumulated dot in the last bit, ties, NaN, zeros.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vq2d/pipeline/selection.h"

namespace vq2d::pipeline {
namespace {

torch::Tensor Rows(std::vector<std::vector<float>> r) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(r.size()), static_cast<int64_t>(r[0].size())});
  for (size_t i = 0; i < r.size(); ++i)
    for (size_t j = 0; j < r[i].size(); ++j) t[i][j] = r[i][j];
  return t;
}

const float kTiny = std::ldexp(1.0f, -24);

// q = (1, 2^-24, 2^-24, 0) has float32 norm 1. For a = (.5,.5,.5,.5): one FMA per step in k order
// gives 0.5 (each 0.5 + 2^-25 ties to even), a double accumulation gives 0.5 + 2^-24.
TEST(CosineArithmetic, LastBitIsUpstreamsSequentialFma) {
  torch::Tensor mx, am;
  MaxCosine(Rows({{0.5f, 0.5f, 0.5f, 0.5f}}), Rows({{1.f, kTiny, kTiny, 0.f}}), &mx, &am);
  EXPECT_EQ(mx[0].item<float>(), 0.5f);
  EXPECT_NE(static_cast<float>(0.5 + 2 * 0.5 * kTiny), 0.5f);  // what a double dot would give
}

// Same frame: b scores exactly 0.5, a scores 0.5 with upstream's arithmetic (0.50000006 with a
// double dot). Upstream keeps both (ties at the frame max), NMS takes the first: b.
TEST(CosineArithmetic, LastBitDecidesIntraFrameTieAndNms) {
  const torch::Tensor objects = Rows({{0.5f, -0.5f, 0.5f, 0.5f}, {0.5f, 0.5f, 0.5f, 0.5f}});
  const torch::Tensor queries = Rows({{1.f, kTiny, kTiny, 0.f}});
  SelectorParams p;
  p.top_p = 0.5;
  Selection s = SelectCandidates(objects, queries, torch::tensor({3, 3}, torch::kInt64), torch::Tensor(), 99, p);
  ASSERT_EQ(s.upstream_error, "");
  EXPECT_EQ(s.object_scores[0].item<float>(), 0.5f);
  EXPECT_EQ(s.object_scores[1].item<float>(), 0.5f);
  EXPECT_EQ(s.idxs, std::vector<int64_t>{0});
}

TEST(CosineArithmetic, DuplicateQueriesTieToTheFirst) {
  torch::Tensor mx, am;
  MaxCosine(Rows({{1.f, 2.f, 3.f}}), Rows({{0.f, 0.f, 1.f}, {3.f, 2.f, 1.f}, {3.f, 2.f, 1.f}, {1.f, 2.f, 3.f}}), &mx, &am);
  EXPECT_EQ(am[0].item<int64_t>(), 3);
  MaxCosine(Rows({{1.f, 2.f, 3.f}}), Rows({{2.f, 4.f, 6.f}, {1.f, 2.f, 3.f}}), &mx, &am);
  EXPECT_EQ(am[0].item<int64_t>(), 0);  // same direction: identical bits, first wins
}

TEST(CosineArithmetic, NanQueryRowWinsAndZeroRowsScoreZero) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  torch::Tensor mx, am;
  MaxCosine(Rows({{1.f, 0.f}, {0.f, 0.f}}), Rows({{1.f, 0.f}, {nan, nan}}), &mx, &am);
  EXPECT_TRUE(std::isnan(mx[0].item<float>()));  // torch.max(dim) propagates NaN
  EXPECT_EQ(am[0].item<int64_t>(), 1);
  EXPECT_TRUE(std::isnan(mx[1].item<float>()));
  MaxCosine(Rows({{0.f, 0.f}}), Rows({{1.f, 0.f}}), &mx, &am);
  EXPECT_EQ(mx[0].item<float>(), 0.f);  // norm clamped to 1e-12: 0 / 1e-12 = 0
}

TEST(CosineArithmetic, EmptyInputs) {
  torch::Tensor mx, am;
  MaxCosine(torch::zeros({0, 4}), Rows({{1.f, 0.f, 0.f, 0.f}}), &mx, &am);
  EXPECT_EQ(mx.size(0), 0);
  Selection s = SelectCandidates(torch::zeros({0, 4}), Rows({{1.f, 0.f, 0.f, 0.f}}), torch::zeros({0}, torch::kInt64),
                                 torch::Tensor(), 0, SelectorParams());
  EXPECT_EQ(s.upstream_error, "RuntimeError");
}

}  // namespace
}  // namespace vq2d::pipeline
