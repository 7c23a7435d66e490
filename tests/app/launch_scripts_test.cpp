// The launch scripts: syntax, shellcheck, and real runs of launch/local.sh and slurm/vq2d_val.sh in
// a fake Slurm environment (SLURM_* variables set, `srun` shimmed to mpirun, `scontrol` recorded),
// with fake_vq2d (the product CLI with a scripted processor) as the binary.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "app/fake_dataset.h"
#include "runner/process_util.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

using testing::Background;
using testing::MakeDataset;
using testing::ReadText;
using testing::Sh;
using testing::WaitFor;

// Hard limit for one command (a job of the fake processor takes seconds): past it the command's whole
// process tree is killed and the test fails, so a launcher that hangs (e.g. mpirun sleeping through a
// raised odls_base_sigkill_timeout) fails fast instead of holding CI.
constexpr double kJobTimeoutS = 180;

const char* kScripts[] = {"launch/local.sh",       "launch/demo.sh",    "slurm/vq2d_val.sh",   "slurm/vq2d_test.sh",
                          "slurm/vq2d_prepare.sh", "slurm/vq2d_job.sh", "slurm/site.sh",       "tools/setup.sh",
                          "tools/test.sh",         "tools/check_refs.sh", "tools/check_standalone.sh"};

TEST(LaunchScriptsTest, SyntaxAndShellcheck) {
  const std::string src = testing::SourceDir();
  for (const char* s : kScripts) {
    EXPECT_EQ(Sh("bash -n " + src + "/" + s, kJobTimeoutS), 0) << s;
    EXPECT_EQ(Sh("cd " + src + " && shellcheck -x " + s, kJobTimeoutS), 0) << s << " fails shellcheck";
  }
}

void WriteExecutable(const std::string& path, const std::string& text) {
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), path, text, "t").ok());
  chmod(path.c_str(), 0755);
}

std::string FakeSlurmEnv(const std::string& dir) {
  const std::string shims = dir + "/shims";
  EXPECT_TRUE(FileSystem::Default()->CreateDirs(shims).ok());
  WriteExecutable(shims + "/srun",
                  "#!/bin/bash\n"
                  "echo \"$@\" >> \"" + dir + "/srun.log\"\n"
                  "while [ $# -gt 0 ]; do case \"$1\" in --mpi=*|--kill-on-bad-exit=*|--output=*|--cpus-per-task=*) shift;; *) break;; esac; done\n"
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
  ASSERT_EQ(Sh(cmd, kJobTimeoutS), 0) << ReadText(dir.Join("job.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/slurm/predictions.json")));
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4242/merge.out")).find("6/6 clips"), std::string::npos)
      << ReadText(dir.Join("job.out"));
  EXPECT_FALSE(FileSystem::Default()->Exists(dir.Join("scontrol.log"))) << "a finished job must not requeue";
}

// The test job after the val job with the same config: its own run folder (the val one is left as it
// is), its own predictions, exit 0.
TEST(LaunchScriptsTest, SlurmTestScriptAfterValScriptWithTheSameConfig) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string env = FakeSlurmEnv(dir.path());
  ASSERT_EQ(Sh(env + "bash " + testing::SourceDir() + "/slurm/vq2d_val.sh " + config + " > " + dir.Join("val.out") + " 2>&1"), 0)
      << ReadText(dir.Join("val.out"));
  const std::string val_predictions = ReadText(dir.Join("runs/slurm/predictions.json"));
  ASSERT_FALSE(val_predictions.empty());
  ASSERT_EQ(Sh(env + "SLURM_JOB_ID=4243 bash " + testing::SourceDir() + "/slurm/vq2d_test.sh " + config + " > " +
               dir.Join("test.out") + " 2>&1"),
            0)
      << ReadText(dir.Join("test.out"));
  EXPECT_NE(ReadText(dir.Join("runs/slurm_test/run.json")).find("\"split\": \"test\""), std::string::npos);
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4243/merge.out")).find("6/6 clips"), std::string::npos)
      << ReadText(dir.Join("test.out"));
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4243/merge.out")).find(dir.Join("runs/slurm_test/predictions.json")),
            std::string::npos)
      << ReadText(dir.Join("logs/slurm/4243/merge.out"));
  EXPECT_EQ(ReadText(dir.Join("runs/slurm/predictions.json")), val_predictions) << "the val results are untouched";
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
    EXPECT_EQ(job.Wait(kJobTimeoutS), 4) << ReadText(dir.Join("job1.out"));
  }
  EXPECT_NE(ReadText(dir.Join("scontrol.log")).find("requeue 4242"), std::string::npos) << ReadText(dir.Join("job1.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/slurm/predictions.json"))) << "partial results are merged";
  ASSERT_EQ(Sh(env + "SLURM_RESTART_COUNT=1 bash " + script + config + " > " + dir.Join("job2.out") + " 2>&1", kJobTimeoutS), 0)
      << ReadText(dir.Join("job2.out"));
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4242/merge.out")).find("6/6 clips"), std::string::npos);
}

TEST(LaunchScriptsTest, LocalLaunchRunsAndMerges) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string cmd = "VQ2D_BIN=" + testing::FakeVq2d() + " " + testing::SourceDir() + "/launch/local.sh 3 " +
                          config + " --set visual_query.exp_name=local > " + dir.Join("local.out") + " 2>&1";
  ASSERT_EQ(Sh(cmd, kJobTimeoutS), 0) << ReadText(dir.Join("local.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/local/predictions.json"))) << ReadText(dir.Join("local.out"));
  EXPECT_EQ(Sh(testing::SourceDir() + "/launch/local.sh > /dev/null 2>&1", kJobTimeoutS), 2);
}

