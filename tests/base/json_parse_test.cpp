// vq2d::ParseJson / ParseOrderedJson: depth limit with the path, line:column errors, nlohmann's
// semantics otherwise (key order, duplicates), and large objects (linear parsing).
#include "vq2d/base/json_parse.h"

#include <gtest/gtest.h>

#include <string>

namespace vq2d {
namespace {

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(JsonParse, DeepNestingIsAnErrorNamingThePath) {
  const std::string deep = R"({"videos": [{"clips": [{"extra": )" + std::string(100000, '[') +
                           std::string(100000, ']') + "}]}]}";
  auto r = ParseOrderedJson(deep, "vq_val.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Has(r.status().message(), "vq_val.json: malformed JSON: nested deeper than 512 levels at "
                                         "videos[0].clips[0].extra[0][0]")) << r.status().message();
  auto plain = ParseJson(std::string(100000, '['), "x.json");
  ASSERT_FALSE(plain.ok());
  EXPECT_TRUE(Has(plain.status().message(), "nested deeper than 512 levels")) << plain.status().message();
  // At the limit it parses.
  JsonParseOptions o;
  o.max_depth = 3;
  EXPECT_TRUE(ParseJson("[[[1]]]", "x", o).ok());
  EXPECT_FALSE(ParseJson("[[[[1]]]]", "x", o).ok());
}

TEST(JsonParse, SyntaxErrorsGiveLineAndColumn) {
  auto r = ParseJson("{\"a\": 1,\n  \"b\": tru}", "f.json");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(Has(r.status().message(), "f.json: malformed JSON: parse error at line 2:")) << r.status().message();
  auto empty = ParseJson("", "e.json");
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(Has(empty.status().message(), "parse error at line 1:1")) << empty.status().message();
  EXPECT_EQ(TextPosition("ab\ncd", 4), "2:2");
}

TEST(JsonParse, KeepsOrderAndNlohmannDuplicateSemantics) {
  auto r = ParseOrderedJson(R"({"b": 1, "a": [true, null, 2.5, "s"], "b": 3})", "x");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dump(), R"({"b":3,"a":[true,null,2.5,"s"]})");
  EXPECT_EQ(*r, nlohmann::ordered_json::parse(R"({"b": 1, "a": [true, null, 2.5, "s"], "b": 3})"));
  std::optional<std::string> dup;
  JsonParseOptions o;
  o.first_duplicate_top_level_key = &dup;
  ASSERT_TRUE(ParseJson(R"({"x": {"y": 1, "y": 2}, "z": 0})", "x", o).ok());
  EXPECT_FALSE(dup.has_value());  // nested duplicates are not top level
  ASSERT_TRUE(ParseJson(R"({"": 1, "": 2})", "x", o).ok());
  ASSERT_TRUE(dup.has_value());
  EXPECT_EQ(*dup, "");
}

TEST(JsonParse, ObjectWithManyKeysParsesLinearly) {
  // 300,000 keys: seconds with a quadratic parser, milliseconds here (no timing assertion; a
  // quadratic regression shows up as this test taking minutes). Order and lookups stay right.
  const int n = 300000;
  std::string text = "{";
  for (int i = 0; i < n; ++i) text += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":" + std::to_string(i);
  text += ",\"k17\":-1}";
  auto r = ParseOrderedJson(text, "big.json");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), static_cast<size_t>(n));
  EXPECT_EQ(r->begin().key(), "k0");
  EXPECT_EQ((*r)["k17"], -1);  // duplicate: last value, first position
  EXPECT_EQ(std::next(r->begin(), 17).key(), "k17");
  EXPECT_EQ((*r)["k299999"], 299999);
}

}  // namespace
}  // namespace vq2d
