// `vq2d synth`: a small synthetic dataset in the Ego4D VQ2D format, so the whole pipeline can run
// without downloads. Writes, under `out_dir`:
//   videos/<video_uid>.mp4      full-scale videos (640x360, 30 fps CFR, mp4v), 24-40 s; video 0 is
//                               letterboxed (48-px black bars top and bottom)
//   vq_val.json                 official schema, version "1.0.5", one val clip per video
//   vq_test_unannotated.json    one test clip per video (later span), no response tracks
//   config.yaml                 data.* and visual_query.* keys pointing at the above
// Scene: a textured background panning with a simulated camera, and textured shapes that move along
// their own paths, leave the view and come back. Each query set asks for one shape: its response
// track is the shape's last visible span before query_frame (boxes in original 640x360 pixels, clipped
// to the picture), its visual crop a frame where the shape is visible, after query_frame when
// possible. Clip frame k is the video frame upstream's "ffmpeg -ss" selects for time start + k/5.
//
// Deterministic for a seed: a private SplitMix64 generator (no std:: distributions) drives
// everything, and the JSON/YAML text is identical for the same seed.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <string>

#include "vq2d/base/status.h"

namespace vq2d::io {

struct SynthOptions {
  std::string out_dir;
  int num_clips = 3;  // val clips (= videos); as many test clips
  uint64_t seed = 1;
  int width = 640, height = 360;
  int fps = 30;
  // Appended verbatim to config.yaml (e.g. the `ren` and `models` sections of demo models).
  std::string extra_config_yaml;
};

struct SynthSummary {
  int videos = 0, val_clips = 0, test_clips = 0, val_queries = 0, test_queries = 0;
  int64_t video_frames = 0;
  std::string val_json, test_json, config_yaml, videos_dir;  // absolute paths written
};

Result<SynthSummary> WriteSynthDataset(const SynthOptions& options);

}  // namespace vq2d::io
