// `vq2d plan` against a real run: the counts it predicts for the synthetic split (frames to read,
// REN images of the shared video pass: exact; model work of every stage: within its bounds) are
// what the run's done records count; a calibration written by `vq2d bench pipeline` gives estimates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runner/process_util.h"

namespace vq2d {

namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::Sh;
using testing::Vq2d;

const char kFast[] =
    " --set visual_query.query_cropping_factors=[1.0,1.5] --set models.cpu_threads=1";

void ExpectWithin(double x, const nlohmann::json& bounds, const std::string& what) {
  ASSERT_TRUE(bounds.is_array() && bounds.size() == 2) << what;
  EXPECT_GE(x, bounds[0].get<double>()) << what;
  EXPECT_LE(x, bounds[1].get<double>()) << what;
}

TEST(Plan, CountsMatchTheRunAndACalibrationGivesEstimates) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("synth"), config = dir + "/config.yaml";
  ASSERT_EQ(Sh(Vq2d() + " synth --out " + dir + " --clips 2 --seed 5 > " + dir + ".log 2>&1"), 0) << ReadText(dir + ".log");
  ASSERT_EQ(Sh(Vq2d() + " prepare --config " + config + " --split val >> " + dir + ".log 2>&1"), 0)
      << ReadText(dir + ".log");
  ASSERT_EQ(Sh(Vq2d() + " run --config " + config + kFast + " --set visual_query.exp_name=p > " + dir + ".run.log 2>&1"),
            0)
      << ReadText(dir + ".run.log");
  const std::string plan_json = tmp.Join("plan.json");
  ASSERT_EQ(Sh(Vq2d() + " plan --config " + config + kFast + " --json " + plan_json + " > " + dir + ".plan.log 2>&1"),
            0)
      << ReadText(dir + ".plan.log");
  const nlohmann::json plan = nlohmann::json::parse(ReadText(plan_json), nullptr, false);
  ASSERT_FALSE(plan.is_discarded()) << ReadText(plan_json);
  ASSERT_EQ(plan["clips"].size(), 2u);
  int64_t queries = 0;
  for (const auto& c : plan["clips"]) {
    const std::string uid = c["clip_uid"];
    EXPECT_TRUE(c["has_record"].get<bool>()) << uid;
    const std::string done_path = dir + "/runs/p/done/" + uid.substr(0, 2) + "/" + uid + ".json";
    std::string done_text = ReadText(done_path);
    if (done_text.empty()) {  // layout fallback: search the done/ tree
      for (const auto& e : fs::recursive_directory_iterator(dir + "/runs/p/done"))
        if (e.path().filename() == uid + ".json") done_text = ReadText(e.path().string());
    }
    const nlohmann::json done = nlohmann::json::parse(done_text, nullptr, false);
    ASSERT_FALSE(done.is_discarded()) << "no done record for " << uid;
    const nlohmann::json& s = done["stats"];
    EXPECT_EQ(c["frames_read"].get<int64_t>(), s["frames"].get<int64_t>()) << uid;
    EXPECT_EQ(c["ren_video_shared"].get<int64_t>(), s["ren_images"].get<int64_t>()) << uid;
    EXPECT_EQ(c["queries"].get<int64_t>(), s["queries"].get<int64_t>()) << uid;
    const nlohmann::json& w = s["model_work"];
    ExpectWithin(w["ren_images"].get<double>(), c["ren_images"], uid + " REN images");
    ExpectWithin(w["sam2_encodes"].get<double>(), c["sam2_encodes"], uid + " SAM 2 encodes");
    ExpectWithin(w["track_steps"].get<double>(), c["track_steps"], uid + " tracking steps");
    ExpectWithin(w["dino_images"].get<double>(), c["dino_images"], uid + " descriptor images");
    EXPECT_GT(w["track_steps"].get<double>(), 0) << uid;
    queries += c["queries"].get<int64_t>();
  }
  EXPECT_EQ(plan["total"]["queries"].get<int64_t>(), queries);

  // Calibration from the benchmark, then estimates (no timing assertions: only that they exist and are ordered).
  const std::string cal = tmp.Join("cal.json");
  ASSERT_EQ(Sh(Vq2d() + " bench pipeline --config " + config + kFast + " --clips 1 --no-compare --calibration-out " +
               cal + " > " + dir + ".bench.log 2>&1"),
            0)
      << ReadText(dir + ".bench.log");
  const nlohmann::json c = nlohmann::json::parse(ReadText(cal), nullptr, false);
  ASSERT_FALSE(c.is_discarded()) << ReadText(cal);
  EXPECT_EQ(c["schema"], "vq2d.calibration/1");
  EXPECT_EQ(c["device"], "cpu");
  EXPECT_GT(c["unit_s"]["ren_image"].get<double>(), 0);
  EXPECT_GT(c["unit_s"]["track_step"].get<double>(), 0);
  ASSERT_EQ(Sh(Vq2d() + " plan --config " + config + kFast + " --gpus 2 --calibration " + cal +
               " --compare-run --set visual_query.exp_name=p --json " + plan_json + " > " + dir + ".plan2.log 2>&1"),
            0)
      << ReadText(dir + ".plan2.log");
  const nlohmann::json p2 = nlohmann::json::parse(ReadText(plan_json), nullptr, false);
  ASSERT_EQ(p2["estimates"].size(), 1u);
  const nlohmann::json& e = p2["estimates"][0];
  EXPECT_LE(e["device_seconds"][1].get<double>(), e["device_seconds"][2].get<double>());
  EXPECT_LE(e["device_seconds"][1].get<double>(), e["device_seconds"][0].get<double>());
  EXPECT_LE(e["wall_seconds"][0].get<double>(), e["device_seconds"][0].get<double>());
  EXPECT_NE(ReadText(dir + ".plan2.log").find("compared with the run"), std::string::npos);

  // A bad calibration file is refused with its name.
  std::ofstream(tmp.Join("bad.json")) << "{\"schema\": \"other\"}";
  EXPECT_NE(Sh(Vq2d() + " plan --config " + config + " --calibration " + tmp.Join("bad.json") + " > " + dir +
               ".bad.log 2>&1"),
            0);
  EXPECT_NE(ReadText(dir + ".bad.log").find("bad.json"), std::string::npos) << ReadText(dir + ".bad.log");
}

}  // namespace
}  // namespace vq2d
