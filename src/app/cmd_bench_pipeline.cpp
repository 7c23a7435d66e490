// `vq2d bench pipeline`: per-clip wall time by stage of the VQ2D pipeline on a prepared split (e.g.
// the synthetic demo with its tiny models), and the REN images of the video stage with the shared
// per-clip pass vs upstream's per-query encoding (5 x query_frame per query).
#include <chrono>
#include <map>
#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "app/vq_processor.h"
#include "app/work_plan.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/runner/work_list.h"

namespace vq2d::app {

using io::LoadAnnotations;
using io::LoadConfig;
using runner::BuildWorkList;
using runner::ClipTask;
using runner::StopToken;
using runner::WorkItem;

namespace {

double Get(const nlohmann::json& j, const char* k) { return j.contains(k) ? j[k].get<double>() : 0.0; }

}  // namespace

int RunBenchPipeline(const Args& args) {
  std::string config_path = "config.yaml", split;
  std::vector<std::string> sets;
  long long max_clips = 0;
  bool no_compare = false;
  std::string calibration_out;
  ArgParser p("vq2d bench pipeline",
              "Runs the VQ2D pipeline (models from the config, loaded once) over the prepared clips of a split and "
              "prints per-clip wall time by stage. Then runs the first clip again with upstream's per-query video "
              "encoding (runner.share_video_tokens=false) and compares REN images and results. Demo: "
              "vq2d synth --out demo && vq2d prepare --config demo/config.yaml --split val && "
              "vq2d bench pipeline --config demo/config.yaml");
  p.AddString("--config", &config_path, "configuration file");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "split (default: visual_query.split)");
  p.AddInt("--clips", &max_clips, "at most this many clips (0 = all)");
  p.AddBool("--no-compare", &no_compare, "skip the per-query (upstream) comparison run");
  p.AddString("--calibration-out", &calibration_out,
              "write the per-unit seconds measured over the clips (REN image, SAM 2 encode, tracking step, "
              "descriptor image; device and precision of the config) for `vq2d plan --calibration`");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (!split.empty()) sets.push_back("visual_query.split=" + split);
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vq2d bench pipeline: %s\n", s.ToString().c_str());
    return 1;
  };
  auto config = LoadConfig(config_path, sets);
  if (!config.ok()) return fail(config.status());
  const std::string sp = config->visual_query.split;
  auto ann = LoadAnnotations(config->AnnotationsFile(sp));
  if (!ann.ok()) return fail(ann.status());
  std::vector<WorkItem> work = BuildWorkList(*ann, nullptr);
  if (max_clips > 0 && static_cast<long long>(work.size()) > max_clips) work.resize(max_clips);
  if (work.empty()) return fail(Status::NotFound("no clip with a valid query in " + config->AnnotationsFile(sp)));

  double load_s = 0;
  std::string models_described;
  auto make = [&](bool share) -> Result<std::unique_ptr<VqClipProcessor>> {
    VQ2D_ASSIGN_OR_RETURN(pipeline::EngineOptions o, EngineOptionsFromConfig(*config, 0));
    o.share_video_tokens = share;
    auto t0 = std::chrono::steady_clock::now();
    VQ2D_ASSIGN_OR_RETURN(auto engine, pipeline::VqEngine::Create(o));
    load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    models_described = engine->Describe();
    std::printf("models (%s) built and loaded in %.2f s\n", models_described.c_str(), load_s);
    return std::make_unique<VqClipProcessor>(
        std::move(engine), config->RecordsDir(sp), DebugDump{}, io::RecordReadOptions{},
        config->runner.prefetch_frames ? static_cast<int64_t>(config->runner.video_chunk_frames) : 0);
  };
  auto proc = make(config->runner.share_video_tokens);
  if (!proc.ok()) return fail(proc.status());
  const double first_load_s = load_s;
  std::map<std::string, WorkCounts> planned;
  if (!calibration_out.empty()) {
    auto plan = PlanSplit(*config, sp);
    if (!plan.ok()) return fail(plan.status());
    for (const auto& c : *plan) planned[c.item.id] = c.work;
  }
  std::vector<MeasuredClip> measured;
  // read: the record's read cost (open + frames, on the prefetch thread when runner.prefetch_frames);
  // wait: what the models waited for frames (0 without prefetch: the read is all before them).
  std::printf("\n%-38s %4s %6s %8s %7s %7s %7s %7s %7s %7s %7s %7s %6s\n", "clip", "qs", "frames", "wall_s", "read",
              "wait", "query", "video", "select", "refine", "track", "expand", "REN");
  const std::atomic<bool> no_stop{false};
  StopToken stop(&no_stop);
  nlohmann::json first_stats, first_out;
  double total = 0;
  for (const auto& w : work) {
    ClipTask task{w.id, w.video_uid, w.cost, 1, {}};
    auto t0 = std::chrono::steady_clock::now();
    auto r = (*proc)->Process(task, stop);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) return fail(r.status());
    total += wall;
    const nlohmann::json& s = r->stats;
    if (first_stats.is_null()) first_stats = s, first_out = nlohmann::json::parse(r->output);
    if (!calibration_out.empty()) {
      MeasuredClip m;
      m.predicted = planned[w.id];
      m.wall_s = wall;
      m.read_s = Get(s, "read_blocking_s");  // what reading adds to the wall time (prefetch overlaps the rest)
      const nlohmann::json mw = s.value("model_work", nlohmann::json::object());
      m.ren_images = Get(mw, "ren_images"), m.ren_s = Get(mw, "ren_s");
      m.sam2_encodes = Get(mw, "sam2_encodes"), m.sam2_s = Get(mw, "sam2_s");
      m.track_steps = Get(mw, "track_steps"), m.track_s = Get(mw, "track_s");
      m.dino_images = Get(mw, "dino_images"), m.dino_s = Get(mw, "dino_s");
      measured.push_back(m);
    }
    std::printf("%-38s %4d %6d %8.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f %6d\n", w.id.c_str(),
                s["queries"].get<int>(), s["frames"].get<int>(), wall, Get(s, "read_s"), Get(s, "read_wait_s"),
                Get(s, "query_s"), Get(s, "video_s"), Get(s, "select_s"),
                Get(s, "refine_s"), Get(s, "track_s"), Get(s, "expansion_s"), s["ren_images"].get<int>());
  }
  std::printf("total %.2f s for %zu clips (%.2f s per clip)\n", total, work.size(), total / work.size());
  if (!calibration_out.empty()) {
    Calibration cal = Calibrate(measured, first_load_s);
    cal.device = (*proc)->device();
    cal.precision = (*proc)->precision();
    cal.models = models_described;
    const Status ws = WriteFileAtomic(FileSystem::Default(), calibration_out, cal.ToJson().dump(1) + "\n", "calibration");
    if (!ws.ok()) return fail(ws);
    std::printf("calibration -> %s: REN image %.4f s, SAM 2 encode %.4f s, tracking step %.4f s, descriptor image "
                "%.4f s, read %.5f s/frame, other %.0f%% of model time\n",
                calibration_out.c_str(), cal.ren_image_s, cal.sam2_encode_s, cal.track_step_s, cal.dino_image_s,
                cal.read_s_per_frame, 100 * cal.other_fraction);
  }

  if (no_compare) return 0;
  // Upstream encodes frames [0, query_frame) for every query: 5 REN images per frame (full frame +
  // 2x2 crops). The shared pass encodes each frame once per clip.
  int64_t upstream_formula = 0, max_t = 0;
  for (const auto& q : first_out["extra"]["queries"]) {
    upstream_formula += 5 * q["query_frame"].get<int64_t>();
    max_t = std::max(max_t, q["query_frame"].get<int64_t>());
  }
  auto up = make(false);
  if (!up.ok()) return fail(up.status());
  ClipTask task{work[0].id, work[0].video_uid, work[0].cost, 1, {}};
  auto t0 = std::chrono::steady_clock::now();
  auto r = (*up)->Process(task, stop);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!r.ok()) return fail(r.status());
  auto same = [](nlohmann::json a, nlohmann::json b) {
    a.erase("extra");
    b.erase("extra");
    return a == b;
  };
  const bool identical = same(first_out, nlohmann::json::parse(r->output));
  std::printf("\nvideo-stage REN images on clip %s (%zu queries, query frames up to %lld):\n", work[0].id.c_str(),
              first_out["queries"].size(), static_cast<long long>(max_t));
  std::printf("  shared per-clip pass (runner.share_video_tokens=%s): %d images, video stage %.2f s\n",
              config->runner.share_video_tokens ? "true" : "false", first_stats["ren_images"].get<int>(),
              Get(first_stats, "video_s"));
  std::printf("  upstream per-query encoding: %d images (5 x sum of query frames = %lld), video stage %.2f s, clip %.2f s\n",
              r->stats["ren_images"].get<int>(), static_cast<long long>(upstream_formula), Get(r->stats, "video_s"),
              wall);
  std::printf("  outputs identical: %s\n", identical ? "yes" : "NO");
  return identical ? 0 : 1;
}

}  // namespace vq2d::app
