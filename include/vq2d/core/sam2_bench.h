// `vq2d bench sam2`: SAM 2.1 speed on synthetic inputs with random weights. Torch-free header so
// the app layer can call it.
#pragma once

#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d::sam2 {

struct Sam2BenchOptions {
  std::vector<std::string> variants{"tiny", "large"};  // presets (tiny, small, base_plus, large)
  int encoder_images = 2;   // timed image-encoder passes (after one warm-up)
  int track_frames = 4;     // timed tracked frames after the box-prompted frame
  int frame_height = 360;   // synthetic uint8 frames, resized to 1024² like REN
  int frame_width = 640;
  std::string device = "cpu";  // "cpu" or "cuda" (when this LibTorch has CUDA)
  int threads = 0;             // intra-op threads; 0 = LibTorch default
  bool bf16 = false;           // bf16 autocast (upstream REN's CUDA setting)
};

struct Sam2BenchResult {
  std::string variant, device, dtype;
  double encoder_images_per_s = 0;
  double track_frames_per_s = 0;     // full tracking step: encoder + memory attention + decoder + memory encoder
  double memory_tokens_last = 0;     // memory tokens attended by the last tracked frame
  double peak_rss_mib = 0;           // process peak resident memory after this variant (VmHWM)
};

Result<std::vector<Sam2BenchResult>> BenchSam2(const Sam2BenchOptions& options);

}  // namespace vq2d::sam2
