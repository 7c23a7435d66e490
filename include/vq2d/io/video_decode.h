// Front-to-back video decoding that picks frames by timestamp the way upstream REN's per-frame
// "ffmpeg -ss <t:.3f> -i video ... -frames:v 1" call does: for each requested time, the first frame
// (in presentation order) whose timestamp is >= the millisecond-rounded seek time (ffmpeg's
// accurate seek drops the frames before it). Each video is decoded once (OpenCV VideoCapture, FFmpeg
// backend): grab() every frame, retrieve() + BGR->RGB only the frames that are kept. No per-frame
// process, no inexact seek.
//
// Timestamps are CAP_PROP_POS_MSEC (relative to the video stream's start) plus the offset of the video
// stream's start from the container's start (read with libavformat), i.e. relative to the container
// start as upstream's -ss counts (the container may start earlier, e.g. with audio). A frame counts as ">= t" when its time is >= t - 1 µs, which
// absorbs the float rounding of the millisecond timestamps (exact for 24/25/30/30000/1001 fps).
//
// Times past the last frame are clamped to the last frame and counted (upstream would drop the clip).
//
// Thread-safety: functions are reentrant; distinct calls may run in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

// Pure selection rule: frame_times_sec are the decoded frames' timestamps in decode order (assumed
// non-decreasing); returns, per seek time (milliseconds, non-decreasing), the index of the chosen frame
// or -1 when no frame is late enough (past the end).
std::vector<int64_t> SelectFramesForSeekTimes(const std::vector<double>& frame_times_sec,
                                              const std::vector<int64_t>& seek_ms);

struct DecodedVideoInfo {
  int width = 0, height = 0;  // decoded frame size
  double fps = 0;             // container frame rate (CAP_PROP_FPS)
  double stream_start_offset_sec = 0;  // video stream start - container start
  bool seeked = false;         // decoding started at a verified seek (DecodeOptions::seek_margin_sec)
  int64_t frames_decoded = 0;  // frames grabbed (up to the last one needed, or all when clamping)
  // source_index is the decode-order index; after a seek it is OpenCV's frame number estimate.
  int64_t frames_clamped = 0;  // requested times past the last frame (given the last frame)
  std::vector<int64_t> source_index;  // per requested time: decode-order index of the frame given
  std::vector<double> source_time_sec;  // per requested time: that frame's timestamp
};

// Called once per requested time, in order (time_index 0, 1, ...), with an RGB frame
// [height, width, 3] uint8, row stride `stride` bytes (the decoded video size). The buffer is valid only during the call.
// Several consecutive time indices may receive the same frame. Returning a non-OK status stops the
// decoding and is returned by DecodeFramesAtTimes.
using FrameCallback =
    std::function<Status(int64_t time_index, const uint8_t* rgb, int width, int height, int64_t stride)>;

struct DecodeOptions {
  // < 0 (default): decode from the first frame. >= 0: seek to this many seconds before the first
  // needed time, and keep the seek only if the first frame it yields is earlier than the first needed
  // time (so no needed frame can have been skipped; otherwise decoding restarts from the first frame).
  // Exact either way; saves decoding the part of a long video before a late clip.
  double seek_margin_sec = -1;
};

// Decodes `video_path` front to back and delivers the frame chosen for every entry of `times_sec`
// (non-decreasing seconds, converted with SeekMillis). NotFound: missing file; Corruption: the file
// cannot be opened or holds no decodable frame.
Result<DecodedVideoInfo> DecodeFramesAtTimes(const std::string& video_path, const std::vector<double>& times_sec,
                                             const FrameCallback& on_frame, const DecodeOptions& options = {});

// Probes a video without decoding: size, fps and the container's frame count (approximate).
struct VideoProbe {
  int width = 0, height = 0;
  double fps = 0;
  int64_t frame_count = 0;
};
Result<VideoProbe> ProbeVideo(const std::string& video_path);

// Whether this binary has video I/O (CMake VQ2D_WITH_VIDEO, default ON). Without it, DecodeFramesAtTimes,
// ProbeVideo and every video writer (synth, render, bench prepare) return VideoNotBuilt(what).
bool VideoIoBuilt();
// FailedPrecondition: "<what>: this vq2d was built without video I/O (-DVQ2D_WITH_VIDEO=OFF) ...".
Status VideoNotBuilt(const std::string& what);

}  // namespace vq2d
