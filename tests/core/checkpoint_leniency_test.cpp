// Inputs torch.load rejects must be rejected here too (the reader is not more lenient than the
// reference): text INT/FLOAT junk, oversized FRAMEs, unhashable dict keys, unknown storage
// locations and corrupt ZIP64 end records. Also run under ASan/UBSan (tools/sanitize_core.sh).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/checkpoint/pickle.h"
#include "core/checkpoint_test_util.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {
namespace {

using checkpoint_internal::PickleArena;
using checkpoint_internal::PyKind;
using checkpoint_internal::PyObject;
using checkpoint_internal::Unpickle;
using testing::MakeCheckpoint;
using testing::Pickle;
using testing::TempDir;
using testing::WriteBytes;

Result<PyObject*> RunPickle(const Pickle& p, PickleArena* arena) { return Unpickle(p.bytes(), arena, "data.pkl"); }

void ExpectError(const Status& st, const std::string& needle) {
  ASSERT_FALSE(st.ok()) << "accepted; expected an error containing: " << needle;
  EXPECT_NE(st.message().find(needle), std::string::npos) << "message: " << st.message() << "\nexpected: " << needle;
}

Status Err(const Pickle& p) {
  PickleArena arena;
  auto r = RunPickle(p, &arena);
  return r.ok() ? Status::OK() : r.status();
}

TEST(PickleLeniency, IntOpcodeWithTrailingJunkIsAnError) {
  ExpectError(Err(Pickle(0).Raw("I12abc\n.")), "INT opcode with '12abc'");
  ExpectError(Err(Pickle(0).Raw("I\n.")), "INT opcode");
  ExpectError(Err(Pickle(0).Raw("I1__0\n.")), "INT opcode");
  ExpectError(Err(Pickle(0).Raw("L12abcL\n.")), "LONG opcode with '12abc'");
  // What Python accepts still loads: hex, underscores, surrounding blanks, huge values.
  for (const auto& [text, value] : std::vector<std::pair<std::string, int64_t>>{
           {"0x10", 16}, {"1_000", 1000}, {" 7 ", 7}, {"-0b101", -5}, {"010", 8}}) {
    PickleArena arena;
    auto r = RunPickle(Pickle(0).Raw("I" + text + "\n."), &arena);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    ASSERT_EQ((*r)->kind, PyKind::kInt) << text;
    EXPECT_EQ((*r)->i, value) << text;
  }
  PickleArena arena;
  auto big = RunPickle(Pickle(0).Raw("I123456789012345678901234567890\n."), &arena);
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ((*big)->kind, PyKind::kBigInt);
}

TEST(PickleLeniency, FloatOpcodeWithJunkOrOverflowIsAnError) {
  ExpectError(Err(Pickle(0).Raw("Fnan_x\n.")), "FLOAT opcode with 'nan_x'");
  ExpectError(Err(Pickle(0).Raw("F1.5abc\n.")), "FLOAT opcode");
  ExpectError(Err(Pickle(0).Raw("F0x1p3\n.")), "FLOAT opcode");
  ExpectError(Err(Pickle(0).Raw("F 1.5\n.")), "FLOAT opcode");
  ExpectError(Err(Pickle(0).Raw("F1e999\n.")), "FLOAT opcode");
  for (const auto& [text, value] : std::vector<std::pair<std::string, double>>{
           {"1.5", 1.5}, {"-2e3", -2000.0}, {"inf", INFINITY}, {"-Infinity", -INFINITY}}) {
    PickleArena arena;
    auto r = RunPickle(Pickle(0).Raw("F" + text + "\n."), &arena);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ((*r)->f, value) << text;
  }
  PickleArena arena;
  auto nan = RunPickle(Pickle(0).Raw("Fnan\n."), &arena);
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan((*nan)->f));
}

TEST(PickleLeniency, FrameLongerThanTheDataIsAnError) {
  std::string huge(8, '\0');
  huge[7] = 0x40;  // 2^62
  ExpectError(Err(Pickle(4).Op('\x95').Raw(huge).Op('N').Stop()), "FRAME of 4611686018427387904 bytes exceeds");
  std::string two(8, '\0');
  two[0] = 2;  // exactly the two bytes that follow: fine
  PickleArena arena;
  EXPECT_TRUE(RunPickle(Pickle(4).Op('\x95').Raw(two).Op('N').Stop(), &arena).ok());
}

TEST(PickleLeniency, ListAsDictKeyIsAnError) {
  ExpectError(Err(Pickle().EmptyDict().Op(']').Op('N').Op('s').Stop()), "unhashable type 'list' as a dict key");
  ExpectError(Err(Pickle().EmptyDict().Mark().Op(']').Op('N').SetItems().Stop()), "unhashable type 'list'");
  ExpectError(Err(Pickle().EmptyDict().EmptyDict().Op('N').Op('s').Stop()), "unhashable type 'dict'");
}

