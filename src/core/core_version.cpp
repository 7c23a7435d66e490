#include <ATen/Context.h>
#include <torch/version.h>

#include <string>

#include "vq2d/core/torch_info.h"

namespace vq2d {

std::string TorchVersionString() { return TORCH_VERSION; }

bool CpuBf16UsesOneDnn() {
  static const bool yes = [] {
#if defined(__x86_64__) || defined(__i386__)
    const bool isa = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                     __builtin_cpu_supports("avx512dq");
#else
    const bool isa = false;
#endif
    return isa && at::globalContext().userEnabledMkldnn();
  }();
  return yes;
}

}  // namespace vq2d
