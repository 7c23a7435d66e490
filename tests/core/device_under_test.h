// The device the model parity tests run on. Default: the CPU, so a plain test run is unchanged.
// tools/gpu_check.sh sets VQ2D_TEST_DEVICE=cuda (or cuda:N) to run the same fixtures, with the same
// fp32 tolerances, on a GPU; an unusable value fails the test that asks instead of falling back.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

namespace vq2d::testing {

// VQ2D_TEST_DEVICE: unset or empty = "cpu"; otherwise any torch device string ("cuda", "cuda:1").
inline torch::Device TestDevice() {
  const char* s = std::getenv("VQ2D_TEST_DEVICE");
  const std::string name = (s && *s) ? s : "cpu";
  torch::Device d(torch::kCPU);
  try {
    d = torch::Device(name);
  } catch (const c10::Error&) {
    ADD_FAILURE() << "VQ2D_TEST_DEVICE='" << name << "' is not a device (expected cpu, cuda or cuda:N)";
    return torch::Device(torch::kCPU);
  }
  if (d.is_cuda() && !torch::cuda::is_available()) {
    ADD_FAILURE() << "VQ2D_TEST_DEVICE='" << name << "' but this LibTorch sees no CUDA device";
    return torch::Device(torch::kCPU);
  }
  return d;
}

inline bool TestOnCpu() { return TestDevice().is_cpu(); }

}  // namespace vq2d::testing
