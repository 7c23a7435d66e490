// SAM 2.1 mask decoder (two-way transformer, hypernetwork heads).
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

TwoWayBlockImpl::TwoWayBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim, bool skip)
    : skip_first_layer_pe(skip) {
  self_attn = register_module("self_attn", Attention(dim, heads));
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  cross_attn_token_to_image = register_module("cross_attn_token_to_image", Attention(dim, heads, 2));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  mlp = register_module("mlp", Mlp(dim, mlp_dim, dim, 2, MlpImpl::Act::kRelu));
  norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  norm4 = register_module("norm4", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  cross_attn_image_to_token = register_module("cross_attn_image_to_token", Attention(dim, heads, 2));
}

std::pair<torch::Tensor, torch::Tensor> TwoWayBlockImpl::forward(torch::Tensor queries, torch::Tensor keys,
                                                                 const torch::Tensor& query_pe,
                                                                 const torch::Tensor& key_pe) {
  if (skip_first_layer_pe) {
    queries = self_attn(queries, queries, queries);
  } else {
    auto q = queries + query_pe;
    queries = queries + self_attn(q, q, queries);
  }
  queries = LN(norm1, queries);
  auto q = queries + query_pe;
  auto k = keys + key_pe;
  queries = LN(norm2, queries + cross_attn_token_to_image(q, k, keys));
  queries = LN(norm3, queries + mlp(queries));
  q = queries + query_pe;
  k = keys + key_pe;
  keys = LN(norm4, keys + cross_attn_image_to_token(k, q, queries));
  return {queries, keys};
}

MaskDecoderImpl::MaskDecoderImpl(const Sam2Config& cfg)
    : dynamic_stability(cfg.dynamic_multimask_via_stability), delta(cfg.dynamic_multimask_stability_delta),
      thresh(cfg.dynamic_multimask_stability_thresh) {
  const int64_t d = cfg.d_model;
  for (int i = 0; i < 2; ++i)
    layers.push_back(Reg(*this, StrCat("transformer.layers.", i), TwoWayBlock(d, 8, 2048, i == 0)));
  final_attn = Reg(*this, "transformer.final_attn_token_to_image", Attention(d, 8, 2));
  norm_final_attn = Reg(*this, "transformer.norm_final_attn", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  iou_token = RegParam(*this, "iou_token.weight", {1, d});
  mask_tokens = RegParam(*this, "mask_tokens.weight", {4, d});
  obj_score_token = RegParam(*this, "obj_score_token.weight", {1, d});
  up0 = Reg(*this, "output_upscaling.0",
            torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(d, d / 4, 2).stride(2)));
  up1 = Reg(*this, "output_upscaling.1", LayerNorm2d(d / 4, 1e-6));
  up3 = Reg(*this, "output_upscaling.3",
            torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(d / 4, d / 8, 2).stride(2)));
  conv_s0 = register_module("conv_s0", torch::nn::Conv2d(d, d / 8, 1));
  conv_s1 = register_module("conv_s1", torch::nn::Conv2d(d, d / 4, 1));
  for (int i = 0; i < 4; ++i) hyper.push_back(Reg(*this, StrCat("output_hypernetworks_mlps.", i), Mlp(d, d, d / 8, 3)));
  iou_head = register_module("iou_prediction_head", Mlp(d, 256, 4, 3, MlpImpl::Act::kRelu, true));
  obj_score_head = register_module("pred_obj_score_head", Mlp(d, d, 1, 3));
}

