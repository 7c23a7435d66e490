#include "vq2d/runner/run_status.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "vq2d/base/human.h"
#include "vq2d/runner/run_store.h"

namespace vq2d::runner {
namespace {

std::string Hms(double s) {
  if (s < 0) return "unknown";
  long long t = static_cast<long long>(s + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

}  // namespace

Result<RunStatusReport> ReadRunStatus(FileSystem* fs, const std::string& out_dir) {
  RunStatusReport r;
  r.out_dir = out_dir;
  RunStore store(fs, out_dir);
  auto manifest_text = fs->ReadFile(store.ManifestPath());
  if (!manifest_text.ok())
    return Status::NotFound(StrCat("'", out_dir, "' is not a vq2d run directory (no readable manifest.json): ",
                                   manifest_text.status().message()));
  auto manifest = nlohmann::json::parse(*manifest_text, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("clips"))
    return Status::Corruption(store.ManifestPath() + ": not a vq2d manifest");
  r.fingerprint = manifest.value("fingerprint", "");
  const int max_attempts = manifest.value("runner", nlohmann::json::object()).value("max_attempts", 3);
  auto done = store.ScanDone(r.fingerprint, &r.rejected_done);
  JournalSummary js = ReadJournals(fs, out_dir);
  r.torn_journal_lines = js.torn_lines;
  r.last_job = js.last_job;
  r.last_job_stopped = js.last_job_stopped;
  for (const auto& c : manifest["clips"]) {
    const std::string uid = c.value("clip_uid", "");
    const double cost = c.value("cost", 0.0);
    ++r.total;
    if (done.count(uid)) {
      ++r.done;
      for (auto& [k, v] : done[uid].stats.items()) {
        if (!v.is_number()) continue;
        if (k.size() > 2 && k.compare(k.size() - 2, 2, "_s") == 0) r.stage_seconds[k] += v.get<double>();
        else r.stat_totals[k] += v.get<double>();
      }
      continue;
    }
    r.remaining_cost += cost;
    auto it = js.clips.find(uid);
    const ClipHistory* h = it == js.clips.end() ? nullptr : &it->second;
    if (h && h->has_open && OpenAttemptAlive(h->open, js.events)) {
      ++r.running;
      r.in_flight.push_back({uid, h->open.host, h->open.since, h->open.stage, h->open.stage_since, h->open.rank});
      continue;
    }
    switch (ClassifyClip(false, h, max_attempts)) {
      case ClipState::kFailed:
        ++r.failed;
        r.failures.emplace_back(uid, h->last_error);
        break;
      case ClipState::kQuarantined:
        ++r.quarantined;
        r.failures.emplace_back(uid, StrCat("quarantined: the process died ", h->crashes, " times on it"));
        break;
      case ClipState::kInterrupted:
        ++r.interrupted;
        break;
      default:
        ++r.pending;
        break;
    }
  }
  // Throughput per rank over the latest run (events after the last run_start of that rank).
  std::map<int, size_t> last_start;
  for (size_t i = 0; i < js.events.size(); ++i)
    if (js.events[i].value("event", "") == "run_start") last_start[js.events[i].value("rank", 0)] = i;
  for (size_t i = 0; i < js.events.size(); ++i) {
    const auto& ev = js.events[i];
    if (ev.value("event", "") != "finish") continue;
    const int rank = ev.value("rank", 0);
    if (last_start.count(rank) && i < last_start[rank]) continue;
    RankThroughput& t = r.ranks[rank];
    ++t.clips;
    t.busy_s += ev.value("wall_s", 0.0);
    t.cost += ev.value("cost", 0.0);
  }
  double rate = 0;
  for (const auto& [rank, t] : r.ranks)
    if (t.busy_s > 0) rate += t.cost / t.busy_s;
  if (r.remaining_cost == 0) r.eta_s = 0;
  else if (rate > 0) r.eta_s = r.remaining_cost / rate;
  return r;
}

std::string RunStatusReport::ToText() const {
  std::ostringstream os;
  os << "run        " << out_dir << "\n";
  os << "fingerprint " << fingerprint.substr(0, 12) << "\n";
  os << "clips      " << total << " total: " << done << " done, " << failed << " failed, " << quarantined
     << " quarantined, " << running << " running, " << interrupted << " interrupted, " << pending << " pending\n";
  os << "remaining  " << static_cast<long long>(remaining_cost) << " frames to search, ETA " << HumanSeconds(eta_s)
     << (eta_s >= 0 ? " (" + Hms(eta_s) + ")" : std::string()) << "\n";
  if (!in_flight.empty()) {
    os << "in flight\n";
    for (const auto& f : in_flight) {
      os << "  rank " << f.rank << " on " << f.host << ": " << f.clip << ", since " << f.since;
      if (!f.stage.empty()) os << ", stage " << f.stage << " since " << f.stage_since;
      os << "\n";
    }
  }
  if (!ranks.empty()) {
    os << "throughput (latest run)\n";
    for (const auto& [rank, t] : ranks) {
      char line[160];
      std::snprintf(line, sizeof line, "  rank %-4d %6d clips  %8.1f clips/h  %10.1f frames/s\n", rank, t.clips,
                    t.busy_s > 0 ? t.clips * 3600.0 / t.busy_s : 0.0, t.busy_s > 0 ? t.cost / t.busy_s : 0.0);
      os << line;
    }
  }
  if (!stage_seconds.empty()) {
    os << "stage time (all finished clips)\n";
    for (const auto& [k, v] : stage_seconds) os << "  " << k << " " << HumanSeconds(v) << "\n";
  }
  if (!stat_totals.empty()) {
    os << "counts (all finished clips)\n";
    for (const auto& [k, v] : stat_totals) os << "  " << k << " " << HumanNumber(v) << "\n";
  }
  if (!failures.empty()) {
    os << "failures\n";
    for (const auto& [clip, msg] : failures) os << "  " << clip << ": " << msg << "\n";
  }
  if (!rejected_done.empty()) {
    os << "done records not accepted (will be redone)\n";
    for (const auto& m : rejected_done) os << "  " << m << "\n";
  }
  if (torn_journal_lines > 0) os << "journal: " << torn_journal_lines << " torn line(s) skipped\n";
  return os.str();
}

}  // namespace vq2d::runner
