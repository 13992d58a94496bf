// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

namespace levqor::controld {
namespace {

using nlohmann::ordered_json;

TEST(Log, LineIsOneJsonObjectWithTsLevelMsgFirst) {
    const auto line = format_log_line(LogLevel::info, "listening", {{"addr", "127.0.0.1:1"}});
    const auto json = ordered_json::parse(line);
    std::vector<std::string> keys;
    for (const auto& item : json.items()) keys.push_back(item.key());
    EXPECT_EQ(keys, (std::vector<std::string>{"ts", "level", "msg", "addr"}));
    EXPECT_EQ(json["level"], "info");
    EXPECT_EQ(json["msg"], "listening");
    EXPECT_EQ(json["addr"], "127.0.0.1:1");
    EXPECT_TRUE(
        std::regex_match(json["ts"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << json["ts"];
}

TEST(Log, FieldsCannotOverwriteTheFixedKeys) {
    const auto json =
        ordered_json::parse(format_log_line(LogLevel::warn, "real", {{"msg", "fake"}, {"level", "debug"}}));
    EXPECT_EQ(json["msg"], "real");
    EXPECT_EQ(json["level"], "warn");
}

TEST(Log, InvalidUtf8IsReplacedNotThrown) {
    const std::string bad = "/path\xff\xfe";
    std::string line;
    ASSERT_NO_THROW(line = format_log_line(LogLevel::info, bad, {{"path", bad}}));
    EXPECT_NO_THROW(ordered_json::parse(line));
    EXPECT_NE(line.find("\xEF\xBF\xBD"), std::string::npos) << line;  // U+FFFD
}

TEST(Log, ControlCharactersAreEscapedSoEachEntryStaysOneLine) {
    const auto line = format_log_line(LogLevel::info, "a\nb", {{"x", "c\r\nd"}});
    EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, LoggerFiltersByLevelAndEndsLinesWithNewline) {
    std::vector<std::string> lines;
    const Logger log(LogLevel::warn, [&](std::string_view line) { lines.emplace_back(line); });
    log.info("dropped");
    log.error("kept", {{"n", 1}});
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].back(), '\n');
    EXPECT_EQ(ordered_json::parse(lines[0])["n"], 1);
}

TEST(Log, ParsesLevels) {
    EXPECT_EQ(parse_log_level("debug"), LogLevel::debug);
    EXPECT_EQ(parse_log_level("warning"), LogLevel::warn);
    EXPECT_EQ(parse_log_level("error"), LogLevel::error);
    EXPECT_FALSE(parse_log_level("INFO"));
}

}  // namespace
}  // namespace levqor::controld
