#include "vq2d/runner/merge.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/runner/run_store.h"

namespace vq2d {

using io::ClipOutput;
using io::ParseAnnotations;
using io::SerializeClipOutput;
using runner::DoneRecord;
using runner::MergePredictions;
using runner::MergeReport;
using runner::RunStore;
namespace {

const char* kAnnotations = R"({
 "version": "1.0.5",
 "videos": [
  {"video_uid": "v1", "clips": [
    {"clip_uid": "c1", "annotations": [
      {"annotation_uid": "a1", "query_sets": {
        "2": {"is_valid": true, "query_frame": 10, "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 5, "height": 5}},
        "1": {"is_valid": true, "query_frame": 20, "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 5, "height": 5}},
        "3": {"is_valid": false, "query_frame": 20, "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 5, "height": 5}}}}]},
    {"clip_uid": null, "annotations": [
      {"query_sets": {"1": {"is_valid": true, "query_frame": 3, "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 5, "height": 5}}}}]}]},
  {"video_uid": "v2", "clips": [
    {"clip_uid": "c2", "annotations": [
      {"query_sets": {"1": {"is_valid": true, "query_frame": 4, "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 5, "height": 5}}}}]}]}
 ]})";

void Commit(RunStore& store, const std::string& fp, const ClipOutput& out) {
  DoneRecord r;
  r.fingerprint = fp;
  ASSERT_TRUE(store.CommitClip(out.clip_uid, SerializeClipOutput(out), &r, "t").ok());
}

void WriteRunJson(const std::string& dir, const std::string& fp) {
  ASSERT_TRUE(FileSystem::Default()->CreateDirs(dir).ok());
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), dir + "/run.json", nlohmann::json{{"fingerprint", fp}}.dump(), "t").ok());
}

ClipOutput C1() {
  ClipOutput o;
  o.clip_uid = "c1";
  o.video_uid = "v1";
  o.frame_width = 512, o.frame_height = 288, o.original_width = 1920, o.original_height = 1080;
  o.queries.push_back({0, "1", 0.9, {{5, 10.5, 20.2, 100.9, 200.0}, {6, 11, 21, 101, 201}}});
  o.queries.push_back({0, "2", 0.4, {{3, 0, 0, 51.2, 28.8}}});
  return o;
}

TEST(MergeTest, OrdersLikeTheAnnotationFileRescalesAndReportsMissing) {
  testing::TempDir dir;
  auto ann = ParseAnnotations(kAnnotations, "ann.json");
  ASSERT_TRUE(ann.ok()) << ann.status().ToString();
  WriteRunJson(dir.Join("run"), "fp");
  RunStore store(FileSystem::Default(), dir.Join("run"));
  ASSERT_TRUE(store.Init().ok());
  Commit(store, "fp", C1());
  MergeReport rep;
  auto text = MergePredictions(FileSystem::Default(), *ann, {dir.Join("run")}, &rep);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto j = nlohmann::ordered_json::parse(*text);
  EXPECT_EQ(j["version"], "1.0.5");
  EXPECT_EQ(j["challenge"], "ego4d_vq2d_challenge");
  const auto& videos = j["results"]["videos"];
  ASSERT_EQ(videos.size(), 2u);
  EXPECT_EQ(videos[0]["video_uid"], "v1");
  const auto& qsets = videos[0]["clips"][0]["predictions"][0]["query_sets"];
  // JSON key order of the annotation file ("2" before "1"); the invalid set is left out.
  std::vector<std::string> keys;
  for (auto it = qsets.begin(); it != qsets.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"2", "1"}));
  const auto& b = qsets["1"]["bboxes"][0];
  EXPECT_EQ(b["fno"], 5);
  EXPECT_EQ(b["x1"], 39);    // int(10.5 / 512 * 1920) = int(39.375)
  EXPECT_EQ(b["y1"], 75);    // int(20.2 / 288 * 1080) = int(75.75)
  EXPECT_EQ(b["x2"], 378);   // int(100.9 / 512 * 1920) = int(378.375)
  EXPECT_EQ(b["y2"], 750);
  EXPECT_DOUBLE_EQ(qsets["1"]["score"].get<double>(), 0.9);
  EXPECT_EQ(videos[0]["clips"][0]["predictions"][0]["annotation_uid"], "a1");
  // Null clip and missing clip: empty predictions, reported.
  EXPECT_TRUE(videos[0]["clips"][1]["clip_uid"].is_null());
  EXPECT_EQ(videos[0]["clips"][1]["predictions"][0]["query_sets"]["1"]["bboxes"].size(), 0u);
  EXPECT_EQ(videos[1]["clips"][0]["predictions"][0]["query_sets"]["1"]["score"], 0.0);
  EXPECT_EQ(rep.clips_total, 3);
  EXPECT_EQ(rep.clips_found, 1);
  EXPECT_EQ(rep.queries_total, 4);
  EXPECT_EQ(rep.queries_predicted, 2);
  EXPECT_FALSE(rep.complete());
  ASSERT_EQ(rep.missing_clips.size(), 2u);
  EXPECT_EQ(rep.missing_clips[1], "c2");
}

TEST(MergeTest, DedupesAcrossRunDirectoriesAndFlagsConflicts) {
  testing::TempDir dir;
  auto ann = ParseAnnotations(kAnnotations, "ann.json");
  ASSERT_TRUE(ann.ok());
  WriteRunJson(dir.Join("a"), "fa");
  WriteRunJson(dir.Join("b"), "fb");
  RunStore a(FileSystem::Default(), dir.Join("a")), b(FileSystem::Default(), dir.Join("b"));
  ASSERT_TRUE(a.Init().ok() && b.Init().ok());
  Commit(a, "fa", C1());
  ClipOutput other = C1();
  other.queries[0].score = 0.1;
  Commit(b, "fb", other);
  ClipOutput c2;
  c2.clip_uid = "c2", c2.video_uid = "v2", c2.frame_width = 10, c2.frame_height = 10;
  c2.original_width = 10, c2.original_height = 10;
  c2.queries.push_back({0, "1", 0.5, {{1, 1, 1, 2, 2}}});
  Commit(b, "fb", c2);
  MergeReport rep;
  auto text = MergePredictions(FileSystem::Default(), *ann, {dir.Join("a"), dir.Join("b")}, &rep);
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  EXPECT_DOUBLE_EQ(j["results"]["videos"][0]["clips"][0]["predictions"][0]["query_sets"]["1"]["score"].get<double>(), 0.9);
  EXPECT_EQ(rep.clips_found, 2);
  EXPECT_EQ(rep.duplicate_clips.size(), 1u);
  EXPECT_EQ(rep.conflicting_clips, (std::vector<std::string>{"c1"}));
  EXPECT_EQ(rep.missing_clips.size(), 1u);  // the null clip
}

TEST(MergeTest, CorruptOutputIsNotUsedAndIsReported) {
  testing::TempDir dir;
  auto ann = ParseAnnotations(kAnnotations, "ann.json");
  ASSERT_TRUE(ann.ok());
  WriteRunJson(dir.Join("run"), "fp");
  RunStore store(FileSystem::Default(), dir.Join("run"));
  ASSERT_TRUE(store.Init().ok());
  Commit(store, "fp", C1());
  ASSERT_TRUE(WriteFileAtomic(FileSystem::Default(), store.ClipOutputPath("c1"), "garbage", "t").ok());
  MergeReport rep;
  auto text = MergePredictions(FileSystem::Default(), *ann, {dir.Join("run")}, &rep);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(rep.clips_found, 0);
  ASSERT_EQ(rep.rejected.size(), 1u);
  EXPECT_NE(rep.rejected[0].find("c1"), std::string::npos);
  EXPECT_FALSE(MergePredictions(FileSystem::Default(), *ann, {dir.Join("none")}, &rep).ok());
}

}  // namespace
}  // namespace vq2d
