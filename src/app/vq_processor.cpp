#include "app/vq_processor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <regex>

#include "app/pipeline_options.h"
#include "vq2d/base/chunk_prefetch.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/base/json_parse.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/io/prepare.h"
#include "vq2d/io/record.h"

namespace vq2d::app {

using io::AnnotationBox;
using io::Clip;
using io::ClipOutput;
using io::Config;
using io::FrameBuffer;
using io::OpenClipRecord;
using io::QueryPrediction;
using io::RecordPathFor;
using io::RecordReadOptions;
using io::RequireExistingPath;
using io::SerializeClipOutput;
using runner::ClipResult;
using runner::ClipTask;
using runner::StopToken;

namespace {

constexpr char kMissingRecordCause[] = "missing_record";

std::string RenCheckpointPath(const Config& c) {
  if (!c.models.ren.empty()) return c.models.ren;
  std::string dir = c.ren.logging_save_dir;
  if (!dir.empty() && dir.back() != '/') dir += '/';
  return dir + c.ren.logging_exp_name + "/checkpoint.pth";
}

std::string Sam2CheckpointPath(const Config& c) { return c.models.sam2.empty() ? c.data.sam2_ckpt : c.models.sam2; }

}  // namespace

nlohmann::json ModelWorkJson(const pipeline::ModelWork& w) {
  return {{"ren_images", w.ren_images},   {"ren_s", w.ren_s},     {"sam2_encodes", w.sam2_encodes},
          {"sam2_s", w.sam2_s},           {"track_steps", w.track_steps}, {"track_s", w.track_s},
          {"dino_images", w.dino_images}, {"dino_s", w.dino_s}};
}

Result<std::string> Sam2VariantFromConfigName(const std::string& tracker_param) {
  static const std::regex kName(R"(hiera_(t|s|b\+|l)\.yaml$)");
  std::smatch m;
  if (std::regex_search(tracker_param, m, kName)) return m[1].str();
  return Status::InvalidArgument(StrCat("visual_query.tracker_param '", tracker_param,
                                        "': expected a SAM 2.1 config name ending in sam2.1_hiera_{t,s,b+,l}.yaml, or "
                                        "give the SAM 2 architecture in models.architecture"));
}

Result<pipeline::EngineOptions> EngineOptionsFromConfig(const Config& c, int local_rank) {
  pipeline::EngineOptions o;
  o.params = PipelineParamsFromConfig(c);
  pipeline::ModelOptions& m = o.models;
  m.feature_extractor = c.visual_query.feature_extractor;
  if (c.ren.feature_extractors.empty()) {
    return Status::InvalidArgument("ren.pretrained.feature_extractors: expected at least one backbone name");
  }
  m.dinov2_name = c.ren.feature_extractors[0];
  m.region_encoder = {{"hidden_dim", c.ren.hidden_dim},
                      {"decoder_layers", c.ren.decoder_layers},
                      {"num_attention_heads", c.ren.num_attention_heads},
                      {"image_resolution", c.ren.image_resolution},
                      {"grid_size", c.ren.grid_size},
                      {"upsample_features", c.ren.upsample_features}};
  if (!c.ren.patch_sizes.empty()) m.region_encoder["patch_size"] = c.ren.patch_sizes[0];
  bool sam2_from_file = false;
  if (!c.models.architecture.empty()) {
    auto text = FileSystem::Default()->ReadFile(c.models.architecture);
    if (!text.ok()) return text.status().WithContext("models.architecture");
    auto parsed = ParseJson(*text, "models.architecture " + c.models.architecture);
    if (!parsed.ok()) return parsed.status();
    const nlohmann::json& j = *parsed;
    if (!j.is_object()) {
      return Status::InvalidArgument(StrCat("models.architecture ", c.models.architecture,
                                            ": expected a JSON object with optional keys dinov2, dino, sam2"));
    }
    for (const auto& [key, value] : j.items()) {
      if (key != "dinov2" && key != "dino" && key != "sam2") {
        return Status::InvalidArgument(StrCat("models.architecture ", c.models.architecture, ": unknown key '", key,
                                              "' (expected dinov2, dino, sam2)"));
      }
      if (!value.is_object()) {
        return Status::InvalidArgument(StrCat("models.architecture ", c.models.architecture, ": '", key,
                                              "' must be an object"));
      }
    }
    if (j.contains("dinov2")) m.dinov2_arch = j.at("dinov2");
    if (j.contains("dino")) m.dino_arch = j.at("dino");
    if (j.contains("sam2")) m.sam2_arch = j.at("sam2"), sam2_from_file = true;
  }
  if (!sam2_from_file) {
    VQ2D_ASSIGN_OR_RETURN(m.sam2_variant, Sam2VariantFromConfigName(c.visual_query.tracker_param));
  }
  m.dinov2_file = c.models.dinov2;
  m.dino_file = c.models.dino;
  m.ren_file = RenCheckpointPath(c);
  m.sam2_file = Sam2CheckpointPath(c);
  m.device = c.models.device;
  m.local_rank = local_rank;
  m.precision = c.models.precision;
  m.dino_bf16 = c.models.dino_precision == "bf16";
  m.batch_crops = c.models.batch_crops;
  m.ren_batch_size = c.models.ren_batch_size;
  m.cpu_threads = static_cast<int>(c.models.cpu_threads);
  if (c.models.dino_input_size.size() != 2) {
    return Status::InvalidArgument("models.dino_input_size: expected [height, width]");
  }
  m.dino_input_height = c.models.dino_input_size[0];
  m.dino_input_width = c.models.dino_input_size[1];
  o.share_video_tokens = c.runner.share_video_tokens;
  o.video_chunk_frames = c.runner.video_chunk_frames;
  return o;
}

Status ValidateRunConfig(const Config& c) {
  VQ2D_ASSIGN_OR_RETURN(pipeline::EngineOptions options, EngineOptionsFromConfig(c, /*local_rank=*/0));
  VQ2D_RETURN_IF_ERROR(pipeline::ValidateEngineOptions(options));
  VQ2D_RETURN_IF_ERROR(RequireExistingPath(c, "data." + c.visual_query.split + "_annotations"));
  for (const auto& [key, path] : ModelFingerprintFiles(c)) {
    std::string what = "config key " + key;
    if (key == "models.ren" && c.models.ren.empty()) {
      what = "config key models.ren is empty, so the REN checkpoint is <ren.logging.save_dir>/<ren.logging.exp_name>/"
             "checkpoint.pth from ren.logging.save_dir and ren.logging.exp_name";
    } else if (key == "models.sam2" && c.models.sam2.empty()) {
      what = "config key models.sam2 is empty, so the SAM 2.1 checkpoint is data.sam2_ckpt";
    }
    if (path.empty()) return Status::InvalidArgument(StrCat(what, ": no file given (expected a checkpoint path)"));
    if (!FileSystem::Default()->Exists(path)) {
      return Status::NotFound(StrCat(what, ": '", path, "' does not exist"));
    }
  }
  return Status::OK();
}

std::vector<std::pair<std::string, std::string>> ModelFingerprintFiles(const Config& c) {
  std::vector<std::pair<std::string, std::string>> f = {{"models.dinov2", c.models.dinov2},
                                                        {"models.ren", RenCheckpointPath(c)},
                                                        {"models.sam2", Sam2CheckpointPath(c)}};
  if (c.visual_query.feature_extractor == "dino") f.emplace_back("models.dino", c.models.dino);
  if (!c.models.architecture.empty()) f.emplace_back("models.architecture", c.models.architecture);
  return f;
}

VqClipProcessor::VqClipProcessor(std::unique_ptr<pipeline::VqEngine> engine, std::string records_dir, DebugDump debug,
                                 RecordReadOptions record_options, int64_t prefetch_chunk_frames)
    : engine_(std::move(engine)),
      records_dir_(std::move(records_dir)),
      debug_(std::move(debug)),
      record_options_(record_options),
      prefetch_chunk_frames_(prefetch_chunk_frames) {}

std::string VqClipProcessor::FailureCause(const ClipTask& task, const Status& status) const {
  if (status.code() != StatusCode::kNotFound) return "";
  return FileSystem::Default()->Exists(RecordPathFor(records_dir_, task.clip_uid)) ? "" : kMissingRecordCause;
}

bool VqClipProcessor::FailureCauseHolds(const std::string& clip_uid, const std::string& cause) const {
  return cause != kMissingRecordCause || !FileSystem::Default()->Exists(RecordPathFor(records_dir_, clip_uid));
}

Result<ClipResult> VqClipProcessor::Process(const ClipTask& task, const StopToken& stop) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string path = RecordPathFor(records_dir_, task.clip_uid);
  auto record = OpenClipRecord(path, record_options_);
  if (!record.ok()) {
    if (record.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(StrCat("clip ", task.clip_uid, ": no record at ", path,
                                     " (run `vq2d prepare` for this split first)"));
    }
    return record.status().WithContext(StrCat("clip ", task.clip_uid));
  }
  if (record->meta().clip_uid != task.clip_uid) {
    return Status::Corruption(StrCat(path, ": record of clip ", record->meta().clip_uid, ", expected ", task.clip_uid));
  }
  const int64_t T = record->num_frames();
  const Clip& clip = record->clip();

