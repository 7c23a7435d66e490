// VQ2D_CHECK: aborts with file:line and a message when an internal invariant is broken.
// For expected failures (bad input, missing files) return a Status instead.
//
//   VQ2D_CHECK(a.size() == b.size()) << "sizes " << a.size() << " vs " << b.size();
#pragma once

#include <sstream>

namespace vq2d::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets `cond ? (void)0 : Voidify() & stream` compile for any streamed value.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace vq2d::internal

#define VQ2D_CHECK(condition)                                   \
  (condition) ? (void)0                                         \
              : ::vq2d::internal::Voidify() &                   \
                    ::vq2d::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()
#define VQ2D_CHECK_EQ(a, b) VQ2D_CHECK((a) == (b)) << (a) << " vs " << (b) << " "
