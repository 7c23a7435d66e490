// RenEncoder behaviour that the fixtures do not pin down: chunking invariance, the filter rule on
// hand-made scores, bf16, input validation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vq2d/core/ren.h"

namespace vq2d {
namespace {

RenConfig SmallConfig() {
  RenConfig c;
  c.dinov2.embed_dim = 32;
  c.dinov2.depth = 2;
  c.dinov2.num_heads = 2;
  c.dinov2_block = 1;
  c.region_encoder.hidden_dim = 32;
  c.region_encoder.num_attention_heads = 4;
  c.region_encoder.grid_size = 4;
  return c;
}

TEST(RenEncoder, ShapesPointsAndChunkInvariance) {
  torch::manual_seed(0);
  auto enc = RenEncoder::Create(SmallConfig());
  ASSERT_TRUE(enc.ok()) << enc.status().ToString();
  auto frames = torch::randint(0, 256, {5, 60, 90, 3}, torch::kByte);
  auto a = (*enc)->Encode(frames, 1);
  auto b = (*enc)->Encode(frames, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->tokens.sizes(), (std::vector<int64_t>{5, 16, 32}));
  EXPECT_EQ(a->tokens.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::allclose(a->tokens, b->tokens, 1e-5, 1e-5));
  // Points: grid (y, x) scaled by (H/518, W/518).
  ASSERT_EQ(a->points.sizes(), (std::vector<int64_t>{16, 2}));
  auto grid = (*enc)->region_encoder()->grid_points().to(torch::kFloat);
  EXPECT_TRUE(torch::allclose(a->points.select(1, 0), grid.select(1, 0) * (60.0 / 518.0)));
  EXPECT_TRUE(torch::allclose(a->points.select(1, 1), grid.select(1, 1) * (90.0 / 518.0)));
  // Frame i alone gives the same tokens as inside the batch.
  auto single = (*enc)->Encode(frames.narrow(0, 3, 1));
  ASSERT_TRUE(single.ok());
  EXPECT_TRUE(torch::allclose(single->tokens[0], a->tokens[3], 1e-5, 1e-5));
  // Empty input is fine.
  auto none = (*enc)->Encode(frames.narrow(0, 0, 0));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->tokens.size(0), 0);
}

TEST(RenEncoder, FilterKeepsStrictlyAboveElseFirstArgmax) {
  // Tokens chosen so that cos with the single matching token (1,0) is known exactly.
  RenOutput enc;
  auto t = torch::zeros({2, 4, 2});
  // frame 0: cos = 1, 0.6, 0.6 (y-mixed), 0
  t[0][0] = torch::tensor({1.0f, 0.0f});
  t[0][1] = torch::tensor({0.6f, 0.8f});
  t[0][2] = torch::tensor({3.0f, 4.0f});
  t[0][3] = torch::tensor({0.0f, 1.0f});
  // frame 1: cos = 0.2, 0.5, 0.5, 0.1 -> all below 0.6: first argmax (index 1)
  t[1][0] = torch::tensor({0.2f, std::sqrt(1 - 0.04f)});
  t[1][1] = torch::tensor({0.5f, std::sqrt(0.75f)});
  t[1][2] = torch::tensor({0.5f, std::sqrt(0.75f)});
  t[1][3] = torch::tensor({0.1f, std::sqrt(0.99f)});
  enc.tokens = t;
  enc.points = torch::arange(8, torch::kFloat).view({4, 2});
  auto matching = torch::tensor({{2.0f, 0.0f}});
  auto f = RenEncoder::Filter(enc, matching, 0.6);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->counts.equal(torch::tensor({1, 1}, torch::kLong)));  // 0.6 is not > 0.6
  EXPECT_TRUE(f->indices.equal(torch::tensor({0, 1}, torch::kLong)));
  EXPECT_TRUE(f->frame_ids.equal(torch::tensor({0, 1}, torch::kLong)));
  EXPECT_TRUE(f->tokens[1].equal(t[1][1]));
  EXPECT_TRUE(f->points[1].equal(enc.points[1]));
  // A lower threshold keeps several tokens in grid order.
  auto g = RenEncoder::Filter(enc, matching, 0.3);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->counts.equal(torch::tensor({3, 2}, torch::kLong)));
  EXPECT_TRUE(g->indices.equal(torch::tensor({0, 1, 2, 1, 2}, torch::kLong)));
  // Bad matching tokens are an error, not a crash.
  EXPECT_FALSE(RenEncoder::Filter(enc, torch::zeros({1, 3}), 0.5).ok());
  EXPECT_FALSE(RenEncoder::Filter(enc, torch::zeros({0, 2}), 0.5).ok());
}

