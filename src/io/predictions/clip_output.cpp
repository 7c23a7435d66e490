#include "vq2d/io/clip_output.h"

#include "io/json_util.h"
#include "vq2d/base/check.h"
#include "vq2d/base/json_parse.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace vq2d::io {

std::string SerializeClipOutput(const ClipOutput& out) {
  nlohmann::json q = nlohmann::json::array();
  for (const auto& p : out.queries) {
    nlohmann::json boxes = nlohmann::json::array();
    for (const auto& b : p.bboxes) boxes.push_back({{"fno", b.fno}, {"x1", b.x1}, {"y1", b.y1}, {"x2", b.x2}, {"y2", b.y2}});
    q.push_back({{"annotation_index", p.annotation_index}, {"query_set", p.query_set}, {"score", p.score}, {"bboxes", boxes}});
  }
  nlohmann::json j{{"schema", "vq2d.clip_output/1"},
                   {"clip_uid", out.clip_uid},
                   {"video_uid", out.video_uid},
                   {"frame_width", out.frame_width},
                   {"frame_height", out.frame_height},
                   {"original_width", out.original_width},
                   {"original_height", out.original_height},
                   {"queries", q},
                   {"extra", out.extra}};
  return j.dump() + "\n";
}

namespace {

// An int field: a JSON number holding an integer (json_util.h's rule) within int's range.
int IntField(const nlohmann::json& v) {
  const std::optional<long long> i = internal::IntegerOf(v);
  if (!i) throw std::invalid_argument(StrCat("expected an integer, got ", v.dump().substr(0, 40)));
  if (*i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max())
    throw std::out_of_range(StrCat(v.dump(), " is outside the range of int"));
  return static_cast<int>(*i);
}

}  // namespace

Result<ClipOutput> ParseClipOutput(const std::string& text, const std::string& source_name) {
  auto parsed = ParseJson(text, source_name);  // depth-limited, linear
  if (!parsed.ok()) return Status::Corruption(StrCat(parsed.status().message(), " (not a JSON object)"));
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return Status::Corruption(source_name + ": not a JSON object");
  // Not j.value("schema", ""): it throws when the key holds a non-string (found by fuzzing).
  const auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_string() || *schema != "vq2d.clip_output/1")
    return Status::Corruption(StrCat(source_name, ": key 'schema': expected \"vq2d.clip_output/1\""));
  ClipOutput out;
  std::string where = "clip_uid";
  try {
    out.clip_uid = j.at("clip_uid").get<std::string>();
    where = "video_uid";
    out.video_uid = j.at("video_uid").get<std::string>();
    where = "frame_width";
    out.frame_width = IntField(j.at("frame_width"));
    where = "frame_height";
    out.frame_height = IntField(j.at("frame_height"));
    where = "original_width";
    out.original_width = IntField(j.at("original_width"));
    where = "original_height";
    out.original_height = IntField(j.at("original_height"));
    where = "queries";
    const auto& qs = j.at("queries");
    for (size_t i = 0; i < qs.size(); ++i) {
      where = StrCat("queries[", i, "]");
      QueryPrediction p;
      p.annotation_index = IntField(qs[i].at("annotation_index"));
      p.query_set = qs[i].at("query_set").get<std::string>();
      p.score = qs[i].at("score").get<double>();
      for (const auto& b : qs[i].at("bboxes"))
        p.bboxes.push_back({IntField(b.at("fno")), b.at("x1").get<double>(), b.at("y1").get<double>(),
                            b.at("x2").get<double>(), b.at("y2").get<double>()});
      out.queries.push_back(std::move(p));
    }
    if (j.contains("extra")) out.extra = j["extra"];
  } catch (const nlohmann::json::exception& e) {
    return Status::Corruption(StrCat(source_name, ": key '", where, "': ", e.what()));
  } catch (const std::logic_error& e) {  // IntField
    return Status::Corruption(StrCat(source_name, ": key '", where, "': ", e.what()));
  }
  if (out.frame_width <= 0 || out.frame_height <= 0)
    return Status::Corruption(StrCat(source_name, ": frame size must be positive, got ", out.frame_width, "x", out.frame_height));
  // Every box coordinate must rescale into an int (RescaleToOriginal's precondition; merge writes
  // them as ints, and casting a double outside int's range is undefined behaviour).
  for (size_t i = 0; i < out.queries.size(); ++i) {
    const auto& boxes = out.queries[i].bboxes;
    for (size_t k = 0; k < boxes.size(); ++k) {
      const struct { const char* key; double v; int record, original; } coords[] = {
          {"x1", boxes[k].x1, out.frame_width, out.original_width},
          {"y1", boxes[k].y1, out.frame_height, out.original_height},
          {"x2", boxes[k].x2, out.frame_width, out.original_width},
          {"y2", boxes[k].y2, out.frame_height, out.original_height}};
      for (const auto& c : coords) {
        const double r = c.v / c.record * c.original;
        if (!(std::fabs(r) < 2147483648.0)) {
          return Status::Corruption(StrCat(source_name, ": key 'queries[", i, "].bboxes[", k, "].", c.key,
                                           "': ", c.v, " rescaled to the original frame (", r,
                                           ") is not a finite value within int range"));
        }
      }
    }
  }
  return out;
}

int RescaleToOriginal(double v, int record_size, int original_size) {
  const double r = v / record_size * original_size;
  VQ2D_CHECK(std::fabs(r) < 2147483648.0) << "RescaleToOriginal(" << v << ", " << record_size << ", " << original_size
                                          << ") is outside int range (ParseClipOutput rejects such boxes)";
  return static_cast<int>(r);
}

}  // namespace vq2d::io
