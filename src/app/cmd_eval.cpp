// vq2d eval: the official Ego4D VQ2D evaluator (and REN's local evaluation with --local).
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include "app/args.h"
#include "app/commands.h"
#include "app/job_setup.h"
#include "vq2d/io/config.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/evaluate.h"

namespace vq2d::app {

using io::CollateRenPredictionDir;
using io::Config;
using io::LoadConfig;
using io::ResolveOutputDir;
using io::EvaluatePredictions;
using io::EvaluateRenLocal;
using io::EvaluationResult;
using io::FormatOfficialReport;
using io::FormatRenLocalReport;
using io::LoadAnnotations;
using io::MetricsOptions;
using io::MetricsToJson;
using io::PerQueryCsv;
namespace {

Status WriteOutput(const std::string& path, const std::string& data) {
  FileSystem* fs = FileSystem::Default();
  std::string dir = DirName(path);
  if (!dir.empty() && dir != "." && !fs->IsDirectory(dir)) VQ2D_RETURN_IF_ERROR(fs->CreateDirs(dir));
  return WriteFileAtomic(fs, path, data, std::to_string(::getpid()));
}

}  // namespace

int RunEval(const Args& args) {
  std::string predictions, annotations, json_out, csv_out, config_path, split;
  std::vector<std::string> sets;
  bool local = false, zero_div = false;
  ArgParser p("vq2d eval",
              "Scores VQ2D predictions exactly as the official Ego4D evaluator (VQ2D/evaluate_vq.py): validation,\n"
              "tAP/stAP @ {0.25,0.5,0.75,0.95}, success @ st-IoU>=0.05, recovery % @ IoU>=0.5, numpy<=1.24 tie order.\n"
              "With --local: REN's local evaluation of its own per-clip prediction files (GT from '<id>-gt' entries,\n"
              "in REN's record pixels; not official numbers).\n"
              "With --config (or predictions written by `vq2d merge` into a run directory) the predictions and\n"
              "the annotation file come from the run (its run.json).");
  p.AddString("--config", &config_path, "configuration file: finds the run, its predictions.json and annotations");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "split of the run with --config (overrides visual_query.split)");
  p.AddString("--predictions", &predictions,
              "predictions JSON (official layout); with --local: a REN per-clip prediction directory or a collated "
              "file (default with --config: the run's predictions.json)");
  p.AddString("--annotations", &annotations,
              "annotation JSON (vq_val.json layout; default: the run's, from run.json next to the predictions)");
  p.AddString("--out", &json_out, "write all metrics as JSON to this file");
  p.AddString("--json", &json_out, "alias of --out");
  p.AddString("--per-query", &csv_out, "write per-query IoUs as CSV to this file");
  p.AddBool("--local", &local, "REN-local evaluation (REN eval.py collate + '-gt' entries)");
  p.AddBool("--zero-division-iou-zero", &zero_div,
            "fix: score an IoU whose denominator is 0 (zero-area GT and prediction) as 0 instead of failing like "
            "upstream's ZeroDivisionError");
  if (int rc = p.Parse(args); rc >= 0) return rc;

