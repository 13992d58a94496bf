#include "levqor/controld/cost/amount.h"

#include <limits>

namespace levqor::controld::cost {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The exponent's value, bounded: |e| above 9999 is refused (no real amount
// needs it, and it keeps the arithmetic below small).
constexpr long kMaxExponent = 9999;

}  // namespace

Parsed<std::uint64_t> parse_usd_nanos(std::string_view text, std::uint64_t max_nanos) {
    using P = Parsed<std::uint64_t>;
    if (text.empty()) return P::failure("empty amount");
    if (text.size() > kMaxAmountText) {
        return P::failure("amount longer than " + std::to_string(kMaxAmountText) + " characters");
    }
    if (text.front() == '-') return P::failure("negative amount");
    // The mantissa's significant digits (leading zeros dropped) and the power
    // of ten they are scaled by: value = digits * 10^exponent.
    std::string digits;
    long exponent = 0;
    std::size_t i = 0;
    bool any_digit = false;
    for (; i < text.size() && is_digit(text[i]); ++i) {
        any_digit = true;
        if (!(digits.empty() && text[i] == '0')) digits.push_back(text[i]);
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        for (; i < text.size() && is_digit(text[i]); ++i) {
            any_digit = true;
            if (!(digits.empty() && text[i] == '0')) digits.push_back(text[i]);
            --exponent;
        }
    }
    if (!any_digit) return P::failure("not a decimal number");
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        bool negative = false;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
        long e = 0;
        bool exponent_digit = false;
        for (; i < text.size() && is_digit(text[i]); ++i) {
            exponent_digit = true;
            e = e * 10 + (text[i] - '0');
            if (e > kMaxExponent) return P::failure("exponent out of range");
        }
        if (!exponent_digit) return P::failure("not a decimal number");
        exponent += negative ? -e : e;
    }
    if (i != text.size()) return P::failure("not a decimal number");

    const std::string limit = "more than " + format_usd(max_nanos) + " USD";
    if (digits.empty()) return P(0);
    // nanos = digits * 10^(exponent + 9), rounded half up.
    const long shift = exponent + 9;
    std::uint64_t nanos = 0;
    const auto accumulate = [&](char c) {
        const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
        if (nanos > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
        nanos = nanos * 10 + d;
        return nanos <= max_nanos;
    };
    if (shift >= 0) {
        if (static_cast<long>(digits.size()) + shift > 20) return P::failure(limit);
        for (char c : digits) {
            if (!accumulate(c)) return P::failure(limit);
        }
        for (long k = 0; k < shift; ++k) {
            if (!accumulate('0')) return P::failure(limit);
        }
        return P(nanos);
    }
    const auto drop = static_cast<std::size_t>(-shift);
    if (drop > digits.size()) return P(0);  // below half a nano-dollar
    const std::size_t keep = digits.size() - drop;
    for (std::size_t k = 0; k < keep; ++k) {
        if (!accumulate(digits[k])) return P::failure(limit);
    }
    if (digits[keep] >= '5') {
        if (nanos == std::numeric_limits<std::uint64_t>::max() || ++nanos > max_nanos) return P::failure(limit);
    }
    return P(nanos);
}

std::string format_usd(std::uint64_t nanos) {
    std::string out = std::to_string(nanos / kNanosPerUsd);
    std::uint64_t fraction = nanos % kNanosPerUsd;
    if (fraction == 0) return out;
    std::string digits = std::to_string(fraction);
    digits.insert(0, 9 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    return out + "." + digits;
}

std::uint64_t add_capped(std::uint64_t a, std::uint64_t b) {
    return (a > kMaxTotalNanos || b > kMaxTotalNanos - a) ? kMaxTotalNanos : a + b;
}

bool valid_connector_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxConnectorName) return false;
    for (char c : name) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '.' || c == '-';
        if (!ok) return false;
    }
    return true;
}

std::string ConnectorSet::label_for(const std::string& name) {
    if (names_.count(name) != 0) return name;
    if (name == kOtherConnector) return name;
    if (names_.size() >= kMaxConnectors) return std::string(kOtherConnector);
    names_.insert(name);
    return name;
}

}  // namespace levqor::controld::cost
