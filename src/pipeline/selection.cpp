#include "vq2d/pipeline/selection.h"

#include <algorithm>
#include <cmath>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_tokens.h"

namespace vq2d::pipeline {

namespace F = torch::nn::functional;

namespace {

// F.normalize(t, p=2, dim=1) as torch 1.13's CPU kernel computes it: the L2 norm of a contiguous
// row is reduced in 8 float32 lanes (lane j accumulates x[j], x[j+8], ... with fused multiply-add),
// the lanes are summed left to right, the remaining d % 8 squares are added one by one, sqrt,
// clamp_min(1e-12), then a float32 division.
torch::Tensor UpstreamNormalize(const torch::Tensor& t) {
  torch::Tensor x = t.to(torch::kFloat32).contiguous();
  torch::Tensor o = torch::empty_like(x);
  const int64_t n = x.size(0), d = x.size(1);
  const float* xp = x.data_ptr<float>();
  float* op = o.data_ptr<float>();
  constexpr int64_t kLanes = 8;
  const float eps = static_cast<float>(1e-12);
  for (int64_t i = 0; i < n; ++i) {
    const float* r = xp + i * d;
    float lane[kLanes] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    int64_t k = 0;
    for (; k + kLanes <= d; k += kLanes)
      for (int64_t j = 0; j < kLanes; ++j) lane[j] = std::fma(r[k + j], r[k + j], lane[j]);
    float sum = lane[0];
    for (int64_t j = 1; j < kLanes; ++j) sum = sum + lane[j];
    for (; k < d; ++k) sum = std::fma(r[k], r[k], sum);  // the kernel is compiled with FMA contraction
    const float norm = std::max(std::sqrt(sum), eps);
    for (int64_t c = 0; c < d; ++c) op[i * d + c] = r[c] / norm;
  }
  return o;
}

// c[i][j] = dot(x_i, y_j) as the float32 GEMM behind torch.mm computes it: one accumulator per
// element, k = 0..d-1 in order, each step a fused multiply-add. yt is y transposed [d, k]. The one
// body of both kernels below: inlined into each, it is compiled once per target, and every element
// gets the same fused steps either way (fma rounds once), so both give the same bits.
[[gnu::always_inline]] inline void DotsBody(const float* xp, const float* yt, int64_t n, int64_t k, int64_t d,
                                            float* cp) {
  for (int64_t i = 0; i < n; ++i) {
    float* acc = cp + i * k;
    for (int64_t j = 0; j < k; ++j) acc[j] = 0.f;
    for (int64_t t = 0; t < d; ++t) {
      const float xv = xp[i * d + t];
      const float* yr = yt + t * k;
      for (int64_t j = 0; j < k; ++j) acc[j] = std::fma(xv, yr[j], acc[j]);
    }
  }
}

void DotsPortable(const float* xp, const float* yt, int64_t n, int64_t k, int64_t d, float* cp) {
  DotsBody(xp, yt, n, k, d, cp);
}
#if defined(__GNUC__) && defined(__x86_64__)
// Compiled with hardware FMA: std::fma becomes one instruction and the j loop vectorises.
__attribute__((target("avx2,fma"))) void DotsFma(const float* xp, const float* yt, int64_t n, int64_t k, int64_t d,
                                                float* cp) {
  DotsBody(xp, yt, n, k, d, cp);
}
#endif

void Dots(const float* xp, const float* yt, int64_t n, int64_t k, int64_t d, float* cp) {
#if defined(__GNUC__) && defined(__x86_64__)
  static const bool fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (fma) return DotsFma(xp, yt, n, k, d, cp);
#endif
  DotsPortable(xp, yt, n, k, d, cp);
}

}  // namespace

void MaxCosine(const torch::Tensor& lhs, const torch::Tensor& rhs, torch::Tensor* max_out, torch::Tensor* argmax_out) {
  // Upstream: torch.max(torch.mm(F.normalize(a), F.normalize(b).T), dim=1) in float32. The
  // arithmetic is spelled out (UpstreamNormalize, Dots) so every machine gets upstream's bits:
  // a double-accumulated dot product differs from it in the last bit for ~60% of the scores, and
  // a BLAS or torch kernel chosen at run time may sum in another order.
  const torch::Tensor x = UpstreamNormalize(lhs);
  const torch::Tensor yt = UpstreamNormalize(rhs).t().contiguous();
  const int64_t n = x.size(0), k = yt.size(1), d = x.size(1);
  torch::Tensor cos = torch::empty({n, k}, torch::kFloat32);
  if (n > 0 && k > 0) Dots(x.data_ptr<float>(), yt.data_ptr<float>(), n, k, d, cos.data_ptr<float>());
  // Row max with the first argmax; a NaN wins (the first NaN), as torch.max(dim) does.
  torch::Tensor mx = torch::empty({n}, torch::kFloat32);
  torch::Tensor am = torch::zeros({n}, torch::kInt64);
  const float* c = cos.data_ptr<float>();
  float* m = mx.data_ptr<float>();
  int64_t* a = am.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const float* row = c + i * k;
    int64_t best = 0;
    for (int64_t j = 1; j < k; ++j) {
      if (std::isnan(row[best])) break;
      if (row[j] > row[best] || std::isnan(row[j])) best = j;
    }
    m[i] = k > 0 ? row[best] : 0.0f;
    a[i] = best;
  }
  if (max_out) *max_out = mx;
  if (argmax_out) *argmax_out = am;
}

