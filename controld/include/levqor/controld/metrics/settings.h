// SPDX-License-Identifier: Apache-2.0
// The nginx scraper's settings, declared and read here: the top-level
// "nginx_status_urls" (and LEVQOR_NGINX_STATUS_URLS in the environment),
// "scrape_timeout_ms" and "latency_window_s". Plain values; thread-safe to
// copy and read.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "levqor/controld/core/config.h"

namespace levqor::controld::metrics {

// One nginx instance whose `levqor_status` location controld scrapes.
struct NginxInstance {
    std::string name;  // the `instance` label; default: host[:port] of the URL
    std::string url;

    friend bool operator==(const NginxInstance& a, const NginxInstance& b) {
        return a.name == b.name && a.url == b.url;
    }
};

struct MetricsSettings {
    std::vector<NginxInstance> nginx_instances;
    std::chrono::milliseconds scrape_timeout{1000};  // per instance and scrape
    std::chrono::seconds latency_window{300};        // of the latency p95
};

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config).
nlohmann::ordered_json settings_json(const MetricsSettings& settings);

// The scraper's part of the configuration, filling `out`.
ConfigPart config_part(MetricsSettings& out);

}  // namespace levqor::controld::metrics
