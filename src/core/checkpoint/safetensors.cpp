// safetensors reader and writer. Format: huggingface/safetensors (u64 LE header length N, N bytes
// of JSON, then the data buffer; offsets are relative to the data buffer).
#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>

#include "core/checkpoint/safetensors_header.h"
#include "vq2d/core/checkpoint.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/base/json_parse.h"

namespace vq2d {
namespace checkpoint_internal {
namespace {

// Same limit as the reference implementation (MAX_HEADER_SIZE).
constexpr uint64_t kMaxHeaderSize = 100'000'000;

bool ReadNonNegative(const nlohmann::json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer()) {
    int64_t x = v.get<int64_t>();
    if (x < 0) return false;
    *out = static_cast<uint64_t>(x);
    return true;
  }
  return false;
}

}  // namespace

bool LooksLikeSafetensors(const MappedFile& file) {
  if (file.size() < 9) return false;
  // The length is not checked against the file size here, so that a truncated safetensors file
  // is still recognised and gets the parser's precise error.
  uint64_t n = ReadLE64(file.data());
  if (n < 2 || n > kMaxHeaderSize) return false;
  return file.data()[8] == '{';
}

Result<SafetensorsHeader> ParseSafetensorsHeader(const MappedFile& file) {
  const std::string& path = file.path();
  auto bad = [&](const std::string& what) { return Status::Corruption(StrCat("safetensors file '", path, "': ", what)); };
  if (file.size() < 8) return bad(StrCat("file is ", file.size(), " bytes, shorter than the 8-byte header length"));
  const uint64_t n = ReadLE64(file.data());
  if (n > file.size() - 8) {
    return bad(StrCat("header length ", n, " exceeds the ", file.size() - 8, " bytes after the length field (truncated file?)"));
  }
  if (n > kMaxHeaderSize) return bad(StrCat("header length ", n, " exceeds the limit of ", kMaxHeaderSize, " bytes"));
  if (n < 2 || file.data()[8] != '{') return bad("header does not start with '{'");
  const char* hdr = reinterpret_cast<const char*>(file.data() + 8);

  // Duplicate top-level keys are an error in the format; nlohmann would silently keep the last.
  // ParseJson is linear in the header (nlohmann's callback parser rescans the top-level object at
  // the end of every entry: quadratic in the tensor count) and depth-limited.
  std::optional<std::string> duplicate;
  JsonParseOptions options;
  options.first_duplicate_top_level_key = &duplicate;
  auto parsed = ParseJson(std::string_view(hdr, n), "header", options);
  if (!parsed.ok()) return bad(StrCat("header is not valid JSON: ", parsed.status().message()));
  const nlohmann::json& j = *parsed;
  if (!j.is_object()) return bad("header is not a JSON object");
  if (duplicate) return bad(StrCat("duplicate tensor name '", *duplicate, "'"));

  const uint64_t data_start = 8 + n;
  const uint64_t data_size = file.size() - data_start;
  SafetensorsHeader out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) return bad("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) return bad(StrCat("__metadata__ value of '", m.key(), "' is not a string"));
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad_entry = [&](const std::string& what) { return bad(StrCat("tensor '", name, "': ", what)); };
    if (!v.is_object()) return bad_entry("entry is not an object");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) return bad_entry("missing string 'dtype'");
    if (sh == v.end() || !sh->is_array()) return bad_entry("missing array 'shape'");
    if (off == v.end() || !off->is_array() || off->size() != 2) return bad_entry("'data_offsets' is not [begin, end]");
    SafetensorsEntry e;
    e.name = name;
    auto fdt = SafetensorsDType(dt->get<std::string>());
    if (!fdt) {
      return bad_entry(StrCat("unsupported dtype '", dt->get<std::string>(), "' (supported: BOOL U8 I8 I16 U16 I32 U32 I64 F16 BF16 F32 F64 C64",
#if TORCH_VERSION_MAJOR >= 2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 1)
                              " F8_E4M3 F8_E5M2",
#endif
                              ")"));
    }
    e.dtype = *fdt;
    uint64_t numel = 1;
    for (const auto& d : *sh) {
      uint64_t dim = 0;
      if (!ReadNonNegative(d, &dim) || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return bad_entry(StrCat("shape ", sh->dump(), " has an entry that is not a non-negative integer"));
      }
      if (MulOverflow(numel, dim, &numel)) return bad_entry(StrCat("shape ", sh->dump(), " overflows"));
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t nbytes = 0;
    if (MulOverflow(numel, e.dtype.itemsize, &nbytes) || nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return bad_entry(StrCat("shape ", sh->dump(), " x ", e.dtype.name, " overflows"));
    }
    uint64_t b = 0, en = 0;
    if (!ReadNonNegative((*off)[0], &b) || !ReadNonNegative((*off)[1], &en)) {
      return bad_entry("'data_offsets' are not non-negative integers");
    }
    if (en < b) return bad_entry(StrCat("data_offsets [", b, ", ", en, "] end before they begin"));
    if (en - b != nbytes) {
      return bad_entry(StrCat("data_offsets [", b, ", ", en, "] span ", en - b, " bytes but dtype ", e.dtype.name, " x shape ",
                              sh->dump(), " needs ", nbytes));
    }
    if (en > data_size) {
      return bad_entry(StrCat("data_offsets [", b, ", ", en, "] exceed the data buffer of ", data_size, " bytes (truncated file?)"));
    }
    e.begin = data_start + b;
    e.end = data_start + en;
    out.entries.push_back(std::move(e));
  }
  // Ranges must tile the data buffer exactly: no overlaps, no holes, no trailing bytes.
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& e : out.entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expect = data_start;
  const SafetensorsEntry* prev = nullptr;
  for (const SafetensorsEntry* e : by_offset) {
    if (e->begin < expect) {
      return bad(StrCat("tensors '", prev ? prev->name : "", "' and '", e->name, "' overlap (data_offsets ", prev->begin - data_start,
                        "..", prev->end - data_start, " and ", e->begin - data_start, "..", e->end - data_start, ")"));
    }
    if (e->begin > expect) {
      return bad(StrCat("hole in the data buffer before tensor '", e->name, "' (bytes ", expect - data_start, "..",
                        e->begin - data_start, " belong to no tensor)"));
    }
    expect = e->end;
    prev = e;
  }
  if (expect != file.size()) {
    return bad(StrCat("data buffer has ", file.size() - expect, " trailing bytes that belong to no tensor"));
  }
  std::sort(out.entries.begin(), out.entries.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) { return a.name < b.name; });
  return out;
}

