#include "vq2d/pipeline/model_adapters.h"

#include <opencv2/core.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#include "vq2d/core/torch_guard.h"

#include "vq2d/pipeline/query_tokens.h"

namespace vq2d::pipeline {

namespace {

cv::Mat MaskToMat(const torch::Tensor& m) {
  torch::Tensor t = m.to(torch::kCPU).to(torch::kUInt8).contiguous();
  return cv::Mat(static_cast<int>(t.size(0)), static_cast<int>(t.size(1)), CV_8U, t.data_ptr()).clone();
}

const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

// Every failure inside a model is a model failure (Internal), whatever code the core model chose
// (REN reports a rejected input as InvalidArgument): only the stages report UpstreamRaised, and
// only that code is isolated per query (engine.h).
template <typename F>
auto Guard(const char* what, F&& f) -> decltype(f()) {
  auto r = GuardTorch(what, std::forward<F>(f));  // c10::Error, cv::Exception, bad_alloc -> Internal
  const Status& s = StatusOf(r);
  if (!s.ok() && s.code() != StatusCode::kInternal) return Status::Internal(StrCat(what, ": ", s.message()));
  return r;
}

// A model output with NaN/Inf (e.g. from corrupted weights) fails the call as a model failure
// (Internal: the clip fails with this message) instead of silently becoming empty masks/tracks.
Status CheckFinite(const torch::Tensor& t, const char* what) {
  if (!t.defined() || !t.is_floating_point()) return Status::OK();
  if (torch::isfinite(t).all().item<bool>()) return Status::OK();
  const int64_t n_nan = t.isnan().sum().item<int64_t>();
  const int64_t n_inf = t.isinf().sum().item<int64_t>();
  return Status::Internal(StrCat("non-finite model output: ", what, " has ", n_nan, " NaN and ", n_inf, " Inf of ",
                                 t.numel(), " values (check the model's weights)"));
}

// Adds the wall time of its scope to *seconds (when `seconds` is set).
class ScopedSeconds {
 public:
  explicit ScopedSeconds(double* seconds) : s_(seconds), t0_(std::chrono::steady_clock::now()) {}
  ~ScopedSeconds() {
    if (s_) *s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  double* s_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace

Result<RenTokens> RenTokenAdapter::Encode(const torch::Tensor& images) {
  ScopedSeconds timer(work_ ? &work_->ren_s : nullptr);
  if (work_) work_->ren_images += images.dim() == 4 ? images.size(0) : 0;
  return Guard("REN", [&]() -> Result<RenTokens> {
    VQ2D_ASSIGN_OR_RETURN(RenOutput o, ren_->Encode(images));
    RenTokens r;
    r.tokens = o.tokens.to(torch::kCPU).to(torch::kFloat32);
    r.points = o.points.to(torch::kCPU).to(torch::kFloat32);
    VQ2D_RETURN_IF_ERROR(CheckFinite(r.tokens, "REN tokens"));
    return r;
  });
}

Result<torch::Tensor> RenTokenAdapter::GridPoints(int64_t height, int64_t width) {
  return Guard("REN grid points", [&]() -> Result<torch::Tensor> {
    return ren_->FramePoints(height, width).to(torch::kCPU).to(torch::kFloat32);
  });
}

Status Sam2ImageAdapter::SetImage(const cv::Mat& rgb) {
  if (!last_.empty() && p_->has_image() && last_.size() == rgb.size() && last_.type() == rgb.type() &&
      rgb.isContinuous() && last_.isContinuous() &&
      std::memcmp(last_.data, rgb.data, rgb.total() * rgb.elemSize()) == 0) {
    ++reused_;
    return Status::OK();
  }
  last_.release();
  ScopedSeconds timer(work_ ? &work_->sam2_s : nullptr);
  return Guard("SAM 2 set_image", [&]() -> Status {
    VQ2D_RETURN_IF_ERROR(p_->SetImage(MatToTensor(rgb)));
    last_ = rgb.clone();
    ++encoded_;
    if (work_) ++work_->sam2_encodes;
    return Status::OK();
  });
}

Status Sam2ImageAdapter::SetImages(const std::vector<cv::Mat>& rgbs) {
  last_.release();  // the predictor's current image is no longer a SetImage one
  ScopedSeconds timer(work_ ? &work_->sam2_s : nullptr);
  return Guard("SAM 2 set_image (batch)", [&]() -> Status {
    std::vector<torch::Tensor> images;
    for (const cv::Mat& m : rgbs) images.push_back(MatToTensor(m));
    VQ2D_RETURN_IF_ERROR(p_->SetImageBatch(images));
    encoded_ += static_cast<int64_t>(rgbs.size());
    if (work_) work_->sam2_encodes += static_cast<int64_t>(rgbs.size());
    return Status::OK();
  });
}

Status Sam2ImageAdapter::UseImage(size_t index) {
  return Guard("SAM 2 select image", [&]() -> Status { return p_->SelectImage(static_cast<int64_t>(index)); });
}

Result<cv::Mat> Sam2ImageAdapter::PredictBox(const std::array<double, 4>& b) {
  ScopedSeconds timer(work_ ? &work_->sam2_s : nullptr);
  return Guard("SAM 2 box prompt", [&]() -> Result<cv::Mat> {
    sam2::ImagePrompt prompt;
    prompt.box = torch::tensor({static_cast<float>(b[0]), static_cast<float>(b[1]), static_cast<float>(b[2]),
                                static_cast<float>(b[3])});
    prompt.multimask_output = false;
    VQ2D_ASSIGN_OR_RETURN(sam2::ImagePrediction pred, p_->Predict(prompt));
    VQ2D_RETURN_IF_ERROR(CheckFinite(pred.low_res_masks, "SAM 2 box-prompt mask logits"));
    return MaskToMat(pred.masks[0]);
  });
}

Result<std::vector<cv::Mat>> Sam2ImageAdapter::PredictPoint(double x, double y) {
  ScopedSeconds timer(work_ ? &work_->sam2_s : nullptr);
  return Guard("SAM 2 point prompt", [&]() -> Result<std::vector<cv::Mat>> {
    sam2::ImagePrompt prompt;
    prompt.point_coords = torch::tensor({static_cast<float>(x), static_cast<float>(y)}).reshape({1, 2});
    prompt.point_labels = torch::tensor(std::vector<int64_t>{1}).to(torch::kInt32);
    prompt.multimask_output = true;
    VQ2D_ASSIGN_OR_RETURN(sam2::ImagePrediction pred, p_->Predict(prompt));
    VQ2D_RETURN_IF_ERROR(CheckFinite(pred.low_res_masks, "SAM 2 point-prompt mask logits"));
    std::vector<cv::Mat> out;
    for (int64_t i = 0; i < pred.masks.size(0); ++i) out.push_back(MaskToMat(pred.masks[i]));
    return out;
  });
}

Result<torch::Tensor> DinoFeatureAdapter::Extract(const torch::Tensor& images) {
  ScopedSeconds timer(work_ ? &work_->dino_s : nullptr);
  if (work_) work_->dino_images += images.dim() == 4 ? images.size(0) : 0;
  return Guard("DINO features", [&]() -> Result<torch::Tensor> {
    torch::NoGradGuard no_grad;
    const auto param = model_->parameters().front();
    torch::Tensor x = images.to(param.device()).permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
    x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{h_, w_})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false)
                                                  .antialias(true));
    const auto mean = torch::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
    const auto std = torch::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
    x = ((x - mean) / std).to(param.scalar_type());
    torch::Tensor t = model_->GetIntermediateLayers(x, 1).back();  // [N, 1+hw, D]
    const int64_t p = model_->config().patch_size;
    t = t.slice(1, 1).to(torch::kFloat32);
    VQ2D_RETURN_IF_ERROR(CheckFinite(t, "DINO features"));
    return t.transpose(1, 2).reshape({t.size(0), t.size(2), h_ / p, w_ / p}).to(torch::kCPU).contiguous();
  });
}

Result<torch::Tensor> DinoV2FeatureAdapter::Extract(const torch::Tensor& images) {
  ScopedSeconds timer(work_ ? &work_->dino_s : nullptr);
  if (work_) work_->dino_images += images.dim() == 4 ? images.size(0) : 0;
  return Guard("DINOv2 features", [&]() -> Result<torch::Tensor> {
    torch::NoGradGuard no_grad;
    const auto param = model_->parameters().front();
    const int64_t p = model_->config().patch_size;
    torch::Tensor x = images.to(param.device()).permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
    const int64_t H = x.size(2), W = x.size(3);
    const int64_t ph = (H + p - 1) / p * p - H, pw = (W + p - 1) / p * p - W;
    x = torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0.0);
    const auto mean = torch::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
    const auto std = torch::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
    x = ((x - mean) / std).to(param.scalar_type());
    torch::Tensor t = model_->GetIntermediateLayers(x, {block_}, /*norm=*/true)[0].patch_tokens;
    const int64_t gh = x.size(2) / p, gw = x.size(3) / p;
    VQ2D_RETURN_IF_ERROR(CheckFinite(t, "DINOv2 features"));
    return TokensToFeatureMap(t, gh, gw).to(torch::kFloat32).to(torch::kCPU).contiguous();
  });
}

