#include "vq2d/runner/work_list.h"

#include <set>

namespace vq2d::runner {

using io::AnnotationFile;

std::vector<WorkItem> BuildWorkList(const AnnotationFile& annotations, WorkListReport* report) {
  std::vector<WorkItem> items;
  std::set<std::string> seen;
  for (const auto& video : annotations.videos) {
    for (const auto& clip : video.clips) {
      double cost = 0;
      int valid = 0;
      for (const auto& ann : clip.annotations)
        for (const auto& qs : ann.query_sets)
          if (qs.is_valid) ++valid, cost += std::max(0, qs.query_frame);
      if (!clip.clip_uid) {
        if (report && valid > 0) ++report->null_clip_uid;
        continue;
      }
      if (valid == 0) {
        if (report) ++report->no_valid_queries;
        continue;
      }
      if (!seen.insert(*clip.clip_uid).second) {
        if (report) report->duplicate_clips.push_back(*clip.clip_uid);
        continue;
      }
      items.push_back(WorkItem{*clip.clip_uid, cost, video.video_uid});
    }
  }
  return items;
}

}  // namespace vq2d::runner
