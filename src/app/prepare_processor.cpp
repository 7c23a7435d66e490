#include "app/prepare_processor.h"

#include <sstream>

#include "vq2d/base/filesystem.h"

namespace vq2d::app {

ClipPrepareOptions PrepareOptionsFromConfig(const Config& config, const std::string& split, int64_t max_clamped_frames) {
  ClipPrepareOptions o;
  o.split = split;
  o.shorter_side = static_cast<int>(config.prepare.short_side);
  o.longer_side_max = static_cast<int>(config.prepare.long_side_max);
  o.blackbar_threshold = static_cast<int>(config.prepare.black_threshold);
  o.max_perc_to_trim = config.prepare.max_trim_fraction;
  o.gzip_level = config.prepare.compression == "gzip" ? static_cast<int>(config.prepare.gzip_level) : -1;
  o.apply_trim_offset = config.fixes.apply_trim_offset;
  o.max_clamped_frames = max_clamped_frames;
  return o;
}

std::string PrepareCanonicalConfig(const ClipPrepareOptions& o, const std::string& videos_dir,
                                   const std::string& records_dir) {
  std::ostringstream os;
  os.precision(17);
  os << "prepare.split: " << o.split << "\n"
     << "prepare.short_side: " << o.shorter_side << "\n"
     << "prepare.long_side_max: " << o.longer_side_max << "\n"
     << "prepare.black_threshold: " << o.blackbar_threshold << "\n"
     << "prepare.max_trim_fraction: " << o.max_perc_to_trim << "\n"
     << "prepare.gzip_level: " << o.gzip_level << "\n"
     << "prepare.max_clamped_frames: " << o.max_clamped_frames << "\n"
     << "fixes.apply_trim_offset: " << (o.apply_trim_offset ? "true" : "false") << "\n"
     << "data.videos_dir: " << videos_dir << "\n"
     << "records_dir: " << records_dir << "\n";
  return os.str();
}

std::vector<WorkItem> PrepareWorkList(const AnnotationFile& annotations, int* null_clip_uids) {
  std::vector<WorkItem> work;
  std::map<std::string, bool> seen;
  int nulls = 0;
  for (const auto& v : annotations.videos) {
    for (const auto& c : v.clips) {
      if (!c.clip_uid) {
        ++nulls;
        continue;
      }
      if (seen[*c.clip_uid]) continue;
      seen[*c.clip_uid] = true;
      work.push_back(WorkItem{*c.clip_uid, 30.0 * std::max(0.0, c.video_end_sec), v.video_uid});
    }
  }
  if (null_clip_uids) *null_clip_uids = nulls;
  return work;
}

PrepareProcessor::PrepareProcessor(const AnnotationFile& annotations, ClipPrepareOptions options, std::string videos_dir,
                                   std::string records_dir)
    : options_(std::move(options)), videos_dir_(std::move(videos_dir)), records_dir_(std::move(records_dir)) {
  for (const auto& v : annotations.videos) {
    for (const auto& c : v.clips) {
      if (c.clip_uid && !clips_.count(*c.clip_uid)) clips_[*c.clip_uid] = {&v, &c};
    }
  }
}

Result<ClipResult> PrepareProcessor::Process(const ClipTask& task, const StopToken& stop) {
  auto it = clips_.find(task.clip_uid);
  if (it == clips_.end()) return Status::NotFound(StrCat("clip ", task.clip_uid, " is not in the annotation file"));
  if (stop.stop_requested()) return Status::Cancelled("stop requested");
  const std::string out = RecordPathFor(records_dir_, task.clip_uid);
  ClipResult r;
  nlohmann::json summary = {{"clip_uid", task.clip_uid}, {"video_uid", task.video_uid}, {"record", out}};
  if (IsValidRecord(out, task.clip_uid, options_)) {
    summary["state"] = "existing";
    r.stats = {{"existing_record", true}};
  } else {
    ClipPrepareOptions o = options_;
    o.tmp_tag = StrCat("prep", task.attempt);
    // Temp files of earlier attempts that died mid-write (the runner gives a clip to one rank at a time).
    FileSystem* fs = FileSystem::Default();
    for (int a = 1; a < task.attempt; ++a) {
      const std::string stale = StrCat(out, ".tmp.prep", a);
      if (fs->Exists(stale)) VQ2D_RETURN_IF_ERROR(fs->Remove(stale));
    }
    PrepareStats st;
    VQ2D_RETURN_IF_ERROR(PrepareClip(o, *it->second.first, *it->second.second, videos_dir_, out, &st));
    summary["state"] = "prepared";
    summary["warnings"] = st.warnings;
    r.stats = {{"frames", st.frames_written}, {"frames_decoded", st.frames_decoded},
               {"frames_clamped", st.frames_clamped}, {"decode_passes", st.decode_passes},
               {"bytes", st.bytes_written}, {"seconds", st.seconds}};
    summary["stats"] = r.stats;
  }
  r.output = summary.dump(1) + "\n";
  return r;
}

}  // namespace vq2d::app
