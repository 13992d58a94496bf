// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/config.h"

namespace levqor::controld {

Config load_config(const std::optional<std::string>& config_file, const EnvLookup& env) {
    Config config;
    // The parts in this order are the order of the top-level keys in an
    // "unknown key" message, and of the checks.
    load_parts(config_file, env,
               {config_part(static_cast<CoreSettings&>(config)), auth::config_part(config.tokens),
                flags::config_part(config.flags), metrics::config_part(config.metrics),
                tracking::config_part(config.error_tracking), api::config_part(config.http),
                queue::config_part(config.queue), backup::config_part(config.backup), cost::config_part(config.cost),
                schedule::config_part(config.schedules), abuse::config_part(config.abuse)});
    config.config_file = config_file;
    apply_derived_defaults(config);
    scheduled(config);  // a schedule entry that names no built-in fails here
    return config;
}

std::vector<schedule::ScheduleSpec> scheduled(const Config& config) {
    std::vector<std::pair<std::string, std::string>> targets;
    for (const auto& t : config.backup.targets) targets.emplace_back(t.name, t.schedule);
    return schedule::resolve_schedules(config.schedules, targets);
}

void apply_derived_defaults(Config& config) {
    if (config.flags.file.empty()) config.flags.file = config.data_dir + "/flags";
    if (config.backup.dir.empty()) config.backup.dir = config.data_dir + "/backups";
}

}  // namespace levqor::controld
