// SAM 2.1 modules (Hiera, FPN neck, position encodings, attention, memory attention/encoder, prompt
// encoder, mask decoder). Behaviour follows the reference modules listed in docs/sam2.md.
#include <torch/version.h>

#include <cmath>

#include "core/sam2/module_util.h"
#include "vq2d/base/arch_limits.h"
#include "vq2d/base/check.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2 {

namespace internal {

torch::nn::Module& Child(torch::nn::Module& parent, const std::string& path) {
  torch::nn::Module* cur = &parent;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    auto children = cur->named_children();
    if (auto* found = children.find(name)) {
      cur = found->get();
    } else {
      cur = cur->register_module(name, std::make_shared<Holder>()).get();
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *cur;
}

torch::Tensor RegParam(torch::nn::Module& parent, const std::string& path, at::IntArrayRef shape) {
  const auto dot = path.rfind('.');
  torch::nn::Module& owner = dot == std::string::npos ? parent : Child(parent, path.substr(0, dot));
  return owner.register_parameter(dot == std::string::npos ? path : path.substr(dot + 1), torch::zeros(shape));
}

torch::Tensor RegBuffer(torch::nn::Module& parent, const std::string& path, const torch::Tensor& value) {
  const auto dot = path.rfind('.');
  torch::nn::Module& owner = dot == std::string::npos ? parent : Child(parent, path.substr(0, dot));
  return owner.register_buffer(dot == std::string::npos ? path : path.substr(dot + 1), value);
}

torch::Tensor Gelu(const torch::Tensor& x) { return torch::gelu(x); }

}  // namespace internal

using internal::Child;
using internal::Reg;
using internal::RegBuffer;
using internal::RegParam;
namespace F = torch::nn::functional;

// ---------------------------------------------------------------------------------------------------
// Config

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
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return Status::OK();
  return arch_limits::ReadValue(j[key], "SAM 2 config", key, out);
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

// ---------------------------------------------------------------------------------------------------
// Basic ops

torch::Tensor Attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if TORCH_VERSION_MAJOR >= 2
  return at::scaled_dot_product_attention(q, k, v);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  const int64_t nq = q.size(-2), nk = k.size(-2);
  const int64_t batch = q.numel() / (nq * q.size(-1));
  const int64_t budget = int64_t{1} << 26;  // score elements per chunk
  const int64_t chunk = std::max<int64_t>(1, budget / std::max<int64_t>(1, batch * nk));
  auto kt = k.transpose(-2, -1);
  if (chunk >= nq) return torch::softmax(torch::matmul(q, kt) * scale, -1).matmul(v);
  std::vector<torch::Tensor> outs;
  for (int64_t s = 0; s < nq; s += chunk) {
    auto qs = q.narrow(-2, s, std::min(chunk, nq - s));
    outs.push_back(torch::softmax(torch::matmul(qs, kt) * scale, -1).matmul(v));
  }
  return torch::cat(outs, -2);
#endif
}

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  auto u = x.mean(1, true);
  auto s = (x - u).pow(2).mean(1, true);
  auto y = (x - u) / torch::sqrt(s + eps);
  return weight.view({-1, 1, 1}) * y + bias.view({-1, 1, 1});
}

MlpImpl::MlpImpl(int64_t in, int64_t hidden, int64_t out, int num_layers, Act act_, bool sigmoid_)
    : act(act_), sigmoid(sigmoid_) {
  layers = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < num_layers; ++i) {
    const int64_t a = i == 0 ? in : hidden;
    const int64_t b = i == num_layers - 1 ? out : hidden;
    linears.push_back(torch::nn::Linear(a, b));
    layers->push_back(linears.back());
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  for (size_t i = 0; i < linears.size(); ++i) {
    x = linears[i]->forward(x);
    if (i + 1 < linears.size()) x = act == Act::kRelu ? torch::relu(x) : torch::gelu(x);
  }
  return sigmoid ? torch::sigmoid(x) : x;
}

namespace {

// LayerNorm in fp32 (what CUDA autocast does for layer_norm; LibTorch 1.13's CPU autocast would
// otherwise hand a bf16 input to an fp32-weight norm). A no-op in fp32 runs.
torch::Tensor LN(torch::nn::LayerNorm& norm, const torch::Tensor& x) {
  return norm(x.scalar_type() == torch::kFloat32 ? x : x.to(torch::kFloat32));
}

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

// ---------------------------------------------------------------------------------------------------
// Attention

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads_, int64_t downsample, int64_t kv_in_dim, bool rope_,
                             bool rope_k_repeat_, double rope_theta_)
    : heads(heads_), internal_dim(dim / downsample), rope(rope_), rope_k_repeat(rope_k_repeat_),
      rope_theta(rope_theta_) {
  const int64_t kv = kv_in_dim > 0 ? kv_in_dim : dim;
  q_proj = register_module("q_proj", torch::nn::Linear(dim, internal_dim));
  k_proj = register_module("k_proj", torch::nn::Linear(kv, internal_dim));
  v_proj = register_module("v_proj", torch::nn::Linear(kv, internal_dim));
  out_proj = register_module("out_proj", torch::nn::Linear(internal_dim, dim));
}

