// vq2d bench clip: the model work of one synthetic clip (include/vq2d/core/clip_bench.h has the rules).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "vq2d/core/clip_bench.h"
#include "vq2d/core/dino_vit.h"
#include "vq2d/core/ren.h"
#include "vq2d/core/sam2.h"
#include "vq2d/core/sam2_demo.h"
#include "vq2d/core/sam2_image_predictor.h"
#include "vq2d/core/sam2_video_predictor.h"
#include "vq2d/core/torch_guard.h"
#include "vq2d/core/torch_info.h"

#if defined(VQ2D_HAVE_CUDA_ALLOCATOR_STATS)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace vq2d {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kQueryCrops = 8;        // |query_cropping_factors| (docs/pipeline.md)
constexpr int64_t kWindowsPerFrame = 5;   // frame_cropping_factors [1, 2]: 1 + 2x2 windows
constexpr int64_t kHalfWindow = 500;      // tracking_half_window: P <= 2h
constexpr int64_t kSamPooledChunk = 8;    // images per SAM-pooled DINO call
constexpr int64_t kDinoH = 384, kDinoW = 512;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double PeakRssMib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double PeakDeviceMib(const c10::Device& d) {
#if defined(VQ2D_HAVE_CUDA_ALLOCATOR_STATS)
  if (d.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index() < 0 ? 0 : d.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);  // [0] = aggregate
  }
#endif
  (void)d;
  return -1;
}

void Sync(const c10::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index() < 0 ? -1 : d.index());
}

bool IsSam2Variant(const std::string& a) { return a == "large" || a == "base_plus" || a == "small" || a == "tiny"; }

}  // namespace

int64_t ClipWorkPlan::Units(const std::string& stage, const std::string& model) const {
  int64_t n = 0;
  for (const auto& s : stages)
    if (s.stage == stage && s.model == model) n += s.units;
  return n;
}

double VitForwardFlops(int64_t patches, int64_t extra_tokens, int64_t patch_size, int64_t dim, int64_t mlp_dim,
                       int64_t blocks) {
  const double P = static_cast<double>(patches), N = static_cast<double>(patches + extra_tokens);
  const double D = static_cast<double>(dim), M = static_cast<double>(mlp_dim), p = static_cast<double>(patch_size);
  const double embed = 2 * P * (3 * p * p) * D;
  const double block = 2 * (4 * N * D * D + 2 * N * N * D + 2 * N * D * M);
  return embed + static_cast<double>(blocks) * block;
}

namespace {

Result<int64_t> ParseInt64(const std::string& name, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0)
    return Status::InvalidArgument(StrCat("bench clip: --", name, " '", v, "' is not an integer"));
  return static_cast<int64_t>(x);
}

Result<std::vector<int64_t>> ParseList(const std::string& name, const std::string& v) {
  std::vector<int64_t> out;
  std::stringstream ss(v);
  for (std::string item; std::getline(ss, item, ',');) {
    VQ2D_ASSIGN_OR_RETURN(int64_t x, ParseInt64(name, item));
    out.push_back(x);
  }
  if (out.empty()) return Status::InvalidArgument(StrCat("bench clip: --", name, " needs a comma-separated list"));
  return out;
}

}  // namespace

Status SetClipBenchOption(ClipBenchOptions* o, const std::string& name, const std::string& v) {
  if (name == "arch") {
    o->arch = v;
  } else if (name == "device") {
    o->device = v;
  } else if (name == "precision") {
    o->precision = v;
  } else if (name == "batch-crops") {
    if (v != "auto" && v != "on" && v != "off")
      return Status::InvalidArgument(StrCat("bench clip: --batch-crops '", v, "' (expected auto, on or off)"));
    o->batch_crops = v == "auto" ? -1 : v == "on" ? 1 : 0;
  } else if (name == "query-frames") {
    VQ2D_ASSIGN_OR_RETURN(o->query_frames, ParseList(name, v));
  } else if (name == "ranks") {
    VQ2D_ASSIGN_OR_RETURN(o->ranks, ParseList(name, v));
  } else {
    static const std::map<std::string, int64_t ClipBenchOptions::*> ints = {
        {"frames", &ClipBenchOptions::frames},
        {"queries", &ClipBenchOptions::queries},
        {"candidates", &ClipBenchOptions::candidates},
        {"track-steps", &ClipBenchOptions::track_steps},
        {"expansion-frames", &ClipBenchOptions::expansion_frames},
        {"height", &ClipBenchOptions::frame_height},
        {"width", &ClipBenchOptions::frame_width},
        {"ren-batch-size", &ClipBenchOptions::ren_batch_size},
        {"video-chunk-frames", &ClipBenchOptions::video_chunk_frames},
        {"threads", &ClipBenchOptions::threads}};
    if (name == "seed") {
      VQ2D_ASSIGN_OR_RETURN(int64_t x, ParseInt64(name, v));
      o->seed = static_cast<uint64_t>(x);
      return Status::OK();
    }
    auto it = ints.find(name);
    if (it == ints.end()) return Status::InvalidArgument(StrCat("bench clip: unknown option --", name));
    VQ2D_ASSIGN_OR_RETURN(o->*(it->second), ParseInt64(name, v));
  }
  return Status::OK();
}

