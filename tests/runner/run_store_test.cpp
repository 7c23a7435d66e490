#include "vq2d/runner/run_store.h"

#include <gtest/gtest.h>

#include "support/fault_fs.h"
#include "support/test_support.h"
#include "vq2d/base/sha256.h"

namespace vq2d {
namespace {

DoneRecord Rec(const std::string& fp) {
  DoneRecord r;
  r.fingerprint = fp;
  r.wall_s = 1.5;
  r.rank = 1;
  r.host = "h";
  r.attempt = 1;
  return r;
}

TEST(RunStoreTest, CommitThenValidate) {
  testing::TempDir dir;
  RunStore store(FileSystem::Default(), dir.Join("run"));
  ASSERT_TRUE(store.Init().ok());
  DoneRecord r = Rec("fp1");
  ASSERT_TRUE(store.CommitClip("clip-a", "{\"x\":1}", &r, "0.1").ok());
  auto got = store.ValidDoneRecord("clip-a", "fp1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->output_sha256, Sha256Hex("{\"x\":1}"));
  EXPECT_EQ(got->output_bytes, 7u);
  EXPECT_EQ(store.ValidDoneRecord("clip-b", "fp1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.ValidDoneRecord("clip-a", "fp2").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(store.ScanDone("fp1").size(), 1u);
  EXPECT_EQ(store.ScanDone("fp2").size(), 0u);
}

TEST(RunStoreTest, TamperedOrTruncatedOutputIsNotAccepted) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  RunStore store(fs, dir.Join("run"));
  ASSERT_TRUE(store.Init().ok());
  DoneRecord r = Rec("fp");
  ASSERT_TRUE(store.CommitClip("c1", "0123456789", &r, "t").ok());
  ASSERT_TRUE(store.CommitClip("c2", "abcdefghij", &r, "t").ok());
  ASSERT_TRUE(WriteFileAtomic(fs, store.ClipOutputPath("c1"), "01234", "t").ok());       // truncated
  ASSERT_TRUE(WriteFileAtomic(fs, store.ClipOutputPath("c2"), "abcdefghiX", "t").ok());  // same size, changed
  std::vector<std::string> rejected;
  EXPECT_TRUE(store.ScanDone("fp", &rejected).empty());
  EXPECT_EQ(rejected.size(), 2u);
  ASSERT_TRUE(WriteFileAtomic(fs, store.DoneRecordPath("c1"), "{not json", "t").ok());
  EXPECT_EQ(store.ValidDoneRecord("c1", "fp").status().code(), StatusCode::kCorruption);
}

TEST(RunStoreTest, TempFilesAreIgnoredAndCleaned) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  RunStore store(fs, dir.Join("run"));
  ASSERT_TRUE(store.Init().ok());
  DoneRecord r = Rec("fp");
  ASSERT_TRUE(store.CommitClip("c1", "data", &r, "t").ok());
  ASSERT_TRUE(fs->CreateDirs(DirName(store.DoneRecordPath("c9"))).ok());
  auto f = fs->NewWritableFile(store.DoneRecordPath("c9") + ".tmp.3.77");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("{\"clip_uid\":").ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(store.ScanDone("fp").size(), 1u);
  auto removed = store.CleanTempFiles();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(fs->Exists(store.DoneRecordPath("c9") + ".tmp.3.77"));
}

TEST(RunStoreTest, UnsafeClipNamesAreRefused) {
  testing::TempDir dir;
  RunStore store(FileSystem::Default(), dir.Join("run"));
  ASSERT_TRUE(store.Init().ok());
  DoneRecord r = Rec("fp");
  EXPECT_EQ(store.CommitClip("../evil", "x", &r, "t").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.CommitClip("", "x", &r, "t").code(), StatusCode::kInvalidArgument);
}

// Every line of `path` is one JSON object (strict JSONL: no blank or torn lines).
void ExpectStrictJsonl(FileSystem* fs, const std::string& path) {
  auto text = fs->ReadFile(path);
  ASSERT_TRUE(text.ok());
  ASSERT_TRUE(text->empty() || text->back() == '\n') << *text;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text->size()) {
    const size_t end = text->find('\n', pos);
    const std::string line = text->substr(pos, end - pos);
    ++line_no;
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(!j.is_discarded() && j.is_object()) << path << " line " << line_no << ": '" << line << "'";
    pos = end + 1;
  }
}

// Regression (issue I.15): a torn tail became a bad line and the signal record followed a blank
// line. Open drops the torn tail, so the journal stays strict JSONL.
TEST(JournalTest, TornLastLineIsDroppedOnOpenAndTheJournalStaysStrictJsonl) {
  testing::TempDir dir;
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(dir.Join("run/journal")).ok());
  const std::string path = dir.Join("run/journal/rank-0.jsonl");
  {
    auto j = Journal::Open(fs, path);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{"event", "start"}, {"clip", "a"}, {"attempt_id", "x1"}}).ok());
  }
  {
    auto f = fs->NewAppendableFile(path);
    ASSERT_TRUE((*f)->Append("{\"event\":\"finish\",\"cl").ok());  // crash mid-append
    ASSERT_TRUE((*f)->Close().ok());
  }
  {
    auto j = Journal::Open(fs, path);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{"event", "start"}, {"clip", "a"}, {"attempt_id", "x2"}}).ok());
    ASSERT_TRUE((*j)->Append({{"event", "fail"}, {"clip", "a"}, {"attempt_id", "x2"}, {"error", "boom"}}).ok());
  }
  ExpectStrictJsonl(fs, path);
  JournalSummary s = ReadJournals(fs, dir.Join("run"));
  EXPECT_EQ(s.torn_lines, 0);
  const ClipHistory& h = s.clips["a"];
  EXPECT_EQ(h.starts, 2);
  EXPECT_EQ(h.fails, 1);
  EXPECT_EQ(h.crashes, 1);  // x1 never ended
  EXPECT_TRUE(h.last_is_fail);
  EXPECT_EQ(h.last_error, "boom");
}

