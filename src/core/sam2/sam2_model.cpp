// SAM 2.1 model (SAM2Base): the modules and their top-level parameters.
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

Sam2ModelImpl::Sam2ModelImpl(const Sam2Config& c) : cfg(c) {
  const int64_t d = c.d_model;
  image_encoder = register_module("image_encoder", ImageEncoder(c));
  memory_attention = register_module("memory_attention", MemoryAttention(c));
  memory_encoder = register_module("memory_encoder", MemoryEncoder(c));
  maskmem_tpos_enc = register_parameter("maskmem_tpos_enc", torch::zeros({c.num_maskmem, 1, 1, c.mem_dim}));
  no_mem_embed = register_parameter("no_mem_embed", torch::zeros({1, 1, d}));
  no_mem_pos_enc = register_parameter("no_mem_pos_enc", torch::zeros({1, 1, d}));
  mask_downsample = register_module("mask_downsample", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 1, 4).stride(4)));
  sam_prompt_encoder = register_module(
      "sam_prompt_encoder", PromptEncoder(d, c.image_size / c.backbone_stride, c.image_size, 16));
  sam_mask_decoder = register_module("sam_mask_decoder", MaskDecoder(c));
  obj_ptr_proj = register_module("obj_ptr_proj", Mlp(d, d, d, 3));
  no_obj_ptr = register_parameter("no_obj_ptr", torch::zeros({1, d}));
  obj_ptr_tpos_proj = register_module("obj_ptr_tpos_proj", torch::nn::Linear(d, c.mem_dim));
  no_obj_embed_spatial = register_parameter("no_obj_embed_spatial", torch::zeros({1, c.mem_dim}));
  eval();
}

ImageEncoderOutput Sam2ModelImpl::ForwardImage(const torch::Tensor& images) {
  auto out = image_encoder(images);
  out.backbone_fpn[0] = sam_mask_decoder->conv_s0(out.backbone_fpn[0]);
  out.backbone_fpn[1] = sam_mask_decoder->conv_s1(out.backbone_fpn[1]);
  return out;
}

}  // namespace vq2d::sam2
