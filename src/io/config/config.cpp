#include "vq2d/io/config.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <sys/stat.h>

#include "vq2d/base/arch_limits.h"
#include "vq2d/base/check.h"
#include "vq2d/base/filesystem.h"

namespace vq2d::io {
namespace {

enum class Kind { kBool, kInt, kDouble, kString, kDoubleList, kIntList, kStringList };

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kDouble: return "float";
    case Kind::kString: return "string";
    case Kind::kDoubleList: return "list of float";
    case Kind::kIntList: return "list of int";
    case Kind::kStringList: return "list of string";
  }
  return "?";
}

struct Field {
  std::string key;
  Kind kind;
  std::function<void*(Config&)> ptr;
  std::string help;
  bool affects_results = true;
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> choices;  // strings only
};

constexpr double kInf = std::numeric_limits<double>::infinity();

#define VQ2D_PTR(member) [](Config& c) -> void* { return &c.member; }

// Bounds of every integer key, chosen so that no use can overflow (frame indices, pixel sizes,
// tensor shapes are all computed in int64 from these). Narrows the schema's [min, max]; a key of
// kind int or list of int that is missing here is a schema bug (CHECK at start-up).
struct IntRange {
  const char* key;
  double min, max;
};
constexpr double kMaxCount = 1e9;       // unused seed keys and training-only counts
constexpr double kMaxFrames = 1e7;      // frame windows and chunks (a clip of 23 days at 5 fps)
constexpr double kMaxPixels = 16384;    // image sides
const IntRange kIntRanges[] = {
    {"data.num_train_examples", 0, kMaxCount},
    {"data.num_val_examples", 0, kMaxCount},
    {"data.num_test_examples", 0, kMaxCount},
    {"visual_query.patch_size", 1, arch_limits::kMaxPatch},
    {"visual_query.batch_size", 1, 1},
    {"visual_query.selection_top_k", 1, 1e6},
    {"visual_query.sam_pooled_chunk", 1, 4096},
    {"visual_query.sam_blur_kernel", 1, 31},
    {"visual_query.token_distance_mask_size", 0, 5},
    {"visual_query.tracking_half_window", 1, kMaxFrames},
    {"visual_query.bbox_size_threshold", 0, kMaxPixels},
    {"ren.pretrained.patch_sizes", 1, arch_limits::kMaxPatch},
    {"ren.architecture.grid_size", 1, arch_limits::kMaxGrid},
    {"ren.architecture.hidden_dim", 2, arch_limits::kMaxWidth},
    {"ren.architecture.decoder_layers", 1, arch_limits::kMaxDepth},
    {"ren.architecture.num_attention_heads", 1, arch_limits::kMaxHeads},
    {"ren.parameters.image_resolution", 14, arch_limits::kMaxImageSize},
    {"ren.parameters.batch_size", 0, kMaxCount},
    {"ren.parameters.num_epochs", 0, kMaxCount},
    {"ren.parameters.max_prompts", 0, kMaxCount},
    {"ren.parameters.accumulation_steps", 0, kMaxCount},
    {"ren.parameters.warmup_steps", 0, kMaxCount},
    {"ren.parameters.logging_steps", 0, kMaxCount},
    {"ren.parameters.num_workers", 0, kMaxCount},
    {"models.ren_batch_size", 1, 4096},
    {"models.cpu_threads", 0, 1024},
    {"models.dino_input_size", 8, arch_limits::kMaxImageSize},
    {"prepare.short_side", 1, kMaxPixels},
    {"prepare.long_side_max", 1, kMaxPixels},
    {"prepare.black_threshold", 0, 255},
    {"prepare.gzip_level", 1, 9},
    {"runner.max_attempts", 1, 1000},
    {"runner.min_free_mb", 0, 1000000000},  // MiB (1 PiB); << 20 stays far below 2^63
    {"runner.video_chunk_frames", 1, 100000},
};

void ApplyIntegerRanges(std::vector<Field>& fields) {
  for (Field& f : fields) {
    if (f.kind != Kind::kInt && f.kind != Kind::kIntList) continue;
    const IntRange* r = nullptr;
    for (const auto& x : kIntRanges)
      if (f.key == x.key) r = &x;
    VQ2D_CHECK(r != nullptr) << "config schema: integer key " << f.key << " has no range in kIntRanges";
    f.min = std::max(f.min, r->min);
    f.max = std::min(f.max, r->max);
  }
}

