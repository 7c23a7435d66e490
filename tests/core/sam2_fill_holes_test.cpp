// Connected-component post-processing against fixtures/sam2 cases of kind "fill_holes".
#include "core/sam2_test_util.h"
#include "vq2d/core/sam2_image_predictor.h"

namespace vq2d::sam2 {
namespace {

TEST(Sam2FillHoles, MatchesFixtures) {
  int ran = 0;
  for (const auto& dir : testing::CasesOfKind("fill_holes")) {
    const auto c = testing::ReadCaseJson(dir);
    SCOPED_TRACE(dir);
    ++ran;
    const TensorMap m = testing::LoadCaseTensors(dir);
    const auto& logits = m.at("mask_logits");
    EXPECT_TRUE(torch::equal(ConnectedComponentAreas(logits <= 0), m.at("bg_area")));
    EXPECT_TRUE(torch::equal(ConnectedComponentAreas(logits > 0), m.at("fg_area")));
    EXPECT_TRUE(torch::equal(FillHolesInMaskScores(logits, 8), m.at("video_fill.out")));
    const auto& out_ref = m.at("image_post.out");
    torch::Tensor before;
    auto out = PostprocessMasks(logits, out_ref.size(2), out_ref.size(3), 8, 8, &before);
    EXPECT_TRUE(torch::equal(before, m.at("image_post.before_resize")));
    const double atol = c["tolerance"]["atol"], rtol = c["tolerance"]["rtol"];
    auto excess = (out - out_ref).abs() - (atol + rtol * out_ref.abs());
    EXPECT_LE(excess.max().item<double>(), 0.0) << "image_post.out max diff " << (out - out_ref).abs().max().item<double>();
    // Off means off.
    EXPECT_TRUE(torch::equal(FillHolesInMaskScores(logits, 0), logits));
  }
  EXPECT_GT(ran, 0) << "no fill_holes case";
}

// Every case folder of the area is run by one of the sam2 fixture tests.
TEST(Sam2Fixtures, EveryCaseHasAKnownKind) {
  const auto all = vq2d::testing::FixtureCases("sam2");
  ASSERT_FALSE(all.empty()) << "fixture area sam2 missing under " << vq2d::testing::FixturesRoot();
  for (const auto& dir : all)
    EXPECT_FALSE(testing::KindOf(testing::ReadCaseJson(dir)).empty()) << dir << ": unknown SAM 2 fixture kind";
}

}  // namespace
}  // namespace vq2d::sam2
