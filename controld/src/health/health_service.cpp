#include "levqor/controld/health/health_service.h"

#include <future>

#include "levqor/controld/version.h"

namespace levqor::controld::health {

HealthService::HealthService(metrics::MetricsService& metrics, metrics::Registry& registry,
                             Settings settings, DownHandler on_down)
    : metrics_(metrics),
      backend_errors_(metrics::backend_errors(registry)),
      on_down_(std::move(on_down)),
      settings_(std::move(settings)) {}

void HealthService::reconfigure(Settings settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  settings_ = std::move(settings);
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

nlohmann::ordered_json HealthService::report(std::chrono::seconds uptime) {
  Settings settings;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    settings = settings_;
  }
  using namespace std::chrono_literals;
  auto redis = std::async(std::launch::async, check_redis, settings.redis_url, 1000ms);
  auto postgres = std::async(std::launch::async, check_postgres, settings.database_url, 2000ms);
  const auto instances = metrics_.probe();

  bool degraded = false;
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  nlohmann::ordered_json nginx = nlohmann::ordered_json::object();
  for (const auto& instance : instances) {
    nlohmann::ordered_json entry = {{"status", instance.up ? "up" : "down"},
                                    {"url", instance.url}};
    if (!instance.up) {
      entry["error"] = instance.error;
      degraded = true;
    }
    nginx[instance.name] = std::move(entry);
  }
  nlohmann::ordered_json checks = {{"nginx", std::move(nginx)}};
  const auto add_backend = [&](const std::string& backend, const CheckResult& result) {
    record(backend, result);
    checks[backend] = result.state;
    if (result.state == "down") {
      degraded = true;
      errors[backend] = result.error;
    }
  };
  add_backend("redis", redis.get());
  add_backend("postgres", postgres.get());

  nlohmann::ordered_json body = {{"status", degraded ? "degraded" : "ok"},
                                 {"version", kVersion},
                                 {"uptime_s", uptime.count()},
                                 {"checks", std::move(checks)}};
  if (!errors.empty()) body["errors"] = std::move(errors);
  return body;
}

}  // namespace levqor::controld::health
