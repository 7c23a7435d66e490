// FaultInjectionFileSystem: an in-memory FileSystem that models what survives a crash (LevelDB's
// fault_injection_test idea). File data survives only up to its last Sync(); directory entries
// (creations, renames, removals) survive only after SyncDir() of their directory. CrashAfter(n)
// makes the n-th following mutating operation fail and every later one too (the process "died");
// SimulateCrash() then turns the durable state into the visible state, as after a power loss.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "vq2d/base/filesystem.h"

namespace vq2d::testing {

class FaultInjectionFileSystem final : public FileSystem {
 public:
  FaultInjectionFileSystem();

  // The n-th mutating operation from now (1 = the next one) fails, and all after it. 0 disables.
  void CrashAfter(int n);
  bool crashed() const;
  int mutating_ops() const;
  // Drops everything not made durable, re-enables operations.
  void SimulateCrash();
  // A full disk: appends to (and creations of) files whose path satisfies `full` fail with the
  // ENOSPC error the real filesystem reports (IOError "...: No space left on device"); the write
  // leaves nothing behind. An empty function clears it.
  void SetNoSpace(std::function<bool(const std::string& path)> full);
  bool NoSpaceFor(const std::string& path) const;

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override;
  bool Exists(const std::string& path) override;
  bool IsDirectory(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  Status CreateDirs(const std::string& dir) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;

  struct Inode {
    std::string data;
    std::string synced;
  };
  // Called by files: counts an operation, false when it must fail.
  bool Tick();
  std::mutex mu;

 private:
  Result<std::unique_ptr<WritableFile>> Open(const std::string& path, bool truncate);
  std::map<std::string, std::shared_ptr<Inode>> live_, durable_;
  std::set<std::string> dirs_;
  std::function<bool(const std::string&)> no_space_;
  int countdown_ = 0;
  int ops_ = 0;
  bool crashed_ = false;
};

}  // namespace vq2d::testing
