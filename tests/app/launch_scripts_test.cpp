// The launch scripts: syntax, shellcheck, and real runs of launch/local.sh and slurm/vq2d_val.sh in
// a fake Slurm environment (SLURM_* variables set, `srun` shimmed to mpirun, `scontrol` recorded),
// with fake_vq2d (the product CLI with a scripted processor) as the binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "runner/process_util.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

using testing::Background;
using testing::ReadText;
using testing::Sh;
using testing::WaitFor;

const char* kScripts[] = {"launch/local.sh", "launch/demo.sh", "slurm/vq2d_val.sh", "slurm/vq2d_test.sh", "slurm/vq2d_job.sh",
                          "tools/setup.sh", "tools/test.sh"};

TEST(LaunchScriptsTest, SyntaxAndShellcheck) {
  const std::string src = testing::SourceDir();
  for (const char* s : kScripts) {
    EXPECT_EQ(Sh("bash -n " + src + "/" + s), 0) << s;
    EXPECT_EQ(Sh("cd " + src + " && shellcheck -x " + s), 0) << s << " fails shellcheck";
  }
}

void WriteExecutable(const std::string& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), path, text, "t").ok());
  chmod(path.c_str(), 0755);
}

// A 2-video dataset + config for fake_vq2d in `dir`.
std::string MakeDataset(const std::string& dir) {
  std::string ann = R"({"version": "1.0.5", "videos": [)";
  for (int v = 0; v < 2; ++v) {
    ann += std::string(v ? "," : "") + R"({"video_uid": "v)" + std::to_string(v) + R"(", "clips": [)";
    for (int c = 0; c < 3; ++c) {
      const std::string uid = "c" + std::to_string(v) + std::to_string(c);
      const int qf = 30 + 10 * c + v;
      ann += std::string(c ? "," : "") + R"({"clip_uid": ")" + uid + R"(", "annotations": [{"query_sets": {"1": {
        "is_valid": true, "query_frame": )" + std::to_string(qf) + R"(, "object_title": "cup",
        "visual_crop": {"frame_number": 1, "x": 1, "y": 1, "width": 9, "height": 9, "original_width": 64, "original_height": 48},
        "response_track": [{"frame_number": 3, "x": 2, "y": 2, "width": 8, "height": 8, "original_width": 64, "original_height": 48}]}}}]})";
    }
    ann += "]}";
  }
  ann += "]}";
  EXPECT_TRUE(WriteFileAtomic(FileSystem::Default(), dir + "/vq_val.json", ann, "t").ok());
  const std::string config = dir + "/config.yaml";
  EXPECT_TRUE(WriteFileAtomic(FileSystem::Default(), config,
                              "data:\n  val_annotations: " + dir + "/vq_val.json\n  test_annotations: " + dir +
                                  "/vq_val.json\nvisual_query:\n  save_dir: " + dir +
                                  "/runs\n  exp_name: slurm\nrunner:\n  progress_interval_s: 1\n",
                              "t")
                  .ok());
  return config;
}

std::string FakeSlurmEnv(const std::string& dir) {
  const std::string shims = dir + "/shims";
  EXPECT_TRUE(FileSystem::Default()->CreateDirs(shims).ok());
  WriteExecutable(shims + "/srun",
                  "#!/bin/bash\n"
                  "while [ $# -gt 0 ]; do case \"$1\" in --mpi=*|--kill-on-bad-exit=*|--output=*) shift;; *) break;; esac; done\n"
                  "exec mpirun --oversubscribe -np \"$SLURM_NTASKS\" \"$@\"\n");
  WriteExecutable(shims + "/scontrol", "#!/bin/bash\necho \"$@\" >> \"" + dir + "/scontrol.log\"\n");
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 SLURM_JOB_ID=4242 SLURM_NTASKS=2 "
         "SLURM_JOB_NUM_NODES=1 SLURM_SUBMIT_DIR=" + dir + " VQ2D_ROOT=" + testing::SourceDir() +
         " VQ2D_BIN=" + testing::FakeVq2d() + " PATH=" + shims + ":$PATH ";
}

TEST(LaunchScriptsTest, SlurmValScriptRunsMergesAndLogs) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string cmd = FakeSlurmEnv(dir.path()) + "bash " + testing::SourceDir() + "/slurm/vq2d_val.sh " + config +
                          " > " + dir.Join("job.out") + " 2>&1";
  ASSERT_EQ(Sh(cmd), 0) << ReadText(dir.Join("job.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/slurm/predictions.json")));
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4242/merge.out")).find("6/6 clips"), std::string::npos)
      << ReadText(dir.Join("job.out"));
  EXPECT_FALSE(FileSystem::Default()->Exists(dir.Join("scontrol.log"))) << "a finished job must not requeue";
}

TEST(LaunchScriptsTest, SlurmUsr1StopsMergesRequeuesAndTheRequeuedJobFinishes) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string env = FakeSlurmEnv(dir.path());
  const std::string script = testing::SourceDir() + "/slurm/vq2d_val.sh ";
  {
    // exec: the background pid is the batch shell itself, which is what Slurm's B:USR1 signals.
    Background job("FAKE_SLEEP_MS=150 " + env + "exec bash " + script + config + " > " + dir.Join("job1.out") + " 2>&1");
    ASSERT_TRUE(WaitFor([&] { return FileSystem::Default()->Exists(dir.Join("runs/slurm/journal/rank-1.jsonl")); }, 60));
    ASSERT_TRUE(WaitFor([&] { return ReadText(dir.Join("runs/slurm/journal/rank-0.jsonl")).find("\"finish\"") != std::string::npos; }, 60));
    kill(job.pid(), SIGUSR1);
    EXPECT_EQ(job.Wait(), 4) << ReadText(dir.Join("job1.out"));
  }
  EXPECT_NE(ReadText(dir.Join("scontrol.log")).find("requeue 4242"), std::string::npos) << ReadText(dir.Join("job1.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/slurm/predictions.json"))) << "partial results are merged";
  ASSERT_EQ(Sh(env + "SLURM_RESTART_COUNT=1 bash " + script + config + " > " + dir.Join("job2.out") + " 2>&1"), 0)
      << ReadText(dir.Join("job2.out"));
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4242/merge.out")).find("6/6 clips"), std::string::npos);
}

TEST(LaunchScriptsTest, LocalLaunchRunsAndMerges) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string cmd = "VQ2D_BIN=" + testing::FakeVq2d() + " " + testing::SourceDir() + "/launch/local.sh 3 " +
                          config + " --set visual_query.exp_name=local > " + dir.Join("local.out") + " 2>&1";
  ASSERT_EQ(Sh(cmd), 0) << ReadText(dir.Join("local.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/local/predictions.json"))) << ReadText(dir.Join("local.out"));
  EXPECT_EQ(Sh(testing::SourceDir() + "/launch/local.sh > /dev/null 2>&1"), 2);
}

}  // namespace
}  // namespace vq2d
