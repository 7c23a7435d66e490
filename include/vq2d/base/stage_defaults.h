// The defaults of the VQ2D stage constants, written once: upstream's values (savya08/REN@e2204c5,
// docs/pipeline.md; the upstream line that hard-codes each is noted). The config schema (io:
// VisualQueryOptions, ModelsOptions, RunnerOptions), the pipeline's parameter structs
// (PipelineParams, SelectorParams, TrackingParams, ExpansionParams, ImageOps, ModelOptions,
// EngineOptions) and the stage functions' default arguments all read them from here.
//
// Header-only, no dependencies beyond the standard library, so io and pipeline can share it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vq2d {

// cv::resize interpolation of every crop (crop_using_bbox and the sliding-window crops); the
// config names are kCropInterpolationNames, in this order.
enum class CropInterpolation { kLanczos4, kCubic, kLinear, kArea, kNearest };
inline constexpr std::array<const char*, 5> kCropInterpolationNames = {"lanczos4", "cubic", "linear", "area",
                                                                       "nearest"};
constexpr const char* CropInterpolationName(CropInterpolation i) {
  return kCropInterpolationNames[static_cast<std::size_t>(i)];
}

namespace defaults {

inline constexpr std::array<double, 8> kQueryCroppingFactors = {1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75};
inline constexpr std::array<double, 2> kFrameCroppingFactors = {1.0, 2.0};
inline constexpr double kMatchingThreshold = 0.6;  // dataloader.py:58
inline constexpr int64_t kSelectionTopK = 25;
inline constexpr double kSelectionTopP = 0.7;
inline constexpr double kNmsThreshold = 0.8;
inline constexpr double kRefinementTopP = 0.7;
inline constexpr int64_t kPatchSize = 8;  // DINO ViT-B/8 descriptors
inline constexpr double kQuerySelectionThreshold = 0.5;
inline constexpr double kTrackSelectionThreshold = 0.7;  // round-2 floor and acceptance ratio
inline constexpr double kQueryFrameSuppression = 0.8;    // models.py:276
inline constexpr double kIntraFrameKeepRatio = 1.0;      // models.py:263
inline constexpr double kSlidingWindowOverlap = 0.0;     // models.py:210
inline constexpr double kCroppingMarginExpansion = 1.5;  // models.py:417
inline constexpr double kMaxCroppingFactor = 2.0;        // vq_utils.py:451
inline constexpr int64_t kSamPooledChunk = 8;            // vq_utils.py:385
inline constexpr int64_t kSamBlurKernel = 3;             // vq_utils.py:265,282 (odd; 1 = no blur)
inline constexpr int64_t kTokenDistanceMaskSize = 5;     // vq_utils.py:326 (3, 5 or 0 = precise)
inline constexpr CropInterpolation kCropInterpolation = CropInterpolation::kLanczos4;  // vq_utils.py:368,512
inline constexpr int64_t kTrackingHalfSpan = 500;        // models.py:611
inline constexpr int64_t kBboxSizeThreshold = 10;        // run.py:304
inline constexpr double kBlurThreshold = 100.0;          // vq_utils.py:541
// Models and the shared video pass.
inline constexpr int64_t kRenBatchSize = 4;              // images per REN pass (models.py:70)
inline constexpr int64_t kDinoInputHeight = 384;         // DINO input (vq_utils.py:45)
inline constexpr int64_t kDinoInputWidth = 512;
inline constexpr int64_t kVideoChunkFrames = 8;          // frames per REN pass of the shared video pass

template <std::size_t N>
std::vector<double> ToVector(const std::array<double, N>& a) {
  return std::vector<double>(a.begin(), a.end());
}

}  // namespace defaults
}  // namespace vq2d
