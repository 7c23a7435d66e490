// Test doubles: model stand-ins that replay outputs recorded in the logic fixtures, in call order.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/models.h"
#include "vq2d/pipeline/tracking.h"
#include <map>
#include <nlohmann/json.hpp>

namespace vq2d::pipeline::testing {

// REN stand-in: returns the next rows of `recorded` [M,Q,D] (one per image, in call order) and the
// grid points of a grid_n x grid_n grid translated to the image size.
class ReplayRen : public TokenExtractor {
 public:
  ReplayRen(torch::Tensor recorded, int grid_n) : recorded_(std::move(recorded)), grid_(RenGridPoints(grid_n)) {}
  Result<RenTokens> Encode(const torch::Tensor& images) override {
    const int64_t n = images.size(0);
    if (next_ + n > recorded_.size(0)) return Status::Internal("ReplayRen: more images than recorded");
    RenTokens r;
    r.tokens = recorded_.slice(0, next_, next_ + n).clone();
    next_ += n;
    r.points = torch::empty({static_cast<int64_t>(grid_.size()), 2}, torch::kFloat32);
    auto a = r.points.accessor<float, 2>();
    for (size_t i = 0; i < grid_.size(); ++i) {
      const auto p = TranslatePoint(grid_[i], static_cast<int>(images.size(1)), static_cast<int>(images.size(2)));
      a[i][0] = p[0];
      a[i][1] = p[1];
    }
    calls_.push_back(n);
    return r;
  }
  int64_t consumed() const { return next_; }
  const std::vector<int64_t>& calls() const { return calls_; }

 private:
  torch::Tensor recorded_;
  std::vector<std::array<int64_t, 2>> grid_;
  int64_t next_ = 0;
  std::vector<int64_t> calls_;
};

// Frames whose identity t is written in pixel (0,0): R = t % 256, G = t / 256.
inline int64_t FrameIdentity(const torch::Tensor& frame) {
  auto p = frame.index({0, 0}).to(torch::kInt64);
  return p[0].item<int64_t>() + 256 * p[1].item<int64_t>();
}
inline torch::Tensor IdentityFrames(int64_t n, int64_t H, int64_t W) {
  torch::Tensor f = torch::zeros({n, H, W, 3}, torch::kUInt8);
  for (int64_t t = 0; t < n; ++t) {
    f.index_put_({t, 0, 0, 0}, static_cast<int>(t % 256));
    f.index_put_({t, 0, 0, 1}, static_cast<int>(t / 256));
  }
  return f;
}

// SAM 2 video stand-in: frame -> inclusive rectangle (x0,y0,x1,y1); a missing frame is an empty
// mask. Separate scripts for the forward and backward directions (direction is inferred from the
// frame identities: a backward window runs towards smaller frame numbers).
class ScriptedTracker : public VideoTracker {
 public:
  using Rects = std::map<int64_t, std::array<int, 4>>;
  ScriptedTracker(Rects fwd, Rects bwd) : fwd_(std::move(fwd)), bwd_(std::move(bwd)) {}
  static Rects Parse(const nlohmann::json& j) {
    Rects r;
    if (j.is_null()) return r;
    for (auto it = j.begin(); it != j.end(); ++it) r[std::stoll(it.key())] = it.value().get<std::array<int, 4>>();
    return r;
  }
  struct Call {
    std::string direction;
    int64_t window_first_frame, window_len, prompt_window_idx, prompt_frame;
    std::array<double, 4> box;
  };
  Status Track(const FrameSource& frames, int64_t prompt_index, const std::array<double, 4>& box,
               const std::function<bool(int64_t, const cv::Mat&)>& on_frame) override {
    const int64_t first = FrameIdentity(frames.get(0));
    bool backward = false;
    if (frames.num_frames > 1) backward = FrameIdentity(frames.get(1)) < first;
    calls.push_back({backward ? "bwd" : "fwd", first, frames.num_frames, prompt_index,
                     FrameIdentity(frames.get(prompt_index)), box});
    const Rects& rects = backward ? bwd_ : fwd_;
    for (int64_t i = prompt_index; i < frames.num_frames; ++i) {
      const int64_t id = FrameIdentity(frames.get(i));
      cv::Mat m = cv::Mat::zeros(static_cast<int>(frames.height), static_cast<int>(frames.width), CV_8U);
      auto it = rects.find(id);
      if (it != rects.end()) {
        const auto& r = it->second;
        m(cv::Rect(r[0], r[1], r[2] - r[0] + 1, r[3] - r[1] + 1)).setTo(1);
      }
      if (!on_frame(i, m)) break;
    }
    return Status::OK();
  }
  std::vector<Call> calls;

 private:
  Rects fwd_, bwd_;
};

// generate_token_from_bbox stand-in: `rows` [M,D] are the outputs for the crops listed in `kept`
// (global crop counter over all calls, in call order); other crops are skipped (empty mask).
class ReplayTokenGenerator : public BoxTokenGenerator {
 public:
  ReplayTokenGenerator(torch::Tensor rows, std::vector<int64_t> kept) : rows_(std::move(rows)), kept_(std::move(kept)) {}
  Result<CropTokens> Generate(const torch::Tensor& crops, const std::vector<std::array<double, 4>>& boxes) override {
    CropTokens out;
    out.tokens = torch::zeros({crops.size(0), rows_.size(1)}, torch::kFloat32);
    for (int64_t i = 0; i < crops.size(0); ++i, ++crop_) {
      boxes_seen.push_back(boxes[i]);
      if (next_ < static_cast<int64_t>(kept_.size()) && kept_[next_] == crop_) {
        out.tokens[i].copy_(rows_[next_]);
        out.kind.push_back(1);
        ++next_;
      } else {
        out.kind.push_back(-1);
      }
    }
    return out;
  }
  int64_t crops_seen() const { return crop_; }
  std::vector<std::array<double, 4>> boxes_seen;

 private:
  torch::Tensor rows_;
  std::vector<int64_t> kept_;
  int64_t next_ = 0, crop_ = 0;
};

}  // namespace vq2d::pipeline::testing
