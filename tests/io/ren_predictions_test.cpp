// REN per-clip prediction files (format_predictions) and REN-local evaluation of them, against every
// logic case folder with "case": "predictions_format" (part "format_predictions").
#include "vq2d/io/ren_predictions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"
#include "vq2d/io/evaluate.h"

namespace vq2d {
namespace {

using nlohmann::json;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::vector<RenTrackRow> Rows(const json& track) {
  std::vector<RenTrackRow> rows;
  for (const auto& r : track) rows.push_back({r[0].get<long long>(), r[1].get<double>(), r[2].get<double>(),
                                             r[3].get<double>(), r[4].get<double>()});
  return rows;
}

TEST(RenPredictionsFixtureTest, FormatAndLocalMetricsMatchUpstream) {
  size_t checked = 0, metric_checked = 0;
  for (const auto& dir : testing::FixtureCases("logic")) {
    std::ifstream probe(dir + "/case.json");
    if (!probe.good() || ReadJson(dir + "/case.json").value("case", "") != "predictions_format") continue;
    json inputs = ReadJson(dir + "/inputs.json");
    json expected = ReadJson(dir + "/expected.json");
    if (!inputs.contains("format_predictions")) continue;
    for (size_t i = 0; i < inputs["format_predictions"].size(); ++i) {
      SCOPED_TRACE(dir + " format_predictions[" + std::to_string(i) + "]");
      const json& in = inputs["format_predictions"][i];
      const json& ex = expected["format_predictions"][i];
      std::vector<RenQueryOutput> qs;
      bool all_gt = true;
      for (size_t k = 0; k < in["qset_ids"].size(); ++k) {
        RenQueryOutput q;
        q.video_uid = in["video_uids"][k];
        q.clip_uid = in["clip_uids"][k];
        q.query_set = in["qset_ids"][k];
        q.predicted = Rows(in["predicted_tracks_fxywh"][k]);
        q.score = in["predicted_scores"][k].get<double>();
        q.ground_truth = Rows(in["gt_response_tracks_fxywh"][k]);
        if (!q.ground_truth.empty() && q.ground_truth[0].fno == -1) all_gt = false;
        q.frame_height = in["frame_hw"][0];
        q.frame_width = in["frame_hw"][1];
        qs.push_back(std::move(q));
      }
      auto r = FormatRenPredictions(qs);
      ++checked;
      if (ex.contains("error")) {
        ASSERT_FALSE(r.ok());
        continue;
      }
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(json::parse(*r), ex["predictions"]);
      // REN-local evaluation of the written file reproduces REN's per-clip metrics.
      if (!all_gt || !ex.contains("ren_metrics")) continue;
      auto m = EvaluateRenLocal(*r, "clip.json");
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      auto dict = m->metrics.MetricDict(/*ren_style=*/true);
      const json& rd = ex["ren_metrics"]["all"];
      ASSERT_EQ(dict.size(), rd.size());
      for (const auto& kv : dict) {
        ASSERT_TRUE(rd.contains(kv.first)) << kv.first;
        EXPECT_NEAR(kv.second, rd[kv.first].get<double>(), 1e-9) << kv.first;
      }
      ++metric_checked;
    }
  }
  ASSERT_GT(checked, 0u) << "no logic/predictions_format case under " << testing::FixturesRoot();
  EXPECT_GT(metric_checked, 0u);
}

TEST(RenPredictionsTest, CollateDirectoryByRunIdThenEvaluateLocally) {
  // Three per-clip files; run ids 2 and 10 sort numerically (REN eval.py), not by name.
  testing::TempDir dir;
  auto clip = [](const std::string& v, const std::string& c, double dx, double score) {
    RenQueryOutput q{v, c, "1", {{5, 10 + dx, 10, 20, 20}, {6, 10 + dx, 10, 20, 20}}, score,
                     {{5, 10, 10, 20, 20}, {6, 10, 10, 20, 20}}, 288, 512};
    auto r = FormatRenPredictions({q});
    EXPECT_TRUE(r.ok());
    return *r;
  };
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream out(dir.Join(name));
    out << text;
  };
  write("10-clip-c.json", clip("vc", "c", 0, 0.7));   // exact: tIoU 1, stIoU 1
  write("2-clip-b.json", clip("vb", "b", 10, 0.9));   // shifted by 10 of 20 px: stIoU 200/600
  write("0-clip-a.json", clip("va", "a", 0, 0.8));
  write("notes.txt", "ignored");
  auto collated = CollateRenPredictionDir(dir.path());
  ASSERT_TRUE(collated.ok()) << collated.status().ToString();
  auto j = json::parse(*collated);
  ASSERT_EQ(j["results"]["videos"].size(), 3u);
  EXPECT_EQ(j["results"]["videos"][0]["video_uid"], "va");
  EXPECT_EQ(j["results"]["videos"][1]["video_uid"], "vb");
  EXPECT_EQ(j["results"]["videos"][2]["video_uid"], "vc");
  auto m = EvaluateRenLocal(*collated, "collated.json");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->metrics.n_queries, 3u);
  EXPECT_DOUBLE_EQ(m->metrics.per_query[1].stiou, 400.0 / (800 + 800 - 400));
  EXPECT_DOUBLE_EQ(m->metrics.recovery[0], 100.0 * 4 / 6);
  EXPECT_DOUBLE_EQ(m->metrics.stap[0], 1.0);  // all >= 0.25
  std::string log = FormatRenLocalReport(*m);
  EXPECT_EQ(log.rfind("Area range: all\n  Spatio-temporal AP             @ IoU=0.25:0.95 \t-\t ", 0), 0u) << log;
  // A file without '-gt' entries (test split) cannot be evaluated locally.
  RenQueryOutput test_q{"vt", "t", "1", {{5, 0, 0, 1, 1}}, 0.5, {{-1, 512, 288, 512, 288}}, 288, 512};
  auto t = FormatRenPredictions({test_q});
  ASSERT_TRUE(t.ok());
  auto bad = EvaluateRenLocal(*t, "test.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("KeyError:", 0), 0u) << bad.status().message();
}

TEST(RenPredictionsTest, NonContiguousTrackIsValueError) {
  RenQueryOutput q{"v", "c", "1", {{3, 0, 0, 1, 1}, {5, 0, 0, 1, 1}}, 0.5, {{3, 0, 0, 1, 1}}, 288, 512};
  auto r = FormatRenPredictions({q});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("ValueError:", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace vq2d
