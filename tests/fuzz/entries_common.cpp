// Helpers shared by every entry point.
#include <unistd.h>

#include <fstream>
#include <string>

#include "fuzz/entries.h"

namespace vq2d::fuzz {

std::string ScratchFile(const std::string& name, const uint8_t* data, size_t size) {
  static const std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  const std::string path = dir + "/vq2d-fuzz-" + std::to_string(::getpid()) + "-" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                  static_cast<std::streamsize>(size));
  return path;
}

}  // namespace vq2d::fuzz
