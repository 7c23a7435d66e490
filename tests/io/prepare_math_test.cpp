// Upstream preprocessing arithmetic against every logic/* fixture case of kind "prepare": resize
// sizes, black-bar bounds, frame-time lists and ffmpeg timecodes, clip shapes and box mapping.
#include "vq2d/io/prepare_math.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "io/fixture_io.h"
#include "support/test_support.h"

namespace vq2d {

using io::BlackBarDetector;
using io::ClipFrameTimes;
using io::GetSizeForResize;
using io::MapBoxToRecord;
using io::PySlice;
using io::RecordGeometry;
using io::SeekTimecode;
using io::TrimBox;
namespace {

using nlohmann::json;

std::vector<std::string> PrepareLogicCases() {
  std::vector<std::string> out;
  for (const auto& dir : testing::FixtureCases("logic")) {
    const auto cj = testing::ReadJsonFile(dir + "/case.json");
    if (cj.value("case", "") == "prepare") out.push_back(dir);
  }
  return out;
}

class PrepareLogic : public ::testing::Test {
 protected:
  void SetUp() override {
    cases_ = PrepareLogicCases();
    ASSERT_FALSE(cases_.empty()) << "no logic/* case with case == prepare under " << testing::FixturesRoot();
  }
  std::vector<std::string> cases_;
};

TEST_F(PrepareLogic, GetSizeForResize) {
  for (const auto& dir : cases_) {
    const auto in = testing::ReadJsonFile(dir + "/inputs.json")["get_size_for_resize"];
    const auto ex = testing::ReadJsonFile(dir + "/expected.json")["get_size_for_resize"];
    ASSERT_EQ(in.size(), ex.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const auto s = GetSizeForResize(in[i]["w"], in[i]["h"], in[i]["shorter_size_trg"], in[i]["longer_size_max"]);
      EXPECT_EQ(s[0], ex[i]["w"].get<int>()) << dir << " instance " << i << " " << in[i];
      EXPECT_EQ(s[1], ex[i]["h"].get<int>()) << dir << " instance " << i << " " << in[i];
    }
  }
}

TEST_F(PrepareLogic, BlackBars) {
  for (const auto& dir : cases_) {
    const auto in = testing::ReadJsonFile(dir + "/inputs.json")["black_bars"];
    const auto ex = testing::ReadJsonFile(dir + "/expected.json")["black_bars"];
    const auto tensors = testing::ReadSafetensors(dir + "/tensors.safetensors");
    ASSERT_EQ(in.size(), ex.size());
    for (size_t i = 0; i < in.size(); ++i) {
      const int T = in[i]["T"], H = in[i]["H"], W = in[i]["W"];
      const auto& fr = tensors.at("black_bars/" + std::to_string(i) + "/frames");
      ASSERT_EQ(fr.shape, (std::vector<int64_t>{T, H, W, 3}));
      BlackBarDetector det(W, H, in[i]["blackbar_threshold"], in[i]["max_perc_to_trim"]);
      for (int t = 0; t < T; ++t) {
        det.Add(reinterpret_cast<const uint8_t*>(fr.bytes.data()) + static_cast<size_t>(t) * H * W * 3, W * 3);
      }
      const TrimBox b = det.Box();
      EXPECT_EQ(b.y1, ex[i]["y1"].get<int>()) << dir << " instance " << i;
      EXPECT_EQ(b.y2, ex[i]["y2"].get<int>()) << dir << " instance " << i;
      EXPECT_EQ(b.x1, ex[i]["x1"].get<int>()) << dir << " instance " << i;
      EXPECT_EQ(b.x2, ex[i]["x2"].get<int>()) << dir << " instance " << i;
    }
    // Clamp table: a (1,h,1,3) black frame whose only content pixel is row h//2.
    const auto table = testing::ReadJsonFile(dir + "/expected.json")["black_bars_clamp_table"]["y1_y2"];
    for (size_t hi = 0; hi < table.size(); ++hi) {
      const int h = static_cast<int>(hi) + 1;
      std::vector<uint8_t> frame(h * 3, 0);
      frame[(h / 2) * 3] = 255;
      BlackBarDetector det(1, h, 32, 0.2);
      det.Add(frame.data(), 3);
      EXPECT_EQ(det.Box().y1, table[hi][0].get<int>()) << "h=" << h;
      EXPECT_EQ(det.Box().y2, table[hi][1].get<int>()) << "h=" << h;
    }
  }
}

TEST_F(PrepareLogic, ClipFrameTimesAndShapes) {
  for (const auto& dir : cases_) {
    const auto in = testing::ReadJsonFile(dir + "/inputs.json")["clip_prepare"];
    const auto ex = testing::ReadJsonFile(dir + "/expected.json")["clip_prepare"];
    const auto tensors = testing::ReadSafetensors(dir + "/tensors.safetensors");
    ASSERT_EQ(in.size(), ex.size());
    for (size_t i = 0; i < in.size(); ++i) {
      SCOPED_TRACE(dir + " clip_prepare instance " + std::to_string(i));
      auto times = ClipFrameTimes(in[i]["video_start_sec"], in[i]["video_end_sec"], in[i]["clip_fps"]);
      if (ex[i].contains("error")) {
        EXPECT_FALSE(times.ok());
        continue;
      }
      ASSERT_TRUE(times.ok()) << times.status().ToString();
      const auto want = tensors.at("clip_prepare/" + std::to_string(i) + "/times").As<double>();
      ASSERT_EQ(times->size(), want.size());
      ASSERT_EQ(times->size(), ex[i]["n_times"].get<size_t>());
      EXPECT_EQ(std::memcmp(times->data(), want.data(), want.size() * sizeof(double)), 0) << "times differ bitwise";
      const auto& tc = ex[i]["timecodes_sorted"];
      ASSERT_EQ(tc.size(), times->size());
      for (size_t k = 0; k < tc.size(); ++k) {
        EXPECT_EQ(SeekTimecode((*times)[k]), tc[k].get<std::string>()) << "time " << k;
      }
      // Frames: a constant synthetic source with black bars, then trim and resize.
      const int dh = in[i]["decoded_frame_hw"][0], dw = in[i]["decoded_frame_hw"][1];
      const auto& bars = in[i]["bars_top_bottom_left_right"];
      std::vector<uint8_t> frame(static_cast<size_t>(dh) * dw * 3, 0);
      for (int y = bars[0].get<int>(); y < dh - bars[1].get<int>(); ++y)
        for (int x = bars[2].get<int>(); x < dw - bars[3].get<int>(); ++x)
          for (int c = 0; c < 3; ++c) frame[(static_cast<size_t>(y) * dw + x) * 3 + c] = 128;
      BlackBarDetector det(dw, dh);
      det.Add(frame.data(), dw * 3);
      const TrimBox b = det.Box();
      const auto size = GetSizeForResize(b.width(), b.height());
      const auto& fs = ex[i]["frames_shape"];
      EXPECT_EQ(fs[0].get<size_t>(), times->size());
      EXPECT_EQ(fs[1].get<int>(), size[1]);
      EXPECT_EQ(fs[2].get<int>(), size[0]);
      if (!ex[i].contains("query_object_shapes")) continue;
      RecordGeometry g{dw, dh, b, size[0], size[1]};
      std::vector<json> shapes;
      std::vector<std::string> kept;
      for (auto it = in[i]["query_sets"].begin(); it != in[i]["query_sets"].end(); ++it) {
        const auto& q = it.value();
        if (!q["is_valid"].get<bool>()) continue;
        const auto& vc = q["visual_crop"];
        const auto r = MapBoxToRecord(vc["x"], vc["y"], vc["width"], vc["height"], vc["original_width"],
                                      vc["original_height"], g, false);
        const auto ys = PySlice(r[1], r[1] + r[3], size[1]);
        const auto xs = PySlice(r[0], r[0] + r[2], size[0]);
        shapes.push_back(json::array({ys[1] - ys[0], xs[1] - xs[0], 3}));
        kept.push_back(it.key());
      }
      EXPECT_EQ(json(shapes), ex[i]["query_object_shapes"]);
      EXPECT_EQ(json(kept), ex[i]["query_sets_kept"]);
    }
  }
}

// A box far outside any frame (an annotation x of 1e300; the cast to int64 was undefined behaviour)
// saturates (positions at +-2^40 record pixels, sizes at +-2^41): it slices the same pixels as
// Python's exact int would.
TEST(BoxMapping, CoordinatesBeyondAnyFrameSaturateAndSliceAsPythonWould) {
  const RecordGeometry g{640, 360, TrimBox{0, 0, 640, 360}, 512, 288};
  const int64_t lim = int64_t{1} << 40, size_lim = int64_t{1} << 41;
  for (bool trim : {false, true}) {
    const auto r = MapBoxToRecord(1e300, -1e300, 1e300, -std::numeric_limits<double>::infinity(), 640, 360, g, trim);
    EXPECT_EQ(r, (std::array<int64_t, 4>{lim, -lim, size_lim, -size_lim})) << trim;
    EXPECT_EQ(PySlice(r[0], r[0] + r[2], 512), (std::array<int64_t, 2>{512, 512}));  // empty, as in Python
    EXPECT_EQ(PySlice(r[1], r[1] + r[3], 288), (std::array<int64_t, 2>{0, 0}));
    const auto wide = MapBoxToRecord(-1e20, 10, 1e30, 20, 640, 360, g, trim);
    EXPECT_EQ(PySlice(wide[0], wide[0] + wide[2], 512), (std::array<int64_t, 2>{0, 512}));  // the whole row
  }
  EXPECT_EQ(MapBoxToRecord(10, 20, 30, 40, 640, 360, g, false), (std::array<int64_t, 4>{8, 16, 24, 32}));
}

TEST_F(PrepareLogic, BoxMapping) {
  for (const auto& dir : cases_) {
    const auto in = testing::ReadJsonFile(dir + "/inputs.json")["box_mapping"];
    const auto ex = testing::ReadJsonFile(dir + "/expected.json")["box_mapping"];
    ASSERT_EQ(in.size(), ex.size());
    for (size_t i = 0; i < in.size(); ++i) {
      SCOPED_TRACE(dir + " box_mapping instance " + std::to_string(i));
      const int H = in[i]["frame_hw"][0], W = in[i]["frame_hw"][1];
      RecordGeometry g{W, H, TrimBox{0, 0, W, H}, W, H};
      const auto& a = in[i]["annotation"];
      json rt = json::array();
      if (a.contains("response_track")) {
        for (const auto& bx : a["response_track"]) {
          const auto r = MapBoxToRecord(bx["x"], bx["y"], bx["width"], bx["height"], bx["original_width"],
                                        bx["original_height"], g, false);
          rt.push_back({bx["frame_number"].get<int>(), r[0], r[1], r[2], r[3]});
        }
      } else {
        rt.push_back({-1, W, H, W, H});
      }
      EXPECT_EQ(rt, ex[i]["response_track_fxywh"]);
      const auto& vc = a["visual_crop"];
      const auto r = MapBoxToRecord(vc["x"], vc["y"], vc["width"], vc["height"], vc["original_width"],
                                    vc["original_height"], g, false);
      EXPECT_EQ(json::array({r[0], r[1], r[2], r[3]}), ex[i]["visual_crop"]["query_bbox_xywh"]);
      const auto ys = PySlice(r[1], r[1] + r[3], H), xs = PySlice(r[0], r[0] + r[2], W);
      EXPECT_EQ(json::array({ys[1] - ys[0], xs[1] - xs[0], 3}), ex[i]["visual_crop"]["query_crop_shape"]);
    }
  }
}

TEST(PrepareMath, TrimOffsetMapping) {
  // 1920x1080 annotation space, decoded 640x360 with 40-px bars top and bottom (trim rows 40..320),
  // resized to 512x224. Upstream ignores the offset; the fix subtracts it before scaling.
  RecordGeometry g{640, 360, TrimBox{0, 40, 640, 320}, 512, 224};
  const auto up = MapBoxToRecord(960, 540, 192, 108, 1920, 1080, g, false);
  EXPECT_EQ(up, (std::array<int64_t, 4>{256, 112, 51, 22}));
  const auto fix = MapBoxToRecord(960, 540, 192, 108, 1920, 1080, g, true);
  // x: 960/1920*640 = 320 -> *0.8 = 256; y: 180 - 40 = 140 -> *0.8 = 112; h: 36*0.8 = 28.8 -> 28.
  EXPECT_EQ(fix, (std::array<int64_t, 4>{256, 112, 51, 28}));
}

TEST(PrepareMath, PySliceSemantics) {
  EXPECT_EQ(PySlice(2, 5, 10), (std::array<int64_t, 2>{2, 5}));
  EXPECT_EQ(PySlice(-3, 5, 10), (std::array<int64_t, 2>{7, 7}));  // y=-3: empty, as numpy
  EXPECT_EQ(PySlice(-3, -1, 10), (std::array<int64_t, 2>{7, 9}));
  EXPECT_EQ(PySlice(8, 20, 10), (std::array<int64_t, 2>{8, 10}));
  EXPECT_EQ(PySlice(12, 20, 10), (std::array<int64_t, 2>{10, 10}));
  EXPECT_EQ(PySlice(-30, 2, 10), (std::array<int64_t, 2>{0, 2}));
}

}  // namespace
}  // namespace vq2d
