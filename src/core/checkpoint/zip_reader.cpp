#include "core/checkpoint/zip_reader.h"

#include <array>
#include <cstdint>

namespace vq2d::checkpoint_internal {
namespace {

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint64_t kEocdSize = 22;
constexpr uint64_t kCentralSize = 46;
constexpr uint64_t kLocalSize = 30;

struct Crc32Tables {
  std::array<std::array<uint32_t, 256>, 8> t{};
  Crc32Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

}  // namespace

uint32_t Crc32(const uint8_t* p, uint64_t n) {
  static const Crc32Tables tables;
  const auto& t = tables.t;
  uint32_t c = 0xFFFFFFFFu;
  while (n >= 8) {  // slicing-by-8
    uint32_t lo = ReadLE32(p) ^ c;
    uint32_t hi = ReadLE32(p + 4);
    c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^ t[3][hi & 0xFF] ^
        t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

Result<std::unique_ptr<ZipReader>> ZipReader::Open(std::shared_ptr<const MappedFile> file) {
  std::unique_ptr<ZipReader> r(new ZipReader(std::move(file)));
  VQ2D_RETURN_IF_ERROR(r->Parse());
  return r;
}

const ZipEntry* ZipReader::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

Status ZipReader::Parse() {
  const uint8_t* d = file_->data();
  const uint64_t size = file_->size();
  auto bad = [&](const std::string& what) {
    return Status::Corruption(StrCat("zip archive '", file_->path(), "': ", what));
  };
  // in-bounds test for [off, off + len)
  auto in = [&](uint64_t off, uint64_t len) { return off <= size && len <= size - off; };

  if (size < kEocdSize) return bad(StrCat("file is ", size, " bytes, too short for a zip archive (truncated?)"));
  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = size > kEocdSize + 0xFFFF ? size - kEocdSize - 0xFFFF : 0;
  for (uint64_t pos = size - kEocdSize + 1; pos-- > lowest;) {
    if (ReadLE32(d + pos) == kEocdSig && pos + kEocdSize + ReadLE16(d + pos + 20) <= size) {
      eocd = pos;
      break;
    }
  }
  if (eocd == UINT64_MAX) return bad("no end-of-central-directory record (truncated or not a zip file)");
  uint64_t count = ReadLE16(d + eocd + 10);
  uint64_t cd_size = ReadLE32(d + eocd + 12);
  uint64_t cd_offset = ReadLE32(d + eocd + 16);
  if (ReadLE16(d + eocd + 4) != 0 || ReadLE16(d + eocd + 6) != 0) return bad("multi-disk archives are not supported");
  if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF) {
    if (eocd < 20 || ReadLE32(d + eocd - 20) != kZip64LocatorSig) return bad("ZIP64 locator missing");
    const uint64_t locator = eocd - 20;
    const uint64_t z = ReadLE64(d + locator + 8);
    if (!in(z, 56) || z + 56 > locator || ReadLE32(d + z) != kZip64EocdSig) {
      return bad("ZIP64 end-of-central-directory record out of bounds");
    }
    // Every field is checked as PyTorch's reader (miniz) and Python's zipfile do.
    const uint64_t record_size = ReadLE64(d + z + 4);  // excludes the signature and this field
    if (record_size < 44 || record_size > locator - z - 12) {
      return bad(StrCat("ZIP64 end-of-central-directory record size ", record_size, " is corrupt (expected 44..",
                        locator - z - 12, ")"));
    }
    if (ReadLE32(d + locator + 4) != 0 || ReadLE32(d + locator + 16) != 1) {
      return bad("ZIP64 locator names several disks (corrupt, or a multi-disk archive, which is not supported)");
    }
    const uint32_t this_disk = ReadLE32(d + z + 16), cd_disk = ReadLE32(d + z + 20);
    if ((this_disk | cd_disk) != 0 && (this_disk != 1 || cd_disk != 1)) {
      return bad(StrCat("ZIP64 end-of-central-directory record names disks ", this_disk, " and ", cd_disk,
                        " (corrupt, or a multi-disk archive, which is not supported)"));
    }
    const uint64_t on_this_disk = ReadLE64(d + z + 24);
    count = ReadLE64(d + z + 32);
    cd_size = ReadLE64(d + z + 40);
    cd_offset = ReadLE64(d + z + 48);
    if (on_this_disk != count) {
      return bad(StrCat("ZIP64 end-of-central-directory record: ", on_this_disk, " entries on this disk but ", count,
                        " in total (corrupt)"));
    }
    if (count > UINT32_MAX || cd_size > UINT32_MAX) {
      return bad(StrCat("ZIP64 end-of-central-directory record claims ", count, " entries in ", cd_size,
                        " bytes (corrupt; PyTorch's reader supports up to 2^32 - 1)"));
    }
  }
  if (!in(cd_offset, cd_size)) {
    return bad(StrCat("central directory [", cd_offset, ", +", cd_size, ") lies outside the ", size, "-byte file"));
  }
  if (count > cd_size / kCentralSize) return bad(StrCat("central directory claims ", count, " entries in ", cd_size, " bytes"));

  uint64_t pos = cd_offset;
  const uint64_t cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (pos > cd_end || cd_end - pos < kCentralSize || ReadLE32(d + pos) != kCentralSig) {
      return bad(StrCat("central directory entry ", i, " is corrupt"));
    }
    ZipEntry e;
    e.flags = ReadLE16(d + pos + 8);
    e.method = ReadLE16(d + pos + 10);
    e.crc32 = ReadLE32(d + pos + 16);
    e.compressed_size = ReadLE32(d + pos + 20);
    e.size = ReadLE32(d + pos + 24);
    const uint64_t name_len = ReadLE16(d + pos + 28);
    const uint64_t extra_len = ReadLE16(d + pos + 30);
    const uint64_t comment_len = ReadLE16(d + pos + 32);
    uint64_t local = ReadLE32(d + pos + 42);
    const uint64_t var_len = name_len + extra_len + comment_len;
    if (cd_end - pos - kCentralSize < var_len) return bad(StrCat("central directory entry ", i, " overruns the directory"));
    e.name.assign(reinterpret_cast<const char*>(d + pos + kCentralSize), name_len);
    // ZIP64 extended information: 8-byte values for the fields saturated at 0xFFFFFFFF, in order.
    const uint8_t* x = d + pos + kCentralSize + name_len;
    const uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = ReadLE16(x);
      const uint16_t len = ReadLE16(x + 2);
      if (static_cast<uint64_t>(x_end - x - 4) < len) return bad(StrCat("entry '", e.name, "' has a corrupt extra field"));
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        const uint8_t* f_end = f + len;
        for (uint64_t* field : {&e.size, &e.compressed_size, &local}) {
          if (*field != 0xFFFFFFFF) continue;
          if (f_end - f < 8) return bad(StrCat("entry '", e.name, "' has a truncated ZIP64 field"));
          *field = ReadLE64(f);
          f += 8;
        }
      }
      x += 4 + len;
    }
    pos += kCentralSize + var_len;

