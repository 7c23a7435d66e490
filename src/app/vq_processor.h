// The runner's ClipProcessor for `vq2d run`: opens the clip's record, runs every valid query of the
// clip through the VQ2D pipeline (pipeline::VqEngine, models built once per rank) and returns the
// clip output (vq2d.clip_output/1, record pixels + what merge needs) and per-stage stats.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "vq2d/io/config.h"
#include "vq2d/io/record.h"
#include "vq2d/pipeline/engine.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

// Config -> engine options: pipeline parameters (PipelineParamsFromConfig), model architectures
// (ren.*, visual_query.tracker_param, models.architecture), weight files, device, precision.
Result<pipeline::EngineOptions> EngineOptionsFromConfig(const io::Config& config, int local_rank);

// What `vq2d run` checks before it loads anything, and `vq2d config` too (one validation): the
// engine options (EngineOptionsFromConfig + pipeline::ValidateEngineOptions), the split's
// annotation file, and every model file, each missing one named by the config key that points at
// it (models.ren empty: the ren.logging.* path it stands for).
Status ValidateRunConfig(const io::Config& config);

// (name, path) of every file whose content defines the results: the four checkpoints and the
// architecture file when one is set.
std::vector<std::pair<std::string, std::string>> ModelFingerprintFiles(const io::Config& config);

// SAM 2.1 variant named by a hydra config path ("configs/sam2.1/sam2.1_hiera_l.yaml" -> "l").
Result<std::string> Sam2VariantFromConfigName(const std::string& tracker_param);

// stats["model_work"] of a clip: counts and seconds per model (pipeline::ModelWork).
nlohmann::json ModelWorkJson(const pipeline::ModelWork& work);

struct DebugDump {
  std::string dir;       // empty: off
  std::string clip_uid;  // the clip to dump
};

class VqClipProcessor : public runner::ClipProcessor {
 public:
  // `prefetch_chunk_frames` > 0: the clip's frames are read from its record on a background thread
  // while the engine computes, the queries' visual-crop frames first, then the clip that many at a
  // time from its start, the order the engine needs them (runner.prefetch_frames; ChunkPrefetcher: the
  // record is read by that thread alone until the clip ends; a read error fails the clip naming the
  // record); 0: all are read before the engine starts. Same results.
  VqClipProcessor(std::unique_ptr<pipeline::VqEngine> engine, std::string records_dir, DebugDump debug = {},
                  io::RecordReadOptions record_options = {}, int64_t prefetch_chunk_frames = 0);
  Result<runner::ClipResult> Process(const runner::ClipTask& task, const runner::StopToken& stop) override;
  const std::string& device() const { return engine_->device(); }
  std::string precision() const { return engine_->precision(); }  // models.precision resolved on device()
  // "missing_record" when the clip's record does not exist: retried once it does.
  std::string FailureCause(const runner::ClipTask& task, const Status& status) const override;
  bool FailureCauseHolds(const std::string& clip_uid, const std::string& cause) const override;

 private:
  std::unique_ptr<pipeline::VqEngine> engine_;
  std::string records_dir_;
  DebugDump debug_;
  io::RecordReadOptions record_options_;
  int64_t prefetch_chunk_frames_;
};

}  // namespace vq2d::app
