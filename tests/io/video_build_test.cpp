// Video I/O is optional at build time (-DVQ2D_WITH_VIDEO=OFF): the video entry points then fail with
// a FailedPrecondition that says so and how to get a binary that has it.
#include <gtest/gtest.h>

#include "vq2d/io/video_decode.h"

namespace vq2d {

using io::DecodeFramesAtTimes;
using io::VideoIoBuilt;
using io::VideoNotBuilt;
namespace {

TEST(VideoBuild, NotBuiltErrorNamesTheSwitchAndTheWayOut) {
  const Status s = VideoNotBuilt("decoding video 'a.mp4'");
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("decoding video 'a.mp4'"), std::string::npos);
  EXPECT_NE(s.message().find("-DVQ2D_WITH_VIDEO=OFF"), std::string::npos);
  EXPECT_NE(s.message().find("-DVQ2D_WITH_VIDEO=ON"), std::string::npos);
}

TEST(VideoBuild, DecodingWithoutVideoIoSaysItWasNotBuilt) {
  auto r = DecodeFramesAtTimes("/nonexistent/x.mp4", {0.0}, [](int64_t, const uint8_t*, int, int, int64_t) {
    return Status::OK();
  });
  ASSERT_FALSE(r.ok());
  if (VideoIoBuilt()) {
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
  } else {
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
    EXPECT_NE(r.status().message().find("VQ2D_WITH_VIDEO"), std::string::npos);
  }
}

}  // namespace
}  // namespace vq2d
