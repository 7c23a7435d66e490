#include "vq2d/pipeline/engine.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <sstream>

#include "vq2d/core/checkpoint.h"
#include "vq2d/core/torch_guard.h"
#include "vq2d/core/dino_vit.h"
#include "vq2d/core/sam2_demo.h"
#include "vq2d/core/ren.h"
#include "vq2d/core/sam2.h"
#include "vq2d/core/sam2_image_predictor.h"
#include "vq2d/core/sam2_video_predictor.h"
#include "vq2d/pipeline/clip_pipeline.h"
#include "vq2d/pipeline/device.h"
#include "vq2d/pipeline/model_adapters.h"
#include "vq2d/pipeline/precision.h"

namespace vq2d::pipeline {

namespace {

// dinov2_vit{s,b,l,g}14[_reg|_reg4] -> architecture.
Result<DinoV2Config> DinoV2FromName(const std::string& name) {
  std::string base = name;
  bool reg = false;
  for (const char* suffix : {"_reg4", "_reg"}) {
    const std::string s(suffix);
    if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0) {
      base.resize(base.size() - s.size());
      reg = true;
      break;
    }
  }
  DinoV2Config c;
  if (base == "dinov2_vits14") c = DinoV2Config::VitS14();
  else if (base == "dinov2_vitb14") c = DinoV2Config::VitB14();
  else if (base == "dinov2_vitl14") c = DinoV2Config::VitL14();
  else if (base == "dinov2_vitg14") c = DinoV2Config::VitG14();
  else
    return Status::InvalidArgument(StrCat("ren.pretrained.feature_extractors[0] '", name,
                                          "': expected dinov2_vit{s,b,l,g}14 (optionally _reg), or give the "
                                          "architecture in models.architecture"));
  if (reg) c.num_register_tokens = 4;
  return c;
}

struct Architectures {
  RenConfig ren;
  DinoVitConfig dino;
  sam2::Sam2Config sam2;
};

Result<Architectures> ResolveArchitectures(const ModelOptions& m) {
  Architectures a;
  if (m.dinov2_arch.is_null()) {
    VQ2D_ASSIGN_OR_RETURN(a.ren.dinov2, DinoV2FromName(m.dinov2_name));
  } else {
    auto c = DinoV2Config::FromJson(m.dinov2_arch);
    if (!c.ok()) return c.status().WithContext("architecture 'dinov2'");
    a.ren.dinov2 = *c;
  }
  a.ren.dinov2_block = a.ren.dinov2.depth - 1;  // REN reads the last block (23 of ViT-L/14)
  if (!m.region_encoder.is_null()) {
    auto c = RegionEncoderConfig::FromJson(m.region_encoder);
    if (!c.ok()) return c.status().WithContext("REN region encoder (ren.* keys)");
    a.ren.region_encoder = *c;
  }
  if (a.ren.region_encoder.hidden_dim != a.ren.dinov2.embed_dim) {
    return Status::InvalidArgument(StrCat("ren.architecture.hidden_dim ", a.ren.region_encoder.hidden_dim,
                                          " must equal the DINOv2 width ", a.ren.dinov2.embed_dim));
  }
  if (a.ren.region_encoder.patch_size != a.ren.dinov2.patch_size) {
    return Status::InvalidArgument(StrCat("ren.pretrained.patch_sizes[0] ", a.ren.region_encoder.patch_size,
                                          " must equal the DINOv2 patch size ", a.ren.dinov2.patch_size));
  }
  a.ren.chunk_size = std::max<int64_t>(1, m.ren_batch_size);
  a.ren.dtype = torch::kFloat32;  // the device's precision is applied in VqEngine::Create
  VQ2D_RETURN_IF_ERROR(a.ren.Validate());
  if (m.dino_arch.is_null()) {
    a.dino = DinoVitConfig::VitB8();
  } else {
    auto c = DinoVitConfig::FromJson(m.dino_arch);
    if (!c.ok()) return c.status().WithContext("architecture 'dino'");
    a.dino = *c;
  }
  VQ2D_RETURN_IF_ERROR(a.dino.Validate());
  if (m.sam2_arch.is_null()) {
    VQ2D_ASSIGN_OR_RETURN(a.sam2, sam2::Sam2Preset(m.sam2_variant));
  } else {
    auto c = sam2::Sam2ConfigFromJson(m.sam2_arch);
    if (!c.ok()) return c.status().WithContext("architecture 'sam2'");
    a.sam2 = *c;
  }
  a.sam2.fill_hole_area = 0;  // as upstream REN ran the video predictor (no sam2._C)
  if (m.dino_input_height % a.dino.patch_size != 0 || m.dino_input_width % a.dino.patch_size != 0) {
    return Status::InvalidArgument(StrCat("models.dino_input_size [", m.dino_input_height, ", ", m.dino_input_width,
                                          "] must be multiples of the DINO patch size ", a.dino.patch_size));
  }
  return a;
}

// LibTorch's intra-op threads, and OpenBLAS's own pool when LibTorch uses it: OpenBLAS sizes its
// pool from the process's CPU affinity, and its GEMM results depend (in the last bits) on the
// thread count, so a fixed count is what makes runs bit-identical across launch layouts.
void SetCpuThreads(int n) {
  torch::set_num_threads(n);
  using SetFn = void (*)(int);
  if (auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(n);
}

Result<torch::Device> ResolveDevice(const std::string& device, int local_rank) {
  CudaInfo info;
  info.compiled = at::hasCUDA();
  info.available = torch::cuda::is_available();
  info.devices = info.available ? static_cast<int>(torch::cuda::device_count()) : 0;
  VQ2D_ASSIGN_OR_RETURN(DeviceChoice d, ChooseDevice(device, local_rank, info, ProcessEnv()));
  if (!d.cuda) return torch::Device(torch::kCPU);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d.index));
}