MaskDecoderOutput MaskDecoderImpl::PredictMasks(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                                                const torch::Tensor& sparse, const torch::Tensor& dense,
                                                bool repeat_image, const std::vector<torch::Tensor>& high_res) {
  auto out_tokens = torch::cat({obj_score_token, iou_token, mask_tokens}, 0);
  const auto dt = torch::promote_types(out_tokens.scalar_type(), sparse.scalar_type());
  out_tokens = out_tokens.unsqueeze(0).expand({sparse.size(0), -1, -1}).to(dt);
  auto tokens = torch::cat({out_tokens, sparse.to(dt)}, 1);
  const int64_t nb = tokens.size(0);
  auto src = repeat_image ? image_embeddings.repeat_interleave(nb, 0) : image_embeddings;
  VQ2D_CHECK(src.size(0) == nb);
  src = src + dense;
  auto pos_src = image_pe.repeat_interleave(nb, 0);
  const int64_t b = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);
  // Two-way transformer.
  auto keys = src.flatten(2).permute({0, 2, 1});
  auto key_pe = pos_src.flatten(2).permute({0, 2, 1});
  auto queries = tokens;
  for (auto& l : layers) std::tie(queries, keys) = l->forward(queries, keys, tokens, key_pe);
  queries = LN(norm_final_attn, queries + final_attn(queries + tokens, keys + key_pe, keys));
  auto hs = queries;
  auto iou_tok = hs.select(1, 1);
  auto mask_tok = hs.narrow(1, 2, 4);
  auto s = keys.transpose(1, 2).reshape({b, c, h, w});
  torch::Tensor up;
  if (high_res.size() == 2) {
    up = torch::gelu(up1(up0(s) + high_res[1]));
    up = torch::gelu(up3(up) + high_res[0]);
  } else {
    up = torch::gelu(up3(torch::gelu(up1(up0(s)))));
  }
  std::vector<torch::Tensor> hyp;
  for (int i = 0; i < 4; ++i) hyp.push_back(hyper[i]->forward(mask_tok.select(1, i)));
  auto hyper_in = torch::stack(hyp, 1);
  const int64_t uc = up.size(1), uh = up.size(2), uw = up.size(3);
  MaskDecoderOutput r;
  r.masks = torch::matmul(hyper_in, up.view({b, uc, uh * uw})).view({b, -1, uh, uw});
  r.iou_pred = iou_head(iou_tok);
  r.sam_tokens_out = mask_tok;
  r.object_score_logits = obj_score_head(hs.select(1, 0));
  return r;
}

torch::Tensor MaskDecoderImpl::StabilityScores(const torch::Tensor& logits) const {
  auto f = logits.flatten(-2);
  auto inter = (f > delta).sum(-1).to(torch::kFloat32);
  auto uni = (f > -delta).sum(-1).to(torch::kFloat32);
  return torch::where(uni > 0, inter / uni, torch::ones_like(inter));
}

MaskDecoderOutput MaskDecoderImpl::forward(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                                           const torch::Tensor& sparse, const torch::Tensor& dense,
                                           bool multimask_output, bool repeat_image,
                                           const std::vector<torch::Tensor>& high_res) {
  auto raw = PredictMasks(image_embeddings, image_pe, sparse, dense, repeat_image, high_res);
  MaskDecoderOutput r;
  r.object_score_logits = raw.object_score_logits;
  if (multimask_output) {
    r.masks = raw.masks.narrow(1, 1, 3);
    r.iou_pred = raw.iou_pred.narrow(1, 1, 3);
    r.sam_tokens_out = raw.sam_tokens_out.narrow(1, 1, 3);
    return r;
  }
  r.sam_tokens_out = raw.sam_tokens_out.narrow(1, 0, 1);
  if (dynamic_stability && !is_training()) {
    auto multi_logits = raw.masks.narrow(1, 1, 3);
    auto multi_iou = raw.iou_pred.narrow(1, 1, 3);
    auto best = multi_iou.argmax(-1);
    auto bi = torch::arange(multi_iou.size(0), best.options());
    auto best_logits = multi_logits.index({bi, best}).unsqueeze(1);
    auto best_iou = multi_iou.index({bi, best}).unsqueeze(1);
    auto single_logits = raw.masks.narrow(1, 0, 1);
    auto single_iou = raw.iou_pred.narrow(1, 0, 1);
    auto stable = StabilityScores(single_logits) >= thresh;  // [B,1]
    r.masks = torch::where(stable.unsqueeze(-1).unsqueeze(-1), single_logits, best_logits);
    r.iou_pred = torch::where(stable, single_iou, best_iou);
  } else {
    r.masks = raw.masks.narrow(1, 0, 1);
    r.iou_pred = raw.iou_pred.narrow(1, 0, 1);
  }
  return r;
}

}  // namespace vq2d::sam2
