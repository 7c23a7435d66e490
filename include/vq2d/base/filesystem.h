// FileSystem: the seam for every filesystem side effect, modelled on LevelDB's Env, so that crash
// and fault-injection tests can run without real disks. Paths are plain strings ('/'-separated).
//
// Thread-safety: FileSystem implementations are thread-safe. A WritableFile is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vq2d/base/status.h"

namespace vq2d {

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Flushes user-space buffers and fsyncs the file's data to stable storage.
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // The process-wide POSIX filesystem. Never null; not owned by the caller.
  static FileSystem* Default();

  // Creates or truncates `path` for writing.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens `path` for appending, creating it when missing.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // Entry names (not paths) in `dir`, sorted; "." and ".." excluded.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // mkdir -p.
  virtual Status CreateDirs(const std::string& dir) = 0;
  // Atomic replace of `to` (POSIX rename semantics).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // fsyncs the directory itself, making renames and creations inside it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
};

// Crash-safe publication of `data` at `path`: write `path.tmp.<tag>`, fsync, rename over `path`,
// fsync the parent directory. After a crash at any step, `path` holds either its old content or
// `data`, never a mix; a leftover `*.tmp.*` file may remain and is safe to delete.
Status WriteFileAtomic(FileSystem* fs, const std::string& path, std::string_view data,
                       const std::string& tmp_tag);

// True if `name` looks like a temp file left by WriteFileAtomic.
bool IsAtomicWriteTempName(std::string_view name);

// Path helpers.
std::string JoinPath(std::string_view a, std::string_view b);
std::string DirName(std::string_view path);
std::string BaseName(std::string_view path);

}  // namespace vq2d
