// SPDX-License-Identifier: Apache-2.0
// The body of POST /usage: {"connector":"<name>","usd":<number or decimal
// string>}, read into an exact amount of nano-dollars. The number is read from
// its JSON text (never through a double). A pure function, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace levqor::controld::cost {

// POST /usage's bodies are a few dozen bytes.
inline constexpr std::size_t kMaxUsageBodyBytes = 4 * 1024;

// A body POST /usage refuses: code is the API error code (invalid_json,
// invalid_usage), what() the message naming the field.
class UsageError : public std::invalid_argument {
public:
    UsageError(std::string code, const std::string& message) : std::invalid_argument(message), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

private:
    std::string code_;
};

struct Usage {
    std::string connector;
    std::uint64_t nanos = 0;
};

// Throws UsageError: invalid_json for a body that is not a JSON object within
// kMaxUsageBodyBytes; invalid_usage for a missing or invalid connector
// (valid_connector_name), a missing usd, or a usd that parse_usd_nanos
// refuses with kMaxUsageNanos (negative, above 1e6, not a number, ...), or an
// unknown field.
Usage parse_usage(std::string_view body);

}  // namespace levqor::controld::cost
