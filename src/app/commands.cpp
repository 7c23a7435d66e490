#include "app/commands.h"

#include <cstdio>
#include <cstring>

#include "vq2d/version.h"

namespace vq2d::app {

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"run", "run the VQ2D pipeline over a split (resumable; MPI: one rank per GPU)", RunRun},
      {"status", "show done / failed / pending clips, throughput and ETA of a run", RunStatus},
      {"plan", "work, GPU-hours and wall time a split implies (before submitting it)", RunPlan},
      {"merge", "merge per-clip outputs into the official predictions file", RunMerge},
      {"prepare", "build the HDF5 clip records of a split from the videos and annotations", RunPrepare},
      {"synth", "write the synthetic Ego4D-format dataset (videos, annotations, config.yaml)", RunSynth},
      {"eval", "score predictions with the official Ego4D VQ2D metrics (or REN-local with --local)", RunEval},
      {"submit", "write the eval.ai VQ2D submission file (from vq2d merge or REN per-clip predictions)", RunSubmit},
      {"render", "draw a record's ground truth and predictions into an mp4 and a PNG contact sheet", RunRender},
      {"report", "write a static HTML page about a run: metrics, per-query pictures, failures, stage times", RunReport},
      {"inspect", "structure and tensors (name, dtype, shape) of a checkpoint or safetensors file", RunInspect},
      {"config", "validate a configuration; print effective values or every key", RunConfig},
      {"bench", "speed reports: vq2d bench <target> (vq2d bench --help lists them)", RunBench},
  };
  return commands;
}

namespace {

void PrintTopHelp() {
  std::printf("vq2d %s — Ego4D VQ2D localisation with REN + SAM 2 as a distributed batch job\n\n", VQ2D_VERSION);
  std::printf("usage: vq2d <command> [options]     (vq2d <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : Commands()) std::printf("  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int RunCommandLine(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    PrintTopHelp();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("vq2d %s (%s)\n", VQ2D_VERSION, VQ2D_GIT_REV);
    return 0;
  }
  for (const auto& c : Commands()) {
    if (!std::strcmp(argv[1], c.name)) return c.run(Args(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "vq2d: unknown command '%s' (see vq2d --help)\n", argv[1]);
  return 2;
}

}  // namespace vq2d::app
