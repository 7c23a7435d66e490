// vq2d report: a static HTML page (report.html + img/) about a finished or partial run.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "app/args.h"
#include "app/commands.h"
#include "app/render.h"
#include "app/report.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/io/config.h"
#include "vq2d/io/evaluate.h"
#include "vq2d/io/prepare.h"
#include "vq2d/io/record.h"
#include "vq2d/runner/merge.h"
#include "vq2d/runner/run_store.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using io::EvalQuery;
using io::EvalTrack;
using io::QueryMetrics;
using runner::ClipHistory;
using runner::ClipState;

using runner::ReadJournals;
using io::CanonicalConfig;
using io::ClipOutput;
using io::ClipRecord;
using io::ConvertPredictions;
using io::ConvertedPredictions;
using io::EvaluatePredictions;
using io::EvaluationResult;
using io::LoadAnnotations;
using io::LoadConfig;
using io::OpenClipRecord;
using io::ParseClipOutput;
using io::RecordPathFor;
using io::ResolveOutputDir;
using io::kSuccessThresholds;
using runner::ClassifyClip;
using runner::JournalSummary;
using runner::MergePredictions;
using runner::MergeReport;
using runner::RunStore;
using runner::kExitError;
using runner::kExitOk;
QueryCategory CategorizeQuery(const EvalTrack& pred, const EvalTrack& gt, double stiou) {
  if (stiou >= kSuccessThresholds[0]) return QueryCategory::kSuccess;
  if (pred.boxes.empty()) return QueryCategory::kNoCandidate;
  std::set<long long> gt_frames, common;
  for (const auto& b : gt.boxes) gt_frames.insert(b.fno);
  for (const auto& b : pred.boxes)
    if (gt_frames.count(b.fno)) common.insert(b.fno);
  if (common.empty()) return QueryCategory::kWrongCandidate;
  if (2 * common.size() < gt_frames.size()) return QueryCategory::kTrackTooShort;
  return QueryCategory::kBoxOff;
}

const char* QueryCategoryName(QueryCategory c) {
  switch (c) {
    case QueryCategory::kSuccess: return "success";
    case QueryCategory::kNoCandidate: return "no candidate above threshold";
    case QueryCategory::kWrongCandidate: return "wrong candidate";
    case QueryCategory::kTrackTooShort: return "track too short";
    case QueryCategory::kBoxOff: return "box off";
  }
  return "?";
}

std::string HtmlEscape(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += c;
    }
  }
  return o;
}

