// End-to-end checks of `vq2d eval` and `vq2d submit` (the built binary) on fixture inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace vq2d {
namespace {

using nlohmann::ordered_json;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// <build>/vq2d: from VQ2D_BINARY_DIR when CTest provides it, else next to this test's directory
// (<build>/tests/vq2d_app_tests).
std::string Binary() {
  std::string dir = testing::BinaryDir();
  if (!dir.empty()) return dir + "/vq2d";
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string exe = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("./tests/x");
  std::string tests_dir = exe.substr(0, exe.rfind('/'));
  return tests_dir.substr(0, tests_dir.rfind('/')) + "/vq2d";
}

// Runs the binary; returns the exit code, stdout in *out, stderr in *err.
int RunVq2d(const std::string& args, const testing::TempDir& tmp, std::string* out, std::string* err) {
  std::string cmd = Binary() + " " + args + " >" + tmp.Join("stdout") + " 2>" + tmp.Join("stderr");
  int rc = std::system(cmd.c_str());
  *out = Slurp(tmp.Join("stdout"));
  *err = Slurp(tmp.Join("stderr"));
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// Every logic case folder whose case.json names `kind` (all seeds found under the fixtures root).
std::vector<std::string> LogicCases(const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& dir : testing::FixtureCases("logic")) {
    std::ifstream probe(dir + "/case.json");
    if (probe.good() && nlohmann::json::parse(Slurp(dir + "/case.json")).value("case", "") == kind) out.push_back(dir);
  }
  return out;
}

std::string Row(const char* name, double v) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%-20s | %10.3f\n", name, v);
  return buf;
}

TEST(EvalCliTest, GoldenTiesPrintOfficialTableAndWriteOutputs) {
  const auto dirs = LogicCases("metrics");
  ASSERT_FALSE(dirs.empty()) << "logic/metrics fixture missing under " << testing::FixturesRoot();
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir);
    auto inputs = ordered_json::parse(Slurp(dir + "/inputs.json"));
    auto expected = nlohmann::json::parse(Slurp(dir + "/expected.json"));
    const auto& ex = expected["golden"][1];
    testing::TempDir tmp;
    Write(tmp.Join("gt.json"), inputs["golden"][1]["gt"].dump());
    Write(tmp.Join("pred.json"), inputs["golden"][1]["pred"].dump());
    std::string out, err;
    int rc = RunVq2d("eval --predictions " + tmp.Join("pred.json") + " --annotations " + tmp.Join("gt.json") +
                         " --json " + tmp.Join("m/metrics.json") + " --per-query " + tmp.Join("q.csv"),
                     tmp, &out, &err);
    ASSERT_EQ(rc, 0) << err;
    const auto& rep = ex["reported"];
    EXPECT_EQ(out, "Starting Evaluation.....\n"
                   "Evaluating VQ2D performance\n"
                   "--------------------\n"
                   "all\n"
                   "--------------------\n" +
                       Row("tAP", rep["tAP"]) + Row("tAP @ IoU=0.25", rep["tAP @ IoU=0.25"]) + Row("stAP", rep["stAP"]) +
                       Row("stAP @ IoU=0.25", rep["stAP @ IoU=0.25"]) + Row("success", rep["success"]) +
                       Row("recovery %", rep["recovery %"]));
    auto m = nlohmann::json::parse(Slurp(tmp.Join("m/metrics.json")));
    EXPECT_EQ(m["sort_order_desc"], ex["sort_order_desc"]);
    std::string csv = Slurp(tmp.Join("q.csv"));
    EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + ex["n_queries"].get<int>());

    // A malformed prediction: exit 1, the upstream exception and the path on stderr, no table.
    auto bad = inputs["golden"][1]["pred"];
    bad["results"]["videos"][0]["clips"][0]["clip_uid"] = "other";
    Write(tmp.Join("bad.json"), bad.dump());
    rc = RunVq2d("eval --predictions " + tmp.Join("bad.json") + " --annotations " + tmp.Join("gt.json"), tmp, &out, &err);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(err.find("AssertionError: " + tmp.Join("bad.json") + ": results.videos[0].clips[0].clip_uid"),
              std::string::npos)
        << err;
  }
}

