// SPDX-License-Identifier: Apache-2.0
#include "levqor/cost_grammar.h"

#include <limits>

#include "levqor/prometheus_text.h"

namespace levqor::cost {
namespace {

bool is_decimal_digit(char c) { return c >= '0' && c <= '9'; }
bool is_amount_blank(char c) { return c == ' ' || c == '\t'; }

// |exponent| above this is refused: no real amount needs it, and it keeps the
// arithmetic below small.
constexpr long kMaxExponent = 9999;

// nanos = nanos * 10 + digit, false past max_nanos (or 2^64).
bool push_digit(std::uint64_t& nanos, char c, std::uint64_t max_nanos) {
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (nanos > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
    nanos = nanos * 10 + d;
    return nanos <= max_nanos;
}

}  // namespace

UsdText parse_usd_text(std::string_view text, std::uint64_t max_nanos) noexcept {
    using E = AmountError;
    if (text.empty()) return {E::Empty, 0};
    if (text.size() > kMaxAmountText) return {E::TooLong, 0};
    const char* p = text.data();
    const char* end = p + text.size();
    while (p != end && is_amount_blank(*p)) ++p;
    while (end != p && is_amount_blank(end[-1])) --end;
    if (p != end && *p == '-') return {E::Negative, 0};
    if (p != end && *p == '+') ++p;

    // The mantissa: digits with at most one '.'.
    const char* const mantissa = p;
    const char* dot = nullptr;
    bool any_digit = false;
    for (; p != end; ++p) {
        if (is_decimal_digit(*p)) {
            any_digit = true;
        } else if (*p == '.' && dot == nullptr) {
            dot = p;
        } else {
            break;
        }
    }
    const char* const mantissa_end = p;
    if (!any_digit) return {E::NotANumber, 0};
    long exponent = 0;
    if (p != end && (*p == 'e' || *p == 'E')) {
        ++p;
        bool negative = false;
        if (p != end && (*p == '+' || *p == '-')) negative = *p++ == '-';
        const char* const exponent_start = p;
        for (; p != end && is_decimal_digit(*p); ++p) {
            exponent = exponent * 10 + (*p - '0');
            if (exponent > kMaxExponent) return {E::ExponentRange, 0};
        }
        if (p == exponent_start) return {E::NotANumber, 0};
        if (negative) exponent = -exponent;
    }
    if (p != end) return {E::NotANumber, 0};
    if (dot != nullptr) exponent -= static_cast<long>(mantissa_end - dot - 1);

    // The significant digits (leading zeros and the point skipped) scaled by
    // 10^(exponent + 9) into nano-dollars, rounded half up.
    const char* first = mantissa;
    while (first != mantissa_end && (*first == '0' || *first == '.')) ++first;
    long significant = 0;
    for (const char* q = first; q != mantissa_end; ++q) significant += *q != '.' ? 1 : 0;
    if (significant == 0) return {E::None, 0};
    const long shift = exponent + 9;
    std::uint64_t nanos = 0;
    if (shift >= 0) {
        if (significant + shift > 20) return {E::TooLarge, 0};
        for (const char* q = first; q != mantissa_end; ++q) {
            if (*q != '.' && !push_digit(nanos, *q, max_nanos)) return {E::TooLarge, 0};
        }
        for (long k = 0; k < shift; ++k) {
            if (!push_digit(nanos, '0', max_nanos)) return {E::TooLarge, 0};
        }
        return {E::None, nanos};
    }
    if (-shift > significant) return {E::None, 0};  // below half a nano-dollar
    long keep = significant + shift;
    const char* q = first;
    for (; keep > 0; ++q) {
        if (*q == '.') continue;
        if (!push_digit(nanos, *q, max_nanos)) return {E::TooLarge, 0};
        --keep;
    }
    if (*q == '.') ++q;
    if (*q >= '5') {  // the first dropped digit decides
        if (nanos == std::numeric_limits<std::uint64_t>::max() || ++nanos > max_nanos) return {E::TooLarge, 0};
    }
    return {E::None, nanos};
}

std::string amount_refusal(AmountError error, std::uint64_t max_nanos) {
    switch (error) {
        case AmountError::None:
            return "";
        case AmountError::Empty:
            return "empty amount";
        case AmountError::TooLong:
            return "amount longer than " + std::to_string(kMaxAmountText) + " characters";
        case AmountError::Negative:
            return "negative amount";
        case AmountError::NotANumber:
            return "not a decimal number";
        case AmountError::ExponentRange:
            return "exponent out of range";
        case AmountError::TooLarge:
            return "more than " + format_usd(max_nanos) + " USD";
    }
    return "invalid amount";
}

Parsed<std::uint64_t> parse_usd_nanos(std::string_view text, std::uint64_t max_nanos) {
    const UsdText parsed = parse_usd_text(text, max_nanos);
    if (parsed.error != AmountError::None)
        return Parsed<std::uint64_t>::failure(amount_refusal(parsed.error, max_nanos));
    return parsed.nanos;
}

std::string format_usd(std::uint64_t nanos) { return prometheus::format_fixed_point(nanos, 9); }

bool valid_connector_name(std::string_view name) noexcept {
    if (name.empty() || name.size() > kMaxConnectorName) return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_decimal_digit(c) || c == '_' ||
                        c == '.' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace levqor::cost
