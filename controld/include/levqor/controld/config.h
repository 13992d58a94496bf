// SPDX-License-Identifier: Apache-2.0
// The whole configuration of levqor-controld: the daemon's own settings
// (core/config.h) and each component's, as the components declare them in
// their folders (auth/, flags/, metrics/, tracking/, api/, queue/
// settings.h).
// This file and App are the composition root: a new component adds its
// settings member here and its part to load_config (config.cpp); core
// knows no component's keys.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "levqor/controld/abuse/settings.h"
#include "levqor/controld/api/settings.h"
#include "levqor/controld/auth/settings.h"
#include "levqor/controld/backup/settings.h"
#include "levqor/controld/core/config.h"
#include "levqor/controld/cost/settings.h"
#include "levqor/controld/flags/settings.h"
#include "levqor/controld/metrics/settings.h"
#include "levqor/controld/queue/settings.h"
#include "levqor/controld/schedule/settings.h"
#include "levqor/controld/tracking/settings.h"

namespace levqor::controld {

// Everything levqor-controld is told at start-up (and on SIGHUP). Defaults
// make the daemon run with no file and no environment at all (design.md,
// "controld configuration"); docs/controld.md documents every key. A plain
// value: copy it, don't share it.
struct Config : CoreSettings {
    auth::TokenFiles tokens;                         // admin_token_file, producer_token_file
    flags::FlagSettings flags;                       // flags_file, flags
    metrics::MetricsSettings metrics;                // nginx_status_urls, scrape_timeout_ms, latency_window_s
    tracking::ErrorTrackingSettings error_tracking;  // sentry_dsn, error_tracking
    api::HttpSettings http;                          // http
    queue::QueueSettings queue;                      // http_job_allow, queue
    backup::BackupSettings backup;                   // backup
    cost::CostSettings cost;                         // cost
    schedule::ScheduleSettings schedules;            // schedules, scheduler
    abuse::AbuseSettings abuse;                      // abuse
};

// Builds the configuration: defaults, then the JSON file (if given), then the
// environment (the environment wins). Throws ConfigError for an unreadable
// file, malformed JSON, an unknown key or a bad value.
Config load_config(const std::optional<std::string>& config_file, const EnvLookup& env);

// The schedules that run (schedule::resolve_schedules over the built-ins:
// metrics-daily-reset and backup:<target> per backup target). Throws ConfigError.
std::vector<schedule::ScheduleSpec> scheduled(const Config& config);

// The defaults that follow other settings (flags.file: <data_dir>/flags, backup.dir:
// <data_dir>/backups when not given); load_config applies them, App too for a Config built by hand.
void apply_derived_defaults(Config& config);

}  // namespace levqor::controld
