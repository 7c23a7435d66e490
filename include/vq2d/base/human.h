// Numbers as people read them, for every human-facing output (status, config --keys, bench, logs):
// never an exponent for ordinary magnitudes, units always named. Not for machine formats (the
// canonical config and JSON keep their exact forms).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

namespace vq2d {

// Shortest decimal that reads back as `v` with at most `max_significant` significant digits, in
// fixed notation ("120", "30", "0.000014697", "0.6"); exponent only beyond 1e15 or below 1e-9.
std::string HumanNumber(double v, int max_significant = 6);
// Seconds with a unit: "0.42 s", "12.3 s", "4 min 05 s", "2 h 03 min"; "unknown" when negative.
std::string HumanSeconds(double s);
// Bytes with binary units: "512 B", "1.5 KiB", "34.2 MiB", "2.00 GiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace vq2d