TEST(PickleLeniency, UnknownStorageLocationIsAnError) {
  TempDir dir;
  auto with_location = [&](const std::string& loc) {
    Pickle p;
    p.OrderedDict().Mark().Str("w");
    p.Global("torch._utils", "_rebuild_tensor_v2").Mark();
    p.Mark().Str("storage").Global("torch", "FloatStorage").Str("0").Str(loc).Long(1).Tuple().Op('Q');
    p.Long(0).IntTuple({1}).IntTuple({1}).False().OrderedDict().Tuple().Reduce();
    p.SetItems().Stop();
    const std::string path = WriteBytes(dir.Join("loc.pt"), MakeCheckpoint(p.bytes(), {{"0", std::string(4, '\0')}}));
    auto r = LoadTorchCheckpoint(path, "");
    return r.ok() ? Status::OK() : r.status();
  };
  ExpectError(with_location("tpu:9"), "location 'tpu:9'");
  ExpectError(with_location("cuda:x"), "location 'cuda:x'");
  ExpectError(with_location(""), "location ''");
  for (const char* ok : {"cpu", "cuda", "cuda:3", "mps", "meta"}) EXPECT_TRUE(with_location(ok).ok()) << ok;
}

TEST(ZipLeniency, CorruptZip64EndOfDirectoryFieldsAreErrors) {
  TempDir dir;
  Pickle p;
  p.OrderedDict().Mark().Str("a").Tensor("FloatStorage", "0", 2, 0, {2}, {1}).SetItems().Stop();
  const std::string good = MakeCheckpoint(p.bytes(), {{"0", std::string(8, '\0')}}, /*zip64=*/true);
  const size_t locator = good.size() - 22 - 20;
  const size_t z = locator - 56;
  auto load = [&](size_t at, uint64_t value, int width) {
    std::string s = good;
    std::string bytes;
    testing::PutLE(&bytes, value, width);
    s.replace(at, bytes.size(), bytes);
    auto r = LoadTorchCheckpoint(WriteBytes(dir.Join("z.pt"), s), "");
    return r.ok() ? Status::OK() : r.status();
  };
  ASSERT_TRUE(load(z + 4, 44, 8).ok());  // unchanged value: loads
  ExpectError(load(z + 4, 12, 8), "record size 12 is corrupt");
  ExpectError(load(z + 4, uint64_t{1} << 62, 8), "record size 4611686018427387904 is corrupt");
  ExpectError(load(z + 16, 3, 4), "names disks 3 and 0");
  ExpectError(load(z + 20, 1, 4), "names disks 0 and 1");
  ExpectError(load(z + 24, 7, 8), "7 entries on this disk but");
  ExpectError(load(z + 32, uint64_t{1} << 40, 8), "entries on this disk but");
  ExpectError(load(locator + 4, 2, 4), "ZIP64 locator names several disks");
  ExpectError(load(locator + 16, 5, 4), "ZIP64 locator names several disks");
  ExpectError(load(z + 40, uint64_t{1} << 40, 8), "");
}

std::string Safetensors(const std::string& header, size_t data_bytes) {
  std::string h = header;
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string out;
  testing::PutLE(&out, h.size(), 8);
  return out + h + std::string(data_bytes, '\0');
}

TEST(SafetensorsHeader, ManyTensorsParseLinearly) {
  // 100,000 tensors: > 15 min with the callback parser (quadratic), well under a second now. No
  // timing assertion: a quadratic regression shows up as this test taking minutes.
  const int n = 100000;
  std::string h = "{";
  for (int i = 0; i < n; ++i) {
    h += StrCat(i ? "," : "", "\"t", i, "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[", i, ",", i + 1, "]}");
  }
  h += "}";
  TempDir dir;
  const std::string path = WriteBytes(dir.Join("many.safetensors"), Safetensors(h, n));
  auto t = LoadSafetensors(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->size(), static_cast<size_t>(n));
  // The duplicate check still sees the last of many names.
  const std::string dup = h.substr(0, h.size() - 1) + ",\"t5\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}";
  auto d = LoadSafetensors(WriteBytes(dir.Join("dup.safetensors"), Safetensors(dup, n)));
  ExpectError(d.ok() ? Status::OK() : d.status(), "duplicate tensor name 't5'");
}

TEST(SafetensorsHeader, DeeplyNestedHeaderIsAnError) {
  TempDir dir;
  const std::string h = "{\"__metadata__\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto r = LoadSafetensors(WriteBytes(dir.Join("deep.safetensors"), Safetensors(h, 0)));
  ExpectError(r.ok() ? Status::OK() : r.status(), "nested deeper than 512 levels at __metadata__");
}

}  // namespace
}  // namespace vq2d