std::string DeviceString(const torch::Device& d) {
  return d.is_cuda() ? StrCat("cuda:", static_cast<int>(d.index())) : std::string("cpu");
}

Status LoadStrict(torch::nn::Module& module, const std::string& path, const std::string& prefix, const char* what) {
  if (path.empty()) return Status::InvalidArgument(StrCat(what, " checkpoint: no file configured"));
  VQ2D_ASSIGN_OR_RETURN(TensorMap t, LoadTensorFile(path, prefix));
  if (!prefix.empty()) {
    if (t.empty()) return Status::NotFound(StrCat(path, ": no '", prefix, "*' tensors in this ", what, " checkpoint"));
    t = SubMap(t, prefix);
  }
  return LoadStateDict(module, t).WithContext(StrCat(what, " checkpoint ", path));
}

QueryResult ToResult(const QueryOutcome& o) {
  QueryResult r;
  for (const auto& b : o.track) {
    r.track.push_back({b.frame, static_cast<double>(b.x), static_cast<double>(b.y), static_cast<double>(b.x + b.w),
                       static_cast<double>(b.y + b.h)});
  }
  r.score = o.score;
  r.round2_tracked = o.round2_tracked;
  r.round2_accepted = o.round2_accepted;
  r.upstream_errors = o.upstream_errors;
  r.stats = o.stats;
  return r;
}

}  // namespace

struct VqEngine::Impl {
  EngineOptions options;
  Architectures arch;
  torch::Device device{torch::kCPU};
  std::string device_name;
  PrecisionMode precision_mode = PrecisionMode::kAuto;
  ModelPrecision precision;  // ResolvePrecision(precision_mode, device is CUDA, dino_bf16)
  std::unique_ptr<RenEncoder> ren;
  DinoVisionTransformer dino{nullptr};
  sam2::Sam2Model sam{nullptr};
  std::unique_ptr<sam2::ImagePredictor> image_predictor;
  std::unique_ptr<sam2::VideoPredictor> video_predictor;
  std::unique_ptr<RenTokenAdapter> ren_adapter;
  std::unique_ptr<Sam2ImageAdapter> sam_adapter;
  DinoV2VisionTransformer dinov2_features{nullptr};
  std::unique_ptr<DenseFeatureExtractor> dino_adapter;
  std::unique_ptr<Sam2VideoAdapter> video_adapter;
  ModelWork work;  // summed by the four adapters

  Models models() const { return {ren_adapter.get(), sam_adapter.get(), dino_adapter.get(), video_adapter.get()}; }

