// SPDX-License-Identifier: Apache-2.0
// The scheduler's settings (design.md "Scheduler"; docs/controld.md
// "Schedules"): the "schedules" object (name -> {"cron", "job"}) and the
// "scheduler" section. Plain values; thread-safe to copy and read.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/config.h"

namespace levqor::controld::schedule {

// One schedule: when (cron text, nullopt = disabled) and what (a job as
// POST /jobs takes it: {"type": ..., "payload": {...}}).
struct ScheduleSpec {
    std::string name;
    std::optional<std::string> cron;
    nlohmann::json job;  // null: a configured {"cron": null} that only disables a built-in
    bool builtin = false;

    friend bool operator==(const ScheduleSpec& a, const ScheduleSpec& b) {
        return a.name == b.name && a.cron == b.cron && a.job == b.job && a.builtin == b.builtin;
    }
};

struct ScheduleSettings {
    std::chrono::seconds catch_up{21600};            // scheduler.catch_up_s
    std::map<std::string, ScheduleSpec> configured;  // schedules

    friend bool operator==(const ScheduleSettings& a, const ScheduleSettings& b) {
        return a.catch_up == b.catch_up && a.configured == b.configured;
    }
};

inline constexpr const char* kDailyResetSchedule = "metrics-daily-reset";
inline constexpr const char* kDailyResetJobType = "metrics_daily_reset";
// The abuse store's retention purge (abuse.retention_days), daily at 03:17 UTC.
inline constexpr const char* kAbusePurgeSchedule = "abuse-purge";
inline constexpr const char* kAbusePurgeJobType = "abuse_purge";
inline constexpr const char* kAbusePurgeCron = "17 3 * * *";

// The schedules that run: the built-ins (metrics-daily-reset `5 0 * * *`
// and one backup:<target> per backup target, given as (name, cron)) with
// the configured ones over them by name; sorted by name. A configured
// {"cron": null} keeps the built-in's job, disabled; an entry without "job"
// changes a built-in's cron. Throws ConfigError for an entry without "job"
// whose name is no built-in (backup:<a target that does not exist>).
std::vector<ScheduleSpec> resolve_schedules(const ScheduleSettings& settings,
                                            const std::vector<std::pair<std::string, std::string>>& backup_targets);

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config) (the
// configured entries; a job's payload as given: the caller masks it).
nlohmann::ordered_json settings_json(const ScheduleSettings& settings);

// The "schedules" and "scheduler" keys, filling `out`.
ConfigPart config_part(ScheduleSettings& out);

}  // namespace levqor::controld::schedule
