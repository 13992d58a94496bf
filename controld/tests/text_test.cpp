// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/text.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace levqor::controld {
namespace {

TEST(Text, Trim) {
    EXPECT_EQ(trim("  a b \t\r\n"), "a b");
    EXPECT_EQ(trim(" \t\r\n"), "");
    EXPECT_EQ(trim(""), "");
}

TEST(Text, ToLower) { EXPECT_EQ(to_lower("Accept-Encoding: BR"), "accept-encoding: br"); }

TEST(Text, ContentLinesSkipBlanksAndCommentsAndKeepNumbers) {
    std::vector<std::pair<std::size_t, std::string>> seen;
    for_each_content_line("# head\n\n  a = 1 \r\n#x\nb\n  # indented comment\nc",
                          [&](std::size_t n, std::string_view line) { seen.emplace_back(n, line); });
    EXPECT_EQ(seen, (std::vector<std::pair<std::size_t, std::string>>{{3, "a = 1"}, {5, "b"}, {7, "c"}}));
}

}  // namespace
}  // namespace levqor::controld
