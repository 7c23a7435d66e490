// vq2d synth: writes the embedded synthetic Ego4D-format dataset (see include/vq2d/io/synth.h).
#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/io/synth.h"

namespace vq2d::app {

int RunSynth(const Args& args) {
  std::string out;
  long long clips = 3, seed = 1;
  ArgParser p("vq2d synth",
              "Writes a synthetic Ego4D VQ2D dataset: mp4 videos (640x360, 30 fps; one letterboxed), vq_val.json,\n"
              "vq_test_unannotated.json (official schema, version 1.0.5) and a ready config.yaml. Deterministic\n"
              "for a seed. Next: vq2d prepare --config DIR/config.yaml --split val");
  p.AddString("--out", &out, "output directory (created)", /*required=*/true);
  p.AddInt("--clips", &clips, "number of videos; each has one val clip and one test clip");
  p.AddInt("--seed", &seed, "random seed");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  SynthOptions o;
  o.out_dir = out;
  o.num_clips = static_cast<int>(clips);
  o.seed = static_cast<uint64_t>(seed);
  auto r = WriteSynthDataset(o);
  if (!r.ok()) {
    std::fprintf(stderr, "vq2d synth: %s\n", r.status().ToString().c_str());
    return 1;
  }
  std::printf("vq2d synth: %d videos (%lld frames) in %s\n", r->videos, static_cast<long long>(r->video_frames),
              r->videos_dir.c_str());
  std::printf("  %s: %d clips, %d queries\n", r->val_json.c_str(), r->val_clips, r->val_queries);
  std::printf("  %s: %d clips, %d queries\n", r->test_json.c_str(), r->test_clips, r->test_queries);
  std::printf("  %s\n", r->config_yaml.c_str());
  std::printf("next: vq2d prepare --config %s --split val\n", r->config_yaml.c_str());
  return 0;
}

}  // namespace vq2d::app
