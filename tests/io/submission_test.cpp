// vq2d submit against every logic case folder with "case": "predictions_format" (part "submit").
#include "vq2d/io/submission.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace vq2d {
namespace {

using nlohmann::json;  // unordered: the fixture compares parsed JSON, key order not significant

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::vector<std::string> CasesOfKind(const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& dir : testing::FixtureCases("logic")) {
    std::ifstream in(dir + "/case.json");
    if (!in.good()) continue;
    if (ReadJson(dir + "/case.json").value("case", "") == kind) out.push_back(dir);
  }
  return out;
}

TEST(SubmissionFixtureTest, EverySubmitCaseMatchesUpstream) {
  auto cases = CasesOfKind("predictions_format");
  ASSERT_FALSE(cases.empty()) << "no logic/predictions_format case under " << testing::FixturesRoot();
  size_t checked = 0;
  for (const auto& dir : cases) {
    json inputs = ReadJson(dir + "/inputs.json");
    json expected = ReadJson(dir + "/expected.json");
    if (!inputs.contains("submit")) continue;
    for (size_t i = 0; i < inputs["submit"].size(); ++i) {
      SCOPED_TRACE(dir + " submit[" + std::to_string(i) + "]");
      const json& in = inputs["submit"][i];
      const json& ex = expected["submit"][i];
      // The annotation file keeps its text order through an ordered dump of the fixture's object.
      nlohmann::ordered_json ann_ordered;
      {
        std::ifstream f(dir + "/inputs.json");
        std::stringstream ss;
        ss << f.rdbuf();
        ann_ordered = nlohmann::ordered_json::parse(ss.str())["submit"][i]["test_annotations"];
      }
      auto gt = ParseAnnotations(ann_ordered.dump(), "vq_test_unannotated.json");
      ASSERT_TRUE(gt.ok()) << gt.status().ToString();
      std::vector<NamedJson> files;
      nlohmann::ordered_json pf;
      {
        std::ifstream f(dir + "/inputs.json");
        std::stringstream ss;
        ss << f.rdbuf();
        pf = nlohmann::ordered_json::parse(ss.str())["submit"][i]["prediction_files"];
      }
      for (const auto& name : ex["listdir_order"]) {
        files.push_back({name.get<std::string>(), pf[name.get<std::string>()].dump()});
      }
      auto r = BuildSubmission(files, *gt);
      ++checked;
      if (ex.contains("error")) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().message().rfind(ex["error"].get<std::string>() + ":", 0), 0u) << r.status().message();
        continue;
      }
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(json::parse(r->collated_json), ex["collated"]);
      EXPECT_EQ(json::parse(r->submission_json), ex["ordered"]);
      for (const char* key : {"validate", "official_validate"}) {
        std::string want = ex[key].get<std::string>();
        if (want == "ok") {
          EXPECT_TRUE(r->validation.ok()) << key << ": " << r->validation.ToString();
        } else {
          ASSERT_FALSE(r->validation.ok()) << key;
          EXPECT_EQ(r->validation.message().rfind(want + ":", 0), 0u) << r->validation.message();
        }
      }
    }
  }
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace vq2d

namespace vq2d {
namespace {

constexpr const char* kTestAnnotations = R"({"version": "1.0.5", "videos": [
  {"video_uid": "v", "split": "test", "clips": [
    {"clip_uid": "c", "annotations": [
      {"annotation_uid": "a0", "query_sets": {
        "1": {"is_valid": true, "query_frame": 40, "visual_crop": {"frame_number": 3, "x": 1, "y": 1, "width": 5,
              "height": 5, "original_width": 1920, "original_height": 1080}},
        "2": {"is_valid": false, "query_frame": 40, "visual_crop": {"frame_number": 3, "x": 1, "y": 1, "width": 5,
              "height": 5, "original_width": 1920, "original_height": 1080}}}}]},
    {"clip_uid": "missing", "annotations": [
      {"annotation_uid": "a1", "query_sets": {
        "1": {"is_valid": true, "query_frame": 40, "visual_crop": {"frame_number": 3, "x": 1, "y": 1, "width": 5,
              "height": 5, "original_width": 1440, "original_height": 1080}}}}]}]}]})";

