// SAM 2.1 model in LibTorch: configuration (four official variants + arbitrary reduced widths) and the
// modules, with parameter names equal to the official state-dict keys (sam2.1_hiera_*.pt "model" dict).
//
// Layout conventions follow the reference (facebookresearch/sam2 c2ec8e1 as vendored by REN):
//   images [B,3,S,S] float ImageNet-normalised RGB (S = image_size, 1024); Hiera blocks take channel-last
//   [B,H,W,C]; memory attention is sequence-first [L,B,C].
// Thread-safety: a module may be used by one thread at a time (forward allocates no shared state except
// the lazily built constant caches, which are guarded by that same rule).
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "vq2d/base/status.h"

namespace vq2d::sam2 {

struct Sam2Config {
  // Hiera trunk.
  int embed_dim = 144;
  int num_heads = 2;
  std::vector<int> stages{2, 6, 36, 4};
  std::vector<int> global_att_blocks{23, 33, 43};
  std::array<int, 2> window_pos_embed_bkg_spatial_size{7, 7};
  std::vector<int> window_spec{8, 4, 16, 8};
  int q_pool = 3;
  // FPN neck (d_model is also the SAM hidden dim and the memory-attention width).
  int d_model = 256;
  std::vector<int> fpn_top_down_levels{2, 3};
  int scalp = 1;
  // Memory attention.
  int mem_attn_layers = 4;
  int mem_attn_dim_feedforward = 2048;
  double rope_theta = 10000.0;
  // Memory encoder.
  int mem_dim = 64;                         // memory_encoder.out_dim
  int memenc_in_dim = 256;                  // memory_encoder.in_dim
  int mask_downsampler_embed_dim = 256;     // memory_encoder.mask_downsampler.embed_dim
  // SAM2Base.
  int num_maskmem = 7;
  int image_size = 1024;
  int backbone_stride = 16;
  double sigmoid_scale_for_mem_enc = 20.0;
  double sigmoid_bias_for_mem_enc = -10.0;
  int max_obj_ptrs_in_encoder = 16;
  int memory_temporal_stride_for_eval = 1;
  // Builder overrides (apply_postprocessing=True and the video builder).
  bool dynamic_multimask_via_stability = true;
  double dynamic_multimask_stability_delta = 0.05;
  double dynamic_multimask_stability_thresh = 0.98;
  bool binarize_mask_from_pts_for_mem_enc = true;
  // Video hole filling (max area of a background component in the 256² logits); 0 = off, as upstream
  // REN ran it (sam2._C missing). The official video builder sets 8.
  int fill_hole_area = 0;

  // Derived.
  std::vector<int> StageEnds() const;
  std::vector<int> QPoolBlocks() const;
  int Depth() const;
  std::vector<int> BackboneChannelList() const;  // high->low channels reversed: [8C,4C,2C,C]
};

// The official SAM 2.1 presets: "tiny", "small", "base_plus", "large" (also accepts t/s/b+/l).
Result<Sam2Config> Sam2Preset(const std::string& variant);
// The config tree of sam2.1_hiera_*.yaml as stored in the fixtures' case.json["config"] ({"model": {...}}).
// Keys that are absent keep the defaults above (large). fill_hole_area is read too but the caller decides.
Result<Sam2Config> Sam2ConfigFromJson(const nlohmann::json& config);

// bf16 autocast for the scope of the guard on `device`'s type (CUDA: as upstream REN runs SAM 2; CPU:
// LibTorch's CPU autocast policy). No-op when `enabled` is false. Restores the previous state.
class Bf16AutocastGuard {
 public:
  Bf16AutocastGuard(bool enabled, torch::Device device);
  ~Bf16AutocastGuard();
  Bf16AutocastGuard(const Bf16AutocastGuard&) = delete;
  Bf16AutocastGuard& operator=(const Bf16AutocastGuard&) = delete;