std::string ClipBenchOptionsHelp() {
  const ClipBenchOptions d;
  return StrCat("  --arch A               SAM 2.1 variant large|base_plus|small|tiny with the official REN and DINO, or toy "
                "(demo-size models for rehearsals; numbers mean nothing) [", d.arch, "]\n",
                "  --device D             cpu, cuda, cuda:N [", d.device, "]\n",
                "  --precision P          auto|fp32|bf16, as models.precision [", d.precision, "]\n",
                "  --frames N             clip length [", d.frames, "]\n",
                "  --queries N            queries, query frames spread over [13N/30, N/2] [", d.queries, "]\n",
                "  --query-frames A,B     explicit query frames (overrides --queries)\n",
                "  --candidates N         refined candidates per round (assumed) [", d.candidates, "]\n",
                "  --track-steps N        SAM 2 steps per track, both passes (assumed; <= qf + 2) [", d.track_steps, "]\n",
                "  --expansion-frames N   tracked frames whose tokens expansion reads (assumed; 0 = no round 2) [",
                d.expansion_frames, "]\n",
                "  --height H --width W   frame size [", d.frame_height, "x", d.frame_width, "]\n",
                "  --ren-batch-size N     models.ren_batch_size [", d.ren_batch_size, "]\n",
                "  --video-chunk-frames N runner.video_chunk_frames [", d.video_chunk_frames, "]\n",
                "  --batch-crops M        auto (on for CUDA)|on|off, as models.batch_crops [auto]\n",
                "  --threads N            intra-op CPU threads, 0 = LibTorch default [0]\n",
                "  --ranks 1,2,4          processes sharing the device, one run per entry [1]\n",
                "  --seed N               random weights and frames [0]\n");
}

Result<ClipWorkPlan> PlanClipWork(const ClipBenchOptions& o) {
  if (!IsSam2Variant(o.arch) && o.arch != "toy")
    return Status::InvalidArgument(StrCat("bench clip: arch '", o.arch, "' (expected large, base_plus, small, tiny or toy)"));
  if (o.frames < 2) return Status::InvalidArgument(StrCat("bench clip: frames ", o.frames, " (need >= 2)"));
  if (o.candidates < 1 || o.track_steps < 2 || o.expansion_frames < 0)
    return Status::InvalidArgument("bench clip: need candidates >= 1, track steps >= 2, expansion frames >= 0");
  if (o.frame_height < 16 || o.frame_width < 16) return Status::InvalidArgument("bench clip: frames of >= 16 pixels");
  if (o.ren_batch_size < 1 || o.video_chunk_frames < 1)
    return Status::InvalidArgument("bench clip: ren batch size and video chunk frames must be >= 1");
  if (o.precision != "auto" && o.precision != "fp32" && o.precision != "bf16")
    return Status::InvalidArgument(StrCat("bench clip: precision '", o.precision, "' (expected auto, fp32 or bf16)"));
  if (o.ranks.empty()) return Status::InvalidArgument("bench clip: no ranks");
  for (int64_t r : o.ranks)
    if (r < 1 || r > 64) return Status::InvalidArgument(StrCat("bench clip: ranks ", r, " (expected 1..64)"));
  ClipWorkPlan plan;
  plan.query_frames = o.query_frames;
  if (plan.query_frames.empty()) {
    if (o.queries < 1) return Status::InvalidArgument("bench clip: queries must be >= 1");
    const double lo = 13.0 * static_cast<double>(o.frames) / 30.0, hi = 0.5 * static_cast<double>(o.frames);
    for (int64_t i = 0; i < o.queries; ++i) {
      const double f = o.queries == 1 ? hi : lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(o.queries - 1);
      plan.query_frames.push_back(std::max<int64_t>(1, static_cast<int64_t>(std::llround(f))));
    }
  }
  for (int64_t qf : plan.query_frames)
    if (qf < 1 || qf >= o.frames)
      return Status::InvalidArgument(StrCat("bench clip: query frame ", qf, " outside [1, ", o.frames - 1, "]"));
  const bool cuda = o.device.rfind("cuda", 0) == 0;
  plan.batch_crops = o.batch_crops < 0 ? cuda : o.batch_crops > 0;
  const int64_t n = kQueryCrops, c = o.candidates;
  int64_t max_qf = 0;
  auto add = [&](const char* stage, const char* model, const char* unit, int64_t units, int64_t calls) {
    for (auto& s : plan.stages) {
      if (s.stage == stage && s.model == model) {
        s.units += units, s.calls += calls;
        return;
      }
    }
    plan.stages.push_back(ClipStageWork{stage, model, unit, units, calls, 0});
  };
  auto ren_calls = [&](int64_t images) { return (images + o.ren_batch_size - 1) / o.ren_batch_size; };
  // Stage order of the report; every row exists even with 0 units.
  for (const char* m : {"ren", "sam2"}) add("query", m, m[0] == 'r' ? "images" : "encodes", 0, 0);
  add("video", "ren", "images", 0, 0);
  add("refine", "sam2", "encodes", 0, 0);
  add("refine", "dino", "images", 0, 0);
  add("refine", "ren", "images", 0, 0);
  add("track", "sam2_video", "steps", 0, 0);
  add("tokens", "sam2", "encodes", 0, 0);
  add("tokens", "ren", "images", 0, 0);
  auto refine = [&](int64_t K) {
    add("refine", "sam2", "encodes", 2 * K + 2 * c, 2 * K + 2 * c);
    add("refine", "dino", "images", 2 * K + 2 * c, 2 * ((K + kSamPooledChunk - 1) / kSamPooledChunk) + 2 * c);
    add("refine", "ren", "images", 8 * c, ren_calls(8 * c));
  };
  for (int64_t qf : plan.query_frames) {
    max_qf = std::max(max_qf, qf);
    const int64_t P = std::min({o.track_steps, qf + 2, 2 * kHalfWindow});
    const int64_t L = P - 1;
    const int64_t E = std::min(o.expansion_frames, L);
    plan.track_steps.push_back(P);
    plan.expansion_frames.push_back(E);
    add("query", "ren", "images", n, ren_calls(n));
    add("query", "sam2", "encodes", n, n);
    refine(1);
    add("track", "sam2_video", "steps", P, 2);
    if (E > 0) {
      add("tokens", "sam2", "encodes", 8 * L, plan.batch_crops ? L : 8 * L);
      add("tokens", "ren", "images", 8 * E, ren_calls(8 * E));
      refine(1 + E);
      add("track", "sam2_video", "steps", P, 2);
    } else {
      add("tokens", "sam2", "encodes", plan.batch_crops ? 8 : 1, 1);
    }
  }
  // The shared video pass: chunks of video_chunk_frames frames, S windows each, REN in batches.
  int64_t video_calls = 0;
  for (int64_t f0 = 0; f0 < max_qf; f0 += o.video_chunk_frames)
    video_calls += ren_calls(kWindowsPerFrame * std::min(o.video_chunk_frames, max_qf - f0));
  add("video", "ren", "images", kWindowsPerFrame * max_qf, video_calls);
  return plan;
}

