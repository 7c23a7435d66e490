#include "vq2d/pipeline/tracking.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "vq2d/base/check.h"

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_tokens.h"
#include "vq2d/pipeline/tracked_tokens.h"

namespace vq2d::pipeline {

namespace F = torch::nn::functional;

Result<CropSelection> BoxTokenGenerator::SelectCrops(const torch::Tensor&, const std::vector<std::array<double, 4>>&,
                                                     int64_t) {
  return Status::Internal("this token generator computes tokens only through Generate (SupportsOnDemand is false)");
}

Result<torch::Tensor> BoxTokenGenerator::CropTokenRows(const torch::Tensor&, const CropSelection&, int64_t) {
  return Status::Internal("this token generator computes tokens only through Generate (SupportsOnDemand is false)");
}

Result<std::vector<torch::Tensor>> BoxTokenGenerator::CropTokenRowsOfFrames(const std::vector<torch::Tensor>& crops,
                                                                           const std::vector<const CropSelection*>& sel,
                                                                           const std::vector<int64_t>& frame_pos) {
  if (sel.size() != crops.size() || frame_pos.size() != crops.size()) {
    return Status::Internal("CropTokenRowsOfFrames: one selection and position per frame");
  }
  std::vector<torch::Tensor> out;
  for (size_t f = 0; f < crops.size(); ++f) {
    VQ2D_ASSIGN_OR_RETURN(torch::Tensor rows, CropTokenRows(crops[f], *sel[f], frame_pos[f]));
    out.push_back(std::move(rows));
  }
  return out;
}

Result<CropSelection> ModelBoxTokenGenerator::SelectCrops(const torch::Tensor& crops,
                                                          const std::vector<std::array<double, 4>>& boxes_xywh,
                                                          int64_t /*frame_pos*/) {
  if (crops.dim() != 4 || crops.size(0) != static_cast<int64_t>(boxes_xywh.size())) {
    return Status::InvalidArgument("generate_token_from_bbox: crops must be [N,H,W,3] with one box per crop");
  }
  CropSelection out;
  if (crops.size(0) == 0) return out;
  VQ2D_ASSIGN_OR_RETURN(torch::Tensor points, ren_->GridPoints(crops.size(1), crops.size(2)));
  const torch::Tensor pts = points.to(torch::kFloat32).contiguous();
  if (batch_) {
    std::vector<cv::Mat> blurred;
    for (int64_t i = 0; i < crops.size(0); ++i) blurred.push_back(SamBlur(TensorToMat(crops[i]), ops_.sam_blur_kernel));
    VQ2D_RETURN_IF_ERROR(sam_->SetImages(blurred));
  }
  for (int64_t i = 0; i < crops.size(0); ++i) {
    if (batch_) {
      VQ2D_RETURN_IF_ERROR(sam_->UseImage(static_cast<size_t>(i)));
    } else {
      VQ2D_RETURN_IF_ERROR(sam_->SetImage(SamBlur(TensorToMat(crops[i]), ops_.sam_blur_kernel)));
    }
    const auto& b = boxes_xywh[i];
    VQ2D_ASSIGN_OR_RETURN(cv::Mat m, sam_->PredictBox({b[0], b[1], b[0] + b[2], b[1] + b[3]}));
    const cv::Mat refined = RefineMask(m);
    if (cv::countNonZero(refined) == 0) {
      out.kind.push_back(-1);
      out.token.push_back(-1);
      continue;
    }
    const int k = ChooseTokenByDistance(refined, pts.data_ptr<float>(), pts.size(0), ops_.token_distance_mask_size);
    out.kind.push_back(k >= 0 ? 1 : 0);
    out.token.push_back(k);
  }
  return out;
}

Result<torch::Tensor> ModelBoxTokenGenerator::CropTokenRows(const torch::Tensor& crops, const CropSelection& sel,
                                                            int64_t /*frame_pos*/) {
  if (crops.dim() != 4 || crops.size(0) != static_cast<int64_t>(sel.kind.size())) {
    return Status::InvalidArgument("generate_token_from_bbox: one crop selection per crop");
  }
  // REN on all N crops as one call (the batching of the eager path, so the values are the same bits).
  VQ2D_ASSIGN_OR_RETURN(RenTokens rt, ren_->Encode(crops));
  return RowsFromTokens(rt.tokens, sel);
}

torch::Tensor ModelBoxTokenGenerator::RowsFromTokens(const torch::Tensor& tokens, const CropSelection& sel) {
  const int64_t n = static_cast<int64_t>(sel.kind.size());
  torch::Tensor rows = torch::zeros({n, tokens.size(2)}, torch::kFloat32);
  for (int64_t i = 0; i < n; ++i)
    if (sel.kind[i] == 1) rows[i].copy_(tokens[i][sel.token[i]].to(torch::kFloat32));
  return rows;
}

Result<std::vector<torch::Tensor>> ModelBoxTokenGenerator::CropTokenRowsOfFrames(
    const std::vector<torch::Tensor>& crops, const std::vector<const CropSelection*>& sel,
    const std::vector<int64_t>& frame_pos) {
  if (!batch_ || crops.size() <= 1) return BoxTokenGenerator::CropTokenRowsOfFrames(crops, sel, frame_pos);
  if (sel.size() != crops.size()) return Status::Internal("CropTokenRowsOfFrames: one selection per frame");
  for (size_t f = 0; f < crops.size(); ++f) {
    if (crops[f].dim() != 4 || crops[f].size(0) != static_cast<int64_t>(sel[f]->kind.size())) {
      return Status::InvalidArgument("generate_token_from_bbox: one crop selection per crop");
    }
    if (crops[f].sizes().slice(1) != crops[0].sizes().slice(1)) {  // crops of different sizes: per frame
      return BoxTokenGenerator::CropTokenRowsOfFrames(crops, sel, frame_pos);
    }
  }
  // Every frame's crops in one REN call (chunks of models.ren_batch_size over frame x crop).
  VQ2D_ASSIGN_OR_RETURN(RenTokens rt, ren_->Encode(torch::cat(crops)));
  std::vector<torch::Tensor> out;
  int64_t at = 0;
  for (size_t f = 0; f < crops.size(); ++f) {
    const int64_t n = crops[f].size(0);
    out.push_back(RowsFromTokens(rt.tokens.narrow(0, at, n), *sel[f]));
    at += n;
  }
  return out;
}

Result<CropTokens> ModelBoxTokenGenerator::Generate(const torch::Tensor& crops,
                                                    const std::vector<std::array<double, 4>>& boxes_xywh) {
  VQ2D_ASSIGN_OR_RETURN(CropSelection sel, SelectCrops(crops, boxes_xywh, 0));
  CropTokens out;
  if (crops.size(0) == 0) return out;
  VQ2D_ASSIGN_OR_RETURN(out.tokens, CropTokenRows(crops, sel, 0));
  out.kind = std::move(sel.kind);
  return out;
}

torch::Tensor AssembleCropTokens(const std::vector<CropTokens>& parts, bool keep_alignment, std::string* upstream_error) {
  int64_t D = 0;
  bool any_row = false, any_token = false;
  std::vector<torch::Tensor> rows;
  for (const auto& p : parts) {
    if (p.tokens.defined()) D = p.tokens.size(1);
  }
  for (const auto& p : parts) {
    for (size_t i = 0; i < p.kind.size(); ++i) {
      if (p.kind[i] < 0 && !keep_alignment) continue;
      any_row = true;
      if (p.kind[i] == 1) {
        any_token = true;
        rows.push_back(p.tokens[static_cast<int64_t>(i)]);
      } else {
        rows.push_back(torch::zeros({D}, torch::kFloat32));
      }
    }
  }
  if (!any_row || !any_token) {
    if (upstream_error) *upstream_error = !any_row ? "RuntimeError" : "TypeError";
    return torch::zeros({0, D}, torch::kFloat32);
  }
  return torch::stack(rows);
}

namespace {

// One SAM 2 pass: window [s, e) of the sequence seq(i) (i in [0, n)), prompt at `prompt`.
// Returns (sequence index, box) per yielded frame until the first empty mask; `record` (optional)
// gets what the pass saw and did.
Result<std::vector<std::pair<int64_t, std::array<int64_t, 4>>>> Pass(
    const torch::Tensor& frames, int64_t n, const std::function<int64_t(int64_t)>& seq, int64_t prompt,
    const std::array<float, 4>& box, VideoTracker& tracker, int64_t half_span, TrackPass* record) {
  const int64_t s = std::max<int64_t>(0, prompt - half_span);
  const int64_t e = std::min<int64_t>(n, prompt + half_span);
  std::vector<std::pair<int64_t, std::array<int64_t, 4>>> out;
  const std::array<double, 4> xyxy = {box[0], box[1], static_cast<double>(box[0] + box[2]),
                                      static_cast<double>(box[1] + box[3])};
  if (record) {
    record->prompt_frame = seq(prompt);
    record->window_first = s < e ? seq(s) : seq(prompt);
    record->window_last = s < e ? seq(e - 1) : seq(prompt);
    record->prompt_box_xyxy = xyxy;
  }
  if (prompt < s || prompt >= e) return out;
  FrameSource src;
  src.num_frames = e - s;
  src.height = frames.size(1);
  src.width = frames.size(2);
  src.get = [&frames, seq, s](int64_t i) { return frames[seq(s + i)]; };
  VQ2D_RETURN_IF_ERROR(tracker.Track(src, prompt - s, xyxy, [&](int64_t idx, const cv::Mat& mask, float score) {
    auto b = MaskToBox(mask);
    if (record) {
      TrackPassFrame f;
      f.frame = seq(s + idx);
      f.empty = !b.ok();
      if (b.ok()) f.box = *b;
      f.object_score_logit = score;
      record->frames.push_back(f);
    }
    if (!b.ok()) return false;  // stop before the first empty mask
    out.emplace_back(s + idx, *b);
    return true;
  }));
  return out;
}

}  // namespace

Result<Track> TrackCandidate(const torch::Tensor& frames, int64_t fid, const std::array<float, 4>& box_xywh,
                             int64_t query_timestep, VideoTracker& tracker, const TrackingParams& params,
                             std::vector<TrackPass>* passes) {
  const int64_t qt = query_timestep;
  if (frames.dim() != 4 || qt < 0 || qt >= frames.size(0)) {
    return Status::InvalidArgument(StrCat("track: query_timestep ", qt, " outside the clip's ", frames.size(0), " frames"));
  }
  const int64_t n = qt + 1;
  TrackPass fwd_rec, bwd_rec;
  bwd_rec.reverse = true;
  VQ2D_ASSIGN_OR_RETURN(auto fwd, Pass(frames, n, [](int64_t i) { return i; }, fid, box_xywh, tracker, params.half_span,
                                       passes ? &fwd_rec : nullptr));
  VQ2D_ASSIGN_OR_RETURN(auto bwd, Pass(frames, n, [qt](int64_t i) { return qt - i; }, qt - fid, box_xywh, tracker,
                                      params.half_span, passes ? &bwd_rec : nullptr));
  if (passes) {
    passes->push_back(std::move(fwd_rec));
    passes->push_back(std::move(bwd_rec));
  }
  Track track;
  // reverse(backward)[:-1]: the backward pass's first element (its prompt frame) is dropped.
  for (size_t k = bwd.size(); k-- > 1;) {
    const auto& b = bwd[k].second;
    track.push_back(TrackBox{qt - bwd[k].first, b[0], b[1], b[2], b[3]});
  }
  for (const auto& f : fwd) track.push_back(TrackBox{f.first, f.second[0], f.second[1], f.second[2], f.second[3]});
  return track;
}

Result<TrackPredictionResult> PredictTrack(const torch::Tensor& frames, const Candidates& c, TrackMode mode,
                                           bool get_tokens, int64_t query_timestep, int64_t original_query_frame,
                                           VideoTracker& tracker, BoxTokenGenerator* tokens,
                                           const TrackingParams& params) {
  TrackPredictionResult r;
  if (c.size() == 0) {
    r.upstream_error = "RuntimeError";  // argmax / [-1:] of no candidates
    return r;
  }
  size_t idx = c.size() - 1;
  if (mode == TrackMode::kMax) {
    idx = 0;
    for (size_t i = 1; i < c.size(); ++i)
      if (c.scores[i] > c.scores[idx]) idx = i;
  }
  VQ2D_ASSIGN_OR_RETURN(r.track, TrackCandidate(frames, c.frame_ids[idx], c.boxes[idx], query_timestep, tracker, params,
                                                &r.passes));
  r.score = static_cast<double>(c.scores[idx]);
  if (get_tokens && params.lazy_tokens && mode == TrackMode::kMax && tokens && tokens->SupportsOnDemand()) {
    VQ2D_ASSIGN_OR_RETURN(r.lazy, TrackedTokens::Create(frames, r.track, tokens, params));
    if (!r.track.empty()) {
      VQ2D_ASSIGN_OR_RETURN(std::string err, r.lazy->UpstreamError());
      if (!err.empty() && r.upstream_error.empty()) r.upstream_error = err;
    }
  } else if (get_tokens) {
    if (!tokens) return Status::InvalidArgument("PredictTrack: get_tokens needs a token generator");
    std::vector<CropTokens> parts;
    for (const TrackBox& tb : r.track) {
      const cv::Mat img = TensorToMat(frames[tb.frame]);
      std::vector<torch::Tensor> crops;
      std::vector<std::array<double, 4>> boxes;
      for (double cf : params.query_cropping_factors) {
        VQ2D_ASSIGN_OR_RETURN(CropWindow w, CropWindowForBox(img.cols, img.rows, {tb.x, tb.y, tb.w, tb.h}, cf,
                                                             BoxContext::kTensorInt64));
        crops.push_back(MatToTensor(CutAndResize(img, w, params.crop_interpolation)));
        boxes.push_back(w.box);
      }
      VQ2D_ASSIGN_OR_RETURN(CropTokens ct, tokens->Generate(torch::stack(crops), boxes));
      parts.push_back(std::move(ct));
    }
    std::string err;
    r.tokens = AssembleCropTokens(parts, params.keep_token_alignment, &err);
    if (!err.empty() && r.upstream_error.empty() && !r.track.empty()) r.upstream_error = err;
  }
  if (mode == TrackMode::kLast) {
    for (size_t i = 0; i < r.track.size(); ++i) {
      if (r.track[i].frame != original_query_frame) continue;
      if (i + 1 == r.track.size()) {
        r.score = 0.0;
      } else {
        if (r.tokens.defined() && !r.track.empty()) {
          const int64_t ntpf = r.tokens.size(0) / static_cast<int64_t>(r.track.size());
          r.tokens = r.tokens.slice(0, std::min<int64_t>(r.tokens.size(0), ntpf * static_cast<int64_t>(i + 1)));
        }
        r.track.erase(r.track.begin(), r.track.begin() + static_cast<int64_t>(i + 1));
      }
      break;
    }
  }
  return r;
}

namespace {

// The tracked tokens as ExpandQueries reads them: a tensor (eager) or TrackedTokens (on demand).
struct TokenRows {
  const torch::Tensor* tensor = nullptr;
  TrackedTokens* lazy = nullptr;
  Result<int64_t> Rows() const {
    if (tensor) return tensor->defined() ? tensor->size(0) : int64_t{0};
    return lazy->Rows();
  }
  Result<torch::Tensor> All() const {
    if (tensor) return tensor->to(torch::kFloat32);
    return lazy->All();
  }
  Result<torch::Tensor> Gather(const std::vector<int64_t>& idx, int64_t dim) const {
    if (tensor) return tensor->index_select(0, torch::tensor(idx, torch::kInt64)).to(torch::kFloat32);
    return lazy->Gather(idx, dim);
  }
};

// max over the queries of upstream's float32 cosine, per row of `rows` (MaxCosine: each row's value
// depends on that row and the queries only, so a subset of rows gets the same bits as all rows).
torch::Tensor MaxSimilarity(const torch::Tensor& rows, const torch::Tensor& query_tokens) {
  torch::Tensor s;
  MaxCosine(rows, query_tokens, &s, nullptr);
  return s;
}

Result<ExpansionResult> Expand(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                               const Track& track, const TokenRows& tokens, const ExpansionParams& p) {
  ExpansionResult r;
  r.queries = queries;
  r.objects = objects;
  if (track.empty()) {
    r.upstream_error = "IndexError";  // predicted_track[-1] of an empty track
    return r;
  }
  const int64_t n_obj = objects.Size();
  if (n_obj == 0) {
    r.upstream_error = "IndexError";
    return r;
  }
  const int64_t* fid = objects.frame_ids.data_ptr<int64_t>();
  const int64_t last = track.back().frame;
  if (last >= fid[n_obj - 1]) return r;  // upstream returns None
  int64_t start = -1;
  for (int64_t i = 0; i < n_obj; ++i)
    if (fid[i] == last + 1) {
      start = i;
      break;
    }
  if (start < 0) {  // no object on the next frame: upstream IndexError; use the next frame with objects
    r.upstream_error = "IndexError";
    for (int64_t i = 0; i < n_obj; ++i)
      if (fid[i] > last) {
        start = i;
        break;
      }
  }
  r.object_start_index = start;
  r.objects = objects.From(fid[start]);
  r.expanded = true;
  VQ2D_ASSIGN_OR_RETURN(const int64_t m, tokens.Rows());
  const int64_t L = static_cast<int64_t>(track.size());
  if (m == 0) return r;
  const int64_t ntpf = m / L;
  if (ntpf == 0) {
    r.upstream_error = "ZeroDivisionError";
    return r;
  }
  // The rows whose similarity upstream compares: frame t = i / ntpf passes the box-size and blur checks.
  std::map<int64_t, bool> blurry;
  std::vector<int64_t> read;
  bool index_error = false;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t t = i / ntpf;
    if (t >= L) {
      index_error = true;  // tokens not a multiple of the track length (quirk #2)
      break;
    }
    const TrackBox& tb = track[t];
    if (std::min(tb.w, tb.h) <= p.bbox_size_threshold) continue;
    auto it = blurry.find(t);
    if (it == blurry.end()) {
      it = blurry.emplace(t, IsBlurry(TensorToMat(frames[tb.frame]), p.blur_threshold, p.fix_blur_gray).blurry).first;
    }
    if (it->second) continue;
    read.push_back(i);
  }
  const float thr = static_cast<float>(p.query_selection_threshold);
  const int64_t D = queries.tokens.size(1);
  std::vector<float> sim(read.size());
  torch::Tensor all;  // every row (the eager source holds them all already)
  if (tokens.tensor) {
    VQ2D_ASSIGN_OR_RETURN(all, tokens.All());
    if (!read.empty()) {
      const torch::Tensor s = MaxSimilarity(all, queries.tokens);
      const float* sp = s.data_ptr<float>();
      for (size_t j = 0; j < read.size(); ++j) sim[j] = sp[read[j]];
    }
  } else if (!read.empty()) {
    VQ2D_ASSIGN_OR_RETURN(torch::Tensor rows, tokens.Gather(read, D));
    const torch::Tensor s = MaxSimilarity(rows, queries.tokens);
    const float* sp = s.data_ptr<float>();
    for (size_t j = 0; j < read.size(); ++j) sim[j] = sp[j];
  }
  std::vector<torch::Tensor> add;
  for (size_t j = 0; j < read.size(); ++j) {
    if (!(sim[j] > thr)) continue;
    const int64_t i = read[j], t = i / ntpf;
    const TrackBox& tb = track[t];
    const int64_t src = p.fix_token_index ? i : t;
    if (all.defined()) {
      add.push_back(all[src]);
    } else {
      VQ2D_ASSIGN_OR_RETURN(torch::Tensor row, tokens.Gather({src}, D));
      add.push_back(row[0]);
    }
    r.appended_token_source_index.push_back(src);
    r.queries.frame_numbers.push_back(tb.frame);
    r.queries.boxes.push_back({static_cast<double>(tb.x), static_cast<double>(tb.y), static_cast<double>(tb.w),
                               static_cast<double>(tb.h)});
  }
  if (index_error) r.upstream_error = "IndexError";
  if (!add.empty()) r.queries.tokens = torch::cat({queries.tokens.to(torch::kFloat32), torch::stack(add)});
  return r;
}

}  // namespace

ExpansionResult ExpandQueries(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                              const Track& track, const torch::Tensor& tracked_tokens, const ExpansionParams& p) {
  TokenRows rows;
  rows.tensor = &tracked_tokens;
  auto r = Expand(frames, queries, objects, track, rows, p);
  VQ2D_CHECK(r.ok()) << r.status().ToString();  // a tensor source cannot fail
  return std::move(r).value();
}

Result<ExpansionResult> ExpandQueries(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                                      const Track& track, TrackedTokens& tracked_tokens, const ExpansionParams& p) {
  TokenRows rows;
  rows.lazy = &tracked_tokens;
  return Expand(frames, queries, objects, track, rows, p);
}

}  // namespace vq2d::pipeline
