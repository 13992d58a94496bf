// SPDX-License-Identifier: Apache-2.0
// Small text helpers (trimming, ASCII lower case, the content lines of a file)
// shared by controld's line-oriented parsers. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace levqor::controld {

// Small text helpers shared by the line-oriented parsers (flags file, token
// files, config values, HTTP headers). Pure functions.

// Without leading and trailing spaces, tabs, carriage returns and newlines.
std::string_view trim(std::string_view text);

// ASCII lower case.
std::string to_lower(std::string_view text);

// Calls visit(line number, trimmed line) for every line that is neither
// blank nor a '#' comment; "\r\n" line ends are fine. Exceptions from
// visit propagate.
void for_each_content_line(std::string_view text,
                           const std::function<void(std::size_t line_no, std::string_view line)>& visit);

}  // namespace levqor::controld
