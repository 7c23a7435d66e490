// RunStore: the on-disk state of a run in its output directory, and the crash-safe per-clip
// checkpoint protocol (docs/runner.md).
//
// Layout (<out> = <visual_query.save_dir>/<visual_query.exp_name>):
//   run.json                 fingerprint of the run and its inputs (written once, atomically)
//   manifest.json            the work list: clips in annotation order with their cost
//   clips/<aa>/<clip>.json   per-clip output (<aa> = first 2 hex digits of sha256(clip uid))
//   done/<aa>/<clip>.json    done record, written after the output: fingerprint, output sha256,
//                            size, wall time, rank, host, attempt, per-stage stats
//   journal/rank-<r>.jsonl   per-rank event log (start / finish / fail / abandon / quarantine)
//   logs/rank-<r>.log        per-rank human-readable log
//
// Commit protocol for a clip: output -> tmp, fsync, rename, fsync dir; then the done record the same
// way. A clip counts as finished only if its done record parses, names the run's fingerprint, and
// the output exists with the recorded size and sha256. Anything else is redone; `*.tmp.*` leftovers
// are ignored and removed by CleanTempFiles.
//
// Thread-safety: RunStore methods may be called concurrently, except Journal appends, which each
// rank does from its Journal object (internally locked).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "vq2d/base/filesystem.h"
#include "vq2d/base/status.h"

namespace vq2d::runner {

struct DoneRecord {
  std::string clip_uid;
  std::string fingerprint;
  std::string output_sha256;
  uint64_t output_bytes = 0;
  double wall_s = 0;
  int rank = 0;
  std::string host;
  int attempt = 0;
  std::string finished_at;
  nlohmann::json stats = nlohmann::json::object();  // per-stage timings and counts

  nlohmann::json ToJson() const;
  static Result<DoneRecord> FromJson(const nlohmann::json& j);
};

class RunStore {
 public:
  RunStore(FileSystem* fs, std::string out_dir);

  const std::string& out_dir() const { return out_dir_; }
  FileSystem* fs() const { return fs_; }

  std::string RunFilePath() const;
  std::string ManifestPath() const;
  std::string ClipOutputPath(const std::string& clip_uid) const;
  std::string DoneRecordPath(const std::string& clip_uid) const;
  std::string JournalPath(int rank) const;
  std::string LogPath(int rank) const;

  // Creates the directory skeleton.
  Status Init();

  // Publishes `output` then its done record (fills record->output_sha256 / output_bytes).
  // `tmp_tag` makes temp names unique per writer (e.g. "<rank>.<pid>").
  Status CommitClip(const std::string& clip_uid, const std::string& output, DoneRecord* record,
                    const std::string& tmp_tag);

  // The done record of `clip_uid` if the clip is validly finished under `fingerprint`;
  // NotFound when absent; Corruption (with the reason) when present but not acceptable.
  Result<DoneRecord> ValidDoneRecord(const std::string& clip_uid, const std::string& fingerprint) const;

  // Scans done/: valid records by clip uid; `rejected` (optional) receives "clip: reason" lines.
  std::map<std::string, DoneRecord> ScanDone(const std::string& fingerprint,
                                             std::vector<std::string>* rejected = nullptr) const;

  // Removes leftover temp files of interrupted writes. Returns how many were removed.
  Result<int> CleanTempFiles() const;

 private:
  FileSystem* fs_;
  std::string out_dir_;
};

// Append-only JSON-lines journal of one rank, strict JSONL: every line is one JSON object, no blank
// lines. Each Append writes one whole line with one write call and fsyncs it before returning, so a
// "start" event survives a crash of the clip it announces. A torn last line (crash mid-append) is
// skipped by readers and removed by the next Open, so appends always start at a line start (the
// runner's signal handler relies on it).
class Journal {
 public:
  static Result<std::unique_ptr<Journal>> Open(FileSystem* fs, const std::string& path);
  Status Append(const nlohmann::json& event);

 private:
  Journal(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}
  std::mutex mu_;
  std::unique_ptr<WritableFile> file_;
};

// What the journals say about one clip.
struct ClipHistory {
  int starts = 0;         // attempts started (over all runs)
  int finishes = 0;
  int fails = 0;          // attempts that ended with a recorded error
  int abandons = 0;       // attempts stopped by a signal
  // Started attempts with no recorded end (the process died in the clip) that are attributable to
  // the clip: in a job of one rank, or every other rank of the job recorded that it was alive when
  // the job ended (its signal handler's record of the teardown). These count towards quarantine.
  int crashes = 0;
  int job_deaths = 0;     // deaths in a whole-job kill (no other rank alive to witness): never quarantine
  std::string last_error;  // message of the latest fail
  std::string last_cause;  // ClipProcessor::FailureCause of the latest fail ("" = sticky)
  bool last_is_fail = false;  // the latest ended attempt failed
  std::string last_end_time;  // time of the latest finish/fail/abandon
  // The latest started attempt with no recorded end (in flight, or its process died), if any.
  struct OpenAttempt {
    std::string attempt_id, host, since, stage, stage_since;
    int rank = -1;
    long long pid = 0;
    double done_fraction = 0;  // of the latest stage event (0 when none)
  };
  bool has_open = false;
  OpenAttempt open;
};

struct JournalSummary {
  std::map<std::string, ClipHistory> clips;
  std::vector<nlohmann::json> events;  // all valid events, in file order per rank
  int torn_lines = 0;                  // unparseable lines skipped
  std::string last_job;                // id of the latest launch ("" for journals without job ids)
  // Every rank of it stopped on a signal: its run_end says stopped, or its signal handler journaled
  // the signal (abandon reason "signal" or a "signal" event) before the rank was killed.
  bool last_job_stopped = false;
};

// Reads every journal/rank-*.jsonl under `out_dir`.
JournalSummary ReadJournals(FileSystem* fs, const std::string& out_dir);

enum class ClipState {
  kDone,         // validly finished under the run's fingerprint
  kQuarantined,  // max_attempts attributable deaths (ClipHistory::crashes) while processing it
  kFailed,       // its latest ended attempt recorded an error
  kInterrupted,  // started but never ended (crash or in flight), fewer than max_attempts times
  kPending,      // never started, or abandoned on a stop request
};
// The one classification rule used by run, status and progress (quarantine wins over failure).
ClipState ClassifyClip(bool done, const ClipHistory* history, int max_attempts);

// Whether the process of an open attempt still runs: on this host, its pid is alive; on another
// host, unknown (true) unless its rank recorded run_end or run_start since. `events` = JournalSummary::events.
bool OpenAttemptAlive(const ClipHistory::OpenAttempt& a, const std::vector<nlohmann::json>& events);

}  // namespace vq2d::runner
