// The VQ2D pipeline through the product CLI on the synthetic dataset with the demo models:
// synth -> prepare -> run -> merge -> eval, deterministic on rerun, on 1 vs 2 ranks (mpirun), with
// the shared video pass on and off, and after a SIGKILL + resume; --debug-dump; stage times in status.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "runner/process_util.h"
#include "vq2d/io/clip_output.h"

namespace vq2d {

using io::ParseClipOutput;
namespace {

namespace fs = std::filesystem;
using testing::Background;
using testing::Mpirun;
using testing::ReadText;
using testing::Sh;
using testing::Vq2d;
using testing::WaitFor;

// Two cropping factors instead of eight keep the test quick (tracked-object tokens dominate). One
// CPU thread per process: results are bit-identical only at a fixed thread count (mpirun binds
// each rank to one core, a lone process would use both).
const char kFast[] =
    " --set visual_query.query_cropping_factors=[1.0,1.5] --set runner.progress_interval_s=0.5"
    " --set models.cpu_threads=1";

struct Synth {
  std::string dir, config;
  explicit Synth(const std::string& d) : dir(d), config(d + "/config.yaml") {
    EXPECT_EQ(Sh(Vq2d() + " synth --out " + dir + " --clips 2 --seed 5 > " + dir + ".synth.log 2>&1"), 0)
        << ReadText(dir + ".synth.log");
    EXPECT_EQ(Sh(Vq2d() + " prepare --config " + config + " --split val > " + dir + ".prep.log 2>&1"), 0)
        << ReadText(dir + ".prep.log");
  }
  std::string Run(const std::string& exp, const std::string& extra = "", int np = 0) const {
    return (np > 0 ? Mpirun(np) : std::string()) + Vq2d() + " run --config " + config + kFast +
           " --set visual_query.exp_name=" + exp + " " + extra + " > " + dir + "/" + exp + ".log 2>&1";
  }
  std::string Out(const std::string& exp) const { return dir + "/runs/" + exp; }
  // Merged official predictions file of a run.
  std::string Merged(const std::string& exp) const {
    const std::string out = dir + "/" + exp + ".predictions.json";
    EXPECT_EQ(Sh(Vq2d() + " merge --config " + config + kFast + " --set visual_query.exp_name=" + exp + " --out " + out +
                 " > /dev/null 2>&1"),
              0);
    return ReadText(out);
  }
  // Committed clips: their done records (written after the output, so an output alone is not done).
  int Done(const std::string& exp) const {
    int n = 0;
    if (!fs::exists(Out(exp) + "/done")) return 0;
    for (const auto& e : fs::recursive_directory_iterator(Out(exp) + "/done"))
      n += e.is_regular_file() && e.path().extension() == ".json";
    return n;
  }
};

TEST(PipelineRun, SyntheticRunIsDeterministicAcrossRanksCacheAndResume) {
  testing::TempDir tmp;
  Synth s(tmp.Join("synth"));

  // Reference: one process, with the debug dump of the first clip.
  ASSERT_EQ(Sh(s.Run("a", "--debug-dump " + tmp.Join("debug"))), 0) << ReadText(s.dir + "/a.log");
  const std::string ref = s.Merged("a");
  auto pred = nlohmann::json::parse(ref, nullptr, false);
  ASSERT_FALSE(pred.is_discarded());
  int queries = 0, tracked = 0;
  for (const auto& v : pred["results"]["videos"])
    for (const auto& c : v["clips"])
      for (const auto& p : c["predictions"])
        for (const auto& [id, q] : p["query_sets"].items()) {
          ++queries;
          tracked += !q["bboxes"].empty();
          EXPECT_TRUE(q["score"].is_number());
        }
  EXPECT_EQ(queries, 6);
  EXPECT_GT(tracked, 0);  // the pipeline produced tracks (random models, so no claim about accuracy)
  // One clip output: every query, record pixels, per-query stats.
  std::string clip_file;
  for (const auto& e : fs::recursive_directory_iterator(s.Out("a") + "/clips"))
    if (e.path().extension() == ".json") clip_file = e.path();
  auto co = ParseClipOutput(ReadText(clip_file), clip_file);
  ASSERT_TRUE(co.ok()) << co.status().ToString();
  EXPECT_EQ(co->queries.size(), 3u);
  EXPECT_GT(co->frame_width, 0);
  for (const auto& q : co->queries)
    for (const auto& b : q.bboxes) {
      EXPECT_LE(b.x2, co->frame_width);
      EXPECT_LE(b.y2, co->frame_height);
    }
  ASSERT_TRUE(co->extra["queries"].is_array());
  EXPECT_TRUE(co->extra["queries"][0]["stats"].contains("track_s"));
  // Debug dump: exactly one clip, with a stage trace per query.
  std::vector<fs::path> dumps;
  for (const auto& e : fs::directory_iterator(tmp.Join("debug")))
    if (e.path().extension() == ".json") dumps.push_back(e.path());
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_GT(fs::file_size(fs::path(dumps[0]).replace_extension(".safetensors")), 1000u);
  auto dump = nlohmann::json::parse(ReadText(dumps[0]), nullptr, false);
  ASSERT_EQ(dump["queries"].size(), 3u);
  EXPECT_FALSE(dump["queries"][0]["trace"].empty());
  // Tracking in the dump: per SAM 2 pass the prompt and every yielded frame's mask box and object
  // score; the first-round track is exactly reverse(reverse pass)[:-1] + forward pass.
  int passes_checked = 0;
  for (const auto& q : dump["queries"])
    for (const auto& rec : q["trace"]) {
      if (rec["stage"] != "TrackPrediction") continue;
      ASSERT_TRUE(rec.contains("sam2_passes")) << rec.dump();
      const auto& passes = rec["sam2_passes"];
      ASSERT_EQ(passes.size(), 2u);
      EXPECT_EQ(passes[0]["direction"], "forward");
      EXPECT_EQ(passes[1]["direction"], "reverse");
      nlohmann::json rebuilt = nlohmann::json::array();
      for (int k : {1, 0}) {
        const auto& p = passes[k];
        SCOPED_TRACE(p.dump());
        EXPECT_EQ(p["prompt_box_xyxy"].size(), 4u);
        EXPECT_EQ(p["prompt_frame_output"], "re-inferred with memory");  // upstream's tensor frame index
        const auto& frames = p["frames_xywh_score"];
        ASSERT_FALSE(frames.empty());
        EXPECT_EQ(frames[0][0], p["prompt_frame"]);
        std::vector<nlohmann::json> kept;
        for (size_t i = 0; i < frames.size(); ++i) {
          const auto& f = frames[i];
          EXPECT_EQ(f[0].get<int64_t>(), p["prompt_frame"].get<int64_t>() + (k == 0 ? 1 : -1) * static_cast<int64_t>(i));
          if (f[1].is_null()) {  // an empty mask ends the pass
            EXPECT_EQ(i + 1, frames.size());
            break;
          }
          ASSERT_EQ(f.size(), 6u);
          EXPECT_TRUE(f[5].is_number());  // object score logit
          kept.push_back({f[0], f[1], f[2], f[3], f[4]});
        }
        if (k == 1) {
          for (size_t i = kept.size(); i-- > 1;) rebuilt.push_back(kept[i]);
        } else {
          for (const auto& f : kept) rebuilt.push_back(f);
        }
      }
      if (rec["to_track"] == "max") EXPECT_EQ(rebuilt, rec["predicted_track"]);
      ++passes_checked;
    }
  EXPECT_GE(passes_checked, 3);
  // Status shows the per-stage times.
  ASSERT_EQ(Sh(Vq2d() + " status " + s.Out("a") + " > " + s.dir + "/status.log 2>&1"), 0);
  const std::string status = ReadText(s.dir + "/status.log");
  for (const char* stage : {"query_s", "video_s", "select_s", "refine_s", "track_s", "expansion_s"})
    EXPECT_NE(status.find(stage), std::string::npos) << stage << "\n" << status;
  // The official evaluator runs on the merged file.
  EXPECT_EQ(Sh(Vq2d() + " eval --predictions " + s.dir + "/a.predictions.json --annotations " + s.dir +
               "/vq_val.json > " + s.dir + "/eval.log 2>&1"),
            0)
      << ReadText(s.dir + "/eval.log");

  // Rerun in a fresh directory: identical.
  ASSERT_EQ(Sh(s.Run("b")), 0) << ReadText(s.dir + "/b.log");
  EXPECT_TRUE(s.Merged("b") == ref) << "rerun differs";
  // Two ranks under mpirun: identical.
  ASSERT_EQ(Sh(s.Run("c", "", 2)), 0) << ReadText(s.dir + "/c.log");
  EXPECT_TRUE(s.Merged("c") == ref) << "2 ranks differ from 1";
  // Upstream's per-query video encoding (no shared video tokens): identical.
  ASSERT_EQ(Sh(s.Run("d", "--set runner.share_video_tokens=false")), 0) << ReadText(s.dir + "/d.log");
  EXPECT_TRUE(s.Merged("d") == ref) << "per-query video encoding differs";
  // SIGKILL after the first clip is committed, then resume: identical, the finished clip kept.
  {
    Background job(s.Run("e"));
    ASSERT_TRUE(WaitFor([&] { return s.Done("e") >= 1; }, 300)) << ReadText(s.dir + "/e.log");
    kill(-job.pid(), SIGKILL);
    job.Wait();
  }
  ASSERT_EQ(s.Done("e"), 1) << "the kill came too late to interrupt the run";
  // The committed clip's output (another clip's output may exist without its done record).
  fs::path kept;
  for (const auto& e : fs::recursive_directory_iterator(s.Out("e") + "/done"))
    if (e.is_regular_file() && e.path().extension() == ".json")
      kept = fs::path(s.Out("e")) / "clips" / fs::relative(e.path(), s.Out("e") + "/done");
  ASSERT_TRUE(fs::exists(kept)) << kept;
  const auto kept_mtime = fs::last_write_time(kept);
  ASSERT_EQ(Sh(s.Run("e")), 0) << ReadText(s.dir + "/e.log");
  EXPECT_EQ(fs::last_write_time(kept), kept_mtime);  // the finished clip was not redone
  EXPECT_TRUE(s.Merged("e") == ref) << "kill + resume differs";
}

// A missing record stops the run up front (before any model is loaded) with the prepare command; with
// --allow-missing-records that clip fails (exit 3, named) and the other finishes; once the record is
// back, a plain rerun retries it (the failure's cause is gone).
TEST(PipelineRun, MissingRecordStopsTheRunUpFrontOrFailsThatClipUntilItExists) {
  testing::TempDir tmp;
  Synth s(tmp.Join("synth"));
  std::string removed;
  for (const auto& e : fs::directory_iterator(s.dir + "/records/val"))
    if (e.path().extension() == ".h5" && removed.empty()) removed = e.path();
  ASSERT_FALSE(removed.empty());
  fs::rename(removed, tmp.Join("aside.h5"));
  EXPECT_EQ(Sh(s.Run("m")), 1) << ReadText(s.dir + "/m.log");
  const std::string log = ReadText(s.dir + "/m.log");
  EXPECT_NE(log.find("1 of 2 clips of split val have no record"), std::string::npos) << log;
  EXPECT_NE(log.find("vq2d prepare --config " + s.config + " --split val"), std::string::npos) << log;
  EXPECT_EQ(log.find("[run] models:"), std::string::npos) << "models were loaded before the check:\n" << log;
  EXPECT_FALSE(fs::exists(s.Out("m") + "/run.json"));

  EXPECT_EQ(Sh(s.Run("m", "--allow-missing-records")), 3) << ReadText(s.dir + "/m.log");
  EXPECT_EQ(s.Done("m"), 1);
  ASSERT_EQ(Sh(Vq2d() + " status " + s.Out("m") + " > " + s.dir + "/ms.log 2>&1"), 0);
  EXPECT_NE(ReadText(s.dir + "/ms.log").find("vq2d prepare"), std::string::npos) << ReadText(s.dir + "/ms.log");
  // Still missing: the failure stays (exit 3, nothing redone).
  EXPECT_EQ(Sh(s.Run("m", "--allow-missing-records")), 3) << ReadText(s.dir + "/m.log");
  fs::rename(tmp.Join("aside.h5"), removed);
  EXPECT_EQ(Sh(s.Run("m")), 0) << ReadText(s.dir + "/m.log");
  EXPECT_EQ(s.Done("m"), 2);
}

// `vq2d run` before `vq2d prepare`: stops at once with the command to run.
TEST(PipelineRun, RunBeforePrepareNamesThePrepareCommand) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("synth");
  ASSERT_EQ(Sh(Vq2d() + " synth --out " + dir + " --clips 2 --seed 5 > " + dir + ".synth.log 2>&1"), 0);
  EXPECT_EQ(Sh(Vq2d() + " run --config " + dir + "/config.yaml > " + dir + ".run.log 2>&1"), 1);
  const std::string log = ReadText(dir + ".run.log");
  EXPECT_NE(log.find("2 of 2 clips of split val have no record"), std::string::npos) << log;
  EXPECT_NE(log.find("vq2d prepare --config " + dir + "/config.yaml --split val"), std::string::npos) << log;
  EXPECT_NE(log.find("slurm/vq2d_prepare.sh"), std::string::npos) << log;
}

}  // namespace
}  // namespace vq2d
