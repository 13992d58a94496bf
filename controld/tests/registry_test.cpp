// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/registry.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>
#include <vector>

namespace levqor::controld::metrics {
namespace {

std::string text(const Registry& registry) {
    std::string out;
    render(registry.collect(), out);
    return out;
}

TEST(Registry, CountersGaugesAndHistograms) {
    Registry registry;
    auto& errors = registry.counter("levqor_errors_total", "Errors.", {"component"});
    errors.labels({"api"}).inc();
    errors.labels({"api"}).inc(2);
    errors.labels({"flags"}).inc(-5);  // ignored: counters only go up
    registry.gauge("levqor_g", "G.").labels({}).set(0.25);
    auto& h = registry.histogram("levqor_job_duration_seconds", "Jobs.", {"type"}, {0.5, 1});
    h.labels({"noop"}).observe(0.25);
    h.labels({"noop"}).observe(0.5);
    h.labels({"noop"}).observe(7);
    EXPECT_EQ(text(registry),
              "# HELP levqor_errors_total Errors.\n# TYPE levqor_errors_total counter\n"
              "levqor_errors_total{component=\"api\"} 3\n"
              "levqor_errors_total{component=\"flags\"} 0\n"
              "# HELP levqor_g G.\n# TYPE levqor_g gauge\nlevqor_g 0.25\n"
              "# HELP levqor_job_duration_seconds Jobs.\n# TYPE levqor_job_duration_seconds histogram\n"
              "levqor_job_duration_seconds_bucket{type=\"noop\",le=\"0.5\"} 2\n"
              "levqor_job_duration_seconds_bucket{type=\"noop\",le=\"1\"} 2\n"
              "levqor_job_duration_seconds_bucket{type=\"noop\",le=\"+Inf\"} 3\n"
              "levqor_job_duration_seconds_sum{type=\"noop\"} 7.75\n"
              "levqor_job_duration_seconds_count{type=\"noop\"} 3\n");
}

TEST(Registry, SameFamilyIsSharedAndMismatchesAreBugs) {
    Registry registry;
    auto& a = registry.counter("levqor_backend_errors_total", "B.", {"backend"});
    auto& b = registry.counter("levqor_backend_errors_total", "B.", {"backend"});
    EXPECT_EQ(&a, &b);
    EXPECT_EQ(&a.labels({"nginx"}), &b.labels({"nginx"}));
    EXPECT_THROW(registry.gauge("levqor_backend_errors_total", "B.", {"backend"}), std::logic_error);
    EXPECT_THROW(registry.counter("levqor_backend_errors_total", "B.", {"other"}), std::logic_error);
    EXPECT_THROW(a.labels({}), std::logic_error);
    EXPECT_THROW(registry.counter("bad name", "x"), std::logic_error);
    EXPECT_THROW(registry.counter("levqor_y_total", "x", {"instance"}), std::logic_error);
}

TEST(Registry, FamiliesWithoutSeriesAreLeftOut) {
    Registry registry;
    registry.counter("levqor_unused_total", "U.", {"x"});
    EXPECT_EQ(text(registry), "");
}

TEST(Registry, CollectorsAppendAfterFamilies) {
    Registry registry;
    registry.counter("levqor_a_total", "A.").labels({}).inc();
    registry.add_collector([&registry](std::vector<MetricFamily>& out) {
        registry.counter("levqor_a_total", "A.");  // a collector may use the registry
        out.push_back({"levqor_b", "B.", MetricType::gauge, {{"levqor_b", {}, "7", ""}}});
    });
    EXPECT_EQ(text(registry),
              "# HELP levqor_a_total A.\n# TYPE levqor_a_total counter\nlevqor_a_total 1\n"
              "# HELP levqor_b B.\n# TYPE levqor_b gauge\nlevqor_b 7\n");
}

TEST(Registry, ConcurrentUpdatesAreNotLost) {
    Registry registry;
    auto& counter = registry.counter("levqor_c_total", "C.").labels({});
    auto& hist = registry.histogram("levqor_h_seconds", "H.", {}, {1}).labels({});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                counter.inc();
                hist.observe(0.5);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(counter.value(), 40000);
    EXPECT_EQ(hist.snapshot().cumulative.back(), 40000u);
    EXPECT_DOUBLE_EQ(hist.snapshot().sum, 20000);
}

}  // namespace
}  // namespace levqor::controld::metrics