const std::vector<Field>& Schema() {
  static const std::vector<Field> fields = [] {
    std::vector<Field> f;
    auto add = [&f](std::string key, Kind kind, std::function<void*(Config&)> ptr, std::string help,
                    bool affects = true, double lo = -kInf, double hi = kInf,
                    std::vector<std::string> choices = {}) {
      f.push_back(Field{std::move(key), kind, std::move(ptr), std::move(help), affects, lo, hi, std::move(choices)});
    };
    // data
    add("data.train_data_dir", Kind::kString, VQ2D_PTR(data.train_data_dir), "records directory of the train split", false);
    add("data.val_data_dir", Kind::kString, VQ2D_PTR(data.val_data_dir), "records directory of the val split", false);
    add("data.test_data_dir", Kind::kString, VQ2D_PTR(data.test_data_dir), "records directory of the test split", false);
    add("data.sam2_ckpt", Kind::kString, VQ2D_PTR(data.sam2_ckpt), "SAM 2.1 checkpoint (sam2.1_hiera_*.pt)", false);
    add("data.num_train_examples", Kind::kInt, VQ2D_PTR(data.num_train_examples), "seed key, unused (vq2d schedules whole splits)", false, 0);
    add("data.num_val_examples", Kind::kInt, VQ2D_PTR(data.num_val_examples), "seed key, unused", false, 0);
    add("data.num_test_examples", Kind::kInt, VQ2D_PTR(data.num_test_examples), "seed key, unused", false, 0);
    add("data.train_annotations", Kind::kString, VQ2D_PTR(data.train_annotations), "Ego4D vq_train.json", false);
    add("data.val_annotations", Kind::kString, VQ2D_PTR(data.val_annotations), "Ego4D vq_val.json", false);
    add("data.test_annotations", Kind::kString, VQ2D_PTR(data.test_annotations), "Ego4D vq_test_unannotated.json", false);
    add("data.videos_dir", Kind::kString, VQ2D_PTR(data.videos_dir), "directory of <video_uid>.mp4 full-scale videos", false);
    add("data.verify_record_checksums", Kind::kBool, VQ2D_PTR(data.verify_record_checksums),
        "verify each record's integrity header (length, SHA-256) before opening it (false: skip, faster; also reads records without a header)", false);
    // visual_query
    add("visual_query.split", Kind::kString, VQ2D_PTR(visual_query.split), "split to run", true, -kInf, kInf, {"train", "val", "test"});
    add("visual_query.feature_extractor", Kind::kString, VQ2D_PTR(visual_query.feature_extractor),
        "backbone of the SAM-pooled descriptors", true, -kInf, kInf, {"dino", "dinov2"});
    add("visual_query.patch_size", Kind::kInt, VQ2D_PTR(visual_query.patch_size), "patch size of those descriptors", true, 1, 64);
    add("visual_query.batch_size", Kind::kInt, VQ2D_PTR(visual_query.batch_size), "queries per batch (upstream supports 1 only)", true, 1, 1);
    add("visual_query.query_cropping_factors", Kind::kDoubleList, VQ2D_PTR(visual_query.query_cropping_factors), "crop factors around the visual crop", true, 0.01, 100);
    add("visual_query.frame_cropping_factors", Kind::kDoubleList, VQ2D_PTR(visual_query.frame_cropping_factors), "video encoding: full frame and k x k crops", true, 0.01, 100);
    add("visual_query.selection_top_k", Kind::kInt, VQ2D_PTR(visual_query.selection_top_k), "candidates kept by selection", true, 1);
    add("visual_query.selection_top_p", Kind::kDouble, VQ2D_PTR(visual_query.selection_top_p), "selection top-p (absolute cosine)", true, -1, 1);
    add("visual_query.refinement_top_p", Kind::kDouble, VQ2D_PTR(visual_query.refinement_top_p), "refinement top-p", true, -1, 1);
    add("visual_query.refinement_min_score", Kind::kDouble, VQ2D_PTR(visual_query.refinement_min_score), "unused upstream (kept for compatibility)", true);
    add("visual_query.tracking_top_p", Kind::kDouble, VQ2D_PTR(visual_query.tracking_top_p), "track top-p (no effect with one track)", true);
    add("visual_query.nms_threshold", Kind::kDouble, VQ2D_PTR(visual_query.nms_threshold), "inter-frame NMS ratio", true, 0, 1);
    add("visual_query.query_selection_threshold", Kind::kDouble, VQ2D_PTR(visual_query.query_selection_threshold), "expansion query filter (strict >)", true);
    add("visual_query.track_selection_threshold", Kind::kDouble, VQ2D_PTR(visual_query.track_selection_threshold), "round-2 floor and acceptance ratio", true);
    add("visual_query.tracker_name", Kind::kString, VQ2D_PTR(visual_query.tracker_name), "tracker", true, -kInf, kInf, {"sam2"});
    add("visual_query.tracker_param", Kind::kString, VQ2D_PTR(visual_query.tracker_param), "SAM 2.1 model config name (selects the variant)", true);
    add("visual_query.save_dir", Kind::kString, VQ2D_PTR(visual_query.save_dir), "parent of the run's output directory", false);
    add("visual_query.exp_name", Kind::kString, VQ2D_PTR(visual_query.exp_name), "run name; output in <save_dir>/<exp_name>/ (val) or <save_dir>/<exp_name>_<split>/", false);
    add("visual_query.matching_threshold", Kind::kDouble, VQ2D_PTR(visual_query.matching_threshold), "video token matching threshold (hard-coded upstream)", true, -1, 1);
    // Hard-coded upstream constants (docs/pipeline.md#constants-pipelineparams-upstream-values); defaults = upstream.
    add("visual_query.query_frame_suppression", Kind::kDouble, VQ2D_PTR(visual_query.query_frame_suppression), "selection: zero the query-frame run while score >= this (hard-coded upstream)", true, -1, 2);
    add("visual_query.intra_frame_keep_ratio", Kind::kDouble, VQ2D_PTR(visual_query.intra_frame_keep_ratio), "selection: keep scores >= ratio * frame max (hard-coded upstream)", true, 0, 1);
    add("visual_query.sliding_window_overlap", Kind::kDouble, VQ2D_PTR(visual_query.sliding_window_overlap), "video crops: stride int(crop * (1 - overlap)) (hard-coded upstream)", true, 0, 0.95);
    add("visual_query.cropping_margin_expansion", Kind::kDouble, VQ2D_PTR(visual_query.cropping_margin_expansion), "refinement: get_cropping_factor margin (hard-coded upstream)", true, 0.01, 100);
    add("visual_query.max_cropping_factor", Kind::kDouble, VQ2D_PTR(visual_query.max_cropping_factor), "refinement: get_cropping_factor upper clip (hard-coded upstream)", true, 1, 100);
    add("visual_query.sam_pooled_chunk", Kind::kInt, VQ2D_PTR(visual_query.sam_pooled_chunk), "refinement: images per SAM-pooled descriptor chunk (hard-coded upstream)", true, 1, 4096);
    add("visual_query.sam_blur_kernel", Kind::kInt, VQ2D_PTR(visual_query.sam_blur_kernel), "Gaussian blur k x k before every SAM image call, odd, 1 = none (hard-coded upstream)", true, 1, 31);
    add("visual_query.token_distance_mask_size", Kind::kInt, VQ2D_PTR(visual_query.token_distance_mask_size), "token choice: distanceTransform maskSize 3, 5 or 0 = precise (hard-coded upstream)", true, 0, 5);
    add("visual_query.crop_interpolation", Kind::kString, VQ2D_PTR(visual_query.crop_interpolation), "cv::resize of every crop (hard-coded upstream)", true, -kInf, kInf, {kCropInterpolationNames.begin(), kCropInterpolationNames.end()});
    add("visual_query.tracking_half_window", Kind::kInt, VQ2D_PTR(visual_query.tracking_half_window), "SAM 2 tracking window [fid-w, fid+w) (hard-coded upstream)", true, 1);
    add("visual_query.bbox_size_threshold", Kind::kInt, VQ2D_PTR(visual_query.bbox_size_threshold), "expansion: skip tracked boxes with min(w,h) <= this (hard-coded upstream)", true, 0);
    add("visual_query.blur_threshold", Kind::kDouble, VQ2D_PTR(visual_query.blur_threshold), "expansion: blurry iff Laplacian variance < this (hard-coded upstream)", true, 0);
    // ren
    add("ren.pretrained.feature_extractors", Kind::kStringList, VQ2D_PTR(ren.feature_extractors), "REN backbone ([0] is used)", true);
    add("ren.pretrained.patch_sizes", Kind::kIntList, VQ2D_PTR(ren.patch_sizes), "backbone patch sizes", true, 1, 64);
    add("ren.pretrained.region_extractor", Kind::kString, VQ2D_PTR(ren.region_extractor), "unused in VQ", false);
    add("ren.pretrained.sam2_hieral_ckpt", Kind::kString, VQ2D_PTR(ren.sam2_hieral_ckpt), "unused in VQ", false);
    add("ren.pretrained.sam2_hieral_config", Kind::kString, VQ2D_PTR(ren.sam2_hieral_config), "unused in VQ", false);
    add("ren.architecture.grid_size", Kind::kInt, VQ2D_PTR(ren.grid_size), "prompt grid (grid_size^2 region tokens)", true, 1, 1024);
    add("ren.architecture.hidden_dim", Kind::kInt, VQ2D_PTR(ren.hidden_dim), "region encoder width", true, 2);
    add("ren.architecture.decoder_layers", Kind::kInt, VQ2D_PTR(ren.decoder_layers), "region encoder blocks", true, 1);
    add("ren.architecture.num_attention_heads", Kind::kInt, VQ2D_PTR(ren.num_attention_heads), "region encoder heads", true, 1);
    add("ren.parameters.image_resolution", Kind::kInt, VQ2D_PTR(ren.image_resolution), "REN input size", true, 14);
    add("ren.parameters.upsample_features", Kind::kBool, VQ2D_PTR(ren.upsample_features), "PE layout and feature resize", true);
    add("ren.parameters.batch_size", Kind::kInt, VQ2D_PTR(ren.train_batch_size), "training only, unused", false);
    add("ren.parameters.learning_rate", Kind::kDouble, VQ2D_PTR(ren.learning_rate), "training only, unused", false);
    add("ren.parameters.num_epochs", Kind::kInt, VQ2D_PTR(ren.num_epochs), "training only, unused", false);
    add("ren.parameters.max_prompts", Kind::kInt, VQ2D_PTR(ren.max_prompts), "training only, unused", false);
    add("ren.parameters.accumulation_steps", Kind::kInt, VQ2D_PTR(ren.accumulation_steps), "training only, unused", false);
    add("ren.parameters.warmup_steps", Kind::kInt, VQ2D_PTR(ren.warmup_steps), "training only, unused", false);
    add("ren.parameters.logging_steps", Kind::kInt, VQ2D_PTR(ren.logging_steps), "training only, unused", false);
    add("ren.parameters.max_grad_norm", Kind::kDouble, VQ2D_PTR(ren.max_grad_norm), "training only, unused", false);
    add("ren.parameters.deduplicate_masks", Kind::kBool, VQ2D_PTR(ren.deduplicate_masks), "training only, unused", false);
    add("ren.parameters.num_workers", Kind::kInt, VQ2D_PTR(ren.num_workers), "training only, unused", false);
    add("ren.logging.save_dir", Kind::kString, VQ2D_PTR(ren.logging_save_dir), "REN checkpoint at <save_dir>/<exp_name>/checkpoint.pth", false);
    add("ren.logging.exp_name", Kind::kString, VQ2D_PTR(ren.logging_exp_name), "see ren.logging.save_dir", false);
    // models
    add("models.device", Kind::kString, VQ2D_PTR(models.device), "auto = cuda:<local_rank % gpus> when available, else cpu", false, -kInf, kInf, {"auto", "cpu", "cuda"});
    add("models.precision", Kind::kString, VQ2D_PTR(models.precision), "auto = upstream's per device (CUDA: SAM 2 bf16 autocast, REN fp32; CPU: fp32); fp32 = REN and SAM 2 fp32; bf16 = speed mode, REN bf16 too (docs/gpu.md)", true, -kInf, kInf, {"auto", "fp32", "bf16"});
    add("models.dinov2", Kind::kString, VQ2D_PTR(models.dinov2), "DINOv2 ViT-L/14 checkpoint", false);
    add("models.dino", Kind::kString, VQ2D_PTR(models.dino), "DINO ViT-B/8 checkpoint", false);
    add("models.ren", Kind::kString, VQ2D_PTR(models.ren), "REN checkpoint.pth (empty: from ren.logging)", false);
    add("models.sam2", Kind::kString, VQ2D_PTR(models.sam2), "SAM 2.1 checkpoint (empty: data.sam2_ckpt)", false);
    add("models.architecture", Kind::kString, VQ2D_PTR(models.architecture), "JSON file of model architectures (empty: official)", false);
    add("models.dino_precision", Kind::kString, VQ2D_PTR(models.dino_precision), "DINO ViT-B/8 weights and input (upstream: bf16)", true, -kInf, kInf, {"fp32", "bf16"});
    add("models.batch_crops", Kind::kString, VQ2D_PTR(models.batch_crops), "tracked-token crops through SAM 2 and REN in batches: auto = on CUDA only (equal within float tolerance, not bit-identical), on, off", true, -kInf, kInf, {"auto", "on", "off"});
    add("models.ren_batch_size", Kind::kInt, VQ2D_PTR(models.ren_batch_size), "images per REN pass (upstream 4; results do not depend on it)", false, 1, 4096);
    add("models.cpu_threads", Kind::kInt, VQ2D_PTR(models.cpu_threads), "LibTorch CPU threads per process (0: default); bit-identical results need the same count", false, 0, 1024);
    add("models.dino_input_size", Kind::kIntList, VQ2D_PTR(models.dino_input_size), "DINO input [height, width] (upstream 384x512)", true, 8, 8192);
    // prepare
    add("prepare.short_side", Kind::kInt, VQ2D_PTR(prepare.short_side), "resize: short side", true, 1);
    add("prepare.long_side_max", Kind::kInt, VQ2D_PTR(prepare.long_side_max), "resize: long side limit", true, 1);
    add("prepare.black_threshold", Kind::kInt, VQ2D_PTR(prepare.black_threshold), "black-bar trim threshold", true, 0, 255);
    add("prepare.max_trim_fraction", Kind::kDouble, VQ2D_PTR(prepare.max_trim_fraction), "max trim per side", true, 0, 0.5);
    add("prepare.compression", Kind::kString, VQ2D_PTR(prepare.compression), "record frame compression", false, -kInf, kInf, {"none", "gzip"});
    add("prepare.gzip_level", Kind::kInt, VQ2D_PTR(prepare.gzip_level), "gzip level when compression is gzip", false, 1, 9);
    // runner
    add("runner.schedule", Kind::kString, VQ2D_PTR(runner.schedule), "static LPT plan or dynamic tickets", false, -kInf, kInf, {"static", "dynamic"});
    add("runner.max_attempts", Kind::kInt, VQ2D_PTR(runner.max_attempts), "starts without finishing before quarantine", false, 1, 1000);
    add("runner.progress_interval_s", Kind::kDouble, VQ2D_PTR(runner.progress_interval_s), "seconds between progress lines", false, 0.05, 86400);
    add("runner.min_free_mb", Kind::kInt, VQ2D_PTR(runner.min_free_mb),
        "MiB the output filesystem must have available to start the run and each new clip (0: unchecked)", false, 0,
        1000000000);
    add("runner.grace_period_s", Kind::kDouble, VQ2D_PTR(runner.grace_period_s), "seconds the current clip may take after SIGTERM/SIGUSR1", false, 0, 86400);
    add("runner.share_video_tokens", Kind::kBool, VQ2D_PTR(runner.share_video_tokens), "one video pass per clip shared by its queries (false: per query, as upstream; same results)", false);
    add("runner.video_chunk_frames", Kind::kInt, VQ2D_PTR(runner.video_chunk_frames), "frames per REN pass of the shared video pass", false, 1, 100000);
    add("runner.prefetch_frames", Kind::kBool, VQ2D_PTR(runner.prefetch_frames), "read the clip's frames from its record on a background thread while the models compute (false: all before; same results)", false);
    // fixes
    add("fixes.expansion_token_index", Kind::kBool, VQ2D_PTR(fixes.expansion_token_index), "upstream quirk Q1 (docs/pipeline.md): expansion appends tracked tokens[query_idx], not [track_idx]", true);
    add("fixes.tracked_token_alignment", Kind::kBool, VQ2D_PTR(fixes.tracked_token_alignment), "upstream quirk Q2 (docs/pipeline.md): keep 8 tracked tokens per frame when a SAM mask is empty", true);
    add("fixes.suppression_frame_index", Kind::kBool, VQ2D_PTR(fixes.suppression_frame_index), "upstream quirk Q3 (docs/pipeline.md): suppress the query frame by its frame id, not its list position", true);
    add("fixes.blur_gray_conversion", Kind::kBool, VQ2D_PTR(fixes.blur_gray_conversion), "upstream quirk Q4 (docs/pipeline.md): is_blurry converts RGB with RGB2GRAY, not BGR2GRAY", true);
    add("fixes.apply_trim_offset", Kind::kBool, VQ2D_PTR(fixes.apply_trim_offset), "upstream quirk Q5 (docs/pipeline.md): shift boxes by the black-bar trim offset", true);
    add("fixes.sam2_prompt_frame_int_index", Kind::kBool, VQ2D_PTR(fixes.sam2_prompt_frame_int_index),
        "upstream quirk Q10 (docs/pipeline.md): the SAM 2 prompt frame yields its box-prompted mask (false: "
        "upstream's tensor frame index, the prompt frame is re-inferred with memory)", true);
    std::sort(f.begin(), f.end(), [](const Field& a, const Field& b) { return a.key < b.key; });
    ApplyIntegerRanges(f);
    return f;
  }();
  return fields;
}

