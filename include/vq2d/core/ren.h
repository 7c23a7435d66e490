// The REN wrapper used by the VQ2D pipeline (savya08/REN@e2204c5 visual_query/models.py REN):
// uint8 RGB frames -> 518x518 antialiased bilinear resize (aspect ratio not kept) -> ImageNet
// normalisation -> DINOv2 block-23 normed patch tokens -> region encoder on the 32x32 prompt grid
// -> one token per grid point, plus the optional matching filter.
//
// Contract
//  * frames: [N,H,W,3] uint8 RGB, CPU or the encoder's device, any N >= 0 (processed in chunks of
//    `chunk_size` frames; results do not depend on the chunking).
//  * tokens: float32 [N,Q,D] (Q = grid_size^2 = 1024, D = 1024) on the encoder's device, grid order
//    (y outer, x inner), not L2-normalised ("pred_tokens").
//  * points: float32 [Q,2] (y, x) in pixels of the input frames: grid (y, x) * (H/518, W/518)
//    (upstream translate_point, float32 arithmetic).
//  * Everything stays on the device; the only device->host transfer is the size of the filter
//    result (one per call).
// Precision: fp32 by default (upstream); bf16 optional (weights and activations; tokens are
// returned as float32).
// Thread-safety: Encode*/Filter may run concurrently on one encoder (read-only weights, no grad);
// loading weights must not overlap with encoding.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <array>
#include <memory>
#include <string>

#include "vq2d/core/checkpoint.h"
#include "vq2d/core/dinov2.h"
#include "vq2d/core/ren_region_encoder.h"
#include "vq2d/base/status.h"

namespace vq2d {

struct RenConfig {
  DinoV2Config dinov2;                  // default: dinov2_vitl14 (no registers)
  int64_t dinov2_block = 23;            // get_intermediate_layers(n=[block]) (23 = last of ViT-L)
  RegionEncoderConfig region_encoder;   // default: D=1024, 4 layers, 8 heads, 518 px, patch 14, 32x32 grid
  int64_t chunk_size = 4;               // frames per backbone + encoder pass (upstream batch_size 4)
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;  // kFloat (default) or kBFloat16
  std::array<double, 3> mean = {0.485, 0.456, 0.406};  // ImageNet
  std::array<double, 3> std = {0.229, 0.224, 0.225};
  AttentionOptions attention;

  Status Validate() const;
};

struct RenOutput {
  at::Tensor tokens;  // [N,Q,D] float32, device
  at::Tensor points;  // [Q,2] float32 (y,x) frame pixels, device
};

// Result of the matching filter, frames concatenated in input order, grid order within a frame.
struct RenFilteredOutput {
  at::Tensor counts;     // [N] int64 tokens kept per frame
  at::Tensor frame_ids;  // [M] int64 frame of each kept token
  at::Tensor indices;    // [M] int64 grid index (0..Q-1)
  at::Tensor points;     // [M,2] float32 (y,x) frame pixels
  at::Tensor tokens;     // [M,D] float32
  at::Tensor scores;     // [N,Q] float32 max over matching tokens of cos(token, matching)
};

class RenEncoder {
 public:
  // Builds the models with random (LibTorch default) weights on config.device / config.dtype.
  static Result<std::unique_ptr<RenEncoder>> Create(const RenConfig& config);
  ~RenEncoder();

  // Weights from tensor maps: DINOv2 state dict (keys as in dinov2_vitl14_pretrain.pth) and the
  // region encoder state dict (REN checkpoint.pth's `region_encoder_state`, prefix stripped).
  // Strict: every key present with its shape, no extra keys.
  Status LoadDinoV2(const TensorMap& state_dict);
  Status LoadRegionEncoder(const TensorMap& state_dict);
  // Same from the official files (PyTorch zip or safetensors, detected by content):
  // `dinov2_path` a plain state dict; `ren_checkpoint_path` REN's checkpoint.pth (or a file whose
  // keys start with "region_encoder_state.").
  Status LoadDinoV2File(const std::string& dinov2_path);
  Status LoadRegionEncoderFile(const std::string& ren_checkpoint_path);

  // Tokens for every grid point of every frame; chunk_size > 0 overrides config().chunk_size.
  Result<RenOutput> Encode(const at::Tensor& frames, int64_t chunk_size = 0);
  // Encode + filter (upstream forward(images, matching_tokens, matching_threshold)).
  Result<RenFilteredOutput> EncodeAndFilter(const at::Tensor& frames, const at::Tensor& matching_tokens,
                                            double threshold);
  // The matching filter on encoded tokens. matching_tokens [K,D] float (any device). Per frame:
  // score = max_k cos(token, matching_k); if every score < threshold keep only the first argmax,
  // else keep scores > threshold (strict).
  static Result<RenFilteredOutput> Filter(const RenOutput& encoded, const at::Tensor& matching_tokens,
                                          double threshold);

  // Stages (used by Encode; exposed for tests and reuse). All on the device.
  // [n,H,W,3] uint8 -> [n,3,R,R] float32 in [0,1] (ToTensor + antialiased bilinear resize).
  at::Tensor Resize(const at::Tensor& frames) const;
  // (x - mean) / std, then cast to the compute dtype.
  at::Tensor Normalize(const at::Tensor& resized) const;
  // DINOv2 normed patch tokens of normalised images: [n, (R/p)^2, D] in the compute dtype.
  at::Tensor FeatureTokens(const at::Tensor& normalized);
  // Grid points mapped to an H x W frame: [Q,2] float32 (y,x) on the device.
  at::Tensor FramePoints(int64_t height, int64_t width) const;

  const RenConfig& config() const { return config_; }
  DinoV2VisionTransformer& dinov2() { return dinov2_; }
  RegionEncoder& region_encoder() { return region_encoder_; }

 private:
  explicit RenEncoder(const RenConfig& config);
  RenConfig config_;
  DinoV2VisionTransformer dinov2_{nullptr};
  RegionEncoder region_encoder_{nullptr};
  at::Tensor mean_, std_;  // [1,3,1,1] float32 on the device
};

}  // namespace vq2d
