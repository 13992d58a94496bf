// SPDX-License-Identifier: Apache-2.0
// The one amount grammar and connector rule of levqor_common, which nginx
// (levqor_cost) and controld (POST /usage, scrapes, cost.state) both use:
// one table of amounts. cost_test.cpp runs the same table through the
// module's fast path; controld/tests/cost_test.cpp checks the route's
// messages built on it.
#include "levqor/cost_grammar.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "cost_grammar_cases.h"

namespace levqor::cost {
namespace {

TEST(CostGrammar, TheAmountTable) {
    for (const auto& c : amount_cases()) {
        const UsdText got = parse_usd_text(c.text, c.max);
        EXPECT_EQ(got.error, c.error) << '"' << c.text << '"';
        EXPECT_EQ(got.nanos, c.nanos) << '"' << c.text << '"';
    }
}

TEST(CostGrammar, RefusalsCarryTheReasonPostUsageStates) {
    const auto reason = [](std::string_view text) {
        const auto parsed = parse_usd_nanos(text, kMaxNanos);
        EXPECT_FALSE(parsed) << text;
        return parsed ? std::string() : parsed.error();
    };
    EXPECT_EQ(reason("-0.01"), "negative amount");
    EXPECT_EQ(reason(" -1"), "negative amount");
    EXPECT_EQ(reason("1000000.000000001"), "more than 1000000 USD");
    EXPECT_EQ(reason("1e7"), "more than 1000000 USD");
    EXPECT_EQ(reason("99999999999999999999999"), "more than 1000000 USD");
    EXPECT_EQ(reason("1e99999"), "exponent out of range");
    EXPECT_EQ(reason(""), "empty amount");
    EXPECT_EQ(reason(std::string(65, '1')), "amount longer than 64 characters");
    for (const char* bad : {"abc", ".", "1e", "1e+", "0x10", "1,5", "NaN", "Inf", "1.2.3", "e5", "+-1", "1 2"}) {
        EXPECT_EQ(reason(bad), "not a decimal number") << bad;
    }
    EXPECT_EQ(parse_usd_nanos("12.5", kMaxNanos).value(), 12'500'000'000u);
    EXPECT_EQ(amount_refusal(AmountError::TooLarge, 1'500'000'000), "more than 1.5 USD");
}

TEST(CostGrammar, FormatsExactDecimalsThatParseBack) {
    EXPECT_EQ(format_usd(0), "0");
    EXPECT_EQ(format_usd(1), "0.000000001");
    EXPECT_EQ(format_usd(1'500'000'000), "1.5");
    EXPECT_EQ(format_usd(12'345'000'000), "12.345");
    EXPECT_EQ(format_usd(kMaxNanos), "1000000");
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    for (const std::uint64_t n : std::vector<std::uint64_t>{7, 123456789, 1000000001, 12345678123456789, kMax}) {
        const UsdText back = parse_usd_text(format_usd(n), kMax);
        EXPECT_EQ(back.error, AmountError::None) << n;
        EXPECT_EQ(back.nanos, n);
    }
}

TEST(CostGrammar, ConnectorNamesAreOneTo64OfOneCharacterSet) {
    for (const std::string& ok : {std::string("openai"), std::string("a"), std::string("openai.gpt-4o_mini"),
                                  std::string("azure:eu-west.1"), std::string("A-Z_0-9"), std::string(64, 'x')}) {
        EXPECT_TRUE(valid_connector_name(ok)) << ok;
    }
    for (const std::string& bad :
         {std::string(), std::string(65, 'x'), std::string("open ai"), std::string("a/b"), std::string("say\"hi"),
          std::string("back\\slash"), std::string("a\nb"), std::string("caf\xc3\xa9"), std::string("a{b}"),
          std::string("a=b"), std::string("a,b"), std::string(1, '\0')}) {
        EXPECT_FALSE(valid_connector_name(bad)) << bad;
    }
}

}  // namespace
}  // namespace levqor::cost
