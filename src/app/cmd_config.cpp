#include <cstdio>
#include <cstdlib>

#include "app/args.h"
#include "app/commands.h"
#include "vq2d/base/human.h"
#include "app/vq_processor.h"
#include "vq2d/io/config.h"
#include "vq2d/runner/runner.h"

namespace vq2d::app {

using runner::kExitError;
using runner::kExitOk;
using io::CanonicalConfig;
using io::ConfigKeys;
using io::LoadConfig;

int RunConfig(const Args& args) {
  std::string config_path = "config.yaml";
  std::vector<std::string> sets;
  bool keys = false, skip_run_checks = false;
  ArgParser p("vq2d config",
              "Validates a configuration and prints every key with its effective value (--keys: every key with "
              "its type, default and meaning).");
  p.AddString("--config", &config_path, "configuration file");
  p.AddList("--set", &sets, "override a config key: a.b.c=value");
  p.AddBool("--keys", &keys, "list the schema instead of the effective values");
  p.AddBool("--syntax-only", &skip_run_checks,
            "check only the file and the key values, not what `vq2d run` checks too (files exist, architectures)");
  if (int rc = p.Parse(args); rc >= 0) return rc;
  if (keys) {
    for (const auto& k : ConfigKeys()) {
      // Floats as people read them (the canonical form, e.g. 1.2e+02, is for fingerprints).
      const std::string def =
          k.type == "float" ? HumanNumber(std::strtod(k.default_value.c_str(), nullptr)) : k.default_value;
      std::printf("%-45s %-22s default %s%s\n%47s%s\n", k.key.c_str(), k.type.c_str(), def.c_str(),
                  k.type == "int" || k.type == "list of int"
                      ? StrCat(", range [", static_cast<long long>(k.min), ", ", static_cast<long long>(k.max), "]").c_str()
                      : "",
                  "", k.help.c_str());
    }
    return kExitOk;
  }
  auto config = LoadConfig(config_path, sets);
  if (!config.ok()) {
    std::fprintf(stderr, "vq2d config: %s\n", config.status().ToString().c_str());
    return kExitError;
  }
  // What `vq2d run` checks before loading anything: architectures, pipeline parameters, the split's
  // annotation file and every model file.
  if (!skip_run_checks) {
    if (Status s = ValidateRunConfig(*config); !s.ok()) {
      std::fprintf(stderr, "vq2d config: %s\n", s.ToString().c_str());
      return kExitError;
    }
  }
  std::printf("%s", CanonicalConfig(*config, /*results_only=*/false).c_str());
  return kExitOk;
}

}  // namespace vq2d::app
