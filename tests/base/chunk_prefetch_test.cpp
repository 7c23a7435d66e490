// ChunkPrefetcher: chunks in order, the same bytes with and without the background thread, read
// errors reach Wait with their chunk, destruction mid-read does not hang. No timing assertions:
// the slow reader is released by the test, not by a clock.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "vq2d/base/chunk_prefetch.h"

namespace vq2d {
namespace {

struct Recorder {
  std::vector<int> buf;
  std::vector<std::pair<int64_t, int64_t>> calls;
  explicit Recorder(int64_t n) : buf(static_cast<size_t>(n), -1) {}
  ChunkPrefetcher::ReadFn Fn() {
    return [this](int64_t b, int64_t e) {
      calls.emplace_back(b, e);
      for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<int>(i * 7 + 1);
      return Status::OK();
    };
  }
};

TEST(ChunkPrefetcher, FillsEveryItemInChunksInOrderInBothModes) {
  for (bool background : {true, false}) {
    Recorder r(23);
    {
      ChunkPrefetcher p(23, 5, r.Fn(), background);
      ASSERT_TRUE(p.Wait(3).ok());
      for (int i = 0; i < 3; ++i) EXPECT_EQ(r.buf[i], i * 7 + 1);
      ASSERT_TRUE(p.Wait(23).ok());
      ASSERT_TRUE(p.Wait(100).ok());  // past the end: clamped
      EXPECT_EQ(p.ready(), 23);
    }
    for (int i = 0; i < 23; ++i) EXPECT_EQ(r.buf[i], i * 7 + 1) << i;
    const std::vector<std::pair<int64_t, int64_t>> want = {{0, 5}, {5, 10}, {10, 15}, {15, 20}, {20, 23}};
    EXPECT_EQ(r.calls, want) << "background " << background;
  }
}

TEST(ChunkPrefetcher, NothingToReadIsReadyAtOnce) {
  int calls = 0;
  ChunkPrefetcher p(0, 4, [&](int64_t, int64_t) { ++calls; return Status::OK(); });
  EXPECT_TRUE(p.Wait(0).ok());
  EXPECT_TRUE(p.Wait(5).ok());
  EXPECT_EQ(calls, 0);
}

TEST(ChunkPrefetcher, AReadErrorReachesWaitWithItsChunkAndStopsReading) {
  for (bool background : {true, false}) {
    std::atomic<int> calls{0};
    ChunkPrefetcher p(
        20, 4,
        [&](int64_t b, int64_t) {
          ++calls;
          return b == 8 ? Status::Corruption("rec.h5: frame 9: checksum mismatch") : Status::OK();
        },
        background);
    EXPECT_TRUE(p.Wait(8).ok());  // the chunks before the bad one are there
    Status s = p.Wait(9);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.ToString().find("rec.h5: frame 9"), std::string::npos) << s.ToString();
    EXPECT_NE(s.ToString().find("[8, 12)"), std::string::npos) << s.ToString();
    EXPECT_EQ(p.Wait(20).code(), StatusCode::kCorruption);
    EXPECT_TRUE(p.Wait(4).ok());
    EXPECT_EQ(calls.load(), 3) << "no read after the failed chunk";
  }
}

// The consumer gives up (an error elsewhere in the clip) while the reader is blocked: the
// destructor returns once the read in progress returns (how many chunks the reader starts before
// it sees the stop depends on scheduling, so only the bound is checked).
TEST(ChunkPrefetcher, DestructionMidReadDoesNotHang) {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, release = false;
  std::atomic<int> calls{0};
  auto p = std::make_unique<ChunkPrefetcher>(100, 10, [&](int64_t, int64_t) {
    ++calls;
    std::unique_lock<std::mutex> lock(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    return Status::OK();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return entered; });
  }
  std::thread releaser([&] {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  });
  p.reset();  // joins after the read in progress returns
  releaser.join();
  EXPECT_GE(calls.load(), 1);
  EXPECT_LE(calls.load(), 10);
}

}  // namespace
}  // namespace vq2d
