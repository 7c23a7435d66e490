// vq2d synth: writes the embedded synthetic Ego4D-format dataset (see include/vq2d/io/synth.h) and
// the demo models (tiny random-initialised DINOv2, REN, DINO and SAM 2.1; pipeline::DemoArchitectures).
#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/io/synth.h"
#include "vq2d/pipeline/engine.h"

namespace vq2d::app {

using io::SynthOptions;
using io::WriteSynthDataset;

namespace {

std::string Quote(const std::string& s) { return nlohmann::json(s).dump(); }

// The demo models' files and the config text that points at them.
struct DemoModels {
  pipeline::ModelOptions options;
  std::string architecture_file, yaml;
};

DemoModels PlanDemoModels(const std::string& dir) {
  DemoModels d;
  const pipeline::DemoRenKeys r;
  d.options = pipeline::DemoModelOptions(dir);
  const pipeline::ModelOptions& m = d.options;
  d.architecture_file = dir + "/architecture.json";
  d.yaml = StrCat(
      "# Demo models: tiny and RANDOMLY INITIALISED (untrained), written by vq2d synth. They exercise every\n"
      "# stage of the pipeline; the metrics they give mean nothing. For real numbers point models.* at the\n"
      "# official checkpoints and remove models.architecture and the ren/dino_input_size overrides.\n",
      "ren:\n",
      "  pretrained:\n",
      "    feature_extractors: [dinov2_demo]   # architecture in models.architecture\n",
      "    patch_sizes: [", r.patch_size, "]\n",
      "  architecture:\n",
      "    grid_size: ", r.grid_size, "\n",
      "    hidden_dim: ", r.hidden_dim, "\n",
      "    decoder_layers: ", r.decoder_layers, "\n",
      "    num_attention_heads: ", r.num_attention_heads, "\n",
      "  parameters:\n",
      "    image_resolution: ", r.image_resolution, "\n",
      "models:\n",
      "  architecture: ", Quote(d.architecture_file), "\n",
      "  dinov2: ", Quote(m.dinov2_file), "\n",
      "  ren: ", Quote(m.ren_file), "\n",
      "  dino: ", Quote(m.dino_file), "\n",
      "  sam2: ", Quote(m.sam2_file), "\n",
      "  dino_input_size: [192, 256]\n");
  return d;
}

}  // namespace

int RunSynth(const Args& args) {
  std::string out;
  long long clips = 3, seed = 1;
  bool no_models = false;
  ArgParser p("vq2d synth",
              "Writes a synthetic Ego4D VQ2D dataset: mp4 videos (640x360, 30 fps; one letterboxed), vq_val.json,\n"
              "vq_test_unannotated.json (official schema, version 1.0.5), demo models (tiny, randomly initialised:\n"
              "they show the machinery, not accuracy) and a ready config.yaml. Deterministic for a seed.\n"
              "Next: vq2d prepare --config DIR/config.yaml --split val");
  p.AddString("--out", &out, "output directory (created)", /*required=*/true);
  p.AddInt("--clips", &clips, "number of videos; each has one val clip and one test clip");
  p.AddInt("--seed", &seed, "random seed (dataset and demo weights)");
  p.AddBool("--no-models", &no_models, "do not write the demo models (config.yaml then keeps the official model keys)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  SynthOptions o;
  o.out_dir = out;
  o.num_clips = static_cast<int>(clips);
  o.seed = static_cast<uint64_t>(seed);
  DemoModels demo;
  if (!no_models) {
    demo = PlanDemoModels(out + "/models");
    o.extra_config_yaml = demo.yaml;
  }
  auto r = WriteSynthDataset(o);
  if (!r.ok()) {
    std::fprintf(stderr, "vq2d synth: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (!no_models) {
    FileSystem* fs = FileSystem::Default();
    Status s = fs->CreateDirs(out + "/models");
    if (s.ok()) {
      s = WriteFileAtomic(fs, demo.architecture_file, pipeline::DemoArchitectures().dump(1) + "\n", "synth");
    }
    if (s.ok()) s = pipeline::WriteRandomModels(demo.options, static_cast<uint64_t>(seed));
    if (!s.ok()) {
      std::fprintf(stderr, "vq2d synth: demo models: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  std::printf("vq2d synth: %d videos (%lld frames) in %s\n", r->videos, static_cast<long long>(r->video_frames),
              r->videos_dir.c_str());
  std::printf("  %s: %d clips, %d queries\n", r->val_json.c_str(), r->val_clips, r->val_queries);
  std::printf("  %s: %d clips, %d queries\n", r->test_json.c_str(), r->test_clips, r->test_queries);
  if (!no_models) {
    std::printf("  demo models (random weights, untrained) in %s/models\n", out.c_str());
  }
  std::printf("  %s\n", r->config_yaml.c_str());
  std::printf("next: vq2d prepare --config %s --split val\n", r->config_yaml.c_str());
  return 0;
}

}  // namespace vq2d::app
