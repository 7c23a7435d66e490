// SAM 2.1 image encoder: sine position encodings and the FPN neck over the Hiera trunk.
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

torch::Tensor SinePositionEncoding(int64_t num_pos_feats, int64_t b, int64_t h, int64_t w,
                                   const torch::TensorOptions& options) {
  const int64_t f = num_pos_feats / 2;
  const double scale = 2 * M_PI, eps = 1e-6;
  auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(options.device());
  auto y = torch::arange(1, h + 1, fopt).view({1, -1, 1}).expand({b, h, w});
  auto x = torch::arange(1, w + 1, fopt).view({1, 1, -1}).expand({b, h, w});
  y = y / (static_cast<double>(h) + eps) * scale;
  x = x / (static_cast<double>(w) + eps) * scale;
  auto dim_t = torch::arange(f, fopt);
  dim_t = torch::pow(10000.0, 2 * torch::floor_divide(dim_t, 2) / static_cast<double>(f));
  auto px = x.unsqueeze(-1) / dim_t;
  auto py = y.unsqueeze(-1) / dim_t;
  using torch::indexing::Slice;
  auto inter = [](const torch::Tensor& p) {
    return torch::stack({p.index({"...", Slice(0, torch::indexing::None, 2)}).sin(),
                         p.index({"...", Slice(1, torch::indexing::None, 2)}).cos()},
                        4)
        .flatten(3);
  };
  return torch::cat({inter(py), inter(px)}, 3).permute({0, 3, 1, 2}).to(options.dtype());
}

torch::Tensor Sine1d(const torch::Tensor& pos, int64_t dim) {
  const int64_t f = dim / 2;
  auto dim_t = torch::arange(f, pos.options().dtype(torch::kFloat32));
  dim_t = torch::pow(10000.0, 2 * torch::floor_divide(dim_t, 2) / static_cast<double>(f));
  auto p = pos.unsqueeze(-1) / dim_t;
  return torch::cat({p.sin(), p.cos()}, -1);
}

ImageEncoderImpl::ImageEncoderImpl(const Sam2Config& cfg) : scalp(cfg.scalp), d_model(cfg.d_model) {
  trunk = Reg(*this, "trunk", Hiera(cfg));
  const auto ch = cfg.BackboneChannelList();
  for (size_t i = 0; i < ch.size(); ++i)
    neck_convs.push_back(Reg(*this, StrCat("neck.convs.", i, ".conv"), torch::nn::Conv2d(ch[i], cfg.d_model, 1)));
  top_down = cfg.fpn_top_down_levels;
}

ImageEncoderOutput ImageEncoderImpl::forward(const torch::Tensor& x) {
  auto xs = trunk(x);
  const int n = static_cast<int>(neck_convs.size()) - 1;
  std::vector<torch::Tensor> out(n + 1), pos(n + 1);
  torch::Tensor prev;
  for (int i = n; i >= 0; --i) {
    auto lateral = neck_convs[n - i]->forward(xs[i]);
    const bool td = std::find(top_down.begin(), top_down.end(), i) != top_down.end();
    if (td && prev.defined()) {
      auto up = F::interpolate(prev.to(torch::kFloat32),
                               F::InterpolateFuncOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
      prev = lateral + up;
    } else {
      prev = lateral;
    }
    out[i] = prev;
    pos[i] = SinePositionEncoding(d_model, prev.size(0), prev.size(2), prev.size(3), prev.options());
  }
  ImageEncoderOutput r;
  const int keep = n + 1 - scalp;
  r.backbone_fpn.assign(out.begin(), out.begin() + keep);
  r.vision_pos_enc.assign(pos.begin(), pos.begin() + keep);
  r.vision_features = r.backbone_fpn.back();
  return r;
}

}  // namespace vq2d::sam2
