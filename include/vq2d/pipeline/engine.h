// VqEngine: the whole VQ2D pipeline behind a torch-free interface, for the layers above (the
// runner's clip processor in app). It builds the four models once (REN = DINOv2 + region encoder,
// DINO ViT-B/8, SAM 2.1 image + video predictors), loads their weights, and runs every query of a
// clip through ClipPipeline (query encoding, one shared video pass, select/refine/track, expansion,
// round 2).
//
// Units: frames are the clip record's frames, [T,H,W,3] uint8 RGB, row-major, contiguous; every
// box in and out is in pixels of those frames (record pixels).
// Ownership: RunClip borrows the frame buffer for the duration of the call (no copy).
// Thread-safety: one thread per engine (the SAM 2 predictors are stateful).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vq2d/base/status.h"
#include "vq2d/pipeline/model_work.h"
#include "vq2d/pipeline/params.h"

namespace vq2d::pipeline {

// Architectures and weights of the models. JSON architecture objects use the keys of the core
// config structs (docs/models.md): DinoV2Config (dinov2), DinoVitConfig (dino), the SAM 2.1 config
// tree {"model": {...}} (sam2) and REN's `ren` keys (region_encoder). A null object means the
// official model named by the string next to it.
struct ModelOptions {
  std::string dinov2_name = "dinov2_vitl14";  // hub name: dinov2_vit{s,b,l,g}14[_reg]
  nlohmann::json dinov2_arch;                 // null = preset of dinov2_name
  nlohmann::json region_encoder;              // hidden_dim, decoder_layers, ... (null = REN defaults)
  nlohmann::json dino_arch;                   // null = ViT-B/8
  // Backbone of the SAM-pooled descriptors (visual_query.feature_extractor): "dino" (DINO ViT-B/8,
  // dino_file, resized to dino_input_*) or "dinov2" (the DINOv2 architecture and dinov2_file at
  // native resolution, padded to the patch, last block).
  std::string feature_extractor = "dino";
  std::string sam2_variant = "large";         // tiny | small | base_plus | large (or t, s, b+, l)
  nlohmann::json sam2_arch;                   // null = preset of sam2_variant
  // Weight files (PyTorch zip or safetensors, detected by content): DINOv2 state dict; REN
  // checkpoint.pth (region_encoder_state.*); DINO state dict; SAM 2.1 checkpoint (model.*).
  std::string dinov2_file, ren_file, dino_file, sam2_file;
  // "cpu", "cuda", "cuda:N", or "auto" (cuda:<local_rank % GPUs> when LibTorch has CUDA, else cpu;
  // auto with GPUs allocated and no CUDA fails: ChooseDevice in device.h).
  std::string device = "cpu";
  int local_rank = 0;
  // models.precision ("auto" | "fp32" | "bf16") and models.dino_precision == "bf16": the dtype of
  // each model on the resolved device is ResolvePrecision's (precision.h, docs/gpu.md).
  std::string precision = "auto";
  bool dino_bf16 = true;   // DINO weights and input in bf16 (upstream, always)
  // models.batch_crops ("auto" | "on" | "off"): PipelineParams::batch_crops as ResolveBatchCrops
  // gives it for the resolved device (auto: CUDA only).
  std::string batch_crops = "auto";
  int64_t ren_batch_size = defaults::kRenBatchSize;
  int cpu_threads = 0;  // > 0: torch::set_num_threads for this process (0 = LibTorch's default)
  int64_t dino_input_height = defaults::kDinoInputHeight, dino_input_width = defaults::kDinoInputWidth;
};

struct EngineOptions {
  ModelOptions models;
  PipelineParams params;
  // true: queries encoded first, then ONE pass over the clip's frames serves every query (REN
  // images per clip = 5 x max query frame). false: every query encodes its own frames, as upstream
  // (5 x sum of query frames). Outputs are identical.
  bool share_video_tokens = true;
  int64_t video_chunk_frames = defaults::kVideoChunkFrames;  // frames per REN pass (host memory bound)
};

// Everything VqEngine::Create checks before it builds a module or opens a file: the pipeline
// parameters, the architectures (bounds, REN width/patch = DINOv2's, DINO input size), the feature
// extractor name. Cheap (no tensors); `vq2d config` and `vq2d run` both call it.
Status ValidateEngineOptions(const EngineOptions& options);

struct ClipFrames {
  ClipFrames() = default;
  ClipFrames(const uint8_t* data_, int64_t count_, int height_, int width_, FramesReady ready_ = {})
      : data(data_), count(count_), height(height_), width(width_), ready(std::move(ready_)) {}
  const uint8_t* data = nullptr;  // [count,height,width,3] uint8 RGB, borrowed
  int64_t count = 0;
  int height = 0, width = 0;
  // Frames still arriving (a prefetch thread filling `data`): when set, the engine reads frames
  // [begin, end) only after ready(begin, end) returned OK, calling it on the engine's thread, in
  // this order: each runnable query's visual-crop frame [v, v + 1) just before that query is
  // encoded (queries in order), then each chunk [b, e) of the video pass (chunks of
  // video_chunk_frames from 0), then [0, count) before the rounds (and before anything else in
  // the per-query and debug paths). So a reader that reads the visual-crop frames first, then the
  // clip in chunks from its start, lets the models start after the first frame (ChunkPrefetcher's
  // `first`). An error from it fails RunClip with that Status. Unset: every frame is there. Same
  // results either way.
  FramesReady ready;
};

struct TrackedBox {
  int64_t frame = 0;                  // clip frame index
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // record pixels, x2 = x + w, y2 = y + h (upstream format)
};

struct QueryResult {
  std::vector<TrackedBox> track;  // contiguous frames, ascending; empty when nothing was found
  double score = 0.0;
  bool round2_tracked = false, round2_accepted = false;
  std::vector<std::string> upstream_errors;  // where upstream would have raised (docs/pipeline.md)
  StageStats stats;
};

class VqEngine {
 public:
  // Builds the models on the resolved device and loads every weight file (strict).
  static Result<std::unique_ptr<VqEngine>> Create(const EngineOptions& options);
  ~VqEngine();

