#include <algorithm>
#include <cstdio>

#include "app/args.h"
#include "app/job_setup.h"
#include "app/run_command.h"
#include "vq2d/io/annotations.h"
#include "vq2d/runner/work_list.h"

namespace vq2d::app {

using runner::kExitError;
using runner::kExitNoSpace;
using runner::kExitStopped;
using io::CanonicalConfig;
using io::LoadAnnotations;
using io::LoadConfig;
using io::RequireExistingPath;
using runner::BuildWorkList;
using runner::CheckOutputWritable;
using runner::Collective;
using runner::InstallStopSignalHandlers;
using runner::IsNoSpaceError;
using runner::RunJob;
using runner::RunOptions;
using runner::WorkItem;
using runner::WorkListReport;

int RunRun(const Args& args) { return RunRunWith(args, PipelineProcessorFactory()); }

int RunRunWith(const Args& args, const ProcessorFactory& factory) {
  std::string config_path = "config.yaml", split;
  std::vector<std::string> sets;
  bool retry_failed = false, new_fp_ok = false, allow_missing_records = false;
  ProcessorExtras extras;
  ArgParser p("vq2d run",
              "Runs the VQ2D pipeline over every clip of the configured split as one job (single process, or "
              "one rank per GPU under mpirun/srun). Rerunning the same command resumes: finished clips are kept, "
              "failed and quarantined clips are skipped (see --retry-failed). Output: "
              "<visual_query.save_dir>/<visual_query.exp_name>/ for val, <visual_query.save_dir>/<visual_query.exp_name>_<split>/ "
              "for the other splits.");
  p.AddString("--config", &config_path, "configuration file");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "split to run (overrides visual_query.split)");
  p.AddBool("--retry-failed", &retry_failed, "also retry clips recorded as failed or quarantined");
  p.AddBool("--new-fingerprint-ok", &new_fp_ok,
            "when the output directory holds results of another configuration, move them to superseded/ "
            "and start afresh instead of refusing");
  p.AddBool("--allow-missing-records", &allow_missing_records,
            "run even when some clips have no record yet (those fail, and are retried by a later run once "
            "`vq2d prepare` has written their record)");
  p.AddString("--debug-dump", &extras.debug_dump_dir,
              "write the per-stage trace (inputs, every stage's candidates, scores, tracks, stats) of one clip "
              "as DIR/<clip_uid>.json and its tensors (query tokens, video objects) as DIR/<clip_uid>.safetensors");
  p.AddString("--debug-clip", &extras.debug_clip, "clip for --debug-dump (default: the first clip of the work list)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (!extras.debug_clip.empty() && extras.debug_dump_dir.empty()) {
    std::fprintf(stderr, "vq2d run: --debug-clip needs --debug-dump DIR\n");
    return 2;
  }

  std::atomic<bool>* stop_flag = InstallStopSignalHandlers();
  auto job = MakeJobCollective();
  if (!job.ok()) {
    std::fprintf(stderr, "vq2d run: %s\n", job.status().ToString().c_str());
    return kExitError;
  }
  std::unique_ptr<Collective> coll = std::move(job).value();
  const bool leader = coll->rank() == 0;
  // Errors before the job starts are identical on every rank; rank 0 reports them.
  auto fail = [&](const Status& s) {
    if (leader) std::fprintf(stderr, "vq2d run: %s\n", s.ToString().c_str());
    return static_cast<int>(kExitError);
  };
  if (!split.empty()) sets.push_back("visual_query.split=" + split);
  auto config = LoadConfig(config_path, sets);
  if (!config.ok()) return fail(config.status());
  const std::string& sp = config->visual_query.split;
  const std::string ann_key = "data." + sp + "_annotations";
  if (Status s = RequireExistingPath(*config, ann_key); !s.ok()) return fail(s);
  auto annotations = LoadAnnotations(config->AnnotationsFile(sp));
  if (!annotations.ok()) return fail(annotations.status());
  WorkListReport wl_report;
  std::vector<WorkItem> work = BuildWorkList(*annotations, &wl_report);
  if (leader) {
    std::printf("[run] split %s: %zu clips to process (%d with null clip_uid and %d without valid queries left out), "
                "%d rank(s), backend %s\n",
                sp.c_str(), work.size(), wl_report.null_clip_uid, wl_report.no_valid_queries, coll->size(),
                coll->backend().c_str());
    for (const auto& d : wl_report.duplicate_clips) std::printf("[run] clip %s is listed twice; processed once\n", d.c_str());
    if (static_cast<size_t>(coll->size()) > work.size())
      std::printf("[run] WARNING: %d ranks for %zu clips: %zu rank(s) will have nothing to do\n", coll->size(),
                  work.size(), static_cast<size_t>(coll->size()) - work.size());
    std::fflush(stdout);
  }

