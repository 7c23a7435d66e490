#include "vq2d/io/video_decode.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#ifndef VQ2D_NO_VIDEO
#include <opencv2/videoio.hpp>

extern "C" {
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
}
#endif

#include "vq2d/base/filesystem.h"
#include "vq2d/io/prepare_math.h"

namespace vq2d::io {

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
// Largest accepted difference between OpenCV's CAP_PROP_POS_MSEC and the demuxer's pts (ms): both
// are the same integer pts converted to milliseconds, so only float rounding separates them.
constexpr double kPosTolMs = 1e-3;

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

std::string AvError(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(err, buf, sizeof(buf));
  return buf;
}

struct FormatCloser {
  void operator()(AVFormatContext* ic) const { avformat_close_input(&ic); }
};
struct PacketFree {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};

// What OpenCV's CAP_PROP_POS_MSEC reports for a frame of pts `pts`: (pts - stream start) * tb in ms.
double OpenCvPosMsec(const VideoStreamTiming& t, int64_t pts) {
  return static_cast<double>(pts - t.stream_start_pts) * (static_cast<double>(t.tb_num) / t.tb_den) * 1000.0;
}

// pts in seconds from the container start (what "ffmpeg -ss" counts from).
double ContainerSeconds(const VideoStreamTiming& t, int64_t pts) {
  return static_cast<double>(pts) * t.tb_num / t.tb_den - static_cast<double>(t.container_start_us) / AV_TIME_BASE;
}

// The presentation index of the frame OpenCV reports at `pos_ms`, or -1 when none matches.
int64_t FrameAtPosMsec(const VideoStreamTiming& t, double pos_ms) {
  auto it = std::lower_bound(t.frame_pts.begin(), t.frame_pts.end(), pos_ms - kPosTolMs,
                             [&](int64_t pts, double v) { return OpenCvPosMsec(t, pts) < v; });
  if (it == t.frame_pts.end() || std::abs(OpenCvPosMsec(t, *it) - pos_ms) > kPosTolMs) return -1;
  return it - t.frame_pts.begin();
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

std::vector<int64_t> SelectFramesForSeekPts(const std::vector<int64_t>& frame_pts,
                                            const std::vector<int64_t>& threshold_pts) {
  std::vector<int64_t> out(threshold_pts.size(), -1);
  size_t j = 0;
  for (size_t k = 0; k < frame_pts.size() && j < threshold_pts.size(); ++k) {
    while (j < threshold_pts.size() && frame_pts[k] >= threshold_pts[j]) out[j++] = static_cast<int64_t>(k);
  }
  return out;
}

#ifndef VQ2D_NO_VIDEO
int64_t SeekThresholdPts(int64_t seek_ms, int64_t container_start_us, int tb_num, int tb_den) {
  // ffmpeg 5.1 open_input_file: timestamp = -ss + ic->start_time; ts_offset = -timestamp is added to
  // every packet's pts after av_rescale_q into the stream time base; the trim filter then drops
  // frames with (shifted) pts < 0. av_rescale_q rounds to nearest, halves away from zero, and is
  // symmetric in the sign, so "pts - rescale(timestamp) >= 0" is "pts >= rescale(timestamp)".
  const AVRational tb{tb_num, tb_den};
  return av_rescale_q(seek_ms * 1000 + container_start_us, AV_TIME_BASE_Q, tb);
}

Result<VideoStreamTiming> ReadVideoStreamTiming(const std::string& path, int64_t until_seek_ms) {
  if (!FileSystem::Default()->Exists(path)) return Status::NotFound(StrCat("video '", path, "' does not exist"));
  AVFormatContext* raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err < 0) return Status::Corruption(StrCat("video '", path, "' cannot be opened by libavformat: ", AvError(err)));
  std::unique_ptr<AVFormatContext, FormatCloser> ic(raw);
  err = avformat_find_stream_info(ic.get(), nullptr);
  if (err < 0) return Status::Corruption(StrCat("video '", path, "': no stream information: ", AvError(err)));
  int vs = -1;
  for (unsigned i = 0; i < ic->nb_streams; ++i) {
    if (vs < 0 && ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
      vs = static_cast<int>(i);  // OpenCV decodes the first video stream
    } else {
      ic->streams[i]->discard = AVDISCARD_ALL;
    }
  }
  if (vs < 0) return Status::Corruption(StrCat("video '", path, "' has no video stream"));
  const AVStream* st = ic->streams[vs];
  VideoStreamTiming t;
  t.tb_num = st->time_base.num;
  t.tb_den = st->time_base.den;
  if (t.tb_num <= 0 || t.tb_den <= 0) {
    return Status::Corruption(StrCat("video '", path, "': invalid stream time base ", t.tb_num, "/", t.tb_den));
  }
  t.stream_start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
  t.container_start_us = ic->start_time != AV_NOPTS_VALUE ? ic->start_time : 0;
  std::unique_ptr<AVPacket, PacketFree> pkt(av_packet_alloc());
  if (!pkt) return Status::Internal("av_packet_alloc failed");
  const bool until = until_seek_ms >= 0;
  const int64_t until_thr = until ? SeekThresholdPts(until_seek_ms, t.container_start_us, t.tb_num, t.tb_den) : 0;
  const int64_t margin = av_rescale_q(2 * AV_TIME_BASE, AV_TIME_BASE_Q, st->time_base);
  int64_t selected = INT64_MAX;  // smallest pts >= until_thr read so far
  // Read errors other than EOF end the list as they end OpenCV's decoding; the per-frame check in
  // DecodeFramesAtTimes catches any disagreement.
  while (av_read_frame(ic.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == vs && until && selected != INT64_MAX && pkt->dts != AV_NOPTS_VALUE &&
        pkt->dts - margin > selected) {
      t.complete = false;  // this and every later packet are presented after the selected frame
      av_packet_unref(pkt.get());
      break;
    }
    if (pkt->stream_index == vs && !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
      const int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      if (ts == AV_NOPTS_VALUE) {
        av_packet_unref(pkt.get());
        return Status::Corruption(StrCat("video '", path, "': video packet ", t.frame_pts.size(),
                                         " has no timestamp (pts and dts unset)"));
      }
      t.frame_pts.push_back(ts);
      if (until && ts >= until_thr && ts < selected) selected = ts;
    }
    av_packet_unref(pkt.get());
  }
  t.reordered = !std::is_sorted(t.frame_pts.begin(), t.frame_pts.end());
  std::sort(t.frame_pts.begin(), t.frame_pts.end());  // decode order -> presentation order
  return t;
}

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
  const size_t n = times_sec.size();
  VQ2D_ASSIGN_OR_RETURN(const VideoStreamTiming timing,
                        ReadVideoStreamTiming(video_path, n > 0 ? SeekMillis(times_sec.back()) : -1));
  const int64_t num_frames = static_cast<int64_t>(timing.frame_pts.size());
  DecodedVideoInfo info;
  info.source_index.assign(n, -1);
  info.source_time_sec.assign(n, 0.0);
  std::vector<int64_t> thr(n);  // per time: the first pts ffmpeg keeps
  for (size_t i = 0; i < n; ++i) {
    thr[i] = SeekThresholdPts(SeekMillis(times_sec[i]), timing.container_start_us, timing.tb_num, timing.tb_den);
  }
  info.stream_start_offset_sec = ContainerSeconds(timing, timing.stream_start_pts);
  try {
    info.fps = cap.get(cv::CAP_PROP_FPS);
    cv::Mat bgr, rgb;
    int64_t k = -1, last_retrieved = -1, grabbed = 0;
    size_t j = 0;
    // Optional seek to shortly before the first needed time; kept only if the first frame it yields is
    // identified by its timestamp and is earlier than every needed frame (so none can have been
    // skipped), else decoding restarts at 0.
    const double seek_target =
        n > 0 ? SeekMillis(times_sec[0]) / 1000.0 - info.stream_start_offset_sec - options.seek_margin_sec : 0.0;
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
      const double pos_ms = got ? cap.get(cv::CAP_PROP_POS_MSEC) : 0.0;
      if (first && seek) {
        const int64_t k0 = got && pos_ms > 0 ? FrameAtPosMsec(timing, pos_ms) : -1;
        if (k0 < 0 || !(timing.frame_pts[k0] < thr[0])) {
          VQ2D_RETURN_IF_ERROR(restart_without_seek());
          continue;
        }
        k = k0;
        first = false;
      } else {
        if (!got) break;
        k = first ? 0 : k + 1;
        first = false;
        if (k >= num_frames) {
          return Status::Corruption(StrCat("video '", video_path, "': the decoder returned more frames (", k + 1,
                                           ") than the video stream has packets (", num_frames,
                                           timing.complete ? "" : " read up to the last needed time", ")"));
        }
        // OpenCV reports 0 for frames returned while draining the decoder and a dts fallback for the
        // frame at pts 0; every other frame must carry the demuxer's k-th presentation timestamp.
        if (pos_ms > 0 && std::abs(pos_ms - OpenCvPosMsec(timing, timing.frame_pts[k])) > kPosTolMs) {
          if (seek && j == 0) {
            VQ2D_RETURN_IF_ERROR(restart_without_seek());
            continue;
          }
          return Status::Corruption(StrCat("video '", video_path, "': decoded frame ", k, " is at ", pos_ms,
                                           " ms but the stream's ", k, "-th presentation timestamp is ",
                                           OpenCvPosMsec(timing, timing.frame_pts[k]),
                                           " ms (a frame was dropped or reordered by the decoder)"));
        }
      }
      ++grabbed;
      const int64_t pts = timing.frame_pts[k];
      size_t j_end = j;
      while (j_end < n && pts >= thr[j_end]) ++j_end;
      // Near the end keep the pixels: a later time may have to be clamped to this frame.
      const bool maybe_last = timing.complete && k >= num_frames - 3;
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
        info.source_time_sec[j] = ContainerSeconds(timing, pts);
        VQ2D_RETURN_IF_ERROR(on_frame(static_cast<int64_t>(j), rgb.data, rgb.cols, rgb.rows, static_cast<int64_t>(rgb.step)));
      }
    }
    info.frames_decoded = grabbed;
    info.seeked = seek;
    if (k < 0) return Status::Corruption(StrCat("video '", video_path, "' holds no decodable frame"));
    if (j < n) {
      // Times past the end: clamp to the last frame.
      if (last_retrieved != k) {
        // The decoder stopped early (fewer frames than packets): decode again from the start up to
        // that frame and keep it.
        cv::VideoCapture again;
        VQ2D_RETURN_IF_ERROR(OpenCapture(video_path, &again));
        int64_t i = -1;
        while (i < k && again.grab()) ++i;
        if (i != k) return Status::Corruption(StrCat("video '", video_path, "': second pass did not reach frame ", k));
        if (!again.retrieve(bgr) || bgr.empty() || bgr.type() != CV_8UC3) {
          return Status::Corruption(StrCat("video '", video_path, "': last frame ", k, " cannot be decoded"));
        }
        cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
        if (info.width == 0) {
          info.width = rgb.cols;
          info.height = rgb.rows;
        }
      }
      const double last_time = ContainerSeconds(timing, timing.frame_pts[k]);
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

Result<VideoStreamTiming> ReadVideoStreamTiming(const std::string& video_path, int64_t) {
  return VideoNotBuilt(StrCat("reading the timestamps of video '", video_path, "'"));
}

Result<VideoProbe> ProbeVideo(const std::string& video_path) { return VideoNotBuilt(StrCat("probing video '", video_path, "'")); }

Result<DecodedVideoInfo> DecodeFramesAtTimes(const std::string& video_path, const std::vector<double>&,
                                             const FrameCallback&, const DecodeOptions&) {
  return VideoNotBuilt(StrCat("decoding video '", video_path, "'"));
}

#endif  // VQ2D_NO_VIDEO

}  // namespace vq2d::io
