// `vq2d bench clip`: the model work of one synthetic clip at official sizes (include/vq2d/core/clip_bench.h).
#include <cstdio>
#include <iostream>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/core/clip_bench.h"

namespace vq2d::app {

int RunBenchClip(const Args& args) {
  ArgParser p("vq2d bench clip",
              "The model work of one synthetic clip with random weights at official sizes (REN = DINOv2 ViT-L/14 + "
              "region encoder at 518², DINO ViT-B/8 at 384x512, SAM 2.1 Hiera --arch), stage by stage as the "
              "pipeline's rules count it (docs/gpu.md): query crops, the shared REN video pass, refinement "
              "(SAM 2, DINO, REN), SAM 2 tracking, tracked-object tokens, round 2. Prints seconds, units and units/s "
              "per stage, the ViT stage's TFLOP/s next to a measured matmul peak, peak memory, and the aggregate "
              "frames/s of --ranks processes sharing the device. Data-dependent counts (candidates, track length, "
              "rows read by query expansion) are assumed values, printed. Not the pipeline: CPU-side ops, decoding "
              "and I/O are measured by `vq2d bench pipeline`. Official sizes take hours on a CPU: --arch toy "
              "--frames 12 rehearses in seconds.");
  const ClipBenchOptions d;
  std::string arch = d.arch, device = d.device, precision = d.precision, query_frames, batch_crops = "auto",
              ranks = "1";
  long long frames = d.frames, queries = d.queries, candidates = d.candidates, track_steps = d.track_steps,
            expansion = d.expansion_frames, height = d.frame_height, width = d.frame_width,
            ren_batch = d.ren_batch_size, chunk = d.video_chunk_frames, threads = d.threads, seed = 0;
  p.AddString("--arch", &arch, "large, base_plus, small, tiny (SAM 2.1 variant; official REN and DINO) or toy");
  p.AddString("--device", &device, "cpu, cuda or cuda:N");
  p.AddString("--precision", &precision, "auto, fp32 or bf16 (as models.precision)");
  p.AddInt("--frames", &frames, "clip length");
  p.AddInt("--queries", &queries, "queries; query frames spread over [13T/30, T/2]");
  p.AddString("--query-frames", &query_frames, "explicit comma-separated query frames (overrides --queries)");
  p.AddInt("--candidates", &candidates, "refined candidates per round (assumed)");
  p.AddInt("--track-steps", &track_steps, "SAM 2 steps per track, both passes (assumed; at most qf + 2)");
  p.AddInt("--expansion-frames", &expansion, "tracked frames whose tokens query expansion reads (assumed; 0 = no round 2)");
  p.AddInt("--height", &height, "frame height (record pixels)");
  p.AddInt("--width", &width, "frame width");
  p.AddInt("--ren-batch-size", &ren_batch, "models.ren_batch_size");
  p.AddInt("--video-chunk-frames", &chunk, "runner.video_chunk_frames");
  p.AddString("--batch-crops", &batch_crops, "auto (on for CUDA), on or off (as models.batch_crops)");
  p.AddInt("--threads", &threads, "intra-op CPU threads (0 = LibTorch default)");
  p.AddString("--ranks", &ranks, "comma-separated process counts sharing the device, e.g. 1,2,4");
  p.AddInt("--seed", &seed, "random weights and frames");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  ClipBenchOptions o;
  const std::pair<const char*, std::string> values[] = {
      {"arch", arch},
      {"device", device},
      {"precision", precision},
      {"frames", std::to_string(frames)},
      {"queries", std::to_string(queries)},
      {"candidates", std::to_string(candidates)},
      {"track-steps", std::to_string(track_steps)},
      {"expansion-frames", std::to_string(expansion)},
      {"height", std::to_string(height)},
      {"width", std::to_string(width)},
      {"ren-batch-size", std::to_string(ren_batch)},
      {"video-chunk-frames", std::to_string(chunk)},
      {"batch-crops", batch_crops},
      {"threads", std::to_string(threads)},
      {"ranks", ranks},
      {"seed", std::to_string(seed)},
      {"query-frames", query_frames}};
  for (const auto& [k, v] : values) {
    if (std::string(k) == "query-frames" && v.empty()) continue;
    const Status st = SetClipBenchOption(&o, k, v);
    if (!st.ok()) {
      std::fprintf(stderr, "vq2d bench clip: %s\n", st.message().c_str());
      return 2;
    }
  }
  const Status st = BenchClip(o, std::cout);
  if (!st.ok()) {
    std::fprintf(stderr, "vq2d bench clip: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace vq2d::app
