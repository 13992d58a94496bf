// SPDX-License-Identifier: Apache-2.0
#include "levqor/flags.h"

#include <gtest/gtest.h>

namespace levqor::flags {
namespace {

TEST(Flags, RoundTrip) {
    FlagSet s;
    s.set(Flag::ratelimit, State::shadow);
    s.set(Flag::security_headers, State::on);
    const auto parsed = parse_file(format_file(s));
    ASSERT_TRUE(parsed) << parsed.error();
    EXPECT_EQ(parsed.value(), s);
}

TEST(Flags, ParsesCommentsBlanksAndSpaces) {
    const auto p = parse_file(
        "# header\n\nSECURITY_HEADERS_ENABLED = on\r\nRATELIMIT_ENABLED=shadow\nWEBHOOK_VERIFY_ALL=off\n"
        "ABUSE_GUARDS_ENABLED=off\nNEW_QUEUE_ENABLED=on");
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p.value().get(Flag::security_headers), State::on);
    EXPECT_EQ(p.value().get(Flag::ratelimit), State::shadow);
    EXPECT_EQ(p.value().get(Flag::new_queue), State::on);
}

TEST(Flags, RejectsBadFiles) {
    const std::string all =
        "SECURITY_HEADERS_ENABLED=on\nRATELIMIT_ENABLED=on\nWEBHOOK_VERIFY_ALL=on\nABUSE_GUARDS_ENABLED=on\n";
    EXPECT_NE(parse_file(all).error().find("NEW_QUEUE_ENABLED is missing"), std::string::npos);
    EXPECT_EQ(parse_file(all + "NEW_QUEUE_ENABLED=maybe\n").error(),
              "line 5: NEW_QUEUE_ENABLED=\"maybe\": expected off, shadow or on");
    EXPECT_NE(parse_file(all + "NEW_QUEUE_ENABLED=on\nBOGUS=on\n").error().find("unknown flag \"BOGUS\""),
              std::string::npos);
    EXPECT_NE(parse_file(all + "NEW_QUEUE_ENABLED=on\nRATELIMIT_ENABLED=off\n").error().find("twice"),
              std::string::npos);
    EXPECT_FALSE(parse_file(all + "NEW_QUEUE_ENABLED on\n"));
    EXPECT_FALSE(parse_file(""));
}

}  // namespace
}  // namespace levqor::flags
