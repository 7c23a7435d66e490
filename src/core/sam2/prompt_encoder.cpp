// SAM 2.1 prompt encoder (points, boxes, masks).
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

PromptEncoderImpl::PromptEncoderImpl(int64_t embed_dim_, int64_t embed_hw_, int64_t input_size_, int64_t mask_in_chans)
    : embed_dim(embed_dim_), embed_hw(embed_hw_), input_size(input_size_) {
  gaussian = RegBuffer(*this, "pe_layer.positional_encoding_gaussian_matrix", torch::randn({2, embed_dim / 2}));
  for (int i = 0; i < 4; ++i) point_embeddings.push_back(RegParam(*this, StrCat("point_embeddings.", i, ".weight"), {1, embed_dim}));
  not_a_point_embed = RegParam(*this, "not_a_point_embed.weight", {1, embed_dim});
  md0 = Reg(*this, "mask_downscaling.0",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(1, mask_in_chans / 4, 2).stride(2)));
  md1 = Reg(*this, "mask_downscaling.1", LayerNorm2d(mask_in_chans / 4, 1e-6));
  md3 = Reg(*this, "mask_downscaling.3",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(mask_in_chans / 4, mask_in_chans, 2).stride(2)));
  md4 = Reg(*this, "mask_downscaling.4", LayerNorm2d(mask_in_chans, 1e-6));
  md6 = Reg(*this, "mask_downscaling.6", torch::nn::Conv2d(mask_in_chans, embed_dim, 1));
  no_mask_embed = RegParam(*this, "no_mask_embed.weight", {1, embed_dim});
}

torch::Tensor PromptEncoderImpl::PeEncoding(const torch::Tensor& coords01) {
  auto c = 2 * coords01 - 1;
  c = torch::matmul(c, gaussian.to(c.scalar_type()));
  c = 2 * M_PI * c;
  return torch::cat({c.sin(), c.cos()}, -1);
}

torch::Tensor PromptEncoderImpl::EmbedPoints(const torch::Tensor& coords, const torch::Tensor& labels_in, bool pad) {
  auto pts = coords.to(torch::kFloat32) + 0.5;
  auto labels = labels_in.to(torch::kLong);
  if (pad) {
    pts = torch::cat({pts, torch::zeros({pts.size(0), 1, 2}, pts.options())}, 1);
    labels = torch::cat({labels, -torch::ones({labels.size(0), 1}, labels.options())}, 1);
  }
  auto scaled = pts / static_cast<double>(input_size);
  auto pe = PeEncoding(scaled);
  auto l = labels.unsqueeze(-1);
  pe = torch::where(l == -1, torch::zeros_like(pe) + not_a_point_embed, pe);
  for (int k = 0; k < 4; ++k) pe = torch::where(l == k, pe + point_embeddings[k], pe);
  return pe;
}

torch::Tensor PromptEncoderImpl::NoMaskDense(int64_t b) {
  return no_mask_embed.reshape({1, -1, 1, 1}).expand({b, -1, embed_hw, embed_hw});
}

torch::Tensor PromptEncoderImpl::EmbedMasks(const torch::Tensor& m) {
  auto x = torch::gelu(md1(md0(m)));
  x = torch::gelu(md4(md3(x)));
  return md6(x);
}

torch::Tensor PromptEncoderImpl::DensePe() {
  auto opt = gaussian.options();
  auto grid = torch::ones({embed_hw, embed_hw}, opt);
  auto y = (grid.cumsum(0) - 0.5) / static_cast<double>(embed_hw);
  auto x = (grid.cumsum(1) - 0.5) / static_cast<double>(embed_hw);
  return PeEncoding(torch::stack({x, y}, -1)).permute({2, 0, 1}).unsqueeze(0);
}

}  // namespace vq2d::sam2
