#include "vq2d/base/chunk_prefetch.h"

#include <algorithm>
#include <exception>

namespace vq2d {

ChunkPrefetcher::ChunkPrefetcher(int64_t total, int64_t chunk, ReadFn read, bool background, Clock* clock,
                                 const std::vector<int64_t>& first)
    : total_(std::max<int64_t>(0, total)), chunk_(std::max<int64_t>(1, chunk)), read_(std::move(read)),
      background_(background), clock_(clock), step_of_(static_cast<size_t>(total_), -1) {
  for (int64_t i : first) {
    if (i < 0 || i >= total_ || step_of_[static_cast<size_t>(i)] >= 0) continue;
    step_of_[static_cast<size_t>(i)] = static_cast<int64_t>(plan_.size());
    plan_.emplace_back(i, i + 1);
  }
  for (int64_t c = 0; c < total_; c += chunk_) {
    const int64_t c_end = std::min(total_, c + chunk_);
    for (int64_t b = c; b < c_end;) {
      if (step_of_[static_cast<size_t>(b)] >= 0) {
        ++b;
        continue;
      }
      int64_t e = b;
      while (e < c_end && step_of_[static_cast<size_t>(e)] < 0) step_of_[static_cast<size_t>(e++)] = static_cast<int64_t>(plan_.size());
      plan_.emplace_back(b, e);
      b = e;
    }
  }
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
  int64_t step;
  {
    std::lock_guard<std::mutex> lock(mu_);
    step = done_;
  }
  const auto [begin, end] = plan_[static_cast<size_t>(step)];
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
      done_ = step + 1;
      ready_ += end - begin;
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
      if (stop_ || done_ >= static_cast<int64_t>(plan_.size()) || !error_.ok()) return;
    }
    if (!ReadNext().ok()) return;
  }
}

Status ChunkPrefetcher::Wait(int64_t begin, int64_t end) {
  begin = std::max<int64_t>(begin, 0);
  end = std::min(end, total_);
  // The range is there once every read up to the last one writing an item of it is done.
  int64_t need = 0;  // reads of plan_ that must be done
  for (int64_t i = begin; i < end; ++i) need = std::max(need, step_of_[static_cast<size_t>(i)] + 1);
  const double t0 = clock_->MonotonicSeconds();
  if (!background_) {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_ >= need) return Status::OK();
        if (!error_.ok()) return error_;
      }
      if (!ReadNext().ok()) continue;  // error_ holds it now: returned above
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return done_ >= need || !error_.ok(); });
  wait_s_ += clock_->MonotonicSeconds() - t0;
  return done_ >= need ? Status::OK() : error_;
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
