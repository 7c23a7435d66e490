// Internal helpers shared by the checkpoint readers: dtype tables and tensor creation from raw
// little-endian bytes. Includes ATen; not part of the public API.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/core/torch_guard.h"

namespace vq2d::checkpoint_internal {

// How the bytes of a file dtype become a tensor.
struct FileDType {
  std::string name;            // the format's own name ("BF16", "BFloat16Storage")
  uint64_t itemsize = 0;       // bytes per element in the file
  at::ScalarType stored;       // element type used to read the raw bytes
  at::ScalarType result;       // type of the returned tensor (differs when widened)
};

// safetensors dtype name -> FileDType; nullopt for names this reader does not know.
std::optional<FileDType> SafetensorsDType(const std::string& name);
// at::ScalarType -> safetensors dtype name; nullopt when safetensors has no such dtype.
std::optional<std::string> SafetensorsName(at::ScalarType type);

// Creates an owning CPU tensor of `shape` from `nbytes` raw little-endian bytes laid out as
// `dtype.stored` (row-major). Bool bytes are normalised (any non-zero byte -> true); widened
// dtypes are converted. Caller guarantees nbytes == numel * itemsize.
Result<at::Tensor> TensorFromBytes(const uint8_t* bytes, uint64_t nbytes, const FileDType& dtype,
                                   const std::vector<int64_t>& shape);

// "float32", "bfloat16", ... (Python's torch dtype names, without "torch.").
std::string DTypeName(at::ScalarType type);

// "[2, 3, 4]".
std::string ShapeString(at::IntArrayRef shape);

// Runs `fn` converting c10::Error / std::exception into Status::Internal with `context`.
template <typename Fn>
Status CatchTorch(const std::string& context, Fn&& fn) {
  return GuardTorch(context, std::forward<Fn>(fn));
}

}  // namespace vq2d::checkpoint_internal
