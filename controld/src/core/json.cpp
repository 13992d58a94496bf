// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/json.h"

#include <vector>

namespace levqor::controld {
namespace {

// Index of the '"' that closes the string opened at `open`, or text.size().
std::size_t string_end(std::string_view text, std::size_t open) {
    for (std::size_t i = open + 1; i < text.size(); ++i) {
        if (text[i] == '\\') {
            ++i;  // whatever follows is escaped, a quote included
        } else if (text[i] == '"') {
            return i;
        }
    }
    return text.size();
}

// Index of the last character of the comment starting at `slash` (as
// nlohmann reads them: "//" to the end of the line, "/* */"), or `slash`
// itself when no comment starts there (the parser then refuses the '/').
std::size_t comment_end(std::string_view text, std::size_t slash) {
    if (slash + 1 >= text.size()) return slash;
    if (text[slash + 1] == '/') {
        const auto eol = text.find_first_of("\r\n", slash + 2);
        return eol == std::string_view::npos ? text.size() : eol;
    }
    if (text[slash + 1] == '*') {
        const auto close = text.find("*/", slash + 2);
        return close == std::string_view::npos ? text.size() : close + 1;
    }
    return slash;
}

template <typename Json>
Json parse_checked(std::string_view text, const JsonLimits& limits) {
    check_json_bounds(text, limits);
    try {
        return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/true,
                           /*ignore_comments=*/limits.comments);
    } catch (const typename Json::exception& e) {
        // parse_error, and out_of_range for a number outside double's range (1e999).
        throw JsonError(JsonError::Kind::syntax, e.what());
    }
}

}  // namespace

void check_json_bounds(std::string_view text, const JsonLimits& limits) {
    if (text.size() > limits.max_bytes) {
        throw JsonError(JsonError::Kind::too_large,
                        std::to_string(text.size()) + " bytes; the limit is " + std::to_string(limits.max_bytes));
    }
    std::size_t depth = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        switch (text[i]) {
            case '"':
                i = string_end(text, i);
                break;
            case '[':
            case '{':
                if (++depth > limits.max_depth) {
                    throw JsonError(JsonError::Kind::too_deep, "nesting deeper than " +
                                                                   std::to_string(limits.max_depth) +
                                                                   " levels (at byte " + std::to_string(i) + ")");
                }
                break;
            case ']':
            case '}':
                if (depth == 0) {
                    throw JsonError(JsonError::Kind::syntax,
                                    std::string("'") + text[i] + "' at byte " + std::to_string(i) + " closes nothing");
                }
                --depth;
                break;
            case '/':
                if (limits.comments) i = comment_end(text, i);
                break;
            default:
                break;
        }
    }
}

nlohmann::json parse_json(std::string_view text, const JsonLimits& limits) {
    return parse_checked<nlohmann::json>(text, limits);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const JsonLimits& limits) {
    return parse_checked<nlohmann::ordered_json>(text, limits);
}

std::size_t json_dump_size_at_least(const nlohmann::json& value) {
    std::size_t total = 0;
    std::vector<const nlohmann::json*> pending{&value};
    while (!pending.empty()) {
        const auto* v = pending.back();
        pending.pop_back();
        switch (v->type()) {
            case nlohmann::json::value_t::object:
                total += 2 + (v->empty() ? 0 : v->size() - 1);  // braces, commas
                for (auto it = v->begin(); it != v->end(); ++it) {
                    total += it.key().size() + 3;  // "key":
                    pending.push_back(&it.value());
                }
                break;
            case nlohmann::json::value_t::array:
                total += 2 + (v->empty() ? 0 : v->size() - 1);
                for (const auto& item : *v) pending.push_back(&item);
                break;
            case nlohmann::json::value_t::string:
                total += 2 + v->get_ref<const std::string&>().size();  // escapes only add
                break;
            case nlohmann::json::value_t::null:
            case nlohmann::json::value_t::boolean:
                total += 4;
                break;
            default:
                total += 1;  // a number is at least one digit
                break;
        }
    }
    return total;
}

}  // namespace levqor::controld
