// The Ego4D VQ2D annotation model (vq_train.json / vq_val.json / vq_test_unannotated.json;
// docs/data.md) and its parser. The tree keeps the file's order everywhere (videos, clips, annotations,
// and query-set keys in JSON text order), which the official evaluator depends on.
//
// Units: every box is in pixels of its original_width x original_height (the canonical full-scale
// video), top-left x,y plus width,height, NOT clipped to the image. Frame numbers are 0-based 5 fps
// clip frame indices; video_frame_number is the 30 fps full-video frame.
//
// Required keys (a missing one is an error naming its JSON path): version, videos[], video_uid,
// clips[], clip_uid (string or null), annotations[], query_sets{}, is_valid, query_frame,
// visual_crop and, in every box, frame_number, x, y, width, height. Everything else is optional
// with the defaults below (minimal files such as the metric fixtures omit them). Unknown keys are
// ignored.
//
// Thread-safety: plain values; ParseAnnotations / LoadAnnotations are reentrant.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

struct AnnotationBox {  // pixels of original_width x original_height (the canonical video)
  int frame_number = -1;  // 0-based 5 fps clip frame index
  double x = 0, y = 0, width = 0, height = 0;
  int original_width = 0, original_height = 0;  // 0 when absent from the file
  double rotation = 0;
  long long video_frame_number = -1;  // -1 when absent from the file
};

struct QuerySet {
  std::string id;  // "1", "2", ... (JSON key order preserved)
  bool is_valid = false;
  int query_frame = -1;
  std::string object_title;
  AnnotationBox visual_crop;
  bool has_response_track = false;  // absent in vq_test_unannotated.json
  std::vector<AnnotationBox> response_track;  // file order (normally sorted by frame_number)
};

struct ClipAnnotation {
  std::string annotation_uid;  // "" when absent
  std::vector<QuerySet> query_sets;  // JSON key order of "query_sets"
};

struct Clip {
  std::optional<std::string> clip_uid;  // null occurs in real files
  double video_start_sec = 0, video_end_sec = 0;
  long long video_start_frame = 0, video_end_frame = 0;  // 30 fps, end inclusive
  double clip_fps = 0;          // frames per second the clip is sampled at (prepare); 0 when absent
  bool has_clip_fps = false;    // true when clip_fps was present and not null (prepare requires it)
  bool has_video_span = false;  // true when video_start_sec and video_end_sec were present
  std::vector<ClipAnnotation> annotations;
};

struct Video {
  std::string video_uid;
  std::string split;  // "" when absent
  std::vector<Clip> clips;
};

struct AnnotationFile {
  std::string version;
  std::vector<Video> videos;

  // Number of query sets with is_valid == true (the queries the evaluator scores).
  size_t NumValidQuerySets() const;
};

// Parses an annotation file held in memory. Errors (InvalidArgument) name `source_name`, the JSON
// path of the offending value (e.g. "videos[3].clips[0].annotations[1].query_sets.2.query_frame")
// and what was expected.
Result<AnnotationFile> ParseAnnotations(std::string_view json_text, const std::string& source_name);

// Reads `path` through FileSystem::Default() and parses it (NotFound / IOError when unreadable).
Result<AnnotationFile> LoadAnnotations(const std::string& path);

}  // namespace vq2d
