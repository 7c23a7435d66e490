#include "vq2d/pipeline/precision.h"

namespace vq2d::pipeline {

Result<PrecisionMode> ParsePrecisionMode(const std::string& text) {
  if (text == "auto") return PrecisionMode::kAuto;
  if (text == "fp32") return PrecisionMode::kFp32;
  if (text == "bf16") return PrecisionMode::kBf16;
  return Status::InvalidArgument(StrCat("models.precision '", text, "': expected auto, fp32 or bf16"));
}

const char* PrecisionModeName(PrecisionMode mode) {
  switch (mode) {
    case PrecisionMode::kAuto: return "auto";
    case PrecisionMode::kFp32: return "fp32";
    case PrecisionMode::kBf16: return "bf16";
  }
  return "?";
}

std::string ModelPrecision::ToString() const {
  return StrCat("REN ", ren_bf16 ? "bf16" : "fp32", ", SAM 2 ", sam2_bf16_autocast ? "bf16 autocast" : "fp32",
                ", descriptors ", dino_bf16 ? "bf16" : "fp32");
}

ModelPrecision ResolvePrecision(PrecisionMode mode, bool cuda, bool dino_bf16) {
  ModelPrecision p;
  p.dino_bf16 = dino_bf16;
  switch (mode) {
    case PrecisionMode::kAuto:
      // Upstream: SAM 2 calls sit in torch.autocast('cuda', bfloat16) (savya08/REN@e2204c5:
      // visual_query/vq_utils.py:264,281 image predictor; visual_query/models.py:610 tracking), a
      // no-op off CUDA; REN runs without autocast in the weights' fp32 (visual_query/models.py:32-33,75-80).
      p.ren_bf16 = false;
      p.sam2_bf16_autocast = cuda;
      break;
    case PrecisionMode::kFp32:
      break;
    case PrecisionMode::kBf16:
      p.ren_bf16 = true;
      p.sam2_bf16_autocast = true;
      break;
  }
  return p;
}

Result<bool> ResolveBatchCrops(const std::string& mode, bool cuda) {
  if (mode == "auto") return cuda;
  if (mode == "on") return true;
  if (mode == "off") return false;
  return Status::InvalidArgument(StrCat("models.batch_crops '", mode, "': expected auto, on or off"));
}

}  // namespace vq2d::pipeline
