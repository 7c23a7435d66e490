#include "vq2d/base/status.h"
#include "vq2d/base/check.h"

#include <gtest/gtest.h>

namespace vq2d {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument(StrCat("odd value ", x));
  return x / 2;
}

Status UseHalf(int x, int* out) {
  VQ2D_ASSIGN_OR_RETURN(int h, Half(x));
  *out = h;
  return Status::OK();
}

TEST(StatusTest, OkIsCheapAndPrintable) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.WithContext("ctx").ToString(), "OK");
}

TEST(StatusTest, ErrorCarriesCodeAndContext) {
  Status s = Status::NotFound("file 'a.h5'").WithContext("clip c1");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: clip c1: file 'a.h5'");
}

TEST(StatusTest, ResultPropagates) {
  int out = 0;
  EXPECT_TRUE(UseHalf(8, &out).ok());
  EXPECT_EQ(out, 4);
  Status s = UseHalf(3, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "odd value 3");
}

TEST(StatusDeathTest, CheckAbortsWithLocation) {
  EXPECT_DEATH({ VQ2D_CHECK(1 + 1 == 3) << "math"; }, "status_test.cpp:[0-9]+: check failed: 1 \\+ 1 == 3 math");
}

TEST(StatusTest, ResultFromOkStatusIsAnError) {
  Result<int> r = Status::OK();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(StatusDeathTest, ValueOfAnErrorAbortsWithTheCallersLocationAndTheStatus) {
  Result<int> r = Half(3);
  // The location is the caller's (this file), not status.h; the message carries the status.
  EXPECT_DEATH({ (void)r.value(); },
               "status_test.cpp:[0-9]+: Result::value\\(\\) on an error: InvalidArgument: odd value 3");
  EXPECT_DEATH({ (void)std::move(r).value(); }, "Result::value\\(\\) on an error: InvalidArgument: odd value 3");
  const Result<int>& cr = r;
  EXPECT_DEATH({ (void)cr.value(); }, "status_test.cpp:[0-9]+: Result::value");
  EXPECT_DEATH({ (void)*r; }, "Result::operator\\* on an error: InvalidArgument: odd value 3");
}

TEST(StatusTest, IgnoreErrorDropsAStatusExplicitly) {
  Status::NotFound("nothing to see").IgnoreError();  // compiles despite [[nodiscard]]
  Half(3).status().IgnoreError();
  SUCCEED();
}

}  // namespace
}  // namespace vq2d
