// Test-only readers for the fixture formats (safetensors, JSON). Torch-free.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace vq2d::testing {

struct StTensor {
  std::string dtype;  // "U8", "F64", ...
  std::vector<int64_t> shape;
  std::string bytes;
  template <typename T>
  std::vector<T> As() const {
    std::vector<T> v(bytes.size() / sizeof(T));
    std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
    return v;
  }
};

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline nlohmann::json ReadJsonFile(const std::string& path) { return nlohmann::json::parse(ReadWholeFile(path)); }

inline std::map<std::string, StTensor> ReadSafetensors(const std::string& path) {
  std::map<std::string, StTensor> out;
  const std::string data = ReadWholeFile(path);
  if (data.size() < 8) return out;
  uint64_t n = 0;
  std::memcpy(&n, data.data(), 8);
  const auto header = nlohmann::json::parse(data.substr(8, n));
  const size_t base = 8 + n;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    StTensor t;
    t.dtype = it.value()["dtype"].get<std::string>();
    t.shape = it.value()["shape"].get<std::vector<int64_t>>();
    const auto off = it.value()["data_offsets"].get<std::vector<uint64_t>>();
    t.bytes = data.substr(base + off[0], off[1] - off[0]);
    out[it.key()] = std::move(t);
  }
  return out;
}

}  // namespace vq2d::testing