  // Model setup, in this order, after arch/device are resolved: REN (DINOv2 backbone + region
  // encoder), the descriptor backbone (DINO or DINOv2), SAM 2.1 (image + video predictors).
  Status BuildRen();
  Status BuildFeatures();
  Status BuildSam2();
};

Status VqEngine::Impl::BuildRen() {
  const ModelOptions& m = options.models;
  arch.ren.device = device;
  VQ2D_ASSIGN_OR_RETURN(ren, RenEncoder::Create(arch.ren));
  if (m.dinov2_file.empty()) return Status::InvalidArgument("DINOv2 checkpoint: no file configured (models.dinov2)");
  VQ2D_RETURN_IF_ERROR(ren->LoadDinoV2File(m.dinov2_file));
  if (m.ren_file.empty()) return Status::InvalidArgument("REN checkpoint: no file configured (models.ren)");
  VQ2D_RETURN_IF_ERROR(ren->LoadRegionEncoderFile(m.ren_file));
  ren_adapter = std::make_unique<RenTokenAdapter>(ren.get(), &work);
  return Status::OK();
}

// The backbone of the SAM-pooled descriptors: DINO ViT-B/8 (upstream default) or DINOv2.
Status VqEngine::Impl::BuildFeatures() {
  const ModelOptions& m = options.models;
  const auto feature_dtype = precision.dino_bf16 ? torch::kBFloat16 : torch::kFloat32;
  if (m.feature_extractor == "dino") {
    dino = DinoVisionTransformer(arch.dino);
    VQ2D_RETURN_IF_ERROR(LoadStrict(*dino, m.dino_file, "", "DINO"));
    dino->to(device, feature_dtype);
    dino->eval();
    dino_adapter = std::make_unique<DinoFeatureAdapter>(dino, m.dino_input_height, m.dino_input_width, &work);
  } else if (m.feature_extractor == "dinov2") {
    dinov2_features = DinoV2VisionTransformer(arch.ren.dinov2);
    VQ2D_RETURN_IF_ERROR(LoadStrict(*dinov2_features, m.dinov2_file, "", "DINOv2"));
    dinov2_features->to(device, feature_dtype);
    dinov2_features->eval();
    dino_adapter = std::make_unique<DinoV2FeatureAdapter>(dinov2_features, arch.ren.dinov2.depth - 1, &work);
  } else {
    return Status::InvalidArgument(StrCat("visual_query.feature_extractor '", m.feature_extractor,
                                          "': expected dino or dinov2"));
  }
  return Status::OK();
}

// SAM 2.1: one model shared by the image and the video predictor.
Status VqEngine::Impl::BuildSam2() {
  const ModelOptions& m = options.models;
  sam = sam2::Sam2Model(arch.sam2);
  VQ2D_RETURN_IF_ERROR(LoadStrict(*sam, m.sam2_file, "model.", "SAM 2.1"));
  sam->to(device);
  sam->eval();
  sam2::ImagePredictorOptions io;
  io.bf16 = precision.sam2_bf16_autocast;
  image_predictor = std::make_unique<sam2::ImagePredictor>(sam, io);
  sam2::VideoPredictorOptions vo;
  vo.bf16 = precision.sam2_bf16_autocast;
  vo.fill_hole_area = 0;
  vo.prompt_index_as_tensor = !options.params.fixes.sam2_prompt_frame_int_index;  // upstream models.py:622
  video_predictor = std::make_unique<sam2::VideoPredictor>(sam, vo);
  sam_adapter = std::make_unique<Sam2ImageAdapter>(image_predictor.get(), &work);
  video_adapter = std::make_unique<Sam2VideoAdapter>(video_predictor.get(), arch.sam2.image_size, &work);
  return Status::OK();
}

VqEngine::VqEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
VqEngine::~VqEngine() = default;
const std::string& VqEngine::device() const { return impl_->device_name; }
ModelWork VqEngine::model_work() const { return impl_->work; }
std::string VqEngine::precision() const {
  return StrCat(PrecisionModeName(impl_->precision_mode), ": ", impl_->precision.ToString());
}

