// safetensors reader/writer: every fixture file loads and matches its case.json; corrupted
// headers give clear errors; SaveSafetensors round-trips every dtype.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "core/dtype_names.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {
namespace {

using testing::FixtureCases;
using testing::TempDir;

bool FileExists(const std::string& p) { return std::ifstream(p).good(); }


void CheckFixtureArea(const std::string& area) {
  auto cases = FixtureCases(area);
  ASSERT_FALSE(cases.empty()) << "fixture area '" << area << "' missing under " << testing::FixturesRoot();
  int loaded = 0;
  for (const auto& dir : cases) {
    const std::string path = dir + "/tensors.safetensors";
    if (!FileExists(path)) continue;
    SCOPED_TRACE(path);
    auto r = LoadSafetensors(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->empty());
    ++loaded;
    for (const auto& [name, t] : *r) {
      EXPECT_TRUE(t.defined()) << name;
      EXPECT_TRUE(t.is_contiguous()) << name;
      EXPECT_EQ(t.device().type(), at::kCPU) << name;
    }
    // case.json's tensor list (when it has one) must agree on names, dtypes and shapes.
    std::ifstream in(dir + "/case.json");
    if (!in) continue;
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    ASSERT_FALSE(j.is_discarded());
    if (!j.contains("tensors") || !j["tensors"].is_object()) continue;
    EXPECT_EQ(j["tensors"].size(), r->size());
    for (auto it = j["tensors"].begin(); it != j["tensors"].end(); ++it) {
      auto found = r->find(it.key());
      ASSERT_NE(found, r->end()) << it.key();
      EXPECT_EQ(testing::ExpectedDTypeName(found->second.scalar_type()), it.value()["dtype"].get<std::string>()) << it.key();
      EXPECT_EQ(found->second.sizes().vec(), it.value()["shape"].get<std::vector<int64_t>>()) << it.key();
    }
  }
  EXPECT_GT(loaded, 0) << "no tensors.safetensors in area " << area;
}

TEST(SafetensorsFixtures, EveryVitRenFileLoads) { CheckFixtureArea("vit_ren"); }
TEST(SafetensorsFixtures, EverySam2FileLoads) { CheckFixtureArea("sam2"); }

// ---- hand-made files -------------------------------------------------------------------------

std::string LE64(uint64_t n) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  return s;
}

std::string Write(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string p = dir.Join(name);
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

// A file with header `json` (length field = its size) followed by `data`.
std::string Make(const std::string& json, const std::string& data) { return LE64(json.size()) + json + data; }

Status LoadStatus(const TempDir& dir, const std::string& bytes) {
  auto r = LoadSafetensors(Write(dir, "t.safetensors", bytes));
  return r.ok() ? Status::OK() : r.status();
}

void ExpectError(const Status& st, const std::string& needle) {
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(needle), std::string::npos) << "message: " << st.message() << "\nexpected to contain: " << needle;
}

TEST(SafetensorsReader, ReadsHandMadeFile) {
  TempDir dir;
  float v[3] = {1.5f, -2.f, 3.25f};
  std::string data(reinterpret_cast<const char*>(v), sizeof(v));
  data += std::string("\x01\x00\x07", 3);  // bool: non-zero bytes read as true
  auto r = LoadSafetensors(Write(dir, "a.st", Make(
      R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"BOOL","shape":[3],"data_offsets":[12,15]},)"
      R"("__metadata__":{"k":"v"}})", data)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_TRUE(r->at("x").equal(at::tensor({1.5f, -2.f, 3.25f})));
  EXPECT_EQ(r->at("b").scalar_type(), at::kBool);
  EXPECT_EQ(r->at("b").sum().item<int64_t>(), 2);
  EXPECT_TRUE(r->at("b")[2].item<bool>());
}

TEST(SafetensorsReader, ScalarAndEmptyTensors) {
  TempDir dir;
  double d = 0.25;
  auto r = LoadSafetensors(Write(dir, "a.st", Make(
      R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0,4],"data_offsets":[8,8]}})",
      std::string(reinterpret_cast<const char*>(&d), 8))));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("s").dim(), 0);
  EXPECT_EQ(r->at("s").item<double>(), 0.25);
  EXPECT_EQ(r->at("e").sizes().vec(), (std::vector<int64_t>{0, 4}));
}

TEST(SafetensorsReader, MissingFileIsNotFound) {
  auto r = LoadSafetensors("/nonexistent/dir/x.safetensors");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("/nonexistent/dir/x.safetensors"), std::string::npos);
}

TEST(SafetensorsReader, TruncatedFiles) {
  TempDir dir;
  const std::string good = Make(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
  ASSERT_TRUE(LoadStatus(dir, good).ok());
  ExpectError(LoadStatus(dir, ""), "shorter than the 8-byte header length");
  ExpectError(LoadStatus(dir, good.substr(0, 5)), "shorter than the 8-byte header length");
  ExpectError(LoadStatus(dir, good.substr(0, 20)), "exceeds the");                          // header cut
  ExpectError(LoadStatus(dir, good.substr(0, good.size() - 1)), "exceed the data buffer");  // data cut
}

TEST(SafetensorsReader, HeaderLengthLargerThanFile) {
  TempDir dir;
  ExpectError(LoadStatus(dir, LE64(1000) + "{}"), "header length 1000 exceeds");
  ExpectError(LoadStatus(dir, LE64(~0ull) + "{}"), "exceeds");
}

TEST(SafetensorsReader, BadJson) {
  TempDir dir;
  ExpectError(LoadStatus(dir, Make(R"({"x": {"dtype": "F32", )", "")), "not valid JSON");
  ExpectError(LoadStatus(dir, Make(R"([1,2,3])", "")), "does not start with '{'");
  ExpectError(LoadStatus(dir, Make(R"({"x": 3})", "")), "entry is not an object");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'))), "missing string 'dtype'");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","data_offsets":[0,4]}})", std::string(4, '\0'))), "missing array 'shape'");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", std::string(4, '\0'))),
              "'data_offsets' is not [begin, end]");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0'))),
              "not a non-negative integer");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", std::string(4, '\0'))),
              "not a non-negative integer");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", std::string(4, '\0'))),
              "unsupported dtype 'Q7'");
  ExpectError(LoadStatus(dir, Make(R"({"__metadata__":{"a":1}})", "")), "__metadata__ value of 'a' is not a string");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                   std::string(2, '\0'))),
              "duplicate tensor name 'x'");
  // Deeply nested JSON must not overflow the stack: the depth limit names the path.
  ExpectError(LoadStatus(dir, Make("{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}", "")),
              "nested deeper than 512 levels at x[0]");
}

