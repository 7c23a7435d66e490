// `vq2d status`: the state of a run read from its output directory only (no MPI, no config needed):
// done / failed / quarantined / interrupted / pending counts, per-rank throughput, ETA, failures.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "vq2d/base/filesystem.h"
#include "vq2d/base/status.h"

namespace vq2d::runner {

struct RankThroughput {
  int clips = 0;
  double busy_s = 0;  // summed clip wall time
  double cost = 0;    // summed frames-to-search of its finished clips
};

// A clip whose latest attempt has started and not ended, and whose process still runs.
struct InFlightClip {
  std::string clip, host, since, stage, stage_since;  // times: ISO 8601 UTC from the journal
  int rank = -1;
};

struct RunStatusReport {
  std::string out_dir, fingerprint;
  // running: in flight now (a retried clip counts here, not as failed, while it runs); interrupted:
  // started, never ended, and its process is gone.
  int total = 0, done = 0, failed = 0, quarantined = 0, interrupted = 0, pending = 0, running = 0;
  std::vector<InFlightClip> in_flight;
  double remaining_cost = 0;
  std::map<int, RankThroughput> ranks;  // from finish events of the latest run
  double eta_s = -1;                    // remaining cost / summed per-rank rate; -1 when unknown
  std::vector<std::pair<std::string, std::string>> failures;  // (clip, message), failed + quarantined
  std::vector<std::string> rejected_done;  // done records present but not acceptable
  int torn_journal_lines = 0;
  std::string last_job;           // id of the latest launch (journal run_start "job"), "" if none
  bool last_job_stopped = false;  // every rank of the latest launch stopped on a signal (JournalSummary)
  // Per-stage timings summed over finished clips (from the stats the processor reported).
  std::map<std::string, double> stage_seconds;
  // Other numeric top-level stats summed over finished clips (queries, frames, REN images, ...).
  std::map<std::string, double> stat_totals;

  std::string ToText() const;
};

Result<RunStatusReport> ReadRunStatus(FileSystem* fs, const std::string& out_dir);

}  // namespace vq2d::runner
