#include "vq2d/io/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>

#include "io/eval/validate.h"
#include "io/json_util.h"
#include "vq2d/base/filesystem.h"

namespace vq2d::io {
namespace {

using io::internal::DescribeJson;
using io::internal::OJson;

std::string UidText(const std::optional<std::string>& uid) { return uid ? "'" + *uid + "'" : "null"; }

std::string QueryLabel(const EvalQueryRef& r) {
  return StrCat("video '", r.video_uid, "' clip ", UidText(r.clip_uid), " annotation ", r.annotation_index,
                " query set '", r.query_set, "'");
}

Status Assertion(const std::string& source, const std::string& path, const std::string& what) {
  return Status::InvalidArgument(
      StrCat("AssertionError: ", source, ": ", path.empty() ? "(root)" : path, ": ", what));
}

// JSON equality of a prediction uid with an annotation uid (string or null).
bool UidEquals(const OJson& v, const std::optional<std::string>& uid) {
  if (!uid) return v.is_null();
  return v.is_string() && v.get_ref<const std::string&>() == *uid;
}

std::string Show(const OJson& v) { return DescribeJson(v); }

}  // namespace

// validate_model_predictions(model_predictions, test_annotations), rule by rule in upstream order.
Status ValidatePredictionsJson(const OJson& pred, const std::string& src, const AnnotationFile& gt) {
  if (!pred.is_object()) return Assertion(src, "", StrCat("the predictions must be a JSON object, got ", Show(pred)));
  for (const char* key : {"version", "challenge", "results"}) {
    if (!pred.contains(key)) return Assertion(src, "", StrCat("missing key '", key, "'"));
  }
  const OJson& version = pred["version"];
  if (!(version.is_string() && version.get_ref<const std::string&>() == gt.version)) {
    return Assertion(src, "version",
                     StrCat("expected the annotation file's version \"", gt.version, "\", got ", Show(version)));
  }
  const OJson& challenge = pred["challenge"];
  if (!(challenge.is_string() && challenge.get_ref<const std::string&>() == "ego4d_vq2d_challenge")) {
    return Assertion(src, "challenge", StrCat("expected \"ego4d_vq2d_challenge\", got ", Show(challenge)));
  }
  const OJson& results = pred["results"];
  if (!results.is_object()) return Assertion(src, "results", StrCat("expected an object, got ", Show(results)));
  if (!results.contains("videos")) return Assertion(src, "results", "missing key 'videos'");
  const OJson& videos = results["videos"];
  if (!videos.is_array()) return Assertion(src, "results.videos", StrCat("expected an array, got ", Show(videos)));
  if (videos.size() != gt.videos.size()) {
    return Assertion(src, "results.videos",
                     StrCat(videos.size(), " videos, but the annotation file has ", gt.videos.size()));
  }
  for (size_t vi = 0; vi < gt.videos.size(); ++vi) {
    const Video& va = gt.videos[vi];
    const OJson& vp = videos[vi];
    std::string vpath = StrCat("results.videos[", vi, "]");
    if (!vp.is_object()) return Assertion(src, vpath, StrCat("expected an object, got ", Show(vp)));
    for (const char* key : {"video_uid", "clips"}) {
      if (!vp.contains(key)) return Assertion(src, vpath, StrCat("missing key '", key, "'"));
    }
    if (!(vp["video_uid"].is_string() && vp["video_uid"].get_ref<const std::string&>() == va.video_uid)) {
      return Assertion(src, vpath + ".video_uid",
                       StrCat("expected '", va.video_uid, "' (annotation video ", vi,
                              "; videos must follow the annotation file's order), got ", Show(vp["video_uid"])));
    }
    const OJson& clips = vp["clips"];
    if (!clips.is_array()) return Assertion(src, vpath + ".clips", StrCat("expected an array, got ", Show(clips)));
    if (clips.size() != va.clips.size()) {
      return Assertion(src, vpath + ".clips",
                       StrCat(clips.size(), " clips, but annotation video '", va.video_uid, "' has ", va.clips.size()));
    }
    for (size_t ci = 0; ci < clips.size(); ++ci) {
      std::string cpath = StrCat(vpath, ".clips[", ci, "]");
      if (!clips[ci].is_object()) return Assertion(src, cpath, StrCat("expected an object, got ", Show(clips[ci])));
      for (const char* key : {"clip_uid", "predictions"}) {
        if (!clips[ci].contains(key)) return Assertion(src, cpath, StrCat("missing key '", key, "'"));
      }
    }
    for (size_t ci = 0; ci < clips.size(); ++ci) {
      const Clip& ca = va.clips[ci];
      const OJson& cp = clips[ci];
      std::string cpath = StrCat(vpath, ".clips[", ci, "]");
      if (!UidEquals(cp["clip_uid"], ca.clip_uid)) {
        return Assertion(src, cpath + ".clip_uid",
                         StrCat("expected ", UidText(ca.clip_uid), " (clips must follow the annotation file's order), got ",
                                Show(cp["clip_uid"])));
      }
      const OJson& preds = cp["predictions"];
      if (!preds.is_array()) {
        return Assertion(src, cpath + ".predictions", StrCat("expected an array, got ", Show(preds)));
      }
      if (preds.size() != ca.annotations.size()) {
        return Assertion(src, cpath + ".predictions",
                         StrCat(preds.size(), " entries, but clip ", UidText(ca.clip_uid), " has ", ca.annotations.size(),
                                " annotations (one entry per annotation, in order)"));
      }
      for (size_t ai = 0; ai < preds.size(); ++ai) {
        const ClipAnnotation& aa = ca.annotations[ai];
        const OJson& ap = preds[ai];
        std::string apath = StrCat(cpath, ".predictions[", ai, "]");
        if (!ap.is_object()) return Assertion(src, apath, StrCat("expected an object, got ", Show(ap)));
        if (!ap.contains("query_sets")) return Assertion(src, apath, "missing key 'query_sets'");
        const OJson& qs = ap["query_sets"];
        if (!qs.is_object()) {
          return Status::InvalidArgument(StrCat("AttributeError: ", src, ": ", apath,
                                                ".query_sets: expected an object, got ", Show(qs)));
        }
        std::set<std::string> valid_annot, valid_pred;
        for (const auto& q : aa.query_sets) {
          if (q.is_valid) valid_annot.insert(q.id);
        }
        std::unordered_map<std::string_view, const QuerySet*> annot_by_id;  // first of each id, as find_if
        for (const auto& q : aa.query_sets) annot_by_id.emplace(q.id, &q);
        for (auto it = qs.begin(); it != qs.end(); ++it) {
          auto found_it = annot_by_id.find(it.key());
          const QuerySet* found = found_it == annot_by_id.end() ? nullptr : found_it->second;
          if (found == nullptr) {
            return Status::InvalidArgument(StrCat("KeyError: ", src, ": ", apath, ".query_sets: query set '", it.key(),
                                                  "' does not exist in the annotation"));
          }
          if (found->is_valid) valid_pred.insert(it.key());
        }
        if (valid_pred != valid_annot) {
          std::string missing, extra;
          for (const auto& k : valid_annot)
            if (!valid_pred.count(k)) missing += (missing.empty() ? "" : ",") + k;
          return Assertion(src, apath + ".query_sets",
                           StrCat("the valid query sets do not match the annotation's (missing: ",
                                  missing.empty() ? "none" : missing, ")"));
        }
        for (auto it = qs.begin(); it != qs.end(); ++it) {
          std::string qpath = StrCat(apath, ".query_sets.", it.key());
          if (!it.value().is_object()) return Assertion(src, qpath, StrCat("expected an object, got ", Show(it.value())));
          for (const char* key : {"bboxes", "score"}) {
            if (!it.value().contains(key)) return Assertion(src, qpath, StrCat("missing key '", key, "'"));
          }
        }
      }
    }
  }
  return Status::OK();
}

namespace {

// A frame number: json_util.h's integer rule (an integer, or an integral float such as 5.0, within
// long long). Upstream's Python int has no range; a float beyond long long (1e300) used to be cast
// unchecked, which is undefined behaviour (found by fuzzing), so it is now this TypeError.
Result<long long> JsonIntegral(const OJson& v, const std::string& where) {
  if (const std::optional<long long> i = io::internal::IntegerOf(v)) return *i;
  return Status::InvalidArgument(StrCat("TypeError: ", where,
                                        ": expected an integer frame number within 64-bit range, got ", Show(v)));
}

Result<double> JsonNumber(const OJson& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  return Status::InvalidArgument(StrCat("TypeError: ", where, ": expected a number, got ", Show(v)));
}

// ResponseTrack.from_json({"bboxes": [...], "score": s}) without the score.
Result<EvalTrack> TrackFromJson(const OJson& q, const std::string& where) {
  if (!q.contains("bboxes")) return Status::InvalidArgument(StrCat("KeyError: ", where, ": missing key 'bboxes'"));
  const OJson& bb = q["bboxes"];
  if (!bb.is_array()) {
    return Status::InvalidArgument(StrCat("TypeError: ", where, ".bboxes: expected an array, got ", Show(bb)));
  }
  std::vector<EvalBox> boxes;
  boxes.reserve(bb.size());
  for (size_t i = 0; i < bb.size(); ++i) {
    std::string bw = StrCat(where, ".bboxes[", i, "]");
    const OJson& b = bb[i];
    if (!b.is_object()) return Status::InvalidArgument(StrCat("TypeError: ", bw, ": expected an object, got ", Show(b)));
    for (const char* key : {"fno", "x1", "y1", "x2", "y2"}) {
      if (!b.contains(key)) return Status::InvalidArgument(StrCat("KeyError: ", bw, ": missing key '", key, "'"));
    }
    EvalBox e;
    VQ2D_ASSIGN_OR_RETURN(e.fno, JsonIntegral(b["fno"], bw + ".fno"));
    VQ2D_ASSIGN_OR_RETURN(e.x1, JsonNumber(b["x1"], bw + ".x1"));
    VQ2D_ASSIGN_OR_RETURN(e.y1, JsonNumber(b["y1"], bw + ".y1"));
    VQ2D_ASSIGN_OR_RETURN(e.x2, JsonNumber(b["x2"], bw + ".x2"));
    VQ2D_ASSIGN_OR_RETURN(e.y2, JsonNumber(b["y2"], bw + ".y2"));
    boxes.push_back(e);
  }
  return EvalTrack::Make(std::move(boxes), where);
}

Result<EvalScore> ScoreFromJson(const OJson& q, const std::string& where) {
  if (!q.contains("score")) return Status::InvalidArgument(StrCat("KeyError: ", where, ": missing key 'score'"));
  const OJson& s = q["score"];
  if (s.is_null()) return EvalScore{};
  if (const std::optional<long long> i = s.is_number_integer() ? io::internal::IntegerOf(s) : std::nullopt) {
    return EvalScore::Int(*i);
  }
  // An integer beyond long long (Python keeps it exact) ranks as the nearest double.
  if (s.is_number_integer()) return EvalScore::Float(s.get<double>());
  if (s.is_number_float()) return EvalScore::Float(s.get<double>());
  return Status::InvalidArgument(StrCat("TypeError: ", where, ".score: expected a number or null, got ", Show(s)));
}

EvalBox GtBox(const AnnotationBox& b) {
  EvalBox e;
  e.fno = b.frame_number;
  e.x1 = b.x;
  e.y1 = b.y;
  e.x2 = b.x + b.width;
  e.y2 = b.y + b.height;
  return e;
}

std::string FormatDouble(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string ScoreText(const EvalScore& s) {
  switch (s.kind) {
    case EvalScore::kNull: return "";
    case EvalScore::kInt: return std::to_string(s.i);
    case EvalScore::kFloat: return FormatDouble("%.17g", s.d);
  }
  return "";
}

}  // namespace

Result<ParsedQueryPrediction> ParseQueryPrediction(const OJson& q, const std::string& where) {
  if (!q.is_object()) return Status::InvalidArgument(StrCat("TypeError: ", where, ": expected an object, got ", Show(q)));
  ParsedQueryPrediction out;
  VQ2D_ASSIGN_OR_RETURN(out.track, TrackFromJson(q, where));
  VQ2D_ASSIGN_OR_RETURN(out.score, ScoreFromJson(q, where));
  return out;
}

namespace {

// Where a valid query set's prediction sits in a predictions JSON, as the walk below finds it.
struct QueryPredictionSite {
  const Video& video;
  const Clip& clip;
  size_t annotation_index;
  const QuerySet& query_set;
};

// The one walk over a predictions JSON that passed ValidatePredictionsJson: every valid query set of
// `gt`, in annotation order, its prediction parsed with ParseQueryPrediction, handed to
// fn(site, prediction, where) -> Status. Stops at the first error (a parse error names `where`: the
// file, the JSON path and the clip).
template <typename Fn>
Status ForEachQueryPrediction(const OJson& pred, const std::string& src, const AnnotationFile& gt, Fn&& fn) {
  const OJson& videos = pred["results"]["videos"];
  for (size_t vi = 0; vi < gt.videos.size(); ++vi) {
    const Video& va = gt.videos[vi];
    for (size_t ci = 0; ci < va.clips.size(); ++ci) {
      const Clip& ca = va.clips[ci];
      const OJson& preds = videos[vi]["clips"][ci]["predictions"];
      for (size_t ai = 0; ai < ca.annotations.size(); ++ai) {
        const OJson& qs = preds[ai]["query_sets"];
        const io::internal::MemberIndex qs_index(qs);
        for (const QuerySet& q : ca.annotations[ai].query_sets) {
          if (!q.is_valid) continue;
          const std::string where = StrCat(src, ": results.videos[", vi, "].clips[", ci, "] (clip ",
                                           UidText(ca.clip_uid), ").predictions[", ai, "].query_sets.", q.id);
          const OJson* qp = qs_index.Find(q.id);
          if (qp == nullptr) return Status::InvalidArgument(StrCat("KeyError: ", where, ": missing"));
          VQ2D_ASSIGN_OR_RETURN(ParsedQueryPrediction p, ParseQueryPrediction(*qp, where));
          VQ2D_RETURN_IF_ERROR(fn(QueryPredictionSite{va, ca, ai, q}, std::move(p), where));
        }
      }
    }
  }
  return Status::OK();
}

}  // namespace

Status ValidatePredictionContents(const OJson& pred, const std::string& src, const AnnotationFile& gt) {
  return ForEachQueryPrediction(pred, src, gt, [](const QueryPredictionSite&, ParsedQueryPrediction p,
                                                  const std::string& where) -> Status {
    if (p.score.kind == EvalScore::kNull) {
      return Status::InvalidArgument(
          StrCat("AssertionError: ", where, ".score: is null, expected a number (eval: pred.has_score())"));
    }
    return Status::OK();
  });
}

Status ValidatePredictions(std::string_view predictions_json, const std::string& src, const AnnotationFile& gt) {
  VQ2D_ASSIGN_OR_RETURN(OJson pred, io::internal::ParseOrderedJson(predictions_json, src));
  return ValidatePredictionsJson(pred, src, gt);
}

Result<ConvertedPredictions> ConvertPredictions(std::string_view predictions_json, const std::string& src,
                                                const AnnotationFile& gt) {
  VQ2D_ASSIGN_OR_RETURN(OJson pred, io::internal::ParseOrderedJson(predictions_json, src));
  VQ2D_RETURN_IF_ERROR(ValidatePredictionsJson(pred, src, gt));
  ConvertedPredictions res;
  auto convert = [&res](const QueryPredictionSite& site, ParsedQueryPrediction parsed, const std::string&) -> Status {
    const QuerySet& q = site.query_set;
    EvalQueryRef ref{site.video.video_uid, site.clip.clip_uid, site.annotation_index, q.id};
    EvalQuery e;
    e.label = QueryLabel(ref);
    e.pred = std::move(parsed.track);
    e.score = parsed.score;
    if (!q.has_response_track) {
      return Status::InvalidArgument(StrCat("KeyError: annotation ", e.label,
                                            ": no 'response_track' (an unannotated test file cannot be scored)"));
    }
    std::vector<EvalBox> gtb;
    gtb.reserve(q.response_track.size());
    for (const auto& b : q.response_track) gtb.push_back(GtBox(b));
    VQ2D_ASSIGN_OR_RETURN(e.gt, EvalTrack::Make(std::move(gtb), "annotation " + e.label + " response_track"));
    e.visual_crop = GtBox(q.visual_crop);
    res.queries.push_back(std::move(e));
    res.refs.push_back(std::move(ref));
    return Status::OK();
  };
  VQ2D_RETURN_IF_ERROR(ForEachQueryPrediction(pred, src, gt, convert));
  return res;
}

Result<EvaluationResult> EvaluatePredictions(std::string_view predictions_json, const std::string& src,
                                             const AnnotationFile& gt, const MetricsOptions& options) {
  VQ2D_ASSIGN_OR_RETURN(ConvertedPredictions conv, ConvertPredictions(predictions_json, src, gt));
  EvaluationResult res;
  res.refs = std::move(conv.refs);
  for (const auto& q : conv.queries) res.scores.push_back(q.score);
  VQ2D_ASSIGN_OR_RETURN(res.metrics, ComputeVisualQueryMetrics(conv.queries, options));
  return res;
}

Result<EvaluationResult> EvaluateRenLocal(std::string_view collated_json, const std::string& src,
                                          const MetricsOptions& options) {
  VQ2D_ASSIGN_OR_RETURN(OJson pred, io::internal::ParseOrderedJson(collated_json, src));
  auto need = [&](const OJson& obj, const char* key, const std::string& path) -> Status {
    if (!obj.is_object() || !obj.contains(key)) {
      return Status::InvalidArgument(StrCat("KeyError: ", src, ": ", path.empty() ? "(root)" : path,
                                            ": missing key '", key, "'"));
    }
    return Status::OK();
  };
  auto need_array = [&](const OJson& v, const std::string& path) -> Status {
    if (!v.is_array()) return Status::InvalidArgument(StrCat("TypeError: ", src, ": ", path, ": expected an array"));
    return Status::OK();
  };
  VQ2D_RETURN_IF_ERROR(need(pred, "results", ""));
  VQ2D_RETURN_IF_ERROR(need(pred["results"], "videos", "results"));
  const OJson& videos = pred["results"]["videos"];
  VQ2D_RETURN_IF_ERROR(need_array(videos, "results.videos"));
  EvaluationResult res;
  res.ren_local = true;
  std::vector<EvalQuery> queries;
  for (size_t vi = 0; vi < videos.size(); ++vi) {
    std::string vpath = StrCat("results.videos[", vi, "]");
    VQ2D_RETURN_IF_ERROR(need(videos[vi], "clips", vpath));
    const OJson& clips = videos[vi]["clips"];
    VQ2D_RETURN_IF_ERROR(need_array(clips, vpath + ".clips"));
    std::string video_uid = videos[vi].contains("video_uid") && videos[vi]["video_uid"].is_string()
                                ? videos[vi]["video_uid"].get<std::string>()
                                : "";
    for (size_t ci = 0; ci < clips.size(); ++ci) {
      std::string cpath = StrCat(vpath, ".clips[", ci, "]");
      VQ2D_RETURN_IF_ERROR(need(clips[ci], "predictions", cpath));
      const OJson& preds = clips[ci]["predictions"];
      VQ2D_RETURN_IF_ERROR(need_array(preds, cpath + ".predictions"));
      std::optional<std::string> clip_uid;
      if (clips[ci].contains("clip_uid") && clips[ci]["clip_uid"].is_string()) clip_uid = clips[ci]["clip_uid"].get<std::string>();
      for (size_t ai = 0; ai < preds.size(); ++ai) {
        std::string apath = StrCat(cpath, ".predictions[", ai, "]");
        VQ2D_RETURN_IF_ERROR(need(preds[ai], "query_sets", apath));
        const OJson& qs = preds[ai]["query_sets"];
        if (!qs.is_object()) return Status::InvalidArgument(StrCat("TypeError: ", src, ": ", apath, ".query_sets: expected an object"));
        const io::internal::MemberIndex qs_index(qs);
        for (auto it = qs.begin(); it != qs.end(); ++it) {
          const std::string& id = it.key();
          if (id.find("-gt") != std::string::npos) continue;
          std::string where = StrCat(src, ": ", apath, ".query_sets.", id);
          const OJson* gt_entry = qs_index.Find(id + "-gt");
          if (gt_entry == nullptr) {
            return Status::InvalidArgument(StrCat("KeyError: ", src, ": ", apath, ".query_sets: no '", id,
                                                  "-gt' entry (REN writes the ground truth only for annotated splits)"));
          }
          if (!it.value().is_object()) return Status::InvalidArgument(StrCat("TypeError: ", where, ": expected an object"));
          const OJson& g = *gt_entry;
          if (!g.is_object()) return Status::InvalidArgument(StrCat("TypeError: ", where, "-gt: expected an object"));
          EvalQueryRef ref{video_uid, clip_uid, ai, id};
          EvalQuery e;
          e.label = QueryLabel(ref);
          VQ2D_ASSIGN_OR_RETURN(ParsedQueryPrediction parsed, ParseQueryPrediction(it.value(), where));
          e.pred = std::move(parsed.track);
          e.score = parsed.score;
          VQ2D_ASSIGN_OR_RETURN(e.gt, TrackFromJson(g, where + "-gt"));
          e.visual_crop = EvalBox{-1, -1, -1, -1, -1};
          queries.push_back(std::move(e));
          res.refs.push_back(std::move(ref));
          res.scores.push_back(queries.back().score);
        }
      }
    }
  }
  VQ2D_ASSIGN_OR_RETURN(res.metrics, ComputeVisualQueryMetrics(queries, options));
  return res;
}

Result<std::string> CollateRenPredictionDir(const std::string& dir) {
  FileSystem* fs = FileSystem::Default();
  if (!fs->IsDirectory(dir)) return Status::NotFound(StrCat("predictions directory '", dir, "' does not exist"));
  VQ2D_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  std::vector<std::pair<long long, std::string>> files;
  for (const auto& name : names) {
    if (IsAtomicWriteTempName(name)) continue;
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    size_t dash = name.find('-');
    std::string prefix = name.substr(0, dash);
    char* end = nullptr;
    long long run = std::strtoll(prefix.c_str(), &end, 10);
    if (prefix.empty() || *end != '\0') {
      return Status::InvalidArgument(StrCat("ValueError: ", JoinPath(dir, name),
                                            ": prediction files must be named '<run_id>-<clip_uid>.json'"));
    }
    files.emplace_back(run, name);
  }
  if (files.empty()) return Status::NotFound(StrCat("no '<run_id>-<clip_uid>.json' files in '", dir, "'"));
  std::stable_sort(files.begin(), files.end());
  OJson collated;
  for (size_t i = 0; i < files.size(); ++i) {
    std::string path = JoinPath(dir, files[i].second);
    VQ2D_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
    VQ2D_ASSIGN_OR_RETURN(OJson j, io::internal::ParseOrderedJson(text, path));
    if (i == 0) {
      collated = std::move(j);
      if (!collated.is_object() || !collated.contains("results") || !collated["results"].is_object() ||
          !collated["results"].contains("videos") || !collated["results"]["videos"].is_array()) {
        return Status::InvalidArgument(StrCat("KeyError: ", path, ": expected {\"results\": {\"videos\": [...]}}"));
      }
      continue;
    }
    if (!j.is_object() || !j.contains("results") || !j["results"].is_object() || !j["results"].contains("videos") ||
        !j["results"]["videos"].is_array() || j["results"]["videos"].empty()) {
      return Status::InvalidArgument(StrCat("KeyError: ", path, ": expected {\"results\": {\"videos\": [<video>, ...]}}"));
    }
    collated["results"]["videos"].push_back(j["results"]["videos"][0]);
  }
  return collated.dump();
}

std::string FormatOfficialReport(const EvaluationResult& r) {
  std::string out = "Evaluating VQ2D performance\n";
  if (!r.metrics.has_metrics) return out;
  out += std::string(20, '-') + "\nall\n" + std::string(20, '-') + "\n";
  const VqMetrics& m = r.metrics;
  const std::pair<const char*, double> rows[] = {
      {"tAP", m.tap_mean},     {"tAP @ IoU=0.25", m.tap[0]}, {"stAP", m.stap_mean},
      {"stAP @ IoU=0.25", m.stap[0]}, {"success", m.success[0]}, {"recovery %", m.recovery[0]},
  };
  for (const auto& row : rows) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%-20s | %10.3f\n", row.first, row.second);
    out += buf;
  }
  return out;
}

std::string FormatRenLocalReport(const EvaluationResult& r) {
  std::string out;
  if (!r.metrics.has_metrics) return out;
  out += "Area range: all\n";
  for (const auto& kv : r.metrics.MetricDict(/*ren_style=*/true)) {
    out += "  " + kv.first + " \t-\t " + FormatDouble("%.4f", kv.second) + "\n";
  }
  return out;
}

std::string MetricsToJson(const EvaluationResult& r) {
  const VqMetrics& m = r.metrics;
  OJson j;
  j["mode"] = r.ren_local ? "ren_local" : "official";
  j["n_queries"] = m.n_queries;
  j["n_converted_queries"] = r.refs.size();
  if (m.has_metrics) {
    OJson dict = OJson::object();
    for (const auto& kv : m.MetricDict(r.ren_local)) dict[kv.first] = kv.second;
    j[r.ren_local ? "ren_metrics" : "official_metrics"]["all"] = dict;
    OJson rep = OJson::object();
    rep["tAP"] = m.tap_mean;
    rep["tAP @ IoU=0.25"] = m.tap[0];
    rep["stAP"] = m.stap_mean;
    rep["stAP @ IoU=0.25"] = m.stap[0];
    rep["success"] = m.success[0];
    rep["recovery %"] = m.recovery[0];
    j["reported"] = rep;
    auto per = [](const auto& thr, const auto& vals) {
      OJson o = OJson::object();
      for (size_t i = 0; i < thr.size(); ++i) o[FormatDouble("%.2f", thr[i])] = vals[i];
      return o;
    };
    j["tAP_per_threshold"] = per(kApThresholds, m.tap);
    j["stAP_per_threshold"] = per(kApThresholds, m.stap);
    j["recovery_per_threshold"] = per(kRecoveryThresholds, m.recovery);
    j["success_per_threshold"] = per(kSuccessThresholds, m.success);
    j["score_dtype"] = m.score_dtype;
    j["sort_order_desc"] = m.sort_order_desc;
  } else {
    j["note"] = "no query passed the area filter of the 'all' pairing: no metrics (upstream prints none)";
  }
  return j.dump(1) + "\n";
}

std::string PerQueryCsv(const EvaluationResult& r) {
  std::string out =
      "index,video_uid,clip_uid,annotation_index,query_set,score,rank,tiou,stiou,recovered_frames@0.50,gt_frames,"
      "success@0.05\n";
  for (const auto& pq : r.metrics.per_query) {
    const EvalQueryRef& ref = r.refs[pq.input_index];
    out += StrCat(pq.input_index, ",", CsvField(ref.video_uid), ",", CsvField(ref.clip_uid ? *ref.clip_uid : ""), ",",
                  ref.annotation_index, ",", CsvField(ref.query_set), ",", ScoreText(r.scores[pq.input_index]), ",",
                  pq.rank, ",", FormatDouble("%.17g", pq.tiou), ",", FormatDouble("%.17g", pq.stiou), ",",
                  pq.recovered_frames[0], ",", pq.gt_frames, ",", pq.stiou >= kSuccessThresholds[0] ? 1 : 0, "\n");
  }
  return out;
}

}  // namespace vq2d::io
