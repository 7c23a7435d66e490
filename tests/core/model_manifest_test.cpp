// Key/shape manifests: the full-size models must expose exactly the parameter names and shapes of
// the official checkpoints, so a real file cannot fail strict loading on naming.
//  * dinov2_vitl14_pretrain.pth (DinoVisionTransformer, hub layout, block_chunks 0)
//  * dino_vitbase8_pretrain.pth (vision_transformer.vit_base(patch_size=8), num_classes 0)
//  * REN checkpoint.pth region_encoder_state for D = 1024 (docs/models.md, REN checkpoint layout)
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "vq2d/core/dino_vit.h"
#include "vq2d/core/dinov2.h"
#include "vq2d/core/ren_region_encoder.h"

namespace vq2d {
namespace {

using Manifest = std::map<std::string, std::vector<int64_t>>;

Manifest ManifestOf(torch::nn::Module& m) {
  Manifest out;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) out[p.key()] = p.value().sizes().vec();
  for (const auto& b : m.named_buffers(/*recurse=*/true)) out["buffer:" + b.key()] = b.value().sizes().vec();
  return out;
}

int64_t Count(const Manifest& m) {
  int64_t n = 0;
  for (const auto& [k, s] : m) {
    int64_t e = 1;
    for (auto v : s) e *= v;
    n += e;
  }
  return n;
}

void ExpectSame(const Manifest& got, const Manifest& want) {
  for (const auto& [k, s] : want) {
    auto it = got.find(k);
    if (it == got.end()) {
      ADD_FAILURE() << "missing key " << k;
    } else {
      EXPECT_EQ(it->second, s) << "shape of " << k;
    }
  }
  for (const auto& [k, s] : got) EXPECT_TRUE(want.count(k)) << "unexpected key " << k;
}

// Per-block entries, "{i}" replaced by the block index.
void AddBlocks(Manifest* m, const std::string& prefix, int64_t n, const Manifest& per_block) {
  for (int64_t i = 0; i < n; ++i) {
    for (const auto& [k, s] : per_block) (*m)[prefix + std::to_string(i) + "." + k] = s;
  }
}

TEST(ModelManifest, DinoV2VitL14MatchesOfficialCheckpoint) {
  DinoV2VisionTransformer model(DinoV2Config::VitL14());
  Manifest want = {
      {"cls_token", {1, 1, 1024}},
      {"pos_embed", {1, 1370, 1024}},
      {"mask_token", {1, 1024}},
      {"patch_embed.proj.weight", {1024, 3, 14, 14}},
      {"patch_embed.proj.bias", {1024}},
      {"norm.weight", {1024}},
      {"norm.bias", {1024}},
  };
  AddBlocks(&want, "blocks.", 24,
            {
                {"norm1.weight", {1024}},
                {"norm1.bias", {1024}},
                {"attn.qkv.weight", {3072, 1024}},
                {"attn.qkv.bias", {3072}},
                {"attn.proj.weight", {1024, 1024}},
                {"attn.proj.bias", {1024}},
                {"ls1.gamma", {1024}},
                {"norm2.weight", {1024}},
                {"norm2.bias", {1024}},
                {"mlp.fc1.weight", {4096, 1024}},
                {"mlp.fc1.bias", {4096}},
                {"mlp.fc2.weight", {1024, 4096}},
                {"mlp.fc2.bias", {1024}},
                {"ls2.gamma", {1024}},
            });
  ASSERT_EQ(want.size(), 7u + 24u * 14u);
  auto got = ManifestOf(*model);
  ExpectSame(got, want);
  EXPECT_EQ(Count(got), 304368640);
}

TEST(ModelManifest, DinoV2Reg4AddsRegisterTokens) {
  DinoV2Config c = DinoV2Config::VitS14();
  c.num_register_tokens = 4;
  DinoV2VisionTransformer model(c);
  auto got = ManifestOf(*model);
  ASSERT_TRUE(got.count("register_tokens"));
  EXPECT_EQ(got["register_tokens"], (std::vector<int64_t>{1, 4, 384}));
  EXPECT_EQ(got.size(), 8u + 12u * 14u);
}

TEST(ModelManifest, DinoV2GiantUsesSwiGlu) {
  DinoV2Config c = DinoV2Config::VitG14();
  c.depth = 1;  // one block is enough to check the layer names and shapes
  DinoV2VisionTransformer model(c);
  auto got = ManifestOf(*model);
  // SwiGLUFFNFused: hidden = (int(6144 * 2 / 3) + 7) // 8 * 8 = 4096
  EXPECT_EQ(got["blocks.0.mlp.w12.weight"], (std::vector<int64_t>{8192, 1536}));
  EXPECT_EQ(got["blocks.0.mlp.w3.weight"], (std::vector<int64_t>{1536, 4096}));
  EXPECT_FALSE(got.count("blocks.0.mlp.fc1.weight"));
}

TEST(ModelManifest, DinoVitB8MatchesOfficialCheckpoint) {
  DinoVisionTransformer model(DinoVitConfig::VitB8());
  Manifest want = {
      {"cls_token", {1, 1, 768}},
      {"pos_embed", {1, 785, 768}},
      {"patch_embed.proj.weight", {768, 3, 8, 8}},
      {"patch_embed.proj.bias", {768}},
      {"norm.weight", {768}},
      {"norm.bias", {768}},
  };
  AddBlocks(&want, "blocks.", 12,
            {
                {"norm1.weight", {768}},
                {"norm1.bias", {768}},
                {"attn.qkv.weight", {2304, 768}},
                {"attn.qkv.bias", {2304}},
                {"attn.proj.weight", {768, 768}},
                {"attn.proj.bias", {768}},
                {"norm2.weight", {768}},
                {"norm2.bias", {768}},
                {"mlp.fc1.weight", {3072, 768}},
                {"mlp.fc1.bias", {3072}},
                {"mlp.fc2.weight", {768, 3072}},
                {"mlp.fc2.bias", {768}},
            });
  ASSERT_EQ(want.size(), 6u + 12u * 12u);
  auto got = ManifestOf(*model);
  ExpectSame(got, want);
  EXPECT_EQ(Count(got), 85807872);
}

TEST(ModelManifest, RenRegionEncoderD1024MatchesCheckpoint) {
  RegionEncoder enc(RegionEncoderConfig{});
  Manifest want = {
      {"prompt_proj.weight", {1024, 1024}},
      {"prompt_proj.bias", {1024}},
      {"out_norm.weight", {1024}},
      {"out_norm.bias", {1024}},
      {"out_proj.weight", {1024, 1024}},
      {"out_proj.bias", {1024}},
  };
  AddBlocks(&want, "region_attention_layers.", 4,
            {
                {"query_norm.weight", {1024}},
                {"query_norm.bias", {1024}},
                {"cross_attn.q_proj.weight", {1024, 1024}},
                {"cross_attn.q_proj.bias", {1024}},
                {"cross_attn.k_proj.weight", {1024, 1024}},
                {"cross_attn.k_proj.bias", {1024}},
                {"cross_attn.v_proj.weight", {1024, 1024}},
                {"cross_attn.v_proj.bias", {1024}},
                {"cross_attn.q_norm.weight", {128}},
                {"cross_attn.q_norm.bias", {128}},
                {"cross_attn.k_norm.weight", {128}},
                {"cross_attn.k_norm.bias", {128}},
                {"cross_attn.out_proj.weight", {1024, 1024}},
                {"cross_attn.out_proj.bias", {1024}},
                {"mlp_norm.weight", {1024}},
                {"mlp_norm.bias", {1024}},
                {"mlp.linear1.weight", {2048, 1024}},
                {"mlp.linear1.bias", {2048}},
                {"mlp.linear2.weight", {1024, 2048}},
                {"mlp.linear2.bias", {1024}},
                {"out_norm.weight", {1024}},
                {"out_norm.bias", {1024}},
            });
  ASSERT_EQ(want.size(), 6u + 4u * 22u);
  auto got = ManifestOf(*enc);
  ExpectSame(got, want);
  EXPECT_EQ(Count(got), 35710976);  // docs/models.md, REN checkpoint layout
  // The tables are rebuilt, not loaded: not parameters or buffers, but present and sized.
  EXPECT_EQ(enc->feature_embeddings().sizes(), (std::vector<int64_t>{1369, 1024}));
  EXPECT_EQ(enc->grid_prompt_embeddings().sizes(), (std::vector<int64_t>{1024, 1024}));
  EXPECT_EQ(enc->gaussian().sizes(), (std::vector<int64_t>{2, 512}));
}

}  // namespace
}  // namespace vq2d
