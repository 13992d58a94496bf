// SPDX-License-Identifier: Apache-2.0
// The amount table: what the one USD grammar (levqor/cost_grammar.h) makes of
// header values, JSON number text and decimal strings. Used by
// cost_grammar_test.cpp (parse_usd_text) and cost_test.cpp (the module's
// parse_usd, fast path included).
#pragma once

#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "levqor/cost_grammar.h"

namespace levqor::cost {

struct AmountCase {
    std::string_view text;
    AmountError error;
    std::uint64_t nanos;            // error == None only
    std::uint64_t max = kMaxNanos;  // the bound
};

inline const std::vector<AmountCase>& amount_cases() {
    using E = AmountError;
    constexpr std::uint64_t kBig = std::numeric_limits<std::uint64_t>::max();
    static const std::vector<AmountCase> cases = {
        // plain decimals: the module's fast path
        {"0", E::None, 0},
        {"1", E::None, 1'000'000'000},
        {"0.0123", E::None, 12'300'000},
        {"12.3", E::None, 12'300'000'000},
        {"0.000000001", E::None, 1},
        {"0.123456789", E::None, 123'456'789},
        {"5.", E::None, 5'000'000'000},
        {".5", E::None, 500'000'000},
        {"007.50", E::None, 7'500'000'000},
        {"000012.5", E::None, 12'500'000'000},
        {"1000000", E::None, kMaxNanos},
        {"1000000.000000000", E::None, kMaxNanos},
        {"999999.999999999", E::None, kMaxNanos - 1},
        {"12345678.123456789", E::None, 12'345'678'123'456'789, kBig},  // no double holds it
        // blanks and '+' (an HTTP header value)
        {"+0.25", E::None, 250'000'000},
        {"  0.5\t", E::None, 500'000'000},
        {" 1", E::None, 1'000'000'000},
        {"1 ", E::None, 1'000'000'000},
        {"+1", E::None, 1'000'000'000},
        // exponents (JSON number text)
        {"1e-9", E::None, 1},
        {"1E-3", E::None, 1'000'000},
        {"1e3", E::None, 1'000'000'000'000},
        {"1.5E+2", E::None, 150'000'000'000},
        {"2.5e-3", E::None, 2'500'000},
        {"1e6", E::None, kMaxNanos},
        {"0e9999", E::None, 0},
        {".1e1", E::None, 1'000'000'000},
        {"100e-2", E::None, 1'000'000'000},
        // more than 9 fractional digits: half up to the nano-dollar
        {"0.0000000014", E::None, 1},
        {"0.0000000015", E::None, 2},
        {"0.0000000014999", E::None, 1},
        {"0.00000000049999", E::None, 0},
        {"0.0000000004", E::None, 0},
        {"0.0000000025", E::None, 3},
        {"1.0000000005", E::None, 1'000'000'001},
        {"0.30000000000000004", E::None, 300'000'000},  // 0.1 + 0.2 in a double
        {"0.9999999995", E::None, 1'000'000'000},       // carries into the whole part
        {"0.1000000000000", E::None, 100'000'000},
        {"1e-30", E::None, 0},
        {"5e-10", E::None, 1},
        {"4.9e-10", E::None, 0},
        {"999999.9999999995", E::None, kMaxNanos},  // rounds to the bound: still valid
        {"1000000.0000000005", E::TooLarge, 0},     // rounds past it
        // refused
        {"", E::Empty, 0},
        {"-1", E::Negative, 0},
        {"-0", E::Negative, 0},
        {"-0.5", E::Negative, 0},
        {"1000000.000000001", E::TooLarge, 0},
        {"1000001", E::TooLarge, 0},
        {"1e7", E::TooLarge, 0},
        {"99999999999999999999999", E::TooLarge, 0},
        {"18446744073709551616", E::TooLarge, 0, kBig},
        {"1e99999", E::ExponentRange, 0},
        {" ", E::NotANumber, 0},
        {"\t \t", E::NotANumber, 0},
        {"inf", E::NotANumber, 0},
        {"+inf", E::NotANumber, 0},
        {"nan", E::NotANumber, 0},
        {"NaN", E::NotANumber, 0},
        {"Infinity", E::NotANumber, 0},
        {"0x10", E::NotANumber, 0},
        {"1,5", E::NotANumber, 0},
        {"1.2.3", E::NotANumber, 0},
        {"0..1", E::NotANumber, 0},
        {"abc", E::NotANumber, 0},
        {".", E::NotANumber, 0},
        {"+", E::NotANumber, 0},
        {"++1", E::NotANumber, 0},
        {"+-1", E::NotANumber, 0},
        {"1 2", E::NotANumber, 0},
        {"0.5 USD", E::NotANumber, 0},
        {"$0.5", E::NotANumber, 0},
        {"1\n", E::NotANumber, 0},
        {"\xff", E::NotANumber, 0},
        {"1e", E::NotANumber, 0},
        {"1e+", E::NotANumber, 0},
        {"e5", E::NotANumber, 0},
        {".e1", E::NotANumber, 0},
        {"1e5.5", E::NotANumber, 0},
    };
    return cases;
}

}  // namespace levqor::cost
