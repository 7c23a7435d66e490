// DINO v1 vision transformer (facebookresearch/dino@7c446df vision_transformer.VisionTransformer,
// num_classes 0), in LibTorch. Parameter names equal dino_vit{small,base}{8,16}_pretrain.pth keys:
// cls_token, pos_embed, patch_embed.proj.{weight,bias}, blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,
// mlp.fc1,mlp.fc2}.{weight,bias}, norm.{weight,bias}.
//
// Images: [B,3,H,W] float in the module's dtype (bf16 in the VQ path), ImageNet-normalised; the
// patch grid is floor(H/p) x floor(W/p). Shape errors throw c10::Error.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <nlohmann/json_fwd.hpp>

#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/core/attention.h"
#include "vq2d/core/vit_blocks.h"

namespace vq2d {

// Defaults: dino_vitb8 (vit_base, patch 8).
struct DinoVitConfig {
  int64_t img_size = 224;  // pos_embed covers (img_size/patch)^2 patches
  int64_t patch_size = 8;
  int64_t in_chans = 3;
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double layer_norm_eps = 1e-6;
  double interpolate_offset = 0.1;  // the "+0.1" of interpolate_pos_encoding

  static DinoVitConfig VitS8();
  static DinoVitConfig VitS16();
  static DinoVitConfig VitB8();
  static DinoVitConfig VitB16();
  Status Validate() const;
  static Result<DinoVitConfig> FromJson(const nlohmann::json& j);
  // The architecture of each block: the DINOv2 block without LayerScale, GELU MLP, biases.
  vit::BlockConfig BlockConfig() const;
};


class DinoVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit DinoVisionTransformerImpl(const DinoVitConfig& config);

  // get_intermediate_layers(x, n): outputs of the n last blocks, each after the final LayerNorm,
  // [B, 1+N, D] with CLS at token 0 then patch tokens row-major.
  std::vector<torch::Tensor> GetIntermediateLayers(const torch::Tensor& images, int64_t n = 1);

  // interpolate_pos_encoding(x, H, W) for npatch patch tokens: [1, 1+npatch, D], computed in the
  // pos_embed dtype (as upstream), except bf16/fp16 on CPU which is computed in fp32 and cast.
  torch::Tensor InterpolatePosEncoding(int64_t npatch, int64_t height, int64_t width) const;
  torch::Tensor PrepareTokens(const torch::Tensor& images);

  const DinoVitConfig& config() const { return config_; }
  AttentionOptions& attention_options() { return attention_options_; }

  torch::Tensor cls_token, pos_embed;
  vit::PatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  DinoVitConfig config_;
  AttentionOptions attention_options_;
};
TORCH_MODULE(DinoVisionTransformer);

}  // namespace vq2d
