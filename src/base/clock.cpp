#include "vq2d/base/clock.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace vq2d {
namespace {

class RealClock final : public Clock {
 public:
  double MonotonicSeconds() override {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
  }
  std::string NowIso8601() override {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    int ms = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
    std::tm tm;
    gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
  }
};

}  // namespace

Clock* Clock::Default() {
  static RealClock* clock = new RealClock();
  return clock;
}

}  // namespace vq2d
