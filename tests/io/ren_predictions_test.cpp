// REN per-clip prediction files (format_predictions) and REN-local evaluation of them, against every
// logic case folder with "case": "predictions_format" (part "format_predictions").
#include "vq2d/io/ren_predictions.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
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

void ExpectMetricsEqual(const VqMetrics& m, const json& want, const std::string& what) {
  auto dict = m.MetricDict(/*ren_style=*/true);
  ASSERT_EQ(dict.size(), want.size()) << what;
  for (const auto& kv : dict) {
    ASSERT_TRUE(want.contains(kv.first)) << what << ": " << kv.first;
    EXPECT_NEAR(kv.second, want[kv.first].get<double>(), 1e-9) << what << ": " << kv.first;
  }
}

// The order REN's eval.py reads a written file in: videos, then clips (the port writes both by uid),
// then a clip's annotation entries (n-th occurrence of a query-set id -> entry n), then query order.
std::vector<size_t> FileOrder(const std::vector<RenQueryOutput>& qs) {
  std::vector<size_t> order;
  std::set<std::string> videos;
  for (const auto& q : qs) videos.insert(q.video_uid);
  for (const auto& v : videos) {
    std::set<std::string> clips;
    for (const auto& q : qs)
      if (q.video_uid == v) clips.insert(q.clip_uid);
    for (const auto& c : clips) {
      std::map<std::string, int> seen;
      std::vector<std::pair<int, size_t>> entry;  // (entry, query index)
      for (size_t i = 0; i < qs.size(); ++i)
        if (qs[i].video_uid == v && qs[i].clip_uid == c) entry.emplace_back(++seen[qs[i].query_set], i);
      std::stable_sort(entry.begin(), entry.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& e : entry) order.push_back(e.second);
    }
  }
  return order;
}

std::vector<RenQueryOutput> FixtureQueries(const json& in, bool* all_gt) {
  std::vector<RenQueryOutput> qs;
  *all_gt = true;
  for (size_t k = 0; k < in["qset_ids"].size(); ++k) {
    RenQueryOutput q;
    q.video_uid = in["video_uids"][k];
    q.clip_uid = in["clip_uids"][k];
    q.query_set = in["qset_ids"][k];
    q.predicted = Rows(in["predicted_tracks_fxywh"][k]);
    q.score = in["predicted_scores"][k].get<double>();
    q.ground_truth = Rows(in["gt_response_tracks_fxywh"][k]);
    if (!q.ground_truth.empty() && q.ground_truth[0].fno == -1) *all_gt = false;
    q.frame_height = in["frame_hw"][0];
    q.frame_width = in["frame_hw"][1];
    if (in.contains("query_bboxes_xywh")) {
      const json& b = in["query_bboxes_xywh"][k];
      q.query_x = b[0].get<double>();
      q.query_y = b[1].get<double>();
      q.query_w = b[2].get<double>();
      q.query_h = b[3].get<double>();
      q.query_frame_number = in["query_frame_numbers"][k].get<long long>();
    }
    qs.push_back(std::move(q));
  }
  return qs;
}