// Crash at every mutating step of committing three clips, lose everything not made durable, and
// check what a resume would see: a clip is accepted only with exactly its output, and every clip
// whose commit returned OK before the crash is accepted (never redone).
TEST(FaultInjectionTest, CrashAtEveryStepOfTheWriteProtocol) {
  const std::vector<std::pair<std::string, std::string>> clips = {
      {"c1", std::string(100, 'a')}, {"c2", std::string(3000, 'b')}, {"c3", "short"}};
  int total_ops = 0;
  {
    testing::FaultInjectionFileSystem fs;
    RunStore store(&fs, "out");
    ASSERT_TRUE(store.Init().ok());
    const int before = fs.mutating_ops();
    for (const auto& [uid, data] : clips) {
      DoneRecord r = Rec("fp");
      ASSERT_TRUE(store.CommitClip(uid, data, &r, "0.1").ok());
    }
    total_ops = fs.mutating_ops() - before;
  }
  ASSERT_GT(total_ops, 10);
  for (int crash_at = 1; crash_at <= total_ops + 1; ++crash_at) {
    testing::FaultInjectionFileSystem fs;
    RunStore store(&fs, "out");
    ASSERT_TRUE(store.Init().ok());
    fs.CrashAfter(crash_at);
    std::set<std::string> committed;
    for (const auto& [uid, data] : clips) {
      DoneRecord r = Rec("fp");
      if (store.CommitClip(uid, data, &r, "0.1").ok()) committed.insert(uid);
    }
    fs.SimulateCrash();
    RunStore resumed(&fs, "out");
    auto done = resumed.ScanDone("fp");
    for (const auto& uid : committed) EXPECT_TRUE(done.count(uid)) << "crash_at " << crash_at << ": lost " << uid;
    for (const auto& [uid, rec] : done) {
      auto out = fs.ReadFile(resumed.ClipOutputPath(uid));
      ASSERT_TRUE(out.ok());
      for (const auto& [cuid, data] : clips)
        if (cuid == uid) EXPECT_EQ(*out, data) << "crash_at " << crash_at << ": torn output accepted for " << uid;
    }
    ASSERT_TRUE(resumed.CleanTempFiles().ok());
    // The resumed run can redo the missing clips and then has all of them.
    for (const auto& [uid, data] : clips) {
      if (done.count(uid)) continue;
      DoneRecord r = Rec("fp");
      ASSERT_TRUE(resumed.CommitClip(uid, data, &r, "0.2").ok()) << "crash_at " << crash_at;
    }
    EXPECT_EQ(resumed.ScanDone("fp").size(), clips.size());
  }
}

// Redoing a clip whose old done record survived must never leave the old record vouching for a
// half-written new output.
TEST(FaultInjectionTest, RecommitNeverPairsOldRecordWithNewOutput) {
  for (int crash_at = 1; crash_at <= 12; ++crash_at) {
    testing::FaultInjectionFileSystem fs;
    RunStore store(&fs, "out");
    ASSERT_TRUE(store.Init().ok());
    DoneRecord r = Rec("fp");
    ASSERT_TRUE(store.CommitClip("c", "old-output", &r, "1").ok());
    fs.CrashAfter(crash_at);
    DoneRecord r2 = Rec("fp");
    store.CommitClip("c", "new-output-longer", &r2, "2").IgnoreError();  // fails at the injected crash
    fs.SimulateCrash();
    auto rec = store.ValidDoneRecord("c", "fp");
    if (rec.ok()) {
      auto out = fs.ReadFile(store.ClipOutputPath("c"));
      ASSERT_TRUE(out.ok());
      EXPECT_TRUE(*out == "old-output" || *out == "new-output-longer") << *out;
    }
  }
}

}  // namespace
}  // namespace vq2d

