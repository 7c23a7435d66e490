// `vq2d bench parse` (the checkpoint half): safetensors header parse and load time vs tensor count.
#include <chrono>
#include <cstdio>
#include <iomanip>

#include "core/checkpoint/mapped_file.h"
#include "core/checkpoint/safetensors_header.h"
#include "vq2d/base/filesystem.h"
#include "vq2d/core/bench.h"
#include "vq2d/core/checkpoint.h"

namespace vq2d {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// n one-element F32 tensors, in the reference writer's layout (8-byte aligned header).
std::string MakeSafetensors(int64_t n) {
  std::string h = "{";
  for (int64_t i = 0; i < n; ++i) {
    h += StrCat(i ? "," : "", "\"layer.", i, ".weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[", 4 * i, ",",
                4 * i + 4, "]}");
  }
  h += "}";
  h.append((8 - h.size() % 8) % 8, ' ');
  std::string file;
  const uint64_t len = h.size();
  for (int b = 0; b < 8; ++b) file.push_back(static_cast<char>((len >> (8 * b)) & 0xFF));
  file += h;
  file.append(static_cast<size_t>(4 * n), '\0');
  return file;
}

}  // namespace

Status BenchSafetensorsParse(const std::vector<int64_t>& tensor_counts, const std::string& dir, std::ostream& out) {
  out << "safetensors: tensors, file MB, header parse s, full load s (LoadSafetensors)\n";
  for (int64_t n : tensor_counts) {
    if (n <= 0) return Status::InvalidArgument(StrCat("bench parse: tensor count ", n, " must be positive"));
    const std::string path = JoinPath(dir, StrCat("bench_", n, ".safetensors"));
    const std::string bytes = MakeSafetensors(n);
    VQ2D_RETURN_IF_ERROR(WriteFileAtomic(FileSystem::Default(), path, bytes, "bench"));
    VQ2D_ASSIGN_OR_RETURN(auto file, checkpoint_internal::MappedFile::Open(path));
    auto t0 = std::chrono::steady_clock::now();
    auto header = checkpoint_internal::ParseSafetensorsHeader(*file);
    const double parse_s = SecondsSince(t0);
    if (!header.ok()) return header.status();
    if (static_cast<int64_t>(header->entries.size()) != n) return Status::Internal("bench parse: wrong tensor count");
    t0 = std::chrono::steady_clock::now();
    auto loaded = LoadSafetensors(path);
    const double load_s = SecondsSince(t0);
    if (!loaded.ok()) return loaded.status();
    file.reset();
    (void)FileSystem::Default()->Remove(path);
    out << "  " << std::setw(9) << n << std::fixed << std::setprecision(1) << std::setw(9)
        << static_cast<double>(bytes.size()) / 1e6 << std::setprecision(3) << std::setw(11) << parse_s << std::setw(11)
        << load_s << "\n";
    out.flush();
  }
  return Status::OK();
}

}  // namespace vq2d