 private:
  bool active_, cuda_, prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kFloat;
};

// ---------------------------------------------------------------------------------------------------
// Building blocks (public so the module-level fixtures can exercise them).

// Exact softmax(q kᵀ/√d) v over [B,H,N,D] tensors (public SDPA on LibTorch >= 2, chunked math otherwise).
torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

// LayerNorm over channels of [B,C,H,W] (reference LayerNorm2d, eps 1e-6).
struct LayerNorm2dImpl : torch::nn::Module {
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
  double eps;
};
TORCH_MODULE(LayerNorm2d);

// Linear stack with an activation between layers (reference sam2_utils.MLP), names layers.{i}.
struct MlpImpl : torch::nn::Module {
  enum class Act { kRelu, kGelu };
  MlpImpl(int64_t in, int64_t hidden, int64_t out, int num_layers, Act act = Act::kRelu, bool sigmoid = false);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::ModuleList layers;
  std::vector<torch::nn::Linear> linears;
  Act act;
  bool sigmoid;
};
TORCH_MODULE(Mlp);

struct MultiScaleBlockImpl : torch::nn::Module {
  MultiScaleBlockImpl(int64_t dim, int64_t dim_out, int64_t heads, int window, bool q_stride);
  torch::Tensor forward(const torch::Tensor& x);  // [B,H,W,dim] -> [B,H',W',dim_out]
  int64_t dim, dim_out, heads;
  int window;
  bool q_stride;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Linear qkv{nullptr}, attn_proj{nullptr}, proj{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(MultiScaleBlock);

struct HieraImpl : torch::nn::Module {
  explicit HieraImpl(const Sam2Config& cfg);
  std::vector<torch::Tensor> forward(const torch::Tensor& x);  // 4 levels [B,C_s,H_s,W_s], high-res first
  torch::Tensor PosEmbed(int64_t h, int64_t w);
  torch::Tensor pos_embed, pos_embed_window;
  torch::nn::Conv2d patch_proj{nullptr};
  std::vector<MultiScaleBlock> blocks;
  std::vector<int> stage_ends;
};
TORCH_MODULE(Hiera);

// Sine 2-D position encoding (normalize, scale 2π, temperature 10000): [B,C,H,W] -> [B,num_pos_feats,H,W].
torch::Tensor SinePositionEncoding(int64_t num_pos_feats, int64_t b, int64_t h, int64_t w,
                                   const torch::TensorOptions& options);
// get_1d_sine_pe: pos [...] -> [..., dim] (concatenated sin | cos).
torch::Tensor Sine1d(const torch::Tensor& pos, int64_t dim);

struct ImageEncoderOutput {
  torch::Tensor vision_features;              // [B,d,S/16,S/16]
  std::vector<torch::Tensor> vision_pos_enc;  // per kept level
  std::vector<torch::Tensor> backbone_fpn;    // kept levels, high-res first
};

struct ImageEncoderImpl : torch::nn::Module {
  explicit ImageEncoderImpl(const Sam2Config& cfg);
  ImageEncoderOutput forward(const torch::Tensor& x);
  Hiera trunk{nullptr};
  std::vector<torch::nn::Conv2d> neck_convs;  // neck.convs.{i}.conv, convs.0 <-> lowest resolution
  std::vector<int> top_down;
  int scalp, d_model;
};
TORCH_MODULE(ImageEncoder);

// Attention (two-way transformer) and RoPEAttention (memory attention), reference transformer.py.
struct AttentionImpl : torch::nn::Module {
  AttentionImpl(int64_t dim, int64_t heads, int64_t downsample = 1, int64_t kv_in_dim = -1, bool rope = false,
                bool rope_k_repeat = false, double rope_theta = 10000.0);
  torch::Tensor forward(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        int64_t num_k_exclude_rope = 0);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
  int64_t heads, internal_dim;
  bool rope, rope_k_repeat;
  double rope_theta;
  torch::Tensor rope_cos_, rope_sin_;  // cached [N, D/2] fp32
};
TORCH_MODULE(Attention);

struct MemoryAttentionLayerImpl : torch::nn::Module {
  MemoryAttentionLayerImpl(const Sam2Config& cfg);
  torch::Tensor forward(torch::Tensor tgt, const torch::Tensor& memory, const torch::Tensor& pos,
                        int64_t num_k_exclude_rope);
  Attention self_attn{nullptr}, cross_attn_image{nullptr};
  torch::nn::Linear linear1{nullptr}, linear2{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
};
TORCH_MODULE(MemoryAttentionLayer);

struct MemoryAttentionImpl : torch::nn::Module {
  explicit MemoryAttentionImpl(const Sam2Config& cfg);
  // Sequence-first: curr/curr_pos [L,B,d], memory/memory_pos [M,B,mem_dim]; the last num_obj_ptr_tokens
  // memory tokens are object-pointer tokens (no RoPE).
  torch::Tensor forward(const torch::Tensor& curr, const torch::Tensor& memory, const torch::Tensor& curr_pos,
                        const torch::Tensor& memory_pos, int64_t num_obj_ptr_tokens);
  std::vector<MemoryAttentionLayer> layers;
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(MemoryAttention);

struct CXBlockImpl : torch::nn::Module {
  explicit CXBlockImpl(int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d dwconv{nullptr};
  LayerNorm2d norm{nullptr};
  torch::nn::Linear pwconv1{nullptr}, pwconv2{nullptr};
  torch::Tensor gamma;
};
TORCH_MODULE(CXBlock);

struct MemoryEncoderImpl : torch::nn::Module {
  explicit MemoryEncoderImpl(const Sam2Config& cfg);
  // pix_feat [B,in_dim,h,w], masks [B,1,16h,16w] (already scaled if skip_mask_sigmoid).
  // Returns {vision_features [B,mem_dim,h,w], vision_pos_enc [B,mem_dim,h,w]}.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& pix_feat, torch::Tensor masks,
                                                  bool skip_mask_sigmoid);
  std::vector<torch::nn::Conv2d> ds_convs;
  std::vector<LayerNorm2d> ds_norms;
  torch::nn::Conv2d ds_final{nullptr}, pix_feat_proj{nullptr}, out_proj{nullptr};
  std::vector<CXBlock> fuser;
  int64_t out_dim;
};
TORCH_MODULE(MemoryEncoder);

struct PromptEncoderImpl : torch::nn::Module {
  PromptEncoderImpl(int64_t embed_dim, int64_t embed_hw, int64_t input_size, int64_t mask_in_chans = 16);
  // coords [B,N,2] in input-image pixels (no +0.5 yet), labels [B,N] int; pad appends (0,0)/-1.
  torch::Tensor EmbedPoints(const torch::Tensor& coords, const torch::Tensor& labels, bool pad);
  torch::Tensor NoMaskDense(int64_t b);               // [B,embed_dim,h,w]
  torch::Tensor EmbedMasks(const torch::Tensor& m);  // [B,1,4h,4w] -> [B,embed_dim,h,w]
  torch::Tensor DensePe();                            // [1,embed_dim,h,w]
  torch::Tensor PeEncoding(const torch::Tensor& coords01);
  torch::Tensor gaussian;
  std::vector<torch::Tensor> point_embeddings;
  torch::Tensor not_a_point_embed, no_mask_embed;
  torch::nn::Conv2d md0{nullptr}, md3{nullptr}, md6{nullptr};
  LayerNorm2d md1{nullptr}, md4{nullptr};
  int64_t embed_dim, embed_hw, input_size;
};
TORCH_MODULE(PromptEncoder);

struct TwoWayBlockImpl : torch::nn::Module {
  TwoWayBlockImpl(int64_t dim, int64_t heads, int64_t mlp_dim, bool skip_first_layer_pe);
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor queries, torch::Tensor keys,
                                                  const torch::Tensor& query_pe, const torch::Tensor& key_pe);
  Attention self_attn{nullptr}, cross_attn_token_to_image{nullptr}, cross_attn_image_to_token{nullptr};
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr}, norm4{nullptr};
  Mlp mlp{nullptr};
  bool skip_first_layer_pe;
};
TORCH_MODULE(TwoWayBlock);

struct MaskDecoderOutput {
  torch::Tensor masks;                // [B,M,4h,4w] low-res logits
  torch::Tensor iou_pred;             // [B,M]
  torch::Tensor sam_tokens_out;       // [B,M or 1,d] (pointer tokens)
  torch::Tensor object_score_logits;  // [B,1]
};

struct MaskDecoderImpl : torch::nn::Module {
  MaskDecoderImpl(const Sam2Config& cfg);
  // Raw predict_masks: all 4 masks/IoUs, all 4 mask tokens, object score.
  MaskDecoderOutput PredictMasks(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                                 const torch::Tensor& sparse, const torch::Tensor& dense, bool repeat_image,
                                 const std::vector<torch::Tensor>& high_res);
  MaskDecoderOutput forward(const torch::Tensor& image_embeddings, const torch::Tensor& image_pe,
                            const torch::Tensor& sparse, const torch::Tensor& dense, bool multimask_output,
                            bool repeat_image, const std::vector<torch::Tensor>& high_res);
  // count(l > delta) / count(l > -delta) over the last two dims (1 where the denominator is 0).
  torch::Tensor StabilityScores(const torch::Tensor& logits) const;
  std::vector<TwoWayBlock> layers;
  Attention final_attn{nullptr};
  torch::nn::LayerNorm norm_final_attn{nullptr};
  torch::Tensor iou_token, mask_tokens, obj_score_token;
  torch::nn::ConvTranspose2d up0{nullptr}, up3{nullptr};
  LayerNorm2d up1{nullptr};
  torch::nn::Conv2d conv_s0{nullptr}, conv_s1{nullptr};
  std::vector<Mlp> hyper;
  Mlp iou_head{nullptr}, obj_score_head{nullptr};
  bool dynamic_stability;
  double delta, thresh;
};
TORCH_MODULE(MaskDecoder);

// The whole SAM2Base: parameter names equal the official checkpoint keys.
struct Sam2ModelImpl : torch::nn::Module {
  explicit Sam2ModelImpl(const Sam2Config& cfg);
  Sam2Config cfg;
  ImageEncoder image_encoder{nullptr};
  MemoryAttention memory_attention{nullptr};
  MemoryEncoder memory_encoder{nullptr};
  PromptEncoder sam_prompt_encoder{nullptr};
  MaskDecoder sam_mask_decoder{nullptr};
  Mlp obj_ptr_proj{nullptr};
  torch::nn::Linear obj_ptr_tpos_proj{nullptr};
  torch::nn::Conv2d mask_downsample{nullptr};
  torch::Tensor maskmem_tpos_enc, no_mem_embed, no_mem_pos_enc, no_obj_ptr, no_obj_embed_spatial;

  // forward_image: encoder output with backbone_fpn[0/1] passed through conv_s0/conv_s1.
  ImageEncoderOutput ForwardImage(const torch::Tensor& images);
};
TORCH_MODULE(Sam2Model);

}  // namespace vq2d::sam2
