// Minimal read-only ZIP reader for PyTorch checkpoints (internal, torch-free).
// torch.save writes "stored" (uncompressed) entries, 64-byte aligned, with ZIP64 records when
// needed; this reader supports exactly that and treats the file as hostile: every offset and
// length is bounds- and overflow-checked against the mapping before use, and CRC-32 is verified
// on every read. Compressed or encrypted entries are listed but refused when read.
// Thread-safety: immutable after Open; Read may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/checkpoint/mapped_file.h"

namespace vq2d::checkpoint_internal {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 = stored
  uint16_t flags = 0;
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t data_offset = 0;  // absolute offset of the entry's bytes in the file (validated)
};

class ZipReader {
 public:
  // Parses the end-of-central-directory record(s) and the central directory.
  static Result<std::unique_ptr<ZipReader>> Open(std::shared_ptr<const MappedFile> file);

  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  const ZipEntry* Find(const std::string& name) const;
  // The entry's bytes (a view into the mapping, valid while this reader lives), CRC-checked.
  Result<std::string_view> Read(const ZipEntry& entry) const;
  const std::string& path() const { return file_->path(); }

 private:
  explicit ZipReader(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  Status Parse();
  std::shared_ptr<const MappedFile> file_;
  std::map<std::string, ZipEntry> entries_;
};

// CRC-32 (IEEE, as in ZIP).
uint32_t Crc32(const uint8_t* data, uint64_t size);

}  // namespace vq2d::checkpoint_internal
