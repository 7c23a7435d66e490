// Test doubles for the runner: a scripted clip processor and an in-process world of N ranks
// (threads) implementing Collective.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vq2d/base/sha256.h"
#include "vq2d/runner/collective.h"
#include "vq2d/runner/runner.h"

namespace vq2d::testing {

// Output = deterministic text derived from the clip uid. Clips in `throw_on` throw; clips in
// `fail_on` return an error status; `on_process` runs first (e.g. to raise a stop flag).
class ScriptedProcessor : public runner::ClipProcessor {
 public:
  std::set<std::string> throw_on, fail_on;
  std::function<void(const runner::ClipTask&)> on_process;
  std::mutex mu;
  std::vector<std::string> processed;  // in call order
  std::map<std::string, int> attempts_seen;

  Result<runner::ClipResult> Process(const runner::ClipTask& task, const runner::StopToken& stop) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      processed.push_back(task.clip_uid);
      attempts_seen[task.clip_uid] = task.attempt;
    }
    if (on_process) on_process(task);
    if (throw_on.count(task.clip_uid)) throw std::runtime_error("scripted exception in " + task.clip_uid);
    if (fail_on.count(task.clip_uid)) return Status::Corruption("scripted failure in " + task.clip_uid);
    if (stop.stop_requested()) return Status::Cancelled("stop");
    runner::ClipResult r;
    r.output = "output of " + task.clip_uid + " " + Sha256Hex(task.clip_uid) + "\n";
    r.stats = {{"select_s", 0.25}, {"queries", 1}};
    return r;
  }
};

// N ranks as threads sharing one state; Broadcast/Barrier are generation-counted rendezvous.
class ThreadWorld {
 public:
  explicit ThreadWorld(int n) : n_(n) {}

  class Rank : public runner::Collective {
   public:
    Rank(ThreadWorld* w, int r) : w_(w), r_(r) {}
    int rank() const override { return r_; }
    int size() const override { return w_->n_; }
    int local_rank() const override { return r_; }
    std::string backend() const override { return "threads"; }
    Status Barrier() override {
      std::string dummy;
      return Broadcast(&dummy, 0);
    }
    Status Broadcast(std::string* data, int root) override {
      std::unique_lock<std::mutex> lock(w_->mu_);
      const long gen = w_->gen_;
      if (r_ == root) w_->slot_ = *data;
      if (++w_->arrived_ == w_->n_) {
        w_->arrived_ = 0;
        w_->result_ = w_->slot_;
        ++w_->gen_;
        w_->cv_.notify_all();
      } else {
        w_->cv_.wait(lock, [&] { return w_->gen_ != gen; });
      }
      *data = w_->result_;
      return Status::OK();
    }
    Result<int64_t> NextTicket() override { return w_->ticket_.fetch_add(1); }
    Result<bool> AllTrue(bool value) override {
      std::string v = value ? "1" : "0";
      std::string all;
      for (int r = 0; r < w_->n_; ++r) {
        std::string x = v;
        Status s = Broadcast(&x, r);
        if (!s.ok()) return s;
        all += x;
      }
      return all.find('0') == std::string::npos;
    }
    [[noreturn]] void Abort(int code) override { std::abort(); }

   private:
    ThreadWorld* w_;
    int r_;
  };

  std::unique_ptr<Rank> MakeRank(int r) { return std::make_unique<Rank>(this, r); }

 private:
  int n_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  long gen_ = 0;
  std::string slot_, result_;
  std::atomic<int64_t> ticket_{0};
};

inline std::vector<runner::WorkItem> MakeWork(int n) {
  std::vector<runner::WorkItem> w;
  for (int i = 0; i < n; ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "clip-%03d", i);
    w.push_back({id, static_cast<double>((i * 37) % 11 + 1), "video-" + std::to_string(i / 3)});
  }
  return w;
}

}  // namespace vq2d::testing
