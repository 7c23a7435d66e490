#include "app/run_command.h"

namespace vq2d::app {

ProcessorFactory PipelineProcessorFactory() {
  ProcessorFactory f;
  f.make = [](const Config&, const Collective&) -> Result<std::unique_ptr<ClipProcessor>> {
    return Status::FailedPrecondition(
        "the VQ2D pipeline is not built into this version of vq2d yet, so 'vq2d run' cannot process clips. "
        "Everything around it works: 'vq2d prepare', 'vq2d status', 'vq2d merge', 'vq2d eval', 'vq2d submit'");
  };
  f.fingerprint_files = [](const Config&) { return std::vector<std::pair<std::string, std::string>>{}; };
  return f;
}

}  // namespace vq2d::app
