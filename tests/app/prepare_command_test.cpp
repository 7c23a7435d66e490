// End to end through the CLI entry points: vq2d synth -> vq2d prepare (runner) -> vq2d render.
#include <gtest/gtest.h>

#include <filesystem>

#include "app/commands.h"
#include "support/test_support.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/io/prepare.h"
#include "vq2d/io/record.h"

namespace vq2d::app {

using io::ClipOutput;
using io::ClipPrepareOptions;
using io::IsValidRecord;
using io::LoadAnnotations;
using io::OpenClipRecord;
using io::PredictedBox;
using io::QueryPrediction;
using io::RecordPathFor;
using io::SerializeClipOutput;
namespace {

namespace fs = std::filesystem;

TEST(PrepareCommand, SynthPrepareResumeRender) {
  testing::TempDir d;
  const std::string dir = d.Join("synth");
  ASSERT_EQ(RunSynth({"--out", dir, "--clips", "2", "--seed", "21"}), 0);
  const std::string cfg = dir + "/config.yaml";
  ASSERT_EQ(RunPrepare({"--config", cfg, "--split", "val"}), 0);
  auto ann = LoadAnnotations(dir + "/vq_val.json");
  ASSERT_TRUE(ann.ok());
  std::string first_record;
  for (const auto& v : ann->videos) {
    for (const auto& c : v.clips) {
      const std::string path = RecordPathFor(dir + "/records/val", *c.clip_uid);
      EXPECT_TRUE(IsValidRecord(path, *c.clip_uid, ClipPrepareOptions())) << path;
      if (first_record.empty()) first_record = path;
    }
  }
  // Rerun: resumes with nothing to do.
  const auto mtime = fs::last_write_time(first_record);
  EXPECT_EQ(RunPrepare({"--config", cfg, "--split", "val"}), 0);
  EXPECT_EQ(fs::last_write_time(first_record), mtime);
  // Test split with one video missing: that clip fails (exit 3), the other is prepared.
  auto test = LoadAnnotations(dir + "/vq_test_unannotated.json");
  ASSERT_TRUE(test.ok());
  const std::string missing = dir + "/videos/" + test->videos[0].video_uid + ".mp4";
  fs::rename(missing, d.Join("aside.mp4"));
  EXPECT_EQ(RunPrepare({"--config", cfg, "--split", "test"}), 3);
  EXPECT_FALSE(fs::exists(RecordPathFor(dir + "/records/test", *test->videos[0].clips[0].clip_uid)));
  EXPECT_TRUE(IsValidRecord(RecordPathFor(dir + "/records/test", *test->videos[1].clips[0].clip_uid),
                            *test->videos[1].clips[0].clip_uid, ClipPrepareOptions()));
  fs::rename(d.Join("aside.mp4"), missing);
  EXPECT_EQ(RunPrepare({"--config", cfg, "--split", "test", "--retry-failed"}), 0);
  EXPECT_TRUE(fs::exists(RecordPathFor(dir + "/records/test", *test->videos[0].clips[0].clip_uid)));
  // Render the ground truth of the first record.
  ASSERT_EQ(RunRender({"--record", first_record, "--out", d.Join("render/r.mp4")}), 0);
  EXPECT_GT(fs::file_size(d.Join("render/r.mp4")), 1000u);
  EXPECT_GT(fs::file_size(d.Join("render/r.png")), 1000u);
  // With a prediction in the run's per-clip output format (record pixels).
  {
    auto rec = OpenClipRecord(first_record);
    ASSERT_TRUE(rec.ok());
    const auto& q = rec->clip().annotations[0].query_sets[0];
    ClipOutput co;
    co.clip_uid = rec->meta().clip_uid;
    co.video_uid = rec->meta().video_uid;
    co.frame_width = rec->width();
    co.frame_height = rec->height();
    co.original_width = 640;
    co.original_height = 360;
    QueryPrediction qp;
    qp.query_set = q.id;
    qp.score = 0.75;
    for (const auto& b : q.response_track) {
      const auto r = rec->ToRecordPixels(b);
      qp.bboxes.push_back(PredictedBox{b.frame_number, double(r[0]), double(r[1]), double(r[0] + r[2]), double(r[1] + r[3])});
    }
    co.queries.push_back(qp);
    ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), d.Join("co.json"), SerializeClipOutput(co), "t").ok());
    EXPECT_EQ(RunRender({"--record", first_record, "--predictions", d.Join("co.json"), "--query", "0:" + q.id,
                         "--out", d.Join("render/p.mp4")}), 0);
    EXPECT_TRUE(fs::exists(d.Join("render/p.png")));
    EXPECT_EQ(RunRender({"--record", first_record, "--query", "99", "--out", d.Join("render/x.mp4")}), 1);
  }
  // Usage errors.
  EXPECT_EQ(RunPrepare({"--config", cfg, "--split", "nope"}), 1);
  EXPECT_EQ(RunPrepare({"--bogus"}), 2);
}

}  // namespace
}  // namespace vq2d::app
