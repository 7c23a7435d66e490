// Hostile and damaged checkpoints: every case must give a clear error, never a crash. These tests
// are also run under AddressSanitizer + UBSan (tools/sanitize_core.sh).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "core/checkpoint_test_util.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"
#include "vq2d/core/checkpoint_summary.h"

namespace vq2d {
namespace {

using testing::MakeCheckpoint;
using testing::MakeZip;
using testing::Pickle;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

Status LoadBytes(const TempDir& dir, const std::string& bytes, const std::string& prefix = "") {
  const std::string path = WriteBytes(dir.Join("x.pt"), bytes);
  auto r = LoadTorchCheckpoint(path, prefix);
  auto s = InspectTensorFile(path);
  // Inspect reads no tensor data (so it cannot see CRC damage), but it accepts whatever loads.
  EXPECT_TRUE(!r.ok() || s.ok()) << "inspect fails on a loadable file: " << s.status().ToString();
  return r.ok() ? Status::OK() : r.status();
}

void ExpectError(const Status& st, const std::string& needle) {
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(needle), std::string::npos) << "message: " << st.message() << "\nexpected to contain: " << needle;
}

std::string SmallCheckpoint(bool zip64 = false) {
  Pickle p;
  p.OrderedDict().Mark();
  p.Str("a.weight").Tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.Str("a.bias").Tensor("FloatStorage", "1", 2, 0, {2}, {1});
  p.SetItems().Stop();
  return MakeCheckpoint(p.bytes(),
                        {{"0", testing::Bytes(std::vector<float>{1, 2, 3, 4, 5, 6})}, {"1", testing::Bytes(std::vector<float>{7, 8})}},
                        zip64);
}

std::string FirstFixtureWeights() {
  for (const std::string area : {"vit_ren", "sam2"}) {
    for (const auto& dir : testing::FixtureCases(area)) {
      if (std::ifstream(dir + "/weights.pt").good()) return dir + "/weights.pt";
    }
  }
  return "";
}

TEST(CheckpointRobustness, SmallCheckpointIsValid) {
  TempDir dir;
  EXPECT_TRUE(LoadBytes(dir, SmallCheckpoint()).ok());
  EXPECT_TRUE(LoadBytes(dir, SmallCheckpoint(/*zip64=*/true)).ok());
}

TEST(CheckpointRobustness, ForbiddenGlobalIsRefusedByName) {
  TempDir dir;
  // {"x": os.system("echo pwned")} via GLOBAL.
  Pickle p;
  p.EmptyDict().Str("x").Global("os", "system").Mark().Str("echo pwned").Tuple().Reduce().Op('s').Stop();
  Status st = LoadBytes(dir, MakeCheckpoint(p.bytes(), {}));
  ExpectError(st, "refusing to load global 'os.system' from");
  ExpectError(st, "only tensor and container types are allowed");
  // The same through STACK_GLOBAL (protocol 4).
  Pickle q(4);
  q.Op('\x8c').Raw("\x0asubprocess").Op('\x8c').Raw("\x05Popen").Op('\x93').Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(q.bytes(), {})), "refusing to load global 'subprocess.Popen'");
  // builtins.eval, and a torch function that is not a tensor rebuild.
  Pickle r;
  r.Global("builtins", "eval").Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(r.bytes(), {})), "refusing to load global 'builtins.eval'");
  Pickle t;
  t.Global("torch", "load").Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(t.bytes(), {})), "refusing to load global 'torch.load'");
  // INST / OBJ / EXT opcodes instantiate classes: refused outright.
  ExpectError(LoadBytes(dir, MakeCheckpoint(Pickle().Raw("ios\nsystem\n").bytes(), {})), "not allowed");
  ExpectError(LoadBytes(dir, MakeCheckpoint(Pickle().Op('\x82').Raw("\x01").bytes(), {})), "not allowed");
}