TEST(SubmissionTest, RescalesFillsDummiesAndCopiesVersion) {
  auto gt = ParseAnnotations(kTestAnnotations, "test.json");
  ASSERT_TRUE(gt.ok()) << gt.status().ToString();
  // Clip-level frame size (extension); boxes in 512x288 record pixels.
  std::string pred = R"({"version": "1.0.4", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [
    {"video_uid": "v", "clips": [{"clip_uid": "c", "frame_height": 288, "frame_width": 512, "predictions": [
      {"query_sets": {"1": {"bboxes": [{"fno": 7, "x1": 100, "x2": 511, "y1": 10, "y2": 287}], "score": 0.5}}}]}]}]}})";
  auto r = BuildSubmission({{"0-c.json", pred}}, *gt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->validation.ok()) << r->validation.ToString();
  json out = json::parse(r->submission_json);
  EXPECT_EQ(out["version"], "1.0.5");  // copied from the test file
  const json& c0 = out["results"]["videos"][0]["clips"][0];
  EXPECT_FALSE(c0.contains("frame_height"));
  const json& b = c0["predictions"][0]["query_sets"]["1"]["bboxes"][0];
  EXPECT_EQ(b["x1"], 375);   // int(100 / 512 * 1920)
  EXPECT_EQ(b["x2"], 1916);  // int(511 / 512 * 1920) = int(1916.25)
  EXPECT_EQ(b["y1"], 37);    // int(10 / 288 * 1080) = int(37.5)
  EXPECT_EQ(b["y2"], 1076);  // int(287 / 288 * 1080) = int(1076.25)
  // The missing clip gets the dummy for every query set.
  const json& c1 = out["results"]["videos"][0]["clips"][1];
  EXPECT_EQ(c1["clip_uid"], "missing");
  EXPECT_EQ(c1["predictions"][0]["query_sets"]["1"],
            json::parse(R"({"bboxes": [{"fno": 0, "x1": 0, "y1": 0, "x2": 0, "y2": 0}], "score": 0.0})"));
  EXPECT_EQ(r->dummy_clips, 1u);
  // No frame size anywhere: KeyError naming the path.
  std::string no_size = pred;
  no_size.replace(no_size.find("\"frame_height\": 288, "), 21, "");
  auto bad = BuildSubmission({{"0-c.json", no_size}}, *gt);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "KeyError: collated results.videos[0]: missing key 'frame_height'");
}

TEST(SubmissionTest, OfficialLayoutFromMergeIsNotRescaled) {
  auto gt = ParseAnnotations(kTestAnnotations, "test.json");
  ASSERT_TRUE(gt.ok());
  // What `vq2d merge` writes: no frame size anywhere, boxes already in original pixels.
  std::string merged = R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [
    {"video_uid": "v", "clips": [{"clip_uid": "c", "predictions": [
      {"query_sets": {"1": {"bboxes": [{"fno": 7, "x1": 375, "x2": 1916, "y1": 37, "y2": 1076}], "score": 0.5}}}]}]}]}})";
  auto r = BuildSubmission({{"predictions.json", merged}}, *gt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->validation.ok()) << r->validation.ToString();
  json out = json::parse(r->submission_json);
  const json& b = out["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"]["1"]["bboxes"][0];
  EXPECT_EQ(b["x1"], 375);
  EXPECT_EQ(b["y2"], 1076);
  EXPECT_EQ(r->dummy_clips, 1u);
  // Coverage: 2 test clips with a valid query set, "missing" has no prediction.
  EXPECT_EQ(r->clips_total, 2u);
  EXPECT_EQ(r->uncovered_clips, std::vector<std::string>{"missing"});
  // How merge writes a clip the run did not finish (no box): not covered either.
  std::string empty = merged;
  empty.replace(empty.find("{\"fno\": 7"), std::string(R"({"fno": 7, "x1": 375, "x2": 1916, "y1": 37, "y2": 1076})").size(), "");
  auto e = BuildSubmission({{"predictions.json", empty}}, *gt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->uncovered_clips, (std::vector<std::string>{"c", "missing"}));
}

