// Architecture fields are bounded before anything is allocated (base/arch_limits.h, docs/models.md
// "Architecture bounds"): a hostile models.architecture file or ren.* value fails with the field.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "vq2d/core/dino_vit.h"
#include "vq2d/core/dinov2.h"
#include "vq2d/core/ren_region_encoder.h"
#include "vq2d/core/sam2.h"

namespace vq2d {
namespace {

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

template <typename R>
std::string ErrorOf(const R& r) {
  return r.ok() ? "(accepted)" : r.status().message();
}

TEST(ArchitectureBounds, HugeDepthOrWidthFromJsonIsAnErrorNamingTheField) {
  EXPECT_TRUE(Has(ErrorOf(DinoV2Config::FromJson({{"depth", 1000000000000LL}})), "key 'depth'"));
  EXPECT_TRUE(Has(ErrorOf(DinoV2Config::FromJson({{"depth", 1000}})), "dinov2: depth 1000 is out of range"));
  EXPECT_TRUE(Has(ErrorOf(DinoV2Config::FromJson({{"embed_dim", 1 << 20}, {"num_heads", 16}})), "embed_dim"));
  EXPECT_TRUE(Has(ErrorOf(DinoV2Config::FromJson({{"mlp_ratio", 1e9}})), "mlp_ratio"));
  EXPECT_TRUE(Has(ErrorOf(DinoVitConfig::FromJson({{"depth", 9223372036854775807LL}})), "key 'depth'"));
  EXPECT_TRUE(Has(ErrorOf(DinoVitConfig::FromJson({{"img_size", 100000}})), "img_size"));
  EXPECT_TRUE(Has(ErrorOf(RegionEncoderConfig::FromJson({{"decoder_layers", 9223372036854775807LL}})),
                  "key 'decoder_layers'"));
  EXPECT_TRUE(Has(ErrorOf(RegionEncoderConfig::FromJson({{"decoder_layers", 300}})), "decoder_layers 300 is out of range"));
  EXPECT_TRUE(Has(ErrorOf(RegionEncoderConfig::FromJson({{"grid_size", 5000}})), "grid_size"));
}

TEST(ArchitectureBounds, Sam2IntegersCannotWrapIntoSmallValues) {
  // 2^32 + 16 would wrap to 16 in an int: rejected as out of range instead.
  const nlohmann::json wrap = {{"model", {{"image_encoder", {{"trunk", {{"embed_dim", 4294967312LL}}}}}}}};
  EXPECT_TRUE(Has(ErrorOf(sam2::Sam2ConfigFromJson(wrap)), "embed_dim")) << ErrorOf(sam2::Sam2ConfigFromJson(wrap));
  const nlohmann::json layers = {{"model", {{"memory_attention", {{"num_layers", 100000}}}}}};
  EXPECT_TRUE(Has(ErrorOf(sam2::Sam2ConfigFromJson(layers)), "num_layers")) << ErrorOf(sam2::Sam2ConfigFromJson(layers));
  const nlohmann::json stages = {{"model", {{"image_encoder", {{"trunk", {{"stages", {1, 2, 100000, 2}}}}}}}}};
  EXPECT_TRUE(Has(ErrorOf(sam2::Sam2ConfigFromJson(stages)), "stages")) << ErrorOf(sam2::Sam2ConfigFromJson(stages));
  const nlohmann::json fractional = {{"model", {{"image_size", 1024.5}}}};
  EXPECT_TRUE(Has(ErrorOf(sam2::Sam2ConfigFromJson(fractional)), "expected an integer"));
}

TEST(ArchitectureBounds, OfficialArchitecturesAreInsideTheBounds) {
  for (const auto& c : {DinoV2Config::VitS14(), DinoV2Config::VitB14(), DinoV2Config::VitL14(), DinoV2Config::VitG14()})
    EXPECT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_TRUE(DinoVitConfig::VitB8().Validate().ok());
  EXPECT_TRUE(RegionEncoderConfig().Validate().ok());
  for (const char* v : {"tiny", "small", "base_plus", "large"}) {
    auto p = sam2::Sam2Preset(v);
    ASSERT_TRUE(p.ok()) << v;
  }
  EXPECT_TRUE(sam2::Sam2ConfigFromJson(nlohmann::json::object()).ok());
}

}  // namespace
}  // namespace vq2d
