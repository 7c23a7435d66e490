// The dtype names fixture files and `vq2d inspect` use (Python's torch names without "torch."),
// spelled out independently of the product's table so tests cross-check it.
#pragma once

#include <c10/core/ScalarType.h>

#include <string>

namespace vq2d::testing {

inline std::string ExpectedDTypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kBool: return "bool";
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kShort: return "int16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    default: return "other";
  }
}

}  // namespace vq2d::testing
