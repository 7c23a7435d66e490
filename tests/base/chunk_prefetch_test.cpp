// ChunkPrefetcher: chunks in order, the `first` items before them, the same bytes with and without
// the background thread, a Wait on a range needing only the reads that write it, read errors
// reach Wait with their chunk, destruction mid-read does not hang. No timing assertions: the slow
// reader is released by the test, not by a clock (its deadline only turns a hang into a failure).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <chrono>
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

using Calls = std::vector<std::pair<int64_t, int64_t>>;

// The `first` items (in their order, duplicates and items outside the buffer skipped), then the
// grid chunks [5k, 5k + 5) as their runs of items not read yet: every item exactly once.
TEST(ChunkPrefetcher, ReadsTheFirstItemsThenTheChunksAroundThem) {
  const Calls want = {{12, 13}, {3, 4}, {22, 23}, {0, 3}, {4, 5}, {5, 10}, {10, 12}, {13, 15}, {15, 20}, {20, 22}};
  for (bool background : {true, false}) {
    Recorder r(23);
    {
      ChunkPrefetcher p(23, 5, r.Fn(), background, Clock::Default(), {12, 3, 12, 30, -1, 22});
      EXPECT_EQ(p.plan(), want);
      ASSERT_TRUE(p.Wait(0, 23).ok());
      EXPECT_EQ(p.ready(), 23);
    }
    for (int i = 0; i < 23; ++i) EXPECT_EQ(r.buf[i], i * 7 + 1) << i;
    EXPECT_EQ(r.calls, want) << "background " << background;
  }
}

// Without the background thread a Wait reads just as far along the plan as its range needs: a
// `first` item alone, then a chunk whose items were partly read first.
TEST(ChunkPrefetcher, AWaitReadsOnlyAsFarAsItsRangeNeeds) {
  Recorder r(23);
  ChunkPrefetcher p(23, 5, r.Fn(), /*background=*/false, Clock::Default(), {12, 3});
  ASSERT_TRUE(p.Wait(12, 13).ok());
  EXPECT_EQ(r.calls, (Calls{{12, 13}}));
  EXPECT_EQ(r.buf[12], 12 * 7 + 1);
  EXPECT_EQ(p.ready(), 1);
  ASSERT_TRUE(p.Wait(3, 4).ok());
  ASSERT_TRUE(p.Wait(12, 13).ok());  // already there: no read
  ASSERT_TRUE(p.Wait(7, 3).ok());    // empty range: no read
  EXPECT_EQ(r.calls, (Calls{{12, 13}, {3, 4}}));
  ASSERT_TRUE(p.Wait(0, 5).ok());
  EXPECT_EQ(r.calls, (Calls{{12, 13}, {3, 4}, {0, 3}, {4, 5}}));
  ASSERT_TRUE(p.Wait(10, 13).ok());  // [10, 12) comes after [5, 10) in the plan
  EXPECT_EQ(r.calls, (Calls{{12, 13}, {3, 4}, {0, 3}, {4, 5}, {5, 10}, {10, 12}}));
  EXPECT_EQ(p.ready(), 13);  // [0, 13)
}

// With the background thread blocked in the first chunk after the `first` items, a Wait for one
// of those items returns OK: it does not need the prefix before it.
TEST(ChunkPrefetcher, AWaitForAFirstItemDoesNotWaitForTheChunksBeforeIt) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<int> buf(40, -1);
  Calls calls;  // guarded by mu
  ChunkPrefetcher p(40, 8, [&](int64_t b, int64_t e) {
    std::unique_lock<std::mutex> lock(mu);
    calls.emplace_back(b, e);
    for (int64_t i = b; i < e; ++i) buf[static_cast<size_t>(i)] = static_cast<int>(i);
    if (b == 0 && !cv.wait_for(lock, std::chrono::seconds(120), [&] { return release; })) {
      return Status::Internal("test reader never released: a Wait needed the blocked chunk");
    }
    return Status::OK();
  }, /*background=*/true, Clock::Default(), {33, 17});
  ASSERT_TRUE(p.Wait(33, 34).ok());
  ASSERT_TRUE(p.Wait(17, 18).ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(buf[33], 33);
    EXPECT_EQ(buf[17], 17);
    ASSERT_GE(calls.size(), 2u);
    EXPECT_EQ(calls[0], (std::pair<int64_t, int64_t>{33, 34}));
    EXPECT_EQ(calls[1], (std::pair<int64_t, int64_t>{17, 18}));
    EXPECT_LE(calls.size(), 3u);  // at most the blocked [0, 8) started
    release = true;
    cv.notify_all();
  }
  ASSERT_TRUE(p.Wait(0, 40).ok());
  for (int i = 0; i < 40; ++i) EXPECT_EQ(buf[i], i) << i;
}

// A failed chunk after the `first` items: what was read before it stays readable, every range
// touching it gets the error, nothing is read after it.
TEST(ChunkPrefetcher, AReadErrorAfterTheFirstItemsSparesWhatWasReadBefore) {
  for (bool background : {true, false}) {
    Recorder r(23);
    auto fn = r.Fn();
    ChunkPrefetcher p(23, 5, [&](int64_t b, int64_t e) {
      return b == 5 ? Status::Corruption("rec.h5: frame 6: checksum mismatch") : fn(b, e);
    }, background, Clock::Default(), {12, 3});
    EXPECT_TRUE(p.Wait(0, 5).ok());
    Status s = p.Wait(5, 6);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.ToString().find("[5, 10)"), std::string::npos) << s.ToString();
    EXPECT_TRUE(p.Wait(12, 13).ok());  // a first item, read before the failure
    EXPECT_EQ(p.Wait(11, 13).code(), StatusCode::kCorruption);
    EXPECT_EQ(r.calls, (Calls{{12, 13}, {3, 4}, {0, 3}, {4, 5}})) << "background " << background;
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
