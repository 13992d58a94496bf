// SPDX-License-Identifier: Apache-2.0
// The /healthz report: HealthService runs the nginx, Redis and PostgreSQL
// checks, shares one result among concurrent callers for a short while, and
// reports and counts the dependencies that go down. Thread-safe: report() and
// reconfigure() may be called concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/health/checks.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/metrics/service.h"

namespace levqor::controld::health {

// How much /healthz tells: summary to anyone, full to the admin token.
enum class Detail {
    summary,  // states only
    full,     // plus each nginx instance's URL and every error text
};

// GET /healthz (docs/api.md):
//   {"status":"ok"|"degraded","version":"0.1.0","uptime_s":N,
//    "checks":{"nginx":{"<instance>":{"status":"up"|"down"}},
//              "redis":"ok"|"down"|"not_configured","postgres":...}}
// With Detail::full each nginx entry also has "url" (and "error" when
// down), and "errors":{"redis":"...",...} names what is down.
// "degraded": an nginx instance, redis or postgres is down. The answer is 200
// either way: controld itself is alive.
//
// The checks (nginx: scrape_timeout; redis: 1 s; postgres: 2 s, run
// concurrently) are a fan-out to other servers, so their results are shared:
// a report within `cache_for` of the last check reuses it, and callers that
// arrive while a check runs wait for it instead of starting their own. Any
// number of /healthz callers cause at most one fan-out per `cache_for`.
//
// A dependency that goes down is reported through on_down (once per
// transition) and counted in levqor_backend_errors_total{backend} (once per
// check, not per caller).
//
// Thread-safety: report() and reconfigure() may be called concurrently.
class HealthService {
public:
    struct Settings {
        std::optional<std::string> redis_url;
        std::optional<std::string> database_url;
        std::chrono::milliseconds cache_for{1000};
    };
    using DownHandler = std::function<void(const std::string& backend, const std::string& error)>;

    HealthService(metrics::MetricsService& metrics, metrics::Registry& registry, Settings settings,
                  DownHandler on_down);
    // New settings apply to the next check; a cached result is dropped.
    void reconfigure(Settings settings);

    nlohmann::ordered_json report(std::chrono::seconds uptime, Detail detail);

private:
    using Clock = std::chrono::steady_clock;
    struct Results {
        std::vector<metrics::InstanceStatus> nginx;
        CheckResult redis;
        CheckResult postgres;
    };

    std::shared_ptr<const Results> results();
    Results check(const Settings& settings);
    void record(const std::string& backend, const CheckResult& result);

    metrics::MetricsService& metrics_;
    metrics::Family<metrics::Counter>& backend_errors_;
    const DownHandler on_down_;
    std::mutex mutex_;
    std::condition_variable checked_;
    Settings settings_;
    std::uint64_t generation_ = 0;  // bumped by reconfigure()
    bool checking_ = false;
    std::shared_ptr<const Results> cached_;
    Clock::time_point cached_at_{};
    std::map<std::string, std::string> last_state_;  // backend -> state
};

}  // namespace levqor::controld::health
