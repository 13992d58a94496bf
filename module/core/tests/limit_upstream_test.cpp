// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_upstream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace levqor::limit {
namespace {

std::vector<std::string> items_of(const PolicyList& l) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < l.n; ++i)
        out.push_back(std::string(l.items[i].name) + "|" + std::string(l.items[i].params));
    return out;
}

TEST(LimitUpstream, Mode) {
    EXPECT_EQ(parse_upstream_mode("merge").value(), UpstreamMode::Merge);
    EXPECT_EQ(parse_upstream_mode("replace").value(), UpstreamMode::Replace);
    EXPECT_EQ(parse_upstream_mode("pass").value(), UpstreamMode::Pass);
    EXPECT_EQ(parse_upstream_mode("keep").error(), "invalid value \"keep\", expected merge, replace or pass");
}

TEST(LimitUpstream, ParsesTheDraftForm) {
    PolicyList l;
    ASSERT_TRUE(parse_policy_list("\"free-key\";q=60;w=60, \"free-ip\";q=30;w=60", l));
    EXPECT_EQ(items_of(l), (std::vector<std::string>{"free-key|;q=60;w=60", "free-ip|;q=30;w=60"}));
    EXPECT_EQ(l.skipped, 0u);
    // A second line appends (RFC 8941: lines of one field form one list).
    ASSERT_TRUE(parse_policy_list("  day;q=1000;w=86400;qu=\"request\";pk=:cHsdsRa894==:\t", l));
    EXPECT_EQ(items_of(l).back(), "day|;q=1000;w=86400;qu=\"request\";pk=:cHsdsRa894==:");
}

TEST(LimitUpstream, KeepsEscapesAndSkipsWhatIsNoPolicy) {
    PolicyList l;
    ASSERT_TRUE(parse_policy_list(R"("a\"b";r=1;t=2, 42;r=1, ?1, (1 "x");p, -1.5, "c";x;y=?0)", l));
    EXPECT_EQ(items_of(l), (std::vector<std::string>{R"(a\"b|;r=1;t=2)", "c|;x;y=?0"}));
    EXPECT_EQ(l.skipped, 4u);
    PolicyList empty;
    EXPECT_TRUE(parse_policy_list("", empty));
    EXPECT_EQ(empty.n, 0u);
}

TEST(LimitUpstream, RejectsInvalidLists) {
    for (const char* bad : {"\"a\";q=1,", "\"a\";q=1 \"b\"", "\"unterminated", "\"bad\\escape\"", "\"a\";Q=1",
                            "\"a\";q=", "\"a\";q=1234567890123456", "\"a\";q=1.2345", "(1 2", "(1,2)", "\"a\";q=:abc",
                            "@1", ",\"a\"", "\"a\";q=?2", "\"tab\there\""}) {
        PolicyList l;
        l.n = 0;
        EXPECT_FALSE(parse_policy_list(bad, l)) << bad;
        EXPECT_EQ(l.n, 0u) << bad;
    }
    // A bad line leaves what earlier lines gave.
    PolicyList l;
    ASSERT_TRUE(parse_policy_list("\"a\";q=1", l));
    EXPECT_FALSE(parse_policy_list("\"b\";q=1, !", l));
    EXPECT_EQ(items_of(l), std::vector<std::string>{"a|;q=1"});
}

TEST(LimitUpstream, BoundsTheItems) {
    std::string line;
    for (int i = 0; i < 20; ++i) line += (i ? ", \"p" : "\"p") + std::to_string(i) + "\";q=1";
    PolicyList l;
    ASSERT_TRUE(parse_policy_list(line, l));
    EXPECT_EQ(l.n, kMaxUpstreamItems);
    EXPECT_EQ(l.skipped, 20 - kMaxUpstreamItems);
}

std::string merged(MergedNames& names, std::string_view name, MergedNames::Field f) {
    const int k = names.claim(name, f);
    if (k < 0) return "(dropped)";
    std::string buf(merged_item_max(PolicyItem{name, ""}), '\0');
    return std::string(buf.data(), write_merged_item(buf.data(), PolicyItem{name, ""}, k));
}

TEST(LimitUpstream, CollidingNamesGetASuffix) {
    const std::string_view ours[] = {"free-key", "free-ip"};
    MergedNames names(ours, 2);
    EXPECT_EQ(merged(names, "free-key", MergedNames::kPolicy), "\"free-key-upstream\"");
    EXPECT_EQ(merged(names, "gold-ip", MergedNames::kPolicy), "\"gold-ip\"");
    // The same answer in RateLimit: its items still name their policies.
    EXPECT_EQ(merged(names, "free-key", MergedNames::kState), "\"free-key-upstream\"");
    EXPECT_EQ(merged(names, "gold-ip", MergedNames::kState), "\"gold-ip\"");
    // A duplicate within one upstream field is dropped.
    EXPECT_EQ(merged(names, "gold-ip", MergedNames::kState), "(dropped)");
    // A name only RateLimit carries is named by the same rule.
    EXPECT_EQ(merged(names, "free-ip", MergedNames::kState), "\"free-ip-upstream\"");
}

TEST(LimitUpstream, ThreeTiersCountTheHops) {
    // The middle tier merged its own upstream: "free-key" (its own) and
    // "free-key-upstream" (the third tier's).
    const std::string_view ours[] = {"free-key"};
    MergedNames names(ours, 1);
    EXPECT_EQ(merged(names, "free-key", MergedNames::kPolicy), "\"free-key-upstream\"");
    EXPECT_EQ(merged(names, "free-key-upstream", MergedNames::kPolicy), "\"free-key-upstream-upstream\"");
}

TEST(LimitUpstream, NoFreeNameDropsTheItem) {
    const std::string_view ours[] = {"a", "a-upstream", "a-upstream-upstream", "a-upstream-upstream-upstream"};
    MergedNames names(ours, 4);
    EXPECT_EQ(merged(names, "a", MergedNames::kPolicy), "(dropped)");
    EXPECT_EQ(merged(names, "a", MergedNames::kState), "(dropped)");
    EXPECT_EQ(merged(names, std::string(kMaxUpstreamName + 1, 'x'), MergedNames::kPolicy), "(dropped)");
    EXPECT_EQ(merged(names, std::string(kMaxUpstreamName, 'x'), MergedNames::kPolicy),
              "\"" + std::string(kMaxUpstreamName, 'x') + "\"");
}

TEST(LimitUpstream, LegacyNumbers) {
    EXPECT_EQ(parse_legacy_number("42"), 42u);
    EXPECT_EQ(parse_legacy_number(" 0 "), 0u);
    EXPECT_EQ(parse_legacy_number("18446744073709551615"), UINT64_MAX);
    for (const char* bad : {"", " ", "-1", "1.5", "18446744073709551616", "4 2", "0x10", "99999999999999999999999"}) {
        EXPECT_FALSE(parse_legacy_number(bad).has_value()) << bad;
    }
}

}  // namespace
}  // namespace levqor::limit
