#include "vq2d/io/vq_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "vq2d/io/numpy_compat.h"

namespace vq2d::io {
namespace {

inline double PyMax(double a, double b) { return b > a ? b : a; }  // python max(a, b)
inline double PyMin(double a, double b) { return b < a ? b : a; }  // python min(a, b)
inline double ClipLow0(double v) { return v < 0 ? 0.0 : v; }        // np.clip(v, 0, inf)

double SpatialIntersection(const EvalBox& b1, const EvalBox& b2) {
  double xi_s = PyMax(b1.x1, b2.x1);
  double xi_e = PyMin(b1.x2, b2.x2);
  double yi_s = PyMax(b1.y1, b2.y1);
  double yi_e = PyMin(b1.y2, b2.y2);
  return ClipLow0(xi_e - xi_s) * ClipLow0(yi_e - yi_s);
}

// utils.spatial_iou(box1, box2).
Result<double> SpatialIou(const EvalBox& box1, const EvalBox& box2, const MetricsOptions& opt,
                          const std::string& label) {
  double inter = SpatialIntersection(box1, box2);
  double den = box1.Area() + box2.Area() - inter;
  if (den == 0.0) {
    if (opt.zero_division_iou_zero) return 0.0;
    return Status::InvalidArgument(StrCat(
        "ZeroDivisionError: ", label, ": frame ", box2.fno,
        ": the GT box and the predicted box have a zero IoU denominator (both zero-area); upstream "
        "raises here (use the zero-division-iou-zero fix to score it as IoU 0)"));
  }
  return inter / den;
}

// utils.spatio_temporal_iou_response_track(rt1 = prediction, rt2 = ground truth).
Result<double> SpatioTemporalIou(const EvalTrack& pred, const EvalTrack& gt, const MetricsOptions& opt,
                                 const std::string& label) {
  std::unordered_map<long long, const EvalBox*> pred_by_fno;
  pred_by_fno.reserve(pred.boxes.size() * 2);
  for (const auto& b : pred.boxes) pred_by_fno[b.fno] = &b;  // last box per fno wins
  double inter = 0.0;
  for (const auto& g : gt.boxes) {
    auto it = pred_by_fno.find(g.fno);
    if (it == pred_by_fno.end()) continue;
    inter += SpatialIntersection(*it->second, g);
  }
  double den = pred.Volume() + gt.Volume() - inter;
  if (den == 0.0) {
    if (opt.zero_division_iou_zero) return 0.0;
    return Status::InvalidArgument(StrCat(
        "ZeroDivisionError: ", label,
        ": spatio-temporal IoU denominator is 0 (prediction and GT volumes are both zero); upstream raises "
        "here (use the zero-division-iou-zero fix to score it as IoU 0)"));
  }
  return inter / den;
}

// utils.interpolated_prec_rec (VOC 2011 all-point interpolation).
double InterpolatedPrecRec(const std::vector<double>& prec, const std::vector<double>& rec) {
  const size_t n = prec.size();
  std::vector<double> mprec(n + 2), mrec(n + 2);
  mprec[0] = 0;
  mrec[0] = 0;
  for (size_t i = 0; i < n; ++i) {
    mprec[i + 1] = prec[i];
    mrec[i + 1] = rec[i];
  }
  mprec[n + 1] = 0;
  mrec[n + 1] = 1;
  for (size_t i = n + 1; i-- > 0;) mprec[i] = PyMax(mprec[i], mprec[i + 1]);
  std::vector<double> terms;
  terms.reserve(n + 1);
  for (size_t i = 1; i < n + 2; ++i) {
    if (mrec[i] != mrec[i - 1]) terms.push_back((mrec[i] - mrec[i - 1]) * mprec[i]);
  }
  return NumpyPairwiseSum(terms.data(), terms.size());
}

// compute_average_precision_detection (temporal and spatio-temporal share it) with one GT per query.
std::array<double, 4> AveragePrecision(const std::vector<double>& ious, const std::vector<int64_t>& order_desc) {
  const size_t n = order_desc.size();
  std::array<double, 4> ap{};
  if (n == 0) return ap;
  const double npos = static_cast<double>(ious.size());
  std::vector<double> prec(n), rec(n);
  for (size_t t = 0; t < kApThresholds.size(); ++t) {
    double tp_c = 0, fp_c = 0;
    for (size_t k = 0; k < n; ++k) {
      double iou = ious[static_cast<size_t>(order_desc[k])];
      if (iou < kApThresholds[t]) {
        fp_c += 1;
      } else {
        tp_c += 1;  // NaN is not < thr: a TP, as upstream
      }
      rec[k] = tp_c / npos;
      prec[k] = tp_c / (tp_c + fp_c);
    }
    ap[t] = InterpolatedPrecRec(prec, rec);
  }
  return ap;
}

double Mean4(const std::array<double, 4>& a) {
  double s = 0.;
  for (double v : a) s += v;
  return s / 4;
}

std::string PadKey(const std::string& name, const std::string& suffix) {
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%-30s %-15s", name.c_str(), suffix.c_str());
  return buf;
}

}  // namespace

Result<EvalTrack> EvalTrack::Make(std::vector<EvalBox> boxes, const std::string& what) {
  EvalTrack t;
  std::stable_sort(boxes.begin(), boxes.end(), [](const EvalBox& a, const EvalBox& b) { return a.fno < b.fno; });
  t.boxes = std::move(boxes);
  if (!t.boxes.empty()) {
    t.t_start = t.boxes.front().fno;
    t.t_end = t.boxes.back().fno;
  }
  // Contiguous: as many boxes as frames from t_start to t_end. The span is taken in unsigned
  // arithmetic (t_end >= t_start after the sort), exact even for frame numbers at the ends of long
  // long's range, where t_end - t_start would overflow.
  const unsigned long long span =
      static_cast<unsigned long long>(t.t_end) - static_cast<unsigned long long>(t.t_start);
  if (!t.boxes.empty() && span != t.boxes.size() - 1) {  // an empty track is (0, -1): contiguous
    return Status::InvalidArgument(StrCat("ValueError: ====> ResponseTrack: BBoxes not contiguous: ", what, " has ",
                                          t.boxes.size(), " boxes spanning frames ", t.t_start, "..", t.t_end));
  }
  return t;
}

double EvalTrack::Volume() const {
  double v = 0.0;
  for (const auto& b : boxes) v += b.Area();
  return v;
}

double SegmentIou(long long ps, long long pe, long long gs, long long ge) {
  double tt1 = static_cast<double>(std::max(gs, ps));
  double tt2 = static_cast<double>(std::min(ge, pe));
  double inter = tt2 - tt1 + 1;
  if (inter < 0) inter = 0;
  double uni = (static_cast<double>(ge) - static_cast<double>(gs) + 1) +
               (static_cast<double>(pe) - static_cast<double>(ps) + 1) - inter;
  return inter / uni;
}

std::vector<std::pair<std::string, double>> VqMetrics::MetricDict(bool ren_style) const {
  std::vector<std::pair<std::string, double>> t = {
      {PadKey("Temporal AP", "@ IoU=0.25:0.95"), tap_mean},
      {PadKey("Temporal AP", "@ IoU=0.25"), tap[0]},
  };
  const char* st = ren_style ? "Spatio-temporal AP" : "SpatioTemporal AP";
  std::vector<std::pair<std::string, double>> s = {
      {PadKey(st, "@ IoU=0.25:0.95"), stap_mean},
      {PadKey(st, "@ IoU=0.25"), stap[0]},
  };
  std::vector<std::pair<std::string, double>> out;
  if (ren_style) {
    out = s;
    out.insert(out.end(), t.begin(), t.end());
  } else {
    out = t;
    out.insert(out.end(), s.begin(), s.end());
  }
  out.emplace_back(PadKey("Tracking % recovery (max scr)", "@ IoU=0.50"), recovery[0]);
  out.emplace_back(PadKey("Success (max scr)", "@ IoU=0.05"), success[0]);
  return out;
}

Result<VqMetrics> ComputeVisualQueryMetrics(const std::vector<EvalQuery>& queries, const MetricsOptions& opt) {
  VqMetrics m;
  // Area filter of the 'all' pairing: [0, 1e5**2) for the VC area and the max GT box area.
  std::vector<size_t> kept;
  kept.reserve(queries.size());
  {
    std::vector<double> vc_areas(queries.size()), rt_areas(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      const EvalBox& vc = queries[i].visual_crop;
      vc_areas[i] = std::fabs(vc.x2 - vc.x1) * std::fabs(vc.y2 - vc.y1);
      const auto& gt = queries[i].gt.boxes;
      if (gt.empty()) {
        return Status::InvalidArgument(StrCat("ValueError: ", queries[i].label,
                                              ": the ground-truth response track is empty (upstream: zero-size array "
                                              "to reduction operation maximum which has no identity)"));
      }
      double mx = 0;
      for (size_t k = 0; k < gt.size(); ++k) {
        double a = std::fabs(gt[k].x2 - gt[k].x1) * std::fabs(gt[k].y2 - gt[k].y1);
        if (k == 0 || a > mx || std::isnan(a)) mx = (k > 0 && std::isnan(mx)) ? mx : a;
      }
      rt_areas[i] = mx;
    }
    const double lo = 0.0, hi = 1e10;
    for (size_t i = 0; i < queries.size(); ++i) {
      if (vc_areas[i] >= lo && vc_areas[i] < hi && rt_areas[i] >= lo && rt_areas[i] < hi) kept.push_back(i);
    }
  }
  if (kept.empty()) return m;  // pairing skipped: no metrics
  m.has_metrics = true;
  const size_t n = kept.size();
  m.n_queries = n;

  // TemporalDetection asserts pred.has_score().
  bool all_int = true;
  for (size_t i : kept) {
    const EvalScore& s = queries[i].score;
    if (s.kind == EvalScore::kNull) {
      return Status::InvalidArgument(
          StrCat("AssertionError: ", queries[i].label, ": the prediction has a null score (pred.has_score())"));
    }
    if (s.kind != EvalScore::kInt) all_int = false;
  }
  std::vector<int64_t> asc;
  if (all_int) {
    std::vector<int64_t> sc(n);
    for (size_t k = 0; k < n; ++k) sc[k] = queries[kept[k]].score.i;
    asc = NumpyArgsort(sc);
    m.score_dtype = "int64";
  } else {
    std::vector<double> sc(n);
    for (size_t k = 0; k < n; ++k) sc[k] = queries[kept[k]].score.d;
    asc = NumpyArgsort(sc);
    m.score_dtype = "float64";
  }
  m.sort_order_desc.assign(asc.rbegin(), asc.rend());

  // Per-query IoUs.
  std::vector<double> tious(n), stious(n);
  m.per_query.resize(n);
  for (size_t k = 0; k < n; ++k) {
    const EvalQuery& q = queries[kept[k]];
    QueryMetrics& pq = m.per_query[k];
    pq.input_index = kept[k];
    tious[k] = SegmentIou(q.pred.t_start, q.pred.t_end, q.gt.t_start, q.gt.t_end);
    pq.tiou = tious[k];
  }
  // Spatio-temporal IoU, computed (and failing) in ranked order as SpatioTemporalDetection does.
  for (size_t r = 0; r < n; ++r) {
    size_t k = static_cast<size_t>(m.sort_order_desc[r]);
    const EvalQuery& q = queries[kept[k]];
    VQ2D_ASSIGN_OR_RETURN(stious[k], SpatioTemporalIou(q.pred, q.gt, opt, q.label));
    m.per_query[k].stiou = stious[k];
    m.per_query[k].rank = static_cast<long long>(r);
  }
  m.tap = AveragePrecision(tious, m.sort_order_desc);
  m.stap = AveragePrecision(stious, m.sort_order_desc);
  m.tap_mean = Mean4(m.tap);
  m.stap_mean = Mean4(m.stap);

  // Tracking recovery: per GT fno, the IoU with the predicted box of that fno (last wins), else 0.
  std::array<double, 3> acc_sum{}, total_sum{};
  std::vector<std::pair<long long, double>> frame_ious;
  std::unordered_map<long long, size_t> slot;
  for (size_t r = 0; r < n; ++r) {
    size_t k = static_cast<size_t>(m.sort_order_desc[r]);
    const EvalQuery& q = queries[kept[k]];
    frame_ious.clear();
    slot.clear();
    std::unordered_map<long long, const EvalBox*> gt_by_fno;
    for (const auto& g : q.gt.boxes) {
      gt_by_fno[g.fno] = &g;
      if (slot.emplace(g.fno, frame_ious.size()).second) frame_ious.emplace_back(g.fno, 0.0);
    }
    for (const auto& p : q.pred.boxes) {
      auto it = gt_by_fno.find(p.fno);
      if (it == gt_by_fno.end()) continue;
      VQ2D_ASSIGN_OR_RETURN(double iou, SpatialIou(*it->second, p, opt, q.label));
      frame_ious[slot[p.fno]].second = iou;
    }
    QueryMetrics& pq = m.per_query[k];
    pq.gt_frames = static_cast<long long>(q.gt.length());
    for (size_t t = 0; t < kRecoveryThresholds.size(); ++t) {
      long long c = 0;
      for (const auto& fi : frame_ious) c += fi.second >= kRecoveryThresholds[t] ? 1 : 0;
      pq.recovered_frames[t] = c;
    }
  }
  for (size_t t = 0; t < kRecoveryThresholds.size(); ++t) {
    std::vector<double> acc(n), tot(n);
    for (size_t k = 0; k < n; ++k) {
      acc[k] = static_cast<double>(m.per_query[k].recovered_frames[t]);
      tot[k] = static_cast<double>(m.per_query[k].gt_frames);
    }
    acc_sum[t] = NumpyPairwiseSum(acc.data(), n);
    total_sum[t] = NumpyPairwiseSum(tot.data(), n);
    m.recovery[t] = total_sum[t] > 0 ? 100.0 * acc_sum[t] / total_sum[t] : 0.0;
  }
  // Success: % of queries with st-IoU >= threshold.
  for (size_t t = 0; t < kSuccessThresholds.size(); ++t) {
    double c = 0;
    for (size_t k = 0; k < n; ++k) c += stious[k] >= kSuccessThresholds[t] ? 1 : 0;
    m.success[t] = (c / static_cast<double>(n)) * 100.0;
  }
  return m;
}

}  // namespace vq2d::io
