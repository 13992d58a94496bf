#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "levqor/controld/health/checks.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/metrics/service.h"

namespace levqor::controld::health {

// GET /healthz (docs/api.md):
//   {"status":"ok"|"degraded","version":"0.1.0","uptime_s":N,
//    "checks":{"nginx":{"<instance>":{"status":"up"|"down",...}},
//              "redis":"ok"|"down"|"not_configured","postgres":...}}
// plus "errors":{"redis":"...",...} naming what is down, when something is.
// "degraded": an nginx instance, redis or postgres is down. The answer is 200
// either way: controld itself is alive. Every check runs live, concurrently,
// each bounded (nginx: scrape_timeout; redis: 1 s; postgres: 2 s).
//
// A dependency that goes down is reported through on_down (once per
// transition) and counted in levqor_backend_errors_total{backend}.
//
// Thread-safety: report() and reconfigure() may be called concurrently.
class HealthService {
 public:
  struct Settings {
    std::optional<std::string> redis_url;
    std::optional<std::string> database_url;
  };
  using DownHandler = std::function<void(const std::string& backend, const std::string& error)>;

  HealthService(metrics::MetricsService& metrics, metrics::Registry& registry, Settings settings,
                DownHandler on_down);
  void reconfigure(Settings settings);

  nlohmann::ordered_json report(std::chrono::seconds uptime);

 private:
  void record(const std::string& backend, const CheckResult& result);

  metrics::MetricsService& metrics_;
  metrics::Family<metrics::Counter>& backend_errors_;
  const DownHandler on_down_;
  std::mutex mutex_;
  Settings settings_;
  std::map<std::string, std::string> last_state_;  // backend -> state
};

}  // namespace levqor::controld::health