std::vector<int64_t> RenMatchingFilter(const torch::Tensor& tokens, const torch::Tensor& matching, double threshold) {
  // Upstream's float32 cosines (boundary cases score exactly float32(threshold)).
  torch::Tensor s;
  MaxCosine(tokens, matching, &s, nullptr);
  const float thr = static_cast<float>(threshold);
  const float* p = s.data_ptr<float>();
  const int64_t n = s.size(0);
  std::vector<int64_t> keep;
  bool all_below = true;
  for (int64_t i = 0; i < n; ++i) all_below = all_below && (p[i] < thr);
  if (all_below) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
      if (p[i] > p[best]) best = i;
    if (n > 0) keep.push_back(best);
    return keep;
  }
  for (int64_t i = 0; i < n; ++i)
    if (p[i] > thr) keep.push_back(i);
  return keep;
}

VideoObjects VideoObjects::From(int64_t first_frame) const {
  VideoObjects o;
  if (Size() == 0) return *this;
  const int64_t* f = frame_ids.data_ptr<int64_t>();
  int64_t start = Size();
  for (int64_t i = 0; i < Size(); ++i) {
    if (f[i] >= first_frame) {
      start = i;
      break;
    }
  }
  o.tokens = tokens.slice(0, start);
  o.points = points.slice(0, start);
  o.frame_ids = frame_ids.slice(0, start);
  return o;
}

VideoTokenCache::VideoTokenCache(std::vector<double> cfs, int64_t batch, int64_t max_cached_frames, const ImageOps& ops)
    : cfs_(std::move(cfs)), batch_(std::max<int64_t>(1, batch)), max_cached_(max_cached_frames), ops_(ops) {}

Result<std::vector<VideoTokenCache::FrameCrops>> VideoTokenCache::Encode(const torch::Tensor& frames, int64_t begin,
                                                                         int64_t end, TokenExtractor& ren) {
  std::vector<FrameCrops> out(static_cast<size_t>(std::max<int64_t>(0, end - begin)));
  if (end <= begin) return out;
  for (double cf : cfs_) {
    std::vector<torch::Tensor> crops;
    std::vector<std::pair<int64_t, Crop>> meta;
    auto flush = [&]() -> Status {
      if (crops.empty()) return Status::OK();
      VQ2D_ASSIGN_OR_RETURN(RenTokens rt, ren.Encode(torch::stack(crops)));
      if (rt.tokens.size(0) != static_cast<int64_t>(crops.size())) {
        return Status::Internal("REN returned a different number of images than it was given");
      }
      ren_images_ += static_cast<int64_t>(crops.size());
      for (size_t i = 0; i < meta.size(); ++i) {
        meta[i].second.tokens = rt.tokens[static_cast<int64_t>(i)].to(torch::kFloat32).contiguous();
        meta[i].second.points = rt.points.to(torch::kFloat32).contiguous();
        out[meta[i].first - begin].push_back(std::move(meta[i].second));
      }
      crops.clear();
      meta.clear();
      return Status::OK();
    };
    for (int64_t t = begin; t < end; ++t) {
      const cv::Mat img = TensorToMat(frames[t]);
      for (auto& c : SlidingWindowCrops(img, cf, ops_.sliding_window_overlap, ops_.crop_interpolation)) {
        crops.push_back(MatToTensor(c.image));
        Crop k;
        k.cf = cf;
        k.y0 = c.y;
        k.x0 = c.x;
        meta.emplace_back(t, std::move(k));
        if (static_cast<int64_t>(crops.size()) >= batch_) VQ2D_RETURN_IF_ERROR(flush());
      }
    }
    VQ2D_RETURN_IF_ERROR(flush());
  }
  return out;
}

