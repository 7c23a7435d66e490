// Frame selection parity with upstream's per-time "ffmpeg -ss" calls: every prepare/* fixture case in
// the frame_select format (expected.json with "videos"); frames carry their index in binary.
#include <gtest/gtest.h>

#include <filesystem>

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
      ++videos;
    }
  }
  EXPECT_GT(videos, 0) << "no frame_select-format case found in prepare/";
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
