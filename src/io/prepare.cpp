#include "vq2d/io/prepare.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "vq2d/base/filesystem.h"
#include "vq2d/io/pil_resize.h"
#include "vq2d/io/prepare_math.h"
#include "vq2d/io/record.h"
#include "vq2d/io/video_decode.h"
#include "vq2d/version.h"

namespace vq2d {

std::string VideoPathFor(const std::string& videos_dir, const std::string& video_uid) {
  return JoinPath(videos_dir, video_uid + ".mp4");
}

namespace {

// Runs resize + record append on a worker thread (bounded queue) so that decoding continues meanwhile;
// in synchronous mode it runs them in the caller. The first error stops further work and is returned
// by the next Push and by Finish.
class FrameWorker {
 public:
  using Work = std::function<Status(const uint8_t* data, int64_t stride)>;
  FrameWorker(Work work, bool async, size_t capacity) : work_(std::move(work)), async_(async), capacity_(capacity) {
    if (async_) thread_ = std::thread([this] { Loop(); });
  }
  // Stops the thread; its status was already returned by Push/Finish, or the caller is failing anyway.
  ~FrameWorker() { Finish().IgnoreError(); }
  // `data` + `offset` is the first pixel of the frame region to process, rows `stride` bytes apart.
  Status Push(std::vector<uint8_t> data, int64_t offset, int64_t stride) {
    if (!async_) return work_(data.data() + offset, stride);
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(lock, [&] { return queue_.size() < capacity_ || !status_.ok(); });
    if (!status_.ok()) return status_;
    queue_.push_back(Item{std::move(data), offset, stride});
    items_.notify_one();
    return Status::OK();
  }
  // Synchronous shortcut for data that stays valid during the call (no copy).
  Status Run(const uint8_t* data, int64_t stride) { return work_(data, stride); }
  bool async() const { return async_; }
  Status Finish() {
    if (async_ && thread_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_ = true;
      }
      items_.notify_all();
      thread_.join();
    }
    std::lock_guard<std::mutex> lock(mu_);
    return status_;
  }

 private:
  struct Item {
    std::vector<uint8_t> data;
    int64_t offset, stride;
  };
  void Loop() {
    for (;;) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(mu_);
        items_.wait(lock, [&] { return !queue_.empty() || done_; });
        if (queue_.empty()) return;
        item = std::move(queue_.front());
        queue_.pop_front();
        space_.notify_one();
        if (!status_.ok()) continue;  // drain after an error
      }
      Status s = work_(item.data.data() + item.offset, item.stride);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        if (status_.ok()) status_ = s;
        space_.notify_all();
      }
    }
  }
  Work work_;
  bool async_;
  size_t capacity_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable items_, space_;
  std::deque<Item> queue_;
  bool done_ = false;
  Status status_;
};

std::string ClipName(const Video& video, const Clip& clip) {
  return StrCat("clip ", clip.clip_uid ? *clip.clip_uid : std::string("<null>"), " (video ", video.video_uid, ")");
}

}  // namespace

Status ValidateClipForPrepare(const Video& video, const Clip& clip) {
  const std::string name = ClipName(video, clip);
  if (!clip.clip_uid || clip.clip_uid->empty()) {
    return Status::InvalidArgument(StrCat(name, ": clip_uid is null or empty; the clip cannot be named (the official "
                                          "extractors skip such clips)"));
  }
  if (clip.clip_uid->find('/') != std::string::npos) {
    return Status::InvalidArgument(StrCat(name, ": clip_uid contains '/'"));
  }
  if (video.video_uid.empty() || video.video_uid.find('/') != std::string::npos) {
    return Status::InvalidArgument(StrCat(name, ": video_uid is empty or contains '/'"));
  }
  if (!clip.has_video_span) {
    return Status::InvalidArgument(StrCat(name, ": video_start_sec / video_end_sec missing"));
  }
  if (!clip.has_clip_fps) {
    // No default: upstream prepare.py reads item['clip_fps'] (a KeyError when absent), and a guessed
    // rate would silently change every frame time of the record.
    return Status::InvalidArgument(StrCat(name, ": clip_fps is missing (or null); prepare needs the clip's sampling "
                                          "rate (the Ego4D VQ2D files give 5.0)"));
  }
  if (!(clip.clip_fps > 0) || !std::isfinite(clip.clip_fps)) {
    return Status::InvalidArgument(StrCat(name, ": clip_fps must be > 0, got ", clip.clip_fps));
  }
  for (const auto& a : clip.annotations) {
    for (const auto& q : a.query_sets) {
      if (!q.is_valid) continue;
      const auto& vc = q.visual_crop;
      if (vc.original_width <= 0 || vc.original_height <= 0) {
        return Status::InvalidArgument(StrCat(name, " query set ", q.id,
                                              ": visual_crop needs original_width/original_height > 0"));
      }
      if (vc.frame_number < 0) {
        return Status::InvalidArgument(StrCat(name, " query set ", q.id, ": visual_crop.frame_number ",
                                              vc.frame_number, " < 0"));
      }
      if (!std::isfinite(vc.x) || !std::isfinite(vc.y) || !std::isfinite(vc.width) || !std::isfinite(vc.height)) {
        return Status::InvalidArgument(StrCat(name, " query set ", q.id, ": visual_crop has a non-finite coordinate"));
      }
    }
  }
  return Status::OK();
}