void VideoTokenCache::FilterFrame(const FrameCrops& fc, int64_t t, const torch::Tensor& query_tokens, double threshold,
                                  std::vector<torch::Tensor>* toks, std::vector<torch::Tensor>* pts,
                                  std::vector<int64_t>* fids) const {
  for (const Crop& c : fc) {
    const std::vector<int64_t> keep = RenMatchingFilter(c.tokens, query_tokens, threshold);
    const torch::Tensor idx = torch::tensor(keep, torch::kInt64);
    toks->push_back(c.tokens.index_select(0, idx));
    // p / cf + crop_start in float32.
    torch::Tensor p = c.points.index_select(0, idx).clone();
    auto a = p.accessor<float, 2>();
    const float cf = static_cast<float>(c.cf);
    for (int64_t i = 0; i < p.size(0); ++i) {
      a[i][0] = a[i][0] / cf + static_cast<float>(c.y0);
      a[i][1] = a[i][1] / cf + static_cast<float>(c.x0);
    }
    pts->push_back(p);
    fids->insert(fids->end(), keep.size(), t);
  }
}

Result<VideoObjects> VideoTokenCache::Objects(const torch::Tensor& frames, int64_t end, const torch::Tensor& query_tokens,
                                              double threshold, TokenExtractor& ren) {
  if (frames.dim() != 4 || end > frames.size(0) || end < 0) {
    return Status::InvalidArgument(StrCat("video encoding: frames must be [T,H,W,3] with T >= ", end));
  }
  const int64_t have = static_cast<int64_t>(frames_.size());
  const int64_t cache_end = std::min(end, max_cached_);
  if (cache_end > have) {
    VQ2D_ASSIGN_OR_RETURN(auto enc, Encode(frames, have, cache_end, ren));
    for (auto& f : enc) frames_.push_back(std::move(f));
  }
  std::vector<FrameCrops> extra;
  const int64_t extra_begin = std::max<int64_t>(static_cast<int64_t>(frames_.size()), 0);
  if (end > extra_begin) {
    VQ2D_ASSIGN_OR_RETURN(extra, Encode(frames, extra_begin, end, ren));
  }
  std::vector<torch::Tensor> toks, pts;
  std::vector<int64_t> fids;
  for (int64_t t = 0; t < end; ++t) {
    const FrameCrops& fc = t < extra_begin ? frames_[t] : extra[t - extra_begin];
    FilterFrame(fc, t, query_tokens, threshold, &toks, &pts, &fids);
  }
  VideoObjects o;
  if (toks.empty()) {
    o.tokens = torch::zeros({0, query_tokens.size(1)}, torch::kFloat32);
    o.points = torch::zeros({0, 2}, torch::kFloat32);
    o.frame_ids = torch::zeros({0}, torch::kInt64);
    return o;
  }
  o.tokens = torch::cat(toks);
  o.points = torch::cat(pts);
  o.frame_ids = torch::tensor(fids, torch::kInt64);
  return o;
}