// `vq2d eval --local` on a directory holding one written per-clip file prints REN's log lines with
// upstream's in-pipeline numbers, for every single-clip prediction set with ground truth whose file
// order is its dataset order (no repeated query-set ids; otherwise the two orders rank ties differently).
TEST(EvalCliTest, LocalModePrintsRenMetrics) {
  const auto dirs = LogicCases("predictions_format");
  ASSERT_FALSE(dirs.empty()) << "logic/predictions_format fixture missing under " << testing::FixturesRoot();
  int checked = 0;
  for (const auto& dir : dirs) {
    auto inputs = nlohmann::json::parse(Slurp(dir + "/inputs.json"));
    auto expected = ordered_json::parse(Slurp(dir + "/expected.json"));
    int in_dir = 0;
    for (size_t i = 0; i < inputs["format_predictions"].size() && in_dir < 3; ++i) {
      const auto& in = inputs["format_predictions"][i];
      const auto& ex = expected["format_predictions"][i];
      if (!ex.contains("ren_metrics") || !ex.contains("predictions")) continue;
      const auto ids = in["qset_ids"].get<std::vector<std::string>>();
      const auto clips = in["clip_uids"].get<std::vector<std::string>>();
      const auto videos = in["video_uids"].get<std::vector<std::string>>();
      bool simple = std::set<std::string>(ids.begin(), ids.end()).size() == ids.size() &&
                    std::set<std::string>(clips.begin(), clips.end()).size() == 1 &&
                    std::set<std::string>(videos.begin(), videos.end()).size() == 1;
      for (const auto& gt : in["gt_response_tracks_fxywh"]) simple = simple && !gt.empty() && gt[0][0] != -1;
      if (!simple) continue;
      SCOPED_TRACE(dir + " format_predictions[" + std::to_string(i) + "]");
      testing::TempDir tmp;
      ASSERT_EQ(std::system(("mkdir -p " + tmp.Join("preds")).c_str()), 0);
      Write(tmp.Join("preds/0-" + clips[0] + ".json"), ex["predictions"].dump());
      std::string out, err;
      int rc = RunVq2d("eval --local --predictions " + tmp.Join("preds"), tmp, &out, &err);
      ASSERT_EQ(rc, 0) << err;
      std::string want;
      for (auto it = ex["ren_metrics"]["all"].begin(); it != ex["ren_metrics"]["all"].end(); ++it) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%.4f", it.value().get<double>());
        want += "  " + it.key() + " \t-\t " + buf + "\n";
      }
      EXPECT_NE(out.find("Area range: all\n" + want), std::string::npos) << out << "\nwant:\n" << want;
      ++in_dir;
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(EvalCliTest, SubmitWritesValidFileAndRefusesInvalidOne) {
  const auto dirs = LogicCases("predictions_format");
  ASSERT_FALSE(dirs.empty()) << "logic/predictions_format fixture missing under " << testing::FixturesRoot();
  for (const auto& dir : dirs) {
    SCOPED_TRACE(dir);
    auto inputs = ordered_json::parse(Slurp(dir + "/inputs.json"));
    auto expected = nlohmann::json::parse(Slurp(dir + "/expected.json"));
    int done_ok = 0, done_bad = 0;
    for (size_t i = 0; i < inputs["submit"].size(); ++i) {
      const auto& ex = expected["submit"][i];
      if (ex.contains("error")) continue;
      bool valid = ex["validate"] == "ok";
      if ((valid && done_ok) || (!valid && done_bad)) continue;
      testing::TempDir tmp;
      Write(tmp.Join("test.json"), inputs["submit"][i]["test_annotations"].dump());
      std::string preds = tmp.Join("preds");
      ASSERT_EQ(std::system(("mkdir -p " + preds).c_str()), 0);
      for (auto it = inputs["submit"][i]["prediction_files"].begin();
           it != inputs["submit"][i]["prediction_files"].end(); ++it) {
        Write(preds + "/" + it.key(), it.value().dump());
      }
      std::string out, err;
      // --allow-missing: upstream's submit.py fills any number of missing clips with dummies.
      int rc = RunVq2d("submit --allow-missing --predictions " + preds + " --test-annotations " + tmp.Join("test.json") +
                           " -o " + tmp.Join("out/predictions.json"),
                       tmp, &out, &err);
      std::ifstream written(tmp.Join("out/predictions.json"));
      if (valid) {
        ASSERT_EQ(rc, 0) << err;
        ASSERT_TRUE(written.good());
        // Upstream's own file order is arbitrary (os.listdir) but ordering makes the result independent of it.
        EXPECT_EQ(nlohmann::json::parse(Slurp(tmp.Join("out/predictions.json"))), ex["ordered"]);
        ++done_ok;
      } else {
        EXPECT_EQ(rc, 1);
        EXPECT_FALSE(written.good()) << "an invalid submission must not be written";
        EXPECT_NE(err.find("refusing to write"), std::string::npos) << err;
        EXPECT_NE(err.find("AssertionError: "), std::string::npos) << err;
        ++done_bad;
      }
    }
    EXPECT_EQ(done_ok, 1);
    EXPECT_EQ(done_bad, 1);
  }
}

// Regression (issue I.6): `vq2d submit` exited 0 on prediction files its own eval rejects.
TEST(EvalCliTest, SubmitRefusesInputEvalRejectsAndWritesNothing) {
  testing::TempDir tmp;
  Write(tmp.Join("test.json"), R"({"version": "1.0.5", "videos": [{"video_uid": "v", "split": "test", "clips": [
    {"clip_uid": "c", "annotations": [{"annotation_uid": "a0", "query_sets": {
      "1": {"is_valid": true, "query_frame": 40, "visual_crop": {"frame_number": 3, "x": 1, "y": 1, "width": 5,
            "height": 5, "original_width": 1920, "original_height": 1080}}}}]}]}]})");
  ASSERT_EQ(std::system(("mkdir -p " + tmp.Join("preds")).c_str()), 0);
  Write(tmp.Join("preds/0-c.json"), R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [
    {"video_uid": "v", "frame_height": 288, "frame_width": 512, "clips": [{"clip_uid": "c", "predictions": [
      {"query_sets": {"1": {"bboxes": [{"fno": 7, "x1": 1, "x2": 5, "y1": 1, "y2": 5}], "score": "0.5"}}}]}]}]}})");
  std::string out, err;
  int rc = RunVq2d("submit --predictions " + tmp.Join("preds") + " --test-annotations " + tmp.Join("test.json") +
                       " -o " + tmp.Join("predictions.json"),
                   tmp, &out, &err);
  EXPECT_EQ(rc, 1) << err;
  EXPECT_FALSE(std::ifstream(tmp.Join("predictions.json")).good());
  EXPECT_NE(err.find("(clip \"c\")"), std::string::npos) << err;
  EXPECT_NE(err.find("query_sets.1.score"), std::string::npos) << err;
}

}  // namespace
}  // namespace vq2d
