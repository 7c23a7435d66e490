#include "vq2d/runner/merge.h"

#include <map>
#include <nlohmann/json.hpp>

#include "vq2d/io/clip_output.h"
#include "vq2d/runner/run_store.h"

namespace vq2d::runner {

using io::AnnotationFile;
using io::Clip;
using io::ClipAnnotation;
using io::ClipOutput;
using io::ParseClipOutput;
using io::QueryPrediction;
using io::RescaleToOriginal;
using io::Video;
namespace {

struct Found {
  ClipOutput output;
  std::string raw;
  std::string run_dir;
};

}  // namespace

Result<std::string> MergePredictions(FileSystem* fs, const AnnotationFile& annotations,
                                     const std::vector<std::string>& run_dirs, MergeReport* report) {
  MergeReport local;
  MergeReport& rep = report ? *report : local;
  rep = MergeReport();
  // Fingerprint of every run directory (its done records must carry it).
  std::vector<std::pair<RunStore, std::string>> stores;
  for (const auto& dir : run_dirs) {
    RunStore store(fs, dir);
    auto text = fs->ReadFile(store.RunFilePath());
    if (!text.ok()) return text.status().WithContext(StrCat("run directory '", dir, "' has no readable run.json"));
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.contains("fingerprint"))
      return Status::Corruption(StrCat(store.RunFilePath(), ": not a vq2d run file"));
    stores.emplace_back(store, j["fingerprint"].get<std::string>());
  }

  std::map<std::string, Found> found;
  auto lookup = [&](const std::string& uid) -> const Found* {
    if (auto it = found.find(uid); it != found.end()) return &it->second;
    const Found* first = nullptr;
    for (const auto& [store, fp] : stores) {
      auto rec = store.ValidDoneRecord(uid, fp);
      if (!rec.ok()) {
        if (rec.status().code() != StatusCode::kNotFound)
          rep.rejected.push_back(StrCat(uid, " in ", store.out_dir(), ": ", rec.status().message()));
        continue;
      }
      auto raw = fs->ReadFile(store.ClipOutputPath(uid));
      if (!raw.ok()) continue;
      auto parsed = ParseClipOutput(*raw, store.ClipOutputPath(uid));
      if (!parsed.ok()) {
        rep.rejected.push_back(StrCat(uid, " in ", store.out_dir(), ": ", parsed.status().message()));
        continue;
      }
      if (!first) {
        found[uid] = Found{std::move(parsed).value(), *raw, store.out_dir()};
        first = &found[uid];
      } else {
        rep.duplicate_clips.push_back(StrCat(uid, " (", first->run_dir, " and ", store.out_dir(), ")"));
        if (*raw != first->raw) rep.conflicting_clips.push_back(uid);
      }
    }
    return first;
  };

  nlohmann::ordered_json videos = nlohmann::ordered_json::array();
  for (size_t vi = 0; vi < annotations.videos.size(); ++vi) {
    const Video& video = annotations.videos[vi];
    nlohmann::ordered_json clips = nlohmann::ordered_json::array();
    for (size_t ci = 0; ci < video.clips.size(); ++ci) {
      const Clip& clip = video.clips[ci];
      int valid = 0;
      for (const auto& a : clip.annotations)
        for (const auto& q : a.query_sets) valid += q.is_valid;
      const Found* f = nullptr;
      if (valid > 0) {
        ++rep.clips_total;
        f = clip.clip_uid ? lookup(*clip.clip_uid) : nullptr;
        if (f) ++rep.clips_found;
        else rep.missing_clips.push_back(clip.clip_uid ? *clip.clip_uid
                                                       : StrCat(video.video_uid, "/clips[", ci, "] (null clip_uid)"));
      }
      nlohmann::ordered_json preds = nlohmann::ordered_json::array();
      for (size_t ai = 0; ai < clip.annotations.size(); ++ai) {
        const ClipAnnotation& ann = clip.annotations[ai];
        nlohmann::ordered_json qsets = nlohmann::ordered_json::object();
        for (const auto& qs : ann.query_sets) {
          if (!qs.is_valid) continue;
          ++rep.queries_total;
          const QueryPrediction* p = nullptr;
          if (f) {
            for (const auto& q : f->output.queries)
              if (q.annotation_index == static_cast<int>(ai) && q.query_set == qs.id) p = &q;
          }
          nlohmann::ordered_json boxes = nlohmann::ordered_json::array();
          double score = 0.0;
          if (p) {
            ++rep.queries_predicted;
            score = p->score;
            const ClipOutput& o = f->output;
            for (const auto& b : p->bboxes) {
              boxes.push_back({{"fno", b.fno},
                               {"x1", RescaleToOriginal(b.x1, o.frame_width, o.original_width)},
                               {"y1", RescaleToOriginal(b.y1, o.frame_height, o.original_height)},
                               {"x2", RescaleToOriginal(b.x2, o.frame_width, o.original_width)},
                               {"y2", RescaleToOriginal(b.y2, o.frame_height, o.original_height)}});
            }
          }
          qsets[qs.id] = {{"bboxes", boxes}, {"score", score}};
        }
        nlohmann::ordered_json entry = nlohmann::ordered_json::object();
        if (!ann.annotation_uid.empty()) entry["annotation_uid"] = ann.annotation_uid;
        entry["query_sets"] = qsets;
        preds.push_back(entry);
      }
      nlohmann::ordered_json c = nlohmann::ordered_json::object();
      c["clip_uid"] = clip.clip_uid ? nlohmann::ordered_json(*clip.clip_uid) : nlohmann::ordered_json(nullptr);
      c["predictions"] = preds;
      clips.push_back(c);
    }
    nlohmann::ordered_json v = nlohmann::ordered_json::object();
    v["video_uid"] = video.video_uid;
    v["clips"] = clips;
    videos.push_back(v);
  }
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  out["version"] = annotations.version;
  out["challenge"] = "ego4d_vq2d_challenge";
  out["results"] = {{"videos", videos}};
  return out.dump() + "\n";
}

}  // namespace vq2d::runner
