// SPDX-License-Identifier: Apache-2.0
// HealthService: results shared between callers (L10), and what /healthz
// shows without and with the admin token. Dependencies are addresses where
// nothing listens, so every check fails fast and is counted.
#include "levqor/controld/health/health_service.h"

#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "levqor/controld/metrics/service.h"
#include "test_support.h"

namespace levqor::controld::health {
namespace {

using namespace std::chrono_literals;

constexpr const char* kDownRedis = "redis://127.0.0.1:1";
constexpr const char* kDownNginx = "http://127.0.0.1:1/levqor/status";

struct HealthFixture {
    testing::CapturedLog log;
    metrics::Registry registry;
    metrics::MetricsService metrics{
        registry, log.logger, {{metrics::NginxInstance{"edge", kDownNginx}}, 500ms, 300s}, nullptr};
    metrics::Counter& redis_checks = metrics::backend_errors(registry).labels({"redis"});

    HealthService service(std::chrono::milliseconds cache_for) {
        return HealthService(metrics, registry, {std::string(kDownRedis), std::nullopt, cache_for}, nullptr);
    }
};

TEST(Health, ConcurrentCallersShareOneCheck) {
    HealthFixture f;
    auto health = f.service(1h);
    std::vector<std::future<nlohmann::ordered_json>> reports;
    for (int i = 0; i < 32; ++i) {
        reports.push_back(
            std::async(std::launch::async, [&] { return health.report(std::chrono::seconds(1), Detail::summary); }));
    }
    for (auto& report : reports) EXPECT_EQ(report.get()["checks"]["redis"], "down");
    EXPECT_EQ(f.redis_checks.value(), 1) << "32 callers, one fan-out";
    health.report(std::chrono::seconds(2), Detail::full);
    EXPECT_EQ(f.redis_checks.value(), 1) << "still cached";
    health.reconfigure({std::string(kDownRedis), std::nullopt, 1h});
    health.report(std::chrono::seconds(3), Detail::summary);
    EXPECT_EQ(f.redis_checks.value(), 2) << "new settings: checked again";
}

TEST(Health, ResultsExpireAfterCacheFor) {
    HealthFixture f;
    auto health = f.service(0ms);
    health.report(std::chrono::seconds(1), Detail::summary);
    health.report(std::chrono::seconds(1), Detail::summary);
    EXPECT_EQ(f.redis_checks.value(), 2);
}

TEST(Health, OnlyTheFullReportNamesUrlsAndErrors) {
    HealthFixture f;
    auto health = f.service(1h);
    const auto summary = health.report(std::chrono::seconds(7), Detail::summary);
    EXPECT_EQ(summary["status"], "degraded");
    EXPECT_EQ(summary["uptime_s"], 7);
    EXPECT_EQ(summary["checks"]["nginx"]["edge"], (nlohmann::ordered_json{{"status", "down"}}));
    EXPECT_EQ(summary["checks"]["redis"], "down");
    EXPECT_FALSE(summary.contains("errors"));
    EXPECT_EQ(summary.dump().find("127.0.0.1"), std::string::npos) << summary.dump();

    const auto full = health.report(std::chrono::seconds(8), Detail::full);
    EXPECT_EQ(full["uptime_s"], 8);
    EXPECT_EQ(full["checks"]["nginx"]["edge"]["url"], kDownNginx);
    EXPECT_FALSE(full["checks"]["nginx"]["edge"]["error"].get<std::string>().empty());
    EXPECT_FALSE(full["errors"]["redis"].get<std::string>().empty());
}

}  // namespace
}  // namespace levqor::controld::health