  // Config errors (a missing checkpoint) first, then the records: both before any model is loaded.
  if (factory.validate) {
    if (Status s = factory.validate(*config); !s.ok()) {
      if (leader) std::fprintf(stderr, "vq2d run: %s\n", s.ToString().c_str());
      return kExitError;
    }
  }
  // A run started before `prepare` stops here.
  if (factory.missing_inputs) {
    const std::vector<std::string> missing = factory.missing_inputs(*config, work);
    if (!missing.empty() && (!allow_missing_records || missing.size() == work.size())) {
      if (leader) {
        std::string prepare = "vq2d prepare --config " + config_path + " --split " + sp;
        for (const auto& s : sets)
          if (s.rfind("visual_query.split=", 0) != 0) prepare += " --set " + s;
        std::fprintf(stderr,
                     "vq2d run: %zu of %zu clips of split %s have no record in %s (first: %s).\n"
                     "  Build them first (resumable; on Slurm: sbatch slurm/vq2d_prepare.sh %s --split %s):\n"
                     "    %s\n",
                     missing.size(), work.size(), sp.c_str(), config->RecordsDir(sp).c_str(), missing[0].c_str(),
                     config_path.c_str(), sp.c_str(), prepare.c_str());
        if (missing.size() < work.size())
          std::fprintf(stderr, "  or pass --allow-missing-records to run the %zu clips that have one.\n",
                       work.size() - missing.size());
      }
      return kExitError;
    }
    if (!missing.empty() && leader)
      std::printf("[run] %zu clip(s) without a record will fail now and be retried once prepared\n", missing.size());
  }

  if (!extras.debug_dump_dir.empty() && extras.debug_clip.empty() && !work.empty()) extras.debug_clip = work[0].id;
  if (!extras.debug_clip.empty() && leader &&
      std::none_of(work.begin(), work.end(), [&](const WorkItem& w) { return w.id == extras.debug_clip; })) {
    std::printf("[run] --debug-clip %s is not in the work list; nothing will be dumped\n", extras.debug_clip.c_str());
  } else if (!extras.debug_clip.empty() && leader) {
    std::printf("[run] --debug-dump: clip %s -> %s/ (only if it is processed in this run, not when already done)\n",
                extras.debug_clip.c_str(), extras.debug_dump_dir.c_str());
  }
  // The output directory must take writes (and have runner.min_free_mb available) before any model
  // is loaded: a full disk is found in seconds, not after the first clip. Every rank checks and votes.
  Status writable = CheckOutputWritable(FileSystem::Default(), config->OutputDir(),
                                        static_cast<uint64_t>(config->runner.min_free_mb) << 20);
  auto all_writable = coll->AllTrue(writable.ok());
  if (!all_writable.ok()) {
    std::fprintf(stderr, "vq2d run [rank %d]: %s\n", coll->rank(), all_writable.status().ToString().c_str());
    coll->Abort(kExitError);
  }
  if (!writable.ok() || !*all_writable) {
    if (!writable.ok()) std::fprintf(stderr, "vq2d run [rank %d]: %s\n", coll->rank(), writable.ToString().c_str());
    return IsNoSpaceError(writable) || writable.ok() ? kExitNoSpace : kExitError;
  }
  auto processor = factory.make(*config, *coll, extras);
  // Every rank votes, so a failure on some ranks (device, memory) never leaves the others waiting.
  auto all_ok = coll->AllTrue(processor.ok());
  if (!all_ok.ok()) {
    std::fprintf(stderr, "vq2d run [rank %d]: %s\n", coll->rank(), all_ok.status().ToString().c_str());
    coll->Abort(kExitError);
  }
  if (!processor.ok()) {
    if (leader || coll->size() == 1 || processor.status().code() != StatusCode::kFailedPrecondition)
      std::fprintf(stderr, "vq2d run [rank %d]: %s\n", coll->rank(), processor.status().ToString().c_str());
    return kExitError;
  }
  if (!*all_ok) return kExitError;  // another rank failed and said why

  RunOptions o = RunOptionsFromConfig(*config, ResolveOutputDir(*config, FileSystem::Default()), retry_failed, new_fp_ok);
  o.canonical_config = CanonicalConfig(*config, /*results_only=*/true);
  o.fingerprint_files = factory.fingerprint_files(*config);
  o.run_info = {{"split", sp}, {"annotations", config->AnnotationsFile(sp)}, {"records_dir", config->RecordsDir(sp)},
                {"config_file", config_path}};
  auto summary = RunJob(o, work, **processor, *coll, FileSystem::Default(), Clock::Default(), stop_flag);
  if (!summary.ok()) return fail(summary.status());
  if (summary->stopped && leader)
    std::printf("[run] stopped on request; rerun the same command to resume (exit code %d)\n", kExitStopped);
  return summary->exit_code;
}

}  // namespace vq2d::app