TEST(RenEncoder, Bfloat16RunsAndStaysClose) {
  torch::manual_seed(1);
  RenConfig c = SmallConfig();
  auto f32 = RenEncoder::Create(c);
  ASSERT_TRUE(f32.ok());
  c.dtype = torch::kBFloat16;
  auto bf16 = RenEncoder::Create(c);
  ASSERT_TRUE(bf16.ok()) << bf16.status().ToString();
  // Same weights in both.
  TensorMap d, r;
  for (const auto& p : (*f32)->dinov2()->named_parameters()) d[p.key()] = p.value().detach();
  for (const auto& p : (*f32)->region_encoder()->named_parameters()) r[p.key()] = p.value().detach();
  ASSERT_TRUE((*bf16)->LoadDinoV2(d).ok());
  ASSERT_TRUE((*bf16)->LoadRegionEncoder(r).ok());
  EXPECT_EQ((*bf16)->dinov2()->pos_embed.scalar_type(), torch::kBFloat16);
  auto frames = torch::randint(0, 256, {2, 40, 40, 3}, torch::kByte);
  auto a = (*f32)->Encode(frames);
  auto b = (*bf16)->Encode(frames);
  ASSERT_TRUE(a.ok() && b.ok()) << b.status().ToString();
  EXPECT_EQ(b->tokens.scalar_type(), torch::kFloat);
  auto cos = torch::cosine_similarity(a->tokens.flatten(0, 1), b->tokens.flatten(0, 1), 1);
  // Continuous, no decision on a near-tie, so the bound holds on any CPU: every token's cosine to
  // fp32 is >= 0.9992 with every bf16 kernel tried (oneDNN with AVX512-BF16 or emulated, ATen's own
  // kernels, ATEN_CPU_CAPABILITY=default/avx2, 1 or 2 threads); unrelated tokens give ~0.
  EXPECT_GT(cos.min().item<double>(), 0.98);
}

TEST(RenEncoder, RejectsBadInputAndConfig) {
  auto enc = RenEncoder::Create(SmallConfig());
  ASSERT_TRUE(enc.ok());
  EXPECT_FALSE((*enc)->Encode(torch::zeros({1, 8, 8, 3}, torch::kFloat)).ok());
  EXPECT_FALSE((*enc)->Encode(torch::zeros({1, 8, 8}, torch::kByte)).ok());
  EXPECT_FALSE((*enc)->Encode(torch::Tensor()).ok());
  RenConfig bad = SmallConfig();
  bad.dinov2_block = 2;
  EXPECT_FALSE(RenEncoder::Create(bad).ok());
  bad = SmallConfig();
  bad.region_encoder.hidden_dim = 64;
  EXPECT_FALSE(RenEncoder::Create(bad).ok());
  bad = SmallConfig();
  bad.dtype = torch::kHalf;
  EXPECT_FALSE(RenEncoder::Create(bad).ok());
  // Wrong weights: strict loading names the key.
  TensorMap wrong = {{"pos_embed", torch::zeros({1, 3, 32})}};
  auto st = (*enc)->LoadDinoV2(wrong);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("pos_embed"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace vq2d
