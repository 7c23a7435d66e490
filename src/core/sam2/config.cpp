// SAM 2.1 configuration: presets and the JSON config tree (sam2.1_hiera_*.yaml "model").
// Behaviour follows the reference modules described in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"
#include "core/json_key.h"
#include "vq2d/base/arch_limits.h"

namespace vq2d::sam2 {

std::vector<int> Sam2Config::StageEnds() const {
  std::vector<int> ends;
  int acc = 0;
  for (int s : stages) {
    acc += s;
    ends.push_back(acc - 1);
  }
  return ends;
}

std::vector<int> Sam2Config::QPoolBlocks() const {
  std::vector<int> ends = StageEnds();
  std::vector<int> out;
  for (size_t i = 0; i + 1 < ends.size() && static_cast<int>(out.size()) < q_pool; ++i) out.push_back(ends[i] + 1);
  return out;
}

int Sam2Config::Depth() const {
  int d = 0;
  for (int s : stages) d += s;
  return d;
}

std::vector<int> Sam2Config::BackboneChannelList() const {
  std::vector<int> ch;
  int c = embed_dim;
  for (size_t i = 0; i < stages.size(); ++i) {
    ch.insert(ch.begin(), c);
    c *= 2;
  }
  return ch;
}

Result<Sam2Config> Sam2Preset(const std::string& variant) {
  Sam2Config c;
  if (variant == "tiny" || variant == "t") {
    c.embed_dim = 96, c.num_heads = 1, c.stages = {1, 2, 7, 2}, c.global_att_blocks = {5, 7, 9};
    c.window_spec = {8, 4, 14, 7}, c.window_pos_embed_bkg_spatial_size = {7, 7};
  } else if (variant == "small" || variant == "s") {
    c.embed_dim = 96, c.num_heads = 1, c.stages = {1, 2, 11, 2}, c.global_att_blocks = {7, 10, 13};
    c.window_spec = {8, 4, 14, 7}, c.window_pos_embed_bkg_spatial_size = {7, 7};
  } else if (variant == "base_plus" || variant == "b+") {
    c.embed_dim = 112, c.num_heads = 2, c.stages = {2, 3, 16, 3}, c.global_att_blocks = {12, 16, 20};
    c.window_spec = {8, 4, 14, 7}, c.window_pos_embed_bkg_spatial_size = {14, 14};
  } else if (variant == "large" || variant == "l") {
    c.embed_dim = 144, c.num_heads = 2, c.stages = {2, 6, 36, 4}, c.global_att_blocks = {23, 33, 43};
    c.window_spec = {8, 4, 16, 8}, c.window_pos_embed_bkg_spatial_size = {7, 7};
  } else {
    return Status::InvalidArgument(
        StrCat("unknown SAM 2.1 variant '", variant, "' (expected tiny, small, base_plus or large)"));
  }
  return c;
}

namespace {

template <typename T>
Status ReadOpt(const nlohmann::json& j, const char* key, T* out) {
  return core_internal::ReadOptionalKey(j, key, out, "SAM 2 config");
}

// Bounds of every size that allocates (arch_limits, docs/models.md "Architecture bounds").
Status CheckSam2Bounds(const Sam2Config& c) {
  namespace L = arch_limits;
  const char* w = "SAM 2 config";
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "embed_dim", c.embed_dim, 1, L::kMaxWidth / 8));  // stages double it 3 times
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "num_heads", c.num_heads, 1, L::kMaxHeads / 8));
  for (int s : c.stages) VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "stages[i]", s, 1, L::kMaxDepth));
  for (int s : c.window_spec) VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "window_spec[i]", s, 1, L::kMaxImageSize));
  for (int s : c.window_pos_embed_bkg_spatial_size)
    VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "window_pos_embed_bkg_spatial_size[i]", s, 1, L::kMaxImageSize));
  for (int s : c.global_att_blocks) VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "global_att_blocks[i]", s, 0, 4 * L::kMaxDepth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "q_pool", c.q_pool, 0, 3));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "d_model", c.d_model, 1, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "scalp", c.scalp, 0, 3));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "memory_attention.num_layers", c.mem_attn_layers, 1, L::kMaxDepth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "dim_feedforward", c.mem_attn_dim_feedforward, 1, L::kMaxFeedForward));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "memory_encoder.out_dim", c.mem_dim, 1, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "memory_encoder.in_dim", c.memenc_in_dim, 1, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "mask_downsampler.embed_dim", c.mask_downsampler_embed_dim, 1, L::kMaxWidth));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "num_maskmem", c.num_maskmem, 1, L::kMaxTokens));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "image_size", c.image_size, 1, L::kMaxImageSize));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "backbone_stride", c.backbone_stride, 1, L::kMaxPatch));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "max_obj_ptrs_in_encoder", c.max_obj_ptrs_in_encoder, 0, L::kMaxTokens));
  VQ2D_RETURN_IF_ERROR(
      L::CheckRange(w, "memory_temporal_stride_for_eval", c.memory_temporal_stride_for_eval, 1, L::kMaxTokens));
  VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "fill_hole_area", c.fill_hole_area, 0, L::kMaxImageSize * 64));
  for (int s : c.fpn_top_down_levels) VQ2D_RETURN_IF_ERROR(L::CheckRange(w, "fpn_top_down_levels[i]", s, 0, 3));
  return Status::OK();
}

}  // namespace

