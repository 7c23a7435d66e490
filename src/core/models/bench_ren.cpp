#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <sys/resource.h>
#include <torch/cuda.h>

#include <chrono>
#include <iomanip>

#include "vq2d/core/torch_guard.h"
#include "vq2d/core/bench.h"
#include "vq2d/core/ren.h"
#include "vq2d/core/torch_info.h"

namespace vq2d {

namespace {

double PeakRssMiB() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

void Sync(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index() < 0 ? -1 : device.index());
}

}  // namespace

Status BenchRen(const BenchRenOptions& options, std::ostream& out) {
  if (options.batch_sizes.empty()) return Status::InvalidArgument("bench ren: no batch sizes");
  for (auto b : options.batch_sizes) {
    if (b <= 0) return Status::InvalidArgument(StrCat("bench ren: batch size ", b, " must be positive"));
  }
  if (options.repeats <= 0 || options.warmup < 0) {
    return Status::InvalidArgument("bench ren: repeats must be > 0 and warmup >= 0");
  }
  if (options.frame_height <= 0 || options.frame_width <= 0) {
    return Status::InvalidArgument("bench ren: frame size must be positive");
  }
  RenConfig config;
  if (options.dtype == "float32") {
    config.dtype = c10::kFloat;
  } else if (options.dtype == "bfloat16") {
    config.dtype = c10::kBFloat16;
  } else {
    return Status::InvalidArgument(StrCat("bench ren: dtype '", options.dtype, "' (expected float32 or bfloat16)"));
  }
  VQ2D_RETURN_IF_ERROR(GuardTorch("bench ren: device", [&]() -> Status {
    config.device = c10::Device(options.device);
    if (config.device.is_cuda() && !torch::cuda::is_available()) {
      return Status::FailedPrecondition("bench ren: CUDA requested but this LibTorch has no usable CUDA device");
    }
    return Status::OK();
  }, StatusCode::kInvalidArgument));
  if (options.threads > 0) at::set_num_threads(static_cast<int>(options.threads));

  out << "bench ren: DINOv2 ViT-L/14 (block " << config.dinov2_block << ") + region encoder D="
      << config.region_encoder.hidden_dim << ", " << config.region_encoder.image_resolution << "x"
      << config.region_encoder.image_resolution << " input, " << config.region_encoder.grid_size << "x"
      << config.region_encoder.grid_size << " prompts, random weights\n"
      << "  libtorch " << TorchVersionString() << ", device " << config.device << ", dtype " << options.dtype
      << ", intra-op threads " << at::get_num_threads() << ", frames " << options.frame_height << "x"
      << options.frame_width << " uint8" << std::endl;

  const auto t_build = std::chrono::steady_clock::now();
  VQ2D_ASSIGN_OR_RETURN(auto encoder, RenEncoder::Create(config));
  out << "  build: " << std::fixed << std::setprecision(1)
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - t_build).count() << " s, peak RSS "
      << PeakRssMiB() << " MiB" << std::endl;

  for (int64_t batch : options.batch_sizes) {
    VQ2D_RETURN_IF_ERROR(GuardTorch("bench ren", [&]() -> Status {
      c10::NoGradGuard no_grad;
      // One call = one chunk of `batch` frames through both models.
      auto frames = at::randint(0, 256, {batch, options.frame_height, options.frame_width, 3},
                                at::TensorOptions().dtype(at::kByte))
                        .to(config.device);
      for (int64_t i = 0; i < options.warmup; ++i) {
        auto r = encoder->Encode(frames, batch);
        if (!r.ok()) return r.status();
      }
      Sync(config.device);
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < options.repeats; ++i) {
        auto r = encoder->Encode(frames, batch);
        if (!r.ok()) return r.status();
      }
      Sync(config.device);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double images = static_cast<double>(batch * options.repeats);
      out << "  batch " << std::setw(3) << batch << ": " << std::setprecision(3) << images / secs << " images/s ("
          << std::setprecision(2) << secs / static_cast<double>(options.repeats) << " s per call of " << batch
          << " frames, " << options.repeats << " timed, " << options.warmup << " warm-up), peak RSS "
          << std::setprecision(1) << PeakRssMiB() << " MiB" << std::endl;
      return Status::OK();
    }, StatusCode::kInvalidArgument));
  }
  return Status::OK();
}

}  // namespace vq2d
