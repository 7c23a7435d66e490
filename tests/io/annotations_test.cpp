#include "vq2d/io/annotations.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/test_support.h"

namespace vq2d {
namespace {

// a real v2-val geometry (docs/data.md), with a second query set listed before "1" and a null clip.
constexpr const char* kExample = R"({
  "version": "1.0.5", "date": "x",
  "videos": [{
    "video_uid": "e14e03f8", "split": "val",
    "clips": [{
      "clip_uid": "b3d7a127",
      "video_start_sec": 0.0, "video_end_sec": 960.0,
      "video_start_frame": 0, "video_end_frame": 28799,
      "clip_fps": 5.0, "annotation_complete": true,
      "annotations": [{
        "annotation_uid": "dca1df17",
        "query_sets": {
          "3": {"is_valid": false, "query_frame": 10, "object_title": "stool",
                "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 1, "height": 1}},
          "1": {
            "is_valid": true, "query_frame": 812, "object_title": "container",
            "visual_crop": {"frame_number": 829, "x": 1569.15, "y": 76.41, "width": 146.98, "height": 109.42,
                            "rotation": 0, "original_width": 1920, "original_height": 1080, "video_frame_number": 4974},
            "response_track": [
              {"frame_number": 150, "x": 1517.86, "y": 675.3, "width": 46.63, "height": 54.29,
               "rotation": 0, "original_width": 1920, "original_height": 1080, "video_frame_number": 900},
              {"frame_number": 151, "x": 1524.05, "y": 809.71, "width": 103.38, "height": 91.48,
               "rotation": 0, "original_width": 1920, "original_height": 1080, "video_frame_number": 906}
            ]
          },
          "2": {"is_valid": true, "query_frame": 5, "object_title": "cup",
                "visual_crop": {"frame_number": 1, "x": 0, "y": 0, "width": 1, "height": 1},
                "response_track": []}
        }
      }]
    }, {
      "clip_uid": null, "annotations": []
    }]
  }]
})";

TEST(AnnotationsTest, ParsesExampleKeepingOrder) {
  auto r = ParseAnnotations(kExample, "ex.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const AnnotationFile& f = *r;
  EXPECT_EQ(f.version, "1.0.5");
  ASSERT_EQ(f.videos.size(), 1u);
  EXPECT_EQ(f.videos[0].video_uid, "e14e03f8");
  EXPECT_EQ(f.videos[0].split, "val");
  ASSERT_EQ(f.videos[0].clips.size(), 2u);
  const Clip& c = f.videos[0].clips[0];
  ASSERT_TRUE(c.clip_uid.has_value());
  EXPECT_EQ(*c.clip_uid, "b3d7a127");
  EXPECT_TRUE(c.has_video_span);
  EXPECT_DOUBLE_EQ(c.video_end_sec, 960.0);
  EXPECT_EQ(c.video_end_frame, 28799);
  EXPECT_DOUBLE_EQ(c.clip_fps, 5.0);
  ASSERT_EQ(c.annotations.size(), 1u);
  EXPECT_EQ(c.annotations[0].annotation_uid, "dca1df17");
  const auto& qs = c.annotations[0].query_sets;
  ASSERT_EQ(qs.size(), 3u);
  // JSON text order, not sorted.
  EXPECT_EQ(qs[0].id, "3");
  EXPECT_EQ(qs[1].id, "1");
  EXPECT_EQ(qs[2].id, "2");
  EXPECT_FALSE(qs[0].is_valid);
  EXPECT_FALSE(qs[0].has_response_track);
  EXPECT_TRUE(qs[2].has_response_track);
  EXPECT_TRUE(qs[2].response_track.empty());
  const QuerySet& q = qs[1];
  EXPECT_TRUE(q.is_valid);
  EXPECT_EQ(q.query_frame, 812);
  EXPECT_EQ(q.object_title, "container");
  EXPECT_EQ(q.visual_crop.frame_number, 829);
  EXPECT_DOUBLE_EQ(q.visual_crop.x, 1569.15);
  EXPECT_EQ(q.visual_crop.original_width, 1920);
  EXPECT_EQ(q.visual_crop.video_frame_number, 4974);
  ASSERT_EQ(q.response_track.size(), 2u);
  EXPECT_EQ(q.response_track[1].frame_number, 151);
  EXPECT_DOUBLE_EQ(q.response_track[1].height, 91.48);
  EXPECT_EQ(q.response_track[1].original_height, 1080);
  // Optional fields default when absent.
  EXPECT_EQ(qs[0].visual_crop.original_width, 0);
  EXPECT_EQ(qs[0].visual_crop.video_frame_number, -1);
  // Null clip uid.
  EXPECT_FALSE(f.videos[0].clips[1].clip_uid.has_value());
  EXPECT_FALSE(f.videos[0].clips[1].has_video_span);
  EXPECT_EQ(f.NumValidQuerySets(), 2u);
}

TEST(AnnotationsTest, MalformedJsonNamesSource) {
  auto r = ParseAnnotations("{\"version\": \"1.0\", \"videos\": [", "bad.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("bad.json"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("malformed JSON"), std::string::npos) << r.status().message();
}

TEST(AnnotationsTest, RootMustBeObject) {
  auto r = ParseAnnotations("[1,2]", "a.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a.json: (root): expected an object, got an array"), std::string::npos)
      << r.status().message();
}

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(AnnotationsTest, WrongTypeNamesJsonPath) {
  std::string bad = Replace(kExample, R"("query_frame": 812)", R"("query_frame": "812")");
  auto r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "v.json: videos[0].clips[0].annotations[0].query_sets.1.query_frame: expected an integer, got the "
            "string \"812\"");

  bad = Replace(kExample, R"("x": 1524.05)", R"("x": null)");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "v.json: videos[0].clips[0].annotations[0].query_sets.1.response_track[1].x: expected a number, got null");

