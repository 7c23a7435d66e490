#include "vq2d/io/video_decode.h"

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#ifndef VQ2D_NO_VIDEO
#include <opencv2/videoio.hpp>

extern "C" {
#include <libavformat/avformat.h>
}
#endif

#include "vq2d/base/filesystem.h"
#include "vq2d/io/prepare_math.h"

namespace vq2d {

bool VideoIoBuilt() {
#ifdef VQ2D_NO_VIDEO
  return false;
#else
  return true;
#endif
}

Status VideoNotBuilt(const std::string& what) {
  return Status::FailedPrecondition(StrCat(what, ": this vq2d was built without video I/O (-DVQ2D_WITH_VIDEO=OFF, no "
                                           "OpenCV videoio / FFmpeg); run it with a binary built with "
                                           "-DVQ2D_WITH_VIDEO=ON (the default), e.g. on the CPU machine that prepares "
                                           "the records"));
}

namespace {

constexpr double kTimeEpsSec = 1e-6;

#ifndef VQ2D_NO_VIDEO
Status OpenCapture(const std::string& path, cv::VideoCapture* cap) {
  if (!FileSystem::Default()->Exists(path)) return Status::NotFound(StrCat("video '", path, "' does not exist"));
  try {
    if (!cap->open(path, cv::CAP_FFMPEG) || !cap->isOpened()) {
      return Status::Corruption(StrCat("video '", path, "' cannot be opened (not a readable video file)"));
    }
  } catch (const cv::Exception& e) {
    return Status::Corruption(StrCat("video '", path, "' cannot be opened: ", e.what()));
  }
  return Status::OK();
}

// Seconds from the container's start (what "ffmpeg -ss" counts from) to the start of the first video
// stream (what OpenCV's CAP_PROP_POS_MSEC counts from). 0 when unknown.
double VideoStreamStartOffset(const std::string& path) {
  AVFormatContext* ic = nullptr;
  if (avformat_open_input(&ic, path.c_str(), nullptr, nullptr) < 0) return 0.0;
  double offset = 0.0;
  if (avformat_find_stream_info(ic, nullptr) >= 0 && ic->start_time != AV_NOPTS_VALUE) {
    for (unsigned i = 0; i < ic->nb_streams; ++i) {
      const AVStream* st = ic->streams[i];
      if (st->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) continue;  // OpenCV takes the first video stream
      if (st->start_time != AV_NOPTS_VALUE) {
        offset = st->start_time * av_q2d(st->time_base) - ic->start_time / static_cast<double>(AV_TIME_BASE);
      }
      break;
    }
  }
  avformat_close_input(&ic);
  return offset;
}

// A grabbed frame's time: stream-relative (a negative value is OpenCV's dts fallback for the frame at
// pts 0), then relative to the container start as ffmpeg's -ss counts.
double FrameTime(cv::VideoCapture& cap, double stream_start_offset_sec) {
  return std::max(0.0, cap.get(cv::CAP_PROP_POS_MSEC) / 1000.0) + stream_start_offset_sec;
}

#endif  // VQ2D_NO_VIDEO
}  // namespace

std::vector<int64_t> SelectFramesForSeekTimes(const std::vector<double>& frame_times_sec,
                                              const std::vector<int64_t>& seek_ms) {
  std::vector<int64_t> out(seek_ms.size(), -1);
  size_t j = 0;
  for (size_t k = 0; k < frame_times_sec.size() && j < seek_ms.size(); ++k) {
    while (j < seek_ms.size() && frame_times_sec[k] >= seek_ms[j] / 1000.0 - kTimeEpsSec) out[j++] = k;
  }
  return out;
}

#ifndef VQ2D_NO_VIDEO
Result<VideoProbe> ProbeVideo(const std::string& video_path) {
  cv::VideoCapture cap;
  VQ2D_RETURN_IF_ERROR(OpenCapture(video_path, &cap));
  VideoProbe p;
  try {
    p.width = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_WIDTH));
    p.height = static_cast<int>(cap.get(cv::CAP_PROP_FRAME_HEIGHT));
    p.fps = cap.get(cv::CAP_PROP_FPS);
    p.frame_count = static_cast<int64_t>(cap.get(cv::CAP_PROP_FRAME_COUNT));
  } catch (const cv::Exception& e) {
    return Status::Corruption(StrCat("video '", video_path, "': ", e.what()));
  }
  return p;
}

