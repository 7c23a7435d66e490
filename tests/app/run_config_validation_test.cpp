// One validation for `vq2d config` and `vq2d run` (ValidateRunConfig): what run would refuse,
// config refuses too, and a missing model file is named by the config key that points at it.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "app/vq_processor.h"
#include "support/test_support.h"
#include "vq2d/io/config.h"

namespace vq2d::app {
namespace {

void Touch(const std::string& path, const std::string& text = "x") { std::ofstream(path) << text; }

// A config whose every file exists (contents are not read by the validation).
Config ConfigWithFiles(const testing::TempDir& dir) {
  auto c = ParseConfig("", "test.yaml");
  EXPECT_TRUE(c.ok());
  Config config = *c;
  for (const char* name : {"val.json", "dinov2.pth", "ren.pth", "sam2.pt", "dino.pth"}) Touch(dir.Join(name));
  config.data.val_annotations = dir.Join("val.json");
  config.models.dinov2 = dir.Join("dinov2.pth");
  config.models.ren = dir.Join("ren.pth");
  config.models.sam2 = dir.Join("sam2.pt");
  config.models.dino = dir.Join("dino.pth");
  return config;
}

std::string ErrorOf(const Config& c) {
  Status s = ValidateRunConfig(c);
  return s.ok() ? "(accepted)" : s.message();
}

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(RunConfigValidation, ConfigWithEveryFilePresentPasses) {
  testing::TempDir dir;
  EXPECT_EQ(ErrorOf(ConfigWithFiles(dir)), "(accepted)");
}

TEST(RunConfigValidation, MissingCheckpointNamesTheConfigKey) {
  testing::TempDir dir;
  Config c = ConfigWithFiles(dir);
  c.models.dinov2 = "/x/y";
  const std::string e = ErrorOf(c);
  EXPECT_TRUE(Has(e, "config key models.dinov2: '/x/y' does not exist")) << e;
  c = ConfigWithFiles(dir);
  c.models.sam2 = dir.Join("nope.pt");
  EXPECT_TRUE(Has(ErrorOf(c), "config key models.sam2:")) << ErrorOf(c);
}

TEST(RunConfigValidation, EmptyRenKeySaysWhichKeysTheDefaultPathComesFrom) {
  testing::TempDir dir;
  Config c = ConfigWithFiles(dir);
  c.models.ren = "";
  const std::string e = ErrorOf(c);
  EXPECT_TRUE(Has(e, "config key models.ren is empty")) << e;
  EXPECT_TRUE(Has(e, "ren.logging.save_dir")) << e;
  EXPECT_TRUE(Has(e, "ren.logging.exp_name")) << e;
}

TEST(RunConfigValidation, DinoInputSizeOfOneValueFailsConfigLikeRun) {
  testing::TempDir dir;
  auto parsed = ParseConfig("models:\n  dino_input_size: [192]\n", "c.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();  // the key's own type check passes
  Config c = ConfigWithFiles(dir);
  c.models.dino_input_size = parsed->models.dino_input_size;
  EXPECT_TRUE(Has(ErrorOf(c), "models.dino_input_size")) << ErrorOf(c);
}

TEST(RunConfigValidation, ArchitectureMismatchAndBadArchitectureFileFailBeforeLoading) {
  testing::TempDir dir;
  Config c = ConfigWithFiles(dir);
  c.ren.hidden_dim = 512;  // DINOv2 ViT-L/14 is 1024 wide
  EXPECT_TRUE(Has(ErrorOf(c), "must equal the DINOv2 width")) << ErrorOf(c);

  c = ConfigWithFiles(dir);
  Touch(dir.Join("arch.json"), "{\"dinov2\": {\"depth\": 2,\n  \"embed_dim\": oops}}");
  c.models.architecture = dir.Join("arch.json");
  const std::string e = ErrorOf(c);
  EXPECT_TRUE(Has(e, "parse error at line 2:16")) << e;

  Touch(dir.Join("arch.json"), "{\"dinov2\": {\"depth\": 1000000000000}}");
  EXPECT_TRUE(Has(ErrorOf(c), "depth")) << ErrorOf(c);
  EXPECT_TRUE(Has(ErrorOf(c), "out of range")) << ErrorOf(c);

  Touch(dir.Join("arch.json"), "{\"dinov2\": {\"depth\": 1000}}");
  EXPECT_TRUE(Has(ErrorOf(c), "dinov2: depth 1000 is out of range")) << ErrorOf(c);

  Touch(dir.Join("arch.json"), "{\"dinov2\": " + std::string(100000, '[') + "}");
  EXPECT_TRUE(Has(ErrorOf(c), "nested deeper than")) << ErrorOf(c);
}

TEST(RunConfigValidation, MissingAnnotationFileOfTheSplitIsNamed) {
  testing::TempDir dir;
  Config c = ConfigWithFiles(dir);
  c.data.val_annotations = dir.Join("missing.json");
  EXPECT_TRUE(Has(ErrorOf(c), "config key data.val_annotations")) << ErrorOf(c);
}

}  // namespace
}  // namespace vq2d::app
