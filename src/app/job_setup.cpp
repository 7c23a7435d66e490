#include "app/job_setup.h"

#include <nlohmann/json.hpp>

namespace vq2d::app {

using io::Config;
using runner::CheckSlurmWorldSize;
using runner::Collective;
using runner::LaunchedByMpi;
using runner::MakeLocalCollective;
using runner::MakeMpiCollective;
using runner::RunOptions;

Result<std::unique_ptr<Collective>> MakeJobCollective() {
  if (LaunchedByMpi()) return MakeMpiCollective();
  VQ2D_RETURN_IF_ERROR(CheckSlurmWorldSize(1));
  return MakeLocalCollective();
}

RunOptions RunOptionsFromConfig(const Config& config, const std::string& out_dir, bool retry_failed,
                                bool new_fingerprint_ok) {
  RunOptions o;
  o.out_dir = out_dir;
  o.schedule = config.runner.schedule;
  o.max_attempts = static_cast<int>(config.runner.max_attempts);
  o.progress_interval_s = config.runner.progress_interval_s;
  o.grace_period_s = config.runner.grace_period_s;
  o.min_free_bytes = static_cast<uint64_t>(config.runner.min_free_mb) << 20;
  o.retry_failed = retry_failed;
  o.new_fingerprint_ok = new_fingerprint_ok;
  return o;
}

RunInfo ReadRunInfo(FileSystem* fs, const std::string& run_dir) {
  RunInfo info;
  auto text = fs->ReadFile(JoinPath(run_dir, "run.json"));
  if (!text.ok()) return info;
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("info") || !j["info"].is_object()) return info;
  const auto& i = j["info"];
  auto str = [&](const char* key) { return i.contains(key) && i[key].is_string() ? i[key].get<std::string>() : ""; };
  info.split = str("split");
  info.annotations = str("annotations");
  info.records_dir = str("records_dir");
  info.config_file = str("config_file");
  return info;
}

}  // namespace vq2d::app