Result<std::vector<VideoObjects>> StreamVideoObjects(const torch::Tensor& frames, const std::vector<int64_t>& ends,
                                                     const std::vector<torch::Tensor>& query_tokens,
                                                     const std::vector<double>& cfs, double threshold,
                                                     TokenExtractor& ren, int64_t chunk_frames, int64_t* ren_images,
                                                     const ImageOps& ops, const FramesReady& ready) {
  if (ends.size() != query_tokens.size()) return Status::InvalidArgument("StreamVideoObjects: one end per query");
  int64_t max_end = 0;
  for (int64_t e : ends) max_end = std::max(max_end, e);
  if (frames.dim() != 4 || max_end > frames.size(0)) {
    return Status::InvalidArgument(StrCat("video encoding: frames must be [T,H,W,3] with T >= ", max_end));
  }
  const size_t nq = ends.size();
  std::vector<std::vector<torch::Tensor>> toks(nq), pts(nq);
  std::vector<std::vector<int64_t>> fids(nq);
  int64_t images = 0;
  for (int64_t b = 0; b < max_end; b += std::max<int64_t>(1, chunk_frames)) {
    const int64_t e = std::min(max_end, b + std::max<int64_t>(1, chunk_frames));
    if (ready) VQ2D_RETURN_IF_ERROR(ready(b, e));
    VideoTokenCache chunk(cfs, 16, 0, ops);  // encodes frames [b, e) once, keeps nothing
    VQ2D_ASSIGN_OR_RETURN(auto enc, chunk.EncodeRange(frames, b, e, ren));
    images += chunk.ren_images_encoded();
    for (size_t q = 0; q < nq; ++q) {
      const int64_t qe = std::min(ends[q], e);
      for (int64_t t = b; t < qe; ++t) chunk.FilterFrame(enc[t - b], t, query_tokens[q], threshold, &toks[q], &pts[q], &fids[q]);
    }
  }
  if (ren_images) *ren_images = images;
  std::vector<VideoObjects> out(nq);
  for (size_t q = 0; q < nq; ++q) {
    if (toks[q].empty()) {
      out[q].tokens = torch::zeros({0, query_tokens[q].size(1)}, torch::kFloat32);
      out[q].points = torch::zeros({0, 2}, torch::kFloat32);
      out[q].frame_ids = torch::zeros({0}, torch::kInt64);
      continue;
    }
    out[q].tokens = torch::cat(toks[q]);
    out[q].points = torch::cat(pts[q]);
    out[q].frame_ids = torch::tensor(fids[q], torch::kInt64);
  }
  return out;
}

Result<VideoObjects> EncodeVideo(const torch::Tensor& frames, int64_t end, const std::vector<double>& cfs,
                                 const torch::Tensor& query_tokens, double threshold, TokenExtractor& ren,
                                 const ImageOps& ops) {
  VideoTokenCache local(cfs, 16, 0, ops);
  return local.Objects(frames, end, query_tokens, threshold, ren);
}

ScoredList IntraFrameNms(const std::vector<float>& scores, const std::vector<int64_t>& frame_ids,
                         int64_t query_frame_number, bool fix_suppression_index, std::string* upstream_error,
                         double suppression, double keep_ratio) {
  ScoredList out;
  std::vector<int64_t> uniq = frame_ids;
  std::sort(uniq.begin(), uniq.end());
  uniq.erase(std::unique(uniq.begin(), uniq.end()), uniq.end());
  std::vector<int64_t> kept_frames;
  for (int64_t f : uniq) {
    float mx = -std::numeric_limits<float>::infinity();
    bool any = false;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (frame_ids[i] != f) continue;
      if (!any || scores[i] > mx || std::isnan(scores[i])) mx = scores[i];
      any = true;
    }
    // float32 tensor * python float: float32 product (exactly mx for upstream's 1.0).
    const float thr = static_cast<float>(keep_ratio) * mx;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (frame_ids[i] == f && scores[i] >= thr) {
        out.idxs.push_back(static_cast<int64_t>(i));
        out.scores.push_back(scores[i]);
        kept_frames.push_back(f);
      }
    }
  }
  if (std::binary_search(uniq.begin(), uniq.end(), query_frame_number)) {
    const float thr = static_cast<float>(suppression);
    int64_t p;
    if (fix_suppression_index) {
      p = -1;
      for (size_t i = 0; i < kept_frames.size(); ++i)
        if (kept_frames[i] == query_frame_number) p = static_cast<int64_t>(i);
    } else {
      p = query_frame_number - uniq.front();
    }
    const int64_t n = static_cast<int64_t>(out.scores.size());
    while (p >= 0) {
      if (p >= n) {
        if (upstream_error) *upstream_error = "IndexError";
        break;
      }
      if (!(out.scores[p] >= thr)) break;
      out.scores[p] = 0.0f;
      --p;
    }
  }
  return out;
}

