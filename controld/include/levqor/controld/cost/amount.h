// USD amounts as exact integer nano-dollars: the decimal grammar POST /usage
// accepts (and the scraped levqor_ai_cost_usd_total samples are read with),
// their exact decimal rendering, and the connector-name rule with its bounded
// label set. Pure functions and a small non-thread-safe set.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "levqor/parsed.h"

namespace levqor::controld::cost {

// 1 USD in nano-dollars.
inline constexpr std::uint64_t kNanosPerUsd = 1'000'000'000;
// The largest amount one /usage call may carry: 1e6 USD (the module's bound).
inline constexpr std::uint64_t kMaxUsageNanos = 1'000'000 * kNanosPerUsd;
// The largest total read back from a scrape or the state file (about 9.2e9 USD).
inline constexpr std::uint64_t kMaxTotalNanos = 9'223'372'036'854'775'807ULL;
// Longest amount text accepted (digits, point, exponent).
inline constexpr std::size_t kMaxAmountText = 64;

// A non-negative decimal amount of USD -> nano-dollars, exactly:
// `digits[.digits][(e|E)[+|-]digits]` or `.digits...` (JSON number text and
// decimal strings such as "0.0123"). Digits beyond the ninth fractional one
// are rounded half up to the nearest nano-dollar (0.0000000015 -> 2), never
// through a double. Refused, with the reason: empty, longer than
// kMaxAmountText, a sign other than an exponent's, anything not a digit, more
// than `max_nanos` ("1e6" is 1,000,000 USD, the /usage bound).
Parsed<std::uint64_t> parse_usd_nanos(std::string_view text, std::uint64_t max_nanos);

// Exact decimal text of an amount: 12345 -> "0.000012345", 1.5 USD -> "1.5",
// 0 -> "0" (no trailing zeros, no exponent).
std::string format_usd(std::uint64_t nanos);

// a + b, capped at kMaxTotalNanos.
std::uint64_t add_capped(std::uint64_t a, std::uint64_t b);

// 1 to 64 bytes of [A-Za-z0-9_.-].
inline constexpr std::size_t kMaxConnectorName = 64;
bool valid_connector_name(std::string_view name);

// The connector label: at most kMaxConnectors distinct names, then "other"
// (as the module does). Not thread-safe.
inline constexpr std::size_t kMaxConnectors = 64;
inline constexpr std::string_view kOtherConnector = "other";
class ConnectorSet {
public:
    // The label to count `name` under: itself while there is room (or when
    // already known), else "other". `name` must be valid.
    std::string label_for(const std::string& name);
    std::size_t size() const { return names_.size(); }

private:
    std::set<std::string, std::less<>> names_;
};

}  // namespace levqor::controld::cost
