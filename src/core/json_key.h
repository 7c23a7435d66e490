// The one reader of optional keys in the model architecture configs (DINOv2, DINO, REN region
// encoder, SAM 2): a missing or null key keeps the caller's default.
#pragma once

#include <nlohmann/json.hpp>

#include "vq2d/base/arch_limits.h"
#include "vq2d/base/status.h"

namespace vq2d::core_internal {

// *out = j[key] when present and not null (also OK when j is not an object). A value of the wrong
// type, or an integer outside arch_limits' bound, is InvalidArgument "<where>: key '<key>': <reason>".
template <typename T>
Status ReadOptionalKey(const nlohmann::json& j, const char* key, T* out, const char* where) {
  if (!j.is_object()) return Status::OK();
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::OK();
  return arch_limits::ReadValue(*it, where, key, out);
}

}  // namespace vq2d::core_internal
