// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/flags/settings.h"

namespace levqor::controld::flags {
namespace {

using nlohmann::json;

FlagState flag_value(const std::string& text) {
    auto state = parse_flag_state(text);
    if (!state) invalid("expected off, shadow or on");
    return *state;
}

void read_flags(const SettingsReader& reader, const std::string& key, const json& flags, FlagSet& out) {
    if (!flags.is_object()) {
        reader.bad(key, flags, "expected an object such as {\"RATELIMIT_ENABLED\":\"shadow\"}");
    }
    for (const auto& [name, value] : flags.items()) {
        const auto flag = parse_flag_name(name);
        if (!flag) {
            reader.fail("unknown flag " + quoted(key + "." + name) + "; known flags: " + flag_names_list());
        }
        reader.string_value(key + "." + name, value, [&](const std::string& v) { out.set(*flag, flag_value(v)); });
    }
}

const Keys<FlagSettings>& top_keys() {
    using S = FlagSettings;
    static const Keys<S> keys = {
        string_key<S>("flags_file", [](const std::string& v, S& out) { out.file = path_value(v); }),
        {"flags", [](const SettingsReader& r, const std::string& key, const json& value,
                     S& out) { read_flags(r, key, value, out.configured); }},
    };
    return keys;
}

void read_environment(const EnvReader& e, FlagSettings& out) {
    e.with("LEVQOR_FLAGS_FILE", [&](const std::string& v) { out.file = path_value(v); });
    for (Flag flag : kAllFlags) {
        e.with(std::string(flag_name(flag)), [&](const std::string& v) { out.configured.set(flag, flag_value(v)); });
    }
}

}  // namespace

ConfigPart config_part(FlagSettings& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const FlagSettings& s) {
    return {{"flags_file", s.file}, {"flags", to_json(s.configured)}};
}

}  // namespace levqor::controld::flags
