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
    RenTokens r;
    if (next_ + n > recorded_.size(0)) {
      if (!lenient) return Status::Internal("ReplayRen: more images than recorded");
      r.tokens = torch::zeros({n, recorded_.size(1), recorded_.size(2)});
    } else {
      r.tokens = recorded_.slice(0, next_, next_ + n).clone();
    }
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
  bool lenient = false;  // after the recorded images: zero tokens

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
               const TrackerFrameCallback& on_frame) override {
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
      if (!on_frame(i, m, it != rects.end() ? 10.f : -10.f)) break;
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

// SAM 2 image stand-in replaying `sam_calls` ({kind: box|point, box_xyxy|point_xy, masks_key}) in
// order, with the recorded raw masks; records mismatching prompts in `mismatches`.
template <typename Tensors>
class ReplaySam : public ImageSegmenter {
 public:
  ReplaySam(const Tensors& t, nlohmann::json calls) : t_(t), calls_(std::move(calls)) {}
  Status SetImage(const cv::Mat&) override { return Status::OK(); }
  Result<cv::Mat> PredictBox(const std::array<double, 4>& b) override {
    VQ2D_ASSIGN_OR_RETURN(auto m, Next("box"));
    if (extra > 0) return m[0];
    for (int i = 0; i < 4; ++i)
      if (static_cast<float>(b[i]) != calls_[next_ - 1]["box_xyxy"][i].template get<float>()) ++mismatches;
    return m[0];
  }
  Result<std::vector<cv::Mat>> PredictPoint(double x, double y) override {
    VQ2D_ASSIGN_OR_RETURN(auto m, Next("point"));
    if (next_ > calls_.size() || extra > 0) return m;
    const auto& pt = calls_[next_ - 1]["point_xy"];
    if (static_cast<float>(x) != pt[0].template get<float>() || static_cast<float>(y) != pt[1].template get<float>()) ++mismatches;
    return m;
  }
  size_t consumed() const { return next_; }
  int mismatches = 0;
  // After the recorded calls (upstream raised there): answer empty masks of this size instead of failing.
  int lenient_h = 0, lenient_w = 0;
  int extra = 0;

 private:
  Result<std::vector<cv::Mat>> Next(const std::string& kind) {
    if (next_ >= calls_.size() && lenient_h > 0) {
      ++extra;
      return std::vector<cv::Mat>(kind == "box" ? 1 : 3, cv::Mat::zeros(lenient_h, lenient_w, CV_8U));
    }
    if (next_ >= calls_.size()) return Status::Internal("ReplaySam: more calls than recorded");
    const auto& c = calls_[next_++];
    if (c["kind"] != kind) return Status::Internal("ReplaySam: expected a " + c["kind"].template get<std::string>() + " prompt");
    torch::Tensor m = t_.Get(c["masks_key"]).to(torch::kUInt8).contiguous();
    std::vector<cv::Mat> out;
    for (int64_t i = 0; i < m.size(0); ++i) {
      torch::Tensor mi = m[i].contiguous();
      out.push_back(cv::Mat(static_cast<int>(mi.size(0)), static_cast<int>(mi.size(1)), CV_8U, mi.data_ptr()).clone());
    }
    return out;
  }
  const Tensors& t_;
  nlohmann::json calls_;
  size_t next_ = 0;
};

// Dense-feature stand-in replaying `feature_calls` ({n_images, features_key}) in order.
template <typename Tensors>
class ReplayFeatures : public DenseFeatureExtractor {
 public:
  ReplayFeatures(const Tensors& t, nlohmann::json calls) : t_(t), calls_(std::move(calls)) {}
  Result<torch::Tensor> Extract(const torch::Tensor& images) override {
    if (next_ >= calls_.size() && lenient_c > 0) return torch::zeros({images.size(0), lenient_c, 2, 2});
    if (next_ >= calls_.size()) return Status::Internal("ReplayFeatures: more calls than recorded");
    const auto& c = calls_[next_++];
    if (c["n_images"].template get<int64_t>() != images.size(0)) return Status::Internal("ReplayFeatures: image count");
    return t_.Get(c["features_key"]);
  }
  size_t consumed() const { return next_; }
  int64_t lenient_c = 0;  // after the recorded calls: zero features with this many channels

 private:
  const Tensors& t_;
  nlohmann::json calls_;
  size_t next_ = 0;
};

}  // namespace vq2d::pipeline::testing
