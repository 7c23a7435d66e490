// Upper bounds of model architecture fields (config keys ren.architecture.*, ren.parameters.*, and
// the models.architecture JSON file). Checked before any module is built, so a hostile or mistyped
// size fails with a message instead of allocating without limit. Every official model is far inside
// them (docs/models.md, "Architecture bounds"). Torch-free, shared by io (config) and core (models).
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::arch_limits {

constexpr int64_t kMaxWidth = 16384;       // embed_dim, hidden_dim, d_model, memory dims
constexpr int64_t kMaxFeedForward = 65536; // mlp_dim, dim_feedforward
constexpr int64_t kMaxDepth = 256;         // blocks / layers of one network (also per Hiera stage)
constexpr int64_t kMaxHeads = 256;         // attention heads
constexpr int64_t kMaxImageSize = 8192;    // img_size, image_resolution, image_size (pixels)
constexpr int64_t kMaxPatch = 64;          // patch size / backbone stride
constexpr int64_t kMaxGrid = 1024;         // REN prompt grid side
constexpr int64_t kMaxTokens = 1024;       // register tokens, memory frames, object pointers
constexpr double kMaxMlpRatio = 64.0;      // FFN width / embed_dim
constexpr int64_t kMaxInteger = 1 << 24;   // any other integer of an architecture file

// "<where>: <key> <v> is out of range: expected [lo, hi]" unless lo <= v <= hi.
template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
Status CheckRange(const std::string& where, const std::string& key, I v, int64_t lo, int64_t hi) {
  if (v >= lo && v <= hi) return Status::OK();
  return Status::InvalidArgument(
      StrCat(where, ": ", key, " ", v, " is out of range: expected a value in [", lo, ", ", hi, "]"));
}
inline Status CheckRange(const std::string& where, const std::string& key, double v, double lo, double hi) {
  if (v >= lo && v <= hi) return Status::OK();
  return Status::InvalidArgument(
      StrCat(where, ": ", key, " ", v, " is out of range: expected a value in [", lo, ", ", hi, "]"));
}

// Reads one value of an architecture JSON object: integers must be JSON integers in
// [-kMaxInteger, kMaxInteger] (no silent wrap into a narrower type, no truncated floats), floats
// finite; other types as nlohmann converts them. Errors: "<where>: key '<key>': ...".
template <typename T>
Status ReadValue(const nlohmann::json& v, const std::string& where, const std::string& key, T* out) {
  auto bad = [&](const std::string& what) { return Status::InvalidArgument(StrCat(where, ": key '", key, "': ", what)); };
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (!v.is_number_integer()) return bad(StrCat("expected an integer, got ", v.dump().substr(0, 40)));
    const bool in_range = v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(kMaxInteger)
                                                 : v.get<int64_t>() >= -kMaxInteger && v.get<int64_t>() <= kMaxInteger;
    if (!in_range) {
      return bad(StrCat(v.dump(), " is out of range: expected |value| <= ", kMaxInteger));
    }
    *out = static_cast<T>(v.get<int64_t>());
    return Status::OK();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) return bad(StrCat("expected a number, got ", v.dump().substr(0, 40)));
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 1e12) return bad(StrCat(v.dump(), " is out of range"));
    *out = static_cast<T>(d);
    return Status::OK();
  } else if constexpr (std::is_same_v<T, std::vector<int>> || std::is_same_v<T, std::vector<int64_t>>) {
    if (!v.is_array()) return bad(StrCat("expected a list of integers, got ", v.dump().substr(0, 40)));
    if (v.size() > static_cast<size_t>(kMaxDepth)) return bad(StrCat("list of ", v.size(), " values (at most ", kMaxDepth, ")"));
    T list;
    for (const auto& e : v) {
      typename T::value_type x{};
      VQ2D_RETURN_IF_ERROR(ReadValue(e, where, key, &x));
      list.push_back(x);
    }
    *out = std::move(list);
    return Status::OK();
  } else {
    try {
      *out = v.get<T>();
    } catch (const std::exception& e) {
      return bad(e.what());
    }
    return Status::OK();
  }
}

}  // namespace vq2d::arch_limits
