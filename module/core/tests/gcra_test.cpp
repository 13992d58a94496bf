// SPDX-License-Identifier: Apache-2.0
#include "levqor/gcra.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>

#include "levqor/rate_plan.h"

namespace levqor::gcra {
namespace {

constexpr std::uint64_t kSec = 1000000000ULL;
constexpr std::uint64_t kStart = 1000 * kSec;  // any non-zero monotonic time

// A bucket plus the injected clock.
struct Bucket {
    Limit limit;
    std::uint64_t tat = 0;
    bool take(std::uint64_t now, std::uint64_t cost = 1) {
        const Decision d = decide(tat, now, limit, cost);
        if (d.allowed) tat = d.new_tat;
        return d.allowed;
    }
};

TEST(Gcra, FullBucketAdmitsExactlyItsBurst) {
    Bucket b{{kSec, 30}};  // 30 tokens, one per second (30r/30s)
    for (int i = 0; i < 30; ++i) EXPECT_TRUE(b.take(kStart)) << i;
    EXPECT_FALSE(b.take(kStart));
}

TEST(Gcra, RefillsOneTokenPerInterval) {
    Bucket b{{kSec, 5}};
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(b.take(kStart));
    EXPECT_FALSE(b.take(kStart + kSec - 1));
    EXPECT_TRUE(b.take(kStart + kSec));
    EXPECT_FALSE(b.take(kStart + kSec));
    EXPECT_TRUE(b.take(kStart + 3 * kSec));
    EXPECT_TRUE(b.take(kStart + 3 * kSec));
    EXPECT_FALSE(b.take(kStart + 3 * kSec));
}

TEST(Gcra, CostChargesSeveralTokens) {
    Bucket b{{kSec, 10}};
    EXPECT_TRUE(b.take(kStart, 7));
    EXPECT_FALSE(b.take(kStart, 4));  // only 3 left, and a rejection charges nothing
    EXPECT_TRUE(b.take(kStart, 3));
    EXPECT_FALSE(b.take(kStart, 1));
}

TEST(Gcra, CostAboveBurstNeverPasses) {
    Bucket b{{kSec, 3}};
    EXPECT_FALSE(b.take(kStart, 4));
    EXPECT_FALSE(b.take(kStart + 100 * kSec, 4));
}

TEST(Gcra, RemainingRetryAfterAndReset) {
    const Limit l{2 * kSec, 3};  // 3 tokens, one per 2 s
    Decision d = decide(0, kStart, l, 1);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2u);
    EXPECT_EQ(d.reset_after_ns, 2 * kSec);
    d = decide(d.new_tat, kStart, l, 2);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 0u);
    EXPECT_EQ(d.reset_after_ns, 6 * kSec);
    const Decision r = decide(d.new_tat, kStart + kSec / 2, l, 1);
    EXPECT_FALSE(r.allowed);
    EXPECT_EQ(r.retry_after_ns, 2 * kSec - kSec / 2);
    EXPECT_EQ(ceil_seconds(r.retry_after_ns), 2u);
    EXPECT_EQ(ceil_seconds(kSec), 1u);
    EXPECT_EQ(ceil_seconds(kSec + 1), 2u);
}

TEST(Gcra, ClockGoingBackwardsOnlyMakesItStricter) {
    Bucket b{{kSec, 2}};
    ASSERT_TRUE(b.take(kStart));
    ASSERT_TRUE(b.take(kStart));
    // The clock steps back: the bucket's debt looks larger, nothing overflows.
    const Decision d = decide(b.tat, kStart - 10 * kSec, b.limit, 1);
    EXPECT_FALSE(d.allowed);
    EXPECT_EQ(d.retry_after_ns, 11 * kSec);
    EXPECT_TRUE(b.take(kStart + kSec));  // and time moving on heals it
}

TEST(Gcra, NewBucketIsFull) {
    EXPECT_TRUE(is_full(0, kStart));
    const Decision d = decide(0, kStart, {kSec, 1}, 1);
    EXPECT_TRUE(d.allowed);
    EXPECT_FALSE(is_full(d.new_tat, kStart));
    EXPECT_TRUE(is_full(d.new_tat, kStart + kSec));
}

// Property: over any window of length W, a bucket admits at most
// W/interval + burst tokens, whatever the arrival pattern and costs.
TEST(Gcra, NeverAdmitsMoreThanRateTimesWindowPlusBurst) {
    std::mt19937_64 rng(12345);
    for (int trial = 0; trial < 40; ++trial) {
        const std::uint64_t interval = 1000 + rng() % (50 * 1000000ULL);
        const std::uint64_t burst = 1 + rng() % 50;
        Bucket b{{interval, burst}};
        std::uint64_t now = kStart;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> admitted;  // (time, cost)
        for (int i = 0; i < 4000; ++i) {
            now += rng() % (3 * interval);
            const std::uint64_t cost = 1 + rng() % 3;
            if (b.take(now, cost)) admitted.emplace_back(now, cost);
        }
        // Check every window that starts at an admitted request, for several lengths.
        for (const std::uint64_t window : {interval, 5 * interval, 37 * interval, 400 * interval}) {
            std::uint64_t sum = 0;
            std::size_t lo = 0;
            for (std::size_t hi = 0; hi < admitted.size(); ++hi) {
                sum += admitted[hi].second;
                while (admitted[hi].first - admitted[lo].first > window) sum -= admitted[lo++].second;
                ASSERT_LE(sum, window / interval + burst)
                    << "trial " << trial << " interval " << interval << " burst " << burst;
            }
        }
    }
}

TEST(Gcra, SustainedRateIsExact) {
    // 5000r/s with burst 1, requests every 10 us for 10 s: exactly 5000/s pass.
    auto rate = limit::parse_rate("5000r/s");
    ASSERT_TRUE(rate);
    Bucket b{{rate.value().interval_ns(), 1}};
    std::uint64_t passed = 0;
    for (std::uint64_t t = 0; t < 10 * kSec; t += 10000) passed += b.take(kStart + t) ? 1 : 0;
    EXPECT_EQ(passed, 50000u);
}

}  // namespace
}  // namespace levqor::gcra
