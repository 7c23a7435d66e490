// Checkpoint I/O: safetensors and PyTorch zip checkpoints (torch.save) read without Python and
// without executing anything, plus strict copying of a tensor map into a torch::nn::Module.
//
// Formats and safety model: docs/checkpoints.md. In short:
//  - safetensors: header validated against the file size; every tensor's byte range must equal
//    dtype x shape, lie inside the data buffer and not overlap another tensor.
//  - PyTorch zip (torch >= 1.6, torch 1.x and 2.x): a restricted unpickler reads data.pkl. Only
//    container/tensor/storage globals are accepted; any other global is refused with an error
//    naming it. Nothing in the file is ever executed.
//  - Legacy (pre-1.6, non-zip) torch.save files are refused with a message on how to re-save them.
//
// Every function converts c10::Error and friends to Status; bad input never crashes.
// Thread-safety: all functions are reentrant; they share no state.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace vq2d {

// Flattened name -> tensor. Tensors are CPU tensors that own (or share, between views of one
// storage, as torch.load does) their memory; they never point into a file mapping.
using TensorMap = std::map<std::string, at::Tensor>;

// Reads a safetensors file (8-byte LE header length, JSON header, raw LE data). Validation: header
// length <= file size, header is a JSON object, each entry has a known dtype, a shape of
// non-negative ints and data_offsets [begin, end] with end - begin == numel * itemsize (overflow
// checked), ranges inside the data buffer and pairwise non-overlapping, no duplicate names.
// Dtypes: BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64 (+ U16 -> int32 and U32 -> int64, widened
// losslessly, since LibTorch 1.13 lacks them; F8_* when the LibTorch has them). `__metadata__`
// is ignored here (see ReadSafetensorsMetadata).
Result<TensorMap> LoadSafetensors(const std::string& path);

// The string->string `__metadata__` map of a safetensors file (empty when absent).
Result<std::map<std::string, std::string>> ReadSafetensorsMetadata(const std::string& path);

// Writes `tensors` as safetensors via WriteFileAtomic (crash-safe). Tensors may live on any device
// and be non-contiguous; they are written as contiguous CPU little-endian data in key order.
// Names must be non-empty and must not be "__metadata__". Undefined tensors are an error.
Status SaveSafetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Reads a PyTorch zip checkpoint (torch.save with torch >= 1.6; written by torch 1.x or 2.x).
// Nested dicts / OrderedDicts / lists / tuples are flattened with '.':
//   {"model": {"image_encoder.trunk.pos_embed": T}} -> "model.image_encoder.trunk.pos_embed"
//   list/tuple elements by index ("optimizer_state.param_groups.0...."), int dict keys as decimal.
// Only tensors whose flattened key starts with `prefix` are read from the archive (the key in the
// result keeps the prefix; use SubMap to strip it). Non-tensor leaves (ints, strings, optimizer
// hyper-parameters, opaque objects) are skipped. OrderedDict `_metadata` is ignored.
// Tensor views keep their storage offset, size and stride (views of one storage share memory).
Result<TensorMap> LoadTorchCheckpoint(const std::string& path, const std::string& prefix = "");

// Dispatches on the file's content (zip magic "PK\3\4" / safetensors header), not its name.
// For safetensors files the prefix filter applies to the tensor names.
Result<TensorMap> LoadTensorFile(const std::string& path, const std::string& prefix = "");

// Entries whose key starts with `prefix`, with the prefix stripped ("model." -> "x.weight").
TensorMap SubMap(const TensorMap& tensors, const std::string& prefix);

struct LoadOptions {
  // true: every module parameter/buffer must be present and no extra keys may remain.
  // false: missing and unexpected keys are ignored (shape/dtype mismatches are still errors).
  bool strict = true;
  // Module keys that are never loaded from the file and never reported missing (e.g. buffers the
  // model computes itself at construction time).
  std::vector<std::string> ignore_module_keys;
};

// Copies tensors into module.named_parameters() and module.named_buffers() (recursive names
// joined with '.', as in Python's state_dict). Each source must have exactly the module entry's
// shape; floating sources are converted to the entry's floating dtype and device, other dtypes
// must match exactly. Errors list every offending key with both shapes/dtypes, then the missing
// keys and (when strict) the unexpected keys. On error the module may be partially updated.
// Not thread-safe with respect to concurrent use of `module`.
Status LoadStateDict(torch::nn::Module& module, const TensorMap& tensors, const LoadOptions& options = {});

}  // namespace vq2d
