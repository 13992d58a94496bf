// SPDX-License-Identifier: Apache-2.0
// levqor-controld's configuration as one plain value (Config) and how it is
// built: defaults, then the JSON file (--config), then the environment
// (load_config). A value that cannot be used is a ConfigError naming the
// setting; docs/controld.md documents every key. A Config is copied, never
// shared.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "levqor/controld/core/listen_address.h"
#include "levqor/controld/core/log.h"
#include "levqor/controld/core/settings_reader.h"

namespace levqor::controld {

// The daemon's own settings, which are no one component's: where it listens
// and keeps its data, how much it logs, and the Redis/PostgreSQL URLs that
// several components use. Each component declares its own settings in its
// folder (<component>/settings.h); levqor/controld/config.h puts them all
// together. A plain value: copy it, don't share it.
struct CoreSettings {
    ListenAddress listen{"127.0.0.1", 8089};  // listen / LEVQOR_LISTEN
    LogLevel log_level = LogLevel::info;      // log_level / LEVQOR_LOG_LEVEL
    // How long a SIGTERM/SIGINT waits for in-flight requests before the
    // daemon exits anyway. Kept under the 2 s that supervisors and tests allow.
    std::chrono::milliseconds shutdown_grace{1500};
    std::optional<std::string> config_file;  // --config, if given

    std::string data_dir = "/var/lib/levqor";  // absolute

    std::optional<std::string> redis_url;
    std::optional<std::string> database_url;
};

// One part of the configuration, bound to the settings it fills: the
// top-level keys it owns in the file, how it reads them, and the environment
// variables it reads.
struct ConfigPart {
    std::vector<std::string> keys;
    std::function<void(const SettingsReader&, const nlohmann::json& root)> read_file;
    std::function<void(const EnvReader&)> read_environment;
};

// The part whose top-level keys are `keys`, filling `out` (which must
// outlive the load); env is optional.
template <typename S>
ConfigPart config_part(const Keys<S>& keys, S& out,
                       std::function<void(const EnvReader&, settings_detail::same_t<S>&)> env = nullptr) {
    ConfigPart part;
    part.keys = key_names(keys);
    part.read_file = [&keys, &out](const SettingsReader& reader, const nlohmann::json& root) {
        read_keys(reader, root, "", keys, out);
    };
    if (env) part.read_environment = [env, &out](const EnvReader& e) { env(e, out); };
    return part;
}

// The daemon's own part: CoreSettings.
ConfigPart config_part(CoreSettings& out);

// The part's top-level keys with their effective values, as the config file
// writes them (levqor-controld --check-config); redis_url and database_url
// with their credentials masked (masked_connection_url).
nlohmann::ordered_json settings_json(const CoreSettings& settings);

// Reads the configuration into the parts' settings: they start as they are
// (the defaults), then the JSON file (if given) sets what it has, then the
// environment (the environment wins). A top-level key no part owns is an
// error. Throws ConfigError for an unreadable file, malformed JSON, an
// unknown key or a bad value.
void load_parts(const std::optional<std::string>& config_file, const EnvLookup& env,
                const std::vector<ConfigPart>& parts);

}  // namespace levqor::controld
