#include "vq2d/io/config.h"

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

TEST(ConfigTest, DefaultsMatchTheSeedConfig) {
  auto c = ParseConfig("", "empty.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->visual_query.selection_top_k, 25);
  EXPECT_DOUBLE_EQ(c->visual_query.nms_threshold, 0.8);
  EXPECT_EQ(c->visual_query.query_cropping_factors.size(), 8u);
  EXPECT_DOUBLE_EQ(c->visual_query.matching_threshold, 0.6);
  EXPECT_EQ(c->ren.hidden_dim, 1024);
  EXPECT_EQ(c->runner.max_attempts, 3);
  EXPECT_FALSE(c->fixes.expansion_token_index);
  EXPECT_EQ(c->OutputDir(), "logs/ren-dinov2-val");
}

TEST(ConfigTest, RepoConfigYamlLoadsAndEqualsTheDefaults) {
  auto c = LoadConfig(testing::SourceDir() + "/config.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto d = ParseConfig("", "defaults");
  EXPECT_EQ(CanonicalConfig(*c, false), CanonicalConfig(*d, false));
}

TEST(ConfigTest, SeedRenConfigSectionsParse) {
  const char* yaml = R"(
data:
  val_data_dir: /data/val/
  sam2_ckpt: /ckpt/sam2.pt
visual_query:
  split: test
  frame_cropping_factors: [1.0, 2.0, 3.0]
  exp_name: mine
ren:
  pretrained:
    feature_extractors: ['dinov2_vitl14']
    patch_sizes: [14]
  architecture: {grid_size: 16, hidden_dim: 256}
  logging: {save_dir: ../logs/, exp_name: x}
)";
  auto c = ParseConfig(yaml, "seed.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->visual_query.split, "test");
  EXPECT_EQ(c->visual_query.frame_cropping_factors.size(), 3u);
  EXPECT_EQ(c->ren.grid_size, 16);
  EXPECT_EQ(c->RecordsDir("val"), "/data/val/");
  EXPECT_EQ(c->OutputDir(), "logs/mine_test");
  EXPECT_EQ(c->OutputDirFor("val"), "logs/mine");
  EXPECT_EQ(c->OutputDirFor("train"), "logs/mine_train");
}

// Val keeps <save_dir>/<exp_name>; test gets its own folder; a test run written in the old layout
// (<save_dir>/<exp_name>, run.json split test) is still found while the new folder does not exist.
TEST(ConfigTest, OutputDirPerSplitAndOldLayoutStillResolves) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  auto c = ParseConfig("visual_query:\n  save_dir: " + dir.path() + "\n  exp_name: e\n", "c.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(ResolveOutputDir(*c, fs), dir.Join("e"));
  c->visual_query.split = "test";
  EXPECT_EQ(ResolveOutputDir(*c, fs), dir.Join("e_test"));
  // The old folder holds a val run: the test run still goes to its own folder.
  ASSERT_TRUE(fs->CreateDirs(dir.Join("e")).ok());
  ASSERT_TRUE(WriteFileAtomic(fs, dir.Join("e/run.json"), R"({"info": {"split": "val"}})", "t").ok());
  EXPECT_EQ(ResolveOutputDir(*c, fs), dir.Join("e_test"));
  // The old folder holds a test run (written before per-split folders): it is used ...
  ASSERT_TRUE(WriteFileAtomic(fs, dir.Join("e/run.json"), R"({"info": {"split": "test"}})", "t").ok());
  EXPECT_EQ(ResolveOutputDir(*c, fs), dir.Join("e"));
  c->visual_query.split = "val";
  EXPECT_EQ(ResolveOutputDir(*c, fs), dir.Join("e"));
  // ... until the new folder exists.
  c->visual_query.split = "test";
  ASSERT_TRUE(fs->CreateDirs(dir.Join("e_test")).ok());
  EXPECT_EQ(ResolveOutputDir(*c, fs), dir.Join("e_test"));
}

TEST(ConfigTest, UnknownKeyNamesFullPathAndClosestKey) {
  auto c = ParseConfig("visual_query:\n  selection_topk: 3\n", "c.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("c.yaml: unknown key 'visual_query.selection_topk'"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("did you mean 'visual_query.selection_top_k'"), std::string::npos);
  auto top = ParseConfig("visualquery:\n  split: val\n", "c.yaml");
  ASSERT_FALSE(top.ok());
  EXPECT_NE(top.status().message().find("unknown key 'visualquery' (did you mean 'visual_query'?)"), std::string::npos)
      << top.status().message();
  auto mid = ParseConfig("ren:\n  architectur:\n    grid_size: 3\n", "c.yaml");
  ASSERT_FALSE(mid.ok());
  EXPECT_NE(mid.status().message().find("unknown key 'ren.architectur' (did you mean 'ren.architecture'?)"),
            std::string::npos)
      << mid.status().message();
}

TEST(ConfigTest, WrongTypeAndOutOfRangeNameKeyValueAndExpectation) {
  auto t = ParseConfig("visual_query:\n  selection_top_k: many\n", "c.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("key 'visual_query.selection_top_k': expected int, got 'many'"),
            std::string::npos)
      << t.status().message();
  auto r = ParseConfig("visual_query:\n  nms_threshold: 1.5\n", "c.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("value 1.5 is out of range: expected a value in [0, 1]"), std::string::npos)
      << r.status().message();
  auto e = ParseConfig("runner:\n  schedule: random\n", "c.yaml");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("'random' is not one of: static, dynamic"), std::string::npos);
  auto l = ParseConfig("visual_query:\n  frame_cropping_factors: 2.0\n", "c.yaml");
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("expected list of float"), std::string::npos);
  auto s = ParseConfig("visual_query: 3\n", "c.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("expected a mapping"), std::string::npos);
  auto bad = ParseConfig("a: [1,\n", "c.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("c.yaml:2:1: not valid YAML"), std::string::npos) << bad.status().message();
}

TEST(ConfigTest, SetOverridesParseValuesAsYaml) {
  auto c = ParseConfig("", "c.yaml",
                       {"visual_query.selection_top_k=7", "visual_query.frame_cropping_factors=[1.0, 3.0]",
                        "fixes.apply_trim_offset=true", "models.ren=", "visual_query.exp_name=a=b"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->visual_query.selection_top_k, 7);
  EXPECT_EQ(c->visual_query.frame_cropping_factors, (std::vector<double>{1.0, 3.0}));
  EXPECT_TRUE(c->fixes.apply_trim_offset);
  EXPECT_EQ(c->models.ren, "");
  EXPECT_EQ(c->visual_query.exp_name, "a=b");
  EXPECT_FALSE(ParseConfig("", "c", {"novalue"}).ok());
  EXPECT_FALSE(ParseConfig("", "c", {"=3"}).ok());
  auto u = ParseConfig("", "c", {"runner.max_attempt=2"});
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("did you mean 'runner.max_attempts'"), std::string::npos);
}

TEST(ConfigTest, MissingFilesAreNamed) {
  auto c = LoadConfig("/nonexistent/config.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/config.yaml"), std::string::npos);
  auto d = ParseConfig("data:\n  val_annotations: /nope/vq_val.json\n", "c.yaml");
  ASSERT_TRUE(d.ok());
  Status s = RequireExistingPath(*d, "data.val_annotations");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("config key data.val_annotations: '/nope/vq_val.json' does not exist"), std::string::npos);
}

TEST(ConfigTest, FingerprintCanonicalFormIgnoresRunnerAndOutputKeys) {
  auto a = ParseConfig("", "a");
  auto b = ParseConfig("runner:\n  max_attempts: 9\nvisual_query:\n  exp_name: other\n", "b");
  auto c = ParseConfig("visual_query:\n  selection_top_k: 24\n", "c");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(CanonicalConfig(*a, true), CanonicalConfig(*b, true));
  EXPECT_NE(CanonicalConfig(*a, true), CanonicalConfig(*c, true));
  EXPECT_NE(CanonicalConfig(*a, false), CanonicalConfig(*b, false));
  // Equal values written differently give the same canonical text.
  auto d = ParseConfig("visual_query:\n  nms_threshold: 0.80\n", "d");
  EXPECT_EQ(CanonicalConfig(*a, true), CanonicalConfig(*d, true));
}

}  // namespace
}  // namespace vq2d
