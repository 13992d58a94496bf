// SPDX-License-Identifier: Apache-2.0
#include "levqor/limit_headers.h"

#include <gtest/gtest.h>

#include <string>

namespace levqor::limit {
namespace {

TEST(LimitHeaders, WriteU64) {
    char buf[kMaxU64Digits];
    for (const std::uint64_t v :
         {0ULL, 7ULL, 9ULL, 10ULL, 99ULL, 100ULL, 429ULL, 1000ULL, 12345ULL, 18446744073709551615ULL}) {
        EXPECT_EQ(std::string(buf, write_u64(buf, v)), std::to_string(v));
    }
}

TEST(LimitHeaders, PolicyItems) {
    EXPECT_EQ(policy_item("free-key", {1000000000ULL, 60}), "\"free-key\";q=60;w=60");
    EXPECT_EQ(policy_item("x", {200000ULL, 1}), "\"x\";q=1;w=1");  // 5000r/s, burst 1: w rounds up
    EXPECT_EQ(policy_item("pro-ip", {500000000ULL, 120}), "\"pro-ip\";q=120;w=60");
}

TEST(LimitHeaders, StateItem) {
    const std::string prefix = state_item_prefix("free-ip");
    std::string buf(state_item_max(prefix), '\0');
    char* end = write_state_item(buf.data(), prefix, 29, 2);
    EXPECT_EQ(std::string(buf.data(), end), "\"free-ip\";r=29;t=2");
}

TEST(LimitHeaders, RejectionBody) {
    char buf[kRejectionBodyMax];
    EXPECT_EQ(std::string(buf, write_rejection_body(buf, 17)), "{\"error\":\"rate_limited\",\"retry_after\":17}");
}

}  // namespace
}  // namespace levqor::limit
