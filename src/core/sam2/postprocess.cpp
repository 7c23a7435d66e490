// Mask post-processing that the reference runs through sam2._C (8-connected components): video hole
// filling and the image predictor's hole/sprinkle removal. Exact labelling by BFS on the CPU.
#include <vector>

#include "vq2d/base/check.h"
#include "vq2d/core/sam2_image_predictor.h"

namespace vq2d::sam2 {

torch::Tensor ConnectedComponentAreas(const torch::Tensor& mask) {
  VQ2D_CHECK(mask.dim() == 4 && mask.size(1) == 1);
  auto m = mask.to(torch::kCPU).to(torch::kBool).contiguous();
  const int64_t b = m.size(0), h = m.size(2), w = m.size(3);
  auto areas = torch::zeros({b, 1, h, w}, torch::kInt32);
  const bool* src = m.data_ptr<bool>();
  int32_t* dst = areas.data_ptr<int32_t>();
  std::vector<int64_t> queue, comp;
  std::vector<char> seen(static_cast<size_t>(h * w));
  for (int64_t n = 0; n < b; ++n) {
    const bool* s = src + n * h * w;
    int32_t* d = dst + n * h * w;
    std::fill(seen.begin(), seen.end(), 0);
    for (int64_t start = 0; start < h * w; ++start) {
      if (!s[start] || seen[start]) continue;
      comp.clear();
      queue.assign(1, start);
      seen[start] = 1;
      while (!queue.empty()) {
        const int64_t p = queue.back();
        queue.pop_back();
        comp.push_back(p);
        const int64_t y = p / w, x = p % w;
        for (int64_t dy = -1; dy <= 1; ++dy) {
          for (int64_t dx = -1; dx <= 1; ++dx) {
            const int64_t yy = y + dy, xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const int64_t q = yy * w + xx;
            if (s[q] && !seen[q]) {
              seen[q] = 1;
              queue.push_back(q);
            }
          }
        }
      }
      for (int64_t p : comp) d[p] = static_cast<int32_t>(comp.size());
    }
  }
  return areas.to(mask.device());
}

torch::Tensor FillHolesInMaskScores(const torch::Tensor& logits, int max_area) {
  if (max_area <= 0) return logits;
  auto areas = ConnectedComponentAreas(logits <= 0).to(logits.device());
  auto small = (areas > 0) & (areas <= max_area);
  return torch::where(small, torch::full({}, 0.1, logits.options()), logits);
}

torch::Tensor PostprocessMasks(const torch::Tensor& logits_in, int64_t out_h, int64_t out_w, int max_hole_area,
                               int max_sprinkle_area, torch::Tensor* before_resize) {
  auto logits = logits_in.to(torch::kFloat32);
  const auto shape = logits.sizes().vec();
  if (max_hole_area > 0 || max_sprinkle_area > 0) {
    auto flat = logits.flatten(0, 1).unsqueeze(1);
    auto edited = flat;
    if (max_hole_area > 0) {
      auto a = ConnectedComponentAreas(flat <= 0).to(flat.device());
      edited = torch::where((a > 0) & (a <= max_hole_area), torch::full({}, 10.0, flat.options()), edited);
    }
    if (max_sprinkle_area > 0) {
      auto a = ConnectedComponentAreas(flat > 0).to(flat.device());
      edited = torch::where((a > 0) & (a <= max_sprinkle_area), torch::full({}, -10.0, flat.options()), edited);
    }
    logits = edited.view(shape);
  }
  if (before_resize) *before_resize = logits;
  namespace F = torch::nn::functional;
  return F::interpolate(logits, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{out_h, out_w})
                                    .mode(torch::kBilinear)
                                    .align_corners(false));
}

}  // namespace vq2d::sam2
