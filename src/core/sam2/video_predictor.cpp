// SAM 2.1 video predictor for one object (reference: REN's vendored legacy SAM2VideoPredictor and
// SAM2Base.track_step / _prepare_memory_conditioned_features / _encode_new_memory; docs/sam2.md).
#include "vq2d/core/sam2_video_predictor.h"

#include <cmath>

#include "vq2d/core/sam2_image_predictor.h"

namespace vq2d::sam2 {

namespace F = torch::nn::functional;

namespace {

constexpr double kNoObjScore = -1024.0;

torch::Device ModelDevice(torch::nn::Module& m) {
  auto params = m.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

torch::Tensor Bilinear(const torch::Tensor& x, int64_t h, int64_t w) {
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

int64_t FloorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

VideoFrames FramesFromPreprocessed(torch::Tensor images, int64_t video_height, int64_t video_width) {
  VideoFrames v;
  v.num_frames = images.size(0);
  v.video_height = video_height;
  v.video_width = video_width;
  v.get = [images](int64_t i) { return images[i]; };
  return v;
}

VideoFrames FramesFromRgb(torch::Tensor frames, int64_t image_size) {
  VideoFrames v;
  v.num_frames = frames.size(0);
  v.video_height = frames.size(1);
  v.video_width = frames.size(2);
  v.get = [frames, image_size](int64_t i) { return PreprocessImage(frames[i], image_size); };
  return v;
}

VideoPredictor::VideoPredictor(Sam2Model model, VideoPredictorOptions options)
    : model_(std::move(model)), options_(options), device_(ModelDevice(*model_)) {
  model_->eval();
}

Status VideoPredictor::InitState(VideoFrames frames) {
  if (frames.num_frames <= 0 || !frames.get || frames.video_height <= 0 || frames.video_width <= 0)
    return Status::InvalidArgument("SAM 2 video: InitState needs >= 1 frame, a frame source and the video size");
  frames_ = std::move(frames);
  has_state_ = true;
  cache_ = Features();
  ResetState();
  return Status::OK();
}

void VideoPredictor::ResetState() {
  obj_id_.reset();
  point_inputs_.clear();
  cond_.clear();
  non_cond_.clear();
  temp_cond_.clear();
  temp_non_cond_.clear();
  consolidated_cond_.clear();
  consolidated_non_cond_.clear();
  frames_already_tracked_.clear();
  order_.clear();
  next_ = 0;
}

const VideoPredictor::Features& VideoPredictor::GetFeatures(int64_t frame_idx) {
  if (cache_.frame_idx == frame_idx) return cache_;
  auto img = frames_.get(frame_idx);
  if (img.dim() == 3) img = img.unsqueeze(0);
  img = img.to(device_, torch::kFloat32);
  auto out = model_->ForwardImage(img);
  ++num_encodes_;
  Features f;
  f.frame_idx = frame_idx;
  f.high_res = {out.backbone_fpn[0], out.backbone_fpn[1]};
  const auto& top = out.backbone_fpn.back();
  f.h = top.size(2);
  f.w = top.size(3);
  f.vision_feat = top.flatten(2).permute({2, 0, 1});
  f.vision_pos = out.vision_pos_enc.back().flatten(2).permute({2, 0, 1});
  cache_ = std::move(f);
  return cache_;
}

torch::Tensor VideoPredictor::MemoryConditioned(int64_t t, const Features& f, bool reverse) {
  const auto& cfg = model_->cfg;
  const int64_t d = cfg.d_model, mem = cfg.mem_dim, nm = cfg.num_maskmem;
  const int64_t stride = cfg.memory_temporal_stride_for_eval;
  std::vector<std::pair<int64_t, const FrameOutput*>> entries;
  for (const auto& [idx, o] : cond_) entries.push_back({0, &o});
  for (int64_t t_pos = 1; t_pos < nm; ++t_pos) {
    const int64_t t_rel = nm - t_pos;
    int64_t prev;
    if (t_rel == 1) {
      prev = reverse ? t + t_rel : t - t_rel;
    } else if (!reverse) {
      prev = FloorDiv(t - 2, stride) * stride - (t_rel - 2) * stride;
    } else {
      prev = -FloorDiv(-(t + 2), stride) * stride + (t_rel - 2) * stride;
    }
    auto it = non_cond_.find(prev);
    if (it != non_cond_.end()) entries.push_back({t_pos, &it->second});
  }
  std::vector<torch::Tensor> tokens, pos;
  for (const auto& [t_pos, o] : entries) {
    if (!o->maskmem_features.defined()) continue;
    tokens.push_back(o->maskmem_features.to(torch::kFloat32).flatten(2).permute({2, 0, 1}));
    pos.push_back((maskmem_pos_enc_.flatten(2).permute({2, 0, 1}) + model_->maskmem_tpos_enc[nm - t_pos - 1])
                      .to(torch::kFloat32));
  }
  // Object pointers: conditioning frames in the past (in tracking direction), then up to max-1 recent frames.
  const int64_t max_ptrs = std::min<int64_t>(frames_.num_frames, cfg.max_obj_ptrs_in_encoder);
  std::vector<int64_t> ptr_pos;
  std::vector<torch::Tensor> ptrs;
  const int64_t sign = reverse ? -1 : 1;
  for (const auto& [idx, o] : cond_) {
    if (reverse ? idx >= t : idx <= t) {
      ptr_pos.push_back((t - idx) * sign);
      ptrs.push_back(o.obj_ptr);
    }
  }
  for (int64_t k = 1; k < max_ptrs; ++k) {
    const int64_t q = reverse ? t + k : t - k;
    if (q < 0 || q >= frames_.num_frames) break;
    auto it = non_cond_.find(q);
    if (it != non_cond_.end()) {
      ptr_pos.push_back(k);
      ptrs.push_back(it->second.obj_ptr);
    }
  }
  int64_t num_ptr_tokens = 0;
  if (!ptrs.empty()) {
    auto obj_ptrs = torch::stack(ptrs, 0);  // [P,1,d]
    auto p = torch::tensor(ptr_pos, torch::TensorOptions().dtype(torch::kLong)).to(device_);
    auto obj_pos = Sine1d(p.to(torch::kFloat32) / static_cast<double>(max_ptrs - 1), d);
    obj_pos = model_->obj_ptr_tpos_proj(obj_pos).unsqueeze(1).expand({-1, 1, mem});
    if (mem < d) {
      obj_ptrs = obj_ptrs.reshape({-1, 1, d / mem, mem}).permute({0, 2, 1, 3}).flatten(0, 1);
      obj_pos = obj_pos.repeat_interleave(d / mem, 0);
    }
    tokens.push_back(obj_ptrs.to(torch::kFloat32));
    pos.push_back(obj_pos.to(torch::kFloat32));
    num_ptr_tokens = obj_ptrs.size(0);
  }
  auto memory = torch::cat(tokens, 0);
  auto memory_pos = torch::cat(pos, 0);
  auto out = model_->memory_attention(f.vision_feat, memory, f.vision_pos, memory_pos, num_ptr_tokens);
  return out.permute({1, 2, 0}).reshape({1, d, f.h, f.w});
}

torch::Tensor VideoPredictor::EncodeMemory(const Features& f, const torch::Tensor& high_res_masks,
                                           const torch::Tensor& score, bool from_points) {
  const auto& cfg = model_->cfg;
  auto pix = f.vision_feat.permute({1, 2, 0}).reshape({1, cfg.d_model, f.h, f.w});
  torch::Tensor m = (cfg.binarize_mask_from_pts_for_mem_enc && from_points) ? (high_res_masks > 0).to(torch::kFloat32)
                                                                             : torch::sigmoid(high_res_masks);
  m = m * cfg.sigmoid_scale_for_mem_enc;
  m = m + cfg.sigmoid_bias_for_mem_enc;
  auto [feat, pos] = model_->memory_encoder(pix, m, /*skip_mask_sigmoid=*/true);
  if (!maskmem_pos_enc_.defined()) maskmem_pos_enc_ = pos;
  auto appearing = (score > 0).to(torch::kFloat32).unsqueeze(-1).unsqueeze(-1);  // [1,1,1,1]
  feat = feat + (1 - appearing) * model_->no_obj_embed_spatial.unsqueeze(-1).unsqueeze(-1).expand(feat.sizes());
  return feat.to(torch::kBFloat16);
}

VideoPredictor::StepOut VideoPredictor::TrackStep(int64_t t, bool is_init_cond, const Points* points, bool reverse,
                                                  bool run_mem_encoder, const torch::Tensor& prev_mask_logits) {
  const auto& cfg = model_->cfg;
  const Features& f = GetFeatures(t);
  torch::Tensor pix;
  if (is_init_cond) {
    pix = (f.vision_feat + model_->no_mem_embed).permute({1, 2, 0}).reshape({1, cfg.d_model, f.h, f.w});
  } else {
    pix = MemoryConditioned(t, f, reverse);
  }
  auto fopt = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
  torch::Tensor coords, labels;
  if (points) {
    coords = points->coords;
    labels = points->labels;
  } else {
    coords = torch::zeros({1, 1, 2}, fopt);
    labels = -torch::ones({1, 1}, fopt.dtype(torch::kInt32));
  }
  auto& pe = model_->sam_prompt_encoder;
  auto sparse = pe->EmbedPoints(coords, labels, /*pad=*/true);
  torch::Tensor dense;
  if (prev_mask_logits.defined()) {
    auto mask = prev_mask_logits;
    const int64_t ms = 4 * pe->embed_hw;
    if (mask.size(-2) != ms || mask.size(-1) != ms)
      mask = F::interpolate(mask.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                          .size(std::vector<int64_t>{ms, ms})
                                                          .mode(torch::kBilinear)
                                                          .align_corners(false)
                                                          .antialias(true));
    dense = pe->EmbedMasks(mask);
  } else {
    dense = pe->NoMaskDense(1);
  }
  const int64_t num_pts = points ? points->labels.size(1) : 0;
  const bool multimask = num_pts <= 1;  // multimask_output_in_sam/for_tracking, min 0 / max 1 points
  auto dec = model_->sam_mask_decoder->forward(pix, pe->DensePe(), sparse, dense, multimask, false, f.high_res);
  auto appearing = dec.object_score_logits > 0;  // [1,1]
  auto low_multi = torch::where(appearing.unsqueeze(-1).unsqueeze(-1), dec.masks,
                                torch::full({}, kNoObjScore, dec.masks.options()))
                       .to(torch::kFloat32);
  auto high_multi = Bilinear(low_multi, cfg.image_size, cfg.image_size);
  auto token = dec.sam_tokens_out.select(1, 0);
  torch::Tensor low, high;
  if (multimask) {
    auto best = dec.iou_pred.argmax(-1);
    auto bi = torch::arange(best.size(0), best.options());
    low = low_multi.index({bi, best}).unsqueeze(1);
    high = high_multi.index({bi, best}).unsqueeze(1);
    if (dec.sam_tokens_out.size(1) > 1) token = dec.sam_tokens_out.index({bi, best});
  } else {
    low = low_multi;
    high = high_multi;
  }
  auto ptr = model_->obj_ptr_proj(token);
  auto lambda = appearing.to(torch::kFloat32);
  ptr = lambda * ptr;
  ptr = ptr + (1 - lambda) * model_->no_obj_ptr;
  StepOut r;
  r.out.obj_ptr = ptr;
  r.out.object_score_logits = dec.object_score_logits.to(torch::kFloat32);
  r.out.pred_masks = options_.fill_hole_area > 0 ? FillHolesInMaskScores(low, options_.fill_hole_area) : low;
  r.high_res_masks = high;
  if (run_mem_encoder)
    r.out.maskmem_features = EncodeMemory(f, high, r.out.object_score_logits, points != nullptr);
  return r;
}

torch::Tensor VideoPredictor::ToVideoRes(const torch::Tensor& low_res) const {
  return Bilinear(low_res, frames_.video_height, frames_.video_width);
}

Result<TrackedFrame> VideoPredictor::AddNewPointsOrBox(int64_t frame_idx, int obj_id, const torch::Tensor& points,
                                                       const torch::Tensor& labels, const torch::Tensor& box,
                                                       bool clear_old_points) {
  if (!has_state_) return Status::FailedPrecondition("SAM 2 video: call InitState first");
  if (frame_idx < 0 || frame_idx >= frames_.num_frames)
    return Status::InvalidArgument(StrCat("SAM 2 video: frame ", frame_idx, " outside [0,", frames_.num_frames, ")"));
  if (obj_id_ && *obj_id_ != obj_id)
    return Status::InvalidArgument(StrCat("SAM 2 video: this predictor tracks one object per state (id ", *obj_id_,
                                          "), got a second id ", obj_id));
  const bool has_points = points.defined() && points.numel() > 0;
  const bool has_box = box.defined() && box.numel() > 0;
  if (!has_points && !has_box) return Status::InvalidArgument("SAM 2 video: need points or a box");
  if (has_points && (points.dim() != 2 || points.size(1) != 2 || !labels.defined() || labels.numel() != points.size(0)))
    return Status::InvalidArgument("SAM 2 video: points must be [N,2] with N labels");
  if (has_box && box.numel() != 4) return Status::InvalidArgument("SAM 2 video: box must be [4] xyxy");
  if (has_box && !clear_old_points)
    return Status::InvalidArgument("SAM 2 video: a box can only be added with clear_old_points=true");
  const bool tensor_key = options_.prompt_index_as_tensor;
  if (tensor_key && point_inputs_.count(frame_idx))
    return Status::InvalidArgument(StrCat("SAM 2 video: frame ", frame_idx,
                                          " already has a prompt; with prompt_index_as_tensor a second prompt would be "
                                          "a second conditioning entry for the frame (start a new state instead)"));
  try {
    torch::NoGradGuard no_grad;
    Bf16AutocastGuard autocast(options_.bf16, device_);
    obj_id_ = obj_id;
    auto fopt = torch::TensorOptions().dtype(torch::kFloat32);
    auto iopt = torch::TensorOptions().dtype(torch::kInt32);
    torch::Tensor pts = torch::zeros({1, 0, 2}, fopt), lab = torch::zeros({1, 0}, iopt);
    if (has_points) {
      pts = points.to(torch::kCPU, torch::kFloat32).reshape({1, -1, 2});
      lab = labels.to(torch::kCPU, torch::kInt32).reshape({1, -1});
    }
    if (has_box) {
      pts = torch::cat({box.to(torch::kCPU, torch::kFloat32).reshape({1, 2, 2}), pts}, 1);
      lab = torch::cat({torch::tensor({{2, 3}}, iopt), lab}, 1);
    }
    auto wh = torch::tensor({static_cast<double>(frames_.video_width), static_cast<double>(frames_.video_height)}, fopt);
    pts = pts / wh;
    pts = pts * static_cast<double>(model_->cfg.image_size);
    Points in{pts.to(device_), lab.to(device_)};
    if (!clear_old_points) {
      auto it = point_inputs_.find(frame_idx);
      if (it != point_inputs_.end()) {
        in.coords = torch::cat({it->second.coords, in.coords}, 1);
        in.labels = torch::cat({it->second.labels, in.labels}, 1);
      }
    }
    point_inputs_[frame_idx] = in;
    auto tracked = frames_already_tracked_.find(frame_idx);
    // A tensor key is never in frames_already_tracked nor in any output dict.
    const bool is_init_cond = tensor_key || tracked == frames_already_tracked_.end();
    const bool reverse = is_init_cond ? false : tracked->second;
    const bool is_cond = is_init_cond;
    auto& temp = is_cond ? temp_cond_ : temp_non_cond_;
    torch::Tensor prev_logits;
    const FrameOutput* prev = nullptr;
    if (!tensor_key) {
      if (auto it = temp.find(frame_idx); it != temp.end()) prev = &it->second;
      if (!prev) prev = Output(frame_idx);
    }
    if (prev && prev->pred_masks.defined()) prev_logits = prev->pred_masks.to(device_).clamp(-32.0, 32.0);
    auto step = TrackStep(frame_idx, is_init_cond, &point_inputs_[frame_idx], reverse, /*run_mem_encoder=*/false,
                          prev_logits);
    temp[frame_idx] = step.out;
    return TrackedFrame{frame_idx, ToVideoRes(step.out.pred_masks)};
  } catch (const c10::Error& e) {
    return Status::Internal(StrCat("SAM 2 video: add_new_points_or_box failed: ", e.what_without_backtrace()));
  }
}

void VideoPredictor::Preflight() {
  // With tensor keys the consolidated sets hold the tensors, which no int frame index matches:
  // propagation then re-infers the prompt frames.
  const bool tensor_key = options_.prompt_index_as_tensor;
  for (const bool is_cond : {false, true}) {
    auto& temp = is_cond ? temp_cond_ : temp_non_cond_;
    auto& dst = is_cond ? cond_ : non_cond_;
    auto& inds = is_cond ? consolidated_cond_ : consolidated_non_cond_;
    for (auto& [idx, o] : temp) {
      if (!tensor_key) inds.insert(idx);
      FrameOutput c = o;
      // Re-encode the memory from the (consolidated) low-res mask, binarised as a point/box prompt.
      const Features& f = GetFeatures(idx);
      auto high = Bilinear(c.pred_masks.to(device_), model_->cfg.image_size, model_->cfg.image_size);
      c.maskmem_features = EncodeMemory(f, high, c.object_score_logits, /*from_points=*/true);
      dst[idx] = c;
    }
    temp.clear();
  }
  if (tensor_key) return;  // non_cond_frame_outputs.pop(tensor) removes nothing
  for (const auto& [idx, o] : cond_) {
    non_cond_.erase(idx);
    consolidated_non_cond_.erase(idx);
  }
}

Status VideoPredictor::StartPropagation(std::optional<int64_t> start, std::optional<int64_t> max_frames, bool reverse) {
  if (!has_state_) return Status::FailedPrecondition("SAM 2 video: call InitState first");
  try {
    torch::NoGradGuard no_grad;
    Bf16AutocastGuard autocast(options_.bf16, device_);
    Preflight();
  } catch (const c10::Error& e) {
    return Status::Internal(StrCat("SAM 2 video: propagation preflight failed: ", e.what_without_backtrace()));
  }
  if (cond_.empty()) return Status::FailedPrecondition("SAM 2 video: no prompt added before propagation");
  const int64_t n = frames_.num_frames;
  const int64_t s = start.value_or(cond_.begin()->first);
  const int64_t m = max_frames.value_or(n);
  if (s < 0 || s >= n) return Status::InvalidArgument(StrCat("SAM 2 video: start frame ", s, " outside the clip"));
  order_.clear();
  next_ = 0;
  reverse_ = reverse;
  if (reverse) {
    const int64_t end = std::max<int64_t>(s - m, 0);
    if (s > 0)
      for (int64_t i = s; i >= end; --i) order_.push_back(i);
  } else {
    const int64_t end = std::min<int64_t>(s + m, n - 1);
    for (int64_t i = s; i <= end; ++i) order_.push_back(i);
  }
  return Status::OK();
}

Result<std::optional<TrackedFrame>> VideoPredictor::Next() {
  if (next_ >= order_.size()) return std::optional<TrackedFrame>();
  const int64_t t = order_[next_++];
  try {
    torch::NoGradGuard no_grad;
    Bf16AutocastGuard autocast(options_.bf16, device_);
    torch::Tensor pred;
    if (consolidated_cond_.count(t)) {
      pred = cond_.at(t).pred_masks;
    } else if (consolidated_non_cond_.count(t) && non_cond_.count(t)) {
      pred = non_cond_.at(t).pred_masks;
    } else {
      auto step = TrackStep(t, /*is_init_cond=*/false, nullptr, reverse_, /*run_mem_encoder=*/true, {});
      non_cond_[t] = step.out;
      pred = step.out.pred_masks;
    }
    frames_already_tracked_[t] = reverse_;
    if (!options_.keep_all_outputs) Prune(t);
    return std::optional<TrackedFrame>(TrackedFrame{t, ToVideoRes(pred)});
  } catch (const c10::Error& e) {
    return Status::Internal(StrCat("SAM 2 video: tracking frame ", t, " failed: ", e.what_without_backtrace()));
  }
}

void VideoPredictor::Prune(int64_t t) {
  const auto& cfg = model_->cfg;
  // Farthest non-conditioning frame any rule reads: the spatial memories (num_maskmem-1 frames at the
  // stride, plus the stride rounding) and the object pointers (max_obj_ptrs-1 frames).
  const int64_t reach = std::max<int64_t>(cfg.num_maskmem * cfg.memory_temporal_stride_for_eval + 2,
                                          cfg.max_obj_ptrs_in_encoder);
  auto near = [&](int64_t k, int64_t c) { return std::llabs(k - c) <= reach; };
  for (auto it = non_cond_.begin(); it != non_cond_.end();) {
    const int64_t k = it->first;
    bool keep = near(k, t) || consolidated_non_cond_.count(k);
    for (const auto& [c, o] : cond_) keep = keep || near(k, c);
    it = keep ? std::next(it) : non_cond_.erase(it);
  }
}

const FrameOutput* VideoPredictor::Output(int64_t frame_idx) const {
  if (!options_.prompt_index_as_tensor)
    if (auto it = cond_.find(frame_idx); it != cond_.end()) return &it->second;
  if (auto it = non_cond_.find(frame_idx); it != non_cond_.end()) return &it->second;
  return nullptr;
}

const FrameOutput* VideoPredictor::ConditioningOutput(int64_t frame_idx) const {
  auto it = cond_.find(frame_idx);
  return it == cond_.end() ? nullptr : &it->second;
}

}  // namespace vq2d::sam2
