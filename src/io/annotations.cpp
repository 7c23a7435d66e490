#include "vq2d/io/annotations.h"

#include <climits>

#include "io/json_util.h"
#include "vq2d/base/filesystem.h"

namespace vq2d {
namespace {

using io_internal::JsonRef;
using io_internal::OJson;

Result<int> GetInt32(const JsonRef& obj, const std::string& key) {
  VQ2D_ASSIGN_OR_RETURN(long long v, obj.GetInt(key));
  if (v < INT_MIN || v > INT_MAX) return obj.Child(key).Error("a 32-bit integer");
  return static_cast<int>(v);
}

// Optional keys: absent or null keeps the default; a present value of the wrong type is an error.
Status OptInt32(const JsonRef& obj, const std::string& key, int* out) {
  if (!obj.Has(key) || obj.value->at(key).is_null()) return Status::OK();
  VQ2D_ASSIGN_OR_RETURN(*out, GetInt32(obj, key));
  return Status::OK();
}
Status OptInt64(const JsonRef& obj, const std::string& key, long long* out) {
  if (!obj.Has(key) || obj.value->at(key).is_null()) return Status::OK();
  VQ2D_ASSIGN_OR_RETURN(*out, obj.GetInt(key));
  return Status::OK();
}
Status OptNumber(const JsonRef& obj, const std::string& key, double* out) {
  if (!obj.Has(key) || obj.value->at(key).is_null()) return Status::OK();
  VQ2D_ASSIGN_OR_RETURN(*out, obj.GetNumber(key));
  return Status::OK();
}
Status OptString(const JsonRef& obj, const std::string& key, std::string* out) {
  if (!obj.Has(key) || obj.value->at(key).is_null()) return Status::OK();
  VQ2D_ASSIGN_OR_RETURN(*out, obj.GetString(key));
  return Status::OK();
}

Result<AnnotationBox> ParseBox(const JsonRef& j) {
  VQ2D_RETURN_IF_ERROR(j.RequireObject());
  AnnotationBox b;
  VQ2D_ASSIGN_OR_RETURN(b.frame_number, GetInt32(j, "frame_number"));
  VQ2D_ASSIGN_OR_RETURN(b.x, j.GetNumber("x"));
  VQ2D_ASSIGN_OR_RETURN(b.y, j.GetNumber("y"));
  VQ2D_ASSIGN_OR_RETURN(b.width, j.GetNumber("width"));
  VQ2D_ASSIGN_OR_RETURN(b.height, j.GetNumber("height"));
  VQ2D_RETURN_IF_ERROR(OptInt32(j, "original_width", &b.original_width));
  VQ2D_RETURN_IF_ERROR(OptInt32(j, "original_height", &b.original_height));
  VQ2D_RETURN_IF_ERROR(OptNumber(j, "rotation", &b.rotation));
  VQ2D_RETURN_IF_ERROR(OptInt64(j, "video_frame_number", &b.video_frame_number));
  return b;
}

Result<QuerySet> ParseQuerySet(const JsonRef& j, const std::string& id) {
  VQ2D_RETURN_IF_ERROR(j.RequireObject());
  QuerySet q;
  q.id = id;
  VQ2D_ASSIGN_OR_RETURN(q.is_valid, j.GetBool("is_valid"));
  VQ2D_ASSIGN_OR_RETURN(q.query_frame, GetInt32(j, "query_frame"));
  VQ2D_RETURN_IF_ERROR(OptString(j, "object_title", &q.object_title));
  VQ2D_ASSIGN_OR_RETURN(JsonRef vc, j.Get("visual_crop"));
  VQ2D_ASSIGN_OR_RETURN(q.visual_crop, ParseBox(vc));
  if (j.Has("response_track")) {
    JsonRef rt = j.Child("response_track");
    VQ2D_RETURN_IF_ERROR(rt.RequireArray());
    q.has_response_track = true;
    q.response_track.reserve(rt.value->size());
    for (size_t i = 0; i < rt.value->size(); ++i) {
      VQ2D_ASSIGN_OR_RETURN(AnnotationBox b, ParseBox(rt.Index(i)));
      q.response_track.push_back(b);
    }
  }
  return q;
}

Result<ClipAnnotation> ParseClipAnnotation(const JsonRef& j) {
  VQ2D_RETURN_IF_ERROR(j.RequireObject());
  ClipAnnotation a;
  VQ2D_RETURN_IF_ERROR(OptString(j, "annotation_uid", &a.annotation_uid));
  VQ2D_ASSIGN_OR_RETURN(JsonRef qs, j.Get("query_sets"));
  VQ2D_RETURN_IF_ERROR(qs.RequireObject());
  for (auto it = qs.value->begin(); it != qs.value->end(); ++it) {  // ordered_json: text order
    VQ2D_ASSIGN_OR_RETURN(QuerySet q, ParseQuerySet(qs.Member(it), it.key()));
    a.query_sets.push_back(std::move(q));
  }
  return a;
}

Result<Clip> ParseClip(const JsonRef& j) {
  VQ2D_RETURN_IF_ERROR(j.RequireObject());
  Clip c;
  VQ2D_ASSIGN_OR_RETURN(JsonRef uid, j.Get("clip_uid"));
  if (!uid.value->is_null()) {
    VQ2D_ASSIGN_OR_RETURN(std::string s, uid.AsString());
    c.clip_uid = std::move(s);
  }
  c.has_video_span = j.Has("video_start_sec") && j.Has("video_end_sec") &&
                     !j.value->at("video_start_sec").is_null() && !j.value->at("video_end_sec").is_null();
  VQ2D_RETURN_IF_ERROR(OptNumber(j, "video_start_sec", &c.video_start_sec));
  VQ2D_RETURN_IF_ERROR(OptNumber(j, "video_end_sec", &c.video_end_sec));
  VQ2D_RETURN_IF_ERROR(OptInt64(j, "video_start_frame", &c.video_start_frame));
  VQ2D_RETURN_IF_ERROR(OptInt64(j, "video_end_frame", &c.video_end_frame));
  c.has_clip_fps = j.Has("clip_fps") && !j.value->at("clip_fps").is_null();
  VQ2D_RETURN_IF_ERROR(OptNumber(j, "clip_fps", &c.clip_fps));
  VQ2D_ASSIGN_OR_RETURN(JsonRef anns, j.Get("annotations"));
  VQ2D_RETURN_IF_ERROR(anns.RequireArray());
  for (size_t i = 0; i < anns.value->size(); ++i) {
    VQ2D_ASSIGN_OR_RETURN(ClipAnnotation a, ParseClipAnnotation(anns.Index(i)));
    c.annotations.push_back(std::move(a));
  }
  return c;
}

Result<Video> ParseVideo(const JsonRef& j) {
  VQ2D_RETURN_IF_ERROR(j.RequireObject());
  Video v;
  VQ2D_ASSIGN_OR_RETURN(v.video_uid, j.GetString("video_uid"));
  VQ2D_RETURN_IF_ERROR(OptString(j, "split", &v.split));
  VQ2D_ASSIGN_OR_RETURN(JsonRef clips, j.Get("clips"));
  VQ2D_RETURN_IF_ERROR(clips.RequireArray());
  for (size_t i = 0; i < clips.value->size(); ++i) {
    VQ2D_ASSIGN_OR_RETURN(Clip c, ParseClip(clips.Index(i)));
    v.clips.push_back(std::move(c));
  }
  return v;
}

}  // namespace

size_t AnnotationFile::NumValidQuerySets() const {
  size_t n = 0;
  for (const auto& v : videos)
    for (const auto& c : v.clips)
      for (const auto& a : c.annotations)
        for (const auto& q : a.query_sets) n += q.is_valid ? 1 : 0;
  return n;
}

Result<AnnotationFile> ParseAnnotations(std::string_view json_text, const std::string& source_name) {
  VQ2D_ASSIGN_OR_RETURN(OJson root, io_internal::ParseOrderedJson(json_text, source_name));
  JsonRef r{&root, &source_name};
  VQ2D_RETURN_IF_ERROR(r.RequireObject());
  AnnotationFile f;
  VQ2D_ASSIGN_OR_RETURN(f.version, r.GetString("version"));
  VQ2D_ASSIGN_OR_RETURN(JsonRef videos, r.Get("videos"));
  VQ2D_RETURN_IF_ERROR(videos.RequireArray());
  f.videos.reserve(videos.value->size());
  for (size_t i = 0; i < videos.value->size(); ++i) {
    VQ2D_ASSIGN_OR_RETURN(Video v, ParseVideo(videos.Index(i)));
    f.videos.push_back(std::move(v));
  }
  return f;
}

Result<AnnotationFile> LoadAnnotations(const std::string& path) {
  FileSystem* fs = FileSystem::Default();
  if (!fs->Exists(path)) return Status::NotFound(StrCat("annotation file '", path, "' does not exist"));
  VQ2D_ASSIGN_OR_RETURN(std::string text, fs->ReadFile(path));
  return ParseAnnotations(text, path);
}

}  // namespace vq2d