ScoredList InterFrameNms(ScoredList in, double nms_threshold) {
  std::vector<std::pair<int64_t, float>> rec;
  std::vector<float>& s = in.scores;
  const int64_t n = static_cast<int64_t>(s.size());
  const float t = static_cast<float>(nms_threshold);
  while (n > 0) {
    int64_t m = 0;
    for (int64_t i = 1; i < n; ++i)
      if (s[i] > s[m]) m = i;
    if (s[m] == 0.0f) break;
    rec.emplace_back(in.idxs[m], s[m]);
    const float v = t * s[m];
    for (int64_t j = m - 1; j >= 0 && s[j] > v; --j) s[j] = 0.0f;
    for (int64_t j = m + 1; j < n && s[j] > v; ++j) s[j] = 0.0f;
    s[m] = 0.0f;
  }
  std::stable_sort(rec.begin(), rec.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ScoredList out;
  for (const auto& r : rec) {
    out.idxs.push_back(r.first);
    out.scores.push_back(r.second);
  }
  return out;
}

ScoredList TopK(const ScoredList& in, int64_t k) {
  if (k >= static_cast<int64_t>(in.scores.size()) || k <= 0) return in;
  std::vector<float> sorted = in.scores;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const float thr = sorted[k - 1];
  ScoredList out;
  for (size_t i = 0; i < in.scores.size(); ++i) {
    if (in.scores[i] >= thr) {
      out.scores.push_back(in.scores[i]);
      out.idxs.push_back(in.idxs[i]);
    }
  }
  return out;
}

ScoredList TopP(const ScoredList& in, double top_p) {
  ScoredList out;
  if (in.scores.empty()) return out;
  const float mx = *std::max_element(in.scores.begin(), in.scores.end());
  float thr = static_cast<float>(top_p);
  if (thr > mx) thr = mx;
  for (size_t i = 0; i < in.scores.size(); ++i) {
    if (in.scores[i] >= thr) {
      out.scores.push_back(in.scores[i]);
      out.idxs.push_back(in.idxs[i]);
    }
  }
  return out;
}

Selection SelectCandidates(const torch::Tensor& object_tokens, const torch::Tensor& query_tokens,
                           const torch::Tensor& frame_ids, const torch::Tensor& attn_mask, int64_t query_frame_number,
                           const SelectorParams& params) {
  Selection sel;
  const int64_t n = object_tokens.size(0);
  if (n == 0 || query_tokens.size(0) == 0) {
    sel.object_scores = torch::zeros({n}, torch::kFloat32);
    sel.upstream_error = "RuntimeError";
    return sel;
  }
  torch::Tensor cos, qidx;
  MaxCosine(object_tokens, query_tokens, &cos, &qidx);
  torch::Tensor scores = cos;
  if (attn_mask.defined()) {
    scores = torch::where(attn_mask.to(torch::kFloat32) == 1, cos, torch::zeros_like(cos)).contiguous();
  }
  sel.object_scores = scores;
  std::vector<float> s(scores.data_ptr<float>(), scores.data_ptr<float>() + n);
  torch::Tensor fid = frame_ids.to(torch::kInt64).contiguous();
  std::vector<int64_t> f(fid.data_ptr<int64_t>(), fid.data_ptr<int64_t>() + n);
  ScoredList l = IntraFrameNms(s, f, query_frame_number, params.fix_suppression_index, &sel.upstream_error,
                               params.query_frame_suppression, params.intra_frame_keep_ratio);
  if (params.nms_threshold > 0) {
    l = InterFrameNms(std::move(l), params.nms_threshold);
  } else if (sel.upstream_error.empty()) {
    sel.upstream_error = "TypeError";  // upstream compares nms_window=None > 1
  }
  l = TopK(l, params.top_k);
  if (l.scores.empty()) {
    if (sel.upstream_error.empty()) sel.upstream_error = "RuntimeError";
    return sel;
  }
  l = TopP(l, params.top_p);
  sel.scores = l.scores;
  sel.idxs = l.idxs;
  const int64_t* q = qidx.data_ptr<int64_t>();
  for (int64_t i : sel.idxs) sel.query_match_idxs.push_back(q[i]);
  return sel;
}

}  // namespace vq2d::pipeline
