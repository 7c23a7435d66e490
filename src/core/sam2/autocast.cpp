// bf16 autocast scope for the SAM 2 predictors (upstream REN runs SAM 2 under
// torch.autocast("cuda", dtype=torch.bfloat16)); same dispatcher-level per-op policy as Python.
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <cstdio>
#include <mutex>

#include "vq2d/core/sam2.h"
#include "vq2d/core/torch_info.h"

namespace vq2d::sam2 {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define VQ2D_AUTOCAST_DEVICE_API 1
#endif

Bf16AutocastGuard::Bf16AutocastGuard(bool enabled, torch::Device device)
    : active_(enabled), cuda_(device.is_cuda()) {
  if (!active_) return;
  if (!cuda_ && !CpuBf16UsesOneDnn()) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      std::fprintf(stderr,
                   "vq2d: warning: SAM 2 under bf16 autocast on a CPU without oneDNN bf16 (AVX512 BW/VL/DQ): "
                   "LibTorch's fallback bf16 kernels are far from fp32 here; use models.precision: fp32 on CPU\n");
    });
  }
#ifdef VQ2D_AUTOCAST_DEVICE_API
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  prev_enabled_ = at::autocast::is_autocast_enabled(type);
  prev_dtype_ = at::autocast::get_autocast_dtype(type);
  at::autocast::set_autocast_enabled(type, true);
  at::autocast::set_autocast_dtype(type, at::kBFloat16);
#else
  if (cuda_) {
    prev_enabled_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else {
    prev_enabled_ = at::autocast::is_cpu_enabled();
    prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
#endif
  at::autocast::increment_nesting();
}

Bf16AutocastGuard::~Bf16AutocastGuard() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#ifdef VQ2D_AUTOCAST_DEVICE_API
  const auto type = cuda_ ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(type, prev_enabled_);
  at::autocast::set_autocast_dtype(type, prev_dtype_);
#else
  if (cuda_) {
    at::autocast::set_enabled(prev_enabled_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
  } else {
    at::autocast::set_cpu_enabled(prev_enabled_);
    at::autocast::set_autocast_cpu_dtype(prev_dtype_);
  }
#endif
}

}  // namespace vq2d::sam2
