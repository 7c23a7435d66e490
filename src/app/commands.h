// Subcommand entry points of the `vq2d` binary. Each takes the arguments after the subcommand
// name and returns the process exit code (see README "Exit codes").
#pragma once

#include <string>
#include <vector>

namespace vq2d::app {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

// All registered subcommands, in the order `vq2d --help` lists them.
const std::vector<Command>& Commands();

int RunCommandLine(int argc, char** argv);

// Subcommands (src/app/cmd_<name>.cpp).
int RunRun(const Args& args);
int RunStatus(const Args& args);
int RunPlan(const Args& args);
int RunMerge(const Args& args);
int RunPrepare(const Args& args);
int RunSynth(const Args& args);
int RunEval(const Args& args);
int RunSubmit(const Args& args);
int RunRender(const Args& args);
int RunReport(const Args& args);
int RunInspect(const Args& args);
int RunConfig(const Args& args);
int RunBench(const Args& args);         // dispatches to the targets below
int RunBenchEval(const Args& args);     // vq2d bench eval
int RunBenchRunner(const Args& args);   // vq2d bench runner
int RunBenchRen(const Args& args);      // vq2d bench ren
int RunBenchSam2(const Args& args);     // vq2d bench sam2
int RunBenchClip(const Args& args);     // vq2d bench clip
int RunBenchPrepare(const Args& args);  // vq2d bench prepare
int RunBenchPipeline(const Args& args);  // vq2d bench pipeline
int RunBenchParse(const Args& args);     // vq2d bench parse

}  // namespace vq2d::app