#undef VQ2D_PTR

const Field* FindField(const std::string& key) {
  for (const auto& f : Schema())
    if (f.key == key) return &f;
  return nullptr;
}

bool IsSectionPrefix(const std::string& prefix) {
  const std::string p = prefix + ".";
  for (const auto& f : Schema())
    if (f.key.compare(0, p.size(), p) == 0) return true;
  return false;
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest known key or section at the same depth as `key` ("visualquery" -> "visual_query").
std::string ClosestKey(const std::string& key) {
  const size_t depth = static_cast<size_t>(std::count(key.begin(), key.end(), '.'));
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  for (const auto& f : Schema()) {
    // The prefix of f.key with depth+1 components.
    size_t pos = 0;
    for (size_t i = 0; i <= depth && pos != std::string::npos; ++i) pos = f.key.find('.', pos == 0 && i == 0 ? 0 : pos + 1);
    const std::string candidate = pos == std::string::npos ? f.key : f.key.substr(0, pos);
    size_t d = EditDistance(key, candidate);
    if (d < best_d) best_d = d, best = candidate;
  }
  return best;
}

std::string FormatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string s = buf;
  // Prefer the shortest representation that round-trips.
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) {
      s = buf;
      break;
    }
  }
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string QuoteString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

std::string ValueText(const Field& f, Config& c) {
  void* p = f.ptr(c);
  std::ostringstream os;
  switch (f.kind) {
    case Kind::kBool: return *static_cast<bool*>(p) ? "true" : "false";
    case Kind::kInt: return std::to_string(*static_cast<long long*>(p));
    case Kind::kDouble: return FormatDouble(*static_cast<double*>(p));
    case Kind::kString: return QuoteString(*static_cast<std::string*>(p));
    case Kind::kDoubleList: {
      const auto& v = *static_cast<std::vector<double>*>(p);
      os << "[";
      for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << FormatDouble(v[i]);
      os << "]";
      return os.str();
    }
    case Kind::kIntList: {
      const auto& v = *static_cast<std::vector<long long>*>(p);
      os << "[";
      for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
      os << "]";
      return os.str();
    }
    case Kind::kStringList: {
      const auto& v = *static_cast<std::vector<std::string>*>(p);
      os << "[";
      for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << QuoteString(v[i]);
      os << "]";
      return os.str();
    }
  }
  return "";
}

