// vq2d_model_bench: the model benchmarks of `vq2d bench ren` / `vq2d bench sam2` in a binary that
// needs only the core layer (LibTorch + nlohmann_json), so a GPU host with nothing but pip torch can
// build and run it (tools/gpu_check.sh). Random weights, synthetic frames; numbers go to stdout.
//
//   vq2d_model_bench info
//   vq2d_model_bench ren  [--device cpu|cuda[:N]] [--dtype float32|bfloat16] [--batch-sizes 1,4,16]
//                         [--warmup 1] [--repeats 3] [--height 518] [--width 518] [--threads 0]
//   vq2d_model_bench sam2 [--device cpu|cuda] [--variants tiny,large] [--images 2] [--frames 4]
//                         [--height 360] [--width 640] [--threads 0] [--bf16]
//   vq2d_model_bench clip [--device D] [--arch large|base_plus|small|tiny|toy] [--frames 1500]
//                         [--queries 4] [--ranks 1,2,4] ... (vq2d_model_bench clip --help)
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "vq2d/core/bench.h"
#include "vq2d/core/clip_bench.h"
#include "vq2d/core/sam2_bench.h"
#include "vq2d/core/torch_info.h"

namespace {

int Usage(const std::string& why) {
  std::cerr << "vq2d_model_bench: " << why << "\n"
            << "usage: vq2d_model_bench info | ren [--device D] [--dtype float32|bfloat16] [--batch-sizes 1,4]"
               " [--warmup N] [--repeats N] [--height H] [--width W] [--threads N] | sam2 [--device D]"
               " [--variants tiny,large] [--images N] [--frames N] [--height H] [--width W] [--threads N] [--bf16]"
               " | clip [options] (clip --help)\n";
  return 2;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool ParseInt(const std::string& s, int64_t* v) {
  char* end = nullptr;
  const long long x = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0') return false;
  *v = x;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage("no command");
  const std::string cmd = argv[1];
  if (cmd == "clip" && argc == 3 && (std::string(argv[2]) == "--help" || std::string(argv[2]) == "-h")) {
    std::cout << "vq2d_model_bench clip: the model work of one synthetic clip at official sizes, random weights "
                 "(include/vq2d/core/clip_bench.h, docs/gpu.md); CPU-side ops, decoding and I/O are measured by "
                 "`vq2d bench pipeline`.\n"
              << vq2d::ClipBenchOptionsHelp();
    return 0;
  }
  std::vector<std::pair<std::string, std::string>> opts;
  bool bf16 = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--bf16") {
      bf16 = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) return Usage("bad argument '" + a + "'");
    opts.emplace_back(a.substr(2), argv[++i]);
  }
  if (cmd == "info") {
    std::cout << "libtorch " << vq2d::TorchVersionString() << "\n";
    return 0;
  }
  if (cmd == "ren") {
    vq2d::BenchRenOptions o;
    for (const auto& [k, v] : opts) {
      int64_t n = 0;
      if (k == "device") {
        o.device = v;
      } else if (k == "dtype") {
        o.dtype = v;
      } else if (k == "batch-sizes") {
        o.batch_sizes.clear();
        for (const auto& b : Split(v)) {
          if (!ParseInt(b, &n) || n < 1) return Usage("--batch-sizes: '" + b + "' is not a positive integer");
          o.batch_sizes.push_back(n);
        }
      } else if (ParseInt(v, &n) && n >= 0 && (k == "warmup" || k == "repeats" || k == "height" || k == "width" ||
                                               k == "threads")) {
        if (k == "warmup") o.warmup = n;
        if (k == "repeats") o.repeats = n;
        if (k == "height") o.frame_height = n;
        if (k == "width") o.frame_width = n;
        if (k == "threads") o.threads = n;
      } else {
        return Usage("ren: bad option --" + k + " " + v);
      }
    }
    const vq2d::Status st = vq2d::BenchRen(o, std::cout);
    if (!st.ok()) {
      std::cerr << "vq2d_model_bench ren: " << st.ToString() << "\n";
      return 1;
    }
    return 0;
  }
  if (cmd == "sam2") {
    vq2d::sam2::Sam2BenchOptions o;
    o.bf16 = bf16;
    for (const auto& [k, v] : opts) {
      int64_t n = 0;
      if (k == "device") {
        o.device = v;
      } else if (k == "variants") {
        o.variants = Split(v);
      } else if (ParseInt(v, &n) && n >= 0 && (k == "images" || k == "frames" || k == "height" || k == "width" ||
                                               k == "threads")) {
        if (k == "images") o.encoder_images = static_cast<int>(n);
        if (k == "frames") o.track_frames = static_cast<int>(n);
        if (k == "height") o.frame_height = static_cast<int>(n);
        if (k == "width") o.frame_width = static_cast<int>(n);
        if (k == "threads") o.threads = static_cast<int>(n);
      } else {
        return Usage("sam2: bad option --" + k + " " + v);
      }
    }
    auto r = vq2d::sam2::BenchSam2(o);
    if (!r.ok()) {
      std::cerr << "vq2d_model_bench sam2: " << r.status().ToString() << "\n";
      return 1;
    }
    std::cout << "variant device dtype encoder_images_per_s track_frames_per_s memory_tokens_last peak_rss_mib\n";
    for (const auto& x : *r) {
      std::cout << x.variant << " " << x.device << " " << x.dtype << " " << x.encoder_images_per_s << " "
                << x.track_frames_per_s << " " << x.memory_tokens_last << " " << x.peak_rss_mib << "\n";
    }
    return 0;
  }
  if (cmd == "clip") {
    if (bf16) return Usage("clip: use --precision bf16");
    vq2d::ClipBenchOptions o;
    for (const auto& [k, v] : opts) {
      const vq2d::Status st = vq2d::SetClipBenchOption(&o, k, v);
      if (!st.ok()) return Usage(st.message());
    }
    const vq2d::Status st = vq2d::BenchClip(o, std::cout);
    if (!st.ok()) {
      std::cerr << "vq2d_model_bench clip: " << st.ToString() << "\n";
      return 1;
    }
    return 0;
  }
  return Usage("unknown command '" + cmd + "'");
}
