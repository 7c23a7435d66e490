#include "app/work_plan.h"

#include <algorithm>
#include <cmath>

#include <map>

#include "app/pipeline_options.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/prepare.h"
#include "vq2d/io/record.h"
#include "vq2d/pipeline/geometry.h"
#include "vq2d/runner/work_list.h"

namespace vq2d::app {

using io::AnnotationFile;
using io::Clip;
using io::Config;
using io::LoadAnnotations;
using io::OpenClipRecord;
using io::RecordPathFor;
using runner::BuildWorkList;
using runner::WorkItem;

WorkCounts& WorkCounts::operator+=(const WorkCounts& o) {
  clips += o.clips, queries += o.queries, frames_read += o.frames_read;
  ren_video_shared += o.ren_video_shared, ren_video_per_query += o.ren_video_per_query;
  ren_images += o.ren_images, sam2_encodes += o.sam2_encodes, track_steps += o.track_steps;
  dino_images += o.dino_images;
  return *this;
}

namespace {

int64_t WindowsPerFrame(const ClipGeometry& g, const pipeline::PipelineParams& p) {
  int64_t s = 0;
  for (double cf : p.frame_cropping_factors) {
    if (g.height > 0 && g.width > 0) {
      s += static_cast<int64_t>(pipeline::SlidingWindowStarts(g.height, g.width, cf, nullptr, nullptr,
                                                              p.sliding_window_overlap)
                                    .size());
    } else {
      const int64_t f = static_cast<int64_t>(std::floor(cf));
      s += std::max<int64_t>(1, f * f);
    }
  }
  return s;
}

}  // namespace

WorkCounts CountClipWork(const Clip& clip, const ClipGeometry& g, const pipeline::PipelineParams& p) {
  WorkCounts w;
  if (!clip.clip_uid) return w;
  const int64_t T = g.num_frames;
  const int64_t S = WindowsPerFrame(g, p);
  const double n = static_cast<double>(p.query_cropping_factors.size());
  const double k = static_cast<double>(std::max<int64_t>(1, p.selection_top_k));
  const int64_t h = std::max<int64_t>(1, p.tracking_half_span);
  int64_t last_needed = 0, max_qf = 0;
  bool any = false;
  for (const auto& ann : clip.annotations) {
    for (const auto& qs : ann.query_sets) {
      if (!qs.is_valid) continue;
      // The frames a query needs (as the run reads them: clamped to the record).
      int64_t vc = std::max(0, qs.visual_crop.frame_number);
      int64_t qf_read = qs.query_frame;
      if (T > 0) vc = std::min<int64_t>(vc, T - 1), qf_read = std::min<int64_t>(qf_read, T - 1);
      last_needed = std::max({last_needed, vc, qf_read});
      any = true;
      // Queries the pipeline runs (the engine skips a query frame outside the clip).
      const int64_t qf = qs.query_frame;
      if (qf < 0 || (T > 0 && (qf >= T || qs.visual_crop.frame_number >= T)) || qs.visual_crop.width <= 0 ||
          qs.visual_crop.height <= 0) {
        continue;
      }
      ++w.queries;
      max_qf = std::max(max_qf, qf);
      w.ren_video_per_query += S * qf;
      const double L = static_cast<double>(std::min<int64_t>(qf + 1, 2 * h - 1));
      const double P = static_cast<double>(std::min<int64_t>(qf + 2, 2 * h));
      // Upper: query stage, refine round 1, round-1 tokens, round 2. Lower: the query stage alone (a
      // query whose candidates all lose their masks refines and tracks nothing; SAM 2 also skips an
      // image identical to the one it holds).
      Bounds ren{n, n + 8 * k + n * L + 8 * k};
      Bounds sam{0, n + (2 + 2 * k) + n * L + (2 * (1 + n * L) + 2 * k)};
      Bounds dino{0, (2 + 2 * k) + (2 * (1 + n * L) + 2 * k)};
      Bounds steps{0, P + P};
      if (qf == 0) {  // no frame to search: no candidate, nothing refined or tracked
        ren = {n, n}, sam = {0, n}, dino = {0, 0}, steps = {0, 0};
      }
      w.ren_images += ren;
      w.sam2_encodes += sam;
      w.dino_images += dino;
      w.track_steps += steps;
    }
  }
  w.clips = 1;
  w.frames_read = any ? last_needed + 1 : 0;
  if (T == 0) w.frames_read = 0;
  w.ren_video_shared = S * max_qf;
  w.ren_images += Bounds{static_cast<double>(w.ren_video_shared), static_cast<double>(w.ren_video_shared)};
  return w;
}

nlohmann::json Calibration::ToJson() const {
  return {{"schema", "vq2d.calibration/1"},
          {"device", device},
          {"precision", precision},
          {"models", models},
          {"unit_s",
           {{"ren_image", ren_image_s}, {"sam2_encode", sam2_encode_s}, {"track_step", track_step_s},
            {"dino_image", dino_image_s}}},
          {"read_s_per_frame", read_s_per_frame},
          {"other_fraction", other_fraction},
          {"load_s", load_s},
          {"between_bounds", {{"ren", f_ren}, {"sam2", f_sam2}, {"track", f_track}, {"dino", f_dino}}}};
}

Result<Calibration> Calibration::FromJson(const nlohmann::json& j, const std::string& src) {
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument(StrCat(src, ": ", what, " (expected a file written by `vq2d bench pipeline "
                                                           "--calibration-out`, schema vq2d.calibration/1)"));
  };
  if (!j.is_object() || j.value("schema", "") != "vq2d.calibration/1") return bad("not a vq2d.calibration/1 object");
  Calibration c;
  c.source = src;
  auto num = [&](const nlohmann::json& o, const char* key, double* out) -> Status {
    if (!o.is_object() || !o.contains(key) || !o[key].is_number() || o[key].get<double>() < 0 ||
        !std::isfinite(o[key].get<double>())) {
      return bad(StrCat("'", key, "' must be a number >= 0"));
    }
    *out = o[key].get<double>();
    return Status::OK();
  };
  c.device = j.value("device", "");
  c.precision = j.value("precision", "");
  c.models = j.value("models", "");
  const nlohmann::json u = j.value("unit_s", nlohmann::json());
  VQ2D_RETURN_IF_ERROR(num(u, "ren_image", &c.ren_image_s));
  VQ2D_RETURN_IF_ERROR(num(u, "sam2_encode", &c.sam2_encode_s));
  VQ2D_RETURN_IF_ERROR(num(u, "track_step", &c.track_step_s));
  VQ2D_RETURN_IF_ERROR(num(u, "dino_image", &c.dino_image_s));
  VQ2D_RETURN_IF_ERROR(num(j, "read_s_per_frame", &c.read_s_per_frame));
  VQ2D_RETURN_IF_ERROR(num(j, "other_fraction", &c.other_fraction));
  VQ2D_RETURN_IF_ERROR(num(j, "load_s", &c.load_s));
  const nlohmann::json b = j.value("between_bounds", nlohmann::json());
  VQ2D_RETURN_IF_ERROR(num(b, "ren", &c.f_ren));
  VQ2D_RETURN_IF_ERROR(num(b, "sam2", &c.f_sam2));
  VQ2D_RETURN_IF_ERROR(num(b, "track", &c.f_track));
  VQ2D_RETURN_IF_ERROR(num(b, "dino", &c.f_dino));
  for (double f : {c.f_ren, c.f_sam2, c.f_track, c.f_dino})
    if (f > 1) return bad("between_bounds values must lie in [0, 1]");
  return c;
}

