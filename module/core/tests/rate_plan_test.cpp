// SPDX-License-Identifier: Apache-2.0
#include "levqor/rate_plan.h"

#include <gtest/gtest.h>

namespace levqor::limit {
namespace {

TEST(Rate, Parses) {
    EXPECT_EQ(parse_rate("60r/m").value().interval_ns(), 1000000000ULL);
    EXPECT_EQ(parse_rate("5000r/s").value().interval_ns(), 200000ULL);
    EXPECT_EQ(parse_rate("600r/m").value().interval_ns(), 100000000ULL);
    EXPECT_EQ(parse_rate("10r/h").value().interval_ns(), 360000000000ULL);
    EXPECT_EQ(parse_rate("60r/m").value().text(), "60r/m");
}

TEST(Rate, RejectsMalformed) {
    for (const char* bad :
         {"", "r/s", "0r/s", "-1r/s", "10r/d", "10/s", "10r/", "10r/ss", "1.5r/s", "99999999999r/s", "10 r/s"}) {
        const auto r = parse_rate(bad);
        EXPECT_FALSE(r) << bad;
        EXPECT_NE(r.error().find(std::string("\"") + bad + "\""), std::string::npos) << r.error();
    }
}

TEST(Plan, DefaultsArePlatformPlans) {
    const auto plans = default_plans();
    ASSERT_EQ(plans.size(), 2u);
    EXPECT_EQ(plans[0].name, "free");
    EXPECT_EQ(plans[0].key_burst, 60u);
    EXPECT_EQ(plans[0].ip_burst, 30u);
    EXPECT_EQ(plans[0].key_limit().interval_ns, 1000000000ULL);
    EXPECT_EQ(plans[0].ip_limit().interval_ns, 2000000000ULL);
    EXPECT_EQ(plans[1].name, "pro");
    EXPECT_EQ(plans[1].key_burst, 600u);
    EXPECT_EQ(plans[1].ip_burst, 120u);
}

TEST(Plan, ParsesBursts) {
    const auto p = parse_plan("gold", {"key=100r/s", "ip=10r/s", "key_burst=5", "ip_burst=2"});
    ASSERT_TRUE(p) << p.error();
    EXPECT_EQ(p.value().key_burst, 5u);
    EXPECT_EQ(p.value().ip_burst, 2u);
}

TEST(Plan, RejectsBadInput) {
    EXPECT_FALSE(parse_plan("gold", {"key=100r/s"}));                    // no ip
    EXPECT_FALSE(parse_plan("gold", {"key=100r/s", "ip=1r/s", "x=1"}));  // unknown
    EXPECT_FALSE(parse_plan("gold", {"key=100r/s", "key=1r/s", "ip=1r/s"}));
    EXPECT_FALSE(parse_plan("gold", {"key=100r/s", "ip=1r/s", "key_burst=0"}));
    EXPECT_FALSE(parse_plan("bad name", {"key=100r/s", "ip=1r/s"}));
    EXPECT_FALSE(parse_plan("gold", {"key=1r/h", "ip=1r/s", "key_burst=1000000000"}));  // overflow
    const auto e = parse_plan("gold", {"key=fast", "ip=1r/s"});
    ASSERT_FALSE(e);
    EXPECT_NE(e.error().find("\"fast\""), std::string::npos);
}

TEST(Plan, ChargeFitsBelowTwoToThe62) {
    const std::uint64_t hour = parse_rate("1r/h").value().interval_ns();  // 3.6e12 ns
    EXPECT_TRUE(charge_fits(kMaxCost, hour, 1));                          // the largest local charge fits
    EXPECT_FALSE(charge_fits(kMaxCost, hour, 2));
    EXPECT_FALSE(charge_fits(100000, hour, 100));  // the review's example (L7)
    EXPECT_TRUE(charge_fits(10, hour, 100));
    EXPECT_TRUE(charge_fits(1, (kMaxChargeNs - 1), 1));
    EXPECT_FALSE(charge_fits(1, kMaxChargeNs, 1));
    EXPECT_FALSE(charge_fits(kMaxCost, kMaxChargeNs, 10000));  // no wrap in the check itself
}

}  // namespace
}  // namespace levqor::limit