TEST(SafetensorsReader, OffsetsOutOfRange) {
  TempDir dir;
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})", std::string(8, '\0'))),
              "exceed the data buffer of 8 bytes");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, '\0'))),
              "end before they begin");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", std::string(8, '\0'))),
              "not non-negative integers");
}

TEST(SafetensorsReader, OverlapsHolesAndTrailingBytes) {
  TempDir dir;
  ExpectError(LoadStatus(dir, Make(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                   std::string(12, '\0'))),
              "overlap");
  ExpectError(LoadStatus(dir, Make(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                   std::string(12, '\0'))),
              "hole in the data buffer");
  ExpectError(LoadStatus(dir, Make(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(12, '\0'))),
              "8 trailing bytes");
}

TEST(SafetensorsReader, ShapeDtypeMismatch) {
  TempDir dir;
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'))),
              "span 8 bytes but dtype F32 x shape [3] needs 12");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,4]}})", std::string(4, '\0'))),
              "needs 8");
}

TEST(SafetensorsReader, HugeDeclaredSizes) {
  TempDir dir;
  // numel overflows uint64.
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}})",
                                   std::string(4, '\0'))),
              "overflows");
  // numel fits, bytes overflow.
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})",
                                   std::string(4, '\0'))),
              "overflows");
  // Consistent but enormous range: rejected against the file size, nothing allocated.
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"U8","shape":[1000000000000],"data_offsets":[0,1000000000000]}})",
                                   std::string(4, '\0'))),
              "exceed the data buffer");
  ExpectError(LoadStatus(dir, Make(R"({"x":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551615,0]}})", "")),
              "end before they begin");
}

// ---- writer round trip -----------------------------------------------------------------------

TEST(SafetensorsWriter, RoundTripsEveryDtype) {
  TempDir dir;
  TensorMap in;
  in["f32"] = at::randn({3, 4});
  in["f64"] = at::randn({2}, at::kDouble);
  in["f16"] = at::randn({5, 1}).to(at::kHalf);
  in["bf16"] = at::randn({2, 3}).to(at::kBFloat16);
  in["i64"] = at::arange(-5, 5, at::kLong);
  in["i32"] = at::arange(-3, 3, at::kInt);
  in["i16"] = at::arange(-3, 3, at::kShort);
  in["i8"] = at::arange(-3, 3, at::kChar);
  in["u8"] = at::arange(0, 255, at::kByte);
  in["bool"] = at::tensor({1, 0, 1}).to(at::kBool);
  in["scalar"] = at::scalar_tensor(7.0);
  in["empty"] = at::zeros({0, 3});
  in["nested.name.weight"] = at::randn({4, 3}).t();  // non-contiguous
  const std::string path = dir.Join("rt.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, in, {{"source", "test"}, {"model", "none"}}).ok());
  auto out = LoadSafetensors(path);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), in.size());
  for (const auto& [name, t] : in) {
    ASSERT_TRUE(out->count(name)) << name;
    const at::Tensor& u = out->at(name);
    EXPECT_EQ(u.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(u.sizes(), t.sizes()) << name;
    EXPECT_TRUE(u.equal(t)) << name;
  }
  auto meta = ReadSafetensorsMetadata(path);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->at("source"), "test");
  EXPECT_EQ(meta->at("model"), "none");
  // The header is padded to 8 bytes, so the data buffer is 8-byte aligned.
  std::ifstream f(path, std::ios::binary);
  unsigned char len[8];
  f.read(reinterpret_cast<char*>(len), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  EXPECT_EQ(n % 8, 0u);
}

TEST(SafetensorsWriter, RejectsBadNames) {
  TempDir dir;
  EXPECT_FALSE(SaveSafetensors(dir.Join("a"), {{"", at::zeros({1})}}).ok());
  EXPECT_FALSE(SaveSafetensors(dir.Join("b"), {{"__metadata__", at::zeros({1})}}).ok());
  EXPECT_FALSE(SaveSafetensors(dir.Join("c"), {{"u", at::Tensor()}}).ok());
}

TEST(SafetensorsWriter, WidenedUnsignedReadBack) {
  TempDir dir;
  uint16_t a[2] = {65535, 1};
  uint32_t b[1] = {4294967295u};
  std::string data(reinterpret_cast<const char*>(a), 4);
  data.append(reinterpret_cast<const char*>(b), 4);
  auto r = LoadSafetensors(Write(dir, "u.st", Make(
      R"({"a":{"dtype":"U16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"U32","shape":[1],"data_offsets":[4,8]}})", data)));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->at("a").scalar_type(), at::kInt);
  EXPECT_EQ(r->at("a")[0].item<int32_t>(), 65535);
  EXPECT_EQ(r->at("b").scalar_type(), at::kLong);
  EXPECT_EQ(r->at("b")[0].item<int64_t>(), 4294967295ll);
}

}  // namespace
}  // namespace vq2d