Calibration Calibrate(const std::vector<MeasuredClip>& clips, double load_s) {
  Calibration c;
  c.load_s = load_s;
  double ren = 0, ren_s = 0, sam = 0, sam_s = 0, steps = 0, steps_s = 0, dino = 0, dino_s = 0, frames = 0, read_s = 0,
         wall = 0;
  Bounds b_ren, b_sam, b_steps, b_dino;
  for (const auto& m : clips) {
    ren += m.ren_images, ren_s += m.ren_s, sam += m.sam2_encodes, sam_s += m.sam2_s;
    steps += m.track_steps, steps_s += m.track_s, dino += m.dino_images, dino_s += m.dino_s;
    frames += static_cast<double>(m.predicted.frames_read), read_s += m.read_s, wall += m.wall_s;
    b_ren += m.predicted.ren_images, b_sam += m.predicted.sam2_encodes, b_steps += m.predicted.track_steps;
    b_dino += m.predicted.dino_images;
  }
  auto per = [](double s, double n) { return n > 0 ? s / n : 0.0; };
  c.ren_image_s = per(ren_s, ren), c.sam2_encode_s = per(sam_s, sam), c.track_step_s = per(steps_s, steps);
  c.dino_image_s = per(dino_s, dino), c.read_s_per_frame = per(read_s, frames);
  const double model_s = ren_s + sam_s + steps_s + dino_s;
  c.other_fraction = model_s > 0 ? std::max(0.0, wall - model_s - read_s) / model_s : 0.0;
  auto where = [](double x, const Bounds& b) {
    return b.hi > b.lo ? std::clamp((x - b.lo) / (b.hi - b.lo), 0.0, 1.0) : 0.0;
  };
  c.f_ren = where(ren, b_ren), c.f_sam2 = where(sam, b_sam), c.f_track = where(steps, b_steps);
  c.f_dino = where(dino, b_dino);
  return c;
}

