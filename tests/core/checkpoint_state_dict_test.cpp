// LoadStateDict: strict copying into modules, with errors naming keys, shapes and dtypes.
#include <gtest/gtest.h>

#include <limits>
#include <torch/torch.h>

#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {
namespace {

struct NetImpl : torch::nn::Module {
  NetImpl() {
    fc = register_module("fc", torch::nn::Linear(3, 2));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({2})));
    table = register_buffer("table", torch::zeros({4}, torch::kLong));
  }
  torch::nn::Linear fc{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::Tensor table;
};
TORCH_MODULE(Net);

TensorMap Full() {
  return {{"fc.weight", torch::randn({2, 3})}, {"fc.bias", torch::randn({2})},
          {"norm.weight", torch::randn({2})},  {"norm.bias", torch::randn({2})},
          {"table", torch::arange(4, torch::kLong)}};
}

TEST(LoadStateDict, CopiesEveryEntry) {
  Net net;
  TensorMap sd = Full();
  ASSERT_TRUE(LoadStateDict(*net, sd).ok());
  EXPECT_TRUE(net->fc->weight.equal(sd["fc.weight"]));
  EXPECT_TRUE(net->norm->bias.equal(sd["norm.bias"]));
  EXPECT_TRUE(net->table.equal(sd["table"]));
  // The module owns copies, not aliases of the map's tensors.
  sd["fc.weight"].zero_();
  EXPECT_FALSE(net->fc->weight.equal(sd["fc.weight"]));
}

TEST(LoadStateDict, ConvertsFloatingDtypes) {
  Net net;
  TensorMap sd = Full();
  sd["fc.weight"] = sd["fc.weight"].to(torch::kBFloat16);
  ASSERT_TRUE(LoadStateDict(*net, sd).ok());
  EXPECT_EQ(net->fc->weight.scalar_type(), torch::kFloat);
  EXPECT_TRUE(net->fc->weight.equal(sd["fc.weight"].to(torch::kFloat)));
  net->fc->to(torch::kBFloat16);  // Module::to(dtype) would also convert the int64 buffer
  sd["fc.weight"] = torch::randn({2, 3});
  ASSERT_TRUE(LoadStateDict(*net, sd).ok());
  EXPECT_EQ(net->fc->weight.scalar_type(), torch::kBFloat16);
}

TEST(LoadStateDict, ShapeMismatchNamesKeyAndShapes) {
  Net net;
  TensorMap sd = Full();
  sd["fc.weight"] = torch::randn({3, 3});
  Status st = LoadStateDict(*net, sd);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'fc.weight': checkpoint shape [3, 3] float32 vs module shape [2, 3] float32"), std::string::npos)
      << st.message();
  LoadOptions lenient;
  lenient.strict = false;
  EXPECT_FALSE(LoadStateDict(*net, sd, lenient).ok());  // shapes are checked even when not strict
}

TEST(LoadStateDict, DtypeKindMismatch) {
  Net net;
  TensorMap sd = Full();
  sd["table"] = torch::zeros({4});
  Status st = LoadStateDict(*net, sd);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("'table': checkpoint dtype float32 vs module dtype int64"), std::string::npos) << st.message();
}

TEST(LoadStateDict, MissingAndUnexpectedListed) {
  Net net;
  TensorMap sd = Full();
  sd.erase("norm.bias");
  sd.erase("fc.bias");
  sd["extra.weight"] = torch::zeros({1});
  Status st = LoadStateDict(*net, sd);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("2 missing from the checkpoint: 'fc.bias', 'norm.bias'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("1 unexpected in the checkpoint: 'extra.weight'"), std::string::npos) << st.message();
  LoadOptions lenient;
  lenient.strict = false;
  EXPECT_TRUE(LoadStateDict(*net, sd, lenient).ok());
  EXPECT_TRUE(net->fc->weight.equal(sd["fc.weight"]));
}

TEST(LoadStateDict, IgnoredModuleKeys) {
  Net net;
  TensorMap sd = Full();
  sd.erase("table");
  LoadOptions opt;
  opt.ignore_module_keys = {"table"};
  EXPECT_TRUE(LoadStateDict(*net, sd, opt).ok());
  EXPECT_FALSE(LoadStateDict(*net, sd).ok());
}

// Regression (issue I.8): a checkpoint tensor full of NaN/Inf loaded and every query became an
// empty track. The load fails naming the tensor (and, through the file loaders, the file).
TEST(LoadStateDict, NonFiniteWeightsFailTheLoadNamingTheTensor) {
  Net net;
  TensorMap sd = Full();
  sd["fc.weight"][0][1] = std::numeric_limits<float>::quiet_NaN();
  sd["norm.bias"][1] = std::numeric_limits<float>::infinity();
  Status s = LoadStateDict(*net, sd);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("'fc.weight' (1 NaN, 0 Inf of 6 values)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("'norm.bias' (0 NaN, 1 Inf of 2 values)"), std::string::npos) << s.message();
  // Through a file: the context names it.
  testing::TempDir tmp;
  const std::string path = tmp.Join("bad.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, sd).ok());
  auto loaded = LoadTensorFile(path);
  ASSERT_TRUE(loaded.ok());
  Status f = LoadStateDict(*net, *loaded).WithContext(path);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.message().find(path), std::string::npos) << f.message();
  EXPECT_NE(f.message().find("'fc.weight'"), std::string::npos) << f.message();
  // Finite weights load as before.
  EXPECT_TRUE(LoadStateDict(*net, Full()).ok());
}

TEST(SubMap, StripsPrefix) {
  TensorMap m{{"model.a", torch::zeros({1})}, {"model.b.c", torch::zeros({2})}, {"modelx", torch::zeros({3})},
              {"other", torch::zeros({4})}};
  TensorMap s = SubMap(m, "model.");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.count("a"));
  EXPECT_TRUE(s.count("b.c"));
  EXPECT_EQ(SubMap(m, "").size(), 4u);
  EXPECT_TRUE(SubMap(m, "zzz").empty());
}

}  // namespace
}  // namespace vq2d
