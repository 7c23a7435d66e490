// vq2d bench sam2: image-encoder and tracking throughput of the SAM 2.1 presets (random weights).
#include <chrono>
#include <fstream>
#include <string>

#include "vq2d/core/sam2.h"
#include "vq2d/core/sam2_bench.h"
#include "vq2d/core/sam2_video_predictor.h"

namespace vq2d::sam2 {
namespace {

using Clock = std::chrono::steady_clock;

double PeakRssMib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

void Sync(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

Result<std::vector<Sam2BenchResult>> BenchSam2(const Sam2BenchOptions& o) {
  if (o.encoder_images < 1 || o.track_frames < 1 || o.frame_height < 8 || o.frame_width < 8)
    return Status::InvalidArgument("bench sam2: need >= 1 image, >= 1 tracked frame and frames of >= 8 pixels");
  if (o.device != "cpu" && o.device != "cuda")
    return Status::InvalidArgument(StrCat("bench sam2: unknown device '", o.device, "' (cpu or cuda)"));
  if (o.device == "cuda" && !torch::cuda::is_available())
    return Status::FailedPrecondition("bench sam2: this LibTorch build has no usable CUDA device");
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
  std::vector<Sam2BenchResult> results;
  try {
    torch::NoGradGuard no_grad;
    for (const auto& v : o.variants) {
      VQ2D_ASSIGN_OR_RETURN(auto cfg, Sam2Preset(v));
      torch::manual_seed(0);
      Sam2Model model(cfg);
      model->to(device);
      Sam2BenchResult r;
      r.variant = v;
      r.device = o.device;
      r.dtype = o.bf16 ? "bf16" : "fp32";
      auto img = torch::randn({1, 3, cfg.image_size, cfg.image_size}, torch::TensorOptions().device(device));
      auto t0 = Clock::now();
      {
        Bf16AutocastGuard autocast(o.bf16, device);
        model->ForwardImage(img);  // warm-up
        Sync(device);
        t0 = Clock::now();
        for (int i = 0; i < o.encoder_images; ++i) model->ForwardImage(img);
        Sync(device);
      }
      r.encoder_images_per_s = o.encoder_images / std::chrono::duration<double>(Clock::now() - t0).count();
      // Tracking: box on frame 0, then track_frames frames (each: encode + memory attention + decode + memory).
      const int n = o.track_frames + 1;
      auto frames = torch::randint(0, 256, {n, o.frame_height, o.frame_width, 3}, torch::kUInt8);
      VideoPredictorOptions vo;
      vo.bf16 = o.bf16;
      VideoPredictor pred(model, vo);
      VQ2D_RETURN_IF_ERROR(pred.InitState(FramesFromRgb(frames.to(device), cfg.image_size)));
      auto box = torch::tensor({o.frame_width * 0.3f, o.frame_height * 0.3f, o.frame_width * 0.6f, o.frame_height * 0.7f});
      VQ2D_ASSIGN_OR_RETURN(auto first, pred.AddNewPointsOrBox(0, 0, {}, {}, box));
      (void)first;
      VQ2D_RETURN_IF_ERROR(pred.StartPropagation());
      VQ2D_ASSIGN_OR_RETURN(auto prompt_frame, pred.Next());  // the prompt frame (no compute)
      (void)prompt_frame;
      Sync(device);
      t0 = Clock::now();
      int tracked = 0;
      while (true) {
        VQ2D_ASSIGN_OR_RETURN(auto next, pred.Next());
        if (!next) break;
        ++tracked;
      }
      Sync(device);
      r.track_frames_per_s = tracked / std::chrono::duration<double>(Clock::now() - t0).count();
      const int64_t hw = (cfg.image_size / cfg.backbone_stride) * (cfg.image_size / cfg.backbone_stride);
      const int64_t mems = std::min<int64_t>(tracked, cfg.num_maskmem);  // cond + previous frames
      const int64_t ptrs = std::min<int64_t>(tracked, std::min<int64_t>(n, cfg.max_obj_ptrs_in_encoder));
      r.memory_tokens_last = static_cast<double>(mems * hw + ptrs * (cfg.d_model / cfg.mem_dim));
      r.peak_rss_mib = PeakRssMib();
      results.push_back(r);
    }
  } catch (const c10::Error& e) {
    return Status::Internal(StrCat("bench sam2: ", e.what_without_backtrace()));
  }
  return results;
}

}  // namespace vq2d::sam2