std::string Describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "null";
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  return "a mapping";
}

Status Invalid(const std::string& source, const std::string& key, const std::string& what) {
  return Status::InvalidArgument(StrCat(source, ": key '", key, "': ", what));
}

template <typename T>
bool ScalarAs(const YAML::Node& n, T* out) {
  if (!n.IsScalar()) return false;
  try {
    *out = n.as<T>();
    return true;
  } catch (const YAML::Exception&) {
    return false;
  }
}

Status CheckRange(const std::string& source, const Field& f, double v, const std::string& text) {
  if (std::isnan(v) || v < f.min || v > f.max) {
    std::ostringstream os;
    os << "value " << text << " is out of range: expected ";
    if (std::isinf(f.min)) os << "<= " << f.max;
    else if (std::isinf(f.max)) os << ">= " << f.min;
    else os << "a value in [" << f.min << ", " << f.max << "]";
    return Invalid(source, f.key, os.str());
  }
  return Status::OK();
}

Status SetField(const std::string& source, const Field& f, const YAML::Node& n, Config& c) {
  void* p = f.ptr(c);
  const std::string expected = std::string("expected ") + KindName(f.kind) + ", got " + Describe(n);
  switch (f.kind) {
    case Kind::kBool: {
      bool v;
      if (!ScalarAs(n, &v)) return Invalid(source, f.key, expected);
      *static_cast<bool*>(p) = v;
      return Status::OK();
    }
    case Kind::kInt: {
      long long v;
      if (!ScalarAs(n, &v)) return Invalid(source, f.key, expected);
      VQ2D_RETURN_IF_ERROR(CheckRange(source, f, static_cast<double>(v), n.Scalar()));
      *static_cast<long long*>(p) = v;
      return Status::OK();
    }
    case Kind::kDouble: {
      double v;
      if (!ScalarAs(n, &v)) return Invalid(source, f.key, expected);
      VQ2D_RETURN_IF_ERROR(CheckRange(source, f, v, n.Scalar()));
      *static_cast<double*>(p) = v;
      return Status::OK();
    }
    case Kind::kString: {
      if (!n.IsScalar()) return Invalid(source, f.key, expected);
      const std::string& v = n.Scalar();
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), v) == f.choices.end()) {
        std::string list;
        for (const auto& ch : f.choices) list += (list.empty() ? "" : ", ") + ch;
        return Invalid(source, f.key, StrCat("value '", v, "' is not one of: ", list));
      }
      *static_cast<std::string*>(p) = v;
      return Status::OK();
    }
    case Kind::kDoubleList:
    case Kind::kIntList:
    case Kind::kStringList: {
      if (!n.IsSequence()) return Invalid(source, f.key, expected);
      if (n.size() == 0) return Invalid(source, f.key, "expected a non-empty list");
      std::vector<double> dv;
      std::vector<long long> iv;
      std::vector<std::string> sv;
      for (size_t i = 0; i < n.size(); ++i) {
        const YAML::Node e = n[i];
        const std::string where = StrCat("element ", i, " ");
        if (f.kind == Kind::kDoubleList) {
          double v;
          if (!ScalarAs(e, &v)) return Invalid(source, f.key, where + expected);
          VQ2D_RETURN_IF_ERROR(CheckRange(source, f, v, e.Scalar()));
          dv.push_back(v);
        } else if (f.kind == Kind::kIntList) {
          long long v;
          if (!ScalarAs(e, &v)) return Invalid(source, f.key, where + expected);
          VQ2D_RETURN_IF_ERROR(CheckRange(source, f, static_cast<double>(v), e.Scalar()));
          iv.push_back(v);
        } else {
          if (!e.IsScalar()) return Invalid(source, f.key, where + expected);
          sv.push_back(e.Scalar());
        }
      }
      if (f.kind == Kind::kDoubleList) *static_cast<std::vector<double>*>(p) = dv;
      if (f.kind == Kind::kIntList) *static_cast<std::vector<long long>*>(p) = iv;
      if (f.kind == Kind::kStringList) *static_cast<std::vector<std::string>*>(p) = sv;
      return Status::OK();
    }
  }
  return Status::Internal("unhandled config kind");
}

