// Config -> PipelineParams: the default config gives exactly the pipeline's defaults (upstream
// behaviour), field by field, and every key reaches its field.
#include <gtest/gtest.h>

#include "app/pipeline_options.h"
#include "support/test_support.h"

namespace vq2d::app {
namespace {

using pipeline::CropInterpolation;
using pipeline::PipelineParams;

void ExpectSameParams(const PipelineParams& a, const PipelineParams& b) {
  EXPECT_EQ(a.query_cropping_factors, b.query_cropping_factors);
  EXPECT_EQ(a.frame_cropping_factors, b.frame_cropping_factors);
  EXPECT_EQ(a.matching_threshold, b.matching_threshold);
  EXPECT_EQ(a.selection_top_k, b.selection_top_k);
  EXPECT_EQ(a.selection_top_p, b.selection_top_p);
  EXPECT_EQ(a.nms_threshold, b.nms_threshold);
  EXPECT_EQ(a.refinement_top_p, b.refinement_top_p);
  EXPECT_EQ(a.cropping_margin_expansion, b.cropping_margin_expansion);
  EXPECT_EQ(a.patch_size, b.patch_size);
  EXPECT_EQ(a.query_selection_threshold, b.query_selection_threshold);
  EXPECT_EQ(a.track_selection_threshold, b.track_selection_threshold);
  EXPECT_EQ(a.bbox_size_threshold, b.bbox_size_threshold);
  EXPECT_EQ(a.blur_threshold, b.blur_threshold);
  EXPECT_EQ(a.tracking_half_span, b.tracking_half_span);
  EXPECT_EQ(a.refine_tracks, b.refine_tracks);
  EXPECT_EQ(a.query_frame_suppression, b.query_frame_suppression);
  EXPECT_EQ(a.intra_frame_keep_ratio, b.intra_frame_keep_ratio);
  EXPECT_EQ(a.sliding_window_overlap, b.sliding_window_overlap);
  EXPECT_EQ(a.max_cropping_factor, b.max_cropping_factor);
  EXPECT_EQ(a.sam_pooled_chunk, b.sam_pooled_chunk);
  EXPECT_EQ(a.sam_blur_kernel, b.sam_blur_kernel);
  EXPECT_EQ(a.token_distance_mask_size, b.token_distance_mask_size);
  EXPECT_EQ(a.crop_interpolation, b.crop_interpolation);
  EXPECT_EQ(a.fixes.expansion_token_index, b.fixes.expansion_token_index);
  EXPECT_EQ(a.fixes.tracked_token_alignment, b.fixes.tracked_token_alignment);
  EXPECT_EQ(a.fixes.suppression_frame_index, b.fixes.suppression_frame_index);
  EXPECT_EQ(a.fixes.blur_gray_conversion, b.fixes.blur_gray_conversion);
  EXPECT_EQ(a.fixes.apply_trim_offset, b.fixes.apply_trim_offset);
  EXPECT_EQ(a.fixes.sam2_prompt_frame_int_index, b.fixes.sam2_prompt_frame_int_index);
}

TEST(ConfigPipelineParams, DefaultConfigGivesThePipelineDefaults) {
  ExpectSameParams(PipelineParamsFromConfig(Config{}), PipelineParams{});
  auto repo = LoadConfig(testing::SourceDir() + "/config.yaml");
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  ExpectSameParams(PipelineParamsFromConfig(*repo), PipelineParams{});
}

TEST(ConfigPipelineParams, PipelineDefaultsAreTheUpstreamConstants) {
  const PipelineParams p;
  EXPECT_EQ(p.query_frame_suppression, 0.8);
  EXPECT_EQ(p.intra_frame_keep_ratio, 1.0);
  EXPECT_EQ(p.sliding_window_overlap, 0.0);
  EXPECT_EQ(p.cropping_margin_expansion, 1.5);
  EXPECT_EQ(p.max_cropping_factor, 2.0);
  EXPECT_EQ(p.sam_pooled_chunk, 8);
  EXPECT_EQ(p.sam_blur_kernel, 3);
  EXPECT_EQ(p.token_distance_mask_size, 5);
  EXPECT_EQ(p.crop_interpolation, CropInterpolation::kLanczos4);
  EXPECT_EQ(p.tracking_half_span, 500);
  EXPECT_EQ(p.bbox_size_threshold, 10);
  EXPECT_EQ(p.blur_threshold, 100.0);
  EXPECT_EQ(p.matching_threshold, 0.6);
}

TEST(ConfigPipelineParams, EveryKeyReachesItsField) {
  auto c = ParseConfig("", "x", {"visual_query.query_frame_suppression=0.9", "visual_query.intra_frame_keep_ratio=0.5",
                                 "visual_query.sliding_window_overlap=0.25", "visual_query.cropping_margin_expansion=2.5",
                                 "visual_query.max_cropping_factor=4", "visual_query.sam_pooled_chunk=3",
                                 "visual_query.sam_blur_kernel=7", "visual_query.token_distance_mask_size=0",
                                 "visual_query.crop_interpolation=nearest", "visual_query.tracking_half_window=42",
                                 "visual_query.bbox_size_threshold=2", "visual_query.blur_threshold=12.5",
                                 "visual_query.matching_threshold=0.4", "visual_query.patch_size=14",
                                 "fixes.suppression_frame_index=true", "fixes.sam2_prompt_frame_int_index=true"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const PipelineParams p = PipelineParamsFromConfig(*c);
  EXPECT_EQ(p.query_frame_suppression, 0.9);
  EXPECT_EQ(p.intra_frame_keep_ratio, 0.5);
  EXPECT_EQ(p.sliding_window_overlap, 0.25);
  EXPECT_EQ(p.cropping_margin_expansion, 2.5);
  EXPECT_EQ(p.max_cropping_factor, 4.0);
  EXPECT_EQ(p.sam_pooled_chunk, 3);
  EXPECT_EQ(p.sam_blur_kernel, 7);
  EXPECT_EQ(p.token_distance_mask_size, 0);
  EXPECT_EQ(p.crop_interpolation, CropInterpolation::kNearest);
  EXPECT_EQ(p.tracking_half_span, 42);
  EXPECT_EQ(p.bbox_size_threshold, 2);
  EXPECT_EQ(p.blur_threshold, 12.5);
  EXPECT_EQ(p.matching_threshold, 0.4);
  EXPECT_EQ(p.patch_size, 14);
  EXPECT_TRUE(p.fixes.suppression_frame_index);
  EXPECT_TRUE(p.fixes.sam2_prompt_frame_int_index);
}

TEST(ConfigPipelineParams, CropInterpolationNames) {
  EXPECT_EQ(CropInterpolationFromName("lanczos4"), CropInterpolation::kLanczos4);
  EXPECT_EQ(CropInterpolationFromName("cubic"), CropInterpolation::kCubic);
  EXPECT_EQ(CropInterpolationFromName("linear"), CropInterpolation::kLinear);
  EXPECT_EQ(CropInterpolationFromName("area"), CropInterpolation::kArea);
  EXPECT_EQ(CropInterpolationFromName("nearest"), CropInterpolation::kNearest);
}

}  // namespace
}  // namespace vq2d::app