  FileSystem* fs = FileSystem::Default();
  std::string run_dir;
  std::optional<Config> config;
  if (!config_path.empty() && !local) {
    if (!split.empty()) sets.push_back("visual_query.split=" + split);
    auto c = LoadConfig(config_path, sets);
    if (!c.ok()) {
      std::fprintf(stderr, "vq2d eval: %s\n", c.status().ToString().c_str());
      return 1;
    }
    config = std::move(c).value();
    if (predictions.empty()) {
      run_dir = ResolveOutputDir(*config, fs);
      predictions = JoinPath(run_dir, "predictions.json");
      if (!fs->Exists(predictions)) {
        std::fprintf(stderr, "vq2d eval: no predictions at %s: merge the run first: vq2d merge --config %s --split %s\n",
                     predictions.c_str(), config_path.c_str(), config->visual_query.split.c_str());
        return 1;
      }
    }
  }
  if (predictions.empty()) {
    std::fprintf(stderr, "vq2d eval: --predictions (or --config) is required\n");
    return 2;
  }
  if (!local && annotations.empty()) {
    if (run_dir.empty()) run_dir = DirName(predictions);
    const RunInfo info = ReadRunInfo(fs, run_dir);
    const std::string sp = !info.split.empty() ? info.split : config ? config->visual_query.split : "";
    if (sp == "test") {
      std::fprintf(stderr,
                   "vq2d eval: %s are predictions of the test split, whose annotations are not public: make the "
                   "eval.ai file instead: vq2d submit %s --out submission.json\n",
                   predictions.c_str(),
                   config_path.empty() ? ("--predictions " + predictions).c_str() : ("--config " + config_path).c_str());
      return 2;
    }
    annotations = !info.annotations.empty() ? info.annotations : config ? config->AnnotationsFile(sp) : "";
    if (!annotations.empty()) std::printf("[eval] annotations %s (from the run)\n", annotations.c_str());
  }

  MetricsOptions options;
  options.zero_division_iou_zero = zero_div;
  Result<EvaluationResult> result = Status::Internal("not run");
  if (local) {
    std::string text, source = predictions;
    if (fs->IsDirectory(predictions)) {
      auto collated = CollateRenPredictionDir(predictions);
      if (!collated.ok()) {
        std::fprintf(stderr, "vq2d eval: %s\n", collated.status().message().c_str());
        return 1;
      }
      text = std::move(*collated);
    } else {
      if (!fs->Exists(predictions)) {
        std::fprintf(stderr, "vq2d eval: predictions '%s' do not exist\n", predictions.c_str());
        return 1;
      }
      auto t = fs->ReadFile(predictions);
      if (!t.ok()) {
        std::fprintf(stderr, "vq2d eval: %s\n", t.status().ToString().c_str());
        return 1;
      }
      text = std::move(*t);
    }
    std::printf("Evaluating cached predictions from %s\n", predictions.c_str());
    result = EvaluateRenLocal(text, source, options);
  } else {
    if (annotations.empty()) {
      std::fprintf(stderr, "vq2d eval: --annotations is required (unless --local, or the predictions are in a run "
                           "directory with its run.json, or --config finds the run)\n");
      return 2;
    }
    std::printf("Starting Evaluation.....\n");
    auto gt = LoadAnnotations(annotations);
    if (!gt.ok()) {
      std::fprintf(stderr, "vq2d eval: %s\n", gt.status().message().c_str());
      return 1;
    }
    if (!fs->Exists(predictions)) {
      std::fprintf(stderr, "vq2d eval: predictions file '%s' does not exist\n", predictions.c_str());
      return 1;
    }
    auto text = fs->ReadFile(predictions);
    if (!text.ok()) {
      std::fprintf(stderr, "vq2d eval: %s\n", text.status().ToString().c_str());
      return 1;
    }
    result = EvaluatePredictions(*text, predictions, *gt, options);
  }
  if (!result.ok()) {
    std::fflush(stdout);
    std::fprintf(stderr, "vq2d eval: %s\n", result.status().message().c_str());
    return 1;
  }
  std::printf("%s", local ? FormatRenLocalReport(*result).c_str() : FormatOfficialReport(*result).c_str());
  std::fflush(stdout);
  if (!json_out.empty()) {
    if (Status s = WriteOutput(json_out, MetricsToJson(*result)); !s.ok()) {
      std::fprintf(stderr, "vq2d eval: writing %s: %s\n", json_out.c_str(), s.ToString().c_str());
      return 1;
    }
  }
  if (!csv_out.empty()) {
    if (Status s = WriteOutput(csv_out, PerQueryCsv(*result)); !s.ok()) {
      std::fprintf(stderr, "vq2d eval: writing %s: %s\n", csv_out.c_str(), s.ToString().c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace vq2d::app
