// Model benchmarks behind a torch-free interface (the app layer may include this header).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

struct BenchRenOptions {
  std::vector<int64_t> batch_sizes = {4, 16};  // frames per Encode call (= chunk size)
  int64_t warmup = 1;                          // untimed calls per batch size
  int64_t repeats = 3;                         // timed calls per batch size
  int64_t frame_height = 518;                  // synthetic uint8 frames (518 = no resize work)
  int64_t frame_width = 518;
  std::string device = "cpu";                  // "cpu", "cuda", "cuda:1", ...
  std::string dtype = "float32";               // "float32" or "bfloat16"
  int64_t threads = 0;                         // intra-op threads; 0 = LibTorch default
};

// Times the REN VQ wrapper (RenEncoder::Encode) with the full-size models and random weights:
// DINOv2 ViT-L/14 (block 23) + the D=1024 region encoder on 518x518 inputs, 32x32 prompts.
// Writes one line per batch size (images/s, seconds per call) with the process's peak resident
// memory so far (getrusage ru_maxrss; host memory only). Calls are synchronised on CUDA.
Status BenchRen(const BenchRenOptions& options, std::ostream& out);

// Times safetensors loading for each tensor count: writes DIR/bench_<n>.safetensors (n F32 tensors
// of one element, names "layer.<i>.weight"), then one line per count with the file size, the
// header parse time (ParseSafetensorsHeader, as every load does) and the full LoadSafetensors time.
// Parsing is linear in the header; the lines show it (no assertion). Removes the files it wrote.
Status BenchSafetensorsParse(const std::vector<int64_t>& tensor_counts, const std::string& dir, std::ostream& out);

}  // namespace vq2d