Status UnknownKey(const std::string& source, const std::string& key) {
  const std::string closest = ClosestKey(key);
  if (closest == key) return Status::InvalidArgument(StrCat(source, ": unknown key '", key, "'"));
  return Status::InvalidArgument(StrCat(source, ": unknown key '", key, "' (did you mean '", closest, "'?)"));
}

// The first key of a section ("visual_query" -> "visual_query.batch_size").
std::string SectionExample(const std::string& section) {
  const std::string p = section + ".";
  for (const auto& f : Schema())
    if (f.key.compare(0, p.size(), p) == 0) return f.key;
  return section;
}

// "<source>:<line>" for a node that has a position, else "<source>".
std::string AtLine(const std::string& source, const YAML::Mark& m) {
  return m.is_null() ? source : StrCat(source, ":", m.line + 1);
}

// The keys of one mapping, in order: each must be a scalar (`? [a, b] : 1` is not a key) and
// appear once (YAML forbids duplicates; yaml-cpp would keep both and the last would win).
Status MappingKeys(const std::string& source, const std::string& section, const YAML::Node& map,
                   std::vector<std::pair<std::string, YAML::Node>>* out) {
  std::map<std::string, YAML::Mark> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;  // a copy: the iterator hands out a temporary pair
    const std::string where = section.empty() ? "at the top level" : StrCat("in section '", section, "'");
    if (!k.IsScalar()) {
      return Status::InvalidArgument(StrCat(AtLine(source, k.Mark()), ": a key ", where, " is ", Describe(k),
                                            ": expected a plain name"));
    }
    const std::string name = k.Scalar();
    auto [pos, inserted] = seen.emplace(name, k.Mark());
    if (!inserted) {
      const std::string full = section.empty() ? name : section + "." + name;
      return Status::InvalidArgument(StrCat(AtLine(source, k.Mark()), ": duplicate key '", full, "'",
                                            pos->second.is_null() ? "" : StrCat(" (first at line ", pos->second.line + 1, ")")));
    }
    out->emplace_back(name, it->second);
  }
  return Status::OK();
}

