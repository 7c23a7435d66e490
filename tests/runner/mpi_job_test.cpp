// Real-process tests of the runner: mpirun jobs of fake_vq2d (the product CLI with a scripted clip
// processor), killed, stopped, failing and resumed.
#include <gtest/gtest.h>

#include <map>
#include <chrono>
#include <thread>
#include <random>
#include <sstream>
#include <nlohmann/json.hpp>

#include "runner/process_util.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/runner/run_status.h"
#include "vq2d/runner/run_store.h"

namespace vq2d {

using runner::ReadJournals;
using runner::ReadRunStatus;
using runner::RunStore;
namespace {

using testing::Background;
using testing::FakeVq2d;
using testing::Mpirun;
using testing::ReadText;
using testing::Sh;
using testing::WaitFor;

// Hard limit for one command (a job of the fake processor takes seconds): past it the command's whole
// process tree is killed and the test fails, so a launcher that hangs (e.g. mpirun sleeping through a
// raised odls_base_sigkill_timeout) fails fast instead of holding CI.
constexpr double kJobTimeoutS = 180;

// An annotation file of `videos` x 3 clips x 2 queries and a config running it into <dir>/runs/<exp>.
struct Dataset {
  std::string dir, config;
  std::vector<std::string> clips;

  Dataset(const std::string& d, int videos = 4) : dir(d) {
    nlohmann::ordered_json vs = nlohmann::ordered_json::array();
    int k = 0;
    for (int v = 0; v < videos; ++v) {
      nlohmann::ordered_json clips_json = nlohmann::ordered_json::array();
      for (int c = 0; c < 3; ++c) {
        nlohmann::ordered_json qs = nlohmann::ordered_json::object();
        for (int q = 0; q < 2; ++q, ++k) {
          const int qf = 20 + (k * 37) % 50;
          nlohmann::ordered_json rt = nlohmann::ordered_json::array();
          for (int f = qf - 8; f < qf - 3; ++f)
            rt.push_back({{"frame_number", f}, {"x", 10.0 + f}, {"y", 20.0}, {"width", 30.0}, {"height", 40.0},
                          {"original_width", 640}, {"original_height", 360}});
          qs[std::to_string(q + 1)] = {{"is_valid", true}, {"query_frame", qf}, {"object_title", "obj"},
                                       {"visual_crop", {{"frame_number", qf + 2}, {"x", 1}, {"y", 2}, {"width", 30},
                                                        {"height", 40}, {"original_width", 640}, {"original_height", 360}}},
                                       {"response_track", rt}};
        }
        const std::string uid = "clip-" + std::to_string(v) + "-" + std::to_string(c);
        clips.push_back(uid);
        clips_json.push_back({{"clip_uid", uid}, {"video_start_sec", 0}, {"video_end_sec", 30}, {"clip_fps", 5.0},
                              {"annotations", {{{"annotation_uid", "a-" + uid}, {"query_sets", qs}}}}});
      }
      vs.push_back({{"video_uid", "video-" + std::to_string(v)}, {"clips", clips_json}});
    }
    nlohmann::ordered_json ann = {{"version", "1.0.5"}, {"videos", vs}};
    EXPECT_TRUE(WriteFileAtomic(FileSystem::Default(), dir + "/vq_val.json", ann.dump(), "t").ok());
    config = dir + "/config.yaml";
    EXPECT_TRUE(WriteFileAtomic(FileSystem::Default(), config,
                                "data:\n  val_annotations: " + dir + "/vq_val.json\nvisual_query:\n  save_dir: " + dir +
                                    "/runs\n  exp_name: exp\nrunner:\n  progress_interval_s: 0.5\n  grace_period_s: 20\n",
                                "t")
                    .ok());
  }
  std::string Out(const std::string& exp = "exp") const { return dir + "/runs/" + exp; }
  std::string Run(int np, const std::string& env = "", const std::string& extra = "") const {
    return env + " " + Mpirun(np) + FakeVq2d() + " run --config " + config + " " + extra + " > " + dir +
           "/last.log 2>&1";
  }
  std::string Merge(const std::string& exp, const std::string& out) const {
    return FakeVq2d() + " merge --config " + config + " --set visual_query.exp_name=" + exp + " --out " + out +
           " > /dev/null";
  }
};

int CountDone(const std::string& out) {
  return static_cast<int>(RunStore(FileSystem::Default(), out).ScanDone(
                              nlohmann::json::parse(ReadText(out + "/run.json"), nullptr, false).value("fingerprint", ""))
                              .size());
}

std::map<std::string, int> FinishCounts(const std::string& out) {
  std::map<std::string, int> n;
  for (const auto& ev : ReadJournals(FileSystem::Default(), out).events)
    if (ev.value("event", "") == "finish") ++n[ev.value("clip", "")];
  return n;
}

std::vector<int> RankPids(const std::string& out, int np) {
  std::vector<int> pids;
  for (int r = 0; r < np; ++r) {
    int pid = -1;
    for (const auto& ev : ReadJournals(FileSystem::Default(), out).events)
      if (ev.value("event", "") == "run_start" && ev.value("rank", -1) == r) pid = ev.value("pid", -1);
    pids.push_back(pid);
  }
  return pids;
}

std::string Reference(const Dataset& ds) {
  EXPECT_EQ(Sh(ds.Run(2, "", "--set visual_query.exp_name=ref"), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  EXPECT_EQ(Sh(ds.Merge("ref", ds.dir + "/ref.json"), kJobTimeoutS), 0);
  return ReadText(ds.dir + "/ref.json");
}

// More ranks than clips: the job says so at start (idle ranks are a launch mistake, not a failure)
// and still finishes every clip.
TEST(MpiJobTest, MoreRanksThanClipsWarnsAndFinishes) {
  testing::TempDir dir;
  Dataset ds(dir.path(), 1);  // 3 clips
  ASSERT_EQ(Sh(ds.Run(4), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  const std::string log = ReadText(ds.dir + "/last.log");
  EXPECT_NE(log.find("WARNING: 4 ranks for 3 clips: 1 rank(s) will have nothing to do"), std::string::npos) << log;
  EXPECT_EQ(CountDone(ds.Out()), 3);
}

TEST(MpiJobTest, KillOneRankMidRunThenResumeGivesTheUninterruptedResult) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  const std::string reference = Reference(ds);
  ASSERT_FALSE(reference.empty());
  {
    Background job(ds.Run(2, "FAKE_SLEEP_MS=60"));
    ASSERT_TRUE(WaitFor([&] { return FileSystem::Default()->Exists(ds.Out() + "/run.json") && CountDone(ds.Out()) >= 3; }, 60));
    auto pids = RankPids(ds.Out(), 2);
    ASSERT_GT(pids[1], 0);
    kill(pids[1], SIGKILL);
    EXPECT_NE(job.Wait(kJobTimeoutS), 0);
  }
  const int done_after_kill = CountDone(ds.Out());
  EXPECT_LT(done_after_kill, static_cast<int>(ds.clips.size()));
  ASSERT_EQ(Sh(ds.Run(2), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  for (const auto& [clip, n] : FinishCounts(ds.Out())) EXPECT_LE(n, 1) << clip << " was finished twice";
  ASSERT_EQ(Sh(ds.Merge("exp", ds.dir + "/resumed.json"), kJobTimeoutS), 0);
  EXPECT_EQ(ReadText(ds.dir + "/resumed.json"), reference);
}

TEST(MpiJobTest, SigtermStopsCleanlyWithExitCodeFourAndResumes) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  const std::string reference = Reference(ds);
  {
    Background job(ds.Run(2, "FAKE_SLEEP_MS=60"));
    ASSERT_TRUE(WaitFor([&] { return FileSystem::Default()->Exists(ds.Out() + "/run.json") && CountDone(ds.Out()) >= 2; }, 60));
    for (int pid : RankPids(ds.Out(), 2)) kill(pid, SIGTERM);  // what Slurm does to every task
    EXPECT_EQ(job.Wait(kJobTimeoutS), 4) << ReadText(ds.dir + "/last.log");
  }
  int stopped_ranks = 0;
  for (const auto& ev : ReadJournals(FileSystem::Default(), ds.Out()).events)
    if (ev.value("event", "") == "run_end" && ev.value("stopped", false)) ++stopped_ranks;
  EXPECT_EQ(stopped_ranks, 2);
  EXPECT_EQ(RunStore(FileSystem::Default(), ds.Out()).CleanTempFiles().value(), 0) << "torn temp files left";
  auto st = ReadRunStatus(FileSystem::Default(), ds.Out());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failed + st->quarantined, 0);
  EXPECT_LT(st->done, st->total);
  ASSERT_EQ(Sh(ds.Run(2), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  ASSERT_EQ(Sh(ds.Merge("exp", ds.dir + "/resumed.json"), kJobTimeoutS), 0);
  EXPECT_EQ(ReadText(ds.dir + "/resumed.json"), reference);
}

int RunStarts(const std::string& out) {
  int n = 0;
  for (const auto& ev : ReadJournals(FileSystem::Default(), out).events)
    if (ev.value("event", "") == "run_start") ++n;
  return n;
}

int ParentPid(int pid) { return testing::ParentPidOf(pid); }

// Running (a zombie, which nobody may reap in a container, counts as dead).
bool Alive(int pid) {
  const std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' && stat[close + 2] != 'X';
}

std::map<std::string, int> Crashes(const std::string& out) {
  std::map<std::string, int> n;
  for (const auto& [clip, h] : ReadJournals(FileSystem::Default(), out).clips) n[clip] = h.crashes;
  return n;
}

// Regression (issues I.13 and I.14) and the kill campaign: seeded random SIGKILLs of a rank or of
// mpirun itself over a small run. A whole-job kill (mpirun) never moves a clip towards quarantine;
// a rank kill moves at most the clip in flight on that rank. After the campaign a plain rerun
// completes: nothing quarantined, no finished clip redone, merged predictions byte-identical.
TEST(MpiJobTest, KillCampaignKeepsPredictionsIdenticalAndQuarantinesNothing) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  const std::string reference = Reference(ds);
  ASSERT_FALSE(reference.empty());
  std::mt19937 rng(20261202);
  int mpirun_kills = 0, rank_kills = 0;
  for (int round = 0; round < 10; ++round) {
    if (FileSystem::Default()->Exists(ds.Out() + "/run.json") &&
        CountDone(ds.Out()) == static_cast<int>(ds.clips.size()))
      break;
    const int starts_before = FileSystem::Default()->Exists(ds.Out() + "/run.json") ? RunStarts(ds.Out()) : 0;
    const auto crashes_before = FileSystem::Default()->Exists(ds.Out() + "/run.json") ? Crashes(ds.Out())
                                                                                        : std::map<std::string, int>();
    Background job(ds.Run(2, "FAKE_SLEEP_MS=300"));
    ASSERT_TRUE(WaitFor([&] {
      return FileSystem::Default()->Exists(ds.Out() + "/run.json") && RunStarts(ds.Out()) >= starts_before + 2;
    }, 90)) << ReadText(ds.dir + "/last.log");
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 1500)(rng)));
    auto pids = RankPids(ds.Out(), 2);
    ASSERT_GT(pids[0], 0);
    ASSERT_GT(pids[1], 0);
    // A clip with two attributable deaths is spared a third rank kill (that would quarantine it,
    // rightly); mpirun is killed instead.
    bool kill_mpirun = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    const int victim = std::uniform_int_distribution<int>(0, 1)(rng);
    for (const auto& [clip, n] : crashes_before)
      if (n >= 2) kill_mpirun = true;
    const int mpirun_pid = ParentPid(pids[0]);
    ASSERT_GT(mpirun_pid, 1);
    if (kill_mpirun) {
      kill(mpirun_pid, SIGKILL);
      ++mpirun_kills;
    } else {
      kill(pids[victim], SIGKILL);
      ++rank_kills;
    }
    job.Wait(kJobTimeoutS);
    ASSERT_TRUE(WaitFor([&] { return !Alive(pids[0]) && !Alive(pids[1]); }, 30)) << "ranks outlived the job";
    const auto crashes_after = Crashes(ds.Out());
    int moved = 0;
    for (const auto& [clip, n] : crashes_after) {
      const int before = crashes_before.count(clip) ? crashes_before.at(clip) : 0;
      EXPECT_GE(n, before) << clip;
      moved += n - before;
    }
    if (kill_mpirun) {
      EXPECT_EQ(moved, 0) << "round " << round << ": a whole-job kill was blamed on a clip";
    } else {
      EXPECT_LE(moved, 1) << "round " << round << ": a rank kill blamed more than the clip in flight";
    }
  }
  EXPECT_GE(mpirun_kills + rank_kills, 3) << "the campaign finished the run before killing";
  ASSERT_EQ(Sh(ds.Run(2), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  auto st = ReadRunStatus(FileSystem::Default(), ds.Out());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->quarantined, 0);
  EXPECT_EQ(st->failed, 0);
  EXPECT_EQ(st->done, static_cast<int>(ds.clips.size()));
  for (const auto& [clip, n] : FinishCounts(ds.Out())) EXPECT_EQ(n, 1) << clip << " was finished " << n << " times";
  ASSERT_EQ(Sh(ds.Merge("exp", ds.dir + "/campaign.json"), kJobTimeoutS), 0);
  EXPECT_EQ(ReadText(ds.dir + "/campaign.json"), reference);
}

// Regression (issue I.14): SIGTERM to mpirun gave exit 1 within 2 s instead of the clean stop.
// Through launch/local.sh, SIGTERM to mpirun, to the script, or to the ranks all stop cleanly (4),
// with strict journals, nothing blamed, and mpirun gone well within the command's hard limit (the
// launch scripts once raised odls_base_sigkill_timeout to 150 s, and Open MPI sleeps it twice).
TEST(MpiJobTest, SigtermToMpirunOrToTheLaunchScriptStopsCleanly) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  const std::string reference = Reference(ds);
  const std::string local = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 VQ2D_BIN=" + FakeVq2d() +
                            " FAKE_SLEEP_MS=200 bash " + testing::SourceDir() + "/launch/local.sh 2 " + ds.config +
                            " > " + ds.dir + "/local.log 2>&1";
  for (const std::string target : {"mpirun", "script", "ranks"}) {
    SCOPED_TRACE(target);
    const int starts_before = FileSystem::Default()->Exists(ds.Out() + "/run.json") ? RunStarts(ds.Out()) : 0;
    Background job(local);
    ASSERT_TRUE(WaitFor([&] {
      return FileSystem::Default()->Exists(ds.Out() + "/run.json") && RunStarts(ds.Out()) >= starts_before + 2 &&
             CountDone(ds.Out()) >= 1;
    }, 90)) << ReadText(ds.dir + "/local.log");
    auto pids = RankPids(ds.Out(), 2);
    ASSERT_GT(pids[0], 0);
    const int mpirun_pid = ParentPid(pids[0]);
    ASSERT_GT(mpirun_pid, 1);
    const int script_pid = ParentPid(mpirun_pid);
    ASSERT_GT(script_pid, 1);
    if (target == "ranks") {
      for (int pid : pids) kill(pid, SIGTERM);
    } else {
      kill(target == "mpirun" ? mpirun_pid : script_pid, SIGTERM);
    }
    EXPECT_EQ(job.Wait(kJobTimeoutS), 4) << ReadText(ds.dir + "/local.log");
    EXPECT_TRUE(WaitFor([&] { return !Alive(pids[0]) && !Alive(pids[1]) && !Alive(mpirun_pid); }, 30))
        << "ranks or mpirun outlived the launch script";
    auto st = ReadRunStatus(FileSystem::Default(), ds.Out());
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE(st->last_job_stopped);
    EXPECT_EQ(st->failed + st->quarantined, 0);
    const auto journals = ReadJournals(FileSystem::Default(), ds.Out());
    EXPECT_EQ(journals.torn_lines, 0);
    for (const auto& [clip, h] : journals.clips) EXPECT_EQ(h.crashes, 0) << clip << " blamed for a stop";
  }
  ASSERT_EQ(Sh(ds.Run(2), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  for (const auto& [clip, n] : FinishCounts(ds.Out())) EXPECT_EQ(n, 1) << clip;
  ASSERT_EQ(Sh(ds.Merge("exp", ds.dir + "/resumed.json"), kJobTimeoutS), 0);
  EXPECT_EQ(ReadText(ds.dir + "/resumed.json"), reference);
}

TEST(MpiJobTest, ThrowingClipIsRecordedAndTheOthersFinish) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  EXPECT_EQ(Sh(ds.Run(2, "FAKE_THROW_CLIP=clip-1-1"), kJobTimeoutS), 3) << ReadText(ds.dir + "/last.log");
  const std::string log = ReadText(ds.dir + "/last.log");
  EXPECT_NE(log.find("failed      clip-1-1: Internal: exception: scripted exception in clip-1-1"), std::string::npos) << log;
  auto st = ReadRunStatus(FileSystem::Default(), ds.Out());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->done, static_cast<int>(ds.clips.size()) - 1);
  EXPECT_EQ(st->failed, 1);
  // merge still writes the file and says what is missing (exit code 3).
  EXPECT_EQ(Sh(ds.Merge("exp", ds.dir + "/partial.json"), kJobTimeoutS), 3);
  // Fixed and retried: complete.
  EXPECT_EQ(Sh(ds.Run(2, "", "--retry-failed"), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
}

TEST(MpiJobTest, ClipThatAbortsTheProcessIsQuarantinedAfterMaxAttempts) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  const std::string env = "FAKE_SLEEP_MS=30 FAKE_ABORT_CLIP=clip-0-1";
  int rc = 0, runs = 0;
  while (runs < 6) {
    rc = Sh(ds.Run(2, env), kJobTimeoutS);
    ++runs;
    if (rc != 134 && rc != 128 + SIGABRT) break;
  }
  EXPECT_EQ(runs, 4) << "three crashes, then the run completes without the poison clip";
  EXPECT_EQ(rc, 3) << ReadText(ds.dir + "/last.log");
  auto st = ReadRunStatus(FileSystem::Default(), ds.Out());
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->quarantined, 1);
  EXPECT_EQ(st->done, static_cast<int>(ds.clips.size()) - 1);
  ASSERT_EQ(st->failures.size(), 1u);
  EXPECT_EQ(st->failures[0].first, "clip-0-1");
}

TEST(MpiJobTest, FingerprintMismatchIsRefusedUnlessAskedToStartAfresh) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  const std::string ckpt = ds.dir + "/weights.bin";
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), ckpt, "weights v1", "t").ok());
  ASSERT_EQ(Sh(ds.Run(2, "FAKE_FINGERPRINT_FILE=" + ckpt), kJobTimeoutS), 0);
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), ckpt, "weights v2", "t").ok());
  EXPECT_EQ(Sh(ds.Run(2, "FAKE_FINGERPRINT_FILE=" + ckpt), kJobTimeoutS), 1);
  const std::string log = ReadText(ds.dir + "/last.log");
  EXPECT_NE(log.find("holds results of another configuration"), std::string::npos) << log;
  EXPECT_NE(log.find("checkpoint fake_checkpoint: sha256"), std::string::npos) << log;
  EXPECT_EQ(Sh(ds.Run(2, "FAKE_FINGERPRINT_FILE=" + ckpt, "--set visual_query.selection_top_k=3"), kJobTimeoutS), 1);
  EXPECT_NE(ReadText(ds.dir + "/last.log").find("config visual_query.selection_top_k: 25 -> 3"), std::string::npos);
  EXPECT_EQ(Sh(ds.Run(2, "FAKE_FINGERPRINT_FILE=" + ckpt, "--new-fingerprint-ok"), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  EXPECT_TRUE(FileSystem::Default()->IsDirectory(ds.Out() + "/superseded"));
}

TEST(MpiJobTest, DynamicScheduleWithThreeRanksFinishesEveryClipOnce) {
  testing::TempDir dir;
  Dataset ds(dir.path());
  ASSERT_EQ(Sh(ds.Run(3, "FAKE_SLEEP_MS=5", "--set runner.schedule=dynamic"), kJobTimeoutS), 0) << ReadText(ds.dir + "/last.log");
  auto counts = FinishCounts(ds.Out());
  EXPECT_EQ(counts.size(), ds.clips.size());
  for (const auto& [clip, n] : counts) EXPECT_EQ(n, 1) << clip;
  std::set<int> ranks;
  for (const auto& ev : ReadJournals(FileSystem::Default(), ds.Out()).events)
    if (ev.value("event", "") == "finish") ranks.insert(ev.value("rank", -1));
  EXPECT_GE(ranks.size(), 2u);
}

TEST(ProcessTest, SingleProcessWithoutMpirunAndSlurmMislaunchGuard) {
  testing::TempDir dir;
  Dataset ds(dir.path(), 1);
  EXPECT_EQ(Sh(FakeVq2d() + " run --config " + ds.config + " > " + ds.dir + "/single.log 2>&1", kJobTimeoutS), 0)
      << ReadText(ds.dir + "/single.log");
  EXPECT_EQ(Sh("SLURM_JOB_ID=1 SLURM_NTASKS=4 " + FakeVq2d() + " run --config " + ds.config + " > " + ds.dir +
               "/slurm.log 2>&1", kJobTimeoutS),
            1);
  EXPECT_NE(ReadText(ds.dir + "/slurm.log").find("SLURM_NTASKS=4 but this job's world has 1 process"), std::string::npos)
      << ReadText(ds.dir + "/slurm.log");
}

// Regression (issue I.15): the record the signal handler writes was preceded by a blank line.
// Every journal line must be a JSON object (strict JSONL).
TEST(ProcessTest, SigtermDuringAClipKeepsTheJournalStrictJsonl) {
  testing::TempDir dir;
  Dataset ds(dir.path(), 1);
  {
    Background job("FAKE_SLEEP_MS=200 " + FakeVq2d() + " run --config " + ds.config + " > " + ds.dir + "/j.log 2>&1");
    ASSERT_TRUE(WaitFor(
        [&] {
          for (const auto& ev : ReadJournals(FileSystem::Default(), ds.Out()).events)
            if (ev.value("event", "") == "start") return true;
          return false;
        },
        60));
    const int pid = RankPids(ds.Out(), 1)[0];
    ASSERT_GT(pid, 0);
    kill(pid, SIGTERM);
    EXPECT_EQ(job.Wait(kJobTimeoutS), 4) << ReadText(ds.dir + "/j.log");
  }
  const std::string text = ReadText(ds.Out() + "/journal/rank-0.jsonl");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  int signal_records = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(!j.is_discarded() && j.is_object()) << "not a JSON object: '" << line << "'\n" << text;
    if (j.value("reason", "") == "signal") ++signal_records;
  }
  EXPECT_EQ(signal_records, 1) << text;
  EXPECT_EQ(ReadJournals(FileSystem::Default(), ds.Out()).torn_lines, 0);
}

