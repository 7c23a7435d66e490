#include "app/args.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace vq2d::app {

ArgParser::ArgParser(std::string program, std::string description)
    : program_(std::move(program)), description_(std::move(description)) {}

void ArgParser::AddString(const std::string& flag, std::string* out, const std::string& help, bool required) {
  Option o;
  o.flag = flag;
  o.help = help;
  o.required = required;
  o.default_text = required ? "required" : (out->empty() ? "\"\"" : *out);
  o.set = [out](const std::string& v) { *out = v; return true; };
  options_.push_back(std::move(o));
}

void ArgParser::AddInt(const std::string& flag, long long* out, const std::string& help) {
  Option o;
  o.flag = flag;
  o.help = help;
  o.default_text = std::to_string(*out);
  o.set = [out](const std::string& v) {
    char* end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0') return false;
    *out = x;
    return true;
  };
  options_.push_back(std::move(o));
}

void ArgParser::AddDouble(const std::string& flag, double* out, const std::string& help) {
  Option o;
  o.flag = flag;
  o.help = help;
  std::ostringstream os;
  os << *out;
  o.default_text = os.str();
  o.set = [out](const std::string& v) {
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0') return false;
    *out = x;
    return true;
  };
  options_.push_back(std::move(o));
}

void ArgParser::AddBool(const std::string& flag, bool* out, const std::string& help) {
  Option o;
  o.flag = flag;
  o.help = help;
  o.takes_value = false;
  o.default_text = *out ? "on" : "off";
  o.set = [out](const std::string&) { *out = true; return true; };
  options_.push_back(std::move(o));
}

void ArgParser::AddList(const std::string& flag, std::vector<std::string>* out, const std::string& help) {
  Option o;
  o.flag = flag;
  o.help = help + " (repeatable)";
  o.default_text = "none";
  o.set = [out](const std::string& v) { out->push_back(v); return true; };
  options_.push_back(std::move(o));
}

void ArgParser::AddPositional(const std::string& name, std::string* out, const std::string& help, bool required) {
  Option o;
  o.flag = name;
  o.help = help;
  o.required = required;
  o.set = [out](const std::string& v) { *out = v; return true; };
  positionals_.push_back(std::move(o));
}

ArgParser::Option* ArgParser::Find(const std::string& flag) {
  for (auto& o : options_)
    if (o.flag == flag) return &o;
  return nullptr;
}

int ArgParser::Parse(const std::vector<std::string>& args) {
  size_t next_positional = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", Help().c_str());
      return 0;
    }
    if (a.size() > 1 && a[0] == '-') {
      std::string flag = a, value;
      bool inline_value = false;
      if (size_t eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
        flag = a.substr(0, eq);
        value = a.substr(eq + 1);
        inline_value = true;
      }
      Option* o = Find(flag);
      if (!o) {
        std::fprintf(stderr, "%s: unknown option '%s' (see --help)\n", program_.c_str(), flag.c_str());
        return 2;
      }
      if (o->takes_value && !inline_value) {
        if (i + 1 >= args.size()) {
          std::fprintf(stderr, "%s: option %s needs a value\n", program_.c_str(), flag.c_str());
          return 2;
        }
        value = args[++i];
      }
      if (!o->set(value)) {
        std::fprintf(stderr, "%s: bad value '%s' for %s\n", program_.c_str(), value.c_str(), flag.c_str());
        return 2;
      }
      o->seen = true;
      continue;
    }
    if (next_positional >= positionals_.size()) {
      std::fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program_.c_str(), a.c_str());
      return 2;
    }
    positionals_[next_positional].set(a);
    positionals_[next_positional].seen = true;
    ++next_positional;
  }
  for (const auto* list : {&options_, &positionals_}) {
    for (const auto& o : *list) {
      if (o.required && !o.seen) {
        std::fprintf(stderr, "%s: missing required %s (see --help)\n", program_.c_str(), o.flag.c_str());
        return 2;
      }
    }
  }
  return -1;
}

std::string ArgParser::Help() const {
  std::ostringstream os;
  os << "usage: " << program_;
  for (const auto& p : positionals_) os << (p.required ? " " : " [") << p.flag << (p.required ? "" : "]");
  if (!options_.empty()) os << " [options]";
  os << "\n\n" << description_ << "\n";
  if (!positionals_.empty()) {
    os << "\narguments:\n";
    for (const auto& p : positionals_) os << "  " << p.flag << "\n      " << p.help << "\n";
  }
  if (!options_.empty()) {
    os << "\noptions:\n";
    for (const auto& o : options_) {
      os << "  " << o.flag << (o.takes_value ? " VALUE" : "") << "\n      " << o.help << " [default: " << o.default_text
         << "]\n";
    }
    os << "  --help\n      print this help\n";
  }
  return os.str();
}

}  // namespace vq2d::app
