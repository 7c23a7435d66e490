#include "vq2d/pipeline/model_work.h"

namespace vq2d::pipeline {

ModelWork& ModelWork::operator+=(const ModelWork& o) {
  ren_images += o.ren_images, ren_s += o.ren_s, sam2_encodes += o.sam2_encodes, sam2_s += o.sam2_s;
  track_steps += o.track_steps, track_s += o.track_s, dino_images += o.dino_images, dino_s += o.dino_s;
  return *this;
}

ModelWork ModelWork::operator-(const ModelWork& o) const {
  ModelWork d;
  d.ren_images = ren_images - o.ren_images, d.ren_s = ren_s - o.ren_s;
  d.sam2_encodes = sam2_encodes - o.sam2_encodes, d.sam2_s = sam2_s - o.sam2_s;
  d.track_steps = track_steps - o.track_steps, d.track_s = track_s - o.track_s;
  d.dino_images = dino_images - o.dino_images, d.dino_s = dino_s - o.dino_s;
  return d;
}

}  // namespace vq2d::pipeline
