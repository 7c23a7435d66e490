// Front-to-back video decoding that picks frames by timestamp the way upstream REN's per-frame
// "ffmpeg -ss <t:.3f> -threads 1 -i video ... -frames:v 1" call does (FFmpeg 5.1 input seeking, accurate
// seek): the seek time is the '%.3f' timecode (integer milliseconds) plus the container's start time,
// converted to the video stream's time base with av_rescale_q (round half away from zero); frames whose
// presentation timestamp is below that are discarded, so the frame returned is the first one in
// presentation order (B-frames reordered) whose pts is >= the converted seek time, compared as
// integers. Past the last frame ffmpeg returns nothing.
//
// Each video is decoded once (OpenCV VideoCapture, FFmpeg backend): grab() every frame, retrieve() +
// BGR->RGB only the frames that are kept. No per-frame process, no inexact seek. Timestamps come from
// the demuxer (libavformat: the video stream's packet pts, sorted = presentation order, packets marked
// for discard excluded), because OpenCV reports no timestamp (0) for the frames a B-frame decoder
// returns only when drained at the end of the stream. Frame k of the decoder's output is the k-th
// presentation timestamp; every frame for which OpenCV does report a time is checked against it
// (Corruption on disagreement, e.g. a frame the decoder dropped).
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

namespace vq2d::io {

// Approximate selection rule on float times (for synthetic CFR videos whose frame f is at f / fps):
// frame_times_sec non-decreasing; returns, per seek time (milliseconds, non-decreasing), the index of
// the first frame with time >= seek_ms / 1000 - 1 us, or -1 when no frame is late enough (past the end).
std::vector<int64_t> SelectFramesForSeekTimes(const std::vector<double>& frame_times_sec,
                                              const std::vector<int64_t>& seek_ms);

// ffmpeg's accurate-seek threshold for "-ss <seek_ms / 1000>" in a stream of time base
// tb_num / tb_den: av_rescale_q(seek_ms * 1000 + container_start_us, AV_TIME_BASE_Q, tb), i.e.
// rounded to the nearest tick, halves away from zero. Frames with pts >= the threshold are kept.
// container_start_us: the container's start time (AVFormatContext::start_time; 0 when unknown).
// Only in builds with video I/O (it is libavutil's rounding).
#ifndef VQ2D_NO_VIDEO
int64_t SeekThresholdPts(int64_t seek_ms, int64_t container_start_us, int tb_num, int tb_den);
#endif

// Exact selection rule: frame_pts in presentation order (non-decreasing), threshold_pts
// non-decreasing (SeekThresholdPts); per threshold the index of the first frame with
// pts >= threshold, or -1 past the end.
std::vector<int64_t> SelectFramesForSeekPts(const std::vector<int64_t>& frame_pts,
                                            const std::vector<int64_t>& threshold_pts);

// The video stream's timing as the demuxer reports it (the first video stream, the one OpenCV
// decodes), from reading its packets (no decoding). until_seek_ms >= 0: stop reading once the frame
// "-ss until_seek_ms" selects and every frame before it are known (a packet whose dts is 2 s past that
// frame's pts: later packets are presented later), so a clip early in a long video does not read the
// whole file; `complete` says whether the stream was read to its end. NotFound: missing file;
// Corruption: unreadable file, no video stream, or a packet without any timestamp;
// FailedPrecondition (VideoNotBuilt) without video I/O.
struct VideoStreamTiming {
  int tb_num = 0, tb_den = 1;          // stream time base
  int64_t stream_start_pts = 0;        // AVStream::start_time (0 when unknown), stream ticks
  int64_t container_start_us = 0;      // AVFormatContext::start_time (0 when unknown), microseconds
  std::vector<int64_t> frame_pts;      // presentation timestamps, ascending (one per frame)
  bool reordered = false;              // decode order differs from presentation order (B-frames)
  bool complete = true;                // every packet was read (else frame_pts is a prefix)
};
Result<VideoStreamTiming> ReadVideoStreamTiming(const std::string& video_path, int64_t until_seek_ms = -1);

struct DecodedVideoInfo {
  int width = 0, height = 0;  // decoded frame size
  double fps = 0;             // container frame rate (CAP_PROP_FPS)
  double stream_start_offset_sec = 0;  // video stream start - container start
  bool seeked = false;         // decoding started at a verified seek (DecodeOptions::seek_margin_sec)
  int64_t frames_decoded = 0;  // frames grabbed (up to the last one needed, or all when clamping)
  // source_index is the index in presentation order (also after a seek: found by timestamp).
  int64_t frames_clamped = 0;  // requested times past the last frame (given the last frame)
  std::vector<int64_t> source_index;  // per requested time: presentation-order index of the frame given
  std::vector<double> source_time_sec;  // per requested time: its pts in seconds from the container start
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
  // The first frame after the seek is identified by its timestamp. Exact either way; saves decoding
  // the part of a long video before a late clip.
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

}  // namespace vq2d::io
