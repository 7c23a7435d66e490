// Config -> pipeline parameters: every `visual_query` key and hard-coded-constant key that shapes
// the stages, and the `fixes.*` switches (torch-free; the pipeline's params.h).
#pragma once

#include <string>

#include "vq2d/io/config.h"
#include "vq2d/pipeline/params.h"

namespace vq2d::app {

pipeline::PipelineParams PipelineParamsFromConfig(const io::Config& config);
// visual_query.crop_interpolation name -> enum (lanczos4 | cubic | linear | area | nearest).
pipeline::CropInterpolation CropInterpolationFromName(const std::string& name);

}  // namespace vq2d::app
