// SHA-256 (FIPS 180-4), used for output checksums and checkpoint fingerprints.
// Thread-safety: a Sha256 object is used by one thread; the free functions are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "vq2d/base/status.h"

namespace vq2d {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // 64 lowercase hex characters. The object must not be updated afterwards.
  std::string HexDigest();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string Sha256Hex(std::string_view data);
// Streams the file (constant memory): the bytes it has when it is opened.
Result<std::string> Sha256File(const std::string& path);
// The bytes [from, to) of the open file `fd`, read with pread (the file offset is unchanged); `name`
// names the file in errors. A file that ends before `to` is an IOError.
Result<std::string> Sha256OfRange(int fd, uint64_t from, uint64_t to, const std::string& name);

}  // namespace vq2d
