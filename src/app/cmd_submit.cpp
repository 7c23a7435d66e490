// vq2d submit: writes the eval.ai VQ2D submission from REN-format predictions (REN submit.py).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "app/args.h"
#include "app/commands.h"
#include "app/job_setup.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/config.h"
#include "vq2d/io/submission.h"
#include "vq2d/runner/run_status.h"
#include "vq2d/runner/run_store.h"

namespace vq2d::app {
namespace {

constexpr double kMaxMissingPercent = 5.0;  // more test clips missing than this: refuse

// The test clips (with a valid query set) that the run in `run_dir` has not finished; sets *stale to
// a finished clip whose done record is newer than `predictions` (merged before it finished), if any.
// False when `run_dir` is not a readable run directory.
bool UnfinishedClips(FileSystem* fs, const std::string& run_dir, const std::string& predictions,
                     const io::AnnotationFile& gt, std::vector<std::string>* missing, std::string* stale) {
  auto st = runner::ReadRunStatus(fs, run_dir);
  if (!st.ok()) return false;
  const runner::RunStore store(fs, run_dir);
  const auto done = store.ScanDone(st->fingerprint);
  for (const auto& v : gt.videos) {
    for (const auto& c : v.clips) {
      bool valid = false;
      for (const auto& a : c.annotations)
        for (const auto& q : a.query_sets) valid = valid || q.is_valid;
      if (valid && (!c.clip_uid || !done.count(*c.clip_uid))) missing->push_back(c.clip_uid ? *c.clip_uid : "None");
    }
  }
  std::error_code ec;
  const auto pred_time = std::filesystem::last_write_time(predictions, ec);
  if (ec || fs->IsDirectory(predictions)) return true;
  for (const auto& [uid, rec] : done) {
    const auto t = std::filesystem::last_write_time(store.DoneRecordPath(uid), ec);
    if (!ec && t > pred_time) {
      *stale = uid;
      break;
    }
  }
  return true;
}

}  // namespace

using io::BuildSubmission;
using io::LoadAnnotations;
using io::LoadConfig;
using io::ResolveOutputDir;
using io::ReadPredictionInputs;

int RunSubmit(const Args& args) {
  std::string predictions, annotations, out, config_path, split = "test";
  std::vector<std::string> sets;
  bool quiet = false, allow_missing = false, allow_split = false;
  ArgParser p("vq2d submit",
              "Builds the eval.ai VQ2D challenge file as REN's submit.py: rescales boxes from record pixels to the\n"
              "original resolution (int truncation), orders videos/clips as the test file, fills what is missing\n"
              "with the dummy prediction, validates, and writes OUT atomically only when the file is valid.\n"
              "With --config: the predictions of the config's test run (<run dir>/predictions.json, from\n"
              "`vq2d merge`) and data.test_annotations. Refuses predictions of another split (run.json) and\n"
              "predictions that leave more than 5% of the test clips unfinished (the run's done records; REN prediction\n"
              "files: without a box; any missing clip is a warning), and a predictions.json older than a finished clip.");
  p.AddString("--config", &config_path, "configuration file: finds the run, its predictions and the test annotations");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "split of the run with --config (default test)");
  p.AddString("--predictions", &predictions,
              "a directory of REN per-clip prediction files '<run_id>-<clip_uid>.json' (with frame_height/"
              "frame_width per video) or one collated file (default with --config: the run's predictions.json)");
  p.AddString("--test-annotations", &annotations,
              "vq_test_unannotated.json (its version is copied; default with --config: data.test_annotations)");
  p.AddString("--out", &out, "output file (e.g. submission.json)");
  p.AddString("-o", &out, "alias of --out");
  p.AddBool("--allow-missing", &allow_missing, "write the file even when more than 5% of the test clips are missing");
  p.AddBool("--allow-split-mismatch", &allow_split, "submit predictions of a run of another split than test");
  p.AddBool("--quiet", &quiet, "do not print the [INFO] lines about dummy predictions");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  auto usage = [](const std::string& m) {
    std::fprintf(stderr, "vq2d submit: %s\n", m.c_str());
    return 2;
  };
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "vq2d submit: %s\n", m.c_str());
    return 1;
  };
  if (out.empty()) return usage("--out is required");
  FileSystem* fs = FileSystem::Default();
  std::string run_dir;  // where run.json (the split of the predictions) is looked for
  if (!config_path.empty()) {
    sets.push_back("visual_query.split=" + split);
    auto config = LoadConfig(config_path, sets);
    if (!config.ok()) return fail(config.status().ToString());
    if (annotations.empty()) annotations = config->AnnotationsFile("test");
    if (predictions.empty()) {
      run_dir = ResolveOutputDir(*config, fs);
      predictions = JoinPath(run_dir, "predictions.json");
      if (!fs->Exists(predictions))
        return fail(StrCat("no predictions at ", predictions, ": merge the run first: vq2d merge --config ",
                           config_path, " --split ", split));
    }
  }
  if (predictions.empty()) return usage("--predictions (or --config) is required");
  if (annotations.empty()) return usage("--test-annotations (or --config with data.test_annotations) is required");
  if (run_dir.empty()) run_dir = fs->IsDirectory(predictions) ? predictions : DirName(predictions);
  const RunInfo info = ReadRunInfo(fs, run_dir);
  if (!info.split.empty()) {
    std::printf("[submit] predictions of split %s (run %s)\n", info.split.c_str(), run_dir.c_str());
    if (info.split != "test" && !allow_split)
      return fail(StrCat("the predictions ", predictions, " come from a run of split ", info.split,
                         ", not test: an eval.ai file from them would score nothing. Run the test split "
                         "(vq2d run --config C --split test; slurm/vq2d_test.sh), or pass --allow-split-mismatch"));
  } else {
    std::printf("[submit] split of the predictions unknown (no run.json in %s)\n", run_dir.c_str());
  }

  auto gt = LoadAnnotations(annotations);
  if (!gt.ok()) {
    std::fprintf(stderr, "vq2d submit: %s\n", gt.status().message().c_str());
    return 1;
  }
  auto files = ReadPredictionInputs(predictions);
  if (!files.ok()) {
    std::fprintf(stderr, "vq2d submit: %s\n", files.status().message().c_str());
    return 1;
  }
  auto build = BuildSubmission(*files, *gt);
  if (!build.ok()) {
    std::fprintf(stderr, "vq2d submit: %s\n", build.status().message().c_str());
    return 1;
  }
  if (!quiet) {
    for (const auto& n : build->notes) std::printf("%s\n", n.c_str());
  }
  if (!build->validation.ok()) {
    std::fprintf(stderr, "vq2d submit: refusing to write %s: the submission is invalid: %s\n", out.c_str(),
                 build->validation.message().c_str());
    return 1;
  }
  // Coverage. Predictions of a run: the test clips it has not finished (its done records), and
  // predictions.json must not predate a finished clip. Otherwise (REN prediction files): clips without
  // any predicted box, which is how `vq2d merge` writes a clip the run did not finish.
  std::vector<std::string> missing;
  std::string stale, where = StrCat("have no predicted box in ", predictions);
  if (!info.split.empty() && UnfinishedClips(fs, run_dir, predictions, *gt, &missing, &stale)) {
    where = StrCat("are not finished in run ", run_dir);
    if (!stale.empty())
      return fail(StrCat(predictions, " is older than the run's finished clip ", stale,
                         ": merge again first: vq2d merge --run ", run_dir));
  } else {
    missing = build->uncovered_clips;
  }
  if (!missing.empty()) {
    const double pct = 100.0 * static_cast<double>(missing.size()) / static_cast<double>(build->clips_total);
    const bool too_many = pct > kMaxMissingPercent;
    std::fprintf(stderr, "vq2d submit: %s: %zu of %zu test clips (%.1f%%) %s (first: %s)\n",
                 too_many && !allow_missing ? "ERROR" : "WARNING", missing.size(), build->clips_total, pct,
                 where.c_str(), missing[0].c_str());
    if (too_many && !allow_missing)
      return fail(StrCat("refusing to write ", out, ": more than ", kMaxMissingPercent,
                         "% of the test clips are missing (finish the run: vq2d status; or pass --allow-missing)"));
  }
  std::string dir = DirName(out);
  if (!dir.empty() && dir != "." && !fs->IsDirectory(dir)) {
    if (Status s = fs->CreateDirs(dir); !s.ok()) {
      std::fprintf(stderr, "vq2d submit: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (Status s = WriteFileAtomic(fs, out, build->submission_json, std::to_string(::getpid())); !s.ok()) {
    std::fprintf(stderr, "vq2d submit: writing %s: %s\n", out.c_str(), s.ToString().c_str());
    return 1;
  }
  std::printf("Saved predictions json at %s (%zu prediction files; dummies: %zu videos, %zu clips, %zu query sets; %zu "
              "valid queries)\n",
              out.c_str(), files->size(), build->dummy_videos, build->dummy_clips, build->dummy_query_sets,
              gt->NumValidQuerySets());
  return 0;
}

}  // namespace vq2d::app
