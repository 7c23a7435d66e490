// SAM 2.1 Hiera trunk (multi-scale blocks, windowed attention, q-pooling).
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

namespace {

torch::Tensor PoolChannelLast(const torch::Tensor& x) {  // [B,H,W,C] max-pool 2x2 stride 2
  return F::max_pool2d(x.permute({0, 3, 1, 2}), F::MaxPool2dFuncOptions(2).stride(2)).permute({0, 2, 3, 1});
}

// [B,H,W,C] -> ([B*nW,w,w,C], padded H,W)
std::pair<torch::Tensor, std::array<int64_t, 2>> WindowPartition(const torch::Tensor& x, int64_t w) {
  const int64_t b = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  const int64_t ph = (w - h % w) % w, pw = (w - wd % w) % w;
  torch::Tensor y = x;
  if (ph > 0 || pw > 0) y = F::pad(x, F::PadFuncOptions({0, 0, 0, pw, 0, ph}));
  const int64_t hp = h + ph, wp = wd + pw;
  y = y.view({b, hp / w, w, wp / w, w, c}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, w, w, c});
  return {y, {hp, wp}};
}

torch::Tensor WindowUnpartition(const torch::Tensor& win, int64_t w, std::array<int64_t, 2> pad_hw, int64_t h,
                                int64_t wd) {
  const int64_t hp = pad_hw[0], wp = pad_hw[1];
  const int64_t b = win.size(0) / (hp * wp / w / w);
  auto x = win.view({b, hp / w, wp / w, w, w, -1}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({b, hp, wp, -1});
  if (hp > h || wp > wd) x = x.narrow(1, 0, h).narrow(2, 0, wd).contiguous();
  return x;
}

}  // namespace

MultiScaleBlockImpl::MultiScaleBlockImpl(int64_t dim_, int64_t dim_out_, int64_t heads_, int window_, bool q_stride_)
    : dim(dim_), dim_out(dim_out_), heads(heads_), window(window_), q_stride(q_stride_) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6)));
  qkv = Reg(*this, "attn.qkv", torch::nn::Linear(dim, dim_out * 3));
  attn_proj = Reg(*this, "attn.proj", torch::nn::Linear(dim_out, dim_out));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim_out}).eps(1e-6)));
  mlp = register_module("mlp", Mlp(dim_out, dim_out * 4, dim_out, 2, MlpImpl::Act::kGelu));
  if (dim != dim_out) proj = register_module("proj", torch::nn::Linear(dim, dim_out));
}

torch::Tensor MultiScaleBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor shortcut = x;
  torch::Tensor xn = LN(norm1, x);
  if (dim != dim_out) {
    shortcut = proj(xn);
    if (q_stride) shortcut = PoolChannelLast(shortcut);
  }
  int64_t ws = window;
  int64_t h = xn.size(1), w = xn.size(2);
  std::array<int64_t, 2> pad_hw{h, w};
  torch::Tensor t = xn;
  if (ws > 0) std::tie(t, pad_hw) = WindowPartition(xn, ws);
  // Multi-scale attention.
  {
    const int64_t b = t.size(0), th = t.size(1), tw = t.size(2);
    auto qkv_t = qkv(t).reshape({b, th * tw, 3, heads, -1});
    auto q = qkv_t.select(2, 0), k = qkv_t.select(2, 1), v = qkv_t.select(2, 2);
    int64_t oh = th, ow = tw;
    if (q_stride) {
      q = PoolChannelLast(q.reshape({b, th, tw, -1}));
      oh = q.size(1), ow = q.size(2);
      q = q.reshape({b, oh * ow, heads, -1});
    }
    auto o = Attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
    t = attn_proj(o.transpose(1, 2).reshape({b, oh, ow, -1}));
  }
  if (q_stride) {
    ws = window / 2;
    h = shortcut.size(1), w = shortcut.size(2);
    if (ws > 0) pad_hw = {h + (ws - h % ws) % ws, w + (ws - w % ws) % ws};
  }
  if (ws > 0) t = WindowUnpartition(t, ws, pad_hw, h, w);
  auto y = shortcut + t;
  return y + mlp(LN(norm2, y));
}

HieraImpl::HieraImpl(const Sam2Config& cfg) {
  const int64_t c0 = cfg.embed_dim;
  patch_proj = Reg(*this, "patch_embed.proj",
                   torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c0, 7).stride(4).padding(3)));
  pos_embed = register_parameter(
      "pos_embed",
      torch::zeros({1, c0, cfg.window_pos_embed_bkg_spatial_size[0], cfg.window_pos_embed_bkg_spatial_size[1]}));
  pos_embed_window = register_parameter("pos_embed_window",
                                        torch::zeros({1, c0, cfg.window_spec[0], cfg.window_spec[0]}));
  stage_ends = cfg.StageEnds();
  const auto qpool = cfg.QPoolBlocks();
  auto in = [](const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  int64_t dim = c0, heads = cfg.num_heads;
  int cur_stage = 1;
  auto list = register_module("blocks", torch::nn::ModuleList());
  for (int i = 0; i < cfg.Depth(); ++i) {
    int64_t dim_out = dim;
    int window = cfg.window_spec[cur_stage - 1];
    if (in(cfg.global_att_blocks, i)) window = 0;
    if (in(stage_ends, i - 1)) {
      dim_out = dim * 2;
      heads = heads * 2;
      ++cur_stage;
    }
    blocks.push_back(MultiScaleBlock(dim, dim_out, heads, window, in(qpool, i)));
    list->push_back(blocks.back());
    dim = dim_out;
  }
}

torch::Tensor HieraImpl::PosEmbed(int64_t h, int64_t w) {
  auto pe = F::interpolate(pos_embed, F::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{h, w})
                                          .mode(torch::kBicubic)
                                          .align_corners(false));
  pe = pe + pos_embed_window.tile({1, 1, h / pos_embed_window.size(2), w / pos_embed_window.size(3)});
  return pe.permute({0, 2, 3, 1});
}

std::vector<torch::Tensor> HieraImpl::forward(const torch::Tensor& x) {
  auto t = patch_proj(x).permute({0, 2, 3, 1});
  t = t + PosEmbed(t.size(1), t.size(2));
  std::vector<torch::Tensor> outs;
  for (size_t i = 0; i < blocks.size(); ++i) {
    t = blocks[i]->forward(t);
    if (std::find(stage_ends.begin(), stage_ends.end(), static_cast<int>(i)) != stage_ends.end())
      outs.push_back(t.permute({0, 3, 1, 2}));
  }
  return outs;
}

}  // namespace vq2d::sam2
