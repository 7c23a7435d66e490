// The visual_query keys of upstream's hard-coded constants (docs/pipeline.md, Constants): upstream defaults,
// listed in the repo's config.yaml, affecting the results fingerprint, validated.
#include <gtest/gtest.h>

#include "support/test_support.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/config.h"

namespace vq2d {
namespace {

const char* const kConstantKeys[] = {
    "query_frame_suppression", "intra_frame_keep_ratio", "sliding_window_overlap", "cropping_margin_expansion",
    "max_cropping_factor",     "sam_pooled_chunk",       "sam_blur_kernel",        "token_distance_mask_size",
    "crop_interpolation",      "tracking_half_window",   "bbox_size_threshold",    "blur_threshold"};

TEST(ConfigConstants, DefaultsAreTheUpstreamConstants) {
  auto c = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok());
  const VisualQueryOptions& vq = c->visual_query;
  EXPECT_EQ(vq.query_frame_suppression, 0.8);    // models.py:276
  EXPECT_EQ(vq.intra_frame_keep_ratio, 1.0);     // models.py:263
  EXPECT_EQ(vq.sliding_window_overlap, 0.0);     // models.py:210
  EXPECT_EQ(vq.cropping_margin_expansion, 1.5);  // models.py:417
  EXPECT_EQ(vq.max_cropping_factor, 2.0);        // vq_utils.py:451
  EXPECT_EQ(vq.sam_pooled_chunk, 8);             // vq_utils.py:385
  EXPECT_EQ(vq.sam_blur_kernel, 3);              // vq_utils.py:265,282
  EXPECT_EQ(vq.token_distance_mask_size, 5);     // vq_utils.py:326
  EXPECT_EQ(vq.crop_interpolation, "lanczos4");  // vq_utils.py:368,512
  EXPECT_EQ(vq.tracking_half_window, 500);       // models.py:611
  EXPECT_EQ(vq.bbox_size_threshold, 10);         // run.py:304
  EXPECT_EQ(vq.blur_threshold, 100.0);           // vq_utils.py:541
}

TEST(ConfigConstants, EveryKeyIsInTheSchemaAndTheRepoConfigYaml) {
  auto text = FileSystem::Default()->ReadFile(testing::SourceDir() + "/config.yaml");
  ASSERT_TRUE(text.ok());
  const auto keys = ConfigKeys();
  const std::string canonical = CanonicalConfig(Config{}, /*results_only=*/true);
  for (const char* k : kConstantKeys) {
    SCOPED_TRACE(k);
    const std::string key = std::string("visual_query.") + k;
    bool found = false;
    for (const auto& info : keys) found = found || info.key == key;
    EXPECT_TRUE(found);
    EXPECT_NE(text->find(std::string("\n  ") + k + ":"), std::string::npos);  // listed under visual_query
    EXPECT_NE(canonical.find(key + ": "), std::string::npos);                  // affects results
  }
}

TEST(ConfigConstants, ValuesParseAndChangeTheFingerprint) {
  auto d = ParseConfig("", "d");
  auto c = ParseConfig(R"(
visual_query:
  query_frame_suppression: 0.9
  intra_frame_keep_ratio: 0.95
  sliding_window_overlap: 0.2
  cropping_margin_expansion: 1.25
  max_cropping_factor: 3.0
  sam_pooled_chunk: 4
  sam_blur_kernel: 5
  token_distance_mask_size: 0
  crop_interpolation: area
  tracking_half_window: 100
  bbox_size_threshold: 4
  blur_threshold: 50
)",
                       "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const VisualQueryOptions& vq = c->visual_query;
  EXPECT_EQ(vq.query_frame_suppression, 0.9);
  EXPECT_EQ(vq.intra_frame_keep_ratio, 0.95);
  EXPECT_EQ(vq.sliding_window_overlap, 0.2);
  EXPECT_EQ(vq.cropping_margin_expansion, 1.25);
  EXPECT_EQ(vq.max_cropping_factor, 3.0);
  EXPECT_EQ(vq.sam_pooled_chunk, 4);
  EXPECT_EQ(vq.sam_blur_kernel, 5);
  EXPECT_EQ(vq.token_distance_mask_size, 0);
  EXPECT_EQ(vq.crop_interpolation, "area");
  EXPECT_EQ(vq.tracking_half_window, 100);
  EXPECT_EQ(vq.bbox_size_threshold, 4);
  EXPECT_EQ(vq.blur_threshold, 50.0);
  EXPECT_NE(CanonicalConfig(*c, true), CanonicalConfig(*d, true));
  auto s = ParseConfig("", "s", {"visual_query.sam_blur_kernel=1", "visual_query.token_distance_mask_size=3"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->visual_query.sam_blur_kernel, 1);
  EXPECT_EQ(s->visual_query.token_distance_mask_size, 3);
}

TEST(ConfigConstants, InvalidValuesNameTheKey) {
  struct Case {
    std::string yaml_or_set;
    std::string key;
  };
  const Case cases[] = {
      {"visual_query.sam_blur_kernel=4", "visual_query.sam_blur_kernel"},
      {"visual_query.sam_blur_kernel=0", "visual_query.sam_blur_kernel"},
      {"visual_query.token_distance_mask_size=4", "visual_query.token_distance_mask_size"},
      {"visual_query.token_distance_mask_size=7", "visual_query.token_distance_mask_size"},
      {"visual_query.crop_interpolation=bilinear", "visual_query.crop_interpolation"},
      {"visual_query.sliding_window_overlap=1.0", "visual_query.sliding_window_overlap"},
      {"visual_query.sliding_window_overlap=-0.1", "visual_query.sliding_window_overlap"},
      {"visual_query.intra_frame_keep_ratio=1.5", "visual_query.intra_frame_keep_ratio"},
      {"visual_query.max_cropping_factor=0.5", "visual_query.max_cropping_factor"},
      {"visual_query.sam_pooled_chunk=0", "visual_query.sam_pooled_chunk"},
      {"visual_query.tracking_half_window=0", "visual_query.tracking_half_window"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml_or_set);
    auto r = ParseConfig("", "x.yaml", {c.yaml_or_set});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("'" + c.key + "'"), std::string::npos) << r.status().message();
  }
  // The value-set checks also apply to the file.
  auto f = ParseConfig("visual_query:\n  sam_blur_kernel: 6\n", "f.yaml");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("f.yaml: key 'visual_query.sam_blur_kernel'"), std::string::npos)
      << f.status().message();
}

}  // namespace
}  // namespace vq2d
