// vq2d prepare: builds the HDF5 clip records of a split (see include/vq2d/io/prepare.h).
#include <yaml-cpp/yaml.h>

#include <cstdio>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/core/filesystem.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/prepare.h"

namespace vq2d::app {
namespace {

// Reads data.<split>_annotations, data.videos_dir and data.<split>_data_dir from a config file,
// leaving values already given on the command line alone.
Status ReadConfigPaths(const std::string& path, const std::string& split, std::string* annotations,
                       std::string* videos_dir, std::string* out_dir, bool* apply_trim_offset) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(StrCat("config '", path, "': ", e.what()));
  }
  try {
    const YAML::Node data = root["data"];
    if (!data || !data.IsMap()) return Status::InvalidArgument(StrCat("config '", path, "': missing map 'data'"));
    auto get = [&](const std::string& key, std::string* out) -> Status {
      if (!out->empty()) return Status::OK();
      if (!data[key]) return Status::InvalidArgument(StrCat("config '", path, "': missing key data.", key));
      *out = data[key].as<std::string>();
      return Status::OK();
    };
    VQ2D_RETURN_IF_ERROR(get(split + "_annotations", annotations));
    VQ2D_RETURN_IF_ERROR(get("videos_dir", videos_dir));
    VQ2D_RETURN_IF_ERROR(get(split + "_data_dir", out_dir));
    if (root["fixes"] && root["fixes"]["apply_trim_offset"]) {
      *apply_trim_offset = *apply_trim_offset || root["fixes"]["apply_trim_offset"].as<bool>();
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(StrCat("config '", path, "': ", e.what()));
  }
  return Status::OK();
}

}  // namespace

int RunPrepare(const Args& args) {
  std::string config, split = "val", annotations, videos_dir, out_dir, compression = "none";
  long long gzip_level = 4, max_clamped = 10;
  bool apply_trim_offset = false, quiet = false;
  ArgParser p("vq2d prepare",
              "Decodes every clip of a split from its full-scale video exactly as upstream REN's prepare.py selects\n"
              "frames (clip_fps timestamps, black-bar trim, PIL-bicubic resize to short side 288 / long side <= 512)\n"
              "and writes one HDF5 record per clip, <records_dir>/<clip_uid>.h5 (docs/data.md). Existing valid\n"
              "records are skipped (resume); a failing clip is recorded and the others continue. A report is written\n"
              "to <records_dir>/prepare_report.json. Exit code: 0 all clips ok, 3 some clips failed, 1 fatal, 2 usage.");
  p.AddString("--config", &config, "config.yaml: reads data.<split>_annotations, data.videos_dir, data.<split>_data_dir, fixes.apply_trim_offset");
  p.AddString("--split", &split, "train, val or test");
  p.AddString("--annotations", &annotations, "annotation JSON (overrides the config)");
  p.AddString("--videos-dir", &videos_dir, "directory of <video_uid>.mp4 (overrides the config)");
  p.AddString("--out-dir", &out_dir, "records directory (overrides the config)");
  p.AddString("--compression", &compression, "frames compression: none or gzip");
  p.AddInt("--gzip-level", &gzip_level, "gzip level 0-9 with --compression gzip");
  p.AddInt("--max-clamped-frames", &max_clamped, "fail a clip when more frame times than this lie past its video's end (-1: no limit)");
  p.AddBool("--apply-trim-offset", &apply_trim_offset, "fixes.apply_trim_offset: map boxes with the black-bar offset (upstream: off)");
  p.AddBool("--quiet", &quiet, "no per-clip progress lines");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (split != "train" && split != "val" && split != "test") {
    std::fprintf(stderr, "vq2d prepare: --split must be train, val or test, got '%s'\n", split.c_str());
    return 2;
  }
  if (compression != "none" && compression != "gzip") {
    std::fprintf(stderr, "vq2d prepare: --compression must be none or gzip, got '%s'\n", compression.c_str());
    return 2;
  }
  if (!config.empty()) {
    Status s = ReadConfigPaths(config, split, &annotations, &videos_dir, &out_dir, &apply_trim_offset);
    if (!s.ok()) {
      std::fprintf(stderr, "vq2d prepare: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  if (annotations.empty() || videos_dir.empty() || out_dir.empty()) {
    std::fprintf(stderr, "vq2d prepare: give --config, or --annotations, --videos-dir and --out-dir\n");
    return 2;
  }
  auto ann = LoadAnnotations(annotations);
  if (!ann.ok()) {
    std::fprintf(stderr, "vq2d prepare: %s\n", ann.status().ToString().c_str());
    return 1;
  }
  ClipPrepareOptions o;
  o.split = split;
  o.annotation_version = ann->version;
  o.gzip_level = compression == "gzip" ? static_cast<int>(gzip_level) : -1;
  o.apply_trim_offset = apply_trim_offset;
  o.max_clamped_frames = max_clamped;
  if (Status s = FileSystem::Default()->CreateDirs(out_dir); !s.ok()) {
    std::fprintf(stderr, "vq2d prepare: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("vq2d prepare: split %s, %s -> %s\n", split.c_str(), annotations.c_str(), out_dir.c_str());
  std::fflush(stdout);
  const SplitReport rep = PrepareSplit(o, *ann, videos_dir, out_dir, [&](size_t done, size_t total, const ClipOutcome& c) {
    if (quiet && c.state != "failed") return;
    if (c.state == "failed") {
      std::printf("[%zu/%zu] FAILED %s: %s\n", done, total, c.clip_uid.c_str(), c.message.c_str());
    } else if (c.state == "skipped") {
      std::printf("[%zu/%zu] skipped %s (valid record exists)\n", done, total, c.clip_uid.c_str());
    } else {
      std::printf("[%zu/%zu] prepared %s: %lld frames (%lld clamped), %.1f MB, %.2f s\n", done, total,
                  c.clip_uid.c_str(), static_cast<long long>(c.stats.frames_written),
                  static_cast<long long>(c.stats.frames_clamped), c.stats.bytes_written / 1e6, c.stats.seconds);
      for (const auto& w : c.stats.warnings) std::printf("    warning: %s\n", w.c_str());
    }
    std::fflush(stdout);
  });
  const std::string report_path = JoinPath(out_dir, "prepare_report.json");
  if (Status s = WriteFileAtomic(FileSystem::Default(), report_path, rep.ToJson(), "prepare"); !s.ok()) {
    std::fprintf(stderr, "vq2d prepare: cannot write the report: %s\n", s.ToString().c_str());
  }
  std::printf("vq2d prepare: %d prepared, %d skipped, %d failed, %lld frames (%lld clamped) in %.1f s; report %s\n",
              rep.prepared, rep.skipped, rep.failed, static_cast<long long>(rep.frames_written),
              static_cast<long long>(rep.frames_clamped), rep.seconds, report_path.c_str());
  return rep.failed > 0 ? 3 : 0;
}

}  // namespace vq2d::app
