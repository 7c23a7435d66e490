// The eval.ai VQ2D submission writer: REN's submit.py (docs/eval.md) on REN-format predictions.
//
// Input: REN prediction JSON(s) in the official layout but in record pixels, each video carrying the
// record frame size: {"version","challenge","results":{"videos":[{"video_uid","frame_height",
// "frame_width","clips":[{"clip_uid","predictions":[{"query_sets":{"1":{"bboxes":[{fno,x1,x2,y1,y2}],
// "score"}}}]}]}]}} — one file per clip (REN's "<run_id>-<clip_uid>.json") or one collated file.
// Extension: a clip may carry its own frame_height/frame_width (used instead of the video's, and
// removed from the output); REN's files have them per video only.
//
// Input check (stricter than submit.py, which copies whatever it is given): every query-set prediction
// of every file must read as `vq2d eval` reads it (bboxes an array of objects with an integral fno and
// numeric x1/y1/x2/y2, frame-contiguous; score a number), else an error naming the file, the clip,
// the query set and the field.
// Steps, as upstream:
//  1. collate: the first file is the base, every later file contributes its results.videos[0];
//     every box is rescaled to the original resolution: x = int(x / frame_width * original_width)
//     (y with heights, truncation toward zero), the original size taken from the visual crop of the
//     last valid annotation of that clip having the query set (KeyError when an annotation of the
//     clip lacks the query-set key); videos with equal uid are merged (only video_uid and clips stay).
//  2. order: videos and clips in the test file's order (first match by uid); predictions for
//     videos/clips not in the test file are dropped; a missing clip gets, per annotation and per query
//     set (valid or not), the dummy {"bboxes":[{"fno":0,"x1":0,"y1":0,"x2":0,"y2":0}],"score":0.0};
//     a missing valid query set of a present annotation gets the same dummy (appended).
//  3. version := the test file's version ("1.0.5" for v1.0.5/v2), then validate with the official
//     rules (challenge "ego4d_vq2d_challenge", counts, clip/video uids, valid query-set keys, bboxes
//     and score present), then eval's own reading of every valid prediction (same parser as eval:
//     contiguous tracks, integral fno, numeric boxes, non-null numeric score).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"

namespace vq2d {

struct NamedJson {
  std::string name;  // file name (for messages)
  std::string text;  // JSON text
};

struct SubmissionBuild {
  std::string collated_json;        // after step 1 (for inspection and tests)
  std::string submission_json;      // after steps 2-3: what eval.ai receives
  Status validation;                // OK, or the first failing rule (the file must not be published)
  std::vector<std::string> notes;   // "[INFO] Adding a dummy prediction for clip ..." as upstream prints
  size_t dummy_clips = 0, dummy_videos = 0, dummy_query_sets = 0;
  // Coverage: test clips with a valid query set, and those of them the predictions do not cover (no
  // entry, or no box in any valid query set: how `vq2d merge` writes a clip the run did not finish).
  size_t clips_total = 0;
  std::vector<std::string> uncovered_clips;
};

// Steps 1-3. Errors (not validation failures) are the upstream exceptions: "KeyError: ...",
// "TypeError: ...", "ZeroDivisionError: ...".
Result<SubmissionBuild> BuildSubmission(const std::vector<NamedJson>& prediction_files,
                                        const AnnotationFile& test_annotations);

// Reads the prediction input: a directory of REN per-clip files (*.json, sorted by the integer before
// the first '-', ties by name; WriteFileAtomic temp files skipped) or one JSON file.
Result<std::vector<NamedJson>> ReadPredictionInputs(const std::string& path);

}  // namespace vq2d