namespace {

struct Models {
  c10::Device device{c10::kCPU};
  bool sam2_bf16 = false;
  c10::ScalarType ren_dtype = c10::kFloat;
  std::unique_ptr<RenEncoder> ren;
  DinoVisionTransformer dino{nullptr};
  sam2::Sam2Model sam2{nullptr};
  std::unique_ptr<sam2::ImagePredictor> image;
  std::unique_ptr<sam2::VideoPredictor> video;
  int64_t dino_h = kDinoH, dino_w = kDinoW;  // descriptor input (toy: 96x128)
  int64_t vit_blocks = 0, vit_dim = 0, vit_mlp = 0, vit_patch = 0, vit_res = 0, vit_extra = 1;
};

Result<Models> BuildModels(const ClipBenchOptions& o) {
  Models m;
  m.device = c10::Device(o.device);
  if (m.device.is_cuda() && !torch::cuda::is_available())
    return Status::FailedPrecondition("bench clip: CUDA requested but this LibTorch has no usable CUDA device");
  const bool cuda = m.device.is_cuda();
  m.ren_dtype = o.precision == "bf16" ? c10::kBFloat16 : c10::kFloat;
  m.sam2_bf16 = o.precision == "bf16" || (o.precision == "auto" && cuda);
  RenConfig rc;
  DinoVitConfig dc = DinoVitConfig::VitB8();
  sam2::Sam2Config sc;
  if (o.arch == "toy") {
    rc.dinov2.img_size = 224;
    rc.dinov2.embed_dim = 32;
    rc.dinov2.depth = 2;
    rc.dinov2.num_heads = 2;
    rc.dinov2_block = 1;
    rc.region_encoder.hidden_dim = 32;
    rc.region_encoder.decoder_layers = 1;
    rc.region_encoder.num_attention_heads = 2;
    rc.region_encoder.image_resolution = 224;
    rc.region_encoder.grid_size = 16;
    dc.embed_dim = 32;
    dc.depth = 2;
    dc.num_heads = 2;
    m.dino_h = 96;
    m.dino_w = 128;
    // The demo models' SAM 2 (Hiera width 16, 256² input).
    VQ2D_ASSIGN_OR_RETURN(sc, sam2::Sam2ConfigFromJson(sam2::DemoArchitecture()));
  } else {
    VQ2D_ASSIGN_OR_RETURN(sc, sam2::Sam2Preset(o.arch));
  }
  rc.chunk_size = o.ren_batch_size;
  rc.device = m.device;
  rc.dtype = m.ren_dtype;
  m.vit_blocks = rc.dinov2_block + 1;
  m.vit_dim = rc.dinov2.embed_dim;
  m.vit_mlp = static_cast<int64_t>(static_cast<double>(rc.dinov2.embed_dim) * rc.dinov2.mlp_ratio);
  m.vit_patch = rc.dinov2.patch_size;
  m.vit_res = rc.region_encoder.image_resolution;
  m.vit_extra = 1 + rc.dinov2.num_register_tokens;
  VQ2D_ASSIGN_OR_RETURN(m.ren, RenEncoder::Create(rc));
  return GuardTorch("bench clip: building the models", [&]() -> Result<Models> {
    torch::manual_seed(o.seed);
    m.dino = DinoVisionTransformer(dc);
    m.dino->eval();
    m.dino->to(m.device, c10::kBFloat16);
    m.sam2 = sam2::Sam2Model(sc);
    m.sam2->to(m.device);
    sam2::ImagePredictorOptions io;
    io.bf16 = m.sam2_bf16;
    m.image = std::make_unique<sam2::ImagePredictor>(m.sam2, io);
    sam2::VideoPredictorOptions vo;
    vo.bf16 = m.sam2_bf16;
    vo.prompt_index_as_tensor = true;  // upstream's default (quirk Q10, docs/pipeline.md)
    m.video = std::make_unique<sam2::VideoPredictor>(m.sam2, vo);
    return std::move(m);
  });
}

// The model calls of the pipeline's adapters (src/pipeline/model_adapters.cpp), outputs to the host.
class Runner {
 public:
  Runner(Models& m, const ClipBenchOptions& o, ClipWorkPlan* done) : m_(m), o_(o), done_(done) {
    for (auto& s : done_->stages) s.units = s.calls = 0, s.seconds = 0;
    pool_ = torch::randint(0, 256, {std::min<int64_t>(16, o.frames), o.frame_height, o.frame_width, 3},
                           torch::TensorOptions().dtype(torch::kUInt8));
  }
  torch::Tensor Frame(int64_t i) const { return pool_[i % pool_.size(0)]; }
  torch::Tensor Frames(int64_t first, int64_t count) const {
    std::vector<torch::Tensor> v;
    for (int64_t i = 0; i < count; ++i) v.push_back(Frame(first + i));
    return torch::stack(v);
  }

