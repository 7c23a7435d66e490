// End-to-end goldens: every case of fixture area pipeline_e2e (an Ego4D-format dataset, its demo
// models, a config and upstream REN's final per-query tracks and scores; README of the area) runs
// through the product CLI, `vq2d prepare` + one single-process `vq2d run` on one CPU thread, and
// every query must equal upstream's: the same frames, the same boxes, the score within the case's
// tolerance. Mismatches are reported per query; the verdict line per case is
// "<case>: <identical> / <total> queries identical to upstream".
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "runner/process_util.h"
#include "vq2d/io/clip_output.h"

namespace vq2d {
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::Sh;
using testing::Vq2d;

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string Row(const PredictedBox& b) {
  std::ostringstream os;
  os << "[" << b.fno << ", " << b.x1 << ", " << b.y1 << ", " << b.x2 << ", " << b.y2 << "]";
  return os.str();
}

// Differences of one query (empty = identical).
std::vector<std::string> CompareQuery(const QueryPrediction& got, const nlohmann::json& want, double score_tol) {
  std::vector<std::string> diffs;
  std::vector<PredictedBox> exp;
  for (const auto& r : want.at("track")) {
    PredictedBox b;
    b.fno = r.at(0).get<int>();
    b.x1 = r.at(1).get<double>();
    b.y1 = r.at(2).get<double>();
    b.x2 = r.at(3).get<double>();
    b.y2 = r.at(4).get<double>();
    exp.push_back(b);
  }
  std::vector<int> gf, ef;
  for (const auto& b : got.bboxes) gf.push_back(b.fno);
  for (const auto& b : exp) ef.push_back(b.fno);
  if (gf != ef) {
    std::ostringstream os;
    os << "frames differ: port " << gf.size() << " frames";
    if (!gf.empty()) os << " [" << gf.front() << ".." << gf.back() << "]";
    os << ", upstream " << ef.size() << " frames";
    if (!ef.empty()) os << " [" << ef.front() << ".." << ef.back() << "]";
    diffs.push_back(os.str());
  } else {
    int shown = 0, differing = 0;
    std::ostringstream os;
    for (size_t i = 0; i < exp.size(); ++i) {
      const PredictedBox &g = got.bboxes[i], &e = exp[i];
      if (g.x1 == e.x1 && g.y1 == e.y1 && g.x2 == e.x2 && g.y2 == e.y2) continue;
      ++differing;
      if (shown++ < 5) os << "\n      frame " << e.fno << ": port " << Row(g) << " upstream " << Row(e);
    }
    if (differing > 0)
      diffs.push_back("boxes differ on " + std::to_string(differing) + " of " + std::to_string(exp.size()) +
                      " frames (x1 y1 x2 y2):" + os.str());
  }
  const double ws = want.at("score").get<double>();
  if (!(std::fabs(got.score - ws) <= score_tol)) {
    std::ostringstream os;
    os.precision(9);
    os << "score " << got.score << " vs upstream " << ws << " (|diff| " << std::fabs(got.score - ws) << " > "
       << score_tol << ")";
    diffs.push_back(os.str());
  }
  return diffs;
}

TEST(PipelineE2e, MatchesUpstreamOnEveryCase) {
  const auto cases = testing::FixtureCases("pipeline_e2e");
  if (cases.empty()) GTEST_SKIP() << "fixture area pipeline_e2e absent under " << testing::FixturesRoot();
  std::ostringstream summary;
  for (const std::string& src : cases) {
    const std::string name = fs::path(src).filename().string();
    SCOPED_TRACE("case " + name);
    const nlohmann::json c = nlohmann::json::parse(ReadText(src + "/case.json"), nullptr, false);
    const nlohmann::json e = nlohmann::json::parse(ReadText(src + "/expected.json"), nullptr, false);
    ASSERT_FALSE(c.is_discarded()) << src << "/case.json: not JSON";
    ASSERT_FALSE(e.is_discarded()) << src << "/expected.json: not JSON";
    ASSERT_TRUE(e.contains("clips") && e["clips"].is_object()) << src << "/expected.json: no clips object";

    // 1. Work on a copy: the run writes records/ and runs/ into the case folder.
    testing::TempDir tmp;
    const std::string dir = tmp.Join(name);
    fs::copy(src, dir, fs::copy_options::recursive);
    const std::string config = c.value("config", std::string("config.yaml"));
    const std::string split = c.value("split", std::string("val"));
    const std::string run_dir = c.value("run_dir", std::string("runs/e2e"));
    // 2. prepare + one single-process run on one CPU thread, relative paths resolved in the copy.
    std::vector<std::string> sets;
    if (c.contains("run_set"))
      for (const auto& s : c["run_set"]) sets.push_back(s.get<std::string>());
    if (std::find(sets.begin(), sets.end(), "models.cpu_threads=1") == sets.end()) sets.push_back("models.cpu_threads=1");
    std::string set_args;
    for (const auto& s : sets) set_args += " --set " + Quote(s);
    const std::string cd = "cd " + Quote(dir) + " && ";
    ASSERT_EQ(Sh(cd + Vq2d() + " prepare --config " + Quote(config) + " --split " + Quote(split) + " > " +
                 Quote(tmp.Join("prepare.log")) + " 2>&1"),
              0)
        << ReadText(tmp.Join("prepare.log"));
    ASSERT_EQ(Sh(cd + Vq2d() + " run --config " + Quote(config) + set_args + " > " + Quote(tmp.Join("run.log")) + " 2>&1"),
              0)
        << ReadText(tmp.Join("run.log"));

    // 3. Every clip output, every query, against upstream.
    std::map<std::string, ClipOutput> outputs;
    const fs::path clips = fs::path(dir) / run_dir / "clips";
    ASSERT_TRUE(fs::is_directory(clips)) << clips << " missing after the run:\n" << ReadText(tmp.Join("run.log"));
    for (const auto& f : fs::recursive_directory_iterator(clips)) {
      if (!f.is_regular_file() || f.path().extension() != ".json") continue;
      auto co = ParseClipOutput(ReadText(f.path()), f.path().string());
      ASSERT_TRUE(co.ok()) << co.status().ToString();
      outputs[co->clip_uid] = std::move(*co);
    }
    double score_tol = 1e-6;
    if (e.contains("tolerance") && e["tolerance"].contains("score_abs"))
      score_tol = e["tolerance"]["score_abs"].get<double>();
    int total = 0, identical = 0;
    std::ostringstream report;
    for (const auto& [clip_uid, clip] : e["clips"].items()) {
      auto it = outputs.find(clip_uid);
      const auto& queries = clip.at("queries");
      if (it == outputs.end()) {
        total += static_cast<int>(queries.size());
        report << "\n  clip " << clip_uid << ": no clip output (" << queries.size() << " queries missing)";
        continue;
      }
      const ClipOutput& out = it->second;
      if (clip.contains("frame_width") && (out.frame_width != clip["frame_width"].get<int>() ||
                                           out.frame_height != clip["frame_height"].get<int>()))
        report << "\n  clip " << clip_uid << ": record frame size " << out.frame_width << "x" << out.frame_height
               << " vs upstream " << clip["frame_width"] << "x" << clip["frame_height"];
      std::set<std::string> seen;
      for (const auto& [qs, want] : queries.items()) {
        ++total;
        const QueryPrediction* got = nullptr;
        for (const auto& q : out.queries)
          if (q.query_set == qs) got = &q;
        if (!got) {
          report << "\n  clip " << clip_uid << " query_set " << qs << ": missing from the port's output";
          continue;
        }
        seen.insert(qs);
        const auto diffs = CompareQuery(*got, want, score_tol);
        if (diffs.empty()) {
          ++identical;
          continue;
        }
        report << "\n  clip " << clip_uid << " query_set " << qs << ":";
        for (const auto& d : diffs) report << "\n    " << d;
      }
      for (const auto& q : out.queries)
        if (!seen.count(q.query_set) && !queries.contains(q.query_set))
          report << "\n  clip " << clip_uid << " query_set " << q.query_set << ": not in expected.json";
    }
    for (const auto& [uid, out] : outputs)
      if (!e["clips"].contains(uid)) report << "\n  clip " << uid << ": output not in expected.json";
    const std::string verdict =
        name + ": " + std::to_string(identical) + " / " + std::to_string(total) + " queries identical to upstream";
    std::cout << "[ pipeline_e2e ] " << verdict << std::endl;
    summary << verdict << "; ";
    EXPECT_GT(total, 0) << "expected.json lists no query";
    EXPECT_TRUE(identical == total && report.str().empty()) << verdict << report.str();
  }
  RecordProperty("pipeline_e2e", summary.str());
}

}  // namespace
}  // namespace vq2d