TEST(SubmissionTest, MissingValidQuerySetGetsDummyAndWrongCountIsRefused) {
  auto gt = ParseAnnotations(kTestAnnotations, "test.json");
  ASSERT_TRUE(gt.ok());
  std::string pred = R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [
    {"video_uid": "v", "frame_height": 288, "frame_width": 512, "clips": [{"clip_uid": "c", "predictions": [
      {"query_sets": {"2": {"bboxes": [], "score": 0.1}}}]}]}]}})";
  auto r = BuildSubmission({{"0-c.json", pred}}, *gt);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->validation.ok()) << r->validation.ToString();
  EXPECT_EQ(r->dummy_query_sets, 1u);
  // Two entries for a clip with one annotation: validation fails and names the problem.
  std::string two = pred;
  two.replace(two.find("]}]}]}}"), 7, R"(, {"query_sets": {}}]}]}]}})");
  auto r2 = BuildSubmission({{"0-c.json", two}}, *gt);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  ASSERT_FALSE(r2->validation.ok());
  EXPECT_EQ(r2->validation.message(),
            "AssertionError: submission: results.videos[0].clips[0].predictions: 2 entries, but clip 'c' has 1 "
            "annotations (one entry per annotation, in order)");
}

// Regression (issue I.6): submit wrote files its own eval rejects. Every mutation below must be
// refused with an error naming the file, the clip, the query set and the field.
TEST(SubmissionTest, RefusesPredictionsEvalWouldReject) {
  auto gt = ParseAnnotations(kTestAnnotations, "test.json");
  ASSERT_TRUE(gt.ok());
  const std::string head = R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [
    {"video_uid": "v", "frame_height": 288, "frame_width": 512, "clips": [{"clip_uid": "c", "predictions": [
      {"query_sets": {"1": )";
  const std::string tail = "}}]}]}]}}";
  const std::string box7 = R"({"fno": 7, "x1": 1, "x2": 5, "y1": 1, "y2": 5})";
  struct Case {
    std::string query_set, want;
  };
  const std::vector<Case> cases = {
      {R"({"bboxes": [)" + box7 + R"(], "score": null})", ".query_sets.1.score: is null"},
      {R"({"bboxes": [)" + box7 + R"(], "score": "0.5"})", ".query_sets.1.score: expected a number or null"},
      {R"({"bboxes": [)" + box7 + R"(], "score": true})", ".query_sets.1.score: expected a number or null"},
      {R"({"bboxes": [)" + box7 + R"(], "score": [0.5]})", ".query_sets.1.score: expected a number or null"},
      {R"({"bboxes": null, "score": 0.5})", ".query_sets.1.bboxes: expected an array"},
      {R"({"bboxes": {"fno": 7}, "score": 0.5})", ".query_sets.1.bboxes: expected an array"},
      {R"({"bboxes": [null], "score": 0.5})", ".query_sets.1.bboxes[0]: expected an object"},
      {R"({"bboxes": [{"fno": 7, "x1": 1, "x2": 5, "y1": 1}], "score": 0.5})",
       ".query_sets.1.bboxes[0]: missing key 'y2'"},
      {R"({"bboxes": [{"fno": 7.5, "x1": 1, "x2": 5, "y1": 1, "y2": 5}], "score": 0.5})",
       ".query_sets.1.bboxes[0].fno: expected an integer frame number"},
      {R"({"bboxes": [{"fno": 7, "x1": "1", "x2": 5, "y1": 1, "y2": 5}], "score": 0.5})",
       ".query_sets.1.bboxes[0].x1: expected a number"},
      {R"({"bboxes": [)" + box7 + R"(, {"fno": 9, "x1": 1, "x2": 5, "y1": 1, "y2": 5}], "score": 0.5})",
       "BBoxes not contiguous"},
      {R"({"score": 0.5})", ".query_sets.1: missing key 'bboxes'"},
      {R"({"bboxes": []})", ".query_sets.1: missing key 'score'"},
      {"7", ".query_sets.1: expected an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.query_set);
    auto r = BuildSubmission({{"0-c.json", head + c.query_set + tail}}, *gt);
    ASSERT_FALSE(r.ok()) << "accepted: " << r->submission_json;
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("0-c.json: results.videos[0].clips[0] (clip \"c\").predictions[0]"), std::string::npos) << m;
    EXPECT_NE(m.find(c.want), std::string::npos) << m;
  }
  // The unmutated file passes, and its output reads back as eval reads it.
  auto ok = BuildSubmission({{"0-c.json", head + R"({"bboxes": [)" + box7 + R"(], "score": 0.5})" + tail}}, *gt);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->validation.ok()) << ok->validation.ToString();
}

}  // namespace
}  // namespace vq2d