TEST(CheckpointRobustness, LegacyFormatGetsResaveInstructions) {
  TempDir dir;
  // Pre-1.6 torch.save: a raw pickle stream starting with the magic number.
  const std::string legacy("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  const std::string path = WriteBytes(dir.Join("old.pth"), legacy);
  auto r = LoadTorchCheckpoint(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  ExpectError(r.status(), "legacy (pre-1.6, non-zip) torch.save format");
  ExpectError(r.status(), "torch.save(torch.load(");
  EXPECT_FALSE(LoadTensorFile(path).ok());
  EXPECT_FALSE(InspectTensorFile(path).ok());
}

TEST(CheckpointRobustness, WrongMagicAndEmptyFiles) {
  TempDir dir;
  ExpectError(LoadBytes(dir, ""), "neither a PyTorch zip checkpoint");
  ExpectError(LoadBytes(dir, "hello world, not a checkpoint"), "neither a PyTorch zip checkpoint");
  ExpectError(LoadBytes(dir, std::string("PK\x03\x04", 4) + std::string(100, 'x')), "end-of-central-directory");
  ExpectError(LoadBytes(dir, std::string("PK\x03\x04", 4)), "too short");
  // A valid zip that is not a torch.save archive.
  ExpectError(LoadBytes(dir, MakeZip({{"readme.txt", "hi"}})), "without <dir>/data.pkl");
  ExpectError(LoadBytes(dir, MakeZip({{"m/data.pkl", Pickle().Op('N').Stop().bytes()}, {"m/constants.pkl", ""}})),
              "TorchScript archive");
  auto missing = LoadTorchCheckpoint(dir.Join("does_not_exist.pt"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(CheckpointRobustness, TruncatedHandMadeFileAtEveryLength) {
  TempDir dir;
  for (bool zip64 : {false, true}) {
    const std::string good = SmallCheckpoint(zip64);
    for (size_t n = 0; n < good.size(); ++n) {
      Status st = LoadBytes(dir, good.substr(0, n));
      EXPECT_FALSE(st.ok()) << "length " << n << (zip64 ? " (zip64)" : "");
    }
  }
}

TEST(CheckpointRobustness, TruncatedFixtureWeights) {
  const std::string path = FirstFixtureWeights();
  ASSERT_FALSE(path.empty()) << "no fixture weights.pt found under " << testing::FixturesRoot();
  const std::string good = ReadBytes(path);
  TempDir dir;
  for (size_t n : {size_t{1}, size_t{30}, size_t{64}, good.size() / 3, good.size() / 2, good.size() - 100, good.size() - 22,
                   good.size() - 1}) {
    Status st = LoadBytes(dir, good.substr(0, n));
    EXPECT_FALSE(st.ok()) << "length " << n;
    EXPECT_FALSE(st.message().empty());
  }
}

TEST(CheckpointRobustness, CorruptedZipDirectory) {
  TempDir dir;
  const std::string good = SmallCheckpoint();
  const size_t eocd = good.size() - 22;
  const size_t cd_offset = static_cast<uint8_t>(good[eocd + 16]) | (static_cast<uint8_t>(good[eocd + 17]) << 8);
  auto patched = [&](size_t at, const std::string& bytes) {
    std::string s = good;
    s.replace(at, bytes.size(), bytes);
    return s;
  };
  ExpectError(LoadBytes(dir, patched(eocd + 16, std::string("\xff\xff\xff\x7f", 4))), "central directory");
  ExpectError(LoadBytes(dir, patched(eocd + 12, std::string("\xff\xff\xff\x7f", 4))), "central directory");
  ExpectError(LoadBytes(dir, patched(eocd + 10, std::string("\xff\x7f", 2))), "entries");
  ExpectError(LoadBytes(dir, patched(cd_offset, "XXXX")), "central directory entry 0 is corrupt");
  ExpectError(LoadBytes(dir, patched(cd_offset + 42, std::string("\xff\xff\xff\x7f", 4))), "local header");
  ExpectError(LoadBytes(dir, patched(cd_offset + 20, std::string("\xff\xff\xff\x7f", 4))), "lies outside");
  ExpectError(LoadBytes(dir, patched(cd_offset + 28, std::string("\xff\xff", 2))), "overruns");
  ExpectError(LoadBytes(dir, patched(0, "ZZZZ")), "neither a PyTorch zip");
  // Saturated sizes without a ZIP64 locator.
  ExpectError(LoadBytes(dir, patched(eocd + 16, std::string("\xff\xff\xff\xff", 4))), "ZIP64 locator missing");
  // ZIP64 end records pointing outside the file.
  const std::string z = SmallCheckpoint(/*zip64=*/true);
  const size_t z_eocd = z.size() - 22;
  const size_t locator = z_eocd - 20;
  std::string bad_locator = z;
  bad_locator.replace(locator + 8, 8, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8));
  ExpectError(LoadBytes(dir, bad_locator), "ZIP64 end-of-central-directory record out of bounds");
  std::string bad_cd = z;
  const size_t z64 = locator - 56;
  bad_cd.replace(z64 + 48, 8, std::string("\x00\x00\x00\x00\x00\x00\x00\x80", 8));
  ExpectError(LoadBytes(dir, bad_cd), "central directory");
  // Data damage is caught by the CRC.
  std::string flipped = good;
  flipped[good.find("archive/data/0") + 14] ^= 0x01;  // first byte of storage 0
  ExpectError(LoadBytes(dir, flipped), "CRC-32");
  // Compressed entries are refused with a hint.
  ExpectError(LoadBytes(dir, MakeZip({{"archive/data.pkl", Pickle().Op('N').Stop().bytes()}}, /*method=*/8)),
              "compressed (method 8)");
}

TEST(CheckpointRobustness, RandomByteFlipsNeverCrash) {
  TempDir dir;
  std::mt19937 rng(1234);
  int errors = 0;
  for (int iter = 0; iter < 400; ++iter) {
    std::string s = SmallCheckpoint(/*zip64=*/iter % 2 == 1);
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) s[rng() % s.size()] = static_cast<char>(rng() & 0xFF);
    errors += LoadBytes(dir, s).ok() ? 0 : 1;
  }
  EXPECT_GT(errors, 0);
}

TEST(CheckpointRobustness, RandomPickleMutationsNeverCrash) {
  // Mutate data.pkl only (and re-zip, so the CRC passes): exercises the unpickler itself.
  TempDir dir;
  Pickle p;
  p.OrderedDict().Mark();
  p.Str("a").Tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.Str("b").Op(']').Mark().Int(1).Tensor("FloatStorage", "0", 6, 2, {2}, {2}).Op('e');
  p.SetItems().Stop();
  const std::string pkl = p.bytes();
  std::mt19937 rng(99);
  for (int iter = 0; iter < 600; ++iter) {
    std::string s = pkl;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < flips; ++k) s[rng() % s.size()] = static_cast<char>(rng() & 0xFF);
    if (rng() % 4 == 0) s.resize(rng() % s.size());
    // Any outcome is fine (most mutations are errors); the test is that nothing crashes or leaks.
    (void)LoadBytes(dir, MakeCheckpoint(s, {{"0", testing::Bytes(std::vector<float>{1, 2, 3, 4, 5, 6})}}));
  }
}

TEST(CheckpointRobustness, HugeDeclaredSizes) {
  TempDir dir;
  const std::map<std::string, std::string> storage{{"0", std::string(8, '\0')}};
  auto with_tensor = [&](int64_t numel, int64_t offset, std::vector<int64_t> size, std::vector<int64_t> stride) {
    Pickle p;
    p.EmptyDict().Str("t").Tensor("FloatStorage", "0", numel, offset, size, stride).Op('s').Stop();
    return LoadBytes(dir, MakeCheckpoint(p.bytes(), storage));
  };
  ASSERT_TRUE(with_tensor(2, 0, {2}, {1}).ok());
  ExpectError(with_tensor(int64_t{1} << 62, 0, {2}, {1}), "declares 4611686018427387904 elements");
  ExpectError(with_tensor(2, 0, {int64_t{1} << 40, int64_t{1} << 40}, {1, 1}), "reaches element");
  ExpectError(with_tensor(2, 0, {int64_t{1} << 62, 4}, {int64_t{1} << 62, 1}), "overflows");
  ExpectError(with_tensor(2, int64_t{1} << 60, {1}, {1}), "reaches element");
  ExpectError(with_tensor(2, 0, {3}, {1}), "reaches element 2 of a storage with 2 elements");
  ExpectError(with_tensor(2, 0, {-1}, {1}), "negative size or stride");
  ExpectError(with_tensor(2, 0, {2}, {-1}), "negative size or stride");
  ExpectError(with_tensor(-5, 0, {2}, {1}), "invalid element count");
  // Strings, byte strings and big ints longer than the pickle.
  ExpectError(LoadBytes(dir, MakeCheckpoint(Pickle().Op('X').Raw("\xff\xff\xff\xff").bytes(), {})), "truncated pickle");
  ExpectError(LoadBytes(dir, MakeCheckpoint(Pickle().Op('\x8e').Raw(std::string(8, '\xff')).bytes(), {})), "truncated pickle");
  ExpectError(LoadBytes(dir, MakeCheckpoint(Pickle().Op('\x8b').Raw("\xff\xff\xff\x7f").bytes(), {})), "truncated pickle");
  ExpectError(LoadBytes(dir, MakeCheckpoint(Pickle().Op('\x95').Raw("\xff\xff").bytes(), {})), "truncated pickle");
}

TEST(CheckpointRobustness, MissingStorageRecord) {
  TempDir dir;
  Pickle p;
  p.EmptyDict().Str("w").Tensor("FloatStorage", "42", 2, 0, {2}, {1}).Op('s').Stop();
  Status st = LoadBytes(dir, MakeCheckpoint(p.bytes(), {}));
  ExpectError(st, "tensor 'w' uses storage record 'archive/data/42', which is missing from the archive");
  // Only materialised tensors need their storage: a prefix that excludes 'w' loads fine.
  EXPECT_TRUE(LoadTorchCheckpoint(WriteBytes(dir.Join("y.pt"), MakeCheckpoint(p.bytes(), {})), "other.").ok());
  // Storage record of the wrong size.
  ExpectError(LoadBytes(dir, MakeCheckpoint(p.bytes(), {{"42", std::string(4, '\0')}})), "holds 4 bytes");
}

TEST(CheckpointRobustness, MalformedPickles) {
  TempDir dir;
  auto load = [&](const Pickle& p) { return LoadBytes(dir, MakeCheckpoint(p.bytes(), {})); };
  ExpectError(load(Pickle().Op('N')), "no STOP opcode");
  ExpectError(load(Pickle().Stop()), "stack underflow");
  ExpectError(load(Pickle().Op('h').Raw("\x05").Stop()), "memo key 5 was never stored");
  ExpectError(load(Pickle().Op('t')), "MARK missing");
  ExpectError(load(Pickle().Op('N').Op('a').Stop()), "stack underflow");
  ExpectError(load(Pickle().Op(')').Op('N').Op('a').Stop()), "APPEND to a tuple");
  ExpectError(load(Pickle().Op(']').Op('N').Op('N').Op('s').Stop()), "SETITEM on a list");
  ExpectError(load(Pickle(9).Stop()), "unsupported pickle protocol 9");
  ExpectError(load(Pickle().Op('\xff')), "unsupported pickle opcode 0xff");
  ExpectError(load(Pickle().Op('N').Op('Q').Stop()), "persistent id");
  ExpectError(load(Pickle().Op('N').Op(')').Reduce().Stop()), "cannot call a None");
  ExpectError(load(Pickle().Global("torch._utils", "_rebuild_tensor_v2").Mark().Int(1).Int(2).Int(3).Int(4).Tuple().Reduce().Stop()),
              "first argument is not a storage");
  // Text protocol-0 pickles of the same forbidden global.
  ExpectError(load(Pickle(0).Raw("cposix\nsystem\n(S'ls'\ntR.")), "refusing to load global 'posix.system'");
}

TEST(CheckpointRobustness, SelfContainingContainersAndDeepNesting) {
  TempDir dir;
  // l = []; l.append(l); {"l": l}
  Pickle p;
  p.EmptyDict().Str("l").Op(']').Op('q').Raw("\x01").Op('h').Raw("\x01").Op('a').Op('s').Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(p.bytes(), {})), "contains itself");
  // 100 nested lists around a tensor.
  Pickle d;
  for (int i = 0; i < 100; ++i) d.Op(']');
  d.Tensor("FloatStorage", "0", 2, 0, {2}, {1});
  for (int i = 0; i < 100; ++i) d.Op('a');
  d.Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(d.bytes(), {{"0", std::string(8, '\0')}})), "nested deeper than");
  // Exponential fan-out through shared containers.
  Pickle f;
  f.Op(']').Op('q').Raw(std::string(1, '\0'));
  for (int i = 1; i <= 30; ++i) {  // depth 60 (< 64), 2^30 paths
    f.Op(']').Op('h').Raw(std::string(1, static_cast<char>(i - 1))).Op('h').Raw(std::string(1, static_cast<char>(i - 1)));
    f.Op('\x86').Op('a').Op('q').Raw(std::string(1, static_cast<char>(i)));  // l_i = [(l_{i-1}, l_{i-1})]
  }
  f.Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(f.bytes(), {})), "object graph too large when flattened");
}

