#include "core/checkpoint/tensor_util.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include <cstring>
#include <sstream>

namespace vq2d::checkpoint_internal {
namespace {

struct Entry {
  const char* name;
  uint64_t itemsize;
  at::ScalarType stored;
  at::ScalarType result;
};

// safetensors names (huggingface/safetensors Dtype enum). U16/U32 are widened because LibTorch
// 1.13 has no unsigned 16/32-bit types; U64 has no lossless LibTorch type and is refused.
const Entry kSafetensors[] = {
    {"BOOL", 1, at::kBool, at::kBool},        {"U8", 1, at::kByte, at::kByte},
    {"I8", 1, at::kChar, at::kChar},          {"I16", 2, at::kShort, at::kShort},
    {"U16", 2, at::kShort, at::kInt},         {"I32", 4, at::kInt, at::kInt},
    {"U32", 4, at::kInt, at::kLong},          {"I64", 8, at::kLong, at::kLong},
    {"F16", 2, at::kHalf, at::kHalf},         {"BF16", 2, at::kBFloat16, at::kBFloat16},
    {"F32", 4, at::kFloat, at::kFloat},       {"F64", 8, at::kDouble, at::kDouble},
    {"C64", 8, at::kComplexFloat, at::kComplexFloat},
#if TORCH_VERSION_MAJOR >= 2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 1)
    {"F8_E4M3", 1, at::kFloat8_e4m3fn, at::kFloat8_e4m3fn},
    {"F8_E5M2", 1, at::kFloat8_e5m2, at::kFloat8_e5m2},
#endif
};

}  // namespace

std::optional<FileDType> SafetensorsDType(const std::string& name) {
  for (const Entry& e : kSafetensors) {
    if (name == e.name) return FileDType{e.name, e.itemsize, e.stored, e.result};
  }
  return std::nullopt;
}

std::optional<std::string> SafetensorsName(at::ScalarType type) {
  for (const Entry& e : kSafetensors) {
    if (e.stored == type && e.result == type) return std::string(e.name);
  }
  return std::nullopt;
}

Result<at::Tensor> TensorFromBytes(const uint8_t* bytes, uint64_t nbytes, const FileDType& dtype,
                                   const std::vector<int64_t>& shape) {
  at::Tensor out;
  Status st = CatchTorch("creating tensor", [&]() -> Status {
    at::ScalarType raw_type = dtype.stored == at::kBool ? at::kByte : dtype.stored;
    at::Tensor raw = at::empty(shape, at::TensorOptions().dtype(raw_type).device(at::kCPU));
    if (static_cast<uint64_t>(raw.nbytes()) != nbytes) {
      return Status::Internal(StrCat("byte count ", nbytes, " does not match ", raw.nbytes()));
    }
    if (nbytes > 0) std::memcpy(raw.data_ptr(), bytes, static_cast<size_t>(nbytes));
    if (dtype.stored == at::kBool) {
      raw = raw.ne(0);
    } else if (dtype.name == "U16") {
      raw = raw.to(at::kInt).bitwise_and(0xFFFF);
    } else if (dtype.name == "U32") {
      raw = raw.to(at::kLong).bitwise_and(static_cast<int64_t>(0xFFFFFFFFll));
    }
    out = raw;
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

std::string DTypeName(at::ScalarType type) {
  switch (type) {
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
    case at::kComplexFloat: return "complex64";
    case at::kComplexDouble: return "complex128";
    default: return c10::toString(type);
  }
}

std::string ShapeString(at::IntArrayRef shape) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << "]";
  return os.str();
}

}  // namespace vq2d::checkpoint_internal
