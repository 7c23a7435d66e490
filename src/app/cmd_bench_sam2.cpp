// vq2d bench sam2: SAM 2.1 image-encoder images/s and tracking frames/s (random weights, 1024²).
#include <cstdio>
#include <sstream>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/core/sam2_bench.h"

namespace vq2d::app {

int RunBenchSam2(const Args& args) {
  ArgParser p("vq2d bench sam2",
              "SAM 2.1 speed with random weights at 1024x1024: image-encoder images/s, tracking frames/s "
              "(box prompt on frame 0, then forward propagation) and peak resident memory.");
  std::string variants = "tiny,large", device = "cpu";
  long long images = 2, frames = 4, height = 360, width = 640, threads = 0;
  p.AddString("--variants", &variants, "comma-separated presets: tiny, small, base_plus, large");
  p.AddInt("--images", &images, "timed image-encoder passes after one warm-up");
  p.AddInt("--frames", &frames, "timed tracked frames after the prompt frame");
  p.AddInt("--height", &height, "synthetic frame height before the 1024² resize");
  p.AddInt("--width", &width, "synthetic frame width");
  p.AddString("--device", &device, "cpu or cuda");
  p.AddInt("--threads", &threads, "intra-op threads, 0 = LibTorch default");
  bool bf16 = false;
  p.AddBool("--bf16", &bf16, "run under bf16 autocast (upstream REN's CUDA setting)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  sam2::Sam2BenchOptions o;
  o.variants.clear();
  std::stringstream ss(variants);
  for (std::string v; std::getline(ss, v, ',');)
    if (!v.empty()) o.variants.push_back(v);
  o.encoder_images = static_cast<int>(images);
  o.track_frames = static_cast<int>(frames);
  o.frame_height = static_cast<int>(height);
  o.frame_width = static_cast<int>(width);
  o.device = device;
  o.threads = static_cast<int>(threads);
  o.bf16 = bf16;
  auto r = sam2::BenchSam2(o);
  if (!r.ok()) {
    std::fprintf(stderr, "vq2d bench sam2: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("%-10s %-6s %-5s %14s %14s %14s %14s\n", "variant", "device", "dtype", "encoder img/s", "track frame/s",
              "memory tokens", "peak RSS MiB");
  for (const auto& x : *r)
    std::printf("%-10s %-6s %-5s %14.3f %14.3f %14.0f %14.0f\n", x.variant.c_str(), x.device.c_str(), x.dtype.c_str(),
                x.encoder_images_per_s, x.track_frames_per_s, x.memory_tokens_last, x.peak_rss_mib);
  return 0;
}

}  // namespace vq2d::app