  // Every query of one clip, results in `queries` order. A query whose input is unusable (query
  // frame outside the clip, zero-size visual crop) or on which a stage raises where upstream raises
  // (StatusCode::kUpstreamRaised, and only that code) gets an empty track with score 0 and the
  // reason in upstream_errors. Every other error fails the call: model/device failures (Internal:
  // the adapters report every model error so) and programming errors (InvalidArgument, ...).
  // With `debug` set, each query also runs alone with a stage trace (same results) and `*debug`
  // receives {"queries": [{"input", "trace", "result"}]}; with `debug_tensors_file` too, the
  // queries' intermediate tensors are saved there as safetensors ("q<i>.query_tokens" [K,D],
  // "q<i>.object_tokens" [N,D], "q<i>.object_points" [N,2] (y,x), "q<i>.object_frame_ids" [N],
  // i = index in `queries`).
  Result<std::vector<QueryResult>> RunClip(const ClipFrames& frames, const std::vector<QueryInput>& queries,
                                           nlohmann::json* debug = nullptr, const std::string& debug_tensors_file = "");

  const std::string& device() const;  // resolved, e.g. "cpu" or "cuda:0"
  // The dtypes the models run in on that device (models.precision resolved), e.g.
  // "auto: REN fp32, SAM 2 bf16 autocast, descriptors bf16".
  std::string precision() const;
  // Model work of every RunClip so far (counts and seconds per model; per clip: the difference).
  ModelWork model_work() const;
  // Human-readable one-liner of the architectures (for logs).
  std::string Describe() const;

 private:
  struct Impl;
  explicit VqEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes randomly initialised models with the architectures of `models` (weights seeded with
// `seed`, deterministic) to models.{dinov2,ren,dino,sam2}_file as safetensors, in the layouts the
// loaders expect. For the demo and tests: the models are untrained.
Status WriteRandomModels(const ModelOptions& models, uint64_t seed);

// The demo's small architectures (docs/models.md): DINOv2 (patch 14, width 32, 2 blocks) at
// 224 px with REN hidden_dim 32, 1 layer, 16x16 grid; DINO (patch 8, width 32, 2 blocks); SAM 2.1
// Hiera (width 16, 5 blocks, d_model 32) at 256 px. As an architecture file object
// {"dinov2": ..., "dino": ..., "sam2": ...} plus the `ren` keys the config must carry.
nlohmann::json DemoArchitectures();
// ModelOptions of the demo models: DemoArchitectures(), the REN keys below, and the weight files
// <dir>/{dinov2_demo,ren_demo,dino_demo,sam2.1_demo}.safetensors.
ModelOptions DemoModelOptions(const std::string& dir);
struct DemoRenKeys {
  int64_t hidden_dim = 32, decoder_layers = 1, num_attention_heads = 2, image_resolution = 224, grid_size = 16;
  int64_t patch_size = 14;
};

}  // namespace vq2d::pipeline
