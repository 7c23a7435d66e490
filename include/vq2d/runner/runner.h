// The distributed job runner: plans the clips of a work list over the ranks, calls a ClipProcessor
// per clip, checkpoints each clip's output crash-safely (RunStore), records every start / finish /
// failure in a per-rank journal, resumes, quarantines clips that keep killing the process, and stops
// cleanly on SIGTERM / SIGUSR1.
//
// Thread-safety: RunJob is called once per process, from the thread that owns the Collective.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vq2d/base/clock.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/base/status.h"
#include "vq2d/runner/collective.h"
#include "vq2d/runner/planner.h"

namespace vq2d::runner {

// Exit codes of `vq2d run` (and of every rank of an MPI job).
enum ExitCode : int {
  kExitOk = 0,          // every clip of the work list is done
  kExitError = 1,       // the run could not start or continue (bad config, I/O, fingerprint mismatch)
  kExitUsage = 2,       // bad command line
  kExitClipsFailed = 3, // the run ended but some clips failed or are quarantined (see `vq2d status`)
  kExitStopped = 4,     // stopped by SIGTERM/SIGUSR1 before the end: rerun the same command to resume
  kExitNoSpace = 5,     // the output directory is full or not writable: free space, then rerun the same
                        // command (clips cut short by it are pending again, no --retry-failed needed)
};

// True for an I/O error caused by a full device or quota (ENOSPC, EDQUOT).
bool IsNoSpaceError(const Status& status);

// Before any model is loaded: `out_dir` (created if needed) must accept a small synced file, and
// its filesystem must have at least `min_free_bytes` available (0: not checked). IOError naming the
// directory and what is missing (IsNoSpaceError holds when space is the problem).
Status CheckOutputWritable(FileSystem* fs, const std::string& out_dir, uint64_t min_free_bytes);


// Set by SIGTERM/SIGUSR1 (see InstallStopSignalHandlers); polled by the runner and processors.
class StopToken {
 public:
  explicit StopToken(const std::atomic<bool>* flag) : flag_(flag) {}
  bool stop_requested() const { return flag_ && flag_->load(std::memory_order_relaxed); }

 private:
  const std::atomic<bool>* flag_;
};

// Installs handlers for SIGTERM and SIGUSR1 that only set the returned flag (async-signal-safe).
std::atomic<bool>* InstallStopSignalHandlers();

struct ClipTask {
  std::string clip_uid;
  std::string video_uid;
  double cost = 0;   // the work list's estimate
  int attempt = 1;   // 1 for the first start of this clip, counting earlier runs
  // Optional (set by the runner): the processor names the stage it enters and the share of the
  // clip's work done so far (0..1). Journaled ("stage" event) and logged; `vq2d status` shows the
  // stage of clips in flight and the progress line counts the share into its rate and ETA.
  // Called from the processing thread only.
  std::function<void(const std::string& stage, double done_fraction)> report_stage;
  void ReportStage(const std::string& stage, double done_fraction) const {
    if (report_stage) report_stage(stage, done_fraction);
  }
};

struct ClipResult {
  std::string output;  // bytes of the clip's output file (for the VQ pipeline: clip_output JSON)
  nlohmann::json stats = nlohmann::json::object();  // per-stage timings and counts -> journal + done record
};

// Per-clip work. Implementations may throw: exceptions are caught and recorded as that clip's
// failure. A processor that sees stop_requested() may return Status::Cancelled to abandon the clip.
class ClipProcessor {
 public:
  virtual ~ClipProcessor() = default;
  virtual Result<ClipResult> Process(const ClipTask& task, const StopToken& stop) = 0;
  // The cause of a failure `status` of Process when it may go away without a config change (e.g. a
  // missing input file); journaled with the fail event. "" (default): the failure is sticky.
  virtual std::string FailureCause(const ClipTask& task, const Status& status) const {
    (void)task;
    (void)status;
    return "";
  }
  // At planning time (rank 0), for a failed clip with a recorded cause: false when the cause no longer
  // holds, so the clip is retried without --retry-failed. Default: it still holds.
  virtual bool FailureCauseHolds(const std::string& clip_uid, const std::string& cause) const {
    (void)clip_uid;
    (void)cause;
    return true;
  }
};

struct RunOptions {
  std::string out_dir;
  std::string label = "run";  // prefix of the summary lines ("[run] ...", "[prepare] ...")
  std::string schedule = "static";  // static | dynamic
  int max_attempts = 3;
  double progress_interval_s = 30;
  double grace_period_s = 120;
  bool retry_failed = false;         // retry clips recorded as failed or quarantined
  bool new_fingerprint_ok = false;   // move results of another fingerprint aside instead of refusing
  // No new clip is taken while the output filesystem has less than this available (0: never
  // checked; only for the default filesystem). An ENOSPC on a journal or commit write stops the rank
  // too; either way the run ends with kExitNoSpace.
  uint64_t min_free_bytes = 0;
  // What defines the results: the canonical config (results-affecting keys) and input files whose
  // sha256 enter the fingerprint (checkpoints). run.json records them to explain a mismatch.
  std::string canonical_config;
  std::vector<std::pair<std::string, std::string>> fingerprint_files;  // (name, path)
  nlohmann::json run_info = nlohmann::json::object();  // extra facts for run.json (split, annotations, ...)
};

struct RunSummary {
  int exit_code = kExitOk;
  int total = 0, done = 0, failed = 0, quarantined = 0, pending = 0;
  int processed_here = 0;  // clips this rank finished in this run
  bool stopped = false;
};

// Runs the job. `work` must be identical on every rank (same ids, order and costs). Returns an
// error when the run cannot start (the reason is printed by rank 0 and returned on every rank), or
// when this rank cannot write its journal (it then takes no more clips; returned after the end of
// the run, so that no other rank is left waiting).
Result<RunSummary> RunJob(const RunOptions& options, const std::vector<WorkItem>& work, ClipProcessor& processor,
                          Collective& collective, FileSystem* fs, Clock* clock, const std::atomic<bool>* stop_flag);

// The fingerprint: sha256 over (canonical config, the files' sha256s, vq2d version).
struct Fingerprint {
  std::string value;
  nlohmann::json components;  // {"config": ..., "files": [{name, path, sha256, bytes}], "version": ...}
};
Result<Fingerprint> ComputeFingerprint(const std::string& canonical_config,
                                       const std::vector<std::pair<std::string, std::string>>& files);

}  // namespace vq2d::runner
