#include "support/fault_fs.h"

#include <cerrno>
#include <cstring>

namespace vq2d::testing {
namespace {

class FaultFile final : public WritableFile {
 public:
  FaultFile(FaultInjectionFileSystem* fs, std::shared_ptr<FaultInjectionFileSystem::Inode> inode, std::string path)
      : fs_(fs), inode_(std::move(inode)), path_(std::move(path)) {}
  Status Append(std::string_view data) override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    if (fs_->NoSpaceFor(path_)) return Status::IOError("cannot write '" + path_ + "': " + std::strerror(ENOSPC));
    if (!fs_->Tick()) {
      // A crash mid-write leaves a prefix behind (still unsynced).
      inode_->data.append(data.substr(0, data.size() / 2));
      return Status::IOError("injected crash (append)");
    }
    inode_->data.append(data);
    return Status::OK();
  }
  Status Sync() override {
    std::lock_guard<std::mutex> lock(fs_->mu);
    if (!fs_->Tick()) return Status::IOError("injected crash (sync)");
    inode_->synced = inode_->data;
    return Status::OK();
  }
  Status Close() override { return Status::OK(); }

 private:
  FaultInjectionFileSystem* fs_;
  std::shared_ptr<FaultInjectionFileSystem::Inode> inode_;
  std::string path_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem() { dirs_.insert(""); }

void FaultInjectionFileSystem::CrashAfter(int n) {
  std::lock_guard<std::mutex> lock(mu);
  countdown_ = n;
}

void FaultInjectionFileSystem::SetNoSpace(std::function<bool(const std::string& path)> full) {
  std::lock_guard<std::mutex> lock(mu);
  no_space_ = std::move(full);
}

bool FaultInjectionFileSystem::NoSpaceFor(const std::string& path) const { return no_space_ && no_space_(path); }

bool FaultInjectionFileSystem::crashed() const { return crashed_; }
int FaultInjectionFileSystem::mutating_ops() const { return ops_; }

bool FaultInjectionFileSystem::Tick() {
  ++ops_;
  if (crashed_) return false;
  if (countdown_ > 0 && --countdown_ == 0) {
    crashed_ = true;
    return false;
  }
  return true;
}

void FaultInjectionFileSystem::SimulateCrash() {
  std::lock_guard<std::mutex> lock(mu);
  live_ = durable_;
  for (auto& [path, inode] : live_) inode->data = inode->synced;
  crashed_ = false;
  countdown_ = 0;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::Open(const std::string& path, bool truncate) {
  std::lock_guard<std::mutex> lock(mu);
  if (!Tick()) return Status::IOError("injected crash (open " + path + ")");
  if (!dirs_.count(DirName(path))) return Status::NotFound("no directory for '" + path + "'");
  if (NoSpaceFor(path) && !live_.count(path)) {
    return Status::IOError("cannot create '" + path + "': " + std::strerror(ENOSPC));
  }
  auto& slot = live_[path];
  if (!slot || truncate) {
    slot = std::make_shared<Inode>();  // a new inode, not yet linked durably
  }
  return std::unique_ptr<WritableFile>(new FaultFile(this, slot, path));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewWritableFile(const std::string& path) {
  return Open(path, true);
}
Result<std::unique_ptr<WritableFile>> FaultInjectionFileSystem::NewAppendableFile(const std::string& path) {
  return Open(path, false);
}

Result<std::string> FaultInjectionFileSystem::ReadFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound("no file '" + path + "'");
  return it->second->data;
}

bool FaultInjectionFileSystem::Exists(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  return live_.count(path) || dirs_.count(path);
}

bool FaultInjectionFileSystem::IsDirectory(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  return dirs_.count(path) > 0;
}

Result<uint64_t> FaultInjectionFileSystem::FileSize(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = live_.find(path);
  if (it == live_.end()) return Status::NotFound("no file '" + path + "'");
  return static_cast<uint64_t>(it->second->data.size());
}

Result<std::vector<std::string>> FaultInjectionFileSystem::ListDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu);
  if (!dirs_.count(dir)) return Status::NotFound("no directory '" + dir + "'");
  std::set<std::string> names;
  for (const auto& [path, inode] : live_)
    if (DirName(path) == dir) names.insert(BaseName(path));
  for (const auto& d : dirs_)
    if (!d.empty() && d != dir && DirName(d) == dir) names.insert(BaseName(d));
  return std::vector<std::string>(names.begin(), names.end());
}

Status FaultInjectionFileSystem::CreateDirs(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu);
  // Directories are modelled as always durable (created once at startup in practice).
  std::string d = dir;
  while (!d.empty() && d != "." && d != "/" && !dirs_.count(d)) {
    dirs_.insert(d);
    d = DirName(d);
  }
  return Status::OK();
}

Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> lock(mu);
  if (!Tick()) return Status::IOError("injected crash (rename)");
  auto it = live_.find(from);
  if (it == live_.end()) return Status::NotFound("no file '" + from + "'");
  live_[to] = it->second;
  live_.erase(from);
  return Status::OK();
}

Status FaultInjectionFileSystem::Remove(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu);
  if (!Tick()) return Status::IOError("injected crash (remove)");
  if (!live_.erase(path)) return Status::NotFound("no file '" + path + "'");
  return Status::OK();
}

Status FaultInjectionFileSystem::SyncDir(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu);
  if (!Tick()) return Status::IOError("injected crash (syncdir)");
  for (auto it = durable_.begin(); it != durable_.end();) {
    if (DirName(it->first) == dir && !live_.count(it->first)) it = durable_.erase(it);
    else ++it;
  }
  for (const auto& [path, inode] : live_)
    if (DirName(path) == dir) durable_[path] = inode;
  return Status::OK();
}

}  // namespace vq2d::testing
