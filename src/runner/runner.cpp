#include "vq2d/runner/runner.h"

#include <signal.h>
#include <cerrno>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "vq2d/base/sha256.h"
#include "vq2d/runner/run_store.h"
#include "vq2d/version.h"

namespace vq2d::runner {
namespace {

std::atomic<bool> g_stop_flag{false};

// What the signal handler appends to the journal for the clip in flight, pre-formatted, so that a
// rank killed right after SIGTERM (mpirun tearing the job down because another rank crashed, or
// Slurm's KillWait) records the clip as abandoned instead of as a crash of its own: only the clip
// that really kills the process moves towards quarantine. Only async-signal-safe calls (write).
// Between clips the handler writes the rank's "signal" record instead, so that the rank still
// witnesses, for quarantine, that it was alive when another rank died (run_store.h).
struct SignalJournal {
  std::atomic<int> fd{-1};
  std::atomic<size_t> len{0};
  char line[1024];
  std::atomic<size_t> idle_len{0};
  char idle_line[512];
};
SignalJournal g_signal_journal;

extern "C" void HandleStopSignal(int) {
  g_stop_flag.store(true);
  const int fd = g_signal_journal.fd.load();
  const size_t n = g_signal_journal.len.exchange(0);
  if (fd >= 0 && n > 0) {
    ssize_t ignored = write(fd, g_signal_journal.line, n);
    (void)ignored;
    return;
  }
  const size_t m = g_signal_journal.idle_len.exchange(0);
  if (fd >= 0 && m > 0) {
    ssize_t ignored = write(fd, g_signal_journal.idle_line, m);
    (void)ignored;
  }
}

void ArmIdleSignalJournal(const std::string& line) {
  g_signal_journal.idle_len.store(0);
  if (line.size() > sizeof g_signal_journal.idle_line) return;
  std::memcpy(g_signal_journal.idle_line, line.data(), line.size());
  g_signal_journal.idle_len.store(line.size());
}

void ArmSignalJournal(const std::string& line) {
  g_signal_journal.len.store(0);
  const size_t n = std::min(line.size(), sizeof g_signal_journal.line);
  std::memcpy(g_signal_journal.line, line.data(), n);
  if (n == line.size()) g_signal_journal.len.store(n);
}

void DisarmSignalJournal() { g_signal_journal.len.store(0); }

// Keeps 64 KiB of disk allocated past the end of the journal (FALLOC_FL_KEEP_SIZE: the file's size
// is unchanged), so the journal lines of a clip that hits a full disk (its "abandon", run_end) still
// have room. Best effort: filesystems without fallocate just do not get the reserve.
void ReserveJournalSpace() {
  const int fd = g_signal_journal.fd.load();
  if (fd < 0) return;
  struct stat st;
  if (::fstat(fd, &st) != 0) return;
  (void)::fallocate(fd, FALLOC_FL_KEEP_SIZE, st.st_size, 64 << 10);
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string FormatDuration(double s) {
  if (!(s >= 0) || s > 1e8) return "--:--:--";
  long long t = static_cast<long long>(s + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// Human-readable per-rank log: <out>/logs/rank-<r>.log (+ stderr for warnings and errors).
class RankLog {
 public:
  RankLog(FileSystem* fs, const std::string& path, int rank, Clock* clock) : rank_(rank), clock_(clock) {
    auto f = fs->NewAppendableFile(path);
    if (f.ok()) file_ = std::move(f).value();
  }
  void Info(const std::string& msg) { Write("INFO", msg, false); }
  void Warn(const std::string& msg) { Write("WARN", msg, true); }

 private:
  void Write(const char* level, const std::string& msg, bool to_stderr) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string line = StrCat(clock_->NowIso8601(), " [rank ", rank_, "] ", level, " ", msg, "\n");
    // The log is for people: a line it cannot take goes to stderr instead (nothing reads it back).
    if (file_ && !file_->Append(line).ok()) to_stderr = true;
    if (to_stderr) std::fprintf(stderr, "%s", line.c_str());
  }
  std::mutex mu_;
  int rank_;
  Clock* clock_;
  std::unique_ptr<WritableFile> file_;
};

// Lines "key: value" -> map, for explaining config differences.
std::map<std::string, std::string> ConfigLines(const std::string& canonical) {
  std::map<std::string, std::string> out;
  std::istringstream is(canonical);
  std::string line;
  while (std::getline(is, line)) {
    size_t c = line.find(": ");
    if (c != std::string::npos) out[line.substr(0, c)] = line.substr(c + 2);
  }
  return out;
}

std::string ExplainFingerprintChange(const nlohmann::json& old_c, const nlohmann::json& new_c) {
  std::vector<std::string> diffs;
  auto a = ConfigLines(old_c.value("config", ""));
  auto b = ConfigLines(new_c.value("config", ""));
  std::set<std::string> keys;
  for (auto& [k, v] : a) keys.insert(k);
  for (auto& [k, v] : b) keys.insert(k);
  for (const auto& k : keys) {
    std::string va = a.count(k) ? a[k] : "(absent)", vb = b.count(k) ? b[k] : "(absent)";
    if (va != vb) diffs.push_back(StrCat("config ", k, ": ", va, " -> ", vb));
  }
  std::map<std::string, std::string> fa, fb;
  for (const auto& f : old_c.value("files", nlohmann::json::array())) fa[f.value("name", "")] = f.value("sha256", "");
  for (const auto& f : new_c.value("files", nlohmann::json::array())) fb[f.value("name", "")] = f.value("sha256", "");
  std::set<std::string> names;
  for (auto& [k, v] : fa) names.insert(k);
  for (auto& [k, v] : fb) names.insert(k);
  for (const auto& n : names) {
    std::string va = fa.count(n) ? fa[n].substr(0, 12) : "(absent)", vb = fb.count(n) ? fb[n].substr(0, 12) : "(absent)";
    if (va != vb) diffs.push_back(StrCat("checkpoint ", n, ": sha256 ", va, " -> ", vb));
  }
  if (old_c.value("version", "") != new_c.value("version", ""))
    diffs.push_back(StrCat("vq2d version: ", old_c.value("version", ""), " -> ", new_c.value("version", "")));
  if (diffs.empty()) return "  (no component differs; run.json may have been edited)";
  std::string out;
  for (const auto& d : diffs) out += "  " + d + "\n";
  return out;
}

// Moves the results of an earlier fingerprint into <out>/superseded/<fp12>-<time>/.
Status MoveAside(FileSystem* fs, const RunStore& store, const std::string& old_fp, Clock* clock) {
  std::string stamp = clock->NowIso8601();
  for (char& c : stamp)
    if (c == ':') c = '-';
  const std::string dest = JoinPath(store.out_dir(), "superseded/" + old_fp.substr(0, 12) + "-" + stamp);
  VQ2D_RETURN_IF_ERROR(fs->CreateDirs(dest));
  for (const char* name : {"clips", "done", "journal", "manifest.json", "predictions.json", "run.json"}) {
    const std::string src = JoinPath(store.out_dir(), name);
    if (fs->Exists(src)) VQ2D_RETURN_IF_ERROR(fs->Rename(src, JoinPath(dest, name)));
  }
  VQ2D_RETURN_IF_ERROR(fs->SyncDir(store.out_dir()));
  return store.fs()->CreateDirs(JoinPath(store.out_dir(), "clips"));
}

struct StartState {
  Status status;
  std::string fingerprint;
  std::string job;  // id of this launch, shared by its ranks (groups the journals' deaths, run_store.h)
  std::vector<size_t> todo;   // indices into work, LPT order
  std::vector<int> attempts;  // attempt number for each todo entry
  int done = 0, failed = 0, quarantined = 0;
};

std::string EncodeStart(const StartState& s) {
  nlohmann::json j{{"ok", s.status.ok()},
                   {"code", static_cast<int>(s.status.code())},
                   {"error", s.status.message()},
                   {"fingerprint", s.fingerprint},
                   {"job", s.job},
                   {"todo", s.todo},
                   {"attempts", s.attempts},
                   {"done", s.done},
                   {"failed", s.failed},
                   {"quarantined", s.quarantined}};
  return j.dump();
}

StartState DecodeStart(const std::string& text) {
  StartState s;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    s.status = Status::Internal("corrupt start message from rank 0");
    return s;
  }
  if (!j.value("ok", false))
    s.status = Status(static_cast<StatusCode>(j.value("code", static_cast<int>(StatusCode::kInternal))), j.value("error", ""));
  s.fingerprint = j.value("fingerprint", "");
  s.job = j.value("job", "");
  s.todo = j.value("todo", std::vector<size_t>{});
  s.attempts = j.value("attempts", std::vector<int>{});
  s.done = j.value("done", 0);
  s.failed = j.value("failed", 0);
  s.quarantined = j.value("quarantined", 0);
  return s;
}

// Rank 0: prepare the output directory and decide what this run does.
StartState PrepareStart(const RunOptions& o, const std::vector<WorkItem>& work, const ClipProcessor& processor,
                        FileSystem* fs, Clock* clock, const std::string& host) {
  StartState st;
  st.job = StrCat(host, ":", getpid(), ":", clock->NowIso8601());
  RunStore store(fs, o.out_dir);
  st.status = store.Init();
  if (!st.status.ok()) return st;
  auto fp = ComputeFingerprint(o.canonical_config, o.fingerprint_files);
  if (!fp.ok()) {
    st.status = fp.status();
    return st;
  }
  st.fingerprint = fp->value;
  // run.json: created once; a different fingerprint is refused (or moved aside on request).
  if (fs->Exists(store.RunFilePath())) {
    auto text = fs->ReadFile(store.RunFilePath());
    nlohmann::json old = text.ok() ? nlohmann::json::parse(*text, nullptr, false) : nlohmann::json();
    const std::string old_fp = old.is_object() ? old.value("fingerprint", "") : "";
    if (old_fp.empty()) {
      st.status = Status::Corruption(StrCat(store.RunFilePath(), " is unreadable; move it away to start over"));
      return st;
    }
    if (old_fp != fp->value) {
      if (!o.new_fingerprint_ok) {
        st.status = Status::FailedPrecondition(StrCat(
            "output directory ", o.out_dir, " holds results of another configuration (fingerprint ",
            old_fp.substr(0, 12), ", this run ", fp->value.substr(0, 12), "). What differs:\n",
            ExplainFingerprintChange(old.value("components", nlohmann::json::object()), fp->components),
            "Use another visual_query.exp_name, or pass --new-fingerprint-ok to move the old results to ",
            o.out_dir, "/superseded/ and start afresh"));
        return st;
      }
      st.status = MoveAside(fs, store, old_fp, clock);
      if (!st.status.ok()) return st;
      st.status = store.Init();
      if (!st.status.ok()) return st;
    }
  }
  if (!fs->Exists(store.RunFilePath())) {
    nlohmann::json run{{"fingerprint", fp->value},
                       {"components", fp->components},
                       {"created_at", clock->NowIso8601()},
                       {"created_by", host},
                       {"info", o.run_info}};
    st.status = WriteFileAtomic(fs, store.RunFilePath(), run.dump(1) + "\n", "0." + std::to_string(getpid()));
    if (!st.status.ok()) return st;
  }
  nlohmann::json manifest{{"fingerprint", fp->value},
                          {"info", o.run_info},
                          {"runner", {{"schedule", o.schedule}, {"max_attempts", o.max_attempts}}},
                          {"clips", nlohmann::json::array()}};
  for (const auto& w : work)
    manifest["clips"].push_back({{"clip_uid", w.id}, {"video_uid", w.video_uid}, {"cost", w.cost}});
  st.status = WriteFileAtomic(fs, store.ManifestPath(), manifest.dump(1) + "\n", "0." + std::to_string(getpid()));
  if (!st.status.ok()) return st;
  // Temporary files of writers that died; a directory that cannot even be listed fails the start.
  if (auto cleaned = store.CleanTempFiles(); !cleaned.ok()) {
    st.status = cleaned.status().WithContext("removing temporary files of earlier runs");
    return st;
  }

  auto done = store.ScanDone(fp->value);
  JournalSummary journals = ReadJournals(fs, o.out_dir);
  std::set<std::string> skip;
  std::map<std::string, int> prior_starts;
  for (const auto& w : work) {
    auto it = journals.clips.find(w.id);
    const ClipHistory* h = it == journals.clips.end() ? nullptr : &it->second;
    if (h) prior_starts[w.id] = h->starts;
    switch (ClassifyClip(done.count(w.id) > 0, h, o.max_attempts)) {
      case ClipState::kDone:
        ++st.done;
        skip.insert(w.id);
        break;
      case ClipState::kQuarantined:
        if (o.retry_failed) break;
        ++st.quarantined;
        skip.insert(w.id);
        break;
      case ClipState::kFailed:
        if (o.retry_failed) break;
        // A failure is sticky only while its cause holds (e.g. the record it missed now exists).
        if (!h->last_cause.empty() && !processor.FailureCauseHolds(w.id, h->last_cause)) break;
        ++st.failed;
        skip.insert(w.id);
        break;
      default:
        break;
    }
  }
  st.todo = LptOrder(work, skip);
  for (size_t idx : st.todo) st.attempts.push_back(prior_starts[work[idx].id] + 1);
  return st;
}

}  // namespace

std::atomic<bool>* InstallStopSignalHandlers() {
  struct sigaction sa;
  sa.sa_handler = HandleStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGUSR1, &sa, nullptr);
  return &g_stop_flag;
}

bool IsNoSpaceError(const Status& s) {
  if (s.ok() || s.code() != StatusCode::kIOError) return false;
  // base/filesystem.cpp words errno with strerror.
  const std::string& m = s.message();
  return m.find(std::strerror(ENOSPC)) != std::string::npos || m.find(std::strerror(EDQUOT)) != std::string::npos;
}

namespace {

// IOError (worded as ENOSPC) when the filesystem of `dir` has less than `min_free_bytes` available.
Status CheckFreeSpace(FileSystem* fs, const std::string& out_dir, uint64_t min_free_bytes) {
  if (min_free_bytes > 0 && fs == FileSystem::Default()) {
    struct statvfs v;
    if (::statvfs(out_dir.c_str(), &v) == 0) {
      const uint64_t avail = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
      if (avail < min_free_bytes) {
        return Status::IOError(StrCat("output directory ", out_dir, ": ", std::strerror(ENOSPC), " (", avail >> 20,
                                      " MiB available, runner.min_free_mb asks for ", min_free_bytes >> 20, ")"));
      }
    }
  }
  return Status::OK();
}

}  // namespace

Status CheckOutputWritable(FileSystem* fs, const std::string& out_dir, uint64_t min_free_bytes) {
  VQ2D_RETURN_IF_ERROR(fs->CreateDirs(out_dir).WithContext("output directory"));
  const std::string probe = JoinPath(out_dir, StrCat(".write-probe.", getpid()));
  Status w = WriteFileAtomic(fs, probe, "vq2d write probe\n", StrCat(getpid()));
  if (!w.ok()) return w.WithContext(StrCat("output directory ", out_dir, " is not writable"));
  VQ2D_RETURN_IF_ERROR(fs->Remove(probe));
  return CheckFreeSpace(fs, out_dir, min_free_bytes);
}

Result<Fingerprint> ComputeFingerprint(const std::string& canonical_config,
                                       const std::vector<std::pair<std::string, std::string>>& files) {
  Fingerprint fp;
  fp.components = {{"config", canonical_config}, {"files", nlohmann::json::array()}, {"version", VQ2D_VERSION}};
  Sha256 h;
  h.Update("vq2d-fingerprint-v1\n");
  h.Update(canonical_config);
  for (const auto& [name, path] : files) {
    auto digest = Sha256File(path);
    if (!digest.ok()) return digest.status().WithContext(StrCat("fingerprint input '", name, "'"));
    auto size = FileSystem::Default()->FileSize(path);
    fp.components["files"].push_back(
        {{"name", name}, {"path", path}, {"sha256", *digest}, {"bytes", size.ok() ? *size : 0}});
    h.Update(StrCat("\nfile ", name, " ", *digest));
  }
  h.Update(StrCat("\nversion ", VQ2D_VERSION));
  fp.value = h.HexDigest();
  return fp;
}

namespace {

// What one rank's run shares between its work loop, its watchdog and (rank 0) its progress line.
struct RankRun {
  RankRun(const RunOptions& options, const std::vector<WorkItem>& work_list, Collective& collective, FileSystem* f,
          Clock* c, const std::atomic<bool>* stop_flag, StartState s, std::unique_ptr<Journal> j)
      : o(options),
        work(work_list),
        coll(collective),
        fs(f),
        clock(c),
        rank(collective.rank()),
        host(HostName()),
        tmp_tag(StrCat(collective.rank(), ".", getpid())),
        stop(stop_flag),
        start(std::move(s)),
        store(f, options.out_dir),
        journal(std::move(j)),
        log(f, store.LogPath(collective.rank()), collective.rank(), c) {}