Status ApplyNode(const std::string& source, const std::string& path, const YAML::Node& node, Config& c) {
  if (const Field* f = FindField(path)) return SetField(source, *f, node, c);
  if (!IsSectionPrefix(path)) return UnknownKey(source, path);
  if (node.IsNull()) return Status::OK();  // an empty section keeps its defaults
  if (!node.IsMap()) return Invalid(source, path, "expected a mapping (section), got " + Describe(node));
  std::vector<std::pair<std::string, YAML::Node>> children;
  VQ2D_RETURN_IF_ERROR(MappingKeys(source, path, node, &children));
  for (const auto& [child, value] : children) VQ2D_RETURN_IF_ERROR(ApplyNode(source, path + "." + child, value, c));
  return Status::OK();
}

Status ApplyRoot(const std::string& source, const YAML::Node& root, Config& c) {
  if (!root.IsDefined() || root.IsNull()) return Status::OK();
  if (!root.IsMap()) return Status::InvalidArgument(source + ": expected a YAML mapping at the top level");
  std::vector<std::pair<std::string, YAML::Node>> keys;
  VQ2D_RETURN_IF_ERROR(MappingKeys(source, "", root, &keys));
  for (const auto& [key, value] : keys) VQ2D_RETURN_IF_ERROR(ApplyNode(source, key, value, c));
  return Status::OK();
}

