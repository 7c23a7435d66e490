// Shared helpers for the SAM 2 fixture tests (tests/core/sam2_*_test.cpp).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <string>

#include "nlohmann/json.hpp"
#include "core/device_under_test.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"
#include "vq2d/core/sam2.h"

namespace vq2d::sam2::testing {

inline nlohmann::json ReadCaseJson(const std::string& dir) {
  std::ifstream f(dir + "/case.json");
  return nlohmann::json::parse(f);
}

// The fixture kinds of area sam2; a case belongs to the kind its case.json["case"] starts with
// (so other fixture sets such as "sam2_video_long" run through the same test).
inline const std::vector<std::string>& KnownKinds() {
  static const std::vector<std::string> kinds = {"sam2_blocks", "sam2_image_encoder", "sam2_image_predict",
                                                 "sam2_video", "fill_holes"};
  return kinds;
}

inline std::string KindOf(const nlohmann::json& c) {
  const std::string name = c.value("case", std::string());
  for (const auto& k : KnownKinds())
    if (name.rfind(k, 0) == 0) return k;
  return "";
}

// Every case folder of area `sam2` of the given kind (fails if the area is missing).
inline std::vector<std::string> CasesOfKind(const std::string& kind) {
  std::vector<std::string> out;
  const auto all = vq2d::testing::FixtureCases("sam2");
  EXPECT_FALSE(all.empty()) << "fixture area sam2 missing under " << vq2d::testing::FixturesRoot();
  for (const auto& dir : all) {
    if (KindOf(ReadCaseJson(dir)) == kind) out.push_back(dir);
  }
  return out;
}

struct Tol {
  double atol, rtol;
};

inline Tol ToleranceFor(const nlohmann::json& c, const std::string& name) {
  const nlohmann::json* t = &c["tolerance"];
  if (c.contains("tolerance_per_output") && c["tolerance_per_output"].contains(name))
    t = &c["tolerance_per_output"][name];
  return {(*t)["atol"].get<double>(), (*t)["rtol"].get<double>()};
}

// |a - ref| <= atol + rtol |ref| element-wise; reports the worst element.
inline void ExpectClose(const std::string& name, const torch::Tensor& actual, const torch::Tensor& ref, Tol tol) {
  ASSERT_TRUE(ref.defined()) << name << ": reference missing";
  ASSERT_EQ(actual.sizes().vec(), ref.sizes().vec()) << name << ": shape mismatch";
  auto a = actual.detach().to(torch::kCPU).to(torch::kFloat64);
  auto r = ref.to(torch::kFloat64);
  auto excess = (a - r).abs() - (tol.atol + tol.rtol * r.abs());
  const double worst = excess.max().item<double>();
  const double maxabs = (a - r).abs().max().item<double>();
  EXPECT_LE(worst, 0.0) << name << ": max |diff| " << maxabs << " exceeds atol " << tol.atol << " rtol " << tol.rtol
                        << " (" << (excess > 0).sum().item<int64_t>() << " elements)";
}

inline void ExpectCloseCase(const nlohmann::json& c, const std::string& name, const torch::Tensor& actual,
                            const TensorMap& tensors) {
  auto it = tensors.find(name);
  ASSERT_NE(it, tensors.end()) << "tensor " << name << " missing from tensors.safetensors";
  ExpectClose(name, actual, it->second, ToleranceFor(c, name));
}

inline const torch::Tensor& T(const TensorMap& m, const std::string& name) {
  auto it = m.find(name);
  if (it == m.end()) throw std::runtime_error("fixture tensor missing: " + name);
  return it->second;
}

// Builds the model from case.json["config"] and loads weights.pt (strict unless told otherwise).
inline Sam2Model BuildCaseModel(const std::string& dir, const nlohmann::json& c, bool strict) {
  auto cfg = Sam2ConfigFromJson(c["config"]);
  EXPECT_TRUE(cfg.ok()) << cfg.status().ToString();
  Sam2Model model(*cfg);
  auto w = LoadTorchCheckpoint(dir + "/weights.pt", "model.");
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return model;
  LoadOptions opt;
  opt.strict = strict;
  auto st = LoadStateDict(*model, SubMap(*w, "model."), opt);
  EXPECT_TRUE(st.ok()) << st.ToString();
  model->eval();
  model->to(vq2d::testing::TestDevice());
  return model;
}

// The case's tensors.safetensors (inputs and expected outputs); a load failure fails the test.
inline TensorMap LoadCaseTensors(const std::string& dir) {
  auto loaded = LoadSafetensors(dir + "/tensors.safetensors");
  EXPECT_TRUE(loaded.ok()) << loaded.status().ToString();
  return loaded.ok() ? std::move(loaded).value() : TensorMap{};
}

}  // namespace vq2d::sam2::testing
