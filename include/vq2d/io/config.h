// The run configuration: config.yaml (the seed REN sections `data`, `visual_query`, `ren`, plus
// `models`, `prepare`, `runner`, `fixes`) parsed once into typed option structs with defaults.
//
// Every key is declared once in a schema (config.cpp) that gives its type, default, valid range and
// whether it affects results (and so the run fingerprint). Unknown keys, wrong types and out-of-range
// values are errors naming the full key path; unknown keys also name the closest valid key.
//
// Thread-safety: Config is a plain value.
#pragma once

#include <string>
#include <vector>

#include "vq2d/base/filesystem.h"
#include "vq2d/base/stage_defaults.h"
#include "vq2d/base/status.h"

namespace vq2d::io {

struct DataOptions {
  // Records directories, one per split (seed keys).
  std::string train_data_dir = "/path/to/vq2d/records/train/";
  std::string val_data_dir = "/path/to/vq2d/records/val/";
  std::string test_data_dir = "/path/to/vq2d/records/test/";
  std::string sam2_ckpt = "/path/to/sam2.1_hiera_large.pt";
  // Seed keys: clips per upstream process. vq2d schedules whole splits, so they are accepted and unused.
  long long num_train_examples = 1, num_val_examples = 1, num_test_examples = 1;
  // Ego4D annotation files per split and the full-scale videos (vq2d additions).
  std::string train_annotations = "/path/to/ego4d/v2/annotations/vq_train.json";
  std::string val_annotations = "/path/to/ego4d/v2/annotations/vq_val.json";
  std::string test_annotations = "/path/to/ego4d/v2/annotations/vq_test_unannotated.json";
  std::string videos_dir = "/path/to/ego4d/v2/full_scale/";
  // Verify the records' checksums on read (include/vq2d/io/record.h); false skips it for speed.
  bool verify_record_checksums = true;
};

struct VisualQueryOptions {
  std::string split = "val";
  std::string feature_extractor = "dino";
  long long patch_size = defaults::kPatchSize;
  long long batch_size = 1;
  std::vector<double> query_cropping_factors = defaults::ToVector(defaults::kQueryCroppingFactors);
  std::vector<double> frame_cropping_factors = defaults::ToVector(defaults::kFrameCroppingFactors);
  long long selection_top_k = defaults::kSelectionTopK;
  double selection_top_p = defaults::kSelectionTopP;
  double refinement_top_p = defaults::kRefinementTopP;
  double refinement_min_score = 0.6;  // unused upstream (quirk Q8, docs/pipeline.md)
  double tracking_top_p = 0.75;
  double nms_threshold = defaults::kNmsThreshold;
  double query_selection_threshold = defaults::kQuerySelectionThreshold;
  double track_selection_threshold = defaults::kTrackSelectionThreshold;
  std::string tracker_name = "sam2";
  std::string tracker_param = "configs/sam2.1/sam2.1_hiera_l.yaml";
  std::string save_dir = "logs/";
  std::string exp_name = "ren-dinov2-val";
  // Hard-coded upstream (dataloader.py:58); exposed with upstream's value (stage_defaults.h).
  double matching_threshold = defaults::kMatchingThreshold;
  // Constants upstream hard-codes, exposed with upstream's values (stage_defaults.h, docs/pipeline.md).
  double query_frame_suppression = defaults::kQueryFrameSuppression;
  double intra_frame_keep_ratio = defaults::kIntraFrameKeepRatio;
  double sliding_window_overlap = defaults::kSlidingWindowOverlap;
  double cropping_margin_expansion = defaults::kCroppingMarginExpansion;
  double max_cropping_factor = defaults::kMaxCroppingFactor;
  long long sam_pooled_chunk = defaults::kSamPooledChunk;
  long long sam_blur_kernel = defaults::kSamBlurKernel;                    // odd; 1 = no blur
  long long token_distance_mask_size = defaults::kTokenDistanceMaskSize;  // 3, 5 or 0 = precise
  std::string crop_interpolation = CropInterpolationName(defaults::kCropInterpolation);  // kCropInterpolationNames
  long long tracking_half_window = defaults::kTrackingHalfSpan;
  long long bbox_size_threshold = defaults::kBboxSizeThreshold;
  double blur_threshold = defaults::kBlurThreshold;
};

struct RenOptions {
  std::vector<std::string> feature_extractors = {"dinov2_vitl14"};
  std::vector<long long> patch_sizes = {14};
  std::string region_extractor = "sam2_hierra";
  std::string sam2_hieral_ckpt = "/path/to/sam2.1_hiera_large.pt";
  std::string sam2_hieral_config = "configs/sam2.1/sam2.1_hiera_l.yaml";
  long long grid_size = 32;
  long long hidden_dim = 1024;
  long long decoder_layers = 4;
  long long num_attention_heads = 8;
  long long image_resolution = 518;
  bool upsample_features = false;
  // Training-only seed keys (accepted so a REN config loads unchanged; unused by VQ2D).
  long long train_batch_size = 16;
  double learning_rate = 0.001;
  long long num_epochs = 50, max_prompts = 256, accumulation_steps = 1, warmup_steps = 100, logging_steps = 25;
  double max_grad_norm = 5.0;
  bool deduplicate_masks = false;
  long long num_workers = 16;
  std::string logging_save_dir = "../logs/";
  std::string logging_exp_name = "ren-dinov2-vitl14";
};

struct ModelsOptions {
  std::string device = "auto";     // auto | cpu | cuda
  std::string precision = "auto";  // auto | fp32 | bf16 (per model and device: pipeline/precision.h)
  // Checkpoint files. Empty = the seed's location: REN at <ren.logging.save_dir>/<exp_name>/checkpoint.pth,
  // SAM 2 at data.sam2_ckpt.
  std::string dinov2 = "/path/to/dinov2_vitl14_pretrain.pth";
  std::string dino = "/path/to/dino_vitbase8_pretrain.pth";
  std::string ren = "";
  std::string sam2 = "";
  // JSON file with the models' architectures ({"dinov2": {...}, "dino": {...}, "sam2": {...}}, each
  // optional; docs/models.md). Empty = the official ones: DINOv2 named by ren.feature_extractors[0],
  // DINO ViT-B/8, SAM 2.1 named by visual_query.tracker_param. `vq2d synth` writes one for its demo models.
  std::string architecture = "";
  std::string dino_precision = "bf16";           // upstream casts DINO weights and input to bf16
  // A tracked frame's crops through SAM 2's image encoder as one batch and REN over (frame x crop):
  // auto = on CUDA only (batched results are equal within float tolerance, not bit-identical) | on | off.
  std::string batch_crops = "auto";
  long long ren_batch_size = defaults::kRenBatchSize;  // frames per REN pass
  std::vector<long long> dino_input_size = {defaults::kDinoInputHeight, defaults::kDinoInputWidth};  // (H, W)
  // CPU threads per process for LibTorch (0 = its default: the cores this process may use). Results are
  // bit-identical across runs only at the same thread count (float reduction order).
  long long cpu_threads = 0;
};

struct PrepareOptions {
  long long short_side = 288;
  long long long_side_max = 512;
  long long black_threshold = 32;
  double max_trim_fraction = 0.2;
  std::string compression = "none";  // none | gzip
  long long gzip_level = 1;
};

struct RunnerOptions {
  std::string schedule = "static";  // static (LPT plan) | dynamic (shared ticket counter)
  long long max_attempts = 3;       // starts without finishing before a clip is quarantined
  double progress_interval_s = 30;  // rank 0 progress line period
  double grace_period_s = 120;      // after SIGTERM/SIGUSR1: time the current clip may take to finish
  long long min_free_mb = 64;       // no new clip while the output filesystem has less available
  // Video tokens of a clip computed once and shared by its queries (false: per query, as upstream;
  // identical results, 5 x sum of query frames REN images instead of 5 x max).
  bool share_video_tokens = true;
  long long video_chunk_frames = defaults::kVideoChunkFrames;  // frames per REN pass of the shared video pass
  // The clip's frames read and decoded from its record by a background thread, video_chunk_frames
  // at a time, while the models compute (false: all read before the models start; same results).
  bool prefetch_frames = true;
};

// Switches that fix upstream quirks (docs/pipeline.md, Upstream quirks). All off = upstream behaviour.
struct FixesOptions {
  bool expansion_token_index = false;      // quirk Q1: use tokens[query_idx], not [track_idx]
  bool tracked_token_alignment = false;    // quirk Q2: keep 8 tokens per frame when a SAM mask is empty
  bool suppression_frame_index = false;    // quirk Q3: index query-frame suppression by frame id
  bool blur_gray_conversion = false;       // quirk Q4: RGB2GRAY instead of BGR2GRAY in is_blurry
  bool apply_trim_offset = false;          // quirk Q5: shift boxes by the black-bar trim offset
  bool sam2_prompt_frame_int_index = false;  // quirk Q10: the SAM 2 prompt frame yields its box-prompted mask
};

struct Config {
  DataOptions data;
  VisualQueryOptions visual_query;
  RenOptions ren;
  ModelsOptions models;
  PrepareOptions prepare;
  RunnerOptions runner;
  FixesOptions fixes;

