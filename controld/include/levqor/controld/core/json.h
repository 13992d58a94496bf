// SPDX-License-Identifier: Apache-2.0
// The bounded JSON reader: every document controld and levqorctl did not build
// themselves is checked for size and nesting before nlohmann::json parses it,
// so no input can exhaust the stack later. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace levqor::controld {

// The one way controld and levqorctl read JSON they did not build themselves:
// request bodies, the config file, stored job records, controld's answers.
//
// nlohmann::json parses iteratively, but copying, comparing and dump() recurse
// once per nesting level, so a deeply nested document (a 600 KB body can nest
// 300,000 levels) overflows the stack of whoever touches it later. Every
// document is therefore checked for size and nesting *before* a DOM is built,
// by one pass over the text (O(n), no recursion, no allocation), and then
// parsed. A DOM that passed has at most kMaxJsonDepth levels, so the recursive
// operations on it are bounded.

// Nesting of arrays and objects accepted: 64 levels ([[...]] with 64 '[').
inline constexpr std::size_t kMaxJsonDepth = 64;

struct JsonLimits {
    std::size_t max_bytes;                  // the text's length
    std::size_t max_depth = kMaxJsonDepth;  // arrays and objects inside each other
    bool comments = false;                  // accept // and /* */ (the config file)
};

// Why a text was refused. what() is a sentence without the text itself:
// "nesting deeper than 64 levels (at byte 64)", "1048577 bytes; the limit is
// 1048576", or nlohmann's description of the syntax error.
class JsonError : public std::invalid_argument {
public:
    enum class Kind { too_large, too_deep, syntax };
    JsonError(Kind kind, const std::string& message) : std::invalid_argument(message), kind_(kind) {}
    Kind kind() const { return kind_; }

private:
    Kind kind_;
};

// Checks size and nesting only (brackets inside strings and after escapes do
// not count; with limits.comments neither do those in comments). A text that
// closes more than it opened is a syntax error. Throws JsonError.
void check_json_bounds(std::string_view text, const JsonLimits& limits);

// check_json_bounds, then the parse. Throws JsonError.
nlohmann::json parse_json(std::string_view text, const JsonLimits& limits);
nlohmann::ordered_json parse_ordered_json(std::string_view text, const JsonLimits& limits);

// A lower bound of value.dump()'s length (compact form), computed without
// recursion and without building the text: lets a caller refuse a value that
// is surely too large before paying for the dump.
std::size_t json_dump_size_at_least(const nlohmann::json& value);

}  // namespace levqor::controld
