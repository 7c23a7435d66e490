// The built SAM 2.1 models expose exactly the official checkpoint keys and shapes (docs/sam2.md,
// state-dict keys): the expected list is generated here from that key table, independently of the modules.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>

#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {
namespace {

using Shapes = std::map<std::string, std::vector<int64_t>>;

void Linear(Shapes& s, const std::string& p, int64_t out, int64_t in) {
  s[p + ".weight"] = {out, in};
  s[p + ".bias"] = {out};
}
void Norm(Shapes& s, const std::string& p, int64_t c) {
  s[p + ".weight"] = {c};
  s[p + ".bias"] = {c};
}
void Conv(Shapes& s, const std::string& p, int64_t out, int64_t in, int64_t k) {
  s[p + ".weight"] = {out, in, k, k};
  s[p + ".bias"] = {out};
}

// Official SAM 2.1 key list for a Hiera trunk of width C, stage depths, bkg PE size (d_model 256, mem 64).
Shapes OfficialKeys(int64_t C, std::vector<int> stages, int64_t bkg) {
  Shapes s;
  s["maskmem_tpos_enc"] = {7, 1, 1, 64};
  s["no_mem_embed"] = {1, 1, 256};
  s["no_mem_pos_enc"] = {1, 1, 256};
  s["no_obj_ptr"] = {1, 256};
  s["no_obj_embed_spatial"] = {1, 64};
  Conv(s, "mask_downsample", 1, 1, 4);
  for (int i = 0; i < 3; ++i) Linear(s, "obj_ptr_proj.layers." + std::to_string(i), 256, 256);
  Linear(s, "obj_ptr_tpos_proj", 64, 256);
  const std::string t = "image_encoder.trunk.";
  s[t + "pos_embed"] = {1, C, bkg, bkg};
  s[t + "pos_embed_window"] = {1, C, 8, 8};
  Conv(s, t + "patch_embed.proj", C, 3, 7);
  int blk = 0;
  int64_t ci = C;
  for (size_t st = 0; st < stages.size(); ++st) {
    const int64_t co = C << st;
    for (int j = 0; j < stages[st]; ++j, ++blk) {
      const std::string b = t + "blocks." + std::to_string(blk) + ".";
      Norm(s, b + "norm1", ci);
      Linear(s, b + "attn.qkv", 3 * co, ci);
      Linear(s, b + "attn.proj", co, co);
      Norm(s, b + "norm2", co);
      Linear(s, b + "mlp.layers.0", 4 * co, co);
      Linear(s, b + "mlp.layers.1", co, 4 * co);
      if (ci != co) Linear(s, b + "proj", co, ci);
      ci = co;
    }
  }
  for (int i = 0; i < 4; ++i) Conv(s, "image_encoder.neck.convs." + std::to_string(i) + ".conv", 256, C << (3 - i), 1);
  for (int l = 0; l < 4; ++l) {
    const std::string p = "memory_attention.layers." + std::to_string(l) + ".";
    for (const char* n : {"q_proj", "k_proj", "v_proj", "out_proj"}) Linear(s, p + "self_attn." + n, 256, 256);
    Linear(s, p + "cross_attn_image.q_proj", 256, 256);
    Linear(s, p + "cross_attn_image.k_proj", 256, 64);
    Linear(s, p + "cross_attn_image.v_proj", 256, 64);
    Linear(s, p + "cross_attn_image.out_proj", 256, 256);
    Linear(s, p + "linear1", 2048, 256);
    Linear(s, p + "linear2", 256, 2048);
    for (const char* n : {"norm1", "norm2", "norm3"}) Norm(s, p + n, 256);
  }
  Norm(s, "memory_attention.norm", 256);
  const std::string md = "memory_encoder.mask_downsampler.encoder.";
  Conv(s, md + "0", 4, 1, 3);
  Norm(s, md + "1", 4);
  Conv(s, md + "3", 16, 4, 3);
  Norm(s, md + "4", 16);
  Conv(s, md + "6", 64, 16, 3);
  Norm(s, md + "7", 64);
  Conv(s, md + "9", 256, 64, 3);
  Norm(s, md + "10", 256);
  Conv(s, md + "12", 256, 256, 1);
  Conv(s, "memory_encoder.pix_feat_proj", 256, 256, 1);
  for (int i = 0; i < 2; ++i) {
    const std::string f = "memory_encoder.fuser.layers." + std::to_string(i) + ".";
    s[f + "gamma"] = {256};
    s[f + "dwconv.weight"] = {256, 1, 7, 7};
    s[f + "dwconv.bias"] = {256};
    Norm(s, f + "norm", 256);
    Linear(s, f + "pwconv1", 1024, 256);
    Linear(s, f + "pwconv2", 256, 1024);
  }
  Conv(s, "memory_encoder.out_proj", 64, 256, 1);
  const std::string pe = "sam_prompt_encoder.";
  s[pe + "pe_layer.positional_encoding_gaussian_matrix"] = {2, 128};
  for (int i = 0; i < 4; ++i) s[pe + "point_embeddings." + std::to_string(i) + ".weight"] = {1, 256};
  s[pe + "not_a_point_embed.weight"] = {1, 256};
  s[pe + "no_mask_embed.weight"] = {1, 256};
  Conv(s, pe + "mask_downscaling.0", 4, 1, 2);
  Norm(s, pe + "mask_downscaling.1", 4);
  Conv(s, pe + "mask_downscaling.3", 16, 4, 2);
  Norm(s, pe + "mask_downscaling.4", 16);
  Conv(s, pe + "mask_downscaling.6", 256, 16, 1);
  const std::string d = "sam_mask_decoder.";
  auto attn = [&](const std::string& p, int64_t inner) {
    for (const char* n : {"q_proj", "k_proj", "v_proj"}) Linear(s, p + "." + n, inner, 256);
    Linear(s, p + ".out_proj", 256, inner);
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = d + "transformer.layers." + std::to_string(l) + ".";
    attn(p + "self_attn", 256);
    attn(p + "cross_attn_token_to_image", 128);
    attn(p + "cross_attn_image_to_token", 128);
    Linear(s, p + "mlp.layers.0", 2048, 256);
    Linear(s, p + "mlp.layers.1", 256, 2048);
    for (const char* n : {"norm1", "norm2", "norm3", "norm4"}) Norm(s, p + n, 256);
  }
  attn(d + "transformer.final_attn_token_to_image", 128);
  Norm(s, d + "transformer.norm_final_attn", 256);
  s[d + "iou_token.weight"] = {1, 256};
  s[d + "mask_tokens.weight"] = {4, 256};
  s[d + "obj_score_token.weight"] = {1, 256};
  s[d + "output_upscaling.0.weight"] = {256, 64, 2, 2};
  s[d + "output_upscaling.0.bias"] = {64};
  Norm(s, d + "output_upscaling.1", 64);
  s[d + "output_upscaling.3.weight"] = {64, 32, 2, 2};
  s[d + "output_upscaling.3.bias"] = {32};
  Conv(s, d + "conv_s0", 32, 256, 1);
  Conv(s, d + "conv_s1", 64, 256, 1);
  for (int i = 0; i < 4; ++i) {
    const std::string p = d + "output_hypernetworks_mlps." + std::to_string(i) + ".layers.";
    Linear(s, p + "0", 256, 256);
    Linear(s, p + "1", 256, 256);
    Linear(s, p + "2", 32, 256);
  }
  Linear(s, d + "iou_prediction_head.layers.0", 256, 256);
  Linear(s, d + "iou_prediction_head.layers.1", 256, 256);
  Linear(s, d + "iou_prediction_head.layers.2", 4, 256);
  Linear(s, d + "pred_obj_score_head.layers.0", 256, 256);
  Linear(s, d + "pred_obj_score_head.layers.1", 256, 256);
  Linear(s, d + "pred_obj_score_head.layers.2", 1, 256);
  return s;
}

Shapes Built(Sam2Model& m) {
  Shapes s;
  for (const auto& p : m->named_parameters(true)) s[p.key()] = p.value().sizes().vec();
  for (const auto& p : m->named_buffers(true)) s[p.key()] = p.value().sizes().vec();
  return s;
}

struct Variant {
  const char* name;
  int64_t C;
  std::vector<int> stages;
  int64_t bkg;
  size_t entries;
  int64_t params;
  std::vector<int> windows;
};

std::vector<int> Expand(std::initializer_list<std::pair<int, int>> runs) {
  std::vector<int> v;
  for (auto [w, n] : runs) v.insert(v.end(), n, w);
  return v;
}

TEST(Sam2Manifest, VariantsMatchOfficialKeyList) {
  const std::vector<Variant> variants = {
      {"tiny", 96, {1, 2, 7, 2}, 7, 471, 38962754, {8, 8, 4, 4, 14, 0, 14, 0, 14, 0, 14, 7}},
      {"small", 96, {1, 2, 11, 2}, 7, 519, 46060610, {8, 8, 4, 4, 14, 14, 14, 0, 14, 14, 0, 14, 14, 0, 14, 7}},
      {"base_plus", 112, {2, 3, 16, 3}, 14, 615, 80850434,
       {8, 8, 8, 4, 4, 4, 14, 14, 14, 14, 14, 14, 0, 14, 14, 14, 0, 14, 14, 14, 0, 14, 7, 7}},
      {"large", 144, {2, 6, 36, 4}, 7, 903, 224446898,
       Expand({{8, 3}, {4, 6}, {16, 14}, {0, 1}, {16, 9}, {0, 1}, {16, 9}, {0, 1}, {16, 1}, {8, 3}})},
  };
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    auto cfg = Sam2Preset(v.name);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    Sam2Model model(*cfg);
    const Shapes built = Built(model);
    const Shapes expected = OfficialKeys(v.C, v.stages, v.bkg);
    EXPECT_EQ(expected.size(), v.entries);
    EXPECT_EQ(built.size(), v.entries);
    for (const auto& [k, shape] : expected) {
      auto it = built.find(k);
      if (it == built.end()) {
        ADD_FAILURE() << "missing key " << k;
        continue;
      }
      EXPECT_EQ(it->second, shape) << k;
    }
    for (const auto& [k, shape] : built) EXPECT_TRUE(expected.count(k)) << "unexpected key " << k;
    int64_t n = 0;
    for (const auto& p : model->parameters()) n += p.numel();
    for (const auto& b : model->buffers()) n += b.numel();  // the measured count is over state-dict entries
    EXPECT_EQ(n, v.params);
    std::vector<int> windows;
    for (auto& b : model->image_encoder->trunk->blocks) windows.push_back(b->window);
    EXPECT_EQ(windows, v.windows);
  }
  EXPECT_FALSE(Sam2Preset("huge").ok());
}

}  // namespace
}  // namespace vq2d::sam2
