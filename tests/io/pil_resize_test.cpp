// PIL BICUBIC parity: every prepare/* fixture case that lists resize cases (pil_bicubic format).
#include "vq2d/io/pil_resize.h"

#include <gtest/gtest.h>

#include "io/fixture_io.h"
#include "support/test_support.h"

namespace vq2d {

using io::PilBicubicResize;
using io::PilBicubicResizer;
namespace {

using testing::FixtureCases;

TEST(PilResize, MatchesPillowFixturesExactly) {
  const auto cases = FixtureCases("prepare");
  ASSERT_FALSE(cases.empty()) << "fixture area prepare/ is missing under " << testing::FixturesRoot();
  int checked = 0;
  for (const auto& dir : cases) {
    const auto cj = testing::ReadJsonFile(dir + "/case.json");
    if (!cj.contains("cases") || !cj["cases"].is_array() || cj["cases"].empty() || !cj["cases"][0].contains("in_wh")) {
      continue;
    }
    const auto tensors = testing::ReadSafetensors(dir + "/tensors.safetensors");
    for (const auto& c : cj["cases"]) {
      const auto in = tensors.at(c["input"].get<std::string>());
      const auto want = tensors.at(c["output"].get<std::string>());
      const int iw = c["in_wh"][0], ih = c["in_wh"][1], ow = c["out_wh"][0], oh = c["out_wh"][1];
      ASSERT_EQ(in.shape, (std::vector<int64_t>{ih, iw, 3}));
      ASSERT_EQ(want.shape, (std::vector<int64_t>{oh, ow, 3}));
      std::vector<uint8_t> got;
      PilBicubicResize(reinterpret_cast<const uint8_t*>(in.bytes.data()), iw, ih, ow, oh, &got);
      size_t mismatches = 0, first = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] != static_cast<uint8_t>(want.bytes[i]) && mismatches++ == 0) first = i;
      }
      EXPECT_EQ(mismatches, 0u) << dir << " " << c["input"] << " " << iw << "x" << ih << " -> " << ow << "x" << oh
                                << ": first mismatch at byte " << first << " got " << int(got[first]) << " want "
                                << int(static_cast<uint8_t>(want.bytes[first]));
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << "no pil_bicubic-format case found in prepare/";
}

TEST(PilResize, IdentityAndSinglePassSizes) {
  // Same size: copy. One dimension unchanged: only the other pass runs; a constant image stays constant.
  std::vector<uint8_t> img(7 * 5 * 3, 77), out;
  PilBicubicResize(img.data(), 7, 5, 7, 5, &out);
  EXPECT_EQ(out, img);
  PilBicubicResize(img.data(), 7, 5, 3, 5, &out);
  ASSERT_EQ(out.size(), 3u * 5 * 3);
  for (uint8_t v : out) EXPECT_EQ(v, 77);
  PilBicubicResize(img.data(), 7, 5, 7, 11, &out);
  ASSERT_EQ(out.size(), 7u * 11 * 3);
  for (uint8_t v : out) EXPECT_EQ(v, 77);
}

TEST(PilResize, StrideIsHonoured) {
  // A sub-image given by pointer + stride resizes like the same pixels stored contiguously.
  const int W = 20, H = 12;
  std::vector<uint8_t> big(W * H * 3);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>((i * 37) % 251);
  std::vector<uint8_t> sub;
  for (int y = 2; y < 10; ++y)
    for (int x = 3; x < 17; ++x)
      for (int c = 0; c < 3; ++c) sub.push_back(big[(y * W + x) * 3 + c]);
  std::vector<uint8_t> a;
  PilBicubicResize(sub.data(), 14, 8, 6, 5, &a);
  PilBicubicResizer r(14, 8, 6, 5);
  std::vector<uint8_t> b(6 * 5 * 3);
  r.Resize(big.data() + (2 * W + 3) * 3, W * 3, b.data());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace vq2d
