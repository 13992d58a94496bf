// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/latency.h"

#include <gtest/gtest.h>

#include <cmath>

#include "levqor/controld/metrics/text_parser.h"

namespace levqor::controld::metrics {
namespace {

using namespace std::chrono_literals;
constexpr double kInf = HUGE_VAL;

// The module's bounds: 0.001 .. 10 s.
Buckets module_buckets(std::initializer_list<double> cumulative) {
    const double bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, kInf};
    Buckets out;
    std::size_t i = 0;
    for (double count : cumulative) out.push_back({bounds[i++], count});
    return out;
}

TEST(HistogramQuantile, InterpolatesInsideTheBucketLikePromQL) {
    // 100 observations: 50 <= 10 ms, 40 in (10, 25] ms, 10 in (25, 50] ms.
    const auto b = module_buckets({0, 0, 50, 90, 100, 100, 100, 100, 100, 100, 100, 100, 100});
    // rank 95 is the 5th of 10 in (0.025, 0.05]: 0.025 + 0.025 * 5/10.
    EXPECT_DOUBLE_EQ(histogram_quantile(0.95, b), 0.0375);
    // rank 50 is the last of the first non-empty bucket (0.005, 0.01].
    EXPECT_DOUBLE_EQ(histogram_quantile(0.5, b), 0.01);
}

TEST(HistogramQuantile, FirstBucketStartsAtZero) {
    const Buckets b = {{0.1, 10}, {kInf, 10}};
    EXPECT_DOUBLE_EQ(histogram_quantile(0.5, b), 0.05);
}

TEST(HistogramQuantile, RankInTheInfBucketAnswersTheHighestBound) {
    const Buckets b = {{0.1, 1}, {1, 2}, {kInf, 100}};
    EXPECT_DOUBLE_EQ(histogram_quantile(0.95, b), 1);
}

TEST(HistogramQuantile, EmptyOrMalformedIsNaN) {
    EXPECT_TRUE(std::isnan(histogram_quantile(0.95, {})));
    EXPECT_TRUE(std::isnan(histogram_quantile(0.95, {{0.1, 0}, {kInf, 0}})));
    EXPECT_TRUE(std::isnan(histogram_quantile(0.95, {{0.1, 3}})));  // no +Inf
}

TEST(SumHistogram, SumsEveryStatusClass) {
    const auto families = parse_exposition(
        "# TYPE levqor_request_duration_seconds histogram\n"
        "levqor_request_duration_seconds_bucket{status_class=\"2xx\",le=\"0.1\"} 3\n"
        "levqor_request_duration_seconds_bucket{status_class=\"2xx\",le=\"+Inf\"} 4\n"
        "levqor_request_duration_seconds_sum{status_class=\"2xx\"} 1\n"
        "levqor_request_duration_seconds_count{status_class=\"2xx\"} 4\n"
        "levqor_request_duration_seconds_bucket{status_class=\"5xx\",le=\"0.1\"} 1\n"
        "levqor_request_duration_seconds_bucket{status_class=\"5xx\",le=\"+Inf\"} 6\n"
        "# TYPE other histogram\nother_bucket{le=\"0.1\"} 100\n");
    const auto b = sum_histogram(families, "levqor_request_duration_seconds");
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0].le, 0.1);
    EXPECT_EQ(b[0].count, 4);
    EXPECT_TRUE(std::isinf(b[1].le));
    EXPECT_EQ(b[1].count, 10);
    EXPECT_TRUE(sum_histogram(families, "absent").empty());
}

TEST(LatencyWindow, FirstScrapeCountsEverythingSinceNginxStarted) {
    LatencyWindow window(300s);
    const auto t0 = LatencyWindow::Clock::time_point{} + 1000s;
    const double p95 = window.observe(t0, {{"a", {{0.01, 100}, {kInf, 100}}}});
    EXPECT_DOUBLE_EQ(p95, 0.0095);  // seconds
}

TEST(LatencyWindow, UsesTheDeltaOverTheWindow) {
    LatencyWindow window(300s);
    const auto t0 = LatencyWindow::Clock::time_point{} + 1000s;
    // Long ago: 1000 fast requests.
    window.observe(t0, {{"a", {{0.01, 1000}, {1, 1000}, {kInf, 1000}}}});
    // 400 s later: 100 slow ones on top. The baseline is the t0 snapshot.
    const double p95 = window.observe(t0 + 400s, {{"a", {{0.01, 1000}, {1, 1100}, {kInf, 1100}}}});
    // All 100 in (0.01, 1]: rank 95 -> 0.01 + 0.99 * 0.95 s.
    EXPECT_NEAR(p95, 0.01 + 0.99 * 0.95, 1e-12);
}

TEST(LatencyWindow, BaselineIsTheNewestSnapshotAtLeastAWindowOld) {
    LatencyWindow window(60s);
    const auto t0 = LatencyWindow::Clock::time_point{} + 1000s;
    window.observe(t0, {{"a", {{0.01, 0}, {1, 0}, {kInf, 0}}}});
    window.observe(t0 + 30s, {{"a", {{0.01, 100}, {1, 100}, {kInf, 100}}}});  // 100 fast
    window.observe(t0 + 90s, {{"a", {{0.01, 100}, {1, 200}, {kInf, 200}}}});  // 100 slow
    // At t0+100 s the baseline is t0+30 s (the newest >= 60 s old): only the slow ones count.
    const double p95 = window.observe(t0 + 100s, {{"a", {{0.01, 100}, {1, 200}, {kInf, 200}}}});
    EXPECT_GT(p95, 0.01);
    // Older snapshots that can never be a baseline again are dropped.
    EXPECT_LE(window.snapshots(), 3u);
}

TEST(LatencyWindow, SumsInstancesAndHandlesResets) {
    LatencyWindow window(300s);
    const auto t0 = LatencyWindow::Clock::time_point{} + 1000s;
    window.observe(t0, {{"a", {{0.01, 500}, {kInf, 500}}}, {"b", {{0.01, 0}, {kInf, 0}}}});
    // a restarted (counts went down): its current counts are the increase.
    // b recorded 10 requests above 10 ms. c is new.
    const double p95 = window.observe(
        t0 + 10s, {{"a", {{0.01, 90}, {kInf, 90}}}, {"b", {{0.01, 0}, {kInf, 10}}}, {"c", {{0.01, 0}, {kInf, 0}}}});
    // 100 requests: 90 <= 10 ms, 10 above -> rank 95 in +Inf -> 0.01 s.
    EXPECT_DOUBLE_EQ(p95, 0.01);
}

TEST(LatencyWindow, NoRequestsIsNaNAndScrapesWithinASecondShareASnapshot) {
    LatencyWindow window(300s);
    const auto t0 = LatencyWindow::Clock::time_point{} + 1000s;
    EXPECT_TRUE(std::isnan(window.observe(t0, {})));
    window.observe(t0 + 100ms, {});
    window.observe(t0 + 900ms, {});
    EXPECT_EQ(window.snapshots(), 1u);
    window.observe(t0 + 1s, {});
    EXPECT_EQ(window.snapshots(), 2u);
}

}  // namespace
}  // namespace levqor::controld::metrics