Status ValidateEngineOptions(const EngineOptions& options) {
  return GuardTorch("checking the VQ2D model options", [&]() -> Status {
    VQ2D_RETURN_IF_ERROR(ValidatePipelineParams(options.params));
    const ModelOptions& m = options.models;
    VQ2D_RETURN_IF_ERROR(ParsePrecisionMode(m.precision).status());
    VQ2D_RETURN_IF_ERROR(ResolveBatchCrops(m.batch_crops, false).status());
    if (m.feature_extractor != "dino" && m.feature_extractor != "dinov2") {
      return Status::InvalidArgument(
          StrCat("visual_query.feature_extractor '", m.feature_extractor, "': expected dino or dinov2"));
    }
    return ResolveArchitectures(m).status();
  });
}

Result<std::unique_ptr<VqEngine>> VqEngine::Create(const EngineOptions& options) {
  return GuardTorch("building the VQ2D models", [&]() -> Result<std::unique_ptr<VqEngine>> {
    torch::NoGradGuard no_grad;
    VQ2D_RETURN_IF_ERROR(ValidatePipelineParams(options.params));  // fail at start, not per query
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    const ModelOptions& m = options.models;
    VQ2D_ASSIGN_OR_RETURN(impl->arch, ResolveArchitectures(m));
    VQ2D_ASSIGN_OR_RETURN(impl->precision_mode, ParsePrecisionMode(m.precision));
    VQ2D_ASSIGN_OR_RETURN(impl->device, ResolveDevice(m.device, m.local_rank));
    impl->precision = ResolvePrecision(impl->precision_mode, impl->device.is_cuda(), m.dino_bf16);
    impl->arch.ren.dtype = impl->precision.ren_bf16 ? torch::kBFloat16 : torch::kFloat32;
    VQ2D_ASSIGN_OR_RETURN(impl->options.params.batch_crops, ResolveBatchCrops(m.batch_crops, impl->device.is_cuda()));
    if (m.cpu_threads > 0) SetCpuThreads(m.cpu_threads);
    impl->device_name = DeviceString(impl->device);
    VQ2D_RETURN_IF_ERROR(impl->BuildRen());
    VQ2D_RETURN_IF_ERROR(impl->BuildFeatures());
    VQ2D_RETURN_IF_ERROR(impl->BuildSam2());
    return std::unique_ptr<VqEngine>(new VqEngine(std::move(impl)));
  });
}

std::string VqEngine::Describe() const {
  const Architectures& a = impl_->arch;
  std::ostringstream os;
  os << "REN: DINOv2 patch " << a.ren.dinov2.patch_size << " width " << a.ren.dinov2.embed_dim << " depth "
     << a.ren.dinov2.depth << ", region encoder " << a.ren.region_encoder.decoder_layers << " layers at "
     << a.ren.region_encoder.image_resolution << " px, " << a.ren.region_encoder.grid_size << "^2 grid; ";
  if (impl_->options.models.feature_extractor == "dinov2") {
    os << "descriptors: DINOv2 at native resolution (";
  } else {
    os << "descriptors: DINO patch " << a.dino.patch_size << " width " << a.dino.embed_dim << " depth " << a.dino.depth
       << " at " << impl_->options.models.dino_input_height << "x" << impl_->options.models.dino_input_width << " (";
  }
  os << (impl_->precision.dino_bf16 ? "bf16" : "fp32") << "); SAM 2.1 Hiera width " << a.sam2.embed_dim << " at "
     << a.sam2.image_size << " px; device " << impl_->device_name << ", precision " << precision();
  return os.str();
}

