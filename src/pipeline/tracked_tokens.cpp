#include "vq2d/pipeline/tracked_tokens.h"

#include <algorithm>

#include "vq2d/pipeline/geometry.h"
#include "vq2d/pipeline/query_tokens.h"

namespace vq2d::pipeline {

TrackedTokens::TrackedTokens(const torch::Tensor& frames, Track track, BoxTokenGenerator* generator,
                             const TrackingParams& params)
    : frames_(frames), track_(std::move(track)), gen_(generator), params_(params), f_(track_.size()) {}

Result<std::shared_ptr<TrackedTokens>> TrackedTokens::Create(const torch::Tensor& frames, Track track,
                                                             BoxTokenGenerator* generator, const TrackingParams& params) {
  if (!generator || !generator->SupportsOnDemand()) {
    return Status::Internal("TrackedTokens: the token generator does not compute tokens on demand");
  }
  std::shared_ptr<TrackedTokens> t(new TrackedTokens(frames, std::move(track), generator, params));
  const int W = static_cast<int>(frames.size(2)), H = static_cast<int>(frames.size(1));
  for (size_t f = 0; f < t->track_.size(); ++f) {
    const TrackBox& tb = t->track_[f];
    for (double cf : params.query_cropping_factors) {
      VQ2D_ASSIGN_OR_RETURN(CropWindow w, CropWindowForBox(W, H, {tb.x, tb.y, tb.w, tb.h}, cf, BoxContext::kTensorInt64));
      t->f_[f].windows.push_back(w);
    }
  }
  generator->BeginTrack();
  return t;
}

int64_t TrackedTokens::frames_masked() const {
  return std::count_if(f_.begin(), f_.end(), [](const Frame& f) { return f.sel.has_value(); });
}
int64_t TrackedTokens::frames_encoded() const {
  return std::count_if(f_.begin(), f_.end(), [](const Frame& f) { return f.rows.defined(); });
}

Status TrackedTokens::Cut(size_t f) {
  Frame& fr = f_[f];
  if (fr.crops.defined()) return Status::OK();
  const cv::Mat img = TensorToMat(frames_[track_[f].frame]);
  std::vector<torch::Tensor> crops;
  for (const CropWindow& w : fr.windows) {
    crops.push_back(MatToTensor(CutAndResize(img, w, params_.crop_interpolation)));
    fr.boxes.push_back(w.box);
  }
  fr.crops = torch::stack(crops);
  return Status::OK();
}

Status TrackedTokens::Select(size_t f) {
  if (f_[f].sel) return Status::OK();
  VQ2D_RETURN_IF_ERROR(Cut(f));
  VQ2D_ASSIGN_OR_RETURN(CropSelection s, gen_->SelectCrops(f_[f].crops, f_[f].boxes, static_cast<int64_t>(f)));
  if (s.kind.size() != static_cast<size_t>(f_[f].crops.size(0)) || s.token.size() != s.kind.size()) {
    return Status::Internal("token generator: SelectCrops must give one kind and token per crop");
  }
  f_[f].sel = std::move(s);
  return Status::OK();
}

Status TrackedTokens::Encode(size_t f) {
  if (f_[f].rows.defined()) return Status::OK();
  VQ2D_RETURN_IF_ERROR(Select(f));
  VQ2D_ASSIGN_OR_RETURN(torch::Tensor rows, gen_->CropTokenRows(f_[f].crops, *f_[f].sel, static_cast<int64_t>(f)));
  if (rows.dim() != 2 || rows.size(0) != f_[f].crops.size(0)) {
    return Status::Internal("token generator: CropTokenRows must give [N,D] for N crops");
  }
  dim_ = rows.size(1);
  f_[f].rows = rows.to(torch::kFloat32);
  return Status::OK();
}

Result<std::string> TrackedTokens::UpstreamError() {
  if (error_) return *error_;
  bool any_row = params_.keep_token_alignment && !track_.empty() && !params_.query_cropping_factors.empty();
  for (size_t f = 0; f < f_.size(); ++f) {
    VQ2D_RETURN_IF_ERROR(Select(f));
    for (int k : f_[f].sel->kind) {
      if (k == 1) {
        error_ = std::string();
        return *error_;
      }
      any_row = any_row || k >= 0;
    }
  }
  error_ = std::string(any_row ? "TypeError" : "RuntimeError");
  return *error_;
}

Result<int64_t> TrackedTokens::Rows() {
  VQ2D_ASSIGN_OR_RETURN(std::string err, UpstreamError());
  if (!err.empty()) return int64_t{0};
  if (params_.keep_token_alignment) {
    return static_cast<int64_t>(track_.size() * params_.query_cropping_factors.size());
  }
  if (row_start_.empty()) {
    int64_t r = 0;
    for (size_t f = 0; f < f_.size(); ++f) {
      VQ2D_RETURN_IF_ERROR(Select(f));
      row_start_.push_back(r);
      for (int k : f_[f].sel->kind) r += k >= 0;
    }
    row_start_.push_back(r);
  }
  return row_start_.back();
}

Result<std::pair<size_t, size_t>> TrackedTokens::Locate(int64_t r) {
  VQ2D_ASSIGN_OR_RETURN(int64_t m, Rows());
  if (r < 0 || r >= m) return Status::Internal(StrCat("tracked tokens: row ", r, " outside [0, ", m, ")"));
  if (params_.keep_token_alignment) {
    const int64_t n = static_cast<int64_t>(params_.query_cropping_factors.size());
    return std::make_pair(static_cast<size_t>(r / n), static_cast<size_t>(r % n));
  }
  const size_t f = static_cast<size_t>(std::upper_bound(row_start_.begin(), row_start_.end(), r) - row_start_.begin()) - 1;
  int64_t left = r - row_start_[f];
  const auto& kind = f_[f].sel->kind;
  for (size_t c = 0; c < kind.size(); ++c) {
    if (kind[c] < 0) continue;
    if (left-- == 0) return std::make_pair(f, c);
  }
  return Status::Internal("tracked tokens: row mapping out of step with the masks");
}

Status TrackedTokens::EncodeFrames(const std::vector<size_t>& frames) {
  std::vector<size_t> todo;
  for (size_t f : frames) {
    if (f_[f].rows.defined() || std::find(todo.begin(), todo.end(), f) != todo.end()) continue;
    VQ2D_RETURN_IF_ERROR(Select(f));
    todo.push_back(f);
  }
  if (todo.size() <= 1) return todo.empty() ? Status::OK() : Encode(todo[0]);
  std::vector<torch::Tensor> crops;
  std::vector<const CropSelection*> sel;
  std::vector<int64_t> pos;
  for (size_t f : todo) {
    crops.push_back(f_[f].crops);
    sel.push_back(&*f_[f].sel);
    pos.push_back(static_cast<int64_t>(f));
  }
  VQ2D_ASSIGN_OR_RETURN(std::vector<torch::Tensor> rows, gen_->CropTokenRowsOfFrames(crops, sel, pos));
  if (rows.size() != todo.size()) return Status::Internal("token generator: CropTokenRowsOfFrames: one tensor per frame");
  for (size_t k = 0; k < todo.size(); ++k) {
    Frame& fr = f_[todo[k]];
    if (rows[k].dim() != 2 || rows[k].size(0) != fr.crops.size(0)) {
      return Status::Internal("token generator: CropTokenRows must give [N,D] for N crops");
    }
    dim_ = rows[k].size(1);
    fr.rows = rows[k].to(torch::kFloat32);
  }
  return Status::OK();
}

Result<torch::Tensor> TrackedTokens::Gather(const std::vector<int64_t>& idx, int64_t dim) {
  std::vector<std::pair<size_t, size_t>> where;
  std::vector<size_t> to_encode;  // batch_frames: frames whose tokens are read, encoded together below
  for (int64_t r : idx) {
    VQ2D_ASSIGN_OR_RETURN(auto fc, Locate(r));
    VQ2D_RETURN_IF_ERROR(Select(fc.first));
    if (f_[fc.first].sel->kind[fc.second] == 1) {
      if (params_.batch_frames) {
        to_encode.push_back(fc.first);
      } else {
        VQ2D_RETURN_IF_ERROR(Encode(fc.first));
      }
    }
    where.push_back(fc);
  }
  if (params_.batch_frames) VQ2D_RETURN_IF_ERROR(EncodeFrames(to_encode));
  const int64_t D = dim_ > 0 ? dim_ : dim;
  torch::Tensor out = torch::zeros({static_cast<int64_t>(idx.size()), D}, torch::kFloat32);
  for (size_t i = 0; i < where.size(); ++i) {
    const Frame& fr = f_[where[i].first];
    if (fr.sel->kind[where[i].second] == 1) out[static_cast<int64_t>(i)].copy_(fr.rows[static_cast<int64_t>(where[i].second)]);
  }
  return out;
}

Result<torch::Tensor> TrackedTokens::All() {
  VQ2D_ASSIGN_OR_RETURN(std::string err, UpstreamError());
  std::vector<CropTokens> parts;
  for (size_t f = 0; f < f_.size(); ++f) {
    VQ2D_RETURN_IF_ERROR(Encode(f));  // eager: every frame (D of the empty tensor on error too)
    parts.push_back(CropTokens{f_[f].sel->kind, f_[f].rows});
  }
  std::string assembled_err;
  torch::Tensor t = AssembleCropTokens(parts, params_.keep_token_alignment, &assembled_err);
  if (assembled_err != err) return Status::Internal("tracked tokens: error check out of step with the assembly");
  return t;
}

}  // namespace vq2d::pipeline
