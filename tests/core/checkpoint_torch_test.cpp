// PyTorch zip checkpoints: every fixture weights.pt (real torch.save output in the official layouts)
// loads; hand-made archives exercise views, dtypes, containers and opaque objects.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>

#include "core/checkpoint_test_util.h"
#include "support/test_support.h"
#include "vq2d/core/checkpoint.h"
#include "vq2d/core/checkpoint_summary.h"

namespace vq2d {
namespace {

using testing::FixtureCases;
using testing::MakeCheckpoint;
using testing::Pickle;
using testing::TempDir;
using testing::WriteBytes;

std::vector<std::string> WeightFiles(const std::string& area) {
  std::vector<std::string> out;
  for (const auto& dir : FixtureCases(area)) {
    if (std::ifstream(dir + "/weights.pt").good()) out.push_back(dir + "/weights.pt");
  }
  return out;
}

void CheckWeightsArea(const std::string& area) {
  ASSERT_FALSE(FixtureCases(area).empty()) << "fixture area '" << area << "' missing under " << testing::FixturesRoot();
  auto files = WeightFiles(area);
  ASSERT_FALSE(files.empty()) << "no weights.pt in area " << area;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    auto r = LoadTorchCheckpoint(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_FALSE(r->empty());
    for (const auto& [k, t] : *r) {
      ASSERT_TRUE(t.defined()) << k;
      EXPECT_EQ(t.device().type(), at::kCPU) << k;
      if (at::isFloatingType(t.scalar_type()) && t.numel() > 0) {
        EXPECT_TRUE(at::isfinite(t).all().item<bool>()) << k;
      }
    }
    // LoadTensorFile dispatches on content to the same reader.
    auto r2 = LoadTensorFile(path);
    ASSERT_TRUE(r2.ok()) << r2.status().ToString();
    EXPECT_EQ(r2->size(), r->size());
    // A prefix load materialises exactly the matching subset, with identical values.
    const std::string first = r->begin()->first;
    const std::string prefix = first.find('.') == std::string::npos ? first : first.substr(0, first.find('.') + 1);
    auto sub = LoadTorchCheckpoint(path, prefix);
    ASSERT_TRUE(sub.ok()) << sub.status().ToString();
    size_t expected = 0;
    for (const auto& [k, t] : *r) {
      if (k.compare(0, prefix.size(), prefix) != 0) continue;
      ++expected;
      ASSERT_TRUE(sub->count(k)) << k;
      EXPECT_TRUE(sub->at(k).equal(t)) << k;
    }
    EXPECT_EQ(sub->size(), expected);
    // The summary lists exactly the loaded tensors.
    auto s = InspectTensorFile(path);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->format, "pytorch-zip");
    ASSERT_EQ(s->tensors.size(), r->size());
    for (const auto& info : s->tensors) {
      ASSERT_TRUE(r->count(info.name)) << info.name;
      EXPECT_EQ(info.shape, r->at(info.name).sizes().vec()) << info.name;
    }
    // case.json may state the number of state-dict keys.
    std::ifstream in(path.substr(0, path.rfind('/')) + "/case.json");
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_discarded() && j.contains("weights") && j["weights"].is_object() && j["weights"].contains("keys") &&
        j["weights"]["keys"].is_number_integer()) {
      EXPECT_EQ(static_cast<int64_t>(r->size()), j["weights"]["keys"].get<int64_t>());
    }
  }
}

TEST(TorchCheckpointFixtures, EveryVitRenWeightsLoads) { CheckWeightsArea("vit_ren"); }
TEST(TorchCheckpointFixtures, EverySam2WeightsLoads) { CheckWeightsArea("sam2"); }

