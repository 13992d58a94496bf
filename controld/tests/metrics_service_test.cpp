// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/service.h"

#include <gtest/gtest.h>

#include <cmath>

#include "fake_server.h"
#include "levqor/controld/metrics/text_parser.h"
#include "test_support.h"

namespace levqor::controld::metrics {
namespace {

using namespace std::chrono_literals;
using testing::CapturedLog;
using testing::FakeServer;

constexpr const char* kModule =
    "# HELP levqor_csp_nonces_total CSP nonces generated.\n"
    "# TYPE levqor_csp_nonces_total counter\n"
    "levqor_csp_nonces_total 4\n"
    "# HELP levqor_request_duration_seconds Request durations.\n"
    "# TYPE levqor_request_duration_seconds histogram\n"
    "levqor_request_duration_seconds_bucket{status_class=\"2xx\",le=\"0.01\"} 100\n"
    "levqor_request_duration_seconds_bucket{status_class=\"2xx\",le=\"+Inf\"} 100\n"
    "levqor_request_duration_seconds_sum{status_class=\"2xx\"} 0.5\n"
    "levqor_request_duration_seconds_count{status_class=\"2xx\"} 100\n";

const MetricFamily* find(const std::vector<MetricFamily>& families, const std::string& name) {
    for (const auto& f : families) {
        if (f.name == name) return &f;
    }
    return nullptr;
}

std::string value_of(const std::vector<MetricFamily>& families, const std::string& name,
                     const std::string& instance = "") {
    const auto* family = find(families, name);
    if (family == nullptr) return "<absent>";
    for (const auto& s : family->samples) {
        if (instance.empty() && s.labels.empty()) return s.value;
        for (const auto& l : s.labels) {
            if (l.name == "instance" && l.value == instance) return s.value;
        }
    }
    return "<no sample>";
}

struct Fixture {
    CapturedLog log;
    Registry registry;
    std::vector<InstanceStatus> transitions;
    std::mutex mutex;
    MetricsService service(MetricsService::Settings settings) {
        return MetricsService(registry, log.logger, std::move(settings), [this](const InstanceStatus& s) {
            std::lock_guard<std::mutex> lock(mutex);
            transitions.push_back(s);
        });
    }
};

TEST(MetricsService, MergesInstancesAndReportsTheDownOnes) {
    FakeServer edge1, edge2, broken;
    edge1.serve("/status", kModule);
    edge2.serve("/status", kModule);
    broken.serve("/status", "this is { not metrics\n");
    Fixture f;
    auto service = f.service({{{"edge-1", edge1.url("/status")},
                               {"edge-2", edge2.url("/status")},
                               {"broken", broken.url("/status")},
                               {"gone", "http://127.0.0.1:1/status"},
                               {"404", edge1.url("/nothing")}},
                              1000ms,
                              300s});
    const auto text = service.exposition();
    const auto families = parse_exposition(text);
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "edge-1"), "1");
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "edge-2"), "1");
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "broken"), "0");
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "gone"), "0");
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "404"), "0");
    EXPECT_EQ(value_of(families, "levqor_nginx_last_success_timestamp_seconds", "gone"), "0");
    EXPECT_NE(value_of(families, "levqor_nginx_last_success_timestamp_seconds", "edge-1"), "0");
    EXPECT_EQ(value_of(families, "levqor_csp_nonces_total", "edge-1"), "4");
    EXPECT_EQ(value_of(families, "levqor_csp_nonces_total", "edge-2"), "4");
    const auto* backend = find(families, "levqor_backend_errors_total");
    ASSERT_NE(backend, nullptr);
    EXPECT_EQ(backend->samples[0].value, "3");
    // 200 requests, all <= 10 ms: p95 = 9.5 ms.
    EXPECT_EQ(value_of(families, "levqor_api_latency_p95_seconds"), "0.0095");
    // HELP and TYPE once per family.
    std::size_t helps = 0;
    for (std::size_t pos = 0; (pos = text.find("# HELP levqor_csp_nonces_total ", pos)) != std::string::npos; ++pos) {
        ++helps;
    }
    EXPECT_EQ(helps, 1u);

    std::lock_guard<std::mutex> lock(f.mutex);
    ASSERT_EQ(f.transitions.size(), 3u);  // broken, gone, 404 went down
    for (const auto& t : f.transitions) EXPECT_FALSE(t.up);
}

TEST(MetricsService, TransitionsAreReportedOncePerChange) {
    FakeServer edge;
    Fixture f;
    auto service = f.service({{{"edge", edge.url("/status")}}, 500ms, 300s});
    service.probe();  // 404: down
    service.probe();  // still down: no new transition
    edge.serve("/status", kModule);
    auto statuses = service.probe();
    ASSERT_EQ(statuses.size(), 1u);
    EXPECT_TRUE(statuses[0].up);
    std::lock_guard<std::mutex> lock(f.mutex);
    ASSERT_EQ(f.transitions.size(), 2u);
    EXPECT_FALSE(f.transitions[0].up);
    EXPECT_NE(f.transitions[0].error.find("HTTP status 404"), std::string::npos);
    EXPECT_TRUE(f.transitions[1].up);
}

TEST(MetricsService, ASlowInstanceCostsAtMostTheScrapeTimeout) {
    FakeServer fast, slow;
    fast.serve("/status", kModule);
    slow.serve("/status", kModule, 200, 2000ms);
    Fixture f;
    auto service = f.service({{{"fast", fast.url("/status")}, {"slow", slow.url("/status")}}, 200ms, 300s});
    const auto begin = std::chrono::steady_clock::now();
    const auto families = parse_exposition(service.exposition());
    const auto took = std::chrono::steady_clock::now() - begin;
    EXPECT_LT(took, 1000ms);
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "fast"), "1");
    EXPECT_EQ(value_of(families, "levqor_nginx_up", "slow"), "0");
    std::lock_guard<std::mutex> lock(f.mutex);
    ASSERT_EQ(f.transitions.size(), 1u);
    EXPECT_NE(f.transitions[0].error.find("timed out after 200 ms"), std::string::npos) << f.transitions[0].error;
}

TEST(MetricsService, NoInstancesStillAnswersOwnMetricsAndNaN) {
    Fixture f;
    f.registry.counter("levqor_errors_total", "E.", {"component"}).labels({"api"});
    auto service = f.service({{}, 1000ms, 300s});
    const auto families = parse_exposition(service.exposition());
    EXPECT_EQ(find(families, "levqor_nginx_up"), nullptr);
    EXPECT_EQ(value_of(families, "levqor_api_latency_p95_seconds"), "NaN");
    EXPECT_NE(find(families, "levqor_errors_total"), nullptr);
}

TEST(MetricsService, ReconfigureChangesTheInstances) {
    FakeServer a, b;
    a.serve("/s", kModule);
    b.serve("/s", kModule);
    Fixture f;
    auto service = f.service({{{"a", a.url("/s")}}, 1000ms, 300s});
    EXPECT_EQ(service.probe()[0].name, "a");
    service.reconfigure({{{"b", b.url("/s")}}, 1000ms, 60s});
    const auto statuses = service.probe();
    ASSERT_EQ(statuses.size(), 1u);
    EXPECT_EQ(statuses[0].name, "b");
    EXPECT_TRUE(statuses[0].up);
}

}  // namespace
}  // namespace levqor::controld::metrics