namespace {

// The queries of a clip the pipeline can run, and where their results go.
struct RunnableQueries {
  std::vector<QueryInput> queries;
  std::vector<size_t> where;  // index in the caller's list
};

// Queries whose input upstream cannot use (query frame outside the clip, zero-size visual crop)
// get their empty result with the reason here; the others are returned to be run.
RunnableQueries SplitRunnable(const std::vector<QueryInput>& queries, int64_t num_frames,
                              std::vector<QueryResult>* results) {
  RunnableQueries r;
  for (size_t i = 0; i < queries.size(); ++i) {
    const QueryInput& q = queries[i];
    if (q.query_timestep < 0 || q.query_timestep >= num_frames || q.visual_crop_frame < 0 ||
        q.visual_crop_frame >= num_frames) {
      (*results)[i].upstream_errors.push_back(StrCat("input: query frame ", q.query_timestep, " / visual crop frame ",
                                                     q.visual_crop_frame, " outside the clip's ", num_frames,
                                                     " frames; empty track, score 0"));
      continue;
    }
    if (q.visual_crop_box[2] <= 0 || q.visual_crop_box[3] <= 0) {
      (*results)[i].upstream_errors.push_back(StrCat("QueryEncoder: ZeroDivisionError (visual crop of zero size in record "
                                                     "pixels: w ", q.visual_crop_box[2], ", h ", q.visual_crop_box[3],
                                                     "); empty track, score 0"));
      continue;
    }
    r.queries.push_back(q);
    r.where.push_back(i);
  }
  return r;
}

// The debug run: every query alone with a stage trace (same results as RunClipQueries); fills
// *debug and, with `tensors_file`, saves the queries' intermediate tensors there.
Status RunDebugQueries(const Models& models, const PipelineParams& params, const torch::Tensor& frames,
                       const RunnableQueries& runnable, nlohmann::json* debug, const std::string& tensors_file,
                       std::vector<QueryResult>* results) {
  ClipPipeline p(models, params, /*use_cache=*/true);
  p.StartClip(frames);
  nlohmann::json list = nlohmann::json::array();
  TensorMap dumped;
  for (size_t k = 0; k < runnable.queries.size(); ++k) {
    const QueryInput& q = runnable.queries[k];
    const size_t index = runnable.where[k];
    nlohmann::json trace = nlohmann::json::array();
    std::map<std::string, torch::Tensor> tensors;
    auto run = p.RunQuery(q, &trace, tensors_file.empty() ? nullptr : &tensors);
    for (const auto& [name, t] : tensors)
      if (t.defined()) dumped[StrCat("q", index, ".", name)] = t;
    if (!run.ok() && run.status().code() != StatusCode::kUpstreamRaised) return run.status();
    const QueryOutcome out = run.ok() ? std::move(run).value() : UpstreamRaisedOutcome(run.status());
    (*results)[index] = ToResult(out);
    nlohmann::json track = nlohmann::json::array();
    for (const auto& b : out.track) track.push_back({b.frame, b.x, b.y, b.w, b.h});
    list.push_back({{"index", index},
                    {"input",
                     {{"visual_crop_frame", q.visual_crop_frame},
                      {"visual_crop_box_xywh", q.visual_crop_box},
                      {"query_frame", q.query_timestep}}},
                    {"trace", trace},
                    {"result",
                     {{"score", out.score},
                      {"track_xywh", track},
                      {"round2_tracked", out.round2_tracked},
                      {"round2_accepted", out.round2_accepted},
                      {"upstream_errors", out.upstream_errors},
                      {"stats", StageStatsJson(out.stats)}}}});
  }
  *debug = {{"queries", list}, {"ren_images_for_video", p.ren_images_encoded_for_video()}};
  if (!tensors_file.empty()) VQ2D_RETURN_IF_ERROR(SaveSafetensors(tensors_file, dumped));
  return Status::OK();
}

}  // namespace

Result<std::vector<QueryResult>> VqEngine::RunClip(const ClipFrames& frames, const std::vector<QueryInput>& queries,
                                                   nlohmann::json* debug, const std::string& debug_tensors_file) {
  if (!frames.data || frames.count <= 0 || frames.height <= 0 || frames.width <= 0) {
    return Status::InvalidArgument(StrCat("clip frames: expected [T,H,W,3] uint8 with T, H, W > 0, got [", frames.count,
                                          ",", frames.height, ",", frames.width, ",3]"));
  }
  return GuardTorch("VQ2D pipeline", [&]() -> Result<std::vector<QueryResult>> {
    torch::NoGradGuard no_grad;
    // Borrowed, never written: the pipeline only reads frames.
    torch::Tensor t = torch::from_blob(const_cast<uint8_t*>(frames.data), {frames.count, frames.height, frames.width, 3},
                                       torch::kUInt8);
    std::vector<QueryResult> results(queries.size());
    const RunnableQueries runnable = SplitRunnable(queries, frames.count, &results);
    const Models models = impl_->models();
    const EngineOptions& o = impl_->options;
    if (debug) {
      if (frames.ready) VQ2D_RETURN_IF_ERROR(frames.ready(0, frames.count));
      VQ2D_RETURN_IF_ERROR(RunDebugQueries(models, o.params, t, runnable, debug, debug_tensors_file, &results));
      return results;
    }
    VQ2D_ASSIGN_OR_RETURN(auto outs, RunClipQueries(models, o.params, t, runnable.queries, o.share_video_tokens,
                                                    o.video_chunk_frames, frames.ready));
    for (size_t k = 0; k < outs.size(); ++k) results[runnable.where[k]] = ToResult(outs[k]);
    return results;
  });
}

