// JSON parsing for every file the tools read (annotations, predictions, architecture files,
// safetensors headers): linear time in the input (also for objects with millions of keys, where
// nlohmann::ordered_json's own parser is quadratic), nesting depth limited (a hostile file nested
// 100,000 deep fails with the path instead of exhausting the stack of whatever walks the result),
// and errors that name the source and the line:column. Thread-safe (no shared state).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "vq2d/base/status.h"

namespace vq2d {

// Deeper than any file the tools read (Ego4D annotations: 8 levels).
inline constexpr int kMaxJsonDepth = 512;

struct JsonParseOptions {
  int max_depth = kMaxJsonDepth;  // arrays/objects nested deeper than this are an error
  // When set, receives the first key that occurs twice in the top-level object (nullopt if none).
  // Duplicates keep the last value in the first key's place (nlohmann semantics) either way.
  std::optional<std::string>* first_duplicate_top_level_key = nullptr;
};

// Errors (InvalidArgument):
//   "<source>: malformed JSON: parse error at line L:C (byte B): <what>"
//   "<source>: malformed JSON: nested deeper than 512 levels at <path>"
Result<nlohmann::json> ParseJson(std::string_view text, const std::string& source, const JsonParseOptions& options = {});
// Keeps object key order (text order).
Result<nlohmann::ordered_json> ParseOrderedJson(std::string_view text, const std::string& source,
                                                const JsonParseOptions& options = {});

// "L:C" (1-based line and column) of byte offset `byte` of `text`.
std::string TextPosition(std::string_view text, size_t byte);

}  // namespace vq2d