Result<TensorMap> LoadSafetensorsFiltered(const std::string& path, const std::string& prefix) {
  VQ2D_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  VQ2D_ASSIGN_OR_RETURN(SafetensorsHeader header, ParseSafetensorsHeader(*file));
  TensorMap out;
  for (const auto& e : header.entries) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    auto t = TensorFromBytes(file->data() + e.begin, e.end - e.begin, e.dtype, e.shape);
    if (!t.ok()) return t.status().WithContext(StrCat("safetensors file '", path, "', tensor '", e.name, "'"));
    out.emplace(e.name, std::move(t).value());
  }
  return out;
}

}  // namespace checkpoint_internal

Result<TensorMap> LoadSafetensors(const std::string& path) {
  return checkpoint_internal::LoadSafetensorsFiltered(path, "");
}

Result<std::map<std::string, std::string>> ReadSafetensorsMetadata(const std::string& path) {
  using namespace checkpoint_internal;
  VQ2D_ASSIGN_OR_RETURN(auto file, MappedFile::Open(path));
  VQ2D_ASSIGN_OR_RETURN(SafetensorsHeader header, ParseSafetensorsHeader(*file));
  return header.metadata;
}

Status SaveSafetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  using namespace checkpoint_internal;
  std::string data;
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  Status st = CatchTorch(StrCat("writing safetensors '", path, "'"), [&]() -> Status {
    for (const auto& [name, tensor] : tensors) {
      if (name.empty() || name == "__metadata__") return Status::InvalidArgument(StrCat("invalid tensor name '", name, "'"));
      if (!tensor.defined()) return Status::InvalidArgument(StrCat("tensor '", name, "' is undefined"));
      auto dtype_name = SafetensorsName(tensor.scalar_type());
      if (!dtype_name) {
        return Status::InvalidArgument(StrCat("tensor '", name, "' has dtype ", DTypeName(tensor.scalar_type()),
                                              " which safetensors cannot store"));
      }
      at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
      const uint64_t begin = data.size();
      data.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.nbytes()));
      header[name] = {{"dtype", *dtype_name}, {"shape", t.sizes().vec()}, {"data_offsets", {begin, data.size()}}};
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the reference writer pads to 8-byte alignment
  std::string file;
  file.reserve(8 + h.size() + data.size());
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
  file += h;
  file += data;
  return WriteFileAtomic(FileSystem::Default(), path, file, "safetensors");
}

}  // namespace vq2d