nlohmann::json DemoArchitectures() {
  const DemoRenKeys r;
  nlohmann::json dinov2 = {{"img_size", r.image_resolution}, {"patch_size", r.patch_size}, {"embed_dim", r.hidden_dim},
                           {"depth", 2},       {"num_heads", 2},       {"mlp_ratio", 4.0},
                           {"init_values", 1.0}, {"ffn_layer", "mlp"}};
  nlohmann::json dino = {{"img_size", 224}, {"patch_size", 8}, {"embed_dim", 32}, {"depth", 2}, {"num_heads", 2}};
  return {{"dinov2", dinov2}, {"dino", dino}, {"sam2", sam2::DemoArchitecture()}};
}

ModelOptions DemoModelOptions(const std::string& dir) {
  ModelOptions m;
  const nlohmann::json arch = DemoArchitectures();
  const DemoRenKeys r;
  m.dinov2_arch = arch["dinov2"];
  m.dino_arch = arch["dino"];
  m.sam2_arch = arch["sam2"];
  m.region_encoder = {{"hidden_dim", r.hidden_dim},         {"decoder_layers", r.decoder_layers},
                      {"num_attention_heads", r.num_attention_heads}, {"image_resolution", r.image_resolution},
                      {"patch_size", r.patch_size},         {"grid_size", r.grid_size}};
  m.dinov2_file = dir + "/dinov2_demo.safetensors";
  m.ren_file = dir + "/ren_demo.safetensors";
  m.dino_file = dir + "/dino_demo.safetensors";
  m.sam2_file = dir + "/sam2.1_demo.safetensors";
  return m;
}

Status WriteRandomModels(const ModelOptions& m, uint64_t seed) {
  return GuardTorch("writing random models", [&]() -> Status {
    torch::NoGradGuard no_grad;
    VQ2D_ASSIGN_OR_RETURN(Architectures a, ResolveArchitectures(m));
    a.ren.dtype = torch::kFloat32;
    a.ren.device = torch::Device(torch::kCPU);
    auto tensors = [](torch::nn::Module& mod, const std::string& prefix) {
      TensorMap t;
      for (const auto& p : mod.named_parameters()) t[prefix + p.key()] = p.value().detach().contiguous();
      for (const auto& b : mod.named_buffers()) t[prefix + b.key()] = b.value().detach().contiguous();
      return t;
    };
    const std::map<std::string, std::string> meta = {{"vq2d.note", "randomly initialised demo weights (untrained)"},
                                                     {"vq2d.seed", std::to_string(seed)}};
    torch::manual_seed(seed);
    VQ2D_ASSIGN_OR_RETURN(auto ren, RenEncoder::Create(a.ren));
    VQ2D_RETURN_IF_ERROR(SaveSafetensors(m.dinov2_file, tensors(*ren->dinov2(), ""), meta));
    VQ2D_RETURN_IF_ERROR(SaveSafetensors(m.ren_file, tensors(*ren->region_encoder(), "region_encoder_state."), meta));
    torch::manual_seed(seed + 1);
    DinoVisionTransformer dino(a.dino);
    VQ2D_RETURN_IF_ERROR(SaveSafetensors(m.dino_file, tensors(*dino, ""), meta));
    torch::manual_seed(seed + 2);
    sam2::Sam2Model sam(a.sam2);
    VQ2D_RETURN_IF_ERROR(SaveSafetensors(m.sam2_file, tensors(*sam, "model."), meta));
    return Status::OK();
  });
}

}  // namespace vq2d::pipeline
