// The product's processor factory: one VqEngine (models built and loaded once) per rank.
#include <cstdio>

#include "app/run_command.h"
#include "app/vq_processor.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/prepare.h"
#include "vq2d/runner/nccl.h"

namespace vq2d::app {

using io::Config;
using io::RecordReadOptions;
using io::RecordPathFor;
using runner::NcclVersion;
using runner::WorkItem;
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
      // NCCL matters only to GPU ranks.
      if ((*engine)->device().rfind("cuda", 0) == 0) {
        if (auto v = NcclVersion(); v.ok()) std::printf("[run] NCCL %s available for GPU-resident collectives\n", v->c_str());
      }
      std::fflush(stdout);
    }
    return std::unique_ptr<ClipProcessor>(std::make_unique<VqClipProcessor>(
        std::move(engine).value(), config.RecordsDir(config.visual_query.split), DebugDump{extras.debug_dump_dir, extras.debug_clip},
        RecordReadOptions{config.data.verify_record_checksums},
        config.runner.prefetch_frames ? static_cast<int64_t>(config.runner.video_chunk_frames) : 0));
  };
  f.fingerprint_files = [](const Config& config) { return ModelFingerprintFiles(config); };
  f.validate = [](const Config& config) { return ValidateRunConfig(config); };
  f.missing_inputs = [](const Config& config, const std::vector<WorkItem>& work) {
    std::vector<std::string> missing;
    const std::string dir = config.RecordsDir(config.visual_query.split);
    for (const auto& w : work)
      if (!FileSystem::Default()->Exists(RecordPathFor(dir, w.id))) missing.push_back(w.id);
    return missing;
  };
  return f;
}

}  // namespace vq2d::app
