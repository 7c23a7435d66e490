// synth -> prepare -> eval: predictions equal to the ground truth score perfectly; truncated
// predictions give the hand-computed lower numbers; record-pixel predictions mapped back as upstream
// submit.py does stay close on clips without black bars.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "io/fixture_io.h"
#include "support/test_support.h"
#include "vq2d/io/evaluate.h"
#include "vq2d/io/prepare.h"
#include "vq2d/io/record.h"
#include "vq2d/io/synth.h"

namespace vq2d {

using io::AnnotationFile;
using io::Clip;
using io::ClipPrepareOptions;
using io::EvaluatePredictions;
using io::LoadAnnotations;
using io::OpenClipRecord;
using io::PrepareSplit;
using io::QuerySet;
using io::RecordPathFor;
using io::SynthOptions;
using io::WriteSynthDataset;
namespace {

using OJ = nlohmann::ordered_json;

// Predictions in the official layout from a per-query box function (original pixels).
template <typename F>
std::string MakePredictions(const AnnotationFile& af, F boxes_for) {
  OJ videos = OJ::array();
  for (const auto& v : af.videos) {
    OJ clips = OJ::array();
    for (const auto& c : v.clips) {
      OJ preds = OJ::array();
      for (const auto& a : c.annotations) {
        OJ qs = OJ::object();
        for (const auto& q : a.query_sets) {
          if (!q.is_valid) continue;
          qs[q.id] = {{"bboxes", boxes_for(c, q)}, {"score", 0.9}};
        }
        preds.push_back({{"query_sets", qs}});
      }
      clips.push_back({{"clip_uid", *c.clip_uid}, {"predictions", preds}});
    }
    videos.push_back({{"video_uid", v.video_uid}, {"clips", clips}});
  }
  return OJ{{"version", af.version}, {"challenge", "ego4d_vq2d_challenge"}, {"results", {{"videos", videos}}}}.dump();
}

OJ Box(int fno, double x1, double y1, double x2, double y2) {
  return {{"fno", fno}, {"x1", x1}, {"y1", y1}, {"x2", x2}, {"y2", y2}};
}

TEST(SynthEval, GroundTruthScoresPerfectlyAndTruncationAsComputedByHand) {
  testing::TempDir d;
  SynthOptions so;
  so.out_dir = d.path();
  so.num_clips = 2;
  so.seed = 17;
  auto s = WriteSynthDataset(so);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto af = LoadAnnotations(s->val_json);
  ASSERT_TRUE(af.ok());
  // Exact ground truth.
  const std::string exact = MakePredictions(*af, [](const Clip&, const QuerySet& q) {
    OJ b = OJ::array();
    for (const auto& r : q.response_track) b.push_back(Box(r.frame_number, r.x, r.y, r.x + r.width, r.y + r.height));
    return b;
  });
  auto r = EvaluatePredictions(exact, "exact.json", *af);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metrics.n_queries, af->NumValidQuerySets());
  for (double v : r->metrics.tap) EXPECT_DOUBLE_EQ(v, 1.0);
  for (double v : r->metrics.stap) EXPECT_DOUBLE_EQ(v, 1.0);
  for (double v : r->metrics.recovery) EXPECT_DOUBLE_EQ(v, 100.0);
  for (double v : r->metrics.success) EXPECT_DOUBLE_EQ(v, 100.0);
  // Only the second half of each response track: tIoU = (L - L/2) / L per query, stIoU = the kept
  // frames' box areas over all GT box areas, recovery = sum(L - L/2) / sum(L), success 100 %.
  const std::string half = MakePredictions(*af, [](const Clip&, const QuerySet& q) {
    OJ b = OJ::array();
    const size_t L = q.response_track.size();
    for (size_t i = L / 2; i < L; ++i) {
      const auto& r = q.response_track[i];
      b.push_back(Box(r.frame_number, r.x, r.y, r.x + r.width, r.y + r.height));
    }
    return b;
  });
  auto h = EvaluatePredictions(half, "half.json", *af);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  long long kept = 0, total = 0;
  std::vector<double> tiou, stiou;
  for (const auto& v : af->videos)
    for (const auto& c : v.clips)
      for (const auto& a : c.annotations)
        for (const auto& q : a.query_sets) {
          const long long L = static_cast<long long>(q.response_track.size());
          kept += L - L / 2;
          total += L;
          tiou.push_back(static_cast<double>(L - L / 2) / L);
          double all = 0, part = 0;
          for (long long i = 0; i < L; ++i) {
            const double area = q.response_track[i].width * q.response_track[i].height;
            all += area;
            if (i >= L / 2) part += area;
          }
          stiou.push_back(part / all);
        }
  for (double v : h->metrics.recovery) EXPECT_DOUBLE_EQ(v, 100.0 * kept / total);
  EXPECT_DOUBLE_EQ(h->metrics.success[0], 100.0);
  ASSERT_EQ(h->metrics.per_query.size(), tiou.size());
  for (size_t i = 0; i < tiou.size(); ++i) {
    EXPECT_NEAR(h->metrics.per_query[i].tiou, tiou[i], 1e-12);
    EXPECT_NEAR(h->metrics.per_query[i].stiou, stiou[i], 1e-12);
  }
  // All scores tie at 0.9 and every query is a TP at 0.25 and 0.5 (tIoU >= 0.5): AP 1 there.
  EXPECT_DOUBLE_EQ(h->metrics.tap[0], 1.0);
  EXPECT_DOUBLE_EQ(h->metrics.tap[1], 1.0);
  EXPECT_LT(h->metrics.tap[3], 1.0);

  // Through the records: GT mapped to record pixels (upstream int() mapping), back with submit.py's
  // int(x / W * original_width). On the clip without black bars that stays within a few pixels.
  ClipPrepareOptions po;
  const auto rep = PrepareSplit(po, *af, s->videos_dir, d.Join("records"), {});
  ASSERT_EQ(rep.prepared, 2) << rep.ToJson();
  const std::string back = MakePredictions(*af, [&](const Clip& c, const QuerySet& q) {
    auto rec = OpenClipRecord(RecordPathFor(d.Join("records"), *c.clip_uid));
    EXPECT_TRUE(rec.ok());
    OJ b = OJ::array();
    const int W = rec->width(), H = rec->height();
    for (const auto& r : q.response_track) {
      const auto m = rec->ToRecordPixels(r);
      auto to = [](double v, int size, int orig) { return static_cast<double>(static_cast<long long>(v / size * orig)); };
      b.push_back(Box(r.frame_number, to(m[0], W, 640), to(m[1], H, 360), to(m[0] + m[2], W, 640), to(m[1] + m[3], H, 360)));
    }
    return b;
  });
  auto bk = EvaluatePredictions(back, "back.json", *af);
  ASSERT_TRUE(bk.ok()) << bk.status().ToString();
  // Video 1 has no black bars: its queries keep a high stIoU. (Video 0 is letterboxed: upstream's
  // mapping ignores the trim offset, so its boxes move; see docs/data.md.)
  size_t k = 0;
  for (const auto& v : af->videos) {
    for (const auto& c : v.clips)
      for (const auto& a : c.annotations)
        for (size_t qi = 0; qi < a.query_sets.size(); ++qi, ++k) {
          if (&v == &af->videos[1]) {
            EXPECT_GT(bk->metrics.per_query[k].stiou, 0.85) << "query " << k;
            EXPECT_DOUBLE_EQ(bk->metrics.per_query[k].tiou, 1.0);
          }
        }
  }
}

}  // namespace
}  // namespace vq2d
