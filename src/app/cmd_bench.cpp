// vq2d bench <target>: the speed reports (timed tests are not allowed; benchmarks live here).
#include <cstdio>
#include <cstring>

#include "app/commands.h"

namespace vq2d::app {
namespace {

struct BenchTarget {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

const BenchTarget kTargets[] = {
    {"eval", "official evaluator on 4,500 synthetic queries", RunBenchEval},
    {"runner", "runner overhead per clip (10,000 no-work clips) and LPT makespan vs lower bound", RunBenchRunner},
    {"ren", "REN wrapper (DINOv2 ViT-L/14 + region encoder, random weights) images/s and peak memory", RunBenchRen},
    {"sam2", "SAM 2.1 image encoder and tracking throughput (random weights, 1024²)", RunBenchSam2},
    {"clip", "model work of one synthetic clip at official sizes: per-stage s, ViT TFLOP/s vs matmul peak, 1/2/4 ranks",
     RunBenchClip},
    {"prepare", "frames decoded + written per second by vq2d prepare on a 1080p video", RunBenchPrepare},
    {"pipeline", "VQ2D pipeline per-clip wall time by stage; REN images shared pass vs upstream", RunBenchPipeline},
    {"parse", "parse time vs size: safetensors tensors, JSON keys (10^3..10^6; linear)", RunBenchParse},
};

void PrintHelp() {
  std::printf("usage: vq2d bench <target> [options]     (vq2d bench <target> --help)\n\ntargets:\n");
  for (const auto& t : kTargets) std::printf("  %-10s %s\n", t.name, t.summary);
}

}  // namespace

int RunBench(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    PrintHelp();
    return args.empty() ? 2 : 0;
  }
  for (const auto& t : kTargets) {
    if (args[0] == t.name) return t.run(Args(args.begin() + 1, args.end()));
  }
  std::fprintf(stderr, "vq2d bench: unknown target '%s' (see vq2d bench --help)\n", args[0].c_str());
  return 2;
}

}  // namespace vq2d::app
