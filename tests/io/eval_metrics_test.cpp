// The official evaluator against logic/metrics-style fixture cases (every case folder under
// <fixtures>/logic whose case.json has "case": "metrics"), plus numpy argsort / pairwise-sum checks.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"
#include "vq2d/io/annotations.h"
#include "vq2d/io/evaluate.h"
#include "vq2d/io/numpy_compat.h"

namespace vq2d {
namespace {

using nlohmann::ordered_json;

ordered_json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ordered_json::parse(ss.str());
}

std::vector<std::string> CasesOfKind(const std::string& kind) {
  std::vector<std::string> out;
  for (const auto& dir : testing::FixtureCases("logic")) {
    std::ifstream in(dir + "/case.json");
    if (!in.good()) continue;
    auto c = ReadJson(dir + "/case.json");
    if (c.value("case", "") == kind) out.push_back(dir);
  }
  return out;
}

void ExpectClose(double got, double want, double atol, double rtol, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), atol + rtol * std::fabs(want)) << what << ": got " << got << " want " << want;
}

TEST(EvalMetricsFixtureTest, EveryMetricsCaseMatchesOfficial) {
  auto cases = CasesOfKind("metrics");
  ASSERT_FALSE(cases.empty()) << "no logic/metrics fixture case under " << testing::FixturesRoot();
  size_t checked = 0;
  for (const auto& dir : cases) {
    auto inputs = ReadJson(dir + "/inputs.json");
    auto expected = ReadJson(dir + "/expected.json");
    auto cj = ReadJson(dir + "/case.json");
    // Bit-for-bit: stricter than the case's own tolerance (case.json "tolerance"), which is not used.
    (void)cj;
    const double atol = 0, rtol = 0;
    for (auto part = inputs.begin(); part != inputs.end(); ++part) {
      ASSERT_TRUE(expected.contains(part.key())) << part.key();
      for (size_t i = 0; i < part.value().size(); ++i) {
        const auto& in = part.value()[i];
        const auto& ex = expected[part.key()][i];
        std::string name = dir + " " + part.key() + "[" + std::to_string(i) + "] " + in.value("name", "");
        SCOPED_TRACE(name);
        auto gt = ParseAnnotations(in["gt"].dump(), "gt.json");
        ASSERT_TRUE(gt.ok()) << gt.status().ToString();
        auto r = EvaluatePredictions(in["pred"].dump(), "pred.json", *gt);
        ++checked;
        if (ex.contains("error")) {
          ASSERT_FALSE(r.ok()) << "expected " << ex["error"];
          EXPECT_EQ(r.status().message().rfind(ex["error"].get<std::string>() + ":", 0), 0u)
              << r.status().message();
          continue;
        }
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        const VqMetrics& m = r->metrics;
        ASSERT_TRUE(m.has_metrics);
        EXPECT_EQ(m.n_queries, ex["n_queries"].get<size_t>());
        EXPECT_EQ(m.score_dtype, ex["score_dtype"].get<std::string>());
        std::vector<int64_t> order = ex["sort_order_desc"].get<std::vector<int64_t>>();
        EXPECT_EQ(m.sort_order_desc, order);
        // The official dict: same keys in the same order, same values.
        const auto& od = ex["official_metrics"]["all"];
        auto dict = m.MetricDict(false);
        ASSERT_EQ(dict.size(), od.size());
        size_t k = 0;
        for (auto it = od.begin(); it != od.end(); ++it, ++k) {
          EXPECT_EQ(dict[k].first, it.key());
          ExpectClose(dict[k].second, it.value().get<double>(), atol, rtol, it.key());
        }
        const auto& rd = ex["ren_metrics"]["all"];
        auto rdict = m.MetricDict(true);
        ASSERT_EQ(rdict.size(), rd.size());
        k = 0;
        for (auto it = rd.begin(); it != rd.end(); ++it, ++k) {
          EXPECT_EQ(rdict[k].first, it.key());
          ExpectClose(rdict[k].second, it.value().get<double>(), atol, rtol, "ren " + it.key());
        }
        const char* keys[] = {"0.25", "0.50", "0.75", "0.95"};
        for (size_t t = 0; t < 4; ++t) {
          ExpectClose(m.tap[t], ex["tAP_per_threshold"][keys[t]].get<double>(), atol, rtol, "tAP@" + std::string(keys[t]));
          ExpectClose(m.stap[t], ex["stAP_per_threshold"][keys[t]].get<double>(), atol, rtol, "stAP@" + std::string(keys[t]));
        }
        const char* rkeys[] = {"0.50", "0.75", "0.95"};
        const char* skeys[] = {"0.05", "0.10", "0.20"};
        for (size_t t = 0; t < 3; ++t) {
          ExpectClose(m.recovery[t], ex["recovery_per_threshold"][rkeys[t]].get<double>(), atol, rtol, "recovery");
          ExpectClose(m.success[t], ex["success_per_threshold"][skeys[t]].get<double>(), atol, rtol, "success");
        }
        const auto& rep = ex["reported"];
        ExpectClose(m.tap_mean, rep["tAP"].get<double>(), atol, rtol, "tAP");
        ExpectClose(m.stap_mean, rep["stAP"].get<double>(), atol, rtol, "stAP");
      }
    }
  }
  EXPECT_GT(checked, 0u);
}