Status PrepareClip(const ClipPrepareOptions& opt, const Video& video, const Clip& clip, const std::string& videos_dir,
                   const std::string& out_path, PrepareStats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  PrepareStats local;
  PrepareStats& st = stats ? *stats : local;
  st = PrepareStats();
  const std::string name = ClipName(video, clip);
  VQ2D_RETURN_IF_ERROR(ValidateClipForPrepare(video, clip));
  auto times_or = ClipFrameTimes(clip.video_start_sec, clip.video_end_sec, clip.clip_fps);
  if (!times_or.ok()) return times_or.status().WithContext(name);
  const std::vector<double>& times = *times_or;
  const int64_t T = static_cast<int64_t>(times.size());
  const std::string video_path = VideoPathFor(videos_dir, video.video_uid);
  FileSystem* fs = FileSystem::Default();
  if (!fs->Exists(video_path)) {
    return Status::NotFound(StrCat(name, ": video file '", video_path, "' does not exist"));
  }
  VQ2D_RETURN_IF_ERROR(fs->CreateDirs(DirName(out_path)).WithContext(name));
  const std::string tmp_path = out_path + ".tmp." + opt.tmp_tag;

  // State shared by the decode callbacks.
  std::unique_ptr<BlackBarDetector> detector;
  std::unique_ptr<ClipRecordWriter> writer;
  std::unique_ptr<FrameWorker> worker;  // created with the writer; destroyed (joined) before it
  std::unique_ptr<PilBicubicResizer> resizer;
  std::vector<uint8_t> resized;
  std::vector<std::vector<uint8_t>> buffer;  // decoded frames (contiguous) while the trim box is open
  int64_t buffered_bytes = 0;
  bool overflow = false;
  int dec_w = 0, dec_h = 0;
  TrimBox box;
  ClipRecordMeta meta;
  meta.clip_uid = *clip.clip_uid;
  meta.video_uid = video.video_uid;
  meta.split = opt.split;
  meta.clip_fps = clip.clip_fps;
  meta.video_start_sec = clip.video_start_sec;
  meta.video_end_sec = clip.video_end_sec;
  meta.num_frames = T;
  meta.apply_trim_offset = opt.apply_trim_offset;
  meta.compression = opt.gzip_level >= 0 ? StrCat("gzip-", opt.gzip_level) : "none";
  meta.prepare_settings = PrepareSettingsText(opt);
  meta.vq2d_version = VQ2D_VERSION;
  meta.vq2d_git_rev = VQ2D_GIT_REV;

  auto start_writer = [&](const TrimBox& b) -> Status {
    box = b;
    const auto size = GetSizeForResize(b.width(), b.height(), opt.shorter_side, opt.longer_side_max);
    meta.geometry = RecordGeometry{dec_w, dec_h, b, size[0], size[1]};
    VQ2D_ASSIGN_OR_RETURN(writer, ClipRecordWriter::Create(tmp_path, meta, opt.gzip_level));
    resizer = std::make_unique<PilBicubicResizer>(b.width(), b.height(), size[0], size[1]);
    resized.resize(static_cast<size_t>(size[0]) * size[1] * 3);
    worker = std::make_unique<FrameWorker>(
        [&](const uint8_t* region, int64_t stride) {
          resizer->Resize(region, stride, resized.data());
          return writer->AppendFrame(resized.data());
        },
        opt.async_write, 4);
    return Status::OK();
  };
  // Crop (trim box) + resize + append one decoded frame; asynchronous mode copies the cropped region.
  auto write_frame = [&](const uint8_t* rgb, int64_t stride) -> Status {
    const uint8_t* region = rgb + static_cast<int64_t>(box.y1) * stride + box.x1 * 3;
    if (!worker->async()) return worker->Run(region, stride);
    const int64_t row = static_cast<int64_t>(box.width()) * 3;
    std::vector<uint8_t> copy(static_cast<size_t>(row) * box.height());
    for (int y = 0; y < box.height(); ++y) std::memcpy(copy.data() + y * row, region + y * stride, row);
    return worker->Push(std::move(copy), 0, row);
  };
  auto flush_buffer = [&]() -> Status {
    const int64_t stride = static_cast<int64_t>(dec_w) * 3;
    for (auto& f : buffer) {
      VQ2D_RETURN_IF_ERROR(worker->Push(std::move(f), box.y1 * stride + box.x1 * 3, stride));
    }
    buffer.clear();
    buffered_bytes = 0;
    return Status::OK();
  };

  auto first_pass = [&](int64_t, const uint8_t* rgb, int w, int h, int64_t stride) -> Status {
    if (!detector) {
      dec_w = w;
      dec_h = h;
      detector = std::make_unique<BlackBarDetector>(w, h, opt.blackbar_threshold, opt.max_perc_to_trim);
    }
    if (writer) return write_frame(rgb, stride);  // trim box final: stream
    detector->Add(rgb, stride);
    if (detector->Final()) {
      VQ2D_RETURN_IF_ERROR(start_writer(detector->Box()));
      VQ2D_RETURN_IF_ERROR(flush_buffer());
      return write_frame(rgb, stride);
    }
    if (overflow) return Status::OK();
    const int64_t bytes = static_cast<int64_t>(w) * h * 3;
    if (opt.max_buffer_bytes >= 0 && buffered_bytes + bytes > opt.max_buffer_bytes) {
      overflow = true;
      std::vector<std::vector<uint8_t>>().swap(buffer);
      buffered_bytes = 0;
      return Status::OK();
    }
    std::vector<uint8_t> f(static_cast<size_t>(bytes));
    for (int y = 0; y < h; ++y) std::memcpy(f.data() + static_cast<size_t>(y) * w * 3, rgb + y * stride, w * 3);
    buffer.push_back(std::move(f));
    buffered_bytes += bytes;
    return Status::OK();
  };

  auto cleanup = [&](const Status& s) {
    worker.reset();
    writer.reset();
    if (fs->Exists(tmp_path)) fs->Remove(tmp_path).IgnoreError();  // best effort: `s` is the error to report
    return s;
  };

  DecodeOptions dopt;
  dopt.seek_margin_sec = opt.seek_margin_sec;
  auto info = DecodeFramesAtTimes(video_path, times, first_pass, dopt);
  if (!info.ok()) return cleanup(info.status().WithContext(name));
  st.decode_passes = 1;
  st.frames_decoded = info->frames_decoded;
  st.frames_clamped = info->frames_clamped;
  if (opt.max_clamped_frames >= 0 && info->frames_clamped > opt.max_clamped_frames) {
    return cleanup(Status::Corruption(StrCat(
        name, ": video '", video_path, "' ends at ", info->source_time_sec.back(), " s (", info->frames_decoded,
        " frames) but ", info->frames_clamped, " of the clip's ", T, " frame times (up to ", times.back(),
        " s) are past its last frame (limit ", opt.max_clamped_frames, "; truncated video?)")));
  }
  if (!writer) {
    Status s = start_writer(detector->Box());
    if (!s.ok()) return cleanup(s.WithContext(name));
    if (!overflow) {
      s = flush_buffer();
      if (!s.ok()) return cleanup(s.WithContext(name));
    } else {
      // The buffer limit was exceeded before the trim box was known: decode again, streaming.
      auto again = DecodeFramesAtTimes(video_path, times, [&](int64_t, const uint8_t* rgb, int, int, int64_t stride) {
        return write_frame(rgb, stride);
      }, dopt);
      if (!again.ok()) return cleanup(again.status().WithContext(name));
      st.decode_passes = 2;
      st.frames_decoded += again->frames_decoded;
    }
  }
  if (info->frames_clamped > 0) {
    st.warnings.push_back(StrCat(info->frames_clamped, " frame time(s) past the last video frame (",
                                 info->source_time_sec.back(), " s) were given the last frame"));
  }
  for (const auto& a : clip.annotations) {
    for (const auto& q : a.query_sets) {
      if (!q.is_valid) continue;
      if (q.visual_crop.frame_number >= T) {
        st.warnings.push_back(StrCat("query set ", q.id, ": visual_crop.frame_number ", q.visual_crop.frame_number,
                                     " >= ", T, " clip frames; its crop reads the last frame"));
      }
      if (q.query_frame > T) {
        st.warnings.push_back(StrCat("query set ", q.id, ": query_frame ", q.query_frame, " > ", T, " clip frames"));
      }
      const auto r = MapBoxToRecord(q.visual_crop.x, q.visual_crop.y, q.visual_crop.width, q.visual_crop.height,
                                    q.visual_crop.original_width, q.visual_crop.original_height, meta.geometry,
                                    opt.apply_trim_offset);
      const auto ys = PySlice(r[1], r[1] + r[3], meta.geometry.height);
      const auto xs = PySlice(r[0], r[0] + r[2], meta.geometry.width);
      if (ys[1] == ys[0] || xs[1] == xs[0]) {
        st.warnings.push_back(StrCat("query set ", q.id, ": the visual crop is empty in record pixels (box ", r[0], ",",
                                     r[1], ",", r[2], ",", r[3], ")"));
      }
      int degenerate = 0;
      for (const auto& b : q.response_track) degenerate += (b.width <= 0 || b.height <= 0) ? 1 : 0;
      if (degenerate > 0) {
        st.warnings.push_back(StrCat("query set ", q.id, ": ", degenerate,
                                     " response-track box(es) with zero or negative area (kept as is)"));
      }
    }
  }
  if (Status ws = worker->Finish(); !ws.ok()) return cleanup(ws.WithContext(name));
  meta.video_fps = info->fps;
  meta.frames_clamped = info->frames_clamped;
  meta.frames_decoded = st.frames_decoded;
  Status s = writer->Finish(meta, times, info->source_index, info->source_time_sec,
                            SingleClipAnnotationJson(opt.annotation_version, video, clip));
  if (!s.ok()) return cleanup(s.WithContext(name));
  st.frames_written = writer->frames_written();
  writer.reset();
  s = PublishRecord(tmp_path, out_path);
  if (!s.ok()) return cleanup(s.WithContext(name));
  if (auto size = fs->FileSize(out_path); size.ok()) st.bytes_written = static_cast<int64_t>(*size);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::OK();
}