namespace {

// Rotates consecutive (even, odd) pairs of x [B,H,N,D] by angles with cos/sin [N,D/2]; computed in fp32.
torch::Tensor Rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  auto xf = x.to(torch::kFloat32);
  auto shape = xf.sizes().vec();
  shape.back() /= 2;
  shape.push_back(2);
  auto pairs = xf.reshape(shape);
  auto a = pairs.select(-1, 0), b = pairs.select(-1, 1);
  auto re = a * cos - b * sin;
  auto im = a * sin + b * cos;
  return torch::stack({re, im}, -1).flatten(-2).to(x.scalar_type());
}

}  // namespace

torch::Tensor AttentionImpl::forward(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                     int64_t num_k_exclude_rope) {
  auto sep = [this](const torch::Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
  };
  auto q = sep(q_proj(q_in)), k = sep(k_proj(k_in)), v = sep(v_proj(v_in));
  if (rope) {
    const int64_t n = q.size(-2);
    if (!rope_cos_.defined() || rope_cos_.size(0) != n || rope_cos_.device() != q.device()) {
      const int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(n))));
      const int64_t dim = internal_dim / heads;
      auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(q.device());
      auto freqs = 1.0 / torch::pow(rope_theta, torch::arange(0, dim, 4, fopt).narrow(0, 0, dim / 4) / dim);
      auto t = torch::arange(side * side, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
      auto tx = torch::remainder(t, side).to(torch::kFloat32);
      auto ty = torch::div(t, side, "floor").to(torch::kFloat32);
      auto ang = torch::cat({torch::outer(tx, freqs), torch::outer(ty, freqs)}, -1);
      rope_cos_ = ang.cos();
      rope_sin_ = ang.sin();
    }
    q = Rotate(q, rope_cos_, rope_sin_);
    const int64_t nk = k.size(-2) - num_k_exclude_rope;
    if (nk > 0) {
      auto c = rope_cos_, s = rope_sin_;
      if (nk != n) {
        VQ2D_CHECK(rope_k_repeat && nk % n == 0);
        c = c.repeat({nk / n, 1});
        s = s.repeat({nk / n, 1});
      }
      auto kr = Rotate(k.narrow(-2, 0, nk), c, s);
      k = nk == k.size(-2) ? kr : torch::cat({kr, k.narrow(-2, nk, num_k_exclude_rope)}, -2);
    }
  }
  auto o = Attend(q, k, v);
  o = o.transpose(1, 2).reshape({o.size(0), o.size(2), -1});
  return out_proj(o);
}

MemoryAttentionLayerImpl::MemoryAttentionLayerImpl(const Sam2Config& cfg) {
  const int64_t d = cfg.d_model;
  self_attn = register_module("self_attn", Attention(d, 1, 1, -1, true, false, cfg.rope_theta));
  cross_attn_image =
      register_module("cross_attn_image", Attention(d, 1, 1, cfg.mem_dim, true, true, cfg.rope_theta));
  linear1 = register_module("linear1", torch::nn::Linear(d, cfg.mem_attn_dim_feedforward));
  linear2 = register_module("linear2", torch::nn::Linear(cfg.mem_attn_dim_feedforward, d));
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
  norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
}

torch::Tensor MemoryAttentionLayerImpl::forward(torch::Tensor tgt, const torch::Tensor& memory,
                                                const torch::Tensor& pos, int64_t num_k_exclude_rope) {
  auto t2 = LN(norm1, tgt);
  tgt = tgt + self_attn(t2, t2, t2);
  t2 = LN(norm2, tgt);
  tgt = tgt + cross_attn_image(t2, memory + pos, memory, num_k_exclude_rope);
  t2 = LN(norm3, tgt);
  return tgt + linear2(torch::relu(linear1(t2)));
}

MemoryAttentionImpl::MemoryAttentionImpl(const Sam2Config& cfg) {
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int i = 0; i < cfg.mem_attn_layers; ++i) {
    layers.push_back(MemoryAttentionLayer(cfg));
    list->push_back(layers.back());
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.d_model})));
}

torch::Tensor MemoryAttentionImpl::forward(const torch::Tensor& curr, const torch::Tensor& memory,
                                           const torch::Tensor& curr_pos, const torch::Tensor& memory_pos,
                                           int64_t num_obj_ptr_tokens) {
  auto out = curr + 0.1 * curr_pos;
  out = out.transpose(0, 1);
  auto mem = memory.transpose(0, 1), mpos = memory_pos.transpose(0, 1);
  for (auto& l : layers) out = l->forward(out, mem, mpos, num_obj_ptr_tokens);
  return LN(norm, out).transpose(0, 1);
}

// ---------------------------------------------------------------------------------------------------
// Memory encoder

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

// ---------------------------------------------------------------------------------------------------
// Prompt encoder

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

// ---------------------------------------------------------------------------------------------------
// Mask decoder

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

// ---------------------------------------------------------------------------------------------------
// SAM2Base

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
