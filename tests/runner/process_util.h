// Helpers for tests that run real processes (mpirun jobs of fake_vq2d / vq2d).
//
// No subprocess can hang a test: Sh() and Background::Wait() have a hard deadline; past it the
// whole process tree of the command (found through /proc, so it also reaches mpirun's ranks, which
// live in process groups of their own) is SIGKILLed and the test fails naming the command.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace vq2d::testing {

inline std::string FakeVq2d() { return BinaryDir() + "/tests/fake_vq2d"; }
inline std::string Vq2d() { return BinaryDir() + "/vq2d"; }
inline std::string Mpirun(int np) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe -np " + std::to_string(np) + " ";
}

// Default hard limit for one command of a test (generous: a loaded 2-core machine).
constexpr double kCommandTimeoutS = 1200;
// Exit code reported for a command killed at its deadline (as timeout(1) does).
constexpr int kTimedOut = 124;

// Parent pid of `pid` from /proc (-1 when gone).
inline int ParentPidOf(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  int ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

// `root` and every descendant alive now (by /proc parent links).
inline std::vector<int> ProcessTree(int root) {
  std::multimap<int, int> children;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      const int pid = std::atoi(e->d_name);
      if (pid > 0) children.emplace(ParentPidOf(pid), pid);
    }
    closedir(d);
  }
  std::vector<int> tree{root};
  for (size_t i = 0; i < tree.size(); ++i) {
    auto [lo, hi] = children.equal_range(tree[i]);
    for (auto it = lo; it != hi; ++it) tree.push_back(it->second);
  }
  return tree;
}

// SIGKILLs `root`'s whole tree. Stops each process first so that none can fork past the walk.
inline void KillTree(int root) {
  std::vector<int> done;
  for (int pass = 0; pass < 3; ++pass) {
    for (int pid : ProcessTree(root)) {
      kill(pid, SIGSTOP);
      done.push_back(pid);
    }
  }
  for (int pid : done) kill(pid, SIGKILL);
}

// Waits for child `pid` until `seconds` have passed; returns its exit code (128+signal when
// killed), or kTimedOut after SIGKILLing its tree.
inline int WaitChild(pid_t pid, double seconds, bool* timed_out) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  *timed_out = false;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= end) {
      *timed_out = true;
      KillTree(pid);
      waitpid(pid, &status, 0);
      return kTimedOut;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

inline pid_t SpawnShell(const std::string& cmd) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

// Runs `cmd` with /bin/sh; returns the exit code (128+signal when killed). Past `timeout_s` the
// command's tree is killed, the test fails, and kTimedOut is returned.
inline int Sh(const std::string& cmd, double timeout_s = kCommandTimeoutS) {
  bool timed_out = false;
  const int rc = WaitChild(SpawnShell(cmd), timeout_s, &timed_out);
  if (timed_out) ADD_FAILURE() << "command killed after " << timeout_s << " s: " << cmd;
  return rc;
}

// Starts `cmd` in the background (own process group); Wait() returns its exit code. Past its
// deadline (or when destroyed unwaited) the command's tree is killed; a timeout fails the test.
class Background {
 public:
  explicit Background(const std::string& cmd) : cmd_(cmd), pid_(SpawnShell(cmd)) {}
  ~Background() {
    if (pid_ > 0 && !waited_) {
      KillTree(pid_);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }
  int Wait(double timeout_s = kCommandTimeoutS) {
    bool timed_out = false;
    const int rc = WaitChild(pid_, timeout_s, &timed_out);
    waited_ = true;
    if (timed_out) ADD_FAILURE() << "background command killed after " << timeout_s << " s: " << cmd_;
    return rc;
  }

 private:
  std::string cmd_;
  pid_t pid_ = -1;
  bool waited_ = false;
};

inline std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Polls `pred` every 20 ms for up to `seconds`.
template <typename Pred>
bool WaitFor(Pred pred, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace vq2d::testing
