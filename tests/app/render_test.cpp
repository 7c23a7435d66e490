// The query painter behind `vq2d render` and `vq2d report`: the legend names the ground-truth
// mapping of the record (fixes.apply_trim_offset off: where upstream places it), frames keep their
// label size when drawn small, the query frame is marked, and render's contact sheet is written.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app/commands.h"
#include "app/render.h"
#include "support/test_support.h"
#include "vq2d/io/record.h"

namespace vq2d::app {

using io::OpenClipRecord;
using io::QuerySet;
namespace {

namespace fs = std::filesystem;

std::string FirstRecord(const std::string& dir) {
  std::string first;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".h5" && (first.empty() || e.path().string() < first)) first = e.path();
  return first;
}

TEST(RenderPainter, LegendFollowsTheTrimSettingAndFramesAreDrawnAtAnyScale) {
  testing::TempDir d;
  const std::string dir = d.Join("synth");
  ASSERT_EQ(RunSynth({"--out", dir, "--clips", "1", "--seed", "21", "--no-models"}), 0);
  const std::string cfg = dir + "/config.yaml";
  ASSERT_EQ(RunPrepare({"--config", cfg, "--split", "val"}), 0);
  ASSERT_EQ(RunPrepare({"--config", cfg, "--split", "val", "--set", "fixes.apply_trim_offset=true", "--set",
                        "data.val_data_dir=" + dir + "/records/val-trim/"}),
            0);
  auto upstream = OpenClipRecord(FirstRecord(dir + "/records/val"));
  auto fixed = OpenClipRecord(FirstRecord(dir + "/records/val-trim"));
  ASSERT_TRUE(upstream.ok() && fixed.ok());
  const QuerySet& q = upstream->clip().annotations[0].query_sets[0];
  RenderPrediction pred;
  pred.found = true;
  pred.score = 0.5;
  for (const auto& b : q.response_track) {
    const auto r = upstream->ToRecordPixels(b);
    pred.boxes[b.frame_number] = RenderBox{double(r[0]), double(r[1]), double(r[0] + r[2]), double(r[1] + r[3])};
  }
  auto p = QueryPainter::Make(*upstream, q, pred);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_NE(p->Legend().find("drawn where upstream places it"), std::string::npos) << p->Legend();
  EXPECT_NE(p->Legend().find("fixes.apply_trim_offset is off"), std::string::npos);
  auto pf = QueryPainter::Make(*fixed, fixed->clip().annotations[0].query_sets[0], {});
  ASSERT_TRUE(pf.ok());
  EXPECT_EQ(pf->Legend().find("where upstream places it"), std::string::npos) << pf->Legend();
  EXPECT_NE(pf->Legend().find("fixes.apply_trim_offset on"), std::string::npos);
  // Frames at thumbnail and video scale; the query frame is framed in yellow (BGR 40,220,240).
  for (double scale : {0.4, 2.0}) {
    auto img = p->Frame(p->QueryFrameInRecord(), scale, /*inset=*/true);
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    EXPECT_EQ(img->cols, static_cast<int>(std::lround(upstream->width() * scale)));
    const cv::Vec3b px = img->at<cv::Vec3b>(img->rows / 2, 0);
    EXPECT_EQ(px, cv::Vec3b(40, 220, 240)) << "scale " << scale;
  }
  EXPECT_FALSE(p->Frame(static_cast<int>(upstream->num_frames()), 1.0, false).ok());
  EXPECT_EQ(p->GtFrames().size(), q.response_track.size());
  // The contact sheet: the legend band below the tiles.
  const cv::Mat sheet = ContactSheet({{"a", p->VisualCrop(100, 60)}, {"b", cv::Mat()}}, 4, 100, 60, p->Legend());
  EXPECT_EQ(sheet.cols, 200);
  EXPECT_GT(sheet.rows, 16 + 60 + 16);
}

// Hostile prediction files for `vq2d render` / `vq2d report`: deep nesting and a non-string schema
// are errors naming the file, a frame number that is not an int is an error, and boxes far outside
// the picture (1e300) draw without an out-of-range cast.
TEST(RenderPainter, HostilePredictionFilesAreErrorsOrDrawSafely) {
  testing::TempDir d;
  const std::string dir = d.Join("synth");
  ASSERT_EQ(RunSynth({"--out", dir, "--clips", "1", "--seed", "21", "--no-models"}), 0);
  ASSERT_EQ(RunPrepare({"--config", dir + "/config.yaml", "--split", "val"}), 0);
  auto rec = OpenClipRecord(FirstRecord(dir + "/records/val"));
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  const QuerySet& q = rec->clip().annotations[0].query_sets[0];
  auto load = [&](const std::string& text) {
    const std::string path = d.Join("pred.json");
    std::ofstream(path, std::ios::binary) << text;
    return LoadRenderPrediction(path, *rec, 0, q);
  };
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto r = load(R"({"schema": "vq2d.clip_output/1", "x": )" + deep + "}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper than"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("pred.json"), std::string::npos) << r.status().message();
  r = load(R"({"schema": 7, "results": {"videos": []}})");  // not a clip output: read as a merged file
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->found);
  auto merged = [&](const std::string& box) {
    return StrCat(R"({"results": {"videos": [{"video_uid": ")", rec->meta().video_uid, R"(", "clips": [{"clip_uid": ")",
                  rec->meta().clip_uid, R"(", "predictions": [{"query_sets": {")", q.id, R"(": {"bboxes": [)", box,
                  R"(], "score": 0.5}}}]}]}]}})");
  };
  r = load(merged(R"({"fno": 1e300, "x1": 1, "y1": 1, "x2": 2, "y2": 2})"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not an integer frame number"), std::string::npos) << r.status().message();
  const int t = q.response_track.empty() ? 0 : q.response_track[0].frame_number;
  r = load(merged(StrCat(R"({"fno": )", t, R"(, "x1": -1e300, "y1": -1e300, "x2": 1e300, "y2": 1e300})")));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->found);
  auto p = QueryPainter::Make(*rec, q, *r);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto img = p->Frame(t, 2.0, /*inset=*/true);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->cols, static_cast<int>(std::lround(rec->width() * 2.0)));
}

}  // namespace
}  // namespace vq2d::app
