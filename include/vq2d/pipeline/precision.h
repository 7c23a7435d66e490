// Which dtype each model computes in, as a pure function of the device kind and of the
// models.precision / models.dino_precision keys: the one definition of the precision table of
// docs/gpu.md, testable without a GPU. Torch-free.
#pragma once

#include <string>

#include "vq2d/base/status.h"

namespace vq2d::pipeline {

// models.precision:
//   kAuto  ("auto", default)  upstream REN's own choices for the device: on CUDA SAM 2 under bf16
//                             autocast and REN in fp32; on the CPU everything fp32 (upstream's
//                             autocast('cuda') is a no-op there);
//   kFp32  ("fp32")           REN and SAM 2 in fp32 on every device;
//   kBf16  ("bf16")           the speed mode: REN in bf16 as well, SAM 2 under bf16 autocast, on
//                             every device (CPU bf16 is slow and, without oneDNN bf16, inexact).
enum class PrecisionMode { kAuto, kFp32, kBf16 };

// "auto" | "fp32" | "bf16"; InvalidArgument naming models.precision otherwise.
Result<PrecisionMode> ParsePrecisionMode(const std::string& text);
const char* PrecisionModeName(PrecisionMode mode);

struct ModelPrecision {
  bool ren_bf16 = false;            // DINOv2 + REN region encoder weights and activations in bf16
  bool sam2_bf16_autocast = false;  // SAM 2.1 image and video predictors under bf16 autocast
  bool dino_bf16 = true;            // descriptor backbone (DINO ViT-B/8 or DINOv2) weights and input in bf16
  // e.g. "REN fp32, SAM 2 bf16 autocast, descriptors bf16".
  std::string ToString() const;
  bool operator==(const ModelPrecision& o) const {
    return ren_bf16 == o.ren_bf16 && sam2_bf16_autocast == o.sam2_bf16_autocast && dino_bf16 == o.dino_bf16;
  }
};

// The dtypes for `mode` on a CUDA device (`cuda` true) or the CPU. `dino_bf16` is
// models.dino_precision == "bf16" (upstream casts DINO to bf16 on every device), independent of mode.
ModelPrecision ResolvePrecision(PrecisionMode mode, bool cuda, bool dino_bf16);

// models.batch_crops -> PipelineParams::batch_crops: "on" / "off" on every device, "auto" (default)
// on CUDA only (batched encodes are equal within float tolerance, not bit-identical, so the CPU keeps
// its outputs). InvalidArgument naming models.batch_crops otherwise.
Result<bool> ResolveBatchCrops(const std::string& mode, bool cuda);

}  // namespace vq2d::pipeline
