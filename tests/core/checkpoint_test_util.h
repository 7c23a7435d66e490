// Test-only builders for hand-made PyTorch checkpoints: a pickle byte builder and a stored-zip
// writer, so the reader can be tested on exact byte sequences (including malicious ones).
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint/zip_reader.h"

namespace vq2d::testing {

// Appends pickle opcodes.
class Pickle {
 public:
  Pickle() { b_ = std::string("\x80\x02", 2); }
  explicit Pickle(int proto) { b_ = std::string("\x80", 1) + static_cast<char>(proto); }
  Pickle& Op(char c) { b_.push_back(c); return *this; }
  Pickle& Raw(const std::string& s) { b_ += s; return *this; }
  Pickle& Str(const std::string& s) { Op('X'); U32(static_cast<uint32_t>(s.size())); b_ += s; return *this; }
  Pickle& Int(int32_t v) { Op('J'); U32(static_cast<uint32_t>(v)); return *this; }
  Pickle& Global(const std::string& module, const std::string& name) { Op('c'); b_ += module + "\n" + name + "\n"; return *this; }
  Pickle& Mark() { return Op('('); }
  Pickle& Tuple() { return Op('t'); }
  Pickle& EmptyTuple() { return Op(')'); }
  Pickle& Reduce() { return Op('R'); }
  Pickle& EmptyDict() { return Op('}'); }
  Pickle& SetItems() { return Op('u'); }
  Pickle& False() { return Op('\x89'); }
  Pickle& Stop() { return Op('.'); }
  Pickle& IntTuple(const std::vector<int64_t>& v) {
    Mark();
    for (int64_t x : v) Long(x);
    return Tuple();
  }
  Pickle& Long(int64_t v) {  // LONG1 with 8 bytes: any int64
    Op('\x8a');
    b_.push_back(8);
    for (int i = 0; i < 8; ++i) b_.push_back(static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xFF));
    return *this;
  }
  Pickle& OrderedDict() { return Global("collections", "OrderedDict").EmptyTuple().Reduce(); }
  // Pushes torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
  Pickle& Tensor(const std::string& storage_type, const std::string& key, int64_t numel, int64_t offset,
                 const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    Global("torch._utils", "_rebuild_tensor_v2");
    Mark();
    Mark().Str("storage").Global("torch", storage_type).Str(key).Str("cpu").Long(numel).Tuple().Op('Q');
    Long(offset).IntTuple(size).IntTuple(stride).False().OrderedDict();
    Tuple().Reduce();
    return *this;
  }
  const std::string& bytes() const { return b_; }

 private:
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  std::string b_;
};

inline void PutLE(std::string* s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// A stored (uncompressed) zip archive like torch.save writes (without the 64-byte alignment).
// zip64: every size/offset saturated at 0xFFFFFFFF with ZIP64 extra fields and end records.
inline std::string MakeZip(const std::vector<std::pair<std::string, std::string>>& entries, uint16_t method = 0,
                           bool zip64 = false) {
  const uint64_t sat = 0xFFFFFFFFu;
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    const uint64_t local = out.size();
    const uint32_t crc = checkpoint_internal::Crc32(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    PutLE(&out, 0x04034b50, 4);
    PutLE(&out, 45, 2);
    PutLE(&out, 0, 2);
    PutLE(&out, method, 2);
    PutLE(&out, 0, 4);  // time, date
    PutLE(&out, crc, 4);
    PutLE(&out, zip64 ? sat : data.size(), 4);
    PutLE(&out, zip64 ? sat : data.size(), 4);
    PutLE(&out, name.size(), 2);
    PutLE(&out, zip64 ? 20 : 0, 2);
    out += name;
    if (zip64) {
      PutLE(&out, 0x0001, 2);
      PutLE(&out, 16, 2);
      PutLE(&out, data.size(), 8);
      PutLE(&out, data.size(), 8);
    }
    out += data;
    PutLE(&cd, 0x02014b50, 4);
    PutLE(&cd, 45, 2);
    PutLE(&cd, 45, 2);
    PutLE(&cd, 0, 2);
    PutLE(&cd, method, 2);
    PutLE(&cd, 0, 4);
    PutLE(&cd, crc, 4);
    PutLE(&cd, zip64 ? sat : data.size(), 4);
    PutLE(&cd, zip64 ? sat : data.size(), 4);
    PutLE(&cd, name.size(), 2);
    PutLE(&cd, zip64 ? 28 : 0, 2);
    PutLE(&cd, 0, 2);
    PutLE(&cd, 0, 2);
    PutLE(&cd, 0, 2);
    PutLE(&cd, 0, 4);
    PutLE(&cd, zip64 ? sat : local, 4);
    cd += name;
    if (zip64) {
      PutLE(&cd, 0x0001, 2);
      PutLE(&cd, 24, 2);
      PutLE(&cd, data.size(), 8);  // uncompressed, compressed, local header offset
      PutLE(&cd, data.size(), 8);
      PutLE(&cd, local, 8);
    }
  }
  const uint64_t cd_offset = out.size();
  out += cd;
  if (zip64) {
    const uint64_t z = out.size();
    PutLE(&out, 0x06064b50, 4);
    PutLE(&out, 44, 8);
    PutLE(&out, 45, 2);
    PutLE(&out, 45, 2);
    PutLE(&out, 0, 4);
    PutLE(&out, 0, 4);
    PutLE(&out, entries.size(), 8);
    PutLE(&out, entries.size(), 8);
    PutLE(&out, cd.size(), 8);
    PutLE(&out, cd_offset, 8);
    PutLE(&out, 0x07064b50, 4);
    PutLE(&out, 0, 4);
    PutLE(&out, z, 8);
    PutLE(&out, 1, 4);
  }
  PutLE(&out, 0x06054b50, 4);
  PutLE(&out, 0, 4);
  PutLE(&out, zip64 ? 0xFFFF : entries.size(), 2);
  PutLE(&out, zip64 ? 0xFFFF : entries.size(), 2);
  PutLE(&out, zip64 ? sat : cd.size(), 4);
  PutLE(&out, zip64 ? sat : cd_offset, 4);
  PutLE(&out, 0, 2);
  return out;
}

// A torch.save-like archive "archive/{data.pkl, version, data/<key>...}".
// extra: more records, e.g. torch 2.x's "archive/byteorder" and "archive/.data/serialization_id".
inline std::string MakeCheckpoint(const std::string& pickle, const std::map<std::string, std::string>& storages,
                                  bool zip64 = false, const std::map<std::string, std::string>& extra = {}) {
  std::vector<std::pair<std::string, std::string>> entries{{"archive/data.pkl", pickle}};
  for (const auto& [k, v] : storages) entries.emplace_back("archive/data/" + k, v);
  entries.emplace_back("archive/version", "3\n");
  for (const auto& [k, v] : extra) entries.emplace_back(k, v);
  return MakeZip(entries, 0, zip64);
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

inline std::string WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

inline std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

}  // namespace vq2d::testing
