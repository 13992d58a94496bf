// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/health/health_service.h"

#include <future>

#include "levqor/controld/version.h"

namespace levqor::controld::health {

HealthService::HealthService(metrics::MetricsService& metrics, metrics::Registry& registry, Settings settings,
                             DownHandler on_down)
    : metrics_(metrics),
      backend_errors_(metrics::backend_errors(registry)),
      on_down_(std::move(on_down)),
      settings_(std::move(settings)) {}

void HealthService::reconfigure(Settings settings) {
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = std::move(settings);
    ++generation_;
    cached_.reset();
    last_state_.clear();
}

void HealthService::record(const std::string& backend, const CheckResult& result) {
    bool went_down = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto& last = last_state_[backend];
        went_down = result.state == "down" && last != "down";
        last = result.state;
    }
    if (result.state == "down") backend_errors_.labels({backend}).inc();
    if (went_down && on_down_) on_down_(backend, result.error);
}

HealthService::Results HealthService::check(const Settings& settings) {
    using namespace std::chrono_literals;
    auto redis = std::async(std::launch::async, check_redis, settings.redis_url, 1000ms);
    auto postgres = std::async(std::launch::async, check_postgres, settings.database_url, 2000ms);
    Results results;
    results.nginx = metrics_.probe();
    results.redis = redis.get();
    results.postgres = postgres.get();
    record("redis", results.redis);
    record("postgres", results.postgres);
    return results;
}

// The cached results, or fresh ones from this caller's check or from the
// check another caller is running.
std::shared_ptr<const HealthService::Results> HealthService::results() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (cached_ && Clock::now() - cached_at_ < settings_.cache_for) return cached_;
        if (!checking_) break;
        checked_.wait(lock);
    }
    checking_ = true;
    const auto settings = settings_;
    const auto generation = generation_;
    lock.unlock();
    std::shared_ptr<const Results> fresh;
    try {
        fresh = std::make_shared<const Results>(check(settings));
    } catch (...) {
        lock.lock();
        checking_ = false;
        checked_.notify_all();
        throw;
    }
    lock.lock();
    checking_ = false;
    // Results for settings replaced meanwhile answer this caller only.
    if (generation == generation_) {
        cached_ = fresh;
        cached_at_ = Clock::now();
    }
    checked_.notify_all();
    return fresh;
}

nlohmann::ordered_json HealthService::report(std::chrono::seconds uptime, Detail detail) {
    const auto results = this->results();
    const bool full = detail == Detail::full;
    bool degraded = false;
    nlohmann::ordered_json errors = nlohmann::ordered_json::object();
    nlohmann::ordered_json nginx = nlohmann::ordered_json::object();
    for (const auto& instance : results->nginx) {
        nlohmann::ordered_json entry = {{"status", instance.up ? "up" : "down"}};
        if (full) entry["url"] = instance.url;
        if (!instance.up) {
            if (full) entry["error"] = instance.error;
            degraded = true;
        }
        nginx[instance.name] = std::move(entry);
    }
    nlohmann::ordered_json checks = {{"nginx", std::move(nginx)}};
    const auto add_backend = [&](const std::string& backend, const CheckResult& result) {
        checks[backend] = result.state;
        if (result.state == "down") {
            degraded = true;
            errors[backend] = result.error;
        }
    };
    add_backend("redis", results->redis);
    add_backend("postgres", results->postgres);

    nlohmann::ordered_json body = {{"status", degraded ? "degraded" : "ok"},
                                   {"version", kVersion},
                                   {"uptime_s", uptime.count()},
                                   {"checks", std::move(checks)}};
    if (full && !errors.empty()) body["errors"] = std::move(errors);
    return body;
}

}  // namespace levqor::controld::health
