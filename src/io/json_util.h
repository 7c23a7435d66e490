// Internal helpers for reading JSON with errors that name the source file, the JSON path of the
// offending value and what was expected. Not a public header (src/io only).
#pragma once

#include <nlohmann/json.hpp>

#include <climits>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vq2d/base/status.h"

namespace vq2d::io::internal {

using OJson = nlohmann::ordered_json;

// Parses `text` keeping object key order, in linear time and depth-limited (vq2d/base/json_parse.h).
// Syntax errors name the source and the line:column.
Result<OJson> ParseOrderedJson(std::string_view text, const std::string& source_name);

// The integer a JSON number holds: an integer within long long's range, or a float with an integral
// value (5.0); nullopt for anything else. The one integer rule of src/io's JSON readers (json's own
// get<int>() converts any number, and a float outside the target's range is undefined behaviour).
template <class Json>
std::optional<long long> IntegerOf(const Json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.template get<unsigned long long>();
    if (u > static_cast<unsigned long long>(LLONG_MAX)) return std::nullopt;
    return static_cast<long long>(u);
  }
  if (v.is_number_integer()) return v.template get<long long>();
  if (v.is_number_float()) {
    const double d = v.template get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return static_cast<long long>(d);
  }
  return std::nullopt;
}

// A JSON value together with its path, for error messages. The path is built lazily (only for
// errors) from the parent chain: a JsonRef must not outlive the JsonRef it was derived from.
struct JsonRef {
  const OJson* value;
  const std::string* source;
  const JsonRef* parent = nullptr;
  std::string key;          // object key in the parent (when !is_index)
  size_t index = 0;         // array index in the parent (when is_index)
  bool is_index = false;

  std::string Path() const;  // "" for the root, else "videos[0].clips[1]..."

  JsonRef Child(const std::string& key) const;  // value must be an object holding `key`
  // The member `it` of this object (no key lookup: iterating a large object stays linear).
  JsonRef Member(const OJson::const_iterator& it) const;
  JsonRef Index(size_t i) const;                 // value must be an array
  std::string Where() const;                     // "<source>: <path or (root)>"
  Status Error(const std::string& expected) const;  // "<where>: expected X, got <type/value>"
  Status Missing(const std::string& key) const;     // "<where>: missing required key 'key'"

  bool Has(const std::string& key) const;
  Status RequireObject() const;
  Status RequireArray() const;

  // Typed readers of the key `key` of this object.
  Result<JsonRef> Get(const std::string& key) const;  // required key
  Result<std::string> GetString(const std::string& key) const;
  Result<bool> GetBool(const std::string& key) const;
  // Integers: JSON integers, or floats with an integral value (5.0).
  Result<long long> GetInt(const std::string& key) const;
  Result<double> GetNumber(const std::string& key) const;  // any JSON number (bool rejected)

  // This value as a type.
  Result<std::string> AsString() const;
  Result<long long> AsInt() const;
  Result<double> AsNumber() const;
};

// O(1) member lookup in an object (ordered_json's find/contains/operator[] scan linearly, so a
// lookup per member of a large object is quadratic). The object must outlive the index and stay
// unchanged; for a non-object the index is empty.
class MemberIndex {
 public:
  explicit MemberIndex(const OJson& object);
  const OJson* Find(std::string_view key) const;  // nullptr when absent

 private:
  std::unordered_map<std::string_view, const OJson*> members_;
};

// Short description of a JSON value's type for errors ("a string", "null", "an array", ...).
std::string DescribeJson(const OJson& v);

}  // namespace vq2d::io::internal
