// SubMap and LoadStateDict: strict copying of a flat tensor map into a torch::nn::Module.
#include <torch/nn/module.h>

#include <algorithm>
#include <set>

#include "core/checkpoint/tensor_util.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {

TensorMap SubMap(const TensorMap& tensors, const std::string& prefix) {
  TensorMap out;
  for (auto it = tensors.lower_bound(prefix); it != tensors.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.emplace(it->first.substr(prefix.size()), it->second);
  }
  return out;
}

namespace {

// Lists at most `limit` names, then "... and N more".
std::string JoinNames(const std::vector<std::string>& names, size_t limit = 40, bool quote = true) {
  std::string s;
  const char* q = quote ? "'" : "";
  for (size_t i = 0; i < names.size() && i < limit; ++i) s += StrCat(i ? ", " : "", q, names[i], q);
  if (names.size() > limit) s += StrCat(", ... and ", names.size() - limit, " more");
  return s;
}

}  // namespace

Status LoadStateDict(torch::nn::Module& module, const TensorMap& tensors, const LoadOptions& options) {
  using checkpoint_internal::DTypeName;
  using checkpoint_internal::ShapeString;
  return checkpoint_internal::CatchTorch("LoadStateDict", [&]() -> Status {
    const std::set<std::string> ignored(options.ignore_module_keys.begin(), options.ignore_module_keys.end());
    std::vector<std::pair<std::string, at::Tensor>> targets;
    for (const auto& p : module.named_parameters(/*recurse=*/true)) targets.emplace_back(p.key(), p.value());
    for (const auto& b : module.named_buffers(/*recurse=*/true)) targets.emplace_back(b.key(), b.value());

    std::vector<std::string> mismatches, missing, unexpected, non_finite;
    std::set<std::string> used;
    at::NoGradGuard no_grad;
    for (auto& [key, target] : targets) {
      if (ignored.count(key)) {
        used.insert(key);
        continue;
      }
      auto it = tensors.find(key);
      if (it == tensors.end()) {
        missing.push_back(key);
        continue;
      }
      used.insert(key);
      const at::Tensor& src = it->second;
      if (!src.defined()) {
        mismatches.push_back(StrCat("'", key, "': checkpoint tensor is undefined"));
        continue;
      }
      if (!target.defined()) {
        mismatches.push_back(StrCat("'", key, "': module entry is undefined"));
        continue;
      }
      if (src.sizes() != target.sizes()) {
        mismatches.push_back(StrCat("'", key, "': checkpoint shape ", ShapeString(src.sizes()), " ", DTypeName(src.scalar_type()),
                                    " vs module shape ", ShapeString(target.sizes()), " ", DTypeName(target.scalar_type())));
        continue;
      }
      const bool both_float = at::isFloatingType(src.scalar_type()) && at::isFloatingType(target.scalar_type());
      if (src.scalar_type() != target.scalar_type() && !both_float) {
        mismatches.push_back(StrCat("'", key, "': checkpoint dtype ", DTypeName(src.scalar_type()), " vs module dtype ",
                                    DTypeName(target.scalar_type()), " (shape ", ShapeString(src.sizes()), ")"));
        continue;
      }
      if (at::isFloatingType(src.scalar_type())) {
        // Every floating weight must be finite (docs/checkpoints.md). One pass over the weights,
        // once per load: NaN/Inf weights would make every output non-finite (and every query an
        // empty track) without a word.
        const int64_t n_nan = src.isnan().sum().item<int64_t>();
        const int64_t n_inf = src.isinf().sum().item<int64_t>();
        if (n_nan + n_inf > 0) {
          non_finite.push_back(StrCat("'", key, "' (", n_nan, " NaN, ", n_inf, " Inf of ", src.numel(), " values)"));
          continue;
        }
      }
      target.copy_(src);
    }
    if (!non_finite.empty()) {
      return Status::InvalidArgument(StrCat("non-finite weights in ", non_finite.size(), " tensor(s): ",
                                            JoinNames(non_finite, 20, /*quote=*/false)));
    }
    for (const auto& [key, t] : tensors) {
      if (!used.count(key)) unexpected.push_back(key);
    }
    std::string msg;
    if (!mismatches.empty()) msg += StrCat(mismatches.size(), " mismatched: ", JoinNames(mismatches, 20, /*quote=*/false));
    if (options.strict && !missing.empty()) {
      msg += StrCat(msg.empty() ? "" : "; ", missing.size(), " missing from the checkpoint: ", JoinNames(missing));
    }
    if (options.strict && !unexpected.empty()) {
      msg += StrCat(msg.empty() ? "" : "; ", unexpected.size(), " unexpected in the checkpoint: ", JoinNames(unexpected));
    }
    if (!msg.empty()) return Status::InvalidArgument(StrCat("state dict does not fit the module: ", msg));
    return Status::OK();
  });
}

}  // namespace vq2d
