#include "vq2d/pipeline/refinement.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_tokens.h"
#include "vq2d/pipeline/selection.h"

namespace vq2d::pipeline {

namespace F = torch::nn::functional;

torch::Tensor UpsampleFeature(const torch::Tensor& features, int64_t new_h, int64_t new_w, int64_t patch_size) {
  const int64_t ph = (new_h + patch_size - 1) / patch_size * patch_size;
  const int64_t pw = (new_w + patch_size - 1) / patch_size * patch_size;
  torch::Tensor up = F::interpolate(features.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                                      .size(std::vector<int64_t>{ph, pw})
                                                                      .mode(torch::kBilinear)
                                                                      .align_corners(false));
  const int64_t top = static_cast<int64_t>(std::nearbyint((ph - new_h) / 2.0));   // half-to-even
  const int64_t left = static_cast<int64_t>(std::nearbyint((pw - new_w) / 2.0));
  return up.slice(2, top, top + new_h).slice(3, left, left + new_w);
}

torch::Tensor MaskPooled(const torch::Tensor& features, const cv::Mat& mask) {
  const torch::Tensor m = MatToTensor(mask).to(torch::kBool);
  return features.index({torch::indexing::Slice(), m}).mean(1);
}

Result<torch::Tensor> SamPooledTokens(const torch::Tensor& images, const std::vector<std::array<double, 4>>& boxes,
                                      ImageSegmenter& sam, DenseFeatureExtractor& features, int64_t patch_size,
                                      int64_t chunk, int64_t* n_nan, int sam_blur_kernel) {
  const int64_t B = images.size(0);
  if (static_cast<int64_t>(boxes.size()) != B) return Status::InvalidArgument("sam pooled tokens: one box per image");
  std::vector<torch::Tensor> rows;
  int64_t nan = 0;
  chunk = std::max<int64_t>(1, chunk);
  for (int64_t s = 0; s < B; s += chunk) {
    const int64_t e = std::min(B, s + chunk);
    std::vector<cv::Mat> masks;
    for (int64_t i = s; i < e; ++i) {
      VQ2D_RETURN_IF_ERROR(sam.SetImage(SamBlur(TensorToMat(images[i]), sam_blur_kernel)));
      const auto& b = boxes[i];
      VQ2D_ASSIGN_OR_RETURN(cv::Mat m, sam.PredictBox({b[0], b[1], b[0] + b[2], b[1] + b[3]}));
      masks.push_back(RefineMask(m));
    }
    VQ2D_ASSIGN_OR_RETURN(torch::Tensor feat, features.Extract(images.slice(0, s, e)));
    const torch::Tensor up = UpsampleFeature(feat, images.size(1), images.size(2), patch_size);
    for (int64_t i = s; i < e; ++i) {
      rows.push_back(MaskPooled(up[i - s], masks[i - s]));
      if (cv::countNonZero(masks[i - s]) == 0) ++nan;
    }
  }
  if (n_nan) *n_nan = nan;
  return torch::stack(rows);
}

Result<std::optional<std::array<int64_t, 4>>> PointToBox(const torch::Tensor& image, const std::array<float, 2>& point_yx,
                                                         const torch::Tensor& query_tokens, ImageSegmenter& sam,
                                                         DenseFeatureExtractor& features, int64_t patch_size,
                                                         std::vector<double>* similarities, std::string* upstream_error,
                                                         int sam_blur_kernel) {
  VQ2D_RETURN_IF_ERROR(sam.SetImage(SamBlur(TensorToMat(image), sam_blur_kernel)));
  VQ2D_ASSIGN_OR_RETURN(std::vector<cv::Mat> raw, sam.PredictPoint(point_yx[1], point_yx[0]));
  VQ2D_ASSIGN_OR_RETURN(torch::Tensor feat, features.Extract(image.unsqueeze(0)));
  const torch::Tensor up = UpsampleFeature(feat, image.size(0), image.size(1), patch_size)[0];
  std::vector<cv::Mat> masks;
  std::vector<double> sims;
  for (const cv::Mat& r : raw) {
    masks.push_back(RefineMask(r));
    const torch::Tensor tok = MaskPooled(up, masks.back()).unsqueeze(0);
    torch::Tensor s;  // a NaN query row (empty pooled mask) makes the similarity NaN, as upstream
    MaxCosine(tok, query_tokens, &s, nullptr);
    sims.push_back(static_cast<double>(s.data_ptr<float>()[0]));
  }
  if (similarities) *similarities = sims;
  if (masks.empty()) return std::optional<std::array<int64_t, 4>>();
  // python: cur = sims[0]; later x wins only if x > cur (a NaN first element therefore wins).
  size_t pick = 0;
  for (size_t i = 1; i < sims.size(); ++i)
    if (sims[i] > sims[pick]) pick = i;
  auto box = MaskToBox(masks[pick]);
  if (box.ok()) return std::optional<std::array<int64_t, 4>>(*box);
  if (upstream_error) *upstream_error = "ValueError";
  // Defined behaviour: first maximum among the non-empty masks.
  int best = -1;
  for (size_t i = 0; i < sims.size(); ++i) {
    if (cv::countNonZero(masks[i]) == 0) continue;
    if (best < 0 || sims[i] > sims[best] || (std::isnan(sims[best]) && !std::isnan(sims[i]))) best = static_cast<int>(i);
  }
  if (best < 0) return std::optional<std::array<int64_t, 4>>();
  return std::optional<std::array<int64_t, 4>>(*MaskToBox(masks[best]));
}

Result<Candidates> ModelCandidateRefiner::Refine(const torch::Tensor& frames, const Candidates& sel,
                                                 const QuerySet& queries, double top_p) {
  errors_.clear();
  if (!m_.ren || !m_.sam || !m_.features) return Status::InvalidArgument("refiner: REN, SAM and features required");
  const int W = static_cast<int>(frames.size(2)), H = static_cast<int>(frames.size(1));
  const int64_t K = static_cast<int64_t>(queries.frame_numbers.size());
  const ImageOps ops = ImageOpsOf(p_);
  // (1) SAM-pooled DINO descriptors of the query frames and of their crops.
  std::vector<torch::Tensor> qframes, qcrops;
  std::vector<std::array<double, 4>> qboxes, cboxes;
  for (int64_t k = 0; k < K; ++k) {
    const auto& b = queries.boxes[k];
    const std::array<int64_t, 4> bi = {static_cast<int64_t>(b[0]), static_cast<int64_t>(b[1]), static_cast<int64_t>(b[2]),
                                       static_cast<int64_t>(b[3])};
    VQ2D_ASSIGN_OR_RETURN(double cf, GetCroppingFactor(bi, W, H, p_.cropping_margin_expansion, p_.max_cropping_factor,
                                                       BoxContext::kTensorInt64));
    VQ2D_ASSIGN_OR_RETURN(CropWindow w, CropWindowForBox(W, H, bi, cf, BoxContext::kTensorInt64CfF32));
    const torch::Tensor f = frames[queries.frame_numbers[k]];
    qframes.push_back(f);
    qcrops.push_back(MatToTensor(CutAndResize(TensorToMat(f), w, ops.crop_interpolation)));
    qboxes.push_back(b);
    cboxes.push_back(w.box);
  }
  VQ2D_ASSIGN_OR_RETURN(torch::Tensor pooled, SamPooledTokens(torch::stack(qframes), qboxes, *m_.sam, *m_.features,
                                                              p_.patch_size, p_.sam_pooled_chunk, nullptr,
                                                              ops.sam_blur_kernel));
  VQ2D_ASSIGN_OR_RETURN(torch::Tensor pooled_crop, SamPooledTokens(torch::stack(qcrops), cboxes, *m_.sam, *m_.features,
                                                                   p_.patch_size, p_.sam_pooled_chunk, nullptr,
                                                                   ops.sam_blur_kernel));
  // A NaN row (empty SAM mask) stays, as upstream: it makes every point_to_bbox similarity against
  // that set NaN, so the first mask is taken (upstream raises nothing unless that mask is empty).
  // (2) point -> box per candidate; (3) 8 crops around each box.
  std::vector<size_t> alive;
  std::vector<torch::Tensor> crops;
  std::vector<CropWindow> windows;
  for (size_t i = 0; i < sel.size(); ++i) {
    std::string err;
    VQ2D_ASSIGN_OR_RETURN(auto box, PointToBox(frames[sel.frame_ids[i]], sel.points[i], pooled, *m_.sam, *m_.features,
                                               p_.patch_size, nullptr, &err, ops.sam_blur_kernel));
    if (!err.empty()) errors_.push_back("point_to_bbox: " + err);
    if (!box) continue;  // three empty masks: the candidate is dropped
    alive.push_back(i);
    const cv::Mat img = TensorToMat(frames[sel.frame_ids[i]]);
    for (double cf : p_.query_cropping_factors) {
      VQ2D_ASSIGN_OR_RETURN(CropWindow w, CropWindowForBox(W, H, *box, cf, BoxContext::kTensorInt64));
      crops.push_back(MatToTensor(CutAndResize(img, w, ops.crop_interpolation)));
      windows.push_back(w);
    }
  }
  Candidates out;
  if (alive.empty()) return out;
  VQ2D_ASSIGN_OR_RETURN(RenTokens rt, m_.ren->Encode(torch::stack(crops)));
  const int64_t ncf = static_cast<int64_t>(p_.query_cropping_factors.size());
  const torch::Tensor pts = rt.points.to(torch::kFloat32).contiguous();
  std::vector<float> refined_scores;
  std::vector<std::array<float, 4>> refined_boxes;
  std::vector<size_t> refined_src;
  for (size_t a = 0; a < alive.size(); ++a) {
    int64_t best_crop = -1, best_tok = 0;
    float best = 0.f;
    for (int64_t c = 0; c < ncf; ++c) {
      const int64_t gi = static_cast<int64_t>(a) * ncf + c;
      torch::Tensor s;
      MaxCosine(rt.tokens[gi], queries.tokens, &s, nullptr);
      const float* sp = s.data_ptr<float>();
      int64_t am = 0;
      for (int64_t t = 1; t < s.size(0); ++t)
        if (sp[t] > sp[am]) am = t;
      if (best_crop < 0 || sp[am] > best) {
        best_crop = c;
        best_tok = am;
        best = sp[am];
      }
    }
    const int64_t gi = static_cast<int64_t>(a) * ncf + best_crop;
    const std::array<float, 2> pt = {pts[best_tok][0].item<float>(), pts[best_tok][1].item<float>()};
    std::string err;
    VQ2D_ASSIGN_OR_RETURN(auto box, PointToBox(crops[gi], pt, pooled_crop, *m_.sam, *m_.features, p_.patch_size, nullptr,
                                               &err, ops.sam_blur_kernel));
    if (!err.empty()) errors_.push_back("point_to_bbox: " + err);
    if (!box) continue;
    const CropWindow& w = windows[gi];
    const float sx = static_cast<float>(w.scale_x), sy = static_cast<float>(w.scale_y);
    refined_boxes.push_back({static_cast<float>((*box)[0]) / sx + static_cast<float>(w.left),
                             static_cast<float>((*box)[1]) / sy + static_cast<float>(w.top),
                             static_cast<float>((*box)[2]) / sx, static_cast<float>((*box)[3]) / sy});
    refined_scores.push_back(best);
    refined_src.push_back(alive[a]);
  }
  if (refined_scores.empty()) return out;
  // (4) top-p on the refined scores.
  float thr = static_cast<float>(top_p);
  const float mx = *std::max_element(refined_scores.begin(), refined_scores.end());
  if (thr > mx) thr = mx;
  for (size_t r = 0; r < refined_scores.size(); ++r) {
    if (!(refined_scores[r] >= thr)) continue;
    const size_t i = refined_src[r];
    out.frame_ids.push_back(sel.frame_ids[i]);
    out.points.push_back(sel.points[i]);
    out.boxes.push_back(refined_boxes[r]);
    out.scores.push_back(refined_scores[r]);
    out.query_match_idxs.push_back(sel.query_match_idxs[i]);
  }
  return out;
}

}  // namespace vq2d::pipeline
