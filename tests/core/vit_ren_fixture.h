// Helpers for the vit_ren fixture tests: case loading, kind dispatch, allclose with reporting, and
// bookkeeping that every stored tensor was either fed in or compared.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <string>

#include "core/device_under_test.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d::testing {

enum class VitRenKind { kDinoV2, kDinoV1, kRenPe, kRegionEncoder, kRenWrapper, kUnknown };

inline VitRenKind KindOf(const nlohmann::json& j) {
  std::string fn;
  if (j.contains("reference") && j["reference"].is_object()) fn = j["reference"].value("function", std::string());
  const std::string name = j.value("case", std::string());
  if (fn.find("DinoVisionTransformer.get_intermediate_layers") != std::string::npos) return VitRenKind::kDinoV2;
  if (fn.find("VisionTransformer.get_intermediate_layers") != std::string::npos) return VitRenKind::kDinoV1;
  if (fn.find("PositionalEmbedding2D") != std::string::npos) return VitRenKind::kRenPe;
  if (fn.find("RegionEncoder.forward") != std::string::npos) return VitRenKind::kRegionEncoder;
  if (fn.find("REN.forward") != std::string::npos) return VitRenKind::kRenWrapper;
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (starts("dinov2_vit")) return VitRenKind::kDinoV2;
  if (starts("dino_v1_vit")) return VitRenKind::kDinoV1;
  if (starts("ren_pe")) return VitRenKind::kRenPe;
  if (starts("ren_region_encoder")) return VitRenKind::kRegionEncoder;
  if (starts("ren_vq_wrapper")) return VitRenKind::kRenWrapper;
  return VitRenKind::kUnknown;
}

struct FixtureCase {
  std::string dir;
  nlohmann::json json;
  TensorMap tensors;
  std::set<std::string> used;

  bool Has(const std::string& name) const { return tensors.count(name) > 0; }
  // Marks the tensor as consumed; fails the test when absent.
  torch::Tensor Get(const std::string& name) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      ADD_FAILURE() << dir << ": tensor '" << name << "' missing";
      return torch::Tensor();
    }
    used.insert(name);
    return it->second;
  }
  double Tol(const char* key, double fallback) const {
    auto t = json.find("tolerance");
    if (t == json.end() || !t->contains(key)) return fallback;
    return (*t)[key].get<double>();
  }
  void ExpectAllUsed() const {
    for (const auto& [name, t] : tensors) {
      EXPECT_TRUE(used.count(name)) << dir << ": tensor '" << name << "' was neither used nor compared";
    }
  }
};

inline std::vector<FixtureCase> LoadCases(VitRenKind kind) {
  std::vector<FixtureCase> out;
  for (const auto& dir : FixtureCases("vit_ren")) {
    std::ifstream f(dir + "/case.json");
    if (!f) continue;
    FixtureCase c;
    c.dir = dir;
    c.json = nlohmann::json::parse(f);
    if (KindOf(c.json) != kind) continue;
    auto t = LoadSafetensors(dir + "/tensors.safetensors");
    EXPECT_TRUE(t.ok()) << dir << ": " << t.status().ToString();
    if (!t.ok()) continue;
    c.tensors = std::move(t).value();
    out.push_back(std::move(c));
  }
  return out;
}

// allclose(got, ref, atol, rtol) with a message giving the worst element.
inline void ExpectClose(const std::string& what, const torch::Tensor& got_in, const torch::Tensor& ref_in, double atol,
                        double rtol) {
  ASSERT_TRUE(got_in.defined() && ref_in.defined()) << what << ": undefined tensor";
  auto got = got_in.detach().to(torch::kCPU, torch::kDouble);
  auto ref = ref_in.detach().to(torch::kCPU, torch::kDouble);
  ASSERT_EQ(got.sizes(), ref.sizes()) << what << ": shape";
  auto diff = (got - ref).abs();
  auto excess = diff - (atol + rtol * ref.abs());
  const double max_excess = got.numel() ? excess.max().item<double>() : 0.0;
  const double max_diff = got.numel() ? diff.max().item<double>() : 0.0;
  EXPECT_LE(max_excess, 0.0) << what << ": max |diff| " << max_diff << " exceeds atol " << atol << " + rtol " << rtol
                             << "·|ref|";
  std::ostringstream os;
  os << std::scientific << std::setprecision(2) << max_diff;
  ::testing::Test::RecordProperty(what, os.str());
}

inline void ExpectEqual(const std::string& what, const torch::Tensor& got, const torch::Tensor& ref) {
  ASSERT_TRUE(got.defined() && ref.defined()) << what << ": undefined tensor";
  auto g = got.to(torch::kCPU);
  ASSERT_EQ(g.sizes(), ref.sizes()) << what << ": shape";
  ASSERT_EQ(g.scalar_type(), ref.scalar_type()) << what << ": dtype";
  EXPECT_TRUE(g.equal(ref)) << what << ": values differ";
}

// The first whitespace-separated token of a weights reference, resolved against the case folder.
inline std::string WeightsPath(const FixtureCase& c, const std::string& ref) {
  std::istringstream is(ref);
  std::string first;
  is >> first;
  return c.dir + "/" + first;
}

// Glob with '*' only.
inline bool GlobMatch(const char* pat, const char* s) {
  if (*pat == '\0') return *s == '\0';
  if (*pat == '*') return GlobMatch(pat + 1, s) || (*s && GlobMatch(pat, s + 1));
  return *s && *pat == *s && GlobMatch(pat + 1, s + 1);
}

}  // namespace vq2d::testing
