// `vq2d bench clip` / `vq2d_model_bench clip`: the MODEL WORK of one synthetic clip, stage by stage,
// with random weights at official architecture sizes. It is not the pipeline: the CPU-side operations
// (crops, cv2-exact resizes, blur, masks to boxes, selection), frame decoding and I/O are not here;
// `vq2d bench pipeline` measures those. Torch-free header (the app layer includes it).
//
// Models (random weights): REN = DINOv2 ViT-L/14 (blocks 0..23) + the D=1024 region encoder at 518²
// (RenEncoder); the descriptor backbone DINO ViT-B/8 at 384x512 (upstream's extract_dino size), bf16;
// SAM 2.1 image predictor and video predictor sharing one model, `arch` = large | base_plus | small |
// tiny. `arch` = toy: tiny demo-size models for rehearsals and tests (DINOv2 D=32 x2 blocks at 224²,
// region encoder D=32, DINO D=32 x2 blocks at 96x128, SAM 2 embed 16 at 256²); its numbers mean nothing.
// Precision (`precision`, as models.precision resolves it, docs/gpu.md): auto = REN fp32, SAM 2 under
// bf16 autocast on CUDA (fp32 on CPU); fp32 = REN and SAM 2 fp32; bf16 = REN bf16 and SAM 2 autocast
// on every device. DINO runs in bf16 in every mode (models.dino_precision's default, upstream).
//
// The work of one clip (PlanClipWork; rules of docs/pipeline.md and `vq2d plan`, src/app/work_plan.h),
// frames H x W uint8 (record size), n = 8 query cropping factors, S = 5 windows per frame (the full
// frame + 2x2 at cropping factor 2), c = `candidates`, per query with query frame qf:
//   P = min(track_steps, qf + 2) SAM 2 steps per track (forward + backward pass), L = P - 1 tracked
//   frames, E = min(expansion_frames, L) tracked frames whose tokens query expansion reads.
//   query            REN n images (one call), SAM 2 n encodes + box prompts
//   video            REN S * max(qf) images, shared by all queries (frames 0..max qf - 1, chunks of
//                    video_chunk_frames frames, REN in batches of ren_batch_size)
//   refine round 1   SAM 2 2 + 2c encodes (2 box-prompted SAM-pooled images, 2 point prompts per
//                    candidate), DINO 2 + 2c images, REN 8c images (one call)
//   track round 1    P SAM 2 video steps: a forward pass of ceil(P/2) frames, a reversed one of floor(P/2)
//   tracked tokens   E > 0: SAM 2 8L encodes + box prompts (every tracked frame's 8 crops: the masks
//                    decide upstream's row mapping), REN 8E images (one call); E = 0 (the track reaches
//                    qf - 1, expansion reads nothing): the first tracked frame's crops only, 8 encodes
//                    batched (batch_crops) or 1 (unbatched: the first crop has a token)
//   round 2 (E > 0)  K = 1 + E queries: SAM 2 2K + 2c, DINO 2K + 2c, REN 8c; P more steps
// With batch_crops (default on CUDA, as models.batch_crops: auto) the 8 crops of a tracked frame go
// through SAM 2's image encoder as one batch. The data-dependent counts (candidates refined, track
// length, rows read) are the options' assumed values; the bench prints them.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

struct ClipBenchOptions {
  std::string arch = "large";       // SAM 2.1 variant (large, base_plus, small, tiny) or toy (see above)
  int64_t frames = 1500;            // clip length T (frames past max qf cost no model work)
  int64_t queries = 4;
  std::vector<int64_t> query_frames;  // empty: `queries` frames spread evenly over [13T/30, T/2]
  int64_t candidates = 5;           // refined candidates per round (c; selection keeps <= top_k 25)
  int64_t track_steps = 60;         // SAM 2 steps per track, both passes (assumed; <= qf + 2)
  int64_t expansion_frames = 4;     // tracked frames whose tokens query expansion reads (E; 0: no round 2)
  int64_t frame_height = 288, frame_width = 512;  // record frames (prepare: short side 288)
  int64_t ren_batch_size = 4;       // models.ren_batch_size
  int64_t video_chunk_frames = 8;   // runner.video_chunk_frames
  int batch_crops = -1;             // -1 auto (on for CUDA), 0 off, 1 on
  std::string device = "cpu";       // cpu, cuda, cuda:N
  std::string precision = "auto";   // auto, fp32, bf16
  int64_t threads = 0;              // intra-op CPU threads; 0 = LibTorch default
  std::vector<int64_t> ranks = {1};  // BenchClip: processes sharing the device, one group per entry
  uint64_t seed = 0;
};

