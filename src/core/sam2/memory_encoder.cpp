// SAM 2.1 memory encoder (mask downsampler, CXBlock fuser).
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

CXBlockImpl::CXBlockImpl(int64_t dim) {
  dwconv = register_module("dwconv", torch::nn::Conv2d(torch::nn::Conv2dOptions(dim, dim, 7).padding(3).groups(dim)));
  norm = register_module("norm", LayerNorm2d(dim, 1e-6));
  pwconv1 = register_module("pwconv1", torch::nn::Linear(dim, 4 * dim));
  pwconv2 = register_module("pwconv2", torch::nn::Linear(4 * dim, dim));
  gamma = register_parameter("gamma", torch::full({dim}, 1e-6));
}

torch::Tensor CXBlockImpl::forward(const torch::Tensor& x) {
  auto y = norm(dwconv(x)).permute({0, 2, 3, 1});
  y = gamma * pwconv2(torch::gelu(pwconv1(y)));
  return x + y.permute({0, 3, 1, 2});
}

MemoryEncoderImpl::MemoryEncoderImpl(const Sam2Config& cfg) : out_dim(cfg.mem_dim) {
  int64_t cin = 1;
  for (int i = 0; i < 4; ++i) {
    const int64_t cout = cin * 4;
    ds_convs.push_back(Reg(*this, StrCat("mask_downsampler.encoder.", 3 * i),
                           torch::nn::Conv2d(torch::nn::Conv2dOptions(cin, cout, 3).stride(2).padding(1))));
    ds_norms.push_back(Reg(*this, StrCat("mask_downsampler.encoder.", 3 * i + 1), LayerNorm2d(cout, 1e-6)));
    cin = cout;
  }
  ds_final = Reg(*this, "mask_downsampler.encoder.12", torch::nn::Conv2d(cin, cfg.mask_downsampler_embed_dim, 1));
  pix_feat_proj = register_module("pix_feat_proj", torch::nn::Conv2d(cfg.memenc_in_dim, cfg.memenc_in_dim, 1));
  for (int i = 0; i < 2; ++i) fuser.push_back(Reg(*this, StrCat("fuser.layers.", i), CXBlock(cfg.memenc_in_dim)));
  if (cfg.mem_dim != cfg.memenc_in_dim)
    out_proj = register_module("out_proj", torch::nn::Conv2d(cfg.memenc_in_dim, cfg.mem_dim, 1));
}

std::pair<torch::Tensor, torch::Tensor> MemoryEncoderImpl::forward(const torch::Tensor& pix_feat, torch::Tensor masks,
                                                                   bool skip_mask_sigmoid) {
  if (!skip_mask_sigmoid) masks = torch::sigmoid(masks);
  for (size_t i = 0; i < ds_convs.size(); ++i) masks = torch::gelu(ds_norms[i]->forward(ds_convs[i]->forward(masks)));
  masks = ds_final(masks);
  auto x = pix_feat_proj(pix_feat.to(masks.device())) + masks;
  for (auto& b : fuser) x = b->forward(x);
  if (!out_proj.is_empty()) x = out_proj(x);
  auto pos = SinePositionEncoding(out_dim, x.size(0), x.size(2), x.size(3), x.options());
  return {x, pos};
}

}  // namespace vq2d::sam2
