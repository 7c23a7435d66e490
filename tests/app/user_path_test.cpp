// The val-then-test path through the product CLI (fake_vq2d: the real commands, a scripted clip
// processor): eval finds the run's annotations, submit refuses what would make a worthless eval.ai
// file (val predictions, missing clips) and writes a valid one from the test run.
#include <gtest/gtest.h>

#include "app/fake_dataset.h"
#include "runner/process_util.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

using testing::FakeVq2d;
using testing::ReadText;
using testing::Sh;

struct Cli {
  std::string dir;
  // Runs `fake_vq2d ARGS`, output in dir/<log>; returns the exit code.
  int operator()(const std::string& args, const std::string& log) const {
    return Sh(FakeVq2d() + " " + args + " > " + dir + "/" + log + " 2>&1");
  }
  std::string Log(const std::string& log) const { return ReadText(dir + "/" + log); }
};

TEST(UserPath, EvalFindsTheRunAndSubmitRefusesValPredictionsAndMissingClips) {
  testing::TempDir tmp;
  const std::string config = testing::MakeDataset(tmp.path(), "t");
  Cli vq{tmp.path()};
  FileSystem* fs = FileSystem::Default();
  ASSERT_EQ(vq("run --config " + config, "run_val.log"), 0) << vq.Log("run_val.log");
  ASSERT_EQ(vq("merge --config " + config, "merge_val.log"), 0) << vq.Log("merge_val.log");
  const std::string val_pred = tmp.Join("runs/slurm/predictions.json");
  ASSERT_TRUE(fs->Exists(val_pred));

  // eval: the annotations come from the run (--config, or run.json next to the predictions).
  ASSERT_EQ(vq("eval --config " + config + " --out " + tmp.Join("m.json"), "eval1.log"), 0) << vq.Log("eval1.log");
  EXPECT_NE(vq.Log("eval1.log").find(tmp.Join("vq_val.json")), std::string::npos) << vq.Log("eval1.log");
  EXPECT_NE(ReadText(tmp.Join("m.json")).find("success"), std::string::npos);
  ASSERT_EQ(vq("eval --predictions " + val_pred + " --json " + tmp.Join("m2.json"), "eval2.log"), 0) << vq.Log("eval2.log");
  EXPECT_EQ(ReadText(tmp.Join("m.json")), ReadText(tmp.Join("m2.json")));

  // submit before the test run exists: says to merge/run the test split.
  EXPECT_EQ(vq("submit --config " + config + " --out " + tmp.Join("s.json"), "sub0.log"), 1);
  EXPECT_NE(vq.Log("sub0.log").find("merge --config " + config + " --split test"), std::string::npos) << vq.Log("sub0.log");
  // Val predictions for the test file: refused, naming the split.
  EXPECT_EQ(vq("submit --predictions " + val_pred + " --test-annotations " + tmp.Join("vq_test.json") + " -o " +
                   tmp.Join("s.json"),
               "sub1.log"),
            1);
  EXPECT_NE(vq.Log("sub1.log").find("split val"), std::string::npos) << vq.Log("sub1.log");
  EXPECT_FALSE(fs->Exists(tmp.Join("s.json")));
  // Forced past the split check, the coverage check refuses: no test clip has a box.
  EXPECT_EQ(vq("submit --allow-split-mismatch --predictions " + val_pred + " --test-annotations " +
                   tmp.Join("vq_test.json") + " --out " + tmp.Join("s.json"),
               "sub2.log"),
            1);
  EXPECT_NE(vq.Log("sub2.log").find("6 of 6 test clips (100.0%) are not finished in run"), std::string::npos)
      << vq.Log("sub2.log");
  EXPECT_FALSE(fs->Exists(tmp.Join("s.json")));
  EXPECT_EQ(vq("submit --allow-split-mismatch --allow-missing --quiet --predictions " + val_pred +
                   " --test-annotations " + tmp.Join("vq_test.json") + " --out " + tmp.Join("s.json"),
               "sub3.log"),
            0)
      << vq.Log("sub3.log");
  EXPECT_NE(vq.Log("sub3.log").find("WARNING: 6 of 6"), std::string::npos) << vq.Log("sub3.log");
  ASSERT_TRUE(fs->Remove(tmp.Join("s.json")).ok());

  // The test run, partial (one clip fails): merge exit 3, submit refuses (1 of 6 > 5%).
  EXPECT_EQ(Sh("FAKE_THROW_CLIP=t00 " + FakeVq2d() + " run --config " + config + " --split test > " +
               tmp.Join("run_test.log") + " 2>&1"),
            3)
      << vq.Log("run_test.log");
  EXPECT_TRUE(fs->Exists(tmp.Join("runs/slurm_test/run.json")));
  EXPECT_EQ(vq("merge --config " + config + " --split test", "merge_test.log"), 3) << vq.Log("merge_test.log");
  EXPECT_EQ(vq("submit --config " + config + " --out " + tmp.Join("s.json"), "sub4.log"), 1) << vq.Log("sub4.log");
  EXPECT_NE(vq.Log("sub4.log").find("1 of 6 test clips (16.7%) are not finished in run"), std::string::npos)
      << vq.Log("sub4.log");
  EXPECT_NE(vq.Log("sub4.log").find("predictions of split test"), std::string::npos) << vq.Log("sub4.log");
  // eval on the test run points to submit.
  EXPECT_EQ(vq("eval --config " + config + " --split test", "eval3.log"), 2);
  EXPECT_NE(vq.Log("eval3.log").find("vq2d submit --config " + config), std::string::npos) << vq.Log("eval3.log");

  // The failed clip retried: complete, submit writes a file that passes eval's own reading.
  ASSERT_EQ(vq("run --config " + config + " --split test --retry-failed", "run_test2.log"), 0) << vq.Log("run_test2.log");
  // predictions.json of the partial run now predates a finished clip: submit says to merge again.
  EXPECT_EQ(vq("submit --config " + config + " --out " + tmp.Join("s.json"), "sub_stale.log"), 1);
  EXPECT_NE(vq.Log("sub_stale.log").find("merge again"), std::string::npos) << vq.Log("sub_stale.log");
  EXPECT_FALSE(fs->Exists(tmp.Join("s.json")));
  ASSERT_EQ(vq("merge --config " + config + " --split test", "merge_test2.log"), 0) << vq.Log("merge_test2.log");
  ASSERT_EQ(vq("submit --config " + config + " --out " + tmp.Join("s.json"), "sub5.log"), 0) << vq.Log("sub5.log");
  EXPECT_EQ(vq.Log("sub5.log").find("WARNING"), std::string::npos) << vq.Log("sub5.log");
  EXPECT_NE(ReadText(tmp.Join("s.json")).find("\"ego4d_vq2d_challenge\""), std::string::npos);
  // The val run is untouched by the test run.
  EXPECT_EQ(vq("eval --config " + config + " --out " + tmp.Join("m3.json"), "eval4.log"), 0) << vq.Log("eval4.log");
  EXPECT_EQ(ReadText(tmp.Join("m.json")), ReadText(tmp.Join("m3.json")));
}

}  // namespace
}  // namespace vq2d
