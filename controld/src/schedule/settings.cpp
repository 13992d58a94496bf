// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/schedule/settings.h"

#include "levqor/controld/schedule/cron.h"

namespace levqor::controld::schedule {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxSchedules = 200;
constexpr std::size_t kMaxJobBytes = 64 * 1024;

bool valid_schedule_name(const std::string& name) {
    if (name.empty() || name.size() > 100) return false;
    return name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") ==
           std::string::npos;
}

ScheduleSpec read_schedule(const SettingsReader& reader, const std::string& key, const std::string& name,
                           const json& spec) {
    if (!spec.is_object()) reader.bad(key, spec, "expected {\"cron\": \"<expression>\" | null, \"job\": {...}}");
    reader.check_keys(spec, key + ".", {"cron", "job"});
    ScheduleSpec out;
    out.name = name;
    if (!spec.contains("cron")) reader.bad(key, spec, "missing \"cron\" (an expression, or null to disable)");
    const auto& cron = spec["cron"];
    if (!cron.is_null()) {
        reader.string_value(key + ".cron", cron, [&](const std::string& text) {
            Cron::parse(text, test_seconds_allowed());
            out.cron = text;
        });
    }
    if (spec.contains("job")) {
        const auto& job = spec["job"];
        const auto job_key = key + ".job";
        if (!job.is_object()) reader.bad(job_key, job, "expected {\"type\": \"<job type>\", \"payload\": {...}}");
        reader.check_keys(job, job_key + ".", {"type", "payload"});
        if (!job.contains("type") || !job["type"].is_string()) reader.bad(job_key, job, "missing \"type\" (a string)");
        if (job.contains("payload") && !job["payload"].is_object())
            reader.bad(job_key + ".payload", job["payload"], "expected an object");
        if (job.dump().size() > kMaxJobBytes) reader.bad(job_key, job, "at most 64 KiB");
        out.job = json{{"type", job["type"]}, {"payload", job.value("payload", json::object())}};
    } else if (out.cron && name != kDailyResetSchedule && name != kAbusePurgeSchedule &&
               name.rfind("backup:", 0) != 0) {
        reader.bad(key, spec, "missing \"job\" (only a built-in schedule's entry may leave it out)");
    }
    return out;
}

void read_schedules(const SettingsReader& reader, const std::string& key, const json& value, ScheduleSettings& out) {
    if (!value.is_object()) reader.bad(key, value, "expected an object of name -> {\"cron\", \"job\"}");
    if (value.size() > kMaxSchedules) reader.bad(key, value, "at most 200 schedules");
    out.configured.clear();
    for (const auto& [name, spec] : value.items()) {
        const auto k = key + "." + name;
        if (!valid_schedule_name(name)) {
            reader.bad(k, spec, "a schedule name is 1 to 100 letters, digits, '_', '.', ':' or '-'");
        }
        out.configured[name] = read_schedule(reader, k, name, spec);
    }
}

const Keys<ScheduleSettings>& scheduler_keys() {
    static const Keys<ScheduleSettings> keys = {
        integer_key("catch_up_s", 0, 86400, &ScheduleSettings::catch_up),
    };
    return keys;
}

const Keys<ScheduleSettings>& top_keys() {
    static const Keys<ScheduleSettings> keys = {
        {"schedules", read_schedules},
        section_key("scheduler", scheduler_keys()),
    };
    return keys;
}

}  // namespace

std::vector<ScheduleSpec> resolve_schedules(const ScheduleSettings& settings,
                                            const std::vector<std::pair<std::string, std::string>>& backup_targets) {
    std::map<std::string, ScheduleSpec> all;
    const bool builtins_off = test_builtins_off();
    all[kDailyResetSchedule] =
        ScheduleSpec{kDailyResetSchedule, builtins_off ? std::nullopt : std::optional<std::string>("5 0 * * *"),
                     json{{"type", kDailyResetJobType}, {"payload", json::object()}}, true};
    all[kAbusePurgeSchedule] =
        ScheduleSpec{kAbusePurgeSchedule, builtins_off ? std::nullopt : std::optional<std::string>(kAbusePurgeCron),
                     json{{"type", kAbusePurgeJobType}, {"payload", json::object()}}, true};
    for (const auto& [target, cron] : backup_targets) {
        const auto name = "backup:" + target;
        all[name] = ScheduleSpec{name, cron.empty() || builtins_off ? std::nullopt : std::optional<std::string>(cron),
                                 json{{"type", "backup"}, {"payload", {{"target", target}}}}, true};
    }
    for (const auto& [name, spec] : settings.configured) {
        auto& slot = all[name];
        const bool builtin = slot.builtin;
        auto job = spec.job.is_null() ? slot.job : spec.job;
        slot = spec;
        slot.job = std::move(job);
        slot.builtin = builtin;
    }
    std::vector<ScheduleSpec> out;
    for (auto& [name, spec] : all) {
        if (spec.job.is_null()) {
            if (!spec.cron) continue;  // disables what does not exist: nothing to do
            throw ConfigError("\"schedules." + name +
                              "\": no built-in schedule has this name (metrics-daily-reset, abuse-purge, "
                              "backup:<target> of backup.targets); a schedule of its own needs \"job\"");
        }
        out.push_back(std::move(spec));
    }
    return out;
}

ConfigPart config_part(ScheduleSettings& out) { return controld::config_part(top_keys(), out); }

nlohmann::ordered_json settings_json(const ScheduleSettings& s) {
    auto schedules = nlohmann::ordered_json::object();
    for (const auto& [name, spec] : s.configured) {
        auto& out = schedules[name] = {{"cron", spec.cron ? nlohmann::ordered_json(*spec.cron) : nullptr}};
        if (!spec.job.is_null()) out["job"] = nlohmann::ordered_json::parse(spec.job.dump());
    }
    return {{"schedules", std::move(schedules)}, {"scheduler", {{"catch_up_s", s.catch_up.count()}}}};
}

}  // namespace levqor::controld::schedule
