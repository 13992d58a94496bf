// SPDX-License-Identifier: Apache-2.0
// The error-tracking component (docs/controld.md, "Error tracking"):
// ErrorTracker scrubs, logs, counts and forwards every internal error to the
// configured sink. Thread-safe: capture(), flush() and reconfigure() may be
// called concurrently.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/config.h"
#include "levqor/controld/tracking/settings.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/metrics/registry.h"
#include "levqor/controld/tracking/scrubber.h"
#include "levqor/controld/tracking/sinks.h"

namespace levqor::controld::tracking {

// Error tracking for controld (docs/controld.md, "Error tracking"). Every
// internal error and failure goes through capture(), which
//   1. scrubs the message and fields (Scrubber),
//   2. logs them as an error line on stderr,
//   3. counts levqor_errors_total{component},
//   4. hands a Sentry-format event to the sink: Sentry when a DSN is
//      configured, else <data_dir>/errors.jsonl with size-based rotation.
//
// Thread-safety: capture(), flush() and reconfigure() may be called
// concurrently from any thread.
class ErrorTracker {
public:
    struct Settings {
        std::string data_dir;
        ErrorTrackingSettings tracking;    // and tracking.sentry_dsn
        std::vector<std::string> secrets;  // literal secrets to scrub (DSN key, DB passwords)
    };
    static Settings settings_from(const ErrorTrackingSettings& tracking, const CoreSettings& core);

    ErrorTracker(metrics::Registry& registry, const Logger& log, Scrubber::TokenCheck is_token, Settings settings);

    // Applies new settings; the sink is replaced only when its destination or
    // limits changed.
    void reconfigure(Settings settings);

    // component: a short stable name (api, flags, metrics, health, config, auth).
    void capture(std::string_view component, std::string_view message, const nlohmann::ordered_json& fields = nullptr);

    // Waits up to `timeout` for queued events to be delivered (at shutdown).
    void flush(std::chrono::milliseconds timeout);

    // "sentry https://***@host/1" or "jsonl /var/lib/levqor/errors.jsonl".
    std::string destination() const;

private:
    // The scrubbed Sentry-format event for capture().
    nlohmann::json make_event(std::string_view component, std::string_view message,
                              const nlohmann::ordered_json& fields) const;
    std::shared_ptr<Sink> make_sink(const Settings& settings) const;

    metrics::Registry& registry_;
    const Logger& log_;
    const Scrubber::TokenCheck is_token_;
    metrics::Family<metrics::Counter>& errors_;
    const std::string server_name_;

    mutable std::mutex mutex_;
    Settings settings_;
    std::shared_ptr<const Scrubber> scrubber_;
    std::shared_ptr<Sink> sink_;
};

}  // namespace levqor::controld::tracking
