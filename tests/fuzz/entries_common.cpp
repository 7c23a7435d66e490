// Helpers shared by every entry point.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "fuzz/entries.h"

namespace vq2d::fuzz {

std::string ScratchFile(const std::string& name, const uint8_t* data, size_t size) {
  static const std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  // The pid keeps parallel fuzzers apart; padded to a fixed width so that the path, which reaches
  // error messages, has the same length in every process (tools/fuzz.sh's runs are reproducible).
  char pid[16];
  std::snprintf(pid, sizeof pid, "%010ld", static_cast<long>(::getpid()));
  const std::string path = dir + "/vq2d-fuzz-" + pid + "-" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                  static_cast<std::streamsize>(size));
  return path;
}

}  // namespace vq2d::fuzz
