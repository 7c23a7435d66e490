// Test doubles: model stand-ins that replay outputs recorded in the logic fixtures, in call order.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/models.h"

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

}  // namespace vq2d::pipeline::testing
