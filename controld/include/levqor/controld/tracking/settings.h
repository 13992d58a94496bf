// SPDX-License-Identifier: Apache-2.0
// Error tracking's settings, declared and read here: the top-level
// "sentry_dsn" (and SENTRY_DSN in the environment) and the "error_tracking"
// section of the config file. Plain values; thread-safe to copy and read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "levqor/controld/core/config.h"

namespace levqor::controld::tracking {

// Where errors go: Sentry when a DSN is set, else a JSONL file in data_dir.
struct ErrorTrackingSettings {
    std::optional<std::string> sentry_dsn;             // sentry_dsn / SENTRY_DSN
    std::uint64_t jsonl_max_bytes = 10 * 1024 * 1024;  // rotate errors.jsonl past this
    unsigned jsonl_files = 5;                          // errors.jsonl.1 .. .N kept after rotation
    unsigned max_events_per_minute = 10;               // Sentry events; the rest are dropped and counted
    std::string environment = "production";

    friend bool operator==(const ErrorTrackingSettings& a, const ErrorTrackingSettings& b) {
        return a.sentry_dsn == b.sentry_dsn && a.jsonl_max_bytes == b.jsonl_max_bytes &&
               a.jsonl_files == b.jsonl_files && a.max_events_per_minute == b.max_events_per_minute &&
               a.environment == b.environment;
    }
};

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config); the
// DSN's key masked (SentryDsn::redacted).
nlohmann::ordered_json settings_json(const ErrorTrackingSettings& settings);

// Error tracking's part of the configuration, filling `out`.
ConfigPart config_part(ErrorTrackingSettings& out);

}  // namespace levqor::controld::tracking
