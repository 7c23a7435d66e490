// Hostile and mistyped configuration files: every one is a config error that names the file and
// line (or key), never an abort, and nothing is silently accepted.
#include <gtest/gtest.h>

#include <string>

#include "vq2d/io/config.h"

namespace vq2d {
namespace {

std::string ErrorOf(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  auto c = ParseConfig(yaml, "c.yaml", sets);
  if (c.ok()) return "(accepted)";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().ToString();
  return c.status().message();
}

bool Has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(ConfigTest, ListAsMappingKeyIsAnErrorNamingTheLine) {
  const std::string top = ErrorOf("visual_query:\n  split: val\n? [a, b]\n: 1\n");
  EXPECT_TRUE(Has(top, "c.yaml:3: a key at the top level is a list")) << top;
  const std::string in_section = ErrorOf("visual_query:\n  split: val\n  ? {x: 1}\n  : 2\n");
  EXPECT_TRUE(Has(in_section, "c.yaml:3: a key in section 'visual_query' is a mapping")) << in_section;
  const std::string flow = ErrorOf("{[1, 2]: 3}\n");
  EXPECT_TRUE(Has(flow, "c.yaml:1:")) << flow;
}

TEST(ConfigTest, DuplicateKeysAndSectionsAreErrorsNamingBothLines) {
  const std::string key = ErrorOf("visual_query:\n  split: val\n  split: test\n");
  EXPECT_TRUE(Has(key, "c.yaml:3: duplicate key 'visual_query.split' (first at line 2)")) << key;
  const std::string section = ErrorOf("runner:\n  max_attempts: 2\nvisual_query: {}\nrunner:\n  max_attempts: 5\n");
  EXPECT_TRUE(Has(section, "c.yaml:4: duplicate key 'runner' (first at line 1)")) << section;
}

TEST(ConfigTest, SecondYamlDocumentIsAnErrorNamingTheLine) {
  const std::string e = ErrorOf("visual_query:\n  split: val\n---\nvisual_query:\n  split: test\n");
  EXPECT_TRUE(Has(e, "c.yaml:4: a second YAML document")) << e;
  // An explicit start marker before the only document is fine.
  auto one = ParseConfig("---\nvisual_query:\n  split: test\n", "c.yaml");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  EXPECT_EQ(one->visual_query.split, "test");
}

TEST(ConfigTest, DeepYamlNamesFileLineAndColumn) {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  const std::string e = ErrorOf("visual_query:\n  query_cropping_factors: " + deep + "\nprepare: {}\n");
  EXPECT_TRUE(Has(e, "c.yaml:2:")) << e;
  EXPECT_TRUE(Has(e, "nesting is too deep")) << e;
  EXPECT_FALSE(Has(e, "bad file")) << e;
}

TEST(ConfigTest, SetOfASectionSaysItIsASectionWithoutSuggestingItself) {
  const std::string e = ErrorOf("", {"visual_query=1"});
  EXPECT_TRUE(Has(e, "'visual_query' is a section, not a key")) << e;
  EXPECT_FALSE(Has(e, "did you mean 'visual_query'")) << e;
  const std::string typo = ErrorOf("", {"visual_qery.split=val"});
  EXPECT_TRUE(Has(typo, "did you mean 'visual_query")) << typo;
}

}  // namespace
}  // namespace vq2d
