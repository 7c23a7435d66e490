// vq2d report: the failure categories' rules, and the page of a partial synthetic run (one clip done,
// one failed for a missing record) checked structurally and in headless Chromium (rows rendered,
// every image loaded, sorting). The screenshot path is printed in the test log.
#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "app/report.h"
#include "runner/process_util.h"

namespace vq2d {

using io::EvalTrack;
namespace {

namespace fs = std::filesystem;
using testing::ReadText;
using testing::Sh;
using testing::Vq2d;

EvalTrack Track(long long first, long long last, double x1 = 0, double x2 = 10) {
  EvalTrack t;
  for (long long f = first; f <= last; ++f) t.boxes.push_back({f, x1, 0, x2, 10});
  if (!t.boxes.empty()) t.t_start = first, t.t_end = last;
  return t;
}

TEST(ReportCategories, FirstRuleThatAppliesWins) {
  using app::CategorizeQuery;
  using app::QueryCategory;
  const EvalTrack gt = Track(10, 19);  // 10 frames
  EXPECT_EQ(CategorizeQuery(Track(10, 19), gt, 0.05), QueryCategory::kSuccess);  // the threshold itself succeeds
  EXPECT_EQ(CategorizeQuery(Track(0, 40), gt, 0.2), QueryCategory::kSuccess);
  EXPECT_EQ(CategorizeQuery(EvalTrack{}, gt, 0.0), QueryCategory::kNoCandidate);
  EXPECT_EQ(CategorizeQuery(Track(20, 30), gt, 0.0), QueryCategory::kWrongCandidate);  // adjacent, no common frame
  EXPECT_EQ(CategorizeQuery(Track(0, 9), gt, 0.0), QueryCategory::kWrongCandidate);
  EXPECT_EQ(CategorizeQuery(Track(15, 18), gt, 0.01), QueryCategory::kTrackTooShort);  // 4 of 10 frames
  EXPECT_EQ(CategorizeQuery(Track(15, 19), gt, 0.01), QueryCategory::kBoxOff);        // 5 of 10: half is enough
  EXPECT_EQ(CategorizeQuery(Track(10, 19, 50, 60), gt, 0.0), QueryCategory::kBoxOff);  // every frame, boxes elsewhere
  EXPECT_STREQ(app::QueryCategoryName(QueryCategory::kNoCandidate), "no candidate above threshold");
  EXPECT_EQ(app::HtmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// The browser the test drives: $VQ2D_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH.
std::string FindChromium() {
  if (const char* c = std::getenv("VQ2D_CHROMIUM"); c && *c) return c;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"})
    if (Sh(std::string("command -v ") + name + " > /dev/null 2>&1") == 0) return name;
  return "";
}

int Count(const std::string& text, const std::regex& re) {
  return static_cast<int>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

TEST(ReportCommand, PartialSyntheticRunRendersInHeadlessChromium) {
  testing::TempDir tmp;
  const std::string dir = tmp.Join("synth"), config = dir + "/config.yaml";
  ASSERT_EQ(Sh(Vq2d() + " synth --out " + dir + " --clips 2 --seed 5 > " + tmp.Join("synth.log") + " 2>&1"), 0)
      << ReadText(tmp.Join("synth.log"));
  ASSERT_EQ(Sh(Vq2d() + " prepare --config " + config + " --split val > " + tmp.Join("prep.log") + " 2>&1"), 0)
      << ReadText(tmp.Join("prep.log"));
  // One record removed: that clip fails, the other is done (a partial run, exit 3).
  std::string removed;
  for (const auto& e : fs::directory_iterator(dir + "/records/val"))
    if (e.path().extension() == ".h5" && (removed.empty() || e.path().string() < removed)) removed = e.path();
  ASSERT_FALSE(removed.empty());
  fs::remove(removed);
  const std::string missing_clip = fs::path(removed).stem().string();
  const std::string fast =
      " --set visual_query.query_cropping_factors=[1.0,1.5] --set models.cpu_threads=1 --set visual_query.exp_name=r";
  // --allow-missing-records: without it, run stops up front and names the prepare command.
  ASSERT_EQ(Sh(Vq2d() + " run --allow-missing-records --config " + config + fast + " > " + tmp.Join("run.log") + " 2>&1"), 3)
      << ReadText(tmp.Join("run.log"));

  // The report, with the same --set options as the run.
  const std::string out = tmp.Join("report");
  ASSERT_EQ(Sh(Vq2d() + " report --config " + config + fast + " --out " + out + " > " + tmp.Join("report.log") + " 2>&1"), 0)
      << ReadText(tmp.Join("report.log"));
  const std::string html = ReadText(out + "/report.html");
  ASSERT_FALSE(html.empty());
  // Structure: one row per valid query of the annotation file (2 clips x 3), pictures only for the
  // clip whose record exists, each a file next to the page; the failed clip is listed as such.
  EXPECT_EQ(Count(html, std::regex("<tr class=\"query")), 6);
  std::smatch m;
  std::set<std::string> images;
  for (auto it = html.cbegin(); std::regex_search(it, html.cend(), m, std::regex("<img class=\"strip\" src=\"([^\"]+)\""));
       it = m.suffix().first)
    images.insert(m[1]);
  EXPECT_EQ(images.size(), 3u);
  for (const auto& img : images) {
    EXPECT_EQ(img.rfind("img/", 0), 0u) << img;  // relative: the page opens from the file system
    EXPECT_GT(fs::file_size(out + "/" + img), 1000u) << img;
  }
  EXPECT_EQ(Count(html, std::regex("<tr class=\"notdone\" data-clip=\"" + missing_clip + "\"><td>[^<]*</td><td>failed")), 1)
      << html;
  EXPECT_EQ(Count(html, std::regex("data-clip=\"" + missing_clip + "\" data-state=\"failed\"")), 3);
  EXPECT_EQ(Count(html, std::regex("record missing: [^<]*" + missing_clip)), 3);
  EXPECT_NE(html.find("id=\"metrics-table\""), std::string::npos);
  EXPECT_NE(html.find("3 of 6 queries have no finished clip"), std::string::npos);
  EXPECT_NE(html.find("data-category=\"not evaluated\">3<"), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"stage-chart\""), std::string::npos);
  EXPECT_EQ(Count(html, std::regex("<g class=\"clip-bar\">")), 2);
  const auto run_json = nlohmann::json::parse(ReadText(dir + "/runs/r/run.json"));
  EXPECT_NE(html.find("<code id=\"fingerprint\">" + run_json["fingerprint"].get<std::string>()), std::string::npos);
  EXPECT_NE(html.find("upstream_errors"), std::string::npos);
  for (const char* external : {"http://", "https://", "//cdn", "<link "})  // no network: nothing to fetch
    EXPECT_EQ(html.find(std::string("src=\"") + external), std::string::npos) << external;
  EXPECT_EQ(html.find("<link "), std::string::npos);

  // Headless Chromium: the DOM after the page's script ran has the rows and every image loaded.
  const std::string chromium = FindChromium();
  ASSERT_FALSE(chromium.empty()) << "no chromium on PATH: tools/setup.sh installs the Debian package `chromium` "
                                    "(or set VQ2D_CHROMIUM)";
  const std::string browse = "timeout 300 " + chromium +
                             " --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir=" +
                             Quote(tmp.Join("chromium-profile")) + " --virtual-time-budget=10000 ";
  const std::string url = "file://" + out + "/report.html";
  ASSERT_EQ(Sh(browse + "--dump-dom " + Quote(url) + " > " + tmp.Join("dom.html") + " 2> " + tmp.Join("chromium.log")), 0)
      << ReadText(tmp.Join("chromium.log"));
  const std::string dom = ReadText(tmp.Join("dom.html"));
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("<body[^>]*>"))) << dom.substr(0, 2000);
  const std::string body = m[0];
  EXPECT_NE(body.find("data-images=\"ok\""), std::string::npos) << body;
  EXPECT_NE(body.find("data-images-ok=\"3\""), std::string::npos) << body;
  EXPECT_NE(body.find("data-images-broken=\"0\""), std::string::npos) << body;
  EXPECT_NE(body.find("data-rows-rendered=\"6\""), std::string::npos) << body;
  EXPECT_EQ(Count(dom, std::regex("<tr class=\"query")), 6);
  // Sorting by score (descending): rows without a prediction (empty score) go last.
  ASSERT_EQ(Sh(browse + "--dump-dom " + Quote(url + "#sort=score") + " > " + tmp.Join("sorted.html") + " 2>> " +
               tmp.Join("chromium.log")),
            0)
      << ReadText(tmp.Join("chromium.log"));
  const std::string sorted = ReadText(tmp.Join("sorted.html"));
  std::vector<double> scores;
  int empty_after = 0;
  for (auto it = sorted.cbegin(); std::regex_search(it, sorted.cend(), m, std::regex("<tr class=\"query[^>]* data-score=\"([^\"]*)\""));
       it = m.suffix().first) {
    if (std::string(m[1]).empty()) {
      ++empty_after;
      continue;
    }
    EXPECT_EQ(empty_after, 0) << "a row with a score after one without";
    scores.push_back(std::stod(m[1]));
  }
  EXPECT_EQ(scores.size(), 3u);
  EXPECT_TRUE(std::is_sorted(scores.rbegin(), scores.rend()));
  EXPECT_NE(sorted.find("data-sort-key=\"score\""), std::string::npos);
  // A screenshot for people, kept outside the temporary directory.
  const std::string shot_dir = testing::BinaryDir() + "/test-artifacts";
  fs::create_directories(shot_dir);
  fs::copy(out, shot_dir + "/report", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string shot = shot_dir + "/report_screenshot.png";
  ASSERT_EQ(Sh(browse + "--window-size=1400,2400 --screenshot=" + Quote(shot) + " " +
               Quote("file://" + shot_dir + "/report/report.html") + " >> " + tmp.Join("chromium.log") + " 2>&1"),
            0)
      << ReadText(tmp.Join("chromium.log"));
  EXPECT_GT(fs::file_size(shot), 10000u);
  RecordProperty("report_screenshot", shot);
  std::cout << "[ report ] screenshot: " << shot << "\n[ report ] page: " << shot_dir << "/report/report.html" << std::endl;

  // The done clip's record damaged after the run: its rows say so and have no pictures; the page is
  // still written with every row.
  std::string kept;
  for (const auto& e : fs::directory_iterator(dir + "/records/val"))
    if (e.path().extension() == ".h5") kept = e.path();
  ASSERT_FALSE(kept.empty());
  fs::resize_file(kept, 100);
  const std::string out2 = tmp.Join("report2");
  ASSERT_EQ(Sh(Vq2d() + " report --config " + config + fast + " --out " + out2 + " > " + tmp.Join("report2.log") + " 2>&1"),
            0)
      << ReadText(tmp.Join("report2.log"));
  const std::string html2 = ReadText(out2 + "/report.html");
  EXPECT_EQ(Count(html2, std::regex("<tr class=\"query")), 6);
  EXPECT_EQ(Count(html2, std::regex("<img class=\"strip\"")), 0);
  EXPECT_EQ(Count(html2, std::regex("record unreadable: ")), 3) << html2;
  EXPECT_NE(html2.find("id=\"metrics-table\""), std::string::npos);  // the metrics need no record

  // Not a run directory: a clear error naming it.
  EXPECT_EQ(Sh(Vq2d() + " report --config " + config + " --set visual_query.exp_name=nothing > " + tmp.Join("none.log") +
               " 2>&1"),
            1);
  EXPECT_NE(ReadText(tmp.Join("none.log")).find("not a vq2d run directory"), std::string::npos)
      << ReadText(tmp.Join("none.log"));
}

}  // namespace
}  // namespace vq2d
