// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/json.h"

#include <gtest/gtest.h>

#include <string>

namespace levqor::controld {
namespace {

const JsonLimits kLimits{1 << 20};

std::string nested(std::size_t depth, char open = '[', char close = ']') {
    return std::string(depth, open) + std::string(depth, close);
}

JsonError::Kind refusal(std::string_view text, const JsonLimits& limits = kLimits) {
    try {
        check_json_bounds(text, limits);
    } catch (const JsonError& e) {
        return e.kind();
    }
    ADD_FAILURE() << "accepted: " << text.substr(0, 80);
    return JsonError::Kind::syntax;
}

TEST(Json, DepthSixtyFourIsAcceptedSixtyFiveIsRefused) {
    EXPECT_NO_THROW(parse_json(nested(64), kLimits));
    EXPECT_EQ(refusal(nested(65)), JsonError::Kind::too_deep);
    // Objects and arrays count alike.
    std::string mixed;
    for (int i = 0; i < 32; ++i) mixed += "{\"a\":[";
    for (int i = 0; i < 32; ++i) mixed += "]}";
    EXPECT_NO_THROW(parse_json(mixed, kLimits));
    EXPECT_EQ(refusal("{\"x\":" + mixed + "}"), JsonError::Kind::too_deep);
}

TEST(Json, TheMessageSaysHowDeepAndWhere) {
    try {
        check_json_bounds(nested(300000), kLimits);
        FAIL() << "accepted";
    } catch (const JsonError& e) {
        EXPECT_STREQ(e.what(), "nesting deeper than 64 levels (at byte 64)");
    }
}

TEST(Json, TheReviewsBodyIsRefusedWithoutBuildingIt) {
    // ~600 KB nested 300,000 deep (security review, H1).
    const std::string body = "{\"type\":\"noop\",\"payload\":{\"a\":" + nested(300000) + "}}";
    EXPECT_EQ(refusal(body), JsonError::Kind::too_deep);
    EXPECT_THROW(parse_json(body, kLimits), JsonError);
}

TEST(Json, BracketsInsideStringsDoNotCount) {
    const std::string deep_text = "[\"" + nested(200) + "\", \"{{{{\", \"]]]]\"]";
    EXPECT_NO_THROW(parse_json(deep_text, kLimits));
    // Escaped quotes do not end the string; an escaped backslash does not escape the quote.
    EXPECT_NO_THROW(parse_json("[\"\\\"" + std::string(100, '[') + "\"]", kLimits));
    EXPECT_NO_THROW(parse_json("[\"\\\\\"]", kLimits));
    EXPECT_EQ(refusal("[\"\\\\\"" + nested(64) + "]"), JsonError::Kind::too_deep);
    // Keys are strings too.
    EXPECT_NO_THROW(parse_json("{\"" + std::string(100, '{') + "\":1}", kLimits));
}

TEST(Json, SizeCap) {
    const JsonLimits small{10};
    EXPECT_NO_THROW(parse_json("[1,2,3,44]", small));
    try {
        parse_json("[1,2,3,444]", small);
        FAIL() << "accepted";
    } catch (const JsonError& e) {
        EXPECT_EQ(e.kind(), JsonError::Kind::too_large);
        EXPECT_STREQ(e.what(), "11 bytes; the limit is 10");
    }
}

TEST(Json, SyntaxErrorsAreJsonErrors) {
    EXPECT_EQ(refusal("]" + nested(10)), JsonError::Kind::syntax);
    try {
        parse_json("{\"a\":", kLimits);
        FAIL() << "accepted";
    } catch (const JsonError& e) {
        EXPECT_EQ(e.kind(), JsonError::Kind::syntax);
        EXPECT_NE(std::string(e.what()).find("parse error"), std::string::npos) << e.what();
    }
    // Closing more than was opened can never be JSON, so depth cannot "go negative"
    // and come back up unchecked.
    EXPECT_EQ(refusal(std::string(100, ']') + nested(100)), JsonError::Kind::syntax);
}

// nlohmann reports a number outside double's range as out_of_range (406), not
// as a parse_error: it must still be a JsonError (a 400, a refused config),
// never an exception the callers do not expect (a 500; controld exiting on
// SIGHUP). Found by the controld_config fuzz target.
TEST(Json, NumbersOutOfRangeAreSyntaxErrors) {
    for (const char* text : {"[1e999]", "{\"n\":-1e999}", "5555555555555e5555555555555555"}) {
        try {
            parse_json(text, kLimits);
            ADD_FAILURE() << "accepted: " << text;
        } catch (const JsonError& e) {
            EXPECT_EQ(e.kind(), JsonError::Kind::syntax) << text;
            EXPECT_NE(std::string(e.what()).find("number overflow"), std::string::npos) << e.what();
        }
        EXPECT_THROW(parse_ordered_json(text, kLimits), JsonError) << text;
    }
}

TEST(Json, CommentsOnlyWhenAllowed) {
    const JsonLimits with_comments{1 << 20, kMaxJsonDepth, true};
    const std::string text = "// [[[[ line comment\n{\"a\": /* {{{{ */ 1}";
    EXPECT_EQ(parse_json(text, with_comments)["a"], 1);
    EXPECT_THROW(parse_json(text, kLimits), JsonError);
    EXPECT_EQ(refusal("/* */" + nested(65), with_comments), JsonError::Kind::too_deep);
    // A '/' inside a string is not a comment.
    EXPECT_EQ(parse_json("{\"u\":\"http://x/*\"}", with_comments)["u"], "http://x/*");
}

TEST(Json, OrderedJsonKeepsTheOrder) {
    const auto value = parse_ordered_json("{\"b\":1,\"a\":2}", kLimits);
    EXPECT_EQ(value.dump(), "{\"b\":1,\"a\":2}");
    EXPECT_THROW(parse_ordered_json(nested(65), kLimits), JsonError);
}

TEST(Json, DumpSizeLowerBound) {
    for (const char* text : {"{}", "[]", "null", "true", "false", "0", "-1.5e300", "\"\"", "\"\\u0001\\n\"",
                             "{\"a\":[1,2,{\"b\":null}],\"c\":\"xyz\"}", "[[],[[]],{}]", "1e15"}) {
        const auto value = nlohmann::json::parse(text);
        EXPECT_LE(json_dump_size_at_least(value), value.dump().size()) << text;
    }
    EXPECT_EQ(json_dump_size_at_least(nlohmann::json::parse("{\"a\":[1,\"xy\"]}")),
              std::string("{\"a\":[1,\"xy\"]}").size());
    // No recursion: a value as deep as nlohmann allows is measured.
    nlohmann::json deep = nlohmann::json::array();
    nlohmann::json* at = &deep;
    for (int i = 0; i < 100000; ++i) at = &at->emplace_back(nlohmann::json::array());
    EXPECT_EQ(json_dump_size_at_least(deep), 200002u);
}

}  // namespace
}  // namespace levqor::controld
