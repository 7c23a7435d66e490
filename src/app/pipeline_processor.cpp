// The product's processor factory: one VqEngine (models built and loaded once) per rank.
#include <cstdio>

#include "app/run_command.h"
#include "app/vq_processor.h"

namespace vq2d::app {

using io::Config;
using io::RecordReadOptions;
using runner::ClipProcessor;
using runner::Collective;

ProcessorFactory PipelineProcessorFactory() {
  ProcessorFactory f;
  f.make = [](const Config& config, const Collective& coll,
              const ProcessorExtras& extras) -> Result<std::unique_ptr<ClipProcessor>> {
    VQ2D_RETURN_IF_ERROR(ValidateRunConfig(config));  // the checks `vq2d config` makes too
    VQ2D_ASSIGN_OR_RETURN(pipeline::EngineOptions options, EngineOptionsFromConfig(config, coll.local_rank()));
    auto engine = pipeline::VqEngine::Create(options);
    if (!engine.ok()) return engine.status();
    if (coll.rank() == 0) {
      std::printf("[run] models: %s\n", (*engine)->Describe().c_str());
      std::fflush(stdout);
    }
    return std::unique_ptr<ClipProcessor>(std::make_unique<VqClipProcessor>(
        std::move(engine).value(), config.RecordsDir(config.visual_query.split), DebugDump{extras.debug_dump_dir, extras.debug_clip},
        RecordReadOptions{config.data.verify_record_checksums},
        config.runner.prefetch_frames ? static_cast<int64_t>(config.runner.video_chunk_frames) : 0));
  };
  f.fingerprint_files = [](const Config& config) { return ModelFingerprintFiles(config); };
  return f;
}

}  // namespace vq2d::app