  ClipOutput out;
  out.clip_uid = task.clip_uid;
  out.video_uid = record->video().video_uid;
  out.frame_width = record->width();
  out.frame_height = record->height();
  std::vector<pipeline::QueryInput> inputs;
  int64_t last_needed = 0;
  for (size_t ai = 0; ai < clip.annotations.size(); ++ai) {
    for (const auto& qs : clip.annotations[ai].query_sets) {
      if (!qs.is_valid) continue;
      // Upstream's submit.py: the last valid query set's visual crop gives the original size.
      if (qs.visual_crop.original_width > 0) out.original_width = qs.visual_crop.original_width;
      if (qs.visual_crop.original_height > 0) out.original_height = qs.visual_crop.original_height;
      pipeline::QueryInput q;
      q.visual_crop_frame = std::min<int64_t>(std::max(0, qs.visual_crop.frame_number), std::max<int64_t>(0, T - 1));
      AnnotationBox vc = qs.visual_crop;  // files without original_width/height: the decoded video's size
      if (vc.original_width <= 0) vc.original_width = record->meta().geometry.decoded_width;
      if (vc.original_height <= 0) vc.original_height = record->meta().geometry.decoded_height;
      q.visual_crop_box = record->ToRecordPixels(vc);
      q.query_timestep = qs.query_frame;
      last_needed = std::max({last_needed, q.visual_crop_frame, std::min<int64_t>(q.query_timestep, T - 1)});
      inputs.push_back(q);
      QueryPrediction p;
      p.annotation_index = static_cast<int>(ai);
      p.query_set = qs.id;
      out.queries.push_back(p);
    }
  }
  if (out.original_width <= 0 || out.original_height <= 0) {
    out.original_width = record->meta().geometry.decoded_width;
    out.original_height = record->meta().geometry.decoded_height;
  }
  if (stop.stop_requested()) return Status::Cancelled("stop requested");
  // Frames [0, last needed]: the search stops before each query frame and tracking never passes it.
  task.ReportStage("read", 0.0);
  const int64_t needed = T > 0 ? last_needed + 1 : 0;
  FrameBuffer frames;
  std::unique_ptr<ChunkPrefetcher> prefetch;  // destroyed (joined) before `record` and `frames`
  double read_s = 0;
  const double open_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (prefetch_chunk_frames_ > 0 && !inputs.empty() && needed > 0) {
    frames.count = needed;
    frames.height = record->height();
    frames.width = record->width();
    const size_t frame_bytes = static_cast<size_t>(frames.height) * static_cast<size_t>(frames.width) * 3;
    frames.data.resize(frame_bytes * static_cast<size_t>(needed));
    uint8_t* dst = frames.data.data();
    const auto* rec = &*record;
    // The engine encodes the queries first (their visual-crop frames, in query order), then runs
    // the video pass in chunks from frame 0 (ClipFrames::ready): read in that order.
    std::vector<int64_t> first;
    for (const pipeline::QueryInput& q : inputs) first.push_back(q.visual_crop_frame);
    auto read = [rec, dst, frame_bytes](int64_t b, int64_t e) {
      Result<FrameBuffer> part = rec->ReadFrames(b, e);
      if (!part.ok()) return part.status();
      if (part->data.size() != frame_bytes * static_cast<size_t>(e - b)) {
        return Status::Corruption(StrCat("frames [", b, ", ", e, "): ", part->data.size(), " bytes, expected ",
                                         frame_bytes * static_cast<size_t>(e - b)));
      }
      std::memcpy(dst + frame_bytes * static_cast<size_t>(b), part->data.data(), part->data.size());
      return Status::OK();
    };
    prefetch = std::make_unique<ChunkPrefetcher>(needed, prefetch_chunk_frames_, std::move(read), /*background=*/true,
                                                 Clock::Default(), first);
  } else {
    VQ2D_ASSIGN_OR_RETURN(frames, record->ReadFrames(0, needed));
    read_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  const bool dump = !debug_.dir.empty() && debug_.clip_uid == task.clip_uid;
  nlohmann::json debug;
  std::vector<pipeline::QueryResult> results;
  const pipeline::ModelWork work_before = engine_->model_work();
  if (!inputs.empty()) {
    pipeline::ClipFrames cf{frames.data.data(), frames.count, frames.height, frames.width};
    if (prefetch) {
      cf.ready = [&prefetch, &path](int64_t b, int64_t e) {
        return prefetch->Wait(b, e).WithContext(StrCat("record ", path));
      };
    }
    if (dump) VQ2D_RETURN_IF_ERROR(FileSystem::Default()->CreateDirs(debug_.dir));
    const std::string tensors_file = dump ? debug_.dir + "/" + task.clip_uid + ".safetensors" : "";
    task.ReportStage(StrCat("queries (", inputs.size(), ")"), 0.05);
    VQ2D_ASSIGN_OR_RETURN(results, engine_->RunClip(cf, inputs, dump ? &debug : nullptr, tensors_file));
  }
  double read_wait_s = 0, read_blocking_s = read_s;
  if (prefetch) {
    // read_s: opening the record plus the prefetch thread's reading (what reading costs, as without
    // prefetch); read_wait_s: what the models waited for frames; read_blocking_s: the part of
    // reading on the clip's critical path (open + waits; all of read_s without prefetch).
    read_s = open_s + prefetch->read_seconds();
    read_wait_s = prefetch->wait_seconds();
    read_blocking_s = open_s + read_wait_s;
  }

  const pipeline::ModelWork work = engine_->model_work() - work_before;
  ClipResult r;
  pipeline::StageStats sum;
  int64_t errors = 0;
  nlohmann::json per_query = nlohmann::json::array();
  for (size_t i = 0; i < results.size(); ++i) {
    const pipeline::QueryResult& q = results[i];
    QueryPrediction& p = out.queries[i];
    p.score = q.score;
    for (const auto& b : q.track) p.bboxes.push_back({static_cast<int>(b.frame), b.x1, b.y1, b.x2, b.y2});
    const pipeline::StageStats& s = q.stats;
    sum.query_s += s.query_s, sum.video_s += s.video_s, sum.select_s += s.select_s;
    sum.refine_s += s.refine_s, sum.track_s += s.track_s, sum.expansion_s += s.expansion_s;
    sum.ren_images += s.ren_images;
    errors += static_cast<int64_t>(!q.upstream_errors.empty());
    per_query.push_back({{"annotation_index", p.annotation_index},
                         {"query_set", p.query_set},
                         {"query_frame", inputs[i].query_timestep},
                         {"visual_crop_frame", inputs[i].visual_crop_frame},
                         {"visual_crop_box_xywh", inputs[i].visual_crop_box},
                         {"round2_tracked", q.round2_tracked},
                         {"round2_accepted", q.round2_accepted},
                         {"upstream_errors", q.upstream_errors},
                         {"stats", pipeline::StageStatsJson(s)}});
  }
  out.extra = {{"record", path}, {"device", engine_->device()}, {"queries", per_query}};
  r.output = SerializeClipOutput(out);
  r.stats = {{"read_s", read_s},
             {"read_wait_s", read_wait_s},
             {"read_blocking_s", read_blocking_s},
             {"query_s", sum.query_s},
             {"video_s", sum.video_s},
             {"select_s", sum.select_s},
             {"refine_s", sum.refine_s},
             {"track_s", sum.track_s},
             {"expansion_s", sum.expansion_s},
             {"queries", results.size()},
             {"queries_with_upstream_errors", errors},
             {"frames", frames.count},
             {"ren_images", sum.ren_images},
             {"model_work", ModelWorkJson(work)},
             {"per_query", per_query}};
  if (dump) {
    debug["clip_uid"] = task.clip_uid;
    debug["record"] = path;
    debug["frame_width"] = out.frame_width;
    debug["frame_height"] = out.frame_height;
    debug["engine"] = engine_->Describe();
    debug["tensors"] = debug_.dir + "/" + task.clip_uid + ".safetensors";
    FileSystem* fs = FileSystem::Default();
    const std::string file = debug_.dir + "/" + task.clip_uid + ".json";
    VQ2D_RETURN_IF_ERROR(WriteFileAtomic(fs, file, debug.dump(1) + "\n", "debug"));
  }
  return r;
}

}  // namespace vq2d::app
