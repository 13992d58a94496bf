// SPDX-License-Identifier: Apache-2.0
// levqor-controld --check-config: the configuration loaded exactly as a start
// loads it (defaults, the file, the environment; every component's settings)
// plus the files a start (or a job) reads, without binding a port, creating a
// directory or starting a thread. Pure apart from reading files; thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "levqor/controld/config.h"

namespace levqor::controld {

// After SIGTERM: the longer of Config::shutdown_grace and
// queue.shutdown_grace_ms for requests and jobs in flight, then up to
// kErrorFlush for queued error events (main.cpp). A supervisor's stop timeout
// (systemd's TimeoutStopSec) must be longer than shutdown_budget().
inline constexpr std::chrono::milliseconds kErrorFlush{1000};
std::chrono::milliseconds shutdown_grace(const Config& config);
std::chrono::milliseconds shutdown_budget(const Config& config);

// Every setting with its effective value, under the config file's own keys
// (the output is itself a valid config file, apart from masked values).
// Masked: the user:password@ of redis_url, database_url and backup target
// URLs and their password= parameters ("***"), the Sentry DSN's key ("***"),
// the values of exec commands' env ("***"); in schedules' job payloads every
// field whose name suggests a secret ("[Filtered]", tracking::Scrubber).
// Secret files (tokens, pepper, backup key) are shown by path only.
nlohmann::ordered_json effective_settings(const Config& config);

// load_config, then what a start reads besides: the token files (present,
// readable, mode, contents), the abuse pepper, ASN database and deny lists,
// the backup encryption key, and that data_dir can be used. Returns
// {"config_file", "settings" (effective_settings), "tokens", "warnings",
// "shutdown"}. Throws ConfigError "<key>: <reason>" (with URL credentials
// masked: mask_config_error).
nlohmann::ordered_json check_config(const std::optional<std::string>& config_file, const EnvLookup& env);

// A configuration error as it may be printed or logged: URL credentials
// masked (levqor::mask_url_credentials), and the passwords of the
// environment's DATABASE_URL/REDIS_URL and the key of SENTRY_DSN replaced
// by "***" wherever they occur.
std::string mask_config_error(std::string_view message, const EnvLookup& env);

}  // namespace levqor::controld
