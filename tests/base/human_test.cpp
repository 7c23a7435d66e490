#include "vq2d/base/human.h"

#include <gtest/gtest.h>

namespace vq2d {
namespace {

TEST(HumanTest, NumbersWithoutExponents) {
  EXPECT_EQ(HumanNumber(120), "120");
  EXPECT_EQ(HumanNumber(30), "30");
  EXPECT_EQ(HumanNumber(0.6), "0.6");
  EXPECT_EQ(HumanNumber(1.4697e-05), "0.000014697");
  EXPECT_EQ(HumanNumber(0), "0");
  EXPECT_EQ(HumanNumber(-2.5), "-2.5");
  EXPECT_EQ(HumanNumber(1.0 / 3), "0.333333");
}

TEST(HumanTest, SecondsAndBytesWithUnits) {
  EXPECT_EQ(HumanSeconds(0.4234), "0.42 s");
  EXPECT_EQ(HumanSeconds(12.34), "12.3 s");
  EXPECT_EQ(HumanSeconds(245), "4 min 05 s");
  EXPECT_EQ(HumanSeconds(7380), "2 h 03 min");
  EXPECT_EQ(HumanSeconds(-1), "unknown");
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1536), "1.50 KiB");
  EXPECT_EQ(HumanBytes(35861299), "34.2 MiB");
  EXPECT_EQ(HumanBytes(2ull << 30), "2.00 GiB");
}

}  // namespace
}  // namespace vq2d
