// PyTorch zip checkpoints (torch.save, torch >= 1.6): archive discovery, flattening, tensor
// materialisation; plus LoadTorchCheckpoint / LoadTensorFile.
#include <ATen/ATen.h>

#include <cstring>
#include <unordered_set>

#include "core/checkpoint/safetensors_header.h"
#include "core/checkpoint/tensor_util.h"
#include "core/checkpoint/torch_archive.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {
namespace checkpoint_internal {

Result<TensorMap> LoadSafetensorsFiltered(const std::string& path, const std::string& prefix);  // safetensors.cpp

namespace {

constexpr int kMaxDepth = 64;

bool StartsWith(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

FileFormat DetectFormat(const MappedFile& file) {
  const uint8_t* d = file.data();
  const uint64_t n = file.size();
  if (n >= 4 && std::memcmp(d, "PK\x03\x04", 4) == 0) return FileFormat::kTorchZip;
  if (n >= 4 && std::memcmp(d, "PK\x05\x06", 4) == 0) return FileFormat::kTorchZip;  // empty zip
  if (LooksLikeSafetensors(file)) return FileFormat::kSafetensors;
  if (n >= 2 && d[0] == 0x80 && d[1] >= 2 && d[1] <= 5) return FileFormat::kLegacyTorch;  // raw pickle stream
  if (n >= 262 && std::memcmp(d + 257, "ustar", 5) == 0) return FileFormat::kLegacyTorch;  // torch < 0.4 tar
  return FileFormat::kUnknown;
}

Status LegacyFormatError(const std::string& path) {
  return Status::Unimplemented(StrCat(
      "'", path, "' uses the legacy (pre-1.6, non-zip) torch.save format, which vq2d does not read. Re-save it once "
      "with PyTorch >= 1.6 (zip format, the default): python -c \"import torch; torch.save(torch.load('", path,
      "', map_location='cpu', weights_only=True), 'resaved.pth')\" (equivalently torch.save(obj, path, "
      "_use_new_zipfile_serialization=True)), then point the config at the new file"));
}

Status UnknownFormatError(const MappedFile& file) {
  return Status::InvalidArgument(StrCat("'", file.path(), "' (", file.size(),
                                        " bytes) is neither a PyTorch zip checkpoint (starts with 'PK\\3\\4') nor a "
                                        "safetensors file (8-byte header length, then '{')"));
}

Result<std::unique_ptr<TorchArchive>> OpenTorchArchive(std::shared_ptr<const MappedFile> file) {
  auto a = std::make_unique<TorchArchive>();
  a->file = file;
  VQ2D_ASSIGN_OR_RETURN(a->zip, ZipReader::Open(file));
  const std::string& path = file->path();
  // torch.save puts every record under one directory: "<dir>/data.pkl", "<dir>/data/<key>".
  std::vector<std::string> dirs;
  bool torchscript = false;
  for (const auto& [name, e] : a->zip->entries()) {
    const size_t slash = name.find('/');
    if (slash == std::string::npos) continue;
    const std::string rest = name.substr(slash + 1);
    if (rest == "data.pkl") dirs.push_back(name.substr(0, slash + 1));
    if (rest == "constants.pkl" || StartsWith(rest, "code/")) torchscript = true;
  }
  if (torchscript) {
    return Status::InvalidArgument(StrCat("'", path, "' is a TorchScript archive (torch.jit.save), not a torch.save "
                                          "checkpoint; save the state dict with torch.save(model.state_dict(), path)"));
  }
  if (dirs.empty()) {
    return Status::InvalidArgument(StrCat("'", path, "' is a zip archive without <dir>/data.pkl: not a torch.save checkpoint"));
  }
  if (dirs.size() > 1) return Status::Corruption(StrCat("'", path, "' has ", dirs.size(), " data.pkl records"));
  a->dir = dirs[0];
  a->facts["archive"] = a->dir.substr(0, a->dir.size() - 1);
  for (const char* rec : {"version", ".data/version", "byteorder"}) {
    if (const ZipEntry* e = a->zip->Find(a->dir + rec)) {
      VQ2D_ASSIGN_OR_RETURN(std::string_view v, a->zip->Read(*e));
      std::string s(v.substr(0, 64));
      while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
      a->facts[rec[0] == '.' ? "data_version" : rec] = s;
    }
  }
  if (a->facts.count("byteorder") && a->facts["byteorder"] != "little") {
    return Status::Unimplemented(StrCat("'", path, "' was written on a '", a->facts["byteorder"],
                                        "'-endian machine; only little-endian checkpoints are supported"));
  }
  const ZipEntry* pkl = a->zip->Find(a->dir + "data.pkl");
  VQ2D_ASSIGN_OR_RETURN(std::string_view bytes, a->zip->Read(*pkl));
  VQ2D_ASSIGN_OR_RETURN(a->root, Unpickle(bytes, &a->arena, StrCat("'", path, "' ", a->dir, "data.pkl")));
  return a;
}

namespace {

struct Flattener {
  const TorchArchive& archive;
  const std::string& prefix;
  std::vector<FlatTensor>* out;
  std::unordered_set<const PyObject*> on_path;
  std::unordered_set<std::string> seen_keys;
  uint64_t budget;

  Status Walk(const PyObject* o, const std::string& key, int depth) {
    if (budget-- == 0) {
      return Status::Corruption(StrCat("'", archive.file->path(), "': object graph too large when flattened (shared containers?)"));
    }
    // Prune subtrees that cannot contain a key starting with the prefix.
    if (!prefix.empty() && !StartsWith(key, prefix) && !StartsWith(prefix, key)) return Status::OK();
    if (o->kind == PyKind::kTensor) {
      if (!StartsWith(key, prefix)) return Status::OK();
      if (!seen_keys.insert(key).second) {
        return Status::Corruption(StrCat("'", archive.file->path(), "': flattened key '", key, "' occurs twice"));
      }
      out->push_back({key, o});
      return Status::OK();
    }
    if (o->kind != PyKind::kDict && o->kind != PyKind::kList && o->kind != PyKind::kTuple) return Status::OK();
    if (depth > kMaxDepth) {
      return Status::Corruption(StrCat("'", archive.file->path(), "': containers nested deeper than ", kMaxDepth, " at '", key, "'"));
    }
    if (!on_path.insert(o).second) {
      return Status::Corruption(StrCat("'", archive.file->path(), "': container at '", key, "' contains itself"));
    }
    auto child_key = [&](const std::string& c) { return key.empty() ? c : key + "." + c; };
    if (o->kind == PyKind::kDict) {
      for (const auto& [k, v] : o->dict) {
        std::string c;
        if (k->kind == PyKind::kString) {
          c = k->str;
        } else if (k->kind == PyKind::kInt) {
          c = std::to_string(k->i);
        } else {
          continue;  // keys that cannot name a tensor (tuples, None, ...)
        }
        VQ2D_RETURN_IF_ERROR(Walk(v, child_key(c), depth + 1));
      }
    } else {
      for (size_t i = 0; i < o->items.size(); ++i) VQ2D_RETURN_IF_ERROR(Walk(o->items[i], child_key(std::to_string(i)), depth + 1));
    }
    on_path.erase(o);
    return Status::OK();
  }
};

}  // namespace

Status FlattenTensors(const TorchArchive& archive, const std::string& prefix, std::vector<FlatTensor>* out) {
  Flattener f{archive, prefix, out, {}, {}, 16 * static_cast<uint64_t>(archive.arena.size()) + 1024};
  return f.Walk(archive.root, "", 0);
}

namespace {

// Record of the tensor's storage; checks its size against the persistent id.
Result<const ZipEntry*> StorageRecord(const TorchArchive& a, const FlatTensor& t) {
  const PyObject* s = t.tensor->storage;
  const std::string rec = a.dir + "data/" + s->storage_key;
  const ZipEntry* e = a.zip->Find(rec);
  if (e == nullptr) {
    return Status::Corruption(StrCat("'", a.file->path(), "': tensor '", t.key, "' uses storage record '", rec,
                                     "', which is missing from the archive"));
  }
  uint64_t nbytes = 0;
  if (MulOverflow(static_cast<uint64_t>(s->numel), s->itemsize, &nbytes) || nbytes != e->size) {
    return Status::Corruption(StrCat("'", a.file->path(), "': tensor '", t.key, "': storage '", rec, "' declares ", s->numel,
                                     " elements of ", s->itemsize, " bytes but the record holds ", e->size, " bytes"));
  }
  return e;
}

}  // namespace

Status ValidateTensor(const TorchArchive& a, const FlatTensor& t) {
  const PyObject* x = t.tensor;
  auto bad = [&](const std::string& what) {
    return Status::Corruption(StrCat("'", a.file->path(), "': tensor '", t.key, "': ", what));
  };
  VQ2D_ASSIGN_OR_RETURN(const ZipEntry* e, StorageRecord(a, t));
  if (x->itemsize == 0 || e->size % x->itemsize != 0) {
    return bad(StrCat("storage of ", e->size, " bytes is not a whole number of ", x->itemsize, "-byte elements"));
  }
  const uint64_t n = e->size / x->itemsize;
  bool empty = false;
  uint64_t last = static_cast<uint64_t>(x->storage_offset);
  for (size_t i = 0; i < x->size.size(); ++i) {
    if (x->size[i] < 0 || x->stride[i] < 0) {
      return bad(StrCat("negative size or stride (size ", ShapeString(x->size), ", stride ", ShapeString(x->stride), ")"));
    }
    if (x->size[i] == 0) empty = true;
  }
  if (empty) return Status::OK();
  for (size_t i = 0; i < x->size.size(); ++i) {
    uint64_t span = 0;
    if (MulOverflow(static_cast<uint64_t>(x->size[i] - 1), static_cast<uint64_t>(x->stride[i]), &span) ||
        AddOverflow(last, span, &last)) {
      return bad(StrCat("size ", ShapeString(x->size), " with stride ", ShapeString(x->stride), " overflows"));
    }
  }
  if (last >= n) {
    return bad(StrCat("view (offset ", x->storage_offset, ", size ", ShapeString(x->size), ", stride ", ShapeString(x->stride),
                      ") reaches element ", last, " of a storage with ", n, " elements"));
  }
  return Status::OK();
}

Result<at::Tensor> MaterializeTensor(const TorchArchive& a, const FlatTensor& t, std::map<std::string, at::Tensor>* cache) {
  VQ2D_RETURN_IF_ERROR(ValidateTensor(a, t));
  const PyObject* x = t.tensor;
  VQ2D_ASSIGN_OR_RETURN(const ZipEntry* e, StorageRecord(a, t));
  const std::string cache_key = StrCat(x->storage->storage_key, "|", static_cast<int>(x->dtype));
  auto it = cache->find(cache_key);
  if (it == cache->end()) {
    VQ2D_ASSIGN_OR_RETURN(std::string_view bytes, a.zip->Read(*e));
    FileDType dt{x->storage->str, x->itemsize, x->dtype, x->dtype};
    auto st = TensorFromBytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), dt,
                              {static_cast<int64_t>(bytes.size() / x->itemsize)});
    if (!st.ok()) return st.status().WithContext(StrCat("'", a.file->path(), "': tensor '", t.key, "'"));
    it = cache->emplace(cache_key, std::move(st).value()).first;
  }
  at::Tensor out;
  Status s = CatchTorch(StrCat("'", a.file->path(), "': tensor '", t.key, "'"), [&]() -> Status {
    out = it->second.as_strided(x->size, x->stride, x->storage_offset);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return out;
}

namespace {

std::string ScalarSummary(const PyObject* o) {
  switch (o->kind) {
    case PyKind::kNone: return "None";
    case PyKind::kBool: return o->b ? "bool True" : "bool False";
    case PyKind::kInt: return StrCat("int ", o->i);
    case PyKind::kFloat: return StrCat("float ", o->f);
    case PyKind::kString: return StrCat("str '", o->str.size() > 60 ? o->str.substr(0, 60) + "..." : o->str, "'");
    case PyKind::kTensor: return StrCat("Tensor ", DTypeName(o->dtype), " ", ShapeString(o->size));
    default: return PyTypeName(o);
  }
}

// `key`: the flattened name of `o` ("" for the root); nullptr when `o` sits under a dict key that
// cannot name tensors (flattening skips it, so it holds none of the listed tensors).
std::string ContainerSummary(const PyObject* o, const std::string* key, const std::vector<FlatTensor>& all) {
  size_t tensors = 0;
  if (key != nullptr) {
    const std::string p = key->empty() ? "" : *key + ".";
    for (const auto& t : all) tensors += StartsWith(t.key, p) ? 1 : 0;
  }
  const size_t n = o->kind == PyKind::kDict ? o->dict.size() : o->items.size();
  return StrCat(PyTypeName(o), " (", n, n == 1 ? " entry" : " entries", ", ", tensors, tensors == 1 ? " tensor)" : " tensors)");
}

bool IsContainer(const PyObject* o) {
  return o->kind == PyKind::kDict || o->kind == PyKind::kList || o->kind == PyKind::kTuple;
}

}  // namespace

std::vector<std::string> DescribeStructure(const TorchArchive& a, const std::vector<FlatTensor>& all) {
  std::vector<std::string> lines;
  const PyObject* root = a.root;
  if (!IsContainer(root)) {
    lines.push_back(ScalarSummary(root));
    return lines;
  }
  const std::string root_key;
  lines.push_back(ContainerSummary(root, &root_key, all));
  constexpr size_t kMaxChildren = 32;
  const size_t n = root->kind == PyKind::kDict ? root->dict.size() : root->items.size();
  bool all_tensors = true;
  for (size_t i = 0; i < n; ++i) {
    const PyObject* v = root->kind == PyKind::kDict ? root->dict[i].second : root->items[i];
    all_tensors = all_tensors && v->kind == PyKind::kTensor;
  }
  if (all_tensors && n > 0) return lines;  // a plain state dict: the tensor list says it all
  for (size_t i = 0; i < n && i < kMaxChildren; ++i) {
    std::string name;
    const PyObject* v;
    if (root->kind == PyKind::kDict) {
      const PyObject* k = root->dict[i].first;
      name = k->kind == PyKind::kString ? StrCat("'", k->str, "'") : ScalarSummary(k);
      const bool named = k->kind == PyKind::kString || k->kind == PyKind::kInt;
      const std::string key = k->kind == PyKind::kString ? k->str : k->kind == PyKind::kInt ? std::to_string(k->i) : "";
      v = root->dict[i].second;
      lines.push_back(StrCat("  ", name, ": ", IsContainer(v) ? ContainerSummary(v, named ? &key : nullptr, all) : ScalarSummary(v)));
    } else {
      v = root->items[i];
      const std::string key = std::to_string(i);
      lines.push_back(StrCat("  [", i, "]: ", IsContainer(v) ? ContainerSummary(v, &key, all) : ScalarSummary(v)));
    }
  }
  if (n > kMaxChildren) lines.push_back(StrCat("  ... and ", n - kMaxChildren, " more entries"));
  return lines;
}

Result<TensorMap> LoadTorchArchive(std::shared_ptr<const MappedFile> file, const std::string& prefix) {
  VQ2D_ASSIGN_OR_RETURN(auto archive, OpenTorchArchive(std::move(file)));
  std::vector<FlatTensor> flat;
  VQ2D_RETURN_IF_ERROR(FlattenTensors(*archive, prefix, &flat));
  std::map<std::string, at::Tensor> cache;
  TensorMap out;
  for (const auto& t : flat) {
    VQ2D_ASSIGN_OR_RETURN(at::Tensor x, MaterializeTensor(*archive, t, &cache));
    out.emplace(t.key, std::move(x));
  }
  return out;
}

}  // namespace checkpoint_internal

Result<TensorMap> LoadTorchCheckpoint(const std::string& path, const std::string& prefix) {
  using namespace checkpoint_internal;
  VQ2D_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  switch (DetectFormat(*file)) {
    case FileFormat::kTorchZip: return LoadTorchArchive(file, prefix);
    case FileFormat::kLegacyTorch: return LegacyFormatError(path);
    case FileFormat::kSafetensors:
      return Status::InvalidArgument(StrCat("'", path, "' is a safetensors file, not a PyTorch checkpoint (use LoadTensorFile)"));
    case FileFormat::kUnknown: break;
  }
  return UnknownFormatError(*file);
}

Result<TensorMap> LoadTensorFile(const std::string& path, const std::string& prefix) {
  using namespace checkpoint_internal;
  VQ2D_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  switch (DetectFormat(*file)) {
    case FileFormat::kTorchZip: return LoadTorchArchive(file, prefix);
    case FileFormat::kSafetensors: return LoadSafetensorsFiltered(path, prefix);
    case FileFormat::kLegacyTorch: return LegacyFormatError(path);
    case FileFormat::kUnknown: break;
  }
  return UnknownFormatError(*file);
}

}  // namespace vq2d
