// Parsed and validated safetensors header (internal). Torch-free apart from the dtype table.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/checkpoint/mapped_file.h"
#include "core/checkpoint/tensor_util.h"

namespace vq2d::checkpoint_internal {

struct SafetensorsEntry {
  std::string name;
  FileDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // absolute file offsets [begin, end)
  uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // sorted by name
  std::map<std::string, std::string> metadata;
};

// Validates the header of `file` (see checkpoint.h for the rules). Errors name the file and entry.
Result<SafetensorsHeader> ParseSafetensorsHeader(const MappedFile& file);

// True when the first bytes look like a safetensors file (header length <= 100 MB, then '{').
bool LooksLikeSafetensors(const MappedFile& file);

}  // namespace vq2d::checkpoint_internal