// Official layouts: REN checkpoint.pth keeps the weights under region_encoder_state next to an
// AdamW state whose moments have the parameters' shapes; SAM 2 keeps them under "model".
TEST(TorchCheckpointFixtures, OfficialLayoutsFlattenAsDocumented) {
  int ren = 0, sam = 0;
  for (const std::string area : {"vit_ren", "sam2"}) {
    for (const auto& path : WeightFiles(area)) {
      SCOPED_TRACE(path);
      auto all = LoadTorchCheckpoint(path);
      ASSERT_TRUE(all.ok()) << all.status().ToString();
      if (all->count("best_val_loss")) {
        ++ren;
        EXPECT_EQ(all->at("best_val_loss").dim(), 0);
        auto state = LoadTorchCheckpoint(path, "region_encoder_state.");
        ASSERT_TRUE(state.ok());
        TensorMap sd = SubMap(*state, "region_encoder_state.");
        ASSERT_FALSE(sd.empty());
        EXPECT_TRUE(sd.count("prompt_proj.weight"));
        // optimizer_state.state.<i>.exp_avg follows the parameter order of the state dict.
        std::set<std::vector<int64_t>> param_shapes;
        for (const auto& [k, t] : sd) param_shapes.insert(t.sizes().vec());
        TensorMap opt = SubMap(*all, "optimizer_state.state.");
        ASSERT_FALSE(opt.empty());
        for (const auto& [k, t] : opt) {
          if (k.size() > 8 && k.substr(k.size() - 8) == ".exp_avg") {
            EXPECT_TRUE(param_shapes.count(t.sizes().vec())) << k;
          }
        }
      }
      bool all_model = true;
      for (const auto& [k, t] : *all) all_model = all_model && k.rfind("model.", 0) == 0;
      if (all_model) ++sam;
    }
  }
  EXPECT_GT(ren, 0) << "no REN-layout checkpoint among the fixtures";
  EXPECT_GT(sam, 0) << "no {'model': state_dict} checkpoint among the fixtures";
}

// ---- hand-made archives ------------------------------------------------------------------------

// {"w": [2,3] view, "v": strided view of the same storage, "b": bf16, "h": half, "m": bool,
//  "i": int32, "l": list of two tensors, "o": {7: tensor}} in an OrderedDict with _metadata.
std::string RichCheckpoint() {
  Pickle p;
  p.OrderedDict().Mark();
  p.Str("w").Tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  p.Str("v").Tensor("FloatStorage", "0", 6, 1, {2}, {3});
  p.Str("b").Tensor("BFloat16Storage", "1", 2, 0, {2}, {1});
  p.Str("h").Tensor("HalfStorage", "2", 2, 0, {1, 2}, {2, 1});
  p.Str("m").Tensor("BoolStorage", "3", 3, 0, {3}, {1});
  p.Str("i").Tensor("IntStorage", "4", 2, 0, {2}, {1});
  p.Str("s").Tensor("LongStorage", "5", 1, 0, {}, {});
  p.Str("l").Op(']').Mark().Tensor("FloatStorage", "0", 6, 3, {3}, {1}).Tensor("DoubleStorage", "6", 1, 0, {1}, {1}).Op('e');
  p.Str("o").EmptyDict().Long(7).Tensor("FloatStorage", "0", 6, 0, {3, 2}, {1, 3}).Op('s');
  p.Str("meta").Int(5);
  p.SetItems();
  // BUILD with the OrderedDict's attribute dict {'_metadata': OrderedDict({'': {'version': 1}})}.
  p.EmptyDict().Str("_metadata").OrderedDict().Str("").EmptyDict().Str("version").Int(1).Op('s').Op('s').Op('s').Op('b');
  p.Stop();
  std::vector<float> f{0, 1, 2, 3, 4, 5};
  std::vector<uint16_t> bf{0x3f80, 0xc000};  // 1.0, -2.0
  std::vector<uint16_t> half{0x3c00, 0x4000};  // 1.0, 2.0
  std::string boolean("\x01\x00\x01", 3);
  std::vector<int32_t> i32{-7, 9};
  std::vector<int64_t> i64{1234567890123ll};
  std::vector<double> f64{0.125};
  return MakeCheckpoint(p.bytes(), {{"0", testing::Bytes(f)}, {"1", testing::Bytes(bf)}, {"2", testing::Bytes(half)},
                                    {"3", boolean}, {"4", testing::Bytes(i32)}, {"5", testing::Bytes(i64)},
                                    {"6", testing::Bytes(f64)}});
}

