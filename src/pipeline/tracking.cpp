#include "vq2d/pipeline/tracking.h"

#include <algorithm>
#include <map>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_tokens.h"

namespace vq2d::pipeline {

namespace F = torch::nn::functional;

Result<CropTokens> ModelBoxTokenGenerator::Generate(const torch::Tensor& crops,
                                                    const std::vector<std::array<double, 4>>& boxes_xywh) {
  if (crops.dim() != 4 || crops.size(0) != static_cast<int64_t>(boxes_xywh.size())) {
    return Status::InvalidArgument("generate_token_from_bbox: crops must be [N,H,W,3] with one box per crop");
  }
  CropTokens out;
  if (crops.size(0) == 0) return out;
  VQ2D_ASSIGN_OR_RETURN(RenTokens rt, ren_->Encode(crops));
  const torch::Tensor pts = rt.points.to(torch::kFloat32).contiguous();
  out.tokens = torch::zeros({crops.size(0), rt.tokens.size(2)}, torch::kFloat32);
  for (int64_t i = 0; i < crops.size(0); ++i) {
    VQ2D_RETURN_IF_ERROR(sam_->SetImage(SamBlur(TensorToMat(crops[i]), ops_.sam_blur_kernel)));
    const auto& b = boxes_xywh[i];
    VQ2D_ASSIGN_OR_RETURN(cv::Mat m, sam_->PredictBox({b[0], b[1], b[0] + b[2], b[1] + b[3]}));
    const cv::Mat refined = RefineMask(m);
    if (cv::countNonZero(refined) == 0) {
      out.kind.push_back(-1);
      continue;
    }
    const int k = ChooseTokenByDistance(refined, pts.data_ptr<float>(), pts.size(0), ops_.token_distance_mask_size);
    out.kind.push_back(k >= 0 ? 1 : 0);
    if (k >= 0) out.tokens[i].copy_(rt.tokens[i][k].to(torch::kFloat32));
  }
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
  if (get_tokens) {
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

ExpansionResult ExpandQueries(const torch::Tensor& frames, const QuerySet& queries, const VideoObjects& objects,
                              const Track& track, const torch::Tensor& tracked_tokens, const ExpansionParams& p) {
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
  const int64_t m = tracked_tokens.defined() ? tracked_tokens.size(0) : 0;
  const int64_t L = static_cast<int64_t>(track.size());
  if (m == 0) return r;
  const int64_t ntpf = m / L;
  if (ntpf == 0) {
    r.upstream_error = "ZeroDivisionError";
    return r;
  }
  torch::Tensor sims;  // upstream's float32 cosines (F.normalize + mm + max)
  MaxCosine(tracked_tokens, queries.tokens, &sims, nullptr);
  const float thr = static_cast<float>(p.query_selection_threshold);
  const float* s = sims.data_ptr<float>();
  std::map<int64_t, bool> blurry;
  std::vector<torch::Tensor> add;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t t = i / ntpf;
    if (t >= L) {
      r.upstream_error = "IndexError";  // tokens not a multiple of the track length (quirk #2)
      break;
    }
    const TrackBox& tb = track[t];
    if (std::min(tb.w, tb.h) <= p.bbox_size_threshold) continue;
    auto it = blurry.find(t);
    if (it == blurry.end()) {
      it = blurry.emplace(t, IsBlurry(TensorToMat(frames[tb.frame]), p.blur_threshold, p.fix_blur_gray).blurry).first;
    }
    if (it->second) continue;
    if (!(s[i] > thr)) continue;
    const int64_t src = p.fix_token_index ? i : t;
    add.push_back(tracked_tokens[src].to(torch::kFloat32));
    r.appended_token_source_index.push_back(src);
    r.queries.frame_numbers.push_back(tb.frame);
    r.queries.boxes.push_back({static_cast<double>(tb.x), static_cast<double>(tb.y), static_cast<double>(tb.w),
                               static_cast<double>(tb.h)});
  }
  if (!add.empty()) r.queries.tokens = torch::cat({queries.tokens.to(torch::kFloat32), torch::stack(add)});
  return r;
}

}  // namespace vq2d::pipeline
