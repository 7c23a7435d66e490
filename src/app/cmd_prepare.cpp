// vq2d prepare: builds the HDF5 clip records of a split on the runner (sharded over MPI ranks,
// resumable, failures recorded per clip). See include/vq2d/io/prepare.h and docs/data.md.
#include <cstdio>

#include "app/args.h"
#include "app/job_setup.h"
#include "app/commands.h"
#include "app/prepare_processor.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/config.h"
#include "vq2d/runner/collective.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using runner::kExitError;
using io::ClipPrepareOptions;
using io::LoadAnnotations;
using io::LoadConfig;
using io::RequireExistingPath;
using runner::Collective;
using runner::InstallStopSignalHandlers;
using runner::RunJob;
using runner::RunOptions;
using runner::WorkItem;

int RunPrepare(const Args& args) {
  std::string config_path = "config.yaml", split;
  std::vector<std::string> sets;
  long long max_clamped = 10;
  double seek_margin = -1;
  bool retry_failed = false, new_fp_ok = false;
  ArgParser p("vq2d prepare",
              "Builds one HDF5 record per clip of a split, <data.<split>_data_dir>/<clip_uid>.h5, from the full-scale\n"
              "videos <data.videos_dir>/<video_uid>.mp4 and data.<split>_annotations, exactly as upstream REN's\n"
              "prepare.py selects frames (clip_fps timestamps, black-bar trim, PIL-bicubic resize; keys prepare.*,\n"
              "fixes.apply_trim_offset). Runs on the job runner: one process, or many ranks under mpirun/srun;\n"
              "rerunning resumes; a failing clip (missing/unreadable video, bad annotation) is recorded and the\n"
              "others continue. Run state: <records_dir>/.prepare/ (vq2d status <records_dir>/.prepare).\n"
              "Exit code: 0 all clips ok, 3 some clips failed, 4 stopped (rerun to resume), 1 error, 2 usage.");
  p.AddString("--config", &config_path, "configuration file");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "train, val or test (overrides visual_query.split)");
  p.AddInt("--max-clamped-frames", &max_clamped,
           "fail a clip when more of its frame times than this lie past its video's end (-1: no limit)");
  p.AddDouble("--seek-margin", &seek_margin,
              "seconds: start decoding at a verified seek this long before a clip's first frame instead of at the "
              "video's start (same frames, less decoding for late clips; -1: off)");
  p.AddBool("--retry-failed", &retry_failed, "also retry clips recorded as failed or quarantined");
  p.AddBool("--new-fingerprint-ok", &new_fp_ok,
            "when the run state was made with other prepare settings, move it aside instead of refusing");
  if (int rc = p.Parse(args); rc >= 0) return rc;

  std::atomic<bool>* stop_flag = InstallStopSignalHandlers();
  auto job = MakeJobCollective();
  if (!job.ok()) {
    std::fprintf(stderr, "vq2d prepare: %s\n", job.status().ToString().c_str());
    return kExitError;
  }
  std::unique_ptr<Collective> coll = std::move(job).value();
  const bool leader = coll->rank() == 0;
  auto fail = [&](const Status& s) {
    if (leader) std::fprintf(stderr, "vq2d prepare: %s\n", s.ToString().c_str());
    return static_cast<int>(kExitError);
  };
  if (!split.empty()) sets.push_back("visual_query.split=" + split);
  auto config = LoadConfig(config_path, sets);
  if (!config.ok()) return fail(config.status());
  const std::string sp = config->visual_query.split;
  if (sp != "train" && sp != "val" && sp != "test") {
    return fail(Status::InvalidArgument(StrCat("split must be train, val or test, got '", sp, "'")));
  }
  if (Status s = RequireExistingPath(*config, "data." + sp + "_annotations"); !s.ok()) return fail(s);
  if (Status s = RequireExistingPath(*config, "data.videos_dir"); !s.ok()) return fail(s);
  auto annotations = LoadAnnotations(config->AnnotationsFile(sp));
  if (!annotations.ok()) return fail(annotations.status());
  const std::string records_dir = config->RecordsDir(sp);
  const std::string videos_dir = config->data.videos_dir;
  if (leader) {
    if (Status s = FileSystem::Default()->CreateDirs(records_dir); !s.ok()) return fail(s);
  }
  int nulls = 0;
  std::vector<WorkItem> work = PrepareWorkList(*annotations, &nulls);
  ClipPrepareOptions o = PrepareOptionsFromConfig(*config, sp, max_clamped);
  o.annotation_version = annotations->version;
  o.seek_margin_sec = seek_margin;
  if (leader) {
    std::printf("[prepare] split %s: %zu clips (%d with null clip_uid left out) from %s -> %s, %d rank(s)\n",
                sp.c_str(), work.size(), nulls, config->AnnotationsFile(sp).c_str(), records_dir.c_str(), coll->size());
    std::fflush(stdout);
  }
  PrepareProcessor processor(*annotations, o, videos_dir, records_dir);
  RunOptions ro = RunOptionsFromConfig(*config, JoinPath(records_dir, ".prepare"), retry_failed, new_fp_ok);
  ro.label = "prepare";
  ro.canonical_config = PrepareCanonicalConfig(o, videos_dir, records_dir);
  ro.fingerprint_files = {{"annotations", config->AnnotationsFile(sp)}};
  ro.run_info = {{"command", "prepare"}, {"split", sp}, {"annotations", config->AnnotationsFile(sp)},
                 {"records_dir", records_dir}, {"videos_dir", videos_dir}, {"config_file", config_path}};
  auto summary = RunJob(ro, work, processor, *coll, FileSystem::Default(), Clock::Default(), stop_flag);
  if (!summary.ok()) return fail(summary.status());
  if (leader) {
    std::printf("[prepare] records in %s; per-clip state: vq2d status %s\n", records_dir.c_str(), ro.out_dir.c_str());
    if (summary->stopped) std::printf("[prepare] stopped on request; rerun the same command to resume\n");
  }
  return summary->exit_code;
}

}  // namespace vq2d::app