Result<Sam2Config> Sam2ConfigFromJson(const nlohmann::json& config) {
  Sam2Config c;
  const nlohmann::json& m = config.contains("model") ? config["model"] : config;
  if (!m.is_object()) return Status::InvalidArgument("SAM 2 config: 'model' is not an object");
  static const nlohmann::json kEmpty = nlohmann::json::object();
  auto sub = [](const nlohmann::json& j, const char* k) -> const nlohmann::json& {
    return j.is_object() && j.contains(k) && j[k].is_object() ? j[k] : kEmpty;
  };
  const auto& ie = sub(m, "image_encoder");
  const auto& trunk = sub(ie, "trunk");
  const auto& neck = sub(ie, "neck");
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "embed_dim", &c.embed_dim));
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "num_heads", &c.num_heads));
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "stages", &c.stages));
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "global_att_blocks", &c.global_att_blocks));
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "window_spec", &c.window_spec));
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "q_pool", &c.q_pool));
  std::vector<int> bkg{c.window_pos_embed_bkg_spatial_size[0], c.window_pos_embed_bkg_spatial_size[1]};
  VQ2D_RETURN_IF_ERROR(ReadOpt(trunk, "window_pos_embed_bkg_spatial_size", &bkg));
  if (bkg.size() != 2) return Status::InvalidArgument("SAM 2 config: window_pos_embed_bkg_spatial_size needs 2 values");
  c.window_pos_embed_bkg_spatial_size = {bkg[0], bkg[1]};
  VQ2D_RETURN_IF_ERROR(ReadOpt(ie, "scalp", &c.scalp));
  VQ2D_RETURN_IF_ERROR(ReadOpt(neck, "d_model", &c.d_model));
  VQ2D_RETURN_IF_ERROR(ReadOpt(neck, "fpn_top_down_levels", &c.fpn_top_down_levels));
  if (neck.contains("fpn_interp_model") && neck["fpn_interp_model"] != "nearest")
    return Status::InvalidArgument("SAM 2 config: only fpn_interp_model 'nearest' is supported");
  std::vector<int> channels;
  VQ2D_RETURN_IF_ERROR(ReadOpt(neck, "backbone_channel_list", &channels));
  const auto& ma = sub(m, "memory_attention");
  const auto& layer = sub(ma, "layer");
  VQ2D_RETURN_IF_ERROR(ReadOpt(ma, "num_layers", &c.mem_attn_layers));
  VQ2D_RETURN_IF_ERROR(ReadOpt(layer, "dim_feedforward", &c.mem_attn_dim_feedforward));
  VQ2D_RETURN_IF_ERROR(ReadOpt(sub(layer, "self_attention"), "rope_theta", &c.rope_theta));
  const auto& me = sub(m, "memory_encoder");
  VQ2D_RETURN_IF_ERROR(ReadOpt(me, "out_dim", &c.mem_dim));
  c.memenc_in_dim = 256;
  c.mask_downsampler_embed_dim = 256;
  VQ2D_RETURN_IF_ERROR(ReadOpt(me, "in_dim", &c.memenc_in_dim));
  VQ2D_RETURN_IF_ERROR(ReadOpt(sub(me, "mask_downsampler"), "embed_dim", &c.mask_downsampler_embed_dim));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "num_maskmem", &c.num_maskmem));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "image_size", &c.image_size));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "backbone_stride", &c.backbone_stride));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "sigmoid_scale_for_mem_enc", &c.sigmoid_scale_for_mem_enc));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "sigmoid_bias_for_mem_enc", &c.sigmoid_bias_for_mem_enc));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "max_obj_ptrs_in_encoder", &c.max_obj_ptrs_in_encoder));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "memory_temporal_stride_for_eval", &c.memory_temporal_stride_for_eval));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "binarize_mask_from_pts_for_mem_enc", &c.binarize_mask_from_pts_for_mem_enc));
  VQ2D_RETURN_IF_ERROR(ReadOpt(m, "fill_hole_area", &c.fill_hole_area));
  const auto& extra = sub(m, "sam_mask_decoder_extra_args");
  c.dynamic_multimask_via_stability = false;
  VQ2D_RETURN_IF_ERROR(ReadOpt(extra, "dynamic_multimask_via_stability", &c.dynamic_multimask_via_stability));
  VQ2D_RETURN_IF_ERROR(ReadOpt(extra, "dynamic_multimask_stability_delta", &c.dynamic_multimask_stability_delta));
  VQ2D_RETURN_IF_ERROR(ReadOpt(extra, "dynamic_multimask_stability_thresh", &c.dynamic_multimask_stability_thresh));
  if (c.stages.size() != 4 || c.window_spec.size() != 4)
    return Status::InvalidArgument("SAM 2 config: Hiera needs 4 stages and 4 window sizes");
  if (!channels.empty() && channels != c.BackboneChannelList())
    return Status::InvalidArgument("SAM 2 config: neck.backbone_channel_list does not match the Hiera widths");
  VQ2D_RETURN_IF_ERROR(CheckSam2Bounds(c));
  if (c.mem_attn_layers < 1 || c.d_model % c.mem_dim != 0)
    return Status::InvalidArgument("SAM 2 config: memory attention needs >= 1 layer and d_model % mem_dim == 0");
  return c;
}

}  // namespace vq2d::sam2
