// DINOv2 vision transformer (facebookresearch/dinov2@b8931f7, DinoVisionTransformer as built by the
// torch.hub backbones: block_chunks 0, MemEffAttention without xFormers), in LibTorch.
//
// Parameter names equal the official checkpoints' keys (dinov2_vit{s,b,l,g}14[_reg4]_pretrain.pth),
// so those files load strictly: cls_token, pos_embed, [register_tokens], mask_token,
// patch_embed.proj.{weight,bias}, blocks.{i}.{norm1,attn.qkv,attn.proj,ls1.gamma,norm2,mlp.fc1,
// mlp.fc2 | mlp.w12,mlp.w3,ls2.gamma}, norm.{weight,bias}.
//
// Images: [B,3,H,W] float (the module's dtype), ImageNet-normalised, H and W multiples of the patch.
// Tokens are row-major over the (H/p)x(W/p) patch grid. Shape errors throw c10::Error.
// Thread-safety: forward passes are const on the weights; concurrent calls are safe under
// torch::NoGradGuard (the module is not modified).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/core/attention.h"
#include "vq2d/core/vit_blocks.h"

namespace vq2d {

// Architecture (hub argument names). Defaults: dinov2_vitl14. The block fields (embed_dim,
// num_heads, mlp_ratio, qkv/proj/ffn_bias, init_values, ffn_layer, layer_norm_eps) are vit::BlockConfig's.
struct DinoV2Config : vit::BlockConfig {
  DinoV2Config() {
    embed_dim = 1024;
    num_heads = 16;
    init_values = 1.0;
  }
  int64_t img_size = 518;
  int64_t patch_size = 14;
  int64_t in_chans = 3;
  int64_t depth = 24;
  int64_t num_register_tokens = 0;  // 0 or e.g. 4 (the *_reg4 checkpoints)
  bool interpolate_antialias = false;
  double interpolate_offset = 0.1;  // 0 = interpolate to an explicit size instead of a scale factor

  static DinoV2Config VitS14();
  static DinoV2Config VitB14();
  static DinoV2Config VitL14();
  static DinoV2Config VitG14();  // vit_giant2 + swiglufused
  int64_t head_dim() const { return embed_dim / num_heads; }
  Status Validate() const;
  // Reads the keys above from a JSON object (missing keys keep their defaults; "act" and
  // "attn_class" are accepted and ignored). Errors name the bad key.
  static Result<DinoV2Config> FromJson(const nlohmann::json& j);
  // The architecture of each of the `depth` blocks.
  const vit::BlockConfig& block() const { return *this; }
};


// One get_intermediate_layers output: patch tokens [B, gh*gw, D] and the class token [B, D].
struct DinoV2Layer {
  torch::Tensor patch_tokens;
  torch::Tensor cls_token;
};

class DinoV2VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit DinoV2VisionTransformerImpl(const DinoV2Config& config);

  // get_intermediate_layers(x, n=blocks, return_class_token=True, norm=norm): `blocks` are block
  // indices (0-based; REN uses {23}); outputs come in ascending block order. Register tokens are
  // dropped. Blocks after the last requested one are not run (their outputs are unused).
  std::vector<DinoV2Layer> GetIntermediateLayers(const torch::Tensor& images, const std::vector<int64_t>& blocks,
                                                 bool norm = true);
  // The n last blocks (upstream's integer `n`).
  std::vector<int64_t> LastBlocks(int64_t n) const;

  // interpolate_pos_encoding for an image of height x width pixels whose patch grid has npatch
  // tokens: [1, 1+npatch, D] in the module's dtype. Interpolation runs in fp32 like upstream.
  torch::Tensor InterpolatePosEncoding(int64_t npatch, int64_t height, int64_t width) const;

  // Tokens after the patch embedding, class/register tokens and position embedding: [B, 1+R+N, D].
  torch::Tensor PrepareTokens(const torch::Tensor& images);

  const DinoV2Config& config() const { return config_; }
  AttentionOptions& attention_options() { return attention_options_; }

  vit::PatchEmbed patch_embed{nullptr};
  torch::Tensor cls_token, pos_embed, register_tokens, mask_token;
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};

 private:
  DinoV2Config config_;
  AttentionOptions attention_options_;
};
TORCH_MODULE(DinoV2VisionTransformer);

// [B, gh*gw, D] row-major tokens -> [B, D, gh, gw] feature map (upstream permute + view).
torch::Tensor TokensToFeatureMap(const torch::Tensor& tokens, int64_t grid_h, int64_t grid_w);

}  // namespace vq2d
