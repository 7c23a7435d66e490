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

// Options of `vq2d run` that reach the processor.
struct ProcessorExtras {
  std::string debug_dump_dir;  // --debug-dump: per-stage trace of one clip goes here
  std::string debug_clip;      // --debug-clip (default: the first clip of the work list)
};

struct ProcessorFactory {
  // Builds the per-rank processor (models are loaded here, once per rank).
  std::function<Result<std::unique_ptr<runner::ClipProcessor>>(const io::Config&, const runner::Collective&, const ProcessorExtras&)> make;
  // (name, path) of the files whose content defines the results (checkpoints): hashed into the fingerprint.
  std::function<std::vector<std::pair<std::string, std::string>>(const io::Config&)> fingerprint_files;
  // Optional: the config checks `make` starts with (files, architectures), run before the record
  // check so that a config error is reported before "run prepare first".
  std::function<Status(const io::Config&)> validate;
  // Optional: the clips of the work list whose inputs are missing (checked before `make`).
  std::function<std::vector<std::string>(const io::Config&, const std::vector<runner::WorkItem>&)> missing_inputs;
};

// The product's processor factory (the VQ2D pipeline).
ProcessorFactory PipelineProcessorFactory();

int RunRunWith(const Args& args, const ProcessorFactory& factory);

}  // namespace vq2d::app
