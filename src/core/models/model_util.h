// Internal helpers of the model implementations (not installed).
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "vq2d/core/status.h"

namespace vq2d::internal {

// Runs f() (returning Result<T>) and turns c10::Error into Status::InvalidArgument("<what>: ...")
// and other exceptions into Status::Internal.
template <typename F>
auto GuardTorch(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return Status::InvalidArgument(StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return Status::Internal(StrCat(what, ": ", e.what()));
  }
}

template <typename F>
Status GuardTorchStatus(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return Status::InvalidArgument(StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return Status::Internal(StrCat(what, ": ", e.what()));
  }
}

}  // namespace vq2d::internal
