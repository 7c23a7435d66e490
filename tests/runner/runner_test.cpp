#include "vq2d/runner/runner.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "runner/runner_test_util.h"
#include "support/fault_fs.h"
#include "support/test_support.h"
#include "vq2d/runner/run_status.h"
#include "vq2d/runner/run_store.h"

namespace vq2d {

using runner::kExitClipsFailed;
using runner::kExitNoSpace;
using runner::kExitOk;
using runner::kExitStopped;
using runner::CheckOutputWritable;
using runner::ClassifyClip;
using runner::ClipProcessor;
using runner::ClipState;
using runner::ClipTask;
using runner::IsNoSpaceError;
using runner::Journal;
using runner::JournalSummary;
using runner::MakeLocalCollective;
using runner::Plan;
using runner::PlanStatic;
using runner::ReadJournals;
using runner::ReadRunStatus;
using runner::RunJob;
using runner::RunOptions;
using runner::RunStore;
using runner::RunSummary;
using runner::WorkItem;
using runner::ClipHistory;
using runner::ClipResult;
using runner::OpenAttemptAlive;
using runner::RunStatusReport;
using runner::StopToken;
namespace {

using testing::MakeWork;
using testing::ScriptedProcessor;

RunOptions Options(const std::string& out) {
  RunOptions o;
  o.out_dir = out;
  o.canonical_config = "a: 1\nb: \"x\"\n";
  o.progress_interval_s = 3600;
  o.grace_period_s = 30;
  return o;
}

Result<RunSummary> RunLocal(const RunOptions& o, const std::vector<WorkItem>& work, ClipProcessor& p,
                            const std::atomic<bool>* stop = nullptr) {
  auto coll = MakeLocalCollective();
  return RunJob(o, work, p, *coll, FileSystem::Default(), Clock::Default(), stop);
}

TEST(RunnerTest, RunsEverythingThenResumeDoesNothing) {
  testing::TempDir dir;
  auto work = MakeWork(7);
  ScriptedProcessor p1;
  auto s1 = RunLocal(Options(dir.Join("out")), work, p1);
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ(s1->exit_code, kExitOk);
  EXPECT_EQ(s1->done, 7);
  EXPECT_EQ(p1.processed.size(), 7u);
  // LPT order on one rank: costs descending.
  for (size_t i = 1; i < p1.processed.size(); ++i) {
    double a = 0, b = 0;
    for (const auto& w : work) {
      if (w.id == p1.processed[i - 1]) a = w.cost;
      if (w.id == p1.processed[i]) b = w.cost;
    }
    EXPECT_GE(a, b);
  }
  ScriptedProcessor p2;
  auto s2 = RunLocal(Options(dir.Join("out")), work, p2);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->exit_code, kExitOk);
  EXPECT_TRUE(p2.processed.empty()) << "resume redid finished clips";
}

TEST(RunnerTest, FailingClipIsRecordedOthersFinishAndRetryFailedRetriesIt) {
  testing::TempDir dir;
  auto work = MakeWork(5);
  ScriptedProcessor p;
  p.throw_on = {"clip-002"};
  p.fail_on = {"clip-004"};
  auto s = RunLocal(Options(dir.Join("out")), work, p);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->exit_code, kExitClipsFailed);
  EXPECT_EQ(s->done, 3);
  EXPECT_EQ(s->failed, 2);
  auto st = ReadRunStatus(FileSystem::Default(), dir.Join("out"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failed, 2);
  ASSERT_EQ(st->failures.size(), 2u);
  EXPECT_NE(st->ToText().find("scripted exception in clip-002"), std::string::npos) << st->ToText();
  EXPECT_NE(st->ToText().find("scripted failure in clip-004"), std::string::npos);
  // A plain rerun skips the failed clips; --retry-failed retries them.
  ScriptedProcessor again;
  auto s2 = RunLocal(Options(dir.Join("out")), work, again);
  EXPECT_TRUE(again.processed.empty());
  EXPECT_EQ(s2->exit_code, kExitClipsFailed);
  RunOptions o = Options(dir.Join("out"));
  o.retry_failed = true;
  ScriptedProcessor retry;
  auto s3 = RunLocal(o, work, retry);
  EXPECT_EQ(retry.processed.size(), 2u);
  EXPECT_EQ(retry.attempts_seen["clip-002"], 2);
  EXPECT_EQ(s3->exit_code, kExitOk);
}

// A processor whose clips need an input file <dir>/<clip>: a missing one is a failure with a cause
// that goes away once the file exists.
class InputFileProcessor : public ScriptedProcessor {
 public:
  explicit InputFileProcessor(std::string dir) : dir_(std::move(dir)) {}
  Result<ClipResult> Process(const ClipTask& task, const StopToken& stop) override {
    if (!FileSystem::Default()->Exists(JoinPath(dir_, task.clip_uid))) {
      std::lock_guard<std::mutex> lock(mu);
      processed.push_back(task.clip_uid);
      return Status::NotFound("no input for " + task.clip_uid);
    }
    return ScriptedProcessor::Process(task, stop);
  }
  std::string FailureCause(const ClipTask& task, const Status& s) const override {
    return s.code() == StatusCode::kNotFound && !FileSystem::Default()->Exists(JoinPath(dir_, task.clip_uid))
               ? "missing_input"
               : "";
  }
  bool FailureCauseHolds(const std::string& clip, const std::string& cause) const override {
    return cause != "missing_input" || !FileSystem::Default()->Exists(JoinPath(dir_, clip));
  }

