// vq2d eval: the official Ego4D VQ2D evaluator (and REN's local evaluation with --local).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/evaluate.h"

namespace vq2d::app {

using io::CollateRenPredictionDir;
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
  std::string predictions, annotations, json_out, csv_out;
  bool local = false, zero_div = false;
  ArgParser p("vq2d eval",
              "Scores VQ2D predictions exactly as the official Ego4D evaluator (VQ2D/evaluate_vq.py): validation,\n"
              "tAP/stAP @ {0.25,0.5,0.75,0.95}, success @ st-IoU>=0.05, recovery % @ IoU>=0.5, numpy<=1.24 tie order.\n"
              "With --local: REN's local evaluation of its own per-clip prediction files (GT from '<id>-gt' entries,\n"
              "in REN's record pixels; not official numbers).");
  p.AddString("--predictions", &predictions,
              "predictions JSON (official layout); with --local: a REN per-clip prediction directory or a collated "
              "file",
              /*required=*/true);
  p.AddString("--annotations", &annotations, "annotation JSON (vq_val.json layout); required unless --local");
  p.AddString("--json", &json_out, "write all metrics as JSON to this file");
  p.AddString("--per-query", &csv_out, "write per-query IoUs as CSV to this file");
  p.AddBool("--local", &local, "REN-local evaluation (REN eval.py collate + '-gt' entries)");
  p.AddBool("--zero-division-iou-zero", &zero_div,
            "fix: score an IoU whose denominator is 0 (zero-area GT and prediction) as 0 instead of failing like "
            "upstream's ZeroDivisionError");
  if (int rc = p.Parse(args); rc >= 0) return rc;

  MetricsOptions options;
  options.zero_division_iou_zero = zero_div;
  FileSystem* fs = FileSystem::Default();
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
      std::fprintf(stderr, "vq2d eval: --annotations is required (unless --local)\n");
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
