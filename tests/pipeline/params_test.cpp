// The torch-free pipeline parameters: defaults are the stage_defaults.h constants (upstream's
// values), and StageStats has one JSON form with the key names of the clip outputs and journal.
#include "vq2d/pipeline/params.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/selection.h"
#include "vq2d/pipeline/tracking.h"

namespace vq2d::pipeline {
namespace {

TEST(PipelineParams, DefaultsAreTheStageDefaults) {
  const PipelineParams p;
  EXPECT_EQ(p.query_cropping_factors, (std::vector<double>{1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75}));
  EXPECT_EQ(p.frame_cropping_factors, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(p.matching_threshold, 0.6);
  EXPECT_EQ(p.query_frame_suppression, 0.8);
  EXPECT_EQ(p.crop_interpolation, CropInterpolation::kLanczos4);
  EXPECT_EQ(p.tracking_half_span, 500);
  // The stage structs start from the same values.
  const SelectorParams s;
  EXPECT_EQ(s.top_k, p.selection_top_k);
  EXPECT_EQ(s.top_p, p.selection_top_p);
  EXPECT_EQ(s.nms_threshold, p.nms_threshold);
  EXPECT_EQ(s.query_frame_suppression, p.query_frame_suppression);
  EXPECT_EQ(s.intra_frame_keep_ratio, p.intra_frame_keep_ratio);
  const TrackingParams t;
  EXPECT_EQ(t.half_span, p.tracking_half_span);
  EXPECT_EQ(t.query_cropping_factors, p.query_cropping_factors);
  const ExpansionParams e;
  EXPECT_EQ(e.query_selection_threshold, p.query_selection_threshold);
  EXPECT_EQ(e.bbox_size_threshold, p.bbox_size_threshold);
  EXPECT_EQ(e.blur_threshold, p.blur_threshold);
  const ImageOps o = ImageOpsOf(p);
  const ImageOps d;
  EXPECT_EQ(o.sam_blur_kernel, d.sam_blur_kernel);
  EXPECT_EQ(o.token_distance_mask_size, d.token_distance_mask_size);
  EXPECT_EQ(o.sliding_window_overlap, d.sliding_window_overlap);
  EXPECT_EQ(o.crop_interpolation, d.crop_interpolation);
  EXPECT_STREQ(CropInterpolationName(CropInterpolation::kArea), "area");
}

TEST(StageStatsJson, OneFormWithTheOutputKeyNames) {
  StageStats s;
  s.query_s = 0.5;
  s.track_s = 2.0;
  s.n_objects = 7;
  s.n_queries_round1 = 8;
  s.n_queries_round2 = 9;
  s.n_selected_round1 = 3;
  s.n_refined_round1 = 2;
  s.n_selected_round2 = 4;
  s.n_refined_round2 = 1;
  s.ren_images = 45;
  const nlohmann::json j = StageStatsJson(s);
  const nlohmann::json expected = {{"query_s", 0.5},        {"video_s", 0.0},         {"select_s", 0.0},
                                   {"refine_s", 0.0},       {"track_s", 2.0},         {"expansion_s", 0.0},
                                   {"objects", 7},          {"queries_round1", 8},    {"queries_round2", 9},
                                   {"selected_round1", 3},  {"refined_round1", 2},    {"selected_round2", 4},
                                   {"refined_round2", 1},   {"ren_images", 45}};
  EXPECT_EQ(j, expected) << j.dump();
}

}  // namespace
}  // namespace vq2d::pipeline
