// Clock: the seam for time, so tests can control progress/ETA arithmetic and timestamps.
// Thread-safety: implementations are thread-safe.
#pragma once

#include <string>

namespace vq2d {

class Clock {
 public:
  virtual ~Clock() = default;
  static Clock* Default();  // real time; never null, not owned
  // Monotonic seconds (arbitrary origin), for durations.
  virtual double MonotonicSeconds() = 0;
  // Wall-clock UTC time as ISO 8601 ("2026-11-28T01:02:03.456Z"), for records and logs.
  virtual std::string NowIso8601() = 0;
};

}  // namespace vq2d
