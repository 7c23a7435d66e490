// vq2d inspect: prints the structure and every tensor of both file formats; clear failures.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "app/commands.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint_summary.h"

namespace vq2d::app {
namespace {

struct Output {
  int rc;
  std::string out, err;
};

Output RunInspectCaptured(const Args& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int rc = RunInspect(args);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  return {rc, out, err};
}

std::vector<std::string> FixtureFiles() {
  std::vector<std::string> files;
  for (const std::string area : {"vit_ren", "sam2"}) {
    for (const auto& dir : vq2d::testing::FixtureCases(area)) {
      for (const char* f : {"/weights.pt", "/tensors.safetensors"}) {
        if (std::ifstream(dir + f).good()) files.push_back(dir + f);
      }
    }
  }
  return files;
}

TEST(InspectCommand, ListsEveryTensorOfEveryFixtureFile) {
  auto files = FixtureFiles();
  ASSERT_FALSE(files.empty()) << "no fixture files under " << vq2d::testing::FixturesRoot();
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    Output o = RunInspectCaptured({f});
    ASSERT_EQ(o.rc, 0) << o.err;
    auto s = InspectTensorFile(f);
    ASSERT_TRUE(s.ok());
    EXPECT_NE(o.out.find("format: " + s->format), std::string::npos);
    EXPECT_NE(o.out.find("structure:\n  " + s->structure.at(0)), std::string::npos) << o.out;
    EXPECT_NE(o.out.find("tensors: " + std::to_string(s->tensors.size()) + ","), std::string::npos) << o.out;
    for (const auto& t : s->tensors) {
      std::string shape = "[";
      for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
      shape += "]";
      // One line per tensor: name, dtype, shape.
      const size_t at = o.out.find("  " + t.name + " ");
      ASSERT_NE(at, std::string::npos) << t.name;
      const std::string line = o.out.substr(at, o.out.find('\n', at) - at);
      EXPECT_NE(line.find(" " + t.dtype + " "), std::string::npos) << line;
      EXPECT_NE(line.find(shape), std::string::npos) << line;
    }
  }
}

TEST(InspectCommand, JsonPrefixAndStats) {
  auto files = FixtureFiles();
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    if (f.find("weights.pt") == std::string::npos) continue;
    auto s = InspectTensorFile(f);
    ASSERT_TRUE(s.ok());
    const std::string first = s->tensors.at(0).name;
    const std::string prefix = first.substr(0, first.find('.') + 1);
    Output o = RunInspectCaptured({f, "--json", "--stats", "--prefix", prefix});
    ASSERT_EQ(o.rc, 0) << o.err;
    nlohmann::json j = nlohmann::json::parse(o.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << o.out;
    EXPECT_EQ(j["format"], "pytorch-zip");
    size_t expected = 0;
    for (const auto& t : s->tensors) expected += t.name.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
    ASSERT_EQ(j["tensors"].size(), expected);
    for (const auto& t : j["tensors"]) {
      EXPECT_EQ(t["name"].get<std::string>().compare(0, prefix.size(), prefix), 0);
      EXPECT_TRUE(t.contains("stats"));
      EXPECT_LE(t["stats"]["min"].get<double>(), t["stats"]["max"].get<double>());
    }
    return;
  }
  FAIL() << "no weights.pt among the fixtures";
}

TEST(InspectCommand, ErrorsAndHelp) {
  Output missing = RunInspectCaptured({"/nonexistent/checkpoint.pth"});
  EXPECT_EQ(missing.rc, 1);
  EXPECT_NE(missing.err.find("/nonexistent/checkpoint.pth"), std::string::npos) << missing.err;
  vq2d::testing::TempDir dir;
  const std::string junk = dir.Join("junk.pt");
  std::ofstream(junk) << "definitely not a checkpoint";
  Output bad = RunInspectCaptured({junk});
  EXPECT_EQ(bad.rc, 1);
  EXPECT_NE(bad.err.find("neither a PyTorch zip checkpoint"), std::string::npos) << bad.err;
  Output usage = RunInspectCaptured({});
  EXPECT_EQ(usage.rc, 2);
  Output help = RunInspectCaptured({"--help"});
  EXPECT_EQ(help.rc, 0);
  const std::string text = help.out + help.err;
  for (const char* opt : {"FILE", "--prefix", "--stats", "--json"}) EXPECT_NE(text.find(opt), std::string::npos) << opt;
}

}  // namespace
}  // namespace vq2d::app