// One row of the report: a model's work in one stage.
struct ClipStageWork {
  std::string stage;  // query, video, refine, track, tokens
  std::string model;  // ren, sam2, dino, sam2_video
  std::string unit;   // images, encodes, steps
  int64_t units = 0;
  int64_t calls = 0;   // model calls (batches) that did the units
  double seconds = 0;  // wall time of those calls, the device synchronised after each
};

struct ClipWorkPlan {
  std::vector<int64_t> query_frames;
  std::vector<int64_t> track_steps, expansion_frames;  // per query, after clamping (P, E)
  bool batch_crops = false;
  std::vector<ClipStageWork> stages;  // units and calls; seconds 0
  int64_t Units(const std::string& stage, const std::string& model) const;
};

// The counts above for these options (validates them; no torch work).
Result<ClipWorkPlan> PlanClipWork(const ClipBenchOptions& options);

struct ClipRunResult {
  ClipWorkPlan plan;             // stages with the units and calls done and their seconds
  double build_s = 0;            // models built + warm-up (untimed work)
  double seconds = 0;            // the clip's model work, wall
  double vit_flops = 0;          // analytic FLOPs of the DINOv2 backbone over the video-stage images
  double peak_device_mib = -1;   // CUDA: caching allocator's peak allocated bytes; -1 unknown
  double peak_rss_mib = 0;       // process peak resident memory (VmHWM)
  std::string dtypes;            // what ran in which dtype
};

// Runs one clip's model work in this process. `ready` (optional) is called after the models are
// built and warmed up, right before the timed work (BenchClip's start barrier).
Result<ClipRunResult> RunClipWorkload(const ClipBenchOptions& options, const std::function<void()>& ready = {});

// The report: the plan, per-stage seconds / units / units/s of one rank, the ViT stage's achieved
// TFLOP/s next to a measured matmul peak, peak memory, then for every entry r of options.ranks: r
// forked processes running the same clip concurrently on the device (start barrier after their
// models are built), aggregate frames/s (r * T / wall) and each rank's seconds. Every measurement
// runs in a child process, so the parent never initialises CUDA before forking.
Status BenchClip(const ClipBenchOptions& options, std::ostream& out);

// The command-line options of both front ends (`vq2d bench clip`, `vq2d_model_bench clip`), without
// the leading "--": arch, device, precision, frames, queries, query-frames (comma list), candidates,
// track-steps, expansion-frames, height, width, ren-batch-size, video-chunk-frames, batch-crops
// (auto|on|off), threads, ranks (comma list), seed. Errors name the option and the bad value.
Status SetClipBenchOption(ClipBenchOptions* options, const std::string& name, const std::string& value);
// One line per option above with its default, for the help texts.
std::string ClipBenchOptionsHelp();

// Analytic FLOPs of one ViT forward pass (2 per multiply-add; LayerNorms, GELU, softmax, biases not
// counted): patch embedding 2 * P * (3 p^2) * D, plus per block 2 * (4 N D^2 + 2 N^2 D + 2 N D M)
// (qkv + proj, QK^T and AV, the two MLP matrices), N = tokens incl. class/register tokens, P patches,
// M = MLP hidden width.
double VitForwardFlops(int64_t patches, int64_t extra_tokens, int64_t patch_size, int64_t dim, int64_t mlp_dim,
                       int64_t blocks);

}  // namespace vq2d