// Regression (issue I.7): the free-space / writability check runs before any model is loaded, with
// its own exit code (5).
TEST(ProcessTest, FullOutputDirectoryIsRefusedBeforeLoadingModelsWithExitCodeFive) {
  testing::TempDir dir;
  Dataset ds(dir.path(), 1);
  EXPECT_EQ(Sh(FakeVq2d() + " run --config " + ds.config + " --set runner.min_free_mb=1000000000 > " + ds.dir +
               "/full.log 2>&1", kJobTimeoutS),
            5);
  const std::string log = ReadText(ds.dir + "/full.log");
  EXPECT_NE(log.find("No space left on device"), std::string::npos) << log;
  EXPECT_NE(log.find("runner.min_free_mb"), std::string::npos) << log;
  EXPECT_FALSE(FileSystem::Default()->Exists(ds.Out() + "/run.json")) << "the run must not have started";
}

TEST(ProcessTest, ProductRunNamesAMissingCheckpoint) {
  testing::TempDir dir;
  Dataset ds(dir.path(), 1);
  EXPECT_EQ(Sh(testing::Vq2d() + " run --config " + ds.config + " > " + ds.dir + "/p.log 2>&1", kJobTimeoutS), 1);
  EXPECT_NE(ReadText(ds.dir + "/p.log").find("/path/to/dinov2_vitl14_pretrain.pth"), std::string::npos)
      << ReadText(ds.dir + "/p.log");
  EXPECT_EQ(Sh(testing::Vq2d() + " run --bogus > /dev/null 2>&1", kJobTimeoutS), 2);
}

}  // namespace
}  // namespace vq2d