TEST(EvalMetricsTest, GoldenTableMatchesOfficialPrintout) {
  auto cases = CasesOfKind("metrics");
  ASSERT_FALSE(cases.empty());
  for (const auto& dir : cases) {  // every seed's folder (the golden examples are the same in each)
    SCOPED_TRACE(dir);
    auto inputs = ReadJson(dir + "/inputs.json");
    auto expected = ReadJson(dir + "/expected.json");
    ASSERT_TRUE(inputs.contains("golden"));
    const auto& g = inputs["golden"][0];
    auto gt = ParseAnnotations(g["gt"].dump(), "gt.json");
    ASSERT_TRUE(gt.ok());
    auto r = EvaluatePredictions(g["pred"].dump(), "pred.json", *gt);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(FormatOfficialReport(*r),
              "Evaluating VQ2D performance\n"
              "--------------------\n"
              "all\n"
              "--------------------\n"
              "tAP                  |      0.375\n"
              "tAP @ IoU=0.25       |      0.667\n"
              "stAP                 |      0.333\n"
              "stAP @ IoU=0.25      |      0.667\n"
              "success              |     66.667\n"
              "recovery %           |     50.000\n");
    const auto& rep = expected["golden"][0]["reported"];
    EXPECT_NEAR(r->metrics.tap_mean, rep["tAP"].get<double>(), 1e-12);
    EXPECT_NEAR(r->metrics.stap_mean, rep["stAP"].get<double>(), 1e-12);
  }
}

TEST(NumpyCompatTest, ArgsortTiesFollowNumpyIntrosort) {
  // np.ones(20).argsort()[::-1] starts [19, 18, 1, 2, ...] (docs/eval.md, Tied scores).
  auto asc = NumpyArgsort(std::vector<double>(20, 1.0));
  std::vector<int64_t> desc(asc.rbegin(), asc.rend());
  ASSERT_EQ(desc.size(), 20u);
  EXPECT_EQ(desc[0], 19);
  EXPECT_EQ(desc[1], 18);
  EXPECT_EQ(desc[2], 1);
  EXPECT_EQ(desc[3], 2);
  // Small inputs: insertion sort, stable.
  auto small = NumpyArgsort(std::vector<double>{1, 1, 1});
  EXPECT_EQ(small, (std::vector<int64_t>{0, 1, 2}));
  // NaN sorts last.
  auto nan = NumpyArgsort(std::vector<double>{NAN, 0.5, 0.1});
  EXPECT_EQ(nan, (std::vector<int64_t>{2, 1, 0}));
  // Sorted output for a larger random input (with heavy ties).
  std::vector<double> v;
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<double>((i * 7919) % 13));
  auto o = NumpyArgsort(v);
  for (size_t i = 1; i < o.size(); ++i) EXPECT_LE(v[o[i - 1]], v[o[i]]);
}

TEST(NumpyCompatTest, PairwiseSum) {
  std::vector<double> a(300);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 1.0 / static_cast<double>(i + 1);
  double seq = 0;
  for (double x : a) seq += x;
  EXPECT_NEAR(NumpyPairwiseSum(a.data(), a.size()), seq, 1e-12);
  EXPECT_EQ(NumpyPairwiseSum(a.data(), 3), (0.0 + 1.0) + 0.5 + 1.0 / 3);
}

}  // namespace
}  // namespace vq2d