namespace {

const char* const kStages[] = {"read_s", "query_s", "video_s", "select_s", "refine_s", "track_s", "expansion_s"};
const char* const kStageColours[] = {"#888888", "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948"};

std::string Num(double v, int digits = 3) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Seconds(double s) {
  if (s < 1e-3) return Num(s * 1e6, 0) + " µs";
  if (s < 1) return Num(s * 1e3, 1) + " ms";
  if (s < 120) return Num(s, 2) + " s";
  return Num(s / 60, 1) + " min";
}

std::string FrameSpan(const std::vector<int>& f) {
  if (f.empty()) return "none";
  return StrCat(f.size(), " (", f.front(), "–", f.back(), ")");
}

struct ClipInfo {
  std::string state = "not in the work list";  // done | failed | quarantined | interrupted | pending
  std::string message;
  bool done = false;
  std::optional<ClipOutput> output;
  std::string output_error;
  nlohmann::json stats = nlohmann::json::object();
  double wall_s = 0;
};

struct Row {
  std::string clip_uid, video_uid, query_set, object;
  int ann_index = 0, query_frame = 0;
  std::string state, notes;
  std::string image;  // relative path, empty when none
  bool evaluated = false, has_prediction = false;
  double score = 0, tiou = 0, stiou = 0, stage_s = 0;
  bool success = false;
  std::string category = "not evaluated";
  std::string gt_frames, pred_frames, decisions;
  std::vector<std::string> upstream_errors;
};

const char kCss[] = R"(body{font:14px/1.4 sans-serif;margin:1em 2em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#eee}th.sort{cursor:pointer}tr.notdone td{background:#fff4e0}td.num{text-align:right}
#queries td:nth-child(2){min-width:15em}#queries td:nth-child(3){min-width:10em}
pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:30em}img.strip{display:block;max-width:820px}
.bad{color:#b00}.ok{color:#070}.small{font-size:12px;color:#555}button{margin-right:.3em})";

// Sorting by the row's data attributes, and the image check the tests read back: body data-images is
// "ok" once every picture has loaded with a size (pages of more than 200 queries load theirs lazily,
// as they scroll into view: data-images-deferred counts those not loaded yet), "broken" if any failed.
const char kJs[] = R"(
function sortRows(key, numeric){
  var tb=document.querySelector('#queries tbody');var rows=Array.prototype.slice.call(tb.rows);
  var dir=(tb.dataset.sortKey===key&&tb.dataset.sortDir==='desc')?'asc':'desc';
  rows.sort(function(a,b){var x=a.dataset[key],y=b.dataset[key];
    if(numeric){x=parseFloat(x);y=parseFloat(y);if(isNaN(x))x=-Infinity;if(isNaN(y))y=-Infinity;}
    var c=x<y?-1:x>y?1:0;return dir==='asc'?c:-c;});
  rows.forEach(function(r){tb.appendChild(r);});tb.dataset.sortKey=key;tb.dataset.sortDir=dir;
}
function checkImages(){
  var imgs=document.images,ok=0,bad=0,pending=0,deferred=0;
  for(var i=0;i<imgs.length;i++){var im=imgs[i];
    if(!im.complete){if(im.loading==='lazy')deferred++;else pending++;}else if(im.naturalWidth>0)ok++;else bad++;}
  document.body.dataset.imagesOk=ok;document.body.dataset.imagesBroken=bad;document.body.dataset.imagesDeferred=deferred;
  document.body.dataset.images=pending?'loading':(bad?'broken':'ok');
  document.body.dataset.rowsRendered=document.querySelectorAll('#queries tbody tr').length;
  return pending===0;
}
window.addEventListener('load',function(){
  var m=/^#sort=(\w+)$/.exec(location.hash);if(m)sortRows(m[1],m[1]!=='object');
  if(!checkImages()){var t=setInterval(function(){if(checkImages())clearInterval(t);},50);}});
)";