 private:
  std::string dir_;
};

// A failure is sticky only while its cause holds: the clip whose input appeared is retried by a plain
// rerun; the clip still without input and the clip with a sticky error are not.
TEST(RunnerTest, AFailureWhoseCauseIsGoneIsRetriedWithoutRetryFailed) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("in")).ok());
  auto work = MakeWork(4);
  for (const char* c : {"clip-000", "clip-003"}) ASSERT_TRUE(WriteFileAtomic(fs, dir.Join("in/") + c, "x", "t").ok());
  InputFileProcessor p1(dir.Join("in"));
  p1.fail_on = {"clip-003"};
  auto s1 = RunLocal(Options(dir.Join("out")), work, p1);
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ(s1->failed, 3);
  ASSERT_TRUE(WriteFileAtomic(fs, dir.Join("in/clip-001"), "x", "t").ok());
  InputFileProcessor p2(dir.Join("in"));
  p2.fail_on = {"clip-003"};
  auto s2 = RunLocal(Options(dir.Join("out")), work, p2);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(p2.processed, std::vector<std::string>{"clip-001"});
  EXPECT_EQ(s2->done, 2);
  EXPECT_EQ(s2->failed, 2);
}

TEST(RunnerTest, ClipThatKeepsKillingTheProcessIsQuarantined) {
  testing::TempDir dir;
  auto work = MakeWork(3);
  const std::string out = dir.Join("out");
  // Simulate two earlier runs that died inside clip-001: a start with no end, twice.
  ScriptedProcessor first;
  first.fail_on = {"clip-000", "clip-001", "clip-002"};
  ASSERT_TRUE(RunLocal(Options(out), work, first).ok());
  FileSystem* fs = FileSystem::Default();
  {
    auto j = Journal::Open(fs, RunStore(fs, out).JournalPath(7));
    ASSERT_TRUE(j.ok());
    for (int i = 0; i < 3; ++i)
      ASSERT_TRUE(
          (*j)->Append({{"event", "start"}, {"clip", "clip-001"}, {"attempt_id", "dead-" + std::to_string(i)}}).ok());
  }
  RunOptions o = Options(out);
  o.retry_failed = false;
  o.max_attempts = 3;
  // clip-000 and clip-002 are "failed" (skipped), clip-001 crashed 3 times: quarantined.
  ScriptedProcessor p;
  auto s = RunLocal(o, work, p);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(p.processed.empty());
  EXPECT_EQ(s->quarantined, 1);
  EXPECT_EQ(s->exit_code, kExitClipsFailed);
  auto st = ReadRunStatus(fs, out);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->quarantined, 1);
}

TEST(RunnerTest, FingerprintMismatchIsRefusedWithExplanationOrMovedAside) {
  testing::TempDir dir;
  auto work = MakeWork(2);
  ScriptedProcessor p;
  ASSERT_TRUE(RunLocal(Options(dir.Join("out")), work, p).ok());
  RunOptions changed = Options(dir.Join("out"));
  changed.canonical_config = "a: 2\nb: \"x\"\n";
  ScriptedProcessor p2;
  auto s = RunLocal(changed, work, p2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("config a: 1 -> 2"), std::string::npos) << s.status().message();
  EXPECT_TRUE(p2.processed.empty());
  changed.new_fingerprint_ok = true;
  auto s2 = RunLocal(changed, work, p2);
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(p2.processed.size(), 2u);
  auto names = FileSystem::Default()->ListDir(dir.Join("out/superseded"));
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 1u);
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Join("out/superseded/" + (*names)[0] + "/run.json")));
}

