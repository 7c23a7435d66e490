// The runner's ClipProcessor for `vq2d prepare`: prepares one clip's HDF5 record (PrepareClip) into
// the split's records directory. A clip whose record already exists and is valid is not redone.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "vq2d/io/annotations.h"
#include "vq2d/io/config.h"
#include "vq2d/io/prepare.h"
#include "vq2d/runner/runner.h"
#include "vq2d/runner/work_list.h"

namespace vq2d::app {

// Options of the prepare step from the config (prepare.*, fixes.apply_trim_offset) and the split.
io::ClipPrepareOptions PrepareOptionsFromConfig(const io::Config& config, const std::string& split, int64_t max_clamped_frames);

// Canonical text of everything that changes prepared records (the prepare run's fingerprint).
std::string PrepareCanonicalConfig(const io::ClipPrepareOptions& options, const std::string& videos_dir,
                                   const std::string& records_dir);

// The work list of `vq2d prepare`: every clip with a clip_uid (first occurrence), in file order;
// cost = 30 * video_end_sec, the frames decoded (from the video's start to the clip's end at 30 fps).
std::vector<runner::WorkItem> PrepareWorkList(const io::AnnotationFile& annotations, int* null_clip_uids);

class PrepareProcessor : public runner::ClipProcessor {
 public:
  // `annotations` must outlive the processor.
  PrepareProcessor(const io::AnnotationFile& annotations, io::ClipPrepareOptions options, std::string videos_dir,
                   std::string records_dir);
  Result<runner::ClipResult> Process(const runner::ClipTask& task, const runner::StopToken& stop) override;

 private:
  io::ClipPrepareOptions options_;
  std::string videos_dir_, records_dir_;
  std::map<std::string, std::pair<const io::Video*, const io::Clip*>> clips_;
};

}  // namespace vq2d::app