std::string PrepareSettingsText(const ClipPrepareOptions& o) {
  char perc[32];
  std::snprintf(perc, sizeof(perc), "%.17g", o.max_perc_to_trim);
  return StrCat("shorter_side=", o.shorter_side, " longer_side_max=", o.longer_side_max,
                " blackbar_threshold=", o.blackbar_threshold, " max_perc_to_trim=", perc,
                " apply_trim_offset=", o.apply_trim_offset ? 1 : 0);
}

bool IsValidRecord(const std::string& path, const std::string& clip_uid, const ClipPrepareOptions& options) {
  if (!FileSystem::Default()->Exists(path)) return false;
  auto rec = OpenClipRecord(path);
  return rec.ok() && rec->meta().clip_uid == clip_uid && rec->meta().prepare_settings == PrepareSettingsText(options);
}

std::string RecordPathFor(const std::string& records_dir, const std::string& clip_uid) {
  return JoinPath(records_dir, clip_uid + ".h5");
}

std::string SplitReport::ToJson() const {
  nlohmann::ordered_json j;
  j["prepared"] = prepared;
  j["skipped"] = skipped;
  j["failed"] = failed;
  j["frames_written"] = frames_written;
  j["frames_clamped"] = frames_clamped;
  j["seconds"] = seconds;
  auto arr = nlohmann::ordered_json::array();
  for (const auto& c : clips) {
    nlohmann::ordered_json o;
    o["video_uid"] = c.video_uid;
    o["clip_uid"] = c.clip_uid;
    o["state"] = c.state;
    if (!c.message.empty()) o["message"] = c.message;
    if (c.state == "prepared") {
      o["frames"] = c.stats.frames_written;
      o["frames_clamped"] = c.stats.frames_clamped;
      o["frames_decoded"] = c.stats.frames_decoded;
      o["bytes"] = c.stats.bytes_written;
      o["seconds"] = c.stats.seconds;
      if (!c.stats.warnings.empty()) o["warnings"] = c.stats.warnings;
    }
    arr.push_back(o);
  }
  j["clips"] = arr;
  return j.dump(1) + "\n";
}

