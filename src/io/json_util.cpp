#include "io/json_util.h"

#include <climits>
#include <cmath>

#include "vq2d/base/json_parse.h"

namespace vq2d::io::internal {

Result<OJson> ParseOrderedJson(std::string_view text, const std::string& source_name) {
  return vq2d::ParseOrderedJson(text, source_name);
}

MemberIndex::MemberIndex(const OJson& object) {
  if (!object.is_object()) return;
  members_.reserve(object.size());
  for (auto it = object.begin(); it != object.end(); ++it) members_.emplace(it.key(), &it.value());
}

const OJson* MemberIndex::Find(std::string_view key) const {
  auto it = members_.find(key);
  return it == members_.end() ? nullptr : it->second;
}

std::string DescribeJson(const OJson& v) {
  switch (v.type()) {
    case OJson::value_t::null: return "null";
    case OJson::value_t::object: return "an object";
    case OJson::value_t::array: return "an array";
    case OJson::value_t::string: {
      std::string s = v.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return StrCat("the string \"", s, "\"");
    }
    case OJson::value_t::boolean: return v.get<bool>() ? "true" : "false";
    case OJson::value_t::number_integer:
    case OJson::value_t::number_unsigned:
    case OJson::value_t::number_float: return StrCat("the number ", v.dump());
    default: return "an unsupported value";
  }
}

JsonRef JsonRef::Child(const std::string& k) const {
  JsonRef c{&value->at(k), source, this};
  c.key = k;
  return c;
}

JsonRef JsonRef::Member(const OJson::const_iterator& it) const {
  JsonRef c{&it.value(), source, this};
  c.key = it.key();
  return c;
}

JsonRef JsonRef::Index(size_t i) const {
  JsonRef c{&(*value)[i], source, this};
  c.index = i;
  c.is_index = true;
  return c;
}

std::string JsonRef::Path() const {
  if (!parent) return "";
  std::string p = parent->Path();
  if (is_index) return StrCat(p, "[", index, "]");
  return p.empty() ? key : p + "." + key;
}

std::string JsonRef::Where() const {
  std::string p = Path();
  return StrCat(*source, ": ", p.empty() ? "(root)" : p);
}

Status JsonRef::Error(const std::string& expected) const {
  return Status::InvalidArgument(StrCat(Where(), ": expected ", expected, ", got ", DescribeJson(*value)));
}

Status JsonRef::Missing(const std::string& key) const {
  return Status::InvalidArgument(StrCat(Where(), ": missing required key '", key, "'"));
}

bool JsonRef::Has(const std::string& key) const { return value->is_object() && value->contains(key); }

Status JsonRef::RequireObject() const { return value->is_object() ? Status::OK() : Error("an object"); }
Status JsonRef::RequireArray() const { return value->is_array() ? Status::OK() : Error("an array"); }

Result<JsonRef> JsonRef::Get(const std::string& key) const {
  VQ2D_RETURN_IF_ERROR(RequireObject());
  if (!value->contains(key)) return Missing(key);
  return Child(key);
}

Result<std::string> JsonRef::AsString() const {
  if (!value->is_string()) return Error("a string");
  return value->get<std::string>();
}

Result<long long> JsonRef::AsInt() const {
  if (auto i = IntegerOf(*value)) return *i;
  return Error(value->is_number_unsigned() ? "an integer in range" : "an integer");
}

Result<double> JsonRef::AsNumber() const {
  if (!value->is_number()) return Error("a number");
  return value->get<double>();
}

Result<std::string> JsonRef::GetString(const std::string& key) const {
  VQ2D_ASSIGN_OR_RETURN(JsonRef c, Get(key));
  return c.AsString();
}

Result<bool> JsonRef::GetBool(const std::string& key) const {
  VQ2D_ASSIGN_OR_RETURN(JsonRef c, Get(key));
  if (!c.value->is_boolean()) return c.Error("true or false");
  return c.value->get<bool>();
}

Result<long long> JsonRef::GetInt(const std::string& key) const {
  VQ2D_ASSIGN_OR_RETURN(JsonRef c, Get(key));
  return c.AsInt();
}

Result<double> JsonRef::GetNumber(const std::string& key) const {
  VQ2D_ASSIGN_OR_RETURN(JsonRef c, Get(key));
  return c.AsNumber();
}

}  // namespace vq2d::io::internal
