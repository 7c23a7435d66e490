// Facts about the LibTorch this binary was built against (no torch headers needed by callers).
#pragma once

#include <string>

namespace vq2d {

// e.g. "1.13.0" (Debian's libtorch 1.13.1 reports 1.13.0) or "2.11.0".
std::string TorchVersionString();

}  // namespace vq2d
