#include <torch/version.h>

#include <string>

#include "vq2d/core/torch_info.h"

namespace vq2d {

std::string TorchVersionString() { return TORCH_VERSION; }

}  // namespace vq2d
