// Round trips through the official evaluator: predictions equal to the GT score perfectly; shifted and
// truncated predictions give hand-computed scores; malformed predictions give upstream's errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "vq2d/io/annotations.h"
#include "vq2d/io/evaluate.h"

namespace vq2d {

using io::EvaluatePredictions;
using io::EvaluationResult;
using io::FormatOfficialReport;
using io::MetricsOptions;
using io::MetricsToJson;
using io::ParseAnnotations;
using io::PerQueryCsv;
using io::VqMetrics;
namespace {

using nlohmann::ordered_json;

// Three valid queries (one clip each), GT frames 10..13, box (100,100) 50x40, plus an invalid set.
ordered_json MakeGt() {
  ordered_json gt;
  gt["version"] = "1.0.5";
  gt["videos"] = ordered_json::array();
  for (int v = 0; v < 3; ++v) {
    ordered_json rt = ordered_json::array();
    for (int f = 10; f <= 13; ++f) {
      rt.push_back({{"frame_number", f}, {"x", 100.0}, {"y", 100.0}, {"width", 50.0}, {"height", 40.0},
                    {"original_width", 1920}, {"original_height", 1080}});
    }
    ordered_json vc = {{"frame_number", 30}, {"x", 0.0}, {"y", 0.0}, {"width", 10.0}, {"height", 10.0}};
    ordered_json qs;
    qs["2"] = {{"is_valid", false}, {"query_frame", 5}, {"visual_crop", vc}, {"response_track", ordered_json::array()}};
    qs["1"] = {{"is_valid", true}, {"query_frame", 20}, {"object_title", "cup"}, {"visual_crop", vc},
               {"response_track", rt}};
    ordered_json clip = {{"clip_uid", "c" + std::to_string(v)},
                         {"annotations", ordered_json::array({{{"annotation_uid", "a"}, {"query_sets", qs}}})}};
    gt["videos"].push_back({{"video_uid", "v" + std::to_string(v)}, {"split", "val"},
                            {"clips", ordered_json::array({clip})}});
  }
  return gt;
}

ordered_json Track(int first, int last, double dx) {
  ordered_json b = ordered_json::array();
  for (int f = first; f <= last; ++f) b.push_back({{"fno", f}, {"x1", 100 + dx}, {"y1", 100}, {"x2", 150 + dx}, {"y2", 140}});
  return b;
}

ordered_json MakePred(const std::vector<ordered_json>& tracks, const std::vector<double>& scores) {
  ordered_json p;
  p["version"] = "1.0.5";
  p["challenge"] = "ego4d_vq2d_challenge";
  p["results"]["videos"] = ordered_json::array();
  for (size_t v = 0; v < tracks.size(); ++v) {
    ordered_json qs;
    qs["1"] = {{"bboxes", tracks[v]}, {"score", scores[v]}};
    ordered_json clip = {{"clip_uid", "c" + std::to_string(v)},
                         {"predictions", ordered_json::array({{{"query_sets", qs}}})}};
    p["results"]["videos"].push_back({{"video_uid", "v" + std::to_string(v)}, {"clips", ordered_json::array({clip})}});
  }
  return p;
}

Result<EvaluationResult> Eval(const ordered_json& pred, const ordered_json& gt, MetricsOptions opt = {}) {
  auto a = ParseAnnotations(gt.dump(), "gt.json");
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  return EvaluatePredictions(pred.dump(), "pred.json", *a, opt);
}

TEST(EvalRoundTripTest, PredictionsEqualToGtArePerfect) {
  auto r = Eval(MakePred({Track(10, 13, 0), Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5}), MakeGt());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const VqMetrics& m = r->metrics;
  EXPECT_EQ(m.n_queries, 3u);
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(m.tap[t], 1.0);
    EXPECT_EQ(m.stap[t], 1.0);
  }
  EXPECT_EQ(m.tap_mean, 1.0);
  EXPECT_EQ(m.stap_mean, 1.0);
  EXPECT_EQ(m.success[0], 100.0);
  EXPECT_EQ(m.recovery[0], 100.0);
  EXPECT_EQ(m.sort_order_desc, (std::vector<int64_t>{1, 2, 0}));
}

TEST(EvalRoundTripTest, ShiftedAndTruncatedPredictionsGiveHandComputedScores) {
  // q0 exact (tIoU 1, stIoU 1), q1 shifted by 25 px (per-frame IoU 1000/3000 = 1/3, tIoU 1, stIoU 1/3),
  // q2 truncated to frames 10..11 (tIoU 0.5, stIoU 4000/8000 = 0.5, 2 of 4 frames recovered).
  auto r = Eval(MakePred({Track(10, 13, 0), Track(10, 13, 25), Track(10, 11, 0)}, {0.9, 0.8, 0.7}), MakeGt());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const VqMetrics& m = r->metrics;
  ASSERT_EQ(m.per_query.size(), 3u);
  EXPECT_DOUBLE_EQ(m.per_query[1].stiou, 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.per_query[2].tiou, 0.5);
  EXPECT_DOUBLE_EQ(m.per_query[2].stiou, 0.5);
  EXPECT_EQ(m.per_query[2].recovered_frames[0], 2);
  // tAP: thresholds 0.25, 0.5 all TP; 0.75, 0.95: TP TP FP -> 2/3.
  EXPECT_DOUBLE_EQ(m.tap[0], 1.0);
  EXPECT_DOUBLE_EQ(m.tap[1], 1.0);
  EXPECT_DOUBLE_EQ(m.tap[2], 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.tap[3], 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.tap_mean, 10.0 / 12);
  // stAP: 0.25 all TP -> 1; 0.5: TP FP TP -> 1/3 + 1/3*2/3 = 5/9; 0.75, 0.95: TP FP FP -> 1/3.
  EXPECT_DOUBLE_EQ(m.stap[0], 1.0);
  EXPECT_DOUBLE_EQ(m.stap[1], 5.0 / 9);
  EXPECT_DOUBLE_EQ(m.stap[2], 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.stap[3], 1.0 / 3);
  EXPECT_DOUBLE_EQ(m.stap_mean, 5.0 / 9);
  EXPECT_DOUBLE_EQ(m.success[0], 100.0);
  EXPECT_DOUBLE_EQ(m.recovery[0], 50.0);  // (4 + 0 + 2) / 12
  std::string table = FormatOfficialReport(*r);
  EXPECT_NE(table.find("tAP                  |      0.833\n"), std::string::npos) << table;
  EXPECT_NE(table.find("stAP                 |      0.556\n"), std::string::npos) << table;
  std::string csv = PerQueryCsv(*r);
  EXPECT_NE(csv.find("\n2,v2,c2,0,1,0.69999999999999996,2,0.5,0.5,2,4,1\n"), std::string::npos) << csv;
  auto js = nlohmann::json::parse(MetricsToJson(*r));
  EXPECT_DOUBLE_EQ(js["stAP_per_threshold"]["0.50"].get<double>(), 5.0 / 9);
  EXPECT_EQ(js["n_queries"].get<int>(), 3);
}

TEST(EvalRoundTripTest, EmptyPredictionIsALowRankedFalsePositive) {
  auto r = Eval(MakePred({Track(10, 13, 0), ordered_json::array(), Track(10, 13, 0)}, {0.9, 0.0, 0.8}), MakeGt());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->metrics.tap[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(r->metrics.recovery[0], 100.0 * 8 / 12);
}

std::string ErrorOf(const ordered_json& pred, const ordered_json& gt = MakeGt()) {
  auto r = Eval(pred, gt);
  return r.ok() ? "OK" : r.status().message();
}

TEST(EvalValidationTest, UpstreamRulesAndMessages) {
  ordered_json good = MakePred({Track(10, 13, 0), Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5});
  EXPECT_EQ(ErrorOf(good), "OK");

  ordered_json p = good;
  p.erase("challenge");
  EXPECT_EQ(ErrorOf(p), "AssertionError: pred.json: (root): missing key 'challenge'");
  p = good;
  p["version"] = "1.0";
  EXPECT_EQ(ErrorOf(p), "AssertionError: pred.json: version: expected the annotation file's version \"1.0.5\", got the "
                        "string \"1.0\"");
  p = good;
  p["challenge"] = "ego4d_vq3d";
  EXPECT_EQ(ErrorOf(p).rfind("AssertionError: pred.json: challenge: expected \"ego4d_vq2d_challenge\"", 0), 0u);
  p = good;
  p["results"]["videos"].erase(2);
  EXPECT_EQ(ErrorOf(p), "AssertionError: pred.json: results.videos: 2 videos, but the annotation file has 3");
  p = good;
  std::swap(p["results"]["videos"][0], p["results"]["videos"][1]);
  EXPECT_EQ(ErrorOf(p).rfind("AssertionError: pred.json: results.videos[0].video_uid: expected 'v0'", 0), 0u)
      << ErrorOf(p);
  p = good;
  p["results"]["videos"][1]["clips"][0]["clip_uid"] = nullptr;
  EXPECT_EQ(ErrorOf(p).rfind("AssertionError: pred.json: results.videos[1].clips[0].clip_uid: expected 'c1'", 0), 0u);
  p = good;
  p["results"]["videos"][0]["clips"][0]["predictions"].push_back({{"query_sets", ordered_json::object()}});
  EXPECT_EQ(ErrorOf(p).rfind("AssertionError: pred.json: results.videos[0].clips[0].predictions: 2 entries", 0), 0u);
  // A valid query set missing.
  p = good;
  p["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"].erase("1");
  EXPECT_EQ(ErrorOf(p).rfind("AssertionError: pred.json: results.videos[0].clips[0].predictions[0].query_sets: the "
                             "valid query sets do not match",
                             0),
            0u)
      << ErrorOf(p);
  // An invalid set may be present; an unknown one is a KeyError.
  p = good;
  p["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"]["2"] = {{"bboxes", ordered_json::array()},
                                                                                 {"score", 0.0}};
  EXPECT_EQ(ErrorOf(p), "OK");
  p["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"]["7"] = {{"bboxes", ordered_json::array()},
                                                                                 {"score", 0.0}};
  EXPECT_EQ(ErrorOf(p).rfind("KeyError: pred.json: results.videos[0].clips[0].predictions[0].query_sets: query set "
                             "'7'",
                             0),
            0u);
  // Every present set needs bboxes and score, even an invalid one.
  p = good;
  p["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"]["2"] = {{"bboxes", ordered_json::array()}};
  EXPECT_EQ(ErrorOf(p), "AssertionError: pred.json: results.videos[0].clips[0].predictions[0].query_sets.2: missing key "
                        "'score'");
  // Null score passes validation but fails the metric (TemporalDetection asserts has_score()).
  p = good;
  p["results"]["videos"][2]["clips"][0]["predictions"][0]["query_sets"]["1"]["score"] = nullptr;
  EXPECT_EQ(ErrorOf(p).rfind("AssertionError: video 'v2' clip 'c2' annotation 0 query set '1': the prediction has a "
                             "null score",
                             0),
            0u)
      << ErrorOf(p);
  // Non-contiguous prediction track.
  p = good;
  p["results"]["videos"][1]["clips"][0]["predictions"][0]["query_sets"]["1"]["bboxes"].erase(1);
  EXPECT_EQ(ErrorOf(p).rfind("ValueError: ====> ResponseTrack: BBoxes not contiguous", 0), 0u) << ErrorOf(p);
  // Malformed JSON.
  auto a = ParseAnnotations(MakeGt().dump(), "gt.json");
  auto bad = EvaluatePredictions("{\"version\": ", "pred.json", *a);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("pred.json: malformed JSON"), std::string::npos);
}

TEST(EvalPitfallTest, ZeroAreaGtBoxWithZeroAreaPredictionFailsUnlessFixEnabled) {
  ordered_json gt = MakeGt();
  for (auto& b : gt["videos"][0]["clips"][0]["annotations"][0]["query_sets"]["1"]["response_track"]) b["width"] = 0.0;
  ordered_json t0 = Track(10, 13, 0);
  for (auto& b : t0) b["x2"] = b["x1"];
  ordered_json pred = MakePred({t0, Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5});
  // Upstream: ZeroDivisionError (documented default).
  EXPECT_EQ(ErrorOf(pred, gt).rfind("ZeroDivisionError: video 'v0'", 0), 0u) << ErrorOf(pred, gt);
  // Fix switch: IoU 0 for that query.
  MetricsOptions fix;
  fix.zero_division_iou_zero = true;
  auto r = Eval(pred, gt, fix);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metrics.per_query[0].stiou, 0.0);
  EXPECT_EQ(r->metrics.per_query[0].recovered_frames[0], 0);
  EXPECT_DOUBLE_EQ(r->metrics.success[0], 100.0 * 2 / 3);
  // A zero-area GT box with a normal prediction is tolerated (IoU 0 on that frame).
  ordered_json pred2 = MakePred({Track(10, 13, 0), Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5});
  auto r2 = Eval(pred2, gt);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->metrics.per_query[0].stiou, 0.0);
}

