// Torch-free description of a tensor file (safetensors or PyTorch zip checkpoint), for
// `vq2d inspect` and other callers that must not include torch headers.
// Reading a summary parses only headers / data.pkl and validates every tensor's storage range;
// tensor data is not read unless statistics are requested. Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

// Value statistics of one tensor, computed in float64 (bool as 0/1).
struct TensorStats {
  double min = 0;
  double max = 0;
  double mean = 0;
};

struct TensorInfo {
  std::string name;            // flattened key, as LoadTensorFile returns it
  std::string dtype;           // torch dtype name: "float32", "bfloat16", "int64", "bool", ...
  std::vector<int64_t> shape;
  std::optional<TensorStats> stats;  // only with InspectOptions::stats, and only for non-empty tensors
};

struct TensorFileSummary {
  std::string format;                          // "safetensors" or "pytorch-zip"
  std::vector<std::string> structure;          // human-readable top-level structure, one line each
  std::vector<TensorInfo> tensors;             // sorted by name
  std::map<std::string, std::string> metadata; // safetensors __metadata__; zip: archive facts
};

struct InspectOptions {
  // Also read every tensor (CRC-checked) and compute min/max/mean. Costs a full load.
  bool stats = false;
};

// Detects the format from the content, not the extension. Errors as for LoadTensorFile.
Result<TensorFileSummary> InspectTensorFile(const std::string& path, const InspectOptions& options = {});

}  // namespace vq2d
