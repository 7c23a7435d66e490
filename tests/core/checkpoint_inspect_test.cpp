// InspectTensorFile: the torch-free summary agrees with what the loaders return.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>

#include "core/checkpoint_test_util.h"
#include "core/dtype_names.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"
#include "vq2d/core/checkpoint_summary.h"

namespace vq2d {
namespace {

using testing::TempDir;


void ExpectSummaryMatches(const std::string& path, const std::string& format) {
  SCOPED_TRACE(path);
  auto loaded = LoadTensorFile(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  InspectOptions opt;
  opt.stats = true;
  auto s = InspectTensorFile(path, opt);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->format, format);
  EXPECT_FALSE(s->structure.empty());
  ASSERT_EQ(s->tensors.size(), loaded->size());
  for (size_t i = 0; i < s->tensors.size(); ++i) {
    const TensorInfo& info = s->tensors[i];
    if (i > 0) {
      EXPECT_LT(s->tensors[i - 1].name, info.name);  // sorted
    }
    ASSERT_TRUE(loaded->count(info.name)) << info.name;
    const at::Tensor& t = loaded->at(info.name);
    EXPECT_EQ(info.dtype, testing::ExpectedDTypeName(t.scalar_type())) << info.name;
    EXPECT_EQ(info.shape, t.sizes().vec()) << info.name;
    if (t.numel() == 0) {
      EXPECT_FALSE(info.stats.has_value());
      continue;
    }
    ASSERT_TRUE(info.stats.has_value()) << info.name;
    at::Tensor d = t.to(at::kDouble);
    EXPECT_EQ(info.stats->min, d.min().item<double>()) << info.name;
    EXPECT_EQ(info.stats->max, d.max().item<double>()) << info.name;
    EXPECT_DOUBLE_EQ(info.stats->mean, d.mean().item<double>()) << info.name;
  }
}

TEST(InspectTensorFile, EveryFixtureFileOfBothFormats) {
  int n = 0;
  for (const std::string area : {"vit_ren", "sam2"}) {
    auto cases = testing::FixtureCases(area);
    ASSERT_FALSE(cases.empty()) << "fixture area '" << area << "' missing under " << testing::FixturesRoot();
    for (const auto& dir : cases) {
      if (std::ifstream(dir + "/weights.pt").good()) {
        ExpectSummaryMatches(dir + "/weights.pt", "pytorch-zip");
        ++n;
      }
      if (std::ifstream(dir + "/tensors.safetensors").good()) {
        ExpectSummaryMatches(dir + "/tensors.safetensors", "safetensors");
        ++n;
      }
    }
  }
  EXPECT_GT(n, 0);
}

TEST(InspectTensorFile, RenCheckpointStructure) {
  int found = 0;
  for (const auto& dir : testing::FixtureCases("vit_ren")) {
    const std::string path = dir + "/weights.pt";
    if (!std::ifstream(path).good()) continue;
    auto s = InspectTensorFile(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->metadata.at("version"), "3");
    std::string all;
    for (const auto& l : s->structure) all += l + "\n";
    if (all.find("'region_encoder_state': OrderedDict (") == std::string::npos) {
      // A plain state dict: the root line only.
      EXPECT_EQ(s->structure.size(), 1u) << all;
      EXPECT_EQ(all.rfind("OrderedDict (", 0), 0u) << all;
      continue;
    }
    ++found;
    EXPECT_NE(all.find("'epoch': int "), std::string::npos) << all;
    EXPECT_NE(all.find("'best_val_loss': Tensor float32 []"), std::string::npos) << all;
    EXPECT_NE(all.find("'optimizer_state': dict (2 entries, "), std::string::npos) << all;
  }
  EXPECT_GT(found, 0) << "no REN checkpoint.pth layout among the vit_ren fixtures";
}

TEST(InspectTensorFile, SafetensorsMetadataAndStructure) {
  TempDir dir;
  const std::string path = dir.Join("m.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, {{"a", at::ones({2, 2})}, {"e", at::zeros({0})}}, {{"model", "demo"}}).ok());
  auto s = InspectTensorFile(path, InspectOptions{true});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metadata.at("model"), "demo");
  EXPECT_EQ(s->structure.at(0), "safetensors (2 tensors, 1 metadata entries)");
  ASSERT_EQ(s->tensors.size(), 2u);
  EXPECT_EQ(s->tensors[0].stats->mean, 1.0);
  EXPECT_FALSE(s->tensors[1].stats.has_value());
}

}  // namespace
}  // namespace vq2d
