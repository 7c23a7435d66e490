#include "support/test_support.h"

#include <cstdlib>
#include <algorithm>
#include <filesystem>

#include "vq2d/base/check.h"

namespace vq2d::testing {

namespace fs = std::filesystem;

std::string SourceDir() {
  if (const char* s = std::getenv("VQ2D_SOURCE_DIR"); s && *s) return s;
  return VQ2D_SOURCE_DIR_DEFAULT;
}

std::string BinaryDir() {
  if (const char* s = std::getenv("VQ2D_BINARY_DIR"); s && *s) return s;
  return VQ2D_BINARY_DIR_DEFAULT;
}

std::string FixturesRoot() {
  if (const char* s = std::getenv("VQ2D_FIXTURES"); s && *s) return s;
  return (fs::path(SourceDir()) / "tests" / "fixtures").lexically_normal().string();
}

std::vector<std::string> FixtureCases(const std::string& area) {
  std::vector<std::string> out;
  fs::path dir = fs::path(FixturesRoot()) / area;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "vq2d-test-XXXXXX").string();
  char* p = ::mkdtemp(tmpl.data());
  VQ2D_CHECK(p != nullptr) << "mkdtemp failed";
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace vq2d::testing
