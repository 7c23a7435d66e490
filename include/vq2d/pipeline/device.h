// Which device a rank computes on (models.device), as a pure function of what LibTorch reports and
// of the process environment, so the rules are testable without a GPU. Torch-free.
#pragma once

#include <functional>
#include <string>

#include "vq2d/base/status.h"

namespace vq2d::pipeline {

// getenv-like lookup: the variable's value, or nullptr when unset.
using EnvLookup = std::function<const char*(const char*)>;
// The process environment (std::getenv).
EnvLookup ProcessEnv();

// "NAME=value" of the first variable saying that GPUs are allocated to this process or job, "" when
// none: CUDA_VISIBLE_DEVICES (non-empty, not "-1" / "NoDevFiles"), SLURM_JOB_GPUS, SLURM_STEP_GPUS,
// SLURM_GPUS, SLURM_GPUS_ON_NODE, SLURM_GPUS_PER_NODE, SLURM_GPUS_PER_TASK, SLURM_GPUS_PER_SOCKET
// (non-empty, not "0").
std::string AllocatedGpus(const EnvLookup& env);

// What LibTorch says about CUDA in this process.
struct CudaInfo {
  bool compiled = false;   // LibTorch was built with CUDA and its CUDA library is linked (at::hasCUDA)
  bool available = false;  // torch::cuda::is_available(): compiled and at least one usable GPU
  int devices = 0;         // torch::cuda::device_count()
};

struct DeviceChoice {
  bool cuda = false;
  int index = 0;  // CUDA device index (cuda only)
  std::string ToString() const;  // "cpu" or "cuda:<index>"
};

// models.device -> device:
//   "cpu"          always the CPU;
//   "auto"         cuda:<local_rank % devices> when CUDA is available; otherwise the CPU, unless GPUs
//                  are allocated (AllocatedGpus) -- then FailedPrecondition: this binary is CPU-only
//                  (or cannot see the GPUs), with how to build the CUDA one or to ask for cpu;
//   "cuda"         cuda:<local_rank % devices>; "cuda:N" device N (must exist);
// FailedPrecondition when CUDA is asked for and not available, InvalidArgument for anything else.
Result<DeviceChoice> ChooseDevice(const std::string& device, int local_rank, const CudaInfo& cuda,
                                  const EnvLookup& env);

}  // namespace vq2d::pipeline
