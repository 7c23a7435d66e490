// README "Reproduce a val score and a test submission": the commands of its marked block, read from
// the README itself (so the text and the test cannot drift apart), run in order on the synthetic
// dataset with the demo models. Only speed overrides are appended; every step must exit 0, and the
// outputs the section promises are checked: val metrics, a test run folder of its own, a submission
// that passes the official evaluator's validation against the test annotations.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "runner/process_util.h"
#include "support/test_support.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/config.h"
#include "vq2d/io/evaluate.h"

namespace vq2d {
namespace {

using testing::ReadText;
using testing::Sh;
using testing::Vq2d;

// The lines starting with "vq2d " between the walkthrough markers, trailing "# comment" removed.
std::vector<std::string> WalkthroughCommands(const std::string& readme) {
  const size_t begin = readme.find("<!-- walkthrough:begin");
  const size_t end = readme.find("<!-- walkthrough:end -->");
  std::vector<std::string> out;
  if (begin == std::string::npos || end == std::string::npos || end < begin) return out;
  std::istringstream in(readme.substr(begin, end - begin));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("vq2d ", 0) != 0) continue;
    if (const size_t hash = line.find(" #"); hash != std::string::npos) line.resize(hash);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out.push_back(line);
  }
  return out;
}

TEST(Walkthrough, ReadmeCommandsRunInOrder) {
  const std::vector<std::string> commands = WalkthroughCommands(ReadText(testing::SourceDir() + "/README.md"));
  // The section's promise: every step of the path is in the block, in this order.
  const std::vector<std::string> steps = {"config",  "prepare", "prepare", "run",  "status",
                                          "merge",   "eval",    "run",     "merge", "submit"};
  ASSERT_EQ(commands.size(), steps.size()) << "README walkthrough block changed: update this test's step list";
  for (size_t i = 0; i < steps.size(); ++i)
    ASSERT_EQ(commands[i].rfind("vq2d " + steps[i] + " ", 0), 0u) << commands[i];

  testing::TempDir tmp;
  const std::string dir = tmp.Join("walk");
  ASSERT_EQ(Sh(Vq2d() + " synth --out " + dir + " --clips 1 --seed 3 > " + tmp.Join("synth.log") + " 2>&1"), 0)
      << ReadText(tmp.Join("synth.log"));
  const std::string fast = " --set visual_query.query_cropping_factors=[1.0,1.5] --set models.cpu_threads=1";
  for (size_t i = 0; i < commands.size(); ++i) {
    const std::string log = tmp.Join("step" + std::to_string(i) + ".log");
    const std::string cmd = Vq2d() + commands[i].substr(4) + fast;
    ASSERT_EQ(Sh("cd " + dir + " && " + cmd + " > " + log + " 2>&1"), 0) << commands[i] << "\n" << ReadText(log);
  }

  FileSystem* fs = FileSystem::Default();
  // prepare's summary is labelled prepare; a CPU run does not advertise NCCL.
  EXPECT_NE(ReadText(tmp.Join("step1.log")).find("[prepare] 1/1 clips done"), std::string::npos)
      << ReadText(tmp.Join("step1.log"));
  EXPECT_EQ(ReadText(tmp.Join("step3.log")).find("NCCL"), std::string::npos) << ReadText(tmp.Join("step3.log"));
  // status: the finished val run, every clip done.
  const std::string status = ReadText(tmp.Join("step4.log"));
  EXPECT_NE(status.find("1 total: 1 done, 0 failed"), std::string::npos) << status;
  // eval: the metrics file, with the official keys.
  const auto metrics = nlohmann::json::parse(ReadText(dir + "/val_metrics.json"), nullptr, false);
  ASSERT_TRUE(metrics.is_object()) << ReadText(dir + "/val_metrics.json");
  EXPECT_NE(metrics.dump().find("success"), std::string::npos) << metrics.dump();
  EXPECT_NE(ReadText(tmp.Join("step6.log")).find("tAP"), std::string::npos) << ReadText(tmp.Join("step6.log"));

  // The val and test runs of the one config live in different folders, each with its predictions.
  auto config = io::LoadConfig(dir + "/config.yaml", {});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  const std::string val_dir = config->OutputDirFor("val"), test_dir = config->OutputDirFor("test");
  EXPECT_NE(val_dir, test_dir);
  auto abs = [&](const std::string& p) { return p.empty() || p[0] == '/' ? p : dir + "/" + p; };
  EXPECT_TRUE(fs->Exists(JoinPath(abs(val_dir), "predictions.json"))) << abs(val_dir);
  EXPECT_TRUE(fs->Exists(JoinPath(abs(test_dir), "predictions.json"))) << abs(test_dir);
  const auto run_json = nlohmann::json::parse(ReadText(JoinPath(abs(test_dir), "run.json")), nullptr, false);
  ASSERT_TRUE(run_json.is_object() && run_json.contains("info"));
  EXPECT_EQ(run_json["info"].value("split", ""), "test") << run_json.dump();

  // submit: the file passes the official validation against the test annotations, and names the
  // split it came from.
  EXPECT_NE(ReadText(tmp.Join("step9.log")).find("predictions of split test"), std::string::npos)
      << ReadText(tmp.Join("step9.log"));
  const std::string submission = ReadText(dir + "/submission.json");
  auto test_ann = io::LoadAnnotations(abs(config->AnnotationsFile("test")));
  ASSERT_TRUE(test_ann.ok()) << test_ann.status().ToString();
  const Status valid = io::ValidatePredictions(submission, "submission.json", *test_ann);
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  const auto sub = nlohmann::json::parse(submission, nullptr, false);
  ASSERT_TRUE(sub.is_object());
  EXPECT_EQ(sub.value("challenge", ""), "ego4d_vq2d_challenge");
}

}  // namespace
}  // namespace vq2d