  // Appends `event` to this rank's journal. The journal is what classifies clips on resume: a
  // "start" without "finish"/"fail"/"abandon" counts as a crash towards quarantine. So a failed
  // append is logged, remembered in journal_error (the run then fails with it), and stops the work
  // loop: this rank takes no clip it could not journal.
  bool Record(const nlohmann::json& event) {
    Status s = journal->Append(event);
    if (s.ok()) return true;
    log.Warn(StrCat("journal ", store.JournalPath(rank), ": cannot record '", event.value("event", ""), "': ",
                    s.ToString(), "; this rank takes no more clips"));
    if (journal_error.ok()) journal_error = s.WithContext(StrCat("journal ", store.JournalPath(rank)));
    if (IsNoSpaceError(s) && no_space.ok()) no_space = journal_error;
    return false;
  }

  const RunOptions& o;
  const std::vector<WorkItem>& work;
  Collective& coll;
  FileSystem* fs;
  Clock* clock;
  const int rank;
  const std::string host, tmp_tag;
  StopToken stop;
  const StartState start;
  RunStore store;
  std::unique_ptr<Journal> journal;
  RankLog log;
  Status journal_error;  // work loop thread only
  Status no_space;       // the output filesystem is full (work loop thread only): no more clips

  // Shared with the helper threads.
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::string inflight_clip, inflight_attempt_id;
};

// Rank 0 decides what this run does (PrepareStart); every rank learns the same plan inputs.
Result<StartState> AgreeOnStart(const RunOptions& o, const std::vector<WorkItem>& work,
                                const ClipProcessor& processor, Collective& coll, FileSystem* fs, Clock* clock) {
  std::string msg;
  if (coll.rank() == 0) msg = EncodeStart(PrepareStart(o, work, processor, fs, clock, HostName()));
  VQ2D_RETURN_IF_ERROR(coll.Broadcast(&msg, 0));
  StartState start = DecodeStart(msg);
  if (!start.status.ok()) return start.status;
  for (size_t idx : start.todo)
    if (idx >= work.size()) return Status::Internal("start message indexes past the work list: work lists differ between ranks");
  return start;
}

// Watchdog (every rank): after a stop request the clip in flight gets grace_period_s to finish;
// then it is journaled as abandoned and the process exits with kExitStopped.
void Watchdog(RankRun& r) {
  std::unique_lock<std::mutex> lock(r.mu);
  while (!r.finished && !r.stop.stop_requested()) r.cv.wait_for(lock, std::chrono::milliseconds(100));
  if (r.finished) return;
  r.log.Info("stop requested: taking no new clips");
  const double deadline = r.clock->MonotonicSeconds() + r.o.grace_period_s;
  while (!r.finished && r.clock->MonotonicSeconds() < deadline) r.cv.wait_for(lock, std::chrono::milliseconds(50));
  if (r.finished) return;
  if (!r.inflight_clip.empty()) {
    // The process exits next; if the journal refuses the line, the clip counts as a crash.
    Status s = r.journal->Append({{"event", "abandon"}, {"clip", r.inflight_clip},
                                  {"attempt_id", r.inflight_attempt_id}, {"rank", r.rank},
                                  {"time", r.clock->NowIso8601()}, {"reason", "grace period expired"}});
    if (!s.ok()) r.log.Warn(StrCat("journal: cannot record the abandoned clip ", r.inflight_clip, ": ", s.ToString()));
  }
  r.log.Warn(StrCat("grace period of ", r.o.grace_period_s, " s expired; exiting with code ", kExitStopped));
  std::fflush(stdout);
  std::_Exit(kExitStopped);
}

// Clip uids with a done record file under <out>/done/ (validity is not checked).
std::set<std::string> ListDone(FileSystem* fs, const std::string& out_dir) {
  std::set<std::string> out;
  const std::string dir = JoinPath(out_dir, "done");
  auto shards = fs->ListDir(dir);
  if (!shards.ok()) return out;
  for (const auto& s : *shards) {
    auto names = fs->ListDir(JoinPath(dir, s));
    if (!names.ok()) continue;
    for (const auto& n : *names)
      if (!IsAtomicWriteTempName(n) && n.size() > 5) out.insert(n.substr(0, n.size() - 5));
  }
  return out;
}

// Progress line (rank 0), every progress_interval_s: clips done / failed / quarantined, rate, ETA.
void Progress(RankRun& r, const std::set<std::string>& done_at_start, double t_start,
              const std::string& run_started_at) {
  std::unique_lock<std::mutex> lock(r.mu);
  while (!r.finished) {
    r.cv.wait_for(lock, std::chrono::duration<double>(r.o.progress_interval_s));
    if (r.finished) break;
    lock.unlock();
    auto now_done = ListDone(r.fs, r.o.out_dir);
    JournalSummary js = ReadJournals(r.fs, r.o.out_dir);
    int failed = 0, quarantined = 0, done = 0;
    double new_cost = 0, left_cost = 0;
    int new_clips = 0;
    for (const auto& w : r.work) {
      if (now_done.count(w.id)) {
        ++done;
        if (!done_at_start.count(w.id)) ++new_clips, new_cost += w.cost;
        continue;
      }
      left_cost += w.cost;
      auto it = js.clips.find(w.id);
      const ClipHistory* h = it == js.clips.end() ? nullptr : &it->second;
      ClipState state = ClassifyClip(false, h, r.o.max_attempts);
      // In flight in this run: its reported share of work counts into the rate (ETA before the first
      // clip finishes).
      if (h && h->has_open && h->open.since >= run_started_at && h->open.since >= h->last_end_time) {
        const double part = w.cost * std::clamp(h->open.done_fraction, 0.0, 1.0);
        new_cost += part;
        left_cost -= part;
        continue;  // a failed clip retried now is running, not failed
      }
      if (state == ClipState::kFailed) ++failed;
      if (state == ClipState::kQuarantined) ++quarantined;
    }
    const double elapsed = std::max(1e-9, r.clock->MonotonicSeconds() - t_start);
    const double rate = new_cost / elapsed;
    std::string line = StrCat("[progress] ", done, "/", r.work.size(), " clips done, ", failed, " failed, ",
                              quarantined, " quarantined | ", static_cast<long long>(new_clips * 3600.0 / elapsed),
                              " clips/h, ", static_cast<long long>(rate), " frames/s | elapsed ",
                              FormatDuration(elapsed), ", ETA ",
                              rate > 0 ? FormatDuration(left_cost / rate) : std::string("--:--:--"));
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    r.log.Info(line);
    lock.lock();
  }
}

// One clip: journal "start", process, commit, journal how it ended.
void RunOneClip(RankRun& r, ClipProcessor& processor, const ClipTask& task, const std::string& attempt_id,
                RunSummary* summary) {
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.inflight_clip = task.clip_uid;
    r.inflight_attempt_id = attempt_id;
  }
  // No leading newline (strict JSONL): every append writes a whole line and Journal::Open drops a
  // torn tail, so the journal ends with '\n' whenever the handler writes.
  ArmSignalJournal(nlohmann::json{{"event", "abandon"}, {"clip", task.clip_uid}, {"attempt_id", attempt_id},
                                  {"rank", r.rank}, {"reason", "signal"}}
                       .dump() +
                   "\n");
  ReserveJournalSpace();
  auto end_attempt = [&] {
    DisarmSignalJournal();
    std::lock_guard<std::mutex> lock(r.mu);
    r.inflight_clip.clear();
  };
  if (!r.Record({{"event", "start"}, {"clip", task.clip_uid}, {"attempt", task.attempt},
                 {"attempt_id", attempt_id}, {"rank", r.rank}, {"host", r.host}, {"pid", getpid()},
                 {"cost", task.cost}, {"time", r.clock->NowIso8601()}})) {
    end_attempt();  // not started: the clip stays pending
    return;
  }
  r.log.Info(StrCat("clip ", task.clip_uid, " start (attempt ", task.attempt, ", cost ", task.cost, ")"));
  ClipTask staged = task;
  staged.report_stage = [&r, &task, &attempt_id](const std::string& stage, double fraction) {
    // Best effort: a stage line that cannot be journaled does not fail the clip.
    r.Record({{"event", "stage"}, {"clip", task.clip_uid}, {"attempt_id", attempt_id}, {"rank", r.rank},
              {"stage", stage}, {"done_fraction", std::clamp(fraction, 0.0, 1.0)}, {"cost", task.cost},
              {"time", r.clock->NowIso8601()}});
    r.log.Info(StrCat("clip ", task.clip_uid, " stage ", stage));
  };
  const double t0 = r.clock->MonotonicSeconds();
  Result<ClipResult> result = Status::Internal("not run");
  try {
    result = processor.Process(staged, r.stop);
  } catch (const std::exception& e) {
    result = Status::Internal(StrCat("exception: ", e.what()));
  } catch (...) {
    result = Status::Internal("unknown exception");
  }
  Status s = result.status();
  DoneRecord rec;
  if (result.ok()) {
    rec.fingerprint = r.start.fingerprint;
    rec.wall_s = r.clock->MonotonicSeconds() - t0;
    rec.rank = r.rank;
    rec.host = r.host;
    rec.attempt = task.attempt;
    rec.finished_at = r.clock->NowIso8601();
    rec.stats = result->stats;
    s = r.store.CommitClip(task.clip_uid, result->output, &rec, r.tmp_tag);
  }
  const double wall = r.clock->MonotonicSeconds() - t0;
  if (s.ok()) {
    // The done record is committed, so the clip is done whatever the journal says.
    r.Record({{"event", "finish"}, {"clip", task.clip_uid}, {"attempt", task.attempt},
              {"attempt_id", attempt_id}, {"rank", r.rank}, {"wall_s", wall}, {"cost", task.cost},
              {"stats", rec.stats}, {"time", r.clock->NowIso8601()}});
    r.log.Info(StrCat("clip ", task.clip_uid, " done in ", wall, " s"));
    ++summary->processed_here;
  } else if (IsNoSpaceError(s)) {
    // Not the clip's fault: journaled as abandoned, so a plain rerun redoes it once there is space.
    r.Record({{"event", "abandon"}, {"clip", task.clip_uid}, {"attempt_id", attempt_id}, {"rank", r.rank},
              {"time", r.clock->NowIso8601()}, {"reason", "no space"}, {"error", s.ToString()}});
    r.log.Warn(StrCat("clip ", task.clip_uid, ": output not written: ", s.ToString(),
                      "; this rank takes no more clips (free space, then rerun the same command)"));
    if (r.no_space.ok()) r.no_space = s;
  } else if (s.code() == StatusCode::kCancelled && r.stop.stop_requested()) {
    r.Record({{"event", "abandon"}, {"clip", task.clip_uid}, {"attempt_id", attempt_id}, {"rank", r.rank},
              {"time", r.clock->NowIso8601()}, {"reason", "stop requested"}});
    r.log.Info(StrCat("clip ", task.clip_uid, " abandoned on stop request"));
  } else {
    r.Record({{"event", "fail"}, {"clip", task.clip_uid}, {"attempt", task.attempt},
              {"attempt_id", attempt_id}, {"rank", r.rank}, {"wall_s", wall}, {"error", s.ToString()},
              {"cause", processor.FailureCause(task, s)}, {"time", r.clock->NowIso8601()}});
    r.log.Warn(StrCat("clip ", task.clip_uid, " failed: ", s.ToString()));
  }
  end_attempt();
}

// The work loop: this rank's clips (static: its share of the LPT plan; dynamic: shared tickets)
// until none is left, a stop is requested or the journal fails.
void WorkLoop(RankRun& r, ClipProcessor& processor, RunSummary* summary) {
  std::vector<WorkItem> todo_items;
  for (size_t idx : r.start.todo) todo_items.push_back(r.work[idx]);
  // PlanStatic indexes todo_items, which are in LPT order already.
  Plan plan;
  if (r.o.schedule == "static") plan = PlanStatic(todo_items, {}, r.coll.size());
  size_t static_pos = 0;
  auto next = [&]() -> long long {  // position in start.todo, or -1 when nothing is left
    if (r.o.schedule == "static") {
      const auto& mine = plan.per_rank[static_cast<size_t>(r.rank)];
      if (static_pos >= mine.size()) return -1;
      return static_cast<long long>(mine[static_pos++]);
    }
    auto t = r.coll.NextTicket();
    if (!t.ok()) {
      r.log.Warn("ticket counter failed: " + t.status().ToString());
      return -1;
    }
    return *t < static_cast<int64_t>(r.start.todo.size()) ? static_cast<long long>(*t) : -1;
  };
  int seq = 0;
  while (r.journal_error.ok() && r.no_space.ok() && !r.stop.stop_requested()) {
    if (Status s = CheckFreeSpace(r.fs, r.o.out_dir, r.o.min_free_bytes); !s.ok()) {
      r.log.Warn(StrCat(s.ToString(), "; this rank takes no more clips (free space, then rerun the same command)"));
      r.no_space = s;
      break;
    }
    const long long pos = next();
    if (pos < 0) break;
    const WorkItem& item = todo_items[static_cast<size_t>(pos)];
    ClipTask task{item.id, item.video_uid, item.cost, r.start.attempts[static_cast<size_t>(pos)], {}};
    // Unique across runs, also of one process (in-process tests): the job id names the run.
    RunOneClip(r, processor, task, StrCat(r.start.job, ":", r.rank, ":", seq++), summary);
  }
}

// End of run (every rank, unless stopped): barrier, rank 0 classifies every clip and prints the
// summary, everybody gets the same exit code and counts.
Status Finalize(RankRun& r, RunSummary* summary) {
  VQ2D_RETURN_IF_ERROR(r.coll.Barrier());
  std::string final_msg;
  if (r.rank == 0) {
    auto done = r.store.ScanDone(r.start.fingerprint);
    JournalSummary js = ReadJournals(r.fs, r.o.out_dir);
    std::vector<std::string> failures;
    for (const auto& w : r.work) {
      auto it = js.clips.find(w.id);
      const ClipHistory* h = it == js.clips.end() ? nullptr : &it->second;
      switch (ClassifyClip(done.count(w.id) > 0, h, r.o.max_attempts)) {
        case ClipState::kDone:
          ++summary->done;
          break;
        case ClipState::kFailed:
          ++summary->failed;
          failures.push_back(StrCat("  failed      ", w.id, ": ", h->last_error));
          break;
        case ClipState::kQuarantined:
          ++summary->quarantined;
          failures.push_back(StrCat("  quarantined ", w.id, ": the process died ", h->crashes,
                                    " times while processing it"));
          break;
        default:
          ++summary->pending;
          break;
      }
    }
    summary->exit_code = (summary->done == summary->total) ? kExitOk : kExitClipsFailed;
    std::printf("[%s] %d/%d clips done, %d failed, %d quarantined, %d pending (%s)\n", r.o.label.c_str(), summary->done,
                summary->total, summary->failed, summary->quarantined, summary->pending, r.o.out_dir.c_str());
    for (const auto& f : failures) std::printf("%s\n", f.c_str());
    if (!failures.empty()) std::printf("[%s] retry them with --retry-failed; details: vq2d status\n", r.o.label.c_str());
    std::fflush(stdout);
    final_msg = nlohmann::json{{"exit", summary->exit_code}, {"done", summary->done}, {"failed", summary->failed},
                               {"quarantined", summary->quarantined}, {"pending", summary->pending}}
                    .dump();
  }
  VQ2D_RETURN_IF_ERROR(r.coll.Broadcast(&final_msg, 0));
  auto j = nlohmann::json::parse(final_msg, nullptr, false);
  if (!j.is_discarded()) {
    summary->exit_code = j.value("exit", static_cast<int>(kExitError));
    summary->done = j.value("done", 0);
    summary->failed = j.value("failed", 0);
    summary->quarantined = j.value("quarantined", 0);
    summary->pending = j.value("pending", 0);
  }
  return Status::OK();
}

}  // namespace

