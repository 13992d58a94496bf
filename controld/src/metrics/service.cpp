// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/metrics/service.h"

#include <algorithm>

#include "levqor/controld/metrics/merge.h"
#include "levqor/controld/metrics/text_parser.h"
#include "levqor/controld/net/http_client.h"

namespace levqor::controld::metrics {
namespace {

double unix_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

Sample gauge_sample(const std::string& name, const std::string& instance, double value) {
    return Sample{name, {Label{"instance", instance}}, format_value(value), {}};
}

}  // namespace

Family<Counter>& backend_errors(Registry& registry) {
    return registry.counter("levqor_backend_errors_total",
                            "Failed calls from controld to a backend: nginx status scrapes, redis, postgres.",
                            {"backend"});
}

MetricsService::MetricsService(Registry& registry, const Logger& log, Settings settings,
                               TransitionHandler on_transition)
    : registry_(registry),
      log_(log),
      on_transition_(std::move(on_transition)),
      backend_errors_(backend_errors(registry)),
      nginx_errors_(backend_errors_.labels({"nginx"})),
      family_conflicts_(registry
                            .counter("levqor_nginx_family_conflicts_total",
                                     "Metric families of an nginx instance left out because "
                                     "their TYPE differs from the same family elsewhere.")
                            .labels({})),
      window_(settings.latency_window),
      settings_(std::move(settings)) {}

void MetricsService::reconfigure(Settings settings) {
    window_.set_window(settings.latency_window);
    std::lock_guard<std::mutex> lock(mutex_);
    // Forget instances that are no longer configured.
    for (auto it = known_.begin(); it != known_.end();) {
        const bool kept = std::any_of(settings.nginx_instances.begin(), settings.nginx_instances.end(),
                                      [&](const NginxInstance& i) { return i.name == it->first; });
        it = kept ? std::next(it) : known_.erase(it);
    }
    settings_ = std::move(settings);
}

void MetricsService::add_scrape_listener(ScrapeListener listener) { listeners_.push_back(std::move(listener)); }

void MetricsService::notify(const std::vector<Scraped>& scraped) const {
    for (const auto& s : scraped) {
        if (!s.status.up) continue;
        for (const auto& listener : listeners_) listener(s.status.name, s.families, s.window);
    }
}

void MetricsService::refresh() { notify(scrape()); }

std::vector<MetricsService::Scraped> MetricsService::scrape() {
    Settings settings;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        settings = settings_;
    }
    std::vector<net::HttpRequest> requests;
    for (const auto& instance : settings.nginx_instances) {
        net::HttpRequest request;
        request.url = instance.url;
        request.timeout = settings.scrape_timeout;
        request.headers = {{"Accept", "text/plain;version=0.0.4"}};
        requests.push_back(std::move(request));
    }
    const auto started = std::chrono::steady_clock::now();
    auto responses = net::perform_all(requests);
    const auto finished = std::chrono::steady_clock::now();

    std::vector<Scraped> out;
    out.reserve(responses.size());
    for (std::size_t i = 0; i < responses.size(); ++i) {
        auto& response = responses[i];
        Scraped scraped;
        scraped.window = ScrapeWindow{started, finished};
        scraped.status.name = settings.nginx_instances[i].name;
        scraped.status.url = settings.nginx_instances[i].url;
        scraped.status.scrape_seconds = response.elapsed.count();
        if (!response.transport_ok()) {
            scraped.status.error = response.error;
        } else if (response.status != 200) {
            scraped.status.error = "HTTP status " + std::to_string(response.status);
        } else {
            try {
                scraped.body_bytes = response.body.size();
                scraped.families = parse_exposition(response.body);
                scraped.status.up = true;
            } catch (const ParseError& e) {
                scraped.status.error = std::string("not Prometheus text format: ") + e.what();
            }
        }
        record(scraped.status);
        out.push_back(std::move(scraped));
    }
    return out;
}

void MetricsService::record(InstanceStatus& status) {
    bool changed = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto [it, first] = known_.try_emplace(status.name);
        auto& known = it->second;
        if (status.up) known.last_success_unix = unix_now();
        changed = first ? !status.up : known.up != status.up;
        known.up = status.up;
        status.last_success_unix = known.last_success_unix;
    }
    if (!status.up) {
        nginx_errors_.inc();
        log_.debug("nginx status scrape failed",
                   {{"instance", status.name}, {"url", status.url}, {"error", status.error}});
    }
    if (changed) {
        if (status.up) {
            log_.info("nginx instance is up again", {{"instance", status.name}, {"url", status.url}});
        }
        if (on_transition_) on_transition_(status);
    }
}

std::vector<MetricFamily> MetricsService::scrape_families(const std::vector<Scraped>& scraped,
                                                          double p95_seconds) const {
    MetricFamily up{"levqor_nginx_up",
                    "1 if the last scrape of the nginx instance's levqor_status succeeded, else 0.",
                    MetricType::gauge,
                    {}};
    MetricFamily duration{"levqor_nginx_scrape_duration_seconds",
                          "How long the last scrape of the nginx instance took.",
                          MetricType::gauge,
                          {}};
    MetricFamily last{"levqor_nginx_last_success_timestamp_seconds",
                      "Unix time of the last successful scrape of the nginx instance (0: never).",
                      MetricType::gauge,
                      {}};
    for (const auto& s : scraped) {
        up.samples.push_back(gauge_sample(up.name, s.status.name, s.status.up ? 1 : 0));
        duration.samples.push_back(gauge_sample(duration.name, s.status.name, s.status.scrape_seconds));
        last.samples.push_back(gauge_sample(last.name, s.status.name, s.status.last_success_unix.value_or(0)));
    }
    MetricFamily p95{"levqor_api_latency_p95_seconds",
                     "95th percentile of request durations in seconds over the latency window, "
                     "from levqor_request_duration_seconds of every instance (NaN: no requests).",
                     MetricType::gauge,
                     {Sample{"levqor_api_latency_p95_seconds", {}, format_value(p95_seconds), {}}}};
    std::vector<MetricFamily> out;
    if (!scraped.empty()) {
        out.push_back(std::move(up));
        out.push_back(std::move(duration));
        out.push_back(std::move(last));
    }
    out.push_back(std::move(p95));
    return out;
}

std::string MetricsService::exposition() {
    auto scraped = scrape();
    notify(scraped);
    std::map<std::string, Buckets> per_instance;
    for (const auto& s : scraped) {
        if (!s.status.up) continue;
        auto buckets = sum_histogram(s.families, kRequestDurationFamily);
        if (!buckets.empty()) per_instance.emplace(s.status.name, std::move(buckets));
    }
    const double p95_seconds = window_.observe(LatencyWindow::Clock::now(), std::move(per_instance));

    ExpositionMerger merger;
    merger.add_local(registry_.collect());
    merger.add_local(scrape_families(scraped, p95_seconds));
    for (auto& s : scraped) {
        if (s.status.up) merger.add_instance(s.status.name, std::move(s.families));
    }
    family_conflicts_.inc(static_cast<double>(merger.conflicts()));
    std::size_t expected = 64 * 1024;
    for (const auto& s : scraped) expected += s.body_bytes + s.body_bytes / 4;  // + instance labels
    std::string out;
    out.reserve(expected);
    render(merger.families(), out);
    return out;
}

std::vector<InstanceStatus> MetricsService::probe() {
    std::vector<InstanceStatus> out;
    for (auto& s : scrape()) out.push_back(std::move(s.status));
    return out;
}

}  // namespace levqor::controld::metrics