TEST(CheckpointRobustness, ContainerCopyAmplificationIsRefused) {
  // l = [None] * 100000; then set(l) 2000 times: 2e8 element copies from a ~120 KB pickle.
  TempDir dir;
  Pickle p;
  p.Op(']').Op('q').Raw(std::string(1, '\0')).Mark();
  for (int i = 0; i < 100000; ++i) p.Op('N');
  p.Op('e');
  p.Global("builtins", "set").Op('q').Raw(std::string(1, '\1'));
  for (int i = 0; i < 2000; ++i) p.Op('h').Raw(std::string(1, '\1')).Op('h').Raw(std::string(1, '\0')).Op('\x85').Reduce().Op('0');
  p.Stop();
  ExpectError(LoadBytes(dir, MakeCheckpoint(p.bytes(), {})), "copies containers excessively");
}

TEST(CheckpointRobustness, SafetensorsTruncatedAtEveryLength) {
  TempDir dir;
  const std::string path = dir.Join("a.safetensors");
  ASSERT_TRUE(SaveSafetensors(path, {{"w", at::ones({3, 2})}, {"b", at::zeros({2}, at::kBFloat16)}}, {{"k", "v"}}).ok());
  const std::string good = ReadBytes(path);
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string p = WriteBytes(dir.Join("t.safetensors"), good.substr(0, n));
    EXPECT_FALSE(LoadSafetensors(p).ok()) << n;
    EXPECT_FALSE(LoadTensorFile(p).ok()) << n;
    EXPECT_FALSE(InspectTensorFile(p).ok()) << n;
  }
  // Content detection still recognises a truncated safetensors file and reports why it fails.
  auto r = LoadTensorFile(WriteBytes(dir.Join("cut.pt"), good.substr(0, 20)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("safetensors file"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("truncated file?"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace vq2d
