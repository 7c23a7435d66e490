// vq2d inspect FILE: the top-level structure and every tensor (name, dtype, shape) of a PyTorch
// zip checkpoint or a safetensors file. Torch-free: uses core's InspectTensorFile.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/core/checkpoint_summary.h"

namespace vq2d::app {
namespace {

std::string Shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t Numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace

int RunInspect(const Args& args) {
  ArgParser p("vq2d inspect",
              "Prints the top-level structure and the name, dtype and shape of every tensor of a checkpoint\n"
              "(PyTorch zip, torch.save >= 1.6) or safetensors file. The format is detected from the content.");
  std::string file, prefix;
  bool stats = false, json = false;
  p.AddPositional("FILE", &file, "checkpoint (.pt/.pth) or safetensors file");
  p.AddString("--prefix", &prefix, "list only tensors whose name starts with this (e.g. region_encoder_state.)");
  p.AddBool("--stats", &stats, "also read the data and print min/max/mean of every tensor");
  p.AddBool("--json", &json, "print one JSON object instead of text");
  if (int rc = p.Parse(args); rc >= 0) return rc;

  InspectOptions options;
  options.stats = stats;
  auto r = InspectTensorFile(file, options);
  if (!r.ok()) {
    std::fprintf(stderr, "vq2d inspect: %s\n", r.status().ToString().c_str());
    return 1;
  }
  const TensorFileSummary& s = *r;
  std::vector<const TensorInfo*> shown;
  int64_t elements = 0;
  for (const auto& t : s.tensors) {
    if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
    shown.push_back(&t);
    elements += Numel(t.shape);
  }

  if (json) {
    nlohmann::json j;
    j["file"] = file;
    j["format"] = s.format;
    j["metadata"] = s.metadata;
    j["structure"] = s.structure;
    j["tensors"] = nlohmann::json::array();
    for (const TensorInfo* t : shown) {
      nlohmann::json e{{"name", t->name}, {"dtype", t->dtype}, {"shape", t->shape}};
      if (t->stats) e["stats"] = {{"min", t->stats->min}, {"max", t->stats->max}, {"mean", t->stats->mean}};
      j["tensors"].push_back(e);
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }

  std::printf("file: %s\nformat: %s\n", file.c_str(), s.format.c_str());
  for (const auto& [k, v] : s.metadata) std::printf("  %s: %s\n", k.c_str(), v.c_str());
  std::printf("structure:\n");
  for (const auto& line : s.structure) std::printf("  %s\n", line.c_str());
  std::printf("tensors: %zu%s, %lld elements\n", shown.size(), prefix.empty() ? "" : (" under '" + prefix + "'").c_str(),
              static_cast<long long>(elements));
  size_t width = 4;
  for (const TensorInfo* t : shown) width = std::max(width, t->name.size());
  for (const TensorInfo* t : shown) {
    std::printf("  %-*s  %-8s  %s", static_cast<int>(width), t->name.c_str(), t->dtype.c_str(), Shape(t->shape).c_str());
    if (t->stats) std::printf("  min %.6g max %.6g mean %.6g", t->stats->min, t->stats->max, t->stats->mean);
    std::printf("\n");
  }
  return 0;
}

}  // namespace vq2d::app