TEST(RunnerTest, StopFlagStopsBeforeTheNextClipWithExitCodeStopped) {
  testing::TempDir dir;
  auto work = MakeWork(6);
  std::atomic<bool> stop{false};
  ScriptedProcessor p;
  p.on_process = [&](const ClipTask&) {
    if (p.processed.size() == 2) stop = true;
  };
  auto s = RunLocal(Options(dir.Join("out")), work, p, &stop);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->stopped);
  EXPECT_EQ(s->exit_code, kExitStopped);
  EXPECT_EQ(p.processed.size(), 2u);
  // The clip in flight when the stop came was abandoned (Cancelled), not committed or failed.
  JournalSummary js = ReadJournals(FileSystem::Default(), dir.Join("out"));
  EXPECT_EQ(js.clips[p.processed[1]].abandons, 1);
  EXPECT_EQ(js.clips[p.processed[1]].fails, 0);
  // Resume finishes the rest and redoes only the abandoned clip.
  ScriptedProcessor rest;
  auto s2 = RunLocal(Options(dir.Join("out")), work, rest);
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(s2->exit_code, kExitOk);
  EXPECT_EQ(rest.processed.size(), 5u);
}

TEST(RunnerTest, ThreeRanksStaticAndDynamicProcessEveryClipExactlyOnce) {
  for (const std::string schedule : {"static", "dynamic"}) {
    testing::TempDir dir;
    auto work = MakeWork(23);
    const int n = 3;
    testing::ThreadWorld world(n);
    std::vector<ScriptedProcessor> procs(n);
    std::vector<int> exit_codes(n, -1);
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) {
      threads.emplace_back([&, r] {
        auto rank = world.MakeRank(r);
        RunOptions o = Options(dir.Join("out"));
        o.schedule = schedule;
        auto s = RunJob(o, work, procs[r], *rank, FileSystem::Default(), Clock::Default(), nullptr);
        exit_codes[r] = s.ok() ? s->exit_code : -2;
      });
    }
    for (auto& t : threads) t.join();
    std::multiset<std::string> all;
    for (int r = 0; r < n; ++r) {
      EXPECT_EQ(exit_codes[r], kExitOk) << schedule << " rank " << r;
      all.insert(procs[r].processed.begin(), procs[r].processed.end());
    }
    EXPECT_EQ(all.size(), work.size()) << schedule;
    for (const auto& w : work) EXPECT_EQ(all.count(w.id), 1u) << schedule << " " << w.id;
    if (schedule == "static") {
      // Every rank got the clips the LPT plan assigns it.
      Plan plan = PlanStatic(work, {}, n);
      for (int r = 0; r < n; ++r) {
        std::vector<std::string> expected;
        for (size_t idx : plan.per_rank[r]) expected.push_back(work[idx].id);
        EXPECT_EQ(procs[r].processed, expected) << "rank " << r;
      }
    }
  }
}

TEST(RunnerTest, StatusReportsThroughputStagesAndEta) {
  testing::TempDir dir;
  auto work = MakeWork(4);
  ScriptedProcessor p;
  p.fail_on = {"clip-003"};
  ASSERT_TRUE(RunLocal(Options(dir.Join("out")), work, p).ok());
  auto st = ReadRunStatus(FileSystem::Default(), dir.Join("out"));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->total, 4);
  EXPECT_EQ(st->done, 3);
  EXPECT_EQ(st->failed, 1);
  ASSERT_EQ(st->ranks.size(), 1u);
  EXPECT_EQ(st->ranks.at(0).clips, 3);
  EXPECT_DOUBLE_EQ(st->stage_seconds.at("select_s"), 0.75);
  EXPECT_EQ(ReadRunStatus(FileSystem::Default(), dir.Join("nothing")).status().code(), StatusCode::kNotFound);
}

