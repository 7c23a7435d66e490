// Hostile JSON in every io entry that reads JSON (annotations: eval, submit, merge, prepare, run;
// predictions: eval, submit; clip outputs: merge): deep nesting anywhere is an error naming the
// file and path (no stack overflow), and objects with very many keys parse in linear time.
#include <gtest/gtest.h>

#include <string>

#include "vq2d/io/annotations.h"
#include "vq2d/io/clip_output.h"
#include "vq2d/io/evaluate.h"
#include "vq2d/io/submission.h"

namespace vq2d {

using io::BuildSubmission;
using io::EvaluatePredictions;
using io::EvaluateRenLocal;
using io::ParseAnnotations;
using io::ParseClipOutput;
using io::ValidatePredictions;
namespace {

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string Deep(int n) { return std::string(n, '[') + std::string(n, ']'); }

const char kOneClip[] = R"({"version": "1.0.5", "videos": [{"video_uid": "v", "split": "val", "clips": [
  {"clip_uid": "c", "clip_fps": 5.0, "annotations": [{"annotation_uid": "a", "query_sets": {
    "1": {"is_valid": true, "query_frame": 9, "visual_crop": {"frame_number": 3, "x": 1, "y": 1, "width": 4,
          "height": 4, "original_width": 64, "original_height": 48},
          "response_track": [{"frame_number": 2, "x": 1, "y": 1, "width": 4, "height": 4}]}}}]}]}]})";

TEST(JsonHostile, DeepNestingInAnUnusedAnnotationFieldNamesThePath) {
  const std::string text = R"({"version": "1.0.5", "videos": [{"video_uid": "v", "unused": )" + Deep(100000) +
                           R"(, "clips": []}]})";
  auto r = ParseAnnotations(text, "vq_val.json");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "vq_val.json: malformed JSON: nested deeper than")) << r.status().message();
  EXPECT_TRUE(Has(r.status().message(), "at videos[0].unused[0]")) << r.status().message();
}

TEST(JsonHostile, DeepNestingInPredictionsAndClipOutputsIsAnError) {
  auto gt = ParseAnnotations(kOneClip, "gt.json");
  ASSERT_TRUE(gt.ok()) << gt.status().ToString();
  const std::string pred = R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "x": )" + Deep(100000) + "}";
  auto e = EvaluatePredictions(pred, "pred.json", *gt);
  ASSERT_FALSE(e.ok());
  EXPECT_TRUE(Has(e.status().message(), "pred.json: malformed JSON: nested deeper than")) << e.status().message();
  auto s = BuildSubmission({{"1-c.json", pred}}, *gt);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s.status().message(), "nested deeper than")) << s.status().message();
  auto l = EvaluateRenLocal(pred, "collated.json");
  ASSERT_FALSE(l.ok());
  EXPECT_TRUE(Has(l.status().message(), "nested deeper than")) << l.status().message();
  auto c = ParseClipOutput(R"({"schema": "vq2d.clip_output/1", "extra": )" + Deep(100000) + "}", "out/c.json");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(Has(c.status().message(), "out/c.json: malformed JSON: nested deeper than")) << c.status().message();
}

// Regression (fuzzing, regressions/predictions/clip_output_schema_not_a_string.json): a clip output
// whose "schema" is not a string threw out of ParseClipOutput (terminate) instead of an error.
TEST(JsonHostile, ClipOutputSchemaOfTheWrongTypeIsAnError) {
  for (const char* schema : {"512", "null", "[\"vq2d.clip_output/1\"]", "{}"}) {
    auto c = ParseClipOutput(StrCat(R"({"schema": )", schema, R"(, "queries": []})"), "out/c.json");
    ASSERT_FALSE(c.ok()) << schema;
    EXPECT_EQ(c.status().code(), StatusCode::kCorruption);
    EXPECT_TRUE(Has(c.status().message(), "out/c.json: key 'schema': expected")) << c.status().message();
  }
}