  Status Ren(const char* stage, const torch::Tensor& images) {
    auto t0 = Clock::now();
    VQ2D_ASSIGN_OR_RETURN(RenOutput r, m_.ren->Encode(images, o_.ren_batch_size));
    (void)r.tokens.to(torch::kCPU);
    Record(stage, "ren", images.size(0), (images.size(0) + o_.ren_batch_size - 1) / o_.ren_batch_size, t0);
    return Status::OK();
  }
  // One SAM 2 encode + box prompt (multimask false) or point prompt (3 masks).
  Status Sam2(const char* stage, const torch::Tensor& rgb, bool point) {
    auto t0 = Clock::now();
    VQ2D_RETURN_IF_ERROR(m_.image->SetImage(rgb));
    VQ2D_RETURN_IF_ERROR(Prompt(rgb, point));
    Record(stage, "sam2", 1, 1, t0);
    return Status::OK();
  }
  // The 8 crops of a tracked frame: one batch (batch_crops) and a box prompt on each.
  Status Sam2Batch(const char* stage, const std::vector<torch::Tensor>& rgbs) {
    auto t0 = Clock::now();
    VQ2D_RETURN_IF_ERROR(m_.image->SetImageBatch(rgbs));
    for (size_t i = 0; i < rgbs.size(); ++i) {
      VQ2D_RETURN_IF_ERROR(m_.image->SelectImage(static_cast<int64_t>(i)));
      VQ2D_RETURN_IF_ERROR(Prompt(rgbs[i], false));
    }
    Record(stage, "sam2", static_cast<int64_t>(rgbs.size()), 1, t0);
    return Status::OK();
  }
  // DINO ViT-B/8 as DinoFeatureAdapter::Extract: resize 384x512, normalise, bf16, last block.
  Status Dino(const char* stage, const torch::Tensor& images) {
    auto t0 = Clock::now();
    namespace F = torch::nn::functional;
    torch::Tensor x = images.to(m_.device).permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{m_.dino_h, m_.dino_w})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(true));
    const auto mean = torch::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
    const auto std = torch::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
    x = ((x - mean) / std).to(torch::kBFloat16);
    torch::Tensor t = m_.dino->GetIntermediateLayers(x, 1).back();
    (void)t.slice(1, 1).to(torch::kFloat32).to(torch::kCPU);
    Record(stage, "dino", images.size(0), 1, t0);
    return Status::OK();
  }
  // One SAM 2 video pass of `steps` frames (prompt on the first), as Sam2VideoAdapter::Track.
  Status Track(int64_t first, int64_t steps) {
    auto t0 = Clock::now();
    sam2::VideoFrames vf;
    vf.num_frames = steps;
    vf.video_height = o_.frame_height;
    vf.video_width = o_.frame_width;
    const int64_t S = m_.sam2->cfg.image_size;
    vf.get = [this, first, S](int64_t i) { return sam2::PreprocessImage(Frame(first + i).to(m_.device), S); };
    VQ2D_RETURN_IF_ERROR(m_.video->InitState(vf));
    m_.video->ResetState();
    const float W = static_cast<float>(o_.frame_width), H = static_cast<float>(o_.frame_height);
    const torch::Tensor box = torch::tensor({0.3f * W, 0.3f * H, 0.6f * W, 0.7f * H});
    VQ2D_RETURN_IF_ERROR(m_.video->AddNewPointsOrBox(0, 0, torch::Tensor(), torch::Tensor(), box).status());
    VQ2D_RETURN_IF_ERROR(m_.video->StartPropagation());
    int64_t yielded = 0;
    while (true) {
      VQ2D_ASSIGN_OR_RETURN(auto next, m_.video->Next());
      if (!next) break;
      (void)(next->video_res_masks[0][0] > 0).to(torch::kCPU);
      ++yielded;
    }
    if (yielded != steps) return Status::Internal(StrCat("bench clip: SAM 2 yielded ", yielded, " of ", steps, " frames"));
    Record("track", "sam2_video", yielded, 1, t0);
    return Status::OK();
  }

 private:
  Status Prompt(const torch::Tensor& rgb, bool point) {
    sam2::ImagePrompt p;
    const float W = static_cast<float>(rgb.size(1)), H = static_cast<float>(rgb.size(0));
    if (point) {
      p.point_coords = torch::tensor({0.5f * W, 0.5f * H}).reshape({1, 2});
      p.point_labels = torch::tensor(std::vector<int64_t>{1}).to(torch::kInt32);
      p.multimask_output = true;
    } else {
      p.box = torch::tensor({0.3f * W, 0.3f * H, 0.6f * W, 0.7f * H});
      p.multimask_output = false;
    }
    VQ2D_ASSIGN_OR_RETURN(sam2::ImagePrediction pred, m_.image->Predict(p));
    (void)pred.masks.to(torch::kCPU);
    return Status::OK();
  }
  void Record(const char* stage, const char* model, int64_t units, int64_t calls, Clock::time_point t0) {
    Sync(m_.device);
    const double s = Since(t0);
    for (auto& w : done_->stages) {
      if (w.stage == stage && w.model == model) {
        w.units += units, w.calls += calls, w.seconds += s;
        return;
      }
    }
    done_->stages.push_back(ClipStageWork{stage, model, "", units, calls, s});
  }

  Models& m_;
  const ClipBenchOptions& o_;
  ClipWorkPlan* done_;
  torch::Tensor pool_;
};

