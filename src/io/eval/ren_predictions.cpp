#include "vq2d/io/ren_predictions.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "io/json_util.h"
#include "vq2d/io/vq_metrics.h"

namespace vq2d::io {
namespace {

using io::internal::OJson;

// Python's int(v) for a box coordinate; a non-finite one or one beyond long long is an error here
// (Python raises for NaN/inf and keeps huge values exact; the cast would be undefined behaviour).
Result<long long> PyInt(double v, const std::string& what) {
  if (!std::isfinite(v) || std::fabs(v) >= 9.2e18) {
    return Status::InvalidArgument(StrCat("ValueError: ", what, ": cannot convert box coordinate ", v, " to an integer"));
  }
  return static_cast<long long>(std::trunc(v));
}

// ResponseTrack(bboxes).to_json()["bboxes"]: BBox(f, x, y, x+w, y+h), sorted by fno, int() fields.
Result<OJson> TrackJson(const std::vector<RenTrackRow>& rows, const std::string& what) {
  std::vector<EvalBox> boxes;
  boxes.reserve(rows.size());
  for (const auto& r : rows) boxes.push_back(EvalBox{r.fno, r.x, r.y, r.x + r.w, r.y + r.h});
  VQ2D_ASSIGN_OR_RETURN(EvalTrack t, EvalTrack::Make(std::move(boxes), what));
  OJson arr = OJson::array();
  for (const auto& b : t.boxes) {
    OJson o = OJson::object();
    o["fno"] = b.fno;
    VQ2D_ASSIGN_OR_RETURN(o["x1"], PyInt(b.x1, what));
    VQ2D_ASSIGN_OR_RETURN(o["x2"], PyInt(b.x2, what));
    VQ2D_ASSIGN_OR_RETURN(o["y1"], PyInt(b.y1, what));
    VQ2D_ASSIGN_OR_RETURN(o["y2"], PyInt(b.y2, what));
    arr.push_back(std::move(o));
  }
  return arr;
}

}  // namespace

Result<std::string> FormatRenPredictions(const std::vector<RenQueryOutput>& queries) {
  OJson out = OJson::object();
  out["version"] = "1.0.5";
  out["challenge"] = "ego4d_vq2d_challenge";
  out["results"]["videos"] = OJson::array();
  std::set<std::string> video_uids;
  for (const auto& q : queries) video_uids.insert(q.video_uid);
  for (const auto& vuid : video_uids) {
    std::vector<const RenQueryOutput*> vq;
    for (const auto& q : queries)
      if (q.video_uid == vuid) vq.push_back(&q);
    OJson video = OJson::object();
    video["video_uid"] = vuid;
    video["clips"] = OJson::array();
    for (const auto* q : vq) {
      if (q->frame_height != vq[0]->frame_height || q->frame_width != vq[0]->frame_width) {
        return Status::InvalidArgument(StrCat("AssertionError: video '", vuid, "': queries disagree on the frame size (",
                                              vq[0]->frame_height, "x", vq[0]->frame_width, " vs ", q->frame_height,
                                              "x", q->frame_width, ")"));
      }
    }
    std::set<std::string> clip_uids;
    for (const auto* q : vq) clip_uids.insert(q->clip_uid);
    for (const auto& cuid : clip_uids) {
      std::vector<const RenQueryOutput*> cq;
      for (const auto* q : vq)
        if (q->clip_uid == cuid) cq.push_back(q);
      // assign_annotation_uid: n-th occurrence of an id -> entry n.
      std::map<std::string, int> seen;
      std::vector<int> entry_of(cq.size());
      int max_entry = 0;
      for (size_t i = 0; i < cq.size(); ++i) {
        entry_of[i] = ++seen[cq[i]->query_set];
        max_entry = std::max(max_entry, entry_of[i]);
      }
      OJson clip = OJson::object();
      clip["clip_uid"] = cuid;
      clip["predictions"] = OJson::array();
      for (int e = 1; e <= max_entry; ++e) {
        OJson apred = OJson::object();
        apred["query_sets"] = OJson::object();
        for (size_t i = 0; i < cq.size(); ++i) {
          if (entry_of[i] != e) continue;
          const RenQueryOutput& q = *cq[i];
          std::string what = StrCat("clip '", cuid, "' query set '", q.query_set, "'");
          OJson pj = OJson::object();
          VQ2D_ASSIGN_OR_RETURN(pj["bboxes"], TrackJson(q.predicted, "predicted track of " + what));
          pj["score"] = q.score;
          apred["query_sets"][q.query_set] = std::move(pj);
          if (q.ground_truth.empty()) {
            return Status::InvalidArgument(StrCat("IndexError: ", what, ": empty ground-truth track"));
          }
          VQ2D_ASSIGN_OR_RETURN(OJson gtb, TrackJson(q.ground_truth, "ground truth of " + what));
          if (gtb[0]["fno"].get<long long>() != -1) {
            OJson gj = OJson::object();
            gj["bboxes"] = std::move(gtb);
            gj["score"] = nullptr;
            apred["query_sets"][q.query_set + "-gt"] = std::move(gj);
          }
        }
        clip["predictions"].push_back(std::move(apred));
      }
      video["clips"].push_back(std::move(clip));
    }
    video["frame_height"] = vq[0]->frame_height;
    video["frame_width"] = vq[0]->frame_width;
    out["results"]["videos"].push_back(std::move(video));
  }
  return out.dump();
}

Result<VqMetrics> ComputeRenRunMetrics(const std::vector<RenQueryOutput>& queries, const MetricsOptions& options) {
  std::vector<EvalQuery> eq;
  eq.reserve(queries.size());
  auto boxes = [](const std::vector<RenTrackRow>& rows) {
    std::vector<EvalBox> b;
    b.reserve(rows.size());
    for (const auto& r : rows) b.push_back(EvalBox{r.fno, r.x, r.y, r.x + r.w, r.y + r.h});
    return b;
  };
  for (size_t i = 0; i < queries.size(); ++i) {
    const RenQueryOutput& q = queries[i];
    EvalQuery e;
    e.label = StrCat("query ", i, " (video '", q.video_uid, "' clip '", q.clip_uid, "' query set '", q.query_set, "')");
    VQ2D_ASSIGN_OR_RETURN(e.pred, EvalTrack::Make(boxes(q.predicted), "predicted track of " + e.label));
    e.score = EvalScore::Float(q.score);  // a python float (the track score) in every query
    VQ2D_ASSIGN_OR_RETURN(e.gt, EvalTrack::Make(boxes(q.ground_truth), "ground truth of " + e.label));
    e.visual_crop = EvalBox{q.query_frame_number, q.query_x, q.query_y, q.query_x + q.query_w, q.query_y + q.query_h};
    eq.push_back(std::move(e));
  }
  return ComputeVisualQueryMetrics(eq, options);
}

}  // namespace vq2d::io
