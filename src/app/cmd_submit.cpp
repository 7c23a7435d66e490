// vq2d submit: writes the eval.ai VQ2D submission from REN-format predictions (REN submit.py).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/submission.h"

namespace vq2d::app {

using io::BuildSubmission;
using io::LoadAnnotations;
using io::ReadPredictionInputs;

int RunSubmit(const Args& args) {
  std::string predictions, annotations, out;
  bool quiet = false;
  ArgParser p("vq2d submit",
              "Builds the eval.ai VQ2D challenge file as REN's submit.py: rescales boxes from record pixels to the\n"
              "original resolution (int truncation), orders videos/clips as the test file, fills what is missing\n"
              "with the dummy prediction, validates, and writes OUT atomically only when the file is valid.");
  p.AddString("--predictions", &predictions,
              "a directory of REN per-clip prediction files '<run_id>-<clip_uid>.json' (with frame_height/"
              "frame_width per video) or one collated file",
              /*required=*/true);
  p.AddString("--test-annotations", &annotations, "vq_test_unannotated.json (its version is copied)", true);
  p.AddString("-o", &out, "output file (e.g. predictions.json)", true);
  p.AddBool("--quiet", &quiet, "do not print the [INFO] lines about dummy predictions");
  if (int rc = p.Parse(args); rc >= 0) return rc;

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
  FileSystem* fs = FileSystem::Default();
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
