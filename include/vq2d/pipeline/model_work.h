// Counts and seconds of the model work a pipeline run did (torch-free, for the layers above).
#pragma once

#include <cstdint>

namespace vq2d::pipeline {

// Model work done by the adapters (model_adapters.h), summed over their lifetime; seconds are wall
// time around each call (the adapters return host data, so device work is included).
struct ModelWork {
  int64_t ren_images = 0;    // images through REN (DINOv2 + region encoder), every stage
  double ren_s = 0;
  int64_t sam2_encodes = 0;  // SAM 2 image-encoder passes (set_image; reused identical images not counted)
  double sam2_s = 0;         // set_image + the prompts' mask decoding
  int64_t track_steps = 0;   // frames yielded by the SAM 2 video predictor (encode + memory attention + decode)
  double track_s = 0;
  int64_t dino_images = 0;   // images through the descriptor backbone (DINO ViT-B/8 or DINOv2)
  double dino_s = 0;
  ModelWork& operator+=(const ModelWork& o);
  ModelWork operator-(const ModelWork& o) const;
};

}  // namespace vq2d::pipeline