namespace vq2d {
namespace {

// Writes one job of `world` ranks into <out>/journal: each rank starts `clips[r]` (empty: idle);
// `end[r]` is what rank r's journal then says: "" (died silently), "signal" (its handler saw the
// teardown while in a clip: abandon with reason signal), "idle-signal" (handler between clips).
void AppendJob(const std::string& out, const std::string& job, const std::vector<std::string>& clips,
               const std::vector<std::string>& end) {
  FileSystem* fs = FileSystem::Default();
  ASSERT_TRUE(fs->CreateDirs(out + "/journal").ok());
  const int world = static_cast<int>(clips.size());
  for (int r = 0; r < world; ++r) {
    auto j = Journal::Open(fs, RunStore(fs, out).JournalPath(r));
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append({{"event", "run_start"}, {"rank", r}, {"world", world}, {"job", job}}).ok());
    const std::string id = job + ":" + std::to_string(r);
    if (!clips[r].empty()) ASSERT_TRUE((*j)->Append({{"event", "start"}, {"clip", clips[r]}, {"attempt_id", id}}).ok());
    if (end[r] == "signal") {
      ASSERT_TRUE((*j)->Append({{"event", "abandon"}, {"clip", clips[r]}, {"attempt_id", id}, {"reason", "signal"}}).ok());
    } else if (end[r] == "idle-signal") {
      ASSERT_TRUE((*j)->Append({{"event", "signal"}, {"rank", r}, {"job", job}}).ok());
    }
  }
}

// Regression (issue I.13): three SIGKILLs of mpirun itself quarantined the clips in flight. Only
// deaths attributable to the clip count: the other ranks lived (their handlers recorded the teardown).
TEST(QuarantineTest, WholeJobKillsNeverQuarantineRankDeathsDo) {
  testing::TempDir dir;
  const std::string out = dir.Join("run");
  for (int i = 0; i < 3; ++i) AppendJob(out, "kill-" + std::to_string(i), {"clip-a", "clip-b"}, {"", ""});
  JournalSummary s = ReadJournals(FileSystem::Default(), out);
  for (const char* clip : {"clip-a", "clip-b"}) {
    EXPECT_EQ(s.clips[clip].crashes, 0) << clip;
    EXPECT_EQ(s.clips[clip].job_deaths, 3) << clip;
    EXPECT_EQ(ClassifyClip(false, &s.clips[clip], 3), ClipState::kInterrupted) << clip;
  }
  // clip-a kills its rank three times; the other rank survives each time (in a clip, or idle).
  const std::string out2 = dir.Join("run2");
  AppendJob(out2, "j1", {"clip-a", "clip-b"}, {"", "signal"});
  AppendJob(out2, "j2", {"clip-a", ""}, {"", "idle-signal"});
  AppendJob(out2, "j3", {"clip-c", "clip-a"}, {"signal", ""});
  JournalSummary s2 = ReadJournals(FileSystem::Default(), out2);
  EXPECT_EQ(s2.clips["clip-a"].crashes, 3);
  EXPECT_EQ(ClassifyClip(false, &s2.clips["clip-a"], 3), ClipState::kQuarantined);
  EXPECT_EQ(s2.clips["clip-b"].crashes, 0);
  EXPECT_EQ(ClassifyClip(false, &s2.clips["clip-b"], 3), ClipState::kPending);  // abandoned: redo
  EXPECT_EQ(ClassifyClip(false, &s2.clips["clip-c"], 3), ClipState::kPending);
  // A survivor that left no record (it died in the same instant) makes the death unattributable.
  const std::string out3 = dir.Join("run3");
  AppendJob(out3, "j1", {"clip-a", "clip-b", ""}, {"", "signal", ""});
  JournalSummary s3 = ReadJournals(FileSystem::Default(), out3);
  EXPECT_EQ(s3.clips["clip-a"].crashes, 0);
  EXPECT_EQ(s3.clips["clip-a"].job_deaths, 1);
  // One rank has no witness: its deaths count.
  const std::string out4 = dir.Join("run4");
  for (int i = 0; i < 3; ++i) AppendJob(out4, "solo-" + std::to_string(i), {"clip-a"}, {""});
  JournalSummary s4 = ReadJournals(FileSystem::Default(), out4);
  EXPECT_EQ(ClassifyClip(false, &s4.clips["clip-a"], 3), ClipState::kQuarantined);
}

}  // namespace
}  // namespace vq2d