// A live run: the clip being processed is "running" (rank, host, since), not interrupted; a failed
// clip being retried counts as running, not failed; a start whose process is gone is interrupted.
TEST(RunnerTest, StatusOfALiveRunShowsClipsInFlight) {
  testing::TempDir dir;
  auto work = MakeWork(3);
  ScriptedProcessor p1;
  p1.fail_on = {"clip-001"};
  ASSERT_TRUE(RunLocal(Options(dir.Join("out")), work, p1).ok());
  RunOptions o = Options(dir.Join("out"));
  o.retry_failed = true;
  ScriptedProcessor retry;
  RunStatusReport seen;
  retry.on_process = [&](const ClipTask&) {
    auto st = ReadRunStatus(FileSystem::Default(), dir.Join("out"));
    if (st.ok()) seen = *st;
  };
  ASSERT_TRUE(RunLocal(o, work, retry).ok());
  EXPECT_EQ(seen.running, 1) << seen.ToText();
  EXPECT_EQ(seen.failed, 0) << seen.ToText();
  EXPECT_EQ(seen.interrupted, 0) << seen.ToText();
  ASSERT_EQ(seen.in_flight.size(), 1u);
  EXPECT_EQ(seen.in_flight[0].clip, "clip-001");
  EXPECT_EQ(seen.in_flight[0].rank, 0);
  EXPECT_NE(seen.ToText().find("in flight\n  rank 0 on "), std::string::npos) << seen.ToText();
  // Liveness of an open attempt: this host's pid alive or gone; another host: unknown, taken as alive
  // until its rank records run_end.
  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  ClipHistory::OpenAttempt a;
  a.host = host;
  a.rank = 7;
  a.since = "2999-01-01T00:00:00.000Z";
  a.pid = getpid();
  EXPECT_TRUE(OpenAttemptAlive(a, {}));
  a.pid = 999999999;
  EXPECT_FALSE(OpenAttemptAlive(a, {}));
  a.host = std::string(host) + "-elsewhere";
  a.pid = 4242;
  EXPECT_TRUE(OpenAttemptAlive(a, {}));
  EXPECT_FALSE(OpenAttemptAlive(a, {nlohmann::json{{"event", "run_end"}, {"rank", 7}, {"time", "2999-01-02T00:00:00.000Z"}}}));
}