// Every logic case folder with "case": "predictions_format" (all seeds found under the fixtures root).
TEST(RenPredictionsFixtureTest, FormatAndRunMetricsMatchUpstream) {
  size_t checked = 0, metric_checked = 0, local_checked = 0, order_differs = 0;
  for (const auto& dir : testing::FixtureCases("logic")) {
    std::ifstream probe(dir + "/case.json");
    if (!probe.good() || ReadJson(dir + "/case.json").value("case", "") != "predictions_format") continue;
    json inputs = ReadJson(dir + "/inputs.json");
    json expected = ReadJson(dir + "/expected.json");
    if (!inputs.contains("format_predictions")) continue;
    for (size_t i = 0; i < inputs["format_predictions"].size(); ++i) {
      const std::string what = dir + " format_predictions[" + std::to_string(i) + "]";
      SCOPED_TRACE(what);
      const json& in = inputs["format_predictions"][i];
      const json& ex = expected["format_predictions"][i];
      bool all_gt = true;
      const std::vector<RenQueryOutput> qs = FixtureQueries(in, &all_gt);
      auto r = FormatRenPredictions(qs);
      ++checked;
      if (ex.contains("error")) {
        ASSERT_FALSE(r.ok());
        continue;
      }
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(json::parse(*r), ex["predictions"]);
      if (!ex.contains("ren_metrics")) continue;
      // REN's in-pipeline metrics (run.Evaluator.run), in the dataset order, test split included.
      auto run = ComputeRenRunMetrics(qs);
      ASSERT_TRUE(run.ok()) << run.status().ToString();
      ExpectMetricsEqual(*run, ex["ren_metrics"]["all"], what + " (run metrics)");
      ++metric_checked;
      // eval.py on the written file scores the same queries in file order: identical to the run
      // metrics on the queries taken in that order (and to upstream's numbers when the orders agree).
      if (!all_gt) continue;
      auto local = EvaluateRenLocal(*r, "clip.json");
      ASSERT_TRUE(local.ok()) << local.status().ToString();
      std::vector<RenQueryOutput> reordered;
      const auto order = FileOrder(qs);
      for (size_t k : order) reordered.push_back(qs[k]);
      auto run_file_order = ComputeRenRunMetrics(reordered);
      ASSERT_TRUE(run_file_order.ok()) << run_file_order.status().ToString();
      const auto a = local->metrics.MetricDict(true), b = run_file_order->MetricDict(true);
      ASSERT_EQ(a.size(), b.size());
      for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a[k], b[k]) << "eval.py order";
      bool same_order = true;
      for (size_t k = 0; k < order.size(); ++k) same_order = same_order && order[k] == k;
      if (same_order) {
        ExpectMetricsEqual(local->metrics, ex["ren_metrics"]["all"], what + " (eval.py on the file)");
      } else {
        ++order_differs;
      }
      ++local_checked;
    }
  }
  ASSERT_GT(checked, 0u) << "no logic/predictions_format case under " << testing::FixturesRoot();
  EXPECT_GT(metric_checked, 0u);
  EXPECT_GT(local_checked, 0u);
  std::printf("[ info ] %zu sets, %zu run metrics, %zu eval.py checks (%zu in another order)\n", checked,
              metric_checked, local_checked, order_differs);
}

RenQueryOutput TieQuery(const std::string& video, const std::string& clip, const std::string& qset, bool hit,
                        double score) {
  // GT on frames 10..11; a hit predicts the same frames and boxes (tIoU = stIoU = 1), a miss frames 20..21.
  const long long f = hit ? 10 : 20;
  return RenQueryOutput{video, clip, qset, {{f, 5, 5, 10, 10}, {f + 1, 5, 5, 10, 10}}, score,
                        {{10, 5, 5, 10, 10}, {11, 5, 5, 10, 10}}, 288, 512};
}

double TemporalApMean(const VqMetrics& m) { return m.tap_mean; }

