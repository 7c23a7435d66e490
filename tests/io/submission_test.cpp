// vq2d submit against every logic case folder with "case": "predictions_format" (part "submit").
#include "vq2d/io/submission.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace vq2d {
namespace {

using nlohmann::json;  // unordered: the fixture compares parsed JSON, key order not significant

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

std::vector<std::string> CasesOfKind(const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& dir : testing::FixtureCases("logic")) {
    std::ifstream in(dir + "/case.json");
    if (!in.good()) continue;
    if (ReadJson(dir + "/case.json").value("case", "") == kind) out.push_back(dir);
  }
  return out;
}

TEST(SubmissionFixtureTest, EverySubmitCaseMatchesUpstream) {
  auto cases = CasesOfKind("predictions_format");
  ASSERT_FALSE(cases.empty()) << "no logic/predictions_format case under " << testing::FixturesRoot();
  size_t checked = 0;
  for (const auto& dir : cases) {
    json inputs = ReadJson(dir + "/inputs.json");
    json expected = ReadJson(dir + "/expected.json");
    if (!inputs.contains("submit")) continue;
    for (size_t i = 0; i < inputs["submit"].size(); ++i) {
      SCOPED_TRACE(dir + " submit[" + std::to_string(i) + "]");
      const json& in = inputs["submit"][i];
      const json& ex = expected["submit"][i];
      // The annotation file keeps its text order through an ordered dump of the fixture's object.
      nlohmann::ordered_json ann_ordered;
      {
        std::ifstream f(dir + "/inputs.json");
        std::stringstream ss;
        ss << f.rdbuf();
        ann_ordered = nlohmann::ordered_json::parse(ss.str())["submit"][i]["test_annotations"];
      }
      auto gt = ParseAnnotations(ann_ordered.dump(), "vq_test_unannotated.json");
      ASSERT_TRUE(gt.ok()) << gt.status().ToString();
      std::vector<NamedJson> files;
      nlohmann::ordered_json pf;
      {
        std::ifstream f(dir + "/inputs.json");
        std::stringstream ss;
        ss << f.rdbuf();
        pf = nlohmann::ordered_json::parse(ss.str())["submit"][i]["prediction_files"];
      }
      for (const auto& name : ex["listdir_order"]) {
        files.push_back({name.get<std::string>(), pf[name.get<std::string>()].dump()});
      }
      auto r = BuildSubmission(files, *gt);
      ++checked;
      if (ex.contains("error")) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.status().message().rfind(ex["error"].get<std::string>() + ":", 0), 0u) << r.status().message();
        continue;
      }
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(json::parse(r->collated_json), ex["collated"]);
      EXPECT_EQ(json::parse(r->submission_json), ex["ordered"]);
      for (const char* key : {"validate", "official_validate"}) {
        std::string want = ex[key].get<std::string>();
        if (want == "ok") {
          EXPECT_TRUE(r->validation.ok()) << key << ": " << r->validation.ToString();
        } else {
          ASSERT_FALSE(r->validation.ok()) << key;
          EXPECT_EQ(r->validation.message().rfind(want + ":", 0), 0u) << r->validation.message();
        }
      }
    }
  }
  EXPECT_GT(checked, 0u);
}

}  // namespace
}  // namespace vq2d