Status Sam2VideoAdapter::Track(const FrameSource& frames, int64_t prompt_index, const std::array<double, 4>& box,
                               const TrackerFrameCallback& on_frame) {
  ScopedSeconds timer(work_ ? &work_->track_s : nullptr);
  return Guard("SAM 2 video", [&]() -> Status {
    sam2::VideoFrames vf;
    vf.num_frames = frames.num_frames;
    vf.video_height = frames.height;
    vf.video_width = frames.width;
    const int64_t s = image_size_;
    const auto get = frames.get;
    vf.get = [get, s](int64_t i) { return sam2::PreprocessImage(get(i), s); };
    VQ2D_RETURN_IF_ERROR(p_->InitState(vf));
    p_->ResetState();
    const torch::Tensor b = torch::tensor({static_cast<float>(box[0]), static_cast<float>(box[1]),
                                           static_cast<float>(box[2]), static_cast<float>(box[3])});
    VQ2D_RETURN_IF_ERROR(p_->AddNewPointsOrBox(prompt_index, 0, torch::Tensor(), torch::Tensor(), b).status());
    VQ2D_RETURN_IF_ERROR(p_->StartPropagation());
    while (true) {
      VQ2D_ASSIGN_OR_RETURN(auto next, p_->Next());
      if (!next) break;
      VQ2D_RETURN_IF_ERROR(CheckFinite(next->video_res_masks, "SAM 2 video mask logits"));
      if (work_) ++work_->track_steps;
      const cv::Mat m = MaskToMat(next->video_res_masks[0][0] > 0);
      const sam2::FrameOutput* o = p_->Output(next->frame_idx);  // what produced the yielded mask
      const float score = o ? o->object_score_logits.to(torch::kCPU).item<float>() : std::nanf("");
      if (!on_frame(next->frame_idx, m, score)) break;
    }
    return Status::OK();
  });
}

}  // namespace vq2d::pipeline
