// SPDX-License-Identifier: Apache-2.0
// GET /metrics: MetricsService scrapes every configured nginx instance
// concurrently and answers controld's own metrics, the scrape status, the
// latency p95 and the module's families with an instance label; it also
// probes the instances for /healthz. Thread-safe: every member may be called
// concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/exposition.h"
#include "levqor/controld/metrics/latency.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/metrics/settings.h"

namespace levqor::controld::metrics {

// levqor_backend_errors_total{backend}: failed calls to nginx status
// endpoints, redis, postgres; shared by the scraper and the health checks.
Family<Counter>& backend_errors(Registry& registry);

// The module's histogram that levqor_api_latency_p95_seconds is computed from.
inline constexpr std::string_view kRequestDurationFamily = "levqor_request_duration_seconds";

// When a scrape ran: from just before its request to just after its answer
// (steady clock). Two scrapes of an instance whose windows overlap (concurrent
// /metrics requests) may have been answered in either order.
struct ScrapeWindow {
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point finished;
};

// What one scrape of one nginx instance found.
struct InstanceStatus {
    std::string name;
    std::string url;
    bool up = false;    // answered 200 with a parsable exposition
    std::string error;  // why not, when !up
    double scrape_seconds = 0;
    std::optional<double> last_success_unix;  // the last time it was up, if ever
};

// GET /metrics: scrapes every configured nginx instance concurrently (each
// bounded by scrape_timeout, so one slow instance costs at most that), then
// answers controld's own metrics, per-instance scrape metrics, the latency
// p95 and the module's families merged with an instance label
// (docs/metrics.md, "levqor-controld").
//
// An instance that cannot be reached, answers non-200 or sends text that is
// not exposition format is reported (levqor_nginx_up 0, its error logged and
// counted in levqor_backend_errors_total{backend="nginx"}) and left out; the
// rest of the answer is unaffected. The transition handler hears about every
// up/down change of an instance (first scrape included when it is down).
//
// Thread-safety: every member may be called concurrently; scrapes run
// outside the lock, so concurrent /metrics requests scrape in parallel.
class MetricsService {
public:
    using Settings = MetricsSettings;
    using TransitionHandler = std::function<void(const InstanceStatus& status)>;
    // Hears every successful scrape of an instance (its name and families),
    // before the exposition is built from them: the cost component reads
    // levqor_ai_cost_usd_total this way.
    using ScrapeListener = std::function<void(const std::string& instance, const std::vector<MetricFamily>& families,
                                              const ScrapeWindow& window)>;

    MetricsService(Registry& registry, const Logger& log, Settings settings, TransitionHandler on_transition);

    void reconfigure(Settings settings);

    // Adds a listener; before the server starts (listeners are not locked).
    void add_scrape_listener(ScrapeListener listener);
    // Scrapes every instance and tells the listeners, without building an
    // exposition (the daily reset folds in the latest increases this way).
    void refresh();

    // The whole /metrics body.
    std::string exposition();
    // Scrapes and reports each instance's status, for /healthz.
    std::vector<InstanceStatus> probe();

private:
    struct Scraped {
        InstanceStatus status;
        std::vector<MetricFamily> families;
        std::size_t body_bytes = 0;
        ScrapeWindow window;
    };
    std::vector<Scraped> scrape();
    void notify(const std::vector<Scraped>& scraped) const;
    void record(InstanceStatus& status);
    std::vector<MetricFamily> scrape_families(const std::vector<Scraped>& scraped, double p95_seconds) const;

    Registry& registry_;
    const Logger& log_;
    const TransitionHandler on_transition_;
    std::vector<ScrapeListener> listeners_;
    Family<Counter>& backend_errors_;
    Counter& nginx_errors_;
    Counter& family_conflicts_;
    LatencyWindow window_;

    mutable std::mutex mutex_;
    Settings settings_;
    struct Known {
        bool up = false;
        std::optional<double> last_success_unix;
    };
    std::map<std::string, Known> known_;  // by instance name
};

}  // namespace levqor::controld::metrics
