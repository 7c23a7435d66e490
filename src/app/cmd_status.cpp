#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/io/config.h"
#include "vq2d/runner/run_status.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

int RunStatus(const Args& args) {
  std::string dir, config_path = "config.yaml";
  std::vector<std::string> sets;
  ArgParser p("vq2d status",
              "Shows the state of a run from its output directory alone (no MPI needed): done / failed / "
              "quarantined / interrupted / pending clips, per-rank throughput, ETA and the failures with their "
              "messages. Without RUN_DIR the directory comes from the config "
              "(<visual_query.save_dir>/<visual_query.exp_name>[_<split>], see vq2d run --help).");
  p.AddPositional("RUN_DIR", &dir, "run output directory", /*required=*/false);
  p.AddString("--config", &config_path, "configuration file (used only when RUN_DIR is not given)");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  std::string split;
  p.AddString("--split", &split, "split of the run (overrides visual_query.split)");
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
  std::printf("%s", report->ToText().c_str());
  return kExitOk;
}

}  // namespace vq2d::app