SplitReport PrepareSplit(const ClipPrepareOptions& options, const AnnotationFile& annotations,
                         const std::string& videos_dir, const std::string& records_dir,
                         const std::function<void(size_t, size_t, const ClipOutcome&)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  SplitReport rep;
  size_t total = 0;
  for (const auto& v : annotations.videos) total += v.clips.size();
  size_t done = 0;
  for (const auto& v : annotations.videos) {
    for (const auto& c : v.clips) {
      ClipOutcome o;
      o.video_uid = v.video_uid;
      o.clip_uid = c.clip_uid.value_or("");
      const std::string out = o.clip_uid.empty() ? "" : RecordPathFor(records_dir, o.clip_uid);
      if (!out.empty() && IsValidRecord(out, o.clip_uid, options)) {
        o.state = "skipped";
        ++rep.skipped;
      } else {
        Status s = PrepareClip(options, v, c, videos_dir, out, &o.stats);
        if (s.ok()) {
          o.state = "prepared";
          ++rep.prepared;
          rep.frames_written += o.stats.frames_written;
          rep.frames_clamped += o.stats.frames_clamped;
        } else {
          o.state = "failed";
          o.message = s.ToString();
          ++rep.failed;
        }
      }
      ++done;
      if (progress) progress(done, total, o);
      rep.clips.push_back(std::move(o));
    }
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace vq2d