  bad = Replace(kExample, R"("is_valid": true, "query_frame": 812)", R"("is_valid": 1, "query_frame": 812)");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("query_sets.1.is_valid: expected true or false"), std::string::npos);

  bad = Replace(kExample, R"("clip_uid": "b3d7a127")", R"("clip_uid": 7)");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("videos[0].clips[0].clip_uid: expected a string"), std::string::npos);

  bad = Replace(kExample, R"("query_sets": {)", R"("query_sets": [], "x": {)");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("annotations[0].query_sets: expected an object, got an array"),
            std::string::npos)
      << r.status().message();

  // Fractional frame numbers are rejected; integral floats are accepted.
  bad = Replace(kExample, R"("frame_number": 150,)", R"("frame_number": 150.5,)");
  EXPECT_FALSE(ParseAnnotations(bad, "v.json").ok());
  std::string ok = Replace(kExample, R"("frame_number": 150,)", R"("frame_number": 150.0,)");
  auto r2 = ParseAnnotations(ok, "v.json");
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->videos[0].clips[0].annotations[0].query_sets[1].response_track[0].frame_number, 150);
}

TEST(AnnotationsTest, MissingKeyNamesJsonPath) {
  std::string bad = Replace(kExample, R"("video_uid": "e14e03f8",)", "");
  auto r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "v.json: videos[0]: missing required key 'video_uid'");

  bad = Replace(kExample, R"("visual_crop": {"frame_number": 829, )", R"("visual_crop": {)");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "v.json: videos[0].clips[0].annotations[0].query_sets.1.visual_crop: missing required key 'frame_number'");

  bad = Replace(kExample, R"("version": "1.0.5", )", "");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "v.json: (root): missing required key 'version'");

  bad = Replace(kExample, R"("clip_uid": null, )", "");
  r = ParseAnnotations(bad, "v.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "v.json: videos[0].clips[1]: missing required key 'clip_uid'");
}

TEST(AnnotationsTest, LoadFromFile) {
  testing::TempDir dir;
  std::string path = dir.Join("vq_val.json");
  {
    std::ofstream out(path);
    out << kExample;
  }
  auto r = LoadAnnotations(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->videos.size(), 1u);
  auto missing = LoadAnnotations(dir.Join("nope.json"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope.json"), std::string::npos);
}

}  // namespace
}  // namespace vq2d
