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

TEST(RenPredictionsTest, NonContiguousTrackIsValueError) {
  RenQueryOutput q{"v", "c", "1", {{3, 0, 0, 1, 1}, {5, 0, 0, 1, 1}}, 0.5, {{3, 0, 0, 1, 1}}, 288, 512};
  auto r = FormatRenPredictions({q});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("ValueError:", 0), 0u) << r.status().message();
}

}  // namespace
}  // namespace vq2d