Status RunClip(Runner& r, const ClipBenchOptions& o, const ClipWorkPlan& plan) {
  const int64_t c = o.candidates;
  auto crops = [&](int64_t first, int64_t count) {
    std::vector<torch::Tensor> v;
    for (int64_t i = 0; i < count; ++i) v.push_back(r.Frame(first + i));
    return v;
  };
  auto refine = [&](int64_t qf, int64_t K) -> Status {
    // SAM-pooled descriptors: K query frames, then K query crops (box prompts; DINO in chunks).
    for (int part = 0; part < 2; ++part) {
      for (int64_t s = 0; s < K; s += kSamPooledChunk) {
        const int64_t e = std::min(K, s + kSamPooledChunk);
        for (int64_t i = s; i < e; ++i) VQ2D_RETURN_IF_ERROR(r.Sam2("refine", r.Frame(qf + part + i), false));
        VQ2D_RETURN_IF_ERROR(r.Dino("refine", r.Frames(qf + part + s, e - s)));
      }
    }
    for (int64_t i = 0; i < c; ++i) {  // point -> box on each candidate's frame
      VQ2D_RETURN_IF_ERROR(r.Sam2("refine", r.Frame(i), true));
      VQ2D_RETURN_IF_ERROR(r.Dino("refine", r.Frames(i, 1)));
    }
    VQ2D_RETURN_IF_ERROR(r.Ren("refine", r.Frames(0, 8 * c)));
    for (int64_t i = 0; i < c; ++i) {  // point -> box on each candidate's best crop
      VQ2D_RETURN_IF_ERROR(r.Sam2("refine", r.Frame(i + 3), true));
      VQ2D_RETURN_IF_ERROR(r.Dino("refine", r.Frames(i + 3, 1)));
    }
    return Status::OK();
  };
  auto track = [&](int64_t fid, int64_t P) -> Status {
    VQ2D_RETURN_IF_ERROR(r.Track(fid, (P + 1) / 2));
    return r.Track(fid + 7, P / 2);
  };
  // Queries first (ClipPipeline::RunQueries), then the shared video pass, then each query's rounds.
  for (int64_t qf : plan.query_frames) {
    VQ2D_RETURN_IF_ERROR(r.Ren("query", r.Frames(qf, kQueryCrops)));
    for (int64_t i = 0; i < kQueryCrops; ++i) VQ2D_RETURN_IF_ERROR(r.Sam2("query", r.Frame(qf + i), false));
  }
  int64_t max_qf = 0;
  for (int64_t qf : plan.query_frames) max_qf = std::max(max_qf, qf);
  for (int64_t f0 = 0; f0 < max_qf; f0 += o.video_chunk_frames) {
    const int64_t nf = std::min(o.video_chunk_frames, max_qf - f0);
    VQ2D_RETURN_IF_ERROR(r.Ren("video", r.Frames(f0, kWindowsPerFrame * nf)));
  }
  for (size_t q = 0; q < plan.query_frames.size(); ++q) {
    const int64_t qf = plan.query_frames[q], P = plan.track_steps[q], E = plan.expansion_frames[q];
    VQ2D_RETURN_IF_ERROR(refine(qf, 1));
    VQ2D_RETURN_IF_ERROR(track(qf / 2, P));
    const int64_t L = P - 1;
    const int64_t mask_frames = E > 0 ? L : 1;
    for (int64_t f = 0; f < mask_frames; ++f) {
      if (plan.batch_crops) {
        VQ2D_RETURN_IF_ERROR(r.Sam2Batch("tokens", crops(f, 8)));
      } else {
        for (int64_t i = 0; i < (E > 0 ? 8 : 1); ++i) VQ2D_RETURN_IF_ERROR(r.Sam2("tokens", r.Frame(f + i), false));
      }
    }
    if (E == 0) continue;
    VQ2D_RETURN_IF_ERROR(r.Ren("tokens", r.Frames(1, 8 * E)));
    VQ2D_RETURN_IF_ERROR(refine(qf, 1 + E));
    VQ2D_RETURN_IF_ERROR(track(qf / 3, P));
  }
  return Status::OK();
}

}  // namespace

