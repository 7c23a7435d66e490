#include "vq2d/runner/run_store.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "vq2d/base/sha256.h"

namespace vq2d::runner {
namespace {

std::string FanOut(const std::string& clip_uid) { return Sha256Hex(clip_uid).substr(0, 2); }

// Clip uids become file names: refuse anything that could escape the directory.
bool SafeName(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (c == '/' || c == '\0') return false;
  return true;
}

}  // namespace

nlohmann::json DoneRecord::ToJson() const {
  return nlohmann::json{{"clip_uid", clip_uid},       {"fingerprint", fingerprint}, {"output_sha256", output_sha256},
                        {"output_bytes", output_bytes}, {"wall_s", wall_s},           {"rank", rank},
                        {"host", host},                 {"attempt", attempt},         {"finished_at", finished_at},
                        {"stats", stats}};
}

Result<DoneRecord> DoneRecord::FromJson(const nlohmann::json& j) {
  DoneRecord r;
  try {
    r.clip_uid = j.at("clip_uid").get<std::string>();
    r.fingerprint = j.at("fingerprint").get<std::string>();
    r.output_sha256 = j.at("output_sha256").get<std::string>();
    r.output_bytes = j.at("output_bytes").get<uint64_t>();
    r.wall_s = j.at("wall_s").get<double>();
    r.rank = j.at("rank").get<int>();
    r.host = j.at("host").get<std::string>();
    r.attempt = j.at("attempt").get<int>();
    r.finished_at = j.value("finished_at", "");
    r.stats = j.value("stats", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(StrCat("done record is malformed: ", e.what()));
  }
  return r;
}

RunStore::RunStore(FileSystem* fs, std::string out_dir) : fs_(fs), out_dir_(std::move(out_dir)) {}

std::string RunStore::RunFilePath() const { return JoinPath(out_dir_, "run.json"); }
std::string RunStore::ManifestPath() const { return JoinPath(out_dir_, "manifest.json"); }
std::string RunStore::ClipOutputPath(const std::string& clip_uid) const {
  return JoinPath(out_dir_, "clips/" + FanOut(clip_uid) + "/" + clip_uid + ".json");
}
std::string RunStore::DoneRecordPath(const std::string& clip_uid) const {
  return JoinPath(out_dir_, "done/" + FanOut(clip_uid) + "/" + clip_uid + ".json");
}
std::string RunStore::JournalPath(int rank) const {
  return JoinPath(out_dir_, StrCat("journal/rank-", rank, ".jsonl"));
}
std::string RunStore::LogPath(int rank) const { return JoinPath(out_dir_, StrCat("logs/rank-", rank, ".log")); }

Status RunStore::Init() {
  for (const char* sub : {"", "clips", "done", "journal", "logs"})
    VQ2D_RETURN_IF_ERROR(fs_->CreateDirs(JoinPath(out_dir_, sub)));
  return Status::OK();
}

Status RunStore::CommitClip(const std::string& clip_uid, const std::string& output, DoneRecord* record,
                            const std::string& tmp_tag) {
  if (!SafeName(clip_uid)) return Status::InvalidArgument(StrCat("clip uid '", clip_uid, "' is not a valid file name"));
  const std::string out_path = ClipOutputPath(clip_uid);
  const std::string done_path = DoneRecordPath(clip_uid);
  VQ2D_RETURN_IF_ERROR(fs_->CreateDirs(DirName(out_path)));
  VQ2D_RETURN_IF_ERROR(fs_->CreateDirs(DirName(done_path)));
  // A stale done record must never vouch for the new output: remove it first (durably).
  if (fs_->Exists(done_path)) {
    VQ2D_RETURN_IF_ERROR(fs_->Remove(done_path));
    VQ2D_RETURN_IF_ERROR(fs_->SyncDir(DirName(done_path)));
  }
  VQ2D_RETURN_IF_ERROR(WriteFileAtomic(fs_, out_path, output, tmp_tag));
  record->clip_uid = clip_uid;
  record->output_sha256 = Sha256Hex(output);
  record->output_bytes = output.size();
  return WriteFileAtomic(fs_, done_path, record->ToJson().dump(1) + "\n", tmp_tag);
}

Result<DoneRecord> RunStore::ValidDoneRecord(const std::string& clip_uid, const std::string& fingerprint) const {
  if (!SafeName(clip_uid)) return Status::InvalidArgument(StrCat("clip uid '", clip_uid, "' is not a valid file name"));
  const std::string done_path = DoneRecordPath(clip_uid);
  auto text = fs_->ReadFile(done_path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) return Status::NotFound("no done record");
    return text.status();
  }
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::Corruption("done record is not valid JSON");
  VQ2D_ASSIGN_OR_RETURN(DoneRecord rec, DoneRecord::FromJson(j));
  if (rec.clip_uid != clip_uid) return Status::Corruption(StrCat("done record names clip '", rec.clip_uid, "'"));
  if (rec.fingerprint != fingerprint)
    return Status::Corruption(StrCat("done record has fingerprint ", rec.fingerprint.substr(0, 12),
                                     ", the run has ", fingerprint.substr(0, 12)));
  auto out = fs_->ReadFile(ClipOutputPath(clip_uid));
  if (!out.ok()) return Status::Corruption("output missing: " + out.status().message());
  if (out->size() != rec.output_bytes)
    return Status::Corruption(StrCat("output has ", out->size(), " bytes, done record says ", rec.output_bytes));
  if (Sha256Hex(*out) != rec.output_sha256) return Status::Corruption("output checksum does not match the done record");
  return rec;
}

std::map<std::string, DoneRecord> RunStore::ScanDone(const std::string& fingerprint,
                                                     std::vector<std::string>* rejected) const {
  std::map<std::string, DoneRecord> out;
  const std::string done_dir = JoinPath(out_dir_, "done");
  auto shards = fs_->ListDir(done_dir);
  if (!shards.ok()) return out;
  for (const auto& shard : *shards) {
    auto names = fs_->ListDir(JoinPath(done_dir, shard));
    if (!names.ok()) continue;
    for (const auto& name : *names) {
      if (IsAtomicWriteTempName(name)) continue;
      const std::string suffix = ".json";
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
      const std::string uid = name.substr(0, name.size() - suffix.size());
      auto rec = ValidDoneRecord(uid, fingerprint);
      if (rec.ok()) {
        out.emplace(uid, std::move(rec).value());
      } else if (rejected) {
        rejected->push_back(uid + ": " + rec.status().message());
      }
    }
  }
  return out;
}

Result<int> RunStore::CleanTempFiles() const {
  int removed = 0;
  for (const char* top : {"clips", "done"}) {
    const std::string dir = JoinPath(out_dir_, top);
    auto shards = fs_->ListDir(dir);
    if (!shards.ok()) continue;
    for (const auto& shard : *shards) {
      auto names = fs_->ListDir(JoinPath(dir, shard));
      if (!names.ok()) continue;
      for (const auto& name : *names) {
        if (!IsAtomicWriteTempName(name)) continue;
        if (fs_->Remove(JoinPath(JoinPath(dir, shard), name)).ok()) ++removed;
      }
    }
  }
  auto names = fs_->ListDir(out_dir_);
  if (names.ok()) {
    for (const auto& name : *names)
      if (IsAtomicWriteTempName(name) && fs_->Remove(JoinPath(out_dir_, name)).ok()) ++removed;
  }
  return removed;
}

Result<std::unique_ptr<Journal>> Journal::Open(FileSystem* fs, const std::string& path) {
  if (fs->Exists(path)) {
    auto text = fs->ReadFile(path);
    if (!text.ok()) return text.status();
    if (!text->empty() && text->back() != '\n') {
      // A torn last line (crash mid-append) was never a complete event: drop it so that the file
      // stays strict JSONL (every line a JSON object) and the next line starts at a line start.
      const size_t keep = text->rfind('\n') == std::string::npos ? 0 : text->rfind('\n') + 1;
      VQ2D_RETURN_IF_ERROR(WriteFileAtomic(fs, path, text->substr(0, keep), "journal-repair"));
    }
  }
  VQ2D_ASSIGN_OR_RETURN(auto file, fs->NewAppendableFile(path));
  return std::unique_ptr<Journal>(new Journal(std::move(file)));
}

Status Journal::Append(const nlohmann::json& event) {
  std::lock_guard<std::mutex> lock(mu_);
  VQ2D_RETURN_IF_ERROR(file_->Append(event.dump() + "\n"));
  return file_->Sync();
}

JournalSummary ReadJournals(FileSystem* fs, const std::string& out_dir) {
  JournalSummary summary;
  const std::string dir = JoinPath(out_dir, "journal");
  auto names = fs->ListDir(dir);
  if (!names.ok()) return summary;
  // One job instance (one launch): its world size and, per rank, whether the rank showed it was
  // alive when the job ended (a record its signal handler wrote).
  struct Job {
    int world = 1;
    std::string started;           // latest run_start time of its ranks (ISO 8601, sortable)
    std::set<int> stopped_ranks;   // ranks whose run_end says stopped
    std::map<int, bool> lived;  // rank -> its signal handler recorded the teardown (it was alive)
  };
  struct Attempt {
    std::string clip, job;  // job "" when no run_start with a job id precedes it (old journals)
    int rank = -1;
    bool ended = false;
  };
  std::map<std::string, Job> jobs;
  std::map<std::string, Attempt> attempts;  // by attempt id
  std::vector<std::string> attempt_order;
  // Per attempt id: its start event and its latest stage event (open attempts: `vq2d status`).
  std::map<std::string, nlohmann::json> starts, stages;
  for (const auto& name : *names) {
    if (name.rfind("rank-", 0) != 0 || name.size() < 7 || name.substr(name.size() - 6) != ".jsonl") continue;
    auto text = fs->ReadFile(JoinPath(dir, name));
    if (!text.ok()) continue;
    std::string job;  // the job of the events that follow (journals are appended in order)
    int job_rank = -1;
    size_t pos = 0;
    while (pos < text->size()) {
      size_t end = text->find('\n', pos);
      if (end == std::string::npos) end = text->size();
      std::string line = text->substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) continue;
      nlohmann::json ev = nlohmann::json::parse(line, nullptr, false);
      if (ev.is_discarded() || !ev.is_object() || !ev.contains("event") || !ev["event"].is_string()) {
        ++summary.torn_lines;
        continue;
      }
      summary.events.push_back(ev);
      const std::string kind = ev["event"].get<std::string>();
      if (kind == "run_start") {
        job = ev.contains("job") && ev["job"].is_string() ? ev["job"].get<std::string>() : std::string();
        job_rank = ev.contains("rank") && ev["rank"].is_number_integer() ? ev["rank"].get<int>() : -1;
        if (!job.empty()) {
          Job& j = jobs[job];
          if (ev.contains("world") && ev["world"].is_number_integer()) j.world = ev["world"].get<int>();
          j.started = std::max(j.started, ev.value("time", std::string()));
          j.lived.emplace(job_rank, false);
        }
        continue;
      }
      const bool signal_record = kind == "signal" || (kind == "abandon" && ev.value("reason", "") == "signal");
      if (!job.empty() && signal_record) jobs[job].lived[job_rank] = true;
      if (!job.empty() && kind == "run_end" && ev.value("stopped", false)) jobs[job].stopped_ranks.insert(job_rank);
      if (!ev.contains("clip") || !ev["clip"].is_string()) continue;
      const std::string clip = ev["clip"].get<std::string>();
      const std::string attempt_id = ev.contains("attempt_id") && ev["attempt_id"].is_string()
                                         ? ev["attempt_id"].get<std::string>()
                                         : std::string();
      ClipHistory& h = summary.clips[clip];
      if (kind == "start") {
        ++h.starts;
        if (!attempts.count(attempt_id)) attempt_order.push_back(attempt_id);
        attempts.emplace(attempt_id, Attempt{clip, job, job_rank, false});
        starts[attempt_id] = ev;
      } else if (kind == "stage") {
        stages[attempt_id] = ev;
      } else if (kind == "finish" || kind == "fail" || kind == "abandon") {
        auto it = attempts.find(attempt_id);
        if (it != attempts.end()) {
          it->second.ended = true;
        } else {
          attempts.emplace(attempt_id, Attempt{clip, job, job_rank, true});
        }
        const std::string t = ev.value("time", "");
        if (t > h.last_end_time) h.last_end_time = t;
        if (kind == "finish") {
          ++h.finishes;
          h.last_is_fail = false;
        } else if (kind == "fail") {
          ++h.fails;
          h.last_error = ev.value("error", "");
          h.last_cause = ev.value("cause", "");
          h.last_is_fail = true;
        } else {
          ++h.abandons;
        }
      }
    }
  }
  // A started attempt without an end is a death during the clip. It counts against the clip only
  // when the clip is to blame: every other rank of that job was alive when it ended (mpirun and
  // Slurm SIGTERM the survivors when one rank dies; their handlers, armed until the rank returns
  // from the run, record it). A whole-job kill (mpirun or the allocation SIGKILLed: every rank
  // dies at once, nobody records anything) blames no clip.
  // A job of one rank has no witness: its deaths count (as do deaths in journals without job ids).
  for (const auto& id : attempt_order) {
    const Attempt& a = attempts[id];
    if (a.ended) continue;
    ClipHistory& h = summary.clips[a.clip];
    bool attributable = true;
    auto jt = a.job.empty() ? jobs.end() : jobs.find(a.job);
    if (jt != jobs.end() && jt->second.world > 1) {
      const Job& j = jt->second;
      int witnesses = 0;
      for (const auto& [r, lived] : j.lived) {
        if (r == a.rank) continue;
        if (!lived) attributable = false;
        ++witnesses;
      }
      if (witnesses < j.world - 1) attributable = false;  // a rank that never started tells nothing
    }
    // The latest open attempt of the clip (in flight, or its process died).
    const nlohmann::json& st = starts[id];
    const std::string since = st.value("time", "");
    if (!h.has_open || since > h.open.since) {
      h.has_open = true;
      h.open = {};
      h.open.attempt_id = id;
      h.open.host = st.value("host", "");
      h.open.since = since;
      h.open.rank = st.value("rank", -1);
      h.open.pid = st.value("pid", 0LL);
      auto sg = stages.find(id);
      if (sg != stages.end()) {
        h.open.stage = sg->second.value("stage", "");
        h.open.stage_since = sg->second.value("time", "");
        h.open.done_fraction = sg->second.value("done_fraction", 0.0);
      }
    }
    if (attributable) {
      ++h.crashes;
    } else {
      ++h.job_deaths;
    }
  }
  const Job* last = nullptr;
  for (const auto& [id, j] : jobs) {
    if (!last || j.started > last->started) {
      last = &j;
      summary.last_job = id;
    }
  }
  // Stopped: every rank of it ended its run stopped, or its signal handler journaled the stop signal
  // (a rank that Open MPI SIGKILLs right after SIGTERM, as when mpirun itself was SIGTERMed, may not
  // reach run_end). A rank that crashed or finished without a signal leaves no such record.
  if (last && last->world > 0) {
    int stopped = 0;
    for (int r = 0; r < last->world; ++r) {
      auto lived = last->lived.find(r);
      if (last->stopped_ranks.count(r) || (lived != last->lived.end() && lived->second)) ++stopped;
    }
    summary.last_job_stopped = stopped == last->world;
  }
  return summary;
}

bool OpenAttemptAlive(const ClipHistory::OpenAttempt& a, const std::vector<nlohmann::json>& events) {
  if (a.host.empty() || a.pid <= 0) return false;  // a start without them cannot be in flight
  // A run_end or run_start of that rank after the attempt began: its process is gone.
  for (const auto& ev : events) {
    const std::string kind = ev.value("event", "");
    if ((kind == "run_end" || kind == "run_start") && ev.value("rank", -2) == a.rank && ev.value("time", "") > a.since)
      return false;
  }
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || a.host != buf) return true;
  return ::kill(static_cast<pid_t>(a.pid), 0) == 0 || errno == EPERM;
}

ClipState ClassifyClip(bool done, const ClipHistory* h, int max_attempts) {
  if (done) return ClipState::kDone;
  if (!h) return ClipState::kPending;
  if (h->crashes >= max_attempts) return ClipState::kQuarantined;
  if (h->last_is_fail) return ClipState::kFailed;
  if (h->crashes > 0 || h->job_deaths > 0) return ClipState::kInterrupted;
  return ClipState::kPending;
}

}  // namespace vq2d::runner
