// SPDX-License-Identifier: Apache-2.0
#include "levqor/controld/check_config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "levqor/controld/abuse/inputs.h"
#include "levqor/controld/auth/token_store.h"
#include "levqor/controld/backup/encryption.h"
#include "levqor/controld/core/urls.h"
#include "levqor/controld/tracking/scrubber.h"
#include "levqor/url_credentials.h"

namespace levqor::controld {
namespace {

using ojson = nlohmann::ordered_json;

void merge_into(ojson& out, ojson part) {
    for (auto& [key, value] : part.items()) out[key] = std::move(value);
}

// One role's token file, loaded alone so that an error names its key.
ojson check_token_file(const char* key, const std::optional<std::string>& file, bool admin, ojson& warnings) {
    auth::TokenFiles files;
    (admin ? files.admin : files.producer) = file;
    auth::TokenStore store;
    std::vector<auth::RoleStatus> statuses;
    try {
        statuses = store.load(files);
    } catch (const auth::TokenFileError& e) {
        throw ConfigError(std::string(key) + ": " + e.what());
    }
    const auto role = admin ? auth::Role::admin : auth::Role::producer;
    for (const auto& status : statuses) {
        if (status.role != role) continue;
        if (status.tokens == 0) {
            warnings.push_back(std::string(key) + ": " + status.note);
        }
        return {{"file", file ? ojson(*file) : ojson(nullptr)}, {"tokens", status.tokens}, {"status", status.note}};
    }
    return nullptr;
}

void check_abuse_files(const abuse::AbuseSettings& settings, ojson& warnings) {
    if (!settings.pepper_file) {
        warnings.push_back("abuse.pepper_file: not set: the /abuse routes answer 503 abuse_unconfigured");
        return;
    }
    try {
        abuse::InputSide inputs(settings);
    } catch (const ConfigError&) {
        throw;
    } catch (const std::exception& e) {
        // PepperError names abuse.pepper_file; the ASN reader's names the file.
        const std::string what = e.what();
        throw ConfigError(what.rfind("abuse.", 0) == 0 ? what : "abuse.asn_mmdb: " + what);
    }
}

void check_backup_key(const backup::BackupSettings& settings) {
    if (!settings.encryption_key_file) return;
    try {
        backup::read_key_file(*settings.encryption_key_file);
    } catch (const std::exception& e) {
        throw ConfigError(std::string("backup.encryption_key_file: ") + e.what());
    }
}

// A start creates data_dir (and the flags file's folder) when missing; an
// existing path must be a folder this user can write.
void check_directory(const char* key, const std::string& path, ojson& warnings) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status)) {
        warnings.push_back(std::string(key) + ": " + path + " does not exist yet: a start creates it");
        return;
    }
    if (!std::filesystem::is_directory(status))
        throw ConfigError(std::string(key) + ": " + path + " is not a directory");
    if (::access(path.c_str(), W_OK | X_OK) != 0) {
        throw ConfigError(std::string(key) + ": " + path + ": " + std::strerror(errno) + " (uid " +
                          std::to_string(::geteuid()) + " cannot write there)");
    }
}

void replace_all_of(std::string& text, const std::string& secret) {
    if (secret.empty()) return;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
        text.replace(at, secret.size(), "***");
    }
}

}  // namespace

std::chrono::milliseconds shutdown_grace(const Config& config) {
    return std::max(config.shutdown_grace, config.queue.shutdown_grace);
}

std::chrono::milliseconds shutdown_budget(const Config& config) { return shutdown_grace(config) + kErrorFlush; }

ojson effective_settings(const Config& config) {
    ojson out = ojson::object();
    merge_into(out, settings_json(static_cast<const CoreSettings&>(config)));
    merge_into(out, auth::settings_json(config.tokens));
    merge_into(out, flags::settings_json(config.flags));
    merge_into(out, metrics::settings_json(config.metrics));
    merge_into(out, tracking::settings_json(config.error_tracking));
    merge_into(out, api::settings_json(config.http));
    merge_into(out, queue::settings_json(config.queue));
    merge_into(out, backup::settings_json(config.backup));
    merge_into(out, cost::settings_json(config.cost));
    merge_into(out, schedule::settings_json(config.schedules));
    merge_into(out, abuse::settings_json(config.abuse));
    // A scheduled job's payload is free-form (an http job's headers, ...).
    const tracking::Scrubber scrubber;
    for (auto& [name, spec] : out["schedules"].items()) {
        if (!spec.contains("job")) continue;
        auto job = nlohmann::json::parse(spec["job"].dump());
        scrubber.scrub(job);
        spec["job"] = ojson::parse(job.dump());
    }
    return out;
}

ojson check_config(const std::optional<std::string>& config_file, const EnvLookup& env) {
    const auto config = load_config(config_file, env);
    ojson warnings = ojson::array();
    ojson tokens = {{"admin", check_token_file("admin_token_file", config.tokens.admin, true, warnings)},
                    {"producer", check_token_file("producer_token_file", config.tokens.producer, false, warnings)}};
    check_abuse_files(config.abuse, warnings);
    check_backup_key(config.backup);
    check_directory("data_dir", config.data_dir, warnings);
    return {{"config_file", config_file ? ojson(*config_file) : ojson(nullptr)},
            {"settings", effective_settings(config)},
            {"tokens", std::move(tokens)},
            {"warnings", std::move(warnings)},
            {"shutdown",
             {{"grace_ms", shutdown_grace(config).count()},
              {"error_flush_ms", kErrorFlush.count()},
              {"budget_ms", shutdown_budget(config).count()}}}};
}

std::string mask_config_error(std::string_view message, const EnvLookup& env) {
    auto out = levqor::mask_url_credentials(message);
    for (const char* name : {"DATABASE_URL", "REDIS_URL"}) {
        if (const auto value = env(name)) {
            for (const auto& password : database_url_passwords(*value)) replace_all_of(out, password);
        }
    }
    if (const auto dsn = env("SENTRY_DSN")) {
        try {
            replace_all_of(out, parse_sentry_dsn(*dsn).public_key);
        } catch (const std::invalid_argument&) {
            // Not a DSN: mask_url_credentials has taken what looks like a key.
        }
    }
    return out;
}

}  // namespace levqor::controld
