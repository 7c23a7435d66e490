// Helpers shared by all test suites. Torch-free.
#pragma once

#include <string>
#include <vector>

namespace vq2d::testing {

// Repository root ($VQ2D_SOURCE_DIR, else the configure-time source dir).
std::string SourceDir();
// Build directory ($VQ2D_BINARY_DIR, else the configure-time build dir).
std::string BinaryDir();
// Fixture root: $VQ2D_FIXTURES, else <repo>/tests/fixtures (the copy the repo carries).
std::string FixturesRoot();
// Absolute paths of every case folder in <fixtures>/<area>/ (sorted). Empty if the area is absent.
std::vector<std::string> FixtureCases(const std::string& area);

// A fresh temporary directory, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vq2d::testing
