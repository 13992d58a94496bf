// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/core/config.h"

#include "levqor/controld/core/urls.h"

namespace levqor::controld {
namespace {

using nlohmann::json;

// ---- values shared by the file and the environment --------------------------
// Each parser throws std::invalid_argument with the reason; the caller says
// where the value came from.

ListenAddress listen_value(const std::string& text) { return parse_listen_address(text); }

LogLevel log_level_value(const std::string& text) {
    auto level = parse_log_level(text);
    if (!level) invalid("expected debug, info, warn or error");
    return *level;
}

const auto redis_url_value = accepted_by(redis_server_url);
const auto database_url_value = accepted_by(check_database_url);

// ---- the file -------------------------------------------------------------------

const Keys<CoreSettings>& core_keys() {
    using S = CoreSettings;
    static const Keys<S> keys = {
        string_key<S>("listen", [](const std::string& v, S& out) { out.listen = listen_value(v); }),
        string_key<S>("log_level", [](const std::string& v, S& out) { out.log_level = log_level_value(v); }),
        string_key<S>("data_dir", [](const std::string& v, S& out) { out.data_dir = path_value(v); }),
        {"redis_url", [](const SettingsReader& r, const std::string& key, const json& value,
                         S& out) { out.redis_url = r.optional_string(key, value, redis_url_value); }},
        {"database_url", [](const SettingsReader& r, const std::string& key, const json& value,
                            S& out) { out.database_url = r.optional_string(key, value, database_url_value); }},
    };
    return keys;
}

// ---- the environment ----------------------------------------------------------

void read_core_environment(const EnvReader& e, CoreSettings& out) {
    e.with("LEVQOR_LISTEN", [&](const std::string& v) { out.listen = listen_value(v); });
    e.with("LEVQOR_LOG_LEVEL", [&](const std::string& v) { out.log_level = log_level_value(v); });
    e.with("LEVQOR_DATA_DIR", [&](const std::string& v) { out.data_dir = path_value(v); });
    e.optional("REDIS_URL", out.redis_url, redis_url_value);
    e.optional("DATABASE_URL", out.database_url, database_url_value);
}

}  // namespace

ConfigPart config_part(CoreSettings& out) { return config_part(core_keys(), out, read_core_environment); }

void load_parts(const std::optional<std::string>& config_file, const EnvLookup& env,
                const std::vector<ConfigPart>& parts) {
    if (config_file) {
        const SettingsReader reader(*config_file);
        const json root = reader.read_file();
        std::vector<std::string> known;
        for (const auto& part : parts) known.insert(known.end(), part.keys.begin(), part.keys.end());
        reader.check_keys(root, "", known);
        for (const auto& part : parts) part.read_file(reader, root);
    }
    const EnvReader reader(env);
    for (const auto& part : parts) {
        if (part.read_environment) part.read_environment(reader);
    }
}

nlohmann::ordered_json settings_json(const CoreSettings& s) {
    const auto url = [](const std::optional<std::string>& v) {
        return v ? nlohmann::ordered_json(masked_connection_url(*v)) : nlohmann::ordered_json(nullptr);
    };
    return {{"listen", s.listen.to_string()},
            {"log_level", std::string(to_string(s.log_level))},
            {"data_dir", s.data_dir},
            {"redis_url", url(s.redis_url)},
            {"database_url", url(s.database_url)}};
}

}  // namespace levqor::controld
