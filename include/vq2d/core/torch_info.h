// Facts about the LibTorch this binary was built against (no torch headers needed by callers).
#pragma once

#include <string>

namespace vq2d {

// e.g. "1.13.0" (Debian's libtorch 1.13.1 reports 1.13.0) or "2.11.0".
std::string TorchVersionString();

// Whether bf16 on this CPU runs through oneDNN's bf16 kernels (x86 with AVX512 BW/VL/DQ and oneDNN
// enabled). Elsewhere LibTorch 1.13 falls back to its own bf16 kernels, whose results for SAM 2 are
// far off fp32 (relative L2 0.2-1.5 on the fixtures' models): CPU bf16 is then not a usable
// precision. Thread-safe; computed once.
bool CpuBf16UsesOneDnn();

}  // namespace vq2d
