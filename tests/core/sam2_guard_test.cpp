// SAM 2 predictor failures inside LibTorch come back as a Status through the one torch guard
// (core/torch_guard.h): Internal, naming the call that failed, never an exception.
#include "core/sam2_test_util.h"
#include "vq2d/core/sam2_image_predictor.h"
#include "vq2d/core/torch_guard.h"

namespace vq2d::sam2 {
namespace {

using testing::CasesOfKind;

TEST(TorchGuard, ConvertsExceptionsToStatus) {
  auto c10 = GuardTorch("adding", []() -> Status {
    (void)(torch::ones({2, 3}) + torch::ones({4, 5}));  // shape mismatch: c10::Error
    return Status::OK();
  });
  EXPECT_EQ(c10.code(), StatusCode::kInternal);
  EXPECT_EQ(c10.message().rfind("adding: ", 0), 0u) << c10.message();
  auto other = GuardTorch("parsing", []() -> Result<int> { throw std::runtime_error("bad digit"); });
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().ToString(), "Internal: parsing: bad digit");
  auto fine = GuardTorch("fine", []() -> Result<int> { return 3; });
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(*fine, 3);
}

TEST(Sam2ImagePredictor, TorchFailureIsAStatusNamingTheCall) {
  torch::NoGradGuard no_grad;
  auto cfg = Sam2ConfigFromJson(testing::ReadCaseJson(CasesOfKind("sam2_image_predict").at(0))["config"]);
  ASSERT_TRUE(cfg.ok());
  torch::manual_seed(5);
  Sam2Model model(*cfg);
  ImagePredictor pred(model);
  ASSERT_TRUE(pred.SetImage(torch::randint(0, 256, {64, 80, 3}, torch::kUInt8)).ok());
  // A mask prompt of the wrong size passes the shape check ([1,h,w]) but cannot be added to the
  // image embedding inside the mask decoder: LibTorch throws, the predictor returns Internal.
  ImagePrompt p;
  p.mask_input = torch::zeros({1, 10, 10});
  auto r = pred.Predict(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().ToString();
  EXPECT_EQ(r.status().message().rfind("SAM 2 predict failed: ", 0), 0u) << r.status().message();
  // The predictor is still usable.
  ImagePrompt box;
  box.box = torch::tensor({4.f, 4.f, 40.f, 30.f});
  EXPECT_TRUE(pred.Predict(box).ok());
}

}  // namespace
}  // namespace vq2d::sam2
