// Hostile and mistyped configuration files: every one is a config error that names the file and
// line (or key), never an abort, and nothing is silently accepted.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "vq2d/io/config.h"

namespace vq2d {

using io::ConfigKeys;
using io::ParseConfig;
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

// yaml-cpp 0.7 consumes nothing at a document that starts with ',' (YAML::LoadAll looped forever on
// these, found by fuzzing; YAML::Load read them as an empty config).
TEST(ConfigTest, CommaStartingADocumentIsAnErrorNotAHang) {
  for (const std::string yaml : {",\n", ", runner: {max_attempts: 2}\n", "# comment\n  ,\n", "&a ,\n", "!t ,\n"}) {
    const std::string e = ErrorOf(yaml);
    EXPECT_TRUE(Has(e, "c.yaml:")) << yaml << " -> " << e;
    EXPECT_TRUE(Has(e, "not valid YAML")) << yaml << " -> " << e;
  }
  EXPECT_TRUE(Has(ErrorOf("# comment\n  ,\n"), "c.yaml:2:3: not valid YAML: unexpected ','"));
  const std::string second = ErrorOf("visual_query:\n  split: val\n---\n,\n");
  EXPECT_TRUE(Has(second, "c.yaml:4: a second YAML document")) << second;
  const std::string set = ErrorOf("", {"models.ren=,"});
  EXPECT_TRUE(Has(set, "--set models.ren=,")) << set;
  EXPECT_TRUE(Has(set, "not valid YAML")) << set;
  // ',' inside a value is ordinary text.
  auto ok = ParseConfig("models:\n  ren: /a,b/ren.pth\n", "c.yaml", {"visual_query.split=te,st"});
  EXPECT_FALSE(ok.ok());  // the split is not an allowed value, but it parsed
  EXPECT_TRUE(Has(ok.status().message(), "te,st")) << ok.status().ToString();
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

TEST(ConfigTest, EveryIntegerKeyHasAFiniteRangeThatRejectsInt64Max) {
  int checked = 0;
  for (const auto& k : ConfigKeys()) {
    if (k.type != "int" && k.type != "list of int") continue;
    ++checked;
    EXPECT_TRUE(std::isfinite(k.min) && std::isfinite(k.max)) << k.key;
    EXPECT_LE(k.max, 1e9) << k.key << ": a bound this large can overflow int64 arithmetic of its uses";
    const std::string v = k.type == "int" ? "9223372036854775807" : "[9223372036854775807]";
    const std::string e = ErrorOf("", {k.key + "=" + v});
    EXPECT_TRUE(Has(e, "out of range")) << k.key << ": " << e;
  }
  EXPECT_GT(checked, 20);
}

TEST(ConfigTest, OverflowingWindowAndShortSideAreRangeErrors) {
  const std::string w = ErrorOf("visual_query:\n  tracking_half_window: 9223372036854775807\n");
  EXPECT_TRUE(Has(w, "key 'visual_query.tracking_half_window': value 9223372036854775807 is out of range")) << w;
  const std::string s = ErrorOf("", {"prepare.short_side=9223372036854775807"});
  EXPECT_TRUE(Has(s, "prepare.short_side")) << s;
  EXPECT_TRUE(Has(s, "out of range")) << s;
  auto ok = ParseConfig("visual_query:\n  tracking_half_window: 10000000\n", "c.yaml");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(ConfigTest, ArchitectureKeysAreBoundedBeforeAnyAllocation) {
  for (const char* key : {"ren.architecture.decoder_layers", "ren.architecture.hidden_dim",
                          "ren.architecture.num_attention_heads", "ren.architecture.grid_size",
                          "ren.parameters.image_resolution"}) {
    const std::string e = ErrorOf("", {std::string(key) + "=9223372036854775807"});
    EXPECT_TRUE(Has(e, "out of range")) << key << ": " << e;
  }
  EXPECT_TRUE(Has(ErrorOf("", {"ren.architecture.decoder_layers=1000000000000"}), "out of range"));
}

}  // namespace
}  // namespace vq2d
