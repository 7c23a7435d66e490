// A small declarative command-line parser for the vq2d subcommands.
//
//   ArgParser p("vq2d eval", "Evaluates a predictions file with the official Ego4D metrics.");
//   std::string pred; p.AddString("--predictions", &pred, "predictions JSON", /*required=*/true);
//   if (int rc = p.Parse(args); rc >= 0) return rc;   // printed help (0) or an error (2)
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace vq2d::app {

class ArgParser {
 public:
  ArgParser(std::string program, std::string description);

  void AddString(const std::string& flag, std::string* out, const std::string& help, bool required = false);
  void AddInt(const std::string& flag, long long* out, const std::string& help);
  void AddDouble(const std::string& flag, double* out, const std::string& help);
  void AddBool(const std::string& flag, bool* out, const std::string& help);  // presence sets true
  // Repeatable flag; each occurrence appends.
  void AddList(const std::string& flag, std::vector<std::string>* out, const std::string& help);
  // Positional arguments (in order); required ones must come first.
  void AddPositional(const std::string& name, std::string* out, const std::string& help, bool required = true);

  // Returns -1 when parsing succeeded and the command should run; otherwise the exit code to
  // return: 0 after printing --help, 2 after printing a usage error to stderr.
  int Parse(const std::vector<std::string>& args);
  std::string Help() const;

 private:
  struct Option {
    std::string flag;
    std::string help;
    std::string default_text;
    bool takes_value = true;
    bool required = false;
    bool seen = false;
    std::function<bool(const std::string&)> set;  // returns false on a bad value
  };
  Option* Find(const std::string& flag);
  std::string program_, description_;
  std::vector<Option> options_;
  std::vector<Option> positionals_;
};

}  // namespace vq2d::app
