// InspectTensorFile: torch-free summary of a tensor file (no tensor data is read).
#include "vq2d/core/checkpoint_summary.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "core/checkpoint/safetensors_header.h"
#include "core/checkpoint/tensor_util.h"
#include "core/checkpoint/torch_archive.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {
namespace {

Status AddStats(const std::string& path, TensorFileSummary* s) {
  VQ2D_ASSIGN_OR_RETURN(TensorMap tensors, LoadTensorFile(path));
  return checkpoint_internal::CatchTorch(StrCat("statistics of '", path, "'"), [&]() -> Status {
    for (auto& info : s->tensors) {
      auto it = tensors.find(info.name);
      if (it == tensors.end()) return Status::Internal(StrCat("tensor '", info.name, "' listed but not loaded"));
      const at::Tensor& t = it->second;
      if (t.numel() == 0 || t.is_complex()) continue;
      at::Tensor d = t.to(at::kDouble);
      info.stats = TensorStats{d.min().item<double>(), d.max().item<double>(), d.mean().item<double>()};
    }
    return Status::OK();
  });
}

Result<TensorFileSummary> Summarize(const std::string& path) {
  using namespace checkpoint_internal;
  VQ2D_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  TensorFileSummary s;
  switch (DetectFormat(*file)) {
    case FileFormat::kSafetensors: {
      VQ2D_ASSIGN_OR_RETURN(SafetensorsHeader h, ParseSafetensorsHeader(*file));
      s.format = "safetensors";
      s.metadata = h.metadata;
      s.structure.push_back(StrCat("safetensors (", h.entries.size(), " tensors, ", h.metadata.size(), " metadata entries)"));
      for (const auto& e : h.entries) s.tensors.push_back({e.name, DTypeName(e.dtype.result), e.shape, std::nullopt});
      return s;
    }
    case FileFormat::kTorchZip: {
      VQ2D_ASSIGN_OR_RETURN(auto archive, OpenTorchArchive(file));
      std::vector<FlatTensor> flat;
      VQ2D_RETURN_IF_ERROR(FlattenTensors(*archive, "", &flat));
      for (const auto& t : flat) VQ2D_RETURN_IF_ERROR(ValidateTensor(*archive, t));
      s.format = "pytorch-zip";
      s.metadata = archive->facts;
      s.structure = DescribeStructure(*archive, flat);
      for (const auto& t : flat) s.tensors.push_back({t.key, DTypeName(t.tensor->dtype), t.tensor->size, std::nullopt});
      std::sort(s.tensors.begin(), s.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
      return s;
    }
    case FileFormat::kLegacyTorch: return LegacyFormatError(path);
    case FileFormat::kUnknown: break;
  }
  return UnknownFormatError(*file);
}

}  // namespace

Result<TensorFileSummary> InspectTensorFile(const std::string& path, const InspectOptions& options) {
  VQ2D_ASSIGN_OR_RETURN(TensorFileSummary s, Summarize(path));
  if (options.stats) VQ2D_RETURN_IF_ERROR(AddStats(path, &s));
  return s;
}

}  // namespace vq2d
