// `vq2d run` with an injectable clip processor: the product uses the VQ2D pipeline; the runner's
// multi-process tests use a test processor (tests/runner/programs).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/commands.h"
#include "vq2d/io/config.h"
#include "vq2d/runner/collective.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

struct ProcessorFactory {
  // Builds the per-rank processor (models are loaded here, once per rank).
  std::function<Result<std::unique_ptr<ClipProcessor>>(const Config&, const Collective&)> make;
  // (name, path) of the files whose content defines the results (checkpoints): hashed into the fingerprint.
  std::function<std::vector<std::pair<std::string, std::string>>(const Config&)> fingerprint_files;
};

// The product's processor factory (the VQ2D pipeline).
ProcessorFactory PipelineProcessorFactory();

int RunRunWith(const Args& args, const ProcessorFactory& factory);

}  // namespace vq2d::app