Result<ClipRunResult> RunClipWorkload(const ClipBenchOptions& o, const std::function<void()>& ready) {
  VQ2D_ASSIGN_OR_RETURN(ClipWorkPlan plan, PlanClipWork(o));
  if (o.threads > 0) at::set_num_threads(static_cast<int>(o.threads));
  ClipRunResult result;
  auto t0 = Clock::now();
  Models m;
  VQ2D_RETURN_IF_ERROR(GuardTorch("bench clip: device", [&]() -> Status {
    VQ2D_ASSIGN_OR_RETURN(m, BuildModels(o));
    return Status::OK();
  }, StatusCode::kInvalidArgument));
  result.dtypes = StrCat("REN ", m.ren_dtype == c10::kBFloat16 ? "bf16" : "fp32", ", DINO bf16, SAM 2 ",
                         m.sam2_bf16 ? "bf16 autocast" : "fp32");
  result.plan = plan;
  VQ2D_RETURN_IF_ERROR(GuardTorch("bench clip", [&]() -> Status {
    torch::NoGradGuard no_grad;
    // Warm-up (untimed): one call of every kind, so kernel selection and lazy initialisation are not
    // charged to the first stage.
    ClipWorkPlan scratch = plan;
    Runner warm(m, o, &scratch);
    VQ2D_RETURN_IF_ERROR(warm.Ren("video", warm.Frames(0, o.ren_batch_size)));
    VQ2D_RETURN_IF_ERROR(warm.Sam2("query", warm.Frame(0), false));
    VQ2D_RETURN_IF_ERROR(warm.Sam2("refine", warm.Frame(1), true));
    if (plan.batch_crops) {
      VQ2D_RETURN_IF_ERROR(warm.Sam2Batch("tokens", {warm.Frame(0), warm.Frame(1)}));
    }
    VQ2D_RETURN_IF_ERROR(warm.Dino("refine", warm.Frames(0, 1)));
    VQ2D_RETURN_IF_ERROR(warm.Track(0, 2));
    result.build_s = Since(t0);
    if (ready) ready();
    Runner run(m, o, &result.plan);
    const auto t1 = Clock::now();
    VQ2D_RETURN_IF_ERROR(RunClip(run, o, plan));
    Sync(m.device);
    result.seconds = Since(t1);
    return Status::OK();
  }));
  const int64_t grid = m.vit_res / m.vit_patch;
  result.vit_flops = static_cast<double>(result.plan.Units("video", "ren")) *
                     VitForwardFlops(grid * grid, m.vit_extra, m.vit_patch, m.vit_dim, m.vit_mlp, m.vit_blocks);
  result.peak_device_mib = PeakDeviceMib(m.device);
  result.peak_rss_mib = PeakRssMib();
  return result;
}

namespace {

// Seconds of `reps` n x n matmuls in `dtype` on the device (after warm-up): the achievable GEMM rate.
Result<double> MatmulTflops(const std::string& device, c10::ScalarType dtype, int64_t n, int reps) {
  return GuardTorch("bench clip: matmul peak", [&]() -> Result<double> {
    torch::NoGradGuard no_grad;
    const c10::Device d(device);
    if (d.is_cuda() && !torch::cuda::is_available())
      return Status::FailedPrecondition("bench clip: CUDA requested but this LibTorch has no usable CUDA device");
    auto opts = torch::TensorOptions().device(d).dtype(dtype);
    auto a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
    for (int i = 0; i < 2; ++i) (void)torch::mm(a, b);
    Sync(d);
    const auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) (void)torch::mm(a, b);
    Sync(d);
    return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n) * reps / Since(t0) / 1e12;
  });
}

nlohmann::json ResultJson(const ClipRunResult& r) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : r.plan.stages)
    stages.push_back({{"stage", s.stage}, {"model", s.model}, {"unit", s.unit}, {"units", s.units}, {"calls", s.calls},
                      {"seconds", s.seconds}});
  return {{"stages", stages},        {"build_s", r.build_s},          {"seconds", r.seconds},
          {"vit_flops", r.vit_flops}, {"peak_device_mib", r.peak_device_mib}, {"peak_rss_mib", r.peak_rss_mib},
          {"dtypes", r.dtypes}};
}

ClipRunResult ResultFromJson(const nlohmann::json& j) {
  ClipRunResult r;
  for (const auto& s : j.at("stages"))
    r.plan.stages.push_back(ClipStageWork{s.at("stage").get<std::string>(), s.at("model").get<std::string>(),
                                          s.at("unit").get<std::string>(), s.at("units").get<int64_t>(),
                                          s.at("calls").get<int64_t>(), s.at("seconds").get<double>()});
  r.build_s = j.at("build_s").get<double>();
  r.seconds = j.at("seconds").get<double>();
  r.vit_flops = j.at("vit_flops").get<double>();
  r.peak_device_mib = j.at("peak_device_mib").get<double>();
  r.peak_rss_mib = j.at("peak_rss_mib").get<double>();
  r.dtypes = j.at("dtypes").get<std::string>();
  return r;
}

bool WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t w = write(fd, s.data() + off, s.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    off += static_cast<size_t>(w);
  }
  return true;
}

