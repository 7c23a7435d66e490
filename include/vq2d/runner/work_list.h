// The work list of a split: one item per clip of the annotation file that has at least one valid
// query set, in annotation-file order, with its cost = frames to search (sum over the clip's valid
// query sets of query_frame, the frames before each query frame that upstream encodes).
#pragma once

#include <string>
#include <vector>

#include "vq2d/io/annotations.h"
#include "vq2d/runner/planner.h"

namespace vq2d::runner {

struct WorkListReport {
  int null_clip_uid = 0;     // clips with "clip_uid": null (no record can exist; merge fills them)
  int no_valid_queries = 0;  // clips without any valid query set
  std::vector<std::string> duplicate_clips;  // clip uids listed more than once (first kept)
};

std::vector<WorkItem> BuildWorkList(const io::AnnotationFile& annotations, WorkListReport* report);

}  // namespace vq2d::runner
