// A small dataset for fake_vq2d (tests/runner/programs): annotations + config, no videos or records.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "vq2d/base/filesystem.h"

namespace vq2d::testing {

// Annotation JSON of 2 videos x 3 clips ("<prefix><v><c>"), one valid query set each, 64x48 frames.
inline std::string FakeAnnotations(const std::string& prefix) {
  std::string ann = R"({"version": "1.0.5", "videos": [)";
  for (int v = 0; v < 2; ++v) {
    ann += std::string(v ? "," : "") + R"({"video_uid": ")" + prefix + "v" + std::to_string(v) + R"(", "clips": [)";
    for (int c = 0; c < 3; ++c) {
      const std::string uid = prefix + std::to_string(v) + std::to_string(c);
      const int qf = 30 + 10 * c + v;
      ann += std::string(c ? "," : "") + R"({"clip_uid": ")" + uid + R"(", "annotations": [{"query_sets": {"1": {
        "is_valid": true, "query_frame": )" + std::to_string(qf) + R"(, "object_title": "cup",
        "visual_crop": {"frame_number": 1, "x": 1, "y": 1, "width": 9, "height": 9, "original_width": 64, "original_height": 48},
        "response_track": [{"frame_number": 3, "x": 2, "y": 2, "width": 8, "height": 8, "original_width": 64, "original_height": 48}]}}}]})";
    }
    ann += "]}";
  }
  ann += "]}";
  return ann;
}

// `dir`/vq_val.json (clips c00..c12; also the config's test annotations unless `test_prefix` is
// given: then `dir`/vq_test.json with clips <test_prefix>00..) and `dir`/config.yaml (runs in
// `dir`/runs, exp_name slurm). Returns the config path.
inline std::string MakeDataset(const std::string& dir, const std::string& test_prefix = "") {
  FileSystem* fs = FileSystem::Default();
  EXPECT_TRUE(WriteFileAtomic(fs, dir + "/vq_val.json", FakeAnnotations("c"), "t").ok());
  std::string test = dir + "/vq_val.json";
  if (!test_prefix.empty()) {
    test = dir + "/vq_test.json";
    EXPECT_TRUE(WriteFileAtomic(fs, test, FakeAnnotations(test_prefix), "t").ok());
  }
  const std::string config = dir + "/config.yaml";
  EXPECT_TRUE(WriteFileAtomic(fs, config,
                              "data:\n  val_annotations: " + dir + "/vq_val.json\n  test_annotations: " + test +
                                  "\nvisual_query:\n  save_dir: " + dir +
                                  "/runs\n  exp_name: slurm\nrunner:\n  progress_interval_s: 1\n",
                              "t")
                  .ok());
  return config;
}

}  // namespace vq2d::testing