std::string FileText(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Before any clip has finished, the progress line already has an ETA (from the share of
// work the clip in flight reported), and status shows that clip's stage. The processor holds its
// first clip until such a line is in the rank log (or a generous deadline passes), so the verdict
// does not depend on timing.
TEST(RunnerTest, ProgressHasAnEtaBeforeTheFirstClipFinishesAndStatusShowsTheStage) {
  testing::TempDir dir;
  auto work = MakeWork(3);
  RunOptions o = Options(dir.Join("out"));
  o.progress_interval_s = 0.02;
  ScriptedProcessor p;
  std::string progress_line;
  RunStatusReport seen;
  bool first = true;
  p.on_process = [&](const ClipTask& task) {
    if (!first) return;
    first = false;
    task.ReportStage("search", 0.5);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
    while (progress_line.empty() && std::chrono::steady_clock::now() < deadline) {
      std::istringstream log(FileText(dir.Join("out/logs/rank-0.log")));
      for (std::string line; std::getline(log, line);)
        if (line.find("[progress] 0/3 clips done") != std::string::npos && line.find("ETA --:--:--") == std::string::npos)
          progress_line = line;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto st = ReadRunStatus(FileSystem::Default(), dir.Join("out"));
    if (st.ok()) seen = *st;
  };
  auto s = RunLocal(o, work, p);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->exit_code, kExitOk);
  EXPECT_NE(progress_line.find(", ETA "), std::string::npos) << "no progress line with an ETA while 0 clips were done:\n"
                                                            << FileText(dir.Join("out/logs/rank-0.log"));
  ASSERT_EQ(seen.in_flight.size(), 1u) << seen.ToText();
  EXPECT_EQ(seen.in_flight[0].stage, "search");
  EXPECT_FALSE(seen.in_flight[0].since.empty());
  EXPECT_FALSE(seen.in_flight[0].stage_since.empty());
  EXPECT_NE(seen.ToText().find(", stage search since "), std::string::npos) << seen.ToText();
  EXPECT_NE(FileText(dir.Join("out/logs/rank-0.log")).find(" stage search"), std::string::npos);
}

// The default file system, except that appends to a journal file fail once `journal_appends_ok`
// of them have succeeded (a full disk, a revoked mount).
class JournalFaultFs : public FileSystem {
 public:
  explicit JournalFaultFs(int journal_appends_ok) : left_(journal_appends_ok) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return fs_->NewWritableFile(p);
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& p) override {
    VQ2D_ASSIGN_OR_RETURN(auto f, fs_->NewAppendableFile(p));
    if (p.find("/journal/") == std::string::npos) return std::move(f);
    return std::unique_ptr<WritableFile>(new Faulty(std::move(f), &left_));
  }
  Result<std::string> ReadFile(const std::string& p) override { return fs_->ReadFile(p); }
  bool Exists(const std::string& p) override { return fs_->Exists(p); }
  bool IsDirectory(const std::string& p) override { return fs_->IsDirectory(p); }
  Result<uint64_t> FileSize(const std::string& p) override { return fs_->FileSize(p); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override { return fs_->ListDir(d); }
  Status CreateDirs(const std::string& d) override { return fs_->CreateDirs(d); }
  Status Rename(const std::string& a, const std::string& b) override { return fs_->Rename(a, b); }
  Status Remove(const std::string& p) override { return fs_->Remove(p); }
  Status SyncDir(const std::string& d) override { return fs_->SyncDir(d); }

 private:
  class Faulty : public WritableFile {
   public:
    Faulty(std::unique_ptr<WritableFile> f, std::atomic<int>* left) : f_(std::move(f)), left_(left) {}
    Status Append(std::string_view data) override {
      if (data == "\n") return f_->Append(data);  // Journal::Open's line guard
      if (left_->fetch_sub(1) <= 0) return Status::IOError("journal: no space left on device (injected)");
      return f_->Append(data);
    }
    Status Sync() override { return f_->Sync(); }
    Status Close() override { return f_->Close(); }

   private:
    std::unique_ptr<WritableFile> f_;
    std::atomic<int>* left_;
  };
  FileSystem* fs_ = FileSystem::Default();
  std::atomic<int> left_;
};

TEST(RunnerTest, AJournalThatCannotRecordAStartStopsTheWorkAndFailsTheRun) {
  // run_start, then start/finish of the first clip; the second clip's "start" fails: that clip
  // must not run (a crash in it would go uncounted by the quarantine), nothing after it either,
  // and the run reports the journal error instead of a normal summary.
  testing::TempDir dir;
  auto work = MakeWork(4);
  JournalFaultFs fs(3);
  ScriptedProcessor p;
  auto coll = MakeLocalCollective();
  auto s = RunJob(Options(dir.Join("out")), work, p, *coll, &fs, Clock::Default(), nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIOError) << s.status().ToString();
  EXPECT_NE(s.status().message().find("journal"), std::string::npos) << s.status().ToString();
  ASSERT_EQ(p.processed.size(), 1u);
  // What the journal holds still classifies every clip right: one done, the rest pending.
  const JournalSummary js = ReadJournals(FileSystem::Default(), dir.Join("out"));
  int started = 0;
  for (const auto& [clip, h] : js.clips) {
    started += h.starts;
    EXPECT_EQ(h.crashes, 0) << clip;
  }
  EXPECT_EQ(started, 1);
  // A rerun with a working journal does the remaining clips.
  ScriptedProcessor again;
  auto s2 = RunLocal(Options(dir.Join("out")), work, again);
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(s2->done, 4);
  EXPECT_EQ(again.processed.size(), 3u);
}

TEST(RunnerTest, AJournalThatFailsAtRunStartTakesNoClip) {
  testing::TempDir dir;
  auto work = MakeWork(3);
  JournalFaultFs fs(0);
  ScriptedProcessor p;
  auto coll = MakeLocalCollective();
  auto s = RunJob(Options(dir.Join("out")), work, p, *coll, &fs, Clock::Default(), nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(p.processed.empty());
}

// Regression (issue I.7): on a full disk the run went on computing every clip and failed each
// output write. Now an ENOSPC on a commit ends the rank at once with kExitNoSpace, the clip is
// journaled as abandoned (not failed), and a plain rerun (no --retry-failed) finishes it.
TEST(RunnerTest, DiskFullOnACommitStopsTheRankAndAPlainRerunFinishes) {
  testing::FaultInjectionFileSystem fs;
  auto work = MakeWork(4);
  const std::string out = "/run";
  auto is_output = [](const std::string& p) {
    return p.find("/clips/") != std::string::npos || p.find("/done/") != std::string::npos;
  };
  ScriptedProcessor p;
  p.on_process = [&](const ClipTask&) {
    if (p.processed.size() == 2) fs.SetNoSpace(is_output);  // the disk fills up during the second clip
  };
  auto coll = MakeLocalCollective();
  auto s = RunJob(Options(out), work, p, *coll, &fs, Clock::Default(), nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->exit_code, kExitNoSpace);
  EXPECT_EQ(p.processed.size(), 2u) << "no clip may be taken after the failed commit";
  EXPECT_EQ(s->done, 1);
  const JournalSummary js = ReadJournals(&fs, out);
  const std::string second = p.processed[1];
  ASSERT_TRUE(js.clips.count(second));
  EXPECT_EQ(js.clips.at(second).abandons, 1);
  EXPECT_EQ(js.clips.at(second).crashes, 0);
  EXPECT_EQ(ClassifyClip(false, &js.clips.at(second), 3), ClipState::kPending);
  bool reported = false;
  for (const auto& ev : js.events)
    if (ev.value("event", "") == "abandon" && ev.value("reason", "") == "no space" &&
        ev.value("error", "").find("No space left on device") != std::string::npos)
      reported = true;
  EXPECT_TRUE(reported);
  // Space freed: the same command (no --retry-failed) does the rest.
  fs.SetNoSpace({});
  ScriptedProcessor again;
  auto coll2 = MakeLocalCollective();
  RunOptions o = Options(out);
  ASSERT_FALSE(o.retry_failed);
  auto s2 = RunJob(o, work, again, *coll2, &fs, Clock::Default(), nullptr);
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(s2->exit_code, kExitOk);
  EXPECT_EQ(s2->done, 4);
  EXPECT_EQ(again.processed.size(), 3u);
}

// A journal that hits ENOSPC stops the rank at once with the same exit code (the clip it could
// not journal is not started).
TEST(RunnerTest, DiskFullOnTheJournalStopsTheRankWithExitNoSpace) {
  testing::FaultInjectionFileSystem fs;
  auto work = MakeWork(3);
  ScriptedProcessor p;
  p.on_process = [&](const ClipTask&) {
    fs.SetNoSpace([](const std::string& path) { return path.find("/journal/") != std::string::npos; });
  };
  auto coll = MakeLocalCollective();
  auto s = RunJob(Options("/run"), work, p, *coll, &fs, Clock::Default(), nullptr);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->exit_code, kExitNoSpace);
  EXPECT_EQ(p.processed.size(), 1u);
  // The output of that clip was committed: it is done whatever the journal missed.
  fs.SetNoSpace({});
  ScriptedProcessor again;
  auto coll2 = MakeLocalCollective();
  auto s2 = RunJob(Options("/run"), work, again, *coll2, &fs, Clock::Default(), nullptr);
  ASSERT_TRUE(s2.ok()) << s2.status().ToString();
  EXPECT_EQ(s2->exit_code, kExitOk);
  EXPECT_EQ(again.processed.size(), 2u);
}

TEST(RunnerTest, OutputCheckBeforeModelsNamesTheDirectoryAndTheShortfall) {
  testing::FaultInjectionFileSystem fs;
  EXPECT_TRUE(CheckOutputWritable(&fs, "/run", 0).ok());
  fs.SetNoSpace([](const std::string&) { return true; });
  Status full = CheckOutputWritable(&fs, "/run2", 0);
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(IsNoSpaceError(full)) << full.ToString();
  EXPECT_NE(full.message().find("output directory /run2 is not writable"), std::string::npos) << full.ToString();
  // Free-space threshold on the real filesystem: nobody has 2^60 bytes available.
  testing::TempDir dir;
  Status low = CheckOutputWritable(FileSystem::Default(), dir.Join("out"), uint64_t{1} << 60);
  ASSERT_FALSE(low.ok());
  EXPECT_TRUE(IsNoSpaceError(low)) << low.ToString();
  EXPECT_NE(low.message().find("runner.min_free_mb"), std::string::npos) << low.ToString();
  EXPECT_TRUE(CheckOutputWritable(FileSystem::Default(), dir.Join("out"), 1).ok());
  EXPECT_FALSE(IsNoSpaceError(Status::IOError("cannot write 'x': Input/output error")));
}

}  // namespace
}  // namespace vq2d
