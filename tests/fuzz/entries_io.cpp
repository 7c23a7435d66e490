// Torch-free entry points (config, annotations, predictions, records): they link vq2d_io only.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <string_view>

#include "fuzz/entries.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/io/config.h"
#include "vq2d/io/evaluate.h"
#include "vq2d/io/record.h"
#include "vq2d/io/submission.h"

namespace vq2d::fuzz {

using io::AnnotationFile;
using io::BuildSubmission;
using io::EvaluatePredictions;
using io::EvaluateRenLocal;
using io::OpenClipRecord;
using io::ParseAnnotations;
using io::ParseClipOutput;
using io::ParseConfig;
using io::ValidatePredictions;
namespace {

// A fixed annotation file for the prediction parsers: one clip, one annotation, two query sets.
const char kAnnotations[] = R"({"version": "1.0.5", "videos": [{"video_uid": "v1", "split": "val", "clips": [
 {"clip_uid": "c1", "clip_fps": 5.0, "annotations": [{"annotation_uid": "a1", "query_sets": {
  "1": {"is_valid": true, "query_frame": 20, "object_title": "cup",
        "visual_crop": {"frame_number": 30, "x": 10, "y": 20, "width": 30, "height": 40,
                        "original_width": 640, "original_height": 360},
        "response_track": [{"frame_number": 5, "x": 1, "y": 2, "width": 3, "height": 4,
                            "original_width": 640, "original_height": 360}]},
  "2": {"is_valid": false, "query_frame": 3,
        "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 1, "height": 1}}}}]}]}]})";

const AnnotationFile& FixedAnnotations() {
  static const AnnotationFile gt = [] {
    auto r = ParseAnnotations(kAnnotations, "fuzz-annotations");
    if (!r.ok()) std::abort();  // the harness itself is broken
    return *r;
  }();
  return gt;
}

}  // namespace

void Config(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)ParseConfig(text, "fuzz.yaml");
  // The same bytes as --set overrides: "key=value" lines.
  std::vector<std::string> sets;
  size_t start = 0;
  while (start < text.size() && sets.size() < 8) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    sets.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  (void)ParseConfig("", "fuzz.yaml", sets);
}

void Annotations(const uint8_t* data, size_t size) {
  (void)ParseAnnotations(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
}

void Predictions(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const AnnotationFile& gt = FixedAnnotations();
  (void)EvaluatePredictions(text, "fuzz-pred.json", gt);            // vq2d eval
  (void)EvaluateRenLocal(text, "fuzz-collated.json");               // vq2d eval --ren-local
  auto build = BuildSubmission({{"1-c1.json", text}}, gt);          // vq2d submit
  if (build.ok()) (void)ValidatePredictions(build->submission_json, "fuzz-submission.json", gt);
  auto clip = ParseClipOutput(text, "fuzz-clip-output.json");       // vq2d merge
  if (clip.ok()) {  // merge's conversion of every box (its precondition is ParseClipOutput's check)
    for (const auto& q : clip->queries) {
      for (const auto& b : q.bboxes) {
        (void)io::RescaleToOriginal(b.x1, clip->frame_width, clip->original_width);
        (void)io::RescaleToOriginal(b.y2, clip->frame_height, clip->original_height);
      }
    }
  }
}

void Record(const uint8_t* data, size_t size) {
  const std::string path = ScratchFile("record.h5", data, size);
  auto rec = OpenClipRecord(path);  // the default, verifying path: the header is checked before libhdf5
  if (rec.ok()) {
    const int64_t n = std::min<int64_t>(rec->num_frames(), 2);
    (void)rec->ReadFrames(0, n);
    int crops = 0;
    for (const auto& a : rec->clip().annotations) {
      for (const auto& q : a.query_sets) {
        if (crops++ < 4) (void)rec->ReadVisualCrop(q);
      }
    }
  }
  ::unlink(path.c_str());
}

}  // namespace vq2d::fuzz
