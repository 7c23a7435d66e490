// The demo's SAM 2.1 architecture (docs/models.md): Hiera width 16, 5 blocks, d_model 32, at 256 px,
// as an architecture-file object for sam2::Sam2ConfigFromJson. One definition for the demo models
// (pipeline::DemoArchitectures, `vq2d synth`) and `bench clip --arch toy`. Torch-free.
#pragma once

#include <nlohmann/json.hpp>

namespace vq2d::sam2 {

nlohmann::json DemoArchitecture();

}  // namespace vq2d::sam2
