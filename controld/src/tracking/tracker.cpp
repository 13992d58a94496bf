// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/tracking/tracker.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <cstdio>

#include "levqor/controld/core/urls.h"
#include "levqor/controld/version.h"

namespace levqor::controld::tracking {
namespace {

std::string random_event_id() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        // Uniqueness matters here, not secrecy.
        for (auto& b : bytes) b = static_cast<unsigned char>(std::rand());
    }
    std::string out;
    char hex[3];
    for (unsigned char b : bytes) {
        std::snprintf(hex, sizeof hex, "%02x", b);
        out += hex;
    }
    return out;
}

std::string host_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

bool same_destination(const ErrorTracker::Settings& a, const ErrorTracker::Settings& b) {
    return a.data_dir == b.data_dir && a.tracking == b.tracking;
}

}  // namespace

ErrorTracker::Settings ErrorTracker::settings_from(const ErrorTrackingSettings& tracking, const CoreSettings& config) {
    Settings out{config.data_dir, tracking, {}};
    if (tracking.sentry_dsn) {
        out.secrets.push_back(parse_sentry_dsn(*tracking.sentry_dsn).public_key);
    }
    if (config.redis_url) {
        const auto redis = redis_server_url(*config.redis_url);
        if (!redis.password.empty()) out.secrets.push_back(redis.password);
    }
    if (config.database_url) {
        // URL (user:password@, ?password=) or libpq key=value (password=...).
        for (auto& password : database_url_passwords(*config.database_url)) {
            out.secrets.push_back(std::move(password));
        }
    }
    return out;
}

ErrorTracker::ErrorTracker(metrics::Registry& registry, const Logger& log, Scrubber::TokenCheck is_token,
                           Settings settings)
    : registry_(registry),
      log_(log),
      is_token_(std::move(is_token)),
      errors_(registry.counter("levqor_errors_total", "Internal errors and failures controld recorded, by component.",
                               {"component"})),
      server_name_(host_name()) {
    reconfigure(std::move(settings));
}

std::shared_ptr<Sink> ErrorTracker::make_sink(const Settings& settings) const {
    if (settings.tracking.sentry_dsn) {
        return std::make_shared<SentrySink>(parse_sentry_dsn(*settings.tracking.sentry_dsn),
                                            settings.tracking.max_events_per_minute, registry_, log_);
    }
    return std::make_shared<JsonlSink>(settings.data_dir + "/errors.jsonl", settings.tracking.jsonl_max_bytes,
                                       settings.tracking.jsonl_files, registry_, log_);
}

void ErrorTracker::reconfigure(Settings settings) {
    auto scrubber = std::make_shared<const Scrubber>(settings.secrets, is_token_);
    std::shared_ptr<Sink> old;
    std::lock_guard<std::mutex> lock(mutex_);
    if (!sink_ || !same_destination(settings_, settings)) {
        old = std::move(sink_);
        sink_ = make_sink(settings);
    }
    scrubber_ = std::move(scrubber);
    settings_ = std::move(settings);
}

nlohmann::json ErrorTracker::make_event(std::string_view component, std::string_view message,
                                        const nlohmann::ordered_json& fields) const {
    std::shared_ptr<const Scrubber> scrubber;
    std::string environment;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        scrubber = scrubber_;
        environment = settings_.tracking.environment;
    }
    nlohmann::json extra = nlohmann::json::object();
    if (fields.is_object()) {
        for (const auto& [key, value] : fields.items()) {
            extra[key] =
                nlohmann::json::parse(value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
        }
    }
    scrubber->scrub(extra);
    return nlohmann::json{
        {"event_id", random_event_id()},
        {"timestamp", utc_timestamp_now()},
        {"platform", "native"},
        {"level", "error"},
        {"logger", "levqor-controld"},
        {"server_name", server_name_},
        {"release", "levqor-controld@" + std::string(kVersion)},
        {"environment", environment},
        {"message", {{"formatted", scrubber->scrub(message)}}},
        {"tags", {{"component", std::string(component)}}},
        {"extra", std::move(extra)},
    };
}

void ErrorTracker::capture(std::string_view component, std::string_view message, const nlohmann::ordered_json& fields) {
    auto event = make_event(component, message, fields);
    Logger::Fields line = {{"component", std::string(component)}, {"event_id", event["event_id"]}};
    for (const auto& [key, value] : event["extra"].items()) {
        line[key] = nlohmann::ordered_json::parse(value.dump());
    }
    log_.error(event["message"]["formatted"].get<std::string>(), line);
    errors_.labels({std::string(component)}).inc();
    std::shared_ptr<Sink> sink;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        sink = sink_;
    }
    sink->submit(std::move(event));
}

void ErrorTracker::flush(std::chrono::milliseconds timeout) {
    std::shared_ptr<Sink> sink;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        sink = sink_;
    }
    sink->flush(timeout);
}

std::string ErrorTracker::destination() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (settings_.tracking.sentry_dsn) {
        return "sentry " + parse_sentry_dsn(*settings_.tracking.sentry_dsn).redacted();
    }
    return "jsonl " + settings_.data_dir + "/errors.jsonl";
}

}  // namespace levqor::controld::tracking
