#include "vq2d/runner/nccl.h"

#include <gtest/gtest.h>

#include "runner/runner_test_util.h"

namespace vq2d {

using runner::ExchangeNcclUniqueId;
using runner::MakeLocalCollective;
using runner::NcclCompiledIn;
using runner::NcclVersion;
namespace {

TEST(NcclTest, BackendIsOptionalAndTheIdExchangeNeedsNoGpu) {
  if (!NcclCompiledIn()) {
    EXPECT_EQ(NcclVersion().status().code(), StatusCode::kUnimplemented);
    auto c = MakeLocalCollective();
    EXPECT_FALSE(ExchangeNcclUniqueId(*c).ok());
    return;
  }
  auto v = NcclVersion();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_NE(v->find('.'), std::string::npos);
  testing::ThreadWorld world(3);
  std::vector<std::string> ids(3);
  std::vector<std::thread> threads;
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      auto rank = world.MakeRank(r);
      auto id = ExchangeNcclUniqueId(*rank);
      if (id.ok()) ids[r] = *id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_FALSE(ids[0].empty());
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(ids[1], ids[2]);
}

}  // namespace
}  // namespace vq2d
