#include "vq2d/base/chunk_prefetch.h"

#include <algorithm>
#include <exception>

namespace vq2d {

ChunkPrefetcher::ChunkPrefetcher(int64_t total, int64_t chunk, ReadFn read, bool background, Clock* clock)
    : total_(std::max<int64_t>(0, total)), chunk_(std::max<int64_t>(1, chunk)), read_(std::move(read)),
      background_(background), clock_(clock) {
  if (background_ && total_ > 0) thread_ = std::thread([this] { Run(); });
}

ChunkPrefetcher::~ChunkPrefetcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

Status ChunkPrefetcher::ReadNext() {
  int64_t begin;
  {
    std::lock_guard<std::mutex> lock(mu_);
    begin = ready_;
  }
  const int64_t end = std::min(total_, begin + chunk_);
  const double t0 = clock_->MonotonicSeconds();
  Status s;
  try {
    s = read_(begin, end);
  } catch (const std::exception& e) {  // e.g. bad_alloc: a Status, never std::terminate on the thread
    s = Status::Internal(StrCat("exception: ", e.what()));
  }
  const double secs = clock_->MonotonicSeconds() - t0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    read_s_ += secs;
    if (s.ok()) {
      ready_ = end;
    } else {
      error_ = s.WithContext(StrCat("prefetch of items [", begin, ", ", end, ")"));
    }
  }
  cv_.notify_all();
  return s;
}

void ChunkPrefetcher::Run() {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_ || ready_ >= total_ || !error_.ok()) return;
    }
    if (!ReadNext().ok()) return;
  }
}

Status ChunkPrefetcher::Wait(int64_t end) {
  end = std::min(end, total_);
  const double t0 = clock_->MonotonicSeconds();
  if (!background_) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (ready_ >= end) return Status::OK();
        if (!error_.ok()) return error_;
      }
      if (!ReadNext().ok()) continue;  // error_ holds it now: returned above
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return ready_ >= end || !error_.ok(); });
  wait_s_ += clock_->MonotonicSeconds() - t0;
  return ready_ >= end ? Status::OK() : error_;
}

int64_t ChunkPrefetcher::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_;
}
double ChunkPrefetcher::wait_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wait_s_;
}
double ChunkPrefetcher::read_seconds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return read_s_;
}

}  // namespace vq2d
