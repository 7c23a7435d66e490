#include "vq2d/base/human.h"

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstdlib>

namespace vq2d {

std::string HumanNumber(double v, int max_significant) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return "0";
  const double a = std::fabs(v);
  char buf[64];
  if (a >= 1e15 || a < 1e-9) {
    std::snprintf(buf, sizeof buf, "%.*g", max_significant, v);
    return buf;
  }
  // Digits after the point needed for max_significant significant digits, then trim zeros.
  const int int_digits = static_cast<int>(std::floor(std::log10(a))) + 1;
  int decimals = std::max(0, max_significant - int_digits);
  // Shortest that reads back within those digits.
  std::string best;
  for (int d = 0; d <= decimals; ++d) {
    std::snprintf(buf, sizeof buf, "%.*f", d, v);
    best = buf;
    char ref[64];
    std::snprintf(ref, sizeof ref, "%.*g", max_significant, v);
    if (std::strtod(buf, nullptr) == std::strtod(ref, nullptr)) break;
  }
  return best;
}

std::string HumanSeconds(double s) {
  if (s < 0 || std::isnan(s)) return "unknown";
  char buf[64];
  if (s < 10) std::snprintf(buf, sizeof buf, "%.2f s", s);
  else if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600) {
    const long long t = static_cast<long long>(s + 0.5);
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", t / 60, t % 60);
  } else {
    const long long t = static_cast<long long>(s / 60 + 0.5);
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", t / 60, t % 60);
  }
  return buf;
}

std::string HumanBytes(uint64_t bytes) {
  char buf[64];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
    return buf;
  }
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

}  // namespace vq2d
