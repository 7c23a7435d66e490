#include "vq2d/io/submission.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>

#include "io/eval/validate.h"
#include "io/json_util.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

using io_internal::DescribeJson;
using io_internal::OJson;

// Python-style references: collated videos and clip objects are shared, as upstream mutates them in
// place (a clip matched twice is the same object).
struct VideoNode {
  OJson uid;  // video_uid value as given
  std::vector<std::shared_ptr<OJson>> clips;
};

bool UidMatches(const OJson& v, const std::optional<std::string>& uid) {
  if (!uid) return v.is_null();
  return v.is_string() && v.get_ref<const std::string&>() == *uid;
}

std::string UidText(const std::optional<std::string>& uid) { return uid ? "'" + *uid + "'" : "None"; }

OJson DummyQuerySet() {
  OJson box = OJson::object();
  box["fno"] = 0;
  box["x1"] = 0;
  box["y1"] = 0;
  box["x2"] = 0;
  box["y2"] = 0;
  OJson q = OJson::object();
  q["bboxes"] = OJson::array({box});
  q["score"] = 0.0;
  return q;
}

Result<double> AsNumber(const OJson& v, const std::string& where) {
  if (v.is_number() ) return v.get<double>();
  return Status::InvalidArgument(StrCat("TypeError: ", where, ": expected a number, got ", DescribeJson(v)));
}

// int((v / frame) * original)
Result<OJson> Rescale(const OJson& v, double frame, double original, const std::string& where) {
  VQ2D_ASSIGN_OR_RETURN(double x, AsNumber(v, where));
  if (frame == 0) return Status::InvalidArgument(StrCat("ZeroDivisionError: ", where, ": frame size is 0"));
  double r = (x / frame) * original;
  if (!std::isfinite(r) || std::fabs(r) >= 9.2e18) {
    return Status::InvalidArgument(StrCat("ValueError: ", where, ": cannot convert ", r, " to an integer"));
  }
  return OJson(static_cast<long long>(std::trunc(r)));
}

Status Need(const OJson& obj, const char* key, const std::string& where) {
  if (!obj.is_object()) {
    return Status::InvalidArgument(StrCat("TypeError: ", where, ": expected an object, got ", DescribeJson(obj)));
  }
  if (!obj.contains(key)) return Status::InvalidArgument(StrCat("KeyError: ", where, ": missing key '", key, "'"));
  return Status::OK();
}

Status NeedArray(const OJson& v, const std::string& where) {
  if (!v.is_array()) return Status::InvalidArgument(StrCat("TypeError: ", where, ": expected an array, got ", DescribeJson(v)));
  return Status::OK();
}