// Tied scores: numpy's argsort is an insertion sort below 17 elements (stable), reversed for the
// descending ranking, so among equal scores the LAST query in the input ranks first. The run metrics use
// the dataset order; the written file groups a clip's queries by query-set occurrence and sorts videos /
// clips, which changes the ranking of tied queries.
TEST(RenPredictionsTest, TiedScoresRankInDatasetOrder) {
  // Two clips of one video, listed clip "b" first: dataset order [hit, miss] ranks the miss first
  // (precision 0 then 1/2: AP 0.25); the file lists clip "a" (the miss) first, so eval.py ranks the
  // hit first (AP 0.5).
  std::vector<RenQueryOutput> two = {TieQuery("v", "b", "1", true, 0.5), TieQuery("v", "a", "1", false, 0.5)};
  auto run = ComputeRenRunMetrics(two);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_DOUBLE_EQ(TemporalApMean(*run), 0.25);
  EXPECT_EQ(run->sort_order_desc, (std::vector<int64_t>{1, 0}));
  auto file = FormatRenPredictions(two);
  ASSERT_TRUE(file.ok());
  auto local = EvaluateRenLocal(*file, "f.json");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_DOUBLE_EQ(local->metrics.tap_mean, 0.5);

  // Repeated query-set ids in one clip: dataset order [1: hit, 1: miss, 2: hit]; the file holds entry
  // 1 = {1: hit, 2: hit}, entry 2 = {1: miss}. Ranked (last first): dataset hit, miss, hit -> AP 5/9;
  // file miss, hit, hit -> AP 4/9.
  std::vector<RenQueryOutput> rep = {TieQuery("v", "c", "1", true, 0.5), TieQuery("v", "c", "1", false, 0.5),
                                     TieQuery("v", "c", "2", true, 0.5)};
  run = ComputeRenRunMetrics(rep);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_NEAR(run->tap_mean, 5.0 / 9.0, 1e-15);
  EXPECT_NEAR(run->stap_mean, 5.0 / 9.0, 1e-15);
  file = FormatRenPredictions(rep);
  ASSERT_TRUE(file.ok());
  local = EvaluateRenLocal(*file, "f.json");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_NEAR(local->metrics.tap_mean, 4.0 / 9.0, 1e-15);

  // Distinct scores: the order does not matter.
  rep[1].score = 0.4;
  run = ComputeRenRunMetrics(rep);
  file = FormatRenPredictions(rep);
  ASSERT_TRUE(run.ok() && file.ok());
  local = EvaluateRenLocal(*file, "f.json");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(run->MetricDict(true), local->metrics.MetricDict(true));
}

TEST(RenPredictionsTest, EmptyAndSingleFramePredictions) {
  // An empty predicted track scores 0 everywhere; a single-frame prediction on a single-frame GT with
  // the same box scores 1 (tIoU = stIoU = 1, the frame recovered).
  RenQueryOutput empty{"v", "c", "1", {}, 0.9, {{3, 0, 0, 10, 10}}, 288, 512};
  auto m = ComputeRenRunMetrics({empty});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->tap_mean, 0.0);
  EXPECT_EQ(m->stap_mean, 0.0);
  EXPECT_EQ(m->recovery[0], 0.0);
  EXPECT_EQ(m->success[0], 0.0);
  auto j = FormatRenPredictions({empty});
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(json::parse(*j)["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"]["1"]["bboxes"],
            json::array());
  RenQueryOutput single{"v", "c", "1", {{3, 0, 0, 10, 10}}, 0.9, {{3, 0, 0, 10, 10}}, 288, 512};
  m = ComputeRenRunMetrics({single});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->tap_mean, 1.0);
  EXPECT_EQ(m->stap_mean, 1.0);
  EXPECT_EQ(m->recovery[0], 100.0);
  EXPECT_EQ(m->success[0], 100.0);
  // The run metrics keep raw values; the file truncates with int() (x = 0.75 -> 0, x2 = 10.75 -> 10).
  RenQueryOutput frac{"v", "c", "1", {{3, 0.75, 0, 10, 10}}, 0.9, {{3, 0, 0, 10, 10}}, 288, 512};
  m = ComputeRenRunMetrics({frac});
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->per_query[0].stiou, 92.5 / 107.5);
  j = FormatRenPredictions({frac});
  ASSERT_TRUE(j.ok());
  auto local = EvaluateRenLocal(*j, "f.json");
  ASSERT_TRUE(local.ok());
  EXPECT_DOUBLE_EQ(local->metrics.per_query[0].stiou, 1.0);
  // An empty ground truth is upstream's ValueError (max of an empty area list).
  RenQueryOutput no_gt{"v", "c", "1", {{3, 0, 0, 10, 10}}, 0.9, {}, 288, 512};
  auto bad = ComputeRenRunMetrics({no_gt});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("ValueError:", 0), 0u) << bad.status().message();
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