TEST(TorchCheckpointReader, ViewsDtypesAndContainers) {
  TempDir dir;
  const std::string path = WriteBytes(dir.Join("rich.pt"), RichCheckpoint());
  auto r = LoadTorchCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const TensorMap& m = *r;
  std::vector<std::string> keys;
  for (const auto& [k, t] : m) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "h", "i", "l.0", "l.1", "m", "o.7", "s", "v", "w"}));
  EXPECT_TRUE(m.at("w").equal(at::arange(6, at::kFloat).reshape({2, 3})));
  EXPECT_TRUE(m.at("v").equal(at::tensor({1.f, 4.f})));
  EXPECT_EQ(m.at("v").storage_offset(), 1);
  EXPECT_EQ(m.at("v").stride(0), 3);
  EXPECT_TRUE(m.at("o.7").equal(at::arange(6, at::kFloat).reshape({2, 3}).t()));
  EXPECT_TRUE(m.at("l.0").equal(at::tensor({3.f, 4.f, 5.f})));
  EXPECT_EQ(m.at("l.1").scalar_type(), at::kDouble);
  EXPECT_EQ(m.at("l.1").item<double>(), 0.125);
  EXPECT_EQ(m.at("b").scalar_type(), at::kBFloat16);
  EXPECT_TRUE(m.at("b").to(at::kFloat).equal(at::tensor({1.f, -2.f})));
  EXPECT_EQ(m.at("h").scalar_type(), at::kHalf);
  EXPECT_TRUE(m.at("h").to(at::kFloat).equal(at::tensor({1.f, 2.f}).reshape({1, 2})));
  EXPECT_EQ(m.at("m").scalar_type(), at::kBool);
  EXPECT_EQ(m.at("m").sum().item<int64_t>(), 2);
  EXPECT_TRUE(m.at("i").equal(at::tensor({-7, 9}, at::kInt)));
  EXPECT_EQ(m.at("s").dim(), 0);
  EXPECT_EQ(m.at("s").item<int64_t>(), 1234567890123ll);
  // Views of one storage share memory, as with torch.load.
  EXPECT_EQ(m.at("w").data_ptr<float>() + 1, m.at("v").data_ptr<float>());
  // Prefix filter.
  auto sub = LoadTorchCheckpoint(path, "l.");
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->size(), 2u);
}

