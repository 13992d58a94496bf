// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/tracking/settings.h"

#include "levqor/controld/core/urls.h"

namespace levqor::controld::tracking {
namespace {

using nlohmann::json;

const auto sentry_dsn_value = accepted_by(parse_sentry_dsn);

const Keys<ErrorTrackingSettings>& section_keys() {
    using S = ErrorTrackingSettings;
    static const Keys<S> keys = {
        integer_key("jsonl_max_bytes", 4096, std::int64_t(1) << 40, &S::jsonl_max_bytes),
        integer_key("jsonl_files", 1, 100, &S::jsonl_files),
        integer_key("max_events_per_minute", 1, 10000, &S::max_events_per_minute),
        string_key<S>("environment",
                      [](const std::string& v, S& out) {
                          if (v.empty() || v.size() > 64) invalid("expected 1 to 64 characters");
                          out.environment = v;
                      }),
    };
    return keys;
}

const Keys<ErrorTrackingSettings>& top_keys() {
    using S = ErrorTrackingSettings;
    static const Keys<S> keys = {
        {"sentry_dsn", [](const SettingsReader& r, const std::string& key, const json& value,
                          S& out) { out.sentry_dsn = r.optional_string(key, value, sentry_dsn_value); }},
        section_key("error_tracking", section_keys()),
    };
    return keys;
}

void read_environment(const EnvReader& e, ErrorTrackingSettings& out) {
    e.optional("SENTRY_DSN", out.sentry_dsn, sentry_dsn_value);
}

}  // namespace

ConfigPart config_part(ErrorTrackingSettings& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const ErrorTrackingSettings& s) {
    return {{"sentry_dsn", s.sentry_dsn ? nlohmann::ordered_json(parse_sentry_dsn(*s.sentry_dsn).redacted()) : nullptr},
            {"error_tracking",
             {{"jsonl_max_bytes", s.jsonl_max_bytes},
              {"jsonl_files", s.jsonl_files},
              {"max_events_per_minute", s.max_events_per_minute},
              {"environment", s.environment}}}};
}

}  // namespace levqor::controld::tracking