  // The run directory of visual_query.split (OutputDirFor(visual_query.split)).
  std::string OutputDir() const;
  // The run directory of `split`: <save_dir>/<exp_name> for val, <save_dir>/<exp_name>_<split> for
  // the other splits, so the val and test runs of one config never share a directory. The only
  // definition of the layout; commands resolve it with ResolveOutputDir (old layouts included).
  std::string OutputDirFor(const std::string& split) const;
  // Records dir / annotation file of `split` (train | val | test).
  std::string RecordsDir(const std::string& split) const;
  std::string AnnotationsFile(const std::string& split) const;
};

// The run directory a command should use for the config's split: OutputDir(), except that a run of a
// non-val split written before per-split directories existed (in <save_dir>/<exp_name>, its run.json
// naming that split) is used while OutputDir() does not exist.
std::string ResolveOutputDir(const Config& config, FileSystem* fs);

// Loads `path` (YAML) on top of the defaults, then applies `overrides` ("a.b.c=value", value parsed
// as YAML, so lists work: "visual_query.frame_cropping_factors=[1.0,2.0]").
Result<Config> LoadConfig(const std::string& path, const std::vector<std::string>& overrides = {});
// Same from YAML text; `source_name` names it in errors.
Result<Config> ParseConfig(const std::string& yaml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides = {});

// One "key: value" line per key, sorted by key, values in a canonical form. With
// `results_only`, keys that cannot change results (runner.*, output location) are left out: this is
// what the run fingerprint hashes.
std::string CanonicalConfig(const Config& config, bool results_only);

struct ConfigKeyInfo {
  std::string key;
  std::string type;
  std::string default_value;
  std::string help;
  double min = 0, max = 0;  // numeric keys: accepted range (may be infinite for floats); 0/0 otherwise
};
// Every key of the schema, sorted (for --help and docs).
std::vector<ConfigKeyInfo> ConfigKeys();

// Error unless the path held by `key` exists ("config key data.val_annotations: file ... does not exist").
Status RequireExistingPath(const Config& config, const std::string& key);

}  // namespace vq2d::io
