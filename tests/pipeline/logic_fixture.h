// Test-only readers for the logic fixtures: case/inputs/expected JSON and tensors.safetensors.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <torch/torch.h>

#include "support/test_support.h"

namespace vq2d::testing {

inline nlohmann::json ReadJson(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << "cannot open " << path;
  nlohmann::json j;
  if (f.good()) f >> j;
  return j;
}

// Whole safetensors file in memory; tensors are copied out on request.
class SafeTensors {
 public:
  explicit SafeTensors(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f.good()) return;
    std::stringstream ss;
    ss << f.rdbuf();
    data_ = ss.str();
    uint64_t n = 0;
    std::memcpy(&n, data_.data(), 8);
    header_ = nlohmann::json::parse(data_.substr(8, n));
    base_ = 8 + n;
  }
  bool Has(const std::string& key) const { return header_.contains(key); }
  torch::Tensor Get(const std::string& key) const {
    if (!header_.contains(key)) {
      ADD_FAILURE() << "missing tensor " << key;
      return torch::Tensor();
    }
    const auto& h = header_.at(key);
    const std::string dt = h.at("dtype");
    std::vector<int64_t> shape = h.at("shape").get<std::vector<int64_t>>();
    const uint64_t b = h.at("data_offsets")[0], e = h.at("data_offsets")[1];
    torch::Dtype d = torch::kFloat32;
    if (dt == "F32") d = torch::kFloat32;
    else if (dt == "F64") d = torch::kFloat64;
    else if (dt == "I64") d = torch::kInt64;
    else if (dt == "I32") d = torch::kInt32;
    else if (dt == "U8") d = torch::kUInt8;
    else if (dt == "BOOL") d = torch::kBool;
    else ADD_FAILURE() << "dtype " << dt;
    auto t = torch::empty(shape, torch::TensorOptions().dtype(d));
    EXPECT_EQ(static_cast<uint64_t>(t.nbytes()), e - b) << key;
    std::memcpy(t.data_ptr(), data_.data() + base_ + b, e - b);
    return t;
  }
  // (H,W,3) uint8 -> CV_8UC3; (H,W) bool/u8 -> CV_8UC1 0/1.
  cv::Mat Mat(const std::string& key) const {
    torch::Tensor t = Get(key).contiguous();
    if (t.scalar_type() == torch::kBool) t = t.to(torch::kUInt8);
    if (t.dim() == 3) return cv::Mat(t.size(0), t.size(1), CV_8UC3, t.data_ptr()).clone();
    return cv::Mat(t.size(0), t.size(1), CV_8UC1, t.data_ptr()).clone();
  }

 private:
  std::string data_;
  nlohmann::json header_;
  uint64_t base_ = 0;
};

inline torch::Tensor MatToTensor(const cv::Mat& m) {
  cv::Mat c = m.isContinuous() ? m : m.clone();
  std::vector<int64_t> shape = {c.rows, c.cols};
  if (c.channels() > 1) shape.push_back(c.channels());
  return torch::from_blob(c.data, shape, torch::kUInt8).clone();
}

struct LogicCase {
  std::string dir;
  nlohmann::json inputs, expected, meta;
  std::unique_ptr<SafeTensors> tensors;
};

// Every case folder under <fixtures>/logic whose case.json says "case": <area>.
inline std::vector<LogicCase> LoadLogicCases(const std::string& area) {
  std::vector<LogicCase> out;
  for (const std::string& dir : FixtureCases("logic")) {
    std::ifstream probe(dir + "/case.json");
    if (!probe.good()) continue;
    LogicCase c;
    c.dir = dir;
    c.meta = ReadJson(dir + "/case.json");
    if (c.meta.value("case", "") != area) continue;
    c.inputs = ReadJson(dir + "/inputs.json");
    c.expected = ReadJson(dir + "/expected.json");
    c.tensors = std::make_unique<SafeTensors>(dir + "/tensors.safetensors");
    out.push_back(std::move(c));
  }
  EXPECT_FALSE(out.empty()) << "no fixture cases for logic/" << area << " under " << FixturesRoot();
  return out;
}

}  // namespace vq2d::testing
