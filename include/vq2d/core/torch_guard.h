// Module-edge conversion of LibTorch exceptions into Status (c10::Error, std::bad_alloc, other
// std::exception), so bad input or a device failure never escapes as an exception.
#pragma once

#include <c10/util/Exception.h>

#include <exception>
#include <new>
#include <string>

#include "vq2d/base/status.h"

namespace vq2d {

// Runs f() (returning Status or Result<T>). A c10::Error becomes Status(`c10_code`, "<what>: ...");
// out-of-memory and any other exception become Internal.
template <typename F>
auto GuardTorch(const std::string& what, F&& f, StatusCode c10_code = StatusCode::kInternal) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::Error& e) {
    return Status(c10_code, StrCat(what, ": ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return Status::Internal(StrCat(what, ": out of memory"));
  } catch (const std::exception& e) {
    return Status::Internal(StrCat(what, ": ", e.what()));
  }
}

}  // namespace vq2d
