// PyTorch zip checkpoint = zip archive + restricted data.pkl object graph (internal).
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/checkpoint/mapped_file.h"
#include "core/checkpoint/pickle.h"
#include "core/checkpoint/zip_reader.h"

namespace vq2d::checkpoint_internal {

enum class FileFormat { kTorchZip, kSafetensors, kLegacyTorch, kUnknown };

// Classifies by content: "PK\3\4" (or an empty zip), a plausible safetensors header, a raw
// pickle / tar (legacy torch.save), or unknown.
FileFormat DetectFormat(const MappedFile& file);

// The error for legacy (pre-1.6) torch.save files, with re-save instructions.
Status LegacyFormatError(const std::string& path);
// The error for files of unknown format.
Status UnknownFormatError(const MappedFile& file);

struct TorchArchive {
  std::shared_ptr<const MappedFile> file;
  std::unique_ptr<ZipReader> zip;
  std::string dir;  // archive directory with trailing '/', e.g. "weights/" or "archive/"
  PickleArena arena;
  PyObject* root = nullptr;
  std::map<std::string, std::string> facts;  // "archive", "version", "byteorder"
};

// Opens the zip, finds <dir>/data.pkl, checks byteorder and unpickles.
Result<std::unique_ptr<TorchArchive>> OpenTorchArchive(std::shared_ptr<const MappedFile> file);

struct FlatTensor {
  std::string key;
  const PyObject* tensor;
};

// Flattens containers with '.' (see checkpoint.h); only keys starting with `prefix` are kept.
// Errors on cycles, duplicate flattened keys and absurd fan-out.
Status FlattenTensors(const TorchArchive& archive, const std::string& prefix, std::vector<FlatTensor>* out);

// Checks that the tensor's storage record exists, has numel * itemsize bytes, and that the view
// (offset, size, stride) stays inside it. Reads no tensor data.
Status ValidateTensor(const TorchArchive& archive, const FlatTensor& t);

// Reads the storage (CRC-checked, cached in `cache` by key and dtype) and returns the view.
Result<at::Tensor> MaterializeTensor(const TorchArchive& archive, const FlatTensor& t,
                                     std::map<std::string, at::Tensor>* cache);

// One line per item: the root's type and, for a container, its direct children.
std::vector<std::string> DescribeStructure(const TorchArchive& archive, const std::vector<FlatTensor>& all);

}  // namespace vq2d::checkpoint_internal
