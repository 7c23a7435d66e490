// ChunkPrefetcher: fills items [0, total) of a caller's buffer on one background thread, in a
// fixed order, while the consumer works on the items already there (the clip's frames, read and
// decoded from HDF5 while the models compute). Torch-free.
//
// Order (the plan, fixed at construction): first each item of `first` alone, in the given order
// (duplicates and items outside [0, total) skipped; the clip's visual-crop frames, which the
// engine needs before anything else), then the grid chunks [k*chunk, (k+1)*chunk) in increasing
// k, each read as its runs of items not read yet (a chunk holding a `first` item is two reads).
// So every item is read exactly once, and the chunked pass stays aligned to the consumer's chunks.
//
// Contract: `read(begin, end)` writes items [begin, end) and returns OK, or an error (a
// std::exception it throws becomes Internal); it is called on the prefetch thread only, in the
// plan's order, and never again after an error or after the prefetcher began destruction.
// Wait(begin, end) returns OK once items [begin, end) are written (a happens-before edge: the
// consumer may read them without further locking), or else the first read error (with the items
// of the failed read in its context) once the reader stopped at it and some item of the range is
// missing; a range written before the error still returns OK. Items outside every OK Wait's
// range must not be read by the consumer.
// No hang: every Wait returns once the read in progress returns; the destructor asks the thread to
// stop after the read in progress and joins it, so it takes at most one `read` call.
// Thread-safety: one consumer thread calls Wait (and destroys); the prefetch thread calls `read`.
// With `background` false nothing runs in the background: Wait reads the plan's next reads on the
// calling thread until the range is there (the same calls in the same order; the prefetch
// switch's "off").
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "vq2d/base/clock.h"
#include "vq2d/base/status.h"

namespace vq2d {

class ChunkPrefetcher {
 public:
  using ReadFn = std::function<Status(int64_t begin, int64_t end)>;
  // `clock` (not owned, must outlive this; thread-safe) times the reads and waits. `first`: items
  // read before the chunked pass, one read each, in this order.
  ChunkPrefetcher(int64_t total, int64_t chunk, ReadFn read, bool background = true,
                  Clock* clock = Clock::Default(), const std::vector<int64_t>& first = {});
  ~ChunkPrefetcher();
  ChunkPrefetcher(const ChunkPrefetcher&) = delete;
  ChunkPrefetcher& operator=(const ChunkPrefetcher&) = delete;

  // Blocks until items [max(begin, 0), min(end, total)) are written (an empty range at once); the
  // first read error otherwise.
  Status Wait(int64_t begin, int64_t end);
  Status Wait(int64_t end) { return Wait(0, end); }  // the prefix [0, end)
  // The reads of the plan in order, [begin, end) each (what `read` is called with).
  const std::vector<std::pair<int64_t, int64_t>>& plan() const { return plan_; }
  // Items written so far (for stats; may grow concurrently).
  int64_t ready() const;
  // Seconds the consumer spent blocked in Wait, and the prefetch thread (or Wait, when not in the
  // background) spent in `read`.
  double wait_seconds() const;
  double read_seconds() const;

 private:
  void Run();
  Status ReadNext();  // reads plan_[done_] without the lock; updates state under it

  const int64_t total_, chunk_;
  ReadFn read_;
  const bool background_;
  Clock* const clock_;
  std::vector<std::pair<int64_t, int64_t>> plan_;  // immutable after construction
  std::vector<int64_t> step_of_;                   // item -> index in plan_ of the read that writes it
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t done_ = 0;        // reads of plan_ finished OK; guarded by mu_
  int64_t ready_ = 0;       // items written; guarded by mu_
  Status error_;            // guarded by mu_
  bool stop_ = false;       // guarded by mu_
  double wait_s_ = 0, read_s_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace vq2d