// The input check: every query-set prediction of a prediction file parses as eval reads it
// (ParseQueryPrediction, the one parser) with a numeric score. Names the file, the clip and the field.
Status CheckPredictionFile(const OJson& j, const std::string& name) {
  const OJson& videos = j["results"]["videos"];
  for (size_t vi = 0; vi < videos.size(); ++vi) {
    const OJson& video = videos[vi];
    std::string vw = StrCat(name, ": results.videos[", vi, "]");
    for (const char* key : {"video_uid", "clips"}) VQ2D_RETURN_IF_ERROR(Need(video, key, vw));
    VQ2D_RETURN_IF_ERROR(NeedArray(video["clips"], vw + ".clips"));
    for (size_t ci = 0; ci < video["clips"].size(); ++ci) {
      const OJson& clip = video["clips"][ci];
      std::string cw = StrCat(vw, ".clips[", ci, "]");
      for (const char* key : {"clip_uid", "predictions"}) VQ2D_RETURN_IF_ERROR(Need(clip, key, cw));
      cw += StrCat(" (clip ", clip["clip_uid"].dump(), ")");
      VQ2D_RETURN_IF_ERROR(NeedArray(clip["predictions"], cw + ".predictions"));
      for (size_t ai = 0; ai < clip["predictions"].size(); ++ai) {
        const OJson& entry = clip["predictions"][ai];
        std::string aw = StrCat(cw, ".predictions[", ai, "]");
        VQ2D_RETURN_IF_ERROR(Need(entry, "query_sets", aw));
        const OJson& qsets = entry["query_sets"];
        if (!qsets.is_object()) {
          return Status::InvalidArgument(StrCat("TypeError: ", aw, ".query_sets: expected an object, got ", DescribeJson(qsets)));
        }
        for (auto it = qsets.begin(); it != qsets.end(); ++it) {
          std::string qw = StrCat(aw, ".query_sets.", it.key());
          VQ2D_ASSIGN_OR_RETURN(QueryPrediction p, ParseQueryPrediction(it.value(), qw));
          if (p.score.kind == EvalScore::kNull) {
            return Status::InvalidArgument(StrCat("TypeError: ", qw, ".score: is null, expected a number"));
          }
        }
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<SubmissionBuild> BuildSubmission(const std::vector<NamedJson>& files, const AnnotationFile& gt) {
  if (files.empty()) return Status::InvalidArgument("no prediction files");
  // ---- 1. collate ------------------------------------------------------------------------------
  OJson base;
  std::vector<OJson> videos;  // all videos, in read order
  for (size_t i = 0; i < files.size(); ++i) {
    VQ2D_ASSIGN_OR_RETURN(OJson j, io_internal::ParseOrderedJson(files[i].text, files[i].name));
    VQ2D_RETURN_IF_ERROR(Need(j, "results", files[i].name));
    VQ2D_RETURN_IF_ERROR(Need(j["results"], "videos", files[i].name + ": results"));
    VQ2D_RETURN_IF_ERROR(NeedArray(j["results"]["videos"], files[i].name + ": results.videos"));
    VQ2D_RETURN_IF_ERROR(CheckPredictionFile(j, files[i].name));
    if (i == 0) {
      for (auto& v : j["results"]["videos"]) videos.push_back(std::move(v));
      base = std::move(j);
    } else {
      if (j["results"]["videos"].empty()) {
        return Status::InvalidArgument(StrCat("IndexError: ", files[i].name, ": results.videos is empty"));
      }
      videos.push_back(std::move(j["results"]["videos"][0]));
    }
  }
  // Rescale every box to the original resolution.
  for (size_t vi = 0; vi < videos.size(); ++vi) {
    OJson& video = videos[vi];
    std::string vw = StrCat("collated results.videos[", vi, "]");
    for (const char* key : {"video_uid", "clips"}) VQ2D_RETURN_IF_ERROR(Need(video, key, vw));
    VQ2D_RETURN_IF_ERROR(NeedArray(video["clips"], vw + ".clips"));
    const OJson& video_uid = video["video_uid"];
    for (size_t ci = 0; ci < video["clips"].size(); ++ci) {
      OJson& clip = video["clips"][ci];
      std::string cw = StrCat(vw, ".clips[", ci, "]");
      for (const char* key : {"clip_uid", "predictions"}) VQ2D_RETURN_IF_ERROR(Need(clip, key, cw));
      VQ2D_RETURN_IF_ERROR(NeedArray(clip["predictions"], cw + ".predictions"));
      const OJson& clip_uid = clip["clip_uid"];
      // Record frame size: the clip's own frame_height/frame_width (extension; removed from the output),
      // else the video's (REN's layout).
      const bool clip_size = clip.contains("frame_height") && clip.contains("frame_width");
      // Neither the clip nor the video names a frame size: the official layout written by
      // `vq2d merge`, whose boxes are already in original pixels. Nothing to rescale.
      const bool original_pixels = !clip.contains("frame_height") && !clip.contains("frame_width") &&
                                   !video.contains("frame_height") && !video.contains("frame_width");
      if (original_pixels) continue;
      const OJson& size_owner = clip_size ? clip : video;
      const std::string& size_where = clip_size ? cw : vw;
      for (const char* key : {"frame_height", "frame_width"}) VQ2D_RETURN_IF_ERROR(Need(size_owner, key, size_where));
      VQ2D_ASSIGN_OR_RETURN(double frame_h, AsNumber(size_owner["frame_height"], size_where + ".frame_height"));
      VQ2D_ASSIGN_OR_RETURN(double frame_w, AsNumber(size_owner["frame_width"], size_where + ".frame_width"));
      for (size_t ai = 0; ai < clip["predictions"].size(); ++ai) {
        OJson& entry = clip["predictions"][ai];
        std::string aw = StrCat(cw, ".predictions[", ai, "]");
        VQ2D_RETURN_IF_ERROR(Need(entry, "query_sets", aw));
        OJson& qsets = entry["query_sets"];
        if (!qsets.is_object()) return Status::InvalidArgument(StrCat("TypeError: ", aw, ".query_sets: expected an object"));
        // The annotations of this clip in the test file, each with its query sets by id (the first
        // of an id, as a linear search finds it), built once per entry: one lookup per query set.
        struct IndexedAnnotation {
          const Clip* ca;
          const ClipAnnotation* aa;
          std::unordered_map<std::string_view, const QuerySet*> by_id;
        };
        std::vector<IndexedAnnotation> clip_annotations;
        for (const Video& va : gt.videos) {
          if (!(video_uid.is_string() && video_uid.get_ref<const std::string&>() == va.video_uid)) continue;
          for (const Clip& ca : va.clips) {
            if (!UidMatches(clip_uid, ca.clip_uid)) continue;
            for (const ClipAnnotation& aa : ca.annotations) {
              IndexedAnnotation ia{&ca, &aa, {}};
              for (const QuerySet& s : aa.query_sets) ia.by_id.emplace(s.id, &s);
              clip_annotations.push_back(std::move(ia));
            }
          }
        }
        for (auto it = qsets.begin(); it != qsets.end(); ++it) {
          const std::string& qid = it.key();
          std::string qw = StrCat(aw, ".query_sets.", qid);
          // Original size: the visual crop of the last valid annotation with this query set.
          bool found = false;
          int ow = 0, oh = 0;
          for (const IndexedAnnotation& ia : clip_annotations) {
            const Clip& ca = *ia.ca;
            const ClipAnnotation& aa = *ia.aa;
            auto q_it = ia.by_id.find(qid);
            const QuerySet* q = q_it == ia.by_id.end() ? nullptr : q_it->second;
            if (q == nullptr) {
              return Status::InvalidArgument(StrCat(
                  "KeyError: ", qw, ": annotation '", aa.annotation_uid, "' of clip ", UidText(ca.clip_uid),
                  " in the test annotations has no query set '", qid, "' (submit.py reads it from every annotation "
                  "of the clip)"));
            }
            if (q->is_valid) {
              ow = q->visual_crop.original_width;
              oh = q->visual_crop.original_height;
              found = true;
            }
          }
          VQ2D_RETURN_IF_ERROR(Need(it.value(), "bboxes", qw));
          OJson& boxes = it.value()["bboxes"];
          VQ2D_RETURN_IF_ERROR(NeedArray(boxes, qw + ".bboxes"));
          if (!boxes.empty() && !found) {
            return Status::InvalidArgument(
                StrCat("TypeError: ", qw, ": no valid annotation of video ", video_uid.dump(), " clip ", clip_uid.dump(),
                       " has query set '", qid, "' in the test annotations, so its original size is unknown"));
          }
          for (size_t bi = 0; bi < boxes.size(); ++bi) {
            OJson& b = boxes[bi];
            std::string bw = StrCat(qw, ".bboxes[", bi, "]");
            for (const char* key : {"x1", "y1", "x2", "y2"}) VQ2D_RETURN_IF_ERROR(Need(b, key, bw));
            VQ2D_ASSIGN_OR_RETURN(b["x1"], Rescale(b["x1"], frame_w, ow, bw + ".x1"));
            VQ2D_ASSIGN_OR_RETURN(b["y1"], Rescale(b["y1"], frame_h, oh, bw + ".y1"));
            VQ2D_ASSIGN_OR_RETURN(b["x2"], Rescale(b["x2"], frame_w, ow, bw + ".x2"));
            VQ2D_ASSIGN_OR_RETURN(b["y2"], Rescale(b["y2"], frame_h, oh, bw + ".y2"));
          }
        }
      }
      if (clip_size) {
        clip.erase("frame_height");
        clip.erase("frame_width");
      }
    }
  }
  // Merge videos with equal uid (first-occurrence order); only video_uid and clips survive.
  std::vector<std::shared_ptr<VideoNode>> merged;
  for (OJson& video : videos) {
    std::shared_ptr<VideoNode> node;
    for (auto& m : merged) {
      if (m->uid == video["video_uid"]) {
        node = m;
        break;
      }
    }
    if (!node) {
      node = std::make_shared<VideoNode>();
      node->uid = video["video_uid"];
      merged.push_back(node);
    }
    for (OJson& clip : video["clips"]) node->clips.push_back(std::make_shared<OJson>(std::move(clip)));
  }
  auto serialize = [&](const std::vector<std::shared_ptr<VideoNode>>& vids) {
    OJson out = base;
    OJson arr = OJson::array();
    for (const auto& v : vids) {
      OJson vj = OJson::object();
      vj["video_uid"] = v->uid;
      vj["clips"] = OJson::array();
      for (const auto& c : v->clips) vj["clips"].push_back(*c);
      arr.push_back(std::move(vj));
    }
    out["results"]["videos"] = std::move(arr);
    return out;
  };
  SubmissionBuild build;
  build.collated_json = serialize(merged).dump();

  // ---- 2. order --------------------------------------------------------------------------------
  std::vector<std::shared_ptr<VideoNode>> ordered;
  for (const Video& va : gt.videos) {
    std::shared_ptr<VideoNode> vp;
    for (auto& m : merged) {
      if (m->uid.is_string() && m->uid.get_ref<const std::string&>() == va.video_uid) {
        vp = m;
        break;
      }
    }
    if (!vp) {
      build.notes.push_back(StrCat("[INFO] Adding an empty prediction for video ", va.video_uid));
      ++build.dummy_videos;
      vp = std::make_shared<VideoNode>();
      vp->uid = va.video_uid;
    }
    std::vector<std::shared_ptr<OJson>> clips;
    for (const Clip& ca : va.clips) {
      std::shared_ptr<OJson> cp;
      for (auto& c : vp->clips) {
        if (UidMatches((*c)["clip_uid"], ca.clip_uid)) {
          cp = c;
          break;
        }
      }
      const bool found_clip = cp != nullptr;
      if (!cp) {
        build.notes.push_back(StrCat("[INFO] Adding a dummy prediction for clip ", ca.clip_uid ? *ca.clip_uid : "None"));
        ++build.dummy_clips;
        cp = std::make_shared<OJson>(OJson::object());
        (*cp)["clip_uid"] = ca.clip_uid ? OJson(*ca.clip_uid) : OJson(nullptr);
        (*cp)["predictions"] = OJson::array();
        for (const ClipAnnotation& aa : ca.annotations) {
          OJson entry = OJson::object();
          entry["query_sets"] = OJson::object();
          for (const QuerySet& q : aa.query_sets) entry["query_sets"][q.id] = DummyQuerySet();
          (*cp)["predictions"].push_back(std::move(entry));
        }
      }
      // Missing valid query sets of present annotations (zip: the shorter list bounds it).
      OJson& preds = (*cp)["predictions"];
      size_t valid = 0, boxed = 0;
      for (size_t ai = 0; ai < ca.annotations.size(); ++ai) {
        for (const QuerySet& q : ca.annotations[ai].query_sets) {
          if (!q.is_valid) continue;
          ++valid;
          if (!found_clip || !preds.is_array() || ai >= preds.size() || !preds[ai].is_object()) continue;
          auto qs = preds[ai].find("query_sets");
          if (qs == preds[ai].end() || !qs->is_object()) continue;
          auto e = qs->find(q.id);
          if (e == qs->end() || !e->is_object()) continue;
          auto b = e->find("bboxes");
          boxed += b != e->end() && b->is_array() && !b->empty();
        }
      }
      if (valid > 0) {
        ++build.clips_total;
        if (boxed == 0) build.uncovered_clips.push_back(ca.clip_uid ? *ca.clip_uid : "None");
      }
      if (preds.is_array()) {
        for (size_t ai = 0; ai < std::min(preds.size(), ca.annotations.size()); ++ai) {
          OJson& entry = preds[ai];
          if (!entry.is_object() || !entry.contains("query_sets") || !entry["query_sets"].is_object()) continue;
          std::set<std::string> present;  // keys of entry.query_sets (its contains() scans linearly)
          for (auto it = entry["query_sets"].begin(); it != entry["query_sets"].end(); ++it) present.insert(it.key());
          for (const QuerySet& q : ca.annotations[ai].query_sets) {
            if (!q.is_valid || !present.insert(q.id).second) continue;
            build.notes.push_back(StrCat("[INFO] Adding an dummy prediction for query set ", q.id, " in clip ",
                                         ca.clip_uid ? *ca.clip_uid : "None"));
            ++build.dummy_query_sets;
            // Absent (checked above): append without operator[]'s linear search.
            static_cast<OJson::object_t::Container&>(entry["query_sets"].get_ref<OJson::object_t&>())
                .emplace_back(q.id, DummyQuerySet());
          }
        }
      }
      clips.push_back(cp);
    }
    vp->clips = std::move(clips);
    ordered.push_back(vp);
  }
  OJson submission = serialize(ordered);
  // ---- 3. version from the test file, then validate -----------------------------------------------
  if (submission.is_object()) submission["version"] = gt.version;
  // The output is checked as `vq2d eval` reads it: the official rules, then every valid prediction.
  build.validation = ValidatePredictionsJson(submission, "submission", gt);
  if (build.validation.ok()) build.validation = ValidatePredictionContents(submission, "submission", gt);
  build.submission_json = submission.dump();
  return build;
}

Result<std::vector<NamedJson>> ReadPredictionInputs(const std::string& path) {
  FileSystem* fs = FileSystem::Default();
  std::vector<NamedJson> out;
  if (!fs->IsDirectory(path)) {
    if (!fs->Exists(path)) return Status::NotFound(StrCat("predictions '", path, "' do not exist"));
    VQ2D_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
    out.push_back({path, std::move(text)});
    return out;
  }
  VQ2D_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(path));
  std::vector<std::pair<long long, std::string>> files;
  for (const auto& name : names) {
    if (IsAtomicWriteTempName(name)) continue;
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) continue;
    std::string prefix = name.substr(0, name.find('-'));
    char* end = nullptr;
    long long run = std::strtoll(prefix.c_str(), &end, 10);
    if (prefix.empty() || *end != '\0') {
      return Status::InvalidArgument(
          StrCat("ValueError: ", JoinPath(path, name), ": prediction files must be named '<run_id>-<clip_uid>.json'"));
    }
    files.emplace_back(run, name);
  }
  if (files.empty()) return Status::NotFound(StrCat("no '<run_id>-<clip_uid>.json' prediction files in '", path, "'"));
  std::stable_sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string p = JoinPath(path, f.second);
    VQ2D_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(p));
    out.push_back({p, std::move(text)});
  }
  return out;
}

}  // namespace vq2d
