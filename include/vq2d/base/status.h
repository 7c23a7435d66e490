// Status and Result<T>: the error model for expected failures (missing file, corrupt video, bad
// config, fingerprint mismatch). Broken invariants use VQ2D_CHECK (check.h) instead.
//
// Both are [[nodiscard]]: a dropped Status is a compile error (-Werror=unused-result). Where
// ignoring one is right, say why and call IgnoreError().
//
// Thread-safety: Status and Result are values; distinct objects may be used from distinct threads.
#pragma once

#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>

namespace vq2d {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad config value, malformed input file
  kNotFound,         // missing file / key / clip
  kCorruption,       // file present but unreadable or inconsistent
  kIOError,          // the operating system refused a read or write
  kFailedPrecondition,  // e.g. fingerprint mismatch, no CUDA for models.device cuda
  kUnimplemented,
  kCancelled,        // stopped by a signal
  kInternal,
};

const char* StatusCodeName(StatusCode code);

// A success (cheap: no allocation) or an error code plus a message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(StatusCode::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(StatusCode::kIOError, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg));
  }
  static Status Unimplemented(std::string msg) { return Status(StatusCode::kUnimplemented, std::move(msg)); }
  static Status Cancelled(std::string msg) { return Status(StatusCode::kCancelled, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  const std::string& message() const;
  // "NotFound: <message>" or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>" (no-op for OK).
  Status WithContext(const std::string& context) const;

  // Explicitly drops this status (a comment at the call says why that is right).
  void IgnoreError() const {}

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

namespace internal {
// Prints "<file>:<line>: <what> on an error: <status>" to stderr and aborts.
[[noreturn]] void ResultAccessOnError(const char* file, int line, const char* what, const Status& status);
}  // namespace internal

// Either a value or a non-OK Status. Reading the value of an error (value(), *, ->) aborts with
// the caller's file:line (value()) and the status, never undefined behaviour.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                       // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) { Normalize(); }  // NOLINT: implicit by design

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) & {
    Require(file, line, "Result::value()");
    return *value_;
  }
  const T& value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const& {
    Require(file, line, "Result::value()");
    return *value_;
  }
  T&& value(const char* file = __builtin_FILE(), int line = __builtin_LINE()) && {
    Require(file, line, "Result::value()");
    return std::move(*value_);
  }
  T* operator->() {
    Require(__FILE__, __LINE__, "Result::operator->");
    return &*value_;
  }
  const T* operator->() const {
    Require(__FILE__, __LINE__, "Result::operator->");
    return &*value_;
  }
  T& operator*() & {
    Require(__FILE__, __LINE__, "Result::operator*");
    return *value_;
  }
  const T& operator*() const& {
    Require(__FILE__, __LINE__, "Result::operator*");
    return *value_;
  }

 private:
  void Require(const char* file, int line, const char* what) const {
    if (!value_.has_value()) internal::ResultAccessOnError(file, line, what, status_);
  }
  void Normalize() {
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status without a value");
  }
  std::optional<T> value_;
  Status status_;
};

// Builds a message from streamable parts: StrCat("clip ", uid, ": ", n, " frames").
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace vq2d

#define VQ2D_STATUS_CONCAT_INNER(a, b) a##b
#define VQ2D_STATUS_CONCAT(a, b) VQ2D_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define VQ2D_RETURN_IF_ERROR(expr)                   \
  do {                                               \
    ::vq2d::Status _vq2d_status = (expr);            \
    if (!_vq2d_status.ok()) return _vq2d_status;     \
  } while (0)

// VQ2D_ASSIGN_OR_RETURN(auto x, MakeX()); declares x or returns the error.
#define VQ2D_ASSIGN_OR_RETURN(lhs, expr) \
  VQ2D_ASSIGN_OR_RETURN_IMPL(VQ2D_STATUS_CONCAT(_vq2d_result_, __LINE__), lhs, expr)
#define VQ2D_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
