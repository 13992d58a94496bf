// SPDX-License-Identifier: Apache-2.0
// What nginx (levqor_cost) and levqor-controld (POST /usage, scraped
// levqor_ai_cost_usd_total samples, the cost state file) must agree on about
// AI spend: the one USD amount grammar, its exact decimal rendering, and the
// one connector-name rule. Amounts are integer nano-dollars (1e-9 USD), never
// a double. Pure functions (thread-safe); part of levqor_common.
//
// The module's parse_usd (levqor/cost.h) is a fast path in front of
// parse_usd_text for plain "<digits>[.<digits>]" and must agree with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "levqor/parsed.h"

namespace levqor::cost {

inline constexpr std::uint64_t kNanosPerUsd = 1000000000;
inline constexpr std::uint64_t kMaxUsd = 1000000;  // one amount's bound ("absurd" above)
inline constexpr std::uint64_t kMaxNanos = kMaxUsd * kNanosPerUsd;
inline constexpr std::size_t kMaxAmountText = 64;  // bytes, before trimming

// Why an amount was refused (None: it was not).
enum class AmountError : std::uint8_t { None, Empty, TooLong, Negative, NotANumber, ExponentRange, TooLarge };

struct UsdText {
    AmountError error;
    std::uint64_t nanos;  // error == None only, else 0
};

// A non-negative decimal amount of USD -> nano-dollars, exactly. The grammar
// (JSON number text plus what an HTTP header value may carry):
//   [blanks] ['+'] mantissa [('e'|'E') ['+'|'-'] digits] [blanks]
// with mantissa "digits[.digits]" or ".digits" (at least one digit; "5." is
// 5), blanks spaces or tabs. Digits beyond the ninth fractional one are
// rounded half up to the nearest nano-dollar (0.0000000015 -> 2). Refused:
// "" (Empty), more than kMaxAmountText bytes, a leading '-' (Negative),
// |exponent| > 9999, anything else (NotANumber: "inf", "0x10", "1,5", ...),
// more than max_nanos (TooLarge). No allocation.
UsdText parse_usd_text(std::string_view text, std::uint64_t max_nanos) noexcept;

// The refusal's reason as POST /usage states it: "empty amount",
// "amount longer than 64 characters", "negative amount",
// "not a decimal number", "exponent out of range", "more than <max> USD".
std::string amount_refusal(AmountError error, std::uint64_t max_nanos);

// parse_usd_text with the reason as text.
Parsed<std::uint64_t> parse_usd_nanos(std::string_view text, std::uint64_t max_nanos);

// Exact decimal text of an amount: 12345 -> "0.000012345", 1.5 USD -> "1.5",
// 0 -> "0" (no trailing zeros, no exponent; prometheus::format_fixed_point).
std::string format_usd(std::uint64_t nanos);

// Connector names: 1 to kMaxConnectorName bytes of [A-Za-z0-9_.:-]. nginx
// counts a request with any other name under "other"; POST /usage refuses it.
inline constexpr std::size_t kMaxConnectors = 64;     // named series; more go to "other"
inline constexpr std::size_t kMaxConnectorName = 64;  // bytes
inline constexpr std::string_view kOtherConnector = "other";
inline constexpr std::string_view kConnectorRule = "1 to 64 characters of A-Z, a-z, 0-9, '_', '.', ':' or '-'";
bool valid_connector_name(std::string_view name) noexcept;

}  // namespace levqor::cost
