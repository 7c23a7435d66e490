// The query painter behind `vq2d render` and `vq2d report`: the legend names the ground-truth
// mapping of the record (fixes.apply_trim_offset off: where upstream places it), frames keep their
// label size when drawn small, the query frame is marked, and render's contact sheet is written.
#include <gtest/gtest.h>

#include <filesystem>

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

}  // namespace
}  // namespace vq2d::app
