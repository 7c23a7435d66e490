#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/args.h"
#include "app/commands.h"
#include "app/job_setup.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/config.h"
#include "vq2d/runner/merge.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using runner::kExitClipsFailed;
using runner::kExitError;
using runner::kExitOk;
using io::LoadAnnotations;
using io::LoadConfig;
using io::ResolveOutputDir;
using runner::MergePredictions;
using runner::MergeReport;

int RunMerge(const Args& args) {
  std::string config_path = "config.yaml", annotations_path, out_path;
  std::vector<std::string> sets, runs;
  ArgParser p("vq2d merge",
              "Gathers the per-clip outputs of one or more run directories into one predictions file in the "
              "official Ego4D format (original-resolution boxes), ordered exactly like the annotation file. Works "
              "after complete, partial or crashed runs: clips found in several directories are taken once, and every "
              "query without a finished clip gets an empty prediction and is reported. Exit code 0 when every "
              "query is covered, 3 when some are missing (the file is still written), 1 on errors.");
  p.AddString("--config", &config_path, "configuration file (run directory, split, annotations)");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  std::string split;
  p.AddString("--split", &split, "split of the run (overrides visual_query.split)");
  p.AddList("--run", &runs, "run output directory to merge (default: the config's)");
  p.AddString("--annotations", &annotations_path, "annotation file giving the order (default: the run's)");
  p.AddString("--out", &out_path, "output file (default: <first run dir>/predictions.json)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vq2d merge: %s\n", s.ToString().c_str());
    return static_cast<int>(kExitError);
  };
  FileSystem* fs = FileSystem::Default();
  if (runs.empty() || annotations_path.empty()) {
    if (!split.empty()) sets.push_back("visual_query.split=" + split);
    auto config = LoadConfig(config_path, sets);
    if (runs.empty()) {
      if (!config.ok()) return fail(config.status());
      runs.push_back(ResolveOutputDir(*config, fs));
    }
    if (annotations_path.empty()) {
      // The run records which annotation file it was started from.
      annotations_path = ReadRunInfo(fs, runs[0]).annotations;
      if (annotations_path.empty() && config.ok()) annotations_path = config->AnnotationsFile(config->visual_query.split);
      if (annotations_path.empty()) return fail(Status::InvalidArgument("no annotation file: pass --annotations"));
    }
  }
  if (out_path.empty()) out_path = JoinPath(runs[0], "predictions.json");
  auto annotations = LoadAnnotations(annotations_path);
  if (!annotations.ok()) return fail(annotations.status());
  MergeReport report;
  auto text = MergePredictions(fs, *annotations, runs, &report);
  if (!text.ok()) return fail(text.status());
  if (Status s = fs->CreateDirs(DirName(out_path)); !s.ok()) return fail(s);
  if (Status s = WriteFileAtomic(fs, out_path, *text, "merge"); !s.ok()) return fail(s);
  std::printf("[merge] %d/%d clips, %d/%d queries predicted -> %s\n", report.clips_found, report.clips_total,
              report.queries_predicted, report.queries_total, out_path.c_str());
  for (const auto& d : report.duplicate_clips) std::printf("[merge] duplicate clip %s: first kept\n", d.c_str());
  for (const auto& c : report.conflicting_clips)
    std::printf("[merge] WARNING clip %s: duplicate outputs differ\n", c.c_str());
  for (const auto& r : report.rejected) std::printf("[merge] output not accepted: %s\n", r.c_str());
  if (!report.missing_clips.empty()) {
    std::printf("[merge] %zu clip(s) missing (empty predictions written):\n", report.missing_clips.size());
    size_t shown = 0;
    for (const auto& m : report.missing_clips) {
      if (++shown > 50) {
        std::printf("  ... and %zu more\n", report.missing_clips.size() - 50);
        break;
      }
      std::printf("  %s\n", m.c_str());
    }
  }
  return report.complete() ? kExitOk : kExitClipsFailed;
}

}  // namespace vq2d::app