// Regression (fuzzing on the CI machine, regressions/predictions/eval_fno_1e300.json and
// eval_track_spanning_int64.json): a frame number written as a float beyond long long (1e300) was cast
// unchecked (undefined behaviour), and a track whose frames span nearly all of long long overflowed
// the contiguity check. Both are errors naming the box; in-range integral floats still read (5.0).
TEST(JsonHostile, PredictedFrameNumbersBeyondLongLongAreErrorsNotUndefinedBehaviour) {
  auto gt = ParseAnnotations(kOneClip, "gt.json");
  ASSERT_TRUE(gt.ok()) << gt.status().ToString();
  auto pred = [](const std::string& bboxes) {
    return StrCat(R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [)",
                  R"({"video_uid": "v", "clips": [{"clip_uid": "c", "predictions": [{"query_sets": {"1": )",
                  R"({"bboxes": )", bboxes, R"(, "score": 0.5}}}]}]}]}})");
  };
  const std::string box = R"(, "x1": 1, "y1": 1, "x2": 5, "y2": 5})";
  for (const char* fno : {"1e300", "-1e300", "9.3e18", "18446744073709551615"}) {
    auto e = EvaluatePredictions(pred(StrCat(R"([{"fno": )", fno, box, "]")), "pred.json", *gt);
    ASSERT_FALSE(e.ok()) << fno;
    EXPECT_TRUE(Has(e.status().message(), "bboxes[0].fno: expected an integer frame number")) << e.status().message();
  }
  auto far = EvaluatePredictions(pred(StrCat(R"([{"fno": -9223372036854775807)", box, R"(, {"fno": 9223372036854775807)",
                                             box, "]")),
                                 "pred.json", *gt);
  ASSERT_FALSE(far.ok());
  EXPECT_TRUE(Has(far.status().message(), "BBoxes not contiguous")) << far.status().message();
  auto ok = EvaluatePredictions(pred(StrCat(R"([{"fno": 2.0)", box, R"(, {"fno": 3)", box, "]")), "pred.json", *gt);
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

// A clip output box coordinate that would not rescale into an int (merge writes ints; the cast was
// undefined behaviour) is an error naming the key; regressions/predictions/clip_output_x1_1e300.json.
TEST(JsonHostile, ClipOutputBoxCoordinateOutsideIntRangeIsAnError) {
  auto clip = [](const std::string& x1) {
    return StrCat(R"({"schema": "vq2d.clip_output/1", "clip_uid": "c1", "video_uid": "v1", "frame_width": 512, )",
                  R"("frame_height": 288, "original_width": 640, "original_height": 360, "queries": [)",
                  R"({"annotation_index": 0, "query_set": "1", "score": 0.5, "bboxes": [{"fno": 5, "x1": )", x1,
                  R"(, "y1": 2.0, "x2": 3.0, "y2": 4.0}]}]})");
  };
  for (const char* x1 : {"1e300", "-1e300", "1717986918.4"}) {  // the last: 2^31 after the 640/512 rescale
    auto c = ParseClipOutput(clip(x1), "out/c1.json");
    ASSERT_FALSE(c.ok()) << x1;
    EXPECT_EQ(c.status().code(), StatusCode::kCorruption);
    EXPECT_TRUE(Has(c.status().message(), "out/c1.json: key 'queries[0].bboxes[0].x1'")) << c.status().message();
  }
  auto ok = ParseClipOutput(clip("1717986917.0"), "out/c1.json");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(io::RescaleToOriginal(ok->queries[0].bboxes[0].x1, 512, 640), 2147483646);
}

TEST(JsonHostile, AnnotationWithManyQuerySetsParsesAndValidatesLinearly) {
  // 100,000 query sets (96 s in eval before); no timing assertion, a quadratic regression makes this
  // test take minutes.
  const int n = 100000;
  std::string ann = R"({"version": "1.0.5", "videos": [{"video_uid": "v", "split": "val", "clips": [)"
                    R"({"clip_uid": "c", "clip_fps": 5.0, "annotations": [{"query_sets": {)";
  std::string pred = R"({"version": "1.0.5", "challenge": "ego4d_vq2d_challenge", "results": {"videos": [)"
                     R"({"video_uid": "v", "clips": [{"clip_uid": "c", "predictions": [{"query_sets": {)";
  for (int i = 1; i <= n; ++i) {
    const std::string id = std::to_string(i);
    ann += (i > 1 ? "," : "") + ("\"" + id + "\"") +
           R"(: {"is_valid": false, "query_frame": 1, "visual_crop": {"frame_number": 0, "x": 0, "y": 0, "width": 1, "height": 1}})";
    pred += (i > 1 ? "," : "") + ("\"" + id + "\"") + R"(: {"bboxes": [], "score": 0})";
  }
  ann += "}}]}]}]}";
  pred += "}}]}]}]}}";
  auto gt = ParseAnnotations(ann, "many.json");
  ASSERT_TRUE(gt.ok()) << gt.status().ToString();
  const auto& qs = gt->videos[0].clips[0].annotations[0].query_sets;
  ASSERT_EQ(qs.size(), static_cast<size_t>(n));
  EXPECT_EQ(qs.front().id, "1");
  EXPECT_EQ(qs.back().id, std::to_string(n));
  Status v = ValidatePredictions(pred, "pred.json", *gt);
  EXPECT_TRUE(v.ok()) << v.ToString();
}

}  // namespace
}  // namespace vq2d
