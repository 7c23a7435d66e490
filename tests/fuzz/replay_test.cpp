// Replays every committed fuzz input (seed corpora tests/fuzz/corpus/<target>/ and the inputs that
// once crashed, hung or leaked, tests/fuzz/regressions/<target>/) through the fuzzed entry points
// in the normal build: each must return (a crash fails the whole test binary, a hang the ctest
// timeout). The sanitizer builds (tools/fuzz.sh) replay them too, as part of the corpus.
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/entries.h"

namespace vq2d::fuzz {
namespace {

std::vector<std::string> FilesIn(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name == "." || name == ".." || name == "README.md" || name == ".gitkeep") continue;
      out.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Number of inputs replayed for `target`.
size_t Replay(const std::string& target, void (*entry)(const uint8_t*, size_t)) {
  size_t n = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    for (const auto& path : FilesIn(std::string(VQ2D_FUZZ_DIR) + "/" + kind + "/" + target)) {
      std::ifstream in(path, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(path);
      entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++n;
    }
  }
  return n;
}

TEST(FuzzRegressions, ConfigInputsParseWithoutCrashing) { EXPECT_GT(Replay("config", Config), 0u); }
TEST(FuzzRegressions, AnnotationInputsParseWithoutCrashing) { EXPECT_GT(Replay("annotations", Annotations), 0u); }
TEST(FuzzRegressions, PredictionInputsParseWithoutCrashing) { EXPECT_GT(Replay("predictions", Predictions), 0u); }
TEST(FuzzRegressions, RecordInputsOpenWithoutCrashing) { EXPECT_GT(Replay("record", Record), 0u); }
TEST(FuzzRegressions, SafetensorsInputsLoadWithoutCrashing) { EXPECT_GT(Replay("safetensors", Safetensors), 0u); }
TEST(FuzzRegressions, CheckpointInputsLoadWithoutCrashing) { EXPECT_GT(Replay("checkpoint", Checkpoint), 0u); }

}  // namespace
}  // namespace vq2d::fuzz