// A yaml-cpp exception as "<source>:<line>:<column>: <what>" (the position of the offending token).
Status YamlError(const std::string& source, const YAML::Exception& e) {
  std::string what = e.msg;
  if (dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr) {
    what = "nesting is too deep (more than 2000 levels of lists or mappings)";
  }
  if (e.mark.is_null()) return Status::InvalidArgument(StrCat(source, ": not valid YAML: ", what));
  return Status::InvalidArgument(
      StrCat(source, ":", e.mark.line + 1, ":", e.mark.column + 1, ": not valid YAML: ", what));
}

// Where each YAML document of a stream starts, and where its first node is (the parser's events,
// nothing built).
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  std::vector<YAML::Mark> first_nodes;  // the document's start when it has no node
  void OnDocumentStart(const YAML::Mark& mark) override {
    starts.push_back(mark);
    first_nodes.push_back(mark);
    node_seen_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark) {
    if (node_seen_ || first_nodes.empty()) return;
    node_seen_ = true;
    if (!mark.is_null()) first_nodes.back() = mark;
  }
  bool node_seen_ = false;
};

// The one YAML document of `text` (a null node when there is none). yaml-cpp 0.7 consumes nothing
// when a document starts with a token that cannot begin a node (a ',' outside a flow collection,
// possibly after an anchor or tag): YAML::LoadAll then loops forever and YAML::Load returns null as
// if the text were empty. So the parser is driven here one document at a time, at most two, and
// anything after the first document is an error at its position: a second document after '---',
// or text the parser could not place. Throws YAML::Exception on a parse error.
Result<YAML::Node> LoadOneDocument(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts events;
  for (int i = 0; i < 2 && parser.HandleNextDocument(events); ++i) {
  }
  if (events.starts.size() > 1) {
    const YAML::Mark& m = events.starts[1];
    const size_t pos = m.pos < 0 ? text.size() : static_cast<size_t>(m.pos);
    if (text.compare(pos, 3, "---") == 0) {
      return Status::InvalidArgument(StrCat(AtLine(source, events.first_nodes[1]),
                                            ": a second YAML document (after '---') is not allowed: a config is one "
                                            "document"));
    }
    const std::string token = pos < text.size() ? std::string(1, text[pos]) : std::string("end of input");
    return Status::InvalidArgument(StrCat(source, ":", m.line + 1, ":", m.column + 1, ": not valid YAML: unexpected '",
                                          token, "' (it cannot start a value here)"));
  }
  if (events.starts.empty()) return YAML::Node();
  return YAML::Load(text);
}