// A run that fails is not merged (no predictions from an earlier run pass for this one), and the job
// exits with the run's code, naming the log folder.
TEST(LaunchScriptsTest, SlurmFailedRunIsNotMergedAndTheJobFails) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string cmd = FakeSlurmEnv(dir.path()) + "bash " + testing::SourceDir() + "/slurm/vq2d_val.sh " + config +
                          " --set visual_query.no_such_key=1 > " + dir.Join("job.out") + " 2>&1";
  const int rc = Sh(cmd, kJobTimeoutS);
  const std::string out = ReadText(dir.Join("job.out"));
  EXPECT_NE(rc, 0) << out;
  EXPECT_FALSE(FileSystem::Default()->Exists(dir.Join("logs/slurm/4242/merge.out"))) << out;
  EXPECT_FALSE(FileSystem::Default()->Exists(dir.Join("runs/slurm/predictions.json"))) << out;
  EXPECT_NE(out.find("FAILED"), std::string::npos) << out;
  EXPECT_NE(out.find(dir.Join("logs/slurm/4242")), std::string::npos) << "the job log names the log folder:\n" << out;
}

// Options meant for `run` reach the run and not the merge; --cpus-per-task reaches srun.
TEST(LaunchScriptsTest, SlurmRunOptionsStayWithTheRunAndCpusReachSrun) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string cmd = FakeSlurmEnv(dir.path()) + "SLURM_CPUS_PER_TASK=3 bash " + testing::SourceDir() +
                          "/slurm/vq2d_val.sh " + config + " --retry-failed --set runner.max_attempts=2 > " +
                          dir.Join("job.out") + " 2>&1";
  ASSERT_EQ(Sh(cmd, kJobTimeoutS), 0) << ReadText(dir.Join("job.out"));
  EXPECT_NE(ReadText(dir.Join("logs/slurm/4242/merge.out")).find("6/6 clips"), std::string::npos)
      << ReadText(dir.Join("job.out"));
  const std::string srun = ReadText(dir.Join("srun.log"));
  EXPECT_NE(srun.find("--cpus-per-task=3"), std::string::npos) << srun;
  EXPECT_NE(srun.find("--retry-failed"), std::string::npos) << srun;
}

// sbatch runs a copy of the script from its spool folder, and the submit directory need not be the
// checkout: the checkout is found from Slurm's record of the submitted script, or the job says what
// to set.
TEST(LaunchScriptsTest, SlurmSubmitFromOutsideTheCheckout) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  std::string env = FakeSlurmEnv(dir.path());
  const std::string root_kv = "VQ2D_ROOT=" + testing::SourceDir() + " ";
  ASSERT_NE(env.find(root_kv), std::string::npos);
  env.replace(env.find(root_kv), root_kv.size(), "");
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(dir.Join("spool")).ok());
  ASSERT_EQ(Sh("cp " + testing::SourceDir() + "/slurm/vq2d_val.sh " + dir.Join("spool/slurm_script"), kJobTimeoutS), 0);
  WriteExecutable(dir.Join("shims/scontrol"),
                  "#!/bin/bash\n"
                  "if [ \"$1\" = show ]; then echo \"   Command=" + testing::SourceDir() + "/slurm/vq2d_val.sh " + config +
                      "\"; echo '   WorkDir=/elsewhere'; exit 0; fi\n"
                      "echo \"$@\" >> \"" + dir.path() + "/scontrol.log\"\n");
  ASSERT_EQ(Sh("cd / && " + env + "bash " + dir.Join("spool/slurm_script") + " " + config + " > " + dir.Join("job.out") + " 2>&1", kJobTimeoutS), 0)
      << ReadText(dir.Join("job.out"));
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("runs/slurm/predictions.json"))) << ReadText(dir.Join("job.out"));

  // No record of the script and a submit directory that is no checkout: a clear message, exit 1.
  WriteExecutable(dir.Join("shims/scontrol"), "#!/bin/bash\nexit 1\n");
  EXPECT_EQ(Sh("cd / && " + env + "bash " + dir.Join("spool/slurm_script") + " " + config + " > " + dir.Join("job2.out") + " 2>&1", kJobTimeoutS), 1);
  EXPECT_NE(ReadText(dir.Join("job2.out")).find("VQ2D_ROOT="), std::string::npos) << ReadText(dir.Join("job2.out"));
}

// The prepare job runs `vq2d prepare` for the split asked for, on every task, and merges nothing.
TEST(LaunchScriptsTest, SlurmPrepareJobRunsPrepareOnly) {
  testing::TempDir dir;
  const std::string config = MakeDataset(dir.path());
  const std::string fake = dir.Join("fake_bin");
  WriteExecutable(fake, "#!/bin/bash\necho \"$@\" >> \"" + dir.path() + "/calls.log\"\n");
  std::string env = FakeSlurmEnv(dir.path());
  env += "VQ2D_BIN=" + fake + " ";  // the later assignment wins
  ASSERT_EQ(Sh(env + "bash " + testing::SourceDir() + "/slurm/vq2d_prepare.sh " + config + " --split test > " +
               dir.Join("job.out") + " 2>&1", kJobTimeoutS),
            0)
      << ReadText(dir.Join("job.out"));
  const std::string calls = ReadText(dir.Join("calls.log"));
  EXPECT_NE(calls.find("prepare --config " + config + " --split test"), std::string::npos) << calls;
  EXPECT_EQ(calls.find("merge"), std::string::npos) << calls;
  EXPECT_EQ(calls.find("--split test --split"), std::string::npos) << calls;
}

}  // namespace
}  // namespace vq2d
