// Merge: gathers per-clip outputs of one or more run directories into one predictions file in the
// official Ego4D VQ2D format (docs/eval.md), ordered exactly like the annotation file (videos ->
// clips -> annotations -> valid query sets in JSON key order), boxes rescaled to original pixels.
// Works after complete, partial or crashed runs: only validly finished clips are used (RunStore
// rules); every valid query without a prediction gets {"bboxes": [], "score": 0.0} and is reported.
#pragma once

#include <string>
#include <vector>

#include "vq2d/base/filesystem.h"
#include "vq2d/io/annotations.h"

namespace vq2d {

struct MergeReport {
  int clips_total = 0;          // clips with valid queries in the annotation file (incl. null uid)
  int clips_found = 0;          // clips with a finished output
  int queries_total = 0;        // valid query sets
  int queries_predicted = 0;
  std::vector<std::string> missing_clips;     // clip uids (or "video/<idx> (null clip_uid)")
  std::vector<std::string> duplicate_clips;   // found in more than one run directory (first kept)
  std::vector<std::string> conflicting_clips; // duplicates whose outputs differ
  std::vector<std::string> rejected;          // outputs present but not acceptable, with the reason
  bool complete() const { return queries_predicted == queries_total; }
};

// Builds the predictions JSON text. `run_dirs` are searched in order; the first valid output of a
// clip wins.
Result<std::string> MergePredictions(FileSystem* fs, const AnnotationFile& annotations,
                                     const std::vector<std::string>& run_dirs, MergeReport* report);

}  // namespace vq2d
