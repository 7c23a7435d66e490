#include "vq2d/base/json_parse.h"

#include <memory>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vq2d {
namespace {

// A SAX handler that builds the document itself: nlohmann's DOM builder inserts every object key
// with ordered_map::operator[] (a linear scan, so an object of n keys costs n^2), and its
// callback parser rescans the parent object at every object end. Here an object's keys get a hash
// index once the object is large, so parsing is linear; depth is checked before descending.
template <typename J>
class Builder {
 public:
  using string_t = typename J::string_t;
  static constexpr bool kOrdered = std::is_same_v<J, nlohmann::ordered_json>;

  explicit Builder(const JsonParseOptions& o) : options_(o) {}

  bool null() { return Put(J(nullptr)); }
  bool boolean(bool v) { return Put(J(v)); }
  bool number_integer(typename J::number_integer_t v) { return Put(J(v)); }
  bool number_unsigned(typename J::number_unsigned_t v) { return Put(J(v)); }
  bool number_float(typename J::number_float_t v, const string_t&) { return Put(J(v)); }
  bool string(string_t& v) { return Put(J(std::move(v))); }
  bool binary(typename J::binary_t& v) { return Put(J(std::move(v))); }

  bool start_object(std::size_t) { return Open(J::object()); }
  bool start_array(std::size_t) { return Open(J::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(string_t& k) {
    Level& l = stack_.back();
    auto& obj = l.container->template get_ref<typename J::object_t&>();
    const bool top = stack_.size() == 1;
    l.key = k;
    if constexpr (kOrdered) {
      auto& vec = static_cast<typename J::object_t::Container&>(obj);
      size_t found = vec.size();
      if (l.index) {
        auto it = l.index->find(k);
        if (it != l.index->end()) found = it->second;
      } else {
        for (size_t i = 0; i < vec.size(); ++i)
          if (vec[i].first == k) found = i;
      }
      if (found != vec.size()) {
        NoteDuplicate(top, k);
        vec[found].second = J();
        slot_ = &vec[found].second;
        return true;
      }
      vec.emplace_back(k, J());
      if (l.index) {
        l.index->emplace(std::move(k), vec.size() - 1);
      } else if (vec.size() > kIndexFrom) {
        l.index = std::make_unique<std::unordered_map<std::string, size_t>>();
        for (size_t i = 0; i < vec.size(); ++i) l.index->emplace(vec[i].first, i);
      }
      slot_ = &vec.back().second;
    } else {
      auto [it, inserted] = obj.emplace(std::move(k), J());
      if (!inserted) {
        NoteDuplicate(top, it->first);
        it->second = J();
      }
      slot_ = &it->second;
    }
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    error_position_ = position;
    syntax_error_ = ex.what();
    has_syntax_error_ = true;
    return false;
  }

  J& root() { return root_; }
  bool too_deep() const { return !depth_error_path_.empty(); }
  const std::string& depth_error_path() const { return depth_error_path_; }
  bool has_syntax_error() const { return has_syntax_error_; }
  const std::string& syntax_error() const { return syntax_error_; }
  size_t error_position() const { return error_position_; }

 private:
  static constexpr size_t kIndexFrom = 16;
  struct Level {
    J* container = nullptr;
    size_t count = 0;  // array elements so far
    std::string key;   // current key (objects)
    std::unique_ptr<std::unordered_map<std::string, size_t>> index;
  };

  J* Slot() {
    if (stack_.empty()) return &root_;
    Level& l = stack_.back();
    if (l.container->is_array()) {
      auto& arr = l.container->template get_ref<typename J::array_t&>();
      arr.emplace_back();
      ++l.count;
      return &arr.back();
    }
    return slot_;
  }
  bool Put(J&& v) {
    *Slot() = std::move(v);
    return true;
  }
  bool Open(J&& v) {
    if (static_cast<int>(stack_.size()) >= options_.max_depth) {
      depth_error_path_ = Path();
      return false;
    }
    J* dst = Slot();
    *dst = std::move(v);
    Level l;
    l.container = dst;
    stack_.push_back(std::move(l));
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }
  void NoteDuplicate(bool top, const std::string& k) {
    if (top && options_.first_duplicate_top_level_key && !options_.first_duplicate_top_level_key->has_value())
      *options_.first_duplicate_top_level_key = k;
  }
  // "videos[0].clips[1]..." of the value being opened (first components only; it can be long).
  std::string Path() const {
    std::string p;
    const size_t shown = std::min<size_t>(stack_.size(), 16);
    for (size_t i = 0; i < shown; ++i) {
      const Level& l = stack_[i];
      if (l.container->is_array()) {
        // Enclosing arrays are inside their current element; the innermost is about to add one.
        p += StrCat("[", i + 1 == stack_.size() ? l.count : l.count - 1, "]");
      } else {
        p += (p.empty() ? "" : ".") + l.key;
      }
    }
    if (stack_.size() > shown) p += StrCat("... (", stack_.size(), " levels)");
    return p.empty() ? "(root)" : p;
  }

  JsonParseOptions options_;
  J root_;
  std::vector<Level> stack_;
  J* slot_ = nullptr;
  std::string depth_error_path_;
  bool has_syntax_error_ = false;
  std::string syntax_error_;
  size_t error_position_ = 0;
};

template <typename J>
Result<J> Parse(std::string_view text, const std::string& source, const JsonParseOptions& options) {
  if (options.first_duplicate_top_level_key) options.first_duplicate_top_level_key->reset();
  Builder<J> b(options);
  bool ok = false;
  try {
    ok = J::sax_parse(text.begin(), text.end(), &b, nlohmann::detail::input_format_t::json, /*strict=*/true);
  } catch (const std::exception& e) {  // allocation failures; the SAX interface reports the rest
    return Status::InvalidArgument(StrCat(source, ": malformed JSON: ", e.what()));
  }
  if (b.too_deep()) {
    return Status::InvalidArgument(StrCat(source, ": malformed JSON: nested deeper than ", options.max_depth,
                                          " levels at ", b.depth_error_path()));
  }
  if (!ok || b.has_syntax_error()) {
    std::string what = b.syntax_error();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: <what>" -> "<what>"
    if (what.rfind("[json.exception", 0) == 0) {
      const size_t colon = what.find(": ");
      if (colon != std::string::npos) what = what.substr(colon + 2);
    }
    const size_t byte = b.error_position() > 0 ? b.error_position() - 1 : 0;
    return Status::InvalidArgument(StrCat(source, ": malformed JSON: parse error at line ", TextPosition(text, byte),
                                          " (byte ", byte, "): ", what));
  }
  return std::move(b.root());
}

}  // namespace

std::string TextPosition(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  const size_t end = std::min(byte, text.size());
  for (size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return StrCat(line, ":", col);
}

Result<nlohmann::json> ParseJson(std::string_view text, const std::string& source, const JsonParseOptions& options) {
  return Parse<nlohmann::json>(text, source, options);
}

Result<nlohmann::ordered_json> ParseOrderedJson(std::string_view text, const std::string& source,
                                                const JsonParseOptions& options) {
  return Parse<nlohmann::ordered_json>(text, source, options);
}

}  // namespace vq2d