int RunReportImpl(const Args& args) {
  std::string config_path = "config.yaml", split, out_dir, run_dir, annotations_path;
  std::vector<std::string> sets;
  ArgParser p("vq2d report",
              "Writes one static HTML page about a finished or partial run: the official metrics (val), one row per\n"
              "query (sortable by score, success, IoU, object, stage time) with a thumbnail strip (visual crop,\n"
              "ground-truth response track, predicted track, query frame), the query's stage decisions and\n"
              "upstream_errors, failure categories with counts, per-stage time per clip, the run's config and\n"
              "fingerprint. Clips not done are listed as such. The page (report.html, pictures in img/) needs no\n"
              "server and no network: open it from the file system.");
  p.AddString("--config", &config_path, "configuration file (run directory, split, annotations, records)");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddString("--split", &split, "split of the run (overrides visual_query.split)");
  p.AddString("--run", &run_dir, "run output directory (default: the config's)");
  p.AddString("--annotations", &annotations_path, "annotation file (default: the run's)");
  p.AddString("--out", &out_dir, "output directory (default: <run dir>/report)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "vq2d report: %s\n", s.ToString().c_str());
    return static_cast<int>(kExitError);
  };
  FileSystem* fs = FileSystem::Default();
  if (!split.empty()) sets.push_back("visual_query.split=" + split);
  auto config = LoadConfig(config_path, sets);
  if (!config.ok()) return fail(config.status());
  if (run_dir.empty()) run_dir = ResolveOutputDir(*config, fs);
  RunStore store(fs, run_dir);
  // run.json and the manifest: a run that has started.
  auto run_text = fs->ReadFile(store.RunFilePath());
  if (!run_text.ok())
    return fail(Status::NotFound(StrCat("'", run_dir, "' is not a vq2d run directory (no readable run.json): start it with "
                                        "`vq2d run --config ", config_path, "`")));
  nlohmann::json run = nlohmann::json::parse(*run_text, nullptr, false);
  if (!run.is_object()) return fail(Status::Corruption(StrCat(store.RunFilePath(), ": not JSON")));
  const nlohmann::json info = run.value("info", nlohmann::json::object());
  const std::string fingerprint = run.value("fingerprint", "");
  const std::string sp = info.value("split", config->visual_query.split);
  if (annotations_path.empty()) annotations_path = info.value("annotations", config->AnnotationsFile(sp));
  std::string records_dir = info.value("records_dir", config->RecordsDir(sp));
  auto manifest_text = fs->ReadFile(store.ManifestPath());
  nlohmann::json manifest = manifest_text.ok() ? nlohmann::json::parse(*manifest_text, nullptr, false) : nlohmann::json();
  if (!manifest.is_object() || !manifest.contains("clips"))
    return fail(Status::Corruption(StrCat(store.ManifestPath(), ": missing or not a vq2d manifest")));
  auto annotations = LoadAnnotations(annotations_path);
  if (!annotations.ok()) return fail(annotations.status());
  if (out_dir.empty()) out_dir = JoinPath(run_dir, "report");
  if (Status s = fs->CreateDirs(JoinPath(out_dir, "img")); !s.ok()) return fail(s);

  // Clip states, as `vq2d status` classifies them.
  const int max_attempts = manifest.value("runner", nlohmann::json::object()).value("max_attempts", 3);
  std::vector<std::string> rejected;
  auto done = store.ScanDone(fingerprint, &rejected);
  JournalSummary js = ReadJournals(fs, run_dir);
  std::map<std::string, ClipInfo> clips;
  std::vector<std::string> order;
  int n_done = 0;
  std::map<std::string, int> state_counts;
  for (const auto& c : manifest["clips"]) {
    const std::string uid = c.value("clip_uid", "");
    ClipInfo& ci = clips[uid];
    order.push_back(uid);
    auto it = js.clips.find(uid);
    const ClipHistory* h = it == js.clips.end() ? nullptr : &it->second;
    auto d = done.find(uid);
    switch (ClassifyClip(d != done.end(), h, max_attempts)) {
      case ClipState::kDone: ci.state = "done"; break;
      case ClipState::kFailed: ci.state = "failed", ci.message = h ? h->last_error : ""; break;
      case ClipState::kQuarantined: ci.state = "quarantined", ci.message = StrCat("the process died ", h ? h->crashes : 0, " times on it"); break;
      case ClipState::kInterrupted: ci.state = "interrupted"; break;
      case ClipState::kPending: ci.state = "pending"; break;
    }
    ++state_counts[ci.state];
    if (d == done.end()) continue;
    ++n_done;
    ci.done = true;
    ci.stats = d->second.stats;
    ci.wall_s = d->second.wall_s;
    auto text = fs->ReadFile(store.ClipOutputPath(uid));
    if (!text.ok()) {
      ci.output_error = StrCat("clip output unreadable: ", text.status().message());
      continue;
    }
    auto co = ParseClipOutput(*text, store.ClipOutputPath(uid));
    if (co.ok()) ci.output = std::move(*co);
    else ci.output_error = StrCat("clip output unreadable: ", co.status().message());
  }

  // Metrics on what the run has (missing clips count as empty predictions, as `vq2d merge` writes them).
  MergeReport merge_report;
  auto merged = MergePredictions(fs, *annotations, {run_dir}, &merge_report);
  std::string metrics_note;
  std::optional<EvaluationResult> eval;
  std::optional<ConvertedPredictions> converted;
  if (!merged.ok()) {
    metrics_note = StrCat("no metrics: merging the clip outputs failed: ", merged.status().message());
  } else if (sp == "test") {
    metrics_note = "no metrics: the test split has no ground truth (use `vq2d submit`)";
  } else {
    auto e = EvaluatePredictions(*merged, run_dir, *annotations);
    auto cv = ConvertPredictions(*merged, run_dir, *annotations);
    if (e.ok() && cv.ok()) {
      eval = std::move(*e);
      converted = std::move(*cv);
    } else {
      metrics_note = StrCat("no metrics: ", (e.ok() ? cv.status() : e.status()).message());
    }
  }
  // (clip, annotation index, query set) -> index into the converted queries / metrics.
  std::map<std::tuple<std::string, size_t, std::string>, size_t> ref_index;
  std::map<size_t, const QueryMetrics*> metrics_of;
  if (eval) {
    for (size_t i = 0; i < eval->refs.size(); ++i)
      ref_index[{eval->refs[i].clip_uid.value_or(""), eval->refs[i].annotation_index, eval->refs[i].query_set}] = i;
    for (const auto& m : eval->metrics.per_query) metrics_of[m.input_index] = &m;
  }

  // Rows: every valid query of the annotation file, in its order.
  std::vector<Row> rows;
  std::map<std::string, int> category_counts;
  for (const auto& v : annotations->videos) {
    for (const auto& c : v.clips) {
      const std::string uid = c.clip_uid.value_or("");
      auto cit = clips.find(uid);
      ClipInfo* ci = cit == clips.end() ? nullptr : &cit->second;
      std::optional<ClipRecord> rec;
      std::string rec_error;
      const std::string rec_path = RecordPathFor(records_dir, uid);
      if (uid.empty()) {
        rec_error = "null clip_uid (not run)";
      } else {
        auto r = OpenClipRecord(rec_path, io::RecordReadOptions{config->data.verify_record_checksums});
        if (r.ok()) rec = std::move(*r);
        else if (!fs->Exists(rec_path)) rec_error = StrCat("record missing: ", rec_path, " (run `vq2d prepare`)");
        else rec_error = StrCat("record unreadable: ", r.status().message());
      }
      for (size_t ai = 0; ai < c.annotations.size(); ++ai) {
        for (const auto& qs : c.annotations[ai].query_sets) {
          if (!qs.is_valid) continue;
          Row row;
          row.clip_uid = uid;
          row.video_uid = v.video_uid;
          row.ann_index = static_cast<int>(ai);
          row.query_set = qs.id;
          row.object = qs.object_title;
          row.query_frame = qs.query_frame;
          row.state = ci ? ci->state : "not in the work list";
          std::vector<std::string> notes;
          if (ci && !ci->message.empty()) notes.push_back(ci->message);
          if (ci && !ci->output_error.empty()) notes.push_back(ci->output_error);
          std::vector<int> gtf;
          for (const auto& b : qs.response_track) gtf.push_back(b.frame_number);
          std::sort(gtf.begin(), gtf.end());
          row.gt_frames = FrameSpan(gtf);
          RenderPrediction pred;
          if (ci && ci->output) {
            pred = PredictionFromClipOutput(*ci->output, row.ann_index, qs.id);
            row.has_prediction = pred.found;
            row.score = pred.score;
            std::vector<int> pf;
            for (const auto& b : pred.boxes) pf.push_back(b.first);
            row.pred_frames = FrameSpan(pf);
            // Stage decisions and upstream errors from the clip output's per-query diagnostics.
            for (const auto& e : ci->output->extra.value("queries", nlohmann::json::array())) {
              if (e.value("annotation_index", -1) != row.ann_index || e.value("query_set", "") != qs.id) continue;
              const auto st = e.value("stats", nlohmann::json::object());
              for (const char* k : kStages)
                if (st.contains(k) && st[k].is_number()) row.stage_s += st[k].get<double>();
              std::ostringstream d;
              d << "objects " << st.value("objects", 0) << "; round 1: " << st.value("queries_round1", 0)
                << " queries, " << st.value("selected_round1", 0) << " selected, " << st.value("refined_round1", 0)
                << " kept after refinement; round 2: " << st.value("queries_round2", 0) << " queries, "
                << st.value("selected_round2", 0) << " selected, " << st.value("refined_round2", 0)
                << " kept; round-2 track " << (e.value("round2_tracked", false) ? "made" : "not made") << ", "
                << (e.value("round2_accepted", false) ? "accepted" : "not accepted");
              row.decisions = d.str();
              for (const auto& u : e.value("upstream_errors", nlohmann::json::array()))
                if (u.is_string()) row.upstream_errors.push_back(u.get<std::string>());
            }
          } else {
            row.pred_frames = "—";
            if (ci && !ci->done) notes.push_back(StrCat("clip ", ci->state, ": no prediction yet"));
          }
          if (auto ri = ref_index.find({uid, ai, qs.id}); ri != ref_index.end()) {
            if (auto mi = metrics_of.find(ri->second); mi != metrics_of.end()) {
              row.evaluated = ci && ci->done;
              row.tiou = mi->second->tiou;
              row.stiou = mi->second->stiou;
              row.success = row.stiou >= kSuccessThresholds[0];
              if (row.evaluated) {
                const EvalQuery& eq = converted->queries[ri->second];
                row.category = QueryCategoryName(CategorizeQuery(eq.pred, eq.gt, row.stiou));
              }
            }
          }
          if (row.evaluated) ++category_counts[row.category];
          // Thumbnail strip: visual crop, middle GT frame, middle predicted frame, query frame.
          if (!rec) {
            notes.push_back(rec_error);
          } else {
            auto painter = QueryPainter::Make(*rec, qs, pred);
            Status st = painter.status();
            if (painter.ok()) {
              const double scale = 200.0 / std::max(1, rec->width());
              const int tw = 200, th = static_cast<int>(rec->height() * scale) + 10;
              std::vector<Tile> tiles;
              tiles.push_back({StrCat("visual crop (frame ", qs.visual_crop.frame_number, ")"), painter->VisualCrop(tw, th)});
              auto add = [&](const std::string& cap, const std::vector<int>& f, const std::string& suffix = "") -> Status {
                if (f.empty()) {
                  tiles.push_back({cap + ": none", cv::Mat()});
                  return Status::OK();
                }
                const int t = f[f.size() / 2];
                if (t < 0 || t >= rec->num_frames()) {
                  tiles.push_back({StrCat(cap, " ", t, ": outside the record"), cv::Mat()});
                  return Status::OK();
                }
                VQ2D_ASSIGN_OR_RETURN(cv::Mat img, painter->Frame(t, scale, false));
                tiles.push_back({StrCat(cap, " ", t, suffix), img});
                return Status::OK();
              };
              st = add("GT frame", painter->GtFrames());
              if (st.ok()) st = add("predicted frame", painter->PredFrames());
              if (st.ok()) {
                const int qf = painter->QueryFrameInRecord();
                st = add("query frame", {qf}, qf == qs.query_frame ? ", not searched" : " (the record's last; query frame past it)");
              }
              if (st.ok()) {
                const std::string name = StrCat("img/", uid, "_", ai, "_", qs.id, ".png");
                try {
                  st = WritePng(JoinPath(out_dir, name), ContactSheet(tiles, 4, tw, th, ""));
                } catch (const cv::Exception& e) {
                  st = Status::Internal(e.what());
                }
                if (st.ok()) row.image = name;
              }
            }
            if (!st.ok()) notes.push_back(StrCat("frames unreadable: ", st.message()));
          }
          for (const auto& n : notes) row.notes += (row.notes.empty() ? "" : "; ") + n;
          rows.push_back(std::move(row));
        }
      }
    }
  }

  // The page.
  std::ostringstream h;
  const std::string title = StrCat("vq2d report: ", config->visual_query.exp_name, " (", sp, ")");
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" << HtmlEscape(title)
    << "</title>\n<style>" << kCss << "</style></head>\n<body data-rows=\"" << rows.size() << "\" data-images=\"pending\">\n";
  h << "<h1>" << HtmlEscape(title) << "</h1>\n<p class=\"small\">run directory " << HtmlEscape(run_dir)
    << "; annotations " << HtmlEscape(annotations_path) << "; records " << HtmlEscape(records_dir) << "</p>\n";
  // Clips.
  h << "<section id=\"clips\"><h2>Clips</h2><p>" << order.size() << " clips in the work list: ";
  bool first = true;
  for (const auto& [s, n] : state_counts) h << (first ? "" : ", ") << n << " " << HtmlEscape(s), first = false;
  h << (n_done == static_cast<int>(order.size()) ? " (finished run)" : " (partial run)") << ".</p>\n";
  if (n_done < static_cast<int>(order.size())) {
    h << "<table id=\"clips-not-done\"><tr><th>clip</th><th>state</th><th>message</th></tr>\n";
    for (const auto& uid : order) {
      const ClipInfo& ci = clips[uid];
      if (ci.done) continue;
      h << "<tr class=\"notdone\" data-clip=\"" << HtmlEscape(uid) << "\"><td>" << HtmlEscape(uid) << "</td><td>"
        << HtmlEscape(ci.state) << "</td><td>" << HtmlEscape(ci.message) << "</td></tr>\n";
    }
    h << "</table>\n";
  }
  for (const auto& r : rejected) h << "<p class=\"bad\">done record not accepted: " << HtmlEscape(r) << "</p>\n";
  h << "</section>\n";
  // Metrics.
  h << "<section id=\"metrics\"><h2>Metrics (official Ego4D VQ2D evaluator)</h2>\n";
  if (eval && eval->metrics.has_metrics) {
    if (!merge_report.complete())
      h << "<p class=\"bad\">" << merge_report.queries_total - merge_report.queries_predicted << " of "
        << merge_report.queries_total
        << " queries have no finished clip and count as empty predictions (as <code>vq2d merge</code> writes "
           "them).</p>\n";
    h << "<table id=\"metrics-table\"><tr><th>metric</th><th>value</th></tr>\n";
    for (const auto& [k, val] : eval->metrics.MetricDict())
      h << "<tr><td>" << HtmlEscape(k) << "</td><td class=\"num\">" << Num(val, 4) << "</td></tr>\n";
    h << "</table><p class=\"small\">" << eval->metrics.n_queries << " queries evaluated.</p>\n";
  } else {
    h << "<p id=\"metrics-none\">" << HtmlEscape(metrics_note.empty() ? "no metrics: no query passed the area filter" : metrics_note)
      << "</p>\n";
  }
  h << "</section>\n";
  // Failure categories.
  h << "<section id=\"failures\"><h2>Failure categories</h2>\n<table id=\"failure-table\"><tr><th>category</th><th>"
       "queries</th><th>definition (first that applies)</th></tr>\n";
  const std::pair<QueryCategory, const char*> defs[] = {
      {QueryCategory::kSuccess, "st-IoU ≥ 0.05 (the official success threshold)"},
      {QueryCategory::kNoCandidate, "not a success and the predicted track is empty: no candidate survived selection "
                                    "(visual_query.query_selection_threshold) and refinement, nothing was tracked"},
      {QueryCategory::kWrongCandidate, "a predicted track that shares no frame with the ground-truth response track"},
      {QueryCategory::kTrackTooShort, "the predicted track covers fewer than half of the response-track frames"},
      {QueryCategory::kBoxOff, "the predicted track covers at least half of the response-track frames, but the "
                               "boxes miss (st-IoU < 0.05)"}};
  for (const auto& [c, d] : defs)
    h << "<tr><td>" << QueryCategoryName(c) << "</td><td class=\"num\" data-category=\"" << QueryCategoryName(c) << "\">"
      << category_counts[QueryCategoryName(c)] << "</td><td>" << HtmlEscape(d) << "</td></tr>\n";
  int not_evaluated = 0;
  for (const auto& r : rows) not_evaluated += !r.evaluated;
  h << "<tr><td>not evaluated</td><td class=\"num\" data-category=\"not evaluated\">" << not_evaluated
    << "</td><td>clip not done, or no ground truth</td></tr>\n</table></section>\n";
  // Per-stage time per clip (inline SVG, stacked bars).
  h << "<section id=\"stages\"><h2>Per-stage time per clip</h2>\n";
  // Work-list order; beyond kMaxChartClips clips only the slowest done ones (the rest are counted).
  constexpr size_t kMaxChartClips = 300;
  auto clip_total = [&](const std::string& uid) {
    double t = 0;
    for (const char* k : kStages)
      if (clips[uid].stats.contains(k) && clips[uid].stats[k].is_number()) t += clips[uid].stats[k].get<double>();
    return t;
  };
  std::vector<std::string> chart;
  for (const auto& uid : order)
    if (clips[uid].done || order.size() <= kMaxChartClips) chart.push_back(uid);
  if (chart.size() > kMaxChartClips) {
    std::stable_sort(chart.begin(), chart.end(),
                     [&](const std::string& a, const std::string& b) { return clip_total(a) > clip_total(b); });
    h << "<p class=\"small\">The " << kMaxChartClips << " slowest of " << chart.size() << " done clips; "
      << order.size() - chart.size() << " clips not done are listed above.</p>\n";
    chart.resize(kMaxChartClips);
  }
  double max_total = 0;
  for (const auto& uid : chart) max_total = std::max(max_total, clip_total(uid));
  const int label_w = 300, bar_w = 560, row_h = 18;
  h << "<svg id=\"stage-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << label_w + bar_w + 90 << "\" height=\""
    << (chart.size() + 2) * row_h + 10 << "\" font-size=\"11\" font-family=\"sans-serif\">\n";
  int y = 4;
  {
    int x = 0;
    for (size_t s = 0; s < std::size(kStages); ++s) {
      h << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"10\" height=\"10\" fill=\"" << kStageColours[s] << "\"/><text x=\""
        << x + 13 << "\" y=\"" << y + 9 << "\">" << kStages[s] << "</text>\n";
      x += 95;
    }
    y += row_h + 4;
  }
  for (const auto& uid : chart) {
    const ClipInfo& ci = clips[uid];
    h << "<g class=\"clip-bar\"><text x=\"0\" y=\"" << y + 12 << "\">" << HtmlEscape(uid.substr(0, 36)) << "</text>\n";
    if (!ci.done) {
      h << "<text x=\"" << label_w << "\" y=\"" << y + 12 << "\" fill=\"#b00\">" << HtmlEscape(ci.state) << "</text>";
    } else {
      double x = label_w, total = 0;
      for (size_t s = 0; s < std::size(kStages); ++s) {
        const double v = ci.stats.contains(kStages[s]) && ci.stats[kStages[s]].is_number() ? ci.stats[kStages[s]].get<double>() : 0;
        total += v;
        const double w = max_total > 0 ? v / max_total * bar_w : 0;
        h << "<rect x=\"" << Num(x, 1) << "\" y=\"" << y + 2 << "\" width=\"" << Num(w, 1) << "\" height=\"" << row_h - 4
          << "\" fill=\"" << kStageColours[s] << "\"><title>" << kStages[s] << " " << Seconds(v) << "</title></rect>";
        x += w;
      }
      h << "<text x=\"" << Num(x + 4, 1) << "\" y=\"" << y + 12 << "\">" << Seconds(total) << "</text>";
    }
    h << "</g>\n";
    y += row_h;
  }
  h << "</svg></section>\n";
  // Queries.
  h << "<section id=\"queries\"><h2>Queries</h2>\n<p>Sort: "
       "<button onclick=\"sortRows('score',true)\">score</button><button onclick=\"sortRows('success',true)\">success"
       "</button><button onclick=\"sortRows('iou',true)\">st-IoU</button><button onclick=\"sortRows('object',false)\">"
       "object</button><button onclick=\"sortRows('time',true)\">stage time</button><button "
       "onclick=\"sortRows('index',true)\">annotation order</button> (click again to reverse)</p>\n"
       "<table><thead><tr><th>#</th><th>query</th><th>result</th><th>pictures, stage decisions, upstream_errors</th>"
       "</tr></thead><tbody>\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    h << "<tr class=\"query" << (r.state == "done" ? "" : " notdone") << "\" data-index=\"" << i << "\" data-score=\""
      << (r.has_prediction ? Num(r.score, 6) : "") << "\" data-success=\"" << (r.evaluated ? (r.success ? "1" : "0") : "")
      << "\" data-iou=\"" << (r.evaluated ? Num(r.stiou, 6) : "") << "\" data-object=\"" << HtmlEscape(r.object)
      << "\" data-time=\"" << Num(r.stage_s, 6) << "\" data-clip=\"" << HtmlEscape(r.clip_uid) << "\" data-state=\""
      << HtmlEscape(r.state) << "\" data-category=\"" << HtmlEscape(r.category) << "\">";
    h << "<td>" << i + 1 << "</td><td><b>" << HtmlEscape(r.object) << "</b><br><span class=\"small\">clip "
      << HtmlEscape(r.clip_uid) << "<br>annotation " << r.ann_index << ", query set " << HtmlEscape(r.query_set)
      << "<br>query frame " << r.query_frame << "<br>clip " << HtmlEscape(r.state) << "</span></td>";
    h << "<td>";
    if (r.has_prediction) h << "score " << Num(r.score, 4) << "<br>";
    if (r.evaluated)
      h << "<span class=\"" << (r.success ? "ok" : "bad") << "\">" << (r.success ? "success" : "no success")
        << "</span><br>st-IoU " << Num(r.stiou, 4) << "<br>t-IoU " << Num(r.tiou, 4) << "<br>" << HtmlEscape(r.category)
        << "<br>";
    h << "<span class=\"small\">GT frames " << HtmlEscape(r.gt_frames) << "<br>predicted frames " << HtmlEscape(r.pred_frames)
      << "<br>stage time " << (r.decisions.empty() ? std::string("—") : Seconds(r.stage_s)) << "</span></td><td>";
    if (!r.image.empty())
      h << "<img class=\"strip\"" << (rows.size() > 200 ? " loading=\"lazy\"" : "") << " src=\"" << HtmlEscape(r.image) << "\" alt=\"visual crop, GT, prediction, query frame\">";
    if (!r.notes.empty()) h << "<p class=\"bad note\">" << HtmlEscape(r.notes) << "</p>";
    if (!r.decisions.empty()) h << "<p class=\"small\">" << HtmlEscape(r.decisions) << "</p>";
    h << "<p class=\"small\">upstream_errors: ";
    if (r.upstream_errors.empty()) h << (r.decisions.empty() ? "—" : "none");
    for (size_t k = 0; k < r.upstream_errors.size(); ++k) h << (k ? "; " : "") << HtmlEscape(r.upstream_errors[k]);
    h << "</p></td></tr>\n";
  }
  h << "</tbody></table></section>\n";
  // Config and fingerprint.
  h << "<section id=\"config\"><h2>Configuration and fingerprint</h2>\n<p>fingerprint <code id=\"fingerprint\">"
    << HtmlEscape(fingerprint) << "</code>, created " << HtmlEscape(run.value("created_at", "")) << " by "
    << HtmlEscape(run.value("created_by", "")) << "</p>\n";
  const nlohmann::json comp = run.value("components", nlohmann::json::object());
  if (comp.contains("files") && comp["files"].is_array()) {
    h << "<table id=\"fingerprint-files\"><tr><th>file</th><th>path</th><th>sha256</th><th>bytes</th></tr>\n";
    for (const auto& f : comp["files"])
      h << "<tr><td>" << HtmlEscape(f.value("name", "")) << "</td><td>" << HtmlEscape(f.value("path", "")) << "</td><td><code>"
        << HtmlEscape(f.value("sha256", "")) << "</code></td><td class=\"num\">" << f.value("bytes", 0) << "</td></tr>\n";
    h << "</table>\n";
  }
  h << "<p>vq2d version " << HtmlEscape(comp.value("version", "")) << ". Results-affecting configuration the run "
    << "was started with (what the fingerprint hashes):</p>\n<pre id=\"run-config\">"
    << HtmlEscape(comp.value("config", "")) << "</pre>\n<p>Configuration given to <code>vq2d report</code> ("
    << HtmlEscape(config_path) << ", all keys):</p>\n<pre>" << HtmlEscape(CanonicalConfig(*config, false))
    << "</pre></section>\n";
  h << "<script>" << kJs << "</script>\n</body></html>\n";
  const std::string html_path = JoinPath(out_dir, "report.html");
  if (Status s = WriteFileAtomic(fs, html_path, h.str(), "report"); !s.ok()) return fail(s);
  int images = 0;
  for (const auto& r : rows) images += !r.image.empty();
  std::printf("vq2d report: %zu queries (%d with pictures), %d/%zu clips done -> %s\n", rows.size(), images, n_done,
              order.size(), html_path.c_str());
  return kExitOk;
}

}  // namespace

int RunReport(const Args& args) {
  try {
    return RunReportImpl(args);
  } catch (const std::exception& e) {  // OpenCV / JSON errors: report, do not crash
    std::fprintf(stderr, "vq2d report: %s\n", e.what());
    return kExitError;
  }
}

}  // namespace vq2d::app
