// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/auth/settings.h"

namespace levqor::controld::auth {
namespace {

using nlohmann::json;

const Keys<TokenFiles>& top_keys() {
    using S = TokenFiles;
    static const Keys<S> keys = {
        {"admin_token_file", [](const SettingsReader& r, const std::string& key, const json& value,
                                S& out) { out.admin = r.optional_path(key, value); }},
        {"producer_token_file", [](const SettingsReader& r, const std::string& key, const json& value,
                                   S& out) { out.producer = r.optional_path(key, value); }},
    };
    return keys;
}

void read_environment(const EnvReader& e, TokenFiles& out) {
    e.optional("LEVQOR_ADMIN_TOKEN_FILE", out.admin, path_value);
    e.optional("LEVQOR_PRODUCER_TOKEN_FILE", out.producer, path_value);
}

}  // namespace

ConfigPart config_part(TokenFiles& out) { return controld::config_part(top_keys(), out, read_environment); }

nlohmann::ordered_json settings_json(const TokenFiles& files) {
    const auto path = [](const std::optional<std::string>& v) {
        return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
    };
    return {{"admin_token_file", path(files.admin)}, {"producer_token_file", path(files.producer)}};
}

}  // namespace levqor::controld::auth
