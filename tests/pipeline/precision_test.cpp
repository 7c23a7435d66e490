// models.precision -> per-model dtypes (ResolvePrecision) for both device kinds: no GPU needed.
#include <gtest/gtest.h>

#include "vq2d/pipeline/precision.h"

namespace vq2d::pipeline {
namespace {

ModelPrecision P(bool ren_bf16, bool sam2_bf16, bool dino_bf16) { return ModelPrecision{ren_bf16, sam2_bf16, dino_bf16}; }

TEST(Precision, ParsesTheThreeModesAndNamesThem) {
  for (const char* name : {"auto", "fp32", "bf16"}) {
    auto m = ParsePrecisionMode(name);
    ASSERT_TRUE(m.ok()) << name;
    EXPECT_STREQ(PrecisionModeName(*m), name);
  }
  for (const char* bad : {"", "fp16", "BF16", "bfloat16", "auto "}) {
    auto m = ParsePrecisionMode(bad);
    ASSERT_FALSE(m.ok()) << bad;
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find("models.precision"), std::string::npos) << m.status().ToString();
    EXPECT_NE(m.status().message().find("auto, fp32 or bf16"), std::string::npos) << m.status().ToString();
  }
}

// The CPU default is what the CPU has always run (and the goldens were made with): REN and SAM 2 in
// fp32, the descriptor backbone as models.dino_precision says (bf16 by default, as upstream).
TEST(Precision, AutoOnCpuIsFp32ForRenAndSam2) {
  EXPECT_EQ(ResolvePrecision(PrecisionMode::kAuto, /*cuda=*/false, /*dino_bf16=*/true), P(false, false, true));
  EXPECT_EQ(ResolvePrecision(PrecisionMode::kAuto, false, false), P(false, false, false));
}

// On CUDA the default is upstream's own mix: SAM 2 under bf16 autocast, REN fp32, DINO bf16.
TEST(Precision, AutoOnCudaIsUpstreamsMix) {
  EXPECT_EQ(ResolvePrecision(PrecisionMode::kAuto, /*cuda=*/true, /*dino_bf16=*/true), P(false, true, true));
  EXPECT_EQ(ResolvePrecision(PrecisionMode::kAuto, true, false), P(false, true, false));
}

TEST(Precision, Fp32AndBf16AreTheSameOnBothDevices) {
  for (bool cuda : {false, true}) {
    for (bool dino : {false, true}) {
      EXPECT_EQ(ResolvePrecision(PrecisionMode::kFp32, cuda, dino), P(false, false, dino)) << cuda << dino;
      EXPECT_EQ(ResolvePrecision(PrecisionMode::kBf16, cuda, dino), P(true, true, dino)) << cuda << dino;
    }
  }
}

TEST(Precision, DescribesEachModel) {
  EXPECT_EQ(P(false, true, true).ToString(), "REN fp32, SAM 2 bf16 autocast, descriptors bf16");
  EXPECT_EQ(P(true, false, false).ToString(), "REN bf16, SAM 2 fp32, descriptors fp32");
}

TEST(Precision, BatchCropsAutoIsOnCudaOnly) {
  EXPECT_EQ(*ResolveBatchCrops("auto", false), false);
  EXPECT_EQ(*ResolveBatchCrops("auto", true), true);
  for (bool cuda : {false, true}) {
    EXPECT_EQ(*ResolveBatchCrops("on", cuda), true);
    EXPECT_EQ(*ResolveBatchCrops("off", cuda), false);
  }
  auto bad = ResolveBatchCrops("yes", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("models.batch_crops 'yes'"), std::string::npos);
}

}  // namespace
}  // namespace vq2d::pipeline
