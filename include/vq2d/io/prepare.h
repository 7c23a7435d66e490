// `vq2d prepare` per clip: decode the clip's frames from its full-scale video exactly as upstream
// REN's prepare.py selects them, trim black bars, PIL-bicubic resize, and publish one HDF5 record
// (record.h) atomically. The runner calls PrepareClip once per clip; it never throws.
//
// Upstream behaviour reproduced (docs/data.md): frame times np.unique(np.arange(max(0, start), end,
// 1/clip_fps)); each time -> the frame "ffmpeg -ss <t:.3f>" returns; black bars (threshold 32, at most
// 20% per side, over all the clip's frames); resize to get_size_for_resize(short 288, long <= 512).
// Differences, documented in docs/data.md: frames past the end of the video are clamped to the last
// frame and counted (upstream drops the clip), failing only beyond max_clamped_frames; a visual-crop
// frame past the clip's end reads the last frame (upstream raises IndexError).
//
// Memory: frames are streamed to the record as soon as the trim box is known. A clip whose trim box
// stays open (black bars) is buffered at decoded resolution up to max_buffer_bytes; beyond that the
// video is decoded a second time.
//
// Thread-safety: PrepareClip is reentrant (distinct clips may be prepared in parallel).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vq2d/base/status.h"
#include "vq2d/io/annotations.h"

namespace vq2d {

struct ClipPrepareOptions {
  std::string split;                 // stored in the record ("train", "val", "test")
  std::string annotation_version = "1.0.5";  // "version" of the stored single-clip annotation file
  int shorter_side = 288;            // get_size_for_resize shorter_size_trg
  int longer_side_max = 512;         // get_size_for_resize longer_size_max
  int blackbar_threshold = 32;
  double max_perc_to_trim = 0.2;
  int gzip_level = -1;               // -1: no compression (default); 0..9: gzip
  bool apply_trim_offset = false;    // fixes.apply_trim_offset (default false = upstream)
  int64_t max_clamped_frames = 10;   // more frame times past the video's end fail the clip; -1: no limit
  int64_t max_buffer_bytes = int64_t{2} << 30;  // decoded-frame buffer while the trim box is open
  std::string tmp_tag = "prep";      // temp file is <out_path>.tmp.<tmp_tag>
  bool async_write = true;           // resize + write on a second thread while decoding continues
  double seek_margin_sec = -1;       // < 0: decode from the video's start; >= 0: verified seek (DecodeOptions)
};

struct PrepareStats {
  int64_t frames_written = 0;    // T
  int64_t frames_decoded = 0;    // video frames grabbed (both passes)
  int64_t frames_clamped = 0;    // frame times past the video's last frame
  int64_t bytes_written = 0;     // record file size
  int decode_passes = 0;         // 1, or 2 when the buffer limit was exceeded
  double seconds = 0;            // wall time of PrepareClip
  std::vector<std::string> warnings;  // documented handling applied (clamping, degenerate boxes, ...)
};

// <videos_dir>/<video_uid>.mp4
std::string VideoPathFor(const std::string& videos_dir, const std::string& video_uid);

// Checks the clip's annotations for what preparing needs (clip_uid, video span, clip_fps present and
// > 0 (no default: upstream's prepare.py reads item['clip_fps']), visual crops with original size and
// frame_number >= 0 for valid query sets). InvalidArgument naming the clip.
Status ValidateClipForPrepare(const Video& video, const Clip& clip);

// Prepares one clip and publishes `out_path` (normally <records_dir>/<clip_uid>.h5) atomically.
// Errors name the clip and the file: NotFound (missing video), Corruption (unreadable video, too many
// frames past its end), InvalidArgument (bad annotation), IOError (writing). On error nothing is
// published and the temp file is removed. `stats` may be null.
Status PrepareClip(const ClipPrepareOptions& options, const Video& video, const Clip& clip,
                   const std::string& videos_dir, const std::string& out_path, PrepareStats* stats);

// Canonical text of the options that shape a record's pixels and box mapping (sizes, black-bar
// trimming, apply_trim_offset); stored in each record as "prepare_settings".
std::string PrepareSettingsText(const ClipPrepareOptions& options);

// True when `path` holds a complete, readable record of `clip_uid` made with `options`' settings
// (resume check; compression and limits do not matter).
bool IsValidRecord(const std::string& path, const std::string& clip_uid, const ClipPrepareOptions& options);

// <records_dir>/<clip_uid>.h5
std::string RecordPathFor(const std::string& records_dir, const std::string& clip_uid);

// Outcome of one clip in a split.
struct ClipOutcome {
  std::string video_uid, clip_uid;  // clip_uid "" when null
  std::string state;                // "prepared", "skipped" (valid record exists), "failed"
  std::string message;              // the error for "failed"
  PrepareStats stats;
};

struct SplitReport {
  std::vector<ClipOutcome> clips;  // annotation-file order
  int prepared = 0, skipped = 0, failed = 0;
  int64_t frames_written = 0, frames_clamped = 0;
  double seconds = 0;
  // {"prepared":..,"skipped":..,"failed":..,"clips":[{video_uid, clip_uid, state, message, frames, ...}]}
  std::string ToJson() const;
};

// In-process fallback for a whole split (no MPI): prepares every clip of `annotations` in file order,
// skipping clips whose record already exists and is valid, recording failures without stopping.
// `progress` (may be empty) is called after each clip with (done, total, outcome).
SplitReport PrepareSplit(const ClipPrepareOptions& options, const AnnotationFile& annotations,
                         const std::string& videos_dir, const std::string& records_dir,
                         const std::function<void(size_t, size_t, const ClipOutcome&)>& progress);

}  // namespace vq2d