Result<DecodedVideoInfo> DecodeFramesAtTimes(const std::string& video_path, const std::vector<double>& times_sec,
                                             const FrameCallback& on_frame, const DecodeOptions& options) {
  cv::VideoCapture cap;
  VQ2D_RETURN_IF_ERROR(OpenCapture(video_path, &cap));
  DecodedVideoInfo info;
  const size_t n = times_sec.size();
  info.source_index.assign(n, -1);
  info.source_time_sec.assign(n, 0.0);
  std::vector<double> thr(n);
  for (size_t i = 0; i < n; ++i) thr[i] = SeekMillis(times_sec[i]) / 1000.0 - kTimeEpsSec;

  info.stream_start_offset_sec = VideoStreamStartOffset(video_path);
  try {
    info.fps = cap.get(cv::CAP_PROP_FPS);
    const int64_t count_estimate = static_cast<int64_t>(cap.get(cv::CAP_PROP_FRAME_COUNT));
    cv::Mat bgr, rgb;
    int64_t k = -1, last_retrieved = -1, grabbed = 0;
    double last_time = 0;
    size_t j = 0;
    // Optional seek to shortly before the first needed time; kept only if the first frame it yields is
    // earlier than every needed frame (so none can have been skipped), else decoding restarts at 0.
    const double seek_target = n > 0 ? thr[0] - info.stream_start_offset_sec - options.seek_margin_sec : 0.0;
    bool seek = options.seek_margin_sec >= 0 && seek_target > 1.0;
    if (seek) cap.set(cv::CAP_PROP_POS_MSEC, seek_target * 1000.0);
    bool first = true;
    auto restart_without_seek = [&]() -> Status {
      cap.release();
      VQ2D_RETURN_IF_ERROR(OpenCapture(video_path, &cap));
      seek = false;
      first = true;
      k = -1;
      return Status::OK();
    };
    while (j < n) {
      const bool got = cap.grab();
      const double t = got ? FrameTime(cap, info.stream_start_offset_sec) : 0.0;
      if (first && seek && (!got || !(t < thr[0]))) {
        VQ2D_RETURN_IF_ERROR(restart_without_seek());
        continue;
      }
      if (!got) break;
      ++grabbed;
      if (first) {
        k = seek ? std::max<int64_t>(0, static_cast<int64_t>(cap.get(cv::CAP_PROP_POS_FRAMES)) - 1) : 0;
        first = false;
      } else {
        ++k;
      }
      last_time = t;
      size_t j_end = j;
      while (j_end < n && t >= thr[j_end]) ++j_end;
      // Near the (estimated) end keep the pixels: a later time may have to be clamped to this frame.
      const bool maybe_last = count_estimate <= 0 || k >= count_estimate - 3;
      if (j_end > j || maybe_last) {
        if (!cap.retrieve(bgr) || bgr.empty() || bgr.type() != CV_8UC3) {
          return Status::Corruption(StrCat("video '", video_path, "': frame ", k, " cannot be decoded"));
        }
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        last_retrieved = k;
        if (info.width == 0) {
          info.width = rgb.cols;
          info.height = rgb.rows;
        } else if (rgb.cols != info.width || rgb.rows != info.height) {
          return Status::Corruption(StrCat("video '", video_path, "': frame ", k, " is ", rgb.cols, "x", rgb.rows,
                                           ", earlier frames are ", info.width, "x", info.height));
        }
      }
      for (; j < j_end; ++j) {
        info.source_index[j] = k;
        info.source_time_sec[j] = t;
        VQ2D_RETURN_IF_ERROR(on_frame(static_cast<int64_t>(j), rgb.data, rgb.cols, rgb.rows, static_cast<int64_t>(rgb.step)));
      }
    }
    info.frames_decoded = grabbed;
    info.seeked = seek;
    if (k < 0) return Status::Corruption(StrCat("video '", video_path, "' holds no decodable frame"));
    if (j < n) {
      // Times past the end: clamp to the last frame.
      if (last_retrieved != k) {
        // The frame-count estimate was off: decode again up to the last frame (found by its timestamp)
        // and keep it.
        cv::VideoCapture again;
        VQ2D_RETURN_IF_ERROR(OpenCapture(video_path, &again));
        if (seek) again.set(cv::CAP_PROP_POS_MSEC, seek_target * 1000.0);
        bool found = false;
        while (again.grab()) {
          if (std::abs(FrameTime(again, info.stream_start_offset_sec) - last_time) < 1e-9) {
            found = true;
            break;
          }
        }
        if (!found) return Status::Corruption(StrCat("video '", video_path, "': second pass did not reach the last frame"));
        if (!again.retrieve(bgr) || bgr.empty() || bgr.type() != CV_8UC3) {
          return Status::Corruption(StrCat("video '", video_path, "': last frame ", k, " cannot be decoded"));
        }
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        if (info.width == 0) {
          info.width = rgb.cols;
          info.height = rgb.rows;
        }
      }
      for (; j < n; ++j) {
        info.source_index[j] = k;
        info.source_time_sec[j] = last_time;
        ++info.frames_clamped;
        VQ2D_RETURN_IF_ERROR(on_frame(static_cast<int64_t>(j), rgb.data, rgb.cols, rgb.rows, static_cast<int64_t>(rgb.step)));
      }
    }
  } catch (const cv::Exception& e) {
    return Status::Corruption(StrCat("video '", video_path, "': decoding failed: ", e.what()));
  }
  return info;
}

#else  // VQ2D_NO_VIDEO

Result<VideoProbe> ProbeVideo(const std::string& video_path) { return VideoNotBuilt(StrCat("probing video '", video_path, "'")); }

Result<DecodedVideoInfo> DecodeFramesAtTimes(const std::string& video_path, const std::vector<double>&,
                                             const FrameCallback&, const DecodeOptions&) {
  return VideoNotBuilt(StrCat("decoding video '", video_path, "'"));
}

#endif  // VQ2D_NO_VIDEO

}  // namespace vq2d