std::string ReadAll(int fd) {
  std::string s;
  char buf[4096];
  while (true) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

// Runs `job` in `count` forked children. Each child calls `barrier` (after its setup) through the
// job, which waits until every child got there; the parent then starts the clock. Returns each
// child's JSON reply and the wall seconds from the release to the last reply.
struct ForkedReplies {
  std::vector<nlohmann::json> replies;
  double wall_s = 0;
};

Result<ForkedReplies> RunForked(int64_t count, const std::function<nlohmann::json(const std::function<void()>&)>& job) {
  int ready[2], go[2];
  if (pipe(ready) != 0 || pipe(go) != 0) return Status::Internal("bench clip: pipe failed");
  std::vector<pid_t> pids;
  std::vector<int> reply_fds;
  std::fflush(nullptr);
  for (int64_t i = 0; i < count; ++i) {
    int reply[2];
    if (pipe(reply) != 0) return Status::Internal("bench clip: pipe failed");
    const pid_t pid = fork();
    if (pid < 0) return Status::Internal("bench clip: fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(ready[0]);
      close(go[1]);
      close(reply[0]);
      for (int fd : reply_fds) close(fd);
      const int ready_fd = ready[1], go_fd = go[0];
      auto barrier = [ready_fd, go_fd]() {
        const char b = 1;
        (void)!write(ready_fd, &b, 1);
        close(ready_fd);
        char x;
        while (read(go_fd, &x, 1) < 0 && errno == EINTR) {
        }
      };
      nlohmann::json out;
      try {
        out = job(barrier);
      } catch (const std::exception& e) {
        out = {{"error", e.what()}};
      }
      const bool ok = WriteAll(reply[1], out.dump());
      std::fflush(nullptr);
      _exit(ok && !out.contains("error") ? 0 : 1);
    }
    close(reply[1]);
    pids.push_back(pid);
    reply_fds.push_back(reply[0]);
  }
  close(ready[1]);
  close(go[0]);
  // Every child reaches the barrier, or fails before it (its end of `ready` closes; the read ends).
  int64_t arrived = 0;
  char b;
  while (arrived < count) {
    const ssize_t n = read(ready[0], &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ++arrived;
  }
  close(ready[0]);
  const auto t0 = Clock::now();
  close(go[1]);  // release
  ForkedReplies out;
  std::string first_error;
  StatusCode first_code = StatusCode::kInternal;
  for (size_t i = 0; i < pids.size(); ++i) {
    const std::string text = ReadAll(reply_fds[i]);
    close(reply_fds[i]);
    int status = 0;
    waitpid(pids[i], &status, 0);
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      j = {{"error", StrCat("rank ", i, " exited without a result (",
                            WIFSIGNALED(status) ? StrCat("signal ", WTERMSIG(status)) : StrCat("exit ", WEXITSTATUS(status)),
                            ")")}};
    }
    if (j.contains("error") && first_error.empty()) {
      first_error = j["error"].get<std::string>();
      if (j.contains("code")) first_code = static_cast<StatusCode>(j["code"].get<int>());
    }
    out.replies.push_back(j);
  }
  out.wall_s = Since(t0);
  if (!first_error.empty()) return Status(first_code, first_error);
  return out;
}

}  // namespace

