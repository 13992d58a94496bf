// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/flag_set.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace levqor::controld {
namespace {

TEST(FlagSet, NamesAndStatesRoundTrip) {
    for (Flag flag : kAllFlags) EXPECT_EQ(parse_flag_name(flag_name(flag)), flag);
    for (FlagState state : {FlagState::off, FlagState::shadow, FlagState::on}) {
        EXPECT_EQ(parse_flag_state(to_string(state)), state);
    }
    EXPECT_FALSE(parse_flag_name("ratelimit_enabled"));
    EXPECT_FALSE(parse_flag_state("On"));
    EXPECT_FALSE(parse_flag_state(""));
}

TEST(FlagSet, StartsAllOff) {
    const FlagSet flags;
    for (Flag flag : kAllFlags) EXPECT_EQ(flags.get(flag), FlagState::off);
}

TEST(FlagSet, FileFormatIsExactlyTheContract) {
    FlagSet flags;
    flags.set(Flag::ratelimit, FlagState::shadow);
    flags.set(Flag::new_queue, FlagState::on);
    EXPECT_EQ(render_flags_file(flags),
              "# levqor runtime flags, written by levqor-controld; do not edit by hand\n"
              "SECURITY_HEADERS_ENABLED=off\n"
              "RATELIMIT_ENABLED=shadow\n"
              "WEBHOOK_VERIFY_ALL=off\n"
              "ABUSE_GUARDS_ENABLED=off\n"
              "NEW_QUEUE_ENABLED=on\n");
    EXPECT_EQ(parse_flags_file(render_flags_file(flags)), flags);
}

TEST(FlagSet, ParseAcceptsCommentsBlanksAndAnyOrder) {
    const auto flags = parse_flags_file(
        "\n# c\nNEW_QUEUE_ENABLED = on\r\nSECURITY_HEADERS_ENABLED=shadow\nRATELIMIT_ENABLED=off\n"
        "ABUSE_GUARDS_ENABLED=off\nWEBHOOK_VERIFY_ALL=on");
    EXPECT_EQ(flags.get(Flag::new_queue), FlagState::on);
    EXPECT_EQ(flags.get(Flag::security_headers), FlagState::shadow);
    EXPECT_EQ(flags.get(Flag::webhook_verify), FlagState::on);
}

TEST(FlagSet, ParseRejectsBadFiles) {
    const std::string all =
        "SECURITY_HEADERS_ENABLED=off\nRATELIMIT_ENABLED=off\nWEBHOOK_VERIFY_ALL=off\n"
        "ABUSE_GUARDS_ENABLED=off\nNEW_QUEUE_ENABLED=off\n";
    EXPECT_THROW(parse_flags_file(all + "OTHER=on\n"), std::invalid_argument);
    EXPECT_THROW(parse_flags_file(all + "RATELIMIT_ENABLED=on\n"), std::invalid_argument);
    EXPECT_THROW(parse_flags_file("SECURITY_HEADERS_ENABLED=off\n"), std::invalid_argument);
    EXPECT_THROW(parse_flags_file(all + "garbage\n"), std::invalid_argument);
    try {
        parse_flags_file("RATELIMIT_ENABLED=yes\n");
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_STREQ(e.what(), "line 1: RATELIMIT_ENABLED=\"yes\": expected off, shadow or on");
    }
}

TEST(FlagSet, JsonHasAllFiveInOrder) {
    FlagSet flags;
    flags.set(Flag::abuse_guards, FlagState::shadow);
    EXPECT_EQ(to_json(flags).dump(),
              R"({"SECURITY_HEADERS_ENABLED":"off","RATELIMIT_ENABLED":"off",)"
              R"("WEBHOOK_VERIFY_ALL":"off","ABUSE_GUARDS_ENABLED":"shadow","NEW_QUEUE_ENABLED":"off"})");
}

}  // namespace
}  // namespace levqor::controld