TEST(TorchCheckpointReader, OptimizerStateAndOpaqueObjectsDoNotBlockWeights) {
  // {"args": argparse.Namespace (NEWOBJ + BUILD), "np": numpy scalar (REDUCE), "set": {1, 2},
  //  "opt": {"state": {0: {"step": 3.0}}, "param_groups": [{"betas": (0.9, 0.999), "params": [0]}]},
  //  "model": {"x": tensor}}
  Pickle p;
  p.EmptyDict().Mark();
  p.Str("args").Global("argparse", "Namespace").EmptyTuple().Op('\x81').EmptyDict().Str("lr").Op('G').Raw(std::string("\x3f\x50\x62\x4d\xd2\xf1\xa9\xfc", 8)).Op('s').Op('b');
  p.Str("np").Global("numpy.core.multiarray", "scalar").Mark().Global("numpy", "dtype").Mark().Str("f8").False().Op('\x88').Tuple().Reduce()
      .Op('C').Raw(std::string("\x08", 1) + std::string(8, '\0')).Tuple().Reduce();
  p.Str("set").Global("builtins", "set").Op(']').Mark().Int(1).Int(2).Op('e').Op('\x85').Reduce();
  p.Str("opt").EmptyDict().Mark().Str("state").EmptyDict().Int(0).EmptyDict().Str("step").Op('G').Raw(std::string("\x40\x08\0\0\0\0\0\0", 8)).Op('s').Op('s');
  p.Str("param_groups").Op(']').EmptyDict().Mark().Str("betas").Op('G').Raw(std::string("\x3f\xec\xcc\xcc\xcc\xcc\xcc\xcd", 8))
      .Op('G').Raw(std::string("\x3f\xef\xf7\xce\xd9\x16\x87\x2b", 8)).Op('\x86').Str("params").Op(']').Int(0).Op('a').SetItems().Op('a');
  p.SetItems();
  p.Str("model").EmptyDict().Str("x").Global("torch._utils", "_rebuild_parameter")
      .Mark().Tensor("FloatStorage", "0", 2, 0, {2}, {1}).Op('\x88').OrderedDict().Tuple().Reduce().Op('s');
  p.SetItems().Stop();
  TempDir dir;
  const std::string path = WriteBytes(dir.Join("opt.pt"), MakeCheckpoint(p.bytes(), {{"0", testing::Bytes(std::vector<float>{5, 6})}}));
  auto r = LoadTorchCheckpoint(path, "model.");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->at("model.x").equal(at::tensor({5.f, 6.f})));
  auto all = LoadTorchCheckpoint(path);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->size(), 1u);
  auto s = InspectTensorFile(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::string joined;
  for (const auto& l : s->structure) joined += l + "\n";
  EXPECT_NE(joined.find("'args': argparse.Namespace"), std::string::npos) << joined;
  EXPECT_NE(joined.find("'opt': dict (2 entries, 0 tensors)"), std::string::npos) << joined;
  EXPECT_NE(joined.find("'model': dict (1 entry, 1 tensor)"), std::string::npos) << joined;
}

TEST(TorchCheckpointReader, Protocol4OpcodesAndTensorV3) {
  // Protocol 4 framing, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE, _rebuild_tensor_v3 on an
  // UntypedStorage with torch.float32, wrapped in _rebuild_from_type_v2(func, torch.Tensor, args, {}).
  Pickle p(4);
  p.Op('\x95').Raw(std::string(8, '\0'));  // FRAME (length is only a hint)
  p.Op('}').Op('\x94');
  auto sbu = [&](const std::string& s) { p.Op('\x8c').Raw(std::string(1, static_cast<char>(s.size())) + s).Op('\x94'); };
  sbu("t");
  sbu("torch._tensor");
  sbu("_rebuild_from_type_v2");
  p.Op('\x93').Op('\x94');
  p.Mark();
  sbu("torch._utils");
  sbu("_rebuild_tensor_v3");
  p.Op('\x93');
  sbu("torch");
  sbu("Tensor");
  p.Op('\x93');
  p.Mark();
  p.Mark().Str("storage").Global("torch", "UntypedStorage").Str("k").Str("cuda:0").Long(8).Tuple().Op('Q');
  p.Long(0).IntTuple({2}).IntTuple({1}).False().OrderedDict().Global("torch", "float32").Tuple();
  p.EmptyDict().Tuple().Reduce();
  p.Op('s').Stop();
  TempDir dir;
  const std::string path = WriteBytes(dir.Join("v3.pt"), MakeCheckpoint(p.bytes(), {{"k", testing::Bytes(std::vector<float>{-1, 2.5})}}));
  auto r = LoadTorchCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->count("t"));
  EXPECT_EQ(r->at("t").scalar_type(), at::kFloat);
  EXPECT_TRUE(r->at("t").equal(at::tensor({-1.f, 2.5f})));
  EXPECT_EQ(r->at("t").device().type(), at::kCPU);  // cuda locations load on CPU
}