Status BenchClip(const ClipBenchOptions& o, std::ostream& out) {
  VQ2D_ASSIGN_OR_RETURN(ClipWorkPlan plan, PlanClipWork(o));
  const bool cuda = o.device.rfind("cuda", 0) == 0;
  const std::string models =
      o.arch == "toy" ? "toy models (REN D=32 at 224², DINO D=32 at 96x128, SAM 2 embed 16 at 256²)"
                      : StrCat("REN = DINOv2 ViT-L/14 (24 blocks) + region encoder D=1024 at 518², DINO ViT-B/8 at ",
                               kDinoH, "x", kDinoW, ", SAM 2.1 Hiera ", o.arch, " at 1024²");
  out << "bench clip: model work of a synthetic clip; CPU-side ops, decoding and I/O are measured by `vq2d bench "
         "pipeline`\n"
      << "  " << models << ", random weights; libtorch " << TorchVersionString() << ", device " << o.device
      << ", precision " << o.precision << "\n"
      << "  clip: " << o.frames << " frames of " << o.frame_height << "x" << o.frame_width << ", " << plan.query_frames.size()
      << (plan.query_frames.size() == 1 ? " query, query frame" : " queries, query frames");
  for (int64_t qf : plan.query_frames) out << " " << qf;
  out << "\n  assumed (data-dependent): " << o.candidates << " refined candidates per round; SAM 2 steps per track";
  for (int64_t p : plan.track_steps) out << " " << p;
  out << " (--track-steps " << o.track_steps << ", <= qf + 2); tracked frames read by query expansion";
  for (int64_t e : plan.expansion_frames) out << " " << e;
  out << " (0: no round 2); batch crops " << (plan.batch_crops ? "on" : "off") << ", ren batch " << o.ren_batch_size
      << ", video chunk " << o.video_chunk_frames << " frames" << std::endl;

  // Matmul peak in a child of its own (the parent never touches the device before forking).
  const bool bf16_peak = cuda;
  const c10::ScalarType peak_dtype = bf16_peak ? c10::kBFloat16 : c10::kFloat;
  const int64_t peak_n = cuda ? 8192 : 1024;
  auto peak = RunForked(1, [&](const std::function<void()>& barrier) -> nlohmann::json {
    barrier();
    if (o.threads > 0) at::set_num_threads(static_cast<int>(o.threads));
    nlohmann::json j;
    auto t = MatmulTflops(o.device, peak_dtype, peak_n, cuda ? 20 : 3);
    if (!t.ok()) return {{"error", t.status().message()}, {"code", static_cast<int>(t.status().code())}};
    j["peak"] = *t;
    if (cuda && o.precision != "bf16") {  // REN's own dtype (fp32, TF32 off as LibTorch's default)
      auto f = MatmulTflops(o.device, c10::kFloat, peak_n, 5);
      if (!f.ok()) return {{"error", f.status().message()}, {"code", static_cast<int>(f.status().code())}};
      j["peak_fp32"] = *f;
    }
    return j;
  });
  if (!peak.ok()) return peak.status();
  const double peak_tflops = peak->replies[0]["peak"].get<double>();
  const double peak_fp32 = peak->replies[0].value("peak_fp32", -1.0);

  out << std::fixed;
  bool first_group = true;
  for (int64_t r : o.ranks) {
    auto group = RunForked(r, [&](const std::function<void()>& barrier) -> nlohmann::json {
      auto res = RunClipWorkload(o, barrier);
      if (!res.ok()) return {{"error", res.status().message()}, {"code", static_cast<int>(res.status().code())}};
      return ResultJson(*res);
    });
    if (!group.ok()) return group.status().WithContext(StrCat("bench clip, ", r, " rank(s)"));
    std::vector<ClipRunResult> res;
    for (const auto& j : group->replies) res.push_back(ResultFromJson(j));
    if (first_group) {
      first_group = false;
      const ClipRunResult& a = res[0];
      out << "  dtypes: " << a.dtypes << "; models built + warmed up in " << std::setprecision(1) << a.build_s << " s\n";
      out << "  one rank (" << r << " running):\n";
      out << "    " << std::left << std::setw(8) << "stage" << std::setw(12) << "model" << std::right << std::setw(9)
          << "units" << " " << std::left << std::setw(8) << "unit" << std::right << std::setw(7) << "calls"
          << std::setw(11) << "seconds" << std::setw(11) << "units/s" << "\n";
      for (const auto& s : a.plan.stages) {
        out << "    " << std::left << std::setw(8) << s.stage << std::setw(12) << s.model << std::right << std::setw(9)
            << s.units << " " << std::left << std::setw(8) << s.unit << std::right << std::setw(7) << s.calls
            << std::setprecision(3) << std::setw(11) << s.seconds << std::setw(11)
            << (s.seconds > 0 ? static_cast<double>(s.units) / s.seconds : 0.0) << "\n";
      }
      std::map<std::string, std::pair<int64_t, double>> per_model;
      double model_s = 0;
      for (const auto& s : a.plan.stages) {
        per_model[s.model].first += s.units;
        per_model[s.model].second += s.seconds;
        model_s += s.seconds;
      }
      out << "    totals:";
      for (const auto& [m, v] : per_model)
        out << " " << m << " " << v.first << " in " << std::setprecision(2) << v.second << " s;";
      out << " clip " << std::setprecision(2) << a.seconds << " s (" << model_s << " s in the model calls), "
          << std::setprecision(2) << static_cast<double>(o.frames) / a.seconds << " clip frames/s\n";
      const double vit_s = [&] {
        for (const auto& s : a.plan.stages)
          if (s.stage == "video" && s.model == "ren") return s.seconds;
        return 0.0;
      }();
      out << "  ViT stage (video pass, DINOv2 FLOPs only, region encoder and resize in the seconds): "
          << std::setprecision(3) << a.vit_flops / 1e12 << " TFLOP in " << vit_s << " s = "
          << (vit_s > 0 ? a.vit_flops / vit_s / 1e12 : 0.0) << " TFLOP/s; measured matmul peak "
          << (bf16_peak ? "bf16 " : "fp32 ") << peak_n << "³: " << peak_tflops << " TFLOP/s";
      if (peak_fp32 > 0) out << ", fp32 (TF32 off): " << peak_fp32 << " TFLOP/s";
      out << "\n  peak memory: ";
      if (cuda) {
        out << "device " << (a.peak_device_mib >= 0 ? StrCat(static_cast<int64_t>(a.peak_device_mib), " MiB (CUDA caching allocator, allocated)")
                                                    : std::string("not available in this build"))
            << ", ";
      }
      out << "host peak RSS " << std::setprecision(0) << a.peak_rss_mib << " MiB" << std::endl;
      if (o.ranks.size() == 1 && r == 1) break;
      out << "  ranks sharing " << o.device << " (each runs the whole clip; start barrier after the models are built):\n";
    }
    double max_s = 0;
    std::ostringstream per;
    per << std::fixed << std::setprecision(2);
    for (size_t i = 0; i < res.size(); ++i) {
      per << (i ? " " : "") << res[i].seconds;
      max_s = std::max(max_s, res[i].seconds);
    }
    double max_dev = -1;
    for (const auto& x : res) max_dev = std::max(max_dev, x.peak_device_mib);
    out << "    ranks " << r << ": aggregate " << std::setprecision(2)
        << static_cast<double>(r * o.frames) / group->wall_s << " frames/s (" << r << " x " << o.frames << " frames in "
        << group->wall_s << " s wall); per-rank seconds " << per.str();
    if (cuda && max_dev >= 0) out << "; peak device memory per rank <= " << static_cast<int64_t>(max_dev) << " MiB";
    out << std::endl;
  }
  return Status::OK();
}

}  // namespace vq2d