TEST(EvalPitfallTest, NegativeAreaPredictionReducesTheUnionAsUpstream) {
  // Prediction box on frame 10 has x2 < x1 (area -30*40 = -1200, no overlap): volume_pred =
  // 3*2000 - 1200 = 4800, inter = 3*2000, so st-IoU = 6000 / (4800 + 8000 - 6000) (not clamped).
  ordered_json t = Track(10, 13, 0);
  t[0]["x1"] = 150;
  t[0]["x2"] = 120;
  ordered_json pred = MakePred({t, Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5});
  auto r = Eval(pred, MakeGt());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(r->metrics.per_query[0].stiou, 6000.0 / (4800 + 8000 - 6000));
  EXPECT_EQ(r->metrics.per_query[0].recovered_frames[0], 3);  // frame 10: IoU 0 / (2000 - 1200) = 0
  // A negative box exactly cancelling the GT area makes the per-frame denominator 0: ZeroDivisionError.
  t[0]["x2"] = 100;
  EXPECT_EQ(ErrorOf(MakePred({t, Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5})).rfind("ZeroDivisionError:", 0), 0u);
}

TEST(EvalPitfallTest, UnannotatedTestFileCannotBeScored) {
  ordered_json gt = MakeGt();
  gt["videos"][0]["clips"][0]["annotations"][0]["query_sets"]["1"].erase("response_track");
  ordered_json pred = MakePred({Track(10, 13, 0), Track(10, 13, 0), Track(10, 13, 0)}, {0.3, 0.9, 0.5});
  EXPECT_EQ(ErrorOf(pred, gt).rfind("KeyError: annotation video 'v0'", 0), 0u) << ErrorOf(pred, gt);
}

}  // namespace
}  // namespace vq2d
