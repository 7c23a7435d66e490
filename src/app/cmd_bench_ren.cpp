// `vq2d bench ren`: throughput of the REN wrapper with full-size random-weight models.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/core/bench.h"

namespace vq2d::app {

int RunBenchRen(const Args& args) {
  BenchRenOptions o;
  std::string batches = "4,16";
  long long warmup = o.warmup, repeats = o.repeats, height = o.frame_height, width = o.frame_width, threads = 0;
  ArgParser p("vq2d bench ren",
              "Times RenEncoder::Encode (uint8 frames -> 518x518 resize -> DINOv2 ViT-L/14 block 23 -> REN region "
              "encoder D=1024 on the 32x32 grid) with random weights. Prints images/s per batch size and the peak "
              "resident memory. Slow on CPU (seconds per image): use small --repeats there.");
  p.AddString("--batch-sizes", &batches, "comma-separated frames per call");
  p.AddInt("--warmup", &warmup, "untimed calls per batch size");
  p.AddInt("--repeats", &repeats, "timed calls per batch size");
  p.AddInt("--height", &height, "synthetic frame height (pixels)");
  p.AddInt("--width", &width, "synthetic frame width (pixels)");
  p.AddString("--device", &o.device, "cpu, cuda or cuda:N");
  p.AddString("--dtype", &o.dtype, "float32 or bfloat16");
  p.AddInt("--threads", &threads, "intra-op CPU threads (0 = LibTorch default)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  o.batch_sizes.clear();
  std::stringstream ss(batches);
  for (std::string item; std::getline(ss, item, ',');) {
    char* end = nullptr;
    const long long b = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || b <= 0) {
      std::fprintf(stderr, "vq2d bench ren: bad batch size '%s'\n", item.c_str());
      return 2;
    }
    o.batch_sizes.push_back(b);
  }
  o.warmup = warmup;
  o.repeats = repeats;
  o.frame_height = height;
  o.frame_width = width;
  o.threads = threads;
  Status st = BenchRen(o, std::cout);
  if (!st.ok()) {
    std::fprintf(stderr, "vq2d bench ren: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace vq2d::app