    if (!in(local, kLocalSize) || ReadLE32(d + local) != kLocalSig) {
      return bad(StrCat("entry '", e.name, "': local header at ", local, " is missing or out of bounds"));
    }
    const uint64_t lname = ReadLE16(d + local + 26);
    const uint64_t lextra = ReadLE16(d + local + 28);
    e.data_offset = local + kLocalSize + lname + lextra;
    if (!in(local + kLocalSize, lname) ||
        std::string_view(reinterpret_cast<const char*>(d + local + kLocalSize), lname) != e.name) {
      return bad(StrCat("entry '", e.name, "': local header name does not match the central directory"));
    }
    if (!in(e.data_offset, e.compressed_size)) {
      return bad(StrCat("entry '", e.name, "': data [", e.data_offset, ", +", e.compressed_size, ") lies outside the ", size,
                        "-byte file (truncated?)"));
    }
    if (!entries_.emplace(e.name, e).second) return bad(StrCat("duplicate entry '", e.name, "'"));
  }
  return Status::OK();
}

Result<std::string_view> ZipReader::Read(const ZipEntry& e) const {
  if (e.flags & 1) return Status::Unimplemented(StrCat("zip archive '", path(), "': entry '", e.name, "' is encrypted"));
  if (e.method != 0) {
    return Status::Unimplemented(StrCat("zip archive '", path(), "': entry '", e.name, "' is compressed (method ", e.method,
                                        "); torch.save writes uncompressed archives - re-save the file with torch.save"));
  }
  if (e.compressed_size != e.size) {
    return Status::Corruption(StrCat("zip archive '", path(), "': stored entry '", e.name, "' has compressed size ",
                                     e.compressed_size, " != size ", e.size));
  }
  const uint8_t* p = file_->data() + e.data_offset;  // bounds validated in Parse
  const uint32_t crc = Crc32(p, e.size);
  if (crc != e.crc32) {
    return Status::Corruption(StrCat("zip archive '", path(), "': entry '", e.name, "' fails its CRC-32 check (file corrupt)"));
  }
  return std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(e.size));
}

}  // namespace vq2d::checkpoint_internal