Result<RunSummary> RunJob(const RunOptions& o, const std::vector<WorkItem>& work, ClipProcessor& processor,
                          Collective& coll, FileSystem* fs, Clock* clock, const std::atomic<bool>* stop_flag) {
  const std::string run_started_at = clock->NowIso8601();  // before any clip of this run starts
  // 1. Rank 0 decides; everybody learns the same plan inputs.
  VQ2D_ASSIGN_OR_RETURN(StartState start, AgreeOnStart(o, work, processor, coll, fs, clock));
  const RunStore paths(fs, o.out_dir);
  VQ2D_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(o.out_dir, "journal")));
  VQ2D_RETURN_IF_ERROR(fs->CreateDirs(JoinPath(o.out_dir, "logs")));
  VQ2D_ASSIGN_OR_RETURN(auto journal, Journal::Open(fs, paths.JournalPath(coll.rank())));
  RankRun r(o, work, coll, fs, clock, stop_flag, std::move(start), std::move(journal));
  int signal_fd = -1;
  if (fs == FileSystem::Default()) {
    signal_fd = ::open(r.store.JournalPath(r.rank).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    g_signal_journal.fd.store(signal_fd);
  }
  // The handler stays armed until RunJob returns (past the final collectives), so a rank that has
  // finished its clips still records the teardown when another rank dies.
  struct SignalJournalCloser {
    int fd;
    ~SignalJournalCloser() {
      DisarmSignalJournal();
      g_signal_journal.idle_len.store(0);
      g_signal_journal.fd.store(-1);
      if (fd >= 0) ::close(fd);
    }
  } signal_journal_closer{signal_fd};
  r.log.Info(StrCat("run start: ", coll.size(), " rank(s), ", work.size(), " clips, ", r.start.todo.size(),
                    " to do, ", r.start.done, " done, ", r.start.failed, " failed, ", r.start.quarantined,
                    " quarantined; schedule ", o.schedule, "; fingerprint ", r.start.fingerprint.substr(0, 12)));
  r.Record({{"event", "run_start"}, {"rank", r.rank}, {"world", coll.size()}, {"host", r.host},
            {"pid", getpid()}, {"time", clock->NowIso8601()}, {"todo", r.start.todo.size()}, {"job", r.start.job}});
  ArmIdleSignalJournal(nlohmann::json{{"event", "signal"}, {"rank", r.rank}, {"job", r.start.job}}.dump() + "\n");

  // 2. Background helpers: grace-period watchdog (every rank), progress line (rank 0).
  std::thread watchdog([&r] { Watchdog(r); });
  std::thread progress;
  if (r.rank == 0) {
    const double t_start = clock->MonotonicSeconds();
    progress = std::thread([&r, done_at_start = ListDone(fs, o.out_dir), t_start, run_started_at] {
      Progress(r, done_at_start, t_start, run_started_at);
    });
  }

  // 3. The work loop.
  RunSummary summary;
  WorkLoop(r, processor, &summary);
  const bool stopped = r.stop.stop_requested();
  {
    std::lock_guard<std::mutex> lock(r.mu);
    r.finished = true;
  }
  r.cv.notify_all();
  watchdog.join();
  if (progress.joinable()) progress.join();
  if (r.journal_error.ok()) {
    r.Record({{"event", "run_end"}, {"rank", r.rank}, {"stopped", stopped}, {"processed", summary.processed_here},
              {"time", clock->NowIso8601()}, {"job", r.start.job}, {"no_space", !r.no_space.ok()}});
  }

  // 4. End of run. A journal error is returned after the end-of-run protocol, so no rank waits.
  summary.total = static_cast<int>(work.size());
  if (stopped) {
    summary.stopped = true;
    summary.exit_code = kExitStopped;
    r.log.Info(StrCat("stopped on signal after ", summary.processed_here,
                      " clip(s); rerun the same command to resume"));
  } else {
    VQ2D_RETURN_IF_ERROR(Finalize(r, &summary));
    // A full output filesystem on any rank ends the run with kExitNoSpace on every rank.
    VQ2D_ASSIGN_OR_RETURN(bool none_full, r.coll.AllTrue(r.no_space.ok()));
    if (!none_full) {
      summary.exit_code = kExitNoSpace;
      if (r.rank == 0) {
        std::printf("[run] the output directory %s ran out of space; free space, then rerun the same command "
                    "(exit code %d)\n", o.out_dir.c_str(), kExitNoSpace);
        std::fflush(stdout);
      }
    }
  }
  if (!r.no_space.ok()) {
    r.log.Warn(StrCat("ended on a full output filesystem: ", r.no_space.ToString(), " (exit code ", kExitNoSpace, ")"));
    summary.exit_code = kExitNoSpace;
    return summary;
  }
  if (!r.journal_error.ok()) return r.journal_error;
  return summary;
}

}  // namespace vq2d::runner
