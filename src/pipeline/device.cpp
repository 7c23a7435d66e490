#include "vq2d/pipeline/device.h"

#include <cstdlib>

namespace vq2d::pipeline {

namespace {

constexpr const char* kCudaBuildHint =
    "build the CUDA vq2d against a CUDA LibTorch: cmake -S . -B build-cuda -DCMAKE_PREFIX_PATH=\"$(python3 -c "
    "'import torch;print(torch.utils.cmake_prefix_path)')\" && cmake --build build-cuda --target vq2d (README "
    "\"CUDA build\")";

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

std::string AllocatedGpus(const EnvLookup& env) {
  if (const char* v = env("CUDA_VISIBLE_DEVICES")) {
    const std::string s(v);
    if (!s.empty() && s != "-1" && s != "NoDevFiles") return "CUDA_VISIBLE_DEVICES=" + s;
  }
  for (const char* name : {"SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "SLURM_GPUS", "SLURM_GPUS_ON_NODE",
                           "SLURM_GPUS_PER_NODE", "SLURM_GPUS_PER_TASK", "SLURM_GPUS_PER_SOCKET"}) {
    const char* v = env(name);
    if (!v) continue;
    const std::string s(v);
    if (!s.empty() && s != "0") return std::string(name) + "=" + s;
  }
  return "";
}

std::string DeviceChoice::ToString() const { return cuda ? StrCat("cuda:", index) : std::string("cpu"); }

Result<DeviceChoice> ChooseDevice(const std::string& device, int local_rank, const CudaInfo& cuda,
                                  const EnvLookup& env) {
  auto gpu_of_rank = [&]() {
    DeviceChoice d;
    d.cuda = true;
    d.index = cuda.devices > 0 ? local_rank % cuda.devices : 0;
    return d;
  };
  if (device == "cpu") return DeviceChoice{};
  if (device == "auto") {
    if (cuda.available && cuda.devices > 0) return gpu_of_rank();
    const std::string gpus = AllocatedGpus(env);
    if (gpus.empty()) return DeviceChoice{};
    if (!cuda.compiled) {
      return Status::FailedPrecondition(StrCat(
          "models.device auto: GPUs are allocated to this job (", gpus,
          ") but this vq2d is CPU-only (its LibTorch has no CUDA), so it would hold the GPUs and compute on the "
          "CPU. Either ", kCudaBuildHint, ", or set models.device: cpu (--set models.device=cpu) to compute on "
          "the CPU on purpose"));
    }
    return Status::FailedPrecondition(StrCat(
        "models.device auto: GPUs are allocated to this job (", gpus,
        ") and LibTorch has CUDA, but it sees no usable GPU (driver too old for LibTorch's CUDA, or the "
        "devices are not visible to this process: check nvidia-smi inside the job); set models.device: cpu to "
        "compute on the CPU on purpose"));
  }
  if (device.rfind("cuda", 0) == 0) {
    if (!cuda.available || cuda.devices <= 0) {
      return Status::FailedPrecondition(StrCat("models.device ", device, ": ",
                                               cuda.compiled ? "LibTorch has CUDA but no GPU is usable here"
                                                             : "this vq2d is CPU-only (its LibTorch has no CUDA); ",
                                               cuda.compiled ? "" : kCudaBuildHint));
    }
    if (device == "cuda") return gpu_of_rank();
    const std::string n = device.substr(4);
    if (n.size() >= 2 && n[0] == ':' && n.find_first_not_of("0123456789", 1) == std::string::npos && n.size() <= 4) {
      DeviceChoice d;
      d.cuda = true;
      d.index = std::atoi(n.c_str() + 1);
      if (d.index >= cuda.devices) {
        return Status::FailedPrecondition(StrCat("models.device ", device, ": only ", cuda.devices,
                                                 " CUDA device(s) are visible"));
      }
      return d;
    }
  }
  return Status::InvalidArgument(StrCat("models.device '", device, "': expected auto, cpu, cuda or cuda:N"));
}

}  // namespace vq2d::pipeline