Status ApplyOverride(const std::string& text, Config& c) {
  const std::string source = "--set " + text;
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return Status::InvalidArgument(StrCat("bad override '", text, "': expected key.path=value"));
  const std::string key = text.substr(0, eq);
  const Field* f = FindField(key);
  if (!f && IsSectionPrefix(key)) {
    return Status::InvalidArgument(StrCat(source, ": '", key, "' is a section, not a key: set one of its keys, e.g. ",
                                          SectionExample(key), "=..."));
  }
  if (!f) return UnknownKey("--set", key);
  YAML::Node value;
  try {
    auto loaded = LoadOneDocument(text.substr(eq + 1), source);
    if (!loaded.ok()) return loaded.status();
    value = *loaded;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(StrCat(source, ": value is not valid YAML: ", e.what()));
  }
  if (f->kind == Kind::kString && (!value.IsDefined() || value.IsNull())) value = YAML::Node(std::string());
  return SetField("--set", *f, value, c);
}

// Value sets a [min, max] range cannot express (checked after the file and the overrides).
Status CheckAllowedValues(const std::string& source, const Config& c) {
  const VisualQueryOptions& vq = c.visual_query;
  if (vq.sam_blur_kernel % 2 == 0) {
    return Invalid(source, "visual_query.sam_blur_kernel",
                   StrCat("value ", vq.sam_blur_kernel, " is not allowed: expected an odd kernel size (1 = no blur)"));
  }
  const long long m = vq.token_distance_mask_size;
  if (m != 0 && m != 3 && m != 5) {
    return Invalid(source, "visual_query.token_distance_mask_size",
                   StrCat("value ", m, " is not allowed: expected 3, 5 or 0 (precise)"));
  }
  return Status::OK();
}

}  // namespace

std::string Config::OutputDir() const { return OutputDirFor(visual_query.split); }

std::string Config::OutputDirFor(const std::string& split) const {
  const std::string legacy = JoinPath(visual_query.save_dir, visual_query.exp_name);
  return split == "val" ? legacy : legacy + "_" + split;
}

std::string ResolveOutputDir(const Config& config, FileSystem* fs) {
  const std::string dir = config.OutputDir();
  const std::string& split = config.visual_query.split;
  if (split == "val" || fs->Exists(dir)) return dir;
  const std::string legacy = config.OutputDirFor("val");
  auto text = fs->ReadFile(JoinPath(legacy, "run.json"));
  if (!text.ok()) return dir;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return dir;
  auto info = j.find("info");
  if (info == j.end() || !info->is_object()) return dir;
  auto s = info->find("split");
  return s != info->end() && s->is_string() && s->get<std::string>() == split ? legacy : dir;
}

std::string Config::RecordsDir(const std::string& split) const {
  if (split == "train") return data.train_data_dir;
  if (split == "test") return data.test_data_dir;
  return data.val_data_dir;
}

std::string Config::AnnotationsFile(const std::string& split) const {
  if (split == "train") return data.train_annotations;
  if (split == "test") return data.test_annotations;
  return data.val_annotations;
}

Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides) {
  Config config;
  try {
    auto root = LoadOneDocument(yaml_text, source_name);
    if (!root.ok()) return root.status();
    VQ2D_RETURN_IF_ERROR(ApplyRoot(source_name, *root, config));
    for (const auto& o : overrides) VQ2D_RETURN_IF_ERROR(ApplyOverride(o, config));
  } catch (const YAML::Exception& e) {  // parse errors; nothing below the parser throws by design
    return YamlError(source_name, e);
  }
  VQ2D_RETURN_IF_ERROR(CheckAllowedValues(source_name, config));
  return config;
}

Result<Config> LoadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  auto text = FileSystem::Default()->ReadFile(path);
  if (!text.ok()) return text.status().WithContext("cannot read config file");
  return ParseConfig(*text, path, overrides);
}

std::string CanonicalConfig(const Config& config, bool results_only) {
  Config copy = config;
  std::string out;
  for (const auto& f : Schema()) {
    if (results_only && !f.affects_results) continue;
    out += f.key + ": " + ValueText(f, copy) + "\n";
  }
  return out;
}

std::vector<ConfigKeyInfo> ConfigKeys() {
  Config defaults;
  std::vector<ConfigKeyInfo> out;
  for (const auto& f : Schema()) {
    std::string type = KindName(f.kind);
    if (!f.choices.empty()) {
      type = "one of";
      for (const auto& c : f.choices) type += " " + c;
    }
    const bool numeric = f.kind == Kind::kInt || f.kind == Kind::kIntList || f.kind == Kind::kDouble ||
                         f.kind == Kind::kDoubleList;
    out.push_back({f.key, type, ValueText(f, defaults), f.help, numeric ? f.min : 0, numeric ? f.max : 0});
  }
  return out;
}

Status RequireExistingPath(const Config& config, const std::string& key) {
  const Field* f = FindField(key);
  if (!f || f->kind != Kind::kString) return Status::Internal("RequireExistingPath: not a path key: " + key);
  Config copy = config;
  const std::string& path = *static_cast<std::string*>(f->ptr(copy));
  if (path.empty()) return Status::InvalidArgument(StrCat("config key ", key, " is empty: expected a path"));
  if (!FileSystem::Default()->Exists(path))
    return Status::NotFound(StrCat("config key ", key, ": '", path, "' does not exist"));
  return Status::OK();
}

}  // namespace vq2d::io
