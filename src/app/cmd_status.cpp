#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/io/config.h"
#include "vq2d/runner/run_status.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using runner::kExitError;
using runner::kExitOk;
using io::LoadConfig;
using io::ResolveOutputDir;
using runner::ReadRunStatus;

int RunStatus(const Args& args) {
  std::string dir, config_path = "config.yaml";
  std::vector<std::string> sets;
  bool last_job_stopped = false;
  ArgParser p("vq2d status",
              "Shows the state of a run from its output directory alone (no MPI needed): done / failed / "
              "quarantined / running / interrupted / pending clips, the clips in flight (rank, host, clip, since "
              "when, stage), per-rank throughput, ETA and the failures with their messages. A clip started and "
              "never ended is interrupted only when its process is gone. Without RUN_DIR the directory comes from the config "
              "(<visual_query.save_dir>/<visual_query.exp_name>[_<split>], see vq2d run --help).");
  p.AddPositional("RUN_DIR", &dir, "run output directory", /*required=*/false);
  p.AddString("--config", &config_path, "configuration file (used only when RUN_DIR is not given)");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  std::string split;
  p.AddString("--split", &split, "split of the run (overrides visual_query.split)");
  p.AddBool("--last-job-stopped", &last_job_stopped,
            "print only the id of the latest launch; exit 0 if every rank of it stopped on a signal (it ended "
            "stopped, or journaled the signal before mpirun killed it), else 1 (the launch scripts use it to "
            "report a SIGTERMed mpirun as the clean stop)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (dir.empty()) {
    if (!split.empty()) sets.push_back("visual_query.split=" + split);
    auto config = LoadConfig(config_path, sets);
    if (!config.ok()) {
      std::fprintf(stderr, "vq2d status: %s\n", config.status().ToString().c_str());
      return kExitError;
    }
    dir = ResolveOutputDir(*config, FileSystem::Default());
  }
  auto report = ReadRunStatus(FileSystem::Default(), dir);
  if (!report.ok()) {
    std::fprintf(stderr, "vq2d status: %s\n", report.status().ToString().c_str());
    return kExitError;
  }
  if (last_job_stopped) {
    std::printf("%s\n", report->last_job.c_str());
    return report->last_job_stopped ? kExitOk : kExitError;
  }
  std::printf("%s", report->ToText().c_str());
  return kExitOk;
}

}  // namespace vq2d::app
