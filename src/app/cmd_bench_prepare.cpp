// vq2d bench prepare: frames decoded + written per second by PrepareClip on a 1080p synthetic video.
#include <chrono>
#include <filesystem>
#include <cmath>
#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#ifndef VQ2D_NO_VIDEO
#include <opencv2/videoio.hpp>
#endif

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/human.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/prepare.h"
#include "vq2d/io/prepare_math.h"
#include "vq2d/io/video_decode.h"

namespace vq2d::app {

using io::VideoNotBuilt;

using io::Clip;
using io::ClipFrameTimes;
using io::ClipPrepareOptions;
using io::DecodeFramesAtTimes;
using io::PrepareClip;
using io::PrepareStats;
using io::Video;
using io::VideoPathFor;
namespace {

// Writes `seconds` of 1920x1080 30 fps video with moving texture; tries H.264 (as Ego4D), then mp4v.
Result<std::string> WriteBenchVideo(const std::string& path, int seconds, int width, int height) {
  cv::Mat tex(height + 200, width + 200, CV_8UC3);
  cv::RNG rng(12345);
  rng.fill(tex, cv::RNG::UNIFORM, cv::Scalar(40, 40, 40), cv::Scalar(220, 220, 220));
  cv::GaussianBlur(tex, tex, cv::Size(0, 0), 3.0);
  for (int i = 0; i < 400; ++i) {
    cv::rectangle(tex, cv::Rect(rng.uniform(0, tex.cols), rng.uniform(0, tex.rows), rng.uniform(10, 200), rng.uniform(10, 200)),
                  cv::Scalar(rng.uniform(40, 220), rng.uniform(40, 220), rng.uniform(40, 220)), cv::FILLED);
  }
#ifdef VQ2D_NO_VIDEO
  return VideoNotBuilt(StrCat("writing the benchmark video '", path, "'"));
#else
  for (const char* codec : {"avc1", "mp4v"}) {
    cv::VideoWriter w;
    try {
      w.open(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc(codec[0], codec[1], codec[2], codec[3]), 30, cv::Size(width, height));
    } catch (const cv::Exception&) {
      continue;
    }
    if (!w.isOpened()) continue;
    cv::Mat frame;
    for (int f = 0; f < seconds * 30; ++f) {
      const int dx = static_cast<int>(100 + 90 * std::sin(f / 40.0)), dy = static_cast<int>(100 + 90 * std::cos(f / 55.0));
      tex(cv::Rect(dx, dy, width, height)).copyTo(frame);
      cv::circle(frame, {(f * 13) % width, height / 2}, 80, cv::Scalar(0, 0, 255), cv::FILLED);
      w.write(frame);
    }
    w.release();
    if (FileSystem::Default()->Exists(path)) return std::string(codec);
  }
  return Status::Internal(StrCat("no video writer (avc1, mp4v) could write '", path, "'"));
#endif
}

}  // namespace

int RunBenchPrepare(const Args& args) {
  std::string dir;
  long long seconds = 20, width = 1920, height = 1080;
  bool gzip = false;
  ArgParser p("vq2d bench prepare",
              "Measures PrepareClip (decode front to back, select by timestamp, PIL-bicubic resize, HDF5 write) on a\n"
              "synthetic 1080p 30 fps video with one 5 fps clip spanning it; prints frames decoded and written per\n"
              "second (one process; FFmpeg may use its own decoder threads).");
  p.AddString("--dir", &dir, "work directory (default: a temp directory, removed afterwards)");
  p.AddInt("--seconds", &seconds, "video length in seconds");
  p.AddInt("--width", &width, "video width");
  p.AddInt("--height", &height, "video height");
  p.AddBool("--gzip", &gzip, "write the record with gzip-4 instead of no compression");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  const bool own_dir = dir.empty();
  if (own_dir) {
    char tmpl[] = "/tmp/vq2d-bench-prepare-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      std::fprintf(stderr, "vq2d bench prepare: mkdtemp failed\n");
      return 1;
    }
    dir = tmpl;
  }
  FileSystem* fs = FileSystem::Default();
  if (Status s = fs->CreateDirs(dir); !s.ok()) {
    std::fprintf(stderr, "vq2d bench prepare: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string uid = "bench-1080p";
  const std::string video_path = VideoPathFor(dir, uid);
  const auto g0 = std::chrono::steady_clock::now();
  auto codec = WriteBenchVideo(video_path, static_cast<int>(seconds), static_cast<int>(width), static_cast<int>(height));
  if (!codec.ok()) {
    std::fprintf(stderr, "vq2d bench prepare: %s\n", codec.status().ToString().c_str());
    return 1;
  }
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
  Video v;
  v.video_uid = uid;
  Clip c;
  c.clip_uid = "bench-clip";
  c.has_video_span = true;
  c.video_start_sec = 0;
  c.video_end_sec = static_cast<double>(seconds);
  c.clip_fps = 5.0;
  c.has_clip_fps = true;
  ClipPrepareOptions o;
  o.gzip_level = gzip ? 4 : -1;
  // Decode-only pass (select by timestamp, BGR->RGB of kept frames) to separate decoding from the rest.
  auto times = ClipFrameTimes(0, static_cast<double>(seconds), 5.0);
  const auto d0 = std::chrono::steady_clock::now();
  auto dec = DecodeFramesAtTimes(video_path, *times, [](int64_t, const uint8_t*, int, int, int64_t) { return Status::OK(); });
  const double dec_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - d0).count();
  if (!dec.ok()) {
    std::fprintf(stderr, "vq2d bench prepare: %s\n", dec.status().ToString().c_str());
    return 1;
  }
  PrepareStats st;
  Status s = PrepareClip(o, v, c, dir, JoinPath(dir, "bench-clip.h5"), &st);
  if (!s.ok()) {
    std::fprintf(stderr, "vq2d bench prepare: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("vq2d bench prepare: %lldx%lld %s video, %lld s at 30 fps (generated in %.1f s); clip at 5 fps -> %lld frames\n",
              width, height, codec->c_str(), seconds, gen_s, static_cast<long long>(st.frames_written));
  std::printf("  decode only : %lld frames decoded in %.2f s = %.1f decoded frames/s (%.1f kept frames/s)\n",
              static_cast<long long>(dec->frames_decoded), dec_s, dec->frames_decoded / dec_s,
              times->size() / dec_s);
  std::printf("  prepare     : %lld decoded + %lld written (trim, PIL resize to 512x288, HDF5 %s) in %.2f s\n",
              static_cast<long long>(st.frames_decoded), static_cast<long long>(st.frames_written),
              gzip ? "gzip-4" : "uncompressed", st.seconds);
  std::printf("              = %.1f decoded frames/s, %.1f written frames/s, record %s\n",
              st.frames_decoded / st.seconds, st.frames_written / st.seconds,
              HumanBytes(static_cast<uint64_t>(st.bytes_written)).c_str());
  if (own_dir) {  // scratch files of this benchmark: a failed removal only leaves them in /tmp, say so
    for (const std::string& p : {JoinPath(dir, "bench-clip.h5"), video_path}) {
      if (Status s = fs->Remove(p); !s.ok()) std::fprintf(stderr, "vq2d bench prepare: %s\n", s.ToString().c_str());
    }
    std::error_code ec;
    if (!std::filesystem::remove(dir, ec)) std::fprintf(stderr, "vq2d bench prepare: cannot remove %s\n", dir.c_str());
  }
  return 0;
}

}  // namespace vq2d::app