// torch 2.x archives: ZIP64 end records and extra fields, byteorder and .data/ records.
TEST(TorchCheckpointReader, Torch2StyleZip64Archive) {
  Pickle p;
  p.OrderedDict().Str("w").Tensor("FloatStorage", "0", 3, 0, {3}, {1}).Op('s').Stop();
  const std::map<std::string, std::string> storage{{"0", testing::Bytes(std::vector<float>{1, 2, 3})}};
  const std::map<std::string, std::string> torch2{{"archive/byteorder", "little"},
                                                  {"archive/.data/version", "3\n"},
                                                  {"archive/.data/serialization_id", "1234567890"}};
  TempDir dir;
  const std::string path = WriteBytes(dir.Join("t2.pt"), MakeCheckpoint(p.bytes(), storage, /*zip64=*/true, torch2));
  auto r = LoadTorchCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->at("w").equal(at::tensor({1.f, 2.f, 3.f})));
  auto s = InspectTensorFile(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->metadata.at("byteorder"), "little");
  EXPECT_EQ(s->metadata.at("data_version"), "3");
  // A big-endian archive is refused clearly.
  auto big = LoadTorchCheckpoint(
      WriteBytes(dir.Join("be.pt"), MakeCheckpoint(p.bytes(), storage, true, {{"archive/byteorder", "big"}})));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("'big'-endian"), std::string::npos) << big.status().message();
}

TEST(TorchCheckpointReader, DictKeysThatCannotNameTensorsAreSkipped) {
  // {"x": tensor, (1, 2): [tensor], None: tensor}
  Pickle p;
  p.EmptyDict().Mark();
  p.Str("x").Tensor("FloatStorage", "0", 2, 0, {2}, {1});
  p.Int(1).Int(2).Op('\x86').Op(']').Tensor("FloatStorage", "0", 2, 0, {1}, {1}).Op('a');
  p.Op('N').Tensor("FloatStorage", "0", 2, 1, {1}, {1});
  p.SetItems().Stop();
  TempDir dir;
  const std::string path = WriteBytes(dir.Join("k.pt"), MakeCheckpoint(p.bytes(), {{"0", testing::Bytes(std::vector<float>{1, 2})}}));
  auto r = LoadTorchCheckpoint(path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->count("x"));
  auto s = InspectTensorFile(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->structure.size(), 4u);
  EXPECT_EQ(s->structure[0], "dict (3 entries, 1 tensor)");
  EXPECT_EQ(s->structure[2], "  tuple: list (1 entry, 0 tensors)");
  EXPECT_EQ(s->structure[3], "  None: Tensor float32 [1]");
}

TEST(TorchCheckpointReader, TopLevelTensorAndEmptyDict) {
  TempDir dir;
  Pickle p;
  p.Tensor("FloatStorage", "0", 1, 0, {}, {}).Stop();
  auto r = LoadTorchCheckpoint(WriteBytes(dir.Join("t.pt"), MakeCheckpoint(p.bytes(), {{"0", std::string(4, '\0')}})));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->count(""));
  Pickle e;
  e.EmptyDict().Stop();
  auto r2 = LoadTorchCheckpoint(WriteBytes(dir.Join("e.pt"), MakeCheckpoint(e.bytes(), {})));
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_TRUE(r2->empty());
}

TEST(TorchCheckpointReader, LoadTensorFileDispatchesOnContentNotExtension) {
  TempDir dir;
  const std::string zip = WriteBytes(dir.Join("really_a_checkpoint.safetensors"), RichCheckpoint());
  auto a = LoadTensorFile(zip, "w");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size(), 1u);
  const std::string st = dir.Join("really_safetensors.pt");
  ASSERT_TRUE(SaveSafetensors(st, {{"a.x", at::ones({2})}, {"b.y", at::zeros({1})}}).ok());
  auto b = LoadTensorFile(st, "a.");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->size(), 1u);
  EXPECT_TRUE(b->count("a.x"));
  auto c = LoadTorchCheckpoint(st);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("safetensors"), std::string::npos);
}

}  // namespace
}  // namespace vq2d