ClipEstimate EstimateClip(const WorkCounts& w, const Calibration& c) {
  ClipEstimate e;
  auto at = [](const Bounds& b, double f) { return b.lo + f * (b.hi - b.lo); };
  e.ren_images = at(w.ren_images, c.f_ren), e.sam2_encodes = at(w.sam2_encodes, c.f_sam2);
  e.track_steps = at(w.track_steps, c.f_track), e.dino_images = at(w.dino_images, c.f_dino);
  auto seconds = [&](double ren, double sam, double steps, double dino) {
    const double model = ren * c.ren_image_s + sam * c.sam2_encode_s + steps * c.track_step_s + dino * c.dino_image_s;
    return model * (1 + c.other_fraction) + static_cast<double>(w.frames_read) * c.read_s_per_frame;
  };
  e.seconds = seconds(e.ren_images, e.sam2_encodes, e.track_steps, e.dino_images);
  e.seconds_lo = seconds(w.ren_images.lo, w.sam2_encodes.lo, w.track_steps.lo, w.dino_images.lo);
  e.seconds_hi = seconds(w.ren_images.hi, w.sam2_encodes.hi, w.track_steps.hi, w.dino_images.hi);
  return e;
}

Result<std::vector<PlannedClip>> PlanSplit(const Config& config, const std::string& split) {
  VQ2D_ASSIGN_OR_RETURN(AnnotationFile ann, LoadAnnotations(config.AnnotationsFile(split)));
  const pipeline::PipelineParams params = PipelineParamsFromConfig(config);
  std::map<std::string, const Clip*> by_uid;
  for (const auto& v : ann.videos)
    for (const auto& c : v.clips)
      if (c.clip_uid && !by_uid.count(*c.clip_uid)) by_uid[*c.clip_uid] = &c;
  std::vector<PlannedClip> out;
  const std::string records = config.RecordsDir(split);
  for (const WorkItem& item : BuildWorkList(ann, nullptr)) {
    PlannedClip p;
    p.item = item;
    ClipGeometry g;
    const std::string path = RecordPathFor(records, item.id);
    if (FileSystem::Default()->Exists(path)) {
      auto rec = OpenClipRecord(path, io::RecordReadOptions{config.data.verify_record_checksums});
      if (!rec.ok()) return rec.status().WithContext(StrCat("clip ", item.id));
      g.num_frames = rec->num_frames();
      g.height = rec->height();
      g.width = rec->width();
      p.has_record = true;
    }
    p.work = CountClipWork(*by_uid.at(item.id), g, params);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace vq2d::app
