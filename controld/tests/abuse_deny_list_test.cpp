// SPDX-License-Identifier: Apache-2.0
// Deny-lists: PCRE2 patterns compiled once with JIT, matching bounded.
#include <gtest/gtest.h>

#include "levqor/controld/abuse/deny_list.h"
#include "levqor/controld/core/settings_reader.h"

namespace levqor::controld::abuse {
namespace {

std::string deny_list_error(const std::vector<std::string>& patterns) {
    try {
        DenyList list("abuse.email_deny_patterns", patterns);
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

TEST(AbuseDenyList, ReturnsTheFirstPatternThatMatches) {
    const DenyList list("abuse.email_deny_patterns",
                        {R"(@mailinator\.com$)", R"(@(guerrillamail|sharklasers)\.com$)", R"(^test)"});
    EXPECT_EQ(list.size(), 3u);
    EXPECT_TRUE(list.jit());
    EXPECT_EQ(list.match("x@mailinator.com"), std::optional<std::size_t>(0));
    EXPECT_EQ(list.match("x@sharklasers.com"), std::optional<std::size_t>(1));
    EXPECT_EQ(list.match("test@mailinator.com"), std::optional<std::size_t>(0));
    EXPECT_EQ(list.match("tester@example.com"), std::optional<std::size_t>(2));
    EXPECT_EQ(list.match("x@mailinator.com.example"), std::nullopt);
    EXPECT_EQ(list.match("x@example.com"), std::nullopt);
    EXPECT_EQ(list.match(""), std::nullopt);
}

TEST(AbuseDenyList, APatternWithCapturesMatchesToo) {
    const DenyList list("abuse.email_deny_patterns", {"^nope$", R"(^(\w)(\w)(\w)@(\w+)\.(com)$)"});
    EXPECT_EQ(list.match("abc@host.com"), std::optional<std::size_t>(1));
    EXPECT_EQ(list.match("abcd@host.com"), std::nullopt);
}

TEST(AbuseDenyList, CaseMattersUnlessThePatternSaysOtherwise) {
    const DenyList list("abuse.device_deny_patterns", {"HeadlessChrome", "(?i)phantomjs"});
    EXPECT_EQ(list.match("Mozilla/5.0 HeadlessChrome/120"), std::optional<std::size_t>(0));
    EXPECT_EQ(list.match("headlesschrome"), std::nullopt);
    EXPECT_EQ(list.match("PhantomJS/2.1"), std::optional<std::size_t>(1));
}

TEST(AbuseDenyList, AnEmptyListMatchesNothing) {
    const DenyList list;
    EXPECT_EQ(list.size(), 0u);
    EXPECT_EQ(list.match("anything"), std::nullopt);
    EXPECT_EQ(list.match(std::string(5000, 'x')), std::nullopt);
}

TEST(AbuseDenyList, InvalidUtf8InTheSubjectIsMatchedNotAnError) {
    const DenyList list("abuse.device_deny_patterns", {"bot"});
    EXPECT_EQ(list.match("\xff\xfe bot \xc3"), std::optional<std::size_t>(0));
    EXPECT_EQ(list.match("\xff\xfe"), std::nullopt);
}

TEST(AbuseDenyList, ABadPatternIsAConfigErrorNamingKeyIndexMessageAndOffset) {
    EXPECT_EQ(deny_list_error({"ok", "(abc"}),
              "abuse.email_deny_patterns[1] = \"(abc\" is invalid: missing closing parenthesis at offset 4");
    EXPECT_EQ(
        deny_list_error({"a{2,1}"}),
        "abuse.email_deny_patterns[0] = \"a{2,1}\" is invalid: numbers out of order in {} quantifier at offset 5");
    EXPECT_EQ(deny_list_error({""}),
              "abuse.email_deny_patterns[0] = \"\" is invalid: empty pattern (it would match everything)");
    EXPECT_EQ(deny_list_error({std::string(1025, 'a')}),
              "abuse.email_deny_patterns[0] is invalid: longer than 1024 bytes");
    EXPECT_EQ(deny_list_error(std::vector<std::string>(257, "a")),
              "abuse.email_deny_patterns has 257 patterns; at most 256 are accepted");
}

TEST(AbuseDenyList, MatchingIsBounded) {
    const DenyList list("abuse.device_deny_patterns", {"(a+)+$"});
    EXPECT_THROW(list.match(std::string(1025, 'a')), std::invalid_argument);
    // Catastrophic backtracking stops at the match limit, naming the pattern.
    try {
        list.match(std::string(40, 'a') + "b");
        ADD_FAILURE() << "the match was not stopped";
    } catch (const DenyMatchError& e) {
        EXPECT_EQ(std::string(e.what()), "abuse.device_deny_patterns[0]: matching stopped: match limit exceeded");
    }
}

}  // namespace
}  // namespace levqor::controld::abuse
