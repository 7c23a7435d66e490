// Frame selection parity with upstream's per-time "ffmpeg -ss" calls: every prepare/* fixture case in
// the frame_select format (expected.json with "videos"); frames carry their index in binary.
#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "io/fixture_io.h"
#include "support/test_support.h"
#include "vq2d/io/prepare_math.h"
#include "vq2d/io/video_decode.h"

namespace vq2d {
namespace {

// Reads the 12-bit index drawn on the top row: block b spans x = 8 + 25*b .. +20, y = 8..40.
int DecodeIndex(const uint8_t* rgb, int64_t stride) {
  int v = 0;
  for (int b = 0; b < 12; ++b) {
    int sum = 0, n = 0;
    for (int y = 16; y < 32; ++y)
      for (int x = 8 + 25 * b + 4; x < 8 + 25 * b + 16; ++x, ++n) sum += rgb[y * stride + x * 3 + 1];
    if (sum / n > 128) v |= 1 << b;
  }
  return v;
}

TEST(FrameSelect, MatchesUpstreamFfmpegSeekExactly) {
  const auto cases = testing::FixtureCases("prepare");
  ASSERT_FALSE(cases.empty()) << "fixture area prepare/ is missing under " << testing::FixturesRoot();
  int videos = 0;
  for (const auto& dir : cases) {
    if (!std::filesystem::exists(dir + "/expected.json")) continue;
    const auto ex = testing::ReadJsonFile(dir + "/expected.json");
    if (!ex.contains("videos")) continue;
    for (const auto& v : ex["videos"]) {
      SCOPED_TRACE(dir + "/" + v["file"].get<std::string>());
      auto times = ClipFrameTimes(v["video_start_sec"], v["video_end_sec"], v["clip_fps"]);
      ASSERT_TRUE(times.ok()) << times.status().ToString();
      ASSERT_EQ(times->size(), v["times"].size());
      for (size_t i = 0; i < times->size(); ++i) EXPECT_EQ((*times)[i], v["times"][i].get<double>());
      std::vector<int> got;
      auto info = DecodeFramesAtTimes(dir + "/" + v["file"].get<std::string>(), *times,
                                      [&](int64_t i, const uint8_t* rgb, int, int, int64_t stride) {
                                        EXPECT_EQ(i, static_cast<int64_t>(got.size()));
                                        got.push_back(DecodeIndex(rgb, stride));
                                        return Status::OK();
                                      });
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      const auto want = v["selected_frame_index"].get<std::vector<int>>();
      EXPECT_EQ(got, want);
      std::vector<int> by_index(info->source_index.begin(), info->source_index.end());
      EXPECT_EQ(by_index, want) << "decode-order index differs from the drawn index";
      EXPECT_EQ(info->frames_clamped, 0);
      auto timing = ReadVideoStreamTiming(dir + "/" + v["file"].get<std::string>());
      ASSERT_TRUE(timing.ok()) << timing.status().ToString();
      if (v.contains("num_frames")) {
        EXPECT_EQ(static_cast<int64_t>(timing->frame_pts.size()), v["num_frames"].get<int64_t>());
      }
      ++videos;
    }
  }
  EXPECT_GT(videos, 0) << "no frame_select-format case found in prepare/";
}

// Runs upstream's exact per-time ffmpeg call and returns the index drawn on the frame it outputs
// (-1 when ffmpeg outputs nothing, i.e. past the end).
int FfmpegFrameAt(const std::string& video, double t, int w, int h) {
  const std::string cmd = "ffmpeg -nostdin -loglevel error -ss " + SeekTimecode(t) + " -threads 1 -i '" + video +
                          "' -r 1 -q:v 2 -pix_fmt rgb24 -frames:v 1 -f rawvideo - 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return -2;
  std::vector<uint8_t> buf(static_cast<size_t>(w) * h * 3);
  const size_t n = std::fread(buf.data(), 1, buf.size(), p);
  ::pclose(p);
  return n == buf.size() ? DecodeIndex(buf.data(), w * 3) : -1;
}

// The container can start before the video stream (audio first); "ffmpeg -ss" counts from the
// container start. Checked against the real ffmpeg CLI (installed by tools/setup.sh).
TEST(FrameSelect, MatchesFfmpegCliWhenAudioStartsFirst) {
  if (std::system("ffmpeg -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "ffmpeg CLI not installed";
  const auto cases = testing::FixtureCases("prepare");
  std::string src;
  for (const auto& dir : cases)
    if (std::filesystem::exists(dir + "/video_2.mp4")) src = dir + "/video_2.mp4";
  ASSERT_FALSE(src.empty()) << "prepare/*/video_2.mp4 fixture missing";
  testing::TempDir d;
  const std::string mux = d.Join("mux.mp4");
  const std::string cmd = "ffmpeg -nostdin -y -loglevel error -itsoffset 0.5 -i '" + src +
                          "' -f lavfi -t 14 -i anullsrc=r=16000:cl=mono -map 0:v -map 1:a -c:v copy -c:a aac '" + mux + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::vector<double> times = {0.0, 0.3};
  auto more = ClipFrameTimes(0.4419, 4.9, 5.0);
  ASSERT_TRUE(more.ok());
  times.insert(times.end(), more->begin(), more->end());
  std::vector<int> got;
  auto info = DecodeFramesAtTimes(mux, times, [&](int64_t, const uint8_t* rgb, int, int, int64_t stride) {
    got.push_back(DecodeIndex(rgb, stride));
    return Status::OK();
  });
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_NEAR(info->stream_start_offset_sec, 0.5, 1e-3);
  std::vector<int> want;
  for (double t : times) want.push_back(FfmpegFrameAt(mux, t, 320, 240));
  EXPECT_EQ(got, want);
}

// ffmpeg's seek threshold is the -ss time rescaled into the stream's time base, rounded to the nearest
// tick (halves away from zero), plus the container's start time; the comparison is on integer pts.
TEST(FrameSelect, SeekThresholdRoundsLikeAvRescaleQ) {
  // 30000/1001 fps in tb 1/30000: frame k at pts 1001 k. "-ss 0.100" -> 3000 ticks: frame 3 (3003) is
  // the first kept, frame 2 (2002) is not; "-ss 0.101" -> 3030: frame 4.
  EXPECT_EQ(SeekThresholdPts(100, 0, 1, 30000), 3000);
  EXPECT_EQ(SeekThresholdPts(101, 0, 1, 30000), 3030);
  // tb 1/15360: 1 ms is 15.36 ticks -> 15; so a frame at pts 15 (0.977 ms) is kept by "-ss 0.001"
  // although its time is below 1 ms. The float rule with a 1 us tolerance would skip it.
  EXPECT_EQ(SeekThresholdPts(1, 0, 1, 15360), 15);
  EXPECT_EQ(SelectFramesForSeekPts({0, 15, 30}, {SeekThresholdPts(1, 0, 1, 15360)}), (std::vector<int64_t>{1}));
  EXPECT_EQ(SelectFramesForSeekTimes({0, 15 / 15360.0, 30 / 15360.0}, {1}), (std::vector<int64_t>{2}));
  // Halves round away from zero: 1 ms in tb 1/500 is 0.5 tick -> 1; 3 ms is 1.5 -> 2.
  EXPECT_EQ(SeekThresholdPts(1, 0, 1, 500), 1);
  EXPECT_EQ(SeekThresholdPts(3, 0, 1, 500), 2);
  // The container start time is added before rescaling (ffmpeg counts -ss from the container start).
  EXPECT_EQ(SeekThresholdPts(100, 500000, 1, 30000), 18000);
  // A coarse time base (2/25 s, 25/2 fps with one tick per frame): a time exactly on a frame's
  // timestamp selects it; so does a time up to half a tick later (3.441 s = 43.0125 ticks -> 43, the
  // frame at 3.44 s), and the half tick itself rounds up to the next frame.
  EXPECT_EQ(SeekThresholdPts(3440, 0, 2, 25), 43);
  EXPECT_EQ(SeekThresholdPts(3441, 0, 2, 25), 43);
  EXPECT_EQ(SeekThresholdPts(3479, 0, 2, 25), 43);
  EXPECT_EQ(SeekThresholdPts(3480, 0, 2, 25), 44);
}

// End of stream and frame boundaries, against the real ffmpeg CLI on the frame_select videos with
// B-frames (whose last frames come out of the decoder only when it is drained; at most 8, one ffmpeg
// run per time is slow): times on the last three frames' timestamps, just before the second-to-last
// one, in the middle of the last interval, and past the end (ffmpeg returns nothing; the port clamps to
// the last frame and counts it).
TEST(FrameSelect, EndOfStreamMatchesFfmpegCli) {
  if (std::system("ffmpeg -version > /dev/null 2>&1") != 0) GTEST_SKIP() << "ffmpeg CLI not installed";
  constexpr int kMaxVideos = 8;
  int videos = 0;
  for (const auto& dir : testing::FixtureCases("prepare")) {
    if (!std::filesystem::exists(dir + "/expected.json")) continue;
    const auto ex = testing::ReadJsonFile(dir + "/expected.json");
    if (!ex.contains("videos")) continue;
    for (const auto& v : ex["videos"]) {
      const std::string path = dir + "/" + v["file"].get<std::string>();
      SCOPED_TRACE(path);
      auto timing = ReadVideoStreamTiming(path);
      ASSERT_TRUE(timing.ok()) << timing.status().ToString();
      if (!timing->reordered || videos >= kMaxVideos) continue;
      const auto& pts = timing->frame_pts;
      const size_t n = pts.size();
      ASSERT_GE(n, 3u);
      auto sec = [&](int64_t p) {
        return static_cast<double>(p) * timing->tb_num / timing->tb_den - timing->container_start_us / 1e6;
      };
      const double a = sec(pts[n - 3]), b = sec(pts[n - 2]), c = sec(pts[n - 1]);
      std::vector<double> times = {a, b - 0.0004, b, (b + c) / 2, c, c + 0.0015};
      std::sort(times.begin(), times.end());
      std::vector<int> got;
      auto info = DecodeFramesAtTimes(path, times, [&](int64_t, const uint8_t* rgb, int, int, int64_t stride) {
        got.push_back(DecodeIndex(rgb, stride));
        return Status::OK();
      });
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      ASSERT_EQ(got.size(), times.size());
      int64_t past_end = 0;
      std::map<std::string, int> by_timecode;  // one ffmpeg run per distinct -ss string
      for (size_t i = 0; i < times.size(); ++i) {
        const std::string tc = SeekTimecode(times[i]);
        if (!by_timecode.count(tc)) by_timecode[tc] = FfmpegFrameAt(path, times[i], info->width, info->height);
        const int want = by_timecode[tc];
        ASSERT_NE(want, -2) << "cannot run ffmpeg";
        if (want == -1) {
          ++past_end;
          EXPECT_EQ(got[i], static_cast<int>(n) - 1) << "t=" << SeekTimecode(times[i]) << " (past the end: clamped)";
        } else {
          EXPECT_EQ(got[i], want) << "t=" << SeekTimecode(times[i]);
        }
      }
      EXPECT_EQ(info->frames_clamped, past_end);
      EXPECT_GE(past_end, 1);
      ++videos;
    }
  }
  EXPECT_GT(videos, 0) << "no frame_select-format video with B-frames found in prepare/";
}

// Reading the packet timestamps stops soon after the last needed time: the prefix read holds the frame
// that time selects and every frame before it, as the whole list does.
TEST(FrameSelect, TimingReadStopsAfterTheLastNeededFrame) {
  int checked = 0;
  for (const auto& dir : testing::FixtureCases("prepare")) {
    const std::string path = dir + "/video_1.mp4";  // 344 frames at 30000/1001 (11.5 s)
    if (!std::filesystem::exists(path)) continue;
    auto all = ReadVideoStreamTiming(path);
    ASSERT_TRUE(all.ok()) << all.status().ToString();
    EXPECT_TRUE(all->complete);
    ASSERT_GT(all->frame_pts.size(), 200u);
    for (int64_t ms : {0, 1000, 3003, 5000}) {
      auto part = ReadVideoStreamTiming(path, ms);
      ASSERT_TRUE(part.ok()) << part.status().ToString();
      EXPECT_FALSE(part->complete) << ms;
      EXPECT_LT(part->frame_pts.size(), all->frame_pts.size()) << ms;
      const int64_t thr = SeekThresholdPts(ms, all->container_start_us, all->tb_num, all->tb_den);
      const auto want = SelectFramesForSeekPts(all->frame_pts, {thr});
      const auto got = SelectFramesForSeekPts(part->frame_pts, {thr});
      EXPECT_EQ(got, want) << ms;
      ASSERT_GE(got[0], 0);
      EXPECT_TRUE(std::equal(part->frame_pts.begin(), part->frame_pts.begin() + got[0] + 1, all->frame_pts.begin()))
          << ms;
    }
    // A time past the end reads everything.
    auto past = ReadVideoStreamTiming(path, 60000);
    ASSERT_TRUE(past.ok());
    EXPECT_TRUE(past->complete);
    EXPECT_EQ(past->frame_pts, all->frame_pts);
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no prepare/*/video_1.mp4 fixture";
}

TEST(FrameSelect, SelectionRule) {
  // 30 fps frames; seek 0.200 s picks the frame at exactly 0.2 s, 0.201 the next one; past the end -1.
  std::vector<double> ft;
  for (int i = 0; i < 10; ++i) ft.push_back(i / 30.0);
  const auto sel = SelectFramesForSeekTimes(ft, {0, 200, 201, 300, 301});
  EXPECT_EQ(sel, (std::vector<int64_t>{0, 6, 7, 9, -1}));
}

TEST(FrameSelect, MissingVideoIsNotFound) {
  auto r = DecodeFramesAtTimes("/nonexistent/x.mp4", {0.0}, [](int64_t, const uint8_t*, int, int, int64_t) { return Status::OK(); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/x.mp4"), std::string::npos);
}

}  // namespace
}  // namespace vq2d
