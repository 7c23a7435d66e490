// ChunkPrefetcher: fills items [0, total) of a caller's buffer chunk by chunk on one background
// thread while the consumer works on the chunks already there (the clip's frames, read and decoded
// from HDF5 while the models compute). Torch-free.
//
// Contract: `read(begin, end)` writes items [begin, end) and returns OK, or an error (a
// std::exception it throws becomes Internal); it is called
// on the prefetch thread only, in increasing order, for consecutive chunks of `chunk` items (the
// last may be shorter), and never again after an error or after the prefetcher began destruction.
// Wait(end) returns OK once items [0, end) are written (a happens-before edge: the consumer may read
// them without further locking), or else the first read error (with the chunk in its context) once
// the reader stopped at it; every later Wait past the failed chunk returns that error at once. Items past the last Wait's `end` must not be read by the consumer.
// No hang: every Wait returns once the read in progress returns; the destructor asks the thread to
// stop after the chunk it is reading and joins it, so it takes at most one `read` call.
// Thread-safety: one consumer thread calls Wait (and destroys); the prefetch thread calls `read`.
// With `background` false nothing runs in the background: Wait(end) reads the missing chunks up to
// `end` on the calling thread (the same calls in the same order; the prefetch switch's "off").
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "vq2d/base/clock.h"
#include "vq2d/base/status.h"

namespace vq2d {

class ChunkPrefetcher {
 public:
  using ReadFn = std::function<Status(int64_t begin, int64_t end)>;
  // `clock` (not owned, must outlive this; thread-safe) times the reads and waits.
  ChunkPrefetcher(int64_t total, int64_t chunk, ReadFn read, bool background = true,
                  Clock* clock = Clock::Default());
  ~ChunkPrefetcher();
  ChunkPrefetcher(const ChunkPrefetcher&) = delete;
  ChunkPrefetcher& operator=(const ChunkPrefetcher&) = delete;

  // Blocks until items [0, min(end, total)) are written; the first read error otherwise.
  Status Wait(int64_t end);
  // Items written so far (for stats; may grow concurrently).
  int64_t ready() const;
  // Seconds the consumer spent blocked in Wait, and the prefetch thread (or Wait, when not in the
  // background) spent in `read`.
  double wait_seconds() const;
  double read_seconds() const;

 private:
  void Run();
  Status ReadNext();  // reads chunk [ready_, ready_ + chunk_) without the lock; updates state under it

  const int64_t total_, chunk_;
  ReadFn read_;
  const bool background_;
  Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t ready_ = 0;       // guarded by mu_
  Status error_;            // guarded by mu_
  bool stop_ = false;       // guarded by mu_
  double wait_s_ = 0, read_s_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace vq2d
