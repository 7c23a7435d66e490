// What every job command (`run`, `prepare`) sets up the same way.
#pragma once

#include <memory>
#include <string>

#include "vq2d/io/config.h"
#include "vq2d/runner/collective.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

// The job's world: MPI when started by a launcher (mpirun/srun), otherwise one process. Both check
// SLURM_NTASKS against the world size (the "N singleton jobs" mis-launch).
Result<std::unique_ptr<runner::Collective>> MakeJobCollective();

// RunOptions with the config's runner.* settings and the command's resume flags.
runner::RunOptions RunOptionsFromConfig(const io::Config& config, const std::string& out_dir, bool retry_failed,
                                bool new_fingerprint_ok);

// What a run's run.json says about its inputs ("info": written by `vq2d run`); empty fields when the
// directory has no readable run.json (e.g. a folder of REN prediction files).
struct RunInfo {
  std::string split, annotations, records_dir, config_file;
};
RunInfo ReadRunInfo(FileSystem* fs, const std::string& run_dir);

}  // namespace vq2d::app
